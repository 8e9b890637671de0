/* proto/fields.c - the one encoder, decoder and release of a message's
 * fields. Each message of proto.h is a table (hb__proto_layout): its
 * leading fields in wire order, each a kind and an offset into the
 * message struct, then an optional tail for what a table cannot say
 * (counted arrays, optional trailing sections). proto.c and call.c hold
 * the tables; nothing else walks a message field by field. */
#include "proto.h"

#include "proto_int.h"
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void *field_at(void *m, size_t off)
{
    return (char *)m + off;
}

int hb__proto_encode(hb_wbuf *w, uint8_t type, uint32_t id, const hb__proto_layout *L,
                     const void *m)
{
    hb__wire_begin(w, type, id);
    for (size_t i = 0; i < L->nfields; i++) {
        const hb__proto_field *f = &L->fields[i];
        const char *p = (const char *)m + f->off;
        uint8_t u8;
        uint32_t u32;
        uint64_t u64;
        const void *ptr;
        size_t len;
        switch (f->kind) {
        case HB_FIELD_U8:
            memcpy(&u8, p, sizeof(u8));
            hb__wire_put_u8(w, u8);
            break;
        case HB_FIELD_U32:
            memcpy(&u32, p, sizeof(u32));
            hb__wire_put_u32(w, u32);
            break;
        case HB_FIELD_U64:
            memcpy(&u64, p, sizeof(u64));
            hb__wire_put_u64(w, u64);
            break;
        case HB_FIELD_STR:
            memcpy(&ptr, p, sizeof(ptr));
            hb__wire_put_str(w, ptr);
            break;
        case HB_FIELD_BYTES:
            memcpy(&ptr, p, sizeof(ptr));
            memcpy(&len, (const char *)m + f->len_off, sizeof(len));
            hb__wire_put_bytes(w, ptr, len);
            break;
        }
    }
    if (L->put_tail)
        L->put_tail(w, m);
    return hb__wire_finish(w);
}

void hb__proto_release(const hb__proto_layout *L, void *m)
{
    for (size_t i = 0; i < L->nfields; i++) {
        if (L->fields[i].kind != HB_FIELD_STR)
            continue;
        char *s;
        memcpy(&s, field_at(m, L->fields[i].off), sizeof(s));
        free(s);
    }
    if (L->release_tail)
        L->release_tail(m);
    memset(m, 0, L->size);
}

/* One field into q. A U8 above its max and a STR too long, holding a NUL
 * or cut short are -EPROTO; a short fixed-size field fails the reader,
 * which hb__proto_finish turns into -EPROTO. */
static int get_field(hb_rbuf *r, const hb__proto_field *f, void *q)
{
    void *p = field_at(q, f->off);
    uint8_t u8 = 0;
    uint32_t u32 = 0;
    uint64_t u64 = 0;
    const void *ptr = NULL;
    size_t len = 0;
    switch (f->kind) {
    case HB_FIELD_U8:
        hb__wire_get_u8(r, &u8);
        memcpy(p, &u8, sizeof(u8));
        return !r->failed && u8 > f->max ? -EPROTO : 0;
    case HB_FIELD_U32:
        hb__wire_get_u32(r, &u32);
        memcpy(p, &u32, sizeof(u32));
        return 0;
    case HB_FIELD_U64:
        hb__wire_get_u64(r, &u64);
        memcpy(p, &u64, sizeof(u64));
        return 0;
    case HB_FIELD_STR: {
        char *s = NULL;
        int rc = hb__proto_get_str(r, f->max, &s);
        memcpy(p, &s, sizeof(s));
        return rc;
    }
    case HB_FIELD_BYTES:
        hb__wire_get_bytes(r, &ptr, &len);
        memcpy(p, &ptr, sizeof(ptr));
        memcpy(field_at(q, f->len_off), &len, sizeof(len));
        return 0;
    }
    return -EPROTO;
}

int hb__proto_decode_in(const void *payload, size_t len, const hb__proto_layout *L, void *q,
                        hb_arena *arena)
{
    hb_rbuf r;
    int rc = 0;
    memset(q, 0, L->size);
    hb__rbuf_init(&r, payload, len);
    r.arena = arena;
    for (size_t i = 0; rc == 0 && i < L->nfields; i++)
        rc = get_field(&r, &L->fields[i], q);
    if (rc == 0 && !r.failed && L->get_tail)
        rc = L->get_tail(&r, q);
    rc = hb__proto_finish(&r, rc);
    if (rc < 0) {
        if (arena) /* nothing to free: the arena's owner takes it back */
            memset(q, 0, L->size);
        else
            hb__proto_release(L, q);
    }
    return rc;
}

int hb__proto_decode(const void *payload, size_t len, const hb__proto_layout *L, void *q)
{
    return hb__proto_decode_in(payload, len, L, q, NULL);
}
