/* cli/test/test.h - `hotbox test`, shared by its files:
 *   options.c   the command line
 *   discover.c  finding plugin directories under the DIR arguments
 *   build.c     building them, the upgrade base, recording upgrade results
 *   plan.c      which cases run, grouped into jobs (one sandbox each)
 *   run.c       running jobs on threads through hb_run_test
 *   capture.c   the worker's captured stdout/stderr per case
 *   output.c    progress lines, JSON-lines events, TAP
 *   sanreport.c a sanitizer's report as a failure's text (--sanitize)
 *   coverage.c  --coverage DIR: the report and its summary line
 *   command.c   cmd_test: the above in order, the summary, the JUnit file
 *   stages.c    time per stage of the run (HOTBOX_TEST_STAGES)
 *   prepare.c   the next jobs' sandboxes readied while a job runs, and
 *               finished sandboxes ended off the job's thread
 * Uses only the public API. Threads: the manager is shared; every job owns
 * its own sandbox, used by that job's thread only. */
#ifndef HB_CLI_TEST_H
#define HB_CLI_TEST_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "cli.h"
#include "report.h"

#define OUTPUT_KEEP (64 * 1024) /* captured output kept per test */
#define MAX_DEPTH 4             /* how deep DIR arguments are searched for plugins */
#define MAX_PLUGINS 4096

typedef struct tplugin {
    char *dir, *name;
    char *object;            /* --object FILE: a prebuilt object (dir is NULL) */
    bool built;
    uint64_t version;        /* of the new build */
    char *build_error;
    double build_ms;
    double build_t0;         /* when its build started (epoch seconds) */
    char **exports;          /* hb_free */
    uint64_t prev;           /* --upgrade: the base version (hb_upgrade_base), or 0 */
    size_t up_first, up_end; /* --upgrade: its upgrade-path cases */
    bool bad_from;           /* --from names no usable base: reported like a build error */
    char **prev_exports;
    size_t ntests;
} tplugin;

typedef enum step_kind {
    STEP_TEST = 0,  /* run a test in the active version */
    STEP_BUILD,     /* the synthetic build failure */
    STEP_NOTESTS,   /* --require-tests and none */
    STEP_TO_OLD,    /* upgrade: load the new build, roll back to prev */
    STEP_UPGRADE,   /* hb_reload to the new build */
    STEP_ROLLBACK,  /* hb_rollback to prev */
} step_kind;

typedef struct step {
    step_kind kind;
    tplugin *p;
    const char *symbol; /* STEP_TEST */
    size_t case_idx;
} step;

typedef struct job {
    tplugin *p;
    step *steps;
    size_t nsteps;
} job;

/* The stages of a run, timed (stages.c). */
typedef enum cli_stage {
    CLI_STAGE_OPTIONS = 0, /* option parsing, discovery, report files opened */
    CLI_STAGE_MANAGER,     /* hb_manager_new: store and catalogue */
    CLI_STAGE_BUILD,       /* compiler probes, input hashing, cache lookup */
    CLI_STAGE_PLAN,
    CLI_STAGE_WORKER,      /* hb_sandbox_new: a worker started (summed over jobs) */
    CLI_STAGE_LOAD,        /* the plugin (and its providers) loaded */
    CLI_STAGE_TESTS,       /* the cases run and reported */
    CLI_STAGE_SANDBOX_END, /* hb_sandbox_free: the worker ended */
    CLI_STAGE_REPORTS,     /* summary, JUnit, --json summary */
    CLI_STAGE_TEARDOWN,    /* the manager closed, temporary files removed */
    CLI_STAGE_N
} cli_stage;

