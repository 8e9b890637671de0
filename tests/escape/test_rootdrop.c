/* tests/escape/test_rootdrop.c - a root manager's worker without the jail
 * (bwrap unusable; here HOTBOX_BWRAP="") must not be root: under strict
 * and standard it drops to a uid of its sandbox's own (security/jail.h:
 * worker ids), no capability, before any
 * plugin code runs (security/rootdrop.c). Plugin code then cannot read
 * /etc/shadow, write /proc/sys/kernel/core_pattern, chown or chmod a root
 * file, read the manager's store database or signal the manager; and the
 * sandbox still loads, calls, reloads, checkpoints and rolls back (its
 * objects come from the sandbox's view, not the root-only store).
 *
 * Cases: drop (the attempts, strict and standard), flow (load, reload,
 * checkpoint, rollback), permissive (keeps the manager's uid, as
 * documented), cannot_drop (a worker that cannot drop does not serve). Root only: an unprivileged manager's worker is not root. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"
#include "escape_env.h"

/* security/jail.h: HB_WORKER_ID_FIRST, HB_WORKER_ID_COUNT (a root
 * manager's unjailed worker gets a uid of its sandbox's own from there) */
#define WORKER_ID_FIRST 0x7ffc0000u
#define WORKER_ID_COUNT 65536u

static char root[4096];
static hb_manager *mgr;
static char victim[] = "/tmp/hb-rootdrop-victim-XXXXXX"; /* case drop's root file */
static bool victim_made;

static void cleanup(void)
{
    hb_escape_cleanup(&mgr, root);
    if (victim_made)
        unlink(victim);
}

static void run(const char *cmd)
{
    if (system(cmd) != 0)
        HB_FAIL_("%s failed", cmd);
}

static hb_sandbox *sandbox(hb_profile profile)
{
    if (!mgr) {
        mgr = hb_escape_manager_new(root, sizeof(root), "hb-rootdrop", NULL);
        atexit(cleanup);
    }
    return hb_escape_sandbox_of(mgr, profile, 0);
}

/* hb_sandbox_new that is expected to fail (its error must say why);
 * NULL when it did, else the sandbox (its worker may start later). */
static hb_sandbox *sandbox_or_fail(const hb_sandbox_options *so)
{
    hb_sandbox *sb = sandbox(HB_PROFILE_PERMISSIVE); /* the manager */
    hb_sandbox_free(sb);
    sb = NULL;
    int rc = hb_sandbox_new(mgr, so, &sb);
    if (rc == 0)
        return sb;
    printf("hb_sandbox_new: %d: %s\n", rc, hb_manager_last_error(mgr));
    HB_CHECK_CONTAINS(hb_manager_last_error(mgr), "drop root");
    return NULL;
}

static void load_dir(hb_sandbox *sb, const char *dir)
{
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading %s: %s", dir, hb_sandbox_last_error(sb));
}

static void load_probe(hb_sandbox *sb)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tests/escape/plugins/root_drop", HB_SOURCE_DIR);
    load_dir(sb, dir);
}

/* One attempt: it must fail as a non-root uid fails (-EACCES/-EPERM), or
 * be denied by the filter (the worker dies, the probe is loaded again). */
static void attempt(hb_sandbox *sb, const char *what, const char *path, int32_t op)
{
    int32_t ret = 0;
    int rc = hb_callf(sb, "root_drop", "esc", "Zi)i", path, op, &ret);
    printf("  %s: rc %d, ret %d%s%s\n", what, rc, ret, rc ? ": " : "",
           rc ? hb_sandbox_last_error(sb) : "");
    if (rc == HB_ECRASHED) {
        HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "denied by the");
        return;
    }
    HB_CHECK_OK(rc);
    if (ret != -EACCES && ret != -EPERM)
        HB_FAIL_("%s (%s) worked or failed otherwise: %d (%s)", what, path, ret,
                 ret < 0 ? strerror(-ret) : "success");
}

/* The fallback (no jail), and the uid its strict/standard worker must
 * run as: one of the worker id range under a root manager (-1 here); an
 * unprivileged manager's own uid (nothing to drop: the worker is not root
 * either, and must still start). */
