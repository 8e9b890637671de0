/*
 * compiler/microvm/microvm.h - compile jobs inside QEMU microVMs, kept warm
 * in a pool.
 *
 * Each VM is `qemu-system-x86_64 -M microvm` with no network device, booting
 * (or restoring a snapshot of, see below) the Debian guest kernel from the
 * kernel cache (scripts/fetch-guest-kernel.sh) and an initramfs whose /init
 * is hotbox's static guest agent (agent.c). The
 * host's /usr is shared read-only over virtio-9p (the toolchain); each VM has
 * one writable job directory, shared over 9p without caching, which the host
 * empties and refills for every job. Requests and replies travel over the
 * virtio-serial port "org.hotbox.agent" (vmproto.h).
 *
 * What the guest sees for a job (use these paths in the compiler argv):
 *   HB_VM_GUEST_SRC      the plugin's sources (the names listed in the job)
 *   HB_VM_GUEST_INCLUDE  a copy of the job's include_dir (hotbox/plugin.h)
 *   HB_VM_GUEST_OUT      writable; the host takes HB_VM_OBJECT_NAME and
 *                        HB_VM_DEPFILE_NAME from here after the job
 *   /usr, /bin, /lib...  the host's /usr, read-only; nothing else of the host
 * The compiler runs with cwd HB_VM_GUEST_SRC, env
 * PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C, rlimits AS/FSIZE/CPU, in a box
 * of its own (agent_jail.c: pid, mount and IPC namespaces, read-only root, a
 * fresh /tmp and /dev, uid 0 with only CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
 * and CAP_FOWNER) that is gone, every process in it, when the job ends or
 * is killed at its time limit. The host empties the job directory before
 * each job and takes outputs back as new files of its own, mode <= 0755.
 *
 * Paths: the kernel cache is opts->kernel_dir, else $HOTBOX_KERNEL_DIR, else
 * the minimal kernel scripts/build-guest-kernel.sh built (its cache's
 * current/vmlinux; not with HOTBOX_GUEST_KERNEL=debian), else
 * ${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/guest-kernel (Debian's, the default).
 * A compile pool's guest boots with "norandmaps" (config.c says why). The base initramfs is
 * opts->initramfs, else $HOTBOX_MICROVM_INITRAMFS, else the build tree's
 * libexec/hotbox/hotbox-initramfs.cpio (compiled in). The pool appends the
 * kernel's modules and the host's /etc/ld.so.cache to a private copy of it,
 * so the build never needs the kernel cache.
 *
 * Snapshot (snapshot.c): before its first VM, the pool's keeper looks for a
 * saved guest for this exact configuration (key: QEMU binary, kernel,
 * initramfs contents, machine options, host /usr and dpkg status) in the
 * snapshot directory, checks its SHA-256, and otherwise boots one VM to the
 * agent's READY (nothing mounted over 9p yet: QEMU 7.2 cannot migrate a
 * mounted 9p export), scrubs its free memory and saves it with QEMU
 * migration. Every VM of the pool, replacements included, is then restored
 * from that file (`-incoming fd:4`) instead of booted; the host sends MOUNT
 * (clock, RNG seed, 9p mounts) and the warm-up compile runs as after a boot.
 * A corrupt file (digest mismatch) is replaced; a file QEMU cannot load makes
 * the pool boot from then on and is removed. hb_vm_pool_stats.snapshot_note
 * says which happened. no_snapshot turns all of this off.
 *
 * Threads: a pool is safe to use from several threads at once (jobs run in
 * parallel on different VMs). One keeper thread per pool boots VMs, runs the
 * warm-up compile and replaces recycled ones. Every QEMU is started with
 * PR_SET_PDEATHSIG(SIGKILL), so none outlives the process, and
 * hb_vm_pool_free kills and reaps them all.
 */
#ifndef HB_MICROVM_H
#define HB_MICROVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_VM_GUEST_SRC "/job/src"
#define HB_VM_GUEST_INCLUDE "/job/include"
#define HB_VM_GUEST_OUT "/job/out"
#define HB_VM_OBJECT_NAME "plugin.so"
#define HB_VM_DEPFILE_NAME "plugin.d"

