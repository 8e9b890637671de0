/*
 * util/sockio.c - hb__send_full_until and hb__recv_full_until (util.h): the
 * one "transfer all of it on a socket by a deadline" loop, for the console
 * and the wire protocol. (fullio.c has the loops without a deadline.)
 */
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>

static int transfer_until(int fd, char *p, size_t len, uint64_t deadline_ns, bool sending)
{
    while (len) {
        /* MSG_NOSIGNAL: a dead peer is -EPIPE here, not a process-wide
         * SIGPIPE in the library's host program. */
        ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                            : recv(fd, p, len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int r = hb__wait_fd(fd, sending ? POLLOUT : POLLIN, deadline_ns);
            if (r < 0)
                return r;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0 && !sending)
            return -ECONNRESET;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int hb__send_full_until(int fd, const void *buf, size_t len, uint64_t deadline_ns)
{
    return transfer_until(fd, (char *)buf, len, deadline_ns, true);
}

int hb__recv_full_until(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
    return transfer_until(fd, buf, len, deadline_ns, false);
}
