/*
 * compiler/compiler.h - turns a plugin directory into a shared object.
 *
 * A compile request names the plugin directory, a private job directory the
 * compiler may write to, the compiler command and flags, and limits. The
 * result is an object file inside the job directory, the compiler's exit
 * status, its raw diagnostics text, parsed diagnostics, the list of every
 * input file the compiler read (from its depfile) and an input hash over
 * those files' contents, the flags and the compiler identity.
 *
 * Backends (hb_isolation in hotbox.h) decide where the compiler runs. The
 * compiler module does not know the store or the worker.
 */
#ifndef HB_COMPILER_H
#define HB_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hotbox/hotbox.h"
#include "util.h"

typedef struct hb_compile_request {
    const char *plugin_dir;   /* absolute path of the plugin's sources */
    const char *job_dir;      /* absolute, exists, empty, writable */
    const char *cc;           /* compiler command ("cc", "gcc", "/usr/bin/clang") */
    char *const *cflags;      /* extra flags, NULL-terminated; may be NULL */
    const char *include_dir;  /* holds hotbox/plugin.h; added with -I */
    unsigned timeout_ms;      /* wall-clock limit; 0 = 60000 */
    uint64_t max_output_bytes;/* RLIMIT_FSIZE for the compiler; 0 = 256 MiB */
    uint64_t max_memory_bytes;/* RLIMIT_AS; 0 = 2 GiB */
    hb_isolation isolation;   /* AUTO: namespace if bwrap works, else local */
    /* Appended fields (zero = default). */
    bool text_diagnostics;    /* never ask GCC for -fdiagnostics-format=json */
    /* Inter-plugin linking: the object's SONAME ("hotbox-plugin-NAME.so"),
     * and the SONAMEs of the plugins it depends on, recorded as DT_NEEDED so
     * that the dynamic loader binds its imports to whichever version of each
     * provider is loaded in the worker. The compiler links against tiny name-only
     * libraries it makes in the job directory; only the names are hashed. */
    const char *soname;       /* NULL: none */
    char *const *needed;      /* NULL-terminated; NULL: none */
    /* Deprecated (shows too much: a plugin in $HOME could .incbin
     * ~/.ssh/id_rsa): a directory holding plugin_dir that isolated backends
     * show read-only too. Ignored when source_dirs is set; hotbox itself no
     * longer passes it. NULL: only plugin_dir. */
    const char *source_root;
    /* What else an isolated compile may read besides plugin_dir,
     * include_dir, the job directory and the system headers: these
     * directories (absolute; declared include directories, sibling plugins
     * the plugin includes from), each shown read-only at its own path.
     * NULL-terminated; NULL: none. The microvm backend takes only siblings
     * of plugin_dir (children of its parent directory). */
    char *const *source_dirs;
    /* Flags as one string (the manager's --cflags), split like a POSIX
     * shell would without running anything ("-DG=\"hi there\"" is one
     * argument; $(...) is refused: HB_ECOMPILE naming --cflags). Used when
     * cflags is NULL. */
    const char *flags_text;
    /* Sanitizers to build with, comma-separated ("undefined"), checked by
     * the manager; NULL: none. Added to every command by plan.c and hashed. */
    const char *sanitize;
    /* Coverage (hb_manager_options.coverage_dir): --coverage with atomic
     * counters on every command, hashed; the notes (.gcno) are left in the
     * job directory, named after the objects. */
    bool coverage;
    /* What an isolated (namespace) compile may leave in its job directory
     * in all, over every file it writes there: the directory is a tmpfs of
     * max_job_bytes inside the jail, copied out bounded by both (HB_ELIMIT
     * naming the limit). 0 = 1 GiB and 100000 files. */
    uint64_t max_job_bytes;
    uint64_t max_job_files;
} hb_compile_request;

typedef struct hb_diag {
    /* As the compiler printed it; never NULL. Every backend shows the plugin,
     * include and job directories at their host paths, so this is already
     * the user's real path. "" when the message names no location; the
     * program's name ("cc1", "gcc", "collect2") for driver messages. */
    char *file;
    unsigned line, column;
    char *severity;  /* "error", "warning", "note", "fatal error" */
    char *message;
} hb_diag;

