/* proto/proto_int.h - what the message codecs of proto/ (fields.c,
 * proto.c, call.c, carry.c) share; not part of proto.h. */
#ifndef HB_PROTO_INT_H
#define HB_PROTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* The reader's failure (truncation, NUL in a str) or trailing bytes: rc
 * when it is already an error, -EPROTO for a failed reader or bytes left,
 * else 0. */
int hb__proto_finish(const hb_rbuf *r, int rc);

/* A str field: -EPROTO when it is longer than max or holds a NUL. Keeps
 * the reader failed after an error, so later gets fail too. */
int hb__proto_get_str(hb_rbuf *r, size_t max, char **out);

/* ---- message layouts (fields.c) ------------------------------------------ */

typedef enum hb__field_kind {
    HB_FIELD_U8,    /* uint8_t, at most max */
    HB_FIELD_U32,   /* uint32_t or int32_t (two's complement) */
    HB_FIELD_U64,   /* uint64_t */
    HB_FIELD_STR,   /* char *: at most max bytes, no NUL; decoded: a copy */
    HB_FIELD_BYTES, /* const void * at off, size_t at len_off; decoded: a view */
} hb__field_kind;

typedef struct hb__proto_field {
    hb__field_kind kind;
    uint32_t max;
    size_t off, len_off;
} hb__proto_field;

#define HB_F_U8(T, m, mx) {HB_FIELD_U8, (mx), offsetof(T, m), 0}
#define HB_F_U32(T, m) {HB_FIELD_U32, 0, offsetof(T, m), 0}
#define HB_F_U64(T, m) {HB_FIELD_U64, 0, offsetof(T, m), 0}
#define HB_F_STR(T, m, mx) {HB_FIELD_STR, (mx), offsetof(T, m), 0}
#define HB_F_BYTES(T, p, l) {HB_FIELD_BYTES, 0, offsetof(T, p), offsetof(T, l)}

/* A message: its struct's size, its leading fields in wire order, and an
 * optional tail read after them (only while the reader is good), written
 * after them, and released with them. */
typedef struct hb__proto_layout {
    size_t size;
    const hb__proto_field *fields;
    size_t nfields;
    void (*put_tail)(hb_wbuf *w, const void *m);
    int (*get_tail)(hb_rbuf *r, void *q);
    void (*release_tail)(void *q);
} hb__proto_layout;

#define HB_LAYOUT(T, fields, ...) \
    {sizeof(T), (fields), sizeof(fields) / sizeof((fields)[0]), __VA_ARGS__}

/* One whole frame of message m. Only copies: async-signal-safe over a
 * fixed buffer when the tail is. */
int hb__proto_encode(hb_wbuf *w, uint8_t type, uint32_t id, const hb__proto_layout *L,
                     const void *m);
/* Decodes into q (zeroed first); on failure q is released and zeroed. */
int hb__proto_decode(const void *payload, size_t len, const hb__proto_layout *L, void *q);
/* The same with every copy taken from arena (hb_rbuf): q is never
 * released (on failure only zeroed); the tail takes its memory with
 * hb__rbuf_alloc and skips its own release when r->arena is set. */
int hb__proto_decode_in(const void *payload, size_t len, const hb__proto_layout *L, void *q,
                        hb_arena *arena);
/* Frees the STR fields and the tail's memory, and zeroes m. */
void hb__proto_release(const hb__proto_layout *L, void *m);

/* The public encode/decode/release of message `name` over layout L:
 * decode writes *out only on success (proto.h). */
#define HB_PROTO_ENCODER(name, T, type, L)                                  \
    int hb__proto_##name##_encode(hb_wbuf *w, uint32_t id, const T *m)      \
    {                                                                       \
        return hb__proto_encode(w, (type), id, &(L), m);                    \
    }
#define HB_PROTO_DECODER(name, T, L)                                        \
    int hb__proto_##name##_decode(const void *payload, size_t len, T *out)  \
    {                                                                       \
        T q;                                                                \
        int rc = hb__proto_decode(payload, len, &(L), &q);                  \
        if (rc == 0)                                                        \
            *out = q;                                                       \
        return rc;                                                          \
    }
#define HB_PROTO_RELEASER(name, T, L)          \
    void hb__proto_##name##_release(T *m)      \
    {                                          \
        hb__proto_release(&(L), m);            \
    }

/* The definitions matching HB_PROTO_MESSAGE and HB_PROTO_OWNING (proto.h),
 * over layout L: one line per message. */
#define HB_PROTO_DEFINE(name, T, type, L) \
    HB_PROTO_ENCODER(name, T, type, L) HB_PROTO_DECODER(name, T, L)
#define HB_PROTO_DEFINE_OWNING(name, T, type, L) \
    HB_PROTO_DEFINE(name, T, type, L) HB_PROTO_RELEASER(name, T, L)

#endif /* HB_PROTO_INT_H */
