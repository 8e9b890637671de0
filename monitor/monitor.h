/*
 * monitor/monitor.h - worker supervision: the building blocks the harness
 * composes to watch workers, decide about restarts and rollbacks, account
 * for resources and leave no orphans behind.
 *
 *   supervision   pidfds, reaping with a deadline, liveness, graceful stop
 *   policy        crash-loop backoff and the "give up" decision
 *   probation     the pass/fail state machine of a freshly swapped version
 *   usage         RSS/CPU/fds/threads of a pid, and naming the limit that
 *                 most likely killed a worker
 *   cgroup        a cgroup v2 sub-tree per sandbox where the machine allows
 *   orphans       the run-directory registry of workers and the reaper
 *   metrics       counters and latency histograms, JSON and text
 *
 * Nothing here sleeps: every wait is an event (pidfd poll) with a deadline,
 * and delays (backoff) are returned to the caller, who waits on its own
 * events. Decision logic (policy, probation) is pure: time is passed in as
 * a monotonic nanosecond count (hb__now_ns()), so tests are deterministic.
 * Nothing here prints.
 */
#ifndef HB_MONITOR_H
#define HB_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "security.h"

/* ======================================================================== */
/* Supervision (monitor.c)                                                   */
/* ======================================================================== */

/* pidfd_open(pid, 0) with O_CLOEXEC semantics. Returns fd or -errno. */
int hb_mon_pidfd_open(pid_t pid);

/* Waits until the process behind pidfd has exited (it need not be our
 * child: nothing is reaped) or timeout_ms passes (-1: forever). Returns 0,
 * -ETIMEDOUT, or -errno. */
int hb_mon_wait_exit(int pidfd, int timeout_ms);

/* Waits until the process exits or timeout_ms passes (-1: forever), then
 * reaps it. Returns 0 with *status, -ETIMEDOUT (not reaped), or -errno. */
int hb_mon_reap(pid_t pid, int pidfd, int timeout_ms, int *status);

/* Kills (SIGKILL) and reaps. Returns 0 with *status or -errno. */
int hb_mon_kill_reap(pid_t pid, int pidfd, int *status);

/* Whether the process behind pidfd is still running (non-blocking). */
bool hb_mon_alive(int pidfd);

/* How hb_mon_stop ended the process. */
enum hb_mon_stop_how {
    HB_MON_STOP_ALREADY_EXITED = 0, /* it had exited before we signalled it */
    HB_MON_STOP_TERM = 1,           /* it exited within the grace period after SIGTERM */
    HB_MON_STOP_KILL = 2,           /* it outlived the grace period and was SIGKILLed */
};

/* Graceful stop of a child: SIGTERM, wait up to grace_ms for it to exit
 * (through the pidfd; pidfd < 0 falls back to kill(2) and a blocking wait
 * after SIGKILL only), then SIGKILL. Always reaps. Returns one of
 * hb_mon_stop_how (>= 0) with *status (the wait status), or -errno. */
int hb_mon_stop(pid_t pid, int pidfd, unsigned grace_ms, int *status);

/* ======================================================================== */
/* Crash-loop policy (policy.c)                                              */
/* ======================================================================== */

typedef struct hb_mon_policy hb_mon_policy;

typedef struct hb_mon_policy_options {
    unsigned max_crashes;      /* K: crashes within window that fail the sandbox; default 5 */
    uint64_t window_ms;        /* T: default 10000 */
    uint64_t backoff_first_ms; /* delay before the 2nd restart in a window; default 10 */
    uint64_t backoff_max_ms;   /* cap; default 2000 */
} hb_mon_policy_options;

#define HB_MON_POLICY_OPTIONS_INIT {5, 10000, 10, 2000}
#define HB_MON_POLICY_MAX_CRASHES 64 /* K is clamped to this */

/* opts may be NULL (defaults); zero fields take their defaults. */
int hb_mon_policy_new(const hb_mon_policy_options *opts, hb_mon_policy **out);
void hb_mon_policy_free(hb_mon_policy *p);

/* Records a crash (or hang) at now_ns. */
void hb_mon_policy_crash(hb_mon_policy *p, uint64_t now_ns);

/* Forgets every crash (e.g. after the user fixed the code). */
void hb_mon_policy_reset(hb_mon_policy *p);

/* Crashes recorded within the window ending at now_ns. */
unsigned hb_mon_policy_recent(const hb_mon_policy *p, uint64_t now_ns);

