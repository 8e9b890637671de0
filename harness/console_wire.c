/* harness/console_wire.c - the console's messages: length-prefixed JSON,
 * values as JSON, and the request parser (the fuzz target `console`
 * drives hb__console_parse). The one place either side learns the format;
 * docs/console.md describes it. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console.h"
#include "util.h"

int hb__console_send(int fd, const char *json, size_t len, unsigned timeout_ms)
{
    if (len > HB__CONSOLE_MAX_MSG)
        return -EMSGSIZE;
    uint64_t deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000u;
    unsigned char hdr[4] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                            (unsigned char)(len >> 8), (unsigned char)len};
    int r = hb__send_full_until(fd, hdr, 4, deadline);
    return r < 0 ? r : hb__send_full_until(fd, json, len, deadline);
}

int hb__console_recv(int fd, char **out, size_t *len, unsigned timeout_ms)
{
    uint64_t deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000u;
    unsigned char hdr[4];
    int r = hb__recv_full_until(fd, hdr, 4, deadline);
    if (r < 0)
        return r;
    size_t n = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 | (size_t)hdr[2] << 8 | hdr[3];
    if (n > HB__CONSOLE_MAX_MSG)
        return -EMSGSIZE;
    char *b = malloc(n + 1);
    if (!b)
        return -ENOMEM;
    r = hb__recv_full_until(fd, b, n, deadline);
    if (r < 0) {
        free(b);
        return r;
    }
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

/* ---- values ---------------------------------------------------------------- */

json_t *hb__console_value_json(const hb_value *v)
{
    switch (v->type) {
    case HB_TYPE_VOID: return json_null();
    case HB_TYPE_BOOL: return json_boolean(v->v.i);
    case HB_TYPE_I8: case HB_TYPE_I16: case HB_TYPE_I32: case HB_TYPE_I64: case HB_TYPE_LONG:
        return json_integer((json_int_t)v->v.i);
    case HB_TYPE_U8: case HB_TYPE_U16: case HB_TYPE_U32: case HB_TYPE_U64: case HB_TYPE_ULONG: {
        if (v->v.u <= (uint64_t)INT64_MAX)
            return json_integer((json_int_t)v->v.u);
        char b[24];
        snprintf(b, sizeof(b), "%" PRIu64, v->v.u);
        return json_string(b);
    }
    case HB_TYPE_F32: return json_real((double)v->v.f);
    case HB_TYPE_F64: return json_real(v->v.d);
    case HB_TYPE_STR: return v->v.s ? json_string(v->v.s) : json_null();
    case HB_TYPE_BUF_IN: case HB_TYPE_BUF_INOUT:
        return json_stringn(v->v.buf.data ? v->v.buf.data : "", v->v.buf.len);
    }
    return json_null();
}

int hb__console_json_value(json_t *j, hb_type t, hb_value *v)
{
    memset(v, 0, sizeof(*v));
    v->type = t;
    switch (t) {
    case HB_TYPE_VOID: return json_is_null(j) ? 0 : -EINVAL;
    case HB_TYPE_BOOL:
        if (!json_is_boolean(j))
            return -EINVAL;
        v->v.i = json_is_true(j);
        return 0;
    case HB_TYPE_I8: case HB_TYPE_I16: case HB_TYPE_I32: case HB_TYPE_I64: case HB_TYPE_LONG:
        if (!json_is_integer(j))
            return -EINVAL;
        v->v.i = (int64_t)json_integer_value(j);
        return 0;
    case HB_TYPE_U8: case HB_TYPE_U16: case HB_TYPE_U32: case HB_TYPE_U64: case HB_TYPE_ULONG:
        if (json_is_integer(j) && json_integer_value(j) >= 0) {
            v->v.u = (uint64_t)json_integer_value(j);
            return 0;
        }
        if (json_is_string(j)) {
            const char *s = json_string_value(j);
            char *end = NULL;
            errno = 0;
            unsigned long long u = strtoull(s, &end, 10);
            if (*s < '0' || *s > '9' || errno || !end || *end)
                return -EINVAL;
            v->v.u = u;
            return 0;
        }
        return -EINVAL;
    case HB_TYPE_F32:
    case HB_TYPE_F64: {
        if (!json_is_number(j))
            return -EINVAL;
        double d = json_number_value(j);
        /* A float too large for f32 would become inf, which JSON (and so
         * the reply) cannot carry: out of range, like an integer. */
        if (t == HB_TYPE_F32 && !isfinite((float)d))
            return -ERANGE;
        if (t == HB_TYPE_F32)
            v->v.f = (float)d;
        else
            v->v.d = d;
        return 0;
    }
    case HB_TYPE_STR:
        if (json_is_null(j))
            return 0;
        if (!json_is_string(j))
            return -EINVAL;
        v->v.s = json_string_value(j);
        return 0;
    case HB_TYPE_BUF_IN:
    case HB_TYPE_BUF_INOUT:
        if (!json_is_string(j))
            return -EINVAL;
        v->v.buf.data = (void *)json_string_value(j);
        v->v.buf.len = json_string_length(j);
        return 0;
    }
    return -EINVAL;
}

