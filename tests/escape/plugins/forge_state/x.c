/* Escape attempt on the state limit: the worker enforces max_state_size on
 * what a save hook returns, but plugin code shares the worker's channel.
 * arm() learns the id of its own CALL from the call ring's request slot
 * (the manager numbers requests one by one, so the next one, the SAVE of
 * hb_checkpoint, is that id + 1); the save hook then writes a forged OK
 * reply to that SAVE on every socket fd, carrying `size` bytes of state,
 * and returns a small state of its own. The manager must refuse the
 * forged state (larger than the sandbox's max_state_size), not keep or
 * persist it. Safe: it only writes on its own channel. */
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

static uint32_t next_id;
static uint32_t forged_size;

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Arms the save hook to forge `size` bytes of state; req_off is where the
 * ring's request slot starts. Returns 0 or -errno. */
HB_EXPORT_FN int32_t arm(int32_t size, int32_t req_off)
{
    uint32_t id;
    int r = ring_request_id((uint32_t)req_off, &id);
    if (r < 0)
        return r;
    next_id = id + 1;
    forged_size = (uint32_t)size;
    return 0;
}

static void forge(void)
{
    size_t payload = 4 + 1 + 4 + forged_size;
    unsigned char *f = calloc(1, 12 + payload);
    if (!f)
        return;
    put32(f, (uint32_t)payload);
    f[4] = 128; /* HB_MSG_OK */
    put32(f + 8, next_id);
    put32(f + 12, 1);     /* schema */
    f[16] = 1;            /* has_save */
    put32(f + 17, forged_size);
    memset(f + 21, 'F', forged_size);
    send_to_sockets(f, 12 + payload);
    free(f);
}

static int save(void **data, size_t *len)
{
    if (forged_size)
        forge();
    *data = strdup("ok");
    *len = *data ? 2 : 0;
    return *data ? 0 : -1;
}

static int migrate(const void *data, size_t len, uint32_t from)
{
    (void)data;
    (void)len;
    (void)from;
    return 0;
}

HB_PLUGIN("forge_state", 1, 0, 0, save, migrate);
