/* tests/harness/test_worker_exit.c - freeing a sandbox (or its manager)
 * returns only after the worker process has exited, even when the worker
 * is slow to die: a killed worker holding much memory takes a while to
 * give it back, and a caller polling the worker's pidfd right after
 * hb_sandbox_free must find it gone. */
#include <stdbool.h>
#include <poll.h>
#include <sys/syscall.h>
#include <time.h>

#include "harness/e2e.h"

static e2e_events ev;

/* A counter whose fini never returns, after its init touched `mib` MiB:
 * the worker is killed at the swap timeout and its exit is slow. */
static char *big_hanging_plugin(unsigned mib)
{
    char extra[2048];
    snprintf(extra, sizeof(extra),
             "#include <unistd.h>\n"
             "static char *big;\n"
             "static int ini(void) { size_t n = (size_t)%uu << 20; big = malloc(n);"
             " if (!big) return -1; memset(big, 1, n); return 0; }\n"
             "static void fin(void) { for (;;) pause(); }\n"
             "HB_PLUGIN(\"counter\", 1, ini, fin, save, migrate);", mib);
    return e2e_write("counter", "counter.c", e2e_counter_src(1, 1, extra));
}

static hb_sandbox *sandbox(hb_manager *m)
{
    hb_sandbox_options o;
    HB_CHECK_OK(hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION));
    o.swap_timeout_ms = 3000;
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &o, &sb));
    return sb;
}

static void load(hb_sandbox *sb, const char *dir)
{
    int r = hb_load(sb, dir);
    if (r < 0)
        fprintf(stderr, "hb_load: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
}

static bool gone_now(int pfd)
{
    struct pollfd pf = {.fd = pfd, .events = POLLIN};
    return poll(&pf, 1, 0) == 1;
}

static void case_free_waits(void)
{
    char *dir = big_hanging_plugin(256);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m);
    load(sb, dir);
    int pfd = (int)syscall(SYS_pidfd_open, hb_sandbox_worker_pid(sb), 0);
    HB_CHECK(pfd >= 0);
    hb_sandbox_free(sb);
    HB_CHECK(gone_now(pfd));
    close(pfd);
    hb_manager_free(m);
}

static void case_manager_free_waits(void)
{
    char *dir = big_hanging_plugin(256);
    hb_manager *m = e2e_manager(&ev);
    enum { N = 2 };
    int pfd[N];
    for (int i = 0; i < N; i++) {
        hb_sandbox *sb = sandbox(m);
        load(sb, dir);
        pfd[i] = (int)syscall(SYS_pidfd_open, hb_sandbox_worker_pid(sb), 0);
        HB_CHECK(pfd[i] >= 0);
    }
    hb_manager_free(m);
    for (int i = 0; i < N; i++) {
        HB_CHECK(gone_now(pfd[i]));
        close(pfd[i]);
    }
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"free_waits", case_free_waits},
        {"manager_free_waits", case_manager_free_waits},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
