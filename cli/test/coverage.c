/* cli/test/coverage.c - --coverage DIR: after the run (every job's
 * sandbox freed, so every worker wrote its counters), the library turns
 * this run's counters into reports in DIR (hb_coverage_report); here its
 * line is printed (and a `coverage` JSON event), before the summary. */
#include <string.h>

#include "test.h"

static double pct(uint64_t hit, uint64_t all)
{
    return all ? 100.0 * (double)hit / (double)all : 0.0;
}

bool cli_test_coverage_report(run *R)
{
    hb_coverage_summary s;
    int r = hb_coverage_report(R->m, R->coverage, &s);
    if (r < 0) {
        cli_error("test: --coverage %s: %s", R->coverage, hb_manager_last_error(R->m));
        return false;
    }
    fprintf(R->human,
            "coverage: lines %.1f%% (%llu of %llu), functions %.1f%% (%llu of %llu) in %u "
            "file%s; report in %s (coverage.info, *.gcov)\n",
            pct(s.lines_hit, s.lines), (unsigned long long)s.lines_hit,
            (unsigned long long)s.lines, pct(s.functions_hit, s.functions),
            (unsigned long long)s.functions_hit, (unsigned long long)s.functions, s.files,
            s.files == 1 ? "" : "s", R->coverage);
    if (s.stale)
        fprintf(R->human,
                "coverage: %u source%s left out of older builds (changed since they were "
                "compiled)\n", s.stale, s.stale == 1 ? "" : "s");
    if (R->json)
        cli_test_emit_json(R, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "event",
                                        "coverage", "dir", R->coverage, "lines",
                                        (json_int_t)s.lines, "lines_hit",
                                        (json_int_t)s.lines_hit, "functions",
                                        (json_int_t)s.functions, "functions_hit",
                                        (json_int_t)s.functions_hit, "files",
                                        (json_int_t)s.files, "stale", (json_int_t)s.stale));
    return true;
}
