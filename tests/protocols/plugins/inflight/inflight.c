/* Erlang-style code swap, ported: a call in flight when the new version
 * arrives finishes on the old version; the next call is served by the new
 * one. slow() says it started, then blocks until the test writes a byte to
 * the FIFO it names. The tests edit REPLY with sed. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define REPLY 1

HB_EXPORT_FN int32_t slow(const char *fifo)
{
    fprintf(stderr, "inflight: slow call started in v%d\n", REPLY);
    int fd = open(fifo, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char c;
    ssize_t n;
    do
        n = read(fd, &c, 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    return REPLY;
}

HB_EXPORT_FN int32_t reply(void) { return REPLY; }

HB_PLUGIN("inflight", 1, 0, 0, 0, 0);
