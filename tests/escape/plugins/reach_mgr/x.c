/* Escape attempt on the manager where no jail hides it (namespaces
 * unavailable: the worker runs with the manager's uid, or as root, and
 * sees its pid). Safe probe: esc() opens the manager's /proc/<pid>/mem
 * for writing and closes it without writing (0 when it could, else
 * -errno). */
#define _GNU_SOURCE
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(int32_t pid)
{
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/mem", (int)pid);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

HB_PLUGIN("reach_mgr", 1, 0, 0, 0, 0);