typedef enum hb_vm_accel {
    HB_VM_ACCEL_AUTO = 0, /* KVM when a probe boot under KVM works, else TCG */
    HB_VM_ACCEL_KVM = 1,
    HB_VM_ACCEL_TCG = 2,
} hb_vm_accel;

const char *hb_vm_accel_name(hb_vm_accel a); /* "auto", "kvm", "tcg" */

typedef struct hb_vm_pool_options {
    unsigned version;          /* HB_VM_POOL_OPTIONS_VERSION */
    unsigned size;             /* VMs kept booted; 0 = 1 */
    unsigned jobs_per_vm;      /* recycle a VM after this many jobs; 0 = 50 */
    unsigned boot_timeout_ms;  /* boot + warm-up watchdog; 0 = 30000 */
    unsigned job_timeout_ms;   /* default job limit; 0 = 60000 */
    unsigned memory_mb;        /* guest RAM; 0 = 256 */
    hb_vm_accel accel;
    const char *kernel_dir;    /* NULL: see above */
    const char *initramfs;     /* NULL: see above */
    const char *qemu;          /* NULL: "qemu-system-x86_64" from PATH */
    const char *run_dir;       /* parent of the pool's private directory; NULL: $TMPDIR or /tmp */
    const char *warmup_cc;     /* compiler for the warm-up job; NULL: "cc" */
    bool no_warmup;            /* skip the warm-up compile after each boot */
    /* Version 2. */
    bool no_snapshot;          /* boot every VM; never save or restore a snapshot */
    const char *snapshot_dir;  /* NULL: $HOTBOX_VM_SNAPSHOT_DIR, else
                                  ${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/vm-snapshots */
} hb_vm_pool_options;

#define HB_VM_POOL_OPTIONS_VERSION 2u
#define HB_VM_POOL_OPTIONS_INIT {.version = HB_VM_POOL_OPTIONS_VERSION, .accel = HB_VM_ACCEL_AUTO}
void hb_vm_pool_options_init(hb_vm_pool_options *o);

typedef struct hb_vm_pool hb_vm_pool;

/* Checks the kernel cache and initramfs, resolves the accelerator (auto runs
 * hb_vm_probe's KVM attempt once per process), builds the pool's initramfs
 * and starts booting opts->size VMs in the background; it does not wait for
 * them. opts may be NULL. Errors: -ENOENT with "guest kernel not found at
 * ...; run scripts/fetch-guest-kernel.sh" or the missing initramfs, -errno
 * otherwise; *err (malloc'ed) says what. */
int hb_vm_pool_new(const hb_vm_pool_options *opts, hb_vm_pool **out, char **err);

/* Kills and reaps every QEMU of the pool, removes its directory. NULL ok.
 * No job may be running on the pool. */
void hb_vm_pool_free(hb_vm_pool *pool);

/* Blocks until every slot holds a warm VM, or timeout_ms passes (-ETIMEDOUT),
 * or booting keeps failing (-EIO, *err says why). For tests and `doctor`. */
int hb_vm_pool_wait_warm(hb_vm_pool *pool, unsigned timeout_ms, char **err);

typedef struct hb_vm_job {
    const char *plugin_dir;           /* absolute host path of the sources */
    const char *include_dir;          /* host dir copied to HB_VM_GUEST_INCLUDE; may be NULL */
    const char *const *sources;       /* names relative to plugin_dir, NULL-terminated;
                                         no "..", no absolute names; subdirs allowed */
    const char *const *argv;          /* compiler argv as run in the guest, NULL-terminated */
    const char *out_dir;              /* existing host dir receiving plugin.so / plugin.d */
    unsigned timeout_ms;              /* 0 = the pool's job_timeout_ms */
    uint64_t max_memory_bytes;        /* RLIMIT_AS in the guest; 0 = none (the VM's RAM) */
    uint64_t max_output_bytes;        /* RLIMIT_FSIZE; 0 = 256 MiB */
    uint64_t max_diag_bytes;          /* captured stdout+stderr kept; 0 = 1 MiB */
    /* Appended fields (zero = the behaviour above). */
    /* The guest also shows plugin_dir, include_dir and out_dir at their host
     * paths (bind mounts of HB_VM_GUEST_SRC/INCLUDE/OUT in the job's private
     * mount namespace) and runs the compiler with cwd out_dir, so argv can use
     * host paths and __FILE__, depfiles and diagnostics come out as on the
     * host. The host paths must not lie under /usr (read-only in the guest). */
    bool host_paths;
    /* With host_paths: the compiler's working directory (a host path the
     * guest shows, the plugin directory); NULL: out_dir. */
    const char *cwd;
    /* out_dir is mirrored: its top-level regular files are copied into
     * HB_VM_GUEST_OUT before the job, and every top-level regular file there
     * is moved back afterwards (not only plugin.so/plugin.d). Lets a
     * multi-step build (compile to .o, then link) run one step per job. */
    bool sync_out;
} hb_vm_job;

