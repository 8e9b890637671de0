/* worker/symbols.c - finding a plugin's own symbols: dlsym limited to the
 * object itself, and the C++ call guard (worker.h). */
#include "worker.h"

#include <hotbox/plugin.h>

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>

/* The link map of the object a dlsym result lives in, or NULL. */
static struct link_map *owner_of(const void *addr, const ElfW(Sym) **sym)
{
    Dl_info info;
    struct link_map *lm = NULL;
    *sym = NULL;
    if (!dladdr1(addr, &info, (void **)&lm, RTLD_DL_LINKMAP))
        return NULL;
    if (!dladdr1(addr, &info, (void **)sym, RTLD_DL_SYMENT))
        *sym = NULL;
    return lm;
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
    if (owner_of(addr, sym) != self)
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
