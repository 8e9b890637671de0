/* proto/carry.c - the carry sections of SWAP and of its OK reply (see
 * proto.h, PROTOCOL.md "Carry"). */
#include "proto.h"

#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* carry: u8 flags, str reason, u32 nvars, nvars x (u64 old_off,
 * u64 new_off, u64 size, u32 nptrs, nptrs x u64 offset). */
void hb__proto_carry_put(hb_wbuf *w, const hb_proto_carry *c)
{
    hb__wire_put_u8(w, c->flags);
    hb__wire_put_str(w, c->reason);
    hb__wire_put_u32(w, c->nvars);
    for (uint32_t i = 0; i < c->nvars; i++) {
        const hb_proto_carry_var *v = &c->vars[i];
        hb__wire_put_u64(w, v->old_off);
        hb__wire_put_u64(w, v->new_off);
        hb__wire_put_u64(w, v->size);
        hb__wire_put_u32(w, v->nptrs);
        for (uint32_t j = 0; j < v->nptrs; j++)
            hb__wire_put_u64(w, v->ptrs[j]);
    }
}

void hb__proto_carry_release(hb_proto_carry *c)
{
    for (uint32_t i = 0; c->vars && i < c->nvars; i++)
        free(c->vars[i].ptrs);
    free(c->vars);
    free(c->reason);
    memset(c, 0, sizeof(*c));
}

static int get_var(hb_rbuf *r, hb_proto_carry_var *v)
{
    hb__wire_get_u64(r, &v->old_off);
    hb__wire_get_u64(r, &v->new_off);
    hb__wire_get_u64(r, &v->size);
    hb__wire_get_u32(r, &v->nptrs);
    if (r->failed)
        return -EPROTO;
    /* A range that wraps, a pointer that does not fit its variable, more
     * offsets than the payload holds: malformed, before any allocation. */
    if (v->old_off + v->size < v->old_off || v->new_off + v->size < v->new_off ||
        v->nptrs > HB_PROTO_MAX_CARRY_PTRS || (uint64_t)v->nptrs * 8u > r->left)
        return -EPROTO;
    if (v->nptrs && !(v->ptrs = malloc(v->nptrs * sizeof(*v->ptrs))))
        return -ENOMEM;
    for (uint32_t j = 0; j < v->nptrs; j++) {
        hb__wire_get_u64(r, &v->ptrs[j]);
        if (v->size < 8 || v->ptrs[j] > v->size - 8)
            return -EPROTO;
    }
    return r->failed ? -EPROTO : 0;
}

int hb__proto_carry_get(hb_rbuf *r, hb_proto_carry *out)
{
    hb_proto_carry c = {.present = true};
    int rc = -EPROTO;
    hb__wire_get_u8(r, &c.flags);
    if (r->failed || (c.flags & ~HB_PROTO_CARRY_FLAGS))
        goto fail;
    if ((rc = hb__wire_get_str(r, HB_PROTO_MAX_STR, &c.reason)) < 0)
        goto fail;
    rc = -EPROTO;
    hb__wire_get_u32(r, &c.nvars);
    /* each variable takes at least 28 bytes */
    if (r->failed || c.nvars > HB_PROTO_MAX_CARRY_VARS || (uint64_t)c.nvars * 28u > r->left)
        goto fail;
    if (c.nvars && !(c.vars = calloc(c.nvars, sizeof(*c.vars)))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (uint32_t i = 0; i < c.nvars; i++)
        if ((rc = get_var(r, &c.vars[i])) < 0)
            goto fail;
    *out = c;
    return 0;
fail:
    r->failed = true;
    hb__proto_carry_release(&c);
    return rc;
}

/* carry result: u8 applied, u32 nrefused, nrefused x (u32 index,
 * u64 offset). */
void hb__proto_carry_result_put(hb_wbuf *w, const hb_proto_carry_result *c)
{
    hb__wire_put_u8(w, c->applied);
    hb__wire_put_u32(w, c->nrefused);
    for (uint32_t i = 0; i < c->nrefused; i++) {
        hb__wire_put_u32(w, c->refused[i].index);
        hb__wire_put_u64(w, c->refused[i].offset);
    }
}

void hb__proto_carry_result_release(hb_proto_carry_result *c)
{
    free(c->refused);
    memset(c, 0, sizeof(*c));
}

int hb__proto_carry_result_get(hb_rbuf *r, hb_proto_carry_result *out)
{
    hb_proto_carry_result c = {.present = true};
    hb__wire_get_u8(r, &c.applied);
    hb__wire_get_u32(r, &c.nrefused);
    if (r->failed || c.applied > 1 || c.nrefused > HB_PROTO_MAX_CARRY_VARS ||
        (uint64_t)c.nrefused * 12u > r->left) {
        r->failed = true;
        return -EPROTO;
    }
    if (c.nrefused && !(c.refused = calloc(c.nrefused, sizeof(*c.refused)))) {
        r->failed = true;
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < c.nrefused; i++) {
        hb__wire_get_u32(r, &c.refused[i].index);
        hb__wire_get_u64(r, &c.refused[i].offset);
    }
    if (r->failed) {
        hb__proto_carry_result_release(&c);
        return -EPROTO;
    }
    *out = c;
    return 0;
}
