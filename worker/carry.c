/* worker/carry.c - the carry plan of a SWAP (PROTOCOL.md "Carry"): copies
 * the static variables whose layout the harness proved unchanged from the
 * old version's memory into the new one's, unless a pointer in one points
 * into the old object (it would dangle once the old object is unmapped) or
 * to the heap while the old version has fini (which may free it); a copied
 * heap pointer keeps the old object mapped (keep_old),
 * and refuses a swap whose save/migrate would read a changed layout under
 * an unchanged state_schema. A plan of the variables the plugin marks with
 * HB_CARRY (HB_PROTO_CARRY_MARKED) is copied even when save/migrate moves
 * the rest: before migrate, so migrate sees the carried values. */
#include "worker.h"

#include <hotbox/plugin.h>

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 16

/* The loaded segments of one object, as run-time addresses. */
typedef struct obj_map {
    uintptr_t base;
    const char *name;
    size_t n;
    struct {
        uintptr_t lo, hi;
        bool writable;
    } seg[MAX_SEGS];
    uintptr_t relro_lo, relro_hi;
} obj_map;

static int collect(struct dl_phdr_info *info, size_t size, void *ud)
{
    (void)size;
    obj_map *m = ud;
    if (info->dlpi_addr != m->base || strcmp(info->dlpi_name, m->name) != 0)
        return 0;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = m->base + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (ph->p_type == PT_LOAD && m->n < MAX_SEGS) {
            m->seg[m->n].lo = lo;
            m->seg[m->n].hi = hi;
            m->seg[m->n].writable = (ph->p_flags & PF_W) != 0;
            m->n++;
        } else if (ph->p_type == PT_GNU_RELRO) {
            m->relro_lo = lo;
            m->relro_hi = hi;
        }
    }
    return 1;
}

static bool map_of(void *handle, obj_map *m)
{
    struct link_map *lm = NULL;
    memset(m, 0, sizeof(*m));
    if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return false;
    m->base = lm->l_addr;
    m->name = lm->l_name ? lm->l_name : "";
    dl_iterate_phdr(collect, m);
    return m->n > 0;
}

/* Whether [a, a+n) lies in one segment (a writable one, outside RELRO,
 * when `write`). */
static bool inside(const obj_map *m, uintptr_t a, uint64_t n, bool write)
{
    if (a + n < a)
        return false;
    if (write && a < m->relro_hi && a + n > m->relro_lo)
        return false;
    for (size_t i = 0; i < m->n; i++)
        if (a >= m->seg[i].lo && a + n <= m->seg[i].hi && (!write || m->seg[i].writable))
            return true;
    return false;
}

/* The offset of the first pointer of v (at src) into the old object, or
 * UINT64_MAX when none points there. */
static uint64_t points_into(const obj_map *old, const hb_proto_carry_var *v, const char *src)
{
    for (uint32_t j = 0; j < v->nptrs; j++) {
        uintptr_t p;
        memcpy(&p, src + v->ptrs[j], sizeof(p));
        for (size_t i = 0; i < old->n; i++)
            if (p >= old->seg[i].lo && p < old->seg[i].hi)
                return v->ptrs[j];
    }
    return UINT64_MAX;
}

/* Whether a pointer of v (at src) is not null (and, after points_into,
 * so points outside the old object: to the heap, another library). */
static bool holds_pointer(const hb_proto_carry_var *v, const char *src)
{
    for (uint32_t j = 0; j < v->nptrs; j++) {
        uintptr_t p;
        memcpy(&p, src + v->ptrs[j], sizeof(p));
        if (p)
            return true;
    }
    return false;
}

int hb__carry_swap(void *old_h, const hb_plugin_descriptor *old_d, void *new_h,
                   const hb_plugin_descriptor *new_d, const hb_proto_carry *plan,
                   hb_proto_carry_result *res, bool *keep_old, char *msg, size_t msglen)
{
    memset(res, 0, sizeof(*res));
    *keep_old = false;
    if (!plan->present)
        return 0;
    res->present = true;
    bool by_hooks = old_d->save && new_d->migrate;
    if ((plan->flags & HB_PROTO_CARRY_GUARD) && by_hooks &&
        old_d->state_schema == new_d->state_schema) {
        snprintf(msg, msglen,
                 "%s, but state_schema is still %u: bump it and migrate the old layout",
                 plan->reason && plan->reason[0] ? plan->reason : "the layout of a static changed",
                 (unsigned)new_d->state_schema);
        return HB_EHOOK;
    }
    if (by_hooks && !(plan->flags & HB_PROTO_CARRY_MARKED))
        return 0; /* migrate carries the state; marked statics are copied too */
    res->applied = 1;
    if (plan->nvars == 0)
        return 0; /* nothing to copy: every static reset or new */
    obj_map old, new_;
    if (!map_of(old_h, &old) || !map_of(new_h, &new_)) {
        res->applied = 0;
        snprintf(msg, msglen, "cannot find the loaded segments of the old or new version");
        return -EINVAL;
    }
    if (!(res->refused = calloc(plan->nvars, sizeof(*res->refused)))) {
        res->applied = 0;
        snprintf(msg, msglen, "out of memory");
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < plan->nvars; i++) {
        const hb_proto_carry_var *v = &plan->vars[i];
        const char *src = (const char *)(old.base + v->old_off);
        char *dst = (char *)(new_.base + v->new_off);
        uint64_t bad = UINT64_MAX;
        if (!inside(&old, (uintptr_t)src, v->size, false) ||
            !inside(&new_, (uintptr_t)dst, v->size, true))
            bad = v->size; /* not where the plan says: never write there */
        else if ((bad = points_into(&old, v, src)) == UINT64_MAX && holds_pointer(v, src)) {
            /* Heap data (a lua_State, a C++ object) may point at the old
             * version's code: an allocator callback, registered functions,
             * a vtable. The old object then stays mapped. But the old fini
             * runs after the switch and may free what the pointer reaches:
             * with one, the variable starts fresh instead. */
            if (old_d->fini)
                bad = HB_PROTO_CARRY_REFUSED_FINI;
            else
                *keep_old = true;
        }
        if (bad != UINT64_MAX) {
            res->refused[res->nrefused].index = i;
            res->refused[res->nrefused].offset = bad;
            res->nrefused++;
            continue;
        }
        memcpy(dst, src, v->size);
    }
    return 0;
}
