/*
 * security/audit.h - the audit log: an append-only record of everything
 * security-relevant that happened to a state directory's plugins.
 *
 * <state_dir>/audit.log holds one JSON object per line:
 *   {"time":"2025-05-20T10:11:12.345Z","pid":123,"kind":"swap","plugin":"counter",
 *    "version":3,"sha256":"ab..","profile":"standard","code":0,
 *    "message":"counter v2 -> v3","security":false}
 * Kinds the harness writes: "load", "swap", "refused" (import policy),
 * "denied" (seccomp: only a denial the manager read from the filter's
 * listener itself, never one a worker claims), "limit" (a resource limit
 * killed the worker),
 * "crash", "rollback", "warning" (missing protection, permissive profile).
 * Optional fields are omitted when empty (plugin NULL, version 0, sha NULL).
 *
 * Durability: every line is one write(2) on an O_APPEND fd; records marked
 * security_event are fsync'ed before hb_audit_log returns. Rotation: when
 * the file would grow past max_bytes it becomes audit.log.1 (older files
 * shift up to audit.log.<keep>, the oldest is dropped) and a new file
 * starts. One hb_audit may be shared by threads (it has a mutex); two
 * processes may append to the same log, but only one should rotate it.
 */
#ifndef HB_AUDIT_H
#define HB_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hb_audit hb_audit;

#define HB_AUDIT_DEFAULT_MAX_BYTES (4u << 20)
#define HB_AUDIT_DEFAULT_KEEP 5u

/* Opens (creating) <state_dir>/audit.log for appending. On failure *out is
 * untouched and *err says why. */
int hb_audit_open(const char *state_dir, hb_audit **out, char **err);
void hb_audit_close(hb_audit *a); /* accepts NULL */

/* Rotation thresholds (defaults above). keep >= 1. */
int hb_audit_set_rotation(hb_audit *a, uint64_t max_bytes, unsigned keep);

/* Appends one record. kind is required; the other strings may be NULL.
 * Returns 0 or -errno (the write or fsync failed). */
int hb_audit_log(hb_audit *a, const char *kind, const char *plugin, uint64_t version,
                 const char *sha, const char *profile, int code, const char *message,
                 bool security_event);

/* One record as read back. Strings are "" when the field is absent; all
 * of them are valid only during the callback. */
typedef struct hb_audit_record {
    const char *time;
    long long pid;
    const char *kind;
    const char *plugin;
    uint64_t version;
    const char *sha256;
    const char *profile;
    int code;
    const char *message;
    bool security;
    const char *json;   /* the line as stored, without the newline */
} hb_audit_record;

/* Which records hb_audit_query passes on; zero (or NULL) means all. */
typedef struct hb_audit_filter {
    const char *kind;      /* exact kind */
    const char *plugin;    /* exact plugin name */
    bool security_only;    /* only security events */
} hb_audit_filter;

/* Return nonzero to stop the query (hb_audit_query then returns that value). */
typedef int (*hb_audit_fn)(const hb_audit_record *rec, void *ud);

/* Reads the log of state_dir oldest first (rotated files first) and calls
 * fn for every record the filter passes. Lines that are not JSON objects
 * (a torn last line after a crash) are skipped and counted in *skipped
 * (may be NULL). Returns 0, fn's nonzero value, or -errno with *err. A
 * state directory without a log has no records (returns 0). */
int hb_audit_query(const char *state_dir, const hb_audit_filter *filter, hb_audit_fn fn,
                   void *ud, size_t *skipped, char **err);

#endif /* HB_AUDIT_H */
