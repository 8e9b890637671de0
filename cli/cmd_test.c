/* cli/cmd_test.c - `hotbox test`: build plugins, discover their exported
 * hb_test_* functions, run each in a worker sandbox with a time limit and
 * crash isolation, in parallel, and report (text, JUnit, TAP, JSON lines).
 * `hotbox report merge` joins JUnit or JSON-lines reports of several runs.
 *
 * Uses only the public API (hotbox/hotbox.h). Threads: the manager is shared;
 * every job owns its own sandbox, used by that job's thread only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "report.h"

#define OUTPUT_KEEP (64 * 1024) /* captured output kept per test */
#define MAX_DEPTH 4             /* how deep DIR arguments are searched for plugins */
#define MAX_PLUGINS 4096

static const char usage_test[] =
    "usage: hotbox test [OPTIONS] DIR...\n"
    "\n"
    "Builds every plugin, loads each into its own sandbox (a fresh worker), and\n"
    "runs every exported `int hb_test_*(void)` (0 = pass), with hb_setup() before\n"
    "and hb_teardown() after each test when the plugin exports them. A DIR holding\n"
    "C sources is one plugin; otherwise its subdirectories are searched (depth %d)\n"
    "for directories whose sources declare exactly one plugin descriptor.\n"
    "\n"
    "options:\n"
    "  -j N               parallel jobs (default: number of cores)\n"
    "  -k PATTERN         run only tests whose id PLUGIN.TEST matches (fnmatch)\n"
    "  --repeat N         run every test N times\n"
    "  -x, --fail-fast    stop after the first failure (the rest are skipped)\n"
    "  --timeout SECONDS  time limit per call (default 10); a test over it fails\n"
    "  --require-tests    a plugin without tests is a failure\n"
    "  --upgrade          upgrade-path mode: previous version's tests, hot swap to\n"
    "                     the new build, new tests on migrated state, roll back,\n"
    "                     old tests again (see docs/testing.md). The base is the\n"
    "                     newest older version that is not bad and whose own\n"
    "                     upgrade tests did not fail; the result is recorded\n"
    "  --from VERSION     with --upgrade: upgrade from this stored version (the\n"
    "                     result of such a run is not recorded)\n"
    "  --shard I/N        run only part I of N (by a stable hash of the test id)\n"
    "  --junit FILE       write a JUnit XML report\n"
    "  --tap              TAP 13 on stdout (progress goes to stderr)\n"
    "  --json             JSON lines on stdout: stage, start, end, summary events\n"
    "  -v, --verbose      show the output of passing tests too\n"
    "\n"
    "The last line is \"N passed, N failed\" (\", N skipped\" when any). Exit status\n"
    "0 when every test passed, 1 when any failed, 2 on a usage error.\n";

static const char usage_report[] =
    "usage: hotbox report merge OUT IN...\n"
    "\n"
    "Joins reports written by `hotbox test` (for example one per CI shard) into\n"
    "one. JUnit XML inputs (--junit) give a JUnit XML file with one testsuite per\n"
    "plugin; JSON-lines inputs (--json) are concatenated with one summary event at\n"
    "the end. The JUnit reader is a strict parser written for hotbox's own output\n"
    "and the common JUnit subset.\n";

/* ---- model ----------------------------------------------------------------- */

typedef struct plugin {
    char *dir, *name;
    bool built;
    uint64_t version;       /* of the new build */
    char *build_error;
    double build_ms;
    char **exports;         /* hb_free */
    bool has_setup, has_teardown;
    uint64_t prev;          /* --upgrade: the base version (hb_upgrade_base), or 0 */
    size_t up_first, up_end; /* --upgrade: its upgrade-path cases */
    bool bad_from;          /* --from names no usable base: reported like a build error */
    char **prev_exports;
    bool prev_setup, prev_teardown;
    size_t ntests;
} tplugin;

typedef enum step_kind {
    STEP_TEST = 0,  /* call a test in the active version */
    STEP_BUILD,     /* the synthetic build failure */
    STEP_NOTESTS,   /* --require-tests and none */
    STEP_TO_OLD,    /* upgrade: load the new build, roll back to prev */
    STEP_UPGRADE,   /* hb_reload to the new build */
    STEP_ROLLBACK,  /* hb_rollback to prev */
} step_kind;

typedef struct step {
    step_kind kind;
    tplugin *p;
    const char *symbol;  /* STEP_TEST */
    bool old;            /* STEP_TEST: in the previous version (setup/teardown choice) */
    size_t case_idx;
} step;

typedef struct job {
    tplugin *p;
    step *steps;
    size_t nsteps;
} job;

typedef struct run {
    const cli_global *g;
    hb_manager *m;
    unsigned jobs_n;
    const char *pattern;
    unsigned repeat;
    bool fail_fast, require_tests, upgrade, tap, json, verbose;
    uint64_t from;          /* --from: the explicit upgrade base, or 0 */
    unsigned timeout_ms;
    unsigned shard_i, shard_n;
    const char *junit_path;
    FILE *junit;
    char *tmpdir;

    tplugin *plugins;
    size_t nplugins;
    tr_case *cases;
    size_t ncases;
    job *jobs;
    size_t njobs;

    pthread_mutex_t lock;    /* next_job, printing, tap numbering */
    size_t next_job;
    size_t tap_num;
    atomic_bool stop;        /* fail-fast tripped */
    FILE *human;             /* progress lines: stdout, or stderr with --tap/--json */
} run;

