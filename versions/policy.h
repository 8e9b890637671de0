/*
 * versions/policy.h - which stored version to fall back to. The one place
 * that decides it: a restart whose object no longer verifies, a rollback
 * without an explicit target, hb_pin's default, and the version gc keeps
 * so a fallback stays possible all ask here.
 *
 * The status set. A version may be fallen back to when it has served and
 * was never found at fault:
 *   GOOD         served and was swapped away from normally (or was pinned)
 *   ACTIVE       live now, in this or another sandbox of the store: it
 *                serves, so it is not bad
 *   ROLLED_BACK  served, and was only rolled away from by a user (a
 *                rollback or a pin), not for a failure
 * never BAD (it crashed, hung, failed a hook, a self-test or the import
 * policy) or CANDIDATE (built, never run).
 *
 * Two rules differ on purpose. hb_policy_pin_find: a build that is a
 * rolled-back or bad version (its source unchanged) loads what a pin left
 * in force instead, and the versions a pin rolled back are exactly the
 * ones it skips, so there ROLLED_BACK does not count. hb_policy_gc_keep:
 * what gc keeps for a pin and a fallback, the newest GOOD version (the
 * active ones are kept anyway).
 */
#ifndef HB_VERSIONS_POLICY_H
#define HB_VERSIONS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define HB_POLICY_NONE SIZE_MAX

/* Whether a version of this status may be fallen back to. */
bool hb_policy_fallback_ok(hb_version_status st);

/* The newest version of plugin older than `below`, other than `exclude`
 * (0: none), that may be fallen back to: 0 and *out, -ENOENT when there is
 * none, or a store error. Call again with *out's version as `below` for the
 * next candidate (a caller that verifies objects). An index search in the
 * store, however long the history (hb_store_newest_of). */
int hb_policy_fallback_find(hb_store *s, const char *plugin, uint64_t below, uint64_t exclude,
                            hb_version_rec *out);

/* The same, answering only the version number (hb_pin: no record read). */
int hb_policy_fallback_version(hb_store *s, const char *plugin, uint64_t below,
                               uint64_t exclude, uint64_t *out);

/* The same rule over a list already read (v sorted by version ascending,
 * as hb_store_list returns it), scanning v[0..from) newest first: the
 * index of the version hb_policy_fallback_find would give, or
 * HB_POLICY_NONE. For tests and benches that compare it with the index
 * search. */
size_t hb_policy_fallback(const hb_version_rec *v, size_t from, uint64_t below,
                          uint64_t exclude);

/* The version a pin left in force for a build that is rolled back or bad:
 * the newest GOOD or ACTIVE one older than `below`. 0 and *out, -ENOENT
 * when there is none, or a store error. */
int hb_policy_pin_find(hb_store *s, const char *plugin, uint64_t below, hb_version_rec *out);

/* The version gc keeps besides the newest, the active and the protected
 * ones, so that a pin and a fallback still have a target: the newest GOOD
 * one (a pin's target is GOOD; the versions it rolled back are not kept
 * for it). HB_POLICY_NONE when there is none. */
size_t hb_policy_gc_keep(const hb_version_rec *v, size_t n);

#endif /* HB_VERSIONS_POLICY_H */
