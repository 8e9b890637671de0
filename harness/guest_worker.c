/* harness/guest_worker.c - a worker inside a microVM guest (guest.h).
 *
 * The VM is one of the compile VMs' kind (compiler/microvm/: the same
 * kernel, initramfs and agent, started by hb__vm_spawn) with two more
 * virtio-serial ports, the worker's wire and its output (appended by QEMU
 * to the sandbox's output file). Because of them its machine
 * differs from a compile VM's, so it has its own snapshot key: the first
 * guest worker on a machine boots a VM to the agent's READY and saves it;
 * every later one restores that file (vmstate, SHA-256 checked) instead of
 * booting. A VM serves one sandbox's worker for the worker's life: a
 * restart (after a crash) starts a new VM from the snapshot.
 *
 * QEMU is started on the process's keeper thread (util/keeper.h), like a
 * process worker: its parent-death signal follows the manager process, not
 * the thread that asked. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "guest.h"
#include "keeper.h"
#include "ring.h"
#include "security.h"
#include "vm_internal.h"

#define GUEST_START_MS 180000u /* boot or restore + MOUNT: TCG on a loaded 2-core host */
#define GUEST_REPLY_MS 30000u  /* the agent's answer to WORKER / OBJECT */
#define GUEST_MEMORY_MB 256u

struct hb_guest {
    vm v;
    vm_cfg cfg;
    char *dir;       /* this VM's run directory (initramfs, vm0/, job/) */
    bool exited;     /* a WORKER_EXIT was read while waiting for another reply */
    int exit_status;
    char exit_denied[96];
    char **placed;   /* host paths already shown in the guest */
    size_t nplaced;
    char note[512];
    int port;        /* parked (hb__guest_park): the worker port's host end */
};

int hb__guest_event_fd(const struct hb_guest *g)
{
    return g ? g->v.sock : -1;
}

const char *hb__guest_note(const struct hb_guest *g)
{
    return g ? g->note : "";
}

void hb__guest_free(struct hb_guest *g)
{
    if (!g)
        return;
    hb__vm_kill(&g->v); /* QEMU when parked; else its pid is the wclient's: fds and files */
    if (g->port > 0)
        close(g->port);
    hb__vm_cfg_release(&g->cfg);
    if (g->dir)
        hb__rm_rf(g->dir);
    free(g->dir);
    for (size_t i = 0; i < g->nplaced; i++)
        free(g->placed[i]);
    free(g->placed);
    free(g);
}

/* The compile backend's view of this machine: files present (check), and
 * whether a guest boots under KVM (its verdict, kept on disk per boot and
 * per QEMU/kernel, else one bounded probe boot). 1 = KVM, 0 = not (why
 * says which check failed), <0 = no guest can run here at all. */
static int kvm_verdict(char *why, size_t len)
{
    const hb__backend *b = hb__microvm_backend();
    hb_compiler_options co = HB_COMPILER_OPTIONS_INIT;
    hb__vm_state *s = NULL;
    char *w = NULL;
    bool kvm = false;
    int r = -ENOSYS;
    if (!b || !b->vm) {
        snprintf(why, len, "the microvm backend is not built in");
        return r;
    }
    if ((r = b->vm->state_new(&co, &s, &w)) == 0 && (r = b->vm->check(s, &w)) == 0) {
        free(w);
        w = NULL;
        r = b->vm->kvm_verdict(s, &kvm, NULL, &w);
    }
    snprintf(why, len, "%s", w ? w : r < 0 ? strerror(-r) : "");
    free(w);
    b->vm->state_free(s);
    return r < 0 ? r : kvm;
}

int hb__guest_auto(char *why, size_t len)
{
    char w[400];
    int r = kvm_verdict(w, sizeof(w));
    if (r < 0)
        snprintf(why, len, "no guest can run here: %s", w);
    else if (r == 0)
        snprintf(why, len, "no KVM for guests: %s", w);
    else
        snprintf(why, len, "KVM runs guests here: %s", w);
    return r > 0;
}

/* KVM where a guest really boots under it, else TCG; HOTBOX_VM_ACCEL=kvm|tcg
 * forces one. */
