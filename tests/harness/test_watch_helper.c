/* tests/harness/test_watch_helper.c - what the manager holds per sandbox
 * now that one watch helper process per manager holds every worker's
 * seccomp listener and the pidfd that kills it (harness/denial_watch.h):
 *  - fds_per_sandbox: at most 2 fds per idle sandbox under the standard
 *    profile (the channel socket and one pidfd), plus the helper's one
 *    socket for all of them (before: 4 per sandbox: socket, bwrap's and
 *    the worker's pidfds, the listener); and all of it gone, helper
 *    included, once the sandboxes are freed. */
#include <dirent.h>

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
    hb_manager *m = e2e_manager(&ev);
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
    HB_CHECK_EQ(count_fds(), before);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"fds_per_sandbox", case_fds_per_sandbox},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
