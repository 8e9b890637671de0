/*
 * compiler/microvm/microvm.c - QEMU microVM launcher, host side of the agent
 * protocol, and the warm pool. See microvm.h for the contract.
 */
#include "microvm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpio.h"
#include "process.h"
#include "util.h"
#include "vmproto.h"

#ifndef HB_MICROVM_DEFAULT_INITRAMFS
#define HB_MICROVM_DEFAULT_INITRAMFS ""
#endif

#define JOB_GRACE_MS 10000u      /* agent silence beyond the job limit = VM fault */
#define KVM_PROBE_TIMEOUT_MS 8000u
#define MAX_BOOT_FAILURES 3u     /* consecutive; then the pool reports broken */
#define LAT_RING 256u

enum vm_state { VM_EMPTY, VM_BOOTING, VM_WARM, VM_BUSY, VM_DEAD };

typedef struct vm {
    enum vm_state state;
    pid_t pid;
    int pidfd, sock, errfd; /* errfd: QEMU's stderr (non-blocking read end) */
    char *dir, *jobdir;
    unsigned jobs;
    uint64_t spawn_ns;
    hb_sb errlog;            /* QEMU stderr seen so far (capped) */
} vm;

typedef struct vm_cfg {
    char *qemu, *kernel, *initrd;
    unsigned memory_mb, boot_timeout_ms;
    hb_vm_accel accel;
} vm_cfg;

struct hb_vm_pool {
    vm_cfg cfg;
    hb_vm_pool_options o;
    char *dir;
    char *warmup_cc;
    char *accel_why;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t keeper;
    bool keeper_started, stop;
    int wakefd;
    vm *vms;
    unsigned nvm, boot_fail_streak, seq;
    char *broken;
    uint64_t boots, failures, jobs, recycled;
    double lat[LAT_RING], boot_lat[LAT_RING];
    uint64_t nlat, nboot_lat;
};

const char *hb_vm_accel_name(hb_vm_accel a)
{
    switch (a) {
    case HB_VM_ACCEL_KVM: return "kvm";
    case HB_VM_ACCEL_TCG: return "tcg";
    default: return "auto";
    }
}

void hb_vm_pool_options_init(hb_vm_pool_options *o)
{
    hb_vm_pool_options d = HB_VM_POOL_OPTIONS_INIT;
    *o = d;
}

/* ---- small helpers ------------------------------------------------------ */

static int ms_left(uint64_t deadline_ns)
{
    uint64_t now = hb__now_ns();
    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static char *default_kernel_dir(void)
{
    const char *e = getenv("HOTBOX_KERNEL_DIR");
    if (e && *e)
        return strdup(e);
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x)
        return hb__asprintf("%s/hotbox/guest-kernel", x);
    const char *h = getenv("HOME");
    return hb__asprintf("%s/.cache/hotbox/guest-kernel", h && *h ? h : "/root");
}

static unsigned host_tsc_khz(void)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return 0;
    char line[256];
    double mhz = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
            break;
    fclose(f);
    return (unsigned)(mhz * 1000.0);
}

static uint64_t rss_kib(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "re");
    uint64_t kib = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
    void *data;
    size_t len;
    int r = hb__read_file(src, (size_t)1 << 30, &data, &len);
    if (r)
        return r;
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        r = -errno;
        free(data);
        return r;
    }
    r = hb__write_full(fd, data, len);
    free(data);
    if (close(fd) != 0 && !r)
        r = -errno;
    return r;
}

/* Recursive copy of a directory of regular files (symlinks followed). */
static int copy_tree(const char *src, const char *dst, unsigned depth)
{
    if (depth > 32)
        return -ELOOP;
    int r = hb__mkdir_p(dst, 0755);
    if (r)
        return r;
    DIR *d = opendir(src);
    if (!d)
        return -errno;
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *s = hb__path_join(src, e->d_name), *t = hb__path_join(dst, e->d_name);
        struct stat st;
        if (!s || !t)
            r = -ENOMEM;
        else if (stat(s, &st) != 0)
            r = 0; /* dangling symlink: nothing to copy */
        else if (S_ISDIR(st.st_mode))
            r = copy_tree(s, t, depth + 1);
        else if (S_ISREG(st.st_mode))
            r = copy_file(s, t, 0644);
        free(s);
        free(t);
    }
    closedir(d);
    return r;
}

/* Moves (or copies, across file systems) every top-level regular file of
 * src into dst, replacing files of the same name. */
static int move_top_files(const char *src, const char *dst, bool copy_only)
{
    DIR *d = opendir(src);
    if (!d)
        return -errno;
    int r = 0;
    unsigned n = 0;
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (++n > 4096) {
            r = -E2BIG;
            break;
        }
        char *s = hb__path_join(src, e->d_name), *t = hb__path_join(dst, e->d_name);
        struct stat st;
        if (!s || !t)
            r = -ENOMEM;
        else if (lstat(s, &st) == 0 && S_ISREG(st.st_mode)) {
            if (copy_only)
                r = copy_file(s, t, st.st_mode & 0777);
            else if (rename(s, t) != 0)
                r = errno == EXDEV ? copy_file(s, t, st.st_mode & 0777) : -errno;
        }
        free(s);
        free(t);
    }
    closedir(d);
    return r;
}

static int copy_top_files(const char *src, const char *dst)
{
    return move_top_files(src, dst, true);
}

static bool safe_relname(const char *n)
{
    if (!n || !*n || n[0] == '/')
        return false;
    for (const char *p = n; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if ((len == 2 && p[0] == '.' && p[1] == '.') || len == 0)
            return false;
        p += len + (slash ? 1 : 0);
    }
    return true;
}

/* Replaces every occurrence of guest prefix `from` (followed by '/' or a
 * path end) with `to`; when escape_spaces, spaces in `to` become "\ " (make). */
static int map_prefix(hb_sb *out, const char *text, const char *from, const char *to,
                      bool escape_spaces)
{
    size_t fl = strlen(from);
    const char *p = text;
    for (;;) {
        const char *hit = strstr(p, from);
        if (!hit)
            return hb__sb_adds(out, p);
        int r = hb__sb_add(out, p, (size_t)(hit - p));
        if (r)
            return r;
        char next = hit[fl];
        bool boundary = next == '/' || next == ':' || next == ' ' || next == '\n' ||
                        next == '\0' || next == '\'' || next == '"' || next == ')';
        if (!boundary) {
            r = hb__sb_add(out, hit, fl);
        } else if (escape_spaces) {
            for (const char *t = to; *t && !r; t++)
                r = *t == ' ' ? hb__sb_add(out, "\\ ", 2) : hb__sb_add(out, t, 1);
        } else {
            r = hb__sb_adds(out, to);
        }
        if (r)
            return r;
        p = hit + fl;
    }
}

