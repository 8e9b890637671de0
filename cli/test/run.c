/* cli/test/run.c - running the planned jobs: each thread takes the next
 * job, opens its sandbox (the plugin after the plugins it imports from),
 * and runs its steps: tests in batches through hb_run_tests (one round
 * trip per batch; hb_run_test's rules, shared with watch mode), one at a
 * time through hb_run_test under --fail-fast, upgrade-path swaps, with
 * recovery from a broken sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* Events run on the calling thread: a thread-local pointer routes them to
 * the job that caused them. */
static _Thread_local jctx *cur_job;

void cli_test_on_event(const hb_event *ev, void *ud)
{
    run *R = ud;
    if ((ev->type == HB_EVENT_COMPILED && ev->compile_ms > 0) ||
        ev->type == HB_EVENT_COMPILE_FAILED)
        atomic_store(&R->compiled, true);
    jctx *j = cur_job;
    if (!j || (ev->type != HB_EVENT_STATE_RESET && ev->type != HB_EVENT_WARNING &&
               ev->type != HB_EVENT_RESTARTED))
        return;
    if (cli_is_machine_notice(ev))
        return; /* the machine's, not the case's (hotbox doctor shows it) */
    char *s = tr_printf("%s%s\n", j->events ? j->events : "", ev->message ? ev->message : "");
    if (s) {
        free(j->events);
        j->events = s;
    }
}

/* Loads a plugin after the plugins it depends on (found among the plugins
 * of this run), each once. */
static int load_with_providers(run *R, hb_sandbox *sb, tplugin *p, unsigned depth)
{
    uint64_t have;
    if (hb_active_version(sb, p->name, &have) == 0)
        return 0; /* already loaded as someone's provider */
    char **deps = NULL;
    if (depth < 16 && hb_version_depends(R->m, p->name, 0, &deps) == 0) {
        for (char **d = deps; *d; d++)
            for (size_t i = 0; i < R->nplugins; i++)
                if (!strcmp(R->plugins[i].name, *d))
                    load_with_providers(R, sb, &R->plugins[i], depth + 1);
        hb_free(deps);
    }
    return p->object ? hb_load_object_as(sb, p->object, p->name) : hb_load(sb, p->dir);
}

int cli_test_sandbox_new(run *R, const tplugin *p, const char *cap_path, hb_sandbox **out)
{
    hb_sandbox_options o;
    hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION);
    o.name = p->name;
    o.profile = R->g->profile;
    o.trust_plugin_runtime = R->g->trust_plugin_runtime;
    o.worker = R->g->worker;
    o.call_timeout_ms = R->timeout_ms;
    o.swap_timeout_ms = R->timeout_ms;
    o.output_path = cap_path;
    o.from_snapshot = R->from_snapshot;
    char *record_dir = R->record ? cli_record_dir(R->m) : NULL;
    o.record_dir = record_dir;
    o.no_carry = R->no_carry;
    int r = hb_sandbox_new(R->m, &o, out);
    free(record_dir);
    return r;
}

static int open_sandbox(jctx *j, double *load_ms, char **err)
{
    run *R = j->R;
    double t0 = cli_test_now_ms();
    /* The first job may find its worker started during the builds. */
    j->sb = j->jobno == 0 ? cli_test_prestarted(R, j->J->p) : NULL;
    int r = j->sb ? 0 : cli_test_sandbox_new(R, j->J->p, j->cap_path, &j->sb);
    double t1 = cli_test_now_ms();
    cli_test_stage_add(R, CLI_STAGE_WORKER, t1 - t0);
    if (r < 0) {
        *err = tr_printf("cannot start a worker: %s: %s", hb_strerror(r), hb_manager_last_error(R->m));
        return r;
    }
    r = load_with_providers(R, j->sb, j->J->p, 0);
    *load_ms = cli_test_now_ms() - t0;
    cli_test_stage_add(R, CLI_STAGE_LOAD, *load_ms - (t1 - t0));
    if (r < 0) {
        *err = tr_printf("loading %s failed: %s", j->J->p->name, hb_sandbox_last_error(j->sb));
        hb_sandbox_free(j->sb);
        j->sb = NULL;
    }
    cli_test_json_stage(R, "load", j->J->p->name, *load_ms, r == 0, j->J->p->version);
    if (r == 0)
        cli_test_set_live(R, j->jobno, j->sb);
    return r;
}

