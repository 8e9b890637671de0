/* tests/escape/test_worker_fds.c - a jailed worker of a root manager is
 * started by bwrap directly (no shell in front of it, security/jail.c:
 * cmd_closes_userns) and closes the jail's user-namespace fd (fd 9, which
 * bwrap passes through) before plugin code runs: plugin code finds no
 * namespace fd open. Meaningful where the jail runs as root (CI); without
 * bwrap, or as uid 65534, there is no such fd to pass, and the same holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"
#include "escape_env.h"

static char root[4096];
static hb_manager *mgr;

static void cleanup(void)
{
    hb_escape_cleanup(&mgr, root);
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "run") != 0)
        HB_FAIL_("usage: test_worker_fds run");
    mgr = hb_escape_manager_new(root, sizeof(root), "hb-worker-fds", NULL);
    atexit(cleanup);
    hb_sandbox *sb = hb_escape_sandbox_of(mgr, HB_PROFILE_STANDARD, 0);
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tests/escape/plugins/fd_probe", HB_SOURCE_DIR);
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading %s: %s", dir, hb_sandbox_last_error(sb));
    int32_t open9 = -1, ns = -1;
    HB_CHECK_OK(hb_callf(sb, "fd_probe", "is_open", "i)i", 9, &open9));
    HB_CHECK_OK(hb_callf(sb, "fd_probe", "ns_fds", ")i", &ns));
    printf("fd 9 open: %d, namespace fds: %d\n", open9, ns);
    HB_CHECK_EQ(open9, 0);
    HB_CHECK_EQ(ns, 0);
    hb_sandbox_free(sb);
    printf("PASS worker_fds\n");
    return 0;
}
