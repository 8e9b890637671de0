/*
 * compiler/microvm/agent.c - hotbox's guest agent: /init of the microVM.
 *
 * Statically linked; runs as PID 1 in a guest whose only filesystems are the
 * initramfs, the host's /usr shared read-only over virtio-9p, and the job
 * directory shared read-write. It
 *   1. mounts /proc, /sys, /dev (devtmpfs) and a tmpfs on /tmp,
 *   2. loads the kernel modules listed in /modules/order (finit_module),
 *   3. finds the virtio-serial port named HB_VMP_PORT_NAME and says READY
 *      (a snapshot of the VM is taken here: nothing is mounted over 9p yet),
 *   4. on MOUNT (after a boot or a restore): sets the clock, mixes the
 *      host's seed into /dev/urandom, mounts 9p tag "hostusr" on /usr (ro,
 *      cache=loose) and "job" on /job (no cache: the host rewrites it
 *      between jobs), answers MOUNTED, and
 *   5. serves RUN requests (vmproto.h): fork, rlimits, exec, capture output,
 *      kill the process group at the deadline, reply RESULT.
 *   6. on WORKER (guest workers, issue 17) starts hotbox-worker as uid 65534
 *      with no_new_privs, relays its socket to the port
 *      HB_VMP_WORKER_PORT_NAME, and reports its end (WORKER_EXIT) with
 *      its exit status or signal (agent_worker.c), and
 *   7. on OBJECT checks a plugin object's SHA-256 and shows it read-only at
 *      its host path for the worker's LOAD (agent_object.c).
 * Any fatal setup error is printed on the console (the host keeps it in a log
 * file) and ends the VM with reboot(), which QEMU turns into an exit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "rlimit.h"

void agent_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hotbox-agent: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static __attribute__((noreturn)) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hotbox-agent: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    sync();
    reboot(RB_AUTOBOOT);
    _exit(1);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void do_mount(const char *src, const char *dst, const char *type, unsigned long fl,
                     const char *data)
{
    mkdir(dst, 0755);
    if (mount(src, dst, type, fl, data) != 0)
        die("mount %s on %s (%s, %s): %s", src, dst, type, data ? data : "", strerror(errno));
}

static void load_modules(void)
{
    FILE *f = fopen("/modules/order", "re");
    if (!f)
        return; /* a kernel with everything built in needs none */
    char name[256];
    while (fgets(name, sizeof(name), f)) {
        name[strcspn(name, "\n")] = 0;
        if (!name[0])
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/modules/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("open %s: %s", path, strerror(errno));
        if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            die("finit_module %s: %s", name, strerror(errno));
        close(fd);
        unlink(path); /* loaded: its copy in the initramfs' RAM can go */
    }
    fclose(f);
}

/* /dev/vportNpM whose sysfs name is `want`; -1 if not (yet) there. */
int agent_find_port(const char *want, char *out, size_t outlen)
{
    DIR *d = opendir("/sys/class/virtio-ports");
    if (!d)
        return -1;
    struct dirent *e;
    int found = -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[512], name[128] = "";
        snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
        FILE *f = fopen(p, "re");
        if (!f)
            continue;
        if (fgets(name, sizeof(name), f))
            name[strcspn(name, "\n")] = 0;
        fclose(f);
        if (strcmp(name, want) == 0) {
            snprintf(out, outlen, "/dev/%s", e->d_name);
            found = 0;
            break;
        }
    }
    closedir(d);
    return found;
}

