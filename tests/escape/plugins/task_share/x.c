/* Escape attempt on the host's pid space: a pid namespace does not bound
 * how many of the host's pids its tasks take, so a thread bomb (threads
 * with tiny stacks fit by the thousand into RLIMIT_AS) could leave the
 * machine unable to fork. Safe probe: esc() reports the worker's
 * RLIMIT_NPROC (the bound on its uid's tasks); no thread is started. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>

/* RLIMIT_NPROC's hard limit (INT64_MAX for unlimited). */
HB_EXPORT_FN int64_t esc(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) < 0)
        return -errno;
    return rl.rlim_max == RLIM_INFINITY ? INT64_MAX : (int64_t)rl.rlim_max;
}

HB_PLUGIN("task_share", 1, 0, 0, 0, 0);
