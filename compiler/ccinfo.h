/*
 * compiler/ccinfo.h - private: who the compiler is.
 *
 * The first time a cc string is used on a backend, ccinfo.c runs
 * `cc --version` on THAT backend (never bare on the host unless the backend
 * is local) and caches the answer for the life of the process, and across
 * processes in ${XDG_CACHE_HOME:-~/.cache}/hotbox/ccinfo keyed by the
 * binary's identity (not for microVM guests). The identity
 * (resolved binary and version line) is part of every input hash. The
 * JSON-diagnostics check is only needed to compile, so it runs (on the same
 * backend) at the first compile, not at a cache lookup.
 */
#ifndef HB_COMPILER_CCINFO_H
#define HB_COMPILER_CCINFO_H

#include <stdatomic.h>
#include <stdbool.h>

#include "backend.h"

typedef struct hb__ccinfo {
    char *cc;            /* the request's cc string, the cache key with backend */
    const char *backend; /* where it was probed (static backend name) */
    char **words;        /* cc split on blanks; words[0] resolved to a path */
    char *real;          /* realpath of words[0] */
    char *version;       /* first line of `cc --version` */
    atomic_int json_known; /* hb__ccinfo_json: 0 not probed, 1 JSON, 2 text */
    struct hb__ccinfo *next;
} hb__ccinfo;

/* Where identity probes run: the compile's own backend and directories. */
typedef struct hb__probe_env {
    const hb__backend *be;
    hb__vm_state *vm;              /* microvm pool, else NULL */
    const hb_compile_request *req; /* the directories the backend shows */
} hb__probe_env;

/* The cached identity of cc on pe->be, probing it the first time. The
 * entry stays valid for the life of the process. */
int hb__ccinfo_get(const char *cc, const hb__probe_env *pe, const hb__ccinfo **out, char **err);

/* Whether ci accepts -fdiagnostics-format=json (GCC >= 10), probed on
 * pe's backend the first time (a compile asks; an input hash does not). */
bool hb__ccinfo_json(const hb__ccinfo *ci, const hb__probe_env *pe);

/* The files a sandbox must show for the compiler itself when it lives
 * outside /usr (a wrapper script in a temp dir, a toolchain's driver in
 * /opt): the path it is run by and its real path. The files, never their
 * directories: a repository's ./hotbox.json naming "./cc" would otherwise
 * show the compile the whole project directory (every plugin, the state
 * directory, a home directory's .ssh). NULL-terminated, malloc'ed
 * (hb__strv_free); NULL on ENOMEM. */
char **hb__ccinfo_paths(const hb__ccinfo *ci);

#endif /* HB_COMPILER_CCINFO_H */
