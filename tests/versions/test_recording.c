/* The recording file of differential replay (versions/recording.c): what
 * the writer writes the parser reads back, and every malformed file is
 * refused with "NAME:OFFSET: what" naming the bad record's offset. */
#include "hbtest.h"
#include "recording.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

static const char *SHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* A CALL payload (what harness/call.c sends) of counter.SYM. */
static void call_payload(hb_wbuf *w, const char *sym, const char *sig, hb_wvalue *args,
                         size_t n)
{
    hb_proto_call c = {.plugin = "counter", .symbol = (char *)sym, .signature = (char *)sig,
                       .nargs = n, .args = args};
    HB_CHECK_OK(hb__proto_call_encode(w, 7, &c));
}

static void ok_payload(hb_wbuf *w, hb_wvalue ret, const void *buf, size_t len)
{
    hb_proto_call_ok ok = {.ret = ret, .nbuf = buf ? 1 : 0};
    if (buf)
        ok.bufs[0] = (hb_proto_bytes){buf, len};
    HB_CHECK_OK(hb__proto_call_ok_encode(w, 7, &ok));
}

/* header, SEGMENT (with state), add(2,3)=5, fill(w"abc")="xyz", boom -> crashed */
static void sample(hb_wbuf *f)
{
    hb__rec_put_header(f);
    uint64_t state = 41;
    hb__rec_put_segment(f, 77, "counter", 3, SHA, true, 2, &state, sizeof(state));
    hb_wbuf q = {0}, a = {0};
    hb_wvalue args[2] = {{.type = HB_TYPE_I32, .n.i = 2}, {.type = HB_TYPE_I32, .n.i = 3}};
    call_payload(&q, "add", "ii)i", args, 2);
    ok_payload(&a, (hb_wvalue){.type = HB_TYPE_I32, .n.i = 5}, NULL, 0);
    hb__rec_put_call(f, 77, q.data + HB_WIRE_HEADER, q.len - HB_WIRE_HEADER, 0,
                     a.data + HB_WIRE_HEADER, a.len - HB_WIRE_HEADER, NULL);
    hb_wvalue w = {.type = HB_TYPE_BUF_INOUT, .buf = (uint8_t *)"abc", .len = 3};
    call_payload(&q, "fill", "w)v", &w, 1);
    ok_payload(&a, (hb_wvalue){.type = HB_TYPE_VOID}, "xyz", 3);
    hb__rec_put_call(f, 77, q.data + HB_WIRE_HEADER, q.len - HB_WIRE_HEADER, 0,
                     a.data + HB_WIRE_HEADER, a.len - HB_WIRE_HEADER, NULL);
    call_payload(&q, "boom", ")i", NULL, 0);
    hb__rec_put_call(f, 77, q.data + HB_WIRE_HEADER, q.len - HB_WIRE_HEADER, HB_ECRASHED, NULL, 0,
                     "the worker crashed");
    hb__wire_release(&q);
    hb__wire_release(&a);
    HB_CHECK(!f->failed);
}

static int parse_copy(const void *data, size_t len, hb_recording *rec, char **err)
{
    void *copy = malloc(len ? len : 1);
    HB_CHECK(copy != NULL);
    memcpy(copy, data, len);
    return hb__rec_parse(copy, len, "t.hbrec", rec, err);
}

static void test_roundtrip(void)
{
    hb_wbuf f = {0};
    sample(&f);
    hb_recording rec;
    char *err = NULL;
    HB_CHECK_OK(parse_copy(f.data, f.len, &rec, &err));
    HB_CHECK_EQ(rec.nsegments, 1);
    HB_CHECK_STR(rec.segments[0].plugin, "counter");
    HB_CHECK_EQ(rec.segments[0].version, 3);
    HB_CHECK_STR(rec.segments[0].sha, SHA);
    HB_CHECK(rec.segments[0].has_state);
    HB_CHECK_EQ(rec.segments[0].schema, 2);
    HB_CHECK_EQ(rec.segments[0].len, 8);
    uint64_t state;
    memcpy(&state, rec.segments[0].state, sizeof(state)); /* a view: not aligned */
    HB_CHECK_EQ(state, 41);
    HB_CHECK_EQ(rec.segments[0].offset, HB_REC_HEADER);
    HB_CHECK_EQ(rec.ncalls, 3);
    HB_CHECK_STR(rec.calls[0].req.symbol, "add");
    HB_CHECK_EQ(rec.calls[0].req.args[1].n.i, 3);
    HB_CHECK_EQ(rec.calls[0].code, 0);
    HB_CHECK_EQ(rec.calls[0].ok.ret.n.i, 5);
    HB_CHECK_EQ(rec.calls[0].segment, 0);
    HB_CHECK_STR(rec.calls[1].req.symbol, "fill");
    HB_CHECK_EQ(rec.calls[1].ok.nbuf, 1);
    HB_CHECK(memcmp(rec.calls[1].ok.bufs[0].data, "xyz", 3) == 0);
    HB_CHECK_EQ(rec.calls[2].code, HB_ECRASHED);
    HB_CHECK_STR(rec.calls[2].error, "the worker crashed");
    HB_CHECK(rec.calls[1].offset > rec.calls[0].offset);
    hb__rec_release(&rec);
    hb__wire_release(&f);
}

