/* tests/proto/gold.h - a byte builder independent of wire.c, for checking
 * messages against the bytes PROTOCOL.md describes (little-endian fixed
 * widths; bytes and str are a u32 length, then the bytes). */
#ifndef HB_TESTS_PROTO_GOLD_H
#define HB_TESTS_PROTO_GOLD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct gold {
    uint8_t b[4096];
    size_t n;
} gold;

static inline void g_le(gold *g, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        g->b[g->n++] = (uint8_t)(v >> (8 * i));
}
static inline void g_u8(gold *g, uint8_t v) { g_le(g, v, 1); }
static inline void g_u32(gold *g, uint32_t v) { g_le(g, v, 4); }
static inline void g_u64(gold *g, uint64_t v) { g_le(g, v, 8); }
static inline void g_bytes(gold *g, const void *p, size_t n)
{
    g_u32(g, (uint32_t)n);
    memcpy(g->b + g->n, p, n);
    g->n += n;
}
static inline void g_str(gold *g, const char *s) { g_bytes(g, s, strlen(s)); }

#endif
