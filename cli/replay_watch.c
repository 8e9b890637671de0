/* cli/replay_watch.c - `hotbox watch --replay`: after each swap of the live
 * sandbox, the plugin's recording is replayed on the version it replaced
 * and the version swapped in, in shadow workers (hb_replay), and the calls
 * whose results differ are shown in the view (docs/replay.md). The live
 * sandbox is never touched. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

void cli_replay_watch_note(cli_replay_watch *rw, const hb_event *ev)
{
    if (!rw->on || ev->type != HB_EVENT_SWAPPED || !ev->plugin || !ev->previous_version)
        return;
    void *np = realloc(rw->pending, (rw->npending + 1) * sizeof(*rw->pending));
    if (!np)
        return;
    rw->pending = np;
    cli_replay_swap *s = &rw->pending[rw->npending++];
    snprintf(s->plugin, sizeof(s->plugin), "%s", ev->plugin);
    s->from = ev->previous_version;
    s->to = ev->version;
}

/* The plugin's directory: a root that is the plugin, or root/plugin. */
static char *plugin_dir(const cli_replay_watch *rw, const char *plugin)
{
    struct stat st;
    for (const char *const *r = rw->roots; r && *r; r++) {
        const char *base = strrchr(*r, '/');
        base = base && base[1] ? base + 1 : *r;
        if (strcmp(base, plugin) == 0)
            return strdup(*r);
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", *r, plugin) < (int)sizeof(path) &&
            stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            return strdup(path);
    }
    return NULL;
}

void cli_replay_watch_run(cli_replay_watch *rw, hb_manager *m, bool json)
{
    for (size_t i = 0; i < rw->npending; i++) {
        const cli_replay_swap *s = &rw->pending[i];
        char *dir = plugin_dir(rw, s->plugin);
        if (!dir)
            continue;
        hb_replay_options o = HB_REPLAY_OPTIONS_INIT;
        o.exclude = rw->exclude.v;
        o.old_version = s->from;
        o.new_version = s->to;
        hb_replay_report *rep = NULL;
        rw->running = true; /* the shadow workers' own events are not the view's */
        int r = hb_replay(m, dir, &o, &rep);
        rw->running = false;
        free(dir);
        if (r == -ENOENT) /* nothing recorded for it yet */
            continue;
        if (json) {
            json_t *j = r == 0 ? cli_replay_json(rep)
                               : json_pack("{s:s, s:i, s:s}", "plugin", s->plugin, "code", r,
                                           "error", hb_manager_last_error(m));
            if (j)
                json_object_set_new(j, "event", json_string("replay"));
            cli_json_print(stdout, j);
        } else if (r < 0) {
            printf("[replay] %s v%llu -> v%llu: could not replay: %s\n", s->plugin,
                   (unsigned long long)s->from, (unsigned long long)s->to,
                   hb_manager_last_error(m));
        } else {
            printf("[replay] %s v%llu -> v%llu: %zu of %zu recorded calls differ%s\n",
                   s->plugin, (unsigned long long)s->from, (unsigned long long)s->to,
                   rep->ndiffs, rep->calls - rep->excluded, rep->ndiffs ? ":" : "");
            cli_replay_print_diffs(rep, "    ");
        }
        hb_replay_report_free(rep);
    }
    rw->npending = 0;
    fflush(stdout);
}

void cli_replay_watch_release(cli_replay_watch *rw)
{
    free(rw->pending);
    free(rw->exclude.v);
    memset(rw, 0, sizeof(*rw));
}
