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

/* Lists the plugin's C sources (*.c directly in plugin_dir, sorted). */
int hb_compiler_list_sources(const char *plugin_dir, char ***out);

/* Runs one compile. Returns 0 when the compiler ran and produced an object;
 * HB_ECOMPILE when it ran and failed (res filled: diagnostics, exit status);
 * HB_ENOSOURCES when there are no sources; HB_EHUNG when it was killed at its
 * time limit (wall clock, or the CPU limit derived from it); HB_ELIMIT when
 * it hit max_output_bytes; HB_EISOLATION when the requested backend cannot
 * run here (*err says why); other negative codes for setup failures (with
 * *err set). *err gets a one-line summary on every failure. res is filled on
 * 0 and HB_ECOMPILE/HB_EHUNG/HB_ELIMIT; release it with
 * hb_compile_result_release in every case. inputs and input_hash are only
 * set on success. The compiler runs with LC_ALL=C and
 * -fdiagnostics-color=never; GCC >= 10 also with -fdiagnostics-format=json
 * unless text_diagnostics is set (probed once per process per cc string). */
int hb_compiler_run(const hb_compile_request *req, hb_compile_result *res, char **err);
void hb_compile_result_release(hb_compile_result *res);

/* Hash of the inputs a previous compile read, for the compile cache: the
 * same files' current contents, the flags, and the compiler identity. Fails
 * with -ENOENT if an input no longer exists. */
int hb_compiler_input_hash(const hb_compile_request *req, char *const *inputs,
                           char out[HB_SHA256_HEX]);

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

#endif /* HB_COMPILER_H */
