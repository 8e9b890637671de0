/* harness/replay_int.h - the steps of a replay (replay.c) shared by its
 * files: loading a version with a recorded checkpoint (replay_load.c), and
 * one call's outcome, compared and written as text (replay_diff.c). */
#ifndef HB_HARNESS_REPLAY_INT_H
#define HB_HARNESS_REPLAY_INT_H

#include "replay.h"
#include "recording.h"
#include "store.h"

/* Loads version rec of plugin name (its directory dir) into sb with the
 * segment's recorded state, replacing the plugin's earlier load there. 0,
 * or a negative code with *why (malloc'ed). Changes no catalogue status. */
int hb__replay_load(hb_sandbox *sb, const char *name, const char *dir,
                    const hb_version_rec *rec, const hb_rec_segment *seg, char **why);

/* What one call did on one side. */
typedef struct hb_replay_outcome {
    int code;                   /* 0 or the call's error */
    char *error;                /* its text (malloc'ed) */
    hb_value ret;
    char *ret_str;              /* copy of a returned string (ret.v.s points here) */
    bool ret_null;              /* a NULL string */
    uint8_t *bufs[HB_SIG_MAX_ARGS]; /* in/out buffers after the call, by argument */
    size_t nargs;
} hb_replay_outcome;

/* Makes call c on sb (arguments from the recording; in/out buffers on
 * copies) and fills *o. */
void hb__replay_call(hb_sandbox *sb, const hb_rec_call *c, hb_replay_outcome *o);
void hb__replay_outcome_release(hb_replay_outcome *o);
/* Whether the outcomes are the same: code, and for successes the result
 * and the out-buffers, bit for bit. */
bool hb__replay_same(const hb_rec_call *c, const hb_replay_outcome *a,
                     const hb_replay_outcome *b);
/* The outcome as text (malloc'ed; NULL when out of memory). */
char *hb__replay_outcome_text(const hb_rec_call *c, const hb_replay_outcome *o);
/* The call's arguments as text, "(1, "x", b[3]=616263)". */
char *hb__replay_args_text(const hb_rec_call *c);

#endif /* HB_HARNESS_REPLAY_INT_H */
