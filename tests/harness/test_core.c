/* tests/harness/test_core.c - end-to-end tests of the core loop through the
 * public API: real compiles of real sources, a real worker process, real
 * crashes. Each case runs as its own CTest test: test_core CASE. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "e2e.h"

static e2e_events ev;

/* Kills a process and waits (pidfd, with a timeout) until it is gone, so
 * the test's next step sees a dead worker, not a dying one. */
static void kill_and_wait(int pid)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    HB_CHECK(fd >= 0);
    HB_CHECK_EQ(kill(pid, SIGKILL), 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1);
    close(fd);
}

/* Counts the sandbox object views (hb-view-*) in dir. */
static int count_views(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "hb-view-", 8) == 0;
    closedir(d);
    return n;
}

/* A sandbox leaves nothing behind on disk: its object view (the directory
 * its jailed worker sees the store through) is removed when it is freed,
 * also after its worker was restarted. */
static void case_no_leftovers(void)
{
    char tmp[4200], run[4200];
    HB_CHECK_EQ(chmod(e2e_root, 0755), 0); /* so uid 65534 may reach views here */
    snprintf(tmp, sizeof(tmp), "%s/tmp", e2e_root);
    snprintf(run, sizeof(run), "%s/.hotbox/run", e2e_root);
    HB_CHECK_EQ(mkdir(tmp, 0755), 0);
    HB_CHECK_EQ(setenv("TMPDIR", tmp, 1), 0);
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    /* Views a SIGKILLed manager left are reaped when the next one starts;
     * a live manager's are not. */
    pid_t dead = fork();
    HB_CHECK(dead >= 0);
    if (dead == 0)
        _exit(0);
    HB_CHECK_EQ(waitpid(dead, NULL, 0), dead);
    char stale[4400], alive[4400];
    snprintf(stale, sizeof(stale), "%s/hb-view-%ld-abcdef", tmp, (long)dead);
    snprintf(alive, sizeof(alive), "%s/hb-view-%ld-abcdef", tmp, (long)getppid());
    HB_CHECK_EQ(mkdir(stale, 0711), 0);
    HB_CHECK_EQ(mkdir(alive, 0711), 0);
    /* The marker hb_jail_view_new leaves beside views in $TMPDIR: without
     * it the next manager does not scan there (test_views_reap). */
    char mark[4400];
    snprintf(mark, sizeof(mark), "%s/.hb-views-%ld", tmp, (long)geteuid());
    int mfd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    HB_CHECK(mfd >= 0);
    close(mfd);
    /* No worker pool: the views counted are the sandboxes' (test_pool
     * covers the pool's, which go with the manager). */
    hb_manager *m = e2e_manager_pool(&ev, 0);
    HB_CHECK(access(stale, F_OK) < 0);
    HB_CHECK_EQ(access(alive, F_OK), 0);
    HB_CHECK_EQ(rmdir(alive), 0);
    int before = count_views(tmp) + count_views(run);
    hb_sandbox *sb[3];
    for (int i = 0; i < 3; i++) {
        HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb[i]));
        HB_CHECK_OK(hb_load(sb[i], dir));
        int64_t v = 0;
        HB_CHECK_OK(hb_callf(sb[i], "counter", "increment", ")l", &v));
    }
    int live = count_views(tmp) + count_views(run) - before;
    printf("views while 3 sandboxes live: %d\n", live);
    if (live == 0) /* no jail on this machine: nothing to leave behind */
        printf("(no object views: namespaces unavailable)\n");
    else
        HB_CHECK_EQ(live, 3);
    kill_and_wait(hb_sandbox_worker_pid(sb[0])); /* a restart keeps one view */
    int64_t v = 0;
    int r = hb_callf(sb[0], "counter", "increment", ")l", &v);
    HB_CHECK(r == 0 || r == HB_ESTATELOST);
    for (int i = 0; i < 3; i++)
        hb_sandbox_free(sb[i]);
    HB_CHECK_EQ(count_views(tmp) + count_views(run), before);
    hb_manager_free(m);
}