static bool as_root;
static int32_t unjailed_uid(void)
{
    setenv("HOTBOX_BWRAP", "", 1);
    as_root = geteuid() == 0;
    if (!as_root)
        printf("(not root: the worker keeps this uid %d, there is nothing to drop)\n",
               (int)getuid());
    return as_root ? -1 : (int32_t)getuid();
}

/* uid is what unjailed_uid() wants. */
static void check_uid(int32_t uid, int32_t want)
{
    if (want >= 0)
        HB_CHECK_EQ(uid, want);
    else if ((uint32_t)uid < WORKER_ID_FIRST || (uint32_t)uid - WORKER_ID_FIRST >= WORKER_ID_COUNT)
        HB_FAIL_("worker uid %u is not in the worker id range %u-%u", (unsigned)uid,
                 WORKER_ID_FIRST, WORKER_ID_FIRST + WORKER_ID_COUNT - 1);
}

static void case_drop(void)
{
    int32_t want = unjailed_uid();
    /* A root file others can reach (in sticky /tmp), mode 0644; not root:
     * one of the system's (never touched by a root run). */
    const char *target = "/etc/passwd";
    if (as_root) {
        int fd = mkstemp(victim);
        HB_CHECK(fd >= 0);
        victim_made = true;
        close(fd);
        HB_CHECK(chmod(victim, 0644) == 0);
        target = victim;
    }
    struct stat before;
    HB_CHECK(stat(target, &before) == 0);
    HB_CHECK_EQ(before.st_uid, 0u);
    char db[4200];
    hb_profile profiles[] = {HB_PROFILE_STANDARD, HB_PROFILE_STRICT};
    for (size_t i = 0; i < 2; i++) {
        printf("%s:\n", i ? "strict" : "standard");
        hb_sandbox *sb = sandbox(profiles[i]);
        snprintf(db, sizeof(db), "%s/.hotbox/hotbox.db", root);
        HB_CHECK(access(db, R_OK) == 0);
        load_probe(sb);
        int32_t uid = -1;
        HB_CHECK_OK(hb_callf(sb, "root_drop", "esc", "Zi)i", "", 4, &uid));
        printf("  worker uid %d\n", uid);
        check_uid(uid, want);
        attempt(sb, "read /etc/shadow", "/etc/shadow", 0);
        attempt(sb, "write core_pattern", "/proc/sys/kernel/core_pattern", 1);
        attempt(sb, "chown a root file", target, 2);
        attempt(sb, "chmod a root file", target, 3);
        if (as_root) /* else the store is the worker's own uid's */
            attempt(sb, "read the store database", db, 0);
        /* SIGKILL to the manager: strict refuses kill() at load, standard's
         * filter denies it (the worker dies); reaching the end proves the
         * manager lives. */
        char kdir[4200];
        snprintf(kdir, sizeof(kdir), "%s/tests/escape/plugins/kill_mgr", HB_SOURCE_DIR);
        int rc = hb_load(sb, kdir);
        if (rc == 0) {
            int32_t ret = 0;
            rc = hb_callf(sb, "kill_mgr", "esc", "i)i", (int32_t)getpid(), &ret);
            printf("  signal the manager: rc %d, ret %d\n", rc, ret);
            HB_CHECK(rc == HB_ECRASHED || (rc == 0 && ret == -EPERM));
        } else {
            printf("  signal the manager: refused at load: %s\n", hb_sandbox_last_error(sb));
            HB_CHECK_EQ(rc, HB_EPOLICY);
        }
        struct stat st;
        HB_CHECK(stat(target, &st) == 0);
        HB_CHECK_EQ(st.st_uid, 0u);
        HB_CHECK_EQ(st.st_mode, before.st_mode);
        /* still serving, as the same uid (after a denial: a new worker,
         * whose first call says the state since the checkpoint is gone) */
        uid = -1;
        rc = hb_callf(sb, "root_drop", "esc", "Zi)i", "", 4, &uid);
        if (rc == HB_ESTATELOST)
            rc = hb_callf(sb, "root_drop", "esc", "Zi)i", "", 4, &uid);
        HB_CHECK_OK(rc);
        check_uid(uid, want);
        hb_sandbox_free(sb);
    }
}

