/*
 * security/jail.h - the one place that builds a bubblewrap (bwrap) command
 * line. Both the worker (security/wrap.c) and the namespace compile backend
 * (compiler/namespace.c) go through it, so the two can never disagree on
 * what "inside the jail" means.
 *
 * What every jail gets (docs/threat-model.md says why):
 *  - new user, pid, network, ipc, uts (and, where possible, cgroup)
 *    namespaces; --die-with-parent and a new session;
 *  - every capability dropped (--cap-drop ALL: CapEff, CapPrm and CapBnd
 *    are 0 inside) and uid/gid HB_JAIL_UID/HB_JAIL_GID (65534) inside;
 *  - /usr, the /bin /lib* links or directories, the loader cache and
 *    /etc/localtime read-only; a fresh /proc of its own pid namespace,
 *    remounted read-only (no /proc/sys, /proc/sysrq-trigger, /proc/self/mem
 *    writes); a minimal /dev, read-only but for its device nodes and a
 *    /dev/shm of HB_JAIL_SHM_BYTES; a private tmpfs /tmp of
 *    HB_JAIL_TMP_BYTES; the caller's binds; the root itself read-only;
 *  - the environment the caller passes to execve() of bwrap (build it with
 *    hb_jail_env(): bwrap's own environment is what a process inside sees
 *    in /proc/<bwrap's child>/environ, so it must hold nothing secret).
 *
 * Host uid: when the manager runs as root, a jail that drops root gets a
 * user namespace the manager made (hb_jail_userns_new()): owned by host
 * root, its only mapping is uid/gid 65534 inside to HB_JAIL_HOST_UID/GID
 * outside, a uid nothing else on the machine runs as. bwrap joins it
 * (--userns) instead of making its own. Neither half may be weakened:
 *  - a user namespace made by bwrap running as host uid 65534 is owned by
 *    65534, and every process of that uid on the host (nobody: daemons, an
 *    unprivileged CI stage) holds every capability in it, so it could
 *    ptrace the worker, write its memory, enter its namespaces;
 *  - a host uid shared with anything (65534 is nobody) lets that thing
 *    ptrace a dumpable process of the jail (the compiler) by plain uid
 *    match (escape_nobody_attach, escape_compile_shared_uid).
 * An unprivileged manager's jail maps to its own uid and bwrap makes the
 * user namespace (--unshare-user): it is owned by the manager's uid.
 */
#ifndef HB_SECURITY_JAIL_H
#define HB_SECURITY_JAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HB_JAIL_UID 65534
#define HB_JAIL_GID 65534

/* The host uid/gid of a root manager's jails: not 0, not 65534 (nobody,
 * shared with daemons), below 2^31 (tools that keep uids in an int), and
 * outside the ranges distributions hand out (system and login users below
 * 60000, systemd's dynamic users 61184-65519, container ranges from
 * 524288, systemd's foreign range 0x7ffe0000-0x7ffeffff). */
#define HB_JAIL_HOST_UID 2147220990u
#define HB_JAIL_HOST_GID 2147220990u

/* The jail's writable memory file systems are bounded: a tmpfs is RAM no
 * rlimit counts (RLIMIT_AS does not; a cgroup's memory.max does, where the
 * machine delegates one), and bwrap's default is half of the host's RAM
 * for each of /tmp and /dev, so plugin code (or a compiler) could pin all
 * of it. /tmp holds as much as one file may (standard's RLIMIT_FSIZE);
 * /dev/shm holds what Docker gives a container. */
#define HB_JAIL_TMP_BYTES (1ull << 30)
#define HB_JAIL_SHM_BYTES (64ull << 20)

/* One directory or file shown inside, at `path` (its host path, so paths in
 * argv, depfiles and LOAD messages need no translation). src: where it
 * comes from on the host; NULL means path itself. */
typedef struct hb_jail_bind {
    const char *path;
    const char *src;
    bool rw;
    /* > 0: not a bind but a fresh tmpfs of at most this many bytes at path
     * (writable by the jail's uid; src and rw are ignored). */
    unsigned long long tmpfs_bytes;
} hb_jail_bind;

