/*
 * hotbox/hotbox.h - the hotbox C API.
 *
 * hotbox compiles a plugin (a directory of C sources) into a shared object,
 * stores it as a numbered version, and hot-swaps it into a guest worker
 * process, carrying the plugin's state across through the plugin's save and
 * migrate hooks (see hotbox/plugin.h). Plugin code never runs in the caller's
 * process: every sandbox owns one worker process, and a crash there is seen
 * from outside and reported as HB_ECRASHED.
 *
 * Conventions
 *  - Handles are opaque. hb_X_new() creates, hb_X_free() destroys; free
 *    accepts NULL.
 *  - Every function that can fail returns int: 0 on success, a negative code
 *    on failure. Codes are negative errno values (-EINVAL, -ENOENT, ...) or
 *    one of the HB_E* codes below. hb_strerror() names any of them.
 *  - Output parameters come last and are written only on success.
 *  - Long diagnostics (compiler output, the signal that killed a worker) are
 *    kept on the handle: hb_manager_last_error(), hb_sandbox_last_error().
 *    The returned text stays valid until the next call on that handle.
 *  - The library never prints. It reports through return codes, last-error
 *    text and the optional event callback.
 *
 * Threads
 *  - A manager may be used from several threads at once.
 *  - A sandbox must be used by one thread at a time; different sandboxes of
 *    one manager may be used from different threads concurrently.
 *  - Which thread does not matter: a sandbox created on a thread that then
 *    exits keeps its worker and its state. Workers are started from one
 *    internal thread that lives as long as the process (so they die with the
 *    process, SIGKILL included, and never with the thread that asked).
 *  - The event callback runs synchronously, on the thread that made the call
 *    which caused the event, before that call returns. It must not call back
 *    into the sandbox that raised the event.
 */
#ifndef HOTBOX_HOTBOX_H
#define HOTBOX_HOTBOX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HOTBOX_STATIC)
#define HB_EXTERN
#elif defined(__GNUC__)
#define HB_EXTERN __attribute__((visibility("default")))
#else
#define HB_EXTERN
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* hotbox's own codes, each with the text hb_strerror() gives it: one table,
 * so a code cannot be added without its text. Codes are only ever
 * appended, never renumbered (they are ABI). XX(name, value, text). */
#define HB_ERROR_MAP(XX)                                                                   \
    XX(HB_ECOMPILE, -1001, "the compiler rejected the plugin's sources")                   \
    XX(HB_EABI, -1002, "the plugin was built for a different hotbox plugin ABI")           \
    XX(HB_ECRASHED, -1003, "the worker process crashed")                                   \
    XX(HB_ENODESC, -1004, "the object exports no valid hb_plugin descriptor")              \
    XX(HB_ENOSYM, -1005, "the plugin exports no such symbol")                              \
    XX(HB_ESIGNATURE, -1006, "malformed call signature")                                   \
    XX(HB_EARGS, -1007, "the arguments do not match the signature")                        \
    XX(HB_EHOOK, -1008, "a plugin hook reported failure")                                  \
    XX(HB_ESTATESIZE, -1009, "the plugin's saved state exceeds the sandbox limit")         \
    XX(HB_EHUNG, -1010, "the worker did not answer in time and was killed")                \
    XX(HB_EPROTO, -1011, "protocol error on the worker channel")                           \
    XX(HB_ENOSOURCES, -1012, "the plugin directory holds no C or C++ sources")             \
    XX(HB_EBADELF, -1013, "not a usable ELF shared object")                                \
    XX(HB_ECORRUPT, -1014, "a stored object does not match its checksum")                  \
    XX(HB_EPOLICY, -1015, "refused by the security profile")                               \
    XX(HB_ECYCLE, -1016, "dependency cycle between plugins")                               \
    XX(HB_EUNRESOLVED, -1017, "a plugin imports a symbol no plugin or library provides")   \
    XX(HB_ENOPLUGIN, -1018, "no plugin of that name is loaded")                            \
    XX(HB_ENOVERSION, -1019, "no such version in the store")                               \
    XX(HB_ELIMIT, -1020, "a resource limit was exceeded")                                  \
    XX(HB_EWORKER, -1021, "the worker process could not be started")                       \
    XX(HB_EFAILED, -1022, "the sandbox has failed (crash loop)")                           \
    XX(HB_EISOLATION, -1023, "the requested isolation backend is unavailable")             \
    XX(HB_ESTATELOST, -1024, "the worker restarted and the plugin's state since its last " \
                             "checkpoint was lost")                                        \
    XX(HB_ECATALOG, -1025, "the version catalogue (hotbox.db) is damaged or missing; see " \
                           "`hotbox store recover`")                                       \
    XX(HB_ECHANGED, -1026, "a source changed while it was being compiled; build again")    \
    XX(HB_EBADVERSION, -1027, "the build is a version that failed before (marked bad); "   \
                              "change its source")                                         \
    XX(HB_EOPTVERSION, -1028, "the options struct's version is 0 or newer than this "      \
                              "library knows")                                             \
    XX(HB_EDOWN, -1029, "the sandbox's worker is down (automatic restart is off); "        \
                        "hb_sandbox_restart brings it back")                           \
    XX(HB_ESNAPSHOT, -1030, "the snapshot cannot be restored into the active version "      \
                            "(state schema; see the last error)")

/* What the codes mean, in more words:
 * HB_ECRASHED    the worker died (signal or exit) during the operation.
 * HB_EHOOK       a plugin hook (init/save/migrate) returned failure.
 * HB_EHUNG       the worker did not answer in time and was killed.
 * HB_ECORRUPT    a stored object does not match its checksum.
 * HB_EFAILED     the sandbox is failed (crash loop); recreate it.
 * HB_ESTATELOST  the worker restarted since the plugin's last call and state
 *                since its last checkpoint is lost; the call was not made.
 * HB_ECHANGED    a source changed while it was being compiled; build again.
 * HB_EBADVERSION the build is a version that failed before (marked bad): not
 *                tried again until its source changes.
 * HB_EOPTVERSION an options struct's `version` is 0 or larger than the
 *                library's HB_*_OPTIONS_VERSION; every version from 1 to the
 *                current one is accepted (fields it lacks get defaults).
 * HB_EDOWN       the sandbox's worker died while automatic restart was off
 *                (hb_sandbox_options.no_auto_restart): nothing restarted it;
 *                hb_sandbox_restart brings it back.
 * HB_ESNAPSHOT   a snapshot's state cannot go into the active version: it has
 *                no migrate hook, or its migrate refused the snapshot's state
 *                schema (the last error names both schemas); the plugin keeps
 *                the state it had. */
enum hb_error_code {
#define HB_ERROR_ENUM_(name, value, text) name = value,
    HB_ERROR_MAP(HB_ERROR_ENUM_)
#undef HB_ERROR_ENUM_
};

/* Returns a static, human-readable description of any code this API returns
 * (including negative errno values). Never returns NULL. */
HB_EXTERN const char *hb_strerror(int code);

/* The library's version, "MAJOR.MINOR.PATCH". */
HB_EXTERN const char *hb_version(void);

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct hb_manager hb_manager;
typedef struct hb_sandbox hb_sandbox;

typedef enum hb_event_type {
    HB_EVENT_COMPILED = 1,      /* a new version was built and stored */
    HB_EVENT_COMPILE_FAILED,    /* the compiler rejected a change */
    HB_EVENT_LOADED,            /* first version of a plugin is live */
    HB_EVENT_SWAPPED,           /* a new version replaced the old one */
    HB_EVENT_SWAP_FAILED,       /* a swap was refused; the old version serves */
    HB_EVENT_CRASHED,           /* the worker died */
    HB_EVENT_RESTARTED,         /* a new worker serves the last good versions */
    HB_EVENT_ROLLED_BACK,       /* a plugin went back to an earlier version */
    HB_EVENT_STATE_RESET,       /* state could not be carried: fresh state */
    HB_EVENT_UNLOADED,          /* a plugin was removed from a sandbox */
    HB_EVENT_WARNING,           /* anything else worth telling a human */
    HB_EVENT_SELFTEST,          /* a plugin self-test ran: code 0 passed, else failed */
    HB_EVENT_WATCHING,          /* watch mode settled and waits for changes */
    HB_EVENT_NOTICE,            /* information: which isolation backend, profile, ... */
    HB_EVENT_UP_TO_DATE,        /* watch mode: a plugin whose last build or swap failed
                                   builds again to the version already live (the sources
                                   went back to it): nothing to swap, it is fine again */
} hb_event_type;

