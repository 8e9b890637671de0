/*
 * compiler/microvm/pool_internal.h - the pool's state, shared by pool.c (the
 * keeper, jobs, stats) and pool_snapshot.c (how the pool uses its boot
 * snapshot). Private to compiler/microvm.
 */
#ifndef HB_VM_POOL_INTERNAL_H
#define HB_VM_POOL_INTERNAL_H

#include <pthread.h>

#include "vm_internal.h"

#define LAT_RING 256u

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
    double lat[LAT_RING], boot_lat[LAT_RING], restore_lat[LAT_RING];
    uint64_t nlat, nboot_lat, nrestore_lat, restores;
    vm snap_vm;         /* the VM being booted to save the snapshot */
    char *snap_note;    /* what happened with the snapshot, for stats */
    double snapshot_save_ms;
};

/* pool_snapshot.c. All run on the keeper thread. */
/* Before the first VM: use this configuration's snapshot, or save one;
 * on failure the pool boots and snap_note says why. Takes p->mu itself. */
void hb__vm_pool_prepare_snapshot(hb_vm_pool *p);
/* Starts an empty slot's VM: restored when there is a snapshot, else
 * booted. Under p->mu. */
int hb__vm_pool_start_vm(hb_vm_pool *p, vm *v, char **err);
/* A restore failed: stop using (and remove) the snapshot. Under p->mu. */
void hb__vm_pool_drop_snapshot(hb_vm_pool *p, const char *why);

#endif /* HB_VM_POOL_INTERNAL_H */