typedef struct hb_compile_result {
    int exit_status;       /* compiler's exit status, or -1 when killed */
    bool timed_out;
    char *object_path;     /* job_dir/plugin.so on success, else NULL */
    /* Everything the compiler wrote (stdout+stderr, at most 1 MiB, then a
     * marker). When GCC's JSON diagnostics were used this is a rendering of
     * them as "file:line:col: severity: message" lines plus the compiler's
     * other lines verbatim. */
    char *diagnostics;
    hb_diag *diags;
    size_t ndiags;
    char **inputs;         /* every file the compiler read (absolute), NULL-terminated */
    char input_hash[HB_SHA256_HEX];
    double elapsed_ms;
    /* Appended fields. */
    const char *backend;   /* static name of the backend used ("local", ...) */
} hb_compile_result;

/* Lists the plugin's sources (*.c, the C++ *.cc, *.cpp, *.cxx, and the
 * assembly *.S (preprocessed) and *.s, directly in plugin_dir, sorted). C++ sources compile with the C++ driver that goes
 * with cc, which then links; plugin.json in plugin_dir adds settings (see
 * compiler/settings.h and docs/plugin-json.md) and is an input. With a
 * "sources" key in plugin.json the list is what it names instead (files,
 * and directories' source files recursively, absolute, in the order
 * listed); a bad entry fails (-EINVAL, -ENOENT). A source whose path
 * holds a control character (a newline) is refused: -EILSEQ (the compile
 * names it). */
int hb_compiler_list_sources(const char *plugin_dir, char ***out);

/* Whether a file name is a plugin source hb_compiler_list_sources lists. */
bool hb_compiler_is_source(const char *name);

/* Whether dir is a plugin directory: it holds a source file itself, or a
 * plugin.json with a "sources" key (whose entries may still be wrong: the
 * compile says so). */
bool hb_compiler_is_plugin_dir(const char *dir);

/* Runs one compile. Returns 0 when the compiler ran and produced an object;
 * HB_ECOMPILE when it ran and failed (res filled: diagnostics, exit status);
 * HB_ENOSOURCES when there are no sources; HB_EHUNG when it was killed at its
 * time limit (wall clock, or the CPU limit derived from it); HB_ELIMIT when
 * it hit max_output_bytes; HB_EISOLATION when the requested backend cannot
 * run here (*err says why); HB_ECHANGED when an input kept changing while the
 * compiler ran (it is compiled up to 3 times; the object may not match the
 * files, so none is returned: build again after the save settles); other
 * negative codes for setup failures (with *err set). *err gets a one-line
 * summary on every failure. res is filled on 0 and
 * HB_ECOMPILE/HB_EHUNG/HB_ELIMIT/HB_ECHANGED; release it with
 * hb_compile_result_release in every case. inputs and input_hash are only
 * set on success, and then the object was built from exactly the contents
 * input_hash covers (inputs are snapshotted before and checked after the
 * compile, see compiler.c). An input that is not a regular file (a FIFO, a
 * device such as /dev/stdin, a /proc file) makes the compile fail with
 * HB_ECOMPILE and a diagnostic naming the file.
 *
 * The compiler runs in job_dir with -fdiagnostics-color=never (GCC >= 10
 * also with -fdiagnostics-format=json unless text_diagnostics is set; probed
 * once per process per cc string) and this environment only, on every
 * backend: PATH (the caller's, else /usr/local/bin:/usr/bin:/bin),
 * LC_ALL=C, LANG=C, TMPDIR and HOME (the job directory; /tmp in the microvm
 * guest and for identity probes). Nothing else of the caller's environment
 * reaches it: no secrets, and no CPATH-style variables that would change a
 * compile without changing its input hash. */
int hb_compiler_run(const hb_compile_request *req, hb_compile_result *res, char **err);
void hb_compile_result_release(hb_compile_result *res);

/* Hash of the inputs a previous compile read, for the compile cache: the
 * same files' current contents, the flags, and the compiler identity. Fails
 * with -ENOENT if an input no longer exists. */
int hb_compiler_input_hash(const hb_compile_request *req, char *const *inputs,
                           char out[HB_SHA256_HEX]);

/* Compiler identity: the first time a cc string is used on a backend, hotbox
 * runs `cc --version` (and a JSON-diagnostics check) on THAT backend, with
 * the request's directories and a scratch directory in its job directory:
 * a compiler is never run bare on the host unless the isolation is local.
 * hb_compiler_input_hash probes without a context (AUTO: namespace or
 * local; microvm: HB_EISOLATION unless already probed); this one uses the
 * context's selection, like hb_compiler_run_ctx. */
