/* cli/test/options.c - the command line of `hotbox test`. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define TEXT_(x) #x
#define TEXT(x) TEXT_(x)
#define MAX_DEPTH_TEXT TEXT(MAX_DEPTH)

/* --help: the usage and what the command does, its options (column 21),
 * then what follows them. */
static const cli_help help_test = {
    "usage: hotbox test [OPTIONS] DIR...\n"
    "       hotbox test [OPTIONS] --object FILE... [DIR...]\n"
    "\n"
    "Builds every plugin, loads each into its own sandbox (a fresh worker), and\n"
    "runs every exported `int hb_test_*(void)` (0 = pass), with hb_setup() before\n"
    "and hb_teardown() after each test when the plugin exports them (the same\n"
    "runner as watch mode's self-tests; docs/testing.md). A DIR holding C sources\n"
    "is one plugin; otherwise its subdirectories are searched (depth " MAX_DEPTH_TEXT ") for\n"
    "directories whose sources declare exactly one plugin descriptor.\n"
    "\n"
    "options:\n",
    "The last line is \"N passed, N failed\" (\", N skipped\" when any). Exit status\n"
    "0 when every test passed, 1 when any failed or no test was found (unless\n"
    "--allow-empty), 2 on a usage error.\n",
    21};

int hb__cli_parse_shard(const char *s, unsigned *i, unsigned *n)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || slash == s || strchr(slash + 1, '/'))
        return -EINVAL;
    char a[16];
    size_t la = (size_t)(slash - s);
    if (la >= sizeof(a))
        return -EINVAL;
    memcpy(a, s, la);
    a[la] = '\0';
    unsigned vi, vn;
    if (cli_parse_uint(a, 1, 1000000, &vi) < 0 || cli_parse_uint(slash + 1, 1, 1000000, &vn) < 0 ||
        vi > vn)
        return -EINVAL;
    *i = vi;
    *n = vn;
    return 0;
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hotbox: test: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see hotbox test --help)\n", stderr);
    return HB_EXIT_USAGE;
}

static int parse_timeout(void *target, const char *val)
{
    run *R = target;
    char *end = NULL;
    double s = strtod(val, &end);
    if (!end || *end || end == val || !(s > 0) || s > 86400)
        return usage_error("--timeout wants seconds (0 < s <= 86400), not \"%s\"", val);
    R->timeout_ms = (unsigned)(s * 1000.0 + 0.5);
    if (R->timeout_ms == 0)
        R->timeout_ms = 1;
    return -1;
}

static int parse_shard(void *target, const char *val)
{
    run *R = target;
    if (hb__cli_parse_shard(val, &R->shard_i, &R->shard_n) < 0)
        return usage_error("--shard wants I/N with 1 <= I <= N, not \"%s\"", val);
    return -1;
}

static int add_object(void *target, const char *val)
{
    run *R = target;
    if (R->nobjects >= sizeof(R->objects) / sizeof(R->objects[0]))
        return usage_error("at most %zu --object options", sizeof(R->objects) / sizeof(R->objects[0]));
    R->objects[R->nobjects++] = val;
    return -1;
}

static bool snapshot_name(const char *v)
{
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    return *v && strlen(v) <= 128 && strspn(v, ok) == strlen(v);
}

static bool not_empty(const char *v)
{
    return *v != '\0';
}