/* Whether the sandbox must be rebuilt before the next step: it failed
 * (crash loop) or lost the plugin. */
static bool sandbox_broken(int r)
{
    return r == HB_EFAILED || r == HB_ENOPLUGIN || r == HB_EWORKER;
}

/* The captured output and the harness events of the step just run. */
static void collect(jctx *j, tr_case *c)
{
    c->output = cli_test_read_capture(j->cap_fd);
    c->events = j->events;
    j->events = NULL;
}

/* Ends the job's sandbox (its worker), timed. */
static void free_sandbox(jctx *j)
{
    double t0 = cli_test_now_ms();
    hb_sandbox_free(j->sb);
    j->sb = NULL;
    cli_test_stage_add(j->R, CLI_STAGE_SANDBOX_END, cli_test_now_ms() - t0);
}

/* A test's case from its result; le: the text of its error. */
static void finish_test_case(jctx *j, tr_case *c, hb_test_result res, const char *le)
{
    c->ms = res.ms;
    c->status = res.passed ? TR_PASS : TR_FAIL;
    if (res.passed)
        return;
    const char *fn = res.failed_in;
    if (res.error == 0)
        c->message = tr_printf("%s returned %d", fn, (int)res.returned);
    else if (res.error == HB_EHUNG)
        c->message = tr_printf("%s timed out after %u ms (worker killed)", fn, j->R->timeout_ms);
    else if (res.error == HB_ECRASHED)
        c->message = tr_printf("%s crashed: %s", fn, le);
    else
        c->message = tr_printf("%s: %s", fn, hb_strerror(res.error));
    if (res.error)
        c->body = tr_dup(le);
    /* Under --sanitize a finding ends the worker with its report on the
     * plugin's output: the report is the failure's text. */
    char *rep = NULL, *details = NULL;
    if (j->R->sanitize && res.error == HB_ECRASHED &&
        cli_test_sanitizer_report(c->output, &rep, &details)) {
        free(c->message);
        c->message = tr_printf("%s: sanitizer finding: %s", fn, rep);
        if (details) {
            free(c->body);
            c->body = details;
            details = NULL;
        }
    }
    free(rep);
    free(details);
    if (atomic_load(&j->R->cancel_sig)) {
        /* Its worker was killed to stop the run: not a result. */
        free(c->message);
        c->status = TR_SKIP;
        c->message = tr_printf("cancelled by %s", strsignal(atomic_load(&j->R->cancel_sig)));
    }
    if (sandbox_broken(res.error)) {
        cli_test_set_live(j->R, j->jobno, NULL);
        free_sandbox(j);
    }
}

static void run_test_step(jctx *j, step *s, tr_case *c)
{
    cli_test_reset_capture(j->cap_fd);
    c->t0 = cli_test_wall();
    hb_test_result res;
    int r = hb_run_test(j->sb, s->p->name, s->symbol, &res);
    if (r < 0)
        res = (hb_test_result){.failed_in = s->symbol, .error = r};
    collect(j, c);
    finish_test_case(j, c, res, hb_sandbox_last_error(j->sb));
}

/* Most tests sent to the worker in one round trip. */
#define BATCH_MAX 256

/* One hb_run_tests call's cases, reported as each test ends: each gets
 * its own byte range of the capture file (the worker says where each
 * test's output ends), its start time and result, and the harness events
 * that came while it ran; the next case is announced started. */
typedef struct batch_view {
    jctx *j;
    step *steps; /* the call's first */
    size_t n;    /* steps in the call */
    uint64_t from; /* where the next test's output begins */
    double t0;     /* when the next test started */
} batch_view;

