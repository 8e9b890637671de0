/* harness/replay_diff.c - one recorded call made on a replay worker, its
 * outcome compared with the other side's and written as text (replay.c). */
#include "replay_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Longest buffer shown in full; longer ones show their start and length. */
#define SHOW_BYTES 32u

void hb__replay_call(hb_sandbox *sb, const hb_rec_call *c, hb_replay_outcome *o)
{
    memset(o, 0, sizeof(*o));
    hb_value args[HB_SIG_MAX_ARGS];
    o->nargs = c->req.nargs;
    for (size_t i = 0; i < c->req.nargs; i++) {
        const hb_wvalue *w = &c->req.args[i];
        args[i].type = w->type;
        switch (w->type) {
        case HB_TYPE_STR:
            args[i].v.s = w->s;
            break;
        case HB_TYPE_BUF_IN:
            args[i].v.buf.data = w->buf;
            args[i].v.buf.len = w->len;
            break;
        case HB_TYPE_BUF_INOUT:
            /* The call writes into it: each side gets its own copy. */
            o->bufs[i] = malloc(w->len ? w->len : 1);
            if (o->bufs[i] && w->len)
                memcpy(o->bufs[i], w->buf, w->len);
            args[i].v.buf.data = o->bufs[i];
            args[i].v.buf.len = w->len;
            break;
        default:
            memcpy(&args[i].v, &w->n, sizeof(w->n)); /* the same bits */
            break;
        }
    }
    o->code = hb_call(sb, c->req.plugin, c->req.symbol, c->req.signature, args, c->req.nargs,
                      &o->ret);
    if (o->code < 0) {
        o->error = strdup(hb_sandbox_last_error(sb));
        return;
    }
    if (o->ret.type == HB_TYPE_STR) {
        o->ret_null = !o->ret.v.s;
        o->ret_str = o->ret.v.s ? strdup(o->ret.v.s) : NULL;
        o->ret.v.s = o->ret_str;
    }
}

void hb__replay_outcome_release(hb_replay_outcome *o)
{
    free(o->error);
    free(o->ret_str);
    for (size_t i = 0; i < HB_SIG_MAX_ARGS; i++)
        free(o->bufs[i]);
    memset(o, 0, sizeof(*o));
}

static bool same_value(const hb_value *a, const hb_value *b)
{
    switch (a->type) {
    case HB_TYPE_VOID:
        return true;
    case HB_TYPE_F32:
        return memcmp(&a->v.f, &b->v.f, sizeof(a->v.f)) == 0;
    case HB_TYPE_F64:
        return memcmp(&a->v.d, &b->v.d, sizeof(a->v.d)) == 0;
    case HB_TYPE_STR:
        if (!a->v.s || !b->v.s)
            return !a->v.s && !b->v.s;
        return strcmp(a->v.s, b->v.s) == 0;
    default:
        return a->v.u == b->v.u;
    }
}

bool hb__replay_same(const hb_rec_call *c, const hb_replay_outcome *a,
                     const hb_replay_outcome *b)
{
    if (a->code != b->code)
        return false;
    if (a->code < 0)
        return true; /* the texts name pids and versions: only the code counts */
    if (!same_value(&a->ret, &b->ret))
        return false;
    for (size_t i = 0; i < c->req.nargs; i++) {
        if (c->req.args[i].type != HB_TYPE_BUF_INOUT)
            continue;
        size_t n = c->req.args[i].len;
        if (!a->bufs[i] || !b->bufs[i] || memcmp(a->bufs[i], b->bufs[i], n) != 0)
            return false;
    }
    return true;
}

static void add_string(hb_sb *s, const char *str)
{
    if (!str) {
        hb__sb_adds(s, "NULL");
        return;
    }
    hb__sb_adds(s, "\"");
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            hb__sb_addf(s, "\\%c", *p);
        else if (*p == '\n')
            hb__sb_adds(s, "\\n");
        else if (*p < 0x20 || *p == 0x7f)
            hb__sb_addf(s, "\\x%02x", *p);
        else
            hb__sb_add(s, p, 1);
    }
    hb__sb_adds(s, "\"");
}

static void add_bytes(hb_sb *s, char kind, const uint8_t *data, size_t len)
{
    hb__sb_addf(s, "%c[%zu]=", kind, len);
    for (size_t i = 0; i < len && i < SHOW_BYTES; i++)
        hb__sb_addf(s, "%02x", data ? data[i] : 0);
    if (len > SHOW_BYTES)
        hb__sb_adds(s, "...");
}

static void add_value(hb_sb *s, const hb_value *v)
{
    switch (v->type) {
    case HB_TYPE_VOID:
        hb__sb_adds(s, "void");
        break;
    case HB_TYPE_BOOL:
        hb__sb_adds(s, v->v.i ? "true" : "false");
        break;
    case HB_TYPE_I8: case HB_TYPE_I16: case HB_TYPE_I32: case HB_TYPE_LONG: case HB_TYPE_I64:
        hb__sb_addf(s, "%" PRId64, v->v.i);
        break;
    case HB_TYPE_F32:
        hb__sb_addf(s, "%.9g", (double)v->v.f);
        break;
    case HB_TYPE_F64:
        hb__sb_addf(s, "%.17g", v->v.d);
        break;
    case HB_TYPE_STR:
        add_string(s, v->v.s);
        break;
    case HB_TYPE_BUF_IN:
        add_bytes(s, 'b', v->v.buf.data, v->v.buf.len);
        break;
    case HB_TYPE_BUF_INOUT:
        add_bytes(s, 'w', v->v.buf.data, v->v.buf.len);
        break;
    default:
        hb__sb_addf(s, "%" PRIu64, v->v.u);
        break;
    }
}

char *hb__replay_outcome_text(const hb_rec_call *c, const hb_replay_outcome *o)
{
    hb_sb s = HB_SB_INIT;
    if (o->code < 0) {
        const char *e = o->error ? o->error : "";
        size_t n = strcspn(e, "\n");
        hb__sb_addf(&s, "error %d: %.*s", o->code, (int)n, e);
        return hb__sb_detach(&s);
    }
    add_value(&s, &o->ret);
    for (size_t i = 0; i < c->req.nargs; i++) {
        if (c->req.args[i].type != HB_TYPE_BUF_INOUT)
            continue;
        hb__sb_addf(&s, ", arg %zu ", i + 1);
        add_bytes(&s, 'w', o->bufs[i], c->req.args[i].len);
    }
    return hb__sb_detach(&s);
}

char *hb__replay_args_text(const hb_rec_call *c)
{
    hb_sb s = HB_SB_INIT;
    hb__sb_adds(&s, "(");
    for (size_t i = 0; i < c->req.nargs; i++) {
        const hb_wvalue *w = &c->req.args[i];
        hb_value v = {.type = w->type};
        if (w->type == HB_TYPE_STR)
            v.v.s = w->s;
        else if (w->type == HB_TYPE_BUF_IN || w->type == HB_TYPE_BUF_INOUT) {
            v.v.buf.data = w->buf;
            v.v.buf.len = w->len;
        } else
            memcpy(&v.v, &w->n, sizeof(w->n));
        if (i)
            hb__sb_adds(&s, ", ");
        add_value(&s, &v);
    }
    hb__sb_adds(&s, ")");
    return hb__sb_detach(&s);
}
