/* cli/report_cmd.c - `hotbox report merge`: joins JUnit XML (read with
 * libxml2, cli/junit_read.c) or JSON-lines reports of several `hotbox test`
 * runs, e.g. one per CI shard. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

static const char usage_report[] =
    "usage: hotbox report merge OUT IN...\n"
    "\n"
    "Joins reports written by `hotbox test` (for example one per CI shard) into\n"
    "one. JUnit XML inputs (--junit) give a JUnit XML file with one testsuite per\n"
    "plugin (suite times are the real wall-clock spans); JSON-lines inputs\n"
    "(--json) are concatenated with one summary event at the end. JUnit files\n"
    "from other tools are read too (testsuites/testsuite/testcase with failure,\n"
    "error, skipped, system-out, system-err).\n";

static int merge_json(const char *out, int nin, char **in)
{
    FILE *o = fopen(out, "we");
    if (!o) {
        cli_error("cannot write %s: %s", out, strerror(errno));
        return HB_EXIT_USAGE;
    }
    json_int_t tot[3] = {0};
    double ms = 0;
    int rc = HB_EXIT_OK;
    for (int i = 0; i < nin && rc == HB_EXIT_OK; i++) {
        FILE *f = fopen(in[i], "re");
        if (!f) {
            cli_error("cannot read %s: %s", in[i], strerror(errno));
            rc = HB_EXIT_FAILED;
            break;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        unsigned lineno = 0;
        while ((len = getline(&line, &cap, f)) > 0) {
            lineno++;
            json_error_t je;
            json_t *ev = json_loadb(line, (size_t)len, 0, &je);
            const char *type = ev ? json_string_value(json_object_get(ev, "event")) : NULL;
            if (!type) {
                cli_error("%s:%u: not a hotbox JSON event: %s", in[i], lineno, ev ? "no \"event\"" : je.text);
                json_decref(ev);
                rc = HB_EXIT_FAILED;
                break;
            }
            if (!strcmp(type, "summary")) {
                tot[0] += json_integer_value(json_object_get(ev, "passed"));
                tot[1] += json_integer_value(json_object_get(ev, "failed"));
                tot[2] += json_integer_value(json_object_get(ev, "skipped"));
                ms += json_number_value(json_object_get(ev, "ms"));
                json_decref(ev);
            } else {
                cli_json_print(o, ev);
            }
        }
        free(line);
        fclose(f);
    }
    json_t *sum = json_pack("{s:s, s:I, s:I, s:I, s:f, s:i}", "event", "summary", "passed", tot[0],
                            "failed", tot[1], "skipped", tot[2], "ms", cli_round_ms(ms), "merged", nin);
    cli_json_print(o, sum);
    if (fclose(o) != 0 && rc == HB_EXIT_OK) {
        cli_error("writing %s failed", out);
        rc = HB_EXIT_FAILED;
    }
    if (rc == HB_EXIT_OK)
        printf("%" PRId64 " passed, %" PRId64 " failed%s\n", (int64_t)tot[0], (int64_t)tot[1], "");
    return rc;
}

static bool looks_like_json(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    int c;
    while ((c = fgetc(f)) != EOF && (c == ' ' || c == '\n' || c == '\t' || c == '\r'))
        ;
    fclose(f);
    return c == '{';
}


static int merge_junit(const char *out, int nin, char **in)
{
    FILE *f = fopen(out, "we");
    if (!f) {
        cli_error("report: cannot write %s: %s", out, strerror(errno));
        return HB_EXIT_USAGE;
    }
    tr_case *cases = NULL;
    size_t n = 0;
    int rc = HB_EXIT_OK;
    for (int i = 0; i < nin; i++) {
        char *err = NULL;
        if (junit_read(in[i], &cases, &n, &err) < 0) {
            cli_error("report: %s", err ? err : "cannot read a report");
            free(err);
            fclose(f);
            unlink(out);
            rc = HB_EXIT_FAILED;
            goto done;
        }
    }
    int w = junit_write(f, cases, n);
    if (fclose(f) != 0 || w < 0) {
        cli_error("report: writing %s failed", out);
        rc = HB_EXIT_FAILED;
        goto done;
    }
    size_t np = 0, nf = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        np += cases[i].status == TR_PASS;
        nf += cases[i].status == TR_FAIL;
        ns += cases[i].status == TR_SKIP;
    }
    if (ns)
        printf("%zu passed, %zu failed, %zu skipped\n", np, nf, ns);
    else
        printf("%zu passed, %zu failed\n", np, nf);
done:
    for (size_t i = 0; i < n; i++)
        tr_case_release(&cases[i]);
    free(cases);
    return rc;
}

int cmd_report(const cli_global *g, int argc, char **argv)
{
    (void)g;
    int rc = cli_parse(argc, argv, "report", CLI_HELP(usage_report), NULL, 0);
    if (rc >= 0)
        return rc;
    argc -= optind - 1;
    argv += optind - 1;
    if (argc < 2 || strcmp(argv[1], "merge") != 0) {
        if (argc >= 2) {
            const char *subs[] = {"merge"};
            const char *s = cli_suggest(argv[1], subs, 1);
            cli_error("report: unknown subcommand \"%s\"%s", argv[1],
                      s ? "; did you mean \"merge\"?" : "");
        }
        fputs(usage_report, stderr);
        return HB_EXIT_USAGE;
    }
    if (argc < 4) {
        fputs(usage_report, stderr);
        return HB_EXIT_USAGE;
    }
    const char *out = argv[2];
    /* Every input must be readable and the output writable before any
     * work: those are usage errors (exit 2), like a bad --junit path. */
    for (int i = 3; i < argc; i++)
        if (access(argv[i], R_OK) < 0) {
            cli_error("report: cannot read %s: %s", argv[i], strerror(errno));
            return HB_EXIT_USAGE;
        }
    if (looks_like_json(argv[3]))
        return merge_json(out, argc - 3, argv + 3);
    return merge_junit(out, argc - 3, argv + 3);
}
