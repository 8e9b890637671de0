/* cli/replay.c - `hotbox replay`: a plugin's recorded calls replayed on the
 * last good and the new version, the differences side by side, as JSON or
 * as JUnit (docs/replay.md). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

/* --help: the usage and what the command does, its options (column 20),
 * then what follows them. */
static const cli_help help_replay = {
    "usage: hotbox replay [--json] [--junit FILE] [--exclude FN]... [--recording FILE]\n"
    "                     [--old N] [--new N] PLUGIN_DIR\n\n"
    "Replays the calls recorded for the plugin (hotbox call/watch/test --record)\n"
    "against the version they were recorded on and against the plugin's current\n"
    "sources (built if needed), each in a worker of its own and from the same\n"
    "recorded checkpoint, and prints the calls whose results differ, old and new\n"
    "side by side.\n\n",
    "Exit status: 0 nothing changed, 1 a call's result differs, 2 the replay could\n"
    "not run (bad recording: the message names file and byte offset), 3 the\n"
    "current sources do not compile. See docs/replay.md.\n",
    20};

char *cli_record_dir(hb_manager *m)
{
    size_t n = strlen(hb_manager_state_dir(m)) + sizeof("/recordings");
    char *dir = malloc(n);
    if (dir)
        snprintf(dir, n, "%s/recordings", hb_manager_state_dir(m));
    return dir;
}

json_t *cli_replay_json(const hb_replay_report *r)
{
    json_t *diffs = json_array();
    for (size_t i = 0; i < r->ndiffs; i++) {
        const hb_replay_diff *d = &r->diffs[i];
        json_array_append_new(diffs, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "index",
                                               (json_int_t)d->index, "offset",
                                               (json_int_t)d->offset, "function", d->function,
                                               "signature", d->signature, "args", d->args,
                                               "old", d->old_result, "new", d->new_result));
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:o}", "plugin", r->plugin,
                     "recording", r->recording, "old_version", (json_int_t)r->old_version,
                     "new_version", (json_int_t)r->new_version, "calls", (json_int_t)r->calls,
                     "excluded", (json_int_t)r->excluded, "segments", (json_int_t)r->segments,
                     "seconds", r->seconds, "changed", r->ndiffs > 0, "diffs", diffs);
}

void cli_replay_print_diffs(const hb_replay_report *r, const char *indent)
{
    for (size_t i = 0; i < r->ndiffs; i++) {
        const hb_replay_diff *d = &r->diffs[i];
        printf("%scall #%zu (%s:%llu) %s%s  [%s]\n", indent, d->index + 1, r->recording,
               (unsigned long long)d->offset, d->function, d->args, d->signature);
        printf("%s    v%-6llu %s\n", indent, (unsigned long long)r->old_version, d->old_result);
        printf("%s    v%-6llu %s\n", indent, (unsigned long long)r->new_version, d->new_result);
    }
}

static void print_text(const hb_replay_report *r)
{
    cli_replay_print_diffs(r, "");
    printf("%s: %zu call%s replayed on v%llu and v%llu (%zu excluded, %zu segment%s) in "
           "%.3f s: %zu differ%s\n",
           r->plugin, r->calls, r->calls == 1 ? "" : "s", (unsigned long long)r->old_version,
           (unsigned long long)r->new_version, r->excluded, r->segments,
           r->segments == 1 ? "" : "s", r->seconds, r->ndiffs, r->ndiffs == 1 ? "s" : "");
}

