/*
 * compiler/sources.c - plugin.json's "sources": the listed files and
 * directories of a plugin directory turned into the absolute paths of its
 * sources (see inputs.h: hb__sources_expand). A directory stands for its
 * source files (hb_compiler_is_source), recursively, in sorted order;
 * dot entries and symbolic links to directories are not entered; nothing
 * outside the plugin directory (its real path) is ever listed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "argv.h"
#include "compiler.h"
#include "inputs.h"
#include "settings.h"

#define MAX_DEPTH 32

typedef struct walk {
    const char *plugin_dir, *real_dir, *json;
    hb_argv *out;
    size_t max;
    char **err;
} walk;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add(walk *w, const char *path)
{
    if (hb__strv_contains(w->out->v, path))
        return 0; /* listed twice (a file and its directory): once */
    if (w->out->n >= w->max)
        return hb__seterr(w->err, -E2BIG, "%s: key \"sources\": more than %zu source files",
                          w->json, w->max);
    hb__argv_push(w->out, path);
    return w->out->failed ? hb__seterr(w->err, -ENOMEM, "out of memory") : 0;
}

/* Whether path's real path lies inside the plugin directory. */
static bool inside(const walk *w, const char *path)
{
    char *real = NULL;
    if (hb__realpath(path, &real) < 0)
        return false;
    bool in = hb__path_under(real, w->real_dir);
    free(real);
    return in;
}

static int walk_dir(walk *w, const char *dir, int depth)
{
    if (depth > MAX_DEPTH)
        return hb__seterr(w->err, -ELOOP, "%s: key \"sources\": %s is nested more than %d "
                                          "directories deep",
                          w->json, dir, MAX_DEPTH);
    DIR *d = opendir(dir);
    if (!d)
        return hb__seterr(w->err, -errno, "%s: key \"sources\": cannot list %s: %s", w->json,
                          dir, strerror(errno));
    hb_argv names = HB_ARGV_INIT;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            hb__argv_push(&names, de->d_name);
    closedir(d);
    if (names.failed) {
        hb__argv_release(&names);
        return hb__seterr(w->err, -ENOMEM, "out of memory");
    }
    if (names.n)
        qsort(names.v, names.n, sizeof(*names.v), cmp_str);
    int r = 0;
    for (size_t i = 0; r == 0 && i < names.n; i++) {
        char *p = hb__path_join(dir, names.v[i]);
        struct stat lst, st;
        if (!p) {
            r = hb__seterr(w->err, -ENOMEM, "out of memory");
        } else if (lstat(p, &lst) == 0 && S_ISDIR(lst.st_mode)) {
            r = walk_dir(w, p, depth + 1); /* a symlinked directory is not entered */
        } else if (hb_compiler_is_source(names.v[i]) && stat(p, &st) == 0 &&
                   S_ISREG(st.st_mode) && (!S_ISLNK(lst.st_mode) || inside(w, p))) {
            r = add(w, p);
        }
        free(p);
    }
    hb__argv_release(&names);
    return r;
}

/* entry without "./" components and trailing slashes ("" for the plugin
 * directory itself); NULL on ENOMEM. */
static char *tidy(const char *entry)
{
    hb_sb b = HB_SB_INIT;
    for (const char *c = entry; *c;) {
        size_t n = strcspn(c, "/");
        if (n && !(n == 1 && c[0] == '.'))
            hb__sb_addf(&b, "%s%.*s", b.len ? "/" : "", (int)n, c);
        c += n;
        c += *c == '/';
    }
    char *s = hb__sb_detach(&b);
    return s ? s : strdup("");
}

int hb__sources_expand(const char *plugin_dir, char *const *entries, char ***out, char **err)
{
    char *json = hb__path_join(plugin_dir, HB__SETTINGS_FILE), *real_dir = NULL;
    hb_argv v = HB_ARGV_INIT;
    walk w = {plugin_dir, NULL, json, &v, HB__SOURCES_MAX, err};
    int r = !json ? hb__seterr(err, -ENOMEM, "out of memory")
                  : hb__realpath(plugin_dir, &real_dir);
    if (r < 0 && json)
        r = hb__seterr(err, r, "plugin directory %s: %s", plugin_dir, strerror(-r));
    w.real_dir = real_dir;
    for (size_t i = 0; r == 0 && entries[i]; i++) {
        char *rel = tidy(entries[i]);
        char *p = rel ? (*rel ? hb__path_join(plugin_dir, rel) : strdup(plugin_dir)) : NULL;
        struct stat st;
        if (!p)
            r = hb__seterr(err, -ENOMEM, "out of memory");
        else if (stat(p, &st) < 0)
            r = hb__seterr(err, -ENOENT, "%s: key \"sources\": \"%s\" does not exist in %s",
                           json, entries[i], plugin_dir);
        else if (!inside(&w, p))
            r = hb__seterr(err, -EINVAL, "%s: key \"sources\": \"%s\" leads outside the plugin "
                                         "directory (a symbolic link)",
                           json, entries[i]);
        else if (S_ISDIR(st.st_mode))
            r = walk_dir(&w, p, 0);
        else if (!S_ISREG(st.st_mode))
            r = hb__seterr(err, -EINVAL, "%s: key \"sources\": \"%s\" is neither a regular file "
                                         "nor a directory",
                           json, entries[i]);
        else if (!hb_compiler_is_source(strrchr(p, '/') + 1))
            r = hb__seterr(err, -EINVAL, "%s: key \"sources\": \"%s\" is not a source file "
                                         "(*.c, *.cc, *.cpp, *.cxx, *.S, *.s)",
                           json, entries[i]);
        else
            r = add(&w, p);
        free(p);
        free(rel);
    }
    if (r == 0 && (r = hb__argv_detach(&v, out)) < 0)
        r = hb__seterr(err, r, "out of memory");
    if (r < 0)
        hb__argv_release(&v);
    free(real_dir);
    free(json);
    return r;
}