/* Maps the three guest prefixes in text; returns a malloc'ed string. */
static char *map_paths(const char *text, const hb_vm_job *job, bool depfile)
{
    struct { const char *from, *to; } m[] = {
        {HB_VM_GUEST_SRC, job->plugin_dir},
        {HB_VM_GUEST_INCLUDE, job->include_dir},
        {HB_VM_GUEST_OUT, job->out_dir},
    };
    char *cur = strdup(text ? text : "");
    for (size_t i = 0; cur && i < HB_ARRAY_SIZE(m); i++) {
        if (!m[i].to)
            continue;
        hb_sb sb = HB_SB_INIT;
        if (map_prefix(&sb, cur, m[i].from, m[i].to, depfile) != 0) {
            hb__sb_release(&sb);
            free(cur);
            return NULL;
        }
        free(cur);
        cur = hb__sb_detach(&sb);
    }
    return cur;
}

/* ---- protocol ------------------------------------------------------------ */

static int send_frame(int fd, hb_vmp_w *w)
{
    if (hb_vmp_end(w) != 0)
        return -EMSGSIZE;
    return hb__write_full(fd, w->buf, w->len);
}

/* Receives one frame within the deadline, watching the QEMU pidfd so a dead
 * VM is an immediate error. *payload is malloc'ed. */
static int recv_frame(vm *v, uint64_t deadline_ns, uint32_t *type, uint8_t **payload,
                      uint32_t *len)
{
    uint8_t hdr[HB_VMP_HEADER];
    size_t got = 0, need = HB_VMP_HEADER;
    uint8_t *buf = NULL;
    bool in_header = true;
    int r;
    for (;;) {
        if (got == need) {
            if (!in_header)
                break;
            if (hb_vmp_header(hdr, type, len) != 0)
                return -EPROTO;
            buf = malloc(*len ? *len : 1);
            if (!buf)
                return -ENOMEM;
            in_header = false;
            got = 0;
            need = *len;
            continue;
        }
        struct pollfd p[2] = {{v->sock, POLLIN, 0}, {v->pidfd, POLLIN, 0}};
        int n = poll(p, 2, ms_left(deadline_ns));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            goto fail;
        }
        if (n == 0) {
            r = -ETIMEDOUT;
            goto fail;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t k = read(v->sock, in_header ? hdr + got : buf + got, need - got);
            if (k < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (k <= 0) {
                r = k < 0 ? -errno : -EPIPE;
                goto fail;
            }
            got += (size_t)k;
            continue;
        }
        if (p[1].revents) {
            r = -ECHILD; /* QEMU exited */
            goto fail;
        }
    }
    *payload = buf;
    return 0;
fail:
    free(buf);
    return r;
}

/* ---- one VM: spawn, wait for READY, kill ---------------------------------- */

static void drain_stderr(vm *v)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(v->errfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        if (v->errlog.len < 16384)
            hb__sb_add(&v->errlog, buf, (size_t)n);
    }
}

static void vm_kill(vm *v)
{
    if (v->pid > 0) {
        kill(v->pid, SIGKILL);
        while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (v->pidfd >= 0)
        close(v->pidfd);
    if (v->sock >= 0)
        close(v->sock);
    if (v->errfd >= 0)
        close(v->errfd);
    if (v->dir)
        hb__rm_rf(v->dir);
    free(v->dir);
    free(v->jobdir);
    hb__sb_release(&v->errlog);
    memset(v, 0, sizeof(*v));
    v->pid = -1;
    v->pidfd = v->sock = v->errfd = -1;
    v->state = VM_EMPTY;
}

/* The last lines of the guest console and QEMU's stderr, for error text. */
static char *vm_diag(vm *v)
{
    hb_sb sb = HB_SB_INIT;
    char *log = v->dir ? hb__path_join(v->dir, "console.log") : NULL;
    void *data = NULL;
    size_t len = 0;
    if (v->errfd >= 0)
        drain_stderr(v);
    if (v->errlog.len)
        hb__sb_addf(&sb, "; qemu: %.*s", (int)(v->errlog.len > 600 ? 600 : v->errlog.len),
                    v->errlog.buf);
    if (log && hb__read_file(log, 1 << 20, &data, &len) == 0 && len) {
        const char *tail = (const char *)data + (len > 800 ? len - 800 : 0);
        hb__sb_addf(&sb, "; console (%s): %s", log, tail);
    }
    free(data);
    free(log);
    /* keep error messages on one logical line */
    for (size_t i = 0; i < sb.len; i++)
        if (sb.buf[i] == '\n')
            sb.buf[i] = ' ';
    return hb__sb_detach(&sb);
}

static int vm_spawn(const vm_cfg *c, const char *parent_dir, unsigned seq, vm *v, char **err)
{
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, logfd = -1, r;
    char **argv = NULL;
    hb_sb append = HB_SB_INIT, chr = HB_SB_INIT, usr = HB_SB_INIT, job = HB_SB_INIT,
          ser = HB_SB_INIT, mem = HB_SB_INIT;

    memset(v, 0, sizeof(*v));
    v->pid = -1;
    v->pidfd = v->sock = v->errfd = -1;
    v->dir = hb__asprintf("%s/vm%u", parent_dir, seq);
    v->jobdir = v->dir ? hb__path_join(v->dir, "job") : NULL;
    if (!v->dir || !v->jobdir) {
        r = -ENOMEM;
        goto fail;
    }
    hb__rm_rf(v->dir);
    if ((r = hb__mkdir_p(v->jobdir, 0755)) != 0) {
        hb__seterr(err, r, "cannot create %s: %s", v->jobdir, strerror(-r));
        goto fail;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        pipe2(ep, O_CLOEXEC) != 0) {
        r = -errno;
        hb__seterr(err, r, "socketpair/pipe: %s", strerror(errno));
        goto fail;
    }
    fcntl(ep[0], F_SETFL, O_NONBLOCK);
    logfd = open("/dev/null", O_RDWR | O_CLOEXEC);

    unsigned khz = host_tsc_khz();
    hb__sb_addf(&append, "console=ttyS0 quiet reboot=t panic=-1 tsc=reliable");
    if (khz)
        hb__sb_addf(&append, " tsc_early_khz=%u", khz);
    hb__sb_addf(&chr, "socket,id=agent,fd=3");
    hb__sb_addf(&usr, "local,id=usr,path=/usr,security_model=none,readonly=on");
    hb__sb_addf(&job, "local,id=job,path=%s,security_model=none", v->jobdir);
    hb__sb_addf(&ser, "file:%s/console.log", v->dir);
    hb__sb_addf(&mem, "%u", c->memory_mb);
    bool kvm = c->accel == HB_VM_ACCEL_KVM;
    const char *args[] = {
        c->qemu, "-M", "microvm", "-accel", kvm ? "kvm" : "tcg,tb-size=128",
        "-cpu", kvm ? "host" : "max", "-m", mem.buf, "-smp", "1",
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-sandbox", "on",
        "-kernel", c->kernel, "-initrd", c->initrd, "-append", append.buf,
        "-serial", ser.buf, "-nic", "none",
        "-device", "virtio-serial-device", "-chardev", chr.buf,
        "-device", "virtserialport,chardev=agent,name=" HB_VMP_PORT_NAME,
        "-fsdev", usr.buf, "-device", "virtio-9p-device,fsdev=usr,mount_tag=hostusr",
        "-fsdev", job.buf, "-device", "virtio-9p-device,fsdev=job,mount_tag=job",
        NULL};
    if (!append.buf || !chr.buf || !usr.buf || !job.buf || !ser.buf || !mem.buf) {
        r = -ENOMEM;
        goto fail;
    }
    argv = calloc(HB_ARRAY_SIZE(args), sizeof(*argv));
    if (!argv) {
        r = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < HB_ARRAY_SIZE(args); i++)
        argv[i] = (char *)args[i];

    v->spawn_ns = hb__now_ns();
    /* PDEATHSIG fires when the forking thread ends: the pool's keeper
     * thread lives as long as the pool, which kills its VMs itself anyway.
     * Its own process group: terminal signals meant for us do not hit QEMU. */
    hb_spawn_fd fds[4] = {{sv[1], 3}, {ep[1], 2}, {logfd, 1}, {logfd, 0}};
    hb_spawn sp = {.argv = argv, .search_path = true, .fds = fds, .nfds = logfd >= 0 ? 4 : 2,
                   .new_pgroup = true, .die_with_parent = true};
    pid_t pid = -1;
    if ((r = hb__spawn(&sp, &pid, NULL, err)) < 0)
        goto fail;
    v->pid = pid;
    v->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (v->pidfd < 0) {
        r = -errno;
        hb__seterr(err, r, "pidfd_open: %s", strerror(errno));
        goto fail;
    }
    v->sock = sv[0];
    sv[0] = -1;
    v->errfd = ep[0];
    ep[0] = -1;
    v->state = VM_BOOTING;
    r = 0;
    goto out;
fail:
    vm_kill(v);
out:
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0)
            close(sv[i]);
        if (ep[i] >= 0)
            close(ep[i]);
    }
    if (logfd >= 0)
        close(logfd);
    free(argv);
    hb__sb_release(&append);
    hb__sb_release(&chr);
    hb__sb_release(&usr);
    hb__sb_release(&job);
    hb__sb_release(&ser);
    hb__sb_release(&mem);
    return r;
}

