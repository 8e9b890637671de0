/* tests/util/test_fileid.c - util/fileid.h, the one file identity: a
 * hard link (what the harness does to the store's objects) moves ctime, so
 * hb__file_id_same sees a change while hb__file_id_same_bytes does not; a
 * rewrite is a change to both; a file changed at or after t0 is racy. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileid.h"
#include "hbtest.h"
#include "util.h"

static char dir[64];

static void cleanup(void)
{
    if (dir[0])
        hb__rm_rf(dir);
}

/* Waits until the coarse clock has passed t (no sleep: polls the clock). */
static void wait_past(const struct timespec *t)
{
    struct timespec now;
    uint64_t deadline = hb__now_ns() + 5000000000ull;
    do {
        HB_CHECK(hb__now_ns() < deadline);
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
    } while (now.tv_sec < t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec <= t->tv_nsec));
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/hb-fileid-XXXXXX");
    HB_CHECK(mkdtemp(dir) != NULL);
    atexit(cleanup);
    char *f = hb__path_join(dir, "obj"), *l = hb__path_join(dir, "view");
    HB_CHECK_OK(hb__write_file_atomic(f, "abc", 3, 0644));
    struct stat st, now;
    HB_CHECK(stat(f, &st) == 0);
    hb_file_id id = hb__file_id(&st);
    HB_CHECK(hb__file_id_same(&id, &st));
    HB_CHECK(hb__file_id_same_bytes(&id, &st));

    /* t0 strictly after the file's ctime, the link strictly after t0. */
    struct timespec t0;
    wait_past(&st.st_ctim);
    clock_gettime(CLOCK_REALTIME_COARSE, &t0);
    wait_past(&t0);
    HB_CHECK(link(f, l) == 0);
    HB_CHECK(stat(f, &now) == 0);
    /* The link moved ctime (the clock ticked since), not the bytes. */
    HB_CHECK(!hb__file_id_same(&id, &now));
    HB_CHECK(hb__file_id_same_bytes(&id, &now));
    hb_file_id moved = hb__file_id(&now);
    HB_CHECK(hb__file_id_racy(&moved, &t0));
    HB_CHECK(!hb__file_id_racy(&id, &t0));

    int fd = open(f, O_WRONLY | O_APPEND | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK(write(fd, "d", 1) == 1);
    close(fd);
    HB_CHECK(stat(f, &now) == 0);
    HB_CHECK(!hb__file_id_same(&id, &now));
    HB_CHECK(!hb__file_id_same_bytes(&id, &now));
    free(f);
    free(l);
    puts("PASS test_fileid");
    return 0;
}
