/* A "compiler" that never finishes (a shell script passed as cc) is killed
 * at the wall-clock limit with its whole process group: HB_EHUNG, under the
 * local backend and, when bwrap works, under the namespace backend. */
#include <poll.h>
#include <sys/syscall.h>

#include "ctest_util.h"

static char *root;

static char *make_hang_cc(const char *pidfile)
{
    char *dir = t_subdir(root, "bin");
    char *script = hb__asprintf(
        "#!/bin/sh\n"
        "case \"$1\" in --version) echo 'hangcc 1.0'; exit 0;; esac\n"
        "for a in \"$@\"; do [ \"$a\" = -fsyntax-only ] && exit 1; done\n"
        "sleep 1000 &\n"
        "echo $! > '%s'\n"
        "wait\n",
        pidfile);
    t_write(dir, "hangcc", script);
    char *path = hb__path_join(dir, "hangcc");
    HB_CHECK_OK(chmod(path, 0755));
    free(script);
    free(dir);
    return path;
}

static void run_hang(hb_isolation iso, const char *cc, const char *pidfile)
{
    char *plugin = t_subdir(root, "plugin"), *job = t_job(root), *err = NULL;
    t_write(plugin, "a.c", "int a(void) { return 1; }\n");
    unlink(pidfile);
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = cc;
    req.timeout_ms = 1500;
    req.isolation = iso;
    hb_compile_result res;
    uint64_t t0 = hb__now_ns();
    int r = hb_compiler_run(&req, &res, &err);
    double ms = hb__ms_since(t0);
    if (r != HB_EHUNG)
        HB_FAIL_("expected HB_EHUNG, got %d (%s)\n%s", r, err ? err : "",
                 res.diagnostics ? res.diagnostics : "");
    HB_CHECK(res.timed_out);
    HB_CHECK_EQ(res.exit_status, -1);
    HB_CHECK_CONTAINS(err, "1500 ms");
    HB_CHECK_CONTAINS(err, "timeout_ms");
    HB_CHECK_INT(ms, >=, 1400);
    HB_CHECK_INT(ms, <, 10000);
    printf("%s: HB_EHUNG after %.0f ms: %s\n", res.backend, ms, err);

    if (iso == HB_ISOLATION_LOCAL) {
        /* The script's child was in the compiler's process group: it must
         * be dead (exited or a zombie awaiting its reaper) too. */
        void *data = NULL;
        size_t len = 0;
        HB_CHECK_OK(hb__read_file(pidfile, 64, &data, &len));
        int pid = atoi(data);
        free(data);
        HB_CHECK(pid > 1);
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd >= 0) {
            struct pollfd p = {pfd, POLLIN, 0};
            HB_CHECK_EQ(poll(&p, 1, 5000), 1);
            close(pfd);
        } else {
            HB_CHECK_EQ(errno, ESRCH);
        }
    }
    hb_compile_result_release(&res);
    free(err);
    free(job);
    free(plugin);
}

/* A "compiler" that writes more than max_output_bytes is stopped by
 * RLIMIT_FSIZE (SIGXFSZ): HB_ELIMIT naming the limit. */
static void test_output_limit(void)
{
    char *dir = t_subdir(root, "bigbin"), *plugin = t_subdir(root, "plugin"), *job = t_job(root);
    char *err = NULL;
    t_write(dir, "bigcc",
            "#!/bin/sh\n"
            "case \"$1\" in --version) echo 'bigcc 1.0'; exit 0;; esac\n"
            "for a in \"$@\"; do [ \"$a\" = -fsyntax-only ] && exit 1; done\n"
            "exec head -c 4000000 /dev/zero > \"$PWD/big.out\"\n");
    char *cc = hb__path_join(dir, "bigcc");
    HB_CHECK_OK(chmod(cc, 0755));
    t_write(plugin, "a.c", "int a(void) { return 1; }\n");
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = cc;
    req.max_output_bytes = 1 << 20;
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != HB_ELIMIT)
        HB_FAIL_("expected HB_ELIMIT, got %d (%s)", r, err ? err : "");
    HB_CHECK_CONTAINS(err, "SIGXFSZ");
    HB_CHECK_CONTAINS(err, "max_output_bytes=1048576");
    HB_CHECK_EQ(res.exit_status, -1);
    hb_compile_result_release(&res);
    free(err);
    free(cc);
    free(job);
    free(plugin);
    free(dir);
}

int main(void)
{
    root = t_mkdtemp("hb-climit-");
    char *pidfile = hb__path_join(root, "child.pid");
    char *cc = make_hang_cc(pidfile);
    run_hang(HB_ISOLATION_LOCAL, cc, pidfile);
    test_output_limit();
    char *why = NULL;
    if (hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, &why) == 0)
        run_hang(HB_ISOLATION_NAMESPACE, cc, pidfile);
    else
        printf("namespace part skipped: %s\n", why);
    free(why);
    hb__rm_rf(root);
    free(root);
    free(pidfile);
    free(cc);
    printf("ok\n");
    return 0;
}
