/* tests/util/test_helpers.c - the small shared helpers that replaced copies
 * (issue 13): enum names from one table (hb__enum_name), appending to an
 * array (hb__push), asking a directory's entries (hb__dir_any), and
 * transferring all of a message on a socket by a deadline
 * (hb__send_full_until / hb__recv_full_until). One case per process. */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hbtest.h"
#include "util.h"

enum color { RED, GREEN, BLUE, MAUVE };
static const char *const color_names[] = {[RED] = "red", [GREEN] = "green", [BLUE] = "blue"};

static HB_ENUM_NAMES(color_name, enum color, [RED] = "red", [BLUE] = "blue")

static void case_enum_name(void)
{
    HB_CHECK_STR(color_name(RED), "red");
    HB_CHECK_STR(color_name(GREEN), "unknown"); /* a name left out */
    HB_CHECK_STR(color_name(BLUE), "blue");
    HB_CHECK_STR(color_name(MAUVE), "unknown");
    HB_CHECK_STR(HB_ENUM_NAME(color_names, RED), "red");
    HB_CHECK_STR(HB_ENUM_NAME(color_names, BLUE), "blue");
    /* Past the table, negative, or a hole: "unknown", never out of bounds. */
    HB_CHECK_STR(HB_ENUM_NAME(color_names, MAUVE), "unknown");
    HB_CHECK_STR(HB_ENUM_NAME(color_names, -1), "unknown");
    static const char *const holes[] = {[0] = "zero", [2] = "two"};
    HB_CHECK_STR(HB_ENUM_NAME(holes, 1), "unknown");
    HB_CHECK_STR(HB_ENUM_NAME(holes, 2), "two");
}

typedef struct item {
    char *name;
    int n;
} item;

static void case_push(void)
{
    item *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 100; i++) {
        item *it = hb__push(&v, &n, &cap, sizeof(*it));
        HB_CHECK(it != NULL);
        HB_CHECK(it->name == NULL && it->n == 0); /* zeroed */
        HB_CHECK_INT(n, ==, (size_t)i + 1);
        HB_CHECK(it == &v[i]);
        it->n = i;
    }
    HB_CHECK_INT(cap, >=, n);
    for (int i = 0; i < 100; i++)
        HB_CHECK_EQ(v[i].n, i);
    /* An impossible size fails and leaves the array as it was. */
    size_t big_cap = n;
    item *before = v;
    HB_CHECK(hb__push(&v, &n, &big_cap, SIZE_MAX / 4) == NULL);
    HB_CHECK(v == before);
    HB_CHECK_INT(n, ==, (size_t)100);
    free(v);
}

static bool named(const char *dir, const char *name, void *arg)
{
    return strcmp(name, arg) == 0;
}

static void case_dir_any(void)
{
    char dir[] = "/tmp/hb-dirany-XXXXXX";
    HB_CHECK(mkdtemp(dir) != NULL);
    char *f = hb__path_join(dir, "a.c"), *h = hb__path_join(dir, ".hidden");
    HB_CHECK_OK(hb__write_file_atomic(f, "x", 1, 0644));
    HB_CHECK_OK(hb__write_file_atomic(h, "x", 1, 0644));
    HB_CHECK_EQ(hb__dir_any(dir, named, "a.c"), 1);
    HB_CHECK_EQ(hb__dir_any(dir, named, "b.c"), 0);
    HB_CHECK_EQ(hb__dir_any(dir, named, ".hidden"), 0); /* dot-names are skipped */
    HB_CHECK_EQ(hb__dir_any(dir, named, "."), 0);
    char *missing = hb__path_join(dir, "nope");
    HB_CHECK_EQ(hb__dir_any(missing, named, "a.c"), -ENOENT);
    hb__rm_rf(dir);
    free(f);
    free(h);
    free(missing);
}

static void case_sock_full(void)
{
    int sv[2];
    HB_CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    uint64_t deadline = hb__now_ns() + 5000000000ull;
    HB_CHECK_OK(hb__send_full_until(sv[0], "hello", 5, deadline));
    char buf[8] = "";
    HB_CHECK_OK(hb__recv_full_until(sv[1], buf, 5, deadline));
    HB_CHECK_STR(buf, "hello");
    /* Nothing more comes: the deadline ends the wait. */
    HB_CHECK_EQ(hb__recv_full_until(sv[1], buf, 1, hb__now_ns() + 20000000u), -ETIMEDOUT);
    /* The peer closes part-way: -ECONNRESET, not a hang. */
    HB_CHECK_OK(hb__send_full_until(sv[0], "ab", 2, deadline));
    close(sv[0]);
    HB_CHECK_EQ(hb__recv_full_until(sv[1], buf, 4, deadline), -ECONNRESET);
    /* Sending to a closed peer is -EPIPE, not SIGPIPE. */
    HB_CHECK_EQ(hb__send_full_until(sv[1], "x", 1, deadline), -EPIPE);
    close(sv[1]);
    /* A pipe is not a socket: the caller falls back on its own. */
    int p[2];
    HB_CHECK_OK(pipe2(p, O_CLOEXEC));
    HB_CHECK_EQ(hb__send_full_until(p[1], "x", 1, deadline), -ENOTSOCK);
    close(p[0]);
    close(p[1]);
}

/* hb__read_file refuses a FIFO at once (a planted one used to block the
 * open until a writer came: a cache file or plugin.json as a FIFO hung
 * hotbox). alarm() is the deadline. */
static void case_read_fifo(void)
{
    char dir[] = "/tmp/hb-readfifo-XXXXXX";
    HB_CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof(path), "%s/f", dir);
    HB_CHECK_EQ(mkfifo(path, 0600), 0);
    alarm(10);
    void *data = NULL;
    size_t len = 0;
    int r = hb__read_file(path, 4096, &data, &len);
    alarm(0);
    HB_CHECK_EQ(r, -EINVAL);
    HB_CHECK(data == NULL);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"enum_name", case_enum_name},
        {"push", case_push},
        {"dir_any", case_dir_any},
        {"sock_full", case_sock_full},
        {"read_fifo", case_read_fifo},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
