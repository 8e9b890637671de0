/* security/rootdrop.c - a worker started by a root manager without the
 * jail gives up root before any plugin code runs (hb_sec_drop_root).
 *
 * Why: unjailed (bwrap unusable: no user namespaces, no CAP_SYS_ADMIN, or
 * HOTBOX_BWRAP="") the worker used to keep uid 0 with every capability.
 * Seccomp and Landlock limit system calls, but root may still open
 * /etc/shadow, write /proc/sys/kernel/core_pattern, chown any file or
 * signal the manager: root with all capabilities is host root.
 *
 * What: the uid/gid the harness leased for the worker's sandbox (jail.h:
 * worker ids, a uid nothing else runs as), no supplementary groups, no capability in any
 * set (bounding, ambient, inheritable, permitted, effective), securebits
 * that keep a later uid 0 from regaining any (NOROOT, locked), no new
 * privileges (set-uid files do not elevate), not dumpable (its /proc files
 * belong to root: another process of the same uid cannot open its memory).
 * Per thread for capabilities: call it before starting a thread. Each step
 * is checked afterwards; the first one that fails is named. */
#include "security.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fail(char *why, size_t len, const char *step, int e)
{
    snprintf(why, len, "%s: %s", step, strerror(e));
    return -e;
}

/* The highest capability this kernel knows: bounding-set drops go up to
 * it (PR_CAPBSET_READ says EINVAL past the last). */
static int last_cap(void)
{
    int c = 0;
    while (c < 128 && prctl(PR_CAPBSET_READ, (unsigned long)(c + 1), 0, 0, 0) >= 0)
        c++;
    return c;
}

int hb_sec_drop_root(uid_t uid, gid_t gid, char *why, size_t len)
{
    if (uid == 0 || gid == 0)
        return fail(why, len, "dropping root to uid 0", EINVAL);
    /* Needs CAP_SETPCAP: before the uid change. */
    unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                         SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                         SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
        return fail(why, len, "prctl(PR_SET_SECUREBITS)", errno);
    int last = last_cap();
    for (int c = 0; c <= last; c++)
        if (prctl(PR_CAPBSET_DROP, (unsigned long)c, 0, 0, 0) < 0)
            return fail(why, len, "prctl(PR_CAPBSET_DROP)", errno);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return fail(why, len, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)", errno);
    if (setgroups(0, NULL) < 0)
        return fail(why, len, "setgroups(0)", errno);
    if (setresgid(gid, gid, gid) < 0)
        return fail(why, len, "setresgid", errno);
    if (setresuid(uid, uid, uid) < 0)
        return fail(why, len, "setresuid", errno);
    /* setresuid cleared the permitted and effective sets; inheritable
     * stays until cleared. */
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capset, &h, d) < 0)
        return fail(why, len, "capset (clearing every set)", errno);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail(why, len, "prctl(PR_SET_NO_NEW_PRIVS)", errno);
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return fail(why, len, "prctl(PR_SET_DUMPABLE)", errno);
    /* Verify: nothing above may have silently kept a way back. */
    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) < 0 || r != uid || e != uid || s != uid ||
        getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid ||
        getgroups(0, NULL) != 0)
        return fail(why, len, "the uid, gid or groups did not change", EPERM);
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capget, &h, d) < 0)
        return fail(why, len, "capget", errno);
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
        if (d[i].effective || d[i].permitted || d[i].inheritable)
            return fail(why, len, "a capability is left after the drop", EPERM);
    for (int c = 0; c <= last; c++)
        if (prctl(PR_CAPBSET_READ, (unsigned long)c, 0, 0, 0) != 0)
            return fail(why, len, "a capability is left in the bounding set", EPERM);
    if (setresuid(0, 0, 0) == 0)
        return fail(why, len, "uid 0 could be taken back", EPERM);
    return 0;
}
