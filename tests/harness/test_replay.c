/* End-to-end: differential replay (docs/replay.md) on real plugin sources,
 * real compiles and real workers: a sandbox records its calls with the
 * checkpoint each segment started from, and hb_replay reports exactly the
 * calls whose results an edit changed. One case per process:
 * test_replay CASE. */
#include "e2e.h"

#include <stdint.h>

static e2e_events g_ev;

static hb_sandbox *recording_sandbox(hb_manager *m)
{
    char dir[4300];
    snprintf(dir, sizeof(dir), "%s/.hotbox/recordings", e2e_root); /* the default */
    hb_sandbox_options o;
    HB_CHECK_OK(hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION));
    o.record_dir = dir;
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &o, &sb));
    return sb;
}

static int64_t incr(hb_sandbox *sb)
{
    int64_t v = -1;
    int r = hb_callf(sb, "counter", "increment", ")l", &v);
    if (r != 0)
        HB_FAIL_("increment: %d %s", r, hb_sandbox_last_error(sb));
    return v;
}

static const char *recording(void)
{
    static char path[4400];
    snprintf(path, sizeof(path), "%s/.hotbox/recordings/counter.hbrec", e2e_root);
    return path;
}

/* Records increment x2 on v1 (from count 0), then a swap to v2 (same step,
 * count 2 carried) and one more increment on v2. */
static char *record_two_segments(hb_manager *m)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_sandbox *sb = recording_sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(incr(sb), 1);
    HB_CHECK_EQ(incr(sb), 2);
    e2e_write("counter", "counter.c", e2e_counter_src(2, 1, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(incr(sb), 3);
    hb_sandbox_free(sb);
    return dir;
}

static hb_replay_report *replay(hb_manager *m, const char *dir, const char *const *exclude)
{
    hb_replay_options o = HB_REPLAY_OPTIONS_INIT;
    o.exclude = exclude;
    hb_replay_report *rep = NULL;
    int r = hb_replay(m, dir, &o, &rep);
    if (r != 0)
        HB_FAIL_("hb_replay: %d %s", r, hb_manager_last_error(m));
    return rep;
}

/* No edit: nothing differs. An edit of the step: exactly the three calls,
 * each segment from its recorded checkpoint (the third call starts from
 * count 2 on both sides: 3 and 12, where fresh state would give 1 and 10). */
static void test_edit_reports_changed_calls(void)
{
    hb_manager *m = e2e_manager(&g_ev);
    char *dir = record_two_segments(m);
    hb_replay_report *rep = replay(m, dir, NULL);
    HB_CHECK_EQ(rep->ndiffs, 0);
    HB_CHECK_EQ(rep->calls, 3);
    HB_CHECK_EQ(rep->segments, 2);
    HB_CHECK_EQ(rep->old_version, 2);
    HB_CHECK_EQ(rep->new_version, 2);
    hb_replay_report_free(rep);

    e2e_write("counter", "counter.c", e2e_counter_src(3, 10, NULL));
    rep = replay(m, dir, NULL);
    HB_CHECK_EQ(rep->old_version, 2);
    HB_CHECK_EQ(rep->new_version, 3);
    HB_CHECK_EQ(rep->ndiffs, 3);
    HB_CHECK_STR(rep->diffs[0].function, "increment");
    HB_CHECK_STR(rep->diffs[0].old_result, "1");
    HB_CHECK_STR(rep->diffs[0].new_result, "10");
    HB_CHECK_STR(rep->diffs[1].old_result, "2");
    HB_CHECK_STR(rep->diffs[1].new_result, "20");
    HB_CHECK_EQ(rep->diffs[2].index, 2);
    HB_CHECK_STR(rep->diffs[2].old_result, "3");
    HB_CHECK_STR(rep->diffs[2].new_result, "12");
    hb_replay_report_free(rep);
    hb_manager_free(m);
}

/* Only the edited function is reported; an excluded one never is. */
static void test_exclude_and_only_changed(void)
{
    hb_manager *m = e2e_manager(&g_ev);
    const char *extra_v1 = "int32_t score(int32_t x) { return x * 2; }\n"
                           "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);";
    const char *extra_v2 = "int32_t score(int32_t x) { return x * 3; }\n"
                           "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);";
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, extra_v1));
    hb_sandbox *sb = recording_sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(incr(sb), 1);
    int32_t s = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "score", "i)i", 4, &s));
    HB_CHECK_EQ(s, 8);
    hb_sandbox_free(sb);
    e2e_write("counter", "counter.c", e2e_counter_src(1, 1, extra_v2));
    hb_replay_report *rep = replay(m, dir, NULL);
    HB_CHECK_EQ(rep->ndiffs, 1);
    HB_CHECK_STR(rep->diffs[0].function, "score");
    HB_CHECK_STR(rep->diffs[0].args, "(4)");
    HB_CHECK_STR(rep->diffs[0].old_result, "8");
    HB_CHECK_STR(rep->diffs[0].new_result, "12");
    hb_replay_report_free(rep);
    const char *const ex[] = {"score", NULL};
    rep = replay(m, dir, ex);
    HB_CHECK_EQ(rep->ndiffs, 0);
    HB_CHECK_EQ(rep->excluded, 1);
    HB_CHECK_EQ(rep->calls, 2);
    hb_replay_report_free(rep);
    hb_manager_free(m);
}

