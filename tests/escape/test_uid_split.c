/* tests/escape/test_uid_split.c - two sandboxes of one root manager whose
 * workers run without the jail (HOTBOX_BWRAP="") must not reach each
 * other: each runs as a uid/gid of its sandbox's own (security/jail.h:
 * worker ids), so plugin code in A cannot open a 0600 file B's plugin
 * wrote to /tmp, cannot open B's objects view, cannot signal B or open
 * B's /proc files, and cannot connect to an abstract socket (the filter
 * denies the socket). Each worker starts in /, not in the manager's
 * working directory.
 *
 * Cases: files (uids, the /tmp file, the views, the working directory),
 * reach (signal, /proc, abstract socket). Root only: an unprivileged
 * manager's workers keep its uid (nothing to split; SKIP). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"
#include "escape_env.h"

static char root[4096];
static hb_manager *mgr;
static char secret[] = "/tmp/hb-uid-split-XXXXXX"; /* B's 0600 file (a name, made by B) */

static void cleanup(void)
{
    unlink(secret);
    hb_escape_cleanup(&mgr, root);
}

static hb_sandbox *sandbox(void)
{
    if (!mgr) {
        mgr = hb_escape_manager_new(root, sizeof(root), "hb-uid-split", NULL);
        atexit(cleanup);
    }
    hb_sandbox *sb = hb_escape_sandbox_of(mgr, HB_PROFILE_STANDARD, 0);
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tests/escape/plugins/cross_sb", HB_SOURCE_DIR);
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading %s: %s", dir, hb_sandbox_last_error(sb));
    return sb;
}

/* xsb(path, op, pid) in sb; a call that found its worker replaced after a
 * denial (HB_ESTATELOST) is made again. */
static int call(hb_sandbox *sb, const char *path, int32_t op, int32_t pid, int32_t *ret)
{
    int rc = hb_callf(sb, "cross_sb", "xsb", "Zii)i", path, op, pid, ret);
    if (rc == HB_ESTATELOST)
        rc = hb_callf(sb, "cross_sb", "xsb", "Zii)i", path, op, pid, ret);
    return rc;
}

static int32_t value(hb_sandbox *sb, int32_t op)
{
    int32_t v = -1;
    int rc = call(sb, "", op, 0, &v);
    if (rc != 0)
        HB_FAIL_("xsb op %d: %d: %s", op, rc, hb_sandbox_last_error(sb));
    return v;
}

/* An attempt of A on B: it must fail as another uid fails (-EACCES,
 * -EPERM), or be denied by the filter (the worker dies, a new one serves). */
static void attempt(hb_sandbox *a, const char *what, const char *path, int32_t op, int32_t pid)
{
    int32_t ret = 0;
    int rc = call(a, path, op, pid, &ret);
    printf("  %s: rc %d, ret %d%s%s\n", what, rc, ret, rc ? ": " : "",
           rc ? hb_sandbox_last_error(a) : "");
    if (rc == HB_ECRASHED) {
        HB_CHECK_CONTAINS(hb_sandbox_last_error(a), "denied by the");
        return;
    }
    HB_CHECK_OK(rc);
    if (ret != -EACCES && ret != -EPERM)
        HB_FAIL_("%s (%s) worked or failed otherwise: %d (%s)", what, path, ret,
                 ret < 0 ? strerror(-ret) : "success");
}

static void need_root(void)
{
    if (geteuid() != 0) {
        printf("SKIP: not root: an unprivileged manager's workers keep its uid\n");
        exit(77);
    }
    setenv("HOTBOX_BWRAP", "", 1);
}

/* The objects views this process's manager made (security/jail.c: named
 * hb-view-<pid>-*, under $TMPDIR or /tmp here: the test's state directory
 * is 0700), other than the one of group gid: A tries to open an object in
 * each. Returns how many it tried. */