/* Parses bytes that must be refused; returns the message. */
static char *refused(const void *data, size_t len)
{
    hb_recording rec;
    char *err = NULL;
    int r = parse_copy(data, len, &rec, &err);
    HB_CHECK_EQ(r, -EBADMSG);
    HB_CHECK(err != NULL);
    return err;
}

static void test_header(void)
{
    char *e = refused("NOTAREC\0\1\0\0\0\0\0\0\0", 16);
    HB_CHECK_CONTAINS(e, "t.hbrec:0: not a hotbox recording");
    free(e);
    e = refused("HBRECORD\2\0\0\0\0\0\0\0", 16);
    HB_CHECK_CONTAINS(e, "t.hbrec:8: recording format 2");
    free(e);
    e = refused("HBREC", 5);
    HB_CHECK_CONTAINS(e, "t.hbrec:0:");
    free(e);
}

/* Every cut of a valid file inside a record is refused at that record. */
static void test_truncated(void)
{
    hb_wbuf f = {0};
    sample(&f);
    hb_recording rec;
    char *err = NULL;
    HB_CHECK_OK(parse_copy(f.data, f.len, &rec, &err));
    uint64_t last = rec.calls[2].offset;
    hb__rec_release(&rec);
    for (size_t cut = last + 1; cut < f.len; cut++) {
        char *e = refused(f.data, cut);
        char want[64];
        snprintf(want, sizeof(want), "t.hbrec:%llu: ", (unsigned long long)last);
        HB_CHECK_CONTAINS(e, want);
        free(e);
    }
    /* A cut exactly between records is a whole, shorter recording. */
    HB_CHECK_OK(parse_copy(f.data, last, &rec, &err));
    HB_CHECK_EQ(rec.ncalls, 2);
    hb__rec_release(&rec);
    hb__wire_release(&f);
}

static void test_bad_records(void)
{
    hb_wbuf f = {0};
    sample(&f);
    hb_recording rec;
    char *err = NULL;
    HB_CHECK_OK(parse_copy(f.data, f.len, &rec, &err));
    size_t seg = rec.segments[0].offset, c0 = rec.calls[0].offset;
    hb__rec_release(&rec);
    uint8_t *b = malloc(f.len);
    HB_CHECK(b != NULL);
    /* unknown kind */
    memcpy(b, f.data, f.len);
    b[c0 + 4] = 9;
    char *e = refused(b, f.len);
    char want[64];
    snprintf(want, sizeof(want), "t.hbrec:%zu: unknown record kind", c0);
    HB_CHECK_CONTAINS(e, want);
    free(e);
    /* a call before any segment: the segment dropped */
    size_t seglen = c0 - seg;
    memcpy(b, f.data, seg);
    memcpy(b + seg, f.data + c0, f.len - c0);
    e = refused(b, f.len - seglen);
    snprintf(want, sizeof(want), "t.hbrec:%zu: CALL record names a segment no earlier", seg);
    HB_CHECK_CONTAINS(e, want);
    free(e);
    /* the result of add changed type (i32 -> u32): it no longer fits "ii)i" */
    memcpy(b, f.data, f.len);
    size_t rec_len = f.data[c0] | (size_t)f.data[c0 + 1] << 8;
    uint8_t *reply_type = NULL;
    for (size_t i = c0 + rec_len; i > c0; i--) /* the reply's value type byte: 6 then 5 */
        if (b[i] == HB_TYPE_I32 && b[i + 1] == 5) {
            reply_type = &b[i];
            break;
        }
    HB_CHECK(reply_type != NULL);
    *reply_type = HB_TYPE_U32;
    e = refused(b, f.len);
    snprintf(want, sizeof(want), "t.hbrec:%zu: CALL record's result type", c0);
    HB_CHECK_CONTAINS(e, want);
    free(e);
    /* a length running past the end */
    memcpy(b, f.data, f.len);
    b[c0 + 2] = 0x7f;
    e = refused(b, f.len);
    snprintf(want, sizeof(want), "t.hbrec:%zu: record", c0);
    HB_CHECK_CONTAINS(e, want);
    free(e);
    free(b);
    hb__wire_release(&f);
}

static const hb_test_case cases[] = {
    {"roundtrip", test_roundtrip},
    {"header", test_header},
    {"truncated", test_truncated},
    {"bad_records", test_bad_records},
};

int main(int argc, char **argv)
{
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
