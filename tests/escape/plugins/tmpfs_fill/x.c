/* Escape attempt on the host's memory: a tmpfs in the jail is RAM that no
 * rlimit counts, so a plugin filling /tmp, /dev or /dev/shm could pin the
 * host's memory. Probes only: esc() says how many MiB dir could hold
 * (statvfs), create() whether a file can be made in dir. Nothing is
 * filled. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) < 0)
        return -errno;
    unsigned long long mib = (unsigned long long)v.f_blocks * v.f_frsize >> 20;
    return mib > INT32_MAX ? INT32_MAX : (int32_t)mib;
}

/* 0 when a file could be created in dir (and was removed), else -errno. */
HB_EXPORT_FN int32_t create(const char *dir)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/hb-escape-probe", dir);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    close(fd);
    unlink(p);
    return 0;
}
HB_PLUGIN("tmpfs_fill", 1, 0, 0, 0, 0);
