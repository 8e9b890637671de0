/* cli/session_cmds.c - `hotbox snapshot save|restore|list|delete` and
 * `hotbox restart [PLUGIN]`: named state snapshots and recovery control,
 * acting on the live session of the state directory (hotbox watch) over
 * its console when one runs (docs/console.md), else on a fresh sandbox
 * (snapshots) or not at all (restart), saying which. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- snapshot ---------------------------------------------------------------- */

/* --help: the usage and what the command does, its options (column 16),
 * then what follows them. */
static const cli_help help_snapshot = {
    "usage: hotbox snapshot save PLUGIN NAME [DIR]\n"
    "       hotbox snapshot restore PLUGIN NAME [DIR]\n"
    "       hotbox snapshot list PLUGIN [--json]\n"
    "       hotbox snapshot delete PLUGIN NAME\n\n"
    "Named state snapshots, kept in the catalogue with the plugin version whose\n"
    "save hook wrote them and its state schema. When a session is live on the\n"
    "state directory (hotbox watch), save takes PLUGIN's live state and restore\n"
    "puts the snapshot into it (through the active version's migrate hook).\n"
    "Without one (or with --no-session), save and restore load PLUGIN from DIR\n"
    "into a fresh sandbox first: save stores its fresh state, restore checks\n"
    "that the snapshot restores into that build; the output says which.\n"
    "`hotbox test --from-snapshot NAME` starts every test from a snapshot.\n\n",
    "Names are 1 to 128 characters of A-Z a-z 0-9 . _ -.\n",
    16};

typedef struct snap_args {
    const char *action, *plugin, *name, *dir;
    bool json;
} snap_args;

static void print_names(const snap_args *a, json_t *names, bool session)
{
    if (a->json) {
        json_t *o = json_pack("{s:s, s:O, s:b}", "plugin", a->plugin, "snapshots", names,
                              "session", session);
        cli_json_print(stdout, o);
        return;
    }
    size_t i;
    json_t *n;
    if (!json_array_size(names))
        printf("%s has no snapshots\n", a->plugin);
    json_array_foreach(names, i, n)
        puts(json_string_value(n));
}

static int snapshot_in_session(const cli_global *g, const snap_args *a, char **why)
{
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "snapshot", "action", a->action, "plugin",
                            a->plugin);
    if (a->name)
        json_object_set_new(req, "name", json_string(a->name));
    json_t *reply = NULL;
    int rc = cli_console_ask(g, req, &reply, why);
    if (rc != 0)
        return rc;
    if (!strcmp(a->action, "list"))
        print_names(a, json_object_get(reply, "names"), true);
    else if (!g->quiet) {
        json_int_t v = json_integer_value(json_object_get(reply, "version"));
        const char *sb = json_string_value(json_object_get(reply, "sandbox")) ?: "";
        if (!strcmp(a->action, "save"))
            printf("saved the live state of %s v%" JSON_INTEGER_FORMAT " as snapshot %s (live "
                   "session, sandbox %s)\n", a->plugin, v, a->name, sb);
        else if (!strcmp(a->action, "restore"))
            printf("restored snapshot %s into %s v%" JSON_INTEGER_FORMAT " in the live session "
                   "(sandbox %s)\n", a->name, a->plugin, v, sb);
        else
            printf("deleted snapshot %s of %s\n", a->name, a->plugin);
    }
    json_decref(reply);
    return HB_EXIT_OK;
}