/* ---- small helpers ----------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    if (!s || !*s)
        return -EINVAL;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > max)
            return -EINVAL;
    }
    if (v < min)
        return -EINVAL;
    *out = (unsigned)v;
    return 0;
}

/* "I/N" with 1 <= I <= N. */
int hb__cli_parse_shard(const char *s, unsigned *i, unsigned *n);
int hb__cli_parse_shard(const char *s, unsigned *i, unsigned *n)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || slash == s || strchr(slash + 1, '/'))
        return -EINVAL;
    char a[16];
    size_t la = (size_t)(slash - s);
    if (la >= sizeof(a))
        return -EINVAL;
    memcpy(a, s, la);
    a[la] = '\0';
    unsigned vi, vn;
    if (parse_uint(a, 1, 1000000, &vi) < 0 || parse_uint(slash + 1, 1, 1000000, &vn) < 0 || vi > vn)
        return -EINVAL;
    *i = vi;
    *n = vn;
    return 0;
}

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
        if (l < 3 || (strcmp(e->d_name + l - 2, ".c") && strcmp(e->d_name + l - 3, ".cc") &&
                      (l < 4 || (strcmp(e->d_name + l - 4, ".cpp") &&
                                 strcmp(e->d_name + l - 4, ".cxx")))))
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

static int discover(run *R, const char *dir, int depth, bool explicit_arg)
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
        if (desc > 1 && !R->g->quiet)
            fprintf(R->human, "note: %s holds %d plugin descriptors: not one plugin, skipped\n", dir,
                    desc);
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
        r = sub ? discover(R, sub, depth + 1, false) : -ENOMEM;
        free(sub);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return r;
}

/* ---- output -------------------------------------------------------------------- */

static void emit_json(run *R, json_t *o)
{
    if (!o)
        return;
    if (R->json) {
        char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (s) {
            pthread_mutex_lock(&R->lock);
            fputs(s, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            pthread_mutex_unlock(&R->lock);
            free(s);
        }
    }
    json_decref(o);
}

static void json_stage(run *R, const char *stage, const char *plugin, double ms, bool ok,
                       uint64_t version)
{
    if (!R->json)
        return;
    emit_json(R, json_pack("{s:s, s:s, s:s, s:f, s:b, s:I}", "event", "stage", "stage", stage,
                           "plugin", plugin, "ms", ms, "ok", ok, "version", (json_int_t)version));
}

static void print_indented(FILE *f, const char *text, size_t max_lines)
{
    size_t lines = 0;
    const char *p = text;
    while (*p && lines < max_lines) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "    | %.*s\n", (int)len, p);
        lines++;
        p += len + (nl ? 1 : 0);
    }
    if (*p)
        fprintf(f, "    | ... (more output in the reports)\n");
}

static void report_case(run *R, tr_case *c)
{
    pthread_mutex_lock(&R->lock);
    if (R->tap) {
        tap_case(stdout, ++R->tap_num, c);
        fflush(stdout);
    }
    bool show = c->status == TR_FAIL || !R->g->quiet;
    if (show) {
        const char *tag = c->status == TR_PASS ? "PASS" : c->status == TR_FAIL ? "FAIL" : "SKIP";
        fprintf(R->human, "%s %s.%s (%.1f ms)%s%s\n", tag, c->plugin, c->name, c->ms,
                c->message ? ": " : "", c->message ? c->message : "");
        if (c->status == TR_FAIL && c->body && *c->body && (!c->message || strcmp(c->body, c->message)))
            print_indented(R->human, c->body, 40);
        if (c->output && *c->output && (c->status == TR_FAIL || R->verbose))
            print_indented(R->human, c->output, c->status == TR_FAIL ? 20 : 1000);
        fflush(R->human);
    }
    pthread_mutex_unlock(&R->lock);
    if (R->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "event", "end", "plugin", c->plugin, "test",
                              c->name, "status",
                              c->status == TR_PASS ? "pass" : c->status == TR_FAIL ? "fail" : "skip",
                              "ms", c->ms);
        if (o && c->message)
            json_object_set_new(o, "message", json_string(c->message));
        if (o && c->body)
            json_object_set_new(o, "details", json_string(c->body));
        if (o && c->output && *c->output)
            json_object_set_new(o, "output", json_string(c->output));
        emit_json(R, o);
    }
}

/* ---- output capture ------------------------------------------------------------ */

/* The worker appends its stdout and stderr to the capture file (O_APPEND).
 * Before each test we empty it; after it we read what was written, keeping
 * the first and last halves of OUTPUT_KEEP bytes when it is larger. */
