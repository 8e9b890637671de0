/* cli/main.c - the `hotbox` command: the global options, ./hotbox.json,
 * the command table ("did you mean"), `hotbox help CMD`, and what every
 * command shares (exit codes, errors, the manager). Uses only the public
 * API. */
#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char usage_main[] =
    "usage: hotbox [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "hotbox compiles C plugins, hot-swaps them into a worker process with their\n"
    "state, and calls their functions. Plugin code never runs in hotbox itself.\n"
    "\n"
    "commands:\n"
    "  watch DIR...            load every plugin and reload on save (watch mode)\n"
    "  build DIR...            compile plugins and store them as new versions\n"
    "  call DIR... -- PLUGIN SYMBOL SIGNATURE [ARGS...]\n"
    "                          load plugins in a fresh sandbox and call a function\n"
    "                          (--object FILE: a prebuilt plugin object)\n"
    "  versions PLUGIN         list a plugin's stored versions\n"
    "  rollback PLUGIN [--to N] pin a plugin to an earlier version until its source changes\n"
    "  verify                  check every stored object against its checksum\n"
    "  gc [--keep N]           remove old versions\n"
    "  store recover [--force] rebuild a damaged catalogue (hotbox.db), keeping a copy\n"
    "  status                  plugins in the store, their versions, security events,\n"
    "                          the live session's sandboxes (state, restarts, last crash)\n"
    "  restart [PLUGIN]        restart a sandbox of the live session (hotbox watch)\n"
    "  snapshot save|restore|list|delete PLUGIN [NAME]\n"
    "                          named state snapshots, of the live session when one runs\n"
    "  audit [--security]      the audit log\n"
    "  doctor [--measure] [--json]\n"
    "                          what this machine offers: isolation, containment, limits\n"
    "  demo                    a guided, non-interactive tour (exits 0 when all steps pass)\n"
    "  test DIR...             build plugins and run their hb_test_* functions (CI runs)\n"
    "  report merge OUT IN...  join JUnit or JSON reports of `hotbox test` runs\n"
    "  replay DIR              replay recorded calls on the last good and the new version\n"
    "  help [CMD]              this text, or a command's own help\n"
    "\n"
    "global options:\n"
    "  --state-dir DIR         where versions and the catalogue live (default .hotbox)\n"
    "  --cc CMD                compiler (default $CC, else cc)\n"
    "  --cflags FLAGS          compiler flags, split with shell quoting (default \"-O2 -g\");\n"
    "                          per-plugin settings go in DIR/plugin.json\n"
    "  --compile-timeout MS    a compile taking longer is killed (default 60000; a\n"
    "                          250k-line source such as sqlite3.c needs more)\n"
    "  --isolation MODE        auto | local | namespace | microvm (default auto)\n"
    "  --profile NAME          strict | standard | permissive: how plugin code is\n"
    "                          contained in the worker (default standard)\n"
    "  --trust-plugin-runtime  let plugin.json's runtime section weaken the profile\n"
    "                          and loosen limits (default: the stronger wins)\n"
    "  --worker KIND           process | microvm | auto: where plugin code runs\n"
    "                          (default process; microvm is not available in this\n"
    "                          build, auto says why it picked process)\n"
    "  -q, --quiet             print only results and errors\n"
    "  -h, --help              help (also after any command: hotbox CMD --help,\n"
    "                          or hotbox help CMD)\n"
    "  --version               print the version\n"
    "\n"
    "Defaults for these options may be kept in ./hotbox.json, e.g.\n"
    "  {\"isolation\": \"namespace\", \"profile\": \"strict\", \"cflags\": \"-O2 -g -Wall\"}\n"
    "(keys: state_dir, cc, cflags, isolation, profile, worker); the command line wins.\n"
    "Options may be written --opt=VALUE or --opt VALUE; -- ends the options.\n"
    "\n"
    "exit status: 0 success, 1 operation failed, 2 usage error, 3 compile error,\n"
    "4 plugin code crashed or hung.\n";

void cli_error(const char *fmt, ...)
{
    /* The line is formatted first and written at once, so errors of
     * processes sharing a terminal do not interleave mid-line. */
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hotbox: %s\n", n >= 0 ? msg : "out of memory (formatting an error)");
    if (n >= 0)
        free(msg);
}

int cli_exit_code(int code)
{
    switch (code) {
    case 0: return HB_EXIT_OK;
    case HB_ECOMPILE: case HB_ENOSOURCES: case HB_ECHANGED: return HB_EXIT_COMPILE;
    case HB_ECRASHED: case HB_EHUNG: return HB_EXIT_CRASHED;
    case -EINVAL: case HB_ESIGNATURE: case HB_EARGS: return HB_EXIT_USAGE;
    default: return HB_EXIT_FAILED;
    }
}

