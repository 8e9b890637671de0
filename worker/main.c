/* worker/main.c - hotbox-worker: the guest process that hosts plugins.
 *
 *   hotbox-worker --fd N
 *
 * N is this end of the harness's socketpair. Everything else about the
 * process (which plugins, which versions, limits) arrives as requests; see
 * PROTOCOL.md. */
#include "worker.h"

#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 64

/* Closes every fd above 2 except keep, so nothing the harness had open
 * (other sandboxes' sockets, the store) leaks into plugin code. */
static int close_other_fds(int keep)
{
    int r = 0;
    if (keep > 3)
        r = close_range(3, (unsigned)keep - 1, 0);
    if (r == 0)
        r = close_range(keep < 3 ? 3u : (unsigned)keep + 1, ~0u, 0);
    if (r == 0)
        return 0;
    /* Kernels before 5.9 lack close_range: walk /proc/self/fd instead. */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t n;
        if (hb__parse_u64(e->d_name, &n) < 0 || n > INT32_MAX)
            continue;
        int fd = (int)n;
        if (fd > 2 && fd != keep && fd != self)
            close(fd);
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t fd;
    if (argc != 3 || strcmp(argv[1], "--fd") != 0 || hb__parse_u64(argv[2], &fd) < 0 ||
        fd > INT32_MAX) {
        fprintf(stderr, "usage: hotbox-worker --fd N\n"
                        "(started by the hotbox library, not by hand)\n");
        return EXIT_USAGE;
    }
    int sock = (int)fd;
    if (fcntl(sock, F_GETFD) < 0) {
        fprintf(stderr, "hotbox-worker: fd %d is not open\n", sock);
        return EXIT_USAGE;
    }
    /* A harness that goes away must show up as EPIPE on send, not kill us
     * before fini hooks run. */
    signal(SIGPIPE, SIG_IGN);
    if (close_other_fds(sock) < 0) {
        fprintf(stderr, "hotbox-worker: cannot close inherited fds\n");
        return 1;
    }
    /* Children a plugin spawns must not hold the channel open. */
    (void)fcntl(sock, F_SETFD, FD_CLOEXEC);
    int status = hb__worker_serve(sock);
    close(sock);
    return status;
}
