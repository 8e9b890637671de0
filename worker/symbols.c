/* worker/symbols.c - finding a plugin's own symbols: dlsym limited to the
 * object itself, the C++ call guard, and what its descriptor offers
 * (worker.h). */
#include "worker.h"

#include <hotbox/plugin.h>

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

/* Whether a dlsym result lives in the object whose link map is self; *sym
 * its symbol entry (or NULL). One dladdr1: each call walks the object's
 * whole symbol table, so with a plugin of 1,000 tests (1,000 exports) two
 * per lookup were most of a test batch's time. dladdr1's dli_fname is the
 * l_name of the link map it matched, so comparing it with self's names
 * that map exactly (each loaded object has its own l_name). */
static bool owned_by(const void *addr, const struct link_map *self, const ElfW(Sym) **sym)
{
    Dl_info info;
    *sym = NULL;
    if (!dladdr1(addr, &info, (void **)sym, RTLD_DL_SYMENT)) {
        *sym = NULL;
        return false;
    }
    return info.dli_fname == self->l_name;
}

/* Looks `name` up in the object itself, not in the libraries it depends on
 * (dlsym on a handle searches those too, which would let a call reach libc's
 * functions as if the plugin exported them). */
void *hb__worker_own_symbol(void *handle, const char *name, const ElfW(Sym) **sym)
{
    struct link_map *self = NULL;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &self) != 0)
        return NULL;
    dlerror();
    void *addr = dlsym(handle, name);
    if (!addr)
        return NULL;
    if (!owned_by(addr, self, sym))
        return NULL;
    return addr;
}

/* The guard a C++ plugin's HB_PLUGIN defines (hotbox/plugin.h): calls go
 * through it so that an escaping exception fails the call, not the worker. */
void *hb__worker_cxx_guard(void *handle)
{
    const ElfW(Sym) *sym = NULL;
    return hb__worker_own_symbol(handle, HB_PLUGIN_CXX_GUARD_SYMBOL, &sym);
}

uint32_t hb__worker_hooks_of(const hb_plugin_descriptor *d)
{
    return (d->init ? HB_PROTO_HOOK_INIT : 0) | (d->fini ? HB_PROTO_HOOK_FINI : 0) |
           (d->save ? HB_PROTO_HOOK_SAVE : 0) | (d->migrate ? HB_PROTO_HOOK_MIGRATE : 0);
}

const char *hb__worker_desc_name(const hb_plugin_descriptor *d)
{
    return d->name ? d->name : "";
}
