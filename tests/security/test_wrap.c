/* The command line that starts a worker: bwrap with namespaces for strict
 * and standard when the machine allows, the bare worker (with a warning)
 * otherwise, and for permissive always (with a warning). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "jail.h"
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
    /* the sandbox's object view: a root manager's unjailed worker takes
     * its uid from it (jail.h: worker ids) */
    char *view = NULL, *err = NULL;
    if (hb_jail_view_new(NULL, &view, &err) != 0)
        return 6;
    hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = HB_PROFILE_STANDARD,
                       .channel_fd = 3, .objects_src = view};
    hb_sec_cmd c = {0};
    if (hb_sec_wrap(&sp, &c, &err) != 0)
        return 1;
    if (c.wrapped || c.drop_root || strcmp(c.argv[0], "/opt/w/hotbox-worker") != 0 || !c.warning)
        return 2;
    if (!strstr(c.warning, "namespaces unavailable: disabled by HOTBOX_BWRAP") ||
        !strstr(c.warning, "without a private filesystem view") || !strstr(c.warning, "standard"))
        return 3;
    if (!hb_jail_unavailable())
        return 4;
    /* Unwrapped, the worker still gets the minimal environment. */
    if (!has_arg(c.envp, "PATH=/usr/bin:/bin") || has_arg(c.envp, "HB_TEST_SECRET=s3cret"))
        return 5;
    hb_sec_cmd_release(&c);
    hb_jail_view_free(view);
    return 0;
}

int main(void)
{
    /* A secret in the manager's environment must reach neither the worker
     * nor bwrap. */
    setenv("HB_TEST_SECRET", "s3cret", 1);
    /* Fallback first, in a child, before this process probes. */
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0)
        _exit(fallback_child());
    int st;
    HB_CHECK(waitpid(p, &st, 0) == p);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0);

    char *err = NULL;
    hb_sec_cmd c = {0};
    hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = HB_PROFILE_PERMISSIVE,
                       .channel_fd = 3, .objects_dir = "/srv/objects"};
    HB_CHECK_OK(hb_sec_wrap(&sp, &c, &err));
    HB_CHECK(!c.wrapped);
    HB_CHECK_STR(c.argv[0], "/opt/w/hotbox-worker");
    HB_CHECK_STR(c.argv[1], "--fd");
    HB_CHECK_STR(c.argv[2], "3");
    HB_CHECK_STR(c.argv[3], "--profile");
    HB_CHECK_STR(c.argv[4], "permissive");
    HB_CHECK(c.argv[5] == NULL);
    HB_CHECK_CONTAINS(c.warning, "permissive profile contains nothing");
    hb_sec_cmd_release(&c);

    const char *why = hb_jail_unavailable();
    sp.profile = HB_PROFILE_DEFAULT;
    sp.scratch_dir = "/var/scratch/sb1";
    sp.objects_src = "/run/view-1";
    sp.info_fd = 4;
    HB_CHECK_OK(hb_sec_wrap(&sp, &c, &err));
    if (why) {
        HB_CHECK(!c.wrapped);
        HB_CHECK_CONTAINS(c.warning, why);
        printf("SKIP: bubblewrap unavailable (%s); only the fallback was checked\n", why);
        hb_sec_cmd_release(&c);
        return 77;
    }
    char **argv = c.argv;
    HB_CHECK(c.wrapped);
    HB_CHECK_EQ(c.drop_root, geteuid() == 0);
    HB_CHECK(c.warning == NULL);
    HB_CHECK_CONTAINS(argv[0], "bwrap");
    /* A root manager's jail joins a root-owned user namespace (jail.h);
     * otherwise bwrap makes one. */
    if (geteuid() == 0) {
        /* The spawner puts the namespace at HB_JAIL_USERNS_FD; the worker,
         * started directly (no shell), closes it first thing
         * (escape_worker_fds checks it has). */
        HB_CHECK(c.userns_fd >= 0);
        HB_CHECK(has_triple(argv, "--userns", HB_JAIL_USERNS_FD_STR, "--unshare-pid"));
        HB_CHECK(!has_arg(argv, "--unshare-user"));
        HB_CHECK(!has_arg(argv, "/bin/sh"));
        HB_CHECK(has_triple(argv, "--", sp.worker_path, "--fd"));
    } else {
        HB_CHECK(has_arg(argv, "--unshare-user"));
    }
    for (const char *const *f = (const char *const[]){"--unshare-pid",
                                                       "--unshare-net", "--unshare-ipc",
                                                       "--unshare-uts", "--die-with-parent",
                                                       "--new-session", "--as-pid-1", NULL};
         *f; f++)
        if (!has_arg(argv, *f))
            HB_FAIL_("missing %s", *f);
    HB_CHECK(has_triple(argv, "--cap-drop", "ALL", "--uid"));
    HB_CHECK(has_triple(argv, "--uid", "65534", "--gid"));
    HB_CHECK(has_triple(argv, "--remount-ro", "/proc", "--remount-ro"));
    HB_CHECK(has_triple(argv, "--info-fd", "4", "--ro-bind"));
    /* The sandbox's view is shown at the store's path, never the store. */
    HB_CHECK(has_triple(argv, "--ro-bind", "/run/view-1", "/srv/objects"));
    HB_CHECK(!has_triple(argv, "--ro-bind", "/srv/objects", "/srv/objects"));
    HB_CHECK(has_triple(argv, "--bind", "/var/scratch/sb1", "/var/scratch/sb1"));
    HB_CHECK(has_triple(argv, "--ro-bind", "/opt/w/hotbox-worker", "/opt/w/hotbox-worker"));
    HB_CHECK(has_triple(argv, "--", "/opt/w/hotbox-worker", "--fd")); /* no shell between */
    HB_CHECK(has_triple(argv, "--fd", "3", "--profile"));
    HB_CHECK(!has_arg(argv, "/home"));
    HB_CHECK(!has_arg(argv, "/etc"));
    HB_CHECK(!has_arg(argv, "HB_TEST_SECRET"));
    size_t n = hb__strv_len(argv);
    HB_CHECK_STR(argv[n - 1], "standard");
    /* bwrap's own environment: what /proc/1/environ would show. */
    HB_CHECK(has_arg(c.envp, "PATH=/usr/bin:/bin"));
    HB_CHECK(has_arg(c.envp, "HOME=/var/scratch/sb1"));
    HB_CHECK(!has_arg(c.envp, "HB_TEST_SECRET=s3cret"));
    hb_sec_cmd_release(&c);

    HB_CHECK_EQ(hb_sec_wrap(NULL, &c, &err), -EINVAL);
    sp.profile = (hb_profile)77;
    HB_CHECK_EQ(hb_sec_wrap(&sp, &c, &err), -EINVAL);
    free(err);
    puts("PASS test_wrap");
    return 0;
}
