/* The message layer of proto/: every message's encoder against the bytes
 * PROTOCOL.md describes (built here by hand, independently of wire.c), its
 * decoder back to the same fields, truncation at every byte and a trailing
 * byte refused, the fault report encoded in a fixed buffer, and every seed
 * of the `wire` fuzz corpus (one frame of every message, written by
 * gen_wire_corpus.py from PROTOCOL.md) re-encoded byte for byte. One case per process:
 * test_proto <case>. */
#include "hbtest.h"
#include "proto.h"
#include "wire.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gold.h"

/* A frame header for payload p, type t, id. */
static void g_frame(gold *out, uint8_t t, uint32_t id, const gold *p)
{
    out->n = 0;
    g_u32(out, (uint32_t)p->n);
    g_u8(out, t);
    g_u8(out, 0);
    g_le(out, 0, 2);
    g_u32(out, id);
    memcpy(out->b + out->n, p->b, p->n);
    out->n += p->n;
}

/* Checks w holds exactly the frame (t, id, payload p). */
static void check_frame(const hb_wbuf *w, uint8_t t, uint32_t id, const gold *p)
{
    gold want;
    g_frame(&want, t, id, p);
    HB_CHECK_EQ(w->len, want.n);
    HB_CHECK(memcmp(w->data, want.b, want.n) == 0);
    HB_CHECK_EQ(hb__wire_frame_id(w), id);
}

/* Every proper prefix of p fails to decode, and so does p plus a byte.
 * `dec` decodes and releases; it returns the decoder's result. */
typedef int (*decode_fn)(const void *p, size_t n);
static void check_strict(decode_fn dec, const gold *p)
{
    for (size_t cut = 0; cut < p->n; cut++)
        HB_CHECK_EQ(dec(p->b, cut), -EPROTO);
    gold more = *p;
    more.b[more.n++] = 0x5a;
    HB_CHECK_EQ(dec(more.b, more.n), -EPROTO);
    HB_CHECK_OK(dec(p->b, p->n));
}

static int dec_load(const void *p, size_t n)
{
    hb_proto_load m;
    int r = hb__proto_load_decode(p, n, &m);
    if (r == 0)
        hb__proto_load_release(&m);
    return r;
}
static int dec_swap_ok(const void *p, size_t n)
{
    hb_proto_loaded m;
    int r = hb__proto_swap_ok_decode(p, n, &m);
    if (r == 0)
        hb__proto_loaded_release(&m);
    return r;
}
static int dec_call(const void *p, size_t n)
{
    hb_proto_call m;
    int r = hb__proto_call_decode(p, n, &m);
    if (r == 0)
        hb__proto_call_release(&m);
    return r;
}
static int dec_call_ok(const void *p, size_t n)
{
    hb_proto_call_ok m;
    int r = hb__proto_call_ok_decode(p, n, &m);
    if (r == 0)
        hb__proto_call_ok_release(&m);
    return r;
}
static int dec_checkpoint(const void *p, size_t n)
{
    hb_proto_checkpoint m;
    int r = hb__proto_checkpoint_decode(p, n, &m);
    if (r == 0)
        hb__proto_checkpoint_release(&m);
    return r;
}
static int dec_fault(const void *p, size_t n)
{
    hb_proto_fault m;
    int r = hb__proto_fault_decode(p, n, &m);
    if (r == 0)
        hb__proto_fault_release(&m);
    return r;
}
static int dec_err(const void *p, size_t n)
{
    hb_proto_err m;
    int r = hb__proto_err_decode(p, n, &m);
    if (r == 0)
        hb__proto_err_release(&m);
    return r;
}

/* ---- cases ----------------------------------------------------------------- */

