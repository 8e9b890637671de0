/* Plugin code of one sandbox reaching for another sandbox's worker of the
 * same manager (tests/escape/test_uid_split.c): both run unjailed under a
 * root manager, each as the uid of its own sandbox. xsb(path, op, pid):
 *   0 create path, mode 0600, holding a secret   1 open path for reading
 *   2 kill(pid, 0)                               3 open /proc/pid/environ
 *   4 open /proc/pid/maps                        5 open /proc/pid/fd
 *   6 this worker's pid                          7 this worker's uid
 *   8 1 when the working directory is /, else 0
 *   9 connect to the abstract UNIX socket named path
 * Returns 0 (or the value asked for) when the attempt worked, else -errno. */
#define _GNU_SOURCE
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int32_t open_ret(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

static int32_t abstract_connect(const char *name)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t n = strnlen(name, sizeof(a.sun_path) - 1);
    memcpy(a.sun_path + 1, name, n);
    int r = connect(s, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
    int e = errno;
    close(s);
    return r < 0 ? -e : 0;
}

HB_EXPORT_FN int32_t xsb(const char *path, int32_t op, int32_t pid)
{
    char p[64];
    switch (op) {
    case 0: {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return -errno;
        ssize_t w = write(fd, "secret", 6);
        close(fd);
        return w == 6 ? 0 : -EIO;
    }
    case 1: return open_ret(path, O_RDONLY);
    case 2: return kill((pid_t)pid, 0) < 0 ? -errno : 0;
    case 3: snprintf(p, sizeof(p), "/proc/%d/environ", (int)pid); return open_ret(p, O_RDONLY);
    case 4: snprintf(p, sizeof(p), "/proc/%d/maps", (int)pid); return open_ret(p, O_RDONLY);
    case 5:
        snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
        return open_ret(p, O_RDONLY | O_DIRECTORY);
    case 6: return (int32_t)getpid();
    case 7: return (int32_t)getuid();
    case 8: {
        struct stat here, root;
        if (stat(".", &here) < 0 || stat("/", &root) < 0)
            return -errno;
        return here.st_dev == root.st_dev && here.st_ino == root.st_ino;
    }
    case 9: return abstract_connect(path);
    default: return -EINVAL;
    }
}

HB_PLUGIN("cross_sb", 1, 0, 0, 0, 0);
