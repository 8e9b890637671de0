/* tests/harness/test_build_memo.c - hb_load right after hb_build takes the
 * version that build gave instead of looking the build cache up again
 * (issue 14: `hotbox test` builds every plugin, then loads each), and still
 * notices a save made between the two. Lookups are counted with
 * hb__build_cache_lookups. One case per process: test_build_memo <case>.
 *   load_after_build  no second lookup; the built version is the one loaded
 *   save_renamed      a save between (temp file + rename) is loaded instead
 *   save_in_place     the same with the file rewritten in place, same size
 *   dropped           a version gone from the store since is not taken */
#include <fcntl.h>
#include <sqlite3.h>

#include "e2e.h"
#include "harness.h"

static e2e_events ev;

static uint64_t active(hb_sandbox *sb)
{
    uint64_t v = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &v));
    return v;
}

static int64_t increment(hb_sandbox *sb)
{
    int64_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    return v;
}

static void case_load_after_build(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_version_info built;
    HB_CHECK_OK(hb_build(m, dir, &built)); /* compiles */
    HB_CHECK_OK(hb_build(m, dir, &built)); /* a cache hit */
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    uint64_t before = hb__build_cache_lookups();
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(hb__build_cache_lookups() - before, 0);
    HB_CHECK_EQ(active(sb), built.version);
    HB_CHECK_EQ(increment(sb), 1);
    /* Another sandbox of the same manager loads it the same way. */
    hb_sandbox *sb2;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb2));
    HB_CHECK_OK(hb_load(sb2, dir));
    HB_CHECK_EQ(hb__build_cache_lookups() - before, 0);
    HB_CHECK_EQ(active(sb2), built.version);
    hb_sandbox_free(sb2);
    e2e_free(sb, m);
}

/* Saves step 5 where step 1 was (the same length), renamed into place or
 * written over the file. */
static void save_step5(const char *dir, bool in_place)
{
    if (!in_place) {
        e2e_write("counter", "counter.c", e2e_counter_src(1, 5, NULL));
        return;
    }
    char path[4300];
    snprintf(path, sizeof(path), "%s/counter.c", dir);
    char *src = e2e_counter_src(1, 5, NULL);
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK_OK(hb__write_full(fd, src, strlen(src)));
    HB_CHECK_OK(close(fd));
}

static void save_between(bool in_place)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_version_info built;
    HB_CHECK_OK(hb_build(m, dir, &built));
    HB_CHECK_OK(hb_build(m, dir, &built)); /* remembered from a cache hit */
    save_step5(dir, in_place);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    uint64_t now = active(sb);
    if (now == built.version)
        HB_FAIL_("the load took v%llu, built before the save", (unsigned long long)now);
    HB_CHECK_EQ(increment(sb), 5); /* the saved source runs */
    e2e_free(sb, m);
}

static void case_save_renamed(void)
{
    save_between(false);
}

static void case_save_in_place(void)
{
    save_between(true);
}

static void case_dropped(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_version_info built;
    HB_CHECK_OK(hb_build(m, dir, &built));
    /* The version leaves the catalogue (another manager's gc, a recovery):
     * what was remembered is not handed out. */
    char db_path[4400];
    snprintf(db_path, sizeof(db_path), "%s/.hotbox/hotbox.db", e2e_root);
    sqlite3 *db = NULL;
    HB_CHECK_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM versions WHERE plugin='counter' AND version=%llu",
             (unsigned long long)built.version);
    HB_CHECK_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    HB_CHECK_EQ(sqlite3_changes(db), 1);
    sqlite3_close(db);
    hb_version_rec out;
    HB_CHECK_EQ(hb__build_memo_get(m, dir, "counter", &out), -ENOENT);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    uint64_t before = hb__build_cache_lookups();
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(hb__build_cache_lookups() - before, 1);
    HB_CHECK_EQ(increment(sb), 1);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"load_after_build", case_load_after_build},
        {"save_renamed", case_save_renamed},
        {"save_in_place", case_save_in_place},
        {"dropped", case_dropped},
    };
    return e2e_main(argc, argv, cases, HB_ARRAY_SIZE(cases));
}