/* Waits for READY. Fails early on QEMU's exit or "KVM internal error". */
static int vm_wait_ready(vm *v, uint64_t deadline_ns, char **err)
{
    for (;;) {
        struct pollfd p[3] = {{v->sock, POLLIN, 0}, {v->pidfd, POLLIN, 0}, {v->errfd, POLLIN, 0}};
        int n = poll(p, 3, ms_left(deadline_ns));
        if (n < 0 && errno == EINTR)
            continue;
        if (p[2].revents & POLLIN) {
            drain_stderr(v);
            if (v->errlog.buf && strstr(v->errlog.buf, "internal error")) {
                char *d = vm_diag(v);
                hb__seterr(err, -EIO, "guest failed under the accelerator%s", d ? d : "");
                free(d);
                return -EIO;
            }
        }
        if (n == 0) {
            char *d = vm_diag(v);
            hb__seterr(err, -ETIMEDOUT, "boot did not reach the agent within %.0f ms%s",
                       hb__ms_since(v->spawn_ns), d ? d : "");
            free(d);
            return -ETIMEDOUT;
        }
        if (p[0].revents) {
            uint32_t type, len;
            uint8_t *payload = NULL;
            int r = recv_frame(v, deadline_ns, &type, &payload, &len);
            free(payload);
            if (r == 0 && type == HB_VMP_READY)
                return 0;
            if (r == 0)
                r = -EPROTO;
            char *d = vm_diag(v);
            hb__seterr(err, r, "no READY from the guest agent (%s)%s", strerror(-r), d ? d : "");
            free(d);
            return r;
        }
        if (p[1].revents) {
            char *d = vm_diag(v);
            hb__seterr(err, -ECHILD, "QEMU exited during boot%s", d ? d : "");
            free(d);
            return -ECHILD;
        }
    }
}

/* ---- one job on one VM ---------------------------------------------------- */

static int reset_jobdir(vm *v)
{
    static const char *const sub[] = {"src", "include", "out"};
    for (size_t i = 0; i < HB_ARRAY_SIZE(sub); i++) {
        char *p = hb__path_join(v->jobdir, sub[i]);
        if (!p)
            return -ENOMEM;
        int r = hb__rm_rf(p);
        if (!r)
            r = hb__mkdir_p(p, 0755);
        free(p);
        if (r)
            return r;
    }
    return 0;
}

static int stage_job(vm *v, const hb_vm_job *job, char **err)
{
    int r = reset_jobdir(v);
    if (r)
        return hb__seterr(err, r, "cannot reset %s: %s", v->jobdir, strerror(-r));
    for (size_t i = 0; job->sources[i]; i++) {
        char *src = hb__path_join(job->plugin_dir, job->sources[i]);
        char *dst = hb__asprintf("%s/src/%s", v->jobdir, job->sources[i]);
        char *slash = dst ? strrchr(dst, '/') : NULL;
        r = src && dst ? 0 : -ENOMEM;
        if (!r && slash) {
            *slash = 0;
            r = hb__mkdir_p(dst, 0755);
            *slash = '/';
        }
        /* Keep the execute bit: a plugin may ship a script its build runs. */
        struct stat st;
        if (!r)
            r = copy_file(src, dst, stat(src, &st) == 0 && (st.st_mode & 0111) ? 0755 : 0644);
        if (r)
            hb__seterr(err, r, "cannot copy %s into the job directory: %s", src ? src : "?",
                       strerror(-r));
        free(src);
        free(dst);
        if (r)
            return r;
    }
    if (job->sync_out) {
        char *dst = hb__path_join(v->jobdir, "out");
        r = dst ? copy_top_files(job->out_dir, dst) : -ENOMEM;
        free(dst);
        if (r)
            return hb__seterr(err, r, "cannot copy %s into the job directory: %s",
                              job->out_dir, strerror(-r));
    }
    if (job->include_dir) {
        char *dst = hb__path_join(v->jobdir, "include");
        r = dst ? copy_tree(job->include_dir, dst, 0) : -ENOMEM;
        free(dst);
        if (r)
            return hb__seterr(err, r, "cannot copy %s into the job directory: %s",
                              job->include_dir, strerror(-r));
    }
    return 0;
}

/* sync_out: every file the job left in the guest's out dir goes to out_dir
 * as is (with host_paths the depfile already names host paths). */
