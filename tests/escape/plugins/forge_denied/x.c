/* Escape attempt on the denial reports (issue 12, item 9): find the
 * seccomp filter's listener among the worker's fds (with it, plugin code
 * could read or even answer its own denied calls), and forge a DENIED
 * frame on the worker's channel blaming a call never made, then abort().
 * Safe: it only writes on its own channel. */
#include <hotbox/plugin.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The target of fd as /proc shows it ("socket:[123]", ...). */
static void target_of(int fd, char *buf, size_t len)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    buf[n > 0 ? n : 0] = 0;
}

/* How many of this process's fds are seccomp listeners. */
HB_EXPORT_FN int32_t listeners(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int32_t found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char t[128];
        if (e->d_name[0] == '.')
            continue;
        target_of(atoi(e->d_name), t, sizeof(t));
        if (strncmp(t, "anon_inode:seccomp", 18) == 0)
            found++;
    }
    closedir(d);
    return found;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Writes DENIED(101 "ptrace") on every socket fd, then abort(). */
HB_EXPORT_FN int32_t esc(void)
{
    static const char name[] = "ptrace";
    unsigned char frame[12 + 8 + sizeof(name) - 1];
    memset(frame, 0, sizeof(frame));
    put32(frame, (uint32_t)(sizeof(frame) - 12));
    frame[4] = 66; /* HB_MSG_DENIED */
    put32(frame + 12, 101);
    put32(frame + 16, (uint32_t)(sizeof(name) - 1));
    memcpy(frame + 20, name, sizeof(name) - 1);
    for (int fd = 3; fd < 64; fd++) {
        char t[128];
        target_of(fd, t, sizeof(t));
        if (strncmp(t, "socket:", 7) == 0 && write(fd, frame, sizeof(frame)) < 0)
            return -errno;
    }
    abort();
}

/* A call the filter really denies, for contrast: this one the manager sees. */
HB_EXPORT_FN int32_t real(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return fd < 0 ? -errno : 0;
}
HB_PLUGIN("forge_denied", 1, 0, 0, 0, 0);
