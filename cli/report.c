/* cli/report.c - JUnit XML writer and reader, TAP 13 lines.
 *
 * The JUnit reader exists for `hotbox report merge`. It is a small, strict
 * XML parser (elements, attributes, text, comments, CDATA, the five named
 * entities and numeric character references; no DTDs) that builds a tree and
 * picks out the elements JUnit consumers read. It is written for the files
 * junit_write produces and the common JUnit subset, not for arbitrary XML. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

void tr_case_release(tr_case *c)
{
    if (!c)
        return;
    free(c->plugin);
    free(c->name);
    free(c->id);
    free(c->message);
    free(c->body);
    free(c->output);
    memset(c, 0, sizeof(*c));
}

char *tr_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *tr_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* ---- writing -------------------------------------------------------------- */

/* Length of a valid UTF-8 sequence starting at p (1..4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    /* Overlong forms, surrogates, beyond Unicode, and U+FFFE/U+FFFF are not
     * XML characters. */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return n;
}

void xml_escape(FILE *f, const char *s)
{
    if (!s)
        return;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        switch (c) {
        case '&': fputs("&amp;", f); p++; continue;
        case '<': fputs("&lt;", f); p++; continue;
        case '>': fputs("&gt;", f); p++; continue;
        case '"': fputs("&quot;", f); p++; continue;
        case '\'': fputs("&apos;", f); p++; continue;
        /* Character references survive attribute-value normalisation. */
        case '\n': fputs("&#10;", f); p++; continue;
        case '\r': fputs("&#13;", f); p++; continue;
        case '\t': fputs("&#9;", f); p++; continue;
        default: break;
        }
        if (c < 0x20) {
            fprintf(f, "\\x%02x", c);
            p++;
            continue;
        }
        size_t n = utf8_len(p);
        if (n == 0) {
            fprintf(f, "\\x%02x", c);
            p++;
            continue;
        }
        fwrite(p, 1, n, f);
        p += n;
    }
}

static void attr(FILE *f, const char *name, const char *value)
{
    fprintf(f, " %s=\"", name);
    xml_escape(f, value ? value : "");
    fputc('"', f);
}

int junit_write(FILE *f, const tr_case *cases, size_t n)
{
    size_t tot[4] = {0};
    double total_ms = 0;
    for (size_t i = 0; i < n; i++) {
        tot[cases[i].status]++;
        total_ms += cases[i].ms;
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<testsuites name=\"hotbox\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
            n, tot[TR_FAIL], tot[TR_SKIP], total_ms / 1000.0);
    bool *done = calloc(n ? n : 1, sizeof(bool));
    if (!done)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        const char *plugin = cases[i].plugin ? cases[i].plugin : "";
        size_t cnt = 0, fails = 0, skips = 0;
        double ms = 0;
        for (size_t j = i; j < n; j++) {
            if (strcmp(cases[j].plugin ? cases[j].plugin : "", plugin))
                continue;
            cnt++;
            fails += cases[j].status == TR_FAIL;
            skips += cases[j].status == TR_SKIP;
            ms += cases[j].ms;
        }
        fputs("  <testsuite", f);
        attr(f, "name", plugin);
        fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
                cnt, fails, skips, ms / 1000.0);
        for (size_t j = i; j < n; j++) {
            const tr_case *c = &cases[j];
            if (strcmp(c->plugin ? c->plugin : "", plugin))
                continue;
            done[j] = true;
            fputs("    <testcase", f);
            attr(f, "classname", plugin);
            attr(f, "name", c->name);
            fprintf(f, " time=\"%.3f\">\n", c->ms / 1000.0);
            if (c->status == TR_FAIL) {
                fputs("      <failure", f);
                attr(f, "message", c->message ? c->message : "failed");
                attr(f, "type", "failure");
                fputc('>', f);
                xml_escape(f, c->body ? c->body : c->message);
                fputs("</failure>\n", f);
            } else if (c->status == TR_SKIP || c->status == TR_PENDING) {
                fputs("      <skipped", f);
                attr(f, "message", c->message ? c->message : "not run");
                fputs("/>\n", f);
            }
            if (c->output && *c->output) {
                fputs("      <system-out>", f);
                xml_escape(f, c->output);
                fputs("</system-out>\n", f);
            }
            fputs("    </testcase>\n", f);
        }
        fputs("  </testsuite>\n", f);
    }
    free(done);
    fputs("</testsuites>\n", f);
    fflush(f);
    return ferror(f) ? -EIO : 0;
}

