/* tests/harness/test_snapshots.c - named state snapshots end to end: save,
 * restore, list, delete; restore into a version with another state schema
 * through its migrate hook, or refused naming both schemas; kept in the
 * catalogue across managers. */
#include <stdbool.h>
#include <sys/wait.h>

#include "harness/e2e.h"

static e2e_events ev;

/* A counter with state schema `schema` whose migrate takes schemas
 * [accept_lo, accept_hi] (0, 0: no migrate hook). */
static char *counter(int version, int schema, int accept_lo, int accept_hi)
{
    char extra[1024];
    if (accept_hi)
        snprintf(extra, sizeof(extra),
                 "static int mig(const void *d, size_t l, uint32_t s) {"
                 " if (s < %d || s > %d || l != 8) return -1; memcpy(&count, d, 8); return 0; }\n"
                 "HB_PLUGIN(\"counter\", %d, 0, 0, save, mig);", accept_lo, accept_hi, schema);
    else
        snprintf(extra, sizeof(extra), "HB_PLUGIN(\"counter\", %d, 0, 0, save, 0);", schema);
    return e2e_write("counter", "counter.c", e2e_counter_src(version, 1, extra));
}

static int64_t bump(hb_sandbox *sb, int times)
{
    int64_t v = 0;
    for (int i = 0; i < times; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    return v;
}

static int64_t get(hb_sandbox *sb)
{
    int64_t v = -1;
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    return v;
}

static void case_save_restore(void)
{
    char *dir = counter(1, 1, 1, 1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    HB_CHECK_EQ(bump(sb, 3), 3);
    HB_CHECK_OK(hb_snapshot_save(sb, "counter", "three"));
    HB_CHECK_EQ(bump(sb, 2), 5);
    HB_CHECK_OK(hb_snapshot_restore(sb, "counter", "three"));
    HB_CHECK_EQ(get(sb), 3);
    HB_CHECK_EQ(bump(sb, 1), 4);
    /* The snapshot is the checkpoint now: a restart resumes from it. */
    HB_CHECK_OK(hb_sandbox_restart(sb));
    int64_t v = 0;
    int r = hb_callf(sb, "counter", "get", ")l", &v);
    HB_CHECK(r == 0 || r == HB_ESTATELOST);
    HB_CHECK_EQ(get(sb), 3);

    HB_CHECK_OK(hb_snapshot_save(sb, "counter", "also-3"));
    const char *const *names = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_snapshot_list(sb, "counter", &names, &n));
    HB_CHECK_EQ(n, 2);
    HB_CHECK(strcmp(names[0], "also-3") == 0);
    HB_CHECK(strcmp(names[1], "three") == 0);
    HB_CHECK(names[2] == NULL);
    HB_CHECK_OK(hb_snapshot_delete(sb, "counter", "three"));
    HB_CHECK_EQ(hb_snapshot_delete(sb, "counter", "three"), -ENOENT);
    HB_CHECK_OK(hb_snapshot_list(sb, "counter", &names, &n));
    HB_CHECK_EQ(n, 1);
    HB_CHECK_EQ(hb_snapshot_restore(sb, "counter", "three"), -ENOENT);
    printf("missing: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK(strstr(hb_sandbox_last_error(sb), "three") != NULL);
    HB_CHECK_EQ(hb_snapshot_save(sb, "counter", "../x"), -EINVAL);
    HB_CHECK_EQ(hb_snapshot_save(sb, "counter", ""), -EINVAL);
    HB_CHECK_EQ(hb_snapshot_save(sb, "nope", "x"), HB_ENOPLUGIN);
    e2e_free(sb, m);
}

/* v2 has state schema 2 and its migrate converts schema 1: the snapshot of
 * v1 goes in. v3 (schema 3) takes schemas 2 and 3 only: the snapshot (schema 1) is refused, naming
 * both, and the counter keeps its value. */
static void case_schemas(void)
{
    char *dir = counter(1, 1, 1, 1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    bump(sb, 7);
    HB_CHECK_OK(hb_snapshot_save(sb, "counter", "seven"));
    counter(2, 2, 1, 2);
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(bump(sb, 1), 8);
    HB_CHECK_OK(hb_snapshot_restore(sb, "counter", "seven"));
    HB_CHECK_EQ(get(sb), 7);

    counter(3, 3, 2, 3);
    HB_CHECK_OK(hb_reload(sb, "counter"));
    bump(sb, 2);
    int64_t before = get(sb);
    HB_CHECK_EQ(hb_snapshot_restore(sb, "counter", "seven"), HB_ESNAPSHOT);
    const char *e = hb_sandbox_last_error(sb);
    printf("refused: %s\n", e);
    HB_CHECK(strstr(e, "state schema 1") != NULL);
    HB_CHECK(strstr(e, "state schema 3") != NULL);
    HB_CHECK_EQ(get(sb), before);

    counter(4, 4, 0, 0); /* no migrate hook at all */
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(hb_snapshot_restore(sb, "counter", "seven"), HB_ESNAPSHOT);
    printf("no migrate: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK(strstr(hb_sandbox_last_error(sb), "no migrate hook") != NULL);
    e2e_free(sb, m);
}

/* Snapshots live in the catalogue: another manager on the same state
 * directory, another sandbox, restores them. */
static void case_persist(void)
{
    char *dir = counter(1, 1, 1, 1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    bump(sb, 4);
    HB_CHECK_OK(hb_snapshot_save(sb, "counter", "four"));
    e2e_free(sb, m);
    m = e2e_manager(&ev);
    sb = e2e_loaded(m, NULL, dir);
    HB_CHECK_EQ(get(sb), 0);
    HB_CHECK_OK(hb_snapshot_restore(sb, "counter", "four"));
    HB_CHECK_EQ(get(sb), 4);
    e2e_free(sb, m);
}

/* A sandbox started with from_snapshot: every plugin it loads starts from
 * its snapshot of that name; a missing one is an error naming it. */
static void case_from_snapshot(void)
{
    char *dir = counter(1, 1, 1, 1);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    bump(sb, 6);
    HB_CHECK_OK(hb_snapshot_save(sb, "counter", "six"));
    hb_sandbox_free(sb);
    hb_sandbox_options o;
    HB_CHECK_OK(hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION));
    char want[8] = "six";
    o.from_snapshot = want;
    HB_CHECK_OK(hb_sandbox_new(m, &o, &sb));
    want[0] = 'X'; /* the sandbox keeps its own copy */
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(get(sb), 6);
    hb_sandbox_free(sb);
    o.from_snapshot = "none-such";
    HB_CHECK_OK(hb_sandbox_new(m, &o, &sb));
    HB_CHECK_EQ(hb_load(sb, dir), -ENOENT);
    printf("missing: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK(strstr(hb_sandbox_last_error(sb), "none-such") != NULL);
    HB_CHECK_EQ(get(sb), 0); /* loaded, fresh */
    e2e_free(sb, m);
}

/* `hotbox test --from-snapshot NAME`: the plugin's self-test passes only
 * from the snapshot's state. HOTBOX_CLI names the hotbox binary. */
static int hotbox_test(const char *dir, const char *snap)
{
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "'%s' --state-dir '%s/.hotbox' test -j 1 %s%s '%s' > '%s/out' 2>&1",
             getenv("HOTBOX_CLI"), e2e_root, snap ? "--from-snapshot " : "", snap ? snap : "",
             dir, e2e_root);
    int st = system(cmd);
    snprintf(cmd, sizeof(cmd), "cat '%s/out'", e2e_root);
    if (system(cmd) != 0)
        fprintf(stderr, "no output\n");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void case_cli_from_snapshot(void)
{
    if (!getenv("HOTBOX_CLI")) {
        printf("SKIP: HOTBOX_CLI is not set\n");
        exit(77);
    }
    char extra[512];
    snprintf(extra, sizeof(extra), "int hb_test_six(void) { return count == 6 ? 0 : 1; }\n"
                                   "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);");
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, extra));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    bump(sb, 6);
    HB_CHECK_OK(hb_snapshot_save(sb, "counter", "six"));
    e2e_free(sb, m);
    HB_CHECK_EQ(hotbox_test(dir, NULL), 1);           /* fresh state: 0 != 6 */
    HB_CHECK_EQ(hotbox_test(dir, "six"), 0);
    HB_CHECK_EQ(hotbox_test(dir, "seven"), 1);        /* no such snapshot */
    char out[4400];
    snprintf(out, sizeof(out), "grep -q seven '%s/out'", e2e_root);
    HB_CHECK_EQ(system(out), 0);                      /* the error names it */
    HB_CHECK_EQ(hotbox_test(dir, "bad/name"), 2);     /* usage */
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"save_restore", case_save_restore},
        {"schemas", case_schemas},
        {"persist", case_persist},
        {"from_snapshot", case_from_snapshot},
        {"cli_from_snapshot", case_cli_from_snapshot},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