static void case_load_call_reload(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    HB_CHECK_EQ(ev.count[HB_EVENT_LOADED], 1);
    int64_t v = 0;
    for (int i = 0; i < 5; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 5);
    /* Unchanged sources: reload is a no-op (cache hit, same version). */
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 0);
    e2e_write("counter", "counter.c", e2e_counter_src(2, 100, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 2);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 105); /* state carried, new behaviour */
    hb_version_info *vi = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    HB_CHECK_EQ(n, 2);
    HB_CHECK_EQ(vi[0].status, HB_VERSION_GOOD);
    HB_CHECK_EQ(vi[1].status, HB_VERSION_ACTIVE);
    hb_free(vi);
    /* Roll back to v1: schema 1 both ways, so the current state carries. */
    HB_CHECK_OK(hb_rollback(sb, "counter", 0));
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 106);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 1);
    HB_CHECK_EQ(hb_rollback(sb, "counter", 99), HB_ENOVERSION);
    e2e_free(sb, m);
}

static void case_missing_dir(void)
{
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    char path[4300];
    snprintf(path, sizeof(path), "%s/does-not-exist", e2e_root);
    HB_CHECK_EQ(hb_load(sb, path), -ENOENT);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "does-not-exist");
    char *empty = e2e_write("empty", "README", "no sources here\n");
    HB_CHECK_EQ(hb_load(sb, empty), HB_ENOSOURCES);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "empty");
    HB_CHECK_EQ(hb_build(m, path, NULL), -ENOENT);
    HB_CHECK_CONTAINS(hb_manager_last_error(m), "does-not-exist");
    e2e_free(sb, m);
}

static void case_compile_error(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", "#include <hotbox/plugin.h>\nint broken(void) { return 1 }\n");
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_ECOMPILE);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "counter.c:2:");
    const hb_diagnostic *d = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_sandbox_diagnostics(sb, &d, &n));
    HB_CHECK(n >= 1);
    HB_CHECK_EQ(d[0].line, 2);
    HB_CHECK_STR(d[0].severity, "error");
    HB_CHECK_CONTAINS(d[0].file, "counter.c");
    HB_CHECK_EQ(ev.count[HB_EVENT_COMPILE_FAILED], 1);
    /* The old version keeps serving with its state. */
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    /* Fixed: reloads. */
    e2e_write("counter", "counter.c", e2e_counter_src(2, 10, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 12);
    e2e_free(sb, m);
}

static void case_no_descriptor_and_abi(void)
{
    char *dir = e2e_write("nodesc", "nodesc.c", "int f(void) { return 1; }\n");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_EQ(hb_load(sb, dir), HB_ENODESC);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "hb_plugin");
    /* A descriptor from a future ABI: right size, wrong version. */
    char *abi = e2e_write("future", "future.c",
                          "#include <hotbox/plugin.h>\n"
                          "HB_PLUGIN_API const hb_plugin_descriptor hb_plugin = {99, sizeof(hb_plugin_descriptor), \"future\", 1, 0, 0, 0, 0, 0};\n");
    HB_CHECK_EQ(hb_load(sb, abi), HB_EABI);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "99");
    /* A plugin loaded before still serves. */
    char *ok = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    HB_CHECK_OK(hb_load(sb, ok));
    e2e_write("counter", "counter.c",
              "#include <hotbox/plugin.h>\n"
              "HB_PLUGIN_API const hb_plugin_descriptor hb_plugin = {99, sizeof(hb_plugin_descriptor), \"counter\", 1, 0, 0, 0, 0, 0};\n");
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_EABI);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    e2e_free(sb, m);
}