typedef struct hb_jail {
    const hb_jail_bind *binds; /* mounted in this order (parents first) */
    size_t nbinds;
    const char *chdir;         /* NULL: "/" */
    bool as_pid_1;             /* the command is the jail's pid 1: no bwrap
                                  init a plugin could open /proc/1/mem of */
    bool etc_alternatives;     /* /etc/alternatives (Debian's cc links) */
    int info_fd;               /* >= 0: bwrap writes {"child-pid": N} there */
    int userns_fd;             /* > 0: join this user namespace (from
                                  hb_jail_userns_new()) instead of
                                  --unshare-user; 0: bwrap makes one */
    bool cmd_closes_userns;    /* with userns_fd: the command closes
                                  HB_JAIL_USERNS_FD itself before anything
                                  untrusted runs (the worker closes every
                                  inherited fd first thing, worker/main.c),
                                  so no shell is put in front of it */
    char *const *setenv;       /* "NAME=value" entries bwrap sets for the
                                  command (--setenv), never in its own
                                  environment (bwrap runs as root under a
                                  root manager: GLIBC_TUNABLES & co. would
                                  steer it); NULL-terminated, NULL: none */
} hb_jail;

/* Whether bwrap can build a jail here, with the same flags and the same
 * host uid a worker gets, probed once per process. NULL when it can, else a
 * static reason. $HOTBOX_BWRAP names the bwrap binary; set but empty, it
 * disables jails (for tests and machines where bwrap misbehaves).
 * A "works" is kept across processes (jail_cache.h: keyed by the boot id,
 * bwrap's identity, the uid, the user-namespace sysctls and more), so a
 * later process does not probe; a "does not work" is never kept.
 * Thread-safe. */
const char *hb_jail_unavailable(void);

/* For a caller whose jailed process failed to start (bwrap exited before
 * its command answered): when the verdict came from the cache, drops the
 * cached file and probes again. Returns true when the fresh probe says
 * bwrap does not work here (hb_jail_unavailable() then gives the reason):
 * the cached verdict had gone stale. False when the verdict was probed in
 * this process (nothing to recheck) or still holds (the failure is the
 * command's own). Thread-safe. */
bool hb_jail_recheck(void);

/* Whether this process's verdict was read from the cache (for tests and
 * doctor). */
bool hb_jail_verdict_cached(void);

/* The bwrap binary (valid once hb_jail_unavailable() returned NULL). */
const char *hb_jail_bwrap(void);

/* Builds `bwrap <jail j> -- cmd...` (NULL-terminated, free with
 * hb__strv_free). Returns 0, -ENOMEM, or -EINVAL (a setenv entry that is
 * not NAME=value). */
int hb_jail_argv(const hb_jail *j, char *const *cmd, char ***out);

/* The minimal environment of a jail (and of an unjailed worker):
 *   PATH=/usr/bin:/bin  HOME=home  TMPDIR=tmpdir
 * plus each variable named in keep that is set in from (NULL: environ).
 * NULL-terminated, malloc'ed (free with hb__strv_free); NULL when out of
 * memory. */
char **hb_jail_env(const char *home, const char *tmpdir, const char *const *keep,
                   char *const *from);

/* Whether a jailed process started now drops root (the manager runs as
 * root). */
bool hb_jail_drops_root(void);

/* A root manager only: a new user namespace owned by host root whose only
 * mapping is uid/gid HB_JAIL_UID/GID inside = HB_JAIL_HOST_UID/GID
 * outside. *out: an O_CLOEXEC fd of it; give it to hb_jail.userns_fd, and
 * to the spawn (util/process.h) as fd HB_JAIL_USERNS_FD of the child
 * ({userns_fd, HB_JAIL_USERNS_FD} in its fd map): bwrap, still root, joins
 * it there, and every process inside runs as HB_JAIL_HOST_UID. Close it
 * after the spawn. The jail's command does not keep it: a shell closes it
 * before exec'ing the command (the only fd bwrap would pass through), or,
 * with hb_jail.cmd_closes_userns, the command itself (the worker).
 * Costs one short-lived fork. 0 or -errno with *err set. */
int hb_jail_userns_new(int *out, char **err);
#define HB_JAIL_USERNS_FD 9 /* one digit: a POSIX shell can close it */
#define HB_JAIL_USERNS_FD_STR "9"

/* Whether a process of the jail's host uid (HB_JAIL_HOST_UID, no groups)
 * can reach path: search every parent directory, read a file (and execute
 * it when exec is set), search a directory. Always true when jails keep the
 * manager's own uid (it is not root). */
bool hb_jail_uid_can_reach(const char *path, bool exec);

/* Reads bwrap's --info-fd JSON from fd (without waiting for EOF: call it
 * after the jailed process answered, when bwrap has written it) and returns
 * the host pid of the jail's first process. 0 or -errno. */
