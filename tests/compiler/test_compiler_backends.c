/*
 * tests/compiler/test_compiler_backends.c - isolation and equivalence across
 * every backend this machine supports (local, namespace, microvm), through
 * hb_compiler contexts. One microVM pool is shared by the whole binary
 * (TCG boots take seconds on two cores). A backend the machine lacks is
 * reported as SKIP with the reason; the test itself SKIPs only when no
 * isolating backend works at all.
 *
 * Every isolation case also runs under local, where it must "leak": that
 * proves the case is real (the file exists and is readable, the listener
 * answers, the write lands), so a sandbox that passes is containing it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>

#include "backend.h"
#include "ctest_util.h"

enum { LOCAL, NS, VM, NB };
static const char *const bname[NB] = {"local", "namespace", "microvm"};
static const hb_isolation biso[NB] = {HB_ISOLATION_LOCAL, HB_ISOLATION_NAMESPACE,
                                      HB_ISOLATION_MICROVM};
static hb_compiler *ctx[NB];
static bool have[NB];
static char *g_root, *g_inc;
static char **g_cflags; /* extra flags for compile(); NULL: none */

static int compile(int b, const char *plugin, const char *cc, unsigned timeout_ms,
                   hb_compile_result *res, char **err)
{
    char *job = t_job(g_root);
    hb_compile_request req = t_request(plugin, job, g_inc);
    req.isolation = biso[b];
    req.cflags = g_cflags;
    if (cc)
        req.cc = cc;
    if (timeout_ms)
        req.timeout_ms = timeout_ms;
    free(*err);
    *err = NULL;
    int r = hb_compiler_run_ctx(ctx[b], &req, res, err);
    free(job);
    return r;
}

static char *plugin_with(const char *name, const char *file, const char *text)
{
    char *dir = t_subdir(g_root, name);
    t_write(dir, file, text);
    return dir;
}

/* A source including `path`, with the text the compiler printed. */
static void check_include_blocked(const char *what, const char *path)
{
    /* Where the file is visible (local) the source compiles without using
     * its content (/etc/shadow is not C); where it is not, the #include
     * fails with the compiler's own "No such file or directory". */
    /* GCC 12 stays silent about an #include of a name a failed
     * __has_include already looked up, hence the "/." spelling. */
    char *src = hb__asprintf("#if __has_include(\"%s\")\nint visible;\n#else\n"
                             "#include \"/.%s\"\n#endif\nint after_include;\n", path, path);
    char *plugin = plugin_with(what, "p.c", src);
    for (int b = 0; b < NB; b++) {
        if (!have[b])
            continue;
        hb_compile_result res;
        char *err = NULL;
        int r = compile(b, plugin, NULL, 0, &res, &err);
        printf("%-22s %-9s -> %d %s\n", what, bname[b], r, r ? (err ? err : "") : "compiled");
        if (b == LOCAL) {
            /* The file is there and readable: the local compile sees it. */
            HB_CHECK_EQ(r, 0);
        } else {
            HB_CHECK_EQ(r, HB_ECOMPILE);
            HB_CHECK_CONTAINS(res.diagnostics, "No such file or directory");
            HB_CHECK_CONTAINS(res.diagnostics, path);
        }
        hb_compile_result_release(&res);
        free(err);
    }
    free(src);
    free(plugin);
}

/* A listener on the host's loopback for the "network" compiler. */
static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    HB_CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    HB_CHECK_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
    HB_CHECK_OK(listen(fd, 16));
    HB_CHECK_OK(getsockname(fd, (struct sockaddr *)&a, &al));
    *port = ntohs(a.sin_port);
    return fd;
}

/* A "compiler" that, before running the real one, tries to reach a service
 * on the host and to write a file outside its job directory, and reports
 * what happened in its output. It lives in the plugin directory, so every
 * backend can run it (the microVM guest sees only /usr and the job). */
