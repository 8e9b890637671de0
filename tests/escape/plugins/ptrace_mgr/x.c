/* Escape attempt: PTRACE_ATTACH to the manager (pid given by the test, and
 * the parent as the worker sees it). */
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(int32_t pid)
{
    if (ptrace(PTRACE_ATTACH, (pid_t)pid, 0, 0) < 0)
        return -errno;
    return 0;
}
HB_PLUGIN("ptrace_mgr", 1, 0, 0, 0, 0);
