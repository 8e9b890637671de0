/* The worker's profile applied for real, in forked children: each denied
 * call must stop the child and show up on the filter's listener, which
 * the child hands to this process (as the worker hands it to the harness)
 * and keeps no copy of; hb_sec_listener_take must name the call. The calls
 * a worker needs must keep working. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "security.h"
#include "wire.h"

typedef int (*body_fn)(void);

/* Runs body under profile p in a child. Returns its wait status; *denied
 * receives the call the listener reported ("" when none). */
static int run(hb_profile p, body_fn body, char *denied, size_t dlen)
{
    int sv[2];
    HB_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        char why[256];
        hb_sec_applied a;
        if (hb_sec_apply_profile(p, &a, why, sizeof(why)) < 0) {
            fprintf(stderr, "apply: %s\n", why);
            _exit(100);
        }
        /* Outside a sandbox view (a writable root) nothing is locked. */
        if (a.files_locked)
            _exit(102);
        int lfd = a.listener;
        if (lfd >= 0) {
            hb_wbuf w = {0};
            hb__wire_begin(&w, HB_MSG_LISTENER, 0);
            if (hb__wire_finish(&w) < 0 || hb__wire_send_fd(sv[1], &w, lfd) < 0)
                _exit(101);
            close(lfd);
        }
        _exit(body());
    }
    close(sv[1]);
    denied[0] = 0;
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    HB_CHECK(pidfd >= 0);
    int lfd = -1;
    if (hb_sec_profile(p)->seccomp) {
        struct pollfd pf = {.fd = sv[0], .events = POLLIN};
        HB_CHECK_EQ(poll(&pf, 1, 20000), 1);
        hb_frame f;
        HB_CHECK_OK(hb__wire_recv_fd(sv[0], 0, &f, &lfd));
        HB_CHECK_EQ(f.type, HB_MSG_LISTENER);
        hb__frame_release(&f);
        HB_CHECK(lfd >= 0);
        HB_CHECK_OK(hb_sec_listener_check(lfd));
    }
    HB_CHECK_EQ(hb_sec_listener_check(sv[0]), -ENOTTY);
    for (;;) {
        struct pollfd pf[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = lfd, .events = POLLIN}};
        int n = poll(pf, 2, 20000);
        if (n < 0 && errno == EINTR)
            continue;
        HB_CHECK(n > 0); /* the child ends or is stopped in a denied call */
        if (pf[1].revents & POLLIN) {
            int r = hb_sec_listener_take(lfd, denied, dlen);
            HB_CHECK(r >= 0);
            if (r == 1) {
                /* Stopped in the call, not dead: as the harness does. */
                HB_CHECK_EQ(kill(pid, SIGKILL), 0);
                break;
            }
        }
        if (pf[0].revents)
            break;
        if (pf[1].revents & POLLHUP)
            break;
    }
    int st;
    HB_CHECK(waitpid(pid, &st, 0) == pid);
    close(pidfd);
    close(sv[0]);
    if (lfd >= 0)
        close(lfd);
    return st;
}

static void expect_denied(hb_profile p, body_fn body, const char *name)
{
    char denied[256];
    printf("%s: %s\n", hb_profile_name(p), name);
    fflush(stdout);
    int st = run(p, body, denied, sizeof(denied));
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        HB_FAIL_("%s under %s: expected a denial (then SIGKILL), status 0x%x, denied \"%s\"",
                 name, hb_profile_name(p), st, denied);
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
    errno = 0;
    if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
        return 15;
    /* The listener went to the parent: no fd here may be one. */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 16;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && hb_sec_listener_check(atoi(e->d_name)) == 0)
            return 17;
    closedir(d);
    return 0;
}
/* RELRO-style mprotect to read-only, and R->RX (standard only). */
static int do_mprotect_ro(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ) != 0)
        return 14;
    return 0;
}
static int do_mprotect_rx(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_READ | PROT_EXEC) != 0)
        return 14;
    return 0;
}
static int do_memfd(void)
{
    return memfd_create("jit", MFD_CLOEXEC) >= 0 ? 3 : 4;
}
static int do_exec_anon(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? 4 : 3;
}
/* A second, executable view of a file written through a first one. */
static int do_exec_shared_file(void)
{
    char path[] = "/tmp/hb-seccomp-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return 5;
    unlink(path);
    if (ftruncate(fd, 4096) != 0)
        return 6;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? 4 : 3;
}
static int do_shm_exec(void)
{
    int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    if (id < 0)
        return 5;
    shmctl(id, IPC_RMID, NULL); /* gone with the last attachment */
    void *p = shmat(id, NULL, SHM_EXEC);
    return p == (void *)-1 ? 4 : 3;
}
/* A file-backed private executable mapping: what ld.so makes. */
static int do_exec_private_file(void)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 5;
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    return p == MAP_FAILED ? 4 : 0;
}
/* clone(CLONE_THREAD | CLONE_NEWUTS): the new thread only exits (it
 * never touches memory or a stack); returns its tid or -errno. */