int hb_jail_child_pid(int fd, pid_t *out);

/* ---- a sandbox's view of the object store ---------------------------------
 * A worker sees only the objects of plugins loaded in it: the harness keeps
 * one directory per sandbox (its view) holding hard links to (or, across
 * file systems, copies of) exactly the objects it LOADs or SWAPs, and the
 * jail shows that directory at the store's objects path, so LOAD messages
 * name the same absolute paths inside and out. When the manager is root
 * the view lives where the jail's host uid can reach it (the run directory if every
 * parent is searchable by others, else /tmp), owned by root, group
 * HB_JAIL_HOST_GID, mode 0710: the jail's uid (jailed, or an unjailed
 * worker that dropped root to it, which LOADs objects by their path here)
 * can open a file whose name it knows but cannot list; other users cannot
 * reach in at all. */

/* Creates a view under dir_hint (or /tmp, see above). *out: malloc'ed
 * path. 0 or -errno with *err set. */
int hb_jail_view_new(const char *dir_hint, char **out, char **err);

/* Adds file (an object of the store) to view, under its base name.
 * Idempotent. 0 or -errno with *err set. */
int hb_jail_view_add(const char *view, const char *file, char **err);

/* The host file to show at worker_path inside a jail: worker_path itself
 * when the jail's uid can execute it, else a copy kept in view. *out is
 * malloc'ed. 0 or -errno with *err set. */
int hb_jail_view_worker(const char *view, const char *worker_path, char **out, char **err);

/* Removes the view and frees the string (and the view's worker id, see
 * below). NULL is fine. */
void hb_jail_view_free(char *view);

/* ---- worker ids (idlease.c) ------------------------------------------------
 * A root manager's worker without the jail drops root (rootdrop.c) to a
 * uid and gid of its sandbox's own, leased with the sandbox's object view:
 * the view's group is that id (the view stays root-owned, mode 0710), so
 * exactly that sandbox's workers (its spare, its restarts) can reach its
 * objects, and the workers of two sandboxes cannot open each other's files
 * (a 0600 file in /tmp) or signal each other by uid. Jailed workers keep
 * HB_JAIL_HOST_UID: each jail has its own pid namespace and /tmp.
 *
 * The range: HB_WORKER_ID_FIRST .. HB_WORKER_ID_FIRST + HB_WORKER_ID_COUNT
 * - 1 (2147221504-2147287039, 0x7ffc0000-0x7ffcffff), uid = gid, beside
 * HB_JAIL_HOST_UID in the range nothing hands out (see above). A manager
 * process locks one slot of HB_WORKER_ID_PER_SLOT ids (a file under
 * HB_WORKER_ID_DIR, locked until it exits), skips ids the account
 * databases name or a running process holds, and fails closed (-EUSERS,
 * naming the range) when the slot is used up. An id freed with its view is
 * handed out again only after the rest of the slot (next-fit); files a
 * sandbox left in a shared directory stay its id's. */
#define HB_WORKER_ID_FIRST 0x7ffc0000u
#define HB_WORKER_ID_SLOTS 64
#define HB_WORKER_ID_PER_SLOT 1024u
#define HB_WORKER_ID_COUNT (HB_WORKER_ID_SLOTS * HB_WORKER_ID_PER_SLOT)
#define HB_WORKER_ID_RUN "/run/hotbox"
#define HB_WORKER_ID_DIR HB_WORKER_ID_RUN "/worker-ids"

/* The id (uid = gid) of view's workers: the one the view already has, or
 * a new lease (the view's group becomes it). 0 or -errno with *err set
 * (-EUSERS: none left; -EINVAL: no view). Thread-safe. */
int hb_jail_view_identity(const char *view, unsigned *id, char **err);

/* (for hb_jail_view_free) Gives a view's id back; ids not leased by this
 * process are ignored. */
void hb__jail_view_release_id(unsigned gid);

/* Removes the views that managers which died without freeing them (kill
 * -9) left in the places hb_jail_view_new uses for dir_hint: views are
 * named after the pid that made them, and only this user's views of dead
 * pids go. dir_hint is always scanned; $TMPDIR and /tmp only while they
 * hold this user's marker (.hb-views-<euid>), which hb_jail_view_new
 * leaves beside every view it makes there and which goes once no view of
 * this user is left. Returns how many went. */
unsigned hb_jail_views_reap(const char *dir_hint);

#endif /* HB_SECURITY_JAIL_H */