static void check_network_and_writes(void)
{
    int port;
    int lfd = listener(&port);
    char *plugin = t_subdir(g_root, "net");
    t_write(plugin, "p.c", "int p(void) { return 1; }\n");
    char *escape_dir = t_subdir(g_root, "escape");
    for (int b = 0; b < NB; b++) {
        if (!have[b])
            continue;
        /* One script per backend, so each names its own escape file. */
        char *leak = hb__path_join(escape_dir, bname[b]);
        char *script = hb__asprintf(
            "#!/usr/bin/bash\n"
            "case \" $* \" in *' -o '*)\n"
            "  if (exec 3<>/dev/tcp/127.0.0.1/%d) 2>/dev/null; then echo 'NET: connected';\n"
            "  else echo 'NET: unreachable'; fi\n"
            "  if (echo leaked > '%s') 2>/dev/null; then echo 'WRITE: done';\n"
            "  else echo 'WRITE: refused'; fi ;;\n"
            "esac\n"
            "exec /usr/bin/gcc \"$@\"\n",
            port, leak);
        char *name = hb__asprintf("netcc-%s", bname[b]);
        t_write(plugin, name, script);
        char *cc = hb__path_join(plugin, name);
        HB_CHECK_OK(chmod(cc, 0755));
        hb_compile_result res;
        char *err = NULL;
        int r = compile(b, plugin, cc, 0, &res, &err);
        printf("network+write %-9s -> %d, output: %s", bname[b], r,
               res.diagnostics ? res.diagnostics : "(none)\n");
        HB_CHECK_EQ(r, 0); /* the compile itself still works */
        if (b == LOCAL) {
            HB_CHECK_CONTAINS(res.diagnostics, "NET: connected");
            HB_CHECK_CONTAINS(res.diagnostics, "WRITE: done");
            HB_CHECK_EQ(access(leak, F_OK), 0);
        } else {
            HB_CHECK_CONTAINS(res.diagnostics, "NET: unreachable");
            /* The write failed or landed in the sandbox's own throw-away
             * root; either way nothing appears on the host. */
            HB_CHECK(access(leak, F_OK) != 0);
        }
        hb_compile_result_release(&res);
        free(err);
        free(leak);
        free(script);
        free(name);
        free(cc);
    }
    /* Drain any connection the local run made. */
    struct pollfd p = {lfd, POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0)
            close(c);
    }
    close(lfd);
    free(escape_dir);
    free(plugin);
}

/* A compiler that never finishes: killed at its limit with a clear error. */
static void check_runs_forever(void)
{
    char *plugin = t_subdir(g_root, "forever");
    t_write(plugin, "p.c", "int p;\n");
    t_write(plugin, "spincc",
            "#!/usr/bin/bash\ncase \" $* \" in *' -o '*) while :; do :; done ;; esac\n"
            "exec /usr/bin/gcc \"$@\"\n");
    char *cc = hb__path_join(plugin, "spincc");
    HB_CHECK_OK(chmod(cc, 0755));
    for (int b = 0; b < NB; b++) {
        if (!have[b])
            continue;
        hb_compile_result res;
        char *err = NULL;
        uint64_t t0 = hb__now_ns();
        int r = compile(b, plugin, cc, 2000, &res, &err);
        double ms = hb__ms_since(t0);
        printf("runs forever  %-9s -> %d after %.0f ms: %s\n", bname[b], r, ms, err ? err : "");
        HB_CHECK_EQ(r, HB_EHUNG);
        HB_CHECK(res.timed_out || res.exit_status == -1);
        HB_CHECK_CONTAINS(err, "limit");
        HB_CHECK(ms < 2000 + 15000); /* killed near the limit, not much later */
        hb_compile_result_release(&res);
        free(err);
    }
    free(cc);
    free(plugin);
}

/* Forks without bound. Only where a process-count bound exists: the guest
 * kernel of a microVM. As root on the host neither local nor namespace can
 * bound it (RLIMIT_NPROC does not apply to root, bwrap sets no pids cgroup),
 * and a real fork bomb there would starve every other process. */
static void check_fork_bomb(void)
{
    for (int b = 0; b < NB; b++)
        if (b != VM || !have[b])
            printf("fork bomb     %-9s -> SKIP: %s\n", bname[b],
                   b == VM ? "microvm unavailable"
                           : getuid() == 0 ? "no process-count bound for root on the host "
                                             "(RLIMIT_NPROC does not apply; no pids cgroup)"
                                           : "not run on the host: it would starve the machine");
    if (!have[VM])
        return;
    char *plugin = t_subdir(g_root, "bomb");
    t_write(plugin, "p.c", "int p;\n");
    t_write(plugin, "bombcc",
            "#!/usr/bin/bash\ncase \" $* \" in *' -o '*) b() { b & b & wait; }; b ;; esac\n"
            "exec /usr/bin/gcc \"$@\"\n");
    char *cc = hb__path_join(plugin, "bombcc");
    HB_CHECK_OK(chmod(cc, 0755));
    hb_compile_result res;
    char *err = NULL;
    uint64_t t0 = hb__now_ns();
    int r = compile(VM, plugin, cc, 3000, &res, &err);
    double ms = hb__ms_since(t0);
    printf("fork bomb     microvm   -> %d after %.0f ms: %s\n", r, ms, err ? err : "");
    /* Killed at the job limit by the agent, or the VM was replaced; either
     * way a clear failure, and the pool still compiles afterwards. */
    HB_CHECK(r == HB_EHUNG || r == -ETIMEDOUT || r == -EIO || r == HB_ECOMPILE);
    HB_CHECK(err && *err);
    hb_compile_result_release(&res);
    free(err);
    err = NULL;
    r = compile(VM, plugin, NULL, 0, &res, &err);
    if (r)
        printf("after the bomb: %s\n", err ? err : "");
    HB_CHECK_EQ(r, 0);
    hb_compile_result_release(&res);
    free(err);
    free(cc);
    free(plugin);
}

