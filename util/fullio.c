/*
 * util/fullio.c - hb__read_full, hb__write_full and hb__copy_fd (util.h):
 * the one "transfer all of it" loop. Also linked into the microVM guest agent.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <unistd.h>

static int transfer_full(int fd, char *p, size_t len, bool writing)
{
    while (len) {
        ssize_t n = writing ? write(fd, p, len) : read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EPIPE; /* end of file (read), or a write that moved nothing */
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int hb__write_full(int fd, const void *buf, size_t len)
{
    return transfer_full(fd, (char *)buf, len, true);
}

int hb__read_full(int fd, void *buf, size_t len)
{
    return transfer_full(fd, buf, len, false);
}

int hb__copy_file(const char *src, const char *dst, mode_t mode)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (out < 0) {
        int e = errno;
        close(in);
        return -e;
    }
    int r = hb__copy_fd(in, out);
    close(in);
    if (close(out) < 0 && r == 0)
        r = -errno;
    return r;
}

int hb__copy_fd(int in, int out)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : 0;
        int r = transfer_full(out, buf, (size_t)n, true);
        if (r < 0)
            return r;
    }
}