static void case_requests(void)
{
    hb_wbuf w = {0};
    gold p = {0};

    hb_proto_hello hello = {HB_WIRE_MAGIC_HELLO, 16u << 20}, h2;
    HB_CHECK_OK(hb__proto_hello_encode(&w, 1, &hello));
    g_u32(&p, 0x48425831u);
    g_u64(&p, 16u << 20);
    check_frame(&w, 1, 1, &p);
    HB_CHECK_OK(hb__proto_hello_decode(p.b, p.n, &h2));
    HB_CHECK_EQ(h2.magic, 0x48425831u);
    HB_CHECK_EQ(h2.max_state_size, 16u << 20);

    hb_proto_load load = {.plugin = "counter", .path = "/o/c-1.so", .version = 3,
                          .has_state = 1, .state_schema = 2, .state = "\x0c\0\0\0",
                          .state_len = 4},
                  l2;
    HB_CHECK_OK(hb__proto_load_encode(&w, 2, &load));
    p.n = 0;
    g_str(&p, "counter");
    g_str(&p, "/o/c-1.so");
    g_u64(&p, 3);
    g_u8(&p, 1);
    g_u32(&p, 2);
    g_bytes(&p, "\x0c\0\0\0", 4);
    check_frame(&w, 2, 2, &p);
    HB_CHECK_OK(hb__proto_load_decode(p.b, p.n, &l2));
    HB_CHECK_STR(l2.plugin, "counter");
    HB_CHECK_STR(l2.path, "/o/c-1.so");
    HB_CHECK_EQ(l2.version, 3u);
    HB_CHECK_EQ(l2.has_state, 1);
    HB_CHECK_EQ(l2.state_schema, 2u);
    HB_CHECK_EQ(l2.state_len, 4u);
    HB_CHECK(memcmp(l2.state, "\x0c\0\0\0", 4) == 0);
    hb__proto_load_release(&l2);
    check_strict(dec_load, &p);
    p.b[p.n - 4 - 4 - 4 - 1] = 2; /* has_state 2 */
    HB_CHECK_EQ(dec_load(p.b, p.n), -EPROTO);

    /* SWAP: the wait_ack flag is written only when set. */
    hb_proto_swap swap = {.plugin = "counter", .path = "/o/c-2.so", .version = 4}, s2;
    HB_CHECK_OK(hb__proto_swap_encode(&w, 3, &swap));
    p.n = 0;
    g_str(&p, "counter");
    g_str(&p, "/o/c-2.so");
    g_u64(&p, 4);
    check_frame(&w, 3, 3, &p);
    HB_CHECK_OK(hb__proto_swap_decode(p.b, p.n, &s2));
    HB_CHECK_EQ(s2.wait_ack, 0);
    hb__proto_swap_release(&s2);
    swap.wait_ack = 1;
    HB_CHECK_OK(hb__proto_swap_encode(&w, 3, &swap));
    g_u8(&p, 1);
    check_frame(&w, 3, 3, &p);
    HB_CHECK_OK(hb__proto_swap_decode(p.b, p.n, &s2));
    HB_CHECK_EQ(s2.wait_ack, 1);
    hb__proto_swap_release(&s2);

    /* CALL with one value of each kind, from public hb_values. */
    char inout[3] = {'a', 'b', 'c'};
    hb_value args[5] = {
        {.type = HB_TYPE_I32, .v.i = -5},
        {.type = HB_TYPE_F64, .v.d = 2.5},
        {.type = HB_TYPE_STR, .v.s = "hi"},
        {.type = HB_TYPE_STR, .v.s = NULL},
        {.type = HB_TYPE_BUF_INOUT, .v.buf = {inout, 3}},
    };
    hb_wvalue wv[5];
    for (int i = 0; i < 5; i++)
        wv[i] = hb__value_view(&args[i]);
    hb_proto_call call = {.plugin = "types", .symbol = "f", .signature = "idZZw)v",
                          .nargs = 5, .args = wv},
                  c2;
    HB_CHECK_OK(hb__proto_call_encode(&w, 4, &call));
    p.n = 0;
    g_str(&p, "types");
    g_str(&p, "f");
    g_str(&p, "idZZw)v");
    g_u32(&p, 5);
    g_u8(&p, HB_TYPE_I32);
    g_u64(&p, (uint64_t)-5);
    g_u8(&p, HB_TYPE_F64);
    double d = 2.5;
    uint64_t du;
    memcpy(&du, &d, 8);
    g_u64(&p, du);
    g_u8(&p, HB_TYPE_STR);
    g_u8(&p, 0);
    g_str(&p, "hi");
    g_u8(&p, HB_TYPE_STR);
    g_u8(&p, 1);
    g_str(&p, "");
    g_u8(&p, HB_TYPE_BUF_INOUT);
    g_bytes(&p, "abc", 3);
    check_frame(&w, 4, 4, &p);
    HB_CHECK_OK(hb__proto_call_decode(p.b, p.n, &c2));
    HB_CHECK_EQ(c2.nargs, 5u);
    HB_CHECK_EQ(c2.args[0].n.i, -5);
    HB_CHECK_DBL(c2.args[1].n.d, 2.5, 0);
    HB_CHECK_STR(c2.args[2].s, "hi");
    HB_CHECK(c2.args[3].s == NULL);
    HB_CHECK_EQ(c2.args[4].len, 3u);
    HB_CHECK(memcmp(c2.args[4].buf, "abc", 3) == 0);
    hb__proto_call_release(&c2);
    check_strict(dec_call, &p);

    hb_proto_plugin pl = {"counter"}, p2;
    HB_CHECK_OK(hb__proto_save_encode(&w, 5, &pl));
    p.n = 0;
    g_str(&p, "counter");
    check_frame(&w, 5, 5, &p);
    HB_CHECK_OK(hb__proto_unload_encode(&w, 6, &pl));
    check_frame(&w, 6, 6, &p);
    HB_CHECK_OK(hb__proto_plugin_decode(p.b, p.n, &p2));
    HB_CHECK_STR(p2.plugin, "counter");
    hb__proto_plugin_release(&p2);

    HB_CHECK_OK(hb__proto_empty_encode(&w, HB_MSG_SHUTDOWN, 7));
    p.n = 0;
    check_frame(&w, 7, 7, &p);
    HB_CHECK_OK(hb__proto_empty_decode(p.b, 0));
    HB_CHECK_EQ(hb__proto_empty_decode("x", 1), -EPROTO);
    hb__wire_release(&w);
}

