/* cli/test/discover.c - the plugin directories under `hotbox test`'s DIR
 * arguments: a directory holding C sources with exactly one plugin
 * descriptor is a plugin; others are searched down to MAX_DEPTH. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "test.h"

static bool has_c_sources(const char *dir, int *descriptors)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool any = false;
    int desc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        const char *dot = strrchr(e->d_name, '.');
        if (l < 3 || !dot || (strcmp(dot, ".c") && strcmp(dot, ".cc") && strcmp(dot, ".cpp") &&
                              strcmp(dot, ".cxx")))
            continue;
        any = true;
        char *path = tr_printf("%s/%s", dir, e->d_name);
        FILE *f = path ? fopen(path, "re") : NULL;
        free(path);
        if (!f)
            continue;
        /* A plugin declares exactly one descriptor (HB_PLUGIN(...) or a
         * hand-written hb_plugin_descriptor); sources of several variants
         * side by side (examples/demo) are not one plugin. */
        char line[4096];
        bool found = false;
        while (!found && fgets(line, sizeof(line), f))
            found = strstr(line, "HB_PLUGIN(") || strstr(line, "hb_plugin_descriptor HB_PLUGIN_SYMBOL") ||
                    strstr(line, "hb_plugin_descriptor hb_plugin");
        desc += found;
        fclose(f);
    }
    closedir(d);
    if (descriptors)
        *descriptors = desc;
    return any;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_plugin(run *R, const char *dir)
{
    if (R->nplugins >= MAX_PLUGINS) {
        cli_error("more than %d plugins", MAX_PLUGINS);
        return -E2BIG;
    }
    char *abs = realpath(dir, NULL);
    if (!abs)
        return -errno;
    for (size_t i = 0; i < R->nplugins; i++)
        if (!strcmp(R->plugins[i].dir, abs)) {
            free(abs);
            return 0;
        }
    const char *base = strrchr(abs, '/');
    base = base ? base + 1 : abs;
    for (size_t i = 0; i < R->nplugins; i++)
        if (!strcmp(R->plugins[i].name, base)) {
            cli_error("two plugins named %s: %s and %s (a plugin's name is its directory's name)",
                      base, R->plugins[i].dir, abs);
            free(abs);
            return -EEXIST;
        }
    tplugin *np = realloc(R->plugins, (R->nplugins + 1) * sizeof(*np));
    if (!np) {
        free(abs);
        return -ENOMEM;
    }
    R->plugins = np;
    tplugin *p = &np[R->nplugins++];
    memset(p, 0, sizeof(*p));
    p->dir = abs;
    p->name = strdup(base);
    return p->name ? 0 : -ENOMEM;
}

int cli_test_add_object(run *R, const char *path)
{
    tplugin *np = R->nplugins < MAX_PLUGINS ? realloc(R->plugins, (R->nplugins + 1) * sizeof(*np))
                                            : NULL;
    if (!np) {
        cli_error("test: --object %s: too many plugins or out of memory", path);
        return -ENOMEM;
    }
    R->plugins = np;
    tplugin *p = &np[R->nplugins++];
    memset(p, 0, sizeof(*p));
    p->object = strdup(path);
    p->name = strdup(path); /* until the store names it by its descriptor */
    return p->object && p->name ? 0 : -ENOMEM;
}

int cli_test_discover(run *R, const char *dir, int depth, bool explicit_arg)
{
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        if (explicit_arg)
            cli_error("%s: not a directory", dir);
        return explicit_arg ? -ENOTDIR : 0;
    }
    int desc = 0;
    if (has_c_sources(dir, &desc)) {
        if (explicit_arg || desc == 1)
            return add_plugin(R, dir);
        if (desc > 1)
            cli_test_note(R, "%s holds %d plugin descriptors: not one plugin, skipped", dir, desc);
        return 0;
    }
    if (depth >= MAX_DEPTH)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return explicit_arg ? -errno : 0;
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    int r = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **nn = realloc(names, (n + 1) * sizeof(*nn));
        if (!nn || !(nn[n] = strdup(e->d_name))) {
            names = nn ? nn : names;
            r = -ENOMEM;
            break;
        }
        names = nn;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n && r == 0; i++) {
        char *sub = tr_printf("%s/%s", dir, names[i]);
        r = sub ? cli_test_discover(R, sub, depth + 1, false) : -ENOMEM;
        free(sub);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}