static hb_vm_accel pick_accel(char *why, size_t len)
{
    const char *e = getenv("HOTBOX_VM_ACCEL");
    if (e && (!strcmp(e, "kvm") || !strcmp(e, "tcg"))) {
        snprintf(why, len, "%s (HOTBOX_VM_ACCEL)", e);
        return e[0] == 'k' ? HB_VM_ACCEL_KVM : HB_VM_ACCEL_TCG;
    }
    char w[384]; /* room for "tcg (" and ")" in the caller's 400 */
    int kvm = kvm_verdict(w, sizeof(w));
    snprintf(why, len, "%s (%s)", kvm > 0 ? "kvm" : "tcg", w[0] ? w : "no KVM verdict");
    return kvm > 0 ? HB_VM_ACCEL_KVM : HB_VM_ACCEL_TCG;
}

struct start_job {
    struct hb_guest *g;
    hb__vm_spawn_io io;
    vm *v;
    int r;
    char *err;
};

static void spawn_on_keeper(void *arg)
{
    struct start_job *j = arg;
    j->r = hb__vm_spawn(&j->g->cfg, j->g->dir, 0, &j->io, j->v, &j->err);
}

static int spawn_vm(struct hb_guest *g, hb__vm_spawn_io io, vm *v, char **err)
{
    struct start_job j = {.g = g, .io = io, .v = v};
    int kr = hb__keeper_run(spawn_on_keeper, &j);
    if (kr < 0)
        return hb__seterr(err, kr, "starting the keeper thread: %s", strerror(-kr));
    if (j.r < 0) {
        if (err) {
            free(*err);
            *err = j.err;
        } else {
            free(j.err);
        }
        return j.r;
    }
    free(j.err);
    return 0;
}

/* The host end of the worker's output port, opened O_WRONLY|O_APPEND
 * (QEMU appends the guest worker's stdout+stderr to it): the sandbox's
 * output file; with none, this process's stderr (a process worker inherits
 * it), else /dev/null. path "" (the snapshot's VM): /dev/null. */
static int open_output(const char *path, char **err)
{
    int fd;
    if (path && *path) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return hb__seterr(err, -errno, "worker output file %s: %s", path, strerror(errno));
        return fd;
    }
    if (!path && (fd = open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_CLOEXEC)) >= 0)
        return fd;
    if ((fd = open("/dev/null", O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
        return hb__seterr(err, -errno, "/dev/null: %s", strerror(errno));
    return fd;
}

/* Boots a VM with the worker's port to READY and saves it as the worker
 * snapshot at path (snapshot.c; the VM is done after). */
static int save_snapshot(struct hb_guest *g, const char *path, char **err)
{
    int qmp[2] = {-1, -1}, port[2] = {-1, -1}, r;
    int outfd = open_output("", err);
    if (outfd < 0)
        return outfd;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp) != 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, port) != 0) {
        r = hb__seterr(err, -errno, "socketpair: %s", strerror(errno));
        goto out;
    }
    vm v;
    hb__vm_spawn_io io = {.restore_fd = -1, .qmp_fd = qmp[1], .worker = true,
                          .worker_fd = port[1], .output = true, .output_fd = outfd};
    if ((r = spawn_vm(g, io, &v, err)) < 0)
        goto out;
    uint64_t deadline = v.spawn_ns + (uint64_t)GUEST_START_MS * 1000000u;
    r = hb__vm_wait_ready(&v, deadline, HB_VMP_READY, err);
    if (!r)
        r = hb__vm_scrub(&v, deadline, err);
    if (!r)
        r = hb__vm_snapshot_save(qmp[0], path, deadline, err);
    hb__vm_kill(&v);
out:
    close(outfd);
    for (int i = 0; i < 2; i++) {
        if (qmp[i] >= 0)
            close(qmp[i]);
        if (port[i] >= 0)
            close(port[i]);
    }
    return r;
}

/* The worker snapshot's path when one exists or could be saved; NULL
 * (note says why) when the VM must boot. */
static char *worker_snapshot(struct hb_guest *g)
{
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    char key[HB_SHA256_HEX], *err = NULL, *path = NULL, *bad = NULL;
    char *dir = hb__vm_snapshot_dir(&o);
    size_t nl = strlen(g->note);
    int r = dir ? hb__vm_snapshot_key(&g->cfg, key, &err) : -ENOMEM;
    if (!r && !(path = hb__vm_snapshot_path(dir, key)))
        r = -ENOMEM;
    if (!r && hb__mkdir_p(dir, 0755) != 0)
        r = hb__seterr(&err, -errno, "cannot create %s", dir);
    if (!r && (r = hb__vm_snapshot_check(path, &bad)) == -ENOENT) {
        uint64_t t0 = hb__now_ns();
        r = save_snapshot(g, path, &err);
        if (!r)
            snprintf(g->note + nl, sizeof(g->note) - nl, "; saved the worker snapshot "
                     "(%.0f ms)", hb__ms_since(t0));
    } else if (r == -EBADMSG) {
        hb__vm_snapshot_remove(path);
    }
    free(dir);
    free(bad);
    if (r) {
        nl = strlen(g->note);
        snprintf(g->note + nl, sizeof(g->note) - nl, "; booted (no snapshot: %s)",
                 err ? err : strerror(-r));
        free(err);
        free(path);
        return NULL;
    }
    free(err);
    return path;
}

