/*
 * tests/microvm/test_microvm_attack.c - the microvm compile backend attacked
 * from outside, on one warm guest (TCG unless KVM works) so the whole file
 * costs one restore and a few jobs:
 *   symlink_out   a plugin directory's symlinks to host files outside it are
 *                 not copied into the guest (one inside it still is);
 *   no_persist    a job (a hostile compiler: "-wrapper" or "-fplugin" in a
 *                 plugin.json runs code in the guest) leaves nothing the next
 *                 job of another plugin sees: no file in the guest's /tmp,
 *                 /etc or the job directory, no process that writes into the
 *                 next job's output directory;
 *   job_powers    a job cannot write the guest's kernel knobs, reach the
 *                 agent's port or the serial console; the guest has no
 *                 network device;
 *   out_modes     what a job leaves in its output directory reaches the
 *                 host without set-id bits and writable by no one else;
 *   usr_fresh     a header under the host's /usr replaced while the guest is
 *                 warm: the next compile uses the new one, not the guest's
 *                 cached copy;
 *   qemu_killed   QEMU SIGKILLed during a job: the job runs again on a fresh
 *                 VM and succeeds;
 *   comma_path    a run directory with ",readonly=on" in its path is still
 *                 the guest's (writable) job share (QEMU option parsing);
 *   still_builds  a plugin still compiles, in two steps (object, then link),
 *                 with a depfile.
 * SKIP (77) with the reason when no guest can run here.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "hbtest.h"
#include "microvm.h"
#include "util.h"

static const hb__backend *g_be;
static hb__vm_state *g_st;
static char *g_root;

static char *mkdir_in(const char *name)
{
    char *p = hb__path_join(g_root, name);
    HB_CHECK(p);
    HB_CHECK_OK(hb__mkdir_p(p, 0755));
    return p;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char *p = hb__path_join(dir, name);
    HB_CHECK(p);
    HB_CHECK_OK(hb__write_file_atomic(p, text, strlen(text), 0644));
    free(p);
}

/* Runs argv in the guest for a request on plugin/out; returns the output
 * (malloc'ed) and the wait status in *st. */
static char *run(const char *plugin, const char *out, char *const *argv, int *st)
{
    hb_compile_request req = {0};
    req.plugin_dir = plugin;
    req.job_dir = out;
    req.include_dir = HB_INCLUDE_DIR;
    hb__run_ctx ctx = {.req = &req,
                       .deadline_ns = hb__now_ns() + 240ull * 1000000000ull,
                       .timeout_ms = 240000,
                       .state = g_st};
    hb__run_outcome o;
    char *err = NULL;
    uint64_t t0 = hb__now_ns();
    int r = g_be->run(&ctx, argv, &o, &err);
    if (r != 0)
        HB_FAIL_("job %s failed to run: %d %s\n", argv[2], r, err ? err : "");
    free(err);
    HB_CHECK(!o.timed_out);
    *st = o.wait_status;
    char *text = hb__sb_detach(&o.output);
    printf("job (%.0f ms, status %#x): %s\n---\n%s---\n", hb__ms_since(t0), *st, argv[2],
           text ? text : "");
    return text ? text : strdup("");
}

static char *sh(const char *plugin, const char *out, const char *script, int *st)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    return run(plugin, out, argv, st);
}

static void symlink_out(void)
{
    char *outside = mkdir_in("outside"), *p = mkdir_in("p-symlink"), *out = mkdir_in("o-symlink");
    write_text(outside, "secret.h", "int outside_secret_4242;\n");
    write_text(p, "real.h", "int inner_ok;\n");
    char *s = hb__path_join(outside, "secret.h"), *l1 = hb__path_join(p, "leak.h"),
         *l2 = hb__path_join(p, "ext"), *l3 = hb__path_join(p, "inner.h");
    HB_CHECK_OK(symlink(s, l1) == 0 ? 0 : -errno);
    HB_CHECK_OK(symlink(outside, l2) == 0 ? 0 : -errno);
    HB_CHECK_OK(symlink("real.h", l3) == 0 ? 0 : -errno);
    char *script = hb__asprintf("cat '%s/leak.h' '%s/ext/secret.h' '%s/inner.h' 2>&1; true", p, p, p);
    int st;
    char *text = sh(p, out, script, &st);
    HB_CHECK(strstr(text, "inner_ok") != NULL);          /* a link inside the plugin: kept */
    HB_CHECK(strstr(text, "outside_secret_4242") == NULL); /* links out of it: not copied */
    HB_FREE_ALL(text, script, s, l1, l2, l3, outside, p, out);
    printf("symlink_out: ok\n");
}

