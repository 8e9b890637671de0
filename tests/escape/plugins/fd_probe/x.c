/* What plugin code finds open in its worker (tests/escape/test_worker_fds.c):
 * fds() counts the open fds above 2 that are namespaces (a link in
 * /proc/self/fd naming "user:[", "pid:[", "net:[" or "mnt:["), which a
 * worker must never keep (the jail's user namespace is passed at fd 9);
 * is_open(fd) says whether fd is open. */
#include <hotbox/plugin.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

HB_EXPORT_FN int32_t is_open(int32_t fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

HB_EXPORT_FN int32_t ns_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int32_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], to[256];
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, to, sizeof(to) - 1);
        if (k <= 0)
            continue;
        to[k] = 0;
        if (!strncmp(to, "user:[", 6) || !strncmp(to, "pid:[", 5) || !strncmp(to, "net:[", 5) ||
            !strncmp(to, "mnt:[", 5))
            n++;
    }
    closedir(d);
    return n;
}

HB_PLUGIN("fd_probe", 1, 0, 0, 0, 0);
