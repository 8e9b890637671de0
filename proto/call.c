/* proto/call.c - call values and the CALL / CALL OK messages of the
 * harness <-> worker protocol (proto.h), over the field codec of wire.c. */
#include "proto.h"

#include "proto_int.h"
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- values, CALL --------------------------------------------------------- */

void hb__value_release(hb_wvalue *v)
{
    free(v->s);
    free(v->buf);
    v->s = NULL;
    v->buf = NULL;
    v->len = 0;
}

int hb__value_decode(hb_rbuf *r, hb_wvalue *out)
{
    hb_wvalue v;
    uint8_t type, is_null;
    const void *data;
    size_t len;
    int rc;
    memset(&v, 0, sizeof(v));
    if ((rc = hb__wire_get_u8(r, &type)) < 0)
        return rc;
    v.type = (hb_type)type;
    switch (v.type) {
    case HB_TYPE_VOID:
        break;
    case HB_TYPE_BOOL: case HB_TYPE_I8: case HB_TYPE_I16: case HB_TYPE_I32:
    case HB_TYPE_LONG: case HB_TYPE_I64:
    case HB_TYPE_U8: case HB_TYPE_U16: case HB_TYPE_U32: case HB_TYPE_ULONG:
    case HB_TYPE_U64:
        rc = hb__wire_get_u64(r, &v.n.u);
        break;
    case HB_TYPE_F32:
        rc = hb__wire_get_f32(r, &v.n.f);
        break;
    case HB_TYPE_F64:
        rc = hb__wire_get_f64(r, &v.n.d);
        break;
    case HB_TYPE_STR:
        if ((rc = hb__wire_get_u8(r, &is_null)) < 0 ||
            (rc = hb__wire_get_bytes(r, &data, &len)) < 0)
            break;
        if (is_null > 1 || (is_null && len) || memchr(data, '\0', len)) {
            rc = -EPROTO;
            break;
        }
        if (is_null)
            break;
        if (!(v.s = hb__rbuf_alloc(r, len + 1))) {
            rc = -ENOMEM;
            break;
        }
        memcpy(v.s, data, len);
        v.s[len] = '\0';
        break;
    case HB_TYPE_BUF_IN:
    case HB_TYPE_BUF_INOUT:
        if ((rc = hb__wire_get_bytes(r, &data, &len)) < 0)
            break;
        /* Never NULL: a plugin may write through an empty buffer's pointer
         * without checking the length and must not get NULL for it. */
        if (!(v.buf = hb__rbuf_alloc(r, len ? len : 1))) {
            rc = -ENOMEM;
            break;
        }
        memcpy(v.buf, data, len);
        v.len = len;
        break;
    default:
        rc = -EPROTO;
        break;
    }
    if (rc < 0) {
        if (!r->arena)
            hb__value_release(&v);
        return rc;
    }
    *out = v;
    return 0;
}

void hb__value_encode(hb_wbuf *w, const hb_wvalue *v)
{
    hb__wire_put_u8(w, (uint8_t)v->type);
    switch (v->type) {
    case HB_TYPE_VOID:
        break;
    case HB_TYPE_F32:
        hb__wire_put_f32(w, v->n.f);
        break;
    case HB_TYPE_F64:
        hb__wire_put_f64(w, v->n.d);
        break;
    case HB_TYPE_STR:
        hb__wire_put_u8(w, v->s == NULL);
        hb__wire_put_str(w, v->s);
        break;
    case HB_TYPE_BUF_IN:
    case HB_TYPE_BUF_INOUT:
        hb__wire_put_bytes(w, v->buf, v->len);
        break;
    default:
        hb__wire_put_u64(w, v->n.u);
        break;
    }
}

hb_wvalue hb__value_view(const hb_value *v)
{
    hb_wvalue w;
    memset(&w, 0, sizeof(w));
    w.type = v->type;
    switch (v->type) {
    case HB_TYPE_VOID:
        break;
    case HB_TYPE_F32:
        w.n.f = v->v.f;
        break;
    case HB_TYPE_F64:
        w.n.d = v->v.d;
        break;
    case HB_TYPE_STR:
        w.s = (char *)v->v.s; /* read only: encoders never write through it */
        break;
    case HB_TYPE_BUF_IN:
    case HB_TYPE_BUF_INOUT:
        w.buf = v->v.buf.data;
        w.len = v->v.buf.len;
        break;
    default:
        w.n.u = v->v.u; /* the same bits as v->v.i */
        break;
    }
    return w;
}

/* CALL: three strings, then the counted values. */
static void call_put_tail(hb_wbuf *w, const void *mv)
{
    const hb_proto_call *m = mv;
    hb__wire_put_u32(w, (uint32_t)m->nargs);
    for (size_t i = 0; i < m->nargs; i++)
        hb__value_encode(w, &m->args[i]);
}

static int call_get_tail(hb_rbuf *r, void *qv)
{
    hb_proto_call *q = qv;
    uint32_t nargs = 0;
    int rc = hb__wire_get_u32(r, &nargs);
    if (rc < 0)
        return rc;
    /* No signature takes more, so a larger count cannot be a valid call;
     * refusing it here also bounds the allocation below. */
    if (nargs > HB_SIG_MAX_ARGS)
        return -EPROTO;
    size_t size = (nargs ? nargs : 1) * sizeof(*q->args);
    if (!(q->args = hb__rbuf_alloc(r, size)))
        return -ENOMEM;
    memset(q->args, 0, size);
    for (; q->nargs < nargs; q->nargs++) {
        if ((rc = hb__value_decode(r, &q->args[q->nargs])) < 0)
            return rc;
    }
    return 0;
}

