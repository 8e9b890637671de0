/* Fuzz target: arbitrary bytes through the frame header parser, every
 * request decoder of the worker, the call checks and the signature parser.
 * Nothing here may crash, leak or read out of bounds. */
#include "proto.h"
#include "signature.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

static void decode_all(const uint8_t *p, size_t n)
{
    hb_req_hello hello;
    hb_req_load load;
    hb_req_swap swap;
    hb_req_plugin plug;
    hb_req_call call;
    (void)hb__req_hello_decode(p, n, &hello);
    (void)hb__req_empty_decode(p, n);
    if (hb__req_load_decode(p, n, &load) == 0)
        hb__req_load_release(&load);
    if (hb__req_swap_decode(p, n, &swap) == 0)
        hb__req_swap_release(&swap);
    if (hb__req_plugin_decode(p, n, &plug) == 0)
        hb__req_plugin_release(&plug);
    if (hb__req_call_decode(p, n, &call) == 0) {
        hb_sig sig;
        hb_sig_error err;
        char msg[256];
        if (hb__sig_parse(call.signature, &sig, &err) == 0)
            (void)hb__call_check(&sig, call.args, call.nargs, msg, sizeof(msg));
        /* What decodes must encode back to the same bytes. */
        hb_wbuf w = {0};
        hb__wire_begin(&w, HB_MSG_CALL, 0);
        hb__wire_put_str(&w, call.plugin);
        hb__wire_put_str(&w, call.symbol);
        hb__wire_put_str(&w, call.signature);
        hb__wire_put_u32(&w, (uint32_t)call.nargs);
        for (size_t i = 0; i < call.nargs; i++)
            hb__value_encode(&w, &call.args[i]);
        if (hb__wire_finish(&w) == 0 &&
            (w.len - HB_WIRE_HEADER != n || memcmp(w.data + HB_WIRE_HEADER, p, n) != 0))
            abort();
        hb__wire_release(&w);
        hb__req_call_release(&call);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= HB_WIRE_HEADER) {
        uint8_t type;
        uint32_t id, len;
        if (hb__wire_parse_header(data, HB_WIRE_MAX_FRAME, &type, &id, &len) == 0) {
            /* The frame as the worker would see it (payload truncated to
             * what is there), then the rest as a payload of its own. */
            size_t have = size - HB_WIRE_HEADER;
            decode_all(data + HB_WIRE_HEADER, len < have ? len : have);
        }
    }
    decode_all(data, size);

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
