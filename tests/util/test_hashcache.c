/* tests/util/test_hashcache.c - hb__sha256_file_cached: a file that did
 * not change is read once; every change is seen, including rewrites of the
 * same size in the same clock tick (where size, mtime and ctime may all
 * stay the same). hb__dir_sources_cached (util/dircache.c): a plugin
 * directory holding thousands of unrelated files is read once while its
 * entries stay the same, and every source created, renamed in, removed or
 * renamed away is seen at the next hb_compiler_list_sources, also in the
 * same clock tick as the listing before it. One case per process. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "compiler.h"
#include "fileid.h"
#include "hbtest.h"
#include "util.h"

static char dir[64];

static void cleanup(void)
{
    if (dir[0])
        hb__rm_rf(dir);
}

static char *fresh_file(const char *content)
{
    snprintf(dir, sizeof(dir), "/tmp/hb-hashcache-XXXXXX");
    HB_CHECK(mkdtemp(dir) != NULL);
    atexit(cleanup);
    char *path = hb__asprintf("%s/f.c", dir);
    HB_CHECK(path != NULL);
    HB_CHECK_OK(hb__write_file_atomic(path, content, strlen(content), 0644));
    return path;
}

/* Rewrites path in place (same inode), no fsync. */
static void rewrite(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK_OK(hb__write_full(fd, content, strlen(content)));
    HB_CHECK_EQ(close(fd), 0);
}

/* Waits until the coarse clock is past the file's ctime (the next tick,
 * a few ms at most): from then on its hash may be remembered. The deadline
 * is the failure path. */
static void wait_tick_after_ctime(const char *path)
{
    struct stat st;
    HB_CHECK_EQ(stat(path, &st), 0);
    uint64_t end = hb__now_ns() + 2000000000ull;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
        if (now.tv_sec > st.st_ctim.tv_sec ||
            (now.tv_sec == st.st_ctim.tv_sec && now.tv_nsec > st.st_ctim.tv_nsec))
            return;
        if (hb__now_ns() > end)
            HB_FAIL_("the coarse clock did not pass %s's ctime within 2 s", path);
    }
}

static void need_fine_timestamps(void)
{
    struct statfs sfs;
    HB_CHECK_EQ(statfs("/tmp", &sfs), 0);
    unsigned long type = (unsigned long)sfs.f_type;
    if (type != 0xEF53 && type != 0x58465342 && type != 0x01021994 && type != 0x9123683EUL)
        HB_SKIP("/tmp is not ext4, xfs, btrfs or tmpfs: nothing is remembered there");
}

/* An unchanged file is read once; a change is read again. */
static void case_read_once(void)
{
    need_fine_timestamps();
    char *path = fresh_file("int a;\n");
    wait_tick_after_ctime(path);
    hb__hash_cache_clear();
    char h1[HB_SHA256_HEX], h2[HB_SHA256_HEX], want[HB_SHA256_HEX];
    HB_CHECK_OK(hb__sha256_file_cached(path, h1));
    HB_CHECK_OK(hb__sha256_file_cached(path, h2));
    HB_CHECK_OK(hb__sha256_file_cached(path, h2));
    uint64_t hits, reads;
    hb__hash_cache_stats(&hits, &reads);
    HB_CHECK_EQ(reads, 1);
    HB_CHECK_EQ(hits, 2);
    HB_CHECK_STR(h1, h2);
    rewrite(path, "int b;\n"); /* same size */
    HB_CHECK_OK(hb__sha256_file_cached(path, h2));
    HB_CHECK_OK(hb__sha256_file(path, want));
    HB_CHECK_STR(h2, want);
    HB_CHECK(strcmp(h1, h2) != 0);
    hb__hash_cache_stats(&hits, &reads);
    HB_CHECK_EQ(reads, 2);
    free(path);
}

/* Same-size rewrites as fast as the machine goes, hashed after each: the
 * answer is always the file's content, never a remembered older one. */
static void case_same_tick_rewrites(void)
{
    char *path = fresh_file("v=0000\n");
    hb__hash_cache_clear();
    char got[HB_SHA256_HEX], want[HB_SHA256_HEX], text[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(text, sizeof(text), "v=%04d\n", i % 10000);
        rewrite(path, text);
        HB_CHECK_OK(hb__sha256_file_cached(path, got));
        hb__sha256_hex(text, strlen(text), want);
        if (strcmp(got, want) != 0)
            HB_FAIL_("rewrite %d: the cache answered %s, the content is %s", i, got, want);
    }
    free(path);
}

/* ---- hb__dir_sources_cached: a directory's names by its identity ---- */

#define UNRELATED 3000

static void put_in_dir(const char *name, const char *text)
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
    put_in_dir("a.c", "int a;\n");
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

/* An unchanged directory is read once however often it is listed. */
static void case_dir_read_once(void)
{
    need_fine_timestamps();
    make_dir();
    wait_tick_after_ctime(dir);
    unsigned long before = hb__dir_cache_reads();
    for (int i = 0; i < 5; i++)
        expect_sources("a.c");
    HB_CHECK_EQ(hb__dir_cache_reads() - before, 1);
    put_in_dir("a.c", "int a2;\n"); /* an atomic save: a rename into the directory */
    expect_sources("a.c");
    HB_CHECK_EQ(hb__dir_cache_reads() - before, 2);
}

/* Every change of the entries is seen at once, without waiting for a tick
 * between the changes and the listings. */
static void case_dir_sees_changes(void)
{
    make_dir();
    expect_sources("a.c");
    put_in_dir("b.c", "int b;\n"); /* renamed in */
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
    wait_tick_after_ctime(dir); /* remembered now: still seen when removed */
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

/* What hb__sha256_file refuses is refused the same way. */
static void case_errors(void)
{
    char h[HB_SHA256_HEX];
    HB_CHECK_EQ(hb__sha256_file_cached("/nonexistent/hb-hashcache", h), -ENOENT);
    HB_CHECK_EQ(hb__sha256_file_cached("/proc/self/status", h), -EINVAL);
    HB_CHECK_EQ(hb__sha256_file_cached("/tmp", h), hb__sha256_file("/tmp", h));
}

int main(int argc, char **argv)
{
    if (argc != 2)
        HB_FAIL_("usage: %s read_once|same_tick_rewrites|errors|dir_read_once|dir_sees_changes", argv[0]);
    if (!strcmp(argv[1], "read_once"))
        case_read_once();
    else if (!strcmp(argv[1], "same_tick_rewrites"))
        case_same_tick_rewrites();
    else if (!strcmp(argv[1], "errors"))
        case_errors();
    else if (!strcmp(argv[1], "dir_read_once"))
        case_dir_read_once();
    else if (!strcmp(argv[1], "dir_sees_changes"))
        case_dir_sees_changes();
    else
        HB_FAIL_("unknown case %s", argv[1]);
    printf("PASS %s\n", argv[1]);
    return 0;
}
