/* tests/harness/e2e.h - helpers for end-to-end tests of the public API:
 * temporary plugin directories written from strings, an event recorder,
 * and a manager whose state directory is private to the test. */
#ifndef HB_E2E_H
#define HB_E2E_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"

typedef struct e2e_events {
    int count[32];
    char last[32][512];
    char backtrace[32][2048]; /* hb_event.backtrace of the last one; "" none */
} e2e_events;

static __attribute__((unused)) void e2e_on_event(const hb_event *ev, void *ud)
{
    e2e_events *e = ud;
    if ((unsigned)ev->type < 32) {
        e->count[ev->type]++;
        snprintf(e->last[ev->type], sizeof(e->last[0]), "%s", ev->message ? ev->message : "");
        snprintf(e->backtrace[ev->type], sizeof(e->backtrace[0]), "%s",
                 ev->backtrace ? ev->backtrace : "");
    }
    if (getenv("HB_TEST_VERBOSE"))
        fprintf(stderr, "event %d: %s\n", ev->type, ev->message ? ev->message : "");
}

/* The last message of any event type that contains text; NULL: none. */
static __attribute__((unused)) const char *e2e_event_with(const e2e_events *e, const char *text)
{
    for (int i = 0; i < 32; i++)
        if (strstr(e->last[i], text))
            return e->last[i];
    return NULL;
}

static __attribute__((unused)) char e2e_root[4096];

/* A fresh temporary directory for this test (removed by e2e_cleanup). */
static __attribute__((unused)) const char *e2e_tmpdir(void)
{
    const char *base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(e2e_root, sizeof(e2e_root), "%s/hb-e2e-XXXXXX", base);
    HB_CHECK(mkdtemp(e2e_root) != NULL);
    return e2e_root;
}

static __attribute__((unused)) void e2e_cleanup(void)
{
    if (e2e_root[0] && !getenv("HB_TEST_KEEP")) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e2e_root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", e2e_root);
    }
}

/* Writes <root>/<plugin>/<file> with text (atomic rename like an editor);
 * returns the plugin directory (static buffer per call site is not needed:
 * malloc'ed, leaked on purpose in tests). */
/* Strings the helpers return live in a small ring of static buffers, so
 * tests need not free them (and LeakSanitizer stays quiet). */
static __attribute__((unused)) char *e2e_ring(const char *text)
{
    static char ring[16][16384];
    static unsigned next;
    char *slot = ring[next++ % 16];
    snprintf(slot, sizeof(ring[0]), "%s", text);
    return slot;
}

static __attribute__((unused)) char *e2e_write(const char *plugin, const char *file, const char *text)
{
    char dir[4200], path[4400], tmp[4500];
    snprintf(dir, sizeof(dir), "%s/%s", e2e_root, plugin);
    for (char *p = dir + strlen(e2e_root) + 1; *p; p++) { /* mkdir -p */
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    }
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, file);
    FILE *f = fopen(tmp, "w");
    HB_CHECK(f != NULL);
    fputs(text, f);
    HB_CHECK(fclose(f) == 0);
    HB_CHECK(rename(tmp, path) == 0);
    return e2e_ring(dir);
}

/* Plugin "c" (file c.c): a counter, inc() returns the count; with hooks, a
 * save of its 8 bytes and a migrate that first runs migrate_body (C
 * statements: a crash, a hang) and then takes them back. */
static __attribute__((unused)) char *e2e_counter_plugin(bool hooks, const char *migrate_body)
{
    char src[2048];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
             "static int64_t n;\n"
             "int64_t inc(void) { return ++n; }\n"
             "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = n; *d = p; *l = 8; return 0; }\n"
             "static int migrate(const void *d, size_t l, uint32_t s) { (void)s; %s if (l != 8) return -1; memcpy(&n, d, 8); return 0; }\n"
             "HB_PLUGIN(\"c\", 1, 0, 0, %s, %s);\n",
             migrate_body, hooks ? "save" : "0", hooks ? "migrate" : "0");
    return e2e_write("c", "c.c", src);
}

/* The manager options of every end-to-end test: the test's own state
 * directory (<root>/.hotbox), local isolation, events to on_event with
 * userdata. A case changes what it needs (cc, cflags) before
 * e2e_manager_with. */
static __attribute__((unused)) hb_manager_options e2e_options(hb_event_fn on_event, void *userdata)
{
    static char state[4300];
    snprintf(state, sizeof(state), "%s/.hotbox", e2e_root);
    hb_manager_options o;
    HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
    o.state_dir = state;
    o.isolation = HB_ISOLATION_LOCAL;
    o.on_event = on_event;
    o.event_userdata = userdata;
    return o;
}

static __attribute__((unused)) hb_manager *e2e_manager_with(const hb_manager_options *o)
{
    hb_manager *m = NULL;
    HB_CHECK_OK(hb_manager_new(o, &m));
    return m;
}

/* A manager on e2e_options with the event recorder ev. */
static __attribute__((unused)) hb_manager *e2e_manager(e2e_events *ev)
{
    hb_manager_options o = e2e_options(e2e_on_event, ev);
    return e2e_manager_with(&o);
}

/* The fixture most cases open with: a new sandbox of m (options so, NULL
 * for the defaults) with the plugin directory dir loaded. */
static __attribute__((unused)) hb_sandbox *e2e_loaded(hb_manager *m, const hb_sandbox_options *so,
                                                      const char *dir)
{
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, so, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    return sb;
}

