/*
 * compiler/microvm/vm_internal.h - private to compiler/microvm: one VM's
 * state, what the pool boots, and the functions the backend's files share.
 *
 * Who owns what:
 *   config.c   resolving kernel/initramfs/QEMU and building the pool's initramfs
 *   launch.c   one QEMU process: argv, spawn, READY, diagnostics, kill
 *   channel.c  frames over the virtio-serial socket; one RUN/RESULT exchange
 *   stage.c    a job's files into and out of the VM's job directory
 *   fresh.c    whether a job's /usr inputs changed since the VM mounted /usr
 *   snapshot.c the boot snapshot: its key, its files, saving one over QMP
 *   probe.c    the KVM probe (hb_vm_probe) and the per-process accelerator
 *   pool.c     the warm pool (microvm.h's hb_vm_pool_*); its state is in
 *              pool_internal.h, its use of the snapshot in pool_snapshot.c
 */
#ifndef HB_VM_INTERNAL_H
#define HB_VM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "microvm.h"
#include "util.h"
#include "vmproto.h"

#define JOB_GRACE_MS 10000u /* agent silence beyond the job limit = VM fault */

/* Guest CPU model and translation cache under TCG (see launch.c). */
#define HB_VM_TCG_CPU "max"
#define HB_VM_TCG_TB_MB 128u

enum vm_state { VM_EMPTY, VM_BOOTING, VM_WARM, VM_BUSY, VM_DEAD };

typedef struct vm {
    enum vm_state state;
    pid_t pid;
    int pidfd, sock, errfd; /* errfd: QEMU's stderr (non-blocking read end) */
    char *dir, *jobdir;
    unsigned jobs;
    bool restored;           /* started from the pool's snapshot, not booted */
    uint64_t spawn_ns;
    uint64_t mount_real_ns;  /* host CLOCK_REALTIME sent with MOUNT (fresh.c); 0: none */
    hb_sb errlog;            /* QEMU stderr seen so far (capped) */
} vm;

typedef struct vm_cfg {
    char *qemu, *kernel, *initrd;
    char *append;            /* kernel command line (fixed per pool: a snapshot's too) */
    char *snapshot;          /* restore VMs from this file; NULL: boot them */
    unsigned memory_mb, boot_timeout_ms;
    unsigned tb_mb;          /* TCG translation cache (tb-size), MiB */
    bool minimal_kernel;     /* scripts/build-guest-kernel.sh's, not Debian's */
    hb_vm_accel accel;
    bool worker_port;        /* a guest worker's VM (one more virtio-serial port):
                                part of the machine text, so its snapshot key differs */
} vm_cfg;

/* config.c */
/* $env when set, else ${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/<leaf> (malloc'ed). */
char *hb__vm_cache_path(const char *env, const char *leaf);
/* Appends "what=path dev:ino size mtime" (or "missing") to sb. */
void hb__vm_add_identity(hb_sb *sb, const char *what, const char *path);
/* The kernel directory a pool boots (see config.c for the order); *minimal
 * when it is the minimal kernel's cache. */
int hb__vm_kernel_dir(const hb_vm_pool_options *o, char **dir, bool *minimal, char **err);
int hb__vm_cfg_init(const hb_vm_pool_options *o, const char *dir, vm_cfg *c, char **err);
void hb__vm_cfg_release(vm_cfg *c);
/* A compile pool's guest: no address-space randomisation in the guest
 * ("norandmaps"). Under TCG (QEMU 7.2, x86) a translated block is found by
 * its virtual address, so with ASLR every new cc1/as/ld process is
 * translated afresh; without it, a warm VM's jobs reuse the translations of
 * earlier ones (QEMU CPU per job -40%, translation cache use 128 -> ~76 MiB,
 * docs/microvm.md). The guest is the isolation boundary and the compiler
 * runs as root inside it, so in-guest ASLR protected nothing. */
int hb__vm_cfg_compile_guest(vm_cfg *c);
int hb__vm_make_run_dir(const hb_vm_pool_options *o, char **out, char **err);

