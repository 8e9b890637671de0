/*
 * harness/harness.h - private to the harness: the manager and sandbox
 * structures and the pipeline steps shared by its files.
 *
 * The harness is the only module that knows all the others: it takes
 * sources to the compiler, objects to the ELF checks and the store, and
 * versions to a sandbox's worker over the wire protocol.
 */
#ifndef HB_HARNESS_H
#define HB_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "hotbox/hotbox.h"
#include "compiler.h"
#include "monitor.h"
#include "security.h"
#include "audit.h"
#include "elf.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "options.h"
#include "proto.h"
#include "wire.h"
#include "settings.h"

/* ---- worker client (worker_client.c) ---------------------------------- */

/* The steps of a worker's start (hb__wc_spawn), in order. */
enum hb_ws_stage {
    HB_WS_PREP,    /* objects view entry, pipes, ring memfd + mmap, bwrap argv */
    HB_WS_FORK,    /* fork + exec (keeper thread), pidfd */
    HB_WS_CONFINE, /* bwrap's namespaces, the worker's exec and seccomp: its
                      first frame, the filter's listener, taken */
    HB_WS_HELLO,   /* HELLO round trip */
    HB_WS_WATCH,   /* the inner pid and its pidfd, the denial watcher started */
    HB_WS_COUNT
};

typedef struct hb_wclient {
    pid_t pid;        /* 0 when no worker; bwrap's pid when wrapped */
    pid_t worker_pid; /* the worker process itself (inside bwrap): what
                         usage, the watch view and gdb -p want */
    int worker_pidfd; /* of worker_pid when wrapped, else -1 */
    int pidfd;
    int fd;           /* our end of the socketpair */
    uint32_t next_id;
    int wait_status;  /* valid after the worker was reaped (bwrap's 128+n is
                         turned back into "killed by signal n") */
    bool reaped;
    /* Security (set by hb__wc_spawn): the profile the worker runs under,
     * whether bwrap wraps it, the system call the seccomp filter denied
     * during the last request ("" if none; read by us from the filter's
     * listener, never taken from the worker's word), and the missing
     * protection the caller must emit as an HB_EVENT_WARNING ("" if none). */
    hb_profile profile;
    bool wrapped;
    bool run_as; /* unjailed, it dropped root (security/rootdrop.c): LOAD and
                    SWAP name objects by their path in the sandbox's view */
    char denied[96];
    bool has_listener; /* listener holds the seccomp filter's listener fd */
    int listener;
    char warning[320];
    hb_limits limits; /* the rlimits it runs under, to name the one it died of */
    /* The last request never reached the worker: it had died before (the
     * send failed). Nothing the request asked for ran, so no version is
     * to blame for that death. */
    bool undelivered;
    /* hb__wc_stop_begin sent SHUTDOWN (request stop_id); hb__wc_stop waits
     * for its reply until stop_deadline (hb__now_ns clock). */
    bool stopping;
    uint32_t stop_id;
    uint64_t stop_deadline;
    /* The fatal signal the worker reported during the last request
     * (HB_MSG_FAULT), and the plugin version whose code faulted (plugin ""
     * when the pc was in no plugin). valid is false when none came. */
    struct hb_wfault {
        bool valid, retired;
        uint32_t signo;
        uint64_t pc, addr, version;
        char plugin[128];
        /* Symbolized from the FAULT's backtrace (crash_trace.c): " at foo
         * (foo.c:12)" for the faulting frame, and one line per plugin
         * frame ("  #0 foo (foo.c:12) in foo v3"); "" when unknown. */
        char at[480];
        char trace[3072];
    } fault;
    /* The shared-memory call ring (proto/ring.h), mapped for the worker's
     * life; NULL when it could not be set up (calls then use the socket).
     * spin_ns is the caller's adaptive spin budget. */
    struct hb_ring *ring;
    uint32_t spin_ns;
    /* A ring CALL is in flight: the bell value that announced it (the
     * worker had not taken it if it died before: undelivered), and whether
     * the caller stopped spinning and waits for WAKE on the socket. */
    bool ring_pending, ring_sleeping;
    uint32_t ring_bell;
    /* A ring reply's payload, copied out of the ring once (HB_RING_SLOT
     * bytes, allocated with the first reply): the reply a call decodes
     * (hb__wc_reply_release) without an allocation per call. */
    uint8_t *ring_rep;
    /* hb__wc_alive saw the seccomp listener readable: a plugin thread waits
     * in a denied call; the next CALL fails with it before it is posted. */
    bool denial_pending;
    hb_store *store; /* symbolizes fault backtraces (from hb_wspawn) */
    /* A worker inside a microVM guest (guest.h); NULL for a process worker.
     * vm_died: the last death was QEMU's own exit, not the worker's. */
    struct hb_guest *guest;
    bool vm_died;
    /* The guest worker died and its VM was kept (hb__guest_park): a
     * restart reuses it; hb__wc_stop frees it. */
    bool guest_reusable;
    /* Once the worker runs, its seccomp listener is read by the process's
     * denial watcher (denial_watch.h), not by calls; NULL: no filter, or
     * the listener stayed here (has_listener) because the watcher could
     * not take it. */
    struct hb_dwatch *dwatch;
    /* How long each step of this worker's start took (hb_ws_stage), for
     * benchmarks (hb__sandbox_new_stages). */
    uint64_t start_ns[HB_WS_COUNT];
    /* When its death was seen and when it was reaped (hb__now_ns clock). */
    uint64_t death_seen_ns, reaped_ns;
} hb_wclient;