struct hb_compiler;
int hb_compiler_input_hash_ctx(struct hb_compiler *c, const hb_compile_request *req,
                               char *const *inputs, char out[HB_SHA256_HEX]);

/* Parses GCC/Clang text diagnostics ("file:line:col: severity: message").
 * Lines that are not diagnostics are skipped. Used as a fallback and fuzzed. */
int hb_compiler_parse_diagnostics(const char *text, size_t len, hb_diag **out, size_t *n);
void hb_diags_free(hb_diag *d, size_t n);

/* Parses a make-style depfile ("target: dep dep \\\n dep"), handling
 * backslash continuations and escaped spaces. NULL-terminated list. */
int hb_compiler_parse_depfile(const char *text, size_t len, char ***out);

/* For `hotbox doctor`: whether a backend works on this machine (0, or a
 * negative code and a malloc'ed reason in *why; why may be NULL), and its
 * name. For HB_ISOLATION_AUTO both describe the backend AUTO would pick.
 * Probes run once per process and are cached. */
int hb_compiler_backend_probe(hb_isolation which, char **why);
const char *hb_compiler_backend_name(hb_isolation which);

/* ---- compiler contexts: backend selection and the microVM pool ----------
 *
 * An hb_compiler owns everything a backend keeps between compiles: today the
 * microVM pool. Its lifetime is the caller's (a manager creates one and frees
 * it on shutdown); no QEMU process outlives hb_compiler_free. The pool boots
 * lazily on the first compile that runs under microvm, or when the caller asks
 * with hb_compiler_warm(); a context that never compiles under microvm never
 * starts QEMU (AUTO may run one short KVM probe boot, whose verdict is cached
 * on disk, see below).
 *
 * Selection (hb_compiler_options.isolation):
 *   AUTO      microvm when a probe boot under KVM reaches the guest agent
 *             within kvm_probe_timeout_ms (never trusting /dev/kvm's mere
 *             presence: on PVM hosts it opens but cannot run the guest and
 *             the probe hangs until the timeout); else namespace (bubblewrap)
 *             when it works; else local. hb_compiler_selection() says which
 *             and why.
 *   MICROVM   microvm, under KVM when the probe says so, else TCG.
 *   NAMESPACE, LOCAL  that backend (LOCAL has no isolation at all).
 * The KVM verdict is cached in ${XDG_CACHE_HOME:-~/.cache}/hotbox/accel-probe
 * (or opts->probe_cache), keyed by /proc/sys/kernel/random/boot_id, the QEMU
 * binary's identity and the guest kernel file's identity, so a reboot, a QEMU
 * upgrade or a new kernel probes again.
 *
 * The guest initramfs is found in this order: $HOTBOX_MICROVM_INITRAMFS,
 * opts->initramfs, <dir of the library>/../libexec/hotbox/hotbox-initramfs.cpio
 * (found with dladdr, so an installed libhotbox finds its own), then the build
 * tree's path compiled in. The guest kernel: opts->kernel_dir,
 * $HOTBOX_KERNEL_DIR, ${XDG_CACHE_HOME:-~/.cache}/hotbox/guest-kernel.
 *
 * Threads: hb_compiler_run_ctx may be called from several threads at once on
 * one context. local and namespace compiles are independent processes; under
 * microvm each compile takes a warm VM from the pool and waits (up to its
 * time limit) when all are busy, so a build can compile independent plugins
 * in parallel, bounded by min(cores, pool_size). hb_compiler_free must not
 * race with a running compile. */

typedef struct hb_compiler hb_compiler;

typedef enum hb_compiler_accel {
    HB_COMPILER_ACCEL_AUTO = 0, /* KVM when the probe boot works, else TCG */
    HB_COMPILER_ACCEL_KVM = 1,  /* KVM or fail */
    HB_COMPILER_ACCEL_TCG = 2,  /* software emulation, works everywhere, slow */
} hb_compiler_accel;

