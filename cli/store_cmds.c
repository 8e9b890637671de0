/* cli/store_cmds.c - commands on the version store: verify, gc, rollback,
 * store recover. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_verify(const cli_global *g, int argc, char **argv)
{
    hb_manager *m;
    int rc = cli_manager_existing(g, "nothing stored, nothing to verify", &m);
    if (rc <= 0)
        return rc < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
    char *report = NULL;
    int r = hb_verify(m, &report);
    if (report && *report)
        fputs(report, stdout);
    if (r == 0)
        printf("store %s is consistent\n", hb_manager_state_dir(m));
    else if (r == HB_ECORRUPT || r == HB_ECATALOG)
        cli_error("store %s is NOT consistent: %s", hb_manager_state_dir(m), hb_strerror(r));
    else
        cli_error("store %s could not be verified: %s", hb_manager_state_dir(m),
                  hb_manager_last_error(m));
    hb_free(report);
    hb_manager_free(m);
    return r == 0 ? HB_EXIT_OK : HB_EXIT_FAILED;
}

static const char usage_gc[] =
    "usage: hotbox gc [--keep N]\n\n"
    "Removes old versions and their objects, keeping per plugin the newest N\n"
    "(default 5) and always the newest good one.\n";

int cmd_gc(const cli_global *g, int argc, char **argv)
{
    unsigned keep = 5;
    const cli_opt opts[] = {CLI_UINT("keep", &keep, 1, 1000000, "a number from 1 to 1000000"), {0}};
    int rc = cli_parse(argc, argv, "gc", CLI_HELP(usage_gc), opts, CLI_NO_OPERANDS);
    if (rc >= 0)
        return rc;
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    unsigned removed = 0;
    int r = hb_gc(m, keep, &removed);
    return cli_manager_end(m, r, "removed %u version%s (kept the newest %u per plugin)\n", removed,
                           removed == 1 ? "" : "s", keep);
}

static const char usage_rollback[] =
    "usage: hotbox rollback PLUGIN [--to N]\n\n"
    "Pins PLUGIN to stored version N (default: the newest good version before\n"
    "the newest) until its source changes: newer versions are marked\n"
    "rolled-back, and loading the plugin (hotbox watch, hb_load) uses version N\n"
    "as long as the source still builds to one of them. A live sandbox rolls\n"
    "back with hb_rollback().\n";

int cmd_rollback(const cli_global *g, int argc, char **argv)
{
    uint64_t to = 0;
    const cli_opt opts[] = {CLI_U64("to", &to, UINT64_MAX, "a version number"), {0}};
    int rc = cli_parse(argc, argv, "rollback", CLI_HELP(usage_rollback), opts, 0);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1) {
        cli_error("rollback: %s (see hotbox rollback --help)",
                  optind < argc ? "one plugin at a time" : "which plugin?");
        return HB_EXIT_USAGE;
    }
    const char *plugin = argv[optind];
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    uint64_t pinned = 0;
    int r = hb_pin(m, plugin, to, &pinned);
    return cli_manager_end(m, r, "%s pinned to v%" PRIu64 " until its source changes\n", plugin,
                           pinned);
}

static const char usage_store[] =
    "usage: hotbox store recover [--force]\n"
    "\n"
    "Rebuilds a damaged or missing version catalogue (STATE_DIR/hotbox.db). hotbox\n"
    "never replaces a damaged catalogue by itself: every command refuses to open it\n"
    "and names the problem. Stop every hotbox using the state directory first.\n"
    "\n"
    "The damaged file is kept as hotbox.db.damaged-<UTC time> (with its -wal), every\n"
    "row that can still be read is carried into a new catalogue, versions whose\n"
    "object is missing or altered are dropped, and stored objects no row names are\n"
    "listed. Without --force a catalogue that opens and verifies is left alone.\n"
    "Exit 0 when rebuilt, 1 otherwise.\n";

int cmd_store(const cli_global *g, int argc, char **argv)
{
    bool force = false;
    const cli_opt opts[] = {CLI_FLAG("force", &force), {0}};
    int rc = cli_parse(argc, argv, "store", CLI_HELP(usage_store), opts, 0);
    if (rc >= 0)
        return rc;
    if (argc - optind != 1 || strcmp(argv[optind], "recover") != 0) {
        if (optind < argc && strcmp(argv[optind], "recover") != 0) {
            const char *subs[] = {"recover"};
            const char *sug = cli_suggest(argv[optind], subs, 1);
            cli_error("store: unknown subcommand \"%s\"%s", argv[optind],
                      sug ? "; did you mean \"recover\"?" : "");
        }
        fputs(usage_store, stderr);
        return HB_EXIT_USAGE;
    }
    char *report = NULL;
    int r = hb_catalogue_recover(g->state_dir, force, &report);
    if (report && *report)
        fputs(report, r < 0 ? stderr : stdout);
    if (r < 0 && r != -EEXIST)
        cli_error("store recover failed: %s", hb_strerror(r));
    hb_free(report);
    return r < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
}
