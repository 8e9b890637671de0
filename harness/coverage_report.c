/* harness/coverage_report.c - hb_coverage_report (stub, filled below). */
#include <errno.h>

#include "harness.h"

int hb_coverage_report(hb_manager *m, const char *out_dir, hb_coverage_summary *out)
{
    (void)m;
    (void)out_dir;
    (void)out;
    return -ENOSYS;
}