static int collect_all_outputs(vm *v, const hb_vm_job *job, hb_vm_result *res, char **err)
{
    char *out = hb__path_join(v->jobdir, "out");
    char *oobj = hb__path_join(job->out_dir, HB_VM_OBJECT_NAME);
    char *odep = hb__path_join(job->out_dir, HB_VM_DEPFILE_NAME);
    int r = out && oobj && odep ? 0 : -ENOMEM;
    if (!r) {
        unlink(oobj);
        unlink(odep);
        r = move_top_files(out, job->out_dir, false);
        if (r)
            hb__seterr(err, r, "cannot move the job's files to %s: %s", job->out_dir,
                       strerror(-r));
    }
    if (!r && access(oobj, F_OK) == 0) {
        res->object_path = oobj;
        oobj = NULL;
    }
    if (!r && access(odep, F_OK) == 0) {
        res->depfile_path = odep;
        odep = NULL;
    }
    free(out);
    free(oobj);
    free(odep);
    return r;
}

/* Moves plugin.so and the mapped plugin.d to out_dir. */
static int collect_outputs(vm *v, const hb_vm_job *job, hb_vm_result *res, char **err)
{
    if (job->sync_out)
        return collect_all_outputs(v, job, res, err);
    char *obj = hb__asprintf("%s/out/" HB_VM_OBJECT_NAME, v->jobdir);
    char *dep = hb__asprintf("%s/out/" HB_VM_DEPFILE_NAME, v->jobdir);
    char *oobj = hb__path_join(job->out_dir, HB_VM_OBJECT_NAME);
    char *odep = hb__path_join(job->out_dir, HB_VM_DEPFILE_NAME);
    int r = obj && dep && oobj && odep ? 0 : -ENOMEM;
    struct stat st;
    if (!r) {
        unlink(oobj);
        unlink(odep);
    }
    if (!r && stat(obj, &st) == 0 && S_ISREG(st.st_mode)) {
        if (rename(obj, oobj) != 0)
            r = errno == EXDEV ? copy_file(obj, oobj, 0755) : -errno;
        if (!r) {
            res->object_path = oobj;
            oobj = NULL;
        } else {
            hb__seterr(err, r, "cannot move %s to %s: %s", obj, oobj, strerror(-r));
        }
    }
    void *data = NULL;
    size_t len;
    if (!r && hb__read_file(dep, 64u << 20, &data, &len) == 0) {
        char *mapped = map_paths(data, job, true);
        r = mapped ? hb__write_file_atomic(odep, mapped, strlen(mapped), 0644) : -ENOMEM;
        free(mapped);
        if (!r) {
            res->depfile_path = odep;
            odep = NULL;
        } else {
            hb__seterr(err, r, "cannot write %s: %s", odep, strerror(-r));
        }
    }
    free(data);
    free(obj);
    free(dep);
    free(oobj);
    free(odep);
    return r;
}

/* Runs the job on v. Returns 0 (res filled), a VM fault (-ETIMEDOUT,
 * -ECHILD, -EPIPE, -EPROTO: the VM must go), or a host-side error. *fault
 * says which kind it was. */
static int vm_run(vm *v, const hb_vm_job *job, unsigned timeout_ms, hb_vm_result *res,
                  bool *fault, char **err)
{
    hb_vmp_w w = {0};
    uint8_t *payload = NULL;
    uint32_t type, len;
    int r;

    *fault = false;
    if ((r = stage_job(v, job, err)) != 0)
        return r;
    /* Guest dir -> host path binds, parents first (a job dir inside the
     * plugin dir must be mounted after, i.e. over, the plugin dir). */
    const char *binds[6];
    size_t nb = 0;
    if (job->host_paths) {
        const char *pairs[3][2] = {{HB_VM_GUEST_SRC, job->plugin_dir},
                                   {HB_VM_GUEST_INCLUDE, job->include_dir},
                                   {HB_VM_GUEST_OUT, job->out_dir}};
        for (size_t i = 0; i < 3; i++) {
            if (!pairs[i][1])
                continue;
            size_t k = nb;
            while (k > 0 && strlen(binds[2 * (k - 1) + 1]) > strlen(pairs[i][1])) {
                binds[2 * k] = binds[2 * (k - 1)];
                binds[2 * k + 1] = binds[2 * (k - 1) + 1];
                k--;
            }
            binds[2 * k] = pairs[i][0];
            binds[2 * k + 1] = pairs[i][1];
            nb++;
        }
    }
    const char *cwd = job->host_paths ? job->out_dir : HB_VM_GUEST_SRC;
    size_t cap = HB_VMP_HEADER + 64 + strlen(cwd);
    for (size_t i = 0; job->argv[i]; i++)
        cap += 4 + strlen(job->argv[i]);
    for (size_t i = 0; i < 2 * nb; i++)
        cap += 4 + strlen(binds[i]);
    w.buf = malloc(cap);
    w.cap = cap;
    if (!w.buf)
        return -ENOMEM;
    size_t argc = hb__strv_len((char *const *)job->argv);
    hb_vmp_begin(&w, HB_VMP_RUN);
    hb_vmp_put_u64(&w, timeout_ms);
    hb_vmp_put_u64(&w, job->max_memory_bytes);
    hb_vmp_put_u64(&w, job->max_output_bytes ? job->max_output_bytes : (256u << 20));
    hb_vmp_put_u64(&w, job->max_diag_bytes ? job->max_diag_bytes : (1u << 20));
    hb_vmp_put_str(&w, cwd);
    hb_vmp_put_u64(&w, argc);
    for (size_t i = 0; i < argc; i++)
        hb_vmp_put_str(&w, job->argv[i]);
    if (nb) {
        hb_vmp_put_u64(&w, nb);
        for (size_t i = 0; i < 2 * nb; i++)
            hb_vmp_put_str(&w, binds[i]);
    }
    r = send_frame(v->sock, &w);
    free(w.buf);
    if (r) {
        *fault = true;
        return hb__seterr(err, r, "cannot send the job to the VM: %s", strerror(-r));
    }
    uint64_t deadline = hb__now_ns() + (uint64_t)(timeout_ms + JOB_GRACE_MS) * 1000000u;
    r = recv_frame(v, deadline, &type, &payload, &len);
    if (!r && type != HB_VMP_RESULT)
        r = -EPROTO;
    if (r) {
        *fault = true;
        char *d = vm_diag(v);
        if (r == -ETIMEDOUT)
            hb__seterr(err, r, "the VM did not answer within the job limit (%u ms) + %u ms%s",
                       timeout_ms, JOB_GRACE_MS, d ? d : "");
        else
            hb__seterr(err, r, "the VM failed during the job (%s)%s", strerror(-r), d ? d : "");
        free(d);
        free(payload);
        return r;
    }
    hb_vmp_r rd = {payload, len, false};
    uint64_t kind, code, us;
    const char *out;
    size_t outn;
    if (!hb_vmp_get_u64(&rd, &kind) || !hb_vmp_get_u64(&rd, &code) ||
        !hb_vmp_get_u64(&rd, &us) || !hb_vmp_get_str(&rd, &out, &outn)) {
        free(payload);
        *fault = true;
        return hb__seterr(err, -EPROTO, "malformed RESULT from the guest agent");
    }
    char *raw = strndup(out, outn);
    free(payload);
    if (!raw)
        return -ENOMEM;
    memset(res, 0, sizeof(*res));
    res->output = map_paths(raw, job, false);
    free(raw);
    if (!res->output)
        return -ENOMEM;
    res->guest_ms = (double)us / 1000.0;
    switch (kind) {
    case HB_VMP_EXITED: res->exit_status = (int)code; break;
    case HB_VMP_SIGNALED: res->exit_status = -1; res->term_signal = (int)code; break;
    case HB_VMP_TIMEOUT: res->exit_status = -1; res->term_signal = (int)code; res->timed_out = true; break;
    default: res->exit_status = -1; break;
    }
    r = collect_outputs(v, job, res, err);
    if (r)
        hb_vm_result_release(res);
    return r;
}

