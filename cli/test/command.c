/* cli/test/command.c - `hotbox test`: options, discovery, builds, the plan,
 * the jobs on threads, then the summary and the reports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static void run_free(run *R)
{
    for (size_t i = 0; i < R->nplugins; i++) {
        tplugin *p = &R->plugins[i];
        free(p->dir);
        free(p->object);
        free(p->name);
        free(p->build_error);
        hb_free(p->exports);
        hb_free(p->prev_exports);
    }
    cli_test_prestart_finish(R); /* before the plugins it points into */
    hb_pool_stats ps;
    if (R->m && hb_manager_pool_stats(R->m, &ps) == 0) /* stages.c prints it */
        R->pool_idle = ps.ready + ps.starting;
    free(R->plugins);
    for (size_t i = 0; i < R->ncases; i++)
        tr_case_release(&R->cases[i]);
    free(R->cases);
    for (size_t i = 0; i < R->njobs; i++)
        free(R->jobs[i].steps);
    free(R->jobs);
    hb_manager_free(R->m);
    R->m = NULL;
    if (R->gcda_dir)
        cli_remove_tree(R->gcda_dir);
    free(R->gcda_dir);
    if (R->tmpdir)
        rmdir(R->tmpdir);
    free(R->tmpdir);
    if (R->junit)
        fclose(R->junit);
    hb_manager_free(R->m);
}

/* Every DIR argument, searched; -1 to go on, or the exit code. */
static int discover_all(run *R)
{
    bool empty_dir = false;
    for (size_t i = 0; i < R->ndirs; i++) {
        size_t before = R->nplugins;
        int r = cli_test_discover(R, R->dirs[i], 0, true);
        if (r < 0) {
            if (r != -ENOTDIR && r != -EEXIST)
                cli_error("test: %s: %s", R->dirs[i], strerror(-r));
            return HB_EXIT_FAILED;
        }
        if (R->nplugins == before) {
            cli_test_note(R, "no plugins found under %s", R->dirs[i]);
            empty_dir = true;
        }
    }
    for (size_t i = 0; i < R->nobjects; i++) /* named when stored (build.c) */
        if (cli_test_add_object(R, R->objects[i]) < 0)
            return HB_EXIT_FAILED;
    if (empty_dir && R->require_tests) {
        cli_error("test: a directory without plugins (--require-tests)");
        return HB_EXIT_FAILED;
    }
    return -1;
}

static int open_manager(run *R)
{
    const char *tmp = getenv("TMPDIR");
    R->tmpdir = tr_printf("%s/hotbox-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!R->tmpdir || !mkdtemp(R->tmpdir)) {
        cli_error("test: cannot create a temporary directory: %s", strerror(errno));
        free(R->tmpdir);
        R->tmpdir = NULL;
        return -1;
    }
    hb_manager_options mo;
    hb_manager_options_init(&mo, HB_MANAGER_OPTIONS_VERSION);
    cli_manager_options(R->g, &mo);
    /* A sandbox per plugin: with two or more, the pool has the next one's
     * worker started while a plugin's tests run. With one, a pooled worker
     * would only be started after its sandbox, waited for and killed at
     * exit. */
    if (R->nplugins > 1)
        mo.worker_pool = ((hb_manager_options)HB_MANAGER_OPTIONS_INIT).worker_pool;
    mo.on_event = cli_test_on_event;
    mo.event_userdata = R;
    mo.sanitize = R->sanitize;
    if (R->coverage) {
        /* This run's counters only: a fresh directory, reported at the end.
         * A root manager's jailed worker runs as another uid: it must be
         * able to pass through the temporary directory to its own (the
         * files in it stay 0600). */
        R->gcda_dir = tr_printf("%s/gcda", R->tmpdir);
        if (chmod(R->tmpdir, 0711) < 0)
            cli_error("test: chmod %s: %s", R->tmpdir, strerror(errno));
        mo.coverage_dir = R->gcda_dir;
    }
    int r = hb_manager_new(&mo, &R->m);
    if (r == -EINVAL && R->sanitize)
        cli_error("test: --sanitize %s: supported sanitizers: address, undefined", R->sanitize);
    else if (r < 0)
        cli_state_error(R->g, r);
    return r;
}

static void run_jobs(run *R)
{
    unsigned nthreads = R->jobs_n < R->njobs ? R->jobs_n : (unsigned)R->njobs;
    pthread_t *th = calloc(nthreads ? nthreads : 1, sizeof(*th));
    R->live = calloc(R->njobs + 1, sizeof(*R->live));
    R->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    unsigned started = 0;
    cli_test_pipeline_init(R);
    atomic_store(&R->running, nthreads);
    for (; th && R->done_fd >= 0 && started < nthreads; started++)
        if (pthread_create(&th[started], NULL, cli_test_worker, R) != 0)
            break;
    atomic_fetch_sub(&R->running, nthreads - started);
    if (started == 0)
        cli_test_worker(R); /* no threads: run everything here */
    else
        cli_test_wait_jobs(R); /* or a signal that cancels the run */
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    cli_test_pipeline_finish(R);
    free(th);
    if (R->done_fd >= 0)
        close(R->done_fd);
    free(R->live);
    R->live = NULL;
}

