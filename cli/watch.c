/* cli/watch.c - `hotbox watch`: watch mode for a developer (a live view on
 * a terminal, plain event lines otherwise) or for tools (--json, one event
 * per line). Ctrl-C stops cleanly: the sandbox's worker runs its fini hooks
 * and exits before hotbox does. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"

#define MAX_VIEW 256

typedef struct view_row {
    char name[128];
    uint64_t version;
    char status[32];
    bool acted; /* --once: something happened to it since watching began */
    bool bad;   /* --once: its latest outcome is a failure */
} view_row;

typedef struct watch_ui {
    const cli_global *g;
    bool json, tty, color, once;
    bool watching; /* the initial loads are done */
    hb_sandbox *sb;
    view_row rows[MAX_VIEW];
    size_t nrows;
    bool compile_failed;
    hb_event last_reload;       /* timings of the last swap */
    char last_reload_plugin[128];
    bool have_last;
} watch_ui;

static const char *type_name(hb_event_type t)
{
    static const char *n[] = {"?", "compiled", "compile-failed", "loaded", "swapped", "swap-failed",
                              "crashed", "restarted", "rolled-back", "state-reset", "unloaded",
                              "warning", "selftest", "watching", "notice", "up-to-date"};
    return (unsigned)t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

static view_row *row_for(watch_ui *ui, const char *name)
{
    for (size_t i = 0; i < ui->nrows; i++)
        if (!strcmp(ui->rows[i].name, name))
            return &ui->rows[i];
    if (ui->nrows == MAX_VIEW)
        return NULL;
    view_row *r = &ui->rows[ui->nrows++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    return r;
}

static void print_json(const hb_event *ev)
{
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string(type_name(ev->type)));
    if (ev->plugin)
        json_object_set_new(o, "plugin", json_string(ev->plugin));
    if (ev->version)
        json_object_set_new(o, "version", json_integer((json_int_t)ev->version));
    if (ev->previous_version)
        json_object_set_new(o, "previous", json_integer((json_int_t)ev->previous_version));
    json_object_set_new(o, "code", json_integer(ev->code));
    if (ev->code)
        json_object_set_new(o, "error", json_string(hb_strerror(ev->code)));
    json_object_set_new(o, "message", json_string(ev->message ? ev->message : ""));
    if (ev->total_ms > 0 || ev->detect_ms > 0) {
        json_t *t = json_object();
        json_object_set_new(t, "detect_ms", json_real(ev->detect_ms));
        json_object_set_new(t, "compile_ms", json_real(ev->compile_ms));
        json_object_set_new(t, "verify_ms", json_real(ev->verify_ms));
        json_object_set_new(t, "swap_ms", json_real(ev->swap_ms));
        json_object_set_new(t, "total_ms", json_real(ev->total_ms));
        json_object_set_new(o, "timings", t);
    }
    if (ev->ndiagnostics) { /* a successful compile's warnings */
        json_t *a = json_array();
        for (size_t i = 0; i < ev->ndiagnostics; i++) {
            const hb_diagnostic *d = &ev->diagnostics[i];
            json_array_append_new(a, json_pack("{s:s, s:i, s:i, s:s, s:s}", "file", d->file,
                                               "line", (int)d->line, "column", (int)d->column,
                                               "severity", d->severity, "message", d->message));
        }
        json_object_set_new(o, "diagnostics", a);
    }
    if (ev->carry) /* what became of each static (docs/state.md) */
        json_object_set_new(o, "carry", json_string(ev->carry));
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
    fflush(stdout);
}

static void on_event(const hb_event *ev, void *ud)
{
    watch_ui *ui = ud;
    if (ev->type == HB_EVENT_COMPILE_FAILED)
        ui->compile_failed = true;
    if (ev->plugin) {
        view_row *r = row_for(ui, ev->plugin);
        if (r && ui->watching) {
            switch (ev->type) {
            case HB_EVENT_LOADED: case HB_EVENT_SWAPPED: case HB_EVENT_UP_TO_DATE:
            case HB_EVENT_UNLOADED:
                r->acted = true;
                r->bad = false;
                break;
            case HB_EVENT_COMPILE_FAILED: case HB_EVENT_SWAP_FAILED: case HB_EVENT_CRASHED:
            case HB_EVENT_ROLLED_BACK:
                r->acted = r->bad = true;
                break;
            case HB_EVENT_SELFTEST:
                r->acted = true;
                r->bad |= ev->code != 0;
                break;
            default:
                break;
            }
        }
        if (r) {
            switch (ev->type) {
            case HB_EVENT_LOADED:
            case HB_EVENT_SWAPPED:
            case HB_EVENT_ROLLED_BACK:
                r->version = ev->version;
                snprintf(r->status, sizeof(r->status), "%s", type_name(ev->type));
                break;
            case HB_EVENT_COMPILE_FAILED:
            case HB_EVENT_SWAP_FAILED:
                snprintf(r->status, sizeof(r->status), "%s", type_name(ev->type));
                break;
            case HB_EVENT_UNLOADED:
                snprintf(r->status, sizeof(r->status), "unloaded");
                break;
            case HB_EVENT_UP_TO_DATE: /* fine again: the live version is the source's */
                r->version = ev->version;
                snprintf(r->status, sizeof(r->status), "ok (up to date)");
                break;
            case HB_EVENT_SELFTEST:
                snprintf(r->status, sizeof(r->status), "%s", ev->code ? "tests FAILED" : "tests ok");
                break;
            default:
                break;
            }
        }
        if (ev->type == HB_EVENT_SWAPPED || ev->type == HB_EVENT_LOADED) {
            ui->last_reload = *ev;
            snprintf(ui->last_reload_plugin, sizeof(ui->last_reload_plugin), "%s", ev->plugin);
            ui->have_last = true;
        }
    }
    if (ui->json) {
        print_json(ev);
        return;
    }
    const char *msg = ev->message ? ev->message : "";
    const char *nl = strchr(msg, '\n');
    const char *col = "", *end = "";
    if (ui->color) {
        end = "\033[0m";
        switch (ev->type) {
        case HB_EVENT_SWAPPED: case HB_EVENT_LOADED: case HB_EVENT_ROLLED_BACK:
        case HB_EVENT_UP_TO_DATE:
            col = "\033[32m"; break;
        case HB_EVENT_COMPILE_FAILED: case HB_EVENT_SWAP_FAILED: case HB_EVENT_CRASHED:
            col = "\033[31m"; break;
        case HB_EVENT_WARNING: case HB_EVENT_STATE_RESET:
            col = "\033[33m"; break;
        case HB_EVENT_SELFTEST:
            col = ev->code ? "\033[31m" : "\033[32m"; break;
        default:
            end = ""; break;
        }
    }
    printf("%s[%s]%s %.*s\n", col, type_name(ev->type), end,
           nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    for (size_t i = 0; i < ev->ndiagnostics; i++)
        printf("    %s:%u:%u: %s: %s\n", ev->diagnostics[i].file, ev->diagnostics[i].line,
               ev->diagnostics[i].column, ev->diagnostics[i].severity,
               ev->diagnostics[i].message);
    for (const char *c = ev->carry; c && *c;) { /* one line per static */
        size_t n = strcspn(c, "\n");
        printf("    %.*s\n", (int)n, c);
        c += n + (c[n] == '\n');
    }
    fflush(stdout);
}

static void print_diagnostics(watch_ui *ui)
{
    const hb_diagnostic *d = NULL;
    size_t n = 0;
    if (hb_sandbox_diagnostics(ui->sb, &d, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (ui->json) {
            json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s}", "event", "diagnostic", "file",
                                  d[i].file ? d[i].file : "", "line", (int)d[i].line, "column",
                                  (int)d[i].column, "severity", d[i].severity ? d[i].severity : "",
                                  "message", d[i].message ? d[i].message : "");
            char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
            if (s)
                puts(s);
            free(s);
            json_decref(o);
            continue;
        }
        const char *sev = d[i].severity ? d[i].severity : "";
        const char *col = "";
        if (ui->color)
            col = strstr(sev, "error") ? "\033[1;31m" : strstr(sev, "warning") ? "\033[1;35m"
                                                                                : "\033[1;36m";
        printf("    \033[1m%s:%u:%u:\033[0m %s%s:\033[0m %s\n", d[i].file ? d[i].file : "?",
               d[i].line, d[i].column, col, sev, d[i].message ? d[i].message : "");
    }
    if (!n && !ui->json)
        printf("    %s\n", hb_sandbox_last_error(ui->sb));
    fflush(stdout);
}

static void print_view(watch_ui *ui)
{
    if (ui->json || !ui->tty)
        return;
    printf("%s── plugins ─────────────────────────────────────────────%s\n",
           ui->color ? "\033[2m" : "", ui->color ? "\033[0m" : "");
    for (size_t i = 0; i < ui->nrows; i++)
        printf("  %-20s v%-4" PRIu64 " %s\n", ui->rows[i].name, ui->rows[i].version,
               ui->rows[i].status[0] ? ui->rows[i].status : "-");
    if (ui->have_last) {
        const hb_event *e = &ui->last_reload;
        printf("  last reload (%s): detect %.1f ms, compile %.1f ms, verify %.1f ms, swap %.2f ms, total %.1f ms\n",
               ui->last_reload_plugin, e->detect_ms, e->compile_ms, e->verify_ms, e->swap_ms,
               e->total_ms + e->detect_ms);
    }
    hb_sandbox_usage u;
    if (hb_sandbox_usage_get(ui->sb, &u) == 0)
        printf("  worker pid %d: RSS %.1f MiB, CPU %.2f s, up %.0f s, %llu calls, %llu restarts%s\n",
               u.worker_pid, (double)u.rss_bytes / (1024.0 * 1024.0), (double)u.cpu_ms / 1000.0,
               (double)u.uptime_ms / 1000.0, (unsigned long long)u.calls,
               (unsigned long long)u.restarts, u.failed ? " (FAILED: crash loop)" : "");
    printf("  watching; Ctrl-C stops\n");
    fflush(stdout);
}

int cmd_watch(const cli_global *g, int argc, char **argv)
{
    watch_ui ui = {.g = g};
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    const char **roots = calloc((size_t)argc + 1, sizeof(char *));
    size_t nroots = 0;
    if (!roots)
        return HB_EXIT_FAILED;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            puts("usage: hotbox watch [--json] [--once] [--quiet-ms N] [--no-selftests] DIR...\n\n"
                 "Loads every plugin under DIR (a plugin directory, or a directory of plugin\n"
                 "directories) into one sandbox and hot-reloads each on save, carrying its\n"
                 "state. After each swap the plugin's exported hb_test_* self-tests run.\n"
                 "A failed build or refused swap leaves the old version serving.\n\n"
                 "  --json          one JSON object per event on stdout (for editors, scripts)\n"
                 "  --once          exit once the first change has been handled and the\n"
                 "                  files are quiet (a build superseded by a later save does\n"
                 "                  not count); 0 = the final content of every plugin it\n"
                 "                  touched built, swapped and passed its self-tests\n"
                 "  --quiet-ms N    coalesce file events over N ms (default 20)\n"
                 "  --no-selftests  do not run hb_test_* after swaps\n\n"
                 "Colour follows the terminal; NO_COLOR disables it. Ctrl-C stops cleanly.");
            free(roots);
            return HB_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            ui.json = true;
        } else if (!strcmp(a, "--once")) {
            ui.once = true;
        } else if (!strcmp(a, "--no-selftests")) {
            wo.run_selftests = -1;
        } else if (!strcmp(a, "--quiet-ms") && i + 1 < argc) {
            char *end = NULL;
            long v = strtol(argv[++i], &end, 10);
            if (!end || *end || v < 1 || v > 60000) {
                cli_error("watch: --quiet-ms needs a number of milliseconds (1-60000)");
                free(roots);
                return HB_EXIT_USAGE;
            }
            wo.quiet_ms = (unsigned)v;
        } else if (a[0] == '-') {
            cli_error("watch: unknown option %s (see hotbox watch --help)", a);
            free(roots);
            return HB_EXIT_USAGE;
        } else {
            roots[nroots++] = a;
        }
    }
    if (!nroots) {
        cli_error("watch: give at least one directory (see hotbox watch --help)");
        free(roots);
        return HB_EXIT_USAGE;
    }
    ui.tty = isatty(STDOUT_FILENO);
    ui.color = ui.tty && !getenv("NO_COLOR") && !ui.json;

    /* Signals arrive as readable data, so the loop below handles Ctrl-C
     * like any other event and shuts the worker down in order. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    hb_manager_options o;
    hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION);
    o.state_dir = g->state_dir;
    o.cc = g->cc;
    o.cc_origin = g->cc_origin;
    o.cflags = g->cflags;
    o.isolation = g->isolation;
    o.on_event = on_event;
    o.event_userdata = &ui;
    hb_manager *m = NULL;
    int r = hb_manager_new(&o, &m);
    if (r < 0) {
        cli_error("watch: cannot open the state directory: %s", hb_strerror(r));
        free(roots);
        return HB_EXIT_FAILED;
    }
    int rc = HB_EXIT_OK;
    hb_watch *w = NULL;
    /* A named sandbox: a restarted `hotbox watch` resumes every plugin from
     * the state checkpoint the previous run stored. */
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.name = "watch";
    so.profile = g->profile;
    so.max_plugins = 4096; /* every plugin under the roots, not the default 64 */
    r = hb_sandbox_new(m, &so, &ui.sb);
    if (r < 0) {
        cli_error("watch: %s", hb_manager_last_error(m));
        rc = HB_EXIT_FAILED;
        goto out;
    }
    r = hb_watch_new(ui.sb, roots, &wo, &w);
    if (r < 0) {
        cli_error("watch: %s", hb_sandbox_last_error(ui.sb));
        rc = HB_EXIT_FAILED;
        goto out;
    }
    if (ui.compile_failed)
        print_diagnostics(&ui);
    ui.compile_failed = false;
    ui.watching = true;
    print_view(&ui);
    for (;;) {
        struct pollfd p[2] = {{.fd = hb_watch_fd(w), .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        int n = poll(p, sfd >= 0 ? 2 : 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("watch: poll: %s", strerror(errno));
            rc = HB_EXIT_FAILED;
            break;
        }
        if (sfd >= 0 && (p[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) > 0 && !ui.json)
                printf("\n%s: stopping\n", strsignal((int)si.ssi_signo));
            break;
        }
        if (!(p[0].revents & POLLIN))
            continue;
        ui.compile_failed = false;
        r = hb_watch_process(w);
        if (r < 0) {
            cli_error("watch: %s", hb_sandbox_last_error(ui.sb));
            rc = HB_EXIT_FAILED;
            break;
        }
        if (r == 0)
            continue;
        if (ui.compile_failed)
            print_diagnostics(&ui);
        print_view(&ui);
        /* --once: the change is handled when the watch has settled (a build
         * superseded by a later save is not the outcome); the exit code is
         * the outcome of each plugin's final content. */
        if (ui.once && hb_watch_pending(w) == 0) {
            rc = HB_EXIT_OK;
            for (size_t i = 0; i < ui.nrows; i++)
                if (ui.rows[i].acted && ui.rows[i].bad)
                    rc = HB_EXIT_FAILED;
            break;
        }
    }
out:
    if (m && w) {
        char *metrics = NULL;
        if (hb_manager_metrics(m, ui.json, &metrics) == 0 && metrics) {
            if (ui.json)
                printf("{\"event\":\"metrics\",\"metrics\":%s}\n", metrics);
            else if (ui.tty)
                printf("\n%s", metrics);
        }
        hb_free(metrics);
    }
    hb_watch_free(w);
    hb_sandbox_free(ui.sb); /* fini hooks run; the worker exits */
    hb_manager_free(m);
    if (sfd >= 0)
        close(sfd);
    free(roots);
    return rc;
}
