/*
 * security/security.h - containment of plugin code: profiles, rlimits, the
 * seccomp filter the worker installs on itself, the bubblewrap command line
 * the harness starts a worker under, the ELF import policy, the audit log
 * (audit.h) and what this machine supports (for `hotbox doctor`).
 *
 * Who calls what
 *  - The harness (manager side) calls hb_sec_wrap() to build the
 *    command that starts a worker (through jail.h, the one bubblewrap
 *    command-line builder), hb_sec_namespaces_status() to learn
 *    whether namespaces work here, hb_sec_check_imports() before a LOAD or
 *    SWAP, and hb_sec_report() for doctor.
 *  - The worker calls hb_sec_apply_profile() once, after its channel is set
 *    up and before it serves the first request, so no plugin code ever runs
 *    without the profile's filter; it passes the filter's listener to the
 *    harness, which alone observes denials (hb_sec_listener_take()).
 *
 * Profiles (the table lives in profile.c; the README repeats it)
 *   strict      seccomp (deny list + W^X: no W+X memory, nothing made
 *               executable after mapping, no executable anonymous, shared
 *               or memfd memory), Landlock (files it can write it cannot
 *               read, so never map executable), all namespaces, a root
 *               with only /usr, the plugin objects and a tmpfs scratch,
 *               tight rlimits, imports limited to libc/libm/libpthread and
 *               no process, network, dl* or ptrace symbols.
 *   standard    seccomp (deny list; W+X allowed), all namespaces, the same
 *               minimal root, rlimits against runaway files and cores,
 *               imports refused only for process creation, exec and ptrace.
 *   permissive  nothing but RLIMIT_CORE=0. For plugins that need the
 *               network or child processes; the harness warns every time.
 */
#ifndef HB_SECURITY_H
#define HB_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hotbox/hotbox.h"
#include "rlimit.h"
#include "util.h"

/* ---- rlimits ---------------------------------------------------------------- */

/* hb_limits and the one function that applies them,
 * hb__limits_apply(), are util/rlimit.h's. */

/* ---- profiles (profile.c) ------------------------------------------------- */

/* What one profile fixes. All pointers are static. */
typedef struct hb_profile_spec {
    hb_profile id;
    const char *name;            /* "strict", "standard", "permissive" */
    bool seccomp;                /* the worker installs the deny filter */
    bool deny_wx;                /* W^X: see add_wx_rules in seccomp.c */
    bool namespaces;             /* the worker runs under bubblewrap */
    hb_limits limits;            /* applied by the worker before seccomp */
    const char *const *deny_symbols; /* NULL-terminated; "x*" is a prefix */
    const char *const *allow_needed; /* NULL-terminated patterns; NULL = any library */
    const char *summary;         /* one line for doctor and the README */
} hb_profile_spec;

/* The spec of p (HB_PROFILE_DEFAULT is standard). Unknown values give NULL. */
const hb_profile_spec *hb_sec_profile(hb_profile p);

/* Manager side, before a worker starts: under a seccomp profile, a
 * processes limit (RLIMIT_NPROC) left at 0 ("unchanged") becomes a quarter
 * of the tasks the host can hold (the smaller of its pid_max and
 * threads-max): a pid namespace does not bound how many host pids its
 * threads take, and a thread bomb would leave the machine unable to fork. */
void hb_sec_limits_host(hb_profile p, hb_limits *lim);

/* "strict", "standard", "permissive"; "unknown" for anything else.
 * HB_PROFILE_DEFAULT names the profile it stands for ("standard"). */
const char *hb_profile_name(hb_profile p);

/* Parses a profile name as hb_profile_name() prints it. 0 or -EINVAL. */
int hb_sec_profile_parse(const char *name, hb_profile *out);

/* Import policy. imports: the version's undefined dynamic symbols, needed:
 * its DT_NEEDED libraries (either may be NULL; both NULL-terminated; a
 * symbol may carry an "@VERSION" suffix). Returns 0 when the profile allows
 * them, or HB_EPOLICY with *err naming every offending symbol and library:
 *   "refused by the strict profile: imports popen, system; needs libcurl.so.4"
 * The caller prefixes the plugin and version. -EINVAL for an unknown
 * profile. */
int hb_sec_check_imports(hb_profile p, char *const *imports, char *const *needed, char **err);

/* ---- the seccomp filter (seccomp.c) -------------------------------------- */