static void case_call_errors(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    HB_CHECK_EQ(hb_callf(sb, "counter", "no_such_fn", ")l", &v), HB_ENOSYM);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "no_such_fn");
    HB_CHECK_EQ(hb_callf(sb, "counter", "increment", "l)q", &v), HB_ESIGNATURE);
    HB_CHECK_EQ(hb_callf(sb, "counter", "increment", "ii", &v), HB_ESIGNATURE);
    HB_CHECK_EQ(hb_signature_check("ii)i", NULL), 0);
    HB_CHECK_EQ(hb_signature_check("i)p", NULL), HB_ESIGNATURE);
    hb_value args[2] = {{.type = HB_TYPE_I32, .v.i = 1}, {.type = HB_TYPE_I32, .v.i = 2}};
    hb_value ret;
    HB_CHECK_EQ(hb_call(sb, "counter", "increment", ")l", args, 2, &ret), HB_EARGS);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "2 given");
    HB_CHECK_EQ(hb_call(sb, "counter", "increment", "l)l", args, 1, &ret), HB_EARGS);
    HB_CHECK_EQ(hb_callf(sb, "nobody", "increment", ")l", &v), HB_ENOPLUGIN);
    HB_CHECK_EQ(hb_call(NULL, "counter", "increment", ")l", NULL, 0, &ret), -EINVAL);
    /* Still serving, state intact. */
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1);
    e2e_free(sb, m);
}

static void case_signatures(void)
{
    char src[4096];
    snprintf(src, sizeof(src), "%s/examples/plugins/mathx", HB_SOURCE_DIR);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, src);
    int32_t i32 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "add", "ii)i", 2, 3, &i32));
    HB_CHECK_EQ(i32, 5);
    int64_t i64 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "mul64", "ll)l", (int64_t)3000000000, (int64_t)-3, &i64));
    HB_CHECK_EQ(i64, -9000000000LL);
    uint64_t u64 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "umax", "LL)L", UINT64_MAX, (uint64_t)1, &u64));
    HB_CHECK(u64 == UINT64_MAX);
    int8_t i8 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "neg8", "c)c", -128 + 1, &i8));
    HB_CHECK_EQ(i8, 127);
    uint8_t u8 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "inc8", "C)C", 255, &u8));
    HB_CHECK_EQ(u8, 0);
    int16_t i16 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "neg16", "s)s", -300, &i16));
    HB_CHECK_EQ(i16, 300);
    uint16_t u16 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "swap16", "S)S", 0x1234, &u16));
    HB_CHECK_EQ(u16, 0x3412);
    uint32_t u32 = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "rotl32", "Ii)I", 0x80000001u, 1, &u32));
    HB_CHECK_EQ(u32, 3);
    long l = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "lsub", "jj)j", 10L, 20L, &l));
    HB_CHECK_EQ(l, -10);
    float f = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "scalef", "ff)f", 1.5, 2.0, &f));
    HB_CHECK_DBL(f, 3.5, 1e-6);
    double d = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "mix", "idf)d", 1, 2.5, 2.0, &d));
    HB_CHECK_DBL(d, 6.0, 1e-12);
    _Bool b = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "is_even", "l)B", (int64_t)42, &b));
    HB_CHECK(b);
    HB_CHECK_OK(hb_callf(sb, "mathx", "strlen_", "Z)L", "hotbox", &u64));
    HB_CHECK_EQ(u64, 6);
    HB_CHECK_OK(hb_callf(sb, "mathx", "strlen_", "Z)L", (const char *)NULL, &u64));
    HB_CHECK_EQ(u64, 0);
    const char *s = NULL;
    HB_CHECK_OK(hb_callf(sb, "mathx", "greeting", "i)Z", 1, &s));
    HB_CHECK_STR(s, "Good day");
    HB_CHECK_OK(hb_callf(sb, "mathx", "checksum", "b)L", "\x01\x02\x03", (size_t)3, &u64));
    HB_CHECK_EQ(u64, 6);
    char buf[] = "hello, World";
    HB_CHECK_OK(hb_callf(sb, "mathx", "upcase", "w)i", buf, strlen(buf), &i32));
    HB_CHECK_EQ(i32, 9);
    HB_CHECK_STR(buf, "HELLO, WORLD");
    e2e_free(sb, m);
}