/* launch.c */
typedef struct hb__vm_spawn_io {
    int restore_fd; /* >= 0: restore the snapshot read from it (-incoming) */
    int qmp_fd;     /* >= 0: a QMP monitor on this socket (to save a snapshot) */
    bool worker;    /* a guest worker's port (HB_VMP_WORKER_PORT_NAME) on worker_fd */
    int worker_fd;  /* the host end: a socket, used like a process worker's */
    bool output;    /* the worker's output port (HB_VMP_OUTPUT_PORT_NAME) on output_fd */
    int output_fd;  /* opened O_WRONLY|O_APPEND: QEMU appends the guest worker's
                       stdout+stderr to it */
} hb__vm_spawn_io;
int hb__vm_ms_left(uint64_t deadline_ns);
char *hb__vm_kernel_cmdline(void);
/* Appends the machine-defining options (a snapshot is only valid for these). */
int hb__vm_machine_text(const vm_cfg *c, hb_sb *out);
/* io may be NULL: a plain boot. */
int hb__vm_spawn(const vm_cfg *c, const char *parent_dir, unsigned seq, const hb__vm_spawn_io *io,
                 vm *v, char **err);
/* Waits for the frame `expect` (HB_VMP_READY after a boot, HB_VMP_MOUNTED
 * after a MOUNT); fails early when QEMU exits or KVM reports an error. */
int hb__vm_wait_ready(vm *v, uint64_t deadline_ns, uint32_t expect, char **err);
char *hb__vm_diag(vm *v);
void hb__vm_kill(vm *v);

/* channel.c */
int hb__vm_send_frame(int fd, hb_vmp_w *w);
int hb__vm_recv_frame(vm *v, uint64_t deadline_ns, uint32_t *type, uint8_t **payload,
                      uint32_t *len);
int hb__vm_send_mount(vm *v);
/* MOUNT and wait for MOUNTED (after a boot's READY). */
int hb__vm_mount(vm *v, uint64_t deadline_ns, char **err);
/* SCRUB and wait for its PONG (before saving a snapshot). */
int hb__vm_scrub(vm *v, uint64_t deadline_ns, char **err);
int hb__vm_run(vm *v, const hb_vm_job *job, unsigned timeout_ms, hb_vm_result *res,
               bool *fault, char **err);

/* stage.c */
int hb__vm_copy_file(const char *src, const char *dst, mode_t mode);
bool hb__vm_safe_relname(const char *n);
char *hb__vm_map_paths(const char *text, const hb_vm_job *job, bool depfile);
int hb__vm_stage_job(vm *v, const hb_vm_job *job, char **err);
int hb__vm_collect_outputs(vm *v, const hb_vm_job *job, hb_vm_result *res, char **err);

/* fresh.c: 0, or -ESTALE (message in *err) when a /usr file the job's
 * depfile names changed on the host since the VM mounted /usr. */
int hb__vm_check_fresh(const vm *v, const hb_vm_job *job, const hb_vm_result *res, char **err);

/* snapshot.c */
char *hb__vm_snapshot_dir(const hb_vm_pool_options *o);
int hb__vm_snapshot_key(const vm_cfg *c, char out[HB_SHA256_HEX], char **err);
char *hb__vm_snapshot_path(const char *dir, const char *key);
/* 0 when the file is there and matches its digest; -ENOENT when there is
 * none (no message); -EBADMSG (message) when it is corrupt. */
int hb__vm_snapshot_check(const char *path, char **err);
void hb__vm_snapshot_remove(const char *path);
/* Saves the VM whose QMP monitor is `qmp` (booted to READY, nothing
 * mounted) to path, atomically, with its digest. The VM is done after. */
int hb__vm_snapshot_save(int qmp, const char *path, uint64_t deadline_ns, char **err);

/* probe.c */
int hb__vm_probe_boot(const vm_cfg *base, const char *dir, hb_vm_accel accel,
                      unsigned timeout_ms, double *ms, char **err);
int hb__vm_resolve_accel(const vm_cfg *cfg, const char *dir, hb_vm_accel want,
                         hb_vm_accel *used, char **why);

#endif /* HB_VM_INTERNAL_H */
