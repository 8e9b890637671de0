/* harness/probation.c - probation of a freshly swapped version: started by
 * every swap, advanced by calls, self-tests and time, and the automatic
 * rollback of a version that crashes, hangs or fails a self-test before it
 * passed. (The pass/fail state machine itself is monitor/probation.c.) */
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"

void hb__probation_clear(hb_slot *s)
{
    memset(&s->prob, 0, sizeof(s->prob));
    s->on_probation = false;
    s->prev_version = 0;
    s->prev_sha[0] = '\0';
    s->prev_schema = 0;
}

/* Every path of a swap that makes rec the active version of s ends here:
 * the probation state is the new version's own, never inherited from the
 * version it replaced. */
void hb__probation_start(hb_sandbox *sb, hb_slot *s, const hb_version_rec *rec,
                         bool is_rollback, uint64_t old_version, const char *old_sha,
                         uint32_t old_schema)
{
    hb__probation_clear(s);
    if (is_rollback || sb->opts.no_probation)
        return;
    hb_probation_options po = HB_PROBATION_OPTIONS_INIT;
    po.calls = sb->opts.probation_calls;
    po.ms = sb->opts.probation_ms;
    po.has_selftests = false;
    for (size_t i = 0; rec->exports && rec->exports[i] && !po.has_selftests; i++)
        po.has_selftests = strncmp(rec->exports[i], "hb_test_", 8) == 0;
    hb_probation_init(&s->prob, &po, hb__now_ns());
    s->on_probation = true;
    s->prev_version = old_version;
    memcpy(s->prev_sha, old_sha, HB_SHA256_HEX);
    s->prev_schema = old_schema;
}

/* Re-evaluates the probation of s at the current time (the time condition
 * holds whether or not calls happened), with an event the first time it
 * passed. */
static bool tick_at(hb_sandbox *sb, hb_slot *s, uint64_t now_ns)
{
    if (!s->on_probation)
        return true;
    if (hb_probation_tick(&s->prob, now_ns) != HB_PROBATION_PASSED)
        return false;
    hb__probation_clear(s);
    hb__emit(sb->m, sb, HB_EVENT_WARNING, s->name, s->version, 0, 0, NULL,
             "%s v%llu passed probation", s->name, (unsigned long long)s->version);
    return true;
}

bool hb__probation_tick(hb_sandbox *sb, hb_slot *s)
{
    return tick_at(sb, s, hb__now_ns());
}

bool hb__probation_revert(hb_sandbox *sb, hb_slot *s, int code, uint64_t at_ns)
{
    const char *reason = code == HB_EHUNG ? "hung" : "crashed";
    if (!s->on_probation || !s->prev_version)
        return false;
    /* A version that had served long enough when the failed operation
     * began passed by time, whether or not any call came to say so: this
     * crash is an ordinary one. One still on probation then failed it,
     * even when the hang was noticed after probation_ms. */
    if (tick_at(sb, s, at_ns))
        return false;
    char *path = hb__object_path(sb, s->prev_sha);
    if (!path)
        return false;
    uint64_t bad = s->version;
    hb__set_status(sb, s->name, bad, HB_VERSION_BAD);
    hb__slot_activate(s, path, s->prev_version, s->prev_sha);
    s->schema = s->prev_schema;
    hb__probation_clear(s); /* the version it goes back to served before */
    hb__set_status(sb, s->name, s->version, HB_VERSION_ACTIVE);
    hb_metrics_add(sb->m->metrics, HB_CTR_ROLLBACKS, 1);
    hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, s->name, s->version, bad, code, NULL,
             "automatic rollback: %s v%llu %s during probation; v%llu serves again with its last checkpoint (v%llu is marked bad)",
             s->name, (unsigned long long)bad, reason, (unsigned long long)s->version,
             (unsigned long long)bad);
    return true;
}

void hb__probation_call(hb_sandbox *sb, const char *plugin, int result)
{
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s || !s->on_probation || result != 0)
        return; /* crashes and hangs are handled by hb__recover */
    hb_probation_call_ok(&s->prob, hb__now_ns());
    hb__probation_tick(sb, s);
}

void hb__probation_selftests(hb_sandbox *sb, const char *plugin, unsigned failed,
                             const char *first_failure)
{
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s || !s->on_probation)
        return;
    uint64_t now = hb__now_ns();
    hb_probation_state st = failed ? hb_probation_selftest_failed(&s->prob, now)
                                   : hb_probation_selftests_passed(&s->prob, now);
    if (st == HB_PROBATION_PASSED) {
        s->on_probation = false;
        return;
    }
    if (st != HB_PROBATION_FAILED || !s->prev_version)
        return;
    /* A failed self-test: the worker is fine, so roll back in place. */
    uint64_t bad = s->version, to = s->prev_version;
    s->on_probation = false;
    uint64_t t0 = hb__now_ns();
    int r = hb__rollback_to(sb, plugin, to);
    hb__set_status(sb, plugin, bad, HB_VERSION_BAD);
    if (r == 0) {
        hb_metrics_add(sb->m->metrics, HB_CTR_ROLLBACKS, 1);
        hb_metrics_observe(sb->m->metrics, HB_HIST_ROLLBACK, hb__now_ns() - t0);
        hb__emit(sb->m, sb, HB_EVENT_ROLLED_BACK, plugin, to, bad, HB_EHOOK, NULL,
                 "automatic rollback: %s v%llu failed its self-test %s during probation; v%llu serves again (v%llu is marked bad)",
                 plugin, (unsigned long long)bad, first_failure ? first_failure : "",
                 (unsigned long long)to, (unsigned long long)bad);
    }
}