static long clone_thread_newuts(void)
{
#if defined(__x86_64__)
    long ret;
    unsigned long flags = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_NEWUTS;
    static char stack[256] __attribute__((aligned(16)));
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t" /* SYS_exit: this thread only */
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:\n\t"
                     : "=a"(ret)
                     : "a"((long)SYS_clone), "D"(flags), "S"(stack + sizeof(stack)), "d"(0L),
                       "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
#else
    return -ENOSYS;
#endif
}
static int do_clone_thread_ns(void)
{
    long r = clone_thread_newuts();
    return r > 0 ? 3 : 4;
}
static int do_unshare(void)
{
    return unshare(CLONE_NEWUTS) == 0 ? 3 : 4;
}
static int do_setns(void)
{
    return setns(0, CLONE_NEWUTS) == 0 ? 3 : 4;
}
static int do_memfd_ok(void)
{
    int fd = memfd_create("x", MFD_CLOEXEC);
    return fd >= 0 ? 0 : 3;
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
    hb_sec_applied a;
    HB_CHECK_EQ(hb_sec_apply_profile((hb_profile)42, &a, err, sizeof(err)), -EINVAL);
    HB_CHECK_EQ(hb_sec_listener_check(-1), -EBADF);

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
        expect_ok(p, do_worker_things, "threads, self-signals, dlopen, no listener");
        expect_ok(p, do_mprotect_ro, "mprotect to read-only (RELRO)");
        expect_ok(p, do_exec_private_file, "private executable mapping of a file");
#if defined(__x86_64__)
        expect_denied(p, do_clone_thread_ns, "clone (namespace flags on a thread)");
#endif
        expect_denied(p, do_unshare, "unshare");
        expect_denied(p, do_setns, "setns");
    }
    expect_ok(HB_PROFILE_STANDARD, do_mprotect_rx, "mprotect RW->RX under standard");
    /* W+X: allowed by standard, denied by strict (see security/profile.c). */
    expect_ok(HB_PROFILE_STANDARD, do_wx, "mmap W+X under standard");
    expect_denied(HB_PROFILE_STRICT, do_wx, "mmap (writable and executable memory)");
    expect_denied(HB_PROFILE_STRICT, do_mprotect_wx, "mprotect (writable and executable memory)");
    /* strict's W^X: nothing made executable later, no executable view of
     * memory that can be written through another (see add_wx_rules). */
    expect_denied(HB_PROFILE_STRICT, do_mprotect_rx, "mprotect (making memory executable)");
    expect_denied(HB_PROFILE_STRICT, do_memfd, "memfd_create");
    expect_denied(HB_PROFILE_STRICT, do_exec_anon, "mmap (executable anonymous memory)");
    expect_denied(HB_PROFILE_STRICT, do_exec_shared_file, "mmap (an executable shared mapping)");
    expect_denied(HB_PROFILE_STRICT, do_shm_exec, "shmat (executable shared memory)");
    expect_ok(HB_PROFILE_STANDARD, do_memfd_ok, "memfd_create under standard");
    /* permissive: no filter at all. */
    expect_ok(HB_PROFILE_PERMISSIVE, do_socket_quiet, "socket under permissive");
    expect_ok(HB_PROFILE_PERMISSIVE, do_wx, "mmap W+X under permissive");
    puts("PASS test_seccomp");
    return 0;
}