/* One compiler diagnostic, as the compiler printed it. */
typedef struct hb_diagnostic {
    const char *file;      /* path as the user knows it */
    /* 1-based; 0 when unknown. Also 0 when an isolated compile blamed a file
     * it was not shown (`#line 1 "/etc/shadow"`): a front end showing the
     * source line must not read that file (the compiler's own text, in the
     * last error, keeps what it said). */
    unsigned line, column;
    const char *severity;  /* "error", "warning", "note", "fatal error" */
    const char *message;
} hb_diagnostic;

typedef struct hb_event {
    hb_event_type type;
    hb_sandbox *sandbox;        /* NULL for manager-level events */
    const char *plugin;         /* may be NULL */
    uint64_t version;           /* the version the event is about, or 0 */
    uint64_t previous_version;  /* for swaps and rollbacks, else 0 */
    int code;                   /* 0 or the error code behind the event */
    const char *message;        /* one line, for humans */
    /* Stage timings of the operation, in milliseconds (0 when not measured). */
    double compile_ms, verify_ms, swap_ms, total_ms;
    /* Watch mode: from the newest file save (its mtime) to the change being
     * picked up, in milliseconds; 0 outside watch mode. */
    double detect_ms;
    /* Appended. HB_EVENT_WARNING after a compile that succeeded with
     * warnings: the compiler's warnings, structured (the build did not fail;
     * message says "PLUGIN: compiled with N warning(s)" and then one
     * "file:line:col: warning: text" line per warning). NULL/0 otherwise. A
     * build served from the compile cache does not compile and repeats no
     * warnings. */
    const hb_diagnostic *diagnostics;
    size_t ndiagnostics;
    /* Appended. HB_EVENT_SWAPPED / HB_EVENT_ROLLED_BACK when the static
     * variables were carried by their DWARF layouts (docs/state.md): one
     * line per variable, "carried: `long count`", "reset: `struct stats
     * counters`: member `hits` moved from offset 0 to 8", "new: ...",
     * "dropped: ..."; message then says "statics: N carried, M reset, K
     * new". A plugin that marks statics with HB_CARRY (plugin.h) gets
     * "carried (marked): ..." and "statics: N carried (marked), ...", its
     * unmarked statics "reset: ...: not marked with HB_CARRY" (or, with
     * save/migrate, "N left to save/migrate"). NULL when no carry ran (no
     * debug info, carry off, or save/migrate moved the state). */
    const char *carry;
    /* Appended. HB_EVENT_CRASHED when plugin code faulted: the symbolized
     * backtrace, one line per plugin frame ("  #0 foo (foo.c:12) in foo
     * v3"), innermost first; the message names the signal and the
     * faulting function ("... killed by SIGSEGV in foo v3 at foo (foo.c:12)
     * ..."). NULL otherwise. */
    const char *backtrace;
    /* Appended. Part of total_ms: storing a new build (copying the object
     * in under its checksum, committing its version; the disk sync comes
     * after the event, off this path); 0 when nothing was stored. */
    double store_ms;
} hb_event;

/* Valid only during the callback; copy what you keep. */
typedef void (*hb_event_fn)(const hb_event *event, void *userdata);

/* ------------------------------------------------------------------------ */
/* Manager                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum hb_isolation {
    HB_ISOLATION_AUTO = 0,      /* strongest backend that works here */
    HB_ISOLATION_LOCAL,         /* plain child process with rlimits only */
    HB_ISOLATION_NAMESPACE,     /* Linux namespaces (bubblewrap) */
    HB_ISOLATION_MICROVM,       /* QEMU microvm guest */
} hb_isolation;

#define HB_MANAGER_OPTIONS_VERSION 5 /* 1 (no cc_origin), 2 (no sanitize), 3 (no coverage_dir) and 4 (no worker_pool) are accepted too */

typedef struct hb_manager_options {
    unsigned version;            /* HB_MANAGER_OPTIONS_VERSION */
    const char *state_dir;       /* default ".hotbox" in the working directory */
    const char *cc;              /* default $CC, else "cc" */
    const char *cflags;          /* extra flags, blank-separated; default "-O2 -g" */
    const char *worker_path;     /* default $HOTBOX_WORKER, else beside the library */
    unsigned compile_timeout_ms; /* default 60000 */
    hb_isolation isolation;      /* default HB_ISOLATION_AUTO */
    hb_event_fn on_event;        /* optional */
    void *event_userdata;
    /* Version 2. Where cc came from when the user did not choose it (e.g.
     * "./hotbox.json"): the manager then warns once, with an
     * HB_EVENT_WARNING before its first compile, that it runs a compiler
     * named by that file. NULL: the caller chose cc. Compilers, and the
     * identity probes hotbox runs them with (--version), always run under
     * the compile isolation, never bare on the host unless isolation is
     * LOCAL. */
    const char *cc_origin;
    /* Version 3. Sanitizers every plugin is built with, comma-separated:
     * "undefined" (UBSan: -fsanitize=undefined -fno-sanitize-recover=all)
     * and "address" (ASan; its workers load the compiler's ASan runtime
     * first and run without RLIMIT_AS; leak detection is off). The first
     * finding ends the worker, its report goes to the plugin's output, and
     * the call fails with HB_ECRASHED. NULL or "": none. Any other name
     * makes hb_manager_new fail with -EINVAL; a compiler that cannot build
     * with ASan makes hb_sandbox_new fail with the reason. */
    const char *sanitize;
    /* Version 4. Coverage of plugin code: every plugin is built with
     * --coverage, and workers write their .gcda files under this directory
     * (created; bound read-write in the jail; written when a version is
     * unloaded or swapped out and when the worker exits; a worker that
     * crashes loses its counters). hb_coverage_report() turns them into
     * gcov and lcov reports. NULL or "": no coverage. */
    const char *coverage_dir;
    /* Version 5. The manager's pool of pre-started workers: at most this
     * many idle workers, already started and confined, waiting for
     * hb_sandbox_new. After a sandbox is created, one worker for its
     * options is started on a thread of the library (off the caller's
     * path), so the next hb_sandbox_new with the same options takes it
     * instead of waiting for fork, exec, namespaces and seccomp. A pooled
     * worker is confined exactly as a fresh one for the same options (same
     * profile, filter, view, limits, env, output file); it is handed only
     * to a sandbox whose options match, otherwise the sandbox starts its
     * own. The least recently used idle worker makes room for a new
     * options set. Each idle worker costs about 1 MiB of private memory.
     * Idle workers end with hb_manager_free, and with the manager process
     * however it dies. 0: no pool. Default 2 (HB_MANAGER_OPTIONS_INIT and
     * callers of an older version). The environment variable
     * HOTBOX_WORKER_POOL=N, when set, overrides it (0 turns it off). */
    unsigned worker_pool;
} hb_manager_options;

#define HB_MANAGER_OPTIONS_INIT                                                          \
    {.version = HB_MANAGER_OPTIONS_VERSION, .isolation = HB_ISOLATION_AUTO, .worker_pool = 2}

