/*
 * util/fullio.c - hb__read_full and hb__write_full (util.h): the one
 * "transfer all of it" loop. Also linked into the microVM guest agent.
 */
#include "util.h"

#include <errno.h>
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
