/* versions/recording.c - the recording file of differential replay
 * (recording.h, docs/replay.md): its writer and its strict parser. */
#include "recording.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signature.h"
#include "util.h"
#include "wire.h"

/* ---- writing ---------------------------------------------------------------- */

static void put_le32_at(hb_wbuf *w, size_t at, uint32_t v)
{
    if (w->failed || at + 4 > w->len)
        return;
    for (int i = 0; i < 4; i++)
        w->data[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

void hb__rec_put_header(hb_wbuf *w)
{
    for (const char *p = HB_REC_MAGIC; *p; p++)
        hb__wire_put_u8(w, (uint8_t)*p);
    hb__wire_put_u32(w, HB_REC_FORMAT);
    hb__wire_put_u32(w, 0);
}

/* Starts a record; returns where its length goes (patched by end()). */
static size_t begin(hb_wbuf *w, uint8_t kind)
{
    size_t at = w->len;
    hb__wire_put_u32(w, 0);
    hb__wire_put_u8(w, kind);
    return at;
}

static void end(hb_wbuf *w, size_t at)
{
    put_le32_at(w, at, (uint32_t)(w->len - at - 4));
}

void hb__rec_put_segment(hb_wbuf *w, uint64_t id, const char *plugin, uint64_t version,
                         const char *sha, bool has_state, uint32_t schema, const void *state,
                         size_t len)
{
    size_t at = begin(w, HB_REC_SEGMENT);
    hb__wire_put_u64(w, id);
    hb__wire_put_str(w, plugin);
    hb__wire_put_u64(w, version);
    hb__wire_put_str(w, sha);
    hb__wire_put_u8(w, has_state ? 1 : 0);
    hb__wire_put_u32(w, has_state ? schema : 0);
    hb__wire_put_bytes(w, has_state ? state : NULL, has_state ? len : 0);
    end(w, at);
}

void hb__rec_put_call(hb_wbuf *w, uint64_t segment, const void *req, size_t reqlen, int code,
                      const void *reply, size_t replylen, const char *error)
{
    size_t at = begin(w, HB_REC_CALL);
    hb__wire_put_u64(w, segment);
    hb__wire_put_bytes(w, req, reqlen);
    hb__wire_put_u32(w, (uint32_t)code);
    hb__wire_put_bytes(w, code == 0 ? reply : NULL, code == 0 ? replylen : 0);
    hb__wire_put_str(w, code == 0 ? "" : (error ? error : ""));
    end(w, at);
}

/* ---- reading ---------------------------------------------------------------- */

typedef struct parser {
    const char *name;
    char **err;
    hb_recording *rec;
    size_t segments_cap, calls_cap; /* room in rec's arrays (hb__push) */
} parser;

static int bad(parser *p, uint64_t offset, const char *what)
{
    return hb__seterr(p->err, -EBADMSG, "%s:%llu: %s", p->name, (unsigned long long)offset,
                      what);
}

static bool is_sha(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static int parse_segment(parser *p, hb_rbuf *r, uint64_t off)
{
    hb_rec_segment s;
    memset(&s, 0, sizeof(s));
    char *sha = NULL;
    uint8_t has_state;
    const void *state;
    int rc = -EBADMSG;
    if (hb__wire_get_u64(r, &s.id) < 0 || hb__wire_get_str(r, HB_PROTO_MAX_STR, &s.plugin) < 0 ||
        hb__wire_get_u64(r, &s.version) < 0 || hb__wire_get_str(r, HB_PROTO_MAX_STR, &sha) < 0 ||
        hb__wire_get_u8(r, &has_state) < 0 || hb__wire_get_u32(r, &s.schema) < 0 ||
        hb__wire_get_bytes(r, &state, &s.len) < 0) {
        rc = bad(p, off, "truncated SEGMENT record");
        goto fail;
    }
    if (!hb__wire_done(r)) {
        rc = bad(p, off, "SEGMENT record has bytes after its last field");
        goto fail;
    }
    if (!*s.plugin || s.version == 0 || !is_sha(sha) || has_state > 1 ||
        (!has_state && (s.len || s.schema))) {
        rc = bad(p, off, !*s.plugin ? "SEGMENT record names no plugin"
                         : s.version == 0 ? "SEGMENT record has version 0"
                         : !is_sha(sha) ? "SEGMENT record's object sha256 is not 64 hex digits"
                                        : "SEGMENT record has state fields without state");
        goto fail;
    }
    for (size_t i = 0; i < p->rec->nsegments; i++)
        if (p->rec->segments[i].id == s.id) {
            rc = bad(p, off, "SEGMENT record repeats the id of an earlier one");
            goto fail;
        }
    memcpy(s.sha, sha, 65);
    s.has_state = has_state;
    s.state = state;
    s.offset = off;
    hb_rec_segment *ns =
        hb__push(&p->rec->segments, &p->rec->nsegments, &p->segments_cap, sizeof(*ns));
    if (!ns) {
        rc = -ENOMEM;
        goto fail;
    }
    *ns = s;
    free(sha);
    return 0;
fail:
    free(s.plugin);
    free(sha);
    return rc;
}

/* The segment of that id (the newest first: calls follow their segment). */
static bool find_segment(const hb_recording *rec, uint64_t id, size_t *out)
{
    for (size_t i = rec->nsegments; i-- > 0;)
        if (rec->segments[i].id == id) {
            *out = i;
            return true;
        }
    return false;
}

/* A decoded reply that fits the call's signature. */
static const char *reply_mismatch(const hb_rec_call *c)
{
    if (c->ok.ret.type != c->sig.ret)
        return "CALL record's result type does not match its signature";
    size_t want = 0;
    for (size_t i = 0; i < c->sig.nargs; i++)
        if (c->sig.args[i] == HB_TYPE_BUF_INOUT) {
            if (want >= c->ok.nbuf || c->ok.bufs[want].len != c->req.args[i].len)
                return "CALL record's out-buffers do not match its arguments";
            want++;
        }
    return want == c->ok.nbuf ? NULL : "CALL record has more out-buffers than its signature";
}

static int parse_call(parser *p, hb_rbuf *r, uint64_t off)
{
    hb_rec_call c;
    memset(&c, 0, sizeof(c));
    const void *req, *reply;
    size_t reqlen, replylen;
    uint32_t code;
    uint64_t segid;
    char msg[320];
    int rc;
    if (hb__wire_get_u64(r, &segid) < 0 || hb__wire_get_bytes(r, &req, &reqlen) < 0 || hb__wire_get_u32(r, &code) < 0 ||
        hb__wire_get_bytes(r, &reply, &replylen) < 0 ||
        hb__wire_get_str(r, HB_PROTO_MAX_ERR, &c.error) < 0)
        return bad(p, off, "truncated CALL record");
    c.code = (int)(int32_t)code;
    c.offset = off;
    if (!hb__wire_done(r)) {
        rc = bad(p, off, "CALL record has bytes after its last field");
        goto fail;
    }
    if ((rc = hb__proto_call_decode(req, reqlen, &c.req)) < 0) {
        rc = rc == -ENOMEM ? rc : bad(p, off, "CALL record's request is not a valid CALL");
        goto fail;
    }
    hb_sig_error serr;
    if (hb__sig_parse(c.req.signature, &c.sig, &serr) < 0) {
        snprintf(msg, sizeof(msg), "CALL record's signature \"%.40s\": %s", c.req.signature,
                 serr.msg);
        rc = bad(p, off, msg);
        goto fail;
    }
    if (hb__call_check(&c.sig, c.req.args, c.req.nargs, msg, sizeof(msg)) < 0) {
        rc = bad(p, off, msg);
        goto fail;
    }
    if (!find_segment(p->rec, segid, &c.segment)) {
        rc = bad(p, off, "CALL record names a segment no earlier SEGMENT record opened");
        goto fail;
    }
    if (strcmp(p->rec->segments[c.segment].plugin, c.req.plugin) != 0) {
        rc = bad(p, off, "CALL record's plugin is not its segment's");
        goto fail;
    }
    if (c.code > 0 || (c.code == 0 && *c.error) || (c.code != 0 && replylen)) {
        rc = bad(p, off, c.code > 0 ? "CALL record has a positive result code"
                         : c.code == 0 ? "CALL record succeeded but carries an error text"
                                       : "CALL record failed but carries a reply");
        goto fail;
    }
    if (c.code == 0) {
        if ((rc = hb__proto_call_ok_decode(reply, replylen, &c.ok)) < 0) {
            rc = rc == -ENOMEM ? rc : bad(p, off, "CALL record's reply is not a valid CALL OK");
            goto fail;
        }
        const char *why = reply_mismatch(&c);
        if (why) {
            rc = bad(p, off, why);
            goto fail;
        }
    }
    hb_rec_call *nc = hb__push(&p->rec->calls, &p->rec->ncalls, &p->calls_cap, sizeof(*nc));
    if (!nc) {
        rc = -ENOMEM;
        goto fail;
    }
    *nc = c;
    return 0;
fail:
    hb__proto_call_release(&c.req);
    hb__proto_call_ok_release(&c.ok);
    free(c.error);
    return rc;
}

static int parse_records(parser *p)
{
    hb_recording *rec = p->rec;
    size_t off = HB_REC_HEADER;
    while (off < rec->len) {
        if (rec->len - off < 5)
            return bad(p, off, "truncated record header (a partly written record?)");
        const uint8_t *h = rec->data + off;
        uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                       (uint32_t)h[3] << 24;
        if (len < 1 || len > HB_REC_MAX_RECORD)
            return bad(p, off, "record length out of range");
        if (len > rec->len - off - 4)
            return bad(p, off, "record runs past the end of the file (a partly written record?)");
        hb_rbuf r;
        hb__rbuf_init(&r, h + 5, len - 1);
        int rc;
        if (h[4] == HB_REC_SEGMENT)
            rc = parse_segment(p, &r, off);
        else if (h[4] == HB_REC_CALL)
            rc = parse_call(p, &r, off);
        else
            rc = bad(p, off, "unknown record kind");
        if (rc < 0)
            return rc;
        off += 4 + (size_t)len;
    }
    return 0;
}

int hb__rec_parse(void *data, size_t len, const char *name, hb_recording *out, char **err)
{
    hb_recording rec = {.data = data, .len = len};
    parser p = {.name = name, .err = err, .rec = &rec};
    int rc;
    const uint8_t *d = data;
    if (len < HB_REC_HEADER || memcmp(d, HB_REC_MAGIC, 8) != 0) {
        rc = bad(&p, 0, "not a hotbox recording (no HBRECORD header)");
        goto fail;
    }
    uint32_t fmt = (uint32_t)d[8] | (uint32_t)d[9] << 8 | (uint32_t)d[10] << 16 |
                   (uint32_t)d[11] << 24;
    if (fmt != HB_REC_FORMAT) {
        rc = hb__seterr(err, -EBADMSG, "%s:8: recording format %u; this hotbox reads format %u",
                        name, fmt, HB_REC_FORMAT);
        goto fail;
    }
    if (d[12] | d[13] | d[14] | d[15]) {
        rc = bad(&p, 12, "reserved header field is not zero");
        goto fail;
    }
    if ((rc = parse_records(&p)) < 0)
        goto fail;
    *out = rec;
    return 0;
fail:
    hb__rec_release(&rec);
    return rc;
}

int hb__rec_read(const char *path, hb_recording *out, char **err)
{
    void *data = NULL;
    size_t len = 0;
    int r = hb__read_file(path, HB_REC_MAX_FILE, &data, &len);
    if (r < 0)
        return hb__seterr(err, r, "%s: cannot read the recording: %s", path, strerror(-r));
    return hb__rec_parse(data, len, path, out, err);
}

void hb__rec_release(hb_recording *r)
{
    for (size_t i = 0; i < r->nsegments; i++)
        free(r->segments[i].plugin);
    for (size_t i = 0; i < r->ncalls; i++) {
        hb__proto_call_release(&r->calls[i].req);
        hb__proto_call_ok_release(&r->calls[i].ok);
        free(r->calls[i].error);
    }
    free(r->segments);
    free(r->calls);
    free(r->data);
    memset(r, 0, sizeof(*r));
}