typedef struct run {
    const cli_global *g;
    hb_manager *m;
    /* options */
    unsigned jobs_n;
    const char *pattern;
    unsigned repeat;
    bool fail_fast, require_tests, allow_empty, upgrade, tap, json, verbose;
    uint64_t from;          /* --from: the explicit upgrade base, or 0 */
    const char *from_snapshot; /* --from-snapshot: the state every plugin starts from */
    unsigned timeout_ms;
    unsigned shard_i, shard_n;
    const char *junit_path;
    const char *sanitize;    /* --sanitize LIST, or NULL */
    bool record;             /* --record: calls recorded for hotbox replay */
    const char *coverage;    /* --coverage DIR, or NULL */
    char *gcda_dir;          /* with --coverage: <tmpdir>/gcda, this run's counters */
    bool no_carry;           /* --no-carry: hb_sandbox_options.no_carry */
    const char **dirs;
    size_t ndirs;
    const char *objects[32];  /* --object FILE: prebuilt plugin objects */
    size_t nobjects;

    FILE *junit;
    char *tmpdir;
    tplugin *plugins;
    size_t nplugins;
    tr_case *cases;
    size_t ncases;
    job *jobs;
    size_t njobs;

    pthread_mutex_t lock;    /* next_job, printing, tap numbering */
    size_t next_job;
    size_t tap_num;
    atomic_bool stop;        /* fail-fast tripped, or cancelled */
    atomic_int cancel_sig;   /* SIGTERM/SIGINT that cancelled the run; 0 = none */
    hb_sandbox **live;       /* [njobs]: each job's open sandbox (under lock) */
    atomic_size_t running;   /* job threads still running */
    int done_fd;             /* eventfd: the last job thread is done */
    FILE *human;             /* progress lines: stdout, or stderr with --tap/--json */
    double stage_ms[CLI_STAGE_N]; /* under lock (stages.c) */
    unsigned builds;         /* hb_build calls (build.c; stages.c prints it) */
    unsigned pool_idle;      /* pooled workers never used, at the end (stages.c prints it) */
    atomic_bool compiled;    /* a build compiled or failed (not a cache hit): run.c's
                              * event callback sets it, build.c reads it */
    struct pipeline *pipe;   /* prepare.c */
    struct prestart *pre;    /* prepare.c */
} run;

static inline double cli_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wall-clock time in seconds since the epoch: report timestamps. */
static inline double cli_test_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* options.c: fills R's options and dirs; returns -1 to go on, or the exit
 * code (help printed, usage error reported). */
int cli_test_options(run *R, int argc, char **argv);
/* "I/N" with 1 <= I <= N. */
int hb__cli_parse_shard(const char *s, unsigned *i, unsigned *n);

/* discover.c: adds the plugins under dir (an explicit argument must be a
 * directory and is itself a plugin when it holds sources). */
int cli_test_discover(run *R, const char *dir, int depth, bool explicit_arg);
/* --object FILE: a plugin to test from a prebuilt object, named when the
 * build step stores it. */
int cli_test_add_object(run *R, const char *path);

/* build.c */
void cli_test_build_all(run *R);
void cli_test_record_upgrades(run *R);

/* plan.c: the cases and jobs; -ENOMEM. */
int cli_test_plan(run *R);
size_t cli_test_count_tests(char **exports);

/* cancel.c: SIGTERM/SIGINT block from the start of the run (cli_test_block_signals);
 * cli_test_wait_jobs waits for the job threads, and when a signal comes
 * first it stops the run: no further case starts, every open sandbox's
 * worker is killed (the case it ran is reported as cancelled), and the
 * reports are written for what ran; the exit code is then 128+signal. */
void cli_test_block_signals(void);
void cli_test_wait_jobs(run *R);
void cli_test_set_live(run *R, size_t jobno, hb_sandbox *sb);

/* A job being run: its sandbox, its capture file, the events of its
 * current step. Set up (and its sandbox opened) by the job's thread or
 * ahead of it by prepare.c; then used by one thread at a time. */
typedef struct jctx {
    run *R;
    job *J;
    size_t jobno;
    hb_sandbox *sb;
    int cap_fd;
    char *cap_path;
    char *events; /* interesting events during the current step (state resets) */
    size_t announced; /* 1 + the case whose start was reported last (batches) */
    bool opened;      /* the sandbox was opened ahead: open_r, open_err say how */
    int open_r;
    char *open_err;
} jctx;

