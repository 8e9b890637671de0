/* harness/call.c - calling plugin functions in the worker.
 *
 * Arguments are checked against the signature here, before anything is
 * sent, so a malformed call is a clear error and never reaches the worker.
 * The worker checks again (it trusts nobody) and makes the call with libffi. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "replay.h"
#include "signature.h"

int hb_signature_check(const char *signature, size_t *nargs_out)
{
    if (!signature)
        return -EINVAL;
    hb_sig sig;
    int r = hb__sig_parse(signature, &sig, NULL);
    if (r < 0)
        return r;
    if (nargs_out)
        *nargs_out = sig.nargs;
    return 0;
}

static int fail(hb_sandbox *sb, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(hb_sandbox *sb, int code, const char *fmt, ...)
{
    hb_sb s = HB_SB_INIT;
    va_list ap;
    va_start(ap, fmt);
    hb__sb_vaddf(&s, fmt, ap);
    va_end(ap);
    free(sb->last_error);
    sb->last_error = hb__sb_detach(&s);
    return code;
}

/* Decodes the CALL reply into *ret and the caller's in/out buffers. */
static int decode_reply(hb_sandbox *sb, const hb_sig *sig, const hb_value *args,
                        const hb_frame *f, hb_value *ret)
{
    hb_proto_call_ok ok;
    int r = hb__proto_call_ok_decode(f->payload, f->len, &ok);
    if (r == -ENOMEM)
        return fail(sb, -ENOMEM, "out of memory");
    if (r < 0)
        return fail(sb, HB_EPROTO, "malformed CALL reply from the worker");
    if (ok.ret.type != sig->ret) {
        r = fail(sb, HB_EPROTO, "worker returned type %u for a '%c' return",
                 (unsigned)ok.ret.type, hb__sig_char(sig->ret));
        goto out;
    }
    hb_value v = {.type = sig->ret};
    switch (sig->ret) {
    case HB_TYPE_VOID:
        break;
    case HB_TYPE_F32:
        v.v.f = ok.ret.n.f;
        break;
    case HB_TYPE_F64:
        v.v.d = ok.ret.n.d;
        break;
    case HB_TYPE_STR:
        free(sb->ret_str);
        sb->ret_str = ok.ret.s; /* NULL for a NULL string */
        ok.ret.s = NULL;
        v.v.s = sb->ret_str;
        break;
    default:
        v.v.u = ok.ret.n.u; /* the same bits as v.v.i */
        break;
    }
    size_t bi = 0;
    for (size_t i = 0; i < sig->nargs; i++) {
        if (sig->args[i] != HB_TYPE_BUF_INOUT)
            continue;
        if (bi >= ok.nbuf)
            break;
        const hb_proto_bytes *b = &ok.bufs[bi++];
        if (b->len != args[i].v.buf.len) {
            r = fail(sb, HB_EPROTO, "worker returned %zu bytes for a %zu-byte buffer", b->len,
                     args[i].v.buf.len);
            goto out;
        }
        if (b->len)
            memcpy(args[i].v.buf.data, b->data, b->len);
    }
    if (bi != ok.nbuf) {
        r = fail(sb, HB_EPROTO, "malformed CALL reply from the worker");
        goto out;
    }
    if (ret)
        *ret = v;
    r = 0;
out:
    hb__proto_call_ok_release(&ok);
    return r;
}

/* hb_call with the signature already parsed into sig (hb_callf parses it
 * once for both). */
static int call_parsed(hb_sandbox *sb, const char *plugin, const char *symbol,
                       const char *signature, const hb_sig *psig, const hb_value *args,
                       size_t nargs, hb_value *ret)
{
    const hb_sig sig = *psig;
    int r;
    if (nargs != sig.nargs)
        return fail(sb, HB_EARGS, "%s.%s: signature \"%s\" takes %zu argument%s, %zu given",
                    plugin, symbol, signature, sig.nargs, sig.nargs == 1 ? "" : "s", nargs);
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].type != sig.args[i])
            return fail(sb, HB_EARGS, "%s.%s: argument %zu is %s, the signature \"%s\" says %s",
                        plugin, symbol, i + 1, hb__type_name(args[i].type), signature,
                        hb__type_name(sig.args[i]));
        if ((args[i].type == HB_TYPE_BUF_IN || args[i].type == HB_TYPE_BUF_INOUT) &&
            args[i].v.buf.len && !args[i].v.buf.data)
            return fail(sb, -EINVAL, "%s.%s: argument %zu is a NULL buffer of %zu bytes", plugin,
                        symbol, i + 1, args[i].v.buf.len);
    }
    /* A worker found dead when the call is made is recovered first, and
     * the call says so (HB_ESTATELOST) or runs on the fresh worker. One
     * that dies before it takes the call (undelivered: its bell was never
     * taken, nothing ran) is the same case seen a moment later: the call
     * starts over once, from here. */
    bool retried = false;