void cli_print_event(const hb_event *ev, void *ud)
{
    const cli_global *g = ud;
    /* A failed build or swap, or a crash, is the command's error, printed
     * once by the command (with the diagnostics or the signal), not also as
     * an event; what follows a crash (the restart) is still shown. */
    if (ev->type == HB_EVENT_COMPILE_FAILED || ev->type == HB_EVENT_SWAP_FAILED ||
        ev->type == HB_EVENT_CRASHED)
        return;
    if (g && g->quiet && ev->type != HB_EVENT_RESTARTED)
        return;
    /* (doctor shows them every time, and remembers them as shown too) */
    if (cli_is_machine_notice(ev) && cli_notice_shown_before(ev->message) &&
        !(g && g->machine_notices))
        return;
    const char *msg = ev->message ? ev->message : "";
    /* Multi-line messages (diagnostics) are printed by whoever handles the
     * error; the event shows the first line only. */
    const char *nl = strchr(msg, '\n');
    fprintf(stderr, "  [%s] %.*s\n", cli_event_name(ev->type), nl ? (int)(nl - msg) : (int)strlen(msg),
            msg);
    for (size_t i = 0; i < ev->ndiagnostics; i++) { /* a successful compile's warnings */
        const hb_diagnostic *d = &ev->diagnostics[i];
        fprintf(stderr, "    %s:%u:%u: %s: %s\n", d->file, d->line, d->column, d->severity,
                d->message);
    }
}

void cli_manager_options(const cli_global *g, hb_manager_options *o)
{
    hb_manager_options_init(o, HB_MANAGER_OPTIONS_VERSION);
    o->state_dir = g->state_dir;
    o->cc = g->cc;
    o->cc_origin = g->cc_origin;
    o->cflags = g->cflags;
    o->compile_timeout_ms = g->compile_timeout_ms; /* 0: the default */
    o->isolation = g->isolation;
    /* A command makes one sandbox: a pooled worker started after it would
     * only be started, waited for and killed at exit (hotbox test, which
     * makes one per plugin, keeps the pool). */
    o->worker_pool = 0;
}

int cli_manager(const cli_global *g, hb_manager **out)
{
    hb_manager_options o;
    cli_manager_options(g, &o);
    o.on_event = cli_print_event;
    o.event_userdata = (void *)g;
    int r = hb_manager_new(&o, out);
    if (r < 0)
        cli_state_error(g, r);
    return r;
}

int cli_manager_end(hb_manager *m, int r, const char *fmt, ...)
{
    if (r < 0) {
        cli_error("%s", hb_manager_last_error(m));
    } else if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
    }
    hb_manager_free(m);
    return r < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
}

void cli_sandbox_options(const cli_global *g, hb_sandbox_options *o)
{
    hb_sandbox_options_init(o, HB_SANDBOX_OPTIONS_VERSION);
    o->profile = g->profile;
    o->trust_plugin_runtime = g->trust_plugin_runtime;
    o->worker = g->worker;
}

int cli_sandbox(const cli_global *g, bool record, hb_manager **m, hb_sandbox **sb)
{
    if (cli_manager(g, m) < 0)
        return -1;
    hb_sandbox_options so;
    cli_sandbox_options(g, &so);
    char *record_dir = record ? cli_record_dir(*m) : NULL;
    so.record_dir = record_dir;
    int r = hb_sandbox_new(*m, &so, sb);
    free(record_dir);
    if (r < 0) {
        cli_error("%s", hb_manager_last_error(*m));
        hb_manager_free(*m);
        *m = NULL;
        return -1;
    }
    return 0;
}

void cli_state_error(const cli_global *g, int r)
{
    const char *dir = g->state_dir ? g->state_dir : ".hotbox";
    char *why = NULL;
    /* The manager reports a code only; the store says what and where. */
    if (r == HB_ECATALOG && hb_catalogue_check(g->state_dir, &why) < 0 && why)
        cli_error("cannot open the state directory %s: %s", dir, why);
    else
        cli_error("cannot open the state directory %s: %s", dir, hb_strerror(r));
    hb_free(why);
}

/* ---- configuration ---------------------------------------------------------- */

/* The names of the choices of --isolation, --profile and --worker. */
static const cli_choice isolations[] = {{"auto", HB_ISOLATION_AUTO}, {"local", HB_ISOLATION_LOCAL},
                                        {"namespace", HB_ISOLATION_NAMESPACE},
                                        {"microvm", HB_ISOLATION_MICROVM}, {0}};
static const cli_choice profiles[] = {{"strict", HB_PROFILE_STRICT}, {"standard", HB_PROFILE_STANDARD},
                                      {"permissive", HB_PROFILE_PERMISSIVE}, {0}};
