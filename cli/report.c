/* cli/report.c - test results: the JUnit XML writer and TAP 13 lines (the
 * JUnit reader, on libxml2, is cli/junit_read.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    free(c->events);
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

/* Real durations: a suite's (or the run's) time is the span from its first
 * case's start to its last case's end, so parallel jobs are not summed.
 * Cases without a start time (read from a report without timestamps, never
 * run) fall back to the sum. */
typedef struct span {
    double first, last, sum;
    bool timed;
} span;

static void span_add(span *s, const tr_case *c)
{
    s->sum += c->ms;
    if (c->t0 <= 0)
        return;
    double end = c->t0 + c->ms / 1000.0;
    if (!s->timed || c->t0 < s->first)
        s->first = c->t0;
    if (!s->timed || end > s->last)
        s->last = end;
    s->timed = true;
}

static void span_write(FILE *f, const span *s)
{
    if (s->timed) {
        char ts[32];
        time_t t = (time_t)s->first;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(f, " timestamp=\"%s\" time=\"%.3f\"", ts, s->last - s->first);
    } else {
        fprintf(f, " time=\"%.3f\"", s->sum / 1000.0);
    }
}

static void write_case(FILE *f, const char *plugin, const tr_case *c)
{
    fputs("    <testcase", f);
    attr(f, "classname", plugin);
    attr(f, "name", c->name);
    fprintf(f, " time=\"%.3f\">\n", c->ms / 1000.0);
    if (c->events && *c->events) {
        /* What hotbox itself said during the case (a restart, a state
         * reset): properties, never mixed into the plugin's output. */
        fputs("      <properties>\n", f);
        for (const char *p = c->events; *p;) {
            size_t len = strcspn(p, "\n");
            char *line = strndup(p, len);
            fputs("        <property name=\"hotbox-event\"", f);
            attr(f, "value", line ? line : "");
            fputs("/>\n", f);
            free(line);
            p += len + (p[len] == '\n');
        }
        fputs("      </properties>\n", f);
    }
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

int junit_write(FILE *f, const tr_case *cases, size_t n)
{
    size_t tot[4] = {0};
    span all = {0};
    for (size_t i = 0; i < n; i++) {
        tot[cases[i].status]++;
        span_add(&all, &cases[i]);
    }
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f, "<testsuites name=\"hotbox\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\"",
            n, tot[TR_FAIL], tot[TR_SKIP] + tot[TR_PENDING]);
    span_write(f, &all);
    fputs(">\n", f);
    bool *done = calloc(n ? n : 1, sizeof(bool));
    if (!done)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        const char *plugin = cases[i].plugin ? cases[i].plugin : "";
        size_t cnt = 0, fails = 0, skips = 0;
        span sp = {0};
        for (size_t j = i; j < n; j++) {
            if (strcmp(cases[j].plugin ? cases[j].plugin : "", plugin))
                continue;
            cnt++;
            fails += cases[j].status == TR_FAIL;
            skips += cases[j].status == TR_SKIP || cases[j].status == TR_PENDING;
            span_add(&sp, &cases[j]);
        }
        fputs("  <testsuite", f);
        attr(f, "name", plugin);
        fprintf(f, " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\"", cnt, fails, skips);
        span_write(f, &sp);
        fputs(">\n", f);
        for (size_t j = i; j < n; j++) {
            if (strcmp(cases[j].plugin ? cases[j].plugin : "", plugin))
                continue;
            done[j] = true;
            write_case(f, plugin, &cases[j]);
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
