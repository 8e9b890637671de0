/* harness/replay.h - differential replay inside the harness (docs/replay.md):
 * the recorder a sandbox with hb_sandbox_options.record_dir carries
 * (replay_record.c), and the replay of a recording (replay.c, with its
 * loader replay_load.c and result comparison replay_diff.c). The file
 * format is versions/recording.c's alone. */
#ifndef HB_HARNESS_REPLAY_H
#define HB_HARNESS_REPLAY_H

#include "harness.h"

typedef struct hb_recorder hb_recorder;

/* A recorder appending to dir/<plugin>.hbrec; creates dir. *err
 * (malloc'ed) says what failed. */
int hb__recorder_new(const char *dir, hb_recorder **out, char **err);
/* Writes what is buffered, without reporting (the last step of a handle). */
void hb__recorder_free(hb_recorder *r);
/* Writes what is buffered for plugin (NULL: every plugin); a failed write
 * is an HB_EVENT_WARNING on sb. */
void hb__recorder_flush(hb_sandbox *sb, const char *plugin);

/* Before a call into s: when this is the plugin's first call since its
 * load, swap or a worker restart, takes its checkpoint (save hook) and
 * records the SEGMENT the next calls start from. A failed checkpoint is
 * the call's failure (s may be gone then). */
int hb__record_begin(hb_sandbox *sb, hb_slot *s);
/* After a call: appends the CALL record (req: the CALL frame that was sent;
 * r the result; reply the CALL OK frame when r == 0; err the text). */
void hb__record_call(hb_sandbox *sb, const char *plugin, const hb_wbuf *req, int r,
                     const hb_frame *reply, const char *err);

#endif /* HB_HARNESS_REPLAY_H */