/* load, call, checkpoint, reload (a new build), rollback: state carried
 * throughout, objects reached through the view. */
static void case_flow(void)
{
    int32_t want = unjailed_uid();
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    char dir[4200], src[4300];
    snprintf(dir, sizeof(dir), "%s/counter", root);
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "cp -r '%s/examples/plugins/counter' '%s'", HB_SOURCE_DIR, dir);
    run(cmd);
    load_dir(sb, dir);
    int64_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 2);
    HB_CHECK_OK(hb_checkpoint(sb, "counter"));
    uint64_t v1 = 0, v2 = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &v1));
    snprintf(src, sizeof(src), "%s/counter.c", dir);
    snprintf(cmd, sizeof(cmd), "sed -i 's/count += 1;/count += 10;/' '%s'", src);
    run(cmd);
    if (hb_reload(sb, "counter") != 0)
        HB_FAIL_("reload: %s", hb_sandbox_last_error(sb));
    HB_CHECK_OK(hb_active_version(sb, "counter", &v2));
    HB_CHECK(v2 != v1);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 12);
    if (hb_rollback(sb, "counter", v1) != 0)
        HB_FAIL_("rollback: %s", hb_sandbox_last_error(sb));
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 13);
    printf("load, checkpoint, reload, rollback without the jail: count %lld\n", (long long)v);
    load_probe(sb); /* and all of it as the uid the worker must have */
    int32_t uid = -1;
    HB_CHECK_OK(hb_callf(sb, "root_drop", "esc", "Zi)i", "", 4, &uid));
    check_uid(uid, want);
    hb_sandbox_free(sb);
}

/* The uid plugin code runs as in a fresh sandbox of profile. */
static int32_t worker_uid(hb_profile profile)
{
    hb_sandbox *sb = sandbox(profile);
    load_probe(sb);
    int32_t uid = -1;
    HB_CHECK_OK(hb_callf(sb, "root_drop", "esc", "Zi)i", "", 4, &uid));
    hb_sandbox_free(sb);
    return uid;
}

/* permissive promises nothing: its worker keeps the manager's uid. */
static void case_permissive(void)
{
    unjailed_uid();
    HB_CHECK_EQ(worker_uid(HB_PROFILE_PERMISSIVE), (int32_t)getuid());
}

/* Fail closed: a worker that cannot drop root does not serve. Run here
 * without CAP_SETPCAP in the bounding set (re-executed under setpriv), so
 * the worker's first step fails: the sandbox does not start, and its error
 * says why. */
static void case_cannot_drop(const char *self)
{
    unjailed_uid();
    if (!as_root) { /* nothing to drop: the worker starts and serves */
        HB_CHECK_EQ(worker_uid(HB_PROFILE_STANDARD), (int32_t)getuid());
        return;
    }
    if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) == 1) {
        execlp("setpriv", "setpriv", "--bounding-set", "-setpcap", self, "cannot_drop",
               (char *)NULL);
        printf("SKIP: cannot run setpriv (util-linux): %s\n", strerror(errno));
        exit(77);
    }
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = HB_PROFILE_STANDARD;
    hb_sandbox *sb = sandbox_or_fail(&so);
    if (sb) {
        /* a lazily started worker: the first load must fail */
        char dir[4200];
        snprintf(dir, sizeof(dir), "%s/tests/escape/plugins/root_drop", HB_SOURCE_DIR);
        int rc = hb_load(sb, dir);
        printf("load: %d: %s\n", rc, hb_sandbox_last_error(sb));
        HB_CHECK(rc != 0);
        HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "drop root");
        hb_sandbox_free(sb);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2)
        HB_FAIL_("usage: test_rootdrop CASE");
    const char *c = argv[1];
    if (!strcmp(c, "drop"))
        case_drop();
    else if (!strcmp(c, "flow"))
        case_flow();
    else if (!strcmp(c, "permissive"))
        case_permissive();
    else if (!strcmp(c, "cannot_drop"))
        case_cannot_drop(argv[0]);
    else
        HB_FAIL_("unknown case %s", c);
    printf("PASS rootdrop %s\n", c);
    return 0;
}
