/* The command line that starts a worker: bwrap with namespaces for strict
 * and standard when the machine allows, the bare worker (with a warning)
 * otherwise, and for permissive always (with a warning). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "security.h"

static bool has_arg(char **v, const char *a)
{
    for (size_t i = 0; v[i]; i++)
        if (strcmp(v[i], a) == 0)
            return true;
    return false;
}

/* "--flag X Y" appears in order */
static bool has_triple(char **v, const char *a, const char *b, const char *c)
{
    for (size_t i = 0; v[i] && v[i + 1] && v[i + 2]; i++)
        if (!strcmp(v[i], a) && !strcmp(v[i + 1], b) && !strcmp(v[i + 2], c))
            return true;
    return false;
}

static int fallback_child(void)
{
    setenv("HOTBOX_BWRAP", "", 1);
    hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = HB_PROFILE_STANDARD,
                       .channel_fd = 3};
    char **argv = NULL, *warn = NULL, *err = NULL;
    bool wrapped = true;
    if (hb_sec_wrap_argv(&sp, &argv, &wrapped, &warn, &err) != 0)
        return 1;
    if (wrapped || strcmp(argv[0], "/opt/w/hotbox-worker") != 0 || !warn)
        return 2;
    if (!strstr(warn, "namespaces unavailable: disabled by HOTBOX_BWRAP") ||
        !strstr(warn, "without a private filesystem view") || !strstr(warn, "standard"))
        return 3;
    if (!hb_sec_namespaces_unavailable())
        return 4;
    hb__strv_free(argv);
    free(warn);
    return 0;
}

int main(void)
{
    /* Fallback first, in a child, before this process probes. */
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0)
        _exit(fallback_child());
    int st;
    HB_CHECK(waitpid(p, &st, 0) == p);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0);

    char **argv = NULL, *warn = NULL, *err = NULL;
    bool wrapped = false;
    hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = HB_PROFILE_PERMISSIVE,
                       .channel_fd = 3, .objects_dir = "/srv/objects"};
    HB_CHECK_OK(hb_sec_wrap_argv(&sp, &argv, &wrapped, &warn, &err));
    HB_CHECK(!wrapped);
    HB_CHECK_STR(argv[0], "/opt/w/hotbox-worker");
    HB_CHECK_STR(argv[1], "--fd");
    HB_CHECK_STR(argv[2], "3");
    HB_CHECK_STR(argv[3], "--profile");
    HB_CHECK_STR(argv[4], "permissive");
    HB_CHECK(argv[5] == NULL);
    HB_CHECK_CONTAINS(warn, "permissive profile contains nothing");
    hb__strv_free(argv);
    free(warn);
    warn = NULL;

    const char *why = hb_sec_namespaces_unavailable();
    sp.profile = HB_PROFILE_DEFAULT;
    sp.scratch_dir = "/var/scratch/sb1";
    HB_CHECK_OK(hb_sec_wrap_argv(&sp, &argv, &wrapped, &warn, &err));
    if (why) {
        HB_CHECK(!wrapped);
        HB_CHECK_CONTAINS(warn, why);
        printf("SKIP: bubblewrap unavailable (%s); only the fallback was checked\n", why);
        hb__strv_free(argv);
        free(warn);
        return 77;
    }
    HB_CHECK(wrapped);
    HB_CHECK(warn == NULL);
    HB_CHECK_CONTAINS(argv[0], "bwrap");
    for (const char *const *f = (const char *const[]){"--unshare-user", "--unshare-pid",
                                                       "--unshare-net", "--unshare-ipc",
                                                       "--unshare-uts", "--die-with-parent",
                                                       "--clearenv", "--new-session", NULL};
         *f; f++)
        if (!has_arg(argv, *f))
            HB_FAIL_("missing %s", *f);
    HB_CHECK(has_triple(argv, "--ro-bind", "/srv/objects", "/srv/objects"));
    HB_CHECK(has_triple(argv, "--bind", "/var/scratch/sb1", "/var/scratch/sb1"));
    HB_CHECK(has_triple(argv, "--ro-bind", "/opt/w/hotbox-worker", "/opt/w/hotbox-worker"));
    HB_CHECK(has_triple(argv, "--setenv", "HOME", "/var/scratch/sb1"));
    HB_CHECK(has_triple(argv, "--", "/opt/w/hotbox-worker", "--fd"));
    HB_CHECK(has_triple(argv, "--fd", "3", "--profile"));
    HB_CHECK(!has_arg(argv, "/home"));
    HB_CHECK(!has_arg(argv, "/etc"));
    size_t n = hb__strv_len(argv);
    HB_CHECK_STR(argv[n - 1], "standard");
    hb__strv_free(argv);

    HB_CHECK_EQ(hb_sec_wrap_argv(NULL, &argv, &wrapped, &warn, &err), -EINVAL);
    sp.profile = (hb_profile)77;
    HB_CHECK_EQ(hb_sec_wrap_argv(&sp, &argv, &wrapped, &warn, &err), -EINVAL);
    free(err);
    puts("PASS test_wrap");
    return 0;
}