/* One failing case per differing call, and one passing case for the rest. */
static int write_junit(const char *path, const hb_replay_report *r)
{
    size_t n = r->ndiffs + 1;
    tr_case *cases = calloc(n, sizeof(*cases));
    if (!cases)
        return -ENOMEM;
    for (size_t i = 0; i < r->ndiffs; i++) {
        const hb_replay_diff *d = &r->diffs[i];
        tr_case *c = &cases[i];
        c->plugin = tr_dup(r->plugin);
        c->name = tr_printf("replay #%zu %s", d->index + 1, d->function);
        c->id = tr_printf("%s.%s", r->plugin, d->function);
        c->status = TR_FAIL;
        c->message = tr_printf("%s%s: v%llu %s, v%llu %s", d->function, d->args,
                               (unsigned long long)r->old_version, d->old_result,
                               (unsigned long long)r->new_version, d->new_result);
        c->body = tr_printf("%s:%llu", r->recording, (unsigned long long)d->offset);
    }
    tr_case *c = &cases[r->ndiffs];
    c->plugin = tr_dup(r->plugin);
    c->name = tr_printf("replay: %zu unchanged calls", r->calls - r->excluded - r->ndiffs);
    c->id = tr_printf("%s.replay", r->plugin);
    c->status = TR_PASS;
    c->ms = r->seconds * 1000.0;
    int rc = 0;
    FILE *f = fopen(path, "we");
    if (!f)
        rc = -errno;
    else {
        rc = junit_write(f, cases, n);
        if (fclose(f) != 0 && rc == 0)
            rc = -errno;
    }
    for (size_t i = 0; i < n; i++)
        tr_case_release(&cases[i]);
    free(cases);
    return rc;
}

int cmd_replay(const cli_global *g, int argc, char **argv)
{
    hb_replay_options ro = HB_REPLAY_OPTIONS_INIT;
    const char *junit = NULL;
    bool json = g->json;
    cli_list exclude = {0};
    const cli_opt opts[] = {
        CLI_FLAG("json", &json, .help = "one JSON object on stdout instead of text"),
        CLI_STR("junit", &junit, .arg = "FILE",
                .help = "a JUnit report: one failing case per differing call"),
        CLI_LIST("exclude", &exclude, .arg = "FN",
                 .help = "do not compare FN's results (non-deterministic); repeatable"),
        CLI_STR("recording", &ro.recording, .arg = "FILE",
                .help = "default: <state dir>/recordings/PLUGIN.hbrec"),
        CLI_U64("old", &ro.old_version, UINT_MAX, "a version number", .arg = "N",
                .help = "the old side: this stored version (default: the one the calls\n"
                        "were recorded on)"),
        CLI_U64("new", &ro.new_version, UINT_MAX, "a version number", .arg = "N",
                .help = "the new side: this stored version (default: the current sources)"),
        {0}};
    int rc = cli_parse(argc, argv, "replay", &help_replay, opts, 0);
    if (rc >= 0)
        goto out;
    rc = HB_EXIT_USAGE;
    if (argc - optind != 1) {
        cli_help_print(stderr, &help_replay, opts);
        goto out;
    }
    ro.exclude = exclude.v;
    ro.profile = g->profile;
    hb_manager *m;
    if (json) { /* stdout is the report's alone */
        hb_manager_options mo;
        cli_manager_options(g, &mo);
        int r = hb_manager_new(&mo, &m);
        if (r < 0) {
            cli_state_error(g, r);
            rc = HB_EXIT_USAGE;
            goto out;
        }
    } else if (cli_manager(g, &m) < 0) {
        rc = HB_EXIT_USAGE;
        goto out;
    }
    hb_replay_report *rep = NULL;
    int r = hb_replay(m, argv[optind], &ro, &rep);
    if (r < 0) {
        cli_error("%s", hb_manager_last_error(m));
        rc = r == HB_ECOMPILE ? HB_EXIT_COMPILE : HB_EXIT_USAGE;
        hb_manager_free(m);
        goto out;
    }
    rc = rep->ndiffs ? HB_EXIT_FAILED : HB_EXIT_OK;
    if (json) {
        cli_json_print(stdout, cli_replay_json(rep));
    } else {
        print_text(rep);
    }
    if (junit && (r = write_junit(junit, rep)) < 0) {
        cli_error("writing %s: %s", junit, strerror(-r));
        rc = HB_EXIT_USAGE;
    }
    hb_replay_report_free(rep);
    hb_manager_free(m);
out:
    free(exclude.v);
    return rc;
}
