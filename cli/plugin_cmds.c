/* cli/plugin_cmds.c - the commands on plugins: build, versions, call. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* ---- build ----------------------------------------------------------------- */

int cmd_build(const cli_global *g, int argc, char **argv)
{
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    int rc = HB_EXIT_OK;
    for (int i = optind; i < argc; i++) {
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

/* One indented line of a list ("needs: a b c"). */
static void print_list(const char *what, const char *const *list)
{
    printf("         %s:", what);
    if (!list || !*list)
        fputs(" (nothing)", stdout);
    for (size_t i = 0; list && list[i]; i++)
        printf(" %s", list[i]);
    putchar('\n');
}

int cmd_versions(const cli_global *g, int argc, char **argv)
{
    const char *plugin = argv[optind];
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    hb_version_info *v = NULL;
    size_t n = 0;
    int r = hb_versions(m, plugin, &v, &n);
    if (r < 0) {
        cli_error("%s", hb_manager_last_error(m));
        hb_manager_free(m);
        return cli_exit_code(r);
    }
    uint64_t live = 0;
    int is_live = cli_console_live_version(g, plugin, &live);
    if (n == 0)
        printf("%s has no stored versions in %s\n", plugin, hb_manager_state_dir(m));
    else if (is_live)
        printf("live session: %s runs v%" PRIu64 "\n", plugin, live);
    else
        printf("%-8s %-12s %-12s %10s %6s\n", "VERSION", "STATUS", "SHA256", "SIZE", "AGE");
    for (size_t i = 0; i < n; i++) {
        char age[32];
        format_age(v[i].created, age, sizeof(age));
        printf("v%-7" PRIu64 " %-12s %-12.12s %10" PRIu64 " %6s\n", v[i].version,
               hb_version_status_name(v[i].status), v[i].object_sha256, v[i].size, age);
        if (v[i].prebuilt_from)
            printf("         prebuilt from %s\n", v[i].prebuilt_from);
        print_list("needs", v[i].needed);
        print_list("imports", v[i].imports);
    }
    hb_free(v);
    hb_manager_free(m);
    return HB_EXIT_OK;
}

#define HB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

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
    case HB_TYPE_F32: {
        /* the shortest text that reads back as the same float: 0.1, not 0.100000001 */
        char b[40];
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(b, sizeof(b), "%.*g", prec, (double)v->v.f);
            if (strtof(b, NULL) == v->v.f)
                break;
        }
        printf("%s\n", b);
        break;
    }
    case HB_TYPE_F64: {
        char b[40];
        printf("%s\n", cli_fmt_double(b, v->v.d));
        break;
    }
    case HB_TYPE_STR:
        if (v->v.s)
            printf("%s\n", v->v.s);
        else
            printf("(null)\n");
        break;
    default: printf("%" PRIu64 "\n", v->v.u); break;
    }
}

static void print_result(const hb_value *ret, const hb_value *args, size_t nargs)
{
    print_value(ret);
    for (size_t i = 0; i < nargs; i++)
        if (args[i].type == HB_TYPE_BUF_INOUT)
            printf("arg %zu: %.*s\n", i + 1, (int)args[i].v.buf.len, (char *)args[i].v.buf.data);
}

static void free_bufs(hb_value *args, size_t nargs)
{
    for (size_t i = 0; i < nargs; i++)
        if (args[i].type == HB_TYPE_BUF_IN || args[i].type == HB_TYPE_BUF_INOUT)
            free(args[i].v.buf.data);
}