/* Fills *opts with defaults (the fields a struct of `version` has). Every
 * options struct of this API accepts any version from 1 to its current
 * HB_*_OPTIONS_VERSION, here and in the function taking it: a caller built
 * against an older header gets defaults for the fields added since.
 * Version 0 or a newer one than this library knows: HB_EOPTVERSION.
 * The HB_*_OPTIONS_INIT macros are the same defaults for the current
 * version, as designated initializers. */
HB_EXTERN int hb_manager_options_init(hb_manager_options *opts, unsigned version);

/* Creates a manager, opening (and creating if needed) its state directory.
 * opts may be NULL for defaults. On failure *out is untouched; the reason is
 * in the return code (details cannot be fetched without a handle). */
HB_EXTERN int hb_manager_new(const hb_manager_options *opts, hb_manager **out);

/* Stops every sandbox's worker (running fini hooks) and frees the manager.
 * The workers are asked to stop all at once, so this takes at most the
 * longest swap timeout, not their sum. Sandboxes still open are detached,
 * not freed: their handles stay valid, every operation on them returns
 * HB_EFAILED ("its manager was freed"), and the caller still releases each
 * with hb_sandbox_free (before or after this call). Accepts NULL. */
HB_EXTERN void hb_manager_free(hb_manager *m);

/* Text of the last failure of a manager-level call. Never NULL. */
HB_EXTERN const char *hb_manager_last_error(hb_manager *m);

/* The state directory in use (absolute path). */
HB_EXTERN const char *hb_manager_state_dir(hb_manager *m);

/* The worker pool (hb_manager_options.worker_pool): idle workers ready to
 * be taken, workers still starting, and how many hb_sandbox_new calls took
 * a pooled worker (hits) or started their own (misses; counted only while
 * the pool is on). */
typedef struct hb_pool_stats {
    unsigned ready;
    unsigned starting;
    uint64_t hits;
    uint64_t misses;
} hb_pool_stats;
HB_EXTERN int hb_manager_pool_stats(hb_manager *m, hb_pool_stats *out);

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

typedef enum hb_version_status {
    HB_VERSION_CANDIDATE = 0,   /* stored, not yet proven */
    HB_VERSION_ACTIVE,          /* live in at least one sandbox */
    HB_VERSION_GOOD,            /* was live and did not fail */
    HB_VERSION_BAD,             /* failed: refused, crashed or failed tests */
    HB_VERSION_ROLLED_BACK,     /* replaced by a rollback */
} hb_version_status;

typedef struct hb_version_info {
    char plugin[128];
    uint64_t version;           /* per-plugin, monotonic, from 1 */
    char object_sha256[65];     /* hex checksum of the shared object */
    char source_sha256[65];     /* hex hash of the sources and flags */
    uint64_t size;              /* object size in bytes */
    int64_t created;            /* seconds since the epoch */
    hb_version_status status;
    /* Appended fields. Set by hb_versions only, where they point into the
     * same hb_free() block as the array; hb_build does not write them (a
     * caller built against an older header has no room for them). */
    const char *const *needed;  /* the object's DT_NEEDED libraries, NULL-terminated */
    const char *const *imports; /* undefined dynamic symbols it imports, NULL-terminated */
    /* The file a prebuilt object was loaded from (hb_load_object); NULL for
     * a version hotbox compiled. */
    const char *prebuilt_from;
} hb_version_info;

/* Compiles the plugin in directory dir and stores the result as a new
 * version (or finds the identical existing one) without loading it. On a
 * compile error returns HB_ECOMPILE; the diagnostics are the manager's last
 * error text. */
HB_EXTERN int hb_build(hb_manager *m, const char *dir, hb_version_info *out);

/* Lists a plugin's stored versions, oldest first, with the libraries and
 * symbols each imports. Free with hb_free() (one block). */
HB_EXTERN int hb_versions(hb_manager *m, const char *plugin, hb_version_info **out,
                          size_t *count);

/* Frees memory returned by this API. Accepts NULL. */
HB_EXTERN void hb_free(void *p);

/* Checks every stored object against its checksum and the catalogue, and
 * lists what each version needs ("PLUGIN vN needs: LIB..." and "PLUGIN vN
 * imports: SYMBOL..." lines, which are not findings).
 * Returns 0 when consistent (warnings such as unreferenced objects are
 * allowed), HB_ECORRUPT when an object is missing or altered, HB_ECATALOG
 * when the catalogue itself is damaged. *report (hb_free) is the full account,
 * one finding per line; it is set in both cases. */
HB_EXTERN int hb_verify(hb_manager *m, char **report);

/* Why hb_manager_new cannot open the store of state_dir (NULL: ".hotbox"):
 * 0 when it opens; otherwise the code (HB_ECATALOG for a catalogue that is
 * empty, truncated, garbled, damaged or missing next to stored objects)
 * and *why (hb_free) naming the file and the condition. */
HB_EXTERN int hb_catalogue_check(const char *state_dir, char **why);

/* Rebuilds a damaged or missing catalogue (hotbox.db) of state_dir. Without
 * force, a catalogue that opens and verifies is left alone (-EEXIST). The
 * damaged file is kept as hotbox.db.damaged-<UTC time>; every row that can
 * still be read is carried over, versions whose object is missing or
 * altered are dropped, and objects no row names are reported. *report
 * (hb_free) is the account; it is set in both cases. No manager may use
 * the state directory meanwhile. */
HB_EXTERN int hb_catalogue_recover(const char *state_dir, int force, char **report);

/* Removes old versions, keeping per plugin the newest `keep` versions, every
 * version live in a sandbox of this manager, and the newest good one.
 * *removed (may be NULL) receives how many versions went. */
HB_EXTERN int hb_gc(hb_manager *m, unsigned keep, unsigned *removed);

/* The plugins a stored version depends on (it imports symbols they export;
 * they must be loaded first in a sandbox), NULL-terminated, one allocation
 * (hb_free). version 0: the newest. */
HB_EXTERN int hb_version_depends(hb_manager *m, const char *plugin, uint64_t version,
                                 char ***out);

/* Names of every plugin with stored versions, sorted, NULL-terminated, in one
 * allocation (hb_free). */
HB_EXTERN int hb_plugins(hb_manager *m, char ***out);

/* The audit log (loads, swaps, refusals, seccomp denials, limit kills,
 * rollbacks), oldest first, as JSON lines in one string (hb_free). plugin
 * (may be NULL) and security_only filter it. */
HB_EXTERN int hb_audit_read(hb_manager *m, const char *plugin, int security_only, char **jsonl);

/* What this machine offers hotbox, as text for humans: the worker, every
 * compiler isolation backend (works or not, and why; with measure != 0 also
 * the cost of one compile on each, which takes seconds to minutes), the
 * security protections (seccomp, namespaces, cgroups) and the state
 * directory. *report is freed with hb_free. */
HB_EXTERN int hb_doctor(hb_manager *m, int measure, char **report);

/* Marks `version` (0: the newest good version older than the newest) as the
 * one to load for plugin until its source changes: newer versions become
 * rolled-back. A later hb_load whose build is one of those rolled-back
 * versions loads `version` instead. Live sandboxes use hb_rollback. */
HB_EXTERN int hb_pin(hb_manager *m, const char *plugin, uint64_t version, uint64_t *pinned);

/* The dynamic symbols a stored version exports, sorted, as a NULL-terminated
 * array in one allocation: free it with one hb_free(). version 0 means the
 * newest stored version. Self-tests are the names starting "hb_test_". */
HB_EXTERN int hb_version_exports(hb_manager *m, const char *plugin, uint64_t version,
                                 char ***out);

HB_EXTERN const char *hb_version_status_name(hb_version_status status);

/* The outcome of the upgrade-path tests (`hotbox test --upgrade`) of a
 * version, kept in the catalogue. A version whose upgrade tests failed is
 * never chosen as the base of a later upgrade run. */
typedef enum hb_upgrade_result {
    HB_UPGRADE_UNTESTED = 0,    /* no upgrade run finished for it */
    HB_UPGRADE_PASSED = 1,      /* its last upgrade run passed */
    HB_UPGRADE_FAILED = 2,      /* its last upgrade run failed */
} hb_upgrade_result;