/* Starts the VM (restore, else boot) with the worker's port on port_fd and
 * its output port on out_fd, and waits until the guest has mounted /usr and
 * /job. */
static int start_vm(struct hb_guest *g, int port_fd, int out_fd, char **err)
{
    char *snap = getenv("HOTBOX_VM_NO_SNAPSHOT") ? NULL : worker_snapshot(g);
    hb__vm_spawn_io io = {.restore_fd = -1, .qmp_fd = -1, .worker = true, .worker_fd = port_fd,
                          .output = true, .output_fd = out_fd};
    int r;
    if (snap && (io.restore_fd = open(snap, O_RDONLY | O_CLOEXEC)) >= 0) {
        r = spawn_vm(g, io, &g->v, err);
        close(io.restore_fd);
        if (!r) {
            g->v.restored = true;
            (void)hb__vm_send_mount(&g->v); /* a failed send: the wait says why */
            r = hb__vm_wait_ready(&g->v, g->v.spawn_ns + (uint64_t)GUEST_START_MS * 1000000u,
                                  HB_VMP_MOUNTED, err);
            if (!r) {
                size_t nl = strlen(g->note);
                snprintf(g->note + nl, sizeof(g->note) - nl, "; restored in %.0f ms",
                         hb__ms_since(g->v.spawn_ns));
                free(snap);
                return 0;
            }
            /* A snapshot QEMU cannot load goes; this VM boots. */
            hb__vm_kill(&g->v);
            hb__vm_snapshot_remove(snap);
            free(*err);
            *err = NULL;
        }
    }
    free(snap);
    io.restore_fd = -1;
    if ((r = spawn_vm(g, io, &g->v, err)) < 0)
        return r;
    uint64_t deadline = g->v.spawn_ns + (uint64_t)GUEST_START_MS * 1000000u;
    r = hb__vm_wait_ready(&g->v, deadline, HB_VMP_READY, err);
    if (!r)
        r = hb__vm_mount(&g->v, deadline, err);
    if (!r) {
        size_t nl = strlen(g->note);
        snprintf(g->note + nl, sizeof(g->note) - nl, "; booted in %.0f ms",
                 hb__ms_since(g->v.spawn_ns));
    }
    return r;
}

/* Reads one frame from the agent. A WORKER_EXIT (the only frame that comes
 * unasked) is recorded in g; for a reply, *code is its errno field and msg
 * its message (WORKER_STARTED's pid is skipped). Returns the type. */
static int agent_frame(struct hb_guest *g, uint64_t deadline, uint64_t *code, char *msg,
                       size_t msglen, char **err)
{
    uint32_t type, len;
    uint8_t *p = NULL;
    int r = hb__vm_recv_frame(&g->v, deadline, &type, &p, &len);
    if (r < 0) {
        char *d = hb__vm_diag(&g->v);
        hb__seterr(err, r, "no answer from the guest agent (%s)%s", strerror(-r), d ? d : "");
        free(d);
        return r;
    }
    hb_vmp_r rd = {p, len, false};
    uint64_t a = 0, b = 0;
    const char *s = "";
    size_t n = 0;
    bool ok = hb_vmp_get_u64(&rd, &a);
    if (type == HB_VMP_WORKER_EXIT) {
        ok = ok && hb_vmp_get_u64(&rd, &b);
        g->exited = ok;
        g->exit_status = a == HB_VMP_SIGNALED ? (int)b : (int)(b & 0xff) << 8;
        g->exit_denied[0] = 0;
        if (a == HB_VMP_DENIED)
            hb_sec_describe_denial(seccomp_arch_native(), (int)b, (const uint64_t[6]){0},
                                   g->exit_denied, sizeof(g->exit_denied));
    } else {
        if (type == HB_VMP_WORKER_STARTED)
            ok = ok && hb_vmp_get_u64(&rd, &b);
        ok = ok && hb_vmp_get_str(&rd, &s, &n);
        *code = a;
        snprintf(msg, msglen, "%.*s", (int)n, s);
    }
    free(p);
    if (!ok)
        return hb__seterr(err, -EPROTO, "malformed frame %u from the guest agent", type);
    return (int)type;
}

