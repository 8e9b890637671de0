/* cli/test/stages.c - where the time of one `hotbox test` run goes, per
 * stage, printed on stderr when HOTBOX_TEST_STAGES is set (bench_testrun
 * reads it; docs/testing.md). Job stages (worker start, load, tests,
 * sandbox end) are summed over the jobs, so with -j N they can add up to
 * more than the wall time. */
#include <stdlib.h>

#include "test.h"

static const char *const stage_names[CLI_STAGE_N] = {
    [CLI_STAGE_OPTIONS] = "options",   [CLI_STAGE_MANAGER] = "manager",
    [CLI_STAGE_BUILD] = "build",       [CLI_STAGE_PLAN] = "plan",
    [CLI_STAGE_WORKER] = "worker",     [CLI_STAGE_LOAD] = "load",
    [CLI_STAGE_TESTS] = "tests",       [CLI_STAGE_SANDBOX_END] = "sandbox_end",
    [CLI_STAGE_REPORTS] = "reports",   [CLI_STAGE_TEARDOWN] = "teardown",
};

void cli_test_stage_add(run *R, cli_stage s, double ms)
{
    pthread_mutex_lock(&R->lock);
    R->stage_ms[s] += ms;
    pthread_mutex_unlock(&R->lock);
}

void cli_test_stages_print(const run *R, double total_ms)
{
    if (!getenv("HOTBOX_TEST_STAGES"))
        return;
    fprintf(stderr, "hotbox test stages (ms):");
    for (int s = 0; s < CLI_STAGE_N; s++)
        fprintf(stderr, " %s=%.3f", stage_names[s], R->stage_ms[s]);
    fprintf(stderr, " total=%.3f builds=%u pool_idle=%u\n", total_ms, R->builds, R->pool_idle);
}