static const char usage_call[] =
    "usage: hotbox call [--no-session] [--record] DIR... -- PLUGIN SYMBOL SIGNATURE [ARGS...]\n"
    "       hotbox call --object FILE [--name NAME] [DIR...] -- PLUGIN SYMBOL SIGNATURE [ARGS...]\n\n"
    "Calls SYMBOL of PLUGIN with ARGS converted by SIGNATURE, and prints the\n"
    "result. When a session is live on the state directory (hotbox watch), the\n"
    "call runs there, on its loaded plugins and their state (DIR... is not\n"
    "built); otherwise, or with --no-session, each DIR is built and loaded in a\n"
    "fresh sandbox first. See docs/console.md.\n"
    "--record (implies --no-session) records the call for `hotbox replay`\n"
    "(docs/replay.md).\n\n"
    "--object FILE loads a prebuilt plugin object (a shared object built by\n"
    "CMake, Meson or plain cc -shared that declares HB_PLUGIN) after the DIRs:\n"
    "it is checked as a compiled object is, stored (hotbox versions shows it\n"
    "as prebuilt, with FILE), and named by its descriptor, or by --name. A DIR\n"
    "of the same plugin is swapped to the object, with its state. May be\n"
    "given more than once. With --object the call always runs in a fresh\n"
    "sandbox, never in a live session.\n\n"
    "SIGNATURE uses dyncall's characters, arguments then ')' then the return:\n"
    "  B bool  c/C int8/uint8  s/S int16/uint16  i/I int32/uint32  j/J long\n"
    "  l/L int64/uint64  f float  d double  Z string  v void (return only)\n"
    "  b input bytes, w in/out bytes (the argument text is the bytes; an in/out\n"
    "    buffer is printed after the call)\n\n"
    "example: hotbox call examples/plugins/mathx -- mathx add ii)i 2 3\n"
    "         hotbox call --object build/libmathx.so -- mathx add ii)i 2 3\n";

/* hotbox call after its options (at argv[optind..]). */
static int call_with(const cli_global *g, int argc, char **argv, const cli_list *objects,
                     const char *name, bool no_session, bool record)
{
    size_t nobjects = objects->n;
    if (name && nobjects != 1) {
        cli_error("--name names the plugin of one --object (%zu given)", nobjects);
        return HB_EXIT_USAGE;
    }
    int first = optind, sep = -1;
    if (first > 1 && !strcmp(argv[first - 1], "--")) /* getopt took "--": no DIR */
        first = sep = first - 1;
    for (int i = first; sep < 0 && i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            sep = i;
            break;
        }
    if (sep < 0 || (sep == first && !nobjects) || argc - sep < 4) {
        fputs(usage_call, stderr);
        return HB_EXIT_USAGE;
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
    int rc = HB_EXIT_OK;
    hb_value ret;
    if (!no_session && !nobjects) {
        /* A live session (hotbox watch) on this state directory serves the
         * call: its plugins, its state. */
        char *text = NULL;
        rc = cli_console_call(g, plugin, symbol, sig, args, nargs, &ret, &text);
        if (rc == HB_EXIT_OK)
            print_result(&ret, args, nargs);
        hb_free(text);
        if (rc != CLI_NO_SESSION) {
            free_bufs(args, nargs);
            return rc;
        }
        rc = HB_EXIT_OK;
    }
    hb_manager *m;
    hb_sandbox *sb;
    if (cli_sandbox(g, record, &m, &sb) < 0) {
        free_bufs(args, nargs);
        return HB_EXIT_FAILED;
    }
    int r;
    for (int i = first; i < sep; i++) {
        r = hb_load(sb, argv[i]);
        if (r < 0) {
            cli_error("%s", hb_sandbox_last_error(sb));
            rc = cli_exit_code(r);
            goto out;
        }
    }
    for (size_t i = 0; i < nobjects; i++) {
        r = hb_load_object_as(sb, objects->v[i], name);
        if (r < 0) {
            cli_error("%s", hb_sandbox_last_error(sb));
            rc = cli_exit_code(r);
            goto out;
        }
    }
    r = hb_call(sb, plugin, symbol, sig, args, nargs, &ret);
    if (r < 0) {
        cli_error("%s", hb_sandbox_last_error(sb));
        rc = cli_exit_code(r);
        goto out;
    }
    print_result(&ret, args, nargs);
out:
    free_bufs(args, nargs);
    hb_sandbox_free(sb);
    hb_manager_free(m);
    return rc;
}

int cmd_call(const cli_global *g, int argc, char **argv)
{
    bool no_session = false, record = false;
    const char *name = NULL;
    cli_list objects = {0};
    const cli_opt opts[] = {CLI_FLAG("no-session", &no_session), CLI_FLAG("record", &record),
                            CLI_LIST("object", &objects), CLI_STR("name", &name), {0}};
    /* CLI_POSIX: the words after DIR... -- are the call's, never options. */
    int rc = cli_parse(argc, argv, "call", CLI_HELP(usage_call), opts, CLI_POSIX);
    if (rc < 0)
        rc = call_with(g, argc, argv, &objects, name, no_session || record, record);
    free(objects.v);
    return rc;
}