/* The summary line, the JSON summary and the JUnit file; the exit code. */
static int finish(run *R, double wall_ms)
{
    size_t npass = 0, nfail = 0, nskip = 0, found = 0;
    for (size_t i = 0; i < R->ncases; i++) {
        npass += R->cases[i].status == TR_PASS;
        nfail += R->cases[i].status == TR_FAIL;
        nskip += R->cases[i].status == TR_SKIP || R->cases[i].status == TR_PENDING;
    }
    for (size_t i = 0; i < R->nplugins; i++)
        found += R->plugins[i].ntests;
    int rc = nfail ? HB_EXIT_FAILED : HB_EXIT_OK;
    /* Nothing to run is a failure unless asked for: a CI job whose tests
     * silently vanished (a renamed directory, a -k typo) must not pass. A
     * shard left empty by a small suite is fine. */
    bool empty = R->ncases == 0 && (R->shard_n <= 1 || found == 0);
    if (empty && !R->allow_empty) {
        cli_error("test: no tests found%s (--allow-empty accepts that)",
                  found && R->pattern ? " matching -k" : "");
        rc = HB_EXIT_FAILED;
    }
    if (R->junit) {
        int w = junit_write(R->junit, R->cases, R->ncases);
        if (fclose(R->junit) != 0 && w == 0)
            w = -EIO;
        R->junit = NULL;
        if (w < 0) {
            cli_error("test: writing %s failed: %s", R->junit_path, strerror(-w));
            rc = HB_EXIT_FAILED;
        }
    }
    if (R->json)
        cli_test_emit_json(R, json_pack("{s:s, s:I, s:I, s:I, s:f}", "event", "summary", "passed",
                                        (json_int_t)npass, "failed", (json_int_t)nfail, "skipped",
                                        (json_int_t)nskip, "ms", cli_round_ms(wall_ms)));
    if (nskip)
        fprintf(R->human, "%zu passed, %zu failed, %zu skipped\n", npass, nfail, nskip);
    else
        fprintf(R->human, "%zu passed, %zu failed\n", npass, nfail);
    return rc;
}

int cmd_test(const cli_global *g, int argc, char **argv)
{
    run R0 = {.g = g}, *R = &R0;
    double start = cli_test_now_ms(), mark = start;
    pthread_mutex_init(&R->lock, NULL);
    R->done_fd = -1;
    cli_test_block_signals();
    int rc = cli_test_options(R, argc, argv);
    if (rc >= 0)
        goto out;
    rc = HB_EXIT_FAILED;
    R->human = (R->tap || R->json) ? stderr : stdout;
    /* Report paths are checked before anything runs. */
    if (R->junit_path && !(R->junit = fopen(R->junit_path, "we"))) {
        cli_error("test: cannot write the JUnit report %s: %s", R->junit_path, strerror(errno));
        rc = HB_EXIT_USAGE;
        goto out;
    }
    if ((rc = discover_all(R)) >= 0)
        goto out;
    rc = HB_EXIT_FAILED;
    cli_test_stage_add(R, CLI_STAGE_OPTIONS, cli_test_now_ms() - mark);
    mark = cli_test_now_ms();
    if (open_manager(R) < 0)
        goto out;
    double t0 = cli_test_now_ms();
    cli_test_stage_add(R, CLI_STAGE_MANAGER, t0 - mark);
    cli_test_prestart(R); /* the first worker starts while the builds run */
    cli_test_build_all(R);
    mark = cli_test_now_ms();
    cli_test_stage_add(R, CLI_STAGE_BUILD, mark - t0);
    if (cli_test_plan(R) < 0) {
        cli_error("test: out of memory");
        goto out;
    }
    if (R->tap) {
        printf("TAP version 13\n1..%zu\n", R->ncases);
        fflush(stdout);
    }
    cli_test_stage_add(R, CLI_STAGE_PLAN, cli_test_now_ms() - mark);
    run_jobs(R);
    double wall = cli_test_now_ms() - t0;
    mark = cli_test_now_ms();
    cli_test_record_upgrades(R);
    /* Before the summary, which stays the last line. */
    bool cov_ok = !R->coverage || atomic_load(&R->cancel_sig) || cli_test_coverage_report(R);
    rc = finish(R, wall);
    if (!cov_ok)
        rc = HB_EXIT_FAILED;
    if (atomic_load(&R->cancel_sig))
        rc = 128 + atomic_load(&R->cancel_sig);
    cli_test_stage_add(R, CLI_STAGE_REPORTS, cli_test_now_ms() - mark);
out:
    mark = cli_test_now_ms();
    run_free(R);
    double end = cli_test_now_ms();
    R->stage_ms[CLI_STAGE_TEARDOWN] += end - mark; /* the threads are gone */
    cli_test_stages_print(R, end - start);
    pthread_mutex_destroy(&R->lock);
    return rc;
}