/* The agent's reply of type want; a WORKER_EXIT on the way is kept. */
static int agent_reply(struct hb_guest *g, uint32_t want, uint64_t *code, char *msg,
                       size_t msglen, char **err)
{
    uint64_t deadline = hb__now_ns() + (uint64_t)GUEST_REPLY_MS * 1000000u;
    for (;;) {
        int t = agent_frame(g, deadline, code, msg, msglen, err);
        if (t < 0)
            return t;
        if ((uint32_t)t == want)
            return 0;
        if (t != HB_VMP_WORKER_EXIT)
            return hb__seterr(err, -EPROTO, "unexpected frame %d from the guest agent", t);
    }
}

int hb__guest_take_exit(struct hb_guest *g, int *status, char *denied, size_t len)
{
    while (!g->exited) {
        struct pollfd p = {g->v.sock, POLLIN, 0};
        int n = poll(&p, 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        uint64_t code;
        char msg[8], *err = NULL;
        int t = agent_frame(g, hb__now_ns() + (uint64_t)GUEST_REPLY_MS * 1000000u, &code, msg,
                            sizeof(msg), &err);
        free(err);
        if (t != HB_VMP_WORKER_EXIT)
            return -1; /* a broken channel, or a reply nobody asked for */
    }
    *status = g->exit_status;
    snprintf(denied, len, "%s", g->exit_denied);
    return 1;
}

/* The first frame of a worker under a seccomp profile is its listener; in a
 * guest the fd stays with the agent's relay, which reports denials itself. */
static int take_guest_listener(hb_wclient *wc, char **err)
{
    hb_frame f;
    int r = hb__wire_recv_until(wc->fd, HB_WIRE_MAX_FRAME,
                                hb__now_ns() + (uint64_t)GUEST_REPLY_MS * 1000000u, &f, NULL);
    if (r < 0)
        return hb__seterr(err, HB_EWORKER, "no seccomp listener frame from the guest worker: %s",
                          strerror(-r));
    hb_proto_listener li = {0};
    bool ok = f.type == HB_MSG_LISTENER && f.id == 0 &&
              hb__proto_listener_decode(f.payload, f.len, &li) == 0;
    uint32_t type = f.type;
    hb__frame_release(&f);
    if (!ok)
        return hb__seterr(err, HB_EPROTO,
                          "the guest worker's first frame is not its seccomp listener (type %u)",
                          type);
    return 0;
}

/* WORKER: the agent starts the staged binary under the profile and the
 * sandbox's limits (applied in the guest as hb__spawn applies them on the
 * host: a limit death reads the same). */
static int start_worker(struct hb_guest *g, hb_profile profile, const hb_limits *lim,
                        char **err)
{
    uint8_t buf[256];
    hb_vmp_w w = {buf, sizeof(buf), 0, false};
    hb_vmp_begin(&w, HB_VMP_WORKER);
    hb_vmp_put_str(&w, "/job/hotbox-worker");
    hb_vmp_put_str(&w, hb_profile_name(profile));
    hb_vmp_put_u64(&w, lim->memory_bytes);
    hb_vmp_put_u64(&w, lim->cpu_seconds);
    hb_vmp_put_u64(&w, lim->open_files);
    hb_vmp_put_u64(&w, lim->processes);
    hb_vmp_put_u64(&w, lim->file_size);
    hb_vmp_put_u64(&w, lim->no_core ? 1 : 0);
    int r = hb__vm_send_frame(g->v.sock, &w);
    if (r < 0)
        return hb__seterr(err, r, "cannot send WORKER to the guest agent: %s", strerror(-r));
    uint64_t code = 0;
    char msg[512] = "";
    if ((r = agent_reply(g, HB_VMP_WORKER_STARTED, &code, msg, sizeof(msg), err)) < 0)
        return r;
    if (code)
        return hb__seterr(err, -(int)(code < 4096 ? code : EIO),
                          "the guest agent could not start the worker: %s", msg);
    return 0;
}

static int fail_spawn(struct hb_guest *g, int sock, int r, char **err)
{
    if (sock >= 0)
        close(sock);
    hb__guest_free(g);
    (void)err;
    return r;
}

void hb__guest_park(hb_wclient *wc)
{
    struct hb_guest *g = wc->guest;
    g->v.pid = wc->pid; /* the VM is g's again */
    g->port = wc->fd;
    g->exited = false;
    wc->fd = -1;
    wc->pid = 0;
    wc->guest_reusable = true;
}

/* Starts a worker in g's running VM (the binary staged) and binds wc to it:
 * the port's host end, QEMU's pid, the handshake. On failure the VM is
 * killed and g freed. */
static int serve(struct hb_guest *g, int port, hb_wclient *wc, const hb_wspawn *how,
                 uint64_t t0, char **err)
{
    char *e = NULL;
    int r;
    if ((r = start_worker(g, how->profile, &how->limits, &e)) < 0) {
        hb__seterr(err, HB_EWORKER, "%s", e ? e : strerror(-r));
        free(e);
        return fail_spawn(g, port, HB_EWORKER, err);
    }
    memset(wc, 0, sizeof(*wc));
    wc->guest = g;
    wc->fd = port;
    wc->pid = g->v.pid;
    wc->worker_pid = g->v.pid;
    wc->pidfd = fcntl(g->v.pidfd, F_DUPFD_CLOEXEC, 3);
    g->v.pid = -1; /* the wclient reaps QEMU now; g->v keeps its fds */
    wc->worker_pidfd = wc->listener = -1;
    wc->next_id = 1;
    wc->profile = how->profile;
    wc->limits = how->limits;
    wc->store = how->store;
    wc->spin_ns = HB_RING_SPIN_MAX_NS;
    if (wc->pidfd < 0) {
        r = hb__seterr(err, HB_EWORKER, "dup of QEMU's pidfd: %s", strerror(errno));
        hb__wc_kill(wc);
        return r;
    }
    const hb_profile_spec *spec = hb_sec_profile(how->profile);
    if (spec && spec->seccomp && (r = take_guest_listener(wc, err)) < 0) {
        hb__wc_kill(wc);
        return r;
    }
    uint32_t gpid = 0;
    if ((r = hb__wc_hello(wc, how->max_state, GUEST_REPLY_MS, &gpid, &e)) < 0) {
        hb__seterr(err, HB_EWORKER, "the worker in the guest did not start: %s",
                   e ? e : hb_strerror(r));
        free(e);
        hb__wc_kill(wc);
        return HB_EWORKER;
    }
    size_t nl = strlen(g->note);
    snprintf(g->note + nl, sizeof(g->note) - nl, "; worker pid %u in the guest; sandbox start "
             "%.0f ms", (unsigned)gpid, hb__ms_since(t0));
    return 0;
}

int hb__guest_spawn(hb_wclient *wc, const hb_wspawn *how, char **err)
{
    uint64_t t0 = hb__now_ns();
    struct hb_guest *g = wc->guest_reusable ? wc->guest : NULL;
    if (g) { /* the last worker died, its VM lives: a new worker in it */
        wc->guest = NULL;
        wc->guest_reusable = false;
        int port = g->port;
        g->port = -1;
        snprintf(g->note, sizeof(g->note), "worker restarted in the same VM");
        char *e = NULL;
        if (serve(g, port, wc, how, t0, &e) == 0) {
            free(e);
            return 0;
        }
        free(e); /* the VM is gone with it: start afresh */
    }
    g = calloc(1, sizeof(*g));
    if (!g)
        return hb__seterr(err, -ENOMEM, "out of memory");
    g->v.pid = -1;
    g->v.pidfd = g->v.sock = g->v.errfd = g->port = -1;
    if (access(how->worker_path, X_OK) < 0)
        return fail_spawn(g, -1, hb__seterr(err, HB_EWORKER, "worker binary %s: %s "
                                            "(set HOTBOX_WORKER)", how->worker_path,
                                            strerror(errno)), err);
    char *qemu = NULL;
    if (hb__find_program("qemu-system-x86_64", &qemu) < 0)
        return fail_spawn(g, -1, hb__seterr(err, HB_EISOLATION, "a microVM worker needs "
                                            "qemu-system-x86_64 on $PATH (Debian package "
                                            "qemu-system-x86)"), err);
    free(qemu);
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    o.memory_mb = GUEST_MEMORY_MB;
    o.boot_timeout_ms = GUEST_START_MS;
    char *e = NULL;
    int r = hb__vm_make_run_dir(&o, &g->dir, &e);
    if (!r)
        r = hb__vm_cfg_init(&o, g->dir, &g->cfg, &e);
    if (r < 0) {
        hb__seterr(err, r == -ENOENT ? HB_EISOLATION : HB_EWORKER, "microVM worker: %s",
                   e ? e : strerror(-r));
        free(e);
        return fail_spawn(g, -1, r == -ENOENT ? HB_EISOLATION : HB_EWORKER, err);
    }
    /* After the files are known to be there: the KVM verdict may boot. */
    char why[400];
    g->cfg.accel = pick_accel(why, sizeof(why));
    g->cfg.worker_port = true; /* its own snapshot key: compile VMs have one port less */
    snprintf(g->note, sizeof(g->note), "accel %s", why);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return fail_spawn(g, -1, hb__seterr(err, HB_EWORKER, "socketpair: %s",
                                            strerror(errno)), err);
    int out = open_output(how->output_path, &e);
    r = out < 0 ? out : start_vm(g, sv[1], out, &e);
    close(sv[1]);
    if (out >= 0)
        close(out);
    if (r < 0) {
        hb__seterr(err, HB_EWORKER, "the worker's microVM did not start: %s",
                   e ? e : strerror(-r));
        free(e);
        return fail_spawn(g, sv[0], HB_EWORKER, err);
    }
    /* The host's own worker binary: its libraries come from the host /usr
     * the guest mounts read-only. */
    char *dst = hb__path_join(g->v.jobdir, "hotbox-worker");
    r = dst ? hb__vm_copy_file(how->worker_path, dst, 0755) : -ENOMEM;
    free(dst);
    if (r < 0)
        return fail_spawn(g, sv[0], hb__seterr(err, HB_EWORKER, "staging %s in the guest: %s",
                                               how->worker_path, strerror(-r)), err);
    return serve(g, sv[0], wc, how, t0, err);
}

int hb__guest_expose(hb_wclient *wc, const char *path, char **err)
{
    struct hb_guest *g = wc->guest;
    for (size_t i = 0; i < g->nplaced; i++)
        if (strcmp(g->placed[i], path) == 0)
            return 0; /* store objects are immutable: once shown, shown */
    char hex[HB_SHA256_HEX];
    int r = hb__sha256_file_cached(path, hex);
    if (r < 0)
        return hb__seterr(err, r, "cannot hash %s: %s", path, strerror(-r));
    char *dir = hb__path_join(g->v.jobdir, "objects");
    char *staged = dir ? hb__asprintf("%s/%s", dir, hex) : NULL;
    char **grown = realloc(g->placed, (g->nplaced + 1) * sizeof(*grown));
    if (grown)
        g->placed = grown;
    /* A copy, never a link: the job directory is writable from the guest. */
    r = !staged || !grown ? -ENOMEM : hb__mkdir_p(dir, 0755);
    if (!r)
        r = hb__vm_copy_file(path, staged, 0444);
    if (r < 0) {
        r = hb__seterr(err, r, "staging %s for the guest: %s", path, strerror(-r));
        goto out;
    }
    size_t cap = HB_VMP_HEADER + 16 + strlen(hex) + strlen(path);
    uint8_t *buf = malloc(cap);
    hb_vmp_w w = {buf, cap, 0, !buf};
    hb_vmp_begin(&w, HB_VMP_OBJECT);
    hb_vmp_put_str(&w, hex);
    hb_vmp_put_str(&w, path);
    r = buf ? hb__vm_send_frame(g->v.sock, &w) : -ENOMEM;
    free(buf);
    uint64_t code = 0;
    char msg[600] = "";
    char *e = NULL;
    if (r < 0)
        r = hb__seterr(err, HB_ECRASHED, "cannot send OBJECT to the guest agent: %s",
                       strerror(-r));
    else if ((r = agent_reply(g, HB_VMP_OBJECT_OK, &code, msg, sizeof(msg), &e)) < 0)
        r = hb__seterr(err, HB_ECRASHED, "%s", e ? e : strerror(-r));
    else if (code)
        r = hb__seterr(err, code == EBADMSG ? HB_EBADELF : HB_EWORKER,
                       "the guest refused object %s: %s", path, msg);
    else if (!(g->placed[g->nplaced] = strdup(path)))
        r = -ENOMEM;
    else
        g->nplaced++;
    free(e);
    unlink(staged);
out:
    free(staged);
    free(dir);
    return r;
}
