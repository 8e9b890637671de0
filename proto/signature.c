/* proto/signature.c - see signature.h. */
#include "signature.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const struct {
    char c;
    hb_type type;
    const char *name;
} sig_chars[] = {
    {'B', HB_TYPE_BOOL, "bool"},       {'c', HB_TYPE_I8, "int8"},
    {'C', HB_TYPE_U8, "uint8"},        {'s', HB_TYPE_I16, "int16"},
    {'S', HB_TYPE_U16, "uint16"},      {'i', HB_TYPE_I32, "int32"},
    {'I', HB_TYPE_U32, "uint32"},      {'j', HB_TYPE_LONG, "long"},
    {'J', HB_TYPE_ULONG, "unsigned long"}, {'l', HB_TYPE_I64, "int64"},
    {'L', HB_TYPE_U64, "uint64"},      {'f', HB_TYPE_F32, "float"},
    {'d', HB_TYPE_F64, "double"},      {'Z', HB_TYPE_STR, "string"},
    {'v', HB_TYPE_VOID, "void"},       {'b', HB_TYPE_BUF_IN, "input buffer"},
    {'w', HB_TYPE_BUF_INOUT, "in/out buffer"},
};

static bool lookup(char c, hb_type *type)
{
    for (size_t i = 0; i < sizeof(sig_chars) / sizeof(sig_chars[0]); i++) {
        if (sig_chars[i].c == c) {
            *type = sig_chars[i].type;
            return true;
        }
    }
    return false;
}

char hb__sig_char(hb_type t)
{
    for (size_t i = 0; i < sizeof(sig_chars) / sizeof(sig_chars[0]); i++)
        if (sig_chars[i].type == t)
            return sig_chars[i].c;
    return '?';
}

const char *hb__type_name(hb_type t)
{
    for (size_t i = 0; i < sizeof(sig_chars) / sizeof(sig_chars[0]); i++)
        if (sig_chars[i].type == t)
            return sig_chars[i].name;
    return "unknown type";
}

/* Printable rendering of one signature character for messages. */
static void describe_char(char c, char out[8])
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", (unsigned char)c);
}

__attribute__((format(printf, 4, 5))) static int fail(hb_sig_error *err, const char *sig,
                                                      size_t pos, const char *fmt, ...)
{
    if (!err)
        return HB_ESIGNATURE;
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    err->pos = pos;
    /* Quote at most 64 characters so a huge signature stays one short line. */
    snprintf(err->msg, sizeof(err->msg), "bad signature \"%.64s%s\": %s at position %zu",
             sig ? sig : "", sig && strlen(sig) > 64 ? "..." : "", what, pos);
    return HB_ESIGNATURE;
}

int hb__sig_parse(const char *sig, hb_sig *out, hb_sig_error *err)
{
    hb_sig s;
    char d[8];
    if (!sig)
        return fail(err, sig, 1, "no signature");
    memset(&s, 0, sizeof(s));
    size_t i = 0;
    /* d (the character as messages quote it) is rendered only for a
     * message: this runs on both sides of every call. */
    for (; sig[i] && sig[i] != ')'; i++) {
        hb_type t;
        if (sig[i] == 'p')
            return fail(err, sig, i + 1,
                        "raw pointer 'p' cannot cross the process boundary (use 'b' or 'w')");
        if (!lookup(sig[i], &t)) {
            describe_char(sig[i], d);
            return fail(err, sig, i + 1, "unknown type character %s", d);
        }
        if (t == HB_TYPE_VOID)
            return fail(err, sig, i + 1, "'v' is only valid as the return type");
        if (s.nargs == HB_SIG_MAX_ARGS)
            return fail(err, sig, i + 1, "more than %d arguments", HB_SIG_MAX_ARGS);
        s.args[s.nargs++] = t;
    }
    if (sig[i] != ')')
        return fail(err, sig, i + 1, "missing ')' before the return type");
    i++;
    if (!sig[i])
        return fail(err, sig, i + 1, "missing return type after ')'");
    if (sig[i] == 'p')
        return fail(err, sig, i + 1, "raw pointer 'p' cannot be returned");
    bool known = lookup(sig[i], &s.ret);
    if (!known || s.ret == HB_TYPE_BUF_IN || s.ret == HB_TYPE_BUF_INOUT) {
        describe_char(sig[i], d);
        return fail(err, sig, i + 1,
                    known ? "buffer %s cannot be a return type" : "unknown return type character %s",
                    d);
    }
    if (sig[i + 1])
        return fail(err, sig, i + 2, "trailing characters after the return type");
    *out = s;
    return 0;
}

int hb__sig_parse_cached(hb_sig_cache *cache, const char *sig, hb_sig *out, hb_sig_error *err)
{
    if (sig && cache->text[0] && strcmp(cache->text, sig) == 0) {
        *out = cache->sig;
        return 0;
    }
    int r = hb__sig_parse(sig, out, err);
    if (r == 0 && strlen(sig) < sizeof(cache->text)) {
        strcpy(cache->text, sig);
        cache->sig = *out;
    }
    return r;
}