/* run.c: a thread's loop (takes jobs until none is left); the manager's
 * event callback (routes events to the job that caused them). */
void *cli_test_worker(void *R);
void cli_test_on_event(const hb_event *ev, void *ud);
/* The job's capture file, and with load its sandbox with the plugin loaded
 * (unless the job needs none or the run has stopped). Any thread. */
void cli_test_job_setup(run *R, size_t jobno, jctx *j, bool load);
/* Ends what job_setup made (the sandbox, synchronously) and frees j's fields. */
void cli_test_job_release(jctx *j);
/* A sandbox for p's tests, its output to cap_path (hb_sandbox_new). */
int cli_test_sandbox_new(run *R, const tplugin *p, const char *cap_path, hb_sandbox **out);
/* Where job jobno's worker writes its output (malloc'ed; NULL: ENOMEM). */
char *cli_test_cap_path(const run *R, size_t jobno);

/* prepare.c: the pipeline of a run. While a job runs its tests, the
 * sandboxes of the next jobs (up to -j of them) are started and loaded on
 * helper threads, and a finished job's sandbox is ended on a helper
 * thread, so no job waits for a worker to start or to exit; tests still
 * run one at a time per job thread (-j). Works the same whether
 * hb_sandbox_new starts a worker or takes a pre-started one. */
void cli_test_pipeline_init(run *R);   /* before the job threads */
void cli_test_pipeline_finish(run *R); /* after them: every helper joined */
void cli_test_prepare_ahead(run *R);   /* starts preparing the next jobs */
/* The job's context prepared ahead (the preparation waited for), or NULL
 * when none was started (and none will be). */
jctx *cli_test_prepared(run *R, size_t jobno);
/* Frees sb on a helper thread (joined by cli_test_pipeline_finish). */
void cli_test_close_later(run *R, hb_sandbox *sb);
/* Before the builds: the first plugin's worker started on a helper thread
 * while the build cache is looked up (not with --from-snapshot, --record,
 * --upgrade, --sanitize or --object, whose sandboxes depend on the builds).
 * cli_test_prestart_wait waits for that helper (before reading the
 * manager's last error, which it could set). cli_test_prestarted hands the
 * sandbox to the first job when that job is p's, else ends it; NULL when
 * there is none. cli_test_prestart_finish ends one never claimed. */
void cli_test_prestart(run *R);
void cli_test_prestart_wait(run *R);
hb_sandbox *cli_test_prestarted(run *R, const tplugin *p);
void cli_test_prestart_finish(run *R);

/* capture.c: the worker appends stdout and stderr to a capture file; it is
 * emptied before each case and read after it. */
char *cli_test_read_capture(int fd);
/* Bytes [from, to) of it (to past the end: to the end); NULL when none. */
char *cli_test_read_capture_range(int fd, uint64_t from, uint64_t to);
void cli_test_reset_capture(int fd);

/* sanreport.c: a sanitizer finding in a test's output: the failure's
 * message (UBSan's report; ASan's SUMMARY line) and, for ASan, the
 * trimmed report as details (else NULL); false when there is none. */
bool cli_test_sanitizer_report(const char *output, char **message, char **details);

/* coverage.c: with --coverage, the reports written to DIR and the summary
 * line printed (after every job's sandbox is gone); false when that
 * failed (said). */
bool cli_test_coverage_report(run *R);

/* stages.c: ms added to stage s (any thread); the stages printed on
 * stderr when HOTBOX_TEST_STAGES is set. */
void cli_test_stage_add(run *R, cli_stage s, double ms);
void cli_test_stages_print(const run *R, double total_ms);

/* output.c */
void cli_test_emit_json(run *R, json_t *o); /* takes o */
void cli_test_json_stage(run *R, const char *stage, const char *plugin, double ms, bool ok,
                         uint64_t version);
void cli_test_json_start(run *R, const tr_case *c);
void cli_test_report_case(run *R, tr_case *c);
void cli_test_note(run *R, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
