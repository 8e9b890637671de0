/*
 * compiler/microvm/probe.c - does a guest boot under KVM here? One probe boot with a short
 * timeout (not a check that /dev/kvm exists), else TCG.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm_internal.h"

#define KVM_PROBE_TIMEOUT_MS 8000u

static bool kvm_usable_device(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* One boot to READY under `accel`, then SHUTDOWN; 0 and *ms on success. */
int hb__vm_probe_boot(const vm_cfg *base, const char *dir, hb_vm_accel accel, unsigned timeout_ms,
                      double *ms, char **err)
{
    vm_cfg c = *base;
    c.accel = accel;
    vm v;
    int r = hb__vm_spawn(&c, dir, 0, NULL, &v, err);
    if (r)
        return r;
    uint64_t deadline = v.spawn_ns + (uint64_t)timeout_ms * 1000000u;
    r = hb__vm_wait_ready(&v, deadline, HB_VMP_READY, err);
    if (!r)
        r = hb__vm_mount(&v, deadline, err);
    if (!r) {
        *ms = hb__ms_since(v.spawn_ns);
        uint8_t buf[HB_VMP_HEADER];
        hb_vmp_w w = {buf, sizeof(buf), 0, false};
        hb_vmp_begin(&w, HB_VMP_SHUTDOWN);
        if (hb__vm_send_frame(v.sock, &w) == 0) {
            struct pollfd p = {v.pidfd, POLLIN, 0};
            while (poll(&p, 1, 5000) < 0 && errno == EINTR)
                ;
        }
    }
    hb__vm_kill(&v);
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
            r = hb__vm_probe_boot(c, dir, HB_VM_ACCEL_KVM, t, &ms, &e);
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
        r = hb__vm_probe_boot(c, dir, HB_VM_ACCEL_TCG, c->boot_timeout_ms, &ms, &e);
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
    int r = hb__vm_make_run_dir(o, &dir, why);
    if (!r)
        r = hb__vm_cfg_init(o, dir, &c, why);
    if (!r) {
        r = probe_in(&c, dir, o->accel, &u, &ms, why);
        hb__vm_cfg_release(&c);
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

int hb__vm_resolve_accel(const vm_cfg *cfg, const char *dir, hb_vm_accel want,
                         hb_vm_accel *used, char **why)
{
    if (want != HB_VM_ACCEL_AUTO) {
        *used = want;
        *why = hb__asprintf("%s forced by the options", hb_vm_accel_name(want));
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
            int r = hb__vm_probe_boot(cfg, dir, HB_VM_ACCEL_KVM, KVM_PROBE_TIMEOUT_MS, &ms, &e);
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
    *used = g_accel;
    *why = strdup(g_accel_why ? g_accel_why : "");
    pthread_mutex_unlock(&g_accel_mu);
    return 0;
}