/* Records that the upgrade run of plugin `version` from `base` ended with
 * `result` (replacing an earlier record). HB_ENOVERSION if there is no such
 * version. */
HB_EXTERN int hb_version_set_upgrade_result(hb_manager *m, const char *plugin, uint64_t version,
                                            uint64_t base, hb_upgrade_result result);

/* The recorded upgrade result of a version and the base it was tested from
 * (0 when untested); either output may be NULL. */
HB_EXTERN int hb_version_upgrade_result(hb_manager *m, const char *plugin, uint64_t version,
                                        hb_upgrade_result *result, uint64_t *base);

/* The version an upgrade run of plugin `version` starts from: the newest
 * older version that is not bad and whose own upgrade tests did not fail
 * (a broken migration is not a base: the commit fixing it is tested from
 * the last version that upgraded cleanly). HB_ENOVERSION when there is none;
 * *base is written only on success. */
HB_EXTERN int hb_upgrade_base(hb_manager *m, const char *plugin, uint64_t version,
                              uint64_t *base);

/* ------------------------------------------------------------------------ */
/* Sandboxes                                                                 */
/* ------------------------------------------------------------------------ */

#define HB_SANDBOX_OPTIONS_VERSION 7

/* Security profiles for the worker (see the README's profile table). */
typedef enum hb_profile {
    HB_PROFILE_DEFAULT = 0,     /* standard */
    HB_PROFILE_STRICT,          /* computation only: no files, no network, no processes */
    HB_PROFILE_STANDARD,        /* the default for watch mode and tests */
    HB_PROFILE_PERMISSIVE,      /* no seccomp filter: for plugins that need more; says so */
} hb_profile;

/* Where a sandbox's worker runs (hb_sandbox_options.worker, version 2).
 * HB_WORKER_PROCESS   a host process under bubblewrap and seccomp (default).
 * HB_WORKER_MICROVM   a process inside a microVM guest (issue 17). Not
 *                     available in this build: hb_sandbox_new refuses it with
 *                     HB_EISOLATION and says why; nothing runs on the host
 *                     in its place.
 * HB_WORKER_AUTO      the microVM where it is available and a KVM probe
 *                     really boots a guest; else a process, and the sandbox's
 *                     notice event (and hb_sandbox_worker_kind) says why. */
typedef enum hb_worker_kind {
    HB_WORKER_PROCESS = 0,
    HB_WORKER_MICROVM = 1,
    HB_WORKER_AUTO = 2,
} hb_worker_kind;

typedef struct hb_sandbox_options {
    unsigned version;                /* HB_SANDBOX_OPTIONS_VERSION */
    const char *name;                /* for messages; default "sandbox-N" */
    size_t max_state_size;           /* bytes a save() may produce; default 16 MiB */
    unsigned call_timeout_ms;        /* a call that runs longer kills the worker; default 10000 */
    unsigned swap_timeout_ms;        /* same for load/swap hooks; default 10000 */
    unsigned max_plugins;            /* default 64 */
    unsigned checkpoint_interval_ms; /* 0: checkpoint only at swaps and on request */
    const char *output_path;         /* worker stdout+stderr appended here; NULL inherits.
                                      * What a call wrote to stdout/stderr is in it
                                      * when hb_call returns; streams a plugin opens
                                      * itself are its own to flush */
    hb_profile profile;              /* default HB_PROFILE_DEFAULT (standard) */
    /* Resource limits of the worker, enforced with rlimits (and named in the
     * error when the worker dies of one). 0 means the default. */
    uint64_t max_memory;             /* address space bytes; default 4 GiB */
    unsigned max_cpu_seconds;        /* CPU time of the worker; default unlimited */
    unsigned max_open_files;         /* default 256 */
    unsigned max_processes;          /* RLIMIT_NPROC; default unchanged (strict, standard:
                                      * a quarter of the host's pid_max/threads-max) */
    /* Probation after a swap: the new version is proven once its self-tests
     * (if any) pass and it has served probation_calls calls or run for
     * probation_ms, whichever comes first. A crash, hang or failed self-test
     * before that rolls it back automatically and marks it bad. */
    unsigned probation_calls;        /* default 20 */
    unsigned probation_ms;           /* default 2000 */
    /* Crash loops: after crash_loop_max crashes within crash_loop_window_ms
     * the sandbox is failed (every call returns HB_EFAILED). Restarts before
     * that back off exponentially (10 ms doubling to 2 s): the crashing call
     * returns at once, and the next operation restarts the worker once the
     * backoff deadline has passed (waiting out the rest if it is early). */
    unsigned crash_loop_max;         /* default 5 */
    unsigned crash_loop_window_ms;   /* default 10000 */
    /* Version 2. CPU share of the worker as a percentage of one CPU (50 =
     * half a core, 200 = two cores); 0 = no cap. Enforced by the kernel's
     * CFS bandwidth control, so a spinning plugin is throttled, not killed:
     * cgroup v2 cpu.max where the machine delegates the cpu controller to
     * hotbox, else (a hybrid v1/v2 machine, as root) a cgroup v1 cpu
     * hierarchy's cpu.cfs_quota_us. Where neither is available the sandbox
     * still starts, uncapped, with an HB_EVENT_WARNING saying why. */
    unsigned cpu_percent;
    /* Version 3. */
    hb_worker_kind worker;           /* default HB_WORKER_PROCESS */
    /* Version 4. Recovery policy, for tests that crash a plugin on purpose
     * and for debugging a crash where it happened. no_auto_restart = 1: a
     * worker that dies is not restarted and nothing is rolled back; the
     * crash is reported (HB_EVENT_CRASHED, the failing call's code) and
     * every later operation returns HB_EDOWN until hb_sandbox_restart.
     * no_probation = 1: a swapped-in version is not on probation (never
     * rolled back automatically). */
    int no_auto_restart;             /* default 0: restart and roll back */
    int no_probation;                /* default 0: probation after swaps */
    /* Version 4. Every plugin hb_load loads starts from its snapshot of this
     * name (hb_snapshot_restore right after the load; copied). When that
     * fails (no such snapshot: -ENOENT; refused: HB_ESNAPSHOT) hb_load
     * returns the error with the plugin loaded, in the state it had. NULL:
     * none. */
    const char *from_snapshot;
    /* Version 5. Differential replay (docs/replay.md): when set, every call
     * into each plugin is recorded (function, signature, arguments, buffers,
     * result, out-buffers, error) with the checkpoint its plugin started
     * from, appended to <record_dir>/<plugin>.hbrec (the directory is
     * created by hb_sandbox_new). Records are buffered and written at a
     * segment start, every 256 KiB and by hb_sandbox_free; a failed write is
     * an HB_EVENT_WARNING, never a failed call. NULL: no recording. Copied. */
    const char *record_dir;
    /* Version 6. How plugin.json's runtime section may change the worker
     * (docs/plugin-json.md). 0 (default): the stronger wins: a plugin may
     * ask for a stronger profile and tighter limits than these options,
     * never weaker or looser (a weaker ask is an HB_EVENT_NOTICE). 1: the
     * plugins are trusted: their strongest profile and tightest limits
     * replace these options' (the CLI's --trust-plugin-runtime). */
    int trust_plugin_runtime;
    /* Version 7. no_carry = 1: static variables are not carried by their
     * DWARF layouts, marked (HB_CARRY) or not; only save/migrate moves
     * state, as before carry existed (docs/state.md). Said once per plugin
     * with an HB_EVENT_NOTICE. A plugin turns it off for itself with
     * plugin.json "carry": false. Default 0: carry. */
    int no_carry;
} hb_sandbox_options;

#define HB_SANDBOX_OPTIONS_INIT {.version = HB_SANDBOX_OPTIONS_VERSION, .profile = HB_PROFILE_DEFAULT}

