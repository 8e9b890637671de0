/*
 * proto/proto.h - request payload decoders, kept apart from
 * the code that acts on them so a fuzz target can run them without dlopen.
 *
 * Every decoder takes a whole payload, returns 0 and fills *out, or returns
 * -EPROTO (malformed, truncated, trailing bytes, out-of-range field) or
 * -ENOMEM. *out is written only on success. Strings are NUL-terminated
 * malloc'ed copies; release a decoded request with its _release function.
 */
#ifndef HB_PROTO_H
#define HB_PROTO_H

#include "signature.h"
#include "wire.h"

#include <stddef.h>
#include <stdint.h>

/* Longest plugin name, path, symbol or signature (PROTOCOL.md). */
#define HB_WIRE_MAX_STR 4096u

typedef struct hb_req_hello {
    uint32_t magic;
    uint64_t max_state_size;
} hb_req_hello;

typedef struct hb_req_load {
    char *plugin, *path;
    uint64_t version;
    uint8_t has_state;      /* 0 or 1 */
    uint32_t state_schema;
    const void *state;      /* points into the payload (not copied) */
    size_t state_len;
} hb_req_load;

typedef struct hb_req_swap {
    char *plugin, *path;
    uint64_t version;
    uint8_t wait_ack;  /* optional trailing u8: wait for CHECKPOINT_ACK */
} hb_req_swap;

/* SAVE and UNLOAD carry just a plugin name. */
typedef struct hb_req_plugin {
    char *plugin;
} hb_req_plugin;

/* A call argument or result. Integers are kept in their 64-bit wire form
 * (range checks against the C type are hb__call_check's job, so the reply
 * can be HB_EARGS naming the argument). s and buf are malloc'ed copies; s
 * may be NULL (a NULL string); buf is never NULL, even when len is 0. */
typedef struct hb_wvalue {
    hb_type type;
    union {
        int64_t i;
        uint64_t u;
        float f;
        double d;
    } n;
    char *s;
    uint8_t *buf;
    size_t len;
} hb_wvalue;

typedef struct hb_req_call {
    char *plugin, *symbol, *signature;
    size_t nargs;           /* at most HB_SIG_MAX_ARGS */
    hb_wvalue *args;
} hb_req_call;

int hb__req_hello_decode(const void *payload, size_t len, hb_req_hello *out);
int hb__req_load_decode(const void *payload, size_t len, hb_req_load *out);
void hb__req_load_release(hb_req_load *req);
int hb__req_swap_decode(const void *payload, size_t len, hb_req_swap *out);
void hb__req_swap_release(hb_req_swap *req);
int hb__req_plugin_decode(const void *payload, size_t len, hb_req_plugin *out);
void hb__req_plugin_release(hb_req_plugin *req);
int hb__req_call_decode(const void *payload, size_t len, hb_req_call *out);
void hb__req_call_release(hb_req_call *req);
/* An empty payload (SHUTDOWN, PING). */
int hb__req_empty_decode(const void *payload, size_t len);

/* One value off the reader (PROTOCOL.md "A value is ..."). */
int hb__value_decode(hb_rbuf *r, hb_wvalue *out);
void hb__value_release(hb_wvalue *v);
/* Appends a value in wire form. For HB_TYPE_STR a NULL s encodes is_null. */
void hb__value_encode(hb_wbuf *w, const hb_wvalue *v);

/* Checks a call's values against a parsed signature: the count, each type,
 * and that each integer fits its C type. Returns 0, or HB_EARGS with one
 * line in msg naming the 1-based argument and both types. */
int hb__call_check(const hb_sig *sig, const hb_wvalue *args, size_t nargs, char *msg,
                   size_t msglen);

#endif /* HB_PROTO_H */
