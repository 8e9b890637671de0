/*
 * util/rlimit.h - the one rlimit applier: the limits a child process runs
 * under, applied between fork and exec (the compiler, the worker, a guest
 * job in the microVM agent).
 *
 * Depends on libc only: the static microVM guest agent links rlimit.c too.
 */
#ifndef HB_UTIL_RLIMIT_H
#define HB_UTIL_RLIMIT_H

#include <stdint.h>

typedef struct hb_limits {
    uint64_t memory_bytes; /* RLIMIT_AS; 0 = unchanged */
    uint64_t cpu_seconds;  /* RLIMIT_CPU; 0 = unchanged */
    uint64_t open_files;   /* RLIMIT_NOFILE; 0 = unchanged */
    uint64_t processes;    /* RLIMIT_NPROC; 0 = unchanged */
    uint64_t file_size;    /* RLIMIT_FSIZE; 0 = unchanged */
    int no_core;           /* RLIMIT_CORE = 0 when set */
} hb_limits;

/* Applies the limits to the calling process. Limits only ever go down: a
 * value above the current hard limit is capped at it, so layered callers
 * (the harness, then the worker's profile) compose to the tighter of the
 * two instead of failing. The CPU limit's hard value is one second above
 * the soft one: SIGXCPU first (a process may report it), SIGKILL a second
 * later. Returns 0 or -errno with *failed (when not NULL) naming the limit
 * that could not be set (a static string). Async-signal-safe: callable
 * between fork and exec. */
int hb__limits_apply(const hb_limits *l, const char **failed);

/* The tasks (processes and threads) one uid of hotbox's children may hold
 * when nothing tighter was asked: a quarter of what the host can hold (the
 * smaller of /proc/sys/kernel/pid_max and threads-max), 0 when /proc does
 * not say. A pid namespace does not bound how many host pids its tasks
 * take, so without it a fork or thread bomb (plugin code in a worker, a
 * hostile tree's compile) leaves the whole machine unable to fork. Read on
 * the manager's side, from the host's /proc (a pid namespace may show a
 * pid_max of its own). Used as RLIMIT_NPROC by security/profile.c for
 * workers and by compiler/spawn.c for every compile. */
uint64_t hb__host_task_share(void);

#endif /* HB_UTIL_RLIMIT_H */
