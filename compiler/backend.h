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

#include "compiler.h"

/* Everything a backend needs for one command besides argv. */
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
} hb__run_ctx;

/* How one command ended. output holds stdout+stderr interleaved, at most
 * HB__MAX_CAPTURE bytes plus a truncation marker. */
#define HB__MAX_CAPTURE (1u << 20)
typedef struct hb__run_outcome {
    int wait_status;  /* as from waitpid; meaningful when !timed_out */
    bool timed_out;   /* killed at the wall-clock deadline */
    hb_sb output;
} hb__run_outcome;

typedef struct hb__backend {
    const char *name;
    int (*probe)(char **why);
    /* Returns 0 when the command ran to completion or was killed at its
     * deadline (see out->timed_out); a negative code when it could not be
     * started (with *err set). */
    int (*run)(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out, char **err);
} hb__backend;

const hb__backend *hb__local_backend(void);
const hb__backend *hb__namespace_backend(void);

/* The microvm backend (compiler/microvm/, written separately) defines this
 * function. backend.c carries a weak default returning NULL, which means
 * "not built in"; a strong definition elsewhere replaces it at link time
 * with no change to this folder. */
const hb__backend *hb__microvm_backend(void);

/* Shared by the local and namespace backends: fork + exec argv in its own
 * process group with stdin from /dev/null, stdout+stderr captured (bounded),
 * the rlimits from ctx, and the wall-clock deadline enforced with a pidfd;
 * on timeout the whole process group is killed. */
int hb__spawn_limited(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out,
                      char **err);

/* Finds name on $PATH (or takes it as is when it contains a '/'). Returns a
 * malloc'ed absolute path of an executable file, or -ENOENT. */
int hb__find_program(const char *name, char **out);

/* Like hb__seterr but tolerates err == NULL. */
int hb__cerr(char **err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* HB_COMPILER_BACKEND_H */