typedef struct hb_vm_result {
    int exit_status;    /* the compiler's exit status; -1 if killed */
    int term_signal;    /* signal that ended it, else 0 */
    bool timed_out;     /* the agent killed it at job->timeout_ms */
    char *output;       /* stdout+stderr, guest paths mapped to host paths */
    char *object_path;  /* out_dir/plugin.so when the compiler made one, else NULL */
    char *depfile_path; /* out_dir/plugin.d (paths mapped) when made, else NULL */
    double elapsed_ms;  /* host wall time, waiting for a VM included */
    double guest_ms;    /* the compiler's run time measured in the guest */
    unsigned attempts;  /* 1, or 2 after a VM fault and a retry */
} hb_vm_result;

/* Runs one job on a warm VM. Returns 0 when the compiler ran to an end
 * (any exit status, or killed at its time limit: res->timed_out); res is then
 * filled and must be released. A VM fault (QEMU died, no reply within the
 * limit + a grace period, a protocol error) kills that VM, boots a
 * replacement and retries once on another VM; a second fault returns -EIO or
 * -ETIMEDOUT with *err saying what happened both times. -EINVAL for a bad job
 * (e.g. a source name with ".."), -errno for host I/O errors. */
int hb_vm_pool_compile(hb_vm_pool *pool, const hb_vm_job *job, hb_vm_result *res, char **err);
void hb_vm_result_release(hb_vm_result *res);

typedef struct hb_vm_pool_stats {
    unsigned size, warm, busy, booting;
    uint64_t boots;          /* VMs that booted and warmed up */
    uint64_t failures;       /* failed boots + VM faults during jobs */
    uint64_t jobs;           /* jobs completed */
    uint64_t recycled;       /* VMs retired after jobs_per_vm jobs */
    double last_job_ms, median_job_ms, p95_job_ms; /* over the last 256 jobs */
    double last_boot_ms, median_boot_ms;           /* spawn to READY (boots only) */
    hb_vm_accel accel;       /* what the pool runs under (never AUTO) */
    const char *accel_why;   /* why; owned by the pool */
    uint64_t qemu_rss_kib;   /* summed VmRSS of the pool's QEMUs now */
    /* The boot snapshot (boots above counts restored VMs too). */
    uint64_t restores;       /* VMs started by restoring the snapshot */
    double last_restore_ms, median_restore_ms; /* spawn to MOUNTED after a restore */
    double snapshot_save_ms; /* boot + save, when this pool saved the snapshot */
    char snapshot_note[512]; /* restoring from / saved / why not (corrupt, failed) */
} hb_vm_pool_stats;

void hb_vm_pool_stats_get(hb_vm_pool *pool, hb_vm_pool_stats *out);

/* Boots one VM (no warm-up) and shuts it down. With opts->accel AUTO: KVM
 * first (when /dev/kvm opens) with a short timeout and early failure on
 * "KVM internal error", then TCG. Returns 0 when a boot reached the agent;
 * *used and *boot_ms (spawn to READY) are then set. *why (malloc'ed, may be
 * NULL on allocation failure) is set in every case and explains each attempt.
 * opts may be NULL. */
int hb_vm_probe(const hb_vm_pool_options *opts, hb_vm_accel *used, double *boot_ms, char **why);

#endif /* HB_MICROVM_H */