/* Reports a batch's case as started, once. */
static void announce(jctx *j, size_t case_idx)
{
    if (j->announced == case_idx + 1)
        return;
    j->announced = case_idx + 1;
    cli_test_json_start(j->R, &j->R->cases[case_idx]);
}

static void on_test_done(void *ud, size_t i, const hb_test_outcome *o)
{
    batch_view *v = ud;
    jctx *j = v->j;
    tr_case *c = &j->R->cases[v->steps[i].case_idx];
    c->t0 = v->t0;
    v->t0 = cli_test_wall();
    c->output = cli_test_read_capture_range(j->cap_fd, v->from, o->output_end);
    if (o->output_end != UINT64_MAX)
        v->from = o->output_end;
    c->events = j->events;
    j->events = NULL;
    finish_test_case(j, c, o->result, o->error_text);
    cli_test_report_case(j->R, c);
    if (j->R->fail_fast && !o->result.passed)
        atomic_store(&j->R->stop, true);
    if (i + 1 < v->n && !atomic_load(&j->R->stop))
        announce(j, v->steps[i + 1].case_idx);
}

/* Runs the tests that follow each other from step k as batches (one round
 * trip each, hb_run_tests) until one ends the sandbox or the run stops.
 * Returns how many steps it ran (0: none; the caller runs step k alone). */
static size_t run_test_batch(jctx *j, size_t k)
{
    run *R = j->R;
    job *J = j->J;
    size_t n = 0;
    while (k + n < J->nsteps && n < BATCH_MAX && J->steps[k + n].kind == STEP_TEST &&
           J->steps[k + n].p == J->steps[k].p)
        n++;
    const char **names = malloc(n * sizeof(*names));
    hb_test_outcome *out = malloc(n * sizeof(*out));
    size_t done = 0;
    for (size_t i = 0; names && i < n; i++)
        names[i] = J->steps[k + i].symbol;
    while (names && out && done < n && j->sb && !atomic_load(&R->stop)) {
        cli_test_reset_capture(j->cap_fd);
        batch_view v = {j, &J->steps[k + done], n - done, 0, cli_test_wall()};
        announce(j, v.steps[0].case_idx);
        size_t ran = 0;
        int r = hb_run_tests(j->sb, J->steps[k].p->name, names + done, n - done, out + done,
                             &ran, on_test_done, &v);
        if (r < 0) { /* the first could not run: its failure, as hb_run_test's */
            out[done] = (hb_test_outcome){.result = {.failed_in = names[done], .error = r},
                                          .output_end = UINT64_MAX};
            snprintf(out[done].error_text, sizeof(out[done].error_text), "%s",
                     hb_sandbox_last_error(j->sb));
            v.n = 1;
            on_test_done(&v, 0, &out[done]);
            ran = 1;
        }
        done += ran;
    }
    free(names);
    free(out);
    return done;
}

/* Upgrade-path swaps. */
static void run_swap_step(jctx *j, step *s, tr_case *c)
{
    tplugin *p = s->p;
    cli_test_reset_capture(j->cap_fd);
    c->t0 = cli_test_wall();
    double t0 = cli_test_now_ms();
    int r;
    const char *what;
    uint64_t want;
    if (s->kind == STEP_UPGRADE) {
        what = "hot swap to the new build";
        want = p->version;
        r = p->object ? hb_load_object_as(j->sb, p->object, p->name) : hb_reload(j->sb, p->name);
    } else {
        what = s->kind == STEP_TO_OLD ? "switch to the previous version" : "rollback";
        want = p->prev;
        r = hb_rollback(j->sb, p->name, p->prev);
    }
    uint64_t active = 0;
    if (r == 0 && hb_active_version(j->sb, p->name, &active) == 0 && active != want)
        r = HB_ENOVERSION;
    c->ms = cli_test_now_ms() - t0;
    collect(j, c);
    if (r == 0) {
        c->status = TR_PASS;
        return;
    }
    c->status = TR_FAIL;
    if (r == HB_ENOVERSION && active)
        c->message = tr_printf("%s: v%" PRIu64 " is active, not v%" PRIu64, what, active, want);
    else
        c->message = tr_printf("%s failed: %s", what, hb_strerror(r));
    c->body = tr_dup(hb_sandbox_last_error(j->sb));
}