/* A corrupt recording: -EBADMSG naming the file and the record's offset. */
static void test_corrupt_recording(void)
{
    hb_manager *m = e2e_manager(&g_ev);
    char *dir = record_two_segments(m);
    FILE *f = fopen(recording(), "a");
    HB_CHECK(f != NULL);
    /* a whole record of an unknown kind: u32 9, kind 7, 8 bytes */
    HB_CHECK(fwrite("\x09\0\0\0\x07garbage!", 1, 13, f) == 13);
    HB_CHECK(fclose(f) == 0);
    struct stat st;
    HB_CHECK(stat(recording(), &st) == 0);
    hb_replay_options o = HB_REPLAY_OPTIONS_INIT;
    hb_replay_report *rep = NULL;
    HB_CHECK_EQ(hb_replay(m, dir, &o, &rep), -EBADMSG);
    HB_CHECK(rep == NULL);
    char want[4600];
    snprintf(want, sizeof(want), "%s:%lld: unknown record kind", recording(),
             (long long)st.st_size - 13);
    HB_CHECK_CONTAINS(hb_manager_last_error(m), want);
    hb_manager_free(m);
}

/* No recording of the plugin: -ENOENT saying how to make one. */
static void test_no_recording(void)
{
    hb_manager *m = e2e_manager(&g_ev);
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_replay_options o = HB_REPLAY_OPTIONS_INIT;
    hb_replay_report *rep = NULL;
    HB_CHECK_EQ(hb_replay(m, dir, &o, &rep), -ENOENT);
    HB_CHECK_CONTAINS(hb_manager_last_error(m), "--record");
    hb_manager_free(m);
}

/* A new version that crashes: the call's outcome is the crash, reported as
 * a difference; the replay goes on and the next segment starts afresh. */
static void test_crash_is_a_difference(void)
{
    hb_manager *m = e2e_manager(&g_ev);
    char *dir = record_two_segments(m);
    /* increment crashes in the edited version */
    e2e_write("counter", "counter.c",
              "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
              "static int64_t count;\n"
              "int64_t increment(void) { if (count >= 1) { volatile int *p = 0; *p = 1; } return ++count; }\n"
              "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = count; *d = p; *l = 8; return 0; }\n"
              "static int migrate(const void *d, size_t l, uint32_t s) { if (s != 1 || l != 8) return -1; memcpy(&count, d, 8); return 0; }\n"
              "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);\n");
    hb_replay_report *rep = replay(m, dir, NULL);
    /* segment 1: 1 == 1, then 2 vs a crash; segment 2 (count 2): 3 vs a crash */
    HB_CHECK_EQ(rep->calls, 3);
    HB_CHECK_EQ(rep->ndiffs, 2);
    HB_CHECK_EQ(rep->diffs[0].index, 1);
    HB_CHECK_STR(rep->diffs[0].old_result, "2");
    HB_CHECK_CONTAINS(rep->diffs[0].new_result, "error -1003");
    HB_CHECK_STR(rep->diffs[1].old_result, "3");
    HB_CHECK_CONTAINS(rep->diffs[1].new_result, "error -1003");
    hb_replay_report_free(rep);
    hb_manager_free(m);
}

/* A version-4 caller's struct ends before record_dir: whatever lies there
 * is not read, and nothing is recorded. hb_replay_options past the current
 * version is refused. */
static void test_options_versions(void)
{
    hb_manager *m = e2e_manager(&g_ev);
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_sandbox_options o;
    HB_CHECK_OK(hb_sandbox_options_init(&o, HB_SANDBOX_OPTIONS_VERSION));
    o.version = 4;
    o.record_dir = (const char *)(uintptr_t)1; /* not a string: must not be read */
    hb_sandbox *sb = e2e_loaded(m, &o, dir);
    HB_CHECK_EQ(incr(sb), 1);
    hb_sandbox_free(sb);
    struct stat st;
    HB_CHECK(stat(recording(), &st) < 0 && errno == ENOENT);
    hb_replay_options ro = HB_REPLAY_OPTIONS_INIT;
    ro.version = HB_REPLAY_OPTIONS_VERSION + 1;
    hb_replay_report *rep = NULL;
    HB_CHECK_EQ(hb_replay(m, dir, &ro, &rep), HB_EOPTVERSION);
    HB_CHECK(rep == NULL);
    hb_manager_free(m);
}

static const e2e_case cases[] = {
    {"edit_reports_changed_calls", test_edit_reports_changed_calls},
    {"exclude_and_only_changed", test_exclude_and_only_changed},
    {"corrupt_recording", test_corrupt_recording},
    {"no_recording", test_no_recording},
    {"crash_is_a_difference", test_crash_is_a_difference},
    {"options_versions", test_options_versions},
};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
