/*
 * compiler/microvm/launch.c - one QEMU microVM: its argv, the process, waiting for the agent's
 * READY, the diagnostics of a failed boot, and killing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process.h"
#include "vm_internal.h"

int hb__vm_ms_left(uint64_t deadline_ns)
{
    uint64_t now = hb__now_ns();
    if (now >= deadline_ns)
        return 0;
    uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
    return ms > INT_MAX ? INT_MAX : (int)ms;
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

void hb__vm_kill(vm *v)
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
char *hb__vm_diag(vm *v)
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

/* The options that define the machine (what a snapshot must be restored
 * into): one place, used by every spawn and by the snapshot key. Under TCG
 * the CPU model and the translation cache size are ours to choose (see
 * docs/microvm.md for the measurements behind them). */
static const char *accel_arg(const vm_cfg *c, char *buf, size_t len)
{
    if (c->accel == HB_VM_ACCEL_KVM)
        return "kvm";
    snprintf(buf, len, "tcg,tb-size=%u", c->tb_mb ? c->tb_mb : HB_VM_TCG_TB_MB);
    return buf;
}

/* The minimal kernel has no ACPI: without ACPI tables QEMU's microvm machine
 * lists the virtio-mmio devices on the kernel command line instead
 * (auto-kernel-cmdline), which that kernel reads
 * (VIRTIO_MMIO_CMDLINE_DEVICES). Debian's kernel lacks that option and finds
 * them through ACPI. */
static const char *machine_arg(const vm_cfg *c)
{
    return c->minimal_kernel ? "microvm,acpi=off" : "microvm";
}

static const char *cpu_arg(const vm_cfg *c)
{
    return c->accel == HB_VM_ACCEL_KVM ? "host" : HB_VM_TCG_CPU;
}

char *hb__vm_kernel_cmdline(void)
{
    unsigned khz = host_tsc_khz();
    hb_sb sb = HB_SB_INIT;
    hb__sb_addf(&sb, "console=ttyS0 quiet reboot=t panic=-1 tsc=reliable");
    if (khz)
        hb__sb_addf(&sb, " tsc_early_khz=%u", khz);
    const char *extra = getenv("HOTBOX_VM_APPEND");
    if (extra && *extra)
        hb__sb_addf(&sb, " %s", extra);
    return hb__sb_detach(&sb);
}

int hb__vm_machine_text(const vm_cfg *c, hb_sb *out)
{
    char accel[64];
    return hb__sb_addf(out, "machine=%s accel=%s cpu=%s m=%u smp=1 append=%s%s\n", machine_arg(c),
                       accel_arg(c, accel, sizeof(accel)), cpu_arg(c), c->memory_mb, c->append,
                       c->worker_port ? " port=" HB_VMP_WORKER_PORT_NAME
                                                      " port=" HB_VMP_OUTPUT_PORT_NAME : "");
}

/* A value inside a QEMU option list: each ',' doubled. */
static void add_option_value(hb_sb *sb, const char *value)
{
    for (const char *p = value; *p; p++) {
        hb__sb_add(sb, p, 1);
        if (*p == ',')
            hb__sb_add(sb, ",", 1);
    }
}

