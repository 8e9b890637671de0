/* cli/report.h - test results and the report formats of `hotbox test`:
 * JUnit XML (written, and read back for `hotbox report merge`), TAP 13 and
 * JSON lines. Private to the CLI. */
#ifndef HB_CLI_REPORT_H
#define HB_CLI_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum tr_status { TR_PENDING = 0, TR_PASS, TR_FAIL, TR_SKIP } tr_status;

/* One test case result. Strings are malloc'ed and owned by the case. */
typedef struct tr_case {
    char *plugin;   /* JUnit classname */
    char *name;     /* test name (symbol, maybe with a phase suffix) */
    char *id;       /* "plugin.symbol": what -k and --shard look at */
    tr_status status;
    double ms;
    char *message;  /* one line: why it failed or was skipped */
    char *body;     /* details (diagnostics, last error) */
    char *output;   /* captured worker stdout+stderr, bounded: the plugin's only */
    char *events;   /* what hotbox said during the case (restarts, state
                     * resets), one per line; never part of output */
    double t0;      /* when it started, seconds since the epoch; 0 unknown */
} tr_case;

void tr_case_release(tr_case *c);

/* Sets a field to a copy of s (NULL allowed); returns the copy. */
char *tr_dup(const char *s);
char *tr_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Appends XML-escaped text. Control characters XML 1.0 cannot carry and
 * invalid UTF-8 bytes are written as the visible text "\xNN". */
void xml_escape(FILE *f, const char *s);

/* Writes cases as one <testsuites> document, one <testsuite> per plugin in
 * order of first appearance. Suite and run times are wall-clock spans
 * (first start to last end, with a UTC timestamp) when the cases carry
 * start times, else sums. A case's events are <property name="hotbox-event">
 * elements. Returns 0 or -errno from the stream. */
int junit_write(FILE *f, const tr_case *cases, size_t n);

/* cli/junit_read.c: reads a JUnit file (with libxml2; no network, no
 * entity expansion from outside) written by junit_write or any tool using
 * the common subset: testsuites/testsuite/testcase with failure, error,
 * skipped, system-out, system-err and hotbox-event properties. Appends its
 * cases to *cases; a case's start is its suite's timestamp, so merged
 * suites keep real spans. On an error returns -EINVAL and sets *err
 * (malloc'ed, naming the file and line). */
int junit_read(const char *path, tr_case **cases, size_t *n, char **err);

/* TAP 13: one "ok"/"not ok" line for case number `num` with a YAML block
 * for failures. */
void tap_case(FILE *f, size_t num, const tr_case *c);

#endif