/* What hb_sec_apply_profile set up. */
typedef struct hb_sec_applied {
    int listener;      /* the filter's listener (O_CLOEXEC); -1 without a filter */
    bool files_locked; /* strict inside the sandbox view: files the plugin can
                          write cannot be opened for reading (landlock.c) */
} hb_sec_applied;

/* Worker side. Applies profile p to the calling process, which must be
 * single-threaded: rlimits, then PR_SET_NO_NEW_PRIVS, then (strict) the
 * Landlock rule of landlock.c, then the seccomp filter (strict and
 * standard). A denied system call stops the calling thread and queues a
 * user notification on the filter's listener. The caller must hand
 * out->listener to the harness (HB_MSG_LISTENER) and close it before any
 * plugin code runs: whoever holds the listener reads, and could answer,
 * every denied call. Returns 0, or a negative errno with a one-line
 * reason in err. */
int hb_sec_apply_profile(hb_profile p, hb_sec_applied *out, char *err, size_t errlen);

/* The same, with what a plugin.json allow-list opens (HB_SEC_ALLOW_*
 * bits): HB_SEC_ALLOW_UNIX lets socket(AF_UNIX, ...) and connect through
 * the strict and standard filters (other socket families, bind, listen and
 * accept stay denied; which socket files exist is the jail's business). */
#define HB_SEC_ALLOW_UNIX 1u
int hb_sec_apply_profile_allow(hb_profile p, unsigned allow, hb_sec_applied *out, char *err,
                               size_t errlen);
/* The same, guarding fd (the worker's channel; -1: none) under the filter:
 * a close, close_range (unless it only sets close-on-exec), dup2 or dup3
 * that would close or replace it is a denied call like the others (the
 * thread stops, the harness names the call and kills the worker). So with
 * a filter the channel is the socket it was for as long as the worker
 * runs, and the worker need not check it per reply (worker.c). */
int hb_sec_apply_profile_guard(hb_profile p, unsigned allow, int fd, hb_sec_applied *out,
                               char *err, size_t errlen);

/* (rootdrop.c) A worker a root manager started without the jail becomes
 * uid/gid (its sandbox's worker id, jail.h) with no groups, no capability in
 * any set, locked NOROOT securebits, no_new_privs and not dumpable. Call it
 * before starting threads and before hb_sec_apply_profile. 0, or a
 * negative errno with the step that failed in why. */
int hb_sec_drop_root(uid_t uid, gid_t gid, char *why, size_t len);

/* (landlock.c, for hb_sec_apply_profile) Inside the sandbox view (a
 * read-only root), lets the process open for reading only files beneath
 * read-only mounts and character devices. 1 when applied, 0 when not
 * applicable or Landlock is missing, <0 with err on failure. */
int hb__sec_lock_written_files(char *err, size_t errlen);

/* (landlock.c, for hb_sec_apply_profile) Puts the process in a Landlock
 * domain of its own, jailed or not: it can no longer ptrace, open the
 * /proc/<pid>/mem of, or otherwise reach by ptrace rules any process
 * outside it (the manager, the developer's other processes; what keeps a
 * worker without namespaces, same uid or root, out of its manager), and
 * it cannot make device nodes. 1 when applied, 0 when Landlock is
 * missing, <0 with err on failure. */
int hb__sec_scope_process(char *err, size_t errlen);

/* Harness side. 0 when fd is a seccomp user-notification listener,
 * -ENOTTY when it is some other file, -EBADF when it is not open. */
int hb_sec_listener_check(int fd);

/* Harness side, once poll() reports the listener readable: takes one
 * pending notification and describes the denied call in what, e.g.
 * "socket", "clone (a new process)", "mmap (writable and executable
 * memory)". Returns 1 with what filled, 0 when the notification was gone
 * (its thread died), or a negative errno. The denied thread is left
 * stopped: the caller ends the worker. */
int hb_sec_listener_take(int fd, char *what, size_t len);

/* The text hb_sec_listener_take gives for a call (arch is an AUDIT_ARCH_
 * value; args are the call's six arguments). */
void hb_sec_describe_denial(uint32_t arch, int nr, const uint64_t args[6], char *buf,
                            size_t len);

/* ---- the harness's side (wrap.c) ------------------------------------------ */

/* Whether bubblewrap can jail a worker here: hb_jail_unavailable()
 * (jail.h), the one probe. */