/* Receives interim frames (CHECKPOINT, TEST_DONE) of a request. Return <0
 * to abort, >0 to give the rest of the request a fresh timeout (a batch's
 * next test). */
typedef int (*hb_interim_fn)(const hb_frame *f, void *ud);

/* How a worker is started: the binary, its stdout/stderr (NULL inherits),
 * the security profile, and the limits it enforces. */
typedef struct hb_wspawn {
    const char *worker_path;
    const char *output_path;
    hb_profile profile;
    uint64_t max_state;
    const char *objects_dir;  /* read-only in the worker's view */
    const char *objects_view; /* what is shown at objects_dir: the sandbox's
                                 view (security/jail.h); NULL: objects_dir */
    hb_limits limits;         /* rlimits applied before exec */
    const char *scratch_dir;  /* the worker's only writable place */
    hb_cgroup *cgroup;        /* joined before exec; NULL: none */
    hb_store *store;          /* where fault backtraces are symbolized; NULL: not */
    char *const *env;         /* plugin.json runtime env ("NAME=value"); NULL: none */
    char *const *data_dirs;   /* plugin.json runtime data, read-only; NULL: none */
    /* Instrumented plugins (harness/sanitize.c): the runtime the worker
     * loads first (--preload), the one directory it may write (bound
     * read-write: the .gcda files) and the variables that point there.
     * NULL: none. */
    const char *preload;
    const char *write_dir;
    char *const *inst_env;
    bool guest;               /* HB_WORKER_MICROVM: inside a microVM (guest.h) */
    char *const *allow[3];    /* plugin.json runtime.allow, resolved, by
                                 hb_allow_kind (security/allow.h); NULL: none */
} hb_wspawn;

int hb__wc_spawn(hb_wclient *wc, const hb_wspawn *how, char **err);

/* wspawn.c. An owned copy of spawn settings: how points at the copy's own
 * strings (the fields below), so it outlives the sandbox it came from. */
typedef struct hb_wspawn_own {
    hb_wspawn how;
    char *worker_path, *output_path, *objects_dir, *objects_view, *preload, *write_dir,
        *scratch_dir;
    char **env, **data_dirs, **inst_env, **allow[3];
} hb_wspawn_own;
int hb__wspawn_own_copy(hb_wspawn_own *o, const hb_wspawn *how); /* 0 or -ENOMEM */
void hb__wspawn_own_release(hb_wspawn_own *o);
/* Whether a worker started with a runs exactly as one started with b would
 * (same binary, profile, filter, view contents, limits, env, output path).
 * late_bound: the parts a taker replaces after the start (the cgroup, the
 * objects view and which file the output goes to, pool.c) are not
 * compared. */
bool hb__wspawn_same(const hb_wspawn *a, const hb_wspawn *b, bool late_bound);
/* HELLO: proves the peer is a hotbox worker of our protocol; *pid (may be
 * NULL) is the pid it reports (in its own pid namespace). HB_EPROTO for a
 * wrong magic, else hb__wc_request's codes. */
int hb__wc_hello(hb_wclient *wc, uint64_t max_state, unsigned timeout_ms, uint32_t *pid,
                 char **err);
/* A fresh request id: encode the request with it (proto.h). */
uint32_t hb__wc_next_id(hb_wclient *wc);
/* Sends a request (encoded by proto.h; an encoding failure is reported
 * here, as HB_ELIMIT or -ENOMEM) and waits for its reply.
 *  0            OK; *reply holds the OK frame (release it)
 *  code < 0     ERR from the worker; *err is its message
 *  HB_ECRASHED  the worker died; *err says how (it has been reaped)
 *  HB_EHUNG     no reply within timeout_ms; the worker was killed and reaped
 *  HB_EPROTO    garbage on the channel; the worker was killed and reaped */