static const char *crash_plugin(const char *where)
{
    /* counter whose hook `where` (init, migrate, fini, call) crashes. */
    static char src[4096];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
             "static int64_t count;\n"
             "static void boom(void) { volatile int *p = 0; *p = 1; }\n"
             "int64_t increment(void) { return ++count; }\n"
             "int64_t get(void) { return count; }\n"
             "int32_t version(void) { return 9; }\n"
             "int64_t crash(void) { boom(); return 0; }\n"
             "static int init(void) { %s return 0; }\n"
             "static void fini(void) { %s }\n"
             "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = count; *d = p; *l = 8; return 0; }\n"
             "static int migrate(const void *d, size_t l, uint32_t s) { %s if (l != 8) return -1; memcpy(&count, d, 8); return 0; }\n"
             "HB_PLUGIN(\"counter\", 1, init, fini, save, migrate);\n",
             strcmp(where, "init") == 0 ? "boom();" : "",
             strcmp(where, "fini") == 0 ? "boom();" : "",
             strcmp(where, "migrate") == 0 ? "boom();" : "");
    return src;
}

/* A new version that crashes in `where` during the swap: the worker dies,
 * a new worker serves the old version with its state. */
static void crash_during_swap(const char *where)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    for (int i = 0; i < 4; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    int pid = hb_sandbox_worker_pid(sb);
    e2e_write("counter", "counter.c", crash_plugin(where));
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "SIGSEGV");
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 1);
    HB_CHECK(hb_sandbox_worker_pid(sb) != pid);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 5); /* nothing lost */
    hb_version_info *vi = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    HB_CHECK_EQ(n, 2);
    HB_CHECK_EQ(vi[1].status, HB_VERSION_BAD);
    hb_free(vi);
    e2e_free(sb, m);
}

static void case_crash_init(void) { crash_during_swap("init"); }
static void case_crash_migrate(void) { crash_during_swap("migrate"); }

static void case_crash_init_first_load(void)
{
    char *ok = e2e_write("mathx", "m.c", "#include <hotbox/plugin.h>\nint add(int a, int b) { return a + b; }\nHB_PLUGIN(\"mathx\", 1, 0, 0, 0, 0);\n");
    char *bad = e2e_write("counter", "counter.c", crash_plugin("init"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, ok);
    HB_CHECK_EQ(hb_load(sb, bad), HB_ECRASHED);
    int32_t r = 0;
    HB_CHECK_OK(hb_callf(sb, "mathx", "add", "ii)i", 20, 22, &r));
    HB_CHECK_EQ(r, 42);
    HB_CHECK_EQ(hb_callf(sb, "counter", "get", ")l", (int64_t *)&r), HB_ENOPLUGIN);
    e2e_free(sb, m);
}

static void case_crash_call(void)
{
    char *dir = e2e_write("counter", "counter.c", crash_plugin("none"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, "counter")); /* count 3 is checkpointed */
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v)); /* 4: after the checkpoint */
    HB_CHECK_EQ(hb_callf(sb, "counter", "crash", ")l", &v), HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "SIGSEGV");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "crash");
    /* Restarted from the checkpoint: the increment after it is the documented loss. */
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_free(sb, m);
}

static void case_crash_fini(void)
{
    char *dir = e2e_write("counter", "counter.c", crash_plugin("fini"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    /* Unloading runs fini, which crashes: the plugin is gone either way and
     * the sandbox keeps working. */
    HB_CHECK_OK(hb_unload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    HB_CHECK_EQ(hb_callf(sb, "counter", "get", ")l", &v), HB_ENOPLUGIN);
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1);
    hb_sandbox_free(sb); /* fini crashes at shutdown too: must not hang or leak */
    hb_manager_free(m);
}

/* The old version's fini crashes after the switch: the new version is live
 * with the migrated state, and a restarted worker serves it. */
static void case_crash_fini_swap(void)
{
    char *dir = e2e_write("counter", "counter.c", crash_plugin("fini"));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", e2e_counter_src(2, 10, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 2);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 13);
    e2e_free(sb, m);
}

static void case_killed_from_outside(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    for (int i = 0; i < 7; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    int pid = hb_sandbox_worker_pid(sb);
    kill_and_wait(pid);
    /* The next call notices, restarts from the checkpoint and serves. */
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 8);
    HB_CHECK(hb_sandbox_worker_pid(sb) != pid);
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_CRASHED], "SIGKILL");
    e2e_free(sb, m);
}