static void no_persist(void)
{
    char *pa = mkdir_in("p-evil"), *oa = mkdir_in("o-evil");
    char *pb = mkdir_in("p-victim"), *ob = mkdir_in("o-victim");
    write_text(pa, "a.c", "int a;\n");
    write_text(pb, "b.c", "int b;\n");
    int st;
    char *ta = sh(pa, oa,
                  "echo PLANTED-CONTENT > /tmp/hb-planted;"
                  " echo /nonexistent/EVIL-PRELOAD.so > /etc/ld.so.preload;"
                  " echo PLANTED-CONTENT > /job/hb-planted;"
                  " (setsid sh -c 'while :; do echo pwned > /job/out/injected.txt; sleep 0.2; done'"
                  " </dev/null >/dev/null 2>&1 &);"
                  " echo evil-done",
                  &st);
    HB_CHECK(strstr(ta, "evil-done") != NULL);
    char *tb = sh(pb, ob,
                  "sleep 2; cat /tmp/hb-planted /etc/ld.so.preload /job/hb-planted 2>&1;"
                  " echo victim-done",
                  &st);
    HB_CHECK(strstr(tb, "victim-done") != NULL);
    HB_CHECK(strstr(tb, "PLANTED-CONTENT") == NULL);
    HB_CHECK(strstr(tb, "EVIL-PRELOAD") == NULL);
    char *inj = hb__path_join(ob, "injected.txt");
    HB_CHECK(access(inj, F_OK) != 0);
    HB_FREE_ALL(ta, tb, inj, pa, oa, pb, ob);
    printf("no_persist: ok\n");
}

static void job_powers(void)
{
    char *p = mkdir_in("p-powers"), *o = mkdir_in("o-powers");
    int st;
    char *t = sh(p, o,
                 "echo core > /proc/sys/kernel/core_pattern && echo WROTE_SYSCTL;"
                 " for f in /dev/vport*; do [ -e \"$f\" ] && echo SAW_PORT; done;"
                 " echo hi > /dev/ttyS0 && echo WROTE_CONSOLE;"
                 " echo hi > /dev/console && echo WROTE_CONSOLE;"
                 " grep -v -e '^ *lo:' -e '|' /proc/net/dev | grep -q . && echo HAS_NIC;"
                 " echo x > /dev/null && echo null-ok; echo powers-done",
                 &st);
    HB_CHECK(strstr(t, "powers-done") != NULL);
    HB_CHECK(strstr(t, "null-ok") != NULL);
    HB_CHECK(strstr(t, "WROTE_SYSCTL") == NULL);
    HB_CHECK(strstr(t, "SAW_PORT") == NULL);
    HB_CHECK(strstr(t, "WROTE_CONSOLE") == NULL);
    HB_CHECK(strstr(t, "HAS_NIC") == NULL); /* no network device but loopback */
    HB_FREE_ALL(t, p, o);
    printf("job_powers: ok\n");
}

static void out_modes(void)
{
    char *p = mkdir_in("p-modes"), *o = mkdir_in("o-modes");
    char *script = hb__asprintf("echo x > '%s/suid'; chmod 6777 '%s/suid'; ls -l '%s/suid'", o, o, o);
    int st;
    char *t = sh(p, o, script, &st);
    char *f = hb__path_join(o, "suid");
    struct stat s;
    HB_CHECK_OK(stat(f, &s) == 0 ? 0 : -errno);
    printf("out_modes: host mode %04o owner %u\n", (unsigned)(s.st_mode & 07777), (unsigned)s.st_uid);
    HB_CHECK_EQ(s.st_mode & (S_ISUID | S_ISGID | S_ISVTX | S_IWGRP | S_IWOTH), 0);
    HB_CHECK_EQ(s.st_uid, getuid());
    HB_FREE_ALL(t, script, f, p, o);
    printf("out_modes: ok\n");
}

/* The object of a compile of p/u.c (which includes header h) on the guest. */
static bool compiled_has(const char *p, const char *o, const char *symbol)
{
    char *src = hb__path_join(p, "u.c"), *obj = hb__path_join(o, "u.o"),
         *dep = hb__path_join(o, "u.d");
    char *a[] = {"/usr/bin/cc", "-c", "-MD", "-MF", dep, "-o", obj, src, NULL};
    int st;
    char *t = run(p, o, a, &st);
    HB_CHECK_EQ(st, 0);
    void *d = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb__read_file(obj, 1 << 20, &d, &n));
    bool has = memmem(d, n, symbol, strlen(symbol)) != NULL;
    HB_FREE_ALL(t, d, src, obj, dep);
    return has;
}

