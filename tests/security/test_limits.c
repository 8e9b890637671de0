/* Unit tests of util/rlimit (hb__limits_apply): each limit is applied in a child and then
 * observed (the child reports through its exit status). */
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "security.h"

static int run_child(const hb_limits *l, int (*body)(void))
{
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0) {
        const char *failed = NULL;
        if (hb__limits_apply(l, &failed) < 0)
            _exit(100);
        _exit(body());
    }
    int st;
    HB_CHECK(waitpid(p, &st, 0) == p);
    return st;
}

static int check_nofile(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur == 16 ? 0 : 1;
}

static int check_nofile_capped(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur == rl.rlim_max ? 0 : 1;
}

static int alloc_big(void)
{
    void *p = malloc(512u << 20);
    return p == NULL ? 0 : 1; /* the limit must make this fail */
}

static int write_big(void)
{
    signal(SIGXFSZ, SIG_IGN);
    FILE *f = tmpfile();
    if (!f)
        return 2;
    char buf[8192] = {0};
    size_t total = 0;
    while (total < (1u << 20)) {
        if (fwrite(buf, 1, sizeof(buf), f) != sizeof(buf) || fflush(f) != 0)
            return 0; /* stopped by RLIMIT_FSIZE */
        total += sizeof(buf);
    }
    return 1;
}

int main(void)
{
    hb_limits l = {.open_files = 16};
    int st = run_child(&l, check_nofile);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0);

#if defined(__SANITIZE_ADDRESS__)
    /* ASan reserves terabytes of shadow memory: RLIMIT_AS cannot be
     * tested inside a sanitized process. */
    if (0) {
#else
    {
#endif
        hb_limits mem = {.memory_bytes = 256u << 20};
        st = run_child(&mem, alloc_big);
        HB_CHECK(WIFEXITED(st));
        HB_CHECK_EQ(WEXITSTATUS(st), 0);
    }

    hb_limits fs = {.file_size = 64 << 10, .no_core = 1};
    st = run_child(&fs, write_big);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0);

    /* Asking for more than the hard limit caps at it instead of failing. */
    struct rlimit cur;
    getrlimit(RLIMIT_NOFILE, &cur);
    if (cur.rlim_max != RLIM_INFINITY) {
        hb_limits up = {.open_files = (uint64_t)cur.rlim_max + 1000};
        st = run_child(&up, check_nofile_capped);
        HB_CHECK(WIFEXITED(st));
        HB_CHECK_EQ(WEXITSTATUS(st), 0);
    }
    puts("PASS test_limits");
    return 0;
}
