/* Escape attempt on the manager's rlimits where no jail hides its pid
 * (see reach_mgr): prlimit of another process. Safe: it only reads the
 * manager's RLIMIT_CPU (setting it to 1 s would kill the manager). */
#define _GNU_SOURCE
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(int32_t pid)
{
    struct rlimit old;
    if (syscall(SYS_prlimit64, (pid_t)pid, RLIMIT_CPU, NULL, &old) < 0)
        return -errno;
    return 0;
}
HB_PLUGIN("reach_mgr_limit", 1, 0, 0, 0, 0);
