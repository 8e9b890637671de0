/*
 * compiler/diag.c - compiler diagnostics as structured records.
 *
 * Text form (GCC and Clang, LC_ALL=C): "file:line:col: severity: message",
 * "file:line: severity: message", "prog: severity: message" (cc1, gcc,
 * collect2, clang), or "severity: message" with no location. Everything
 * else (source excerpts, carets, "In file included from", "N errors
 * generated.") is skipped. JSON form: GCC >= 10 with
 * -fdiagnostics-format=json prints one array per translation unit; each
 * element has kind, message, locations[0].caret{file,line,column} and
 * children (notes), which become diags of their own right after it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diag.h"

#define MAX_DIAGS 100000 /* output is capped at 1 MiB anyway */

static const char *const severities[] = {"fatal error", "error", "warning", "note"};

typedef struct dvec {
    hb_diag *d;
    size_t n, cap;
} dvec;

void hb_diags_free(hb_diag *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        HB_FREE_ALL(d[i].file, d[i].severity, d[i].message);
    }
    free(d);
}

static int dvec_push(dvec *v, const char *file, size_t flen, unsigned line, unsigned col,
                     const char *sev, const char *msg, size_t mlen)
{
    if (v->n >= MAX_DIAGS)
        return 0;
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 8;
        hb_diag *nd = realloc(v->d, cap * sizeof(*nd));
        if (!nd)
            return -ENOMEM;
        v->d = nd;
        v->cap = cap;
    }
    hb_diag *d = &v->d[v->n];
    d->file = strndup(file, flen);
    d->severity = strdup(sev);
    d->message = strndup(msg, mlen);
    d->line = line;
    d->column = col;
    if (!d->file || !d->severity || !d->message) {
        HB_FREE_ALL(d->file, d->severity, d->message);
        return -ENOMEM;
    }
    v->n++;
    return 0;
}

/* Parses a trailing ":digits" off [s, *end); returns true and the value. */
static bool take_number(const char *s, size_t *end, unsigned *val)
{
    size_t e = *end, b = e;
    while (b > 0 && s[b - 1] >= '0' && s[b - 1] <= '9')
        b--;
    if (b == e || b == 0 || s[b - 1] != ':')
        return false;
    unsigned long long v = 0;
    for (size_t i = b; i < e; i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > UINT_MAX)
            v = UINT_MAX;
    }
    *val = (unsigned)v;
    *end = b - 1;
    return true;
}

static bool starts_with(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s, p, pl) == 0;
}

/* If s[0..n) starts with "<severity>:" followed by a blank or the end,
 * returns the severity and the length consumed (up to the message). */
static const char *match_severity(const char *s, size_t n, size_t *used)
{
    for (size_t i = 0; i < HB_ARRAY_SIZE(severities); i++) {
        size_t sl = strlen(severities[i]);
        if (!starts_with(s, n, severities[i]) || n < sl + 1 || s[sl] != ':')
            continue;
        if (n == sl + 1) {
            *used = sl + 1;
            return severities[i];
        }
        if (s[sl + 1] == ' ') {
            *used = sl + 2;
            return severities[i];
        }
    }
    return NULL;
}

static int parse_text_line(const char *l, size_t n, dvec *v)
{
    while (n > 0 && l[n - 1] == '\r')
        n--;
    size_t used;
    const char *sev = match_severity(l, n, &used);
    if (sev)
        return dvec_push(v, "", 0, 0, 0, sev, l + used, n - used);
    /* A location never starts with a blank: that is a source excerpt. */
    if (n == 0 || l[0] == ' ' || l[0] == '\t')
        return 0;
    for (size_t k = 0; k + 2 < n; k++) {
        if (l[k] != ':' || l[k + 1] != ' ')
            continue;
        sev = match_severity(l + k + 2, n - k - 2, &used);
        if (!sev)
            continue;
        size_t fend = k;
        unsigned a = 0, b = 0, line = 0, col = 0;
        if (take_number(l, &fend, &a)) {
            line = a;
            if (take_number(l, &fend, &b)) {
                line = b;
                col = a;
            }
        }
        return dvec_push(v, l, fend, line, col, sev, l + k + 2 + used, n - k - 2 - used);
    }
    return 0;
}

