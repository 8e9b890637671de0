/* tests/escape/plugins/ring_id.h - for the forging plugins (forge_state,
 * forge_ckpt): the id of the request in the call ring's request slot, at
 * offset req_off of the "hotbox-ring" memfd mapping (the test passes
 * proto/ring.h's offsetof; a frame's id is at offset 8). 0 or -errno. */
#ifndef HB_TESTS_ESCAPE_RING_ID_H
#define HB_TESTS_ESCAPE_RING_ID_H

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

#endif