static int other_views(hb_sandbox *a, unsigned gid, unsigned b_gid)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "hb-view-%ld-", (long)getpid());
    DIR *d = opendir(tmp);
    HB_CHECK(d != NULL);
    int tried = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char view[4400];
        snprintf(view, sizeof(view), "%s/%s", tmp, e->d_name);
        struct stat st;
        HB_CHECK(stat(view, &st) == 0);
        printf("  view %s: group %u, mode %o\n", view, (unsigned)st.st_gid,
               (unsigned)(st.st_mode & 07777));
        HB_CHECK_EQ(st.st_uid, 0u);
        HB_CHECK_EQ(st.st_mode & 07777, 0710u);
        if (st.st_gid == gid)
            continue;
        if (st.st_gid != b_gid)
            continue; /* a pooled worker's spare view */
        DIR *v = opendir(view);
        HB_CHECK(v != NULL);
        struct dirent *o;
        while ((o = readdir(v))) {
            if (o->d_name[0] == '.')
                continue;
            char obj[4700];
            snprintf(obj, sizeof(obj), "%s/%s", view, o->d_name);
            attempt(a, "open an object in B's view", obj, 1, 0);
            tried++;
        }
        closedir(v);
    }
    closedir(d);
    return tried;
}

static void case_files(void)
{
    need_root();
    hb_sandbox *a = sandbox(), *b = sandbox();
    int32_t ua = value(a, 7), ub = value(b, 7);
    printf("worker uids: A %u, B %u\n", (unsigned)ua, (unsigned)ub);
    HB_CHECK(ua != 0 && ub != 0);
    if (ua == ub)
        HB_FAIL_("the workers of two sandboxes share uid %u", (unsigned)ua);
    /* B's secret, 0600 as B's uid: A cannot open it */
    int fd = mkstemp(secret);
    HB_CHECK(fd >= 0);
    close(fd);
    HB_CHECK(unlink(secret) == 0);
    int32_t ret = -1;
    HB_CHECK_OK(call(b, secret, 0, 0, &ret));
    HB_CHECK_EQ(ret, 0);
    struct stat st;
    HB_CHECK(stat(secret, &st) == 0);
    HB_CHECK_EQ(st.st_uid, (unsigned)ub);
    HB_CHECK_OK(call(b, secret, 1, 0, &ret));
    HB_CHECK_EQ(ret, 0); /* B itself can */
    attempt(a, "read B's 0600 file in /tmp", secret, 1, 0);
    /* B's objects view: group B's, A cannot reach in */
    int tried = other_views(a, (unsigned)ua, (unsigned)ub);
    HB_CHECK(tried > 0);
    /* both start in / */
    HB_CHECK_EQ(value(a, 8), 1);
    HB_CHECK_EQ(value(b, 8), 1);
    /* a restart keeps the sandbox's uid (its view's) */
    HB_CHECK_OK(hb_sandbox_restart(b));
    HB_CHECK_EQ(value(b, 7), ub);
    hb_sandbox_free(a);
    hb_sandbox_free(b);
}

static void case_reach(void)
{
    need_root();
    hb_sandbox *a = sandbox(), *b = sandbox();
    int32_t pb = value(b, 6);
    printf("B's worker: pid %d\n", pb);
    HB_CHECK(pb > 1 && pb != value(a, 6));
    attempt(a, "open /proc/B/environ", "", 3, pb);
    attempt(a, "open /proc/B/maps", "", 4, pb);
    attempt(a, "open /proc/B/fd", "", 5, pb);
    attempt(a, "kill(B, 0)", "", 2, pb);
    char name[64];
    snprintf(name, sizeof(name), "hb-uid-split-%d", pb);
    int32_t ret = 0;
    int rc = call(a, name, 9, 0, &ret);
    printf("  connect to an abstract socket: rc %d, ret %d%s%s\n", rc, ret, rc ? ": " : "",
           rc ? hb_sandbox_last_error(a) : "");
    if (rc == HB_ECRASHED)
        HB_CHECK_CONTAINS(hb_sandbox_last_error(a), "denied by the");
    else /* nobody listens: refused, never connected */
        HB_CHECK(rc == 0 && ret < 0);
    /* B still serves, untouched */
    HB_CHECK_EQ(value(b, 6), pb);
    hb_sandbox_free(a);
    hb_sandbox_free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        HB_FAIL_("usage: test_uid_split CASE");
    const char *c = argv[1];
    if (!strcmp(c, "files"))
        case_files();
    else if (!strcmp(c, "reach"))
        case_reach();
    else
        HB_FAIL_("unknown case %s", c);
    printf("PASS uid_split %s\n", c);
    return 0;
}