static bool same_bytes(const char *a, const char *b)
{
    void *da, *db;
    size_t la, lb;
    HB_CHECK_OK(hb__read_file(a, 64 << 20, &da, &la));
    HB_CHECK_OK(hb__read_file(b, 64 << 20, &db, &lb));
    bool same = la == lb && memcmp(da, db, la) == 0;
    free(da);
    free(db);
    return same;
}

/* Same inputs and flags: byte-identical objects, the same inputs and the
 * same input hash (so the compile cache does not depend on the backend).
 * Once for the example plugin, once for a two-source plugin with a local
 * header and __FILE__ (a multi-step plan: compile each, then link). */
static void check_identical(const char *plugin, const char *header)
{
    hb_compile_result res[NB];
    char *err = NULL;
    int first = -1;
    for (int b = 0; b < NB; b++) {
        if (!have[b])
            continue;
        int r = compile(b, plugin, NULL, 0, &res[b], &err);
        if (r)
            printf("%s: %s\n", bname[b], err ? err : "");
        HB_CHECK_EQ(r, 0);
        if (header) {
            char *h = hb__path_join(plugin, header);
            HB_CHECK(t_has_input(&res[b], h));
            free(h);
        }
        if (first < 0) {
            first = b;
            continue;
        }
        printf("identical     %-9s vs %s: object %s, hash %.12s vs %.12s\n", bname[b],
               bname[first], same_bytes(res[b].object_path, res[first].object_path) ? "same" : "DIFFERS",
               res[b].input_hash, res[first].input_hash);
        HB_CHECK(same_bytes(res[b].object_path, res[first].object_path));
        HB_CHECK_STR(res[b].input_hash, res[first].input_hash);
        HB_CHECK_EQ(hb__strv_len(res[b].inputs), hb__strv_len(res[first].inputs));
        for (size_t i = 0; res[b].inputs[i]; i++)
            HB_CHECK_STR(res[b].inputs[i], res[first].inputs[i]);
    }
    for (int b = 0; b < NB; b++)
        if (have[b])
            hb_compile_result_release(&res[b]);
    free(err);
}

typedef struct par_arg {
    int backend;
    char *plugin;
    int r;
} par_arg;

static void *par_main(void *p)
{
    par_arg *a = p;
    hb_compile_result res;
    char *err = NULL;
    a->r = compile(a->backend, a->plugin, NULL, 0, &res, &err);
    if (a->r)
        fprintf(stderr, "parallel %s: %s\n", bname[a->backend], err ? err : "");
    hb_compile_result_release(&res);
    free(err);
    return NULL;
}