HB_EXTERN int hb_sandbox_options_init(hb_sandbox_options *opts, unsigned version);

/* Creates a sandbox and starts its worker process. */
HB_EXTERN int hb_sandbox_new(hb_manager *m, const hb_sandbox_options *opts,
                             hb_sandbox **out);

/* Shuts the worker down (fini hooks run, then the process exits; it is
 * killed if it does not exit within its swap timeout). Also releases a
 * sandbox detached by hb_manager_free. Accepts NULL. */
HB_EXTERN void hb_sandbox_free(hb_sandbox *sb);

/* Text of the last failure on this sandbox (compiler output, dlerror text,
 * the signal that killed the worker). Never NULL. */
HB_EXTERN const char *hb_sandbox_last_error(hb_sandbox *sb);

/* Process id of the sandbox's current worker (changes after a restart). */
HB_EXTERN int hb_sandbox_worker_pid(hb_sandbox *sb);

typedef struct hb_sandbox_usage {
    int worker_pid;
    uint64_t rss_bytes;        /* worker's resident memory now */
    uint64_t cpu_ms;           /* worker's CPU time (user + system) */
    uint64_t uptime_ms;        /* of the current worker */
    uint64_t calls;            /* calls made through this sandbox */
    uint64_t crashes;          /* worker deaths seen */
    uint64_t restarts;         /* workers started after a death */
    int failed;                /* crash loop: the sandbox refuses work */
} hb_sandbox_usage;

/* Resource usage of the sandbox and its current worker. */
HB_EXTERN int hb_sandbox_usage_get(hb_sandbox *sb, hb_sandbox_usage *out);

/* What state a sandbox is in (hb_sandbox_status_get). */
typedef enum hb_sandbox_state {
    HB_SANDBOX_RUNNING = 0,    /* a worker serves the active versions */
    HB_SANDBOX_RESTARTING,     /* the worker died; the next operation restarts it
                                  (crash-loop backoff) */
    HB_SANDBOX_DOWN,           /* the worker died with no_auto_restart set */
    HB_SANDBOX_FAILED,         /* crash loop: refuses work until hb_sandbox_restart */
    HB_SANDBOX_DETACHED,       /* its manager was freed */
} hb_sandbox_state;

/* One plugin of a sandbox and its active version. */
typedef struct hb_sandbox_plugin {
    const char *name;
    uint64_t version;
    uint32_t schema;
    int on_probation;
} hb_sandbox_plugin;

typedef struct hb_sandbox_status {
    const char *name;          /* the sandbox's name */
    hb_sandbox_state state;
    int worker_pid;            /* 0 when no worker runs */
    uint64_t crashes;          /* worker deaths seen */
    uint64_t restarts;         /* workers started after a death or on request */
    const hb_sandbox_plugin *plugins; /* the active versions, nplugins of them */
    size_t nplugins;
} hb_sandbox_status;

/* The sandbox's state, worker, counters and active versions. The strings
 * and the plugins array belong to the sandbox and stay valid until the
 * next hb_sandbox_status_get call on it or its hb_sandbox_free. Does not
 * restart anything. */
HB_EXTERN int hb_sandbox_status_get(hb_sandbox *sb, hb_sandbox_status *out);

/* Starts a fresh worker with every plugin's active version and its last
 * checkpoint (the state since is lost, as with an automatic restart, with
 * the same events). Brings back a sandbox that is down (no_auto_restart)
 * or failed (crash loop; its crash history is forgotten); restarts a
 * running one. HB_EFAILED for a detached sandbox. */
HB_EXTERN int hb_sandbox_restart(hb_sandbox *sb);

/* The manager's live sandboxes, newest first: up to cap handles go to
 * out; *count receives how many there are (which may exceed cap). The
 * handles stay the caller's (or whoever created them). */
HB_EXTERN int hb_manager_sandboxes(hb_manager *m, hb_sandbox **out, size_t cap,
                                   size_t *count);

/* The report of the sandbox's last crash or hang (what the HB_EVENT_CRASHED
 * event said: the signal, the plugin and where) and when it happened (unix
 * seconds; at may be NULL); NULL when its worker never died. The string
 * belongs to the sandbox and stays valid until its next crash or
 * hb_sandbox_free. */
HB_EXTERN const char *hb_sandbox_last_crash(hb_sandbox *sb, int64_t *at);

/* A worker that dies while no operation runs (a plugin thread crashed, a
 * kill from outside) is noticed by the next operation. A caller with its
 * own poll loop notices it at once instead: hb_sandbox_worker_fd is an fd
 * (a pidfd, owned by the sandbox) that becomes readable when the current
 * worker ends, -1 when there is none; it changes when the worker is
 * restarted, so ask again after every operation. hb_sandbox_check does
 * what the next operation would do first: the crashed event, the
 * automatic rollback of a version on probation (judged at the moment the
 * death is noticed), the restart. Returns 0 (the worker runs, or was
 * restarted) or what an operation would (HB_EFAILED in a crash loop,
 * HB_EDOWN with no_auto_restart). hotbox watch does this. */
HB_EXTERN int hb_sandbox_worker_fd(hb_sandbox *sb);
HB_EXTERN int hb_sandbox_check(hb_sandbox *sb);

/* Named state snapshots, kept in the catalogue (.hotbox/hotbox.db) per
 * plugin and name, with the plugin version whose save() wrote them and its
 * state schema, so a test can start from a known state and a failure
 * reproduces. Names are 1 to 128 characters of A-Z a-z 0-9 . _ -.
 *
 * hb_snapshot_save takes the plugin's state now (its save hook; -EOPNOTSUPP
 * without one) and stores it under name, replacing a snapshot of that name.
 * It also counts as the plugin's checkpoint.
 *
 * hb_snapshot_restore puts the snapshot's state into the active version
 * through its migrate hook (which receives the snapshot's schema, so a
 * version with another schema converts it); state since is replaced. The
 * snapshot becomes the plugin's checkpoint (a restart resumes from it).
 * Without a migrate hook, or when migrate refuses the state, it returns
 * HB_ESNAPSHOT naming both schemas and the plugin keeps its state. A
 * snapshot larger than this sandbox's max_state_size (taken where the
 * limit was higher) is not restored: HB_ESTATESIZE naming both sizes, and
 * the plugin keeps its state. -ENOENT when there is no such snapshot.
 *
 * hb_snapshot_list: the names of plugin's snapshots, sorted, as a
 * NULL-terminated array that belongs to the sandbox until the next
 * hb_snapshot_list on it (or hb_sandbox_free). hb_snapshot_delete:
 * -ENOENT when there is none. */
HB_EXTERN int hb_snapshot_save(hb_sandbox *sb, const char *plugin, const char *name);
HB_EXTERN int hb_snapshot_restore(hb_sandbox *sb, const char *plugin, const char *name);
HB_EXTERN int hb_snapshot_list(hb_sandbox *sb, const char *plugin, const char *const **names,
                               size_t *count);
HB_EXTERN int hb_snapshot_delete(hb_sandbox *sb, const char *plugin, const char *name);

/* Counters and latency histograms (compile, swap, call, rollback, restart)
 * of every sandbox of the manager, as text (json = 0) or one JSON object
 * (json = 1). *out is freed with hb_free. */
HB_EXTERN int hb_manager_metrics(hb_manager *m, int json, char **out);

/* Structured compiler diagnostics of the last compile on this sandbox: the
 * errors of a failed build, or the warnings of one that succeeded (a build
 * served from the compile cache leaves them unchanged). Valid until the next
 * call on the sandbox. */
HB_EXTERN int hb_sandbox_diagnostics(hb_sandbox *sb, const hb_diagnostic **out,
                                     size_t *count);

/* Builds the plugin in directory dir and loads it into the sandbox. The
 * plugin's name is the directory's base name. Loading a plugin already
 * loaded is -EEXIST: use hb_reload(). */