static void call_release_tail(void *qv)
{
    hb_proto_call *m = qv;
    for (size_t i = 0; m->args && i < m->nargs; i++)
        hb__value_release(&m->args[i]);
    free(m->args);
}

static const hb__proto_field call_f[] = {
    HB_F_STR(hb_proto_call, plugin, HB_PROTO_MAX_STR),
    HB_F_STR(hb_proto_call, symbol, HB_PROTO_MAX_STR),
    HB_F_STR(hb_proto_call, signature, HB_PROTO_MAX_STR),
};
static const hb__proto_layout call_l =
    HB_LAYOUT(hb_proto_call, call_f, call_put_tail, call_get_tail, call_release_tail);
HB_PROTO_DEFINE_OWNING(call, hb_proto_call, HB_MSG_CALL, call_l)

int hb__proto_call_decode_in(const void *payload, size_t len, hb_proto_call *out,
                             hb_arena *arena)
{
    hb_proto_call q;
    int rc = hb__proto_decode_in(payload, len, &call_l, &q, arena);
    if (rc == 0)
        *out = q;
    return rc;
}

/* OK of CALL: all of it is the tail (a value has no fixed layout). */
static void call_ok_put_tail(hb_wbuf *w, const void *mv)
{
    const hb_proto_call_ok *m = mv;
    hb__value_encode(w, &m->ret);
    hb__wire_put_u32(w, m->nbuf);
    for (uint32_t i = 0; i < m->nbuf && i < HB_SIG_MAX_ARGS; i++)
        hb__wire_put_bytes(w, m->bufs[i].data, m->bufs[i].len);
}

static int call_ok_get_tail(hb_rbuf *r, void *qv)
{
    hb_proto_call_ok *q = qv;
    int rc = hb__value_decode(r, &q->ret);
    if (rc < 0)
        return rc;
    hb__wire_get_u32(r, &q->nbuf);
    if (!r->failed && q->nbuf > HB_SIG_MAX_ARGS)
        return -EPROTO;
    for (uint32_t i = 0; !r->failed && i < q->nbuf; i++)
        hb__wire_get_bytes(r, &q->bufs[i].data, &q->bufs[i].len);
    return 0;
}

static void call_ok_release_tail(void *qv)
{
    hb__value_release(&((hb_proto_call_ok *)qv)->ret);
}

static const hb__proto_layout call_ok_l = {sizeof(hb_proto_call_ok), NULL, 0, call_ok_put_tail,
                                           call_ok_get_tail, call_ok_release_tail};
HB_PROTO_DEFINE_OWNING(call_ok, hb_proto_call_ok, HB_MSG_OK, call_ok_l)

/* Whether an integer value fits the C type its hb_type names. */
static bool int_fits(const hb_wvalue *v)
{
    int64_t i = v->n.i;
    uint64_t u = v->n.u;
    switch (v->type) {
    case HB_TYPE_BOOL: return i == 0 || i == 1;
    case HB_TYPE_I8: return i >= INT8_MIN && i <= INT8_MAX;
    case HB_TYPE_U8: return u <= UINT8_MAX;
    case HB_TYPE_I16: return i >= INT16_MIN && i <= INT16_MAX;
    case HB_TYPE_U16: return u <= UINT16_MAX;
    case HB_TYPE_I32: return i >= INT32_MIN && i <= INT32_MAX;
    case HB_TYPE_U32: return u <= UINT32_MAX;
    case HB_TYPE_LONG: return i >= LONG_MIN && i <= LONG_MAX;
    case HB_TYPE_ULONG: return u <= ULONG_MAX;
    default: return true;
    }
}

static bool is_signed(hb_type t)
{
    return t == HB_TYPE_BOOL || t == HB_TYPE_I8 || t == HB_TYPE_I16 || t == HB_TYPE_I32 ||
           t == HB_TYPE_LONG || t == HB_TYPE_I64;
}

int hb__call_check(const hb_sig *sig, const hb_wvalue *args, size_t nargs, char *msg,
                   size_t msglen)
{
    if (nargs != sig->nargs) {
        snprintf(msg, msglen, "signature takes %zu argument%s, got %zu", sig->nargs,
                 sig->nargs == 1 ? "" : "s", nargs);
        return HB_EARGS;
    }
    for (size_t i = 0; i < nargs; i++) {
        const hb_wvalue *v = &args[i];
        if (v->type != sig->args[i]) {
            snprintf(msg, msglen, "argument %zu is %s, signature '%c' wants %s", i + 1,
                     hb__type_name(v->type), hb__sig_char(sig->args[i]),
                     hb__type_name(sig->args[i]));
            return HB_EARGS;
        }
        if (!int_fits(v)) {
            if (is_signed(v->type))
                snprintf(msg, msglen, "argument %zu: %" PRId64 " does not fit %s", i + 1,
                         v->n.i, hb__type_name(v->type));
            else
                snprintf(msg, msglen, "argument %zu: %" PRIu64 " does not fit %s", i + 1,
                         v->n.u, hb__type_name(v->type));
            return HB_EARGS;
        }
    }
    return 0;
}