/* ---- TAP ------------------------------------------------------------------ */

/* A YAML literal block line by line, indented. */
static void yaml_block(FILE *f, const char *key, const char *text)
{
    fprintf(f, "  %s: |\n", key);
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fputs("    ", f);
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c < 0x20 && c != '\t')
                fprintf(f, "\\x%02x", c);
            else
                fputc(c, f);
        }
        fputc('\n', f);
        p += len + (nl ? 1 : 0);
    }
}

void tap_case(FILE *f, size_t num, const tr_case *c)
{
    const char *name = c->name ? c->name : "";
    if (c->status == TR_SKIP || c->status == TR_PENDING) {
        fprintf(f, "ok %zu - %s.%s # SKIP %s\n", num, c->plugin, name,
                c->message ? c->message : "not run");
        return;
    }
    fprintf(f, "%s %zu - %s.%s\n", c->status == TR_PASS ? "ok" : "not ok", num, c->plugin, name);
    if (c->status != TR_FAIL)
        return;
    fputs("  ---\n", f);
    fputs("  message: ", f);
    /* One line, quoted as a YAML double-quoted scalar. */
    fputc('"', f);
    for (const char *p = c->message ? c->message : "failed"; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            fprintf(f, "\\x%02x", (unsigned char)*p);
        else
            fputc(*p, f);
    }
    fputs("\"\n", f);
    fprintf(f, "  duration_ms: %.3f\n", c->ms);
    if (c->body && *c->body)
        yaml_block(f, "details", c->body);
    if (c->output && *c->output)
        yaml_block(f, "output", c->output);
    fputs("  ...\n", f);
}

/* ---- reading --------------------------------------------------------------- */

typedef struct xnode {
    char *name;
    char **attrs; /* name, value, name, value, ..., NULL */
    size_t nattrs;
    char *text;   /* concatenated character data directly inside */
    size_t textlen;
    struct xnode **kids;
    size_t nkids;
} xnode;

typedef struct xparser {
    const char *p, *end;
    const char *err;
    int depth;
} xparser;

static void xnode_free(xnode *n)
{
    if (!n)
        return;
    free(n->name);
    for (size_t i = 0; i < n->nattrs * 2; i++)
        free(n->attrs[i]);
    free(n->attrs);
    free(n->text);
    for (size_t i = 0; i < n->nkids; i++)
        xnode_free(n->kids[i]);
    free(n->kids);
    free(n);
}