/* Frees a case's sandbox and then its manager (either may be NULL). */
static __attribute__((unused)) void e2e_free(hb_sandbox *sb, hb_manager *m)
{
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A manager on e2e_options whose hb_manager_options.worker_pool is
 * worker_pool (e2e_manager keeps the default). */
static __attribute__((unused)) hb_manager *e2e_manager_pool(e2e_events *ev, unsigned worker_pool)
{
    hb_manager_options o = e2e_options(e2e_on_event, ev);
    o.worker_pool = worker_pool;
    return e2e_manager_with(&o);
}

/* A counter plugin with a configurable step, schema and extra body. */
static __attribute__((unused)) char *e2e_counter_src(int version, int step, const char *extra)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    fprintf(f,
            "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
            "static int64_t count;\n"
            "int64_t increment(void) { count += %d; return count; }\n"
            "int64_t get(void) { return count; }\n"
            "int32_t version(void) { return %d; }\n"
            "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = count; *d = p; *l = 8; return 0; }\n"
            "static int migrate(const void *d, size_t l, uint32_t s) { if (s != 1 || l != 8) return -1; memcpy(&count, d, 8); return 0; }\n"
            "%s\n",
            step, version, extra ? extra : "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);");
    fclose(f);
    char *r = e2e_ring(s);
    free(s);
    return r;
}

/* The start of /proc/PID/<what> into buf (NUL-terminated): the bytes
 * read, -1 when there is no such process. */
static __attribute__((unused)) int e2e_proc_read(int pid, const char *what, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t got = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[got] = 0;
    return (int)got;
}

/* The state letter and parent of process pid from /proc/PID/stat (the
 * command name in parentheses may hold spaces and parentheses: read after
 * the last ')'); false when there is no such process. */
static __attribute__((unused)) bool e2e_proc_stat(int pid, char *state, int *ppid)
{
    char buf[512];
    if (e2e_proc_read(pid, "stat", buf, sizeof(buf)) < 0)
        return false;
    char *rp = strrchr(buf, ')');
    return rp && sscanf(rp + 1, " %c %d", state, ppid) == 2;
}

/* Whether process pid exists and is neither a zombie nor dead. */
static __attribute__((unused)) bool e2e_alive(int pid)
{
    char state;
    int ppid;
    return e2e_proc_stat(pid, &state, &ppid) && state != 'Z' && state != 'X';
}

/* The parent of process pid, from /proc (-1 when unknown): bwrap for a
 * wrapped worker, this process for an unwrapped one. */
static __attribute__((unused)) int e2e_parent_of(int pid)
{
    char state;
    int ppid;
    return e2e_proc_stat(pid, &state, &ppid) ? ppid : -1;
}

/* Whether process pid is a manager's watch helper (one per process,
 * harness/denial_watch.h; no sandbox's): its command line says
 * --watch-helper. */
static __attribute__((unused)) bool e2e_is_watch_helper(int pid)
{
    char buf[512];
    int got = e2e_proc_read(pid, "cmdline", buf, sizeof(buf));
    if (got < 0)
        return false;
    for (int i = 0; i < got; i++)
        if (!buf[i])
            buf[i] = ' ';
    buf[got] = 0;
    return strstr(buf, "--watch-helper") != NULL;
}

/* Each test file is one executable whose argv[1] names the case to run
 * (one CTest test per case). */
typedef struct e2e_case {
    const char *name;
    void (*fn)(void);
} e2e_case;

static __attribute__((unused)) int e2e_main(int argc, char **argv, const e2e_case *cases, size_t n)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            e2e_tmpdir();
            cases[i].fn();
            e2e_cleanup();
            printf("PASS %s\n", argv[1]);
            return 0;
        }
    }
    fprintf(stderr, "unknown case %s\n", argv[1]);
    return 2;
}

/* How many watch helpers this process runs (it keeps one socket to one for
 * as long as a manager lives: harness/denial_watch.h); *first (may be NULL)
 * the pid of one, or -1. */
static __attribute__((unused)) int e2e_watch_helper_scan(int *first)
{
    DIR *d = opendir("/proc");
    HB_CHECK(d != NULL);
    int n = 0;
    if (first)
        *first = -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
            e2e_parent_of(atoi(e->d_name)) == (int)getpid() && e2e_is_watch_helper(atoi(e->d_name))) {
            if (first && n == 0)
                *first = atoi(e->d_name);
            n++;
        }
    closedir(d);
    return n;
}

/* 1 when this process runs a watch helper, else 0. */
static __attribute__((unused)) int e2e_watch_helpers(void)
{
    return e2e_watch_helper_scan(NULL);
}

/* The pid of this process's watch helper (a child whose command line says
 * --watch-helper), or -1. */
static __attribute__((unused)) int e2e_watch_helper_pid(void)
{
    int pid;
    e2e_watch_helper_scan(&pid);
    return pid;
}

/* Processes whose parent is ppid, not zombies; up to max pids into out
 * (may be NULL); returns how many there are. */
static __attribute__((unused)) int e2e_children_of(int ppid, int *out, int max)
{
    DIR *d = opendir("/proc");
    HB_CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int pp = 0;
        char state;
        if (e2e_proc_stat(atoi(e->d_name), &state, &pp) && pp == ppid && state != 'Z' &&
            !e2e_is_watch_helper(atoi(e->d_name))) {
            if (out && n < max)
                out[n] = atoi(e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

#endif
