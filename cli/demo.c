/* cli/demo.c - `hotbox demo`: a non-interactive tour on a temporary copy of
 * the counter example. Each step states what should happen, does it through
 * the public API, and checks that it did. Exit 0 only when every step
 * behaved as it should. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

typedef struct demo {
    const cli_global *g;
    char *root;      /* temporary directory */
    char *plugin;    /* root/counter */
    hb_manager *m;
    hb_sandbox *sb;
    int failures;
    int step;
} demo;

static void say(demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(demo *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("\n%s%d. ", d->g->color ? "\033[1m" : "", ++d->step);
    vprintf(fmt, ap);
    printf("%s\n", d->g->color ? "\033[0m" : "");
    va_end(ap);
    fflush(stdout);
}

static void check(demo *d, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(demo *d, int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *mark = ok ? (d->g->color ? "\033[32mok\033[0m" : "ok")
                          : (d->g->color ? "\033[31mFAILED\033[0m" : "FAILED");
    printf("   %s: ", mark);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!ok)
        d->failures++;
}

/* Writes dir/name like an editor's atomic save (temp file, rename). */
static int write_file_in(const char *dir, const char *name, const char *text)
{
    char path[4400], tmp[4500];
    mkdir(dir, 0755);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fputs(text, f);
    if (fclose(f) != 0)
        return -errno;
    return rename(tmp, path) < 0 ? -errno : 0;
}

static int write_source(demo *d, const char *text)
{
    return write_file_in(d->plugin, "counter.c", text);
}

static int64_t call_i64(demo *d, const char *fn, int *rc)
{
    int64_t v = -1;
    *rc = hb_callf(d->sb, "counter", fn, ")l", &v);
    return v;
}

static int32_t call_version(demo *d, int *rc)
{
    int32_t v = -1;
    *rc = hb_callf(d->sb, "counter", "version", ")i", &v);
    return v;
}

static void show_error_block(const char *text)
{
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("   | %.*s\n", len, p);
        p = nl ? nl + 1 : NULL;
    }
}

static void rm_tree(const char *root)
{
    char cmd[4200];
    /* The demo's own temporary directory, created by mkdtemp below. */
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "hotbox demo: could not remove %s\n", root);
}

static const char usage_demo[] =
    "usage: hotbox demo [--keep]\n\n"
    "A guided tour on a temporary copy of the counter example: load v1, call it,\n"
    "hot-swap to v2 (new behaviour, new state layout) with the state carried,\n"
    "try a v3 that does not compile and a v4 whose migrate hook crashes (v2 keeps\n"
    "serving with its state), then roll back to v1. --keep leaves the temporary\n"
    "directory in place. Exits 0 when every step behaved as it should.\n";