int hb__wc_request(hb_wclient *wc, hb_wbuf *req, unsigned timeout_ms,
                   hb_interim_fn interim, void *ud, hb_frame *reply, char **err);
/* hb__wc_request for a CALL (no interim frames): through the shared-memory
 * ring when the worker has one and the frame fits a slot, otherwise (and
 * for large replies) over the socket. Same results and guarantees. A
 * wrapped worker whose bwrap is found killed after the request was posted
 * (hb__wc_alive_for_call left it to the call) is killed and the call
 * answered by nothing it did: HB_ECRASHED with wc->undelivered set, as for
 * a worker found dead before the call (the caller recovers and says
 * HB_ESTATELOST when state was lost). *clock
 * holds the hb__now_ns() the call started at; it is set to the time the
 * reply was taken (one clock read serves the caller's timing too). */
int hb__wc_call(hb_wclient *wc, hb_wbuf *req, unsigned timeout_ms, uint64_t *clock,
                hb_frame *reply, char **err);
/* Shared by worker_client.c and ring_client.c. hb__wc_await waits for
 * the reply of request id (results as hb__wc_request). hb__wc_settle
 * ends request id with frame f: 0 (OK, *reply takes f), ERR's code, or
 * HB_EPROTO for another request's frame (worker killed); 1 leaves f to the
 * caller. hb__wc_take_denial: a plugin thread stopped in a denied call
 * ends the worker now (returns HB_ECRASHED saying so), else 0.
 * hb__wc_take_ring_reply reads a ring CALL's reply (ring_client.c). */
int hb__wc_await(hb_wclient *wc, uint32_t id, uint64_t deadline, unsigned timeout_ms,
                 hb_interim_fn interim, void *ud, hb_frame *reply, char **err);
int hb__wc_settle(hb_wclient *wc, uint32_t id, hb_frame *f, hb_frame *reply, char **err);
int hb__wc_take_denial(hb_wclient *wc, char **err);
/* The client's own listener polled readable (revents): 1 when a plugin
 * thread is stopped in a denied call (wc->denied names it), 0 when there
 * was nothing to read or the listener hung up (closed then) (denial_watch.c). */
int hb__wc_observe_denial(hb_wclient *wc, short revents);
int hb__wc_take_ring_reply(hb_wclient *wc, uint32_t id, hb_frame *reply, char **err);
/* Releases a reply hb__wc_call returned (its payload may be wc's own
 * buffer for ring replies). */
void hb__wc_reply_release(hb_wclient *wc, hb_frame *reply);
/* " in <plugin> v<N>[, a version no longer active ...][ at <function> (<file>:<line>)]
 * (pc 0x.., address 0x..)"
 * when the dead worker reported a fault in plugin code, else "". */
void hb__wc_fault_place(const hb_wclient *wc, char *buf, size_t len);
/* How a reaped worker ended: "killed by SIGSEGV (...)", "plugin called X
 * (denied by the P profile)" (a guest's agent reports that after the fact),
 * or "its microVM died (QEMU ...)". */
void hb__wc_describe_end(const hb_wclient *wc, char *buf, size_t len);
/* HB_ECRASHED with "worker <what> <how it ended><where>[\nbacktrace:...]". */
int hb__wc_describe_death(hb_wclient *wc, char **err, const char *what);
/* Keeps what an HB_MSG_FAULT frame says in wc->fault (symbolized). */
void hb__wc_record_fault(hb_wclient *wc, const hb_frame *f);
/* Fills out->at and out->trace from the backtrace of FAULT m, symbolized
 * against the stored objects of store (crash_trace.c). */
void hb__crash_trace(hb_store *store, const hb_proto_fault *m, struct hb_wfault *out);
/* Whether the worker process still runs. */
bool hb__wc_alive(hb_wclient *wc);
/* hb__wc_alive, leaving a wrapped worker's bwrap to the call about to be
 * made: hb__wc_call asks bwrap's pidfd after posting, while the worker
 * serves (one system call off the round trip's critical path). */
bool hb__wc_alive_for_call(hb_wclient *wc);
/* Asks the worker to shut down (fini hooks run), waits up to grace_ms,
 * then kills it. Always leaves wc empty. */