typedef struct hb_compiler_options {
    unsigned version;                /* HB_COMPILER_OPTIONS_VERSION */
    hb_isolation isolation;          /* default AUTO */
    unsigned pool_size;              /* warm VMs; 0 = 1 */
    unsigned jobs_per_vm;            /* recycle a VM after this many jobs; 0 = 50 */
    hb_compiler_accel accel;
    unsigned boot_timeout_ms;        /* boot + warm-up watchdog per VM; 0 = 30000 */
    unsigned job_timeout_ms;         /* default per-compile limit; 0 = request's or 60000 */
    unsigned kvm_probe_timeout_ms;   /* 0 = 8000 */
    const char *kernel_dir;          /* NULL: see above */
    const char *initramfs;           /* NULL: see above */
    const char *probe_cache;         /* KVM verdict file; NULL: see above; "" = no cache */
} hb_compiler_options;

#define HB_COMPILER_OPTIONS_VERSION 1u
#define HB_COMPILER_OPTIONS_INIT {HB_COMPILER_OPTIONS_VERSION, HB_ISOLATION_AUTO, 0, 0, \
                                  HB_COMPILER_ACCEL_AUTO, 0, 0, 0, NULL, NULL, NULL}
void hb_compiler_options_init(hb_compiler_options *o);

/* Creates a context; cheap: it probes nothing and starts no process. opts may
 * be NULL (defaults). Errors: -EINVAL (bad version), -ENOMEM. */
int hb_compiler_new(const hb_compiler_options *opts, hb_compiler **out, char **err);

/* Kills and reaps every QEMU the context started and removes its files.
 * NULL is fine. No compile may be running on it. */
void hb_compiler_free(hb_compiler *c);

/* Like hb_compiler_run, on the context: req->isolation AUTO means "the
 * context's selection"; any other value forces that backend (the microvm one
 * uses the context's pool). Thread-safe (see above). */
int hb_compiler_run_ctx(hb_compiler *c, const hb_compile_request *req, hb_compile_result *res,
                        char **err);

/* Resolves the selection now (AUTO may run the KVM probe, up to
 * kvm_probe_timeout_ms, unless cached) and, when it is microvm, starts
 * booting the pool without waiting. 0, or the reason microvm cannot start. */
int hb_compiler_warm(hb_compiler *c, char **err);

/* Waits until every pool VM is booted and warmed up (microvm only; 0 at once
 * for other backends). -ETIMEDOUT, or -EIO when boots keep failing. */
int hb_compiler_wait_warm(hb_compiler *c, unsigned timeout_ms, char **err);

/* The backend AUTO (or the forced isolation) resolves to, and one line saying
 * why, e.g. "auto: namespace (microvm: KVM probe boot timed out after 8 s -
 * /dev/kvm is present but cannot run this guest; TCG works but is ~20x
 * slower: force it with isolation=microvm)". Resolves the selection if not
 * done yet. The string belongs to the context and lives as long as it. */
const char *hb_compiler_selection(hb_compiler *c);
hb_isolation hb_compiler_selected(hb_compiler *c);

typedef struct hb_compiler_stats {
    const char *backend;      /* selected backend's name ("microvm", ...) */
    bool pool_started;        /* false until the first microvm compile or warm */
    const char *accel;        /* "kvm" / "tcg" once the pool started, else "" */
    unsigned pool_size, warm, busy, booting;
    uint64_t boots, failures, jobs, recycled;
    double median_job_ms, p95_job_ms, last_job_ms;
    double last_boot_ms, median_boot_ms;
    uint64_t rss_kib_total;   /* summed RSS of the pool's QEMUs now */
    uint64_t rss_kib_per_vm;  /* rss_kib_total / live VMs (0 when none) */
} hb_compiler_stats;

/* For `hotbox doctor` / `hotbox status`. Never starts anything. */
void hb_compiler_stats_get(hb_compiler *c, hb_compiler_stats *out);

/* Appends a multi-line report for `hotbox doctor`: every backend with
 * works/doesn't and the reason (local is "works, no isolation"), the
 * accelerator decision and why (the cached KVM verdict when there is one;
 * a TCG probe boot), and, when measure, the measured cost of one compile of
 * a small self-contained plugin on each working backend (microvm: cold boot,
 * first and warm compile on a throw-away pool). Takes seconds (a TCG boot);
 * with measure, tens of seconds under TCG. */
int hb_compiler_backend_report(hb_sb *out, bool measure);

#endif /* HB_COMPILER_H */