again:
    if ((r = hb__ensure_worker_for_call(sb)) < 0)
        return r;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin, sb->name);
    if ((r = hb__maybe_checkpoint(sb, s)) < 0 ||
        (sb->recorder && (r = hb__record_begin(sb, s)) < 0))
        return r;
    if (!(s = hb__slot_find(sb, plugin)))
        return fail(sb, HB_ENOPLUGIN, "plugin %s was lost when its worker restarted", plugin);
    if (s->state_lost) {
        s->state_lost = false;
        /* what the restart gave it back (recover.c) */
        const char *lost =
            s->restore_fresh
                ? "was lost: restoring its checkpoint failed, so it serves with fresh state now"
            : s->restored_older
                ? "since an older checkpoint was lost (its last one is in a layout this version "
                  "cannot read); it serves from that older checkpoint now"
            : s->ckpts.latest.valid
                ? "since its last checkpoint was lost; it serves from that checkpoint now"
                : "was lost (it had no checkpoint); it serves with fresh state now";
        return fail(sb, HB_ESTATELOST,
                    "%s: the worker of sandbox %s restarted since the last call and the state of "
                    "%s v%llu %s (%s was not called)",
                    plugin, sb->name, plugin, (unsigned long long)s->version, lost, symbol);
    }

    hb_wvalue wargs[HB_SIG_MAX_ARGS];
    for (size_t i = 0; i < nargs; i++)
        wargs[i] = hb__value_view(&args[i]);
    hb_proto_call req = {.plugin = (char *)plugin, .symbol = (char *)symbol,
                         .signature = (char *)signature, .nargs = nargs, .args = wargs};
    /* Encoded on the stack when it fits (no allocation per call), else
     * again on the heap; a failure there is hb__wc_call's to report. */
    uint8_t wmem[1024];
    hb_wbuf w;
    uint32_t id = hb__wc_next_id(&sb->wc);
    hb__wire_init_fixed(&w, wmem, sizeof(wmem));
    if (hb__proto_call_encode(&w, id, &req) < 0) {
        hb__wire_release(&w);
        hb__proto_call_encode(&w, id, &req);
    }
    hb_frame reply;
    char *err = NULL;
    uint64_t version = s->version;
    uint64_t t0 = hb__now_ns(), clock = t0;
    r = hb__wc_call(&sb->wc, &w, hb__slot_call_timeout(sb, s), &clock, &reply, &err);
    if (r == HB_ECRASHED && sb->wc.undelivered && sb->wc.pid <= 0 && !retried) {
        free(err);
        hb__wire_release(&w);
        retried = true;
        goto again;
    }
    if (sb->recorder) /* docs/replay.md: a copy of the frames, written later */
        hb__record_call(sb, plugin, &w, r, &reply, err);
    hb__wire_release(&w);
    sb->calls++;
    hb_metrics_add(sb->m->metrics, HB_CTR_CALLS, 1);
    hb_metrics_observe(sb->m->metrics, HB_HIST_CALL, clock - t0);
    if (r < 0)
        hb_metrics_add(sb->m->metrics, HB_CTR_CALL_ERRORS, 1);
    /* A protocol violation kills the worker too (plugin code can write on
     * the channel): recover from it like from a crash. */
    if (r == HB_ECRASHED || r == HB_EHUNG || (r == HB_EPROTO && sb->wc.pid <= 0)) {
        fail(sb, r, "call %s.%s (v%llu) %s", plugin, symbol, (unsigned long long)version,
             err ? err : "");
        free(err);
        char *what = strdup(sb->last_error);
        hb__recover(sb, plugin, version, r, what ? what : "");
        if ((s = hb__slot_find(sb, plugin)) != NULL)
            s->state_lost = false; /* this result already says so */
        if (what) {
            free(sb->last_error);
            sb->last_error = what;
        }
        return r;
    }
    if (r < 0) {
        fail(sb, r, "%s", err ? err : hb_strerror(r));
        free(err);
        return r;
    }
    free(err);
    s->calls_since_ckpt++;
    r = decode_reply(sb, &sig, args, &reply, ret);
    hb__wc_reply_release(&sb->wc, &reply);
    if (r == 0 && strncmp(symbol, "hb_test_", 8) != 0)
        hb__probation_call(sb, plugin, 0);
    return r;
}

