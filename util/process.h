/*
 * util/process.h - the one place hotbox starts a process (in the spirit of
 * git's run-command.c): fork, then in the child only async-signal-safe
 * steps (the manager is threaded), then exec or a function. A program
 * (argv) not started into a cgroup begins as a child sharing the
 * manager's memory until its exec (CLONE_VM | CLONE_VFORK on a stack of
 * its own, as posix_spawn does; no copy of the manager's page tables, the
 * calling thread waits until the exec), with every caught signal back at
 * its default before anything else; child_main and cgroup starts fork.
 *
 * In the child, in this order: signal mask emptied and SIGPIPE default;
 * a new session or process group when asked; PR_SET_PDEATHSIG(SIGKILL) when
 * asked (it fires when the forking THREAD ends: see util/keeper.h), then a
 * check that the parent is still there; the caller's setup hook; the fd map;
 * every other fd closed; the working directory; the rlimits; exec.
 *
 * Fds: a program gets exactly 0-2 and the fd map (child fd `to` = the
 * parent's fd `from`, HB_SPAWN_DEVNULL for /dev/null; a collision-free
 * two-step dup, so a map may permute fds). Every other fd is closed in the
 * child, CLOEXEC or not: one leaked to this process by its
 * own parent, or opened by another thread without O_CLOEXEC, never reaches
 * a compiler or a worker. 0-2 are the parent's unless mapped. A child_main
 * child keeps what an exec'ed program would (every non-CLOEXEC fd).
 *
 * A failure between fork and exec (including exec itself) is reported to
 * the parent through a close-on-exec pipe: hb__spawn then reaps the child
 * and returns the child's errno with *err naming the step and the program.
 * On success the child has exec'ed (or, with child_main, is running it).
 */
#ifndef HB_UTIL_PROCESS_H
#define HB_UTIL_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "rlimit.h"

#define HB_SPAWN_DEVNULL (-2)
#define HB__SPAWN_MAX_FDS 16 /* in the fd map */

typedef struct hb_spawn_fd {
    int from; /* a parent fd, or HB_SPAWN_DEVNULL */
    int to;   /* the child's fd number */
} hb_spawn_fd;

typedef struct hb_spawn {
    /* What runs: argv (argv[0] a path, unless search_path) ... */
    char *const *argv;
    char *const *envp;   /* NULL: the caller's environ */
    bool search_path;    /* find argv[0] on $PATH (execvp) */
    /* ... or, with argv NULL, child_main(arg) in the forked child, whose
     * return value is its exit status (async-signal-safe code only). */
    int (*child_main)(void *arg);
    void *arg;

    const hb_spawn_fd *fds;
    size_t nfds;
    const char *cwd;     /* NULL: unchanged */
    const hb_limits *limits; /* NULL: unchanged */
    bool new_session;    /* setsid() */
    bool new_pgroup;     /* setpgid(0, 0) (also done from the parent) */
    bool die_with_parent; /* PR_SET_PDEATHSIG(SIGKILL) */
    /* Runs in the child before the fd map (async-signal-safe only); a
     * negative errno fails the spawn, reported as the step `setup_what`. */
    int (*setup)(void *arg);
    void *setup_arg;
    const char *setup_what;
    /* in_cgroup: the child starts in the cgroup v2 directory cgroup_dir
     * (an open fd): created there (clone3 CLONE_INTO_CGROUP), or, where the
     * kernel cannot, moved there by writing its cgroup.procs before
     * anything else runs. The first costs nothing; the move waits for an
     * RCU grace period in the kernel (milliseconds on a busy machine). */
    bool in_cgroup;
    int cgroup_dir;
} hb_spawn;

/* Starts the process. *pid is the child; *pidfd (when pidfd is not NULL) a
 * close-on-exec pidfd of it. Returns 0 or -errno with *err (may be NULL)
 * saying what failed. */
int hb__spawn(const hb_spawn *sp, pid_t *pid, int *pidfd, char **err);

/* waitpid() retried on EINTR. Returns the pid or -errno. */
pid_t hb__wait_pid(pid_t pid, int *status, int options);

/* Finds name on $PATH (absolute entries only; default
 * /usr/local/bin:/usr/bin:/bin), or takes it as is when it contains a '/'.
 * *out: a malloc'ed absolute path of an executable regular file; -ENOENT
 * when there is none. */
int hb__find_program(const char *name, char **out);

/* pidfd_open(2); -errno on failure. The fd is close-on-exec. */
int hb__pidfd_open(pid_t pid);

#endif /* HB_UTIL_PROCESS_H */
