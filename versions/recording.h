/*
 * versions/recording.h - the recording file format of differential replay
 * (docs/replay.md "The recording file"): the one writer and the one strict
 * parser. Nobody else learns the format.
 *
 * A recording is one file per plugin, <record_dir>/<plugin>.hbrec:
 *   header   8 bytes "HBRECORD", u32 format version (1), u32 zero
 *   records  u32 len, u8 kind, then len - 1 bytes of body; fields in the
 *            wire codec of proto/wire.h (little endian, bytes = u32 length
 *            + bytes, str = bytes without NUL)
 *   kind 1 SEGMENT  u64 id, str plugin, u64 version, str object sha256
 *            (64 hex), u8 has_state, u32 schema, bytes state: the state the
 *            calls of segment `id` started from (the plugin's checkpoint);
 *            without state the version started fresh
 *   kind 2 CALL     u64 segment id, bytes request (a CALL payload, proto.h),
 *            u32 code (the call's result, 0 or a negative hotbox code as two's
 *            complement), bytes reply (its CALL OK payload when code is 0,
 *            else empty), str error (the error text when code is not 0, else
 *            empty)
 * A CALL belongs to the SEGMENT with its id, which comes before it in the
 * file and is of the same plugin. Ids are random: two sandboxes recording
 * the same plugin append whole records under a lock, and their segments'
 * calls may interleave in the file without mixing.
 *
 * Calls and their results are kept in the protocol's own encoding: the
 * recorder copies bytes the call path has already encoded (no second
 * encoder of values, no formatting on the hot path), and values are read
 * back with the protocol's decoders.
 */
#ifndef HB_RECORDING_H
#define HB_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define HB_REC_MAGIC "HBRECORD"
#define HB_REC_FORMAT 1u
#define HB_REC_HEADER 16u
#define HB_REC_SEGMENT 1u
#define HB_REC_CALL 2u
/* Largest record body: a state or a call at the protocol's frame limit,
 * plus its fields. */
#define HB_REC_MAX_RECORD (HB_WIRE_MAX_FRAME + 4096u)
/* Largest recording file read back. */
#define HB_REC_MAX_FILE (1024ull << 20)

/* ---- writing (appends to a growable buffer; hb_wbuf of proto/wire.h) ---- */

/* The 16-byte file header. */
void hb__rec_put_header(hb_wbuf *w);
/* A SEGMENT record; state NULL: the version starts fresh. */
void hb__rec_put_segment(hb_wbuf *w, uint64_t id, const char *plugin, uint64_t version,
                         const char *sha,
                         bool has_state, uint32_t schema, const void *state, size_t len);
/* A CALL record: req is the CALL payload that was sent; reply the CALL OK
 * payload (code 0) or NULL; error the text of a failed call (or NULL). */
void hb__rec_put_call(hb_wbuf *w, uint64_t segment, const void *req, size_t reqlen, int code, const void *reply,
                      size_t replylen, const char *error);

/* ---- reading ------------------------------------------------------------ */

typedef struct hb_rec_segment {
    uint64_t id;
    char *plugin;
    uint64_t version;
    char sha[65];
    bool has_state;
    uint32_t schema;
    const void *state; /* view into the recording's bytes */
    size_t len;
    uint64_t offset;   /* of its record in the file */
} hb_rec_segment;

typedef struct hb_rec_call {
    size_t segment;    /* index into segments */
    uint64_t offset;   /* of its record in the file */
    hb_proto_call req; /* plugin, symbol, signature, args (decoded) */
    hb_sig sig;
    int code;
    hb_proto_call_ok ok; /* when code == 0; bufs are views */
    char *error;         /* when code != 0 */
} hb_rec_call;

typedef struct hb_recording {
    uint8_t *data;       /* the file's bytes (views point here) */
    size_t len;
    hb_rec_segment *segments;
    size_t nsegments;
    hb_rec_call *calls;
    size_t ncalls;
} hb_recording;

/* Parses a whole recording. name is for messages. Returns 0, -ENOMEM, or
 * -EBADMSG with *err (malloc'ed) "NAME:OFFSET: what is wrong" (OFFSET the
 * byte offset of the bad field's record). Takes data (freed by
 * hb__rec_release, also on failure). *out is written only on success. */
int hb__rec_parse(void *data, size_t len, const char *name, hb_recording *out, char **err);
/* Reads and parses the file at path: as hb__rec_parse, plus -errno for a
 * file that cannot be read (*err says which). */
int hb__rec_read(const char *path, hb_recording *out, char **err);
void hb__rec_release(hb_recording *r);

#endif /* HB_RECORDING_H */
