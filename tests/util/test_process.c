/* util/process.h (hb__spawn) and util/argv.h, one case per process (argv[1]):
 *   fds       the child gets 0-2 and its fd map, permuted without
 *             clobbering, and nothing else (not even a non-CLOEXEC fd);
 *   exec      a missing program fails hb__spawn itself, naming it, and
 *             leaves no child behind;
 *   main      child_main runs in the child with a status as exit code, and
 *             limits, cwd and the new process group are applied;
 *   argv      the argv builder: push, pushf, pushl, push_all, detach. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "hbtest.h"
#include "process.h"
#include "util.h"

static int wait_status(pid_t pid)
{
    int st = -1;
    HB_CHECK_EQ(hb__wait_pid(pid, &st, 0), pid);
    return st;
}

static void test_fds(void)
{
    int a[2], b[2];
    HB_CHECK_OK(pipe2(a, O_CLOEXEC));
    HB_CHECK_OK(pipe2(b, O_CLOEXEC));
    int stray = open("/dev/null", O_RDONLY); /* not CLOEXEC on purpose */
    HB_CHECK(stray >= 0);
    /* Put a's write end at fd 5 and b's at 6 in a way that needs a permute
     * when they already sit there. */
    int fa = fcntl(a[1], F_DUPFD_CLOEXEC, 20), fb = fcntl(b[1], F_DUPFD_CLOEXEC, 20);
    HB_CHECK(fa >= 0 && fb >= 0);
    const hb_spawn_fd map[] = {{fa, 6}, {fb, 5}, {HB_SPAWN_DEVNULL, 0}};
    /* Writes "6" to fd 6 and "5" to fd 5, then lists its fds on fd 6. */
    char *const argv[] = {"/bin/sh", "-c",
                          "printf 6 >&6; printf 5 >&5; exec 5>&-; ls /proc/self/fd >&6", NULL};
    hb_spawn sp = {.argv = argv, .fds = map, .nfds = HB_ARRAY_SIZE(map)};
    pid_t pid = -1;
    int pidfd = -1;
    char *err = NULL;
    HB_CHECK_OK(hb__spawn(&sp, &pid, &pidfd, &err));
    HB_CHECK(pidfd >= 0);
    HB_CHECK(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
    close(fa);
    close(fb);
    close(a[1]);
    close(b[1]);
    close(stray);
    char out_a[256] = {0}, out_b[16] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = read(a[0], out_a + got, sizeof(out_a) - 1 - got)) > 0)
        got += (size_t)n;
    HB_CHECK(read(b[0], out_b, sizeof(out_b) - 1) == 1);
    HB_CHECK_STR(out_b, "5");
    HB_CHECK(WIFEXITED(wait_status(pid)));
    printf("the child's fd 6 said: %s\n", out_a);
    HB_CHECK(out_a[0] == '6');
    /* ls's listing: 0 1 2 3 (its own directory) 6, nothing else. */
    char *list = out_a + 1;
    for (char *l = strtok(list, "\n"); l; l = strtok(NULL, "\n")) {
        int fd = atoi(l);
        if (fd != 0 && fd != 1 && fd != 2 && fd != 3 && fd != 6)
            HB_FAIL_("the child holds fd %d it was not given", fd);
    }
    close(pidfd);
    close(a[0]);
    close(b[0]);
}

static void test_exec(void)
{
    char *const argv[] = {"/nonexistent/hb-no-such-program", NULL};
    hb_spawn sp = {.argv = argv};
    pid_t pid = -1;
    char *err = NULL;
    int r = hb__spawn(&sp, &pid, NULL, &err);
    HB_CHECK_EQ(r, -ENOENT);
    HB_CHECK_EQ(pid, -1);
    HB_CHECK_CONTAINS(err, "/nonexistent/hb-no-such-program");
    HB_CHECK_EQ(hb__wait_pid(-1, NULL, WNOHANG), -ECHILD); /* reaped */
    free(err);
    err = NULL;
    sp.cwd = "/nonexistent-dir";
    char *const ok[] = {"/bin/true", NULL};
    sp.argv = ok;
    r = hb__spawn(&sp, &pid, NULL, &err);
    HB_CHECK_EQ(r, -ENOENT);
    HB_CHECK_CONTAINS(err, "chdir");
    free(err);
}

static int child_checks(void *arg)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 32)
        return 10;
    if (getrlimit(RLIMIT_CORE, &rl) < 0 || rl.rlim_cur != 0)
        return 11;
    char cwd[64];
    if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/"))
        return 12;
    if (getpgid(0) != getpid())
        return 13;
    return *(int *)arg;
}

static void test_main(void)
{
    int code = 42;
    const hb_limits lim = {.open_files = 32, .no_core = 1};
    hb_spawn sp = {.child_main = child_checks, .arg = &code, .limits = &lim, .cwd = "/",
                   .new_pgroup = true};
    pid_t pid = -1;
    HB_CHECK_OK(hb__spawn(&sp, &pid, NULL, NULL));
    HB_CHECK_EQ(getpgid(pid), pid);
    int st = wait_status(pid);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 42);
}

static void test_argv(void)
{
    hb_argv a = HB_ARGV_INIT;
    char **v = NULL;
    HB_CHECK_OK(hb__argv_detach(&a, &v)); /* empty: a NULL-terminated array */
    HB_CHECK(v && !v[0]);
    hb__strv_free(v);
    char *const rest[] = {"d", "e", NULL};
    hb__argv_push(&a, "a");
    hb__argv_pushf(&a, "-I%s/%d", "inc", 7);
    hb__argv_pushl(&a, "b", "c", NULL);
    hb__argv_push_all(&a, rest);
    hb__argv_push_all(&a, NULL);
    for (int i = 0; i < 100; i++)
        hb__argv_pushf(&a, "x%d", i);
    HB_CHECK_EQ(a.n, 106);
    HB_CHECK_OK(hb__argv_detach(&a, &v));
    HB_CHECK(a.v == NULL && a.n == 0);
    HB_CHECK_STR(v[0], "a");
    HB_CHECK_STR(v[1], "-Iinc/7");
    HB_CHECK_STR(v[2], "b");
    HB_CHECK_STR(v[5], "e");
    HB_CHECK_STR(v[105], "x99");
    HB_CHECK(v[106] == NULL);
    hb__strv_free(v);
    /* A failed push (NULL) poisons the vector: detach says -ENOMEM. */
    hb__argv_push(&a, "ok");
    hb__argv_push(&a, NULL);
    hb__argv_push(&a, "after");
    HB_CHECK(a.failed);
    v = (char **)1;
    HB_CHECK_EQ(hb__argv_detach(&a, &v), -ENOMEM);
    HB_CHECK(v == (char **)1);
    HB_CHECK(a.v == NULL);
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    if (!strcmp(c, "fds"))
        test_fds();
    else if (!strcmp(c, "exec"))
        test_exec();
    else if (!strcmp(c, "main"))
        test_main();
    else if (!strcmp(c, "argv"))
        test_argv();
    else
        HB_FAIL_("unknown case '%s'", c);
    return 0;
}
