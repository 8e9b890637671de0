/* cli/main.c - the `hotbox` command: argument parsing and the simple
 * subcommands (build, call, versions). Uses only the public API. */
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
    "  versions PLUGIN         list a plugin's stored versions\n"
    "  rollback PLUGIN [--to N] pin a plugin to an earlier version until its source changes\n"
    "  verify                  check every stored object against its checksum\n"
    "  gc [--keep N]           remove old versions\n"
    "  store recover [--force] rebuild a damaged catalogue (hotbox.db), keeping a copy\n"
    "  status                  plugins in the store, their versions, security events\n"
    "  audit [--security]      the audit log\n"
    "  doctor [--measure]      what this machine offers: isolation, containment, limits\n"
    "  demo                    a guided, non-interactive tour (exits 0 when all steps pass)\n"
    "  test DIR...             build plugins and run their hb_test_* functions (CI runs)\n"
    "  report merge OUT IN...  join JUnit or JSON reports of `hotbox test` runs\n"
    "\n"
    "global options:\n"
    "  --state-dir DIR         where versions and the catalogue live (default .hotbox)\n"
    "  --cc CMD                compiler (default $CC, else cc)\n"
    "  --cflags FLAGS          compiler flags, split with shell quoting (default \"-O2 -g\");\n"
    "                          per-plugin settings go in DIR/plugin.json\n"
    "  --isolation MODE        auto | local | namespace | microvm (default auto)\n"
    "  --profile NAME          strict | standard | permissive: how plugin code is\n"
    "                          contained in the worker (default standard)\n"
    "  -q, --quiet             print only results and errors\n"
    "  -h, --help              help (also after any command)\n"
    "  --version               print the version\n"
    "\n"
    "Defaults for these options may be kept in ./hotbox.json, e.g.\n"
    "  {\"isolation\": \"namespace\", \"profile\": \"strict\", \"cflags\": \"-O2 -g -Wall\"}\n"
    "(keys: state_dir, cc, cflags, isolation, profile); the command line wins.\n"
    "\n"
    "exit status: 0 success, 1 operation failed, 2 usage error, 3 compile error,\n"
    "4 plugin code crashed or hung.\n";

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hotbox: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
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

static const char *event_name(hb_event_type t)
{
    static const char *names[] = {"?", "compiled", "compile-failed", "loaded", "swapped",
                                  "swap-failed", "crashed", "restarted", "rolled-back",
                                  "state-reset", "unloaded", "warning", "selftest", "watching",
                                  "notice", "up-to-date"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

void cli_print_event(const hb_event *ev, void *ud)
{
    const cli_global *g = ud;
    if (g && g->quiet && ev->type != HB_EVENT_CRASHED && ev->type != HB_EVENT_SWAP_FAILED)
        return;
    const char *msg = ev->message ? ev->message : "";
    /* Multi-line messages (diagnostics) are printed by whoever handles the
     * error; the event shows the first line only. */
    const char *nl = strchr(msg, '\n');
    fprintf(stderr, "  [%s] %.*s\n", event_name(ev->type), nl ? (int)(nl - msg) : (int)strlen(msg),
            msg);
    for (size_t i = 0; i < ev->ndiagnostics; i++) { /* a successful compile's warnings */
        const hb_diagnostic *d = &ev->diagnostics[i];
        fprintf(stderr, "    %s:%u:%u: %s: %s\n", d->file, d->line, d->column, d->severity,
                d->message);
    }
}

int cli_manager(const cli_global *g, hb_manager **out)
{
    hb_manager_options o;
    hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION);
    o.state_dir = g->state_dir;
    o.cc = g->cc;
    o.cc_origin = g->cc_origin;
    o.cflags = g->cflags;
    o.isolation = g->isolation;
    o.on_event = cli_print_event;
    o.event_userdata = (void *)g;
    int r = hb_manager_new(&o, out);
    if (r < 0)
        cli_state_error(g, r);
    return r;
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

static bool want_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return false;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    }
    return false;
}

/* ---- build ----------------------------------------------------------------- */

