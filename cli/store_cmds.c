/* cli/store_cmds.c - commands on the version store: verify, gc, rollback,
 * store recover. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool help_asked(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

int cmd_verify(const cli_global *g, int argc, char **argv)
{
    if (help_asked(argc, argv) || argc != 1) {
        fputs("usage: hotbox verify\n\nChecks every stored object against its SHA-256 and the catalogue.\n"
              "Exit 0 when consistent (warnings, such as unreferenced objects, are allowed),\n"
              "1 when an object is missing or corrupted.\n",
              argc != 1 && !help_asked(argc, argv) ? stderr : stdout);
        return help_asked(argc, argv) ? HB_EXIT_OK : HB_EXIT_USAGE;
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
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

int cmd_gc(const cli_global *g, int argc, char **argv)
{
    unsigned keep = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: hotbox gc [--keep N]\n\nRemoves old versions and their objects, keeping per plugin the newest N\n"
                 "(default 5) and always the newest good one.");
            return HB_EXIT_OK;
        }
        if (!strcmp(argv[i], "--keep") && i + 1 < argc) {
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (!end || *end || v < 1 || v > 1000000) {
                cli_error("gc: --keep needs a number from 1");
                return HB_EXIT_USAGE;
            }
            keep = (unsigned)v;
        } else {
            cli_error("gc: unknown argument %s", argv[i]);
            return HB_EXIT_USAGE;
        }
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    unsigned removed = 0;
    int r = hb_gc(m, keep, &removed);
    if (r < 0)
        cli_error("%s", hb_manager_last_error(m));
    else
        printf("removed %u version%s (kept the newest %u per plugin)\n", removed,
               removed == 1 ? "" : "s", keep);
    hb_manager_free(m);
    return r < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
}

int cmd_rollback(const cli_global *g, int argc, char **argv)
{
    const char *plugin = NULL;
    uint64_t to = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: hotbox rollback PLUGIN [--to N]\n\n"
                 "Pins PLUGIN to stored version N (default: the newest good version before\n"
                 "the newest) until its source changes: newer versions are marked\n"
                 "rolled-back, and loading the plugin (hotbox watch, hb_load) uses version N\n"
                 "as long as the source still builds to one of them. A live sandbox rolls\n"
                 "back with hb_rollback().");
            return HB_EXIT_OK;
        }
        if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            char *end = NULL;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (!end || *end || v == 0) {
                cli_error("rollback: --to needs a version number");
                return HB_EXIT_USAGE;
            }
            to = v;
        } else if (!plugin && argv[i][0] != '-') {
            plugin = argv[i];
        } else {
            cli_error("rollback: unknown argument %s", argv[i]);
            return HB_EXIT_USAGE;
        }
    }
    if (!plugin) {
        cli_error("rollback: which plugin? (see hotbox rollback --help)");
        return HB_EXIT_USAGE;
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    uint64_t pinned = 0;
    int r = hb_pin(m, plugin, to, &pinned);
    if (r < 0)
        cli_error("%s", hb_manager_last_error(m));
    else
        printf("%s pinned to v%" PRIu64 " until its source changes\n", plugin, pinned);
    hb_manager_free(m);
    return r < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
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
    if (help_asked(argc, argv)) {
        fputs(usage_store, stdout);
        return HB_EXIT_OK;
    }
    bool force = false;
    if (argc < 2 || strcmp(argv[1], "recover") != 0) {
        fputs(usage_store, stderr);
        return HB_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--force")) {
            force = true;
        } else {
            cli_error("store recover: unknown argument %s", argv[i]);
            return HB_EXIT_USAGE;
        }
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