static int buf_add(char **buf, size_t *len, const char *s, size_t n)
{
    char *nb = realloc(*buf, *len + n + 1);
    if (!nb)
        return -ENOMEM;
    memcpy(nb + *len, s, n);
    *len += n;
    nb[*len] = '\0';
    *buf = nb;
    return 0;
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xC0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xE0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*n)++] = (char)(0xF0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Decodes character data [s, e) with entities into *buf. */
static int decode(xparser *x, const char *s, const char *e, char **buf, size_t *len)
{
    while (s < e) {
        const char *amp = memchr(s, '&', (size_t)(e - s));
        const char *stop = amp ? amp : e;
        if (memchr(s, '<', (size_t)(stop - s))) {
            x->err = "'<' in character data";
            return -EINVAL;
        }
        if (buf_add(buf, len, s, (size_t)(stop - s)) < 0)
            return -ENOMEM;
        if (!amp)
            break;
        const char *semi = memchr(amp, ';', (size_t)(e - amp));
        if (!semi || semi - amp > 12) {
            x->err = "unterminated entity reference";
            return -EINVAL;
        }
        size_t n = (size_t)(semi - amp - 1);
        const char *name = amp + 1;
        char out[4];
        size_t on = 0;
        if (n == 3 && !strncmp(name, "amp", 3)) {
            out[on++] = '&';
        } else if (n == 2 && !strncmp(name, "lt", 2)) {
            out[on++] = '<';
        } else if (n == 2 && !strncmp(name, "gt", 2)) {
            out[on++] = '>';
        } else if (n == 4 && !strncmp(name, "quot", 4)) {
            out[on++] = '"';
        } else if (n == 4 && !strncmp(name, "apos", 4)) {
            out[on++] = '\'';
        } else if (n >= 2 && name[0] == '#') {
            char tmp[16];
            memcpy(tmp, name + 1, n - 1);
            tmp[n - 1] = '\0';
            char *endp;
            unsigned long cp = tmp[0] == 'x' ? strtoul(tmp + 1, &endp, 16) : strtoul(tmp, &endp, 10);
            if (*endp || endp == tmp || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                x->err = "bad character reference";
                return -EINVAL;
            }
            put_utf8(out, &on, (uint32_t)cp);
        } else {
            x->err = "unknown entity";
            return -EINVAL;
        }
        if (buf_add(buf, len, out, on) < 0)
            return -ENOMEM;
        s = semi + 1;
    }
    return 0;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || (unsigned char)c >= 0x80;
}

static void skip_ws(xparser *x)
{
    while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
        x->p++;
}

static bool starts(xparser *x, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(x->end - x->p) >= n && !memcmp(x->p, s, n);
}

/* Skips "<!-- ... -->" or "<? ... ?>" at x->p. */
static int skip_misc(xparser *x)
{
    const char *close = starts(x, "<!--") ? "-->" : "?>";
    const char *e = memmem(x->p, (size_t)(x->end - x->p), close, strlen(close));
    if (!e) {
        x->err = "unterminated comment or processing instruction";
        return -EINVAL;
    }
    x->p = e + strlen(close);
    return 0;
}

static char *parse_name(xparser *x)
{
    const char *s = x->p;
    while (x->p < x->end && is_name_char(*x->p))
        x->p++;
    if (x->p == s) {
        x->err = "expected a name";
        return NULL;
    }
    return strndup(s, (size_t)(x->p - s));
}

static xnode *parse_element(xparser *x);

static int parse_content(xparser *x, xnode *n)
{
    for (;;) {
        const char *lt = memchr(x->p, '<', (size_t)(x->end - x->p));
        if (!lt) {
            x->err = "unexpected end of document";
            return -EINVAL;
        }
        if (decode(x, x->p, lt, &n->text, &n->textlen) < 0)
            return -EINVAL;
        x->p = lt;
        if (starts(x, "</")) {
            x->p += 2;
            char *name = parse_name(x);
            if (!name)
                return -EINVAL;
            bool same = !strcmp(name, n->name);
            free(name);
            skip_ws(x);
            if (!same || x->p >= x->end || *x->p != '>') {
                x->err = "mismatched end tag";
                return -EINVAL;
            }
            x->p++;
            return 0;
        }
        if (starts(x, "<!--") || starts(x, "<?")) {
            if (skip_misc(x) < 0)
                return -EINVAL;
            continue;
        }
        if (starts(x, "<![CDATA[")) {
            x->p += 9;
            const char *e = memmem(x->p, (size_t)(x->end - x->p), "]]>", 3);
            if (!e) {
                x->err = "unterminated CDATA";
                return -EINVAL;
            }
            if (buf_add(&n->text, &n->textlen, x->p, (size_t)(e - x->p)) < 0)
                return -ENOMEM;
            x->p = e + 3;
            continue;
        }
        xnode *k = parse_element(x);
        if (!k)
            return -EINVAL;
        xnode **nk = realloc(n->kids, (n->nkids + 1) * sizeof(*nk));
        if (!nk) {
            xnode_free(k);
            return -ENOMEM;
        }
        n->kids = nk;
        n->kids[n->nkids++] = k;
    }
}

static xnode *parse_element(xparser *x)
{
    if (++x->depth > 64) {
        x->err = "elements nested too deeply";
        return NULL;
    }
    if (x->p >= x->end || *x->p != '<') {
        x->err = "expected '<'";
        return NULL;
    }
    x->p++;
    xnode *n = calloc(1, sizeof(*n));
    if (!n || !(n->name = parse_name(x)))
        goto fail;
    for (;;) {
        skip_ws(x);
        if (x->p >= x->end) {
            x->err = "unterminated start tag";
            goto fail;
        }
        if (*x->p == '/' || *x->p == '>')
            break;
        char *an = parse_name(x);
        if (!an)
            goto fail;
        skip_ws(x);
        if (x->p >= x->end || *x->p != '=') {
            free(an);
            x->err = "expected '=' after an attribute name";
            goto fail;
        }
        x->p++;
        skip_ws(x);
        char q = x->p < x->end ? *x->p : 0;
        const char *e = (q == '"' || q == '\'') ? memchr(x->p + 1, q, (size_t)(x->end - x->p - 1)) : NULL;
        if (!e) {
            free(an);
            x->err = "bad attribute value";
            goto fail;
        }
        char *val = NULL;
        size_t vlen = 0;
        if (decode(x, x->p + 1, e, &val, &vlen) < 0 || (!val && !(val = strdup("")))) {
            free(an);
            free(val);
            goto fail;
        }
        x->p = e + 1;
        char **na = realloc(n->attrs, (n->nattrs + 1) * 2 * sizeof(char *));
        if (!na) {
            free(an);
            free(val);
            goto fail;
        }
        n->attrs = na;
        n->attrs[n->nattrs * 2] = an;
        n->attrs[n->nattrs * 2 + 1] = val;
        n->nattrs++;
    }
    if (*x->p == '/') {
        x->p++;
        if (x->p >= x->end || *x->p != '>') {
            x->err = "expected '>' after '/'";
            goto fail;
        }
        x->p++;
    } else {
        x->p++;
        if (parse_content(x, n) < 0)
            goto fail;
    }
    x->depth--;
    return n;
fail:
    if (!x->err)
        x->err = "out of memory";
    xnode_free(n);
    return NULL;
}

static const char *xattr(const xnode *n, const char *name)
{
    for (size_t i = 0; i < n->nattrs; i++)
        if (!strcmp(n->attrs[i * 2], name))
            return n->attrs[i * 2 + 1];
    return NULL;
}

static const xnode *xchild(const xnode *n, const char *name)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (!strcmp(n->kids[i]->name, name))
            return n->kids[i];
    return NULL;
}