HB_EXTERN int hb_load(hb_sandbox *sb, const char *dir);

/* Rebuilds a loaded plugin from its directory's current sources and
 * hot-swaps the result in, carrying its state. When the sources did not
 * change this is a no-op returning 0. When they build to a version that is
 * marked bad (it failed before) nothing is tried and the result is
 * HB_EBADVERSION. On any failure the old version keeps serving with its
 * state and the reason is the sandbox's last error. A swap whose worker had
 * died before the request reached it fails with HB_ECRASHED but does not
 * mark the new version bad (none of its code ran). */
HB_EXTERN int hb_reload(hb_sandbox *sb, const char *plugin);

/* Removes a plugin from the sandbox (its fini hook runs). */
HB_EXTERN int hb_unload(hb_sandbox *sb, const char *plugin);

/* Swaps a plugin to stored version `version`, or when version is 0 to the
 * newest version older than the active one that is not bad (good, rolled
 * back, or live in another sandbox). State is carried through
 * the target's migrate hook; when the target refuses it, the last checkpoint
 * taken under the target's own schema is used instead (or fresh state, with
 * an HB_EVENT_STATE_RESET event). */
HB_EXTERN int hb_rollback(hb_sandbox *sb, const char *plugin, uint64_t version);

/* The version live in this sandbox. */
HB_EXTERN int hb_active_version(hb_sandbox *sb, const char *plugin, uint64_t *out);

/* Takes a state checkpoint now (plugin's save hook) for one plugin, or for
 * every loaded plugin when plugin is NULL. The harness keeps the last
 * checkpoint of each plugin and restores it if the worker must restart. */
HB_EXTERN int hb_checkpoint(hb_sandbox *sb, const char *plugin);

/* The kind of worker the sandbox got (hb_sandbox_options.worker resolved:
 * never HB_WORKER_AUTO) and a sentence saying why. *why lives as long as
 * the sandbox. Either out pointer may be NULL. */
HB_EXTERN int hb_sandbox_worker_kind(hb_sandbox *sb, hb_worker_kind *kind, const char **why);

/* Loads a prebuilt plugin object: a shared object built outside hotbox (by
 * CMake or Meson, or shipped as a release artifact) that includes
 * hotbox/plugin.h and declares HB_PLUGIN(...). The file is read once,
 * checked as every compiled object is (ELF for this host, the hb_plugin
 * descriptor, no text relocations, no executable stack, the profile's
 * import policy), copied into the store under its checksum and recorded
 * as a version whose origin is "prebuilt" and path (hb_version_info's
 * prebuilt_from); an object identical to a stored version is that
 * version. The plugin is named by its descriptor's name (hb_load_object)
 * or by `name` (hb_load_object_as; NULL: the descriptor's).
 *
 * Not loaded yet: it is loaded as hb_load loads a build. Already loaded
 * (from a directory or an earlier object): the active version is swapped
 * to the object exactly as hb_reload swaps a new build, with its state,
 * probation and rollback; a stored version marked bad is HB_EBADVERSION.
 *
 * A file that is not an object hotbox can load (not ELF, another machine,
 * no descriptor: HB_EBADELF / HB_ENODESC; a directory: -EISDIR; not a
 * regular file: -EINVAL; unreadable, missing, a symlink loop: the errno)
 * is refused with the sandbox's last error naming the file and what is
 * wrong; nothing is stored and the active version keeps serving. A name
 * that cannot be read from the descriptor (and none given) or is not 1 to
 * 127 of A-Z a-z 0-9 _ - . + is -EINVAL. What the worker or the import
 * policy refuses at load is handled as for a build: the stored version is
 * marked bad and the active one keeps serving. hb_reload of a plugin
 * loaded from an object is -EOPNOTSUPP (it has no sources); hb_load of
 * its directory later is -EEXIST as usual. */
HB_EXTERN int hb_load_object(hb_sandbox *sb, const char *path);
HB_EXTERN int hb_load_object_as(hb_sandbox *sb, const char *path, const char *name);

/* Stores a prebuilt plugin object as hb_load_object does (the same checks
 * and errors, in the manager's last error) without loading it: hb_build
 * for an object. name: NULL for its descriptor's. out may be NULL. */
HB_EXTERN int hb_build_object(hb_manager *m, const char *path, const char *name,
                              hb_version_info *out);

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Signatures follow dyncall's signature characters: the argument types, a
 * ')' and the return type. "ii)i" is int f(int, int); ")v" is void f(void).
 *
 *   B _Bool        c int8_t       C uint8_t      s int16_t     S uint16_t
 *   i int32_t      I uint32_t     j long         J unsigned long
 *   l int64_t      L uint64_t     f float        d double
 *   Z const char * (NUL-terminated string)       v void (return only)
 *
 * hotbox adds two argument characters for caller-owned byte buffers; each
 * stands for two C parameters, a pointer and a size_t length:
 *   b  const void *, size_t   input bytes, copied to the worker
 *   w  void *, size_t         in/out bytes, copied there and back
 * Raw pointers ('p') cannot cross the process boundary and are refused.
 * At most 32 argument characters.
 */

typedef enum hb_type {
    HB_TYPE_VOID = 0,
    HB_TYPE_BOOL, HB_TYPE_I8, HB_TYPE_U8, HB_TYPE_I16, HB_TYPE_U16,
    HB_TYPE_I32, HB_TYPE_U32, HB_TYPE_LONG, HB_TYPE_ULONG,
    HB_TYPE_I64, HB_TYPE_U64, HB_TYPE_F32, HB_TYPE_F64,
    HB_TYPE_STR, HB_TYPE_BUF_IN, HB_TYPE_BUF_INOUT,
} hb_type;

typedef struct hb_value {
    hb_type type;
    union {
        int64_t i;               /* all signed integer types and bool */
        uint64_t u;              /* all unsigned integer types */
        float f;
        double d;
        const char *s;           /* HB_TYPE_STR */
        struct {
            void *data;
            size_t len;
        } buf;                   /* HB_TYPE_BUF_IN / HB_TYPE_BUF_INOUT */
    } v;
} hb_value;

/* Calls `symbol` of the plugin's active version with the given arguments.
 * args[i].type must match the signature. An in/out buffer's contents are
 * written back into the caller's memory. A returned string (')Z') is copied
 * and stays valid until the next call on this sandbox.
 *
 * Returns HB_ECRASHED when the call killed the worker (the last error names
 * the signal); the sandbox has then restarted its worker with the last good
 * versions and their last checkpoints, and is ready for the next call.
 *
 * A restart is never silent. When the worker was restarted since this
 * plugin's previous call for any other reason (killed from outside, died
 * while idle, another plugin's crash, a restart to recover descriptors)
 * and calls since the plugin's last checkpoint were lost with it, the next
 * call returns HB_ESTATELOST without calling anything: the plugin now
 * serves the state of its last checkpoint (or fresh state without one, or
 * when restoring it failed), its text says which, and the caller decides
 * whether to retry. The restart is also an
 * HB_EVENT_RESTARTED event with an HB_EVENT_STATE_RESET per plugin that lost
 * state, and counts in hb_sandbox_usage's crashes and restarts. */
HB_EXTERN int hb_call(hb_sandbox *sb, const char *plugin, const char *symbol,
                      const char *signature, const hb_value *args, size_t nargs,
                      hb_value *ret);

/* Varargs form: the arguments in C form, in signature order (a buffer
 * character takes a pointer and a size_t), then, unless the return type is
 * 'v', a pointer to where the result goes (int32_t * for 'i', double * for
 * 'd', const char ** for 'Z', ...). Integer arguments narrower than int are
 * passed as int, floats as double (the usual promotions). */
HB_EXTERN int hb_callf(hb_sandbox *sb, const char *plugin, const char *symbol,
                       const char *signature, ...);

/* Checks a signature without calling anything. On success *nargs_out is
 * the number of hb_value arguments it takes. */
