/*
 * compiler/microvm/channel.c - the host side of the agent protocol (vmproto.h) over the
 * virtio-serial socket: frames in and out, and one RUN/RESULT exchange.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "vm_internal.h"


int hb__vm_send_frame(int fd, hb_vmp_w *w)
{
    if (hb_vmp_end(w) != 0)
        return -EMSGSIZE;
    return hb__write_full(fd, w->buf, w->len);
}

/* Receives one frame within the deadline, watching the QEMU pidfd so a dead
 * VM is an immediate error. *payload is malloc'ed. */
int hb__vm_recv_frame(vm *v, uint64_t deadline_ns, uint32_t *type, uint8_t **payload,
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
        int n = poll(p, 2, hb__vm_ms_left(deadline_ns));
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

/* Runs the job on v. Returns 0 (res filled), a VM fault (-ETIMEDOUT,
 * -ECHILD, -EPIPE, -EPROTO: the VM must go), or a host-side error. *fault
 * says which kind it was. */
int hb__vm_run(vm *v, const hb_vm_job *job, unsigned timeout_ms, hb_vm_result *res,
                  bool *fault, char **err)
{
    hb_vmp_w w = {0};
    uint8_t *payload = NULL;
    uint32_t type, len;
    int r;

    *fault = false;
    if ((r = hb__vm_stage_job(v, job, err)) != 0)
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
    const char *cwd = !job->host_paths ? HB_VM_GUEST_SRC : job->cwd ? job->cwd : job->out_dir;
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
    r = hb__vm_send_frame(v->sock, &w);
    free(w.buf);
    if (r) {
        *fault = true;
        return hb__seterr(err, r, "cannot send the job to the VM: %s", strerror(-r));
    }
    uint64_t deadline = hb__now_ns() + (uint64_t)(timeout_ms + JOB_GRACE_MS) * 1000000u;
    r = hb__vm_recv_frame(v, deadline, &type, &payload, &len);
    if (!r && type != HB_VMP_RESULT)
        r = -EPROTO;
    if (r) {
        *fault = true;
        char *d = hb__vm_diag(v);
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
    res->output = hb__vm_map_paths(raw, job, false);
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
    r = hb__vm_collect_outputs(v, job, res, err);
    if (!r && (r = hb__vm_check_fresh(v, job, res, err)) != 0)
        *fault = true; /* a stale /usr view: the pool retires the VM, retries */
    if (r)
        hb_vm_result_release(res);
    return r;
}

int hb__vm_send_mount(vm *v)
{
    uint8_t buf[HB_VMP_HEADER + 8 + 4 + 32], seed[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ssize_t n;
    while ((n = getrandom(seed, sizeof(seed), GRND_NONBLOCK)) < 0 && errno == EINTR)
        ;
    hb_vmp_w w = {buf, sizeof(buf), 0, false};
    hb_vmp_begin(&w, HB_VMP_MOUNT);
    v->mount_real_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    hb_vmp_put_u64(&w, v->mount_real_ns);
    hb_vmp_put_strn(&w, (const char *)seed, n > 0 ? (size_t)n : 0);
    return hb__vm_send_frame(v->sock, &w);
}

int hb__vm_mount(vm *v, uint64_t deadline_ns, char **err)
{
    int r = hb__vm_send_mount(v);
    if (r)
        return hb__seterr(err, r, "cannot send MOUNT to the guest agent: %s", strerror(-r));
    return hb__vm_wait_ready(v, deadline_ns, HB_VMP_MOUNTED, err);
}

int hb__vm_scrub(vm *v, uint64_t deadline_ns, char **err)
{
    uint8_t buf[HB_VMP_HEADER], *payload = NULL;
    uint32_t type, len;
    hb_vmp_w w = {buf, sizeof(buf), 0, false};
    hb_vmp_begin(&w, HB_VMP_SCRUB);
    int r = hb__vm_send_frame(v->sock, &w);
    if (!r)
        r = hb__vm_recv_frame(v, deadline_ns, &type, &payload, &len);
    free(payload);
    if (!r && type != HB_VMP_PONG)
        r = -EPROTO;
    if (r) {
        char *d = hb__vm_diag(v);
        hb__seterr(err, r, "the guest did not scrub its memory before the snapshot (%s)%s",
                   strerror(-r), d ? d : "");
        free(d);
    }
    return r;
}
