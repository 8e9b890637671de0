/* cli/watch.c - `hotbox watch`: watch mode for a developer (event lines
 * with a plugin table redrawn in place below them on a terminal, plain
 * lines otherwise; plugin output prefixed with the plugin's name; compile
 * errors with the source line and a caret) or for tools (--json, one event
 * per line, docs/events.md). Ctrl-C stops cleanly: the sandbox's worker runs its fini hooks
 * and exits before hotbox does. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
    cli_list exclude;     /* --exclude values (argv strings) */
    hb_sandbox *sb;
    view_row rows[MAX_VIEW];
    size_t nrows;
    bool compile_failed;
    hb_event last_reload;       /* timings of the last swap */
    char last_reload_plugin[128];
    bool have_last;
    char failed_plugin[128];    /* whose compile failed last: its diagnostics' plugin */
    unsigned view_lines;        /* lines of the table on screen, redrawn in place */
    unsigned cols;              /* terminal width */
    /* What the plugins print: the worker appends it to out_fd's file; each
     * chunk is shown prefixed with the plugin hotbox was acting on. */
    int out_fd;
    off_t out_off;
    char pending[4096];         /* a line not finished yet */
    size_t npending;
    cli_replay_watch rw;        /* --replay (cli/replay_watch.c) */
    bool record;                /* --record (implied by --replay) */
    bool no_carry;              /* --no-carry */
} watch_ui;

/* ---- the table, redrawn in place on a terminal ------------------------------ */

/* Takes the table off the screen before anything else is printed, so event
 * lines scroll above it and the table is drawn again below them. */
static void view_clear(watch_ui *ui)
{
    if (ui->view_lines) {
        printf("\033[%uA\033[J", ui->view_lines);
        ui->view_lines = 0;
    }
}

/* One table line, cut to the terminal's width so it never wraps (the
 * cursor-up count must be exact). */
__attribute__((format(printf, 2, 3))) static void view_line(watch_ui *ui, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    size_t max = ui->cols ? ui->cols - 1 : sizeof(buf) - 1;
    if (strlen(buf) > max)
        buf[max] = '\0';
    printf("%s\n", buf);
    ui->view_lines++;
}

/* ---- plugin output ---------------------------------------------------------- */

static void output_line(watch_ui *ui, const char *plugin, const char *text, size_t len)
{
    if (ui->json) {
        json_t *t = json_stringn(text, len);
        if (!t) { /* not UTF-8: the bytes that are not ASCII become '?' */
            char *clean = strndup(text, len);
            for (size_t i = 0; clean && i < len; i++)
                if ((unsigned char)clean[i] >= 0x80 || !clean[i])
                    clean[i] = '?';
            t = clean ? json_stringn(clean, len) : NULL;
            free(clean);
        }
        json_t *o = t ? json_pack("{s:s, s:s, s:o}", "event", "output", "plugin", plugin, "text", t)
                      : NULL;
        cli_json_print(stdout, o);
        return;
    }
    view_clear(ui);
    printf("%s%s|%s %.*s\n", ui->color ? "\033[2m" : "", plugin, ui->color ? "\033[0m" : "",
           (int)len, text);
}

/* Shows what the worker wrote since last time, line by line, as output of
 * `plugin` (the one hotbox was acting on: loading, swapping, testing). A
 * line not finished yet waits, unless `all`. */
