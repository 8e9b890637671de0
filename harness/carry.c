/* harness/carry.c - the static variables a swap carries (docs/state.md):
 * whether carry is on (the sandbox option, plugin.json "carry"), compares
 * the DWARF of the old and new objects (versions/dwarf.h; HB_CARRY marks
 * included), builds the SWAP's carry section, and turns the worker's
 * result into one line per variable for the swap event. The copying is the
 * worker's (worker/carry.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"
#include "settings.h"

/* Longest guard reason on the wire (a str field). */
#define REASON_MAX 1024u

static hb_dwarf_info *analyze(const char *path, char *why, size_t whylen, const char *who)
{
    hb_dwarf_info *info = NULL;
    char *err = NULL;
    if (hb_dwarf_analyze_file(path, &info, &err) < 0) {
        snprintf(why, whylen, "%s could not be analysed: %s", who, err ? err : "error");
        free(err);
        return NULL;
    }
    free(err);
    if (!info->has_debug) {
        snprintf(why, whylen, "%s has no debug info (built without -g)", who);
        hb_dwarf_info_free(info);
        return NULL;
    }
    return info;
}

static int build_wire(hb_slot *s, bool is_rollback, hb_carry *c)
{
    hb_carry_plan *p = &c->plan;
    if (p->ncopy && !(c->wire.vars = calloc(p->ncopy, sizeof(*c->wire.vars))))
        return -1;
    if (p->ncopy && !(c->wire_entry = calloc(p->ncopy, sizeof(*c->wire_entry))))
        return -1;
    const char *first_reset = NULL;
    for (size_t i = 0; i < p->nentries; i++) {
        const hb_carry_entry *e = &p->entries[i];
        /* A marked static is hotbox's to carry, not the hooks': its
         * change is a reset, never the schema guard's business. Nor is a
         * thread-local one, which is never carried. */
        if (e->action == HB_CARRY_RESET && !first_reset && !e->var->marked && !e->var->tls)
            first_reset = e->reason;
        if (e->action != HB_CARRY_COPY)
            continue;
        /* Borrowed pointer offsets: the wire section lives no longer than
         * the analysis. */
        c->wire.vars[c->wire.nvars] = (hb_proto_carry_var){
            .old_off = e->old->addr, .new_off = e->var->addr, .size = e->var->size,
            .nptrs = (uint32_t)e->var->nptrs, .ptrs = e->var->ptrs};
        c->wire_entry[c->wire.nvars++] = (uint32_t)i;
    }
    /* A plugin that moves its state by save/migrate under an unchanged
     * schema must not see a changed layout: the worker refuses the swap
     * when the new version's schema is the old one's. */
    if (first_reset && (s->hooks & HB_PROTO_HOOK_SAVE) && !is_rollback) {
        c->wire.flags |= HB_PROTO_CARRY_GUARD;
        c->wire.reason = strndup(first_reset, REASON_MAX);
        if (!c->wire.reason)
            return -1;
    }
    if (p->marked)
        c->wire.flags |= HB_PROTO_CARRY_MARKED;
    c->wire.present = true;
    return 0;
}

/* Whether carry is off for s, and why (in why). The plugin's own setting
 * is its runtime section as the swap just read it (hb__runtime_refresh, in
 * swap.c's prepare, before this), so a reload reads plugin.json once. */
static bool carry_off(const hb_sandbox *sb, const hb_slot *s, char *why, size_t whylen)
{
    if (sb->opts.no_carry) {
        snprintf(why, whylen, "carry is off for this sandbox (no_carry, --no-carry)");
        return true;
    }
    if (s->rt.carry_off)
        snprintf(why, whylen, "carry is off by its plugin.json (\"carry\": false)");
    return s->rt.carry_off;
}

void hb__carry_prepare(hb_sandbox *sb, hb_slot *s, const char *new_path, uint64_t new_version,
                       bool is_rollback, hb_carry *c)
{
    memset(c, 0, sizeof(*c));
    c->old_hooks = s->hooks;
    if ((c->off = carry_off(sb, s, c->nodebug, sizeof(c->nodebug))))
        return;
    char who[48];
    if (!s->dwarf || memcmp(s->dwarf_sha, s->sha, HB_SHA256_HEX) != 0) {
        hb_dwarf_info_free(s->dwarf);
        snprintf(who, sizeof(who), "v%" PRIu64, s->version);
        s->dwarf = analyze(s->path, c->nodebug, sizeof(c->nodebug), who);
        if (!s->dwarf)
            return;
        memcpy(s->dwarf_sha, s->sha, HB_SHA256_HEX);
    }
    c->old = s->dwarf;
    snprintf(who, sizeof(who), "v%" PRIu64, new_version);
    if (!(c->new_ = analyze(new_path, c->nodebug, sizeof(c->nodebug), who)))
        return;
    if (hb_carry_plan_make(c->old, c->new_, &c->plan) < 0 || build_wire(s, is_rollback, c) < 0) {
        hb__carry_release(c);
        snprintf(c->nodebug, sizeof(c->nodebug), "out of memory comparing the layouts");
    }
}

/* The plan entry the worker refused (a pointer into the old object), by
 * wire index, with the pointer's offset. */
static const hb_proto_carry_refused *refused_of(const hb_carry *c,
                                                const hb_proto_carry_result *res, size_t entry)
{
    for (uint32_t i = 0; i < res->nrefused; i++) {
        uint32_t w = res->refused[i].index;
        if (w < c->wire.nvars && c->wire_entry[w] == entry)
            return &res->refused[i];
    }
    return NULL;
}