/* How long to wait, from now_ns, before restarting after the crashes
 * recorded so far: 0 after the first crash in the window, then
 * backoff_first_ms doubling with every further crash (10, 20, 40, ...)
 * capped at backoff_max_ms, measured from the last crash (time already
 * spent counts). The library never sleeps: wait on your own events with
 * this as the timeout, or refuse with HB_EFAILED when should_fail says so. */
uint64_t hb_mon_backoff_ms(const hb_mon_policy *p, uint64_t now_ns);

/* True once max_crashes crashes fall within window_ms before now_ns. */
bool hb_mon_should_fail(const hb_mon_policy *p, uint64_t now_ns);

/* ======================================================================== */
/* Probation (probation.c)                                                   */
/* ======================================================================== */

typedef enum hb_probation_state {
    HB_PROBATION_ACTIVE = 0, /* still on probation */
    HB_PROBATION_PASSED,     /* proven: mark the version good */
    HB_PROBATION_FAILED,     /* roll back; hb_probation_reason says why */
} hb_probation_state;

typedef enum hb_probation_reason {
    HB_PROBATION_OK = 0,
    HB_PROBATION_CRASHED,         /* a call crashed the worker */
    HB_PROBATION_HUNG,            /* a call did not answer in time */
    HB_PROBATION_SELFTEST_FAILED, /* an exported hb_test_* failed */
} hb_probation_reason;

typedef struct hb_probation_options {
    bool has_selftests; /* the version exports hb_test_*: they must pass first */
    unsigned calls;     /* pass after this many successful calls; default 20; 0: not a condition */
    unsigned ms;        /* pass after this long without failure; default 2000; 0: not a condition */
    bool need_both;     /* calls AND time must be met (default: whichever comes first) */
} hb_probation_options;

#define HB_PROBATION_OPTIONS_INIT {false, 20, 2000, false}

/* Caller-owned, plain data: copy it, embed it, no free needed. */
typedef struct hb_probation {
    hb_probation_options opts;
    hb_probation_state state;
    hb_probation_reason reason;
    uint64_t start_ns;
    unsigned calls_ok;
    bool selftests_passed;
} hb_probation;

/* Starts a probation at now_ns. opts NULL means defaults. When no condition
 * is configured (no self-tests, calls and ms both 0) it passes at once. */
void hb_probation_init(hb_probation *p, const hb_probation_options *opts, uint64_t now_ns);

/* Events. Each returns the state after the event. Once PASSED or FAILED the
 * state is final and later events are ignored (a crash after probation is a
 * plain crash, not a rollback reason). */
hb_probation_state hb_probation_call_ok(hb_probation *p, uint64_t now_ns);
hb_probation_state hb_probation_call_crashed(hb_probation *p, uint64_t now_ns);
hb_probation_state hb_probation_call_hung(hb_probation *p, uint64_t now_ns);
hb_probation_state hb_probation_selftests_passed(hb_probation *p, uint64_t now_ns);
hb_probation_state hb_probation_selftest_failed(hb_probation *p, uint64_t now_ns);
hb_probation_state hb_probation_tick(hb_probation *p, uint64_t now_ns);

/* Milliseconds until the time condition could pass the version (for a poll
 * timeout), 0 when it is not ACTIVE, UINT64_MAX when time cannot pass it. */
uint64_t hb_probation_due_ms(const hb_probation *p, uint64_t now_ns);

const char *hb_probation_state_name(hb_probation_state s);
const char *hb_probation_reason_name(hb_probation_reason r);

/* ======================================================================== */
/* Resource usage and limit-kill reasons (usage.c)                           */
/* ======================================================================== */

typedef struct hb_usage {
    uint64_t rss_bytes;     /* resident set (statm) */
    uint64_t vm_bytes;      /* address space (stat vsize), what RLIMIT_AS limits */
    uint64_t cpu_user_ms;   /* utime */
    uint64_t cpu_sys_ms;    /* stime */
    uint64_t uptime_ms;     /* since the process started */
    uint64_t start_ticks;   /* /proc/pid/stat field 22: identity against pid reuse */
    unsigned fds;           /* entries in /proc/pid/fd */
    unsigned threads;       /* num_threads */
    unsigned children;      /* direct children (/proc/pid/task/pid/children), 0 if unknown */
    char state;             /* 'R', 'S', 'Z', ... */
} hb_usage;

/* Samples /proc/<pid>. Returns 0, -ESRCH when the process is gone, or
 * -errno. The fd count needs permission over the process (ours: yes). */