/* ---- requests -------------------------------------------------------------- */

static int bad(hb__console_req *req, char **err, char *msg)
{
    hb__console_req_release(req);
    *err = msg;
    return -EINVAL;
}

static const char *member_string(json_t *o, const char *key)
{
    json_t *j = json_object_get(o, key);
    return json_is_string(j) && !memchr(json_string_value(j), '\0', json_string_length(j))
               ? json_string_value(j) : NULL;
}

int hb__console_parse(const char *buf, size_t len, hb__console_req *req, char **err)
{
    memset(req, 0, sizeof(*req));
    *err = NULL;
    json_error_t je;
    req->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!req->root)
        return bad(req, err, hb__asprintf("request: not JSON (line %d, column %d: %s)", je.line,
                                          je.column, je.text));
    if (!json_is_object(req->root))
        return bad(req, err, hb__asprintf("request: not a JSON object"));
    const char *op = member_string(req->root, "op");
    if (!op)
        return bad(req, err, hb__asprintf("request: \"op\" is missing or not a string"));
    if (!strcmp(op, "status")) {
        req->op = HB__CONSOLE_STATUS;
        return 0;
    }
    if (!strcmp(op, "restart")) {
        req->op = HB__CONSOLE_RESTART;
        json_t *p = json_object_get(req->root, "plugin");
        if (p && !json_is_null(p) && !(req->plugin = member_string(req->root, "plugin")))
            return bad(req, err, hb__asprintf("request: \"plugin\" is not a string"));
        return 0;
    }
    if (!strcmp(op, "snapshot")) {
        req->op = HB__CONSOLE_SNAPSHOT;
        static const char *const actions[] = {"save", "restore", "list", "delete"};
        bool known = false;
        if (!(req->action = member_string(req->root, "action")))
            return bad(req, err, hb__asprintf("request: \"action\" is missing or not a string"));
        for (size_t i = 0; i < 4; i++)
            known = known || !strcmp(req->action, actions[i]);
        if (!known)
            return bad(req, err, hb__asprintf("request: unknown snapshot action \"%.64s\" "
                                              "(save, restore, list, delete)", req->action));
        if (!(req->plugin = member_string(req->root, "plugin")))
            return bad(req, err, hb__asprintf("request: \"plugin\" is missing or not a string"));
        if (strcmp(req->action, "list") && !(req->name = member_string(req->root, "name")))
            return bad(req, err, hb__asprintf("request: \"name\" is missing or not a string"));
        return 0;
    }
    if (strcmp(op, "call"))
        return bad(req, err, hb__asprintf("request: unknown op \"%.64s\" (call, status, "
                                          "restart, snapshot)", op));
    req->op = HB__CONSOLE_CALL;
    static const char *const keys[] = {"plugin", "symbol", "signature"};
    const char **dst[] = {&req->plugin, &req->symbol, &req->signature};
    for (size_t i = 0; i < 3; i++)
        if (!(*dst[i] = member_string(req->root, keys[i])))
            return bad(req, err, hb__asprintf("request: \"%s\" is missing or not a string", keys[i]));
    hb_sig_error se;
    if (hb__sig_parse(req->signature, &req->sig, &se) < 0)
        return bad(req, err, hb__asprintf("request: \"signature\": %s", se.msg));
    json_t *args = json_object_get(req->root, "args");
    if (!json_is_array(args))
        return bad(req, err, hb__asprintf("request: \"args\" is missing or not an array"));
    if (json_array_size(args) != req->sig.nargs)
        return bad(req, err, hb__asprintf("request: \"args\" has %zu values, the signature takes %zu",
                                          json_array_size(args), req->sig.nargs));
    for (size_t i = 0; i < req->sig.nargs; i++)
        if (hb__console_json_value(json_array_get(args, i), req->sig.args[i], &req->args[i]) < 0)
            return bad(req, err, hb__asprintf("request: \"args\"[%zu] is not a %s value", i,
                                              hb__type_name(req->sig.args[i])));
    req->nargs = req->sig.nargs;
    return 0;
}

void hb__console_req_release(hb__console_req *req)
{
    json_decref(req->root);
    memset(req, 0, sizeof(*req));
}
