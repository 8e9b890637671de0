/* cli/test/options.c - the command line of `hotbox test`. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static const char usage_test[] =
    "usage: hotbox test [OPTIONS] DIR...\n"
    "       hotbox test [OPTIONS] --object FILE... [DIR...]\n"
    "\n"
    "Builds every plugin, loads each into its own sandbox (a fresh worker), and\n"
    "runs every exported `int hb_test_*(void)` (0 = pass), with hb_setup() before\n"
    "and hb_teardown() after each test when the plugin exports them (the same\n"
    "runner as watch mode's self-tests; docs/testing.md). A DIR holding C sources\n"
    "is one plugin; otherwise its subdirectories are searched (depth %d) for\n"
    "directories whose sources declare exactly one plugin descriptor.\n"
    "\n"
    "options:\n"
    "  -j, --jobs N       parallel jobs (default: number of cores)\n"
    "  -k PATTERN         run only tests whose id PLUGIN.TEST matches (fnmatch)\n"
    "  --repeat N         run every test N times\n"
    "  -x, --fail-fast    stop after the first failure (the rest are skipped)\n"
    "  --timeout SECONDS  time limit per call (default 10); a test over it fails\n"
    "  --require-tests    a plugin without tests is a failure\n"
    "  --allow-empty      finding no tests at all is not a failure\n"
    "  --upgrade          upgrade-path mode: previous version's tests, hot swap to\n"
    "                     the new build, new tests on migrated state, roll back,\n"
    "                     old tests again (see docs/testing.md). The base is the\n"
    "                     newest older version that is not bad and whose own\n"
    "                     upgrade tests did not fail; the result is recorded\n"
    "  --from VERSION     with --upgrade: upgrade from this stored version (the\n"
    "                     result of such a run is not recorded)\n"
    "  --from-snapshot NAME  every plugin starts from its state snapshot NAME\n"
    "                     (hb_snapshot_save; docs/testing.md); a plugin without\n"
    "                     one fails to load\n"
    "  --shard I/N        run only part I of N (by a stable hash of the test id)\n"
    "  --junit FILE       write a JUnit XML report\n"
    "  --sanitize LIST    build the plugins with sanitizers: address (ASan),\n"
    "                     undefined (UBSan); a finding fails the test with its\n"
    "                     report\n"
    "  --coverage DIR     build the plugins with --coverage and write gcov and\n"
    "                     lcov reports of their sources to DIR\n"
    "  --tap              TAP 13 on stdout (progress goes to stderr)\n"
    "  --json             JSON lines on stdout (docs/events.md)\n"
    "  -v, --verbose      show the output of passing tests too\n"
    "  --record           record every call the tests make for hotbox replay\n"
    "                     (docs/replay.md)\n"
    "  --object FILE      also test a prebuilt plugin object (built by CMake, Meson\n"
    "                     or a release; hb_load_object), named by its descriptor;\n"
    "                     may be given more than once\n"
    "  --no-carry         --upgrade swaps carry no statics by their debug info;\n"
    "                     only save/migrate moves state (docs/state.md)\n"
    "\n"
    "The last line is \"N passed, N failed\" (\", N skipped\" when any). Exit status\n"
    "0 when every test passed, 1 when any failed or no test was found (unless\n"
    "--allow-empty), 2 on a usage error.\n";

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

enum {
    OPT_REPEAT = 256, OPT_TIMEOUT, OPT_REQUIRE, OPT_ALLOW_EMPTY, OPT_UPGRADE, OPT_FROM, OPT_SHARD,
    OPT_JUNIT, OPT_TAP, OPT_JSON, OPT_SANITIZE, OPT_FROM_SNAPSHOT, OPT_RECORD, OPT_COVERAGE, OPT_OBJECT,
    OPT_NO_CARRY,
};

static const struct option longopts[] = {
    {"help", no_argument, NULL, 'h'},
    {"jobs", required_argument, NULL, 'j'},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"fail-fast", no_argument, NULL, 'x'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"require-tests", no_argument, NULL, OPT_REQUIRE},
    {"allow-empty", no_argument, NULL, OPT_ALLOW_EMPTY},
    {"upgrade", no_argument, NULL, OPT_UPGRADE},
    {"from", required_argument, NULL, OPT_FROM},
    {"from-snapshot", required_argument, NULL, OPT_FROM_SNAPSHOT},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"tap", no_argument, NULL, OPT_TAP},
    {"json", no_argument, NULL, OPT_JSON},
    {"sanitize", required_argument, NULL, OPT_SANITIZE},
    {"coverage", required_argument, NULL, OPT_COVERAGE},
    {"verbose", no_argument, NULL, 'v'},
    {"record", no_argument, NULL, OPT_RECORD},
    {"object", required_argument, NULL, OPT_OBJECT},
    {"no-carry", no_argument, NULL, OPT_NO_CARRY},
    {0},
};

static int parse_timeout(run *R, const char *val)
{
    char *end = NULL;
    double s = strtod(val, &end);
    if (!end || *end || end == val || !(s > 0) || s > 86400)
        return usage_error("--timeout wants seconds (0 < s <= 86400), not \"%s\"", val);
    R->timeout_ms = (unsigned)(s * 1000.0 + 0.5);
    if (R->timeout_ms == 0)
        R->timeout_ms = 1;
    return -1;
}

static int parse_from(run *R, const char *val)
{
    char *end = NULL;
    unsigned long long v = strtoull(val, &end, 10);
    if (!*val || *end || v == 0 || v > INT64_MAX)
        return usage_error("--from wants a stored version number, not \"%s\"", val);
    R->from = v;
    return -1;
}

static int one_option(run *R, int c, const char *val)
{
    switch (c) {
    case 'h':
        printf(usage_test, MAX_DEPTH);
        return HB_EXIT_OK;
    case 'j':
        if (cli_parse_uint(val, 1, 1024, &R->jobs_n) < 0)
            return usage_error("-j wants a number from 1 to 1024, not \"%s\"", val);
        return -1;
    case 'k': R->pattern = val; return -1;
    case OPT_REPEAT:
        if (cli_parse_uint(val, 1, 100000, &R->repeat) < 0)
            return usage_error("--repeat wants a number from 1 to 100000, not \"%s\"", val);
        return -1;
    case OPT_TIMEOUT: return parse_timeout(R, val);
    case OPT_SHARD:
        if (hb__cli_parse_shard(val, &R->shard_i, &R->shard_n) < 0)
            return usage_error("--shard wants I/N with 1 <= I <= N, not \"%s\"", val);
        return -1;
    case OPT_JUNIT: R->junit_path = val; return -1;
    case 'x': R->fail_fast = true; return -1;
    case OPT_REQUIRE: R->require_tests = true; return -1;
    case OPT_ALLOW_EMPTY: R->allow_empty = true; return -1;
    case OPT_UPGRADE: R->upgrade = true; return -1;
    case OPT_FROM: return parse_from(R, val);
    case OPT_FROM_SNAPSHOT:
        if (!*val || strlen(val) > 128 ||
            strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
                strlen(val))
            return usage_error("--from-snapshot wants a snapshot name (1 to 128 characters of "
                               "A-Z a-z 0-9 . _ -), not \"%s\"", val);
        R->from_snapshot = val;
        return -1;
    case OPT_TAP: R->tap = true; return -1;
    case OPT_JSON: R->json = true; return -1;
    case OPT_SANITIZE: R->sanitize = val; return -1;
    case OPT_COVERAGE:
        if (!*val)
            return usage_error("%s", "--coverage wants a directory");
        R->coverage = val;
        return -1;
    case 'v': R->verbose = true; return -1;
    case OPT_RECORD: R->record = true; return -1;
    case OPT_OBJECT:
        if (R->nobjects >= sizeof(R->objects) / sizeof(R->objects[0]))
            return usage_error("at most %zu --object options",
                               sizeof(R->objects) / sizeof(R->objects[0]));
        R->objects[R->nobjects++] = val;
        return -1;
    case OPT_NO_CARRY: R->no_carry = true; return -1;
    default: return HB_EXIT_USAGE; /* cli_getopt said what */
    }
}

int cli_test_options(run *R, int argc, char **argv)
{
    R->repeat = 1;
    R->timeout_ms = 10000;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    R->jobs_n = cores > 0 ? (unsigned)cores : 1;
    optind = 0;
    int c;
    while ((c = cli_getopt(argc, argv, "test", "hj:k:xv", longopts, NULL)) != -1) {
        int rc = one_option(R, c, optarg);
        if (rc >= 0)
            return rc;
    }
    R->dirs = (const char **)argv + optind;
    R->ndirs = (size_t)(argc - optind);
    if (R->ndirs == 0 && R->nobjects == 0) {
        fprintf(stderr, usage_test, MAX_DEPTH);
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