int hb_mon_usage(pid_t pid, hb_usage *out);

/* Start time of pid in clock ticks since boot (stat field 22). */
int hb_mon_start_time(pid_t pid, uint64_t *out);

/* Which limit most likely ended a worker. */
typedef enum hb_limit_kind {
    HB_LIMIT_NONE = 0,  /* no limit explains it (a plain crash or exit) */
    HB_LIMIT_CPU,
    HB_LIMIT_MEMORY,
    HB_LIMIT_NOFILE,
    HB_LIMIT_NPROC,
    HB_LIMIT_FSIZE,
} hb_limit_kind;

/* Optional cgroup facts at the time of death (see hb_cgroup_usage). */
typedef struct hb_death_cgroup {
    uint64_t memory_max;   /* 0 = none */
    uint64_t oom_kills;    /* memory.events oom_kill delta over this worker's life */
    uint64_t pids_max;     /* 0 = none */
    uint64_t pids_current; /* last sample */
} hb_death_cgroup;

/* Names the limit that most likely killed the worker, given its wait
 * status, the rlimits in force (may be NULL), the last usage sample (may be
 * NULL) and cgroup facts (may be NULL). Writes one line into buf, e.g.
 * "killed by SIGXCPU: CPU time limit 5 s exceeded" or "killed by SIGKILL
 * while RSS was 510 MiB of a 512 MiB memory limit (likely the OOM
 * killer)". Where the cause is inferred rather than certain the text says
 * "likely". Returns the kind; HB_LIMIT_NONE with the plain wait status
 * description when no limit explains the death. */
hb_limit_kind hb_mon_explain_death(int wait_status, const hb_limits *lim, const hb_usage *last,
                                   const hb_death_cgroup *cg, char *buf, size_t len);

/* ======================================================================== */
/* cgroup v2 (cgroup.c)                                                      */
/* ======================================================================== */

typedef struct hb_cgroup hb_cgroup;

enum hb_cgroup_controller {
    HB_CG_MEMORY = 1u << 0,
    HB_CG_CPU = 1u << 1,
    HB_CG_PIDS = 1u << 2,
};

typedef struct hb_cgroup_limits {
    uint64_t memory_max;   /* bytes, memory.max; 0 = no limit (controller not needed) */
    uint64_t pids_max;     /* pids.max; 0 = no limit */
    unsigned cpu_percent;  /* cpu.max quota as % of one CPU; 0 = no limit */
} hb_cgroup_limits;

/* Finds the cgroup v2 hierarchy and this process's place in it, and tries
 * to create (then removes) the per-manager parent <own cgroup>/hotbox-<pid>
 * with memory, cpu and pids delegated to its children. Side effect: where
 * the manager's own cgroup offers a controller but does not yet delegate
 * it (possible only at the root), the probe enables it there (and leaves
 * it enabled, as systemd would). Returns a bitmask of
 * the controllers hotbox can use (>= 0; 0 still allows monitoring-only
 * cgroups: cpu.stat, cgroup.kill) or a negative errno when no cgroup can be
 * created at all. *why (malloc'ed, may be NULL on ENOMEM) always explains
 * the outcome in one line, naming what is missing and why (hybrid v1
 * layout, the "no internal processes" rule, permissions). */
int hb_cgroup_probe(char **why);

/* A manager's view of cgroup v2: probed once, on first use, then a
 * sub-tree per sandbox with the limits the usable controllers allow. The
 * caller serialises access (the harness holds its manager's lock). */
typedef struct hb_cgroup_site {
    bool probed;
    int mask;  /* hb_cgroup_probe's result */
    char *why; /* its explanation (may be NULL) */
} hb_cgroup_site;

/* Probes on the first call only; true that time (the caller says, once,
 * which resource limits apply: see hb_cgroup_site_summary). */
bool hb_cgroup_site_probe(hb_cgroup_site *site);
/* One line for that announcement; *warn is set when cgroup limits are not
 * available (rlimits only). */
const char *hb_cgroup_site_summary(const hb_cgroup_site *site, bool *warn);
/* A sandbox's cgroup named sandbox-<serial>-<n>, limiting memory,
 * processes and CPU (cpu.max, cpu_percent of one CPU; 0 = none) where
 * those controllers are usable; NULL where the site has no cgroups or
 * creation fails (rlimits still hold). */
