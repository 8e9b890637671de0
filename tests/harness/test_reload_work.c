/* tests/harness/test_reload_work.c - work done once per reload: each new
 * object is hashed once (while the store copies it in) and analysed once
 * (right after its compile); loading it, and loading it again later (a
 * rollback), hashes and analyses nothing more while the file is unchanged.
 * A file changed on disk is hashed again (and found corrupt). One case per
 * process: test_reload_work <case>. */
#include "e2e.h"
#include "elf.h"
#include "store.h"

static e2e_events ev;

typedef struct work {
    uint64_t hashed, analysed;
} work;

static work now(void)
{
    return (work){hb_store_objects_hashed(), hb_elf_analyses()};
}

static void expect_work(work before, uint64_t hashed, uint64_t analysed, const char *what)
{
    work after = now();
    uint64_t h = after.hashed - before.hashed, a = after.analysed - before.analysed;
    if (h != hashed || a != analysed)
        HB_FAIL_("%s: %llu object hash(es) and %llu ELF analys(es), want %llu and %llu", what,
                 (unsigned long long)h, (unsigned long long)a, (unsigned long long)hashed,
                 (unsigned long long)analysed);
}

static void case_once_per_reload(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    work w = now();
    HB_CHECK_OK(hb_load(sb, dir));
    expect_work(w, 1, 1, "first load (compile, store, load)");
    e2e_write("counter", "counter.c", e2e_counter_src(2, 100, NULL));
    w = now();
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    expect_work(w, 1, 1, "reload of an edited plugin");
    /* v1 is stored and was checked when it was loaded: going back to it
     * neither hashes nor analyses. */
    w = now();
    HB_CHECK_OK(hb_rollback(sb, "counter", 1));
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    expect_work(w, 0, 0, "rollback to a version already checked");
    /* A stored object written to since is hashed again, and refused. */
    hb_version_info *vi = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    HB_CHECK_EQ(n, 2);
    char path[4400];
    snprintf(path, sizeof(path), "%s/.hotbox/objects/%s.so", e2e_root, vi[1].object_sha256);
    hb_free(vi);
    FILE *f = fopen(path, "r+b");
    HB_CHECK(f != NULL);
    HB_CHECK_EQ(fseek(f, 200, SEEK_SET), 0);
    int c = fgetc(f);
    HB_CHECK_EQ(fseek(f, 200, SEEK_SET), 0);
    HB_CHECK(fputc(c ^ 0xff, f) != EOF);
    HB_CHECK_EQ(fclose(f), 0);
    w = now();
    HB_CHECK_EQ(hb_rollback(sb, "counter", 2), HB_ECORRUPT);
    expect_work(w, 1, 0, "rollback to an object altered on disk");
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"once_per_reload", case_once_per_reload},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
