/* Fuzz target: the console server's request parser (harness/console_wire.c),
 * fed arbitrary bytes as a client could send them. A request it accepts is
 * encoded again from its values and must parse to the same values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"

static int same(const hb_value *a, const hb_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case HB_TYPE_STR:
        return (!a->v.s && !b->v.s) || (a->v.s && b->v.s && !strcmp(a->v.s, b->v.s));
    case HB_TYPE_BUF_IN: case HB_TYPE_BUF_INOUT:
        return a->v.buf.len == b->v.buf.len && !memcmp(a->v.buf.data, b->v.buf.data, a->v.buf.len);
    case HB_TYPE_F32: return a->v.f == b->v.f || (a->v.f != a->v.f && b->v.f != b->v.f);
    case HB_TYPE_F64: return a->v.d == b->v.d || (a->v.d != a->v.d && b->v.d != b->v.d);
    default: return a->v.u == b->v.u;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb__console_req req, again;
    char *err = NULL;
    if (hb__console_parse((const char *)data, size, &req, &err) < 0) {
        if (!err || !*err)
            abort(); /* a refusal always says why */
        free(err);
        return 0;
    }
    if (req.op != HB__CONSOLE_CALL) {
        hb__console_req_release(&req);
        return 0;
    }
    json_t *args = json_array();
    for (size_t i = 0; i < req.nargs; i++)
        json_array_append_new(args, hb__console_value_json(&req.args[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o}", "op", "call", "plugin", req.plugin,
                          "symbol", req.symbol, "signature", req.signature, "args", args);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!text || hb__console_parse(text, strlen(text), &again, &err) < 0) {
        fprintf(stderr, "re-encoded request refused: %s\n", err ? err : "(no text)");
        abort();
    }
    if (again.nargs != req.nargs)
        abort();
    for (size_t i = 0; i < req.nargs; i++)
        if (!same(&req.args[i], &again.args[i])) {
            fprintf(stderr, "argument %zu changed in a round trip\n", i);
            abort();
        }
    hb__console_req_release(&again);
    free(text);
    json_decref(j);
    hb__console_req_release(&req);
    return 0;
}