void hb__wc_stop(hb_wclient *wc, unsigned grace_ms);
/* Sends SHUTDOWN now without waiting; the next hb__wc_stop waits for it
 * against a deadline grace_ms from now. Stopping many workers this way
 * costs one grace period, not one per worker. */
void hb__wc_stop_begin(hb_wclient *wc, unsigned grace_ms);
/* Kills and reaps at once. */
void hb__wc_kill(hb_wclient *wc);
/* Closes what the client holds and ends the worker's watch (a denial the
 * watcher named is kept for hb__wc_describe_death); the real worker of a
 * wrapped one is killed and waited for (bounded). */
void hb__wc_reset(hb_wclient *wc);
/* A wait status as if unwrapped: bwrap's exit 128+n reads as signal n. */
int hb__wc_unwrap_status(const hb_wclient *wc, int st);

/* What a sandbox's worker runs with under plugin.json runtime sections
 * (harness/runtime.c): resolved lists are NULL-terminated; sig is their
 * canonical text (equal sig, equal worker). */
typedef struct hb_rt_worker {
    hb_profile profile;
    hb_limits limits;
    unsigned cpu_percent;
    char **env, **data, **allow[3];
    char *sig;
} hb_rt_worker;

/* ---- manager ------------------------------------------------------------ */

struct hb_manager {
    hb_manager_options opts;
    bool holds_dwatch; /* hb__dwatch_hold taken: released by hb_manager_free */
    char *state_dir;     /* absolute */
    char *include_dir;   /* <state_dir>/include, holds hotbox/plugin.h */
    char *tmp_dir;       /* <state_dir>/tmp, compile job directories */
    char *objects_dir;   /* <state_dir>/objects, the stored shared objects */
    char *worker_path;
    char *cc;
    char *cc_origin;          /* opts.cc_origin, copied; NULL: the caller chose cc */
    char *cflags_text; /* as given; split by the compiler (flags_text) */
    char *sanitize;    /* hb_manager_options.sanitize, checked; NULL: none */
    bool asan;         /* sanitize names "address" */
    pthread_mutex_t san_lock; /* the ASan runtime probe, once */
    char *asan_runtime;       /* its SONAME once probed ("libasan.so.8"); NULL: not yet */
    char *asan_error;         /* why the probe failed (then asan_code < 0); NULL: it did not */
    int asan_code;
    char *gcda_dir;    /* hb_manager_options.coverage_dir, absolute; NULL: no coverage */
    char **inst_env;   /* GCOV_PREFIX, GCOV_PREFIX_STRIP for the workers */
    char *notes_dir;   /* <state_dir>/coverage-notes: .gcno files by job name */
    hb_store *store;
    pthread_mutex_t lock; /* guards store, sandboxes list, last_error */
    char *last_error;
    struct hb_sandbox *sandboxes;
    unsigned next_sandbox;
    hb_metrics *metrics;
    char *run_dir;       /* <state_dir>/run: records of live workers */
    hb_compiler *compiler;   /* isolation backends, the microvm pool */
    bool selection_told;     /* the backend choice was announced */
    hb_cgroup_site cg;       /* cgroup v2, probed once (monitor/cgroup.c) */
    hb_audit *audit;         /* <state_dir>/audit.log */
    struct hb_pool *pool;    /* pre-started workers (pool.c); NULL: none */
    struct hb__build_memo *build_memo; /* hb_build's last results (build_memo.c); under lock */
};

/* ---- sandbox ------------------------------------------------------------ */

typedef struct hb_slot {
    char *name;
    char *dir;            /* absolute plugin directory */
    uint64_t version;     /* active version */
    /* plugin.json's runtime section as read when a version of it was last
     * (re)activated or before its last swap (runtime.c). */
    hb__runtime_settings rt;
    char sha[HB_SHA256_HEX];
    char *path;           /* object path of the active version */
    uint32_t schema;
    uint32_t hooks;       /* HB_PROTO_HOOK_* (init, fini, save, migrate) */
    hb_ckset ckpts;
    uint64_t last_ckpt_ns;
    bool restore_fresh;   /* restart: skip the checkpoint (it failed) */
    uint64_t calls_since_ckpt; /* calls whose effect a restart would lose */
    bool state_lost;      /* a restart lost state: the next call says so */
    bool restored_older;  /* the last restart restored not the latest checkpoint
                             (another layout) but its own version's last one */
    /* Probation of the active version after a swap. */
    bool on_probation;
    hb_probation prob;
    uint64_t prev_version; /* the version to roll back to */
    char prev_sha[HB_SHA256_HEX];
    uint32_t prev_schema;
    /* The DWARF analysis of one of its versions' objects (harness/carry.c),
     * kept so each object is analysed once; dwarf_sha names the object. */
    struct hb_dwarf_info *dwarf;
    char dwarf_sha[HB_SHA256_HEX];
    bool nodebug_said;    /* the "no debug info" notice was given */
    bool carry_off_said;  /* the "carry is off" notice was given */
    /* Whether version fixture_version exports hb_setup / hb_teardown
     * (selftest.c): a version's exports never change, so a test batch
     * does not read its record again. 0: not known. */
    uint64_t fixture_version;
    bool fixture_setup, fixture_teardown;
} hb_slot;