static void case_replies(void)
{
    hb_wbuf w = {0};
    gold p = {0};

    hb_proto_hello_ok hok = {HB_WIRE_MAGIC_HELLO, 1, 4242}, hk2;
    HB_CHECK_OK(hb__proto_hello_ok_encode(&w, 1, &hok));
    g_u32(&p, 0x48425831u);
    g_u32(&p, 1);
    g_u32(&p, 4242);
    check_frame(&w, HB_MSG_OK, 1, &p);
    HB_CHECK_OK(hb__proto_hello_ok_decode(p.b, p.n, &hk2));
    HB_CHECK_EQ(hk2.pid, 4242u);

    /* LOAD's OK, then SWAP's (the same plus the previous version). */
    hb_proto_loaded lo = {.name = "counter", .schema = 2,
                          .hooks = HB_PROTO_HOOK_INIT | HB_PROTO_HOOK_SAVE,
                          .state_result = HB_PROTO_STATE_CARRIED, .previous = 9},
                    l2;
    HB_CHECK_OK(hb__proto_load_ok_encode(&w, 2, &lo));
    p.n = 0;
    g_str(&p, "counter");
    g_u32(&p, 2);
    g_u32(&p, 1 | 4);
    g_u8(&p, 1);
    check_frame(&w, HB_MSG_OK, 2, &p);
    HB_CHECK_OK(hb__proto_load_ok_decode(p.b, p.n, &l2));
    HB_CHECK_STR(l2.name, "counter");
    HB_CHECK_EQ(l2.hooks, 5u);
    HB_CHECK_EQ(l2.state_result, HB_PROTO_STATE_CARRIED);
    hb__proto_loaded_release(&l2);
    /* A LOAD reply is not a SWAP reply. */
    HB_CHECK_EQ(dec_swap_ok(p.b, p.n), -EPROTO);
    HB_CHECK_OK(hb__proto_swap_ok_encode(&w, 3, &lo));
    g_u64(&p, 9);
    check_frame(&w, HB_MSG_OK, 3, &p);
    HB_CHECK_OK(hb__proto_swap_ok_decode(p.b, p.n, &l2));
    HB_CHECK_EQ(l2.previous, 9u);
    hb__proto_loaded_release(&l2);
    check_strict(dec_swap_ok, &p);
    p.b[p.n - 9] = 3; /* no such state_result */
    HB_CHECK_EQ(dec_swap_ok(p.b, p.n), -EPROTO);

    /* CALL's OK: a string return and two in/out buffers. */
    hb_proto_call_ok co = {.ret = {.type = HB_TYPE_STR, .s = "hello"}, .nbuf = 2,
                           .bufs = {{"xy", 2}, {"", 0}}},
                     c2;
    HB_CHECK_OK(hb__proto_call_ok_encode(&w, 4, &co));
    p.n = 0;
    g_u8(&p, HB_TYPE_STR);
    g_u8(&p, 0);
    g_str(&p, "hello");
    g_u32(&p, 2);
    g_bytes(&p, "xy", 2);
    g_bytes(&p, "", 0);
    check_frame(&w, HB_MSG_OK, 4, &p);
    HB_CHECK_OK(hb__proto_call_ok_decode(p.b, p.n, &c2));
    HB_CHECK_STR(c2.ret.s, "hello");
    HB_CHECK_EQ(c2.nbuf, 2u);
    HB_CHECK_EQ(c2.bufs[0].len, 2u);
    HB_CHECK(memcmp(c2.bufs[0].data, "xy", 2) == 0);
    HB_CHECK_EQ(c2.bufs[1].len, 0u);
    hb__proto_call_ok_release(&c2);
    check_strict(dec_call_ok, &p);
    /* more buffers than any signature has arguments */
    p.n = 0;
    g_u8(&p, HB_TYPE_VOID);
    g_u32(&p, HB_SIG_MAX_ARGS + 1);
    for (int i = 0; i <= HB_SIG_MAX_ARGS; i++)
        g_bytes(&p, "", 0);
    HB_CHECK_EQ(dec_call_ok(p.b, p.n), -EPROTO);

    hb_proto_save_ok so = {.schema = 7, .has_save = 1, .state = "abcd", .state_len = 4}, s2;
    HB_CHECK_OK(hb__proto_save_ok_encode(&w, 5, &so));
    p.n = 0;
    g_u32(&p, 7);
    g_u8(&p, 1);
    g_bytes(&p, "abcd", 4);
    check_frame(&w, HB_MSG_OK, 5, &p);
    HB_CHECK_OK(hb__proto_save_ok_decode(p.b, p.n, &s2));
    HB_CHECK_EQ(s2.schema, 7u);
    HB_CHECK_EQ(s2.state_len, 4u);

    hb_proto_ping_ok po = {77}, po2;
    HB_CHECK_OK(hb__proto_ping_ok_encode(&w, 6, &po));
    p.n = 0;
    g_u32(&p, 77);
    check_frame(&w, HB_MSG_OK, 6, &p);
    HB_CHECK_OK(hb__proto_ping_ok_decode(p.b, p.n, &po2));
    HB_CHECK_EQ(po2.pid, 77u);

    hb_proto_err e = {.code = HB_ENOSYM, .message = "counter v1 exports no symbol x"}, e2;
    HB_CHECK_OK(hb__proto_err_encode(&w, 7, &e));
    p.n = 0;
    g_u32(&p, (uint32_t)HB_ENOSYM);
    g_str(&p, "counter v1 exports no symbol x");
    check_frame(&w, HB_MSG_ERR, 7, &p);
    HB_CHECK_OK(hb__proto_err_decode(p.b, p.n, &e2));
    HB_CHECK_EQ(e2.code, HB_ENOSYM);
    HB_CHECK_STR(e2.message, e.message);
    hb__proto_err_release(&e2);
    check_strict(dec_err, &p);

    hb_proto_checkpoint ck = {.plugin = "counter", .version = 3, .schema = 1,
                              .state = "\1\2", .state_len = 2},
                        ck2;
    HB_CHECK_OK(hb__proto_checkpoint_encode(&w, 8, &ck));
    p.n = 0;
    g_str(&p, "counter");
    g_u64(&p, 3);
    g_u32(&p, 1);
    g_bytes(&p, "\1\2", 2);
    check_frame(&w, HB_MSG_CHECKPOINT, 8, &p);
    HB_CHECK_OK(hb__proto_checkpoint_decode(p.b, p.n, &ck2));
    HB_CHECK_STR(ck2.plugin, "counter");
    HB_CHECK_EQ(ck2.version, 3u);
    hb__proto_checkpoint_release(&ck2);
    check_strict(dec_checkpoint, &p);

    hb_proto_switched sw = {.plugin = "counter", .version = 4}, sw2;
    HB_CHECK_OK(hb__proto_switched_encode(&w, 8, &sw));
    p.n = 0;
    g_str(&p, "counter");
    g_u64(&p, 4);
    check_frame(&w, HB_MSG_SWITCHED, 8, &p);
    HB_CHECK_OK(hb__proto_switched_decode(p.b, p.n, &sw2));
    HB_CHECK_EQ(sw2.version, 4u);
    hb__proto_switched_release(&sw2);

    hb_proto_listener li = {HB_LISTENER_FILES_LOCKED}, li2;
    HB_CHECK_OK(hb__proto_listener_encode(&w, 0, &li));
    p.n = 0;
    g_u32(&p, 1);
    check_frame(&w, HB_MSG_LISTENER, 0, &p);
    HB_CHECK_EQ(p.n, HB_PROTO_LISTENER_LEN);
    HB_CHECK_OK(hb__proto_listener_decode(p.b, p.n, &li2));
    HB_CHECK_EQ(li2.flags, 1u);
    hb__wire_release(&w);
}

