/* tests/harness/test_watch_helper.c - what the manager holds per sandbox
 * now that one watch helper process per manager holds every worker's
 * seccomp listener and the pidfd that kills it (harness/denial_watch.h):
 *  - fds_per_sandbox: at most 2 fds per idle sandbox under the standard
 *    profile (the channel socket and one pidfd), plus the helper's one
 *    socket for all of them (before: 4 per sandbox: socket, bwrap's and
 *    the worker's pidfds, the listener); and all of it gone, helper
 *    included, once the sandboxes are freed;
 *  - helper_killed: a watch helper that dies leaves no worker unwatched:
 *    the next call restarts it under a new helper (same 2 fds) and the old
 *    worker ends. */
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>

#include "e2e.h"

static e2e_events ev;

static const char plugin[] =
    "#include <hotbox/plugin.h>\n"
    "int add(int a, int b) { return a + b; }\n"
    "HB_PLUGIN(\"wh\", 1, 0, 0, 0, 0);\n";

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    HB_CHECK(d != NULL);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

#define N 4

static void case_fds_per_sandbox(void)
{
    char *dir = e2e_write("wh", "wh.c", plugin);
    int base = count_fds();
    hb_manager *m = e2e_manager_pool(&ev, 0); /* the sandboxes' fds alone (pooled workers: test_pool) */
    int before = count_fds();
    hb_sandbox *sb[N];
    for (int i = 0; i < N; i++) {
        hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
        so.profile = HB_PROFILE_STANDARD;
        HB_CHECK_OK(hb_sandbox_new(m, &so, &sb[i]));
        HB_CHECK_OK(hb_load(sb[i], dir));
        int32_t r = 0;
        HB_CHECK_OK(hb_callf(sb[i], "wh", "add", "ii)i", i, 1, &r));
        HB_CHECK_EQ(r, i + 1);
    }
    int during = count_fds();
    printf("%d fds for %d sandboxes (%d before)\n", during - before, N, before);
    HB_CHECK_INT(during - before, <=, 2 * N + 1);
    for (int i = 0; i < N; i++)
        hb_sandbox_free(sb[i]);
    HB_CHECK_EQ(count_fds(), before + 1); /* the helper's socket, kept while the manager lives */
    hb_manager_free(m);
    HB_CHECK_EQ(count_fds(), base);
}

static void case_helper_killed(void)
{
    char *dir = e2e_write("wh", "wh.c", plugin);
    hb_manager *m = e2e_manager_pool(&ev, 0); /* the sandboxes' fds alone (pooled workers: test_pool) */
    int before = count_fds();
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = HB_PROFILE_STANDARD;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    int32_t r = 0;
    HB_CHECK_OK(hb_callf(sb, "wh", "add", "ii)i", 1, 2, &r));
    int helper = e2e_watch_helper_pid();
    if (helper < 0)
        HB_SKIP("no watch helper (no seccomp listener under the standard profile here)");
    int worker = hb_sandbox_worker_pid(sb);
    int wfd = (int)syscall(SYS_pidfd_open, worker, 0);
    HB_CHECK(wfd >= 0);
    HB_CHECK_EQ(kill(helper, SIGKILL), 0);
    /* The next call finds the worker unwatched (its wrapper killed) and
     * serves from a new worker under a new helper; the old worker ends
     * with its channel. */
    int c, calls = 0;
    do {
        c = hb_callf(sb, "wh", "add", "ii)i", 2, 3, &r);
        HB_CHECK(c == 0 || c == HB_ESTATELOST || c == HB_ECRASHED);
        HB_CHECK_INT(++calls, <, 2000); /* not seen within ~10 s */
        if (hb_sandbox_worker_pid(sb) == worker)
            (void)poll(NULL, 0, 5);
    } while (hb_sandbox_worker_pid(sb) == worker);
    printf("%d calls until the restart; the last -> %d: %s\n", calls, c,
           c ? hb_sandbox_last_error(sb) : "");
    struct pollfd p = {.fd = wfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1);
    close(wfd);
    HB_CHECK_OK(hb_callf(sb, "wh", "add", "ii)i", 3, 4, &r));
    HB_CHECK_EQ(r, 7);
    HB_CHECK(hb_sandbox_worker_pid(sb) != worker);
    int again = e2e_watch_helper_pid();
    HB_CHECK(again > 0 && again != helper);
    /* 2 for the worker, 2 for the spare its restart armed (harness/spare.c,
     * started off the caller's path: maybe not yet), 1 for the helper. */
    for (int i = 0; count_fds() - before > 5; i++) { /* a spare being started holds more */
        HB_CHECK_INT(i, <, 2000);                     /* not settled within ~10 s */
        (void)poll(NULL, 0, 5);
    }
    hb_sandbox_free(sb);
    HB_CHECK_EQ(count_fds(), before + 1); /* the new helper's socket, kept while the manager lives */
    hb_manager_free(m);
}

/* The helper lives as long as a manager, not a sandbox: a program that
 * creates and frees one sandbox at a time keeps one helper (starting one
 * per sandbox cost ~2 ms of every hb_sandbox_new), and the last
 * hb_manager_free ends it. */
static void case_outlives_sandboxes(void)
{
    char *dir = e2e_write("wh", "wh.c", plugin);
    hb_manager *m = e2e_manager_pool(&ev, 0);
    int first = -1;
    for (int i = 0; i < 3; i++) {
        hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
        so.profile = HB_PROFILE_STANDARD;
        hb_sandbox *sb = e2e_loaded(m, &so, dir);
        int32_t r = 0;
        HB_CHECK_OK(hb_callf(sb, "wh", "add", "ii)i", i, 1, &r));
        HB_CHECK_EQ(r, i + 1);
        int h = e2e_watch_helper_pid();
        if (h < 0)
            HB_SKIP("no watch helper (no seccomp listener under the standard profile here)");
        if (first < 0)
            first = h;
        HB_CHECK_EQ(h, first); /* the same helper for every sandbox */
        hb_sandbox_free(sb);
        HB_CHECK_EQ(e2e_watch_helper_pid(), first); /* kept between sandboxes */
    }
    int hfd = (int)syscall(SYS_pidfd_open, first, 0);
    HB_CHECK(hfd >= 0);
    hb_manager_free(m);
    struct pollfd p = {.fd = hfd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1); /* ended with the last manager */
    close(hfd);
    HB_CHECK_EQ(e2e_watch_helper_pid(), -1);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"fds_per_sandbox", case_fds_per_sandbox},
        {"helper_killed", case_helper_killed},
        {"outlives_sandboxes", case_outlives_sandboxes},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