int hb__vm_spawn(const vm_cfg *c, const char *parent_dir, unsigned seq, const hb__vm_spawn_io *io,
                 vm *v, char **err)
{
    int sv[2] = {-1, -1}, ep[2] = {-1, -1}, logfd = -1, r;
    int restore_fd = -1, qmp_fd = -1, worker_fd = -1, output_fd = -1;
    char **argv = NULL;
    hb_sb chr = HB_SB_INIT, usr = HB_SB_INIT, job = HB_SB_INIT,
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

    /* The child puts these on fds 4 and 5: keep them clear of 0..5 */
    if (io && io->restore_fd >= 0 && (restore_fd = fcntl(io->restore_fd, F_DUPFD_CLOEXEC, 10)) < 0) {
        r = hb__seterr(err, -errno, "cannot pass the snapshot to QEMU: %s", strerror(errno));
        goto fail;
    }
    if (io && io->qmp_fd >= 0 && (qmp_fd = fcntl(io->qmp_fd, F_DUPFD_CLOEXEC, 10)) < 0) {
        r = hb__seterr(err, -errno, "cannot pass the monitor socket to QEMU: %s", strerror(errno));
        goto fail;
    }
    if (io && io->worker && (worker_fd = fcntl(io->worker_fd, F_DUPFD_CLOEXEC, 10)) < 0) {
        r = hb__seterr(err, -errno, "cannot pass the worker's socket to QEMU: %s", strerror(errno));
        goto fail;
    }
    if (io && io->output && (output_fd = fcntl(io->output_fd, F_DUPFD_CLOEXEC, 10)) < 0) {
        r = hb__seterr(err, -errno, "cannot pass the worker's output file to QEMU: %s",
                       strerror(errno));
        goto fail;
    }
    hb__sb_addf(&chr, "socket,id=agent,fd=3");
    hb__sb_addf(&usr, "local,id=usr,path=/usr,security_model=none,readonly=on");
    /* QEMU splits option values at a single ',' (",," is a literal one):
     * a run directory such as $TMPDIR=/tmp/a,readonly=on would otherwise
     * end the path there and add options of its own. */
    hb__sb_adds(&job, "local,id=job,path=");
    add_option_value(&job, v->jobdir);
    hb__sb_adds(&job, ",security_model=none");
    hb__sb_addf(&ser, "file:%s/console.log", v->dir);
    hb__sb_addf(&mem, "%u", c->memory_mb);
    char accel[64];
    const char *args[] = {
        c->qemu, "-M", machine_arg(c), "-accel", accel_arg(c, accel, sizeof(accel)),
        "-cpu", cpu_arg(c), "-m", mem.buf, "-smp", "1",
        "-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-sandbox", "on",
        "-kernel", c->kernel, "-initrd", c->initrd, "-append", c->append,
        "-serial", ser.buf, "-nic", "none",
        "-device", "virtio-serial-device", "-chardev", chr.buf,
        "-device", "virtserialport,chardev=agent,name=" HB_VMP_PORT_NAME,
        "-fsdev", usr.buf, "-device", "virtio-9p-device,fsdev=usr,mount_tag=hostusr",
        "-fsdev", job.buf, "-device", "virtio-9p-device,fsdev=job,mount_tag=job",
        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, NULL, NULL, NULL, NULL, NULL}; /* room for the optional tails */
    size_t nargs = HB_ARRAY_SIZE(args) - 18;
    if (restore_fd >= 0) { /* restore the snapshot on fd 4 instead of booting */
        args[nargs++] = "-incoming";
        args[nargs++] = "fd:4";
    }
    if (qmp_fd >= 0) { /* a monitor on fd 5, to save a snapshot */
        args[nargs++] = "-chardev";
        args[nargs++] = "socket,id=qmp,fd=5";
        args[nargs++] = "-mon";
        args[nargs++] = "chardev=qmp,mode=control";
    }
    if (worker_fd >= 0) { /* the guest worker's port on fd 6 */
        args[nargs++] = "-chardev";
        args[nargs++] = "socket,id=worker,fd=6";
        args[nargs++] = "-device";
        args[nargs++] = "virtserialport,chardev=worker,name=" HB_VMP_WORKER_PORT_NAME;
    }
    if (output_fd >= 0) { /* the guest worker's output, appended to the file on fd 7 */
        args[nargs++] = "-add-fd";
        args[nargs++] = "fd=7,set=7";
        args[nargs++] = "-chardev";
        args[nargs++] = "file,id=output,path=/dev/fdset/7,append=on";
        args[nargs++] = "-device";
        args[nargs++] = "virtserialport,chardev=output,name=" HB_VMP_OUTPUT_PORT_NAME;
    }
    args[nargs] = NULL;
    if (!c->append || !chr.buf || !usr.buf || !job.buf || !ser.buf || !mem.buf) {
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
    hb_spawn_fd fds[8];
    size_t nfds = 0;
    fds[nfds++] = (hb_spawn_fd){sv[1], 3};
    fds[nfds++] = (hb_spawn_fd){ep[1], 2};
    if (logfd >= 0) {
        fds[nfds++] = (hb_spawn_fd){logfd, 1};
        fds[nfds++] = (hb_spawn_fd){logfd, 0};
    }
    if (restore_fd >= 0)
        fds[nfds++] = (hb_spawn_fd){restore_fd, 4};
    if (qmp_fd >= 0)
        fds[nfds++] = (hb_spawn_fd){qmp_fd, 5};
    if (worker_fd >= 0)
        fds[nfds++] = (hb_spawn_fd){worker_fd, 6};
    if (output_fd >= 0)
        fds[nfds++] = (hb_spawn_fd){output_fd, 7};
    hb_spawn sp = {.argv = argv, .search_path = true, .fds = fds, .nfds = nfds,
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
    hb__vm_kill(v);
out:
    HB_CLOSE_ALL(sv[0], sv[1], ep[0], ep[1], logfd, restore_fd, qmp_fd, worker_fd, output_fd);
    free(argv);
    hb__sb_release(&chr);
    hb__sb_release(&usr);
    hb__sb_release(&job);
    hb__sb_release(&ser);
    hb__sb_release(&mem);
    return r;
}

/* Waits for READY. Fails early on QEMU's exit or "KVM internal error". */
/* MOUNTED's verdict: 0, or the guest's errno with its message in *err. */
static int mounted_status(const uint8_t *payload, uint32_t len, char **err)
{
    hb_vmp_r rd = {payload, len, false};
    uint64_t code;
    const char *msg;
    size_t n;
    if (!hb_vmp_get_u64(&rd, &code) || !hb_vmp_get_str(&rd, &msg, &n))
        return hb__seterr(err, -EPROTO, "malformed MOUNTED from the guest agent");
    if (code == 0)
        return 0;
    int r = code < 4096 ? -(int)code : -EIO;
    return hb__seterr(err, r, "the guest could not mount the host's exports: %.*s", (int)n, msg);
}

int hb__vm_wait_ready(vm *v, uint64_t deadline_ns, uint32_t expect, char **err)
{
    const char *what = v->restored ? "restore" : "boot";
    for (;;) {
        struct pollfd p[3] = {{v->sock, POLLIN, 0}, {v->pidfd, POLLIN, 0}, {v->errfd, POLLIN, 0}};
        int n = poll(p, 3, hb__vm_ms_left(deadline_ns));
        if (n < 0 && errno == EINTR)
            continue;
        if (p[2].revents & POLLIN) {
            drain_stderr(v);
            if (v->errlog.buf && strstr(v->errlog.buf, "internal error")) {
                char *d = hb__vm_diag(v);
                hb__seterr(err, -EIO, "guest failed under the accelerator%s", d ? d : "");
                free(d);
                return -EIO;
            }
        }
        if (n == 0) {
            char *d = hb__vm_diag(v);
            hb__seterr(err, -ETIMEDOUT, "%s did not reach the agent within %.0f ms%s", what,
                       hb__ms_since(v->spawn_ns), d ? d : "");
            free(d);
            return -ETIMEDOUT;
        }
        if (p[0].revents) {
            uint32_t type, len;
            uint8_t *payload = NULL;
            int r = hb__vm_recv_frame(v, deadline_ns, &type, &payload, &len);
            if (r == 0 && type == expect) {
                r = type == HB_VMP_MOUNTED ? mounted_status(payload, len, err) : 0;
                free(payload);
                return r;
            }
            free(payload);
            if (r == 0)
                r = -EPROTO;
            char *d = hb__vm_diag(v);
            hb__seterr(err, r, "no %s from the guest agent after the %s (%s)%s",
                       expect == HB_VMP_MOUNTED ? "MOUNTED" : "READY", what, strerror(-r),
                       d ? d : "");
            free(d);
            return r;
        }
        if (p[1].revents) {
            char *d = hb__vm_diag(v);
            hb__seterr(err, -ECHILD, "QEMU exited during the %s%s", what, d ? d : "");
            free(d);
            return -ECHILD;
        }
    }
}