static void drain_output(watch_ui *ui, const char *plugin, bool all)
{
    if (ui->out_fd < 0)
        return;
    for (;;) {
        size_t room = sizeof(ui->pending) - ui->npending;
        ssize_t n = pread(ui->out_fd, ui->pending + ui->npending, room, ui->out_off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        ui->out_off += n;
        ui->npending += (size_t)n;
        size_t start = 0;
        for (size_t i = 0; i < ui->npending; i++)
            if (ui->pending[i] == '\n') {
                output_line(ui, plugin, ui->pending + start, i - start);
                start = i + 1;
            }
        if (start == 0 && ui->npending == sizeof(ui->pending)) { /* a very long line */
            output_line(ui, plugin, ui->pending, ui->npending);
            start = ui->npending;
        }
        memmove(ui->pending, ui->pending + start, ui->npending - start);
        ui->npending -= start;
    }
    if (all && ui->npending) {
        output_line(ui, plugin, ui->pending, ui->npending);
        ui->npending = 0;
    }
    fflush(stdout);
}

/* The capture file: created in TMPDIR and unlinked at once after the
 * worker has opened it by path (the sandbox options name it). */
static char *open_output(watch_ui *ui)
{
    const char *t = getenv("TMPDIR");
    char *path = NULL;
    ui->out_fd = -1;
    if (asprintf(&path, "%s/hotbox-watch-XXXXXX", t && *t ? t : "/tmp") < 0)
        return NULL;
    ui->out_fd = mkostemp(path, O_CLOEXEC);
    if (ui->out_fd < 0) {
        free(path);
        return NULL;
    }
    return path;
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
    json_object_set_new(o, "event", json_string(cli_event_name(ev->type)));
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
    if (ev->backtrace) /* a crash in plugin code, symbolized */
        json_object_set_new(o, "backtrace", json_string(ev->backtrace));
    if (ev->total_ms > 0 || ev->detect_ms > 0) {
        json_t *t = json_object();
        json_object_set_new(t, "detect_ms", json_real(cli_round_ms(ev->detect_ms)));
        json_object_set_new(t, "compile_ms", json_real(cli_round_ms(ev->compile_ms)));
        json_object_set_new(t, "verify_ms", json_real(cli_round_ms(ev->verify_ms)));
        json_object_set_new(t, "swap_ms", json_real(cli_round_ms(ev->swap_ms)));
        json_object_set_new(t, "total_ms", json_real(cli_round_ms(ev->total_ms)));
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
    cli_json_print(stdout, o);
    fflush(stdout);
}

static void on_event(const hb_event *ev, void *ud)
{
    watch_ui *ui = ud;
    if (ui->rw.running) /* a shadow replay's own sandboxes */
        return;
    if (ev->sandbox == ui->sb)
        cli_replay_watch_note(&ui->rw, ev);
    /* Output written while hotbox acted on this plugin comes first. */
    drain_output(ui, ev->plugin ? ev->plugin : "worker", true);
    if (ev->type == HB_EVENT_COMPILE_FAILED) {
        ui->compile_failed = true;
        snprintf(ui->failed_plugin, sizeof(ui->failed_plugin), "%s", ev->plugin ? ev->plugin : "");
    }
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
                snprintf(r->status, sizeof(r->status), "%s", cli_event_name(ev->type));
                break;
            case HB_EVENT_COMPILE_FAILED:
            case HB_EVENT_SWAP_FAILED:
                snprintf(r->status, sizeof(r->status), "%s", cli_event_name(ev->type));
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
    if (cli_is_machine_notice(ev) && cli_notice_shown_before(ev->message))
        return; /* shown once per machine; hotbox doctor has it */
    view_clear(ui);
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
    printf("%s[%s]%s %.*s\n", col, cli_event_name(ev->type), end,
           nl ? (int)(nl - msg) : (int)strlen(msg), msg);
    for (size_t i = 0; i < ev->ndiagnostics; i++)
        cli_print_diagnostic(stdout, &ev->diagnostics[i], "    ", ui->color);
    for (const char *c = ev->carry; c && *c;) { /* one line per static */
        size_t n = strcspn(c, "\n");
        printf("    %.*s\n", (int)n, c);
        c += n + (c[n] == '\n');
    }
    if (ev->backtrace) /* "  #0 foo (foo.c:12) in foo v3" lines */
        printf("%s\n", ev->backtrace);
    fflush(stdout);
}

static void print_diagnostics(watch_ui *ui)
{
    const hb_diagnostic *d = NULL;
    size_t n = 0;
    if (hb_sandbox_diagnostics(ui->sb, &d, &n) < 0)
        return;
    if (!ui->json)
        view_clear(ui);
    for (size_t i = 0; i < n; i++) {
        if (ui->json) {
            json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "event", "diagnostic",
                                  "plugin", ui->failed_plugin, "file", d[i].file ? d[i].file : "",
                                  "line", (int)d[i].line, "column", (int)d[i].column, "severity",
                                  d[i].severity ? d[i].severity : "", "message",
                                  d[i].message ? d[i].message : "");
            cli_json_print(stdout, o);
            continue;
        }
        cli_print_diagnostic(stdout, &d[i], "    ", ui->color);
    }
    if (!n && !ui->json)
        printf("    %s\n", hb_sandbox_last_error(ui->sb));
    fflush(stdout);
}

static void print_view(watch_ui *ui)
{
    if (ui->json || !ui->tty)
        return;
    view_clear(ui);
    char ms[5][32];
    view_line(ui, "%s── plugins ─────────────────────────────────────────────%s",
              ui->color ? "\033[2m" : "", ui->color ? "\033[0m" : "");
    for (size_t i = 0; i < ui->nrows; i++)
        view_line(ui, "  %-20s v%-4" PRIu64 " %s", ui->rows[i].name, ui->rows[i].version,
                  ui->rows[i].status[0] ? ui->rows[i].status : "-");
    if (ui->have_last) {
        const hb_event *e = &ui->last_reload;
        view_line(ui, "  last reload (%s): detect %s, compile %s, verify %s, swap %s, total %s",
                  ui->last_reload_plugin, cli_fmt_ms(ms[0], e->detect_ms),
                  cli_fmt_ms(ms[1], e->compile_ms), cli_fmt_ms(ms[2], e->verify_ms),
                  cli_fmt_ms(ms[3], e->swap_ms), cli_fmt_ms(ms[4], e->total_ms + e->detect_ms));
    }
    hb_sandbox_usage u;
    if (hb_sandbox_usage_get(ui->sb, &u) == 0)
        view_line(ui, "  worker pid %d: RSS %.1f MiB, CPU %.2f s, up %.0f s, %llu calls, %llu restarts%s",
                  u.worker_pid, (double)u.rss_bytes / (1024.0 * 1024.0), (double)u.cpu_ms / 1000.0,
                  (double)u.uptime_ms / 1000.0, (unsigned long long)u.calls,
                  (unsigned long long)u.restarts, u.failed ? " (FAILED: crash loop)" : "");
    view_line(ui, "  watching; Ctrl-C stops");
    fflush(stdout);
}

/* --help: the usage and what the command does, its options (column 18),
 * then what follows them. */
static const cli_help help_watch = {
    "usage: hotbox watch [--json] [--once] [--quiet-ms N] [--no-selftests]\n"
    "                    [--exclude GLOB]... [--record] [--replay [--replay-exclude FN]...]\n"
    "                    [--no-carry]\n"
    "                    DIR...\n\n"
    "Loads every plugin under DIR (a plugin directory, or a directory of plugin\n"
    "directories) into one sandbox and hot-reloads each on save, carrying its\n"
    "state. After each swap the plugin's exported hb_test_* self-tests run (with\n"
    "hb_setup/hb_teardown, as in hotbox test). A failed build or refused swap\n"
    "leaves the old version serving.\n\n"
    "On a terminal the plugin table is redrawn in place below the event lines;\n"
    "otherwise every event is a plain line. What the plugins print appears\n"
    "prefixed with the plugin's name; compile errors show the source line and a\n"
    "caret, as GCC prints them.\n\n",
    "SIGUSR1 pauses auto-reload (changes are remembered, nothing is rebuilt);\n"
    "SIGUSR2 resumes it and rebuilds what changed meanwhile, once:\n"
    "  kill -USR1 $(pidof hotbox)   # pause while checking out a branch\n"
    "Colour follows the terminal; NO_COLOR disables it. Ctrl-C stops cleanly.\n",
    18};

/* --exclude: a name pattern, matched against each path component. */
static bool exclude_valid(const char *v)
{
    const char *slash = strchr(v, '/');
    return *v && slash == strrchr(v, '/') && (!slash || v[strlen(v) - 1] == '/');
}

/* --once: whether to stop now, and with which exit code in *rc. The change
 * is handled when a round acted on it and the watch has settled since (a
 * build superseded by a later save is not the outcome). The round that
 * settles it need not be one that acted: a save's close, or a second save
 * of the same content, read after that content was built, settles to no
 * change at all. The exit code is the outcome of each plugin's final
 * content. */
static bool once_settled(const watch_ui *ui, hb_watch *w, bool handled, int *rc)
{
    if (!ui->once || !handled || hb_watch_pending(w) != 0)
        return false;
    *rc = HB_EXIT_OK;
    for (size_t i = 0; i < ui->nrows; i++)
        if (ui->rows[i].acted && ui->rows[i].bad)
            *rc = HB_EXIT_FAILED;
    return true;
}

/* -1 to go on (the roots at argv[optind..]), or the exit code. */
static int watch_options(watch_ui *ui, hb_watch_options *wo, int argc, char **argv)
{
    bool no_selftests = false;
    const cli_opt opts[] = {
        CLI_FLAG("json", &ui->json, .help = "one JSON object per event on stdout (docs/events.md)"),
        CLI_FLAG("once", &ui->once,
                 .help = "exit once the first change has been handled and the\n"
                         "files are quiet (a build superseded by a later save does\n"
                         "not count); 0 = the final content of every plugin it\n"
                         "touched built, swapped and passed its self-tests"),
        CLI_UINT("quiet-ms", &wo->quiet_ms, 1, 60000, "a number of milliseconds (1-60000)",
                 .arg = "N", .help = "coalesce file events over N ms (default 20)"),
        CLI_FLAG("no-selftests", &no_selftests, .help = "do not run hb_test_* after swaps"),
        CLI_LIST("exclude", &ui->exclude, .valid = exclude_valid,
                 .wants = "a name pattern (\"*.tmp\", \"gen/\"), matched against each path component",
                 .arg = "GLOB",
                 .help = "ignore changes to files and directories whose name\n"
                         "matches GLOB (fnmatch; \"dir/\" matches directories only);\n"
                         "repeatable, added to the built-in excludes (.git/, build/)"),
        CLI_FLAG("record", &ui->record,
                 .help = "record every call into the plugins for hotbox replay"),
        CLI_FLAG("replay", &ui->rw.on,
                 .help = "(implies --record) after each swap, replay the plugin's\n"
                         "recording on the old and the new version in shadow workers\n"
                         "and show the calls whose results differ (docs/replay.md)"),
        CLI_LIST("replay-exclude", &ui->rw.exclude, .arg = "FN",
                 .help = "do not compare FN's results; repeatable"),
        CLI_FLAG("no-carry", &ui->no_carry,
                 .help = "do not carry static variables by their debug info\n"
                         "(HB_CARRY marks included): only save/migrate moves state\n"
                         "(docs/state.md)"),
        {0}};
    int rc = cli_parse(argc, argv, "watch", &help_watch, opts, 0);
    if (rc >= 0)
        return rc;
    if (no_selftests)
        wo->run_selftests = -1;
    ui->record = ui->record || ui->rw.on; /* --replay implies --record */
    if (optind >= argc) {
        cli_error("watch: give at least one directory (see hotbox watch --help)");
        return HB_EXIT_USAGE;
    }
    return -1;
}

int cmd_watch(const cli_global *g, int argc, char **argv)
{
    watch_ui ui = {.g = g, .out_fd = -1};
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    int rc = watch_options(&ui, &wo, argc, argv);
    if (rc >= 0) {
        free(ui.exclude.v);
        cli_replay_watch_release(&ui.rw);
        return rc;
    }
    wo.exclude = ui.exclude.v;
    const char **roots = calloc((size_t)(argc - optind) + 1, sizeof(char *));
    if (!roots) {
        free(ui.exclude.v);
        return HB_EXIT_FAILED;
    }
    for (int i = optind; i < argc; i++)
        roots[i - optind] = argv[i];
    ui.rw.roots = roots;
    ui.tty = isatty(STDOUT_FILENO);
    struct winsize ws;
    if (ui.tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        ui.cols = ws.ws_col;
    ui.color = ui.tty && !getenv("NO_COLOR") && !ui.json;

    /* Signals arrive as readable data, so the loop below handles Ctrl-C
     * like any other event and shuts the worker down in order. */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGUSR1); /* pause auto-reload */
    sigaddset(&mask, SIGUSR2); /* resume it */
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

    hb_manager_options o;
    cli_manager_options(g, &o);
    o.on_event = on_event;
    o.event_userdata = &ui;
    hb_manager *m = NULL;
    int r = hb_manager_new(&o, &m);
    if (r < 0) {
        cli_state_error(g, r);
        free(roots);
        return HB_EXIT_FAILED;
    }
    rc = HB_EXIT_OK;
    hb_watch *w = NULL;
    hb_console *console = NULL;
    /* A named sandbox: a restarted `hotbox watch` resumes every plugin from
     * the state checkpoint the previous run stored. */
    hb_sandbox_options so;
    cli_sandbox_options(g, &so);
    so.name = "watch";
    so.max_plugins = 4096; /* every plugin under the roots, not the default 64 */
    char *out_path = open_output(&ui);
    so.output_path = out_path; /* NULL: the worker writes to our stdout, unprefixed */
    char *record_dir = ui.record ? cli_record_dir(m) : NULL;
    so.record_dir = record_dir;
    so.no_carry = ui.no_carry;
    r = hb_sandbox_new(m, &so, &ui.sb);
    free(record_dir);
    if (out_path) {
        unlink(out_path);
        free(out_path);
    }
    if (r < 0) {
        cli_error("watch: %s", hb_manager_last_error(m));
        rc = HB_EXIT_FAILED;
        goto out;
    }
    /* The console: hotbox call/status/versions from other terminals reach
     * this sandbox (docs/console.md). Served on this thread, between
     * swaps, never during one; it listens before the "watching" event, so
     * a client that saw the event finds it (and waits until served). */
    int stale = 0;
    if (hb_console_start(ui.sb, &console, &stale) < 0)
        cli_error("watch: no console for other commands: %s", hb_sandbox_last_error(ui.sb));
    else if (stale && !g->quiet)
        fprintf(stderr, "hotbox: console: replaced a stale socket left by a session that died\n");
    r = hb_watch_new(ui.sb, roots, &wo, &w);
    if (r < 0) {
        cli_error("watch: %s", hb_sandbox_last_error(ui.sb));
        rc = HB_EXIT_FAILED;
        goto out;
    }
    drain_output(&ui, "worker", true);
    if (ui.compile_failed)
        print_diagnostics(&ui);
    ui.compile_failed = false;
    ui.watching = true;
    print_view(&ui);
    bool handled = false; /* --once: a round acted on a change */
    /* A worker that dies while idle (a plugin thread crashed, a kill from
     * outside) is handled when it happens, not at the next call: the
     * crashed event, the rollback of a version on probation, the restart.
     * A dead worker the sandbox keeps (a crash loop, a restart backing off)
     * is not polled again until it changes. */
    int dead_pid = -1;
    for (;;) {
        int wpid = hb_sandbox_worker_pid(ui.sb);
        struct pollfd p[4] = {{.fd = hb_watch_fd(w), .events = POLLIN},
                              {.fd = sfd, .events = POLLIN},
                              {.fd = console ? hb_console_fd(console) : -1, .events = POLLIN},
                              {.fd = wpid == dead_pid ? -1 : hb_sandbox_worker_fd(ui.sb),
                               .events = POLLIN}};
        int n = poll(p, 4, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("watch: poll: %s", strerror(errno));
            rc = HB_EXIT_FAILED;
            break;
        }
        if (sfd >= 0 && (p[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) != sizeof(si))
                continue;
            if (si.ssi_signo == SIGUSR1 || si.ssi_signo == SIGUSR2) {
                r = si.ssi_signo == SIGUSR1 ? hb_watch_pause(w) : hb_watch_resume(w);
                drain_output(&ui, "worker", true);
                if (r > 0) {
                    if (ui.compile_failed)
                        print_diagnostics(&ui);
                    print_view(&ui);
                    handled = true;
                }
                if (once_settled(&ui, w, handled, &rc))
                    break;
                continue;
            }
            if (!ui.json)
                printf("\n%s: stopping\n", strsignal((int)si.ssi_signo));
            break;
        }
        if (p[2].revents & POLLIN) {
            hb_console_process(console);
            drain_output(&ui, "worker", true);
        } else if (p[3].revents) {
            hb_sandbox_check(ui.sb); /* its events say what happened */
            if (hb_sandbox_worker_pid(ui.sb) == wpid)
                dead_pid = wpid;
            drain_output(&ui, "worker", true);
            print_view(&ui);
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
        drain_output(&ui, "worker", true);
        if (r > 0) {
            handled = true;
            cli_replay_watch_run(&ui.rw, m, ui.json);
            if (ui.compile_failed)
                print_diagnostics(&ui);
            print_view(&ui);
        }
        /* After every round, not only one that acted: the round that
         * settles the watch may act on nothing (a save's close read after
         * its content was already built). */
        if (once_settled(&ui, w, handled, &rc))
            break;
    }
out:
    if (m && w) {
        char *metrics = NULL;
        if (hb_manager_metrics(m, ui.json, &metrics) == 0 && metrics) {
            json_t *mj = ui.json ? json_loads(metrics, 0, NULL) : NULL;
            cli_json_round(mj);
            json_t *ev = mj ? json_pack("{s:s, s:o}", "event", "metrics", "metrics", mj) : NULL;
            if (!cli_json_print(stdout, ev) && ui.json) /* (no float noise) */
                printf("{\"event\":\"metrics\",\"metrics\":%s}\n", metrics);
            if (!ui.json && ui.tty)
                printf("\n%s", metrics);
        }
        hb_free(metrics);
    }
    hb_console_stop(console);
    hb_watch_free(w);
    hb_sandbox_free(ui.sb); /* fini hooks run; the worker exits */
    drain_output(&ui, "worker", true); /* what the fini hooks printed */
    hb_manager_free(m);
    if (ui.out_fd >= 0)
        close(ui.out_fd);
    if (sfd >= 0)
        close(sfd);
    free(roots);
    free(ui.exclude.v);
    cli_replay_watch_release(&ui.rw);
    return rc;
}