/* Steps of hb_sandbox_new (sandbox.c), beside the worker's (hb_ws_stage). */
enum hb_ns_stage {
    HB_NS_CGROUP, /* the sandbox's cgroup made */
    HB_NS_PREP,   /* sanitizer check, spawn parameters (the objects view) */
    HB_NS_SPAWN,  /* hb__wc_spawn, all of it */
    HB_NS_RECORD, /* the worker's pid recorded in run/ */
    HB_NS_COUNT
};

/* Stages of a crash recovery (recover.c times each; bench_core prints
 * them). The worker's death was seen and it was reaped at hb_sandbox
 * rs_at, when recover() began. */
enum hb_rs_stage {
    HB_RS_BACKOFF, /* waiting out the crash-loop backoff deadline */
    HB_RS_KILL,    /* the dead client closed and forgotten */
    HB_RS_WORKER,  /* a greeted worker: the spare taken (or waited for), or spawned */
    HB_RS_VERIFY,  /* each slot's stored object checked again */
    HB_RS_LOAD,    /* LOAD of each slot: dlopen + checkpoint restore */
    HB_RS_FINISH,  /* announce, metrics, spare refill started */
    HB_RS_COUNT
};

struct hb_sandbox {
    hb_manager *m;
    char *name;
    hb_sandbox_options opts;
    hb_wclient wc;
    hb_slot *slots;
    size_t nslots;
    char *last_error;
    hb_compile_result last_compile; /* diagnostics of the last failed build */
    hb_diagnostic *pub_diags;
    char *ret_str;
    hb_sig_cache sig_cache; /* the last hb_call's signature, parsed (call.c) */
    char *output_path;    /* owned copy of opts.output_path */
    double detect_ms;     /* set by watch mode while it reloads (events carry it) */
    bool named;           /* opts.name was given: checkpoints persist under it */
    hb_mon_policy *policy;/* crash-loop detection and restart backoff */
    bool failed;          /* crash loop: refuses work */
    /* opts.no_auto_restart: the worker died and nothing restarted it;
     * operations return HB_EDOWN until hb_sandbox_restart (control.c).
     * down_why is a string literal. */
    bool down;
    const char *down_why;
    struct hb_sandbox_plugin *pub_plugins; /* hb_sandbox_status_get's array */
    char **pub_snapshots;  /* hb_snapshot_list's NULL-terminated array */
    char *from_snapshot;   /* owned copy of opts.from_snapshot */
    size_t npub_snapshots;
    /* Crash-loop backoff is a deadline, not a wait: a worker that crashed
     * again soon is restarted by the next operation at or after
     * restart_due (hb__now_ns clock); restart_why says what it did. */
    bool restart_pending;
    uint64_t restart_due;
    const char *restart_why; /* a string literal */
    /* When the operation under way began (hb__ensure_worker, hb__now_ns
     * clock): a version on probation then that crashes or hangs in it is
     * rolled back, however long the hang took to be noticed. */
    uint64_t op_started_ns;
    uint64_t calls, crashes;
    char *last_crash;     /* the last crash's report (hb_sandbox_last_crash); NULL: none */
    int64_t last_crash_at;/* its wall-clock time, unix seconds */
    hb_limits limits;     /* rlimits of the worker */
    hb_cgroup *cg;        /* the sandbox's cgroup v2 (NULL: rlimits only) */
    hb_cpucap *cpucap;    /* v1 CPU cap on a hybrid machine (NULL: none or in cg) */
    uint64_t restarts;
    char *jail_view;      /* the objects this sandbox's worker may see (security/jail.h) */
    /* plugin.json runtime sections applied (runtime.c): what its workers
     * run with (computed from the options and every plugin's section), the
     * section of a plugin being loaded (no slot yet), and what the running
     * worker was started with. */
    hb_rt_worker rt;
    char *rt_pending_name;
    hb__runtime_settings rt_pending;
    char *rt_started;
    hb_profile rt_started_profile;
    hb_limits rt_started_limits;
    unsigned rt_started_cpu;
    unsigned cpucap_percent; /* the percent cpucap was made with */
    hb_cpucap *cpucap_retired; /* replaced while its worker ran: freed once
                                  the next worker has started */
    struct hb_sandbox *next;
    /* Watch mode, while it builds one plugin: when held is set, a build
     * failure's event is kept there instead of emitted (watch mode drops it
     * when the files changed during the build: a half-written save), and
     * build_fresh skips the compile cache (a build that raced a save may
     * have stored its object under the newer content's input hash). */
    struct hb_held_event *held;
    bool build_fresh;
    unsigned long failure_events; /* compile-failed and swap-failed emitted */
    const char *carry_report; /* while a swap event is emitted: its `carry` lines */
    hb_worker_kind worker_kind;   /* what opts.worker resolved to (worker_kind.c) */
    char *worker_why;             /* and why */
    struct hb_recorder *recorder; /* opts.record_dir: calls recorded (replay_record.c) */
    /* A worker started before it is needed, for the next restart
     * (spare.c); NULL until the first restart. from_spare: the last
     * restart handed over to one. */
    struct hb_spare *spare;
    bool from_spare;
    /* The last crash recovery (recover.c): when it began (hb__now_ns)
     * and how long each stage took. Read by hb__restart_stages. */
    uint64_t rs_at, rs_death_seen, rs_reaped; /* the last two: the dead client's */
    uint64_t rs_ns[HB_RS_COUNT];
    uint64_t new_ns[HB_NS_COUNT]; /* hb_sandbox_new's steps (hb_ns_stage) */
};

