/* Escape attempt: kill the manager (pid given by the test). */
#include <hotbox/plugin.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>

HB_EXPORT_FN int32_t esc(int32_t pid)
{
    return kill((pid_t)pid, SIGKILL) < 0 ? -errno : 0;
}
HB_PLUGIN("kill_mgr", 1, 0, 0, 0, 0);