static bool in_new(const hb_dwarf_info *n, const char *key)
{
    for (size_t i = 0; i < n->nvars; i++)
        if (strcmp(n->vars[i].key, key) == 0)
            return true;
    return false;
}

/* Whether an old variable gone in the new version is listed as dropped:
 * when save/migrate own the unmarked statics, only a marked one is. */
static bool dropped_counts(const hb_dwarf_var *v, bool by_hooks)
{
    return !by_hooks || v->marked;
}

static void report(hb_carry *c, const hb_proto_carry_result *res, uint64_t old_version,
                   uint64_t new_version, bool by_hooks)
{
    hb_sb sb = HB_SB_INIT;
    size_t carried = 0, reset = 0, fresh = 0, hooks = 0;
    const char *how = c->plan.marked ? "carried (marked)" : "carried";
    for (size_t i = 0; i < c->plan.nentries; i++) {
        const hb_carry_entry *e = &c->plan.entries[i];
        const hb_proto_carry_refused *r;
        if (by_hooks && !e->var->marked) {
            hooks++; /* save/migrate's */
        } else if (e->action == HB_CARRY_COPY && (r = refused_of(c, res, i)) != NULL) {
            reset++;
            if (r->offset == HB_PROTO_CARRY_REFUSED_FINI)
                hb__sb_addf(&sb,
                            "reset: `%s %s`: it holds a pointer and v%" PRIu64
                            " has fini, which runs after the swap and may free what it"
                            " points to (carry it with save/migrate, or drop fini)\n",
                            e->var->type_name, e->var->name, old_version);
            else if (r->offset >= e->var->size)
                hb__sb_addf(&sb, "reset: `%s %s`: not where its object places it\n",
                            e->var->type_name, e->var->name);
            else
                hb__sb_addf(&sb,
                            "reset: `%s %s`: the pointer at offset %" PRIu64
                            " points into v%" PRIu64 "'s own object\n",
                            e->var->type_name, e->var->name, r->offset, old_version);
        } else if (e->action == HB_CARRY_COPY) {
            carried++;
            hb__sb_addf(&sb, "%s: `%s %s`\n", how, e->var->type_name, e->var->name);
        } else if (e->action == HB_CARRY_RESET) {
            reset++;
            hb__sb_addf(&sb, "reset: %s\n", e->reason);
        } else if (e->action == HB_CARRY_UNMARKED) {
            reset++;
            hb__sb_addf(&sb,
                        "reset: `%s %s`: not marked with HB_CARRY (v%" PRIu64
                        " marks %zu other static%s)\n",
                        e->var->type_name, e->var->name, new_version, c->new_->nmarks,
                        c->new_->nmarks == 1 ? "" : "s");
        } else {
            fresh++;
            hb__sb_addf(&sb, "new: `%s %s` starts from its initial value\n", e->var->type_name,
                        e->var->name);
        }
    }
    for (size_t i = 0; i < c->old->nvars; i++)
        if (!in_new(c->new_, c->old->vars[i].key) && dropped_counts(&c->old->vars[i], by_hooks))
            hb__sb_addf(&sb, "dropped: `%s %s` is gone in v%" PRIu64 "\n",
                        c->old->vars[i].type_name, c->old->vars[i].name, new_version);
    if (c->new_->mark_problem)
        hb__sb_addf(&sb, "ignored: %s\n", c->new_->mark_problem);
    if (sb.len && sb.buf[sb.len - 1] == '\n')
        sb.buf[--sb.len] = '\0';
    c->report = hb__sb_detach(&sb);
    int n = snprintf(c->summary, sizeof(c->summary), "%sstatics: %zu %s, %zu reset, %zu new",
                     by_hooks ? "state carried; " : "", carried, how, reset, fresh);
    if (by_hooks && n > 0 && (size_t)n < sizeof(c->summary))
        snprintf(c->summary + n, sizeof(c->summary) - (size_t)n, ", %zu left to save/migrate",
                 hooks);
}

const char *hb__carry_done(hb_sandbox *sb, hb_slot *s, hb_carry *c,
                           const hb_proto_carry_result *res, uint64_t old_version)
{
    uint64_t new_version = s->version;
    if (!c->wire.present) {
        bool *said = c->off ? &s->carry_off_said : &s->nodebug_said;
        if (c->nodebug[0] && !*said) {
            *said = true;
            hb__emit(sb->m, sb, HB_EVENT_NOTICE, s->name, new_version, old_version, 0, NULL,
                     "%s: %s: its static variables are not carried; only save/migrate "
                     "moves state (said once)",
                     s->name, c->nodebug);
        }
        return NULL;
    }
    const char *summary = NULL;
    if (res->present && res->applied) {
        bool by_hooks = (c->old_hooks & HB_PROTO_HOOK_SAVE) && (s->hooks & HB_PROTO_HOOK_MIGRATE);
        report(c, res, old_version, new_version, by_hooks);
        summary = c->report ? c->summary : NULL;
    }
    /* The new object's analysis is the slot's from now on. */
    hb_carry_plan_release(&c->plan);
    hb_dwarf_info_free(s->dwarf);
    s->dwarf = c->new_;
    memcpy(s->dwarf_sha, s->sha, HB_SHA256_HEX);
    c->new_ = NULL;
    c->old = NULL;
    return summary;
}

void hb__carry_release(hb_carry *c)
{
    hb_carry_plan_release(&c->plan);
    hb_dwarf_info_free(c->new_); /* c->old is the slot's */
    free(c->wire.vars);          /* their ptrs belong to the analysis */
    HB_FREE_ALL(c->wire.reason, c->wire_entry, c->report);
    memset(c, 0, sizeof(*c));
}