/* A header under the host's /usr (shared into the guest with caching)
 * replaced between two compiles on the same warm guest: the second object
 * is built from the new one. Needs a writable /usr/local/include (root). */
static char *usr_header(void)
{
    return hb__asprintf("/usr/local/include/hb-vmattack-%d.h", (int)getpid());
}

static void usr_header_remove(void)
{
    char *h = usr_header();
    unlink(h);
    free(h);
}

/* Before the guest starts: the first compile finds nothing changed. */
static bool usr_header_v1(void)
{
    atexit(usr_header_remove);
    char *h = usr_header();
    bool ok = hb__write_file_replace(h, "int usr_version_1;\n", 19, 0644) == 0;
    free(h);
    return ok;
}

static void usr_fresh(bool have_v1)
{
    char *h = usr_header();
    if (!have_v1) {
        printf("usr_fresh: SKIP (cannot write %s)\n", h);
        free(h);
        return;
    }
    char *p = mkdir_in("p-usr"), *o = mkdir_in("o-usr");
    char *src = hb__asprintf("#include <hb-vmattack-%d.h>\n", (int)getpid());
    write_text(p, "u.c", src);
    HB_CHECK(compiled_has(p, o, "usr_version_1"));
    HB_CHECK_OK(hb__write_file_replace(h, "int usr_version_2_is_longer;\n", 29, 0644));
    bool fresh = compiled_has(p, o, "usr_version_2_is_longer");
    unlink(h);
    HB_CHECK(fresh);
    HB_FREE_ALL(src, h, p, o);
    printf("usr_fresh: ok\n");
}

static void still_builds(void)
{
    char *p = mkdir_in("p-build"), *o = mkdir_in("o-build");
    write_text(p, "x.h", "#define X 7\n");
    write_text(p, "x.c", "#include \"x.h\"\nint x(void) { return X; }\n");
    char *src = hb__path_join(p, "x.c"), *obj = hb__path_join(o, "x.o"),
         *so = hb__path_join(o, "plugin.so"), *dep = hb__path_join(o, "x.d");
    char *a1[] = {"/usr/bin/cc", "-c", "-fPIC", "-O2", "-MD", "-MF", dep, "-o", obj, src, NULL};
    int st;
    char *t = run(p, o, a1, &st);
    HB_CHECK_EQ(st, 0);
    free(t);
    char *a2[] = {"/usr/bin/cc", "-shared", "-o", so, obj, NULL};
    t = run(p, o, a2, &st);
    HB_CHECK_EQ(st, 0);
    free(t);
    struct stat s;
    HB_CHECK_OK(stat(so, &s) == 0 ? 0 : -errno);
    HB_CHECK(s.st_size > 0);
    void *d = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb__read_file(dep, 1 << 20, &d, &n));
    HB_CHECK(memmem(d, n, "x.h", 3) != NULL);
    /* a second compile over the outputs of the first (files the host copied in) */
    t = run(p, o, a1, &st);
    HB_CHECK_EQ(st, 0);
    HB_FREE_ALL(t, d, src, obj, so, dep, p, o);
    printf("still_builds: ok\n");
}