static void skip_rest(run *R, job *J, size_t from, const char *why)
{
    for (size_t k = from; k < J->nsteps; k++) {
        tr_case *c = &R->cases[J->steps[k].case_idx];
        if (c->status != TR_PENDING)
            continue;
        c->status = TR_SKIP;
        c->message = tr_dup(why);
        cli_test_report_case(R, c);
    }
}

static void fail_rest(run *R, job *J, size_t from, const char *why, const char *body)
{
    for (size_t k = from; k < J->nsteps; k++) {
        tr_case *c = &R->cases[J->steps[k].case_idx];
        if (c->status != TR_PENDING)
            continue;
        c->status = TR_FAIL;
        c->message = tr_dup(why);
        c->body = tr_dup(body);
        cli_test_report_case(R, c);
    }
    if (R->fail_fast)
        atomic_store(&R->stop, true);
}

char *cli_test_cap_path(const run *R, size_t jobno)
{
    return tr_printf("%s/job-%zu.out", R->tmpdir, jobno);
}

/* Whether a job's steps need a sandbox (a build failure or a plugin
 * without tests is reported without one). */
static bool needs_sandbox(const job *J)
{
    for (size_t k = 0; k < J->nsteps; k++)
        if (J->steps[k].kind != STEP_BUILD && J->steps[k].kind != STEP_NOTESTS)
            return true;
    return false;
}