/* sandbox.c: how long each step of sb's hb_sandbox_new took (ns) and of
 * its worker's start (ws); for benchmarks (bench_profiles). */
void hb__sandbox_new_stages(const hb_sandbox *sb, uint64_t ns[HB_NS_COUNT],
                            uint64_t ws[HB_WS_COUNT]);

/* recover.c: the last crash recovery of sb: when it began (hb__now_ns
 * clock; 0: none yet), each stage's time into ns, and whether it handed
 * over to a spare. For benchmarks (bench_core). */
uint64_t hb__restart_stages(const hb_sandbox *sb, uint64_t ns[HB_RS_COUNT], bool *spare);
/* ... and when the dead worker's death was seen and when it was reaped
 * (0: not by a call's wait). */
void hb__restart_death(const hb_sandbox *sb, uint64_t *seen, uint64_t *reaped);

/* spare.c. refill: starts a spare for sb with how's parameters (copied),
 * on a thread of its own, unless one exists. take: when sb has a spare
 * (waits for it when it is still starting) started with the same
 * parameters as how and still running, moves it into *out (an empty
 * client) and returns true; otherwise drops it and returns false. free:
 * ends the spare and its thread. */
/* pool.c: the manager's pool of pre-started workers. A pooled worker's
 * cgroup is made by the pool with these limits (want: the cgroup site has
 * cgroups, so a sandbox would get one). new: none when max is 0. take: a
 * ready (or still starting: waited for) worker started with key and cgk
 * moves into *wc, its cgroup into *cg and its objects view into *view;
 * false: none (the sandbox starts its own). refill: starts one for key and
 * cgk off the caller's path, unless the pool has one. free: ends them. */
typedef struct hb_pool_cgroup {
    bool want;
    uint64_t memory, pids;
    unsigned cpu_percent;
} hb_pool_cgroup;
int hb__pool_new(hb_manager *m, unsigned max);
bool hb__pool_take(hb_manager *m, const hb_wspawn *key, const hb_pool_cgroup *cgk,
                   hb_wclient *wc, hb_cgroup **cg, char **view);
void hb__pool_refill(hb_manager *m, const hb_wspawn *key, const hb_pool_cgroup *cgk);
void hb__pool_free(hb_manager *m);

void hb__spare_refill(hb_sandbox *sb, const hb_wspawn *how);
bool hb__spare_take(hb_sandbox *sb, const hb_wspawn *how, hb_wclient *out);
void hb__spare_free(hb_sandbox *sb);

/* The call timeout of a slot's calls: its plugin.json runtime.call_timeout_ms
 * when set, never above the sandbox's call_timeout_ms (the ceiling). The
 * same for LOAD/SWAP/UNLOAD/SAVE of a plugin and swap_timeout_ms. runtime.c */