static int cmd_build(const cli_global *g, int argc, char **argv)
{
    if (want_help(argc, argv) || argc < 2) {
        fputs("usage: hotbox build DIR...\n\nCompiles each plugin directory and stores the object as a new\n"
              "version (or reuses the stored one when nothing changed).\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? HB_EXIT_USAGE : HB_EXIT_OK;
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    int rc = HB_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        hb_version_info v;
        int r = hb_build(m, argv[i], &v);
        if (r < 0) {
            cli_error("%s", hb_manager_last_error(m));
            if (rc == HB_EXIT_OK)
                rc = cli_exit_code(r);
            continue;
        }
        printf("%s v%" PRIu64 " %.12s %" PRIu64 " bytes\n", v.plugin, v.version, v.object_sha256,
               v.size);
    }
    hb_manager_free(m);
    return rc;
}

/* ---- versions -------------------------------------------------------------- */

static void format_age(int64_t created, char *buf, size_t len)
{
    int64_t age = (int64_t)time(NULL) - created;
    if (age < 0)
        age = 0;
    if (age < 120)
        snprintf(buf, len, "%" PRId64 "s", age);
    else if (age < 7200)
        snprintf(buf, len, "%" PRId64 "m", age / 60);
    else if (age < 172800)
        snprintf(buf, len, "%" PRId64 "h", age / 3600);
    else
        snprintf(buf, len, "%" PRId64 "d", age / 86400);
}

/* One indented line of a newline-separated list ("needs: a b c"). */
static void print_list(const char *what, const char *list)
{
    if (!list)
        return;
    printf("         %s:", what);
    if (!*list)
        fputs(" (nothing)", stdout);
    for (const char *p = list; *p;) {
        size_t l = strcspn(p, "\n");
        if (l)
            printf(" %.*s", (int)l, p);
        p += l + (p[l] == '\n');
    }
    putchar('\n');
}

static int cmd_versions(const cli_global *g, int argc, char **argv)
{
    if (want_help(argc, argv) || argc != 2) {
        fputs("usage: hotbox versions PLUGIN\n\nLists the stored versions of PLUGIN: number, status, short checksum,\n"
              "size and age.\n",
              argc != 2 ? stderr : stdout);
        return argc != 2 ? HB_EXIT_USAGE : HB_EXIT_OK;
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    hb_version_info *v = NULL;
    size_t n = 0;
    int r = hb_versions(m, argv[1], &v, &n);
    if (r < 0) {
        cli_error("%s", hb_manager_last_error(m));
        hb_manager_free(m);
        return cli_exit_code(r);
    }
    if (n == 0)
        printf("%s has no stored versions in %s\n", argv[1], hb_manager_state_dir(m));
    else
        printf("%-8s %-12s %-12s %10s %6s\n", "VERSION", "STATUS", "SHA256", "SIZE", "AGE");
    for (size_t i = 0; i < n; i++) {
        char age[32];
        format_age(v[i].created, age, sizeof(age));
        printf("v%-7" PRIu64 " %-12s %-12.12s %10" PRIu64 " %6s\n", v[i].version,
               hb_version_status_name(v[i].status), v[i].object_sha256, v[i].size, age);
        print_list("needs", v[i].needed);
        print_list("imports", v[i].imports);
    }
    hb_free(v);
    hb_manager_free(m);
    return HB_EXIT_OK;
}

/* ---- call ------------------------------------------------------------------ */

static hb_type sig_type(char c)
{
    switch (c) {
    case 'B': return HB_TYPE_BOOL;
    case 'c': return HB_TYPE_I8;
    case 'C': return HB_TYPE_U8;
    case 's': return HB_TYPE_I16;
    case 'S': return HB_TYPE_U16;
    case 'i': return HB_TYPE_I32;
    case 'I': return HB_TYPE_U32;
    case 'j': return HB_TYPE_LONG;
    case 'J': return HB_TYPE_ULONG;
    case 'l': return HB_TYPE_I64;
    case 'L': return HB_TYPE_U64;
    case 'f': return HB_TYPE_F32;
    case 'd': return HB_TYPE_F64;
    case 'Z': return HB_TYPE_STR;
    case 'b': return HB_TYPE_BUF_IN;
    case 'w': return HB_TYPE_BUF_INOUT;
    default: return HB_TYPE_VOID;
    }
}

static int parse_arg(hb_type t, const char *s, hb_value *v)
{
    char *end = NULL;
    errno = 0;
    v->type = t;
    switch (t) {
    case HB_TYPE_BOOL:
        if (!strcmp(s, "true") || !strcmp(s, "1"))
            v->v.i = 1;
        else if (!strcmp(s, "false") || !strcmp(s, "0"))
            v->v.i = 0;
        else
            return -EINVAL;
        return 0;
    case HB_TYPE_I8: case HB_TYPE_I16: case HB_TYPE_I32: case HB_TYPE_I64: case HB_TYPE_LONG:
        v->v.i = strtoll(s, &end, 0);
        break;
    case HB_TYPE_U8: case HB_TYPE_U16: case HB_TYPE_U32: case HB_TYPE_U64: case HB_TYPE_ULONG:
        if (*s == '-')
            return -EINVAL;
        v->v.u = strtoull(s, &end, 0);
        break;
    case HB_TYPE_F32:
        v->v.f = strtof(s, &end);
        break;
    case HB_TYPE_F64:
        v->v.d = strtod(s, &end);
        break;
    case HB_TYPE_STR:
        v->v.s = s;
        return 0;
    case HB_TYPE_BUF_IN:
    case HB_TYPE_BUF_INOUT:
        v->v.buf.data = strdup(s);
        v->v.buf.len = strlen(s);
        return v->v.buf.data ? 0 : -ENOMEM;
    default:
        return -EINVAL;
    }
    return (errno || !end || *end || end == s) ? -EINVAL : 0;
}

static void print_value(const hb_value *v)
{
    switch (v->type) {
    case HB_TYPE_VOID: printf("(void)\n"); break;
    case HB_TYPE_BOOL: printf("%s\n", v->v.i ? "true" : "false"); break;
    case HB_TYPE_I8: case HB_TYPE_I16: case HB_TYPE_I32: case HB_TYPE_I64: case HB_TYPE_LONG:
        printf("%" PRId64 "\n", v->v.i);
        break;
    case HB_TYPE_F32: printf("%.9g\n", (double)v->v.f); break;
    case HB_TYPE_F64: printf("%.17g\n", v->v.d); break;
    case HB_TYPE_STR:
        if (v->v.s)
            printf("%s\n", v->v.s);
        else
            printf("(null)\n");
        break;
    default: printf("%" PRIu64 "\n", v->v.u); break;
    }
}

static int cmd_call(const cli_global *g, int argc, char **argv)
{
    int sep = -1;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            sep = i;
            break;
        }
    if (want_help(argc, argv) || sep < 2 || argc - sep < 4) {
        FILE *f = want_help(argc, argv) ? stdout : stderr;
        fputs("usage: hotbox call DIR... -- PLUGIN SYMBOL SIGNATURE [ARGS...]\n\n"
              "Builds and loads each plugin directory in a fresh sandbox, calls SYMBOL of\n"
              "PLUGIN with ARGS converted by SIGNATURE, and prints the result.\n\n"
              "SIGNATURE uses dyncall's characters, arguments then ')' then the return:\n"
              "  B bool  c/C int8/uint8  s/S int16/uint16  i/I int32/uint32  j/J long\n"
              "  l/L int64/uint64  f float  d double  Z string  v void (return only)\n"
              "  b input bytes, w in/out bytes (the argument text is the bytes; an in/out\n"
              "    buffer is printed after the call)\n\n"
              "example: hotbox call examples/plugins/mathx -- mathx add ii)i 2 3\n",
              f);
        return f == stdout ? HB_EXIT_OK : HB_EXIT_USAGE;
    }
    const char *plugin = argv[sep + 1], *symbol = argv[sep + 2], *sig = argv[sep + 3];
    size_t nargs = 0;
    if (hb_signature_check(sig, &nargs) < 0) {
        cli_error("malformed signature \"%s\" (try hotbox call --help)", sig);
        return HB_EXIT_USAGE;
    }
    int given = argc - sep - 4;
    if ((size_t)given != nargs) {
        cli_error("signature \"%s\" takes %zu argument%s, %d given", sig, nargs,
                  nargs == 1 ? "" : "s", given);
        return HB_EXIT_USAGE;
    }
    hb_value args[32];
    memset(args, 0, sizeof(args));
    size_t ai = 0;
    for (const char *p = sig; *p && *p != ')'; p++) {
        hb_type t = sig_type(*p);
        const char *text = argv[sep + 4 + (int)ai];
        if (parse_arg(t, text, &args[ai]) < 0) {
            cli_error("argument %zu \"%s\" is not a valid '%c' value", ai + 1, text, *p);
            return HB_EXIT_USAGE;
        }
        ai++;
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    hb_sandbox *sb;
    int rc = HB_EXIT_OK;
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.profile = g->profile;
    int r = hb_sandbox_new(m, &so, &sb);
    if (r < 0) {
        cli_error("%s", hb_manager_last_error(m));
        hb_manager_free(m);
        return HB_EXIT_FAILED;
    }
    for (int i = 1; i < sep; i++) {
        r = hb_load(sb, argv[i]);
        if (r < 0) {
            cli_error("%s", hb_sandbox_last_error(sb));
            rc = cli_exit_code(r);
            goto out;
        }
    }
    hb_value ret;
    r = hb_call(sb, plugin, symbol, sig, args, nargs, &ret);
    if (r < 0) {
        cli_error("%s", hb_sandbox_last_error(sb));
        rc = cli_exit_code(r);
        goto out;
    }
    print_value(&ret);
    for (size_t i = 0; i < nargs; i++)
        if (args[i].type == HB_TYPE_BUF_INOUT)
            printf("arg %zu: %.*s\n", i + 1, (int)args[i].v.buf.len, (char *)args[i].v.buf.data);
out:
    for (size_t i = 0; i < nargs; i++)
        if (args[i].type == HB_TYPE_BUF_IN || args[i].type == HB_TYPE_BUF_INOUT)
            free(args[i].v.buf.data);
    hb_sandbox_free(sb);
    hb_manager_free(m);
    return rc;
}

/* ---- configuration ---------------------------------------------------------- */

static int parse_isolation(const char *v, hb_isolation *out)
{
    static const struct {
        const char *name;
        hb_isolation value;
    } t[] = {{"auto", HB_ISOLATION_AUTO}, {"local", HB_ISOLATION_LOCAL},
             {"namespace", HB_ISOLATION_NAMESPACE}, {"microvm", HB_ISOLATION_MICROVM}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (!strcmp(v, t[i].name)) {
            *out = t[i].value;
            return 0;
        }
    return -EINVAL;
}

static int parse_profile(const char *v, hb_profile *out)
{
    if (!strcmp(v, "strict"))
        *out = HB_PROFILE_STRICT;
    else if (!strcmp(v, "standard"))
        *out = HB_PROFILE_STANDARD;
    else if (!strcmp(v, "permissive"))
        *out = HB_PROFILE_PERMISSIVE;
    else
        return -EINVAL;
    return 0;
}

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

static int load_config(cli_global *g)
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
        else if (!strcmp(key, "isolation")) {
            if ((r = parse_isolation(v, &g->isolation)) < 0)
                cli_error("hotbox.json: unknown isolation \"%s\" (auto, local, namespace, microvm)", v);
        } else if (!strcmp(key, "profile")) {
            if ((r = parse_profile(v, &g->profile)) < 0)
                cli_error("hotbox.json: unknown profile \"%s\" (strict, standard, permissive)", v);
        } else {
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

static int run(int argc, char **argv)
{
    cli_global g = {0};
    g.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    if (load_config(&g) < 0)
        return HB_EXIT_USAGE;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_main, stdout);
            return HB_EXIT_OK;
        } else if (!strcmp(a, "--version")) {
            printf("hotbox %s\n", hb_version());
            return HB_EXIT_OK;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            g.quiet = true;
        } else if ((!strcmp(a, "--state-dir") || !strcmp(a, "--cc") || !strcmp(a, "--cflags") ||
                    !strcmp(a, "--isolation") || !strcmp(a, "--profile")) && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(a, "--state-dir"))
                g.state_dir = v;
            else if (!strcmp(a, "--cc")) {
                g.cc = v;
                g.cc_origin = NULL;
            }
            else if (!strcmp(a, "--cflags"))
                g.cflags = v;
            else if (!strcmp(a, "--profile")) {
                if (parse_profile(v, &g.profile) < 0) {
                    cli_error("unknown profile \"%s\" (strict, standard, permissive)", v);
                    return HB_EXIT_USAGE;
                }
            } else if (parse_isolation(v, &g.isolation) < 0) {
                cli_error("unknown isolation \"%s\" (auto, local, namespace, microvm)", v);
                return HB_EXIT_USAGE;
            }
        } else {
            cli_error("unknown option %s (see hotbox --help)", a);
            return HB_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        fputs(usage_main, stderr);
        return HB_EXIT_USAGE;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "build"))
        return cmd_build(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "call"))
        return cmd_call(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "versions"))
        return cmd_versions(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "demo"))
        return cmd_demo(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "watch"))
        return cmd_watch(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "verify"))
        return cmd_verify(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "store"))
        return cmd_store(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "gc"))
        return cmd_gc(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "rollback"))
        return cmd_rollback(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "doctor"))
        return cmd_doctor(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "status"))
        return cmd_status(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "audit"))
        return cmd_audit(&g, sub_argc, sub_argv);
    int cmd_test(const cli_global *, int, char **), cmd_report(const cli_global *, int, char **);
    if (!strcmp(cmd, "test"))
        return cmd_test(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "report"))
        return cmd_report(&g, sub_argc, sub_argv);
    if (!strcmp(cmd, "help")) {
        fputs(usage_main, stdout);
        return HB_EXIT_OK;
    }
    cli_error("unknown command \"%s\" (see hotbox --help)", cmd);
    return HB_EXIT_USAGE;
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