static int parse_text(const char *text, size_t len, dvec *v)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        int r = parse_text_line(text + i, e - i, v);
        if (r < 0)
            return r;
        i = e + 1;
    }
    return 0;
}

int hb_compiler_parse_diagnostics(const char *text, size_t len, hb_diag **out, size_t *n)
{
    if ((!text && len) || !out || !n)
        return -EINVAL;
    dvec v = {0};
    int r = parse_text(text, len, &v);
    if (r < 0) {
        hb_diags_free(v.d, v.n);
        return r;
    }
    *out = v.d;
    *n = v.n;
    return 0;
}

static int render(hb_sb *sb, const hb_diag *d)
{
    int r = 0;
    if (d->file[0] && d->line && d->column)
        r = hb__sb_addf(sb, "%s:%u:%u: ", d->file, d->line, d->column);
    else if (d->file[0] && d->line)
        r = hb__sb_addf(sb, "%s:%u: ", d->file, d->line);
    else if (d->file[0])
        r = hb__sb_addf(sb, "%s: ", d->file);
    if (r < 0)
        return r;
    return hb__sb_addf(sb, "%s: %s\n", d->severity, d->message);
}

static unsigned json_uint(json_t *o, const char *key)
{
    json_t *x = json_object_get(o, key);
    if (!json_is_integer(x))
        return 0;
    json_int_t v = json_integer_value(x);
    return v < 0 ? 0 : v > UINT_MAX ? UINT_MAX : (unsigned)v;
}

static int parse_json_diag(json_t *o, dvec *v, hb_sb *sb, int depth)
{
    if (!json_is_object(o) || depth > 8)
        return 0;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *jm = json_object_get(o, "message");
    const char *msg = json_string_value(jm);
    if (!kind || !msg)
        return 0;
    const char *file = "";
    unsigned line = 0, col = 0;
    json_t *caret = json_object_get(json_array_get(json_object_get(o, "locations"), 0), "caret");
    if (json_is_object(caret)) {
        const char *f = json_string_value(json_object_get(caret, "file"));
        if (f)
            file = f;
        line = json_uint(caret, "line");
        col = json_uint(caret, "column");
    }
    size_t before = v->n;
    int r = dvec_push(v, file, strlen(file), line, col, kind, msg, json_string_length(jm));
    if (r < 0)
        return r;
    if (v->n > before && (r = render(sb, &v->d[v->n - 1])) < 0)
        return r;
    json_t *children = json_object_get(o, "children");
    size_t i;
    json_t *c;
    json_array_foreach(children, i, c)
    {
        if ((r = parse_json_diag(c, v, sb, depth + 1)) < 0)
            return r;
    }
    return 0;
}

int hb__parse_mixed_diagnostics(const char *text, size_t len, hb_diag **out, size_t *n,
                                char **rendered)
{
    if ((!text && len) || !out || !n || !rendered)
        return -EINVAL;
    dvec v = {0};
    hb_sb sb = HB_SB_INIT;
    int r = 0;
    size_t i = 0;
    while (i < len) {
        if (text[i] == '[') {
            json_error_t je;
            json_t *arr = json_loadb(text + i, len - i, JSON_DISABLE_EOF_CHECK, &je);
            if (json_is_array(arr) && je.position > 0 && (size_t)je.position <= len - i) {
                size_t k;
                json_t *o;
                json_array_foreach(arr, k, o)
                {
                    if ((r = parse_json_diag(o, &v, &sb, 0)) < 0)
                        break;
                }
                json_decref(arr);
                if (r < 0)
                    goto fail;
                i += (size_t)je.position;
                if (i < len && text[i] == '\n')
                    i++;
                continue;
            }
            json_decref(arr);
        }
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        if ((r = parse_text_line(text + i, e - i, &v)) < 0)
            goto fail;
        if ((r = hb__sb_add(&sb, text + i, e - i)) < 0 || (r = hb__sb_adds(&sb, "\n")) < 0)
            goto fail;
        i = e + 1;
    }
    *rendered = hb__sb_detach(&sb);
    if (!*rendered) {
        r = -ENOMEM;
        goto fail;
    }
    *out = v.d;
    *n = v.n;
    return 0;
fail:
    hb__sb_release(&sb);
    hb_diags_free(v.d, v.n);
    return r;
}