static const cli_choice workers[] = {{"process", HB_WORKER_PROCESS}, {"microvm", HB_WORKER_MICROVM},
                                     {"auto", HB_WORKER_AUTO}, {0}};

/* The global options' choices, kept as ints while they are parsed. */
typedef struct choices {
    int isolation, profile, worker;
} choices;

/* ./hotbox.json: defaults for the global options. Strings are kept for the
 * life of the process. */
/* hotbox.json's strings live as long as the process: kept here, so they
 * stay reachable (and LeakSanitizer quiet) whichever way main returns. */
static const char *config_string(const char *v)
{
    static char *kept[8];
    static size_t n;
    char *c = strdup(v);
    if (c && n < sizeof(kept) / sizeof(kept[0]))
        kept[n++] = c;
    return c;
}

static int load_config(cli_global *g, choices *ch)
{
    json_error_t je;
    json_t *o = json_load_file("hotbox.json", 0, &je);
    if (!o) {
        FILE *f = fopen("hotbox.json", "r");
        if (!f)
            return 0; /* no config: fine */
        fclose(f);
        cli_error("hotbox.json:%d:%d: %s", je.line, je.column, je.text);
        return -EINVAL;
    }
    if (!json_is_object(o)) {
        cli_error("hotbox.json: expected a JSON object");
        json_decref(o);
        return -EINVAL;
    }
    const char *key;
    json_t *val;
    int r = 0;
    json_object_foreach(o, key, val) {
        const char *v = json_string_value(val);
        if (!v) {
            cli_error("hotbox.json: \"%s\" must be a string", key);
            r = -EINVAL;
            break;
        }
        if (!strcmp(key, "state_dir"))
            g->state_dir = config_string(v);
        else if (!strcmp(key, "cc")) {
            g->cc = config_string(v);
            g->cc_origin = "./hotbox.json";
        } else if (!strcmp(key, "cflags"))
            g->cflags = config_string(v);
        else if (!strcmp(key, "isolation"))
            r = cli_choose("hotbox.json", key, isolations, v, &ch->isolation);
        else if (!strcmp(key, "profile"))
            r = cli_choose("hotbox.json", key, profiles, v, &ch->profile);
        else if (!strcmp(key, "worker"))
            r = cli_choose("hotbox.json", key, workers, v, &ch->worker);
        else {
            cli_error("hotbox.json: unknown key \"%s\"", key);
            r = -EINVAL;
        }
        if (r < 0)
            break;
    }
    json_decref(o);
    return r;
}

/* ---- main ------------------------------------------------------------------ */

/* The commands whose only option is --help. */
static const char usage_build[] =
    "usage: hotbox build DIR...\n\n"
    "Compiles each plugin directory and stores the object as a new\n"
    "version (or reuses the stored one when nothing changed).\n";

static const char usage_versions[] =
    "usage: hotbox versions PLUGIN\n\n"
    "Lists the stored versions of PLUGIN: number, status, short checksum,\n"
    "size and age, and below each where a prebuilt object came from, the\n"
    "libraries it needs and the symbols it imports.\n";

static const char usage_verify[] =
    "usage: hotbox verify\n\n"
    "Checks every stored object against its SHA-256 and the catalogue.\n"
    "Exit 0 when consistent (warnings, such as unreferenced objects, are allowed),\n"
    "1 when an object is missing or corrupted. Creates nothing: without a\n"
    "state directory there is nothing to verify.\n";

static const char usage_status[] =
    "usage: hotbox status\n\n"
    "Shows every plugin in the store: its newest and active versions and\n"
    "their statuses, the latest security events from the audit log, and the\n"
    "live session (hotbox watch) with its worker pid and live versions.\n"
    "Creates nothing: without a state directory it says so.\n";

static const char usage_restart[] =
    "usage: hotbox restart [PLUGIN]\n\n"
    "Restarts the worker of the live session's sandbox that holds PLUGIN\n"
    "(or of its sandbox, without PLUGIN): every plugin's active version\n"
    "with its last checkpoint, as an automatic restart would. Brings back a\n"
    "sandbox that is down or failed (a crash loop). Needs a live session\n"
    "(hotbox watch) on the state directory; `hotbox status` shows its\n"
    "sandboxes.\n";

typedef struct command {
    const char *name;
    int (*fn)(const cli_global *g, int argc, char **argv);
    /* Set for a command whose only option is --help: its usage and how
     * many operands it takes (max -1: any), checked before fn runs. */
    const char *usage;
    int min, max;
} command;