static void case_state_too_big(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.max_state_size = 4096;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    /* v2 saves 8 KiB, over the limit: swapping away from it must fail. */
    e2e_write("counter", "counter.c",
              e2e_counter_src(2, 1,
                              "static int bigsave(void **d, size_t *l) { *d = calloc(1, 8192); *l = 8192; return *d ? 0 : -1; }\n"
                              "static int mig(const void *d, size_t l, uint32_t s) { if (s != 1 || l != 8) return -1; memcpy(&count, d, 8); return 0; }\n"
                              "HB_PLUGIN(\"counter\", 1, 0, 0, bigsave, mig);"));
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    e2e_write("counter", "counter.c", e2e_counter_src(3, 1, NULL));
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_ESTATESIZE);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "4096");
    uint64_t active;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 2);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 3);
    e2e_free(sb, m);
}

static void case_no_state_hooks(void)
{
    char *dir = e2e_write("plain", "p.c", "#include <hotbox/plugin.h>\nstatic int n;\nint bump(void) { return ++n; }\nHB_PLUGIN(\"plain\", 1, 0, 0, 0, 0);\n");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int32_t v;
    HB_CHECK_OK(hb_callf(sb, "plain", "bump", ")i", &v));
    HB_CHECK_OK(hb_callf(sb, "plain", "bump", ")i", &v));
    HB_CHECK_EQ(v, 2);
    e2e_write("plain", "p.c", "#include <hotbox/plugin.h>\nstatic int n = 100;\nint bump(void) { return ++n; }\nHB_PLUGIN(\"plain\", 1, 0, 0, 0, 0);\n");
    /* Without hooks, a static whose DWARF layout is unchanged is carried
     * (docs/state.md): n keeps 2, its new initializer is not used. */
    HB_CHECK_OK(hb_reload(sb, "plain"));
    HB_CHECK_EQ(ev.count[HB_EVENT_STATE_RESET], 0);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_SWAPPED], "statics: 1 carried, 0 reset, 0 new");
    HB_CHECK_OK(hb_callf(sb, "plain", "bump", ")i", &v));
    HB_CHECK_EQ(v, 3);
    /* A changed type is reset: fresh state, named in the swap event. */
    e2e_write("plain", "p.c", "#include <hotbox/plugin.h>\nstatic long n = 100;\nint bump(void) { return (int)++n; }\nHB_PLUGIN(\"plain\", 1, 0, 0, 0, 0);\n");
    HB_CHECK_OK(hb_reload(sb, "plain"));
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_SWAPPED], "statics: 0 carried, 1 reset, 0 new");
    HB_CHECK_OK(hb_callf(sb, "plain", "bump", ")i", &v));
    HB_CHECK_EQ(v, 101);
    e2e_free(sb, m);
}

static void case_two_sandboxes(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *a, *b;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &a));
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &b));
    HB_CHECK(hb_sandbox_worker_pid(a) != hb_sandbox_worker_pid(b));
    HB_CHECK_OK(hb_load(a, dir));
    HB_CHECK_OK(hb_load(b, dir));
    int64_t v;
    HB_CHECK_OK(hb_callf(a, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_callf(a, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_callf(b, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1); /* separate processes, separate state */
    kill_and_wait(hb_sandbox_worker_pid(a));
    HB_CHECK_OK(hb_callf(b, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    hb_manager_free(m); /* frees both sandboxes */
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"load_call_reload", case_load_call_reload},
        {"missing_dir", case_missing_dir},
        {"compile_error", case_compile_error},
        {"no_descriptor_abi", case_no_descriptor_and_abi},
        {"call_errors", case_call_errors},
        {"signatures", case_signatures},
        {"crash_init", case_crash_init},
        {"crash_init_first_load", case_crash_init_first_load},
        {"crash_migrate", case_crash_migrate},
        {"crash_call", case_crash_call},
        {"crash_fini", case_crash_fini},
        {"killed_from_outside", case_killed_from_outside},
        {"crash_fini_swap", case_crash_fini_swap},
        {"state_too_big", case_state_too_big},
        {"no_state_hooks", case_no_state_hooks},
        {"two_sandboxes", case_two_sandboxes},
        {"no_leftovers", case_no_leftovers},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
