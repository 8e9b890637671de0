/* cli/notices.c - the machine's permanent notices (which compiler isolation
 * `auto` picks and why, e.g. the KVM verdict; whether cgroup v2 limits are
 * available) are shown once per machine, not on every command: the texts
 * already shown are remembered in a per-user cache,
 * $XDG_CACHE_HOME/hotbox/notices (default ~/.cache/hotbox/notices). A
 * notice whose text changes (the machine changed) is shown again. `hotbox
 * doctor` always shows them. Where the cache cannot be written, notices are
 * shown every time: nothing is lost. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

static const char *const machine_prefixes[] = {
    "compiler isolation: ",
    "compiles run with NO isolation",
    "resource limits: ",
};

bool cli_is_machine_notice(const hb_event *ev)
{
    if (ev->plugin || !ev->message ||
        (ev->type != HB_EVENT_NOTICE && ev->type != HB_EVENT_WARNING))
        return false;
    for (size_t i = 0; i < sizeof(machine_prefixes) / sizeof(machine_prefixes[0]); i++)
        if (!strncmp(ev->message, machine_prefixes[i], strlen(machine_prefixes[i])))
            return true;
    return false;
}

static char *cache_path(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char *dir = NULL;
    if (xdg && *xdg == '/')
        dir = tr_printf("%s/hotbox", xdg);
    else if (home && *home == '/')
        dir = tr_printf("%s/.cache/hotbox", home);
    if (!dir)
        return NULL;
    /* mkdir -p of the last two levels is enough for ~/.cache/hotbox */
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    mkdir(dir, 0700);
    *slash = '/';
    mkdir(dir, 0700);
    char *path = tr_printf("%s/notices", dir);
    free(dir);
    return path;
}

/* The text that identifies a notice: its first line, without the parts
 * that differ from run to run for the same machine: a cached probe's
 * marker, and numbers (process ids in a path, timings), each run of digits
 * kept as one '#'. */
static char *notice_key(const char *msg)
{
    size_t len = strcspn(msg, "\n");
    char *k = strndup(msg, len);
    static const char cached[] = " [cached verdict]";
    for (char *p; k && (p = strstr(k, cached));)
        memmove(p, p + sizeof(cached) - 1, strlen(p + sizeof(cached) - 1) + 1);
    size_t o = 0;
    for (size_t i = 0; k && k[i]; i++) {
        bool digit = k[i] >= '0' && k[i] <= '9';
        if (digit && o > 0 && k[o - 1] == '#')
            continue;
        k[o++] = digit ? '#' : k[i];
    }
    if (k)
        k[o] = '\0';
    return k;
}

bool cli_notice_shown_before(const char *msg)
{
    char *path = cache_path(), *key = notice_key(msg);
    bool seen = false;
    if (!path || !key)
        goto out;
    FILE *f = fopen(path, "a+e");
    if (!f)
        goto out;
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!seen && (n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        seen = !strcmp(line, key);
    }
    free(line);
    if (!seen)
        fprintf(f, "%s\n", key);
    /* A notice not remembered (a full disk) is shown again next time. */
    if (fclose(f) != 0)
        seen = false;
out:
    free(path);
    free(key);
    return seen;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void cli_remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

bool cli_state_dir_absent(const cli_global *g)
{
    struct stat st;
    const char *dir = g->state_dir && *g->state_dir ? g->state_dir : ".hotbox";
    return stat(dir, &st) < 0 && errno == ENOENT;
}

bool cli_state_missing(const cli_global *g, const char *what)
{
    if (!cli_state_dir_absent(g))
        return false;
    if (what)
        printf("no state directory %s: %s\n", g->state_dir && *g->state_dir ? g->state_dir : ".hotbox",
               what);
    return true;
}

int cli_manager_existing(const cli_global *g, const char *what, hb_manager **m)
{
    if (cli_state_missing(g, what))
        return 0;
    return cli_manager(g, m) < 0 ? -1 : 1;
}