/* This process's QEMU children (the pool's VMs), up to max. */
static int qemu_children(pid_t *out, int max)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) && n < max) {
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t k = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[k] = 0;
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        if (strstr(buf, "(qemu-system") && rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 &&
            ppid == (int)getpid())
            out[n++] = (pid_t)atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

struct bg_job {
    const char *p, *o;
    char *text;
    int st;
};

static void *bg_main(void *arg)
{
    struct bg_job *j = arg;
    j->text = sh(j->p, j->o, "sleep 3; echo job-ran", &j->st);
    return NULL;
}

/* QEMU SIGKILLed while a job runs: the pool counts a fault, retires the VM
 * and runs the job again on a fresh one; the caller sees it succeed. */
static void qemu_killed(void)
{
    char *p = mkdir_in("p-kill"), *o = mkdir_in("o-kill");
    hb_compiler_stats before = {0}, after = {0};
    g_be->vm->stats(g_st, &before);
    struct bg_job j = {p, o, NULL, -1};
    pthread_t t;
    HB_CHECK_OK(pthread_create(&t, NULL, bg_main, &j));
    /* the job is running once the VM is busy (deadline 60 s) */
    uint64_t end = hb__now_ns() + 60ull * 1000000000ull;
    hb_compiler_stats cs = {0};
    do
        g_be->vm->stats(g_st, &cs);
    while (cs.busy == 0 && hb__now_ns() < end && !sched_yield());
    HB_CHECK_EQ(cs.busy, 1u);
    pid_t q[4];
    int n = qemu_children(q, 4);
    HB_CHECK_EQ(n, 1);
    HB_CHECK_OK(kill(q[0], SIGKILL) == 0 ? 0 : -errno);
    HB_CHECK_OK(pthread_join(t, NULL));
    g_be->vm->stats(g_st, &after);
    printf("qemu_killed: status %#x, failures %llu -> %llu\n", j.st,
           (unsigned long long)before.failures, (unsigned long long)after.failures);
    HB_CHECK_EQ(j.st, 0);
    HB_CHECK(strstr(j.text, "job-ran") != NULL);
    HB_CHECK_EQ(after.failures, before.failures + 1);
    HB_FREE_ALL(j.text, p, o);
    printf("qemu_killed: ok\n");
}

/* A run directory whose path holds a ',' and what looks like a QEMU option
 * (",readonly=on"): the guest's job share is still that directory, and
 * writable. Its own pool (no warm-up), after the main one is gone. */
static void comma_path(void)
{
    char *run = hb__path_join(g_root, "run,readonly=on");
    HB_CHECK_OK(hb__mkdir_p(run, 0700));
    char *p = mkdir_in("p-comma"), *o = mkdir_in("o-comma");
    write_text(p, "c.c", "int c;\n");
    hb_vm_pool_options po = HB_VM_POOL_OPTIONS_INIT;
    po.size = 1;
    po.run_dir = run;
    po.no_warmup = true;
    po.accel = HB_VM_ACCEL_TCG;
    po.boot_timeout_ms = 240000;
    hb_vm_pool *pool = NULL;
    char *err = NULL;
    HB_CHECK_OK(hb_vm_pool_new(&po, &pool, &err));
    const char *sources[] = {"c.c", NULL};
    const char *argv[] = {"/bin/sh", "-c", "echo comma-ok > " HB_VM_GUEST_OUT "/mark; cat " HB_VM_GUEST_SRC "/c.c", NULL};
    hb_vm_job job = {.plugin_dir = p, .sources = sources, .argv = argv, .out_dir = o,
                     .timeout_ms = 240000, .sync_out = true};
    hb_vm_result res;
    int r = hb_vm_pool_compile(pool, &job, &res, &err);
    if (r)
        HB_FAIL_("comma_path: %d %s\n", r, err ? err : "");
    printf("comma_path: output %s", res.output ? res.output : "");
    HB_CHECK(res.output && strstr(res.output, "int c;"));
    char *mark = hb__path_join(o, "mark");
    HB_CHECK_OK(access(mark, F_OK) == 0 ? 0 : -errno);
    hb_vm_result_release(&res);
    hb_vm_pool_free(pool);
    HB_FREE_ALL(mark, err, run, p, o);
    printf("comma_path: ok\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    g_be = hb__microvm_backend();
    if (!g_be)
        HB_SKIP("the microvm backend is not built in");
    hb_compiler_options o = HB_COMPILER_OPTIONS_INIT;
    o.pool_size = 1;
    o.jobs_per_vm = 100; /* every job on the same guest */
    o.accel = HB_COMPILER_ACCEL_TCG;
    o.boot_timeout_ms = 240000;
    char *err = NULL;
    HB_CHECK_OK(g_be->vm->state_new(&o, &g_st, &err));
    if (g_be->vm->check(g_st, &err) != 0)
        HB_SKIP("%s", err ? err : "no guest here");
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-vmattack-", &g_root));
    bool have_v1 = usr_header_v1();
    uint64_t t0 = hb__now_ns();
    int r = g_be->vm->start(g_st, &err);
    if (!r)
        r = g_be->vm->wait_warm(g_st, 480000, &err);
    if (r)
        HB_FAIL_("pool: %d %s\n", r, err ? err : "");
    printf("guest warm after %.0f ms\n", hb__ms_since(t0));
    const char *only = argc > 1 ? argv[1] : NULL;
    if (!only || !strcmp(only, "symlink_out"))
        symlink_out();
    if (!only || !strcmp(only, "no_persist"))
        no_persist();
    if (!only || !strcmp(only, "job_powers"))
        job_powers();
    if (!only || !strcmp(only, "out_modes"))
        out_modes();
    if (!only || !strcmp(only, "usr_fresh"))
        usr_fresh(have_v1);
    if (!only || !strcmp(only, "still_builds"))
        still_builds();
    if (!only || !strcmp(only, "qemu_killed"))
        qemu_killed();
    g_be->vm->state_free(g_st);
    if (!only || !strcmp(only, "comma_path"))
        comma_path();
    hb__rm_rf(g_root);
    free(g_root);
    free(err);
    printf("ok\n");
    return 0;
}
