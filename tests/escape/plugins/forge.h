/* tests/escape/plugins/forge.h - what the forging plugins (forge_state,
 * forge_ckpt) share: ring_request_id, the id of the request in the call
 * ring's request slot, at offset req_off of the "hotbox-ring" memfd
 * mapping (the test passes proto/ring.h's offsetof; a frame's id is at
 * offset 8), 0 or -errno; and send_to_sockets, a forged frame written
 * whole on every socket fd of the worker (its channel among them). */
#ifndef HB_TESTS_ESCAPE_FORGE_H
#define HB_TESTS_ESCAPE_FORGE_H

#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int ring_request_id(uint32_t req_off, uint32_t *id)
{
    FILE *m = fopen("/proc/self/maps", "re");
    if (!m)
        return -errno;
    char line[512];
    unsigned long lo = 0;
    while (fgets(line, sizeof(line), m))
        if (strstr(line, "hotbox-ring")) {
            lo = strtoul(line, NULL, 16);
            break;
        }
    fclose(m);
    if (!lo)
        return -ENOENT;
    const unsigned char *req = (const unsigned char *)lo + req_off;
    *id = (uint32_t)req[8] | (uint32_t)req[9] << 8 | (uint32_t)req[10] << 16 |
          (uint32_t)req[11] << 24;
    return 0;
}

static void send_to_sockets(const unsigned char *f, size_t len)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        struct stat st;
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
            continue;
        size_t off = 0;
        while (off < len) {
            ssize_t n = send(fd, f + off, len - off, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    if (d)
        closedir(d);
}

#endif
