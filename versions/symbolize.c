/*
 * versions/symbolize.c - see symbolize.h. One Dwfl session per lookup: a
 * crash report has at most a few frames, and the object is the stored,
 * immutable file, so nothing is worth caching.
 *
 * Functions come from DWARF scopes (the innermost DW_TAG_subprogram or
 * DW_TAG_inlined_subroutine, so a function the compiler inlined is still
 * named), else from the symbol table; lines from the line table. Plugins
 * are compiled with -g by default (hb_manager_options.cflags "-O2 -g");
 * without it only the function name is found.
 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static void copy(char *dst, size_t len, const char *src)
{
    if (src && src[0] == '.' && src[1] == '/')
        src += 2;
    snprintf(dst, len, "%s", src ? src : "");
}

/* The innermost named function scope holding addr (module address). */
static void scope_function(Dwfl_Module *mod, Dwarf_Addr a, hb_symbol *out)
{
    Dwarf_Addr bias = 0;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, a, &bias);
    if (!cu)
        return;
    Dwarf_Die *scopes = NULL;
    int n = dwarf_getscopes(cu, a - bias, &scopes);
    for (int i = 0; i < n; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
            continue;
        const char *name = dwarf_diename(&scopes[i]);
        if (!name) { /* an out-of-line instance: the name is at its origin */
            Dwarf_Attribute at;
            Dwarf_Die origin;
            if (dwarf_attr_integrate(&scopes[i], DW_AT_abstract_origin, &at) &&
                dwarf_formref_die(&at, &origin))
                name = dwarf_diename(&origin);
        }
        if (name) {
            copy(out->func, sizeof(out->func), name);
            break;
        }
    }
    free(scopes);
}

int hb__symbolize(const char *object_path, uint64_t addr, hb_symbol *out)
{
    memset(out, 0, sizeof(*out));
    Dwfl *d = dwfl_begin(&offline_callbacks);
    if (!d)
        return -ENOMEM;
    int r = -ENOENT;
    Dwfl_Module *mod = dwfl_report_offline(d, "plugin", object_path, -1);
    if (!mod || dwfl_report_end(d, NULL, NULL) != 0)
        goto out;
    Dwarf_Addr start = 0;
    dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
    Dwarf_Addr a = start + addr;
    scope_function(mod, a, out);
    if (!out->func[0])
        copy(out->func, sizeof(out->func), dwfl_module_addrname(mod, a));
    Dwfl_Line *l = dwfl_module_getsrc(mod, a);
    if (l) {
        int line = 0;
        const char *file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
        copy(out->file, sizeof(out->file), file);
        out->line = line;
    }
    r = out->func[0] ? 0 : -ENOENT;
out:
    dwfl_end(d);
    return r;
}