int hb_call(hb_sandbox *sb, const char *plugin, const char *symbol, const char *signature,
            const hb_value *args, size_t nargs, hb_value *ret)
{
    if (!sb || !plugin || !symbol || !signature || (nargs && !args))
        return -EINVAL;
    hb_sig sig;
    hb_sig_error serr;
    int r = hb__sig_parse_cached(&sb->sig_cache, signature, &sig, &serr);
    if (r < 0)
        return fail(sb, r, "%s.%s: %s", plugin, symbol, serr.msg);
    return call_parsed(sb, plugin, symbol, signature, &sig, args, nargs, ret);
}

int hb_callf(hb_sandbox *sb, const char *plugin, const char *symbol, const char *signature, ...)
{
    if (!sb || !signature)
        return -EINVAL;
    hb_sig sig;
    hb_sig_error serr;
    int r = hb__sig_parse_cached(&sb->sig_cache, signature, &sig, &serr);
    if (r < 0)
        return fail(sb, r, "%s.%s: %s", plugin ? plugin : "?", symbol ? symbol : "?", serr.msg);
    hb_value args[HB_SIG_MAX_ARGS];
    va_list ap;
    va_start(ap, signature);
    for (size_t i = 0; i < sig.nargs; i++) {
        hb_value *a = &args[i];
        a->type = sig.args[i];
        switch (a->type) {
        case HB_TYPE_BOOL: case HB_TYPE_I8: case HB_TYPE_I16: case HB_TYPE_I32:
            a->v.i = va_arg(ap, int);
            break;
        case HB_TYPE_U8: case HB_TYPE_U16:
            a->v.u = (unsigned)va_arg(ap, int);
            break;
        case HB_TYPE_U32:
            a->v.u = va_arg(ap, unsigned);
            break;
        case HB_TYPE_LONG:
            a->v.i = va_arg(ap, long);
            break;
        case HB_TYPE_ULONG:
            a->v.u = va_arg(ap, unsigned long);
            break;
        case HB_TYPE_I64:
            a->v.i = va_arg(ap, int64_t);
            break;
        case HB_TYPE_U64:
            a->v.u = va_arg(ap, uint64_t);
            break;
        case HB_TYPE_F32:
            a->v.f = (float)va_arg(ap, double);
            break;
        case HB_TYPE_F64:
            a->v.d = va_arg(ap, double);
            break;
        case HB_TYPE_STR:
            a->v.s = va_arg(ap, const char *);
            break;
        case HB_TYPE_BUF_IN:
        case HB_TYPE_BUF_INOUT:
            a->v.buf.data = va_arg(ap, void *);
            a->v.buf.len = va_arg(ap, size_t);
            break;
        default:
            break;
        }
    }
    void *out = sig.ret == HB_TYPE_VOID ? NULL : va_arg(ap, void *);
    va_end(ap);
    hb_value ret;
    if (!plugin || !symbol)
        return -EINVAL;
    r = call_parsed(sb, plugin, symbol, signature, &sig, args, sig.nargs, &ret);
    if (r < 0 || !out)
        return r;
    switch (sig.ret) {
    case HB_TYPE_BOOL: *(_Bool *)out = ret.v.i != 0; break;
    case HB_TYPE_I8: *(int8_t *)out = (int8_t)ret.v.i; break;
    case HB_TYPE_U8: *(uint8_t *)out = (uint8_t)ret.v.u; break;
    case HB_TYPE_I16: *(int16_t *)out = (int16_t)ret.v.i; break;
    case HB_TYPE_U16: *(uint16_t *)out = (uint16_t)ret.v.u; break;
    case HB_TYPE_I32: *(int32_t *)out = (int32_t)ret.v.i; break;
    case HB_TYPE_U32: *(uint32_t *)out = (uint32_t)ret.v.u; break;
    case HB_TYPE_LONG: *(long *)out = (long)ret.v.i; break;
    case HB_TYPE_ULONG: *(unsigned long *)out = (unsigned long)ret.v.u; break;
    case HB_TYPE_I64: *(int64_t *)out = ret.v.i; break;
    case HB_TYPE_U64: *(uint64_t *)out = ret.v.u; break;
    case HB_TYPE_F32: *(float *)out = ret.v.f; break;
    case HB_TYPE_F64: *(double *)out = ret.v.d; break;
    case HB_TYPE_STR: *(const char **)out = ret.v.s; break;
    default: break;
    }
    return 0;
}
