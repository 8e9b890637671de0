/* hb__proto_call_decode_in (proto.h): a CALL decoded into an arena (the
 * worker's ring calls, no allocation) gives exactly what the malloc decode
 * gives, for every kind of value (integers, floats, NULL / empty / long
 * strings, empty and filled b and w buffers, 32 arguments), stays within
 * HB_PROTO_CALL_ARENA(len), fails cleanly (-ENOMEM, the message zeroed)
 * when the arena is one byte short, and refuses a truncated or trailing
 * frame as the malloc decode does. */
#include "hbtest.h"
#include "proto.h"
#include "wire.h"

static uint8_t mem[HB_PROTO_CALL_ARENA(HB_WIRE_MAX_FRAME < 65536 ? HB_WIRE_MAX_FRAME : 65536)];

static void same_value(const hb_wvalue *a, const hb_wvalue *b)
{
    HB_CHECK_EQ(a->type, b->type);
    HB_CHECK_EQ(a->n.u, b->n.u);
    HB_CHECK_EQ(a->len, b->len);
    HB_CHECK_EQ(a->s == NULL, b->s == NULL);
    if (a->s && b->s)
        HB_CHECK_STR(a->s, b->s);
    HB_CHECK_EQ(a->buf == NULL, b->buf == NULL);
    if (a->buf && b->buf && a->len)
        HB_CHECK(memcmp(a->buf, b->buf, a->len) == 0);
}

/* Encodes q, decodes it both ways and compares; then the arena one byte
 * short of what the decode took, and the frame cut short or extended. */
static void check_call(const hb_proto_call *q)
{
    hb_wbuf w = {0};
    HB_CHECK_OK(hb__proto_call_encode(&w, 7, q));
    const uint8_t *pl = w.data + HB_WIRE_HEADER;
    size_t len = w.len - HB_WIRE_HEADER;
    hb_proto_call want, got;
    HB_CHECK_OK(hb__proto_call_decode(pl, len, &want));
    hb_arena a = {mem, sizeof(mem), 0};
    HB_CHECK_OK(hb__proto_call_decode_in(pl, len, &got, &a));
    HB_CHECK(a.used <= HB_PROTO_CALL_ARENA(len));
    HB_CHECK_STR(got.plugin, want.plugin);
    HB_CHECK_STR(got.symbol, want.symbol);
    HB_CHECK_STR(got.signature, want.signature);
    HB_CHECK_EQ(got.nargs, want.nargs);
    for (size_t i = 0; i < want.nargs; i++) {
        same_value(&got.args[i], &want.args[i]);
        /* Every copy lies in the arena. */
        if (got.args[i].s)
            HB_CHECK((uint8_t *)got.args[i].s >= mem && (uint8_t *)got.args[i].s < mem + a.used);
        if (got.args[i].buf)
            HB_CHECK(got.args[i].buf >= mem && got.args[i].buf < mem + a.used);
    }
    HB_CHECK((uint8_t *)got.plugin >= mem && (uint8_t *)got.plugin < mem + a.used);
    size_t need = a.used;
    hb_arena short_a = {mem, need - 1, 0};
    HB_CHECK_EQ(hb__proto_call_decode_in(pl, len, &got, &short_a), -ENOMEM);
    /* Truncated and trailing frames: refused the same way by both. */
    uint8_t *longer = malloc(len + 1);
    HB_CHECK(longer != NULL);
    memcpy(longer, pl, len);
    longer[len] = 0;
    hb_proto_call junk;
    for (size_t cut = 0; cut < len; cut += 1 + len / 16) {
        a.used = 0;
        HB_CHECK_EQ(hb__proto_call_decode_in(pl, cut, &junk, &a), -EPROTO);
        HB_CHECK(junk.plugin == NULL && junk.args == NULL && junk.nargs == 0);
    }
    a.used = 0;
    HB_CHECK_EQ(hb__proto_call_decode_in(longer, len + 1, &junk, &a), -EPROTO);
    free(longer);
    hb__proto_call_release(&want);
    hb__wire_release(&w);
}

int main(void)
{
    uint8_t bin[300], empty[1];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)(i * 7);
    char longstr[2000];
    memset(longstr, 's', sizeof(longstr) - 1);
    longstr[sizeof(longstr) - 1] = '\0';
    hb_wvalue v[HB_SIG_MAX_ARGS];
    memset(v, 0, sizeof(v));
    v[0] = (hb_wvalue){.type = HB_TYPE_I32, .n.i = -5};
    v[1] = (hb_wvalue){.type = HB_TYPE_U64, .n.u = UINT64_MAX};
    v[2] = (hb_wvalue){.type = HB_TYPE_F64, .n.d = 2.5};
    v[3] = (hb_wvalue){.type = HB_TYPE_F32, .n.f = -1.25f};
    v[4] = (hb_wvalue){.type = HB_TYPE_STR, .s = NULL};
    v[5] = (hb_wvalue){.type = HB_TYPE_STR, .s = ""};
    v[6] = (hb_wvalue){.type = HB_TYPE_STR, .s = longstr};
    v[7] = (hb_wvalue){.type = HB_TYPE_BUF_IN, .buf = bin, .len = sizeof(bin)};
    v[8] = (hb_wvalue){.type = HB_TYPE_BUF_INOUT, .buf = bin, .len = 17};
    v[9] = (hb_wvalue){.type = HB_TYPE_BUF_INOUT, .buf = empty, .len = 0};
    v[10] = (hb_wvalue){.type = HB_TYPE_BUF_IN, .buf = empty, .len = 0};
    hb_proto_call q = {.plugin = "bench", .symbol = "add", .signature = "ii)i", .nargs = 2,
                       .args = v};
    check_call(&q); /* the benchmark's call */
    q.nargs = 11;
    q.signature = "iUdfssswbwb)v";
    check_call(&q);
    q.nargs = 0;
    q.plugin = "";
    q.symbol = "f";
    q.signature = ")v";
    check_call(&q);
    /* The most items a CALL can hold, each as small as it can be: the
     * arena's bound is tightest here. */
    hb_wvalue e[HB_SIG_MAX_ARGS];
    for (size_t i = 0; i < HB_SIG_MAX_ARGS; i++)
        e[i] = i % 2 ? (hb_wvalue){.type = HB_TYPE_BUF_IN, .buf = empty, .len = 0}
                     : (hb_wvalue){.type = HB_TYPE_STR, .s = ""};
    q.args = e;
    q.nargs = HB_SIG_MAX_ARGS;
    check_call(&q);
    printf("call arena: ok\n");
    return 0;
}