hb_cgroup *hb_cgroup_site_sandbox(const hb_cgroup_site *site, unsigned n, uint64_t memory_max,
                                  uint64_t pids_max, unsigned cpu_percent);
/* Whether the site's cgroup v2 sub-trees carry cpu.max. */
bool hb_cgroup_site_has_cpu(const hb_cgroup_site *site);
void hb_cgroup_site_release(hb_cgroup_site *site);

/* Creates <own cgroup>/hotbox-<manager pid>/<name> with the limits. Fails
 * with -EOPNOTSUPP (and *err explaining) when a limit needs a controller
 * that cannot be used here: the caller then falls back to rlimits and says
 * so. name must be a single path component. */
int hb_cgroup_create(const char *name, const hb_cgroup_limits *limits, hb_cgroup **out,
                     char **err);

/* Moves pid into the cgroup. */
int hb_cgroup_add_pid(hb_cgroup *cg, pid_t pid);

/* An O_WRONLY|O_CLOEXEC fd on the cgroup's cgroup.procs, for a forked child
 * to join before exec with hb_cgroup_join_self(fd) (async-signal-safe), so
 * it never runs a single instruction of the worker outside the cgroup. The
 * caller closes it. */
int hb_cgroup_procs_fd(hb_cgroup *cg);
int hb_cgroup_join_self(int procs_fd);
/* An O_RDONLY|O_DIRECTORY|O_CLOEXEC fd on the cgroup's directory, for
 * hb_spawn's cgroup_dir (a child started straight into the cgroup, util/
 * process.h). The caller closes it. */
int hb_cgroup_dir_fd(hb_cgroup *cg);

typedef struct hb_cgroup_stats {
    uint64_t memory_current; /* bytes; 0 without the memory controller */
    uint64_t memory_max;     /* 0 = unlimited or unknown */
    uint64_t cpu_usage_usec; /* cpu.stat usage_usec (always available) */
    uint64_t pids_current;   /* 0 without the pids controller */
    uint64_t pids_max;
    uint64_t oom_kills;      /* memory.events oom_kill */
    unsigned populated;      /* processes in the cgroup (cgroup.procs lines) */
} hb_cgroup_stats;

int hb_cgroup_usage(hb_cgroup *cg, hb_cgroup_stats *out);
/* memory.events oom_kill, or 0 without the memory controller. */
uint64_t hb_cgroup_oom_kills(hb_cgroup *cg);
/* Controllers enforcing this cgroup's limits (hb_cgroup_controller bits). */
unsigned hb_cgroup_controllers(const hb_cgroup *cg);
const char *hb_cgroup_path(const hb_cgroup *cg);

/* Kills what is left inside (cgroup.kill where present, else SIGKILL to
 * each pid in cgroup.procs), waits (cgroup.events, bounded) until it is
 * empty, removes the directory, and the per-manager parent when that is
 * empty too. Frees cg. Accepts NULL. Returns 0 or -errno of the rmdir
 * (cg is freed either way). */
int hb_cgroup_destroy(hb_cgroup *cg);

/* Removes the per-manager cgroups (hotbox-<pid>) of managers that died
 * without cleaning up, killing whatever still runs in them. */
int hb_cgroup_reap_stale(unsigned *removed);

/* A CPU cap on a hybrid machine (cpucap.c): where cgroup v2 does not hold
 * the cpu controller but a cgroup v1 cpu hierarchy is mounted and writable
 * (as root), <own v1 cpu cgroup>/hotbox-<pid>-<name> with
 * cpu.cfs_quota_us = percent% of one CPU. -EOPNOTSUPP or -EACCES (and
 * *err explaining) where that cannot be had. Processes are added by pid;
 * their children follow. hb_cpucap_free removes the cgroup once its
 * processes are gone (accepts NULL). */
typedef struct hb_cpucap hb_cpucap;
int hb_cpucap_new(const char *name, unsigned percent, hb_cpucap **out, char **err);
int hb_cpucap_add_pid(hb_cpucap *c, pid_t pid);
const char *hb_cpucap_path(const hb_cpucap *c);
void hb_cpucap_free(hb_cpucap *c);

/* ======================================================================== */
/* Orphans (orphans.c)                                                       */
/* ======================================================================== */

/* Records a running worker in run_dir as worker-<pid>.rec (one atomic
 * write): its pid and start time, and the manager's pid and start time, so
 * a later manager can tell a leftover worker from an unrelated process that
 * reused the pid. */
int hb_mon_record_worker(const char *run_dir, pid_t worker, pid_t manager);

