/* cli/console.c - the console's client in the CLI: `hotbox call`,
 * `status` and `versions` ask the live session of the state directory
 * (hotbox watch, or any process serving hb_console_start) before doing
 * anything themselves. docs/console.md. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

const char *cli_console_dir(const cli_global *g)
{
    return g->state_dir ? g->state_dir : ".hotbox";
}

/* The outcome of a console request that returned r with err (taken):
 * 0, CLI_NO_SESSION (*why receives err, hb_free), or an exit code after
 * printing the error. */
static int session_outcome(int r, char *err, char **why)
{
    if (r == -ENOENT) {
        *why = err;
        return CLI_NO_SESSION;
    }
    if (r < 0)
        cli_error("live session: %s", err ? err : hb_strerror(r));
    hb_free(err);
    return r < 0 ? cli_exit_code(r) : 0;
}

int cli_console_call(const cli_global *g, const char *plugin, const char *symbol,
                     const char *sig, hb_value *args, size_t nargs, hb_value *ret,
                     char **ret_text)
{
    char *err = NULL, *why = NULL;
    int r = hb_console_call(cli_console_dir(g), plugin, symbol, sig, args, nargs, ret, ret_text,
                            &err);
    int rc = session_outcome(r, err, &why);
    if (rc == CLI_NO_SESSION && !g->quiet)
        fprintf(stderr, "hotbox: %s; calling in a fresh sandbox\n", why ? why : "no live session");
    hb_free(why);
    return rc;
}

int cli_console_ask(const cli_global *g, json_t *req, json_t **reply, char **why)
{
    char *text = cli_json_dumps(req), *out = NULL, *err = NULL;
    json_decref(req);
    if (!text) {
        cli_error("out of memory");
        return HB_EXIT_FAILED;
    }
    int r = hb_console_request(cli_console_dir(g), text, &out, &err);
    free(text);
    int rc = session_outcome(r, err, why);
    json_t *j = rc == 0 ? json_loads(out, 0, NULL) : NULL;
    hb_free(out);
    if (rc != 0)
        return rc;
    if (!j) {
        cli_error("live session: a reply that is not JSON");
        return HB_EXIT_FAILED;
    }
    if (!json_is_true(json_object_get(j, "ok"))) {
        int code = (int)json_integer_value(json_object_get(j, "code"));
        cli_error("live session: %s", json_string_value(json_object_get(j, "error")) ?: "failed");
        json_decref(j);
        return cli_exit_code(code ? code : HB_EFAILED);
    }
    *reply = j;
    return 0;
}

/* The live session's status reply, or NULL (nothing live; said unless quiet). */
static json_t *live_status(const cli_global *g)
{
    char *reply = NULL, *err = NULL;
    int r = hb_console_request(cli_console_dir(g), "{\"op\":\"status\"}", &reply, &err);
    json_t *j = r == 0 ? json_loads(reply, 0, NULL) : NULL;
    if (r < 0 && r != -ENOENT)
        cli_error("live session: %s", err ? err : hb_strerror(r));
    hb_free(reply);
    hb_free(err);
    if (j && !json_is_true(json_object_get(j, "ok"))) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* The session's sandboxes: state, worker, restarts, last crash, and each
 * plugin's live version (with where a prebuilt object came from). */
static void print_sandboxes(json_t *all)
{
    size_t i, k;
    json_t *sb, *p;
    json_array_foreach(all, i, sb) {
        printf("  sandbox %s: %s, worker pid %" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
               " crash%s, %" JSON_INTEGER_FORMAT " restart%s\n",
               json_string_value(json_object_get(sb, "name")) ?: "",
               json_string_value(json_object_get(sb, "state")) ?: "?",
               json_integer_value(json_object_get(sb, "worker_pid")),
               json_integer_value(json_object_get(sb, "crashes")),
               json_integer_value(json_object_get(sb, "crashes")) == 1 ? "" : "es",
               json_integer_value(json_object_get(sb, "restarts")),
               json_integer_value(json_object_get(sb, "restarts")) == 1 ? "" : "s");
        const char *crash = json_string_value(json_object_get(sb, "last_crash"));
        if (crash) {
            char when[64] = "";
            time_t at = (time_t)json_integer_value(json_object_get(sb, "last_crash_at"));
            struct tm tm;
            if (gmtime_r(&at, &tm))
                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
            /* the first line of the report; the backtrace follows in the watch view */
            printf("    last crash (%s): %.*s\n", when, (int)strcspn(crash, "\n"), crash);
        }
        json_array_foreach(json_object_get(sb, "plugins"), k, p) {
            const char *from = json_string_value(json_object_get(p, "prebuilt_from"));
            printf("    %-18s v%" JSON_INTEGER_FORMAT "%s%s%s\n",
                   json_string_value(json_object_get(p, "name")) ?: "",
                   json_integer_value(json_object_get(p, "version")),
                   json_is_true(json_object_get(p, "on_probation")) ? " (on probation)" : "",
                   from ? "  prebuilt from " : "", from ? from : "");
        }
    }
}

void cli_console_print_status(const cli_global *g)
{
    json_t *j = live_status(g);
    if (!j) {
        printf("live session: none\n");
        return;
    }
    printf("live session: pid %" JSON_INTEGER_FORMAT ", sandbox %s, worker pid %" JSON_INTEGER_FORMAT
           " (gdb -p: docs/debugging.md)\n",
           json_integer_value(json_object_get(j, "pid")),
           json_string_value(json_object_get(j, "sandbox")),
           json_integer_value(json_object_get(j, "worker_pid")));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "plugins"), i, p)
        printf("  %-20s live v%" JSON_INTEGER_FORMAT "  %s\n",
               json_string_value(json_object_get(p, "name")),
               json_integer_value(json_object_get(p, "version")),
               json_string_value(json_object_get(p, "dir")));
    print_sandboxes(json_object_get(j, "sandboxes"));
    json_decref(j);
}

int cli_console_live_version(const cli_global *g, const char *plugin, uint64_t *version)
{
    json_t *j = live_status(g);
    int found = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "plugins"), i, p)
        if (!strcmp(json_string_value(json_object_get(p, "name")) ?: "", plugin)) {
            *version = (uint64_t)json_integer_value(json_object_get(p, "version"));
            found = 1;
        }
    json_decref(j);
    return found;
}