int cli_test_options(run *R, int argc, char **argv)
{
    R->repeat = 1;
    R->timeout_ms = 10000;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    R->jobs_n = cores > 0 ? (unsigned)cores : 1;
    const cli_opt opts[] = {
        CLI_UINT("jobs", &R->jobs_n, 1, 1024, "a number from 1 to 1024", .letter = 'j', .arg = "N",
                 .help = "parallel jobs (default: number of cores)"),
        CLI_STR(NULL, &R->pattern, .letter = 'k', .arg = "PATTERN",
                .help = "run only tests whose id PLUGIN.TEST matches (fnmatch)"),
        CLI_UINT("repeat", &R->repeat, 1, 100000, "a number from 1 to 100000", .arg = "N",
                 .help = "run every test N times"),
        CLI_FLAG("fail-fast", &R->fail_fast, .letter = 'x',
                 .help = "stop after the first failure (the rest are skipped)"),
        CLI_FN("timeout", R, parse_timeout, .arg = "SECONDS",
           .help = "time limit per call (default 10); a test over it fails"),
        CLI_FLAG("require-tests", &R->require_tests,
                 .help = "a plugin without tests is a failure"),
        CLI_FLAG("allow-empty", &R->allow_empty,
                 .help = "finding no tests at all is not a failure"),
        CLI_FLAG("upgrade", &R->upgrade,
                 .help = "upgrade-path mode: previous version's tests, hot swap to\n"
                         "the new build, new tests on migrated state, roll back,\n"
                         "old tests again (see docs/testing.md). The base is the\n"
                         "newest older version that is not bad and whose own\n"
                         "upgrade tests did not fail; the result is recorded"),
        CLI_U64("from", &R->from, INT64_MAX, "a stored version number", .arg = "VERSION",
                .help = "with --upgrade: upgrade from this stored version (the\n"
                        "result of such a run is not recorded)"),
        CLI_STR("from-snapshot", &R->from_snapshot, .valid = snapshot_name,
                .wants = "a snapshot name (1 to 128 characters of A-Z a-z 0-9 . _ -)", .arg = "NAME",
                .help = "every plugin starts from its state snapshot NAME\n"
                        "(hb_snapshot_save; docs/testing.md); a plugin without\n"
                        "one fails to load"),
        CLI_FN("shard", R, parse_shard, .arg = "I/N",
           .help = "run only part I of N (by a stable hash of the test id)"),
        CLI_STR("junit", &R->junit_path, .arg = "FILE",
                .help = "write a JUnit XML report"),
        CLI_STR("sanitize", &R->sanitize, .arg = "LIST",
                .help = "build the plugins with sanitizers: address (ASan),\n"
                        "undefined (UBSan); a finding fails the test with its\n"
                        "report"),
        CLI_STR("coverage", &R->coverage, .valid = not_empty, .wants = "a directory", .arg = "DIR",
                .help = "build the plugins with --coverage and write gcov and\n"
                        "lcov reports of their sources to DIR"),
        CLI_FLAG("tap", &R->tap,
                 .help = "TAP 13 on stdout (progress goes to stderr)"),
        CLI_FLAG("json", &R->json,
                 .help = "JSON lines on stdout (docs/events.md)"),
        CLI_FLAG("verbose", &R->verbose, .letter = 'v',
                 .help = "show the output of passing tests too"),
        CLI_FLAG("record", &R->record,
                 .help = "record every call the tests make for hotbox replay\n"
                         "(docs/replay.md)"),
        CLI_FN("object", R, add_object, .arg = "FILE",
           .help = "also test a prebuilt plugin object (built by CMake, Meson\n"
                   "or a release; hb_load_object), named by its descriptor;\n"
                   "may be given more than once"),
        CLI_FLAG("no-carry", &R->no_carry,
                 .help = "--upgrade swaps carry no statics by their debug info;\n"
                         "only save/migrate moves state (docs/state.md)"),
        {0}};
    int rc = cli_parse(argc, argv, "test", &help_test, opts, 0);
    if (rc >= 0)
        return rc;
    R->dirs = (const char **)argv + optind;
    R->ndirs = (size_t)(argc - optind);
    if (R->ndirs == 0 && R->nobjects == 0) {
        cli_help_print(stderr, &help_test, opts);
        return HB_EXIT_USAGE;
    }
    if (R->from && !R->upgrade)
        return usage_error("%s", "--from only makes sense with --upgrade");
    if (R->tap && R->json)
        return usage_error("%s", "--tap and --json both write to stdout; pick one");
    if (R->require_tests && R->allow_empty)
        return usage_error("%s", "--require-tests and --allow-empty contradict each other");
    return -1;
}