static int add_testcase(const xnode *suite, const xnode *tc, tr_case **cases, size_t *n)
{
    tr_case c = {0};
    const char *cls = xattr(tc, "classname");
    if (!cls)
        cls = xattr(suite, "name");
    const char *name = xattr(tc, "name");
    const char *time = xattr(tc, "time");
    c.plugin = strdup(cls ? cls : "");
    c.name = strdup(name ? name : "");
    c.id = tr_printf("%s.%s", c.plugin ? c.plugin : "", c.name ? c.name : "");
    c.ms = time ? strtod(time, NULL) * 1000.0 : 0;
    c.status = TR_PASS;
    const xnode *f = xchild(tc, "failure");
    if (!f)
        f = xchild(tc, "error");
    const xnode *s = xchild(tc, "skipped");
    if (f) {
        c.status = TR_FAIL;
        c.message = tr_dup(xattr(f, "message"));
        c.body = tr_dup(f->text);
    } else if (s) {
        c.status = TR_SKIP;
        c.message = tr_dup(xattr(s, "message"));
    }
    const xnode *o = xchild(tc, "system-out");
    const xnode *e = xchild(tc, "system-err");
    if (o && o->text)
        c.output = strdup(o->text);
    if (e && e->text) {
        char *joined = tr_printf("%s%s", c.output ? c.output : "", e->text);
        free(c.output);
        c.output = joined;
    }
    if (!c.plugin || !c.name || !c.id) {
        tr_case_release(&c);
        return -ENOMEM;
    }
    tr_case *nc = realloc(*cases, (*n + 1) * sizeof(*nc));
    if (!nc) {
        tr_case_release(&c);
        return -ENOMEM;
    }
    *cases = nc;
    nc[(*n)++] = c;
    return 0;
}

