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

#include "cli.h"

static const char *state_dir(const cli_global *g)
{
    return g->state_dir ? g->state_dir : ".hotbox";
}

int cli_console_call(const cli_global *g, const char *plugin, const char *symbol,
                     const char *sig, hb_value *args, size_t nargs, hb_value *ret,
                     char **ret_text)
{
    char *err = NULL;
    int r = hb_console_call(g->state_dir ? g->state_dir : ".hotbox", plugin, symbol, sig, args,
                            nargs, ret, ret_text, &err);
    if (r == -ENOENT) {
        if (!g->quiet)
            fprintf(stderr, "hotbox: %s; calling in a fresh sandbox\n",
                    err ? err : "no live session");
        hb_free(err);
        return CLI_NO_SESSION;
    }
    if (r < 0) {
        cli_error("live session: %s", err ? err : hb_strerror(r));
        hb_free(err);
        return cli_exit_code(r);
    }
    hb_free(err);
    return HB_EXIT_OK;
}

/* The live session's status reply, or NULL (nothing live; said unless quiet). */
static json_t *live_status(const cli_global *g)
{
    char *reply = NULL, *err = NULL;
    int r = hb_console_request(state_dir(g), "{\"op\":\"status\"}", &reply, &err);
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
