/* Escape attempt on a swap's checkpoint (tests/escape/test_forge_ckpt.c):
 * plugin code shares the worker's channel. arm() learns the id of its own
 * CALL from the call ring's request slot (the test passes proto/ring.h's
 * offsetof); the manager numbers requests one by one, so the SWAP of the
 * next reload is that id + 1. During that swap the save hook writes a
 * CHECKPOINT frame for that SWAP on every socket fd claiming another
 * version (FORGED_VERSION) and a state of its choosing, then returns its
 * own state. The manager must refuse the forged frame (not record it as
 * this version's state), kill the worker and keep the last good state.
 * Safe: it only writes on its own channel. pad(n) makes the saved state
 * n bytes longer (for a snapshot larger than another sandbox's limit). */
#include <hotbox/plugin.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../forge.h"

#define FORGED_VERSION 424242u
#define BUMP 1 /* the test edits this line to make a new version */

static int64_t count;
static uint32_t next_id;
static size_t padding;

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

HB_EXPORT_FN int64_t bump(void)
{
    return count += BUMP;
}

HB_EXPORT_FN int64_t get(void)
{
    return count;
}

HB_EXPORT_FN int32_t pad(int32_t n)
{
    padding = n > 0 ? (size_t)n : 0;
    return 0;
}

/* req_off: where the ring's request slot starts (forge.h). */
HB_EXPORT_FN int32_t arm(int32_t req_off)
{
    uint32_t id;
    int r = ring_request_id((uint32_t)req_off, &id);
    if (r < 0)
        return r;
    next_id = id + 1;
    return 0;
}

/* CHECKPOINT: str plugin, u64 version, u32 schema, bytes state (proto.h). */
static void forge(void)
{
    static const char name[] = "forge_ckpt";
    int64_t fake = 1000000;
    size_t nlen = sizeof(name) - 1, payload = 4 + nlen + 8 + 4 + 4 + sizeof(fake);
    unsigned char f[12 + 4 + 16 + 8 + 4 + 4 + 8] = {0};
    put32(f, (uint32_t)payload);
    f[4] = 64; /* HB_MSG_CHECKPOINT */
    put32(f + 8, next_id);
    unsigned char *p = f + 12;
    put32(p, (uint32_t)nlen);
    memcpy(p + 4, name, nlen);
    p += 4 + nlen;
    put64(p, FORGED_VERSION);
    put32(p + 8, 1); /* schema */
    put32(p + 12, sizeof(fake));
    memcpy(p + 16, &fake, sizeof(fake));
    send_to_sockets(f, 12 + payload);
}

static int save(void **data, size_t *len)
{
    if (next_id)
        forge();
    *data = calloc(1, sizeof(count) + padding);
    if (!*data)
        return -1;
    memcpy(*data, &count, sizeof(count));
    *len = sizeof(count) + padding;
    return 0;
}

static int migrate(const void *data, size_t len, uint32_t from)
{
    (void)from;
    if (len < sizeof(count))
        return -1;
    memcpy(&count, data, sizeof(count));
    return 0;
}

HB_PLUGIN("forge_ckpt", 1, 0, 0, save, migrate);