unsigned hb__slot_call_timeout(const hb_sandbox *sb, const hb_slot *s);
unsigned hb__swap_timeout(const hb_sandbox *sb, const char *plugin);

/* worker_kind.c: resolves hb_sandbox_options.worker. 0 with *used, or
 * HB_EISOLATION / -EINVAL; *why (malloc'ed) says why in every case. */
int hb__worker_kind_resolve(hb_worker_kind want, hb_worker_kind *used, char **why);
const char *hb__worker_kind_name(hb_worker_kind k);

/* ---- events ------------------------------------------------------------- */

typedef struct hb_timings {
    double compile_ms, verify_ms, swap_ms, total_ms;
    double store_ms; /* hb_store_add of a new build */
} hb_timings;

void hb__emit(hb_manager *m, hb_sandbox *sb, hb_event_type type, const char *plugin,
              uint64_t version, uint64_t previous, int code, const hb_timings *t,
              const char *fmt, ...) __attribute__((format(printf, 9, 10)));
/* A manager-level event carrying structured compiler diagnostics
 * (hb_event.diagnostics), e.g. the warnings of a successful compile. */
void hb__emit_diags(hb_manager *m, hb_event_type type, const char *plugin,
                    const hb_diagnostic *diags, size_t ndiags, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* An event kept back for its owner to emit (hb__emit_held) or drop. */
typedef struct hb_held_event {
    bool held;
    hb_event_type type;
    int code;
    hb_timings t;
    char *plugin, *message;
} hb_held_event;

void hb__hold_event(hb_held_event *h, hb_event_type type, const char *plugin, int code,
                    const hb_timings *t, const char *message);
void hb__emit_held(hb_manager *m, hb_sandbox *sb, hb_held_event *h); /* and clears it */
void hb__held_event_clear(hb_held_event *h);

/* ---- build (build.c) ------------------------------------------------------ */

typedef struct hb_build_out {
    hb_version_rec rec;       /* the stored version */
    bool cache_hit;           /* no compile happened */
    bool created;             /* a new version number was assigned */
    hb_compile_result cres;   /* compiler output (also on HB_ECOMPILE) */
    hb_timings t;
    /* The compile's job directory (NULL after a cache hit): removed by
     * hb__build_out_release, which reload and load call after their event,
     * so the removal (~1-3 ms of unlinks) is off the save -> swap path. */
    char *job;
} hb_build_out;

/* Builds dir into a stored, verified version of `plugin`. On failure *err
 * says what and where; out->cres may hold diagnostics. Always release out
 * with hb__build_out_release. */
int hb__build(hb_manager *m, const char *dir, const char *plugin, hb_build_out *out,
              char **err);
/* The same; use_cache false compiles even when a stored version's input
 * hash matches the files. With use_cache, the version hb_build last gave for
 * dir is taken when it passes hb__build_memo_get's checks, instead of
 * looking the cache up again (a load right after a build). */
int hb__build_ex(hb_manager *m, const char *dir, const char *plugin, bool use_cache,
                 hb_build_out *out, char **err);
void hb__build_out_release(hb_build_out *out);
/* The input hash the files version v read would have now (the compile
 * cache's check; file contents come from the hash cache, so unchanged files
 * cost a stat). -ENOENT when v has no input set or a source was added. */
int hb__build_input_hash(hb_manager *m, const char *dir, const char *plugin,
                         const hb_version_rec *v, char hash[HB_SHA256_HEX]);
/* Compile-cache lookups made so far, in this process (tests count them). */
uint64_t hb__build_cache_lookups(void);
/* Scans of a plugin directory's sources for sibling directories made so
 * far, in this process (one per cache lookup, however many input sets it
 * hashes, and one per compile; tests count them). */
uint64_t hb__build_sibling_scans(void);

/* build_memo.c: the version each plugin directory's last hb_build gave,
 * remembered by the manager (at most HB__BUILD_MEMO_MAX directories), so
 * that the load that follows does not look the build cache up again.
 * hb__build_memo_get hands out a copy only while it is still the version
 * the cache would give: the version is still stored (its status read
 * again) and its input files hash, through the hash cache, to its input
 * hash (a save since the build is noticed); else -ENOENT and the caller
 * looks the cache up. */
#define HB__BUILD_MEMO_MAX 64
void hb__build_memo_put(hb_manager *m, const char *dir, const hb_version_rec *rec);
int hb__build_memo_get(hb_manager *m, const char *dir, const char *plugin, hb_version_rec *out);
void hb__build_memo_free(hb_manager *m);

/* Emits, once per manager, which compiler isolation is in use and why. */
void hb__announce_isolation(hb_manager *m);

/* Builds several plugins at once (bounded by the cores), for watch mode's
 * first load. No events from the build threads; after they finish, this
 * thread emits a warning for each altered stored object they found (and
 * rebuilt). dirs/names are parallel arrays of n entries. */
void hb__build_parallel(hb_manager *m, char *const *dirs, char *const *names, size_t n);
/* Whether plugin's newest stored version was linked against other
 * providers than the plugins that export what it imports now (one built
 * beside its provider, before the provider was stored). */
bool hb__build_needs_relink(hb_manager *m, const char *plugin);

/* Verifies a stored object before it is loaded (checksum + ELF). An
 * object that does not match its checksum is reported: an audit record
 * ("object-mismatch", security) and a warning event. */
int hb__verify_object(hb_manager *m, const hb_version_rec *rec, char **err);
/* The fields of an hb_version_info every caller has room for (manager.c). */
void hb__rec_to_info(const hb_version_rec *r, hb_version_info *i);

/* Resolves a user-given plugin directory: absolute path and plugin name. */
int hb__resolve_plugin_dir(const char *dir, char **abs, char **name, char **err);

/* ---- sandbox internals (sandbox_impl.h has the rest) ---------------------------------------- */

hb_slot *hb__slot_find(hb_sandbox *sb, const char *name);
hb_wspawn hb__spawn_params(hb_sandbox *sb);

/* sanitize.c: hb_manager_options.sanitize checked (*out: a copy or NULL;
 * *asan: "address" named; -EINVAL for an unknown name); the ASan runtime
 * found once per manager, before the first worker that needs it (0, or
 * <0 with *err; -EINVAL under the strict profile, for ASan and coverage
 * alike); and a worker's spawn parameters for instrumented plugins. */
int hb__sanitize_check(const char *list, char **out, bool *asan);
int hb__sanitize_prepare(hb_manager *m, hb_profile profile, char **err);
void hb__sanitize_spawn(const hb_manager *m, hb_wspawn *how);

/* coverage.c: hb_manager_options.coverage_dir set up at hb_manager_new
 * (the .gcda directory, the workers' variables, the notes directory), the
 * notes of a compile kept after it succeeded (job: its job directory;
 * inputs: what it read, recorded with their hashes), and
 * what the manager holds released. */
int hb__coverage_setup(hb_manager *m, const char *dir);
void hb__coverage_keep_notes(hb_manager *m, const char *job, char *const *inputs);
#define HB_COVERAGE_SOURCES "sources" /* beside the notes: "SHA256 PATH" of each input */
void hb__coverage_release(hb_manager *m);
/* A copy of a regular file (not followed through a link; at most 64 MiB:
 * counters come from plugin code), written atomically, mode 0600. */
int hb__coverage_copy(const char *from, const char *to);
int hb__ensure_worker(hb_sandbox *sb);
/* hb__ensure_worker before a CALL (hb__wc_alive_for_call). */
int hb__ensure_worker_for_call(hb_sandbox *sb);
int hb__maybe_checkpoint(hb_sandbox *sb, hb_slot *s);
void hb__recover(hb_sandbox *sb, const char *plugin, uint64_t version, int code, const char *what);
/* Stops a sandbox whose manager is being freed and detaches it: the
 * caller's handle stays valid, every operation on it returns HB_EFAILED,
 * and hb_sandbox_free releases it (sandbox.c). */
void hb__sandbox_detach(hb_sandbox *sb);
/* Probation bookkeeping after a call or self-test (probation.c). */
void hb__probation_call(hb_sandbox *sb, const char *plugin, int result);
void hb__probation_selftests(hb_sandbox *sb, const char *plugin, unsigned failed,
                             const char *first_failure);

/* ---- dependency order (group.c) ------------------------------------------------- */

/* Reorders idx[0..n) (indexes into an array of records whose char * name
 * is at name_off) so that a plugin comes after every plugin it depends on
 * (from the store's latest versions). Unrelated plugins keep their order.
 * Cycles are left in their original order (hb_load reports them). */
void hb__dependency_order(hb_manager *m, size_t *idx, size_t n, const void *recs,
                          size_t rec_size, size_t name_off);

/* ---- misc ------------------------------------------------------------------ */

extern const char hb__plugin_h[];   /* embedded include/hotbox/plugin.h */
extern const size_t hb__plugin_h_len;

void hb__set_mgr_error(hb_manager *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* HB_HARNESS_H */