static int add_suite(const xnode *suite, tr_case **cases, size_t *n)
{
    for (size_t i = 0; i < suite->nkids; i++) {
        const xnode *k = suite->kids[i];
        int r = 0;
        if (!strcmp(k->name, "testcase"))
            r = add_testcase(suite, k, cases, n);
        else if (!strcmp(k->name, "testsuite"))
            r = add_suite(k, cases, n); /* nested suites (some producers) */
        if (r < 0)
            return r;
    }
    return 0;
}

int junit_read(const char *path, tr_case **cases, size_t *n, char **err)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int e = errno;
        *err = tr_printf("cannot read %s: %s", path, strerror(e));
        return -e;
    }
    char *data = NULL;
    size_t len = 0, cap = 0;
    int r = 0;
    for (;;) {
        if (cap - len < 65536) {
            if (cap > (size_t)1 << 30) {
                r = -EFBIG;
                break;
            }
            cap = cap ? cap * 2 : 131072;
            char *nd = realloc(data, cap);
            if (!nd) {
                r = -ENOMEM;
                break;
            }
            data = nd;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (r == 0 && ferror(f))
        r = -EIO;
    fclose(f);
    if (r < 0) {
        free(data);
        *err = tr_printf("cannot read %s: %s", path, strerror(-r));
        return r;
    }
    xparser x = {data, data + len, NULL, 0};
    xnode *root = NULL;
    for (;;) {
        skip_ws(&x);
        if (starts(&x, "<?") || starts(&x, "<!--")) {
            if (skip_misc(&x) < 0)
                break;
            continue;
        }
        root = parse_element(&x);
        break;
    }
    if (root) {
        skip_ws(&x);
        while (root && x.p < x.end && (starts(&x, "<!--") || starts(&x, "<?"))) {
            if (skip_misc(&x) < 0)
                break;
            skip_ws(&x);
        }
        if (x.p < x.end && !x.err)
            x.err = "content after the root element";
    }
    if (!root || x.err) {
        *err = tr_printf("%s: not well-formed XML at byte %zu: %s", path, (size_t)(x.p - data),
                         x.err ? x.err : "no root element");
        xnode_free(root);
        free(data);
        return -EINVAL;
    }
    free(data);
    if (!strcmp(root->name, "testsuites") || !strcmp(root->name, "testsuite")) {
        r = !strcmp(root->name, "testsuite") ? add_suite(root, cases, n) : 0;
        for (size_t i = 0; r == 0 && !strcmp(root->name, "testsuites") && i < root->nkids; i++)
            if (!strcmp(root->kids[i]->name, "testsuite"))
                r = add_suite(root->kids[i], cases, n);
        if (r < 0)
            *err = tr_printf("%s: %s", path, strerror(-r));
    } else {
        *err = tr_printf("%s: root element is <%s>, not <testsuites> or <testsuite>", path, root->name);
        r = -EINVAL;
    }
    xnode_free(root);
    return r;
}