static int warmup(vm *v, const char *cc, unsigned timeout_ms, char **err)
{
    static const char src[] =
        "#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
        "int hb_warmup(const char *s) { char b[64]; snprintf(b, sizeof b, \"%s\", s);"
        " return (int)strlen(b) + (int)(intptr_t)getenv(\"X\"); }\n";
    char *dir = hb__path_join(v->dir, "warmup");
    char *file = dir ? hb__path_join(dir, "warmup.c") : NULL;
    int r = file ? hb__mkdir_p(dir, 0755) : -ENOMEM;
    if (!r)
        r = hb__write_file_atomic(file, src, sizeof(src) - 1, 0644);
    if (r) {
        free(dir);
        free(file);
        return hb__seterr(err, r, "cannot write the warm-up source: %s", strerror(-r));
    }
    const char *sources[] = {"warmup.c", NULL};
    const char *argv[] = {cc, "-shared", "-fPIC", "-O2", "-MD", "-MF",
                          HB_VM_GUEST_OUT "/" HB_VM_DEPFILE_NAME, "-o",
                          HB_VM_GUEST_OUT "/" HB_VM_OBJECT_NAME, HB_VM_GUEST_SRC "/warmup.c", NULL};
    hb_vm_job job = {.plugin_dir = dir, .sources = sources, .argv = argv, .out_dir = dir};
    hb_vm_result res;
    bool fault;
    r = vm_run(v, &job, timeout_ms, &res, &fault, err);
    if (!r) {
        if (res.exit_status != 0)
            r = hb__seterr(err, -EIO, "the warm-up compile failed (exit %d): %s",
                           res.exit_status, res.output);
        hb_vm_result_release(&res);
    }
    free(dir);
    free(file);
    return r;
}

