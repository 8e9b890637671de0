/* Escape attempts of plugin code in an unjailed worker of a root manager
 * (tests/escape/test_rootdrop.c): the worker must have dropped root, so
 * each attempt fails with -EACCES or -EPERM. esc(path, op):
 *   0 open path for reading        1 open path for writing
 *   2 chown path to 65534:65534    3 chmod path 0777
 *   4 the worker's uid
 * (Signalling the manager: tests/escape/plugins/kill_mgr.)
 * Returns 0 (or the uid) when the attempt worked, else -errno. */
#define _GNU_SOURCE
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(const char *path, int32_t op)
{
    int r = 0;
    switch (op) {
    case 0:
    case 1: {
        int fd = open(path, (op ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        close(fd);
        return 0;
    }
    case 2: r = chown(path, 65534, 65534); break;
    case 3: r = chmod(path, 0777); break;
    case 4: return (int32_t)getuid();
    default: return -EINVAL;
    }
    return r < 0 ? -errno : 0;
}

HB_PLUGIN("root_drop", 1, 0, 0, 0, 0);
