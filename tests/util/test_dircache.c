/* tests/util/test_dircache.c - hb__dir_sources_cached: a plugin directory
 * that holds thousands of unrelated files is read once while its entries
 * stay the same, and every source created, renamed in, removed or renamed
 * away is seen at the next listing (hb_compiler_list_sources), also in
 * the same clock tick as the listing before it. One case per process. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "fileid.h"
#include "hbtest.h"
#include "compiler.h"
#include "util.h"

#define UNRELATED 3000

static char dir[64];

static void cleanup(void)
{
    if (dir[0])
        hb__rm_rf(dir);
}

static void put(const char *name, const char *text)
{
    char *path = hb__asprintf("%s/%s", dir, name);
    HB_CHECK(path != NULL);
    HB_CHECK_OK(hb__write_file_atomic(path, text, strlen(text), 0644));
    free(path);
}

/* A plugin directory: one source, UNRELATED other files (some in a
 * subdirectory). */
static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/hb-dircache-XXXXXX");
    HB_CHECK(mkdtemp(dir) != NULL);
    atexit(cleanup);
    put("a.c", "int a;\n");
    char *sub = hb__asprintf("%s/vendor", dir);
    HB_CHECK(sub != NULL && mkdir(sub, 0755) == 0);
    free(sub);
    for (int i = 0; i < UNRELATED; i++) {
        char name[128];
        snprintf(name, sizeof(name), i % 2 ? "%s/vendor/f%05d.txt" : "%s/f%05d.txt", dir, i);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644); /* no fsync */
        HB_CHECK(fd >= 0);
        HB_CHECK_EQ(close(fd), 0);
    }
}

/* Waits until the coarse clock is past the directory's ctime: from then
 * on its list may be remembered. The deadline is the failure path. */
static void wait_tick_after_ctime(void)
{
    struct stat st;
    HB_CHECK_EQ(stat(dir, &st), 0);
    uint64_t end = hb__now_ns() + 2000000000ull;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
        if (now.tv_sec > st.st_ctim.tv_sec ||
            (now.tv_sec == st.st_ctim.tv_sec && now.tv_nsec > st.st_ctim.tv_nsec))
            return;
        if (hb__now_ns() > end)
            HB_FAIL_("the coarse clock did not pass %s's ctime within 2 s", dir);
    }
}

/* The sources hb_compiler_list_sources gives, as base names joined by ' '. */
static char *sources(void)
{
    char **v = NULL;
    HB_CHECK_OK(hb_compiler_list_sources(dir, &v));
    hb_sb b = HB_SB_INIT;
    for (size_t i = 0; v[i]; i++) {
        const char *slash = strrchr(v[i], '/');
        hb__sb_addf(&b, "%s%s", i ? " " : "", slash ? slash + 1 : v[i]);
    }
    hb__strv_free(v);
    char *s = hb__sb_detach(&b);
    HB_CHECK(s != NULL);
    return s;
}

static void expect_sources(const char *want)
{
    char *got = sources();
    HB_CHECK_STR(got, want);
    free(got);
}

static void need_fine_timestamps(void)
{
    if (!hb__fine_timestamps("/tmp"))
        HB_SKIP("/tmp is not ext4, xfs, btrfs, tmpfs or f2fs: nothing is remembered there");
}

/* An unchanged directory is read once however often it is listed. */
static void case_read_once(void)
{
    need_fine_timestamps();
    make_dir();
    wait_tick_after_ctime();
    unsigned long before = hb__dir_cache_reads();
    for (int i = 0; i < 5; i++)
        expect_sources("a.c");
    HB_CHECK_EQ(hb__dir_cache_reads() - before, 1);
    put("a.c", "int a2;\n"); /* an atomic save: a rename into the directory */
    expect_sources("a.c");
    HB_CHECK_EQ(hb__dir_cache_reads() - before, 2);
}

/* Every change of the entries is seen at once, without waiting for a tick
 * between the changes and the listings. */
static void case_sees_changes(void)
{
    make_dir();
    expect_sources("a.c");
    put("b.c", "int b;\n"); /* renamed in */
    expect_sources("a.c b.c");
    char *p = hb__asprintf("%s/c.c", dir);
    HB_CHECK(p != NULL);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644); /* created in place */
    HB_CHECK(fd >= 0);
    HB_CHECK_EQ(close(fd), 0);
    expect_sources("a.c b.c c.c");
    char *q = hb__asprintf("%s/c.txt", dir);
    HB_CHECK(q != NULL);
    HB_CHECK_EQ(rename(p, q), 0); /* renamed away */
    expect_sources("a.c b.c");
    HB_CHECK_EQ(rename(q, p), 0); /* and back */
    expect_sources("a.c b.c c.c");
    HB_CHECK_EQ(unlink(p), 0);
    expect_sources("a.c b.c");
    wait_tick_after_ctime(); /* remembered now: still seen when removed */
    expect_sources("a.c b.c");
    char *b = hb__asprintf("%s/b.c", dir);
    HB_CHECK(b != NULL);
    HB_CHECK_EQ(unlink(b), 0);
    expect_sources("a.c");
    HB_CHECK(mkdir(b, 0755) == 0); /* a directory named like a source is none */
    expect_sources("a.c");
    free(p);
    free(q);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        HB_FAIL_("usage: %s read_once|sees_changes", argv[0]);
    if (!strcmp(argv[1], "read_once"))
        case_read_once();
    else if (!strcmp(argv[1], "sees_changes"))
        case_sees_changes();
    else
        HB_FAIL_("unknown case %s", argv[1]);
    printf("PASS %s\n", argv[1]);
    return 0;
}
