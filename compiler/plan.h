/*
 * compiler/plan.h - private: the commands of one compile.
 *
 * plan.c is the ONE place where a compile's command lines are assembled:
 * every argv a backend runs for a compile (name-only libraries, compile
 * steps, link step), the compiler's environment, and the canonical flag
 * list the input hash covers. A new flag (a per-plugin setting) is added in
 * plan.c, where the same helper feeds both the argv and the hashed flags,
 * so the cache can never miss a flag the compiler saw.
 *
 * One source compiles in a single command:
 *   cc [diag flags] [cflags] [settings] -shared -fPIC -I<inc> -MD
 *      -MF <job>/plugin.d -o <job>/plugin.so <source> [soname, needed] [libs]
 * where cc is the C++ driver for a C++ source, [settings] plugin.json's
 * flags for the source's language and [libs] its libraries (buildcfg.h).
 * Several sources compile one command per source (-c, each with its own
 * depfile) and then link: GCC and Clang write a single -MF file per
 * translation unit, so with several sources in one command each overwrites
 * the previous one and the headers of all but the last source would be
 * missing from the inputs (checked with GCC 12 and Clang 14).
 */
#ifndef HB_COMPILER_PLAN_H
#define HB_COMPILER_PLAN_H

#include <stdbool.h>

#include "buildcfg.h"
#include "ccinfo.h"

#define HB__DEFAULT_TIMEOUT_MS 60000u
#define HB__DEFAULT_MAX_OUTPUT (256ull << 20)
/* What an isolated compile may leave in its job directory, in all. */
#define HB__DEFAULT_MAX_JOB_BYTES (1ull << 30)
#define HB__DEFAULT_MAX_JOB_FILES 100000ull
#define HB__DEFAULT_MAX_MEMORY (2ull << 30)

/* The compiler's whole environment (documented in compiler.h); tmp is the
 * job directory (NULL for probes: /tmp). One malloc'ed block: free the
 * array only. NULL on ENOMEM. */
char **hb__compiler_env(const char *tmp);

typedef struct hb__plan {
    char ***steps;   /* NULL-terminated list of argv, run in order */
    char **depfiles; /* one per compile step */
    char *object;    /* <job>/plugin.so */
} hb__plan;

/* The commands that turn sources (sorted absolute paths, at least one) into
 * req->job_dir/plugin.so with compiler ci and the settings, language and
 * C++ driver of bc (NULL: none, and req->cflags only); json asks for GCC's
 * JSON diagnostics. Makes <job>/deps when req->needed is set. 0 or
 * -ENOMEM; release *p in every case. */
int hb__plan_compile(const hb_compile_request *req, const hb__ccinfo *ci,
                     const hb__buildcfg *bc, bool json, char *const *sources, hb__plan *p);
void hb__plan_release(hb__plan *p);

/* What the input hash covers besides identity and inputs: the command line
 * minus output and depfile paths, in argv order. */
int hb__plan_hashed_flags(const hb_compile_request *req, const hb__ccinfo *ci,
                          const hb__buildcfg *bc, char *const *sources, char ***out);

#endif /* HB_COMPILER_PLAN_H */