static char *read_capture(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    size_t size = (size_t)st.st_size;
    if (size == 0)
        return NULL;
    size_t head = size <= OUTPUT_KEEP ? size : OUTPUT_KEEP / 2;
    size_t tail = size <= OUTPUT_KEEP ? 0 : OUTPUT_KEEP / 2;
    char marker[96];
    int ml = tail ? snprintf(marker, sizeof(marker), "\n[... %zu bytes of output omitted ...]\n",
                             size - head - tail)
                  : 0;
    char *buf = malloc(head + (size_t)ml + tail + 1);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (got < head) {
        ssize_t n = pread(fd, buf + got, head - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (tail) {
        memcpy(buf + got, marker, (size_t)ml);
        got += (size_t)ml;
        size_t t = 0;
        while (t < tail) {
            ssize_t n = pread(fd, buf + got + t, tail - t, (off_t)(size - tail + t));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            t += (size_t)n;
        }
        got += t;
    }
    buf[got] = '\0';
    /* Captured bytes may contain NULs: keep the text readable. */
    for (size_t i = 0; i < got; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    return buf;
}

static void reset_capture(int fd)
{
    while (ftruncate(fd, 0) < 0 && errno == EINTR)
        ;
}

/* ---- running a job --------------------------------------------------------------- */

typedef struct jctx {
    run *R;
    job *J;
    hb_sandbox *sb;
    int cap_fd;
    char *cap_path;
    char *events; /* interesting events during the current step (state resets) */
} jctx;

/* Events run on the calling thread: a thread-local pointer routes them to
 * the job that caused them. */
static _Thread_local jctx *cur_job;

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    jctx *j = cur_job;
    if (!j || (ev->type != HB_EVENT_STATE_RESET && ev->type != HB_EVENT_WARNING &&
               ev->type != HB_EVENT_RESTARTED))
        return;
    char *s = tr_printf("%s[event] %s\n", j->events ? j->events : "", ev->message ? ev->message : "");
    if (s) {
        free(j->events);
        j->events = s;
    }
}

/* Loads a plugin after the plugins it depends on (found among the plugins
 * of this run), each once. */
static int load_with_providers(run *R, hb_sandbox *sb, tplugin *p, unsigned depth)
{
    uint64_t have;
    if (hb_active_version(sb, p->name, &have) == 0)
        return 0; /* already loaded as someone's provider */
    char **deps = NULL;
    if (depth < 16 && hb_version_depends(R->m, p->name, 0, &deps) == 0) {
        for (char **d = deps; *d; d++)
            for (size_t i = 0; i < R->nplugins; i++)
                if (!strcmp(R->plugins[i].name, *d))
                    load_with_providers(R, sb, &R->plugins[i], depth + 1);
        hb_free(deps);
    }
    return hb_load(sb, p->dir);
}

static int open_sandbox(jctx *j, double *load_ms, char **err)
{
    run *R = j->R;
    hb_sandbox_options o;
    hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION);
    o.name = j->J->p->name;
    o.profile = R->g->profile;
    o.call_timeout_ms = R->timeout_ms;
    o.swap_timeout_ms = R->timeout_ms;
    o.output_path = j->cap_path;
    double t0 = now_ms();
    int r = hb_sandbox_new(R->m, &o, &j->sb);
    if (r < 0) {
        *err = tr_printf("cannot start a worker: %s: %s", hb_strerror(r), hb_manager_last_error(R->m));
        return r;
    }
    r = load_with_providers(R, j->sb, j->J->p, 0);
    *load_ms = now_ms() - t0;
    if (r < 0) {
        *err = tr_printf("loading %s failed: %s", j->J->p->name, hb_sandbox_last_error(j->sb));
        hb_sandbox_free(j->sb);
        j->sb = NULL;
    }
    json_stage(R, "load", j->J->p->name, *load_ms, r == 0, j->J->p->version);
    return r;
}

/* Calls `int sym(void)`: 0 when it returned 0; otherwise fills msg and body. */
static int call_int(jctx *j, const char *sym, char **msg, char **body)
{
    int32_t rc = 0;
    int r = hb_callf(j->sb, j->J->p->name, sym, ")i", &rc);
    if (r == 0 && rc == 0)
        return 0;
    if (r == 0) {
        *msg = tr_printf("%s returned %d", sym, (int)rc);
        return 1;
    }
    const char *le = hb_sandbox_last_error(j->sb);
    if (r == HB_EHUNG)
        *msg = tr_printf("%s timed out after %u ms (worker killed)", sym, j->R->timeout_ms);
    else if (r == HB_ECRASHED)
        *msg = tr_printf("%s crashed: %s", sym, le);
    else
        *msg = tr_printf("%s: %s", sym, hb_strerror(r));
    *body = tr_dup(le);
    return r;
}

/* Whether the sandbox must be rebuilt before the next step: it failed
 * (crash loop) or lost the plugin. */
static bool sandbox_broken(int r)
{
    return r == HB_EFAILED || r == HB_ENOPLUGIN || r == HB_EWORKER;
}

static void run_test_step(jctx *j, step *s, tr_case *c)
{
    tplugin *p = s->p;
    bool setup = s->old ? p->prev_setup : p->has_setup;
    bool teardown = s->old ? p->prev_teardown : p->has_teardown;
    char *msg = NULL, *body = NULL;
    reset_capture(j->cap_fd);
    double t0 = now_ms();
    int r = 0;
    if (setup)
        r = call_int(j, "hb_setup", &msg, &body);
    if (r == 0)
        r = call_int(j, s->symbol, &msg, &body);
    if (teardown && r >= 0 && r != HB_EFAILED) {
        char *m2 = NULL, *b2 = NULL;
        int r2 = call_int(j, "hb_teardown", &m2, &b2);
        if (r == 0 && r2 != 0) {
            r = r2;
            msg = m2;
            body = b2;
        } else {
            free(m2);
            free(b2);
        }
    }
    c->ms = now_ms() - t0;
    c->output = read_capture(j->cap_fd);
    if (j->events) {
        char *o = tr_printf("%s%s", c->output ? c->output : "", j->events);
        free(c->output);
        c->output = o;
        free(j->events);
        j->events = NULL;
    }
    c->status = r == 0 ? TR_PASS : TR_FAIL;
    c->message = msg;
    c->body = body;
    if (sandbox_broken(r)) {
        hb_sandbox_free(j->sb);
        j->sb = NULL;
    }
}

/* Upgrade-path swaps. */
static void run_swap_step(jctx *j, step *s, tr_case *c)
{
    tplugin *p = s->p;
    reset_capture(j->cap_fd);
    double t0 = now_ms();
    int r;
    const char *what;
    uint64_t want;
    if (s->kind == STEP_UPGRADE) {
        what = "hot swap to the new build";
        want = p->version;
        r = hb_reload(j->sb, p->name);
    } else {
        what = s->kind == STEP_TO_OLD ? "switch to the previous version" : "rollback";
        want = p->prev;
        r = hb_rollback(j->sb, p->name, p->prev);
    }
    uint64_t active = 0;
    if (r == 0 && hb_active_version(j->sb, p->name, &active) == 0 && active != want)
        r = HB_ENOVERSION;
    c->ms = now_ms() - t0;
    c->output = read_capture(j->cap_fd);
    if (j->events) {
        char *o = tr_printf("%s%s", c->output ? c->output : "", j->events);
        free(c->output);
        c->output = o;
        free(j->events);
        j->events = NULL;
    }
    if (r == 0) {
        c->status = TR_PASS;
        return;
    }
    c->status = TR_FAIL;
    if (r == HB_ENOVERSION && active)
        c->message = tr_printf("%s: v%" PRIu64 " is active, not v%" PRIu64, what, active, want);
    else
        c->message = tr_printf("%s failed: %s", what, hb_strerror(r));
    c->body = tr_dup(hb_sandbox_last_error(j->sb));
}

static void skip_rest(run *R, job *J, size_t from, const char *why)
{
    for (size_t k = from; k < J->nsteps; k++) {
        tr_case *c = &R->cases[J->steps[k].case_idx];
        if (c->status != TR_PENDING)
            continue;
        c->status = TR_SKIP;
        c->message = tr_dup(why);
        report_case(R, c);
    }
}

static void fail_rest(run *R, job *J, size_t from, const char *why, const char *body)
{
    for (size_t k = from; k < J->nsteps; k++) {
        tr_case *c = &R->cases[J->steps[k].case_idx];
        if (c->status != TR_PENDING)
            continue;
        c->status = TR_FAIL;
        c->message = tr_dup(why);
        c->body = tr_dup(body);
        report_case(R, c);
    }
    if (R->fail_fast)
        atomic_store(&R->stop, true);
}

static void run_job(run *R, job *J, size_t jobno)
{
    jctx j = {R, J, NULL, -1, NULL, NULL};
    cur_job = &j;
    j.cap_path = tr_printf("%s/job-%zu.out", R->tmpdir, jobno);
    if (j.cap_path)
        j.cap_fd = open(j.cap_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (j.cap_fd < 0) {
        fail_rest(R, J, 0, "cannot create the output capture file", j.cap_path);
        goto out;
    }
    for (size_t k = 0; k < J->nsteps; k++) {
        step *s = &J->steps[k];
        tr_case *c = &R->cases[s->case_idx];
        if (atomic_load(&R->stop)) {
            skip_rest(R, J, k, "fail-fast: an earlier test failed");
            break;
        }
        if (s->kind == STEP_BUILD) {
            c->status = TR_FAIL;
            c->ms = s->p->build_ms;
            c->message = s->p->bad_from
                             ? tr_printf("%s cannot be upgraded from --from %" PRIu64, s->p->name,
                                         R->from)
                             : tr_printf("%s does not compile", s->p->name);
            c->body = tr_dup(s->p->build_error);
            report_case(R, c);
            if (R->fail_fast)
                atomic_store(&R->stop, true);
            continue;
        }
        if (s->kind == STEP_NOTESTS) {
            c->status = TR_FAIL;
            c->message = tr_printf("%s exports no hb_test_* functions (--require-tests)", s->p->name);
            report_case(R, c);
            if (R->fail_fast)
                atomic_store(&R->stop, true);
            continue;
        }
        if (!j.sb) {
            double load_ms = 0;
            char *err = NULL;
            if (open_sandbox(&j, &load_ms, &err) < 0) {
                fail_rest(R, J, k, "the plugin could not be loaded", err);
                free(err);
                break;
            }
            if (R->upgrade && s->kind != STEP_TO_OLD && J->steps[0].kind == STEP_TO_OLD) {
                /* The worker was replaced mid-sequence: the state the rest of
                 * the upgrade path checks is gone. */
                fail_rest(R, J, k, "the sandbox had to be recreated mid-upgrade", NULL);
                break;
            }
        }
        if (R->json)
            emit_json(R, json_pack("{s:s, s:s, s:s}", "event", "start", "plugin", c->plugin, "test",
                                   c->name));
        if (s->kind == STEP_TEST)
            run_test_step(&j, s, c);
        else
            run_swap_step(&j, s, c);
        report_case(R, c);
        if (c->status == TR_FAIL && R->fail_fast)
            atomic_store(&R->stop, true);
        if (c->status == TR_FAIL && s->kind != STEP_TEST) {
            /* Without the swap the rest of the upgrade path means nothing. */
            char *why = tr_printf("not run: %s", c->message ? c->message : "the swap failed");
            skip_rest(R, J, k + 1, why ? why : "not run: the swap failed");
            free(why);
            break;
        }
    }
out:
    if (j.sb)
        hb_sandbox_free(j.sb);
    if (j.cap_fd >= 0)
        close(j.cap_fd);
    if (j.cap_path)
        unlink(j.cap_path);
    free(j.cap_path);
    free(j.events);
    cur_job = NULL;
}

static void *worker_thread(void *arg)
{
    run *R = arg;
    for (;;) {
        pthread_mutex_lock(&R->lock);
        size_t i = R->next_job++;
        pthread_mutex_unlock(&R->lock);
        if (i >= R->njobs)
            break;
        run_job(R, &R->jobs[i], i);
    }
    return NULL;
}

/* ---- planning ------------------------------------------------------------------ */

static bool selected(run *R, const char *plugin, const char *symbol)
{
    char id[512];
    snprintf(id, sizeof(id), "%s.%s", plugin, symbol);
    if (R->pattern && fnmatch(R->pattern, id, 0) != 0)
        return false;
    if (R->shard_n > 1) {
        /* In upgrade mode a plugin's sequence is one unit: shard by plugin. */
        const char *key = R->upgrade ? plugin : id;
        if (fnv1a64(key) % R->shard_n != R->shard_i - 1)
            return false;
    }
    return true;
}

static bool is_test(const char *s)
{
    return !strncmp(s, "hb_test_", 8) && s[8];
}

static int scan_exports(char **ex, bool *setup, bool *teardown)
{
    int n = 0;
    for (size_t i = 0; ex && ex[i]; i++) {
        n += is_test(ex[i]);
        if (!strcmp(ex[i], "hb_setup"))
            *setup = true;
        if (!strcmp(ex[i], "hb_teardown"))
            *teardown = true;
    }
    return n;
}

static int new_case(run *R, tplugin *p, const char *name, const char *symbol, size_t *idx)
{
    tr_case *nc = realloc(R->cases, (R->ncases + 1) * sizeof(*nc));
    if (!nc)
        return -ENOMEM;
    R->cases = nc;
    tr_case *c = &nc[R->ncases];
    memset(c, 0, sizeof(*c));
    c->plugin = strdup(p->name);
    c->name = strdup(name);
    c->id = tr_printf("%s.%s", p->name, symbol);
    if (!c->plugin || !c->name || !c->id) {
        tr_case_release(c);
        return -ENOMEM;
    }
    *idx = R->ncases++;
    return 0;
}

static int add_step(job *J, step s)
{
    step *ns = realloc(J->steps, (J->nsteps + 1) * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    J->steps = ns;
    ns[J->nsteps++] = s;
    return 0;
}

static job *new_job(run *R, tplugin *p)
{
    job *nj = realloc(R->jobs, (R->njobs + 1) * sizeof(*nj));
    if (!nj)
        return NULL;
    R->jobs = nj;
    job *J = &nj[R->njobs++];
    memset(J, 0, sizeof(*J));
    J->p = p;
    return J;
}

/* Adds the test steps of one version's exports, each repeated. */
static int plan_tests(run *R, job *J, tplugin *p, char **ex, bool old, const char *suffix)
{
    for (size_t i = 0; ex && ex[i]; i++) {
        if (!is_test(ex[i]) || !selected(R, p->name, ex[i]))
            continue;
        for (unsigned k = 1; k <= R->repeat; k++) {
            char *name = R->repeat > 1 ? tr_printf("%s%s#%u", ex[i], suffix, k)
                                       : tr_printf("%s%s", ex[i], suffix);
            size_t idx;
            int r = name ? new_case(R, p, name, ex[i], &idx) : -ENOMEM;
            free(name);
            if (r < 0 || (r = add_step(J, (step){STEP_TEST, p, ex[i], old, idx})) < 0)
                return r;
        }
    }
    return 0;
}

static int plan(run *R)
{
    for (size_t pi = 0; pi < R->nplugins; pi++) {
        tplugin *p = &R->plugins[pi];
        size_t idx;
        int r;
        if (!p->built) {
            if (!selected(R, p->name, "build"))
                continue;
            job *J = new_job(R, p);
            if (!J || (r = new_case(R, p, "build", "build", &idx)) < 0 ||
                (r = add_step(J, (step){STEP_BUILD, p, NULL, false, idx})) < 0)
                return -ENOMEM;
            continue;
        }
        if (p->ntests == 0) {
            if (!R->g->quiet)
                fprintf(R->human, "note: %s v%" PRIu64 " exports no hb_test_* functions\n", p->name,
                        p->version);
            if (R->require_tests && selected(R, p->name, "tests")) {
                job *J = new_job(R, p);
                if (!J || (r = new_case(R, p, "tests", "tests", &idx)) < 0 ||
                    (r = add_step(J, (step){STEP_NOTESTS, p, NULL, false, idx})) < 0)
                    return -ENOMEM;
            }
            continue;
        }
        if (R->upgrade && p->prev) {
            job *J = new_job(R, p);
            if (!J)
                return -ENOMEM;
            char *sfx_old = tr_printf("@v%" PRIu64, p->prev);
            char *sfx_new = tr_printf("@v%" PRIu64 "-upgraded", p->version);
            char *sfx_back = tr_printf("@v%" PRIu64 "-rolled-back", p->prev);
            char *n_to = tr_printf("switch-to@v%" PRIu64, p->prev);
            char *n_up = tr_printf("upgrade@v%" PRIu64 "->v%" PRIu64, p->prev, p->version);
            char *n_back = tr_printf("rollback@v%" PRIu64 "->v%" PRIu64, p->version, p->prev);
            size_t before = R->ncases;
            r = (!sfx_old || !sfx_new || !sfx_back || !n_to || !n_up || !n_back) ? -ENOMEM : 0;
            if (r == 0 && (r = new_case(R, p, n_to, "upgrade", &idx)) == 0)
                r = add_step(J, (step){STEP_TO_OLD, p, NULL, true, idx});
            if (r == 0)
                r = plan_tests(R, J, p, p->prev_exports, true, sfx_old);
            if (r == 0 && (r = new_case(R, p, n_up, "upgrade", &idx)) == 0)
                r = add_step(J, (step){STEP_UPGRADE, p, NULL, false, idx});
            if (r == 0)
                r = plan_tests(R, J, p, p->exports, false, sfx_new);
            if (r == 0 && (r = new_case(R, p, n_back, "upgrade", &idx)) == 0)
                r = add_step(J, (step){STEP_ROLLBACK, p, NULL, true, idx});
            if (r == 0)
                r = plan_tests(R, J, p, p->prev_exports, true, sfx_back);
            free(sfx_old);
            free(sfx_new);
            free(sfx_back);
            free(n_to);
            free(n_up);
            free(n_back);
            if (r < 0)
                return r;
            p->up_first = before;
            p->up_end = R->ncases;
            if (R->ncases - before == 3) {
                /* -k selected none of its tests: skip the swaps too. */
                for (size_t c = before; c < R->ncases; c++)
                    tr_case_release(&R->cases[c]);
                R->ncases = before;
                p->up_end = before;
                free(J->steps);
                R->njobs--;
            }
            continue;
        }
        /* Tests of one plugin share a sandbox; with fewer plugins than jobs
         * a plugin's tests are split so every job slot has work. */
        job *J = new_job(R, p);
        if (!J)
            return -ENOMEM;
        size_t first = R->njobs - 1;
        if ((r = plan_tests(R, J, p, p->exports, false, "")) < 0)
            return r;
        J = &R->jobs[first];
        if (J->nsteps == 0) {
            free(J->steps);
            R->njobs--;
            continue;
        }
        size_t parts = 1;
        if (R->nplugins < R->jobs_n)
            parts = (R->jobs_n + R->nplugins - 1) / R->nplugins;
        if (parts > J->nsteps)
            parts = J->nsteps;
        if (parts > 1) {
            step *all = J->steps;
            size_t n = J->nsteps;
            J->steps = NULL;
            J->nsteps = 0;
            for (size_t k = 1; k < parts; k++)
                if (!new_job(R, p))
                    return -ENOMEM;
            for (size_t k = 0; k < n; k++)
                if (add_step(&R->jobs[first + k % parts], all[k]) < 0)
                    return -ENOMEM;
            free(all);
        }
    }
    return 0;
}

/* ---- building ------------------------------------------------------------------ */

/* The base of p's upgrade run: --from, or the library's choice (never a
 * bad version nor one whose own upgrade tests failed). */
static int find_previous(run *R, tplugin *p)
{
    int r;
    if (R->from) {
        r = hb_version_upgrade_result(R->m, p->name, R->from, NULL, NULL);
        if (r < 0) {
            p->build_error = tr_printf("--from %" PRIu64 ": %s has no such stored version",
                                       R->from, p->name);
            return r;
        }
        if (R->from >= p->version) {
            p->build_error = tr_printf("--from %" PRIu64 ": %s v%" PRIu64 " is the version under "
                                       "test; the base must be older", R->from, p->name,
                                       p->version);
            return -EINVAL;
        }
        p->prev = R->from;
    } else {
        uint64_t base = 0;
        r = hb_upgrade_base(R->m, p->name, p->version, &base);
        if (r == HB_ENOVERSION)
            return 0;
        if (r < 0)
            return r;
        p->prev = base;
    }
    r = hb_version_exports(R->m, p->name, p->prev, &p->prev_exports);
    if (r < 0)
        return r;
    scan_exports(p->prev_exports, &p->prev_setup, &p->prev_teardown);
    return 0;
}

/* Builds serially: the manager's last-error text (the diagnostics) is one
 * slot shared by all threads. Builds are cached by input hash, so a second
 * run costs little. */
static void build_all(run *R)
{
    /* A plugin built before the plugin it imports from is linked again once
     * that provider exists: a quiet first pass settles the dependencies
     * (cache hits cost little), the second pass is the one reported. */
    for (size_t i = 0; i < R->nplugins; i++) {
        hb_version_info v;
        hb_build(R->m, R->plugins[i].dir, &v);
    }
    for (size_t i = 0; i < R->nplugins; i++) {
        tplugin *p = &R->plugins[i];
        hb_version_info v;
        double t0 = now_ms();
        int r = hb_build(R->m, p->dir, &v);
        p->build_ms = now_ms() - t0;
        if (r < 0) {
            p->build_error = tr_printf("%s", hb_manager_last_error(R->m));
            json_stage(R, "build", p->name, p->build_ms, false, 0);
            continue;
        }
        p->built = true;
        p->version = v.version;
        json_stage(R, "build", p->name, p->build_ms, true, v.version);
        r = hb_version_exports(R->m, p->name, v.version, &p->exports);
        if (r < 0) {
            p->built = false;
            p->build_error = tr_printf("cannot read the exports of %s v%" PRIu64 ": %s", p->name,
                                       v.version, hb_manager_last_error(R->m));
            continue;
        }
        p->ntests = (size_t)scan_exports(p->exports, &p->has_setup, &p->has_teardown);
        if (R->upgrade && find_previous(R, p) < 0) {
            p->prev = 0;
            if (p->build_error) { /* a bad --from: this plugin fails */
                p->built = false;
                p->bad_from = true;
                continue;
            }
        }
        if (R->upgrade && !p->prev && !R->g->quiet)
            fprintf(R->human, "note: %s has no earlier good version in the store: plain tests only\n",
                    p->name);
    }
}

/* Keeps each upgrade run's outcome in the catalogue, so a version whose
 * migration failed is not the base of the next run. A run cut short
 * (skipped or unfinished cases, another shard) or from a --from base
 * records nothing. */
static void record_upgrade_results(run *R)
{
    if (R->from)
        return; /* an explicit base is an experiment: the automatic choice stays */
    for (size_t i = 0; i < R->nplugins; i++) {
        tplugin *p = &R->plugins[i];
        if (!p->built || !p->prev || p->up_end <= p->up_first)
            continue;
        bool failed = false, complete = true;
        for (size_t c = p->up_first; c < p->up_end; c++) {
            failed |= R->cases[c].status == TR_FAIL;
            complete &= R->cases[c].status == TR_PASS;
        }
        if (!failed && !complete)
            continue;
        int r = hb_version_set_upgrade_result(R->m, p->name, p->version, p->prev,
                                              failed ? HB_UPGRADE_FAILED : HB_UPGRADE_PASSED);
        if (r < 0)
            cli_error("cannot record the upgrade result of %s v%" PRIu64 ": %s", p->name,
                      p->version, hb_manager_last_error(R->m));
        else if (failed && !R->g->quiet)
            fprintf(R->human,
                    "note: %s v%" PRIu64 " failed its upgrade from v%" PRIu64
                    "; later upgrade runs will not start from it\n",
                    p->name, p->version, p->prev);
    }
}

/* ---- the command ----------------------------------------------------------------- */

static void run_free(run *R)
{
    for (size_t i = 0; i < R->nplugins; i++) {
        tplugin *p = &R->plugins[i];
        free(p->dir);
        free(p->name);
        free(p->build_error);
        hb_free(p->exports);
        hb_free(p->prev_exports);
    }
    free(R->plugins);
    for (size_t i = 0; i < R->ncases; i++)
        tr_case_release(&R->cases[i]);
    free(R->cases);
    for (size_t i = 0; i < R->njobs; i++)
        free(R->jobs[i].steps);
    free(R->jobs);
    if (R->tmpdir)
        rmdir(R->tmpdir);
    free(R->tmpdir);
    if (R->junit)
        fclose(R->junit);
    hb_manager_free(R->m);
    pthread_mutex_destroy(&R->lock);
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hotbox: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see hotbox test --help)\n", stderr);
    return HB_EXIT_USAGE;
}

int cmd_test(const cli_global *g, int argc, char **argv)
{
    run R0 = {0}, *R = &R0;
    R->g = g;
    R->repeat = 1;
    R->timeout_ms = 10000;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    R->jobs_n = cores > 0 ? (unsigned)cores : 1;
    pthread_mutex_init(&R->lock, NULL);
    const char **dirs = calloc((size_t)argc, sizeof(char *));
    size_t ndirs = 0;
    int rc = HB_EXIT_USAGE;
    if (!dirs) {
        rc = HB_EXIT_FAILED;
        goto out;
    }
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (opts_done || a[0] != '-' || !a[1]) {
            dirs[ndirs++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            opts_done = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf(usage_test, MAX_DEPTH);
            rc = HB_EXIT_OK;
            goto out;
        } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
            if (parse_uint(val, 1, 1024, &R->jobs_n) < 0) {
                rc = usage_error("-j wants a number from 1 to 1024, not \"%s\"", val ? val : "");
                goto out;
            }
            i++;
        } else if (!strcmp(a, "-k")) {
            if (!val) {
                rc = usage_error("%s wants a pattern", a);
                goto out;
            }
            R->pattern = val;
            i++;
        } else if (!strcmp(a, "--repeat")) {
            if (parse_uint(val, 1, 100000, &R->repeat) < 0) {
                rc = usage_error("--repeat wants a number from 1 to 100000, not \"%s\"", val ? val : "");
                goto out;
            }
            i++;
        } else if (!strcmp(a, "--timeout")) {
            char *end = NULL;
            double s = val ? strtod(val, &end) : 0;
            if (!val || !end || *end || end == val || !(s > 0) || s > 86400) {
                rc = usage_error("--timeout wants seconds (0 < s <= 86400), not \"%s\"", val ? val : "");
                goto out;
            }
            R->timeout_ms = (unsigned)(s * 1000.0 + 0.5);
            if (R->timeout_ms == 0)
                R->timeout_ms = 1;
            i++;
        } else if (!strcmp(a, "--shard")) {
            if (hb__cli_parse_shard(val, &R->shard_i, &R->shard_n) < 0) {
                rc = usage_error("--shard wants I/N with 1 <= I <= N, not \"%s\"", val ? val : "");
                goto out;
            }
            i++;
        } else if (!strcmp(a, "--junit")) {
            if (!val) {
                rc = usage_error("%s wants a file name", a);
                goto out;
            }
            R->junit_path = val;
            i++;
        } else if (!strcmp(a, "-x") || !strcmp(a, "--fail-fast")) {
            R->fail_fast = true;
        } else if (!strcmp(a, "--require-tests")) {
            R->require_tests = true;
        } else if (!strcmp(a, "--upgrade")) {
            R->upgrade = true;
        } else if (!strcmp(a, "--from")) {
            char *end = NULL;
            unsigned long long v = val ? strtoull(val, &end, 10) : 0;
            if (!val || !*val || *end || v == 0 || v > INT64_MAX) {
                rc = usage_error("--from wants a stored version number, not \"%s\"", val ? val : "");
                goto out;
            }
            R->from = v;
            i++;
        } else if (!strcmp(a, "--tap")) {
            R->tap = true;
        } else if (!strcmp(a, "--json")) {
            R->json = true;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            R->verbose = true;
        } else {
            rc = usage_error("unknown option %s", a);
            goto out;
        }
    }
    if (ndirs == 0) {
        fprintf(stderr, usage_test, MAX_DEPTH);
        goto out;
    }
    if (R->from && !R->upgrade) {
        rc = usage_error("%s", "--from only makes sense with --upgrade");
        goto out;
    }
    if (R->tap && R->json) {
        rc = usage_error("%s", "--tap and --json both write to stdout; pick one");
        goto out;
    }
    R->human = (R->tap || R->json) ? stderr : stdout;
    /* Report paths are checked before anything runs. */
    if (R->junit_path) {
        R->junit = fopen(R->junit_path, "we");
        if (!R->junit) {
            cli_error("cannot write the JUnit report %s: %s", R->junit_path, strerror(errno));
            goto out;
        }
    }
    bool empty_dir = false;
    for (size_t i = 0; i < ndirs; i++) {
        size_t before = R->nplugins;
        int r = discover(R, dirs[i], 0, true);
        if (r < 0) {
            if (r != -ENOTDIR && r != -EEXIST)
                cli_error("%s: %s", dirs[i], strerror(-r));
            rc = HB_EXIT_FAILED;
            goto out;
        }
        if (R->nplugins == before) {
            cli_error("no plugins found under %s", dirs[i]);
            empty_dir = true;
        }
    }
    const char *tmp = getenv("TMPDIR");
    R->tmpdir = tr_printf("%s/hotbox-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!R->tmpdir || !mkdtemp(R->tmpdir)) {
        cli_error("cannot create a temporary directory: %s", strerror(errno));
        free(R->tmpdir);
        R->tmpdir = NULL;
        rc = HB_EXIT_FAILED;
        goto out;
    }

    hb_manager_options mo;
    hb_manager_options_init(&mo, HB_MANAGER_OPTIONS_VERSION);
    mo.state_dir = g->state_dir;
    mo.cc = g->cc;
    mo.cc_origin = g->cc_origin;
    mo.cflags = g->cflags;
    mo.isolation = g->isolation;
    mo.on_event = on_event;
    int r = hb_manager_new(&mo, &R->m);
    if (r < 0) {
        cli_state_error(g, r);
        rc = HB_EXIT_FAILED;
        goto out;
    }
    double t0 = now_ms();
    build_all(R);
    if (plan(R) < 0) {
        cli_error("out of memory");
        rc = HB_EXIT_FAILED;
        goto out;
    }
    if (R->tap) {
        printf("TAP version 13\n1..%zu\n", R->ncases);
        fflush(stdout);
    }
    unsigned nthreads = R->jobs_n < R->njobs ? R->jobs_n : (unsigned)R->njobs;
    pthread_t *th = calloc(nthreads ? nthreads : 1, sizeof(*th));
    unsigned started = 0;
    for (; th && started < nthreads; started++)
        if (pthread_create(&th[started], NULL, worker_thread, R) != 0)
            break;
    if (started == 0)
        worker_thread(R); /* no threads: run everything here */
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    free(th);
    double wall = now_ms() - t0;

    record_upgrade_results(R);
    size_t npass = 0, nfail = 0, nskip = 0;
    for (size_t i = 0; i < R->ncases; i++) {
        npass += R->cases[i].status == TR_PASS;
        nfail += R->cases[i].status == TR_FAIL;
        nskip += R->cases[i].status == TR_SKIP || R->cases[i].status == TR_PENDING;
    }
    rc = nfail || (empty_dir && R->require_tests) ? HB_EXIT_FAILED : HB_EXIT_OK;
    if (R->junit) {
        int w = junit_write(R->junit, R->cases, R->ncases);
        if (fclose(R->junit) != 0 && w == 0)
            w = -EIO;
        R->junit = NULL;
        if (w < 0) {
            cli_error("writing %s failed: %s", R->junit_path, strerror(-w));
            rc = HB_EXIT_FAILED;
        }
    }
    if (R->json)
        emit_json(R, json_pack("{s:s, s:I, s:I, s:I, s:f}", "event", "summary", "passed",
                               (json_int_t)npass, "failed", (json_int_t)nfail, "skipped",
                               (json_int_t)nskip, "ms", wall));
    if (nskip)
        fprintf(R->human, "%zu passed, %zu failed, %zu skipped\n", npass, nfail, nskip);
    else
        fprintf(R->human, "%zu passed, %zu failed\n", npass, nfail);
out:
    free(dirs);
    run_free(R);
    return rc;
}

/* ---- report merge -------------------------------------------------------------- */

static int merge_json(const char *out, int nin, char **in)
{
    FILE *o = fopen(out, "we");
    if (!o) {
        cli_error("cannot write %s: %s", out, strerror(errno));
        return HB_EXIT_USAGE;
    }
    json_int_t tot[3] = {0};
    double ms = 0;
    int rc = HB_EXIT_OK;
    for (int i = 0; i < nin && rc == HB_EXIT_OK; i++) {
        FILE *f = fopen(in[i], "re");
        if (!f) {
            cli_error("cannot read %s: %s", in[i], strerror(errno));
            rc = HB_EXIT_FAILED;
            break;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        unsigned lineno = 0;
        while ((len = getline(&line, &cap, f)) > 0) {
            lineno++;
            json_error_t je;
            json_t *ev = json_loadb(line, (size_t)len, 0, &je);
            const char *type = ev ? json_string_value(json_object_get(ev, "event")) : NULL;
            if (!type) {
                cli_error("%s:%u: not a hotbox JSON event: %s", in[i], lineno, ev ? "no \"event\"" : je.text);
                json_decref(ev);
                rc = HB_EXIT_FAILED;
                break;
            }
            if (!strcmp(type, "summary")) {
                tot[0] += json_integer_value(json_object_get(ev, "passed"));
                tot[1] += json_integer_value(json_object_get(ev, "failed"));
                tot[2] += json_integer_value(json_object_get(ev, "skipped"));
                ms += json_number_value(json_object_get(ev, "ms"));
            } else {
                char *s = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
                if (s)
                    fprintf(o, "%s\n", s);
                free(s);
            }
            json_decref(ev);
        }
        free(line);
        fclose(f);
    }
    json_t *sum = json_pack("{s:s, s:I, s:I, s:I, s:f, s:i}", "event", "summary", "passed", tot[0],
                            "failed", tot[1], "skipped", tot[2], "ms", ms, "merged", nin);
    char *s = sum ? json_dumps(sum, JSON_COMPACT) : NULL;
    if (s)
        fprintf(o, "%s\n", s);
    free(s);
    json_decref(sum);
    if (fclose(o) != 0 && rc == HB_EXIT_OK) {
        cli_error("writing %s failed", out);
        rc = HB_EXIT_FAILED;
    }
    if (rc == HB_EXIT_OK)
        printf("%" PRId64 " passed, %" PRId64 " failed%s\n", (int64_t)tot[0], (int64_t)tot[1], "");
    return rc;
}

static bool looks_like_json(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    int c;
    while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\t' || c == '\r'))
        ;
    fclose(f);
    return c == '{';
}

int cmd_report(const cli_global *g, int argc, char **argv)
{
    (void)g;
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(usage_report, stdout);
        return HB_EXIT_OK;
    }
    if (argc < 4 || strcmp(argv[1], "merge") != 0) {
        fputs(usage_report, stderr);
        return HB_EXIT_USAGE;
    }
    const char *out = argv[2];
    /* Every input must be readable and the output writable before any
     * work: those are usage errors (exit 2), like a bad --junit path. */
    for (int i = 3; i < argc; i++)
        if (access(argv[i], R_OK) < 0) {
            cli_error("cannot read %s: %s", argv[i], strerror(errno));
            return HB_EXIT_USAGE;
        }
    if (looks_like_json(argv[3]))
        return merge_json(out, argc - 3, argv + 3);
    FILE *f = fopen(out, "we");
    if (!f) {
        cli_error("cannot write %s: %s", out, strerror(errno));
        return HB_EXIT_USAGE;
    }
    tr_case *cases = NULL;
    size_t n = 0;
    int rc = HB_EXIT_OK;
    for (int i = 3; i < argc; i++) {
        char *err = NULL;
        if (junit_read(argv[i], &cases, &n, &err) < 0) {
            cli_error("%s", err ? err : "cannot read a report");
            free(err);
            fclose(f);
            unlink(out);
            rc = HB_EXIT_FAILED;
            goto done;
        }
    }
    int w = junit_write(f, cases, n);
    if (fclose(f) != 0 || w < 0) {
        cli_error("writing %s failed", out);
        rc = HB_EXIT_FAILED;
        goto done;
    }
    size_t np = 0, nf = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        np += cases[i].status == TR_PASS;
        nf += cases[i].status == TR_FAIL;
        ns += cases[i].status == TR_SKIP;
    }
    if (ns)
        printf("%zu passed, %zu failed, %zu skipped\n", np, nf, ns);
    else
        printf("%zu passed, %zu failed\n", np, nf);
done:
    for (size_t i = 0; i < n; i++)
        tr_case_release(&cases[i]);
    free(cases);
    return rc;
}
