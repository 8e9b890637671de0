/*
 * compiler/buildcfg.c - a compile's settings, language and C++ driver (see
 * buildcfg.h). The argv words themselves are plan.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "buildcfg.h"

static char *const no_flags[] = {NULL};

static bool src_is_cxx(const hb__buildcfg *bc, const char *src)
{
    return (bc && bc->all_cxx) || hb__is_cxx_source(src);
}

char *const *hb__buildcfg_cflags(const hb__buildcfg *bc, const hb_compile_request *req)
{
    if (req->cflags || !bc)
        return req->cflags;
    return bc->text_flags;
}

const hb__ccinfo *hb__buildcfg_driver(const hb__buildcfg *bc, const hb__ccinfo *ci,
                                      const char *src)
{
    return bc && bc->cxx && src_is_cxx(bc, src) ? bc->cxx : ci;
}

char *const *hb__buildcfg_compile_flags(const hb__buildcfg *bc, const char *src)
{
    if (!bc || !bc->set.compile_c)
        return no_flags;
    return src_is_cxx(bc, src) ? bc->set.compile_cxx : bc->set.compile_c;
}

const hb__ccinfo *hb__buildcfg_linker(const hb__buildcfg *bc, const hb__ccinfo *ci)
{
    return bc && bc->cxx ? bc->cxx : ci;
}

char *const *hb__buildcfg_link_compile_flags(const hb__buildcfg *bc)
{
    if (!bc || !bc->set.compile_c)
        return no_flags;
    return bc->cxx ? bc->set.compile_cxx : bc->set.compile_c;
}

char *const *hb__buildcfg_libs(const hb__buildcfg *bc)
{
    return bc && bc->set.link ? bc->set.link : no_flags;
}

char *hb__cxx_command(const char *cc)
{
    char **w = hb__split_blank(cc);
    hb_sb sb = HB_SB_INIT;
    bool found = false;
    for (size_t i = 0; w && w[i]; i++) {
        const char *base = strrchr(w[i], '/') ? strrchr(w[i], '/') + 1 : w[i];
        size_t dir = (size_t)(base - w[i]);
        const char *g = strstr(base, "gcc"), *c = strstr(base, "clang");
        hb__sb_adds(&sb, i ? " " : "");
        if (found) {
            hb__sb_adds(&sb, w[i]);
        } else if (!strcmp(base, "cc")) {
            hb__sb_addf(&sb, "%.*sc++", (int)dir, w[i]);
            found = true;
        } else if (c && strncmp(c, "clang++", 7)) {
            hb__sb_addf(&sb, "%.*sclang++%s", (int)(c - w[i]), w[i], c + 5);
            found = true;
        } else if (g) {
            hb__sb_addf(&sb, "%.*sg++%s", (int)(g - w[i]), w[i], g + 3);
            found = true;
        } else {
            hb__sb_adds(&sb, w[i]);
        }
    }
    hb__strv_free(w);
    char *r = found ? hb__sb_detach(&sb) : NULL;
    hb__sb_release(&sb);
    return r;
}

void hb__buildcfg_release(hb__buildcfg *bc)
{
    hb__settings_release(&bc->set);
    hb__strv_free(bc->text_flags);
    memset(bc, 0, sizeof(*bc));
}

int hb__buildcfg_load(const hb_compile_request *req, const hb__probe_env *pe,
                      char *const *sources, hb__buildcfg *bc, char **err)
{
    memset(bc, 0, sizeof(*bc));
    int r;
    if (!req->cflags && req->flags_text &&
        (r = hb__flags_split(req->flags_text, "--cflags", &bc->text_flags, err)) < 0)
        return r == -ENOMEM ? r : HB_ECOMPILE;
    if ((r = hb__settings_load(req->plugin_dir, &bc->set, err)) < 0)
        return r == -ENOMEM ? r : HB_ECOMPILE;
    bool any_cxx = false;
    for (char *const *s = sources; *s; s++) {
        if (hb__is_cxx_source(*s) && bc->set.lang == HB__LANG_C)
            return hb__seterr(err, HB_ECOMPILE,
                              "%s: key \"lang\" is \"c\" but %s is a C++ source", bc->set.path,
                              *s);
        any_cxx |= hb__is_cxx_source(*s);
    }
    bc->all_cxx = bc->set.lang == HB__LANG_CXX;
    if (!any_cxx && !bc->all_cxx)
        return 0;
    char *cxx = hb__cxx_command(req->cc);
    if (!cxx)
        return hb__seterr(err, HB_ECOMPILE,
                          "%s holds C++ sources, but hotbox cannot tell the C++ compiler that "
                          "goes with cc \"%s\" (it knows cc, gcc and clang); choose one of "
                          "those with --cc",
                          req->plugin_dir, req->cc);
    r = hb__ccinfo_get(cxx, pe, &bc->cxx, err);
    free(cxx);
    return r;
}