void cli_test_job_setup(run *R, size_t jobno, jctx *j, bool load)
{
    *j = (jctx){R, &R->jobs[jobno], jobno, NULL, -1, NULL, NULL, 0, false, 0, NULL};
    j->cap_path = cli_test_cap_path(R, jobno);
    if (j->cap_path)
        j->cap_fd = open(j->cap_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (!load || j->cap_fd < 0 || !needs_sandbox(j->J) || atomic_load(&R->stop))
        return;
    /* Events of the load (a state reset from a snapshot) belong to the
     * job's first case, whichever thread loads. */
    jctx *was = cur_job;
    cur_job = j;
    double load_ms = 0;
    j->opened = true;
    j->open_r = open_sandbox(j, &load_ms, &j->open_err);
    cur_job = was;
}

void cli_test_job_release(jctx *j)
{
    cli_test_set_live(j->R, j->jobno, NULL);
    if (j->sb)
        free_sandbox(j);
    if (j->cap_fd >= 0)
        close(j->cap_fd);
    if (j->cap_path)
        unlink(j->cap_path);
    free(j->cap_path);
    free(j->events);
    free(j->open_err);
    j->cap_fd = -1;
    j->cap_path = j->events = j->open_err = NULL;
}

static void run_job(run *R, job *J, size_t jobno)
{
    jctx own, *jp = cli_test_prepared(R, jobno);
    if (!jp) {
        jp = &own;
        cli_test_job_setup(R, jobno, jp, false);
    }
    jctx *j = jp;
    cur_job = j;
    /* While this job runs, the next ones' sandboxes are made ready. */
    cli_test_prepare_ahead(R);
    if (j->cap_fd < 0) {
        fail_rest(R, J, 0, "cannot create the output capture file", j->cap_path);
        goto out;
    }
    for (size_t k = 0; k < J->nsteps; k++) {
        step *s = &J->steps[k];
        tr_case *c = &R->cases[s->case_idx];
        if (atomic_load(&R->stop)) {
            int sig = atomic_load(&R->cancel_sig);
            char *why = sig ? tr_printf("cancelled by %s", strsignal(sig)) : NULL;
            skip_rest(R, J, k, why ? why : "fail-fast: an earlier test failed");
            free(why);
            break;
        }
        if (s->kind == STEP_BUILD) {
            c->status = TR_FAIL;
            c->ms = s->p->build_ms;
            c->t0 = s->p->build_t0;
            c->message = s->p->bad_from
                             ? tr_printf("%s cannot be upgraded from --from %" PRIu64, s->p->name,
                                         R->from)
                         : s->p->object ? tr_printf("%s is not a loadable plugin object", s->p->object)
                                        : tr_printf("%s does not compile", s->p->name);
            c->body = tr_dup(s->p->build_error);
            cli_test_report_case(R, c);
            if (R->fail_fast)
                atomic_store(&R->stop, true);
            continue;
        }
        if (s->kind == STEP_NOTESTS) {
            c->status = TR_FAIL;
            c->message = tr_printf("%s exports no hb_test_* functions (--require-tests)", s->p->name);
            cli_test_report_case(R, c);
            if (R->fail_fast)
                atomic_store(&R->stop, true);
            continue;
        }
        if (!j->sb) {
            double load_ms = 0;
            int r = j->opened ? j->open_r : open_sandbox(j, &load_ms, &j->open_err);
            j->opened = false; /* a later reopen (after a crash loop) is this thread's */
            if (r < 0) {
                fail_rest(R, J, k, "the plugin could not be loaded", j->open_err);
                break;
            }
            if (R->upgrade && s->kind != STEP_TO_OLD && J->steps[0].kind == STEP_TO_OLD) {
                /* The worker was replaced mid-sequence: the state the rest of
                 * the upgrade path checks is gone. */
                fail_rest(R, J, k, "the sandbox had to be recreated mid-upgrade", NULL);
                break;
            }
        }
        double ts = cli_test_now_ms();
        /* Batches run in the worker without CALL frames: --record (which
         * records each test's call for hotbox replay) and --fail-fast (which
         * stops at the first failure) run one test per round trip. */
        if (s->kind == STEP_TEST && !R->fail_fast && !R->record) {
            size_t done = run_test_batch(j, k); /* reported there */
            if (done) {
                k += done - 1;
                cli_test_stage_add(R, CLI_STAGE_TESTS, cli_test_now_ms() - ts);
                continue;
            }
        }
        cli_test_json_start(R, c);
        if (s->kind == STEP_TEST)
            run_test_step(j, s, c);
        else
            run_swap_step(j, s, c);
        cli_test_report_case(R, c);
        cli_test_stage_add(R, CLI_STAGE_TESTS, cli_test_now_ms() - ts);
        if (c->status == TR_FAIL && R->fail_fast)
            atomic_store(&R->stop, true);
        if (c->status == TR_FAIL && s->kind != STEP_TEST) {
            /* Without the swap the rest of the upgrade path means nothing. */
            char *why = tr_printf("not run: %s", c->message ? c->message : "the swap failed");
            skip_rest(R, J, k + 1, why ? why : "not run: the swap failed");
            free(why);
            break;
        }
    }
out:
    /* The worker's end is not waited for here: the next job starts. */
    cli_test_set_live(R, jobno, NULL);
    if (j->sb)
        cli_test_close_later(R, j->sb);
    j->sb = NULL;
    cli_test_job_release(j);
    cur_job = NULL;
}

void *cli_test_worker(void *arg)
{
    run *R = arg;
    bool thread = R->done_fd >= 0 && atomic_load(&R->running) > 0;
    for (;;) {
        pthread_mutex_lock(&R->lock);
        size_t i = R->next_job++;
        pthread_mutex_unlock(&R->lock);
        if (i >= R->njobs)
            break;
        run_job(R, &R->jobs[i], i);
    }
    if (thread && atomic_fetch_sub(&R->running, 1) == 1) {
        uint64_t one = 1;
        if (write(R->done_fd, &one, sizeof(one)) < 0) { /* the waiter polls it: cannot be full */
        }
    }
    return NULL;
}