/* The FAULT report, as the worker's signal handler builds it: in a fixed
 * buffer of HB_PROTO_FAULT_MAX_FRAME bytes, a longest name with a full
 * backtrace of longest names fits exactly; one byte less fails without
 * writing past the buffer. */
static void case_fault_fixed(void)
{
    char name[HB_PROTO_MAX_FAULT_PLUGIN + 1];
    memset(name, 'n', HB_PROTO_MAX_FAULT_PLUGIN);
    name[HB_PROTO_MAX_FAULT_PLUGIN] = '\0';
    hb_proto_fault m = {.signo = 11, .pc = 0x1000, .addr = 0x8, .plugin = name, .version = 2,
                        .retired = 1, .nframes = HB_PROTO_MAX_FAULT_FRAMES},
                   m2;
    for (uint32_t i = 0; i < HB_PROTO_MAX_FAULT_FRAMES; i++)
        m.frames[i] = (hb_proto_fault_frame){.pc = 0x1000 + i, .base = 0x400, .version = 2,
                                             .plugin = name};
    uint8_t buf[HB_PROTO_FAULT_MAX_FRAME + 8];
    memset(buf, 0xee, sizeof(buf));
    hb_wbuf w;
    hb__wire_init_fixed(&w, buf, HB_PROTO_FAULT_MAX_FRAME);
    HB_CHECK_OK(hb__proto_fault_encode(&w, 0, &m));
    HB_CHECK_EQ(w.len, HB_PROTO_FAULT_MAX_FRAME);
    HB_CHECK(w.data == buf);
    gold p = {0};
    g_u32(&p, 11);
    g_u64(&p, 0x1000);
    g_u64(&p, 0x8);
    g_str(&p, name);
    g_u64(&p, 2);
    g_u8(&p, 1);
    g_u32(&p, HB_PROTO_MAX_FAULT_FRAMES);
    for (uint32_t i = 0; i < HB_PROTO_MAX_FAULT_FRAMES; i++) {
        g_u64(&p, 0x1000 + i);
        g_u64(&p, 0x400);
        g_u64(&p, 2);
        g_str(&p, name);
    }
    check_frame(&w, HB_MSG_FAULT, 0, &p);
    HB_CHECK_EQ(buf[HB_PROTO_FAULT_MAX_FRAME], 0xee);
    HB_CHECK_OK(hb__proto_fault_decode(p.b, p.n, &m2));
    HB_CHECK_STR(m2.plugin, name);
    HB_CHECK_EQ(m2.retired, 1);
    HB_CHECK_EQ(m2.nframes, HB_PROTO_MAX_FAULT_FRAMES);
    HB_CHECK_EQ(m2.frames[15].pc, 0x100f);
    HB_CHECK_EQ(m2.frames[15].base, 0x400);
    HB_CHECK_STR(m2.frames[15].plugin, name);
    hb__proto_fault_release(&m2);
    /* A frame of the format before the backtrace: nframes 0. */
    size_t old_len = HB_PROTO_FAULT_MAX_FRAME - HB_WIRE_HEADER - 4u -
                     HB_PROTO_MAX_FAULT_FRAMES * HB_PROTO_FAULT_FRAME_MAX;
    HB_CHECK_OK(hb__proto_fault_decode(p.b, old_len, &m2));
    HB_CHECK_EQ(m2.nframes, 0);
    hb__proto_fault_release(&m2);
    /* More frames than HB_PROTO_MAX_FAULT_FRAMES are refused. */
    uint8_t *count = p.b + old_len;
    count[0] = HB_PROTO_MAX_FAULT_FRAMES + 1; /* u32 little-endian */
    HB_CHECK_EQ(hb__proto_fault_decode(p.b, p.n, &m2), -EPROTO);
    count[0] = HB_PROTO_MAX_FAULT_FRAMES;
    /* Every other cut is refused (old_len is the older format, above). */
    for (size_t cut = 0; cut < p.n; cut++)
        if (cut != old_len)
            HB_CHECK_EQ(dec_fault(p.b, cut), -EPROTO);
    gold more = p;
    more.b[more.n++] = 0x5a;
    HB_CHECK_EQ(dec_fault(more.b, more.n), -EPROTO);
    hb__wire_release(&w); /* a fixed buffer is not freed */

    memset(buf, 0xee, sizeof(buf));
    hb__wire_init_fixed(&w, buf, HB_PROTO_FAULT_MAX_FRAME - 1);
    HB_CHECK_EQ(hb__proto_fault_encode(&w, 0, &m), -ENOMEM);
    HB_CHECK_EQ(buf[HB_PROTO_FAULT_MAX_FRAME - 1], 0xee);

    /* A longer name is refused by the harness's decoder. */
    char longer[HB_PROTO_MAX_FAULT_PLUGIN + 2];
    memset(longer, 'n', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    m.plugin = longer;
    hb_wbuf g = {0};
    HB_CHECK_OK(hb__proto_fault_encode(&g, 0, &m));
    HB_CHECK_EQ(hb__proto_fault_decode(g.data + HB_WIRE_HEADER, g.len - HB_WIRE_HEADER, &m2),
                -EPROTO);
    hb__wire_release(&g);
}

/* An OK seed, named ok_<request>: decoded as that request's reply. */
static int reencode_ok(const char *name, const uint8_t *p, size_t len, uint32_t id, hb_wbuf *w)
{
    int r;
    if (strcmp(name, "ok_hello") == 0) {
        hb_proto_hello_ok m;
        HB_CHECK_OK(hb__proto_hello_ok_decode(p, len, &m));
        return hb__proto_hello_ok_encode(w, id, &m);
    }
    if (strcmp(name, "ok_load") == 0 || strcmp(name, "ok_swap") == 0) {
        bool swap = name[3] == 's';
        hb_proto_loaded m;
        HB_CHECK_OK(swap ? hb__proto_swap_ok_decode(p, len, &m)
                         : hb__proto_load_ok_decode(p, len, &m));
        r = swap ? hb__proto_swap_ok_encode(w, id, &m) : hb__proto_load_ok_encode(w, id, &m);
        hb__proto_loaded_release(&m);
        return r;
    }
    if (strncmp(name, "ok_call", 7) == 0) {
        hb_proto_call_ok m;
        HB_CHECK_OK(hb__proto_call_ok_decode(p, len, &m));
        r = hb__proto_call_ok_encode(w, id, &m);
        hb__proto_call_ok_release(&m);
        return r;
    }
    if (strcmp(name, "ok_save") == 0) {
        hb_proto_save_ok m;
        HB_CHECK_OK(hb__proto_save_ok_decode(p, len, &m));
        return hb__proto_save_ok_encode(w, id, &m);
    }
    if (strcmp(name, "ok_ping") == 0) {
        hb_proto_ping_ok m;
        HB_CHECK_OK(hb__proto_ping_ok_decode(p, len, &m));
        return hb__proto_ping_ok_encode(w, id, &m);
    }
    if (strcmp(name, "ok_empty") == 0) {
        HB_CHECK_OK(hb__proto_empty_decode(p, len));
        return hb__proto_empty_encode(w, HB_MSG_OK, id);
    }
    HB_FAIL_("%s: an OK seed must be named ok_<request>", name);
}

/* Every frame seed of the fuzz corpus (bytes written by a Python encoder
 * from PROTOCOL.md) decodes, and encodes back to the same file. */
static void case_corpus(void)
{
    const char *dir = HB_SOURCE_DIR "/tests/fuzz/corpus/wire";
    DIR *d = opendir(dir);
    HB_CHECK(d != NULL);
    unsigned checked = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rbe");
        HB_CHECK(f != NULL);
        static uint8_t data[1 << 16];
        size_t n = fread(data, 1, sizeof(data), f);
        fclose(f);
        uint8_t type;
        uint32_t id, len;
        if (n < HB_WIRE_HEADER ||
            hb__wire_parse_header(data, HB_WIRE_MAX_FRAME, &type, &id, &len) < 0 ||
            len != n - HB_WIRE_HEADER)
            continue; /* not a whole frame (the signature-only seed) */
        const uint8_t *p = data + HB_WIRE_HEADER;
        hb_wbuf w = {0};
        int r = -1;
        switch (type) {
        case HB_MSG_HELLO: {
            hb_proto_hello m;
            HB_CHECK_OK(hb__proto_hello_decode(p, len, &m));
            r = hb__proto_hello_encode(&w, id, &m);
            break;
        }
        case HB_MSG_LOAD: {
            hb_proto_load m;
            HB_CHECK_OK(hb__proto_load_decode(p, len, &m));
            r = hb__proto_load_encode(&w, id, &m);
            hb__proto_load_release(&m);
            break;
        }
        case HB_MSG_SWAP: {
            hb_proto_swap m;
            HB_CHECK_OK(hb__proto_swap_decode(p, len, &m));
            r = hb__proto_swap_encode(&w, id, &m);
            hb__proto_swap_release(&m);
            break;
        }
        case HB_MSG_CALL: {
            hb_proto_call m;
            HB_CHECK_OK(hb__proto_call_decode(p, len, &m));
            r = hb__proto_call_encode(&w, id, &m);
            hb__proto_call_release(&m);
            break;
        }
        case HB_MSG_SAVE:
        case HB_MSG_UNLOAD: {
            hb_proto_plugin m;
            HB_CHECK_OK(hb__proto_plugin_decode(p, len, &m));
            r = type == HB_MSG_SAVE ? hb__proto_save_encode(&w, id, &m)
                                    : hb__proto_unload_encode(&w, id, &m);
            hb__proto_plugin_release(&m);
            break;
        }
        case HB_MSG_SHUTDOWN:
        case HB_MSG_PING:
        case HB_MSG_CHECKPOINT_ACK:
            HB_CHECK_OK(hb__proto_empty_decode(p, len));
            r = hb__proto_empty_encode(&w, type, id);
            break;
        case HB_MSG_OK:
            r = reencode_ok(e->d_name, p, len, id, &w);
            break;
        case HB_MSG_ERR: {
            hb_proto_err m;
            HB_CHECK_OK(hb__proto_err_decode(p, len, &m));
            r = hb__proto_err_encode(&w, id, &m);
            hb__proto_err_release(&m);
            break;
        }
        case HB_MSG_CHECKPOINT: {
            hb_proto_checkpoint m;
            HB_CHECK_OK(hb__proto_checkpoint_decode(p, len, &m));
            r = hb__proto_checkpoint_encode(&w, id, &m);
            hb__proto_checkpoint_release(&m);
            break;
        }
        case HB_MSG_SWITCHED: {
            hb_proto_switched m;
            HB_CHECK_OK(hb__proto_switched_decode(p, len, &m));
            r = hb__proto_switched_encode(&w, id, &m);
            hb__proto_switched_release(&m);
            break;
        }
        case HB_MSG_LISTENER: {
            hb_proto_listener m;
            HB_CHECK_OK(hb__proto_listener_decode(p, len, &m));
            r = hb__proto_listener_encode(&w, id, &m);
            break;
        }
        case HB_MSG_FAULT: {
            hb_proto_fault m;
            HB_CHECK_OK(hb__proto_fault_decode(p, len, &m));
            r = hb__proto_fault_encode(&w, id, &m);
            hb__proto_fault_release(&m);
            break;
        }
        default:
            HB_FAIL_("%s: unexpected type %u", e->d_name, type);
        }
        HB_CHECK_OK(r);
        HB_CHECK_EQ(w.len, n);
        HB_CHECK(memcmp(w.data, data, n) == 0);
        hb__wire_release(&w);
        checked++;
    }
    closedir(d);
    HB_CHECK(checked >= 26);
    printf("corpus: %u frames re-encoded byte for byte\n", checked);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {
        {"requests", case_requests},
        {"replies", case_replies},
        {"fault_fixed", case_fault_fixed},
        {"corpus", case_corpus},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: %s <case>\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (strcmp(argv[1], cases[i].name) == 0) {
            cases[i].fn();
            printf("%s: ok\n", cases[i].name);
            return 0;
        }
    }
    fprintf(stderr, "no case %s\n", argv[1]);
    return 2;
}
