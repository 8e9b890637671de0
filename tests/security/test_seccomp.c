/* The worker's profile applied for real, in forked children: each denied
 * call must produce one DENIED frame naming it on the report fd and a
 * death by SIGSYS; the calls a worker needs must keep working. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "security.h"

typedef int (*body_fn)(void);

/* Runs body under profile p in a child. Returns its wait status; *denied
 * receives the name of a DENIED frame ("" when none came). */
static int run(hb_profile p, body_fn body, char *denied, size_t dlen)
{
    int sv[2];
    HB_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        char why[256];
        if (hb_sec_apply_profile(p, sv[1], why, sizeof(why)) < 0) {
            fprintf(stderr, "apply: %s\n", why);
            _exit(100);
        }
        _exit(body());
    }
    close(sv[1]);
    denied[0] = 0;
    uint8_t buf[512];
    size_t got = 0;
    for (;;) {
        struct pollfd pf = {.fd = sv[0], .events = POLLIN};
        HB_CHECK(poll(&pf, 1, 20000) == 1); /* EOF comes when the child dies */
        ssize_t n = read(sv[0], buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR)
            continue;
        HB_CHECK(n >= 0);
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(sv[0]);
    if (got) {
        HB_CHECK(got >= 12 + 8);
        uint32_t len = buf[0] | buf[1] << 8 | buf[2] << 16 | (uint32_t)buf[3] << 24;
        HB_CHECK_EQ(buf[4], HB_SEC_MSG_DENIED);
        HB_CHECK_EQ(len + 12, got);
        uint32_t slen = buf[16] | buf[17] << 8 | buf[18] << 16 | (uint32_t)buf[19] << 24;
        HB_CHECK_EQ(slen + 8, len);
        snprintf(denied, dlen, "%.*s", (int)slen, (const char *)buf + 20);
    }
    int st;
    HB_CHECK(waitpid(pid, &st, 0) == pid);
    return st;
}

static void expect_denied(hb_profile p, body_fn body, const char *name)
{
    char denied[256];
    printf("%s: %s\n", hb_profile_name(p), name);
    fflush(stdout);
    int st = run(p, body, denied, sizeof(denied));
    /* A trap dies of SIGSYS; a notification (clone) exits 128+SIGSYS. */
    bool sys = (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) ||
               (WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGSYS);
    if (!sys)
        HB_FAIL_("%s under %s: expected death by SIGSYS, status 0x%x", name, hb_profile_name(p), st);
    HB_CHECK_STR(denied, name);
}

static void expect_ok(hb_profile p, body_fn body, const char *what)
{
    char denied[256];
    int st = run(p, body, denied, sizeof(denied));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        HB_FAIL_("%s under %s: expected exit 0, status 0x%x, denied \"%s\"", what,
                 hb_profile_name(p), st, denied);
    HB_CHECK_STR(denied, "");
}

static int do_execve(void)
{
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, NULL);
    return 3;
}
static int do_fork(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    return 3;
}
/* glibc's posix_spawn blocks every signal around its clone. */
static int do_system(void)
{
    return system("true") == 0 ? 3 : 4;
}
static int do_socket(void)
{
    return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 3 : 4;
}
static int do_kill_parent(void)
{
    kill(getppid(), 0);
    return 3;
}
static int do_setuid(void)
{
    return setuid(0) == 0 ? 3 : 4;
}
static int do_ptrace(void)
{
    syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, getppid(), 0, 0);
    return 3;
}
static int do_io_uring(void)
{
    syscall(SYS_io_uring_setup, 1, NULL);
    return 3;
}
static int do_wx(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return 5;
    unsigned char *c = p;
    c[0] = 0xc3; /* ret */
    ((void (*)(void))p)();
    return 0;
}
static int do_mprotect_wx(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 5;
    mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
    return 0;
}
static int do_int80(void)
{
#if defined(__x86_64__)
    long ret;
    /* getpid through the i386 ABI */
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    (void)ret;
#endif
    return 0;
}
static void *thread_fn(void *arg)
{
    return arg;
}
static volatile sig_atomic_t got_usr1;
static void on_usr1(int s)
{
    (void)s;
    got_usr1 = 1;
}
/* Everything a worker does: threads, signals to itself, malloc, dlopen,
 * W->X flips through mprotect (separately), clone3 answering ENOSYS, and a
 * SIGSYS handler that cannot be replaced. */
static int do_worker_things(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, thread_fn, NULL) != 0)
        return 10;
    pthread_join(t, NULL);
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    if (!got_usr1)
        return 11;
    void *m = malloc(1 << 20);
    if (!m)
        return 12;
    free(m);
    void *h = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
    if (!h || !dlsym(h, "cos"))
        return 13;
    dlclose(h);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
        return 14;
    errno = 0;
    if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
        return 15;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    errno = 0;
    if (sigaction(SIGSYS, &sa, NULL) != -1 || errno != EPERM)
        return 16;
    if (sigaction(SIGSYS, NULL, &sa) != 0) /* reading it is fine */
        return 17;
    return 0;
}
static int do_socket_quiet(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return 3;
    close(fd);
    return 0;
}

int main(void)
{
    char err[128];
    HB_CHECK_EQ(hb_sec_apply_profile((hb_profile)42, -1, err, sizeof(err)), -EINVAL);

    const hb_profile both[] = {HB_PROFILE_STANDARD, HB_PROFILE_STRICT};
    for (size_t i = 0; i < 2; i++) {
        hb_profile p = both[i];
        expect_denied(p, do_execve, "execve");
        expect_denied(p, do_fork, "clone (a new process)");
        expect_denied(p, do_system, "clone (a new process)");
        expect_denied(p, do_socket, "socket");
        expect_denied(p, do_kill_parent, "kill (of another process)");
        expect_denied(p, do_setuid, "setuid");
        expect_denied(p, do_ptrace, "ptrace");
        expect_denied(p, do_io_uring, "io_uring_setup");
        expect_denied(p, do_int80, "a system call of another ABI (int 0x80 / x32)");
        expect_ok(p, do_worker_things, "threads, self-signals, dlopen, mprotect W->X");
    }
    /* W+X: allowed by standard, denied by strict (see security/profile.c). */
    expect_ok(HB_PROFILE_STANDARD, do_wx, "mmap W+X under standard");
    expect_denied(HB_PROFILE_STRICT, do_wx, "mmap (writable and executable memory)");
    expect_denied(HB_PROFILE_STRICT, do_mprotect_wx, "mprotect (writable and executable memory)");
    /* permissive: no filter at all. */
    expect_ok(HB_PROFILE_PERMISSIVE, do_socket_quiet, "socket under permissive");
    expect_ok(HB_PROFILE_PERMISSIVE, do_wx, "mmap W+X under permissive");
    puts("PASS test_seccomp");
    return 0;
}