/* Several threads on one context at once. */
static void check_parallel(void)
{
    enum { N = 4 };
    par_arg a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        char name[32], src[96];
        snprintf(name, sizeof(name), "par%d", i);
        snprintf(src, sizeof(src), "int f%d(int x) { return x + %d; }\n", i, i);
        a[i].plugin = plugin_with(name, "p.c", src);
    }
    for (int b = 0; b < NB; b++) {
        if (!have[b])
            continue;
        int n = b == VM ? 2 : N; /* keep the TCG time modest */
        uint64_t t0 = hb__now_ns();
        for (int i = 0; i < n; i++) {
            a[i].backend = b;
            a[i].r = -1;
            HB_CHECK_OK(pthread_create(&t[i], NULL, par_main, &a[i]));
        }
        for (int i = 0; i < n; i++) {
            pthread_join(t[i], NULL);
            HB_CHECK_EQ(a[i].r, 0);
        }
        printf("parallel      %-9s %d compiles in %.0f ms\n", bname[b], n, hb__ms_since(t0));
    }
    for (int i = 0; i < N; i++)
        free(a[i].plugin);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    g_root = t_mkdtemp("hb-backends-");
    g_inc = hb__path_join(HB_SOURCE_DIR, "include");

    for (int b = 0; b < NB; b++) {
        hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
        o.isolation = biso[b];
        o.pool_size = 1;
        char *err = NULL;
        HB_CHECK_OK(hb_compiler_new(&o, &ctx[b], &err));
        const char *sel = hb_compiler_selection(ctx[b]);
        char *why = NULL;
        const hb__backend *be = b == VM ? hb__microvm_backend() : NULL;
        if (b == NS)
            have[b] = hb__namespace_backend()->probe(&why) == 0;
        else if (b == VM)
            have[b] = be && !strstr(sel, "unavailable") && !strstr(sel, "not built");
        else
            have[b] = true;
        printf("backend %-9s %s: %s\n", bname[b], have[b] ? "yes" : "SKIP", have[b] ? sel : (why ? why : sel));
        free(why);
        free(err);
    }
    if (!have[NS] && !have[VM])
        HB_SKIP("no isolating backend works here (see above)");
    if (have[VM]) {
        char *err = NULL;
        uint64_t t0 = hb__now_ns();
        HB_CHECK_OK(hb_compiler_warm(ctx[VM], &err));
        int r = hb_compiler_wait_warm(ctx[VM], 240000, &err);
        if (r)
            printf("pool: %s\n", err ? err : "");
        HB_CHECK_OK(r);
        printf("microvm pool warm after %.0f ms\n", hb__ms_since(t0));
        free(err);
    }

    /* /etc/shadow exists on every Debian host; as root it is readable. */
    if (access("/etc/shadow", R_OK) == 0)
        check_include_blocked("/etc/shadow", "/etc/shadow");
    else
        printf("/etc/shadow: SKIP local proof (not readable by this user)\n");
    const char *home = getenv("HOME");
    if (home && *home && strncmp(home, "/tmp", 4) != 0) {
        char *secret = hb__asprintf("%s/.hb-backends-secret-%d.h", home, (int)getpid());
        int fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        HB_CHECK(fd >= 0);
        HB_CHECK_OK(hb__write_full(fd, "int secret = 42;\n", 17));
        close(fd);
        check_include_blocked("home", secret);
        unlink(secret);
        free(secret);
    }
    {
        char *outside = t_subdir(g_root, "outside");
        t_write(outside, "secret.h", "int outside_secret = 7;\n");
        char *path = hb__path_join(outside, "secret.h");
        check_include_blocked("outside-plugin", path);
        free(path);
        free(outside);
    }
    check_network_and_writes();
    check_runs_forever();

    char *counter = hb__path_join(HB_SOURCE_DIR, "examples/plugins/counter");
    check_identical(counter, NULL);
    free(counter);
    char *multi = t_subdir(g_root, "multi");
    t_write(multi, "shared.h", "#define WHERE __FILE__\nint two(void);\n");
    t_write(multi, "one.c", "#include \"shared.h\"\nconst char *one(void) { return WHERE; }\n");
    t_write(multi, "two.c", "#include \"shared.h\"\nint two(void) { return __LINE__; }\n");
    check_identical(multi, "shared.h");
    /* With debug info too: the random job directory must not reach
     * DW_AT_comp_dir (issue 11.4), on any backend. */
    char *debug_flags[] = {"-g", NULL};
    g_cflags = debug_flags;
    check_identical(multi, "shared.h");
    g_cflags = NULL;
    free(multi);

    check_parallel();
    check_fork_bomb();

    hb_compiler_stats st;
    hb_compiler_stats_get(ctx[VM], &st);
    printf("pool stats: started=%d accel=%s warm=%u busy=%u booting=%u boots=%llu failures=%llu "
           "jobs=%llu median=%.0f ms p95=%.0f ms rss/vm=%llu KiB\n",
           st.pool_started, st.accel, st.warm, st.busy, st.booting,
           (unsigned long long)st.boots, (unsigned long long)st.failures,
           (unsigned long long)st.jobs, st.median_job_ms, st.p95_job_ms,
           (unsigned long long)st.rss_kib_per_vm);
    if (have[VM]) {
        HB_CHECK(st.pool_started);
        HB_CHECK(st.jobs > 0);
    }
    for (int b = 0; b < NB; b++)
        hb_compiler_free(ctx[b]);
    hb__rm_rf(g_root);
    free(g_root);
    free(g_inc);
    return 0;
}