/* No live session: a fresh sandbox (with DIR loaded for save/restore). */
static int snapshot_fresh(const cli_global *g, const snap_args *a, const char *why)
{
    bool needs_plugin = !strcmp(a->action, "save") || !strcmp(a->action, "restore");
    if (needs_plugin && !a->dir) {
        cli_error("%s; give %s's directory to %s a snapshot in a fresh sandbox "
                  "(hotbox snapshot %s %s %s DIR)",
                  why ? why : "no live session", a->plugin, a->action, a->action, a->plugin,
                  a->name);
        return HB_EXIT_FAILED;
    }
    hb_manager *m;
    hb_sandbox *sb = NULL;
    if (cli_sandbox(g, false, &m, &sb) < 0)
        return HB_EXIT_FAILED;
    int rc = HB_EXIT_OK, r = 0;
    if (needs_plugin && (r = hb_load(sb, a->dir)) < 0)
        goto fail;
    if (!strcmp(a->action, "list")) {
        const char *const *names = NULL;
        size_t n = 0;
        if ((r = hb_snapshot_list(sb, a->plugin, &names, &n)) < 0)
            goto fail;
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_string(names[i]));
        print_names(a, arr, false);
        json_decref(arr);
        goto out;
    }
    r = !strcmp(a->action, "save")      ? hb_snapshot_save(sb, a->plugin, a->name)
        : !strcmp(a->action, "restore") ? hb_snapshot_restore(sb, a->plugin, a->name)
                                        : hb_snapshot_delete(sb, a->plugin, a->name);
    if (r == -ENOENT && strcmp(a->action, "save")) {
        cli_error("%s has no snapshot named %s", a->plugin, a->name);
        rc = HB_EXIT_FAILED;
        goto out;
    }
    if (r < 0)
        goto fail;
    if (!g->quiet && !strcmp(a->action, "save"))
        printf("saved the fresh state of %s (loaded from %s) as snapshot %s, in a fresh sandbox: "
               "no live session\n", a->plugin, a->dir, a->name);
    else if (!g->quiet && !strcmp(a->action, "restore"))
        printf("restored snapshot %s into %s in a fresh sandbox (no live session): it restores; "
               "the state ends with this command\n", a->name, a->plugin);
    else if (!g->quiet)
        printf("deleted snapshot %s of %s\n", a->name, a->plugin);
    goto out;
fail:
    cli_error("%s", hb_sandbox_last_error(sb));
    rc = cli_exit_code(r);
out:
    hb_sandbox_free(sb);
    hb_manager_free(m);
    return rc;
}

int cmd_snapshot(const cli_global *g, int argc, char **argv)
{
    snap_args a = {0};
    bool no_session = false;
    const cli_opt opts[] = {
        CLI_FLAG("json", &a.json, .help = "list: one JSON object {plugin, snapshots, session}"),
        CLI_FLAG("no-session", &no_session, .help = "never use the live session"),
        {0}};
    int rc = cli_parse(argc, argv, "snapshot", &help_snapshot, opts, 0);
    if (rc >= 0)
        return rc;
    static const char *const actions[] = {"save", "restore", "list", "delete"};
    int left = argc - optind;
    a.action = left > 0 ? argv[optind] : NULL;
    bool known = false;
    for (size_t i = 0; a.action && i < 4; i++)
        known = known || !strcmp(a.action, actions[i]);
    if (!known) {
        const char *s = a.action ? cli_suggest(a.action, actions, 4) : NULL;
        if (a.action)
            cli_error("unknown snapshot action \"%s\"%s%s%s", a.action, s ? "; did you mean \"" : "",
                      s ? s : "", s ? "\"?" : "");
        cli_help_print(stderr, &help_snapshot, opts);
        return HB_EXIT_USAGE;
    }
    bool is_list = !strcmp(a.action, "list"), is_delete = !strcmp(a.action, "delete");
    int min = is_list ? 2 : 3, max = is_list ? 2 : is_delete ? 3 : 4;
    if (left < min || left > max) {
        cli_help_print(stderr, &help_snapshot, opts);
        return HB_EXIT_USAGE;
    }
    a.plugin = argv[optind + 1];
    a.name = is_list ? NULL : argv[optind + 2];
    a.dir = left == 4 ? argv[optind + 3] : NULL;
    char *why = NULL;
    rc = CLI_NO_SESSION;
    if (!no_session)
        rc = snapshot_in_session(g, &a, &why);
    if (rc == CLI_NO_SESSION)
        rc = snapshot_fresh(g, &a, why);
    hb_free(why);
    return rc;
}

/* ---- restart ------------------------------------------------------------------ */

int cmd_restart(const cli_global *g, int argc, char **argv)
{
    const char *plugin = optind < argc ? argv[optind] : NULL;
    json_t *req = json_pack("{s:s}", "op", "restart");
    if (plugin)
        json_object_set_new(req, "plugin", json_string(plugin));
    json_t *reply = NULL;
    char *why = NULL;
    int rc = cli_console_ask(g, req, &reply, &why);
    if (rc == CLI_NO_SESSION) {
        cli_error("%s: nothing to restart (hotbox restart acts on a running hotbox watch)",
                  why ? why : "no live session");
        hb_free(why);
        return HB_EXIT_FAILED;
    }
    if (rc != 0)
        return rc;
    if (!g->quiet)
        printf("restarted sandbox %s of the live session: worker pid %" JSON_INTEGER_FORMAT "\n",
               json_string_value(json_object_get(reply, "sandbox")) ?: "",
               json_integer_value(json_object_get(reply, "worker_pid")));
    json_decref(reply);
    return HB_EXIT_OK;
}
