/*
 * state/state.h - plugin state checkpoints held by the harness.
 *
 * A checkpoint is the bytes a plugin version's save() hook produced, with
 * the schema they were written in and the version that wrote them. The
 * harness keeps, per plugin, the latest checkpoint (restored when a worker
 * restarts) and the latest one of each schema it has seen (so a rollback to
 * an older version that cannot read a newer layout can resume from state in
 * its own layout). Checkpoints own a private copy of their bytes.
 */
#ifndef HB_STATE_H
#define HB_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HB_CKSET_MAX_SCHEMAS 8 /* older schemas are forgotten first */

typedef struct hb_ckpt {
    bool valid;
    uint64_t version;   /* plugin version that wrote the bytes */
    uint32_t schema;    /* state_schema of that version */
    void *data;
    size_t len;
    uint64_t taken_ns;  /* monotonic time it was taken */
} hb_ckpt;

/* Replaces c with a copy of data. Returns 0 or -ENOMEM (c unchanged). */
int hb_checkpoint_set(hb_ckpt *c, uint64_t version, uint32_t schema,
                      const void *data, size_t len, uint64_t now_ns);
void hb_checkpoint_release(hb_ckpt *c);

typedef struct hb_ckset {
    hb_ckpt latest;
    hb_ckpt by_schema[HB_CKSET_MAX_SCHEMAS];
    size_t nschemas;
} hb_ckset;

/* Records a checkpoint as the latest and as the latest of its schema. */
int hb_ckset_record(hb_ckset *s, uint64_t version, uint32_t schema, const void *data,
                    size_t len, uint64_t now_ns);
/* The latest checkpoint written in schema, or NULL. */
const hb_ckpt *hb_ckset_for_schema(const hb_ckset *s, uint32_t schema);
void hb_ckset_release(hb_ckset *s);

#endif /* HB_STATE_H */