static int open_port(void)
{
    char dev[300];
    /* The port appears as virtio_console probes; the wait is bounded (the
     * host's boot watchdog is the real limit) and only happens at boot. */
    for (int i = 0; i < 500; i++) {
        if (agent_find_port(HB_VMP_PORT_NAME, dev, sizeof(dev)) == 0) {
            int fd = open(dev, O_RDWR | O_CLOEXEC);
            if (fd >= 0)
                return fd;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    die("virtio-serial port %s not found", HB_VMP_PORT_NAME);
}

int agent_send_frame(int fd, hb_vmp_w *w)
{
    if (hb_vmp_end(w) != 0)
        return -1;
    return hb__write_full(fd, w->buf, w->len) == 0 ? 0 : -1;
}

void agent_reply_status(int port, uint8_t *wbuf, size_t wcap, uint32_t type, uint64_t err,
                        const char *msg, const char *type_name)
{
    hb_vmp_w w = {wbuf, wcap, 0, false};
    hb_vmp_begin(&w, type);
    hb_vmp_put_u64(&w, err);
    hb_vmp_put_str(&w, msg);
    if (agent_send_frame(port, &w) != 0)
        agent_log("cannot send %s", type_name);
}

typedef struct outbuf {
    char *buf;
    size_t len, cap, max;
    bool truncated;
} outbuf;

static void out_add(outbuf *o, const char *p, size_t n)
{
    if (o->len + n > o->max) {
        o->truncated = true;
        n = o->max > o->len ? o->max - o->len : 0;
    }
    if (o->len + n > o->cap) {
        size_t nc = o->cap ? o->cap * 2 : 4096;
        while (nc < o->len + n)
            nc *= 2;
        char *nb = realloc(o->buf, nc);
        if (!nb) {
            o->truncated = true;
            return;
        }
        o->buf = nb;
        o->cap = nc;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

/* mkdir -p for an absolute path on the guest's root (a tmpfs-like rootfs). */
int agent_mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf) || path[0] != '/')
        return -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Runs one RUN request; fills kind/code/elapsed and the output buffer. */
static void run_job(hb_vmp_r *r, int port, uint8_t *wbuf, size_t wcap)
{
    uint64_t timeout_ms, max_mem, max_fsize, max_out, argc, nbinds = 0;
    char **binds = NULL;
    const char *cwd_p;
    size_t cwd_n;
    hb_vmp_w w = {wbuf, wcap, 0, false};
    outbuf out = {0};
    uint64_t kind = HB_VMP_SETUP, code = 0, t0 = now_us();
    char **argv = NULL, *cwd = NULL;

    if (!hb_vmp_get_u64(r, &timeout_ms) || !hb_vmp_get_u64(r, &max_mem) ||
        !hb_vmp_get_u64(r, &max_fsize) || !hb_vmp_get_u64(r, &max_out) ||
        !hb_vmp_get_str(r, &cwd_p, &cwd_n) || !hb_vmp_get_u64(r, &argc) || argc == 0 ||
        argc > 4096) {
        out.max = 4096;
        out_add(&out, "agent: malformed RUN request\n", 29);
        goto reply;
    }
    out.max = max_out ? max_out : (1u << 20);
    argv = calloc(argc + 1, sizeof(*argv));
    cwd = strndup(cwd_p, cwd_n);
    if (!argv || !cwd)
        goto reply;
    for (uint64_t i = 0; i < argc; i++) {
        const char *s;
        size_t n;
        if (!hb_vmp_get_str(r, &s, &n) || !(argv[i] = strndup(s, n))) {
            out_add(&out, "agent: malformed argv\n", 22);
            goto reply;
        }
    }
    if (r->left > 0) {
        if (!hb_vmp_get_u64(r, &nbinds) || nbinds > HB_VMP_MAX_BINDS) {
            nbinds = 0;
            out_add(&out, "agent: malformed binds\n", 23);
            goto reply;
        }
        binds = calloc(2 * nbinds + 1, sizeof(*binds));
        if (!binds) {
            nbinds = 0;
            goto reply;
        }
        for (uint64_t i = 0; i < 2 * nbinds; i++) {
            const char *s;
            size_t n;
            if (!hb_vmp_get_str(r, &s, &n) || !(binds[i] = strndup(s, n))) {
                out_add(&out, "agent: malformed binds\n", 23);
                goto reply;
            }
        }
    }

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        goto reply;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        goto reply;
    }
    if (pid == 0) {
        static char *envp[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "HOME=/tmp",
                               "TMPDIR=/tmp", NULL};
        setsid();
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        const hb_limits lim = {.memory_bytes = max_mem,
                               .file_size = max_fsize,
                               .cpu_seconds = timeout_ms / 1000 + 1,
                               .no_core = 1};
        agent_job_run(binds, nbinds, cwd, argv, envp, &lim); /* agent_jail.c */
    }
    close(pfd[1]);
    uint64_t deadline = t0 + timeout_ms * 1000u;
    bool timed_out = false;
    for (;;) {
        uint64_t now = now_us();
        if (timeout_ms && now >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd p = {pfd[0], POLLIN, 0};
        int wait_ms = timeout_ms ? (int)((deadline - now + 999) / 1000) : -1;
        int n = poll(&p, 1, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue; /* timeout: the loop head decides */
        char buf[16384];
        ssize_t k = read(pfd[0], buf, sizeof(buf));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break; /* every writer closed: the compiler (and its children) finished */
        out_add(&out, buf, (size_t)k);
    }
    close(pfd[0]);
    /* EOF comes when the compiler closes its output, which coreutils and gcc
     * do before their exit handlers finish: let it exit (within the limit)
     * before the group is killed, or a clean exit becomes SIGKILL. */
    int pidfd = timed_out ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
    while (pidfd >= 0) {
        uint64_t now = now_us();
        struct pollfd p = {pidfd, POLLIN, 0};
        int n = poll(&p, 1, !timeout_ms ? -1 : now >= deadline ? 0 : (int)((deadline - now + 999) / 1000));
        if (n < 0 && errno == EINTR)
            continue;
        timed_out = n == 0;
        close(pidfd);
        pidfd = -1;
    }
    /* Kill the whole group: stray children must not outlive the job. */
    kill(-pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        kind = HB_VMP_TIMEOUT;
        code = SIGKILL;
    } else if (WIFSIGNALED(st)) {
        kind = HB_VMP_SIGNALED;
        code = (uint64_t)WTERMSIG(st);
    } else {
        kind = HB_VMP_EXITED;
        code = (uint64_t)WEXITSTATUS(st);
    }

reply:
    if (out.truncated) {
        out.max += 64;
        out_add(&out, "\n[output truncated]\n", 20);
    }
    hb_vmp_begin(&w, HB_VMP_RESULT);
    hb_vmp_put_u64(&w, kind);
    hb_vmp_put_u64(&w, code);
    hb_vmp_put_u64(&w, now_us() - t0);
    hb_vmp_put_strn(&w, out.buf ? out.buf : "", out.len);
    if (agent_send_frame(port, &w) != 0)
        agent_log("cannot send RESULT");
    free(out.buf);
    if (argv)
        for (uint64_t i = 0; i < argc; i++)
            free(argv[i]);
    free(argv);
    for (uint64_t i = 0; binds && i < 2 * nbinds; i++)
        free(binds[i]);
    free(binds);
    free(cwd);
}

/* MOUNT: clock, seed, then the 9p exports (once; a second MOUNT only
 * answers). Replies MOUNTED with 0 or the errno and what failed. */
static void handle_mount(hb_vmp_r *r, int port, uint8_t *wbuf, size_t wcap)
{
    static bool mounted;
    uint64_t realtime_ns, err = 0;
    const char *seed;
    size_t seedn;
    char msg[512] = "";
    if (!hb_vmp_get_u64(r, &realtime_ns) || !hb_vmp_get_str(r, &seed, &seedn)) {
        err = EPROTO;
        snprintf(msg, sizeof(msg), "malformed MOUNT request");
        goto reply;
    }
    struct timespec ts = {(time_t)(realtime_ns / 1000000000u), (long)(realtime_ns % 1000000000u)};
    if (clock_settime(CLOCK_REALTIME, &ts) != 0)
        agent_log("clock_settime: %s", strerror(errno));
    int rnd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (rnd >= 0) {
        if (seedn && write(rnd, seed, seedn) < 0)
            agent_log("seeding /dev/urandom: %s", strerror(errno));
        close(rnd);
    }
    static const struct {
        const char *tag, *dir, *data;
        unsigned long flags;
    } m[] = {
        {"hostusr", "/usr", "trans=virtio,version=9p2000.L,cache=loose,msize=512000",
         MS_RDONLY | MS_NODEV | MS_NOSUID},
        {"job", "/job", "trans=virtio,version=9p2000.L,cache=none,msize=512000",
         MS_NODEV | MS_NOSUID},
    };
    for (size_t i = 0; !mounted && i < sizeof(m) / sizeof(m[0]); i++) {
        mkdir(m[i].dir, 0755);
        if (mount(m[i].tag, m[i].dir, "9p", m[i].flags, m[i].data) != 0) {
            err = (uint64_t)errno;
            snprintf(msg, sizeof(msg), "mount 9p %s on %s (%s): %s", m[i].tag, m[i].dir,
                     m[i].data, strerror(errno));
            agent_log("%s", msg);
            goto reply;
        }
    }
    mounted = true;
reply:
    agent_reply_status(port, wbuf, wcap, HB_VMP_MOUNTED, err, msg, "MOUNTED");
}

/* SCRUB: every free page of the guest becomes a zero page, which a
 * migration stream does not carry. Anonymous memory taken with
 * MAP_POPULATE comes zeroed from the kernel and goes back zeroed. */
static void scrub_memory(void)
{
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "3", 1) != 1)
            agent_log("drop_caches: %s", strerror(errno));
        close(fd);
    }
    FILE *f = fopen("/proc/meminfo", "re");
    unsigned long long kib = 0;
    char line[128];
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemFree: %llu kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    const unsigned long long keep = 24u * 1024u; /* KiB left for the kernel */
    if (kib <= keep)
        return;
    size_t len = (size_t)(kib - keep) * 1024u;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    if (p != MAP_FAILED)
        munmap(p, len);
}

