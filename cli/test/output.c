/* cli/test/output.c - what `hotbox test` prints while it runs: a line per
 * case (stdout, or stderr with --tap/--json), TAP lines, and JSON-lines
 * events (docs/events.md). Harness events a case caused are shown apart
 * from the plugin's own output. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

void cli_test_emit_json(run *R, json_t *o)
{
    if (!o)
        return;
    if (R->json) {
        char *s = cli_json_dumps(o);
        if (s) {
            pthread_mutex_lock(&R->lock);
            fputs(s, stdout);
            fputc('\n', stdout);
            fflush(stdout);
            pthread_mutex_unlock(&R->lock);
            free(s);
        }
    }
    json_decref(o);
}

void cli_test_json_stage(run *R, const char *stage, const char *plugin, double ms, bool ok,
                         uint64_t version)
{
    if (!R->json)
        return;
    cli_test_emit_json(R, json_pack("{s:s, s:s, s:s, s:f, s:b, s:I}", "event", "stage", "stage",
                                    stage, "plugin", plugin, "ms", cli_round_ms(ms), "ok", ok,
                                    "version", (json_int_t)version));
}

void cli_test_json_start(run *R, const tr_case *c)
{
    if (R->json)
        cli_test_emit_json(R, json_pack("{s:s, s:s, s:s}", "event", "start", "plugin", c->plugin,
                                        "test", c->name));
}

void cli_test_note(run *R, const char *fmt, ...)
{
    if (R->g->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&R->lock);
    fputs("note: ", R->human);
    vfprintf(R->human, fmt, ap);
    fputc('\n', R->human);
    pthread_mutex_unlock(&R->lock);
    va_end(ap);
}

static void print_indented(FILE *f, const char *prefix, const char *text, size_t max_lines)
{
    size_t lines = 0;
    const char *p = text;
    while (*p && lines < max_lines) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "    %s %.*s\n", prefix, (int)len, p);
        lines++;
        p += len + (nl ? 1 : 0);
    }
    if (*p)
        fprintf(f, "    %s ... (more output in the reports)\n", prefix);
}

static const char *status_word(tr_status s)
{
    return s == TR_PASS ? "pass" : s == TR_FAIL ? "fail" : "skip";
}

static void print_case(run *R, const tr_case *c)
{
    char ms[32];
    const char *tag = c->status == TR_PASS ? "PASS" : c->status == TR_FAIL ? "FAIL" : "SKIP";
    fprintf(R->human, "%s %s.%s (%s)%s%s\n", tag, c->plugin, c->name, cli_fmt_ms(ms, c->ms),
            c->message ? ": " : "", c->message ? c->message : "");
    if (c->status == TR_FAIL && c->body && *c->body && (!c->message || strcmp(c->body, c->message)))
        print_indented(R->human, "|", c->body, 40);
    if (c->output && *c->output && (c->status == TR_FAIL || R->verbose))
        print_indented(R->human, "|", c->output, c->status == TR_FAIL ? 20 : 1000);
    if (c->events && *c->events && (c->status == TR_FAIL || R->verbose))
        print_indented(R->human, "hotbox:", c->events, 20);
    fflush(R->human);
}

static json_t *events_array(const char *events)
{
    json_t *a = json_array();
    for (const char *p = events; a && p && *p;) {
        size_t len = strcspn(p, "\n");
        json_array_append_new(a, json_stringn(p, len));
        p += len + (p[len] == '\n');
    }
    return a;
}

void cli_test_report_case(run *R, tr_case *c)
{
    pthread_mutex_lock(&R->lock);
    if (R->tap) {
        tap_case(stdout, ++R->tap_num, c);
        fflush(stdout);
    }
    if (c->status == TR_FAIL || !R->g->quiet)
        print_case(R, c);
    pthread_mutex_unlock(&R->lock);
    if (!R->json)
        return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "event", "end", "plugin", c->plugin, "test",
                          c->name, "status", status_word(c->status), "ms", cli_round_ms(c->ms));
    if (o && c->message)
        json_object_set_new(o, "message", json_string(c->message));
    if (o && c->body)
        json_object_set_new(o, "details", json_string(c->body));
    if (o && c->output && *c->output)
        json_object_set_new(o, "output", json_string(c->output));
    if (o && c->events && *c->events)
        json_object_set_new(o, "events", events_array(c->events));
    cli_test_emit_json(R, o);
}