/* How a worker is to be started; mirrors the harness's hb_wspawn. */
typedef struct hb_sec_spawn {
    const char *worker_path;  /* absolute */
    hb_profile profile;
    int channel_fd;           /* the fd number the worker finds its channel at */
    const char *objects_dir;  /* the store's objects path, shown read-only at
                                 that path; may be NULL */
    const char *scratch_dir;  /* bound read-write at the same path; NULL = a tmpfs /tmp */
    /* Appended: what is shown at objects_dir (the sandbox's view, jail.h;
     * NULL: objects_dir itself) and at worker_path (NULL: itself). */
    const char *objects_src;
    const char *worker_src;
    int info_fd;              /* > 0: bwrap reports the worker's host pid there */
    int ring_fd;              /* > 0: the fd number of the call ring (proto/ring.h),
                                 passed as --ring */
    /* Appended (plugin.json runtime, issue 18): "NAME=value" added to the
     * worker's environment, and directories shown read-only at their own
     * path in the jail. NULL-terminated; NULL: none. */
    char *const *env;
    char *const *data_dirs;
    /* Appended (instrumented plugins, issue 18; harness/sanitize.c): a
     * runtime the worker loads first (passed as --preload: the worker
     * re-executes itself with LD_PRELOAD, so bwrap does not carry it); a
     * directory bound read-write at its own path (the .gcda files of
     * --coverage; the standard profile's filter allows plain file writes);
     * more "NAME=value" variables. NULL: none. */
    const char *preload;
    const char *write_dir;
    char *const *inst_env;
    /* Appended (plugin.json runtime.allow, security/allow.h): real paths
     * shown at their own path, read-only (allow_read, allow_unix) or
     * read-write (allow_write). allow_unix also lets the worker's seccomp
     * filter allow socket(AF_UNIX) and connect (`--allow unix`). NULL or
     * empty: none. */
    char *const *allow_read;
    char *const *allow_write;
    char *const *allow_unix;
} hb_sec_spawn;

/* The command hb_sec_wrap() builds. */
typedef struct hb_sec_cmd {
    char **argv;      /* NULL-terminated */
    char **envp;      /* the minimal documented environment (wrap.c) */
    bool wrapped;     /* bwrap is the process started (its exit status 128+n
                         means the worker died of signal n) */
    bool drop_root;   /* the forked child must call hb_jail_drop_root(userns_fd) */
    int userns_fd;    /* > 0 with drop_root: the jail's root-owned user
                         namespace (jail.h); hb_sec_cmd_release() closes it,
                         so release only after the fork */
    char *warning;    /* a sentence when the worker runs with less protection
                         than its profile asks for, or under permissive; the
                         caller emits it as an HB_EVENT_WARNING; else NULL */
    /* Appended: not wrapped, yet a root manager's strict or standard
     * worker: it drops root to its sandbox's worker id (jail.h) itself (--run-as,
     * rootdrop.c), and LOAD/SWAP must name objects by their path in the
     * sandbox's view (jail.h), which that uid can reach. */
    bool run_as;
} hb_sec_cmd;

/* Builds the command that starts the worker for s: `bwrap ... -- worker
 * --fd N --profile NAME` when the profile wants namespaces and they work
 * here, else the worker alone; with the environment to exec it with. 0, or
 * a negative code with *err set. Release *out with hb_sec_cmd_release(). */
int hb_sec_wrap(const hb_sec_spawn *s, hb_sec_cmd *out, char **err);
void hb_sec_cmd_release(hb_sec_cmd *c);

/* ---- doctor (report.c) ---------------------------------------------------- */

/* Appends to out, one "name: yes|no (reason)" line each, what this machine
 * supports: seccomp filters, user namespaces, bubblewrap, cgroup v2, and
 * the profile table. Returns 0 or -ENOMEM. */
int hb_sec_report(hb_sb *out);

/* Appends one line on a running process of a sandbox, read from outside
 * through /proc/<pid>: its host uids, the uid it has inside its user
 * namespace and the host uid that maps to, its capabilities (effective and
 * bounding), its seccomp mode and no_new_privs. role names the process
 * ("worker", "bwrap"). Returns 0, -ESRCH when it is gone (a line says so),
 * -EINVAL. */
int hb_sec_process_report(hb_sb *out, const char *role, pid_t pid);

#endif /* HB_SECURITY_H */