static const command commands[] = {
    {.name = "watch", .fn = cmd_watch},
    {.name = "build", .fn = cmd_build, .usage = usage_build, .min = 1, .max = -1},
    {.name = "call", .fn = cmd_call},
    {.name = "versions", .fn = cmd_versions, .usage = usage_versions, .min = 1, .max = 1},
    {.name = "rollback", .fn = cmd_rollback},
    {.name = "verify", .fn = cmd_verify, .usage = usage_verify, .min = 0, .max = 0},
    {.name = "gc", .fn = cmd_gc},
    {.name = "store", .fn = cmd_store},
    {.name = "status", .fn = cmd_status, .usage = usage_status, .min = 0, .max = 0},
    {.name = "audit", .fn = cmd_audit},
    {.name = "doctor", .fn = cmd_doctor},
    {.name = "demo", .fn = cmd_demo},
    {.name = "test", .fn = cmd_test},
    {.name = "report", .fn = cmd_report},
    {.name = "replay", .fn = cmd_replay},
    {.name = "snapshot", .fn = cmd_snapshot},
    {.name = "restart", .fn = cmd_restart, .usage = usage_restart, .min = 0, .max = 1},
    {.name = "help", .fn = NULL},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++)
        names[i] = commands[i].name;
    const char *s = cli_suggest(name, names, NCOMMANDS);
    if (s)
        cli_error("unknown command \"%s\"; did you mean \"%s\"? (see hotbox --help)", name, s);
    else
        cli_error("unknown command \"%s\" (see hotbox --help)", name);
    return NULL;
}

static int cmd_help(const cli_global *g, int argc, char **argv);

/* Runs c on its arguments (argv[0] is its name). */
static int run_command(const command *c, const cli_global *g, int argc, char **argv)
{
    if (!c->fn)
        return cmd_help(g, argc, argv);
    if (c->usage) {
        int rc = cli_operands(argc, argv, c->name, c->usage, c->min, c->max);
        if (rc >= 0)
            return rc;
    }
    return c->fn(g, argc, argv);
}

/* `hotbox help [CMD]`: the command's own --help. */
static int cmd_help(const cli_global *g, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "help")) {
        fputs(usage_main, stdout);
        return HB_EXIT_OK;
    }
    const command *c = find_command(argv[1]);
    if (!c)
        return HB_EXIT_USAGE;
    char *help_argv[] = {(char *)c->name, (char *)"--help", NULL};
    return run_command(c, g, 2, help_argv);
}

static int print_version(void *unused, const char *v)
{
    (void)unused, (void)v;
    printf("hotbox %s\n", hb_version());
    return HB_EXIT_OK;
}

static int set_cc(void *target, const char *v)
{
    cli_global *g = target;
    g->cc = v;
    g->cc_origin = NULL; /* the command line's, not ./hotbox.json's */
    return -1;
}

static int run(int argc, char **argv)
{
    cli_global g = {0};
    g.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    choices ch = {g.isolation, g.profile, g.worker}; /* (the defaults) */
    if (load_config(&g, &ch) < 0)
        return HB_EXIT_USAGE;
    const cli_opt opts[] = {
        CLI_FLAG("quiet", &g.quiet, .letter = 'q'),
        CLI_DO("version", NULL, print_version),
        CLI_STR("state-dir", &g.state_dir),
        CLI_FN("cc", &g, set_cc),
        CLI_STR("cflags", &g.cflags),
        CLI_UINT("compile-timeout", &g.compile_timeout_ms, 1, 3600000,
                 "a number of milliseconds (1-3600000)"),
        CLI_CHOICE("isolation", &ch.isolation, isolations),
        CLI_CHOICE("profile", &ch.profile, profiles),
        CLI_CHOICE("worker", &ch.worker, workers),
        CLI_FLAG("trust-plugin-runtime", &g.trust_plugin_runtime),
        {0}};
    /* CLI_POSIX: global options end at the command; the command parses the rest. */
    int rc = cli_parse(argc, argv, NULL, CLI_HELP(usage_main), opts, CLI_POSIX);
    if (rc >= 0)
        return rc;
    g.isolation = (hb_isolation)ch.isolation;
    g.profile = (hb_profile)ch.profile;
    g.worker = (hb_worker_kind)ch.worker;
    if (optind >= argc) {
        fputs(usage_main, stderr);
        return HB_EXIT_USAGE;
    }
    const command *cmd = find_command(argv[optind]);
    if (!cmd)
        return HB_EXIT_USAGE;
    return run_command(cmd, &g, argc - optind, argv + optind);
}

int main(int argc, char **argv)
{
    int code = run(argc, argv);
    /* Results that never reached stdout (a full disk, a closed file) are
     * not a success, whatever the command did. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write the output: %s", errno ? strerror(errno) : "write error");
        if (code == HB_EXIT_OK)
            code = HB_EXIT_FAILED;
    }
    return code;
}