int cmd_demo(const cli_global *g, int argc, char **argv)
{
    bool keep = false;
    const cli_opt opts[] = {CLI_FLAG("keep", &keep), {0}};
    int rc = cli_parse(argc, argv, "demo", CLI_HELP(usage_demo), opts, CLI_NO_OPERANDS);
    if (rc >= 0)
        return rc;
    demo d = {.g = g};
    const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/hotbox-demo-XXXXXX", tmpdir);
    if (!mkdtemp(tmpl)) {
        cli_error("demo: cannot create a temporary directory in %s: %s", tmpdir, strerror(errno));
        return HB_EXIT_FAILED;
    }
    d.root = tmpl;
    char plugin[4200], state[4200];
    snprintf(plugin, sizeof(plugin), "%s/counter", d.root);
    snprintf(state, sizeof(state), "%s/.hotbox", d.root);
    d.plugin = plugin;
    mkdir(plugin, 0755);
    cli_global dg = *g;
    dg.state_dir = g->state_dir ? g->state_dir : state;
    rc = 0;

    printf("hotbox demo: a working copy of the counter plugin in %s\n", plugin);
    if (write_source(&d, hb__demo_counter_v1) < 0 || cli_manager(&dg, &d.m) < 0) {
        cli_error("demo: set-up failed");
        rm_tree(d.root);
        return HB_EXIT_FAILED;
    }
    if (hb_sandbox_new(d.m, NULL, &d.sb) < 0) {
        cli_error("demo: %s", hb_manager_last_error(d.m));
        hb_manager_free(d.m);
        rm_tree(d.root);
        return HB_EXIT_FAILED;
    }
    printf("worker process: pid %d (plugin code runs there, never in hotbox itself)\n",
           hb_sandbox_worker_pid(d.sb));

    say(&d, "Load counter v1 and call increment() three times");
    int r = hb_load(d.sb, d.plugin);
    check(&d, r == 0, "hb_load -> %s", r == 0 ? "loaded" : hb_sandbox_last_error(d.sb));
    int64_t v = 0;
    for (int i = 0; i < 3; i++)
        v = call_i64(&d, "increment", &rc);
    check(&d, rc == 0 && v == 3, "increment() x3 -> %" PRId64 " (expected 3)", v);

    say(&d, "Rewrite counter.c to v2 (steps by 10, new state layout) and hot-reload");
    write_source(&d, hb__demo_counter_v2);
    r = hb_reload(d.sb, "counter");
    check(&d, r == 0, "hb_reload -> %s", r == 0 ? "swapped" : hb_sandbox_last_error(d.sb));
    int32_t ver = call_version(&d, &rc);
    check(&d, rc == 0 && ver == 2, "version() -> %d (expected 2)", ver);
    v = call_i64(&d, "get", &rc);
    check(&d, rc == 0 && v == 3, "get() -> %" PRId64 ": the count survived the swap (expected 3)", v);
    v = call_i64(&d, "increment", &rc);
    check(&d, rc == 0 && v == 13, "increment() -> %" PRId64 ": new behaviour (expected 13)", v);

    say(&d, "Save an edit with a syntax error: the compile fails, v2 keeps serving");
    write_source(&d, hb__demo_counter_v3);
    r = hb_reload(d.sb, "counter");
    check(&d, r == HB_ECOMPILE, "hb_reload -> %s", hb_strerror(r));
    const hb_diagnostic *diags = NULL;
    size_t nd = 0;
    if (hb_sandbox_diagnostics(d.sb, &diags, &nd) == 0 && nd > 0) {
        for (size_t i = 0; i < nd && i < 3; i++)
            cli_print_diagnostic(stdout, &diags[i], "   | ", false);
    } else {
        show_error_block(hb_sandbox_last_error(d.sb));
    }
    check(&d, nd > 0 && diags[0].line > 0, "diagnostics name file:line (%zu found)", nd);
    ver = call_version(&d, &rc);
    v = call_i64(&d, "get", &rc);
    check(&d, rc == 0 && ver == 2 && v == 13, "still v%d with count %" PRId64 " (expected v2, 13)",
          ver, v);

    say(&d, "Save an edit whose migrate hook dereferences NULL: the worker dies mid-swap");
    write_source(&d, hb__demo_counter_v4);
    int old_pid = hb_sandbox_worker_pid(d.sb);
    r = hb_reload(d.sb, "counter");
    check(&d, r == HB_ECRASHED, "hb_reload -> %s", hb_strerror(r));
    show_error_block(hb_sandbox_last_error(d.sb));
    ver = call_version(&d, &rc);
    v = call_i64(&d, "get", &rc);
    check(&d, rc == 0 && ver == 2 && v == 13,
          "new worker (pid %d, was %d) serves v%d with count %" PRId64 " (expected v2, 13)",
          hb_sandbox_worker_pid(d.sb), old_pid, ver, v);

    say(&d, "Save an edit that swaps in fine but crashes on its first call: it is on probation");
    write_source(&d, hb__demo_counter_v5);
    r = hb_reload(d.sb, "counter");
    ver = call_version(&d, &rc);
    check(&d, r == 0 && rc == 0 && ver == 5, "hb_reload -> swapped to the new edit (version() -> %d)", ver);
    v = call_i64(&d, "increment", &rc);
    check(&d, rc == HB_ECRASHED, "increment() -> %s", hb_strerror(rc));
    show_error_block(hb_sandbox_last_error(d.sb));
    ver = call_version(&d, &rc);
    v = call_i64(&d, "get", &rc);
    check(&d, rc == 0 && ver == 2 && v == 13,
          "rolled back automatically: v%d serves with count %" PRId64 " (expected v2, 13)", ver, v);

    say(&d, "Two plugins where one uses the other: pricing imports scale() from scale");
    char dep_root[4200], scale_dir[4300], pricing_dir[4300];
    snprintf(dep_root, sizeof(dep_root), "%s/deps", d.root);
    snprintf(scale_dir, sizeof(scale_dir), "%s/scale", dep_root);
    snprintf(pricing_dir, sizeof(pricing_dir), "%s/pricing", dep_root);
    mkdir(dep_root, 0755);
    write_file_in(scale_dir, "scale.h", hb__demo_scale_h);
    write_file_in(scale_dir, "scale.c", hb__demo_scale_c);
    write_file_in(pricing_dir, "pricing.c", hb__demo_pricing_c);
    r = hb_load(d.sb, scale_dir);
    if (r == 0)
        r = hb_load(d.sb, pricing_dir);
    check(&d, r == 0, "loaded scale, then pricing (%s)",
          r == 0 ? "dependency order" : hb_sandbox_last_error(d.sb));
    int64_t price = -1;
    rc = hb_callf(d.sb, "pricing", "price", "l)l", (int64_t)10, &price);
    check(&d, rc == 0 && price == 21, "price(10) -> %" PRId64 " (expected 21: scale doubles)", price);
    char *edited = strdup(hb__demo_scale_c); /* factor 2 -> 3 */
    char *at = edited ? strstr(edited, "return 2;") : NULL;
    if (at)
        at[7] = '3';
    write_file_in(scale_dir, "scale.c", edited ? edited : hb__demo_scale_c);
    free(edited);
    r = hb_reload(d.sb, "scale");
    check(&d, r == 0, "hb_reload(scale) -> %s",
          r == 0 ? "scale swapped, pricing re-bound to it" : hb_sandbox_last_error(d.sb));
    rc = hb_callf(d.sb, "pricing", "price", "l)l", (int64_t)10, &price);
    check(&d, rc == 0 && price == 31, "price(10) -> %" PRId64 " (expected 31: the new scale)", price);
    int64_t calls = -1;
    rc = hb_callf(d.sb, "scale", "scale_calls", ")l", &calls);
    check(&d, rc == 0 && calls == 2, "scale's state survived: %" PRId64 " calls (expected 2)", calls);

    say(&d, "Roll back to v1: it cannot read v2's layout, so it resumes from its own checkpoint");
    r = hb_rollback(d.sb, "counter", 1);
    check(&d, r == 0, "hb_rollback(1) -> %s", r == 0 ? "rolled back" : hb_sandbox_last_error(d.sb));
    ver = call_version(&d, &rc);
    v = call_i64(&d, "get", &rc);
    check(&d, rc == 0 && ver == 1 && v == 3,
          "v%d with count %" PRId64 " (expected v1 with 3, its state when it was swapped out)", ver, v);

    say(&d, "Stored versions");
    hb_version_info *vi = NULL;
    size_t nv = 0;
    bool third_bad = false, fourth_bad = false;
    if (hb_versions(d.m, "counter", &vi, &nv) == 0) {
        for (size_t i = 0; i < nv; i++)
            printf("   v%" PRIu64 "  %-12s %.12s  %" PRIu64 " bytes\n", vi[i].version,
                   hb_version_status_name(vi[i].status), vi[i].object_sha256, vi[i].size);
        third_bad = nv == 4 && vi[2].status == HB_VERSION_BAD;
        fourth_bad = nv == 4 && vi[3].status == HB_VERSION_BAD;
        hb_free(vi);
    }
    check(&d, nv == 4 && third_bad && fourth_bad,
          "%zu versions stored (v1, v2; v3 and v4, the crashing edits, marked bad; the broken "
          "edit never compiled)", nv);

    hb_sandbox_free(d.sb);
    hb_manager_free(d.m);
    if (keep)
        printf("\nkept %s\n", d.root);
    else
        rm_tree(d.root);
    printf("\n%s: %d step%s failed\n", d.failures ? "demo FAILED" : "demo passed", d.failures,
           d.failures == 1 ? "" : "s");
    return d.failures ? HB_EXIT_FAILED : HB_EXIT_OK;
}