/* Removes the record of a worker that ended normally. Missing is success. */
int hb_mon_forget_worker(const char *run_dir, pid_t worker);

typedef struct hb_orphan_report {
    unsigned killed;   /* orphaned workers found running and SIGKILLed */
    unsigned stale;    /* records of workers already gone, removed */
    unsigned live;     /* records of live managers, left alone */
    unsigned bad;      /* unreadable records, removed */
    char *text;        /* one line per action, malloc'ed; NULL when nothing happened */
} hb_orphan_report;

/* Scans run_dir for worker records. A record whose manager is dead (no such
 * pid, or a different start time) and whose worker still runs with the
 * recorded start time is an orphan: it is SIGKILLed (through a pidfd, so the
 * pid cannot be reused between check and kill), waited for (bounded) and
 * its record removed. Records of dead workers are removed. Records of live
 * managers are left alone. report may be NULL; release it with
 * hb_orphan_report_release. Returns 0 or -errno (run_dir unreadable; a
 * missing run_dir is success with nothing found). */
int hb_mon_reap_orphans(const char *run_dir, hb_orphan_report *report);
void hb_orphan_report_release(hb_orphan_report *r);

/* ======================================================================== */
/* Metrics (metrics.c)                                                       */
/* ======================================================================== */

typedef struct hb_metrics hb_metrics;

typedef enum hb_metric_hist {
    HB_HIST_COMPILE = 0,
    HB_HIST_SWAP,
    HB_HIST_CALL,
    HB_HIST_ROLLBACK,  /* crash seen -> old version serving again */
    HB_HIST_RESTART,   /* worker respawn + reload of every plugin */
    HB_HIST_COUNT_
} hb_metric_hist;

typedef enum hb_metric_counter {
    HB_CTR_COMPILES = 0,
    HB_CTR_COMPILE_FAILURES,
    HB_CTR_SWAPS,
    HB_CTR_SWAP_FAILURES,
    HB_CTR_CALLS,
    HB_CTR_CALL_ERRORS,
    HB_CTR_CRASHES,
    HB_CTR_HANGS,
    HB_CTR_RESTARTS,
    HB_CTR_ROLLBACKS,
    HB_CTR_LIMIT_KILLS,
    HB_CTR_COUNT_
} hb_metric_counter;

/* Buckets: bucket 0 holds [0, 1 us), bucket i (1..HB_HIST_BUCKETS-2) holds
 * [2^(i-1), 2^i) us, the last one everything from 2^(HB_HIST_BUCKETS-2) us
 * (~134 s) up. */
#define HB_HIST_BUCKETS 29

typedef struct hb_hist_snapshot {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t min_ns, max_ns; /* 0 when count is 0 */
    uint64_t buckets[HB_HIST_BUCKETS];
} hb_hist_snapshot;

int hb_metrics_new(hb_metrics **out);
void hb_metrics_free(hb_metrics *m);

/* Lock-free (relaxed atomics): safe from any thread. */
void hb_metrics_observe(hb_metrics *m, hb_metric_hist h, uint64_t ns);
void hb_metrics_add(hb_metrics *m, hb_metric_counter c, uint64_t n);

uint64_t hb_metrics_counter(hb_metrics *m, hb_metric_counter c);
void hb_metrics_hist(hb_metrics *m, hb_metric_hist h, hb_hist_snapshot *out);

/* Estimate of the q-quantile (0 < q <= 1) in nanoseconds: the bucket that
 * holds the rank, interpolated linearly within it, clamped to the
 * observed min and max. So the error is at most a factor of 2, and exact
 * when every sample is the same. 0 when empty. */
uint64_t hb_hist_quantile_ns(const hb_hist_snapshot *s, double q);

const char *hb_metric_hist_name(hb_metric_hist h);
const char *hb_metric_counter_name(hb_metric_counter c);

/* {"counters":{"calls":N,...},"latency_ms":{"call":{"count":N,"mean":..,
 *  "min":..,"p50":..,"p95":..,"p99":..,"max":..},...}} as a malloc'ed,
 * compact JSON string (jansson). Returns 0 or -ENOMEM. */
int hb_metrics_json(hb_metrics *m, char **out);

/* Human-readable block for `hotbox status`: one line of counters, then one
 * line per non-empty histogram ("call       n=120  p50 0.08 ms  p95 ..."). */
int hb_metrics_text(hb_metrics *m, char **out);

#endif /* HB_MONITOR_H */
