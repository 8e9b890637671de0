/*
 * compiler/backend.h - private: where a compiler command runs.
 *
 * A backend is a small vtable. probe() says whether the backend can work on
 * this machine (0, or a negative code with *why describing what is missing);
 * run() executes one fully resolved argv (argv[0] is an absolute path) for a
 * compile request and reports how it ended. Backends never parse compiler
 * output; compiler.c does that for all of them.
 *
 * Paths: every backend must run the compiler so that the plugin directory,
 * the include directory and the job directory appear at the same absolute
 * paths as on the host. Then argv, depfiles and diagnostics need no path
 * translation (the namespace backend binds each directory at its own path;
 * a microvm backend must share them at their own paths too).
 */
#ifndef HB_COMPILER_BACKEND_H
#define HB_COMPILER_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "compiler.h"
#include "process.h" /* hb__find_program */

/* Everything a backend needs for one command besides argv. */
#define HB__JAIL_INFO_FD 8 /* bwrap's --info-fd in a namespace compile */

typedef struct hb__run_ctx {
    const hb_compile_request *req; /* plugin/include/job dirs, limits */
    char *const *envp;             /* environment for the compiler */
    uint64_t deadline_ns;          /* absolute, hb__now_ns() clock */
    unsigned timeout_ms;           /* the limit behind deadline_ns, for messages */
    uint64_t max_output_bytes;     /* RLIMIT_FSIZE (defaults applied) */
    uint64_t max_memory_bytes;     /* RLIMIT_AS (defaults applied) */
    /* Extra directories the compiler needs read-only (where the compiler
     * binary lives when it is outside /usr). NULL-terminated; may be NULL. */
    char *const *extra_ro_dirs;
    /* The backend's per-context state (the microvm pool); NULL for the
     * stateless local and namespace backends. */
    struct hb__vm_state *state;
    /* The child passes userns_fd (a root-owned user namespace, see
     * security/jail.h) to bwrap with hb_jail_drop_root(); set by the
     * namespace backend only. */
    bool drop_root;
    int userns_fd;
    /* The namespace backend's bwrap --info-fd pipe (set by it only): the
     * write end is bwrap's fd HB__JAIL_INFO_FD; from the read end
     * hb__spawn_limited learns the jail's init and kills the whole jail
     * with it. */
    bool has_jail_info;
    int jail_info_wr, jail_info_rd;
    /* The namespace backend's handover (set by it only): jail_done_child is
     * the jail's end of a socket pair, its fd HB__JAIL_DONE_FD; when the
     * command is done the jail writes its exit status there and waits.
     * hb__spawn_limited then calls collect(ctx, pid of the jail's init)
     * while the jail (its tmpfs job directory) still exists, and answers on
     * jail_done so that the jail ends. A collect error fails the run. */
    bool has_jail_done;
    int jail_done, jail_done_child;
    int (*collect)(const struct hb__run_ctx *ctx, pid_t jail_pid, char **err);
    uint64_t max_job_bytes, max_job_files; /* for collect (defaults applied) */
} hb__run_ctx;
#define HB__JAIL_DONE_FD 7

/* jobdir.c: the bounded copy of a jail's tmpfs job directory (job_dir,
 * seen through /proc/<jail_pid>/root) into the host's job_dir, which is
 * emptied first, and emptied again on failure. HB_ELIMIT naming the limit
 * when the files hold more than max_bytes or number more than max_files;
 * HB_EISOLATION for anything but regular files and directories. */
int hb__jobdir_copy_out(pid_t jail_pid, const char *job_dir, uint64_t max_bytes,
                        uint64_t max_files, char **err);
/* Removes everything inside dir (not dir). 0 or the first -errno. */
int hb__jobdir_empty(const char *dir);

/* How one command ended. output holds stdout+stderr interleaved, at most
 * HB__MAX_CAPTURE bytes plus a truncation marker. */
#define HB__MAX_CAPTURE (1u << 20)
typedef struct hb__run_outcome {
    int wait_status;  /* as from waitpid; meaningful when !timed_out */
    bool timed_out;   /* killed at the wall-clock deadline */
    hb_sb output;
} hb__run_outcome;

/* The stateful part of the microvm backend, owned by an hb_compiler. Every
 * function is thread-safe. None starts QEMU unless it says so. */
typedef struct hb__vm_state hb__vm_state;
typedef struct hb__vm_ops {
    /* Resolves paths (initramfs: env > option > beside the library >
     * compiled in); starts nothing. */
    int (*state_new)(const hb_compiler_options *o, hb__vm_state **out, char **err);
    void (*state_free)(hb__vm_state *s); /* kills every QEMU */
    /* QEMU, the guest kernel and the initramfs are present (no boot). */
    int (*check)(hb__vm_state *s, char **why);
    /* Whether a guest boots under KVM: the on-disk verdict when its key
     * matches, else a probe boot (kvm_probe_timeout_ms) whose verdict is
     * stored. 0 with *kvm and *why (malloc'ed) set; <0 if it cannot tell. */
    int (*kvm_verdict)(hb__vm_state *s, bool *kvm, bool *cached, char **why);
    /* One boot to the agent under accel (KVM or TCG) and shutdown. */
    int (*boot_probe)(hb__vm_state *s, hb_compiler_accel accel, double *ms, char **why);
    /* Creates the pool (boots start in the background) unless it exists. */
    int (*start)(hb__vm_state *s, char **err);
    int (*wait_warm)(hb__vm_state *s, unsigned timeout_ms, char **err);
    void (*stats)(hb__vm_state *s, hb_compiler_stats *out);
} hb__vm_ops;

typedef struct hb__backend {
    const char *name;
    int (*probe)(char **why);
    /* Returns 0 when the command ran to completion or was killed at its
     * deadline (see out->timed_out); a negative code when it could not be
     * started (with *err set). */
    int (*run)(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out, char **err);
    const hb__vm_ops *vm; /* microvm only; NULL for the stateless backends */
} hb__backend;

const hb__backend *hb__local_backend(void);
const hb__backend *hb__namespace_backend(void);

/* The microvm backend, defined in compiler/microvm/glue.c (OBJECT library
 * hb_microvm, which must be linked wherever hb_compiler's objects are).
 * There is deliberately no weak default: in a static archive a weak
 * definition already present would keep the linker from pulling glue.o, and
 * hotbox_static would silently lose the backend. Callers still treat NULL
 * as "not built in". Its run() needs ctx->state (an hb_compiler context). */
const hb__backend *hb__microvm_backend(void);

/* The working directory of a compile: its plugin directory (relative paths
 * in plugin.json's flags name the plugin's files; the namespace backend
 * binds it at its own path), or the job directory of a request without one
 * (a compiler probe). */
static inline const char *hb__compile_cwd(const hb_compile_request *req)
{
    return req->plugin_dir ? req->plugin_dir : req->job_dir;
}

/* Shared by the local and namespace backends: runs argv (util/process.h)
 * in its own process group, in hb__compile_cwd(ctx->req) when there is a
 * request,
 * with stdin from /dev/null, stdout+stderr captured (bounded), no other fd
 * but the jail's, the rlimits from ctx, and the wall-clock deadline enforced
 * with a pidfd. When it ends (or on timeout) its process group is killed,
 * and with ctx->has_jail_info the jail's init too: every process of the
 * jail is gone when this returns. */
int hb__spawn_limited(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out,
                      char **err);



#endif /* HB_COMPILER_BACKEND_H */
