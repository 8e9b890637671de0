/*
 * compiler/buildcfg.h - private: what one compile is built with besides the
 * request: the plugin's own settings (plugin.json, compiler/settings.h),
 * the source language, the C++ driver, and the manager's flags string
 * split with shell quoting.
 *
 * buildcfg.c decides; plan.c turns the decision into argv words (the
 * settings' compile flags after the request's flags and before the
 * sources, their libraries after the objects so that --as-needed keeps
 * them) and into the hashed flags, so the input hash covers every setting.
 * A C++ source (or every source, with "lang": "c++") compiles with the C++
 * driver that goes with cc, which then also links.
 */
#ifndef HB_COMPILER_BUILDCFG_H
#define HB_COMPILER_BUILDCFG_H

#include <stdbool.h>

#include "ccinfo.h"
#include "settings.h"

typedef struct hb__buildcfg {
    hb__settings set;
    const hb__ccinfo *cxx; /* the C++ driver; NULL when nothing is C++ */
    bool all_cxx;          /* "lang": "c++": .c sources compile as C++ too */
    char **text_flags;     /* req->flags_text split (when req->cflags is NULL) */
} hb__buildcfg;

/* Reads plugin.json, splits req->flags_text and decides the language of
 * sources; probes the C++ driver on pe's backend when one is needed. A bad
 * plugin.json or --cflags, or one that contradicts the sources, is the
 * user's to fix: HB_ECOMPILE with *err naming the file and key. Release
 * *bc in every case. */
int hb__buildcfg_load(const hb_compile_request *req, const hb__probe_env *pe,
                      char *const *sources, hb__buildcfg *bc, char **err);
void hb__buildcfg_release(hb__buildcfg *bc);

/* The request's flags: req->cflags, else the split flags_text. bc may be
 * NULL (no settings) in this and every function below. */
char *const *hb__buildcfg_cflags(const hb__buildcfg *bc, const hb_compile_request *req);

/* The driver that compiles src, and the settings flags it gets. */
const hb__ccinfo *hb__buildcfg_driver(const hb__buildcfg *bc, const hb__ccinfo *ci,
                                      const char *src);
char *const *hb__buildcfg_compile_flags(const hb__buildcfg *bc, const char *src);

/* The driver that links (C++ when any source is), its settings flags, and
 * the libraries that go after the objects. */
const hb__ccinfo *hb__buildcfg_linker(const hb__buildcfg *bc, const hb__ccinfo *ci);
char *const *hb__buildcfg_link_compile_flags(const hb__buildcfg *bc);
char *const *hb__buildcfg_libs(const hb__buildcfg *bc);

/* The C++ driver that goes with cc: the first word named cc, gcc or clang
 * (with any prefix and version suffix) becomes c++, g++ or clang++. NULL
 * when no word is one of those (or on ENOMEM). */
char *hb__cxx_command(const char *cc);

#endif /* HB_COMPILER_BUILDCFG_H */