HB_EXTERN int hb_signature_check(const char *signature, size_t *nargs_out);

/* ------------------------------------------------------------------------ */
/* Self-tests and watch mode                                                 */
/* ------------------------------------------------------------------------ */

/* Runs every exported hb_test_* function of the plugin's active version
 * (each `int f(void)`, 0 = pass) and emits one HB_EVENT_SELFTEST per test.
 * *failed (when not NULL) receives how many failed. A test that crashes the
 * worker counts as failed; the sandbox recovers as for any crash. */
HB_EXTERN int hb_run_selftests(hb_sandbox *sb, const char *plugin, unsigned *passed,
                               unsigned *failed);

/* The outcome of one self-test run by hb_run_test. */
typedef struct hb_test_result {
    int passed;            /* 1 when hb_setup, the test and hb_teardown all succeeded */
    const char *failed_in; /* the step that failed first: "hb_setup", the test (the
                            * caller's string) or "hb_teardown"; NULL when passed */
    int32_t returned;      /* failed_in's nonzero return value, when it returned */
    int error;             /* 0 when failed_in returned; else its call's code
                            * (HB_ECRASHED, HB_EHUNG, ...; the sandbox's last
                            * error says more) */
    double ms;             /* wall time of the steps that ran */
} hb_test_result;

/* Runs one self-test of the plugin's active version with its fixture. This
 * is the one test runner: watch mode's self-tests (hb_run_selftests) and
 * `hotbox test` both go through it, so hb_setup and hb_teardown mean the
 * same everywhere:
 *   1. hb_setup, when the active version exports `int hb_setup(void)`, runs
 *      before the test; when it fails (nonzero, crash, hang) the test fails
 *      and does not run;
 *   2. the test, `int test(void)`; nonzero fails it;
 *   3. hb_teardown, when exported, runs after every test whose hb_setup
 *      succeeded and that returned (passed or not); it does not run after
 *      a crash or hang (the worker, and the state it would tidy, are
 *      gone). A failing teardown fails a test that had passed.
 * The first failure is the one reported. A call refused with HB_ESTATELOST
 * (a restart before this test, not its failure) is retried once.
 * Returns 0 when the test ran, whatever its outcome (see *out), or a
 * negative code when it could not run: -EINVAL, HB_ENOPLUGIN, ... No event
 * is emitted. */
HB_EXTERN int hb_run_test(hb_sandbox *sb, const char *plugin, const char *test,
                          hb_test_result *out);

/* What hb_coverage_report() measured, over the plugin sources. */
typedef struct hb_coverage_summary {
    uint64_t lines, lines_hit;          /* executable lines, and those run */
    uint64_t functions, functions_hit;
    unsigned files;                     /* source files with executable lines */
    unsigned data_files;                /* .gcda files read */
    unsigned stale;                     /* a source's counts left out: the file changed
                                           since that compile (an --upgrade base) */
} hb_coverage_summary;

/* Turns the .gcda files workers wrote under hb_manager_options.coverage_dir
 * into reports in out_dir (created): coverage.info (lcov tracefile),
 * coverage.json (per file: lines and their counts) and one gcov text file
 * per source (NAME.gcov, beside nothing else; sources that are no longer
 * readable get none). Counts of workers still running are not in it yet:
 * free the sandboxes first. Runs gcov from PATH ($GCOV names another; it
 * must be the compiler's own version). 0 with *out filled; -ENOENT when
 * there is no coverage data (no coverage_dir, nothing ran), or a negative
 * code with the manager's last error naming the file and the reason. */
HB_EXTERN int hb_coverage_report(hb_manager *m, const char *out_dir, hb_coverage_summary *out);

/* One test's outcome in a batch run by hb_run_tests. */
typedef struct hb_test_outcome {
    hb_test_result result; /* as hb_run_test's (failed_in: the caller's test
                            * string, "hb_setup" or "hb_teardown") */
    /* The size of the sandbox's output file (output_path) when the test had
     * ended and its output was flushed: the test's own output is the bytes
     * between the previous test's output_end (or where the file was when
     * the batch began) and this. UINT64_MAX when unknown (no output file,
     * or the test crashed or hung: its output runs to the end of the file). */
    uint64_t output_end;
    char error_text[512]; /* result.error != 0: what went wrong, one line */
} hb_test_outcome;

/* Called by hb_run_tests as each test of the batch ends (i: its index in
 * the call's tests), in order, before the next one's outcome is known: a
 * caller can show progress live (a test that hangs is the one after the
 * last reported). It must not call into the sandbox. */
typedef void (*hb_test_done_fn)(void *ud, size_t i, const hb_test_outcome *o);

/* Runs tests[0..n) of the plugin's active version as hb_run_test runs each
 * one (same fixture rules, same results), but in one round trip to the
 * worker: it runs them one after another and reports each as it ends
 * (to done, when not NULL).
 * Each test keeps its own time limit (the sandbox's call timeout per step
 * of the test, counted from the end of the test before it). A test that
 * crashes or hangs ends the batch: the worker is killed (a hang) and
 * restarted as after any crash, that test's outcome says so, and *ran
 * counts it; call again with tests + *ran for the rest. Returns 0 with
 * out[0..*ran) written (*ran >= 1), or a negative code when no test could
 * run (-EINVAL, HB_ENOPLUGIN, ...). No event is emitted. */
HB_EXTERN int hb_run_tests(hb_sandbox *sb, const char *plugin, const char *const *tests,
                           size_t n, hb_test_outcome *out, size_t *ran, hb_test_done_fn done,
                           void *ud);

typedef struct hb_watch hb_watch;

#define HB_WATCH_OPTIONS_VERSION 2

typedef struct hb_watch_options {
    unsigned version;      /* HB_WATCH_OPTIONS_VERSION */
    unsigned quiet_ms;     /* coalescing window for writes not completed yet
                              (a completed save, closed or renamed into
                              place, starts its build at once); default 20 */
    int run_selftests;     /* run hb_test_* after each swap; default on (-1 = off) */
    /* Version 2. NULL-terminated fnmatch() globs matched against every path
     * component below a root (a pattern ending in '/' matches directories
     * only), added to the built-in excludes (.git/, build directories, the
     * state directory): a matching file's changes never trigger a build,
     * and a matching directory is neither watched nor, directly under a
     * root of plugin directories, a plugin. Excluding does not take a file
     * out of a build that includes it. Copied by hb_watch_new. */
    const char *const *exclude;
} hb_watch_options;

#define HB_WATCH_OPTIONS_INIT {.version = HB_WATCH_OPTIONS_VERSION}

/* Watches roots (NULL-terminated) and keeps the sandbox in step with them.
 * A root holding C or C++ sources is one plugin; otherwise every subdirectory
 * holding them is a plugin (and new ones are picked up as they
 * appear, deleted ones unloaded). Every plugin is loaded at once; one that
 * fails to build is reported and retried when its files change. A plugin
 * the sandbox already holds (loaded from the same directory) is adopted:
 * it is reloaded, not loaded again. Progress is reported through the
 * manager's event callback. */
HB_EXTERN int hb_watch_new(hb_sandbox *sb, const char *const *roots,
                           const hb_watch_options *opts, hb_watch **out);
HB_EXTERN void hb_watch_free(hb_watch *w);

/* A file descriptor that becomes readable when hb_watch_process has work. */
HB_EXTERN int hb_watch_fd(hb_watch *w);

/* Handles whatever is ready without blocking: a settled set of changed files
 * (settled as soon as a save completes: the file closed after writing or
 * renamed into place) becomes rebuilds and hot swaps of the plugins it affects (through their
 * header dependencies), in dependency order, each once. Returns how many
 * plugins it acted on: built (loaded or reloaded, whatever the outcome) plus
 * unloaded because their directory went away; 0 when nothing was ready. A
 * negative code means watching itself failed (last error on the sandbox).
 * Failed builds and refused swaps are events, not errors: the old versions
 * keep serving.
 *
 * Convergence: when a plugin's files change while it is being built (an
 * editor or formatter saving again mid-compile, a half-written file), that
 * build is superseded: a failure it produced is not reported, and the
 * plugin is built again, without the compile cache, once its files are
 * quiet. After any storm of saves every plugin runs the build of its final
 * content, or reports the failure of its final content while its last good
 * version serves. */
