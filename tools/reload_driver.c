/* tools/reload_driver.c - one reload of a real plugin through the public
 * API, for tools/reload-files.sh (built only with -DHOTBOX_RELOAD_TOOL=ON,
 * together with --coverage). Not shipped, not a test.
 *
 *   reload_driver PLUGIN_DIR WORK_DIR reload|load [standard|permissive]
 *
 * Copies PLUGIN_DIR's top-level files to WORK_DIR/<name>, starts a manager,
 * a sandbox and a watch on that copy (as `hotbox watch` does) and waits
 * until the first version is live. Then:
 *   reload  resets this process's coverage counters (__gcov_reset), saves
 *           an edit of the plugin's first .c file (a new exported function,
 *           written to a temporary file and renamed into place, as an
 *           editor does), drives the watch until the SWAPPED event and
 *           writes the counters out from inside that event's callback
 *           (__gcov_dump), so they hold the save -> swapped path only;
 *   load    does nothing more (the worker-side baseline: the tool diffs
 *           the worker's counters of a `load` run against a `reload` run).
 * Self-tests are off: watch mode runs them after the SWAPPED event, so
 * they are not part of save -> swapped (and would add calls to the worker
 * side). Either way everything is freed, so the worker exits normally and writes
 * its own counters. Exit 0 on success; 1 with a message naming the step. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hotbox/hotbox.h"

void __gcov_reset(void);
void __gcov_dump(void);

static int armed;   /* counters reset, edit saved: the next SWAPPED ends it */
static int swapped; /* SWAPPED events seen while armed */

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_SWAPPED && armed && !swapped++)
        __gcov_dump(); /* the counters of save -> swapped, nothing after */
}

static void die(const char *step, const char *what)
{
    fprintf(stderr, "reload_driver: %s: %s\n", step, what);
    exit(1);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rbe");
    if (!f)
        die(path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            buf = realloc(buf, cap + 1);
            if (!buf)
                die(path, "out of memory");
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        die(path, "read error");
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void put(const char *path, const char *data, size_t len)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.reload-tmp", path);
    FILE *f = fopen(tmp, "wbe");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        die(tmp, strerror(errno));
    if (rename(tmp, path) != 0)
        die(path, strerror(errno));
}

/* Copies the regular files of src into dst; returns the first .c's path. */
static char *copy_plugin(const char *src, const char *dst)
{
    DIR *d = opendir(src);
    if (!d)
        die(src, strerror(errno));
    if (mkdir(dst, 0755) != 0 && errno != EEXIST)
        die(dst, strerror(errno));
    char *first_c = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        char from[4200], to[4200];
        snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
        struct stat st;
        if (e->d_name[0] == '.' || stat(from, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        size_t len;
        char *data = slurp(from, &len);
        put(to, data, len);
        free(data);
        size_t nl = strlen(e->d_name);
        if (nl > 2 && !strcmp(e->d_name + nl - 2, ".c") && (!first_c || strcmp(to, first_c) < 0)) {
            free(first_c);
            first_c = strdup(to);
        }
    }
    closedir(d);
    if (!first_c)
        die(src, "no .c file in the plugin directory");
    return first_c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[3], "reload") && strcmp(argv[3], "load"))) {
        fprintf(stderr, "usage: reload_driver PLUGIN_DIR WORK_DIR reload|load [standard|permissive]\n");
        return 2;
    }
    int reload = !strcmp(argv[3], "reload");
    hb_profile profile = argc > 4 && !strcmp(argv[4], "permissive") ? HB_PROFILE_PERMISSIVE
                                                                      : HB_PROFILE_STANDARD;
    const char *name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    char dir[4200], state[4200];
    snprintf(dir, sizeof(dir), "%s/%s", argv[2], name);
    snprintf(state, sizeof(state), "%s/state", argv[2]);
    char *src = copy_plugin(argv[1], dir);

    hb_manager_options mo = HB_MANAGER_OPTIONS_INIT;
    mo.state_dir = state;
    mo.isolation = HB_ISOLATION_LOCAL;
    mo.on_event = on_event;
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = profile;
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    wo.run_selftests = -1; /* they run after the SWAPPED event: not the path measured */
    const char *roots[] = {dir, NULL};
    hb_manager *m;
    hb_sandbox *sb;
    hb_watch *w;
    if (hb_manager_new(&mo, &m) < 0)
        die("hb_manager_new", "failed");
    if (hb_sandbox_new(m, &so, &sb) < 0)
        die("hb_sandbox_new", hb_manager_last_error(m));
    if (hb_watch_new(sb, roots, &wo, &w) < 0)
        die("hb_watch_new", hb_sandbox_last_error(sb));
    uint64_t v = 0;
    while (hb_watch_pending(w) > 0) { /* the first version settled */
        struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
        if (poll(&p, 1, 30000) <= 0)
            die("first version", "the watch did not settle within 30 s");
        hb_watch_process(w);
    }
    if (hb_active_version(sb, name, &v) < 0 || v == 0)
        die("first version", "not live after hb_watch_new");

    if (reload) {
        size_t len;
        char *text = slurp(src, &len);
        static const char probe[] =
            "\nHB_EXPORT_FN int hb_reload_probe(void)\n{\n    return 1;\n}\n";
        char *edited = malloc(len + sizeof(probe));
        if (!edited)
            die("edit", "out of memory");
        memcpy(edited, text, len);
        memcpy(edited + len, probe, sizeof(probe));
        __gcov_reset(); /* from here: the reload only */
        armed = 1;
        put(src, edited, len + sizeof(probe) - 1);
        double end = now_s() + 60;
        while (!swapped) {
            struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
            int left = (int)((end - now_s()) * 1000);
            if (left <= 0 || poll(&p, 1, left) < 0)
                die("reload", "no SWAPPED event within 60 s");
            hb_watch_process(w);
        }
        uint64_t v2 = 0;
        if (hb_active_version(sb, name, &v2) < 0 || v2 == v)
            die("reload", "the active version did not change");
        free(text);
        free(edited);
        printf("reloaded %s: version %llu -> %llu\n", name, (unsigned long long)v,
               (unsigned long long)v2);
    } else {
        printf("loaded %s: version %llu\n", name, (unsigned long long)v);
    }
    hb_watch_free(w);
    hb_sandbox_free(sb);
    hb_manager_free(m);
    free(src);
    return 0;
}
