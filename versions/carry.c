/* versions/carry.c - comparing two versions' static variables (dwarf.h):
 * which keep their layout (carried), which changed (reset, with the first
 * difference named), which are new, and, when the new version marks
 * statics with HB_CARRY, which identical ones are left out (unmarked). */
#include "dwarf.h"

#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const hb_dwarf_field *find_path(const hb_dwarf_var *v, const char *path)
{
    for (size_t i = 0; i < v->nfields; i++)
        if (strcmp(v->fields[i].path, path) == 0)
            return &v->fields[i];
    return NULL;
}

/* "hits", "a.b", "[]", "->next" */
static const char *shown(const char *path)
{
    return path[0] == '.' ? path + 1 : path;
}

/* The first difference of one field, or NULL. */
static char *field_diff(const hb_dwarf_field *o, const hb_dwarf_field *n)
{
    bool root = !o->path[0];
    const char *p = shown(o->path);
    if (strcmp(o->type, n->type) != 0)
        return root ? hb__asprintf("type changed from `%s` to `%s`", o->type, n->type)
                    : hb__asprintf("member `%s` changed type from `%s` to `%s`", p, o->type,
                                   n->type);
    if (o->offset != n->offset)
        return hb__asprintf("member `%s` moved from offset %" PRIu64 " to %" PRIu64, p, o->offset,
                            n->offset);
    if (o->bit_size != n->bit_size || o->bit_offset != n->bit_offset)
        return hb__asprintf("bit-field `%s` moved from bits %u:%u to %u:%u", p, o->bit_offset,
                            o->bit_size, n->bit_offset, n->bit_size);
    return NULL;
}

static char *diff_body(const hb_dwarf_var *o, const hb_dwarf_var *n)
{
    if (o->unsupported || n->unsupported)
        return hb__asprintf("its layout cannot be compared: %s",
                            o->unsupported ? o->unsupported : n->unsupported);
    for (size_t i = 0; i < o->nfields; i++) {
        const hb_dwarf_field *of = &o->fields[i];
        const hb_dwarf_field *nf = find_path(n, of->path);
        if (!nf)
            return hb__asprintf("member `%s` removed", shown(of->path));
        char *d = field_diff(of, nf);
        if (d)
            return d;
    }
    for (size_t i = 0; i < n->nfields; i++)
        if (!find_path(o, n->fields[i].path))
            return hb__asprintf("member `%s` added", shown(n->fields[i].path));
    for (size_t i = 0; i < o->nfields; i++) {
        const hb_dwarf_field *of = &o->fields[i];
        const hb_dwarf_field *nf = find_path(n, of->path);
        if (of->size != nf->size) {
            if (!of->path[0])
                return hb__asprintf("size changed from %" PRIu64 " to %" PRIu64 " bytes",
                                    of->size, nf->size);
            return hb__asprintf("member `%s` changed size from %" PRIu64 " to %" PRIu64 " bytes",
                                shown(of->path), of->size, nf->size);
        }
    }
    if (o->size != n->size)
        return hb__asprintf("size changed from %" PRIu64 " to %" PRIu64 " bytes", o->size,
                            n->size);
    return NULL;
}

char *hb_dwarf_layout_diff(const hb_dwarf_var *o, const hb_dwarf_var *n, bool *oom)
{
    *oom = false;
    bool same = !o->unsupported && !n->unsupported && o->size == n->size &&
                o->nfields == n->nfields;
    for (size_t i = 0; same && i < o->nfields; i++) {
        const hb_dwarf_field *a = &o->fields[i], *b = &n->fields[i];
        same = strcmp(a->path, b->path) == 0 && strcmp(a->type, b->type) == 0 &&
               a->offset == b->offset && a->size == b->size && a->bit_offset == b->bit_offset &&
               a->bit_size == b->bit_size;
    }
    if (same)
        return NULL;
    char *body = diff_body(o, n);
    if (!body)
        body = strdup("its layout changed"); /* same fields, other order */
    char *r = body ? hb__asprintf("`%s %s`: %s", o->type_name, o->name, body) : NULL;
    free(body);
    *oom = r == NULL;
    return r;
}

static const hb_dwarf_var *find_key(const hb_dwarf_info *info, const char *key)
{
    for (size_t i = 0; i < info->nvars; i++)
        if (strcmp(info->vars[i].key, key) == 0)
            return &info->vars[i];
    return NULL;
}

int hb_carry_plan_make(const hb_dwarf_info *old, const hb_dwarf_info *new_, hb_carry_plan *out)
{
    hb_carry_plan p = {0};
    if (new_->nvars && !(p.entries = calloc(new_->nvars, sizeof(*p.entries))))
        return -ENOMEM;
    for (size_t i = 0; i < new_->nvars; i++) {
        hb_carry_entry *e = &p.entries[p.nentries++];
        e->var = &new_->vars[i];
        e->old = find_key(old, e->var->key);
        if (!e->old) {
            e->action = HB_CARRY_NEW;
            continue;
        }
        bool oom;
        e->reason = hb_dwarf_layout_diff(e->old, e->var, &oom);
        if (oom) {
            hb_carry_plan_release(&p);
            return -ENOMEM;
        }
        e->action = e->reason ? HB_CARRY_RESET : HB_CARRY_COPY;
        if (e->action == HB_CARRY_COPY && new_->nmarks && !e->var->marked)
            e->action = HB_CARRY_UNMARKED; /* the plugin chose others */
        if (e->action == HB_CARRY_RESET)
            p.nreset++;
        else if (e->action == HB_CARRY_COPY)
            p.ncopy++;
    }
    p.marked = new_->nmarks > 0;
    *out = p;
    return 0;
}

void hb_carry_plan_release(hb_carry_plan *plan)
{
    for (size_t i = 0; i < plan->nentries; i++)
        free(plan->entries[i].reason);
    free(plan->entries);
    memset(plan, 0, sizeof(*plan));
}
