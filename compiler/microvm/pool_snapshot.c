/*
 * compiler/microvm/pool_snapshot.c - how a pool uses its boot snapshot
 * (snapshot.c has the file format and the saving): find or save one before
 * the first VM, restore every VM from it, stop using it when a restore fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool_internal.h"

static void set_note(hb_vm_pool *p, char *note)
{
    pthread_mutex_lock(&p->mu);
    free(p->snap_note);
    p->snap_note = note;
    pthread_mutex_unlock(&p->mu);
}

/* Boots one VM to READY and saves it to path (see snapshot.c). The VM is in
 * p->snap_vm meanwhile, so hb_vm_pool_free can kill it. */
static int save_snapshot(hb_vm_pool *p, const char *path, double *boot_ms, char **err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return hb__seterr(err, -errno, "socketpair: %s", strerror(errno));
    hb__vm_spawn_io io = {.restore_fd = -1, .qmp_fd = sv[1]};
    int r = -ECANCELED;
    pthread_mutex_lock(&p->mu);
    if (!p->stop)
        r = hb__vm_spawn(&p->cfg, p->dir, p->seq++, &io, &p->snap_vm, err);
    pthread_mutex_unlock(&p->mu);
    close(sv[1]);
    if (!r) {
        vm *v = &p->snap_vm;
        r = hb__vm_wait_ready(v, v->spawn_ns + (uint64_t)p->cfg.boot_timeout_ms * 1000000u,
                              HB_VMP_READY, err);
        *boot_ms = hb__ms_since(v->spawn_ns);
        if (!r)
            r = hb__vm_scrub(v, hb__now_ns() + (uint64_t)p->cfg.boot_timeout_ms * 1000000u, err);
        if (!r)
            r = hb__vm_snapshot_save(sv[0], path,
                                     hb__now_ns() + (uint64_t)p->cfg.boot_timeout_ms * 1000000u,
                                     err);
    }
    close(sv[0]);
    pthread_mutex_lock(&p->mu);
    vm dead = p->snap_vm;
    memset(&p->snap_vm, 0, sizeof(p->snap_vm));
    p->snap_vm.pid = -1;
    p->snap_vm.pidfd = p->snap_vm.sock = p->snap_vm.errfd = -1;
    pthread_mutex_unlock(&p->mu);
    hb__vm_kill(&dead);
    return r;
}

/* Before the first VM: find a valid snapshot for this configuration, or
 * save one. Runs on the keeper thread, off the caller's critical path. On
 * any failure the pool boots its VMs, and the note says why. */
void hb__vm_pool_prepare_snapshot(hb_vm_pool *p)
{
    if (p->o.no_snapshot) {
        set_note(p, strdup("snapshots off (no_snapshot): VMs boot"));
        return;
    }
    char key[HB_SHA256_HEX], *err = NULL, *bad = NULL, *path = NULL;
    char *dir = hb__vm_snapshot_dir(&p->o);
    int r = dir ? hb__vm_snapshot_key(&p->cfg, key, &err) : -ENOMEM;
    if (!r)
        path = hb__vm_snapshot_path(dir, key);
    if (!r && !path)
        r = -ENOMEM;
    if (!r) {
        r = hb__vm_snapshot_check(path, &bad);
        if (r == 0) {
            set_note(p, hb__asprintf("restoring from %s", path));
            p->cfg.snapshot = path;
            path = NULL;
            goto out;
        }
        if (r != -ENOENT) /* corrupt: it goes, a new one replaces it */
            hb__vm_snapshot_remove(path);
        free(err);
        err = NULL;
        double boot_ms = 0;
        uint64_t t0 = hb__now_ns();
        r = save_snapshot(p, path, &boot_ms, &err);
        if (!r) {
            pthread_mutex_lock(&p->mu);
            p->snapshot_save_ms = hb__ms_since(t0);
            p->boot_lat[p->nboot_lat++ % LAT_RING] = boot_ms;
            pthread_mutex_unlock(&p->mu);
            set_note(p, hb__asprintf("%s%ssaved %s (boot %.0f ms, save %.0f ms)",
                                     bad ? bad : "", bad ? "; " : "", path, boot_ms,
                                     hb__ms_since(t0) - boot_ms));
            p->cfg.snapshot = path;
            path = NULL;
            goto out;
        }
    }
    set_note(p, hb__asprintf("%s%sno snapshot (%s); VMs boot", bad ? bad : "", bad ? "; " : "",
                             err ? err : strerror(-r)));
out:
    HB_FREE_ALL(err, bad, path, dir);
}

/* Starts the VM of an empty slot: restored from the snapshot when there is
 * one (MOUNT is sent at once: it waits in the socket until the guest runs),
 * else booted. Under p->mu. */
int hb__vm_pool_start_vm(hb_vm_pool *p, vm *v, char **err)
{
    if (p->cfg.snapshot) {
        int fd = open(p->cfg.snapshot, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            hb__vm_spawn_io io = {.restore_fd = fd, .qmp_fd = -1};
            int r = hb__vm_spawn(&p->cfg, p->dir, p->seq++, &io, v, err);
            close(fd);
            if (r)
                return r;
            v->restored = true;
            /* A failed send means a dead QEMU: the wait for MOUNTED says so. */
            (void)hb__vm_send_mount(v);
            return 0;
        }
        free(p->snap_note);
        p->snap_note = hb__asprintf("snapshot %s vanished (%s); VMs boot", p->cfg.snapshot,
                                    strerror(errno));
        free(p->cfg.snapshot);
        p->cfg.snapshot = NULL;
    }
    return hb__vm_spawn(&p->cfg, p->dir, p->seq++, NULL, v, err);
}

/* A restore failed: the snapshot is not used again; it is removed so the
 * next pool saves a fresh one. Under p->mu. */
void hb__vm_pool_drop_snapshot(hb_vm_pool *p, const char *why)
{
    if (!p->cfg.snapshot)
        return;
    free(p->snap_note);
    p->snap_note = hb__asprintf("restoring from %s failed (%s); it was removed and VMs boot",
                                p->cfg.snapshot, why ? why : "?");
    hb__vm_snapshot_remove(p->cfg.snapshot);
    free(p->cfg.snapshot);
    p->cfg.snapshot = NULL;
}