/* ---- pool ----------------------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *ring, uint64_t n, double q)
{
    size_t k = n < LAT_RING ? (size_t)n : LAT_RING;
    if (!k)
        return 0;
    double tmp[LAT_RING];
    memcpy(tmp, ring, k * sizeof(double));
    qsort(tmp, k, sizeof(double), cmp_dbl);
    size_t i = (size_t)(q * (double)(k - 1) + 0.5);
    return tmp[i < k ? i : k - 1];
}

static void wake_keeper(hb_vm_pool *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->wakefd, &one, sizeof(one));
    (void)n;
}

/* Boots every empty slot and waits for booting VMs; runs under p->mu. */
static void *keeper_main(void *arg)
{
    hb_vm_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        for (unsigned i = 0; i < p->nvm && !p->broken; i++) {
            if (p->vms[i].state != VM_EMPTY)
                continue;
            char *err = NULL;
            if (vm_spawn(&p->cfg, p->dir, p->seq++, &p->vms[i], &err) != 0) {
                p->failures++;
                if (++p->boot_fail_streak >= MAX_BOOT_FAILURES)
                    p->broken = hb__asprintf("cannot start QEMU: %s", err ? err : "?");
                free(err);
            }
        }
        struct pollfd pf[1 + 3 * 16];
        unsigned idx[16], nb = 0;
        uint64_t first_deadline = UINT64_MAX;
        pf[0] = (struct pollfd){p->wakefd, POLLIN, 0};
        for (unsigned i = 0; i < p->nvm && nb < 16; i++) {
            vm *v = &p->vms[i];
            if (v->state != VM_BOOTING)
                continue;
            idx[nb] = i;
            pf[1 + 3 * nb] = (struct pollfd){v->sock, POLLIN, 0};
            pf[2 + 3 * nb] = (struct pollfd){v->pidfd, POLLIN, 0};
            pf[3 + 3 * nb] = (struct pollfd){v->errfd, POLLIN, 0};
            uint64_t dl = v->spawn_ns + (uint64_t)p->cfg.boot_timeout_ms * 1000000u;
            if (dl < first_deadline)
                first_deadline = dl;
            nb++;
        }
        pthread_mutex_unlock(&p->mu);
        int timeout = first_deadline == UINT64_MAX ? -1 : ms_left(first_deadline);
        int n = poll(pf, 1 + 3 * nb, timeout);
        pthread_mutex_lock(&p->mu);
        if (n < 0 && errno != EINTR)
            break;
        if (pf[0].revents & POLLIN) {
            uint64_t junk;
            ssize_t k = read(p->wakefd, &junk, sizeof(junk));
            (void)k;
        }
        for (unsigned j = 0; j < nb && !p->stop; j++) {
            vm *v = &p->vms[idx[j]];
            uint64_t dl = v->spawn_ns + (uint64_t)p->cfg.boot_timeout_ms * 1000000u;
            bool ready_to_check = pf[1 + 3 * j].revents || pf[2 + 3 * j].revents ||
                                  pf[3 + 3 * j].revents || hb__now_ns() >= dl;
            if (!ready_to_check)
                continue;
            /* The VM is ours until it is marked warm: nobody else touches a
             * booting VM, so the lock can go while we talk to it. */
            pthread_mutex_unlock(&p->mu);
            char *err = NULL;
            int r = vm_wait_ready(v, hb__now_ns() >= dl ? hb__now_ns() : dl, &err);
            double boot_ms = hb__ms_since(v->spawn_ns);
            if (!r && !p->o.no_warmup)
                r = warmup(v, p->warmup_cc, p->cfg.boot_timeout_ms, &err);
            pthread_mutex_lock(&p->mu);
            if (r) {
                if (!p->stop) {
                    p->failures++;
                    if (++p->boot_fail_streak >= MAX_BOOT_FAILURES && !p->broken)
                        p->broken = hb__asprintf("%u boots in a row failed; last: %s",
                                                 p->boot_fail_streak, err ? err : "?");
                }
                vm_kill(v);
            } else {
                p->boot_fail_streak = 0;
                p->boots++;
                p->boot_lat[p->nboot_lat++ % LAT_RING] = boot_ms;
                v->state = VM_WARM;
            }
            free(err);
            pthread_cond_broadcast(&p->cv);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Debian's /usr/bin/cc -> /etc/alternatives/cc -> /usr/bin/gcc: the guest
 * needs the /etc/alternatives links (not their targets, which are in /usr). */
static int add_alternatives(hb_cpio *c, char **err)
{
    DIR *d = opendir("/etc/alternatives");
    if (!d)
        return 0;
    int r = hb__cpio_dir(c, "etc/alternatives", 0755);
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        char path[PATH_MAX], target[PATH_MAX], name[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/etc/alternatives/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        snprintf(name, sizeof(name), "etc/alternatives/%s", e->d_name);
        r = hb__cpio_symlink(c, name, target);
    }
    closedir(d);
    if (r)
        hb__seterr(err, r, "cannot add /etc/alternatives to the initramfs: %s", strerror(-r));
    return r;
}

/* Appends the kernel's modules (in load order) and the host's ld.so.cache
 * to a copy of the base initramfs. */
static int build_initramfs(const char *base, const char *kdir, const char *out, char **err)
{
    int r = copy_file(base, out, 0644);
    if (r)
        return hb__seterr(err, r, "cannot copy the initramfs %s: %s", base, strerror(-r));
    FILE *f = fopen(out, "abe");
    if (!f)
        return hb__seterr(err, -errno, "%s: %s", out, strerror(errno));
    /* newc archives start on a 4-byte boundary: the base ends aligned */
    hb_cpio c;
    hb__cpio_init(&c, f);
    char *order_path = hb__asprintf("%s/modules/order", kdir);
    void *order = NULL;
    size_t len = 0;
    if (order_path && hb__read_file(order_path, 1 << 16, &order, &len) == 0) {
        hb__cpio_file(&c, "modules/order", 0644, order, len);
        char *save = NULL;
        for (char *name = strtok_r(order, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
            char *src = hb__asprintf("%s/modules/%s", kdir, name);
            char *dst = hb__asprintf("modules/%s", name);
            r = src && dst ? hb__cpio_file_from(&c, dst, 0644, src) : -ENOMEM;
            if (r)
                hb__seterr(err, r, "cannot add module %s: %s", src ? src : name, strerror(-r));
            free(src);
            free(dst);
            if (r)
                break;
        }
    }
    free(order);
    free(order_path);
    if (!r && access("/etc/ld.so.cache", R_OK) == 0)
        r = hb__cpio_file_from(&c, "etc/ld.so.cache", 0644, "/etc/ld.so.cache");
    if (!r)
        r = add_alternatives(&c, err);
    int r2 = hb__cpio_finish(&c);
    if (fclose(f) != 0 && !r2)
        r2 = -errno;
    if (!r && r2)
        r = hb__seterr(err, r2, "cannot write %s: %s", out, strerror(-r2));
    return r;
}

static void cfg_release(vm_cfg *c)
{
    free(c->qemu);
    free(c->kernel);
    free(c->initrd);
    memset(c, 0, sizeof(*c));
}

/* Resolves kernel, initramfs and qemu; builds the private initramfs in dir. */
static int cfg_init(const hb_vm_pool_options *o, const char *dir, vm_cfg *c, char **err)
{
    int r = 0;
    memset(c, 0, sizeof(*c));
    char *kdir = o->kernel_dir ? strdup(o->kernel_dir) : default_kernel_dir();
    const char *base = o->initramfs;
    if (!base)
        base = getenv("HOTBOX_MICROVM_INITRAMFS");
    if (!base || !*base)
        base = HB_MICROVM_DEFAULT_INITRAMFS;
    c->qemu = strdup(o->qemu ? o->qemu : "qemu-system-x86_64");
    c->memory_mb = o->memory_mb ? o->memory_mb : 256;
    c->boot_timeout_ms = o->boot_timeout_ms ? o->boot_timeout_ms : 30000;
    c->accel = o->accel;
    if (!kdir || !c->qemu) {
        r = -ENOMEM;
        goto out;
    }
    char *vmlinux = hb__path_join(kdir, "vmlinux"), *bz = hb__path_join(kdir, "bzImage");
    if (vmlinux && access(vmlinux, R_OK) == 0) {
        c->kernel = vmlinux;
        vmlinux = NULL;
    } else if (bz && access(bz, R_OK) == 0) {
        c->kernel = bz;
        bz = NULL;
    }
    free(vmlinux);
    free(bz);
    if (!c->kernel) {
        r = hb__seterr(err, -ENOENT,
                       "guest kernel not found at %s (no vmlinux or bzImage); run "
                       "scripts/fetch-guest-kernel.sh (or set HOTBOX_KERNEL_DIR)", kdir);
        goto out;
    }
    if (!*base || access(base, R_OK) != 0) {
        r = hb__seterr(err, -ENOENT,
                       "guest initramfs not found at %s; build the hb_microvm_initramfs "
                       "target (or set HOTBOX_MICROVM_INITRAMFS)", *base ? base : "(unset)");
        goto out;
    }
    if (dir) {
        c->initrd = hb__path_join(dir, "initramfs.cpio");
        r = c->initrd ? build_initramfs(base, kdir, c->initrd, err) : -ENOMEM;
    }
out:
    free(kdir);
    if (r)
        cfg_release(c);
    return r;
}

static int make_run_dir(const hb_vm_pool_options *o, char **out, char **err)
{
    const char *parent = o->run_dir;
    if (!parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    int r = hb__mkdtemp_in(parent, "hotbox-vm-", out);
    if (r)
        hb__seterr(err, r, "cannot create a directory in %s: %s", parent, strerror(-r));
    return r;
}

static bool kvm_usable_device(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* One boot to READY under `accel`, then SHUTDOWN; 0 and *ms on success. */
static int probe_boot(const vm_cfg *base, const char *dir, hb_vm_accel accel, unsigned timeout_ms,
                      double *ms, char **err)
{
    vm_cfg c = *base;
    c.accel = accel;
    vm v;
    int r = vm_spawn(&c, dir, 0, &v, err);
    if (r)
        return r;
    r = vm_wait_ready(&v, v.spawn_ns + (uint64_t)timeout_ms * 1000000u, err);
    if (!r) {
        *ms = hb__ms_since(v.spawn_ns);
        uint8_t buf[HB_VMP_HEADER];
        hb_vmp_w w = {buf, sizeof(buf), 0, false};
        hb_vmp_begin(&w, HB_VMP_SHUTDOWN);
        if (send_frame(v.sock, &w) == 0) {
            struct pollfd p = {v.pidfd, POLLIN, 0};
            while (poll(&p, 1, 5000) < 0 && errno == EINTR)
                ;
        }
    }
    vm_kill(&v);
    return r;
}

static int probe_in(const vm_cfg *c, const char *dir, hb_vm_accel accel, hb_vm_accel *used,
                    double *boot_ms, char **why)
{
    hb_sb sb = HB_SB_INIT;
    int r = -ENODEV;
    double ms = 0;
    if (accel != HB_VM_ACCEL_TCG) {
        char *e = NULL;
        if (!kvm_usable_device()) {
            hb__sb_addf(&sb, "kvm: /dev/kvm cannot be opened (%s)", strerror(errno));
            r = -ENODEV;
        } else {
            unsigned t = accel == HB_VM_ACCEL_KVM ? c->boot_timeout_ms : KVM_PROBE_TIMEOUT_MS;
            r = probe_boot(c, dir, HB_VM_ACCEL_KVM, t, &ms, &e);
            if (r == 0)
                hb__sb_addf(&sb, "kvm: guest booted in %.0f ms", ms);
            else
                hb__sb_addf(&sb, "kvm: /dev/kvm opens but a guest does not boot under it: %s",
                            e ? e : strerror(-r));
        }
        free(e);
        if (r == 0) {
            *used = HB_VM_ACCEL_KVM;
            *boot_ms = ms;
        }
    }
    if (r != 0 && accel != HB_VM_ACCEL_KVM) {
        char *e = NULL;
        r = probe_boot(c, dir, HB_VM_ACCEL_TCG, c->boot_timeout_ms, &ms, &e);
        hb__sb_addf(&sb, "%stcg: %s", sb.len ? "; " : "", "");
        if (r == 0)
            hb__sb_addf(&sb, "guest booted in %.0f ms (software emulation, slower)", ms);
        else
            hb__sb_addf(&sb, "boot failed: %s", e ? e : strerror(-r));
        free(e);
        if (r == 0) {
            *used = HB_VM_ACCEL_TCG;
            *boot_ms = ms;
        }
    }
    free(*why);
    *why = hb__sb_detach(&sb);
    return r;
}

int hb_vm_probe(const hb_vm_pool_options *opts, hb_vm_accel *used, double *boot_ms, char **why)
{
    hb_vm_pool_options d = HB_VM_POOL_OPTIONS_INIT;
    const hb_vm_pool_options *o = opts ? opts : &d;
    char *dir = NULL;
    vm_cfg c;
    hb_vm_accel u = HB_VM_ACCEL_TCG;
    double ms = 0;
    if (!used || !boot_ms || !why)
        return -EINVAL;
    int r = make_run_dir(o, &dir, why);
    if (!r)
        r = cfg_init(o, dir, &c, why);
    if (!r) {
        r = probe_in(&c, dir, o->accel, &u, &ms, why);
        cfg_release(&c);
    }
    if (dir) {
        hb__rm_rf(dir);
        free(dir);
    }
    if (!r) {
        *used = u;
        *boot_ms = ms;
    }
    return r;
}

/* The KVM verdict is the same for the whole process: probe once. */
static pthread_mutex_t g_accel_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_accel_known;
static hb_vm_accel g_accel;
static char *g_accel_why;

static int resolve_accel(hb_vm_pool *p, char **err)
{
    if (p->o.accel != HB_VM_ACCEL_AUTO) {
        p->cfg.accel = p->o.accel;
        p->accel_why = hb__asprintf("%s forced by the options", hb_vm_accel_name(p->o.accel));
        return 0;
    }
    pthread_mutex_lock(&g_accel_mu);
    if (!g_accel_known) {
        hb_sb sb = HB_SB_INIT;
        if (!kvm_usable_device()) {
            g_accel = HB_VM_ACCEL_TCG;
            hb__sb_addf(&sb, "tcg: /dev/kvm cannot be opened");
        } else {
            char *e = NULL;
            double ms = 0;
            int r = probe_boot(&p->cfg, p->dir, HB_VM_ACCEL_KVM, KVM_PROBE_TIMEOUT_MS, &ms, &e);
            g_accel = r == 0 ? HB_VM_ACCEL_KVM : HB_VM_ACCEL_TCG;
            if (r == 0)
                hb__sb_addf(&sb, "kvm: a probe guest booted in %.0f ms", ms);
            else
                hb__sb_addf(&sb, "tcg: /dev/kvm opens but a probe guest does not boot under "
                            "KVM (%s)", e ? e : strerror(-r));
            free(e);
        }
        g_accel_why = hb__sb_detach(&sb);
        g_accel_known = 1;
    }
    p->cfg.accel = g_accel;
    p->accel_why = strdup(g_accel_why ? g_accel_why : "");
    pthread_mutex_unlock(&g_accel_mu);
    (void)err;
    return 0;
}

int hb_vm_pool_new(const hb_vm_pool_options *opts, hb_vm_pool **out, char **err)
{
    hb_vm_pool_options d = HB_VM_POOL_OPTIONS_INIT;
    if (!out || (opts && opts->version != HB_VM_POOL_OPTIONS_VERSION))
        return -EINVAL;
    hb_vm_pool *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->o = opts ? *opts : d;
    p->wakefd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->nvm = p->o.size ? p->o.size : 1;
    if (p->nvm > 16)
        p->nvm = 16;
    if (!p->o.jobs_per_vm)
        p->o.jobs_per_vm = 50;
    if (!p->o.job_timeout_ms)
        p->o.job_timeout_ms = 60000;
    p->warmup_cc = strdup(p->o.warmup_cc ? p->o.warmup_cc : "cc");
    p->vms = calloc(p->nvm, sizeof(*p->vms));
    int r = p->vms && p->warmup_cc ? 0 : -ENOMEM;
    for (unsigned i = 0; p->vms && i < p->nvm; i++) {
        p->vms[i].pid = -1;
        p->vms[i].pidfd = p->vms[i].sock = p->vms[i].errfd = -1;
    }
    if (!r)
        r = make_run_dir(&p->o, &p->dir, err);
    if (!r)
        r = cfg_init(&p->o, p->dir, &p->cfg, err);
    if (!r)
        r = resolve_accel(p, err);
    if (!r && (p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
        r = -errno;
    if (!r) {
        r = -pthread_create(&p->keeper, NULL, keeper_main, p);
        p->keeper_started = r == 0;
    }
    if (r) {
        if (err && !*err)
            hb__seterr(err, r, "cannot create the VM pool: %s", strerror(-r));
        hb_vm_pool_free(p);
        return r;
    }
    *out = p;
    return 0;
}

void hb_vm_pool_free(hb_vm_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    /* A keeper talking to a booting VM notices its death at once. */
    for (unsigned i = 0; p->vms && i < p->nvm; i++)
        if (p->vms[i].pid > 0)
            kill(p->vms[i].pid, SIGKILL);
    pthread_mutex_unlock(&p->mu);
    if (p->keeper_started) {
        wake_keeper(p);
        pthread_join(p->keeper, NULL);
    }
    for (unsigned i = 0; p->vms && i < p->nvm; i++)
        vm_kill(&p->vms[i]);
    free(p->vms);
    if (p->wakefd >= 0)
        close(p->wakefd);
    cfg_release(&p->cfg);
    if (p->dir)
        hb__rm_rf(p->dir);
    free(p->dir);
    free(p->warmup_cc);
    free(p->accel_why);
    free(p->broken);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void deadline_ts(uint64_t deadline_ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ns / 1000000000u);
    ts->tv_nsec = (long)(deadline_ns % 1000000000u);
}

int hb_vm_pool_wait_warm(hb_vm_pool *p, unsigned timeout_ms, char **err)
{
    if (!p)
        return -EINVAL;
    uint64_t deadline = hb__now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timespec ts;
    deadline_ts(deadline, &ts);
    int r = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        unsigned warm = 0;
        for (unsigned i = 0; i < p->nvm; i++)
            warm += p->vms[i].state == VM_WARM;
        if (warm == p->nvm)
            break;
        if (p->broken) {
            r = hb__seterr(err, -EIO, "%s", p->broken);
            break;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT) {
            r = hb__seterr(err, -ETIMEDOUT, "VMs not warm within %u ms", timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

/* Takes a warm VM, waiting up to the deadline. */
static int acquire(hb_vm_pool *p, uint64_t deadline, vm **out, char **err)
{
    struct timespec ts;
    deadline_ts(deadline, &ts);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (unsigned i = 0; i < p->nvm; i++) {
            if (p->vms[i].state == VM_WARM) {
                p->vms[i].state = VM_BUSY;
                *out = &p->vms[i];
                pthread_mutex_unlock(&p->mu);
                return 0;
            }
        }
        if (p->broken) {
            int r = hb__seterr(err, -EIO, "no VM available: %s", p->broken);
            pthread_mutex_unlock(&p->mu);
            return r;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            return hb__seterr(err, -ETIMEDOUT, "no warm VM became available in time");
        }
    }
}

static void release_vm(hb_vm_pool *p, vm *v, bool fault, bool ran, double ms)
{
    pthread_mutex_lock(&p->mu);
    if (ran) {
        p->jobs++;
        p->lat[p->nlat++ % LAT_RING] = ms;
        v->jobs++;
    }
    if (fault)
        p->failures++;
    if (fault || v->jobs >= p->o.jobs_per_vm) {
        if (!fault)
            p->recycled++;
        /* The slot is free at once; the slow part (reap, rm -rf) of
         * retiring the old VM happens on a copy, outside the lock. */
        vm dead = *v;
        memset(v, 0, sizeof(*v));
        v->pid = -1;
        v->pidfd = v->sock = v->errfd = -1;
        v->state = VM_EMPTY;
        wake_keeper(p);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        vm_kill(&dead);
        return;
    } else {
        v->state = VM_WARM;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int hb_vm_pool_compile(hb_vm_pool *p, const hb_vm_job *job, hb_vm_result *res, char **err)
{
    if (!p || !job || !res || !job->plugin_dir || !job->sources || !job->argv ||
        !job->argv[0] || !job->out_dir)
        return -EINVAL;
    for (size_t i = 0; job->sources[i]; i++)
        if (!safe_relname(job->sources[i]))
            return hb__seterr(err, -EINVAL, "bad source name \"%s\" (must be relative, no \"..\")",
                              job->sources[i]);
    unsigned timeout = job->timeout_ms ? job->timeout_ms : p->o.job_timeout_ms;
    uint64_t t0 = hb__now_ns();
    char *first = NULL;
    int r = -EIO;
    for (unsigned attempt = 1; attempt <= 2; attempt++) {
        /* A boot (maybe two, after a failure) plus the job's own limit. */
        uint64_t deadline = hb__now_ns() + (uint64_t)(2 * p->cfg.boot_timeout_ms + timeout) * 1000000u;
        vm *v = NULL;
        char *e = NULL;
        r = acquire(p, deadline, &v, &e);
        if (r) {
            hb__seterr(err, r, "%s%s%s", first ? first : "", first ? "; then: " : "", e ? e : "");
            free(e);
            break;
        }
        bool fault = false;
        uint64_t j0 = hb__now_ns();
        hb_vm_result tmp;
        r = vm_run(v, job, timeout, &tmp, &fault, &e);
        release_vm(p, v, fault, r == 0, hb__ms_since(j0));
        if (r == 0) {
            tmp.attempts = attempt;
            tmp.elapsed_ms = hb__ms_since(t0);
            *res = tmp;
            free(e);
            break;
        }
        if (!fault || attempt == 2) {
            if (first)
                hb__seterr(err, r, "job failed twice: first: %s; then: %s", first, e ? e : "?");
            else
                hb__seterr(err, r, "%s", e ? e : strerror(-r));
            free(e);
            break;
        }
        first = e;
    }
    free(first);
    return r;
}

void hb_vm_result_release(hb_vm_result *res)
{
    if (!res)
        return;
    free(res->output);
    free(res->object_path);
    free(res->depfile_path);
    memset(res, 0, sizeof(*res));
}

void hb_vm_pool_stats_get(hb_vm_pool *p, hb_vm_pool_stats *out)
{
    hb_vm_pool_stats s;
    memset(&s, 0, sizeof(s));
    if (!p || !out)
        return;
    pthread_mutex_lock(&p->mu);
    s.size = p->nvm;
    for (unsigned i = 0; i < p->nvm; i++) {
        vm *v = &p->vms[i];
        s.warm += v->state == VM_WARM;
        s.busy += v->state == VM_BUSY;
        s.booting += v->state == VM_BOOTING;
        if (v->pid > 0)
            s.qemu_rss_kib += rss_kib(v->pid);
    }
    s.boots = p->boots;
    s.failures = p->failures;
    s.jobs = p->jobs;
    s.recycled = p->recycled;
    s.last_job_ms = p->nlat ? p->lat[(p->nlat - 1) % LAT_RING] : 0;
    s.median_job_ms = percentile(p->lat, p->nlat, 0.5);
    s.p95_job_ms = percentile(p->lat, p->nlat, 0.95);
    s.last_boot_ms = p->nboot_lat ? p->boot_lat[(p->nboot_lat - 1) % LAT_RING] : 0;
    s.median_boot_ms = percentile(p->boot_lat, p->nboot_lat, 0.5);
    s.accel = p->cfg.accel;
    s.accel_why = p->accel_why;
    pthread_mutex_unlock(&p->mu);
    *out = s;
}