HB_EXTERN int hb_watch_process(hb_watch *w);

/* Whether the watch has not settled yet: 1 when a plugin's build was
 * superseded and it is still to be built again, or file changes are waiting
 * for their quiet window (hb_watch_fd will become readable for them: a
 * plugin whose files kept changing through several builds in a row, e.g. a
 * header outside the watched roots, is built again after a back-off of 50
 * ms to 1.6 s, with an HB_EVENT_NOTICE saying so); 0 when
 * every plugin's outcome reported so far is that of its files as they are;
 * negative on error. For a caller that acts once a change has been handled
 * completely (hotbox watch --once). Ask after every hb_watch_process once
 * one has acted, including rounds that return 0: the round that settles
 * the watch may act on nothing (a save's close read after its content was
 * already built settles to no change). */
HB_EXTERN int hb_watch_pending(hb_watch *w);

/* Names of the plugins the watch knows, NULL-terminated, one allocation
 * (hb_free). Includes plugins that failed to build and are not loaded. */
HB_EXTERN int hb_watch_plugins(hb_watch *w, char ***out);

/* Pauses auto-reload: file changes are still read (hb_watch_fd does not
 * stay readable, hb_watch_process returns 0) and remembered, but nothing is
 * built, swapped or unloaded until hb_watch_resume. Pausing a paused watch
 * does nothing. Emits HB_EVENT_NOTICE "auto-reload paused". */
HB_EXTERN int hb_watch_pause(hb_watch *w);

/* Resumes auto-reload: every plugin whose files changed while paused is
 * built and swapped once (providers first), and plugins whose directory
 * went away are unloaded. Returns how many plugins it acted on, as
 * hb_watch_process does (0 when nothing changed or the watch was not
 * paused). Emits HB_EVENT_NOTICE "auto-reload resumed". */
HB_EXTERN int hb_watch_resume(hb_watch *w);

/* ------------------------------------------------------------------------ */
/* Console: the live session from outside (docs/console.md)                  */
/* ------------------------------------------------------------------------ */

typedef struct hb_console hb_console;

/* Serves sb to other processes of the same user over the UNIX socket
 * <state_dir>/run/console.sock (mode 0600; each peer's uid is checked with
 * SO_PEERCRED and any uid but this process's effective uid is refused).
 * One console per state directory: a lock file next to the socket says
 * whether a session is live, so a socket left by a session that was killed
 * is detected as stale and replaced. *stale_removed (when not NULL) is set
 * to 1 when a stale socket was removed. Returns -EBUSY when another live
 * process serves this state directory (the sandbox's last error says
 * which). The console never runs anything on a thread of its own:
 * requests are handled inside hb_console_process, on the caller's thread,
 * so a call can never run while that thread swaps the plugin (watch mode
 * polls hb_console_fd beside hb_watch_fd). */
HB_EXTERN int hb_console_start(hb_sandbox *sb, hb_console **out, int *stale_removed);
/* Removes the socket and the lock. Accepts NULL. */
HB_EXTERN void hb_console_stop(hb_console *c);
/* Readable when a client is waiting. */
HB_EXTERN int hb_console_fd(hb_console *c);
/* Serves every waiting client, one request each (each with a 5 s deadline
 * to send its request and take its reply). Returns how many were served. */
HB_EXTERN int hb_console_process(hb_console *c);

/* The client side. Sends one JSON request (docs/console.md) to the live
 * session of state_dir and stores its JSON reply in *reply (hb_free).
 * Returns -ENOENT when no session is live (no socket, or a stale one: its
 * session died), -EACCES when the socket belongs to another user, or
 * another negative errno; *err (hb_free, may be NULL) says what and where. */
HB_EXTERN int hb_console_request(const char *state_dir, const char *request,
                                 char **reply, char **err);
/* hb_call through the live session: the same arguments and result, the
 * result's string (type 'Z') in *ret_text (hb_free) and in-out buffers
 * updated in place (up to their length). A failed call returns the code the
 * session's hb_call returned, with its last error in *err. */
HB_EXTERN int hb_console_call(const char *state_dir, const char *plugin, const char *symbol,
                              const char *signature, hb_value *args, size_t nargs,
                              hb_value *ret, char **ret_text, char **err);

/* ------------------------------------------------------------------------ */
/* Differential replay (docs/replay.md)                                      */
/* ------------------------------------------------------------------------ */

#define HB_REPLAY_OPTIONS_VERSION 1

typedef struct hb_replay_options {
    unsigned version;            /* HB_REPLAY_OPTIONS_VERSION */
    /* The recording; NULL: <state_dir>/recordings/<plugin>.hbrec (where
     * `--record` puts it). */
    const char *recording;
    /* Functions whose results are not compared (non-deterministic ones),
     * NULL-terminated; they are still called, so the state of later calls
     * is the recorded one. NULL: none. */
    const char *const *exclude;
    /* The two versions compared. 0 for old: the version the recording's
     * newest segment ran (the last good version the calls were made
     * against). 0 for new: the plugin directory's current sources, built
     * if needed. */
    uint64_t old_version;
    uint64_t new_version;
    hb_profile profile;          /* of the two replay workers; default standard */
} hb_replay_options;

#define HB_REPLAY_OPTIONS_INIT {.version = HB_REPLAY_OPTIONS_VERSION}

/* One recorded call whose outcome differs between the two versions. The
 * texts show values as a C programmer writes them (42, 2.5, "text", NULL,
 * in/out buffers as hex) and failures as "error CODE: text". */
typedef struct hb_replay_diff {
    size_t index;                /* 0-based position among the plugin's recorded calls */
    uint64_t offset;             /* byte offset of its record in the recording */
    const char *function;
    const char *signature;
    const char *args;            /* the arguments, "(1, "x", b[3]=616263)" */
    const char *old_result;      /* the result (and out-buffers) under old_version */
    const char *new_result;      /* the same under new_version */
} hb_replay_diff;

typedef struct hb_replay_report {
    const char *plugin;
    const char *recording;       /* the file replayed */
    uint64_t old_version, new_version;
    size_t calls;                /* calls replayed (on each side) */
    size_t excluded;             /* of those, not compared (exclude) */
    size_t segments;             /* checkpoints the calls started from */
    const hb_replay_diff *diffs; /* the calls whose outcome differs, in order */
    size_t ndiffs;
    double seconds;              /* wall time of the replay (loads and calls) */
} hb_replay_report;

/* Replays the recorded calls of the plugin in dir against two versions,
 * each in a worker of its own (two shadow sandboxes of the manager; a live
 * sandbox is never touched), each segment of calls from the same recorded
 * checkpoint (restored through the version's migrate hook; without a save
 * hook the version starts fresh), and compares each call's outcome: the
 * result, the out-buffers, and the error code (error texts are not
 * compared). Returns 0 when the replay ran, whatever it found (*out,
 * freed with hb_replay_report_free); else a negative code with the
 * manager's last error saying what and where: -ENOENT (no recording, or
 * none of this plugin), -EBADMSG (a malformed recording: "FILE:OFFSET:
 * what"), HB_ECOMPILE, HB_ENOVERSION, ... Buffers of live recorders of the
 * plugin in this manager are written first. */
HB_EXTERN int hb_replay(hb_manager *m, const char *dir, const hb_replay_options *opts,
                        hb_replay_report **out);
HB_EXTERN void hb_replay_report_free(hb_replay_report *r);

#ifdef __cplusplus
}
#endif

#endif /* HOTBOX_HOTBOX_H */