int main(void)
{
    /* The kernel gives init the console on 0/1/2 when /dev/console exists in
     * the initramfs; line-buffer so diagnostics reach the host's log. */
    setvbuf(stderr, NULL, _IOLBF, 0);
    do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    do_mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m");
    load_modules();

    size_t wcap = HB_VMP_MAX_FRAME + HB_VMP_HEADER;
    uint8_t *wbuf = malloc(wcap), *rbuf = malloc(HB_VMP_MAX_FRAME);
    if (!wbuf || !rbuf)
        die("out of memory");
    struct utsname u;
    uname(&u);

    int port = open_port();
    hb_vmp_w w = {wbuf, wcap, 0, false};
    hb_vmp_begin(&w, HB_VMP_READY);
    hb_vmp_put_str(&w, u.release);
    if (agent_send_frame(port, &w) != 0)
        die("cannot send READY: %s", strerror(errno));

    for (;;) {
        uint8_t hdr[HB_VMP_HEADER];
        uint32_t type, len;
        agent_wait_request(port);
        if (hb__read_full(port, hdr, sizeof(hdr)) != 0 || hb_vmp_header(hdr, &type, &len) != 0 ||
            hb__read_full(port, rbuf, len) != 0) {
            /* Host went away (or sent junk): reopen and wait for the next one. */
            close(port);
            port = open_port();
            continue;
        }
        hb_vmp_r r = {rbuf, len, false};
        switch (type) {
        case HB_VMP_RUN:
            run_job(&r, port, wbuf, wcap);
            break;
        case HB_VMP_MOUNT:
            handle_mount(&r, port, wbuf, wcap);
            break;
        case HB_VMP_SCRUB:
            scrub_memory();
            hb_vmp_begin(&w, HB_VMP_PONG);
            agent_send_frame(port, &w);
            break;
        case HB_VMP_WORKER:
            agent_start_worker(&r, port, wbuf, wcap);
            break;
        case HB_VMP_OBJECT:
            agent_object(&r, port, wbuf, wcap);
            break;
        case HB_VMP_PING:
            hb_vmp_begin(&w, HB_VMP_PONG);
            agent_send_frame(port, &w);
            break;
        case HB_VMP_SHUTDOWN:
            sync();
            reboot(RB_AUTOBOOT);
            die("reboot: %s", strerror(errno));
        default:
            agent_log("unknown request type %u", type);
        }
    }
}
