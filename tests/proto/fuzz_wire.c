/* Fuzz target: arbitrary bytes through the frame header parser, every
 * message decoder of proto/ (requests and replies), the call checks and the
 * signature parser. Nothing here may crash, leak or read out of bounds, and
 * whatever decodes must encode back to the very same bytes. */
#include "proto.h"
#include "signature.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

static hb_wbuf out;

/* The payload just encoded into `out` is p[0..n), or n is p plus one
 * trailing zero byte `lax_zero` allows (SWAP's optional flag written as 0,
 * which the encoder leaves out). */
static void same(int rc, const uint8_t *p, size_t n, bool lax_zero)
{
    if (rc < 0)
        return; /* -EMSGSIZE / -ENOMEM: nothing to compare */
    size_t got = out.len - HB_WIRE_HEADER;
    if (lax_zero && got + 1 == n && p[got] == 0)
        n = got;
    if (got != n || memcmp(out.data + HB_WIRE_HEADER, p, n) != 0)
        abort();
}

static void decode_all(const uint8_t *p, size_t n)
{
    hb_proto_hello hello;
    hb_proto_load load;
    hb_proto_swap swap;
    hb_proto_plugin plug;
    hb_proto_call call;
    hb_proto_hello_ok hok;
    hb_proto_loaded lok;
    hb_proto_call_ok cok;
    hb_proto_save_ok sok;
    hb_proto_ping_ok pok;
    hb_proto_err err;
    hb_proto_checkpoint ck;
    hb_proto_switched sw;
    hb_proto_listener li;
    hb_proto_fault fa;

    if (hb__proto_empty_decode(p, n) == 0)
        same(hb__proto_empty_encode(&out, HB_MSG_PING, 1), p, n, false);
    if (hb__proto_hello_decode(p, n, &hello) == 0)
        same(hb__proto_hello_encode(&out, 1, &hello), p, n, false);
    if (hb__proto_load_decode(p, n, &load) == 0) {
        same(hb__proto_load_encode(&out, 1, &load), p, n, false);
        hb__proto_load_release(&load);
    }
    if (hb__proto_swap_decode(p, n, &swap) == 0) {
        same(hb__proto_swap_encode(&out, 1, &swap), p, n, true);
        hb__proto_swap_release(&swap);
    }
    if (hb__proto_plugin_decode(p, n, &plug) == 0) {
        same(hb__proto_save_encode(&out, 1, &plug), p, n, false);
        same(hb__proto_unload_encode(&out, 1, &plug), p, n, false);
        hb__proto_plugin_release(&plug);
    }
    if (hb__proto_call_decode(p, n, &call) == 0) {
        hb_sig sig;
        hb_sig_error serr;
        char msg[256];
        if (hb__sig_parse(call.signature, &sig, &serr) == 0)
            (void)hb__call_check(&sig, call.args, call.nargs, msg, sizeof(msg));
        same(hb__proto_call_encode(&out, 1, &call), p, n, false);
        hb__proto_call_release(&call);
    }
    if (hb__proto_hello_ok_decode(p, n, &hok) == 0)
        same(hb__proto_hello_ok_encode(&out, 1, &hok), p, n, false);
    if (hb__proto_load_ok_decode(p, n, &lok) == 0) {
        same(hb__proto_load_ok_encode(&out, 1, &lok), p, n, false);
        hb__proto_loaded_release(&lok);
    }
    if (hb__proto_swap_ok_decode(p, n, &lok) == 0) {
        same(hb__proto_swap_ok_encode(&out, 1, &lok), p, n, false);
        hb__proto_loaded_release(&lok);
    }
    if (hb__proto_call_ok_decode(p, n, &cok) == 0) {
        same(hb__proto_call_ok_encode(&out, 1, &cok), p, n, false);
        hb__proto_call_ok_release(&cok);
    }
    if (hb__proto_save_ok_decode(p, n, &sok) == 0)
        same(hb__proto_save_ok_encode(&out, 1, &sok), p, n, false);
    if (hb__proto_ping_ok_decode(p, n, &pok) == 0)
        same(hb__proto_ping_ok_encode(&out, 1, &pok), p, n, false);
    if (hb__proto_err_decode(p, n, &err) == 0) {
        same(hb__proto_err_encode(&out, 1, &err), p, n, false);
        hb__proto_err_release(&err);
    }
    if (hb__proto_checkpoint_decode(p, n, &ck) == 0) {
        same(hb__proto_checkpoint_encode(&out, 1, &ck), p, n, false);
        hb__proto_checkpoint_release(&ck);
    }
    if (hb__proto_switched_decode(p, n, &sw) == 0) {
        same(hb__proto_switched_encode(&out, 1, &sw), p, n, false);
        hb__proto_switched_release(&sw);
    }
    if (hb__proto_listener_decode(p, n, &li) == 0)
        same(hb__proto_listener_encode(&out, 1, &li), p, n, false);
    if (hb__proto_fault_decode(p, n, &fa) == 0) {
        same(hb__proto_fault_encode(&out, 1, &fa), p, n, false);
        hb__proto_fault_release(&fa);
    }
    hb_proto_tests ts;
    if (hb__proto_tests_decode(p, n, &ts) == 0) {
        same(hb__proto_tests_encode(&out, 1, &ts), p, n, false);
        hb__proto_tests_release(&ts);
    }
    hb_proto_test_done td;
    if (hb__proto_test_done_decode(p, n, &td) == 0) {
        same(hb__proto_test_done_encode(&out, 1, &td), p, n, false);
        hb__proto_test_done_release(&td);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= HB_WIRE_HEADER) {
        uint8_t type;
        uint32_t id, len;
        if (hb__wire_parse_header(data, HB_WIRE_MAX_FRAME, &type, &id, &len) == 0) {
            /* The frame as a peer would see it (payload truncated to what
             * is there), then the rest as a payload of its own. */
            size_t have = size - HB_WIRE_HEADER;
            decode_all(data + HB_WIRE_HEADER, len < have ? len : have);
        }
    }
    decode_all(data, size);
    hb__wire_release(&out);

    /* The input as a signature. */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    hb_sig sig;
    hb_sig_error err;
    (void)hb__sig_parse(s, &sig, &err);
    free(s);
    return 0;
}
