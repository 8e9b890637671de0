/*
 * proto/watch_msg.h - the messages between a manager and its watch helper
 * (worker/watch_helper.c, harness/denial_watch.c): fixed-size records on a
 * SOCK_SEQPACKET socketpair, one record per message, fds as SCM_RIGHTS.
 * Both ends are the same build of hotbox (the helper is the manager's own
 * worker binary), so the layout is the host's.
 *
 * manager -> helper:
 *   ADD  key, fds: the bits of `fds` say which of (listener, kill pidfd,
 *        wrapper pidfd) come, in that order; answered ADDED or FAILED
 *   DEL  key: kill the worker, wait (bounded) until it is gone, close the
 *        fds; answered DONE (also for a key it does not hold)
 * helper -> manager:
 *   DENIED key, what: a plugin thread made a denied call (named from the
 *        kernel's notification); the worker was killed
 *   LOST   key: the wrapper died; the worker was killed
 */
#ifndef HB_WATCH_MSG_H
#define HB_WATCH_MSG_H

#include <stdint.h>

enum {
    HB_WATCH_ADD = 1,
    HB_WATCH_DEL = 2,
    HB_WATCH_ADDED = 3,
    HB_WATCH_FAILED = 4,
    HB_WATCH_DONE = 5,
    HB_WATCH_DENIED = 6,
    HB_WATCH_LOST = 7,
};

/* Which fds an ADD carries (hb_watch_msg.fds). */
enum { HB_WATCH_FD_LISTENER = 1, HB_WATCH_FD_KILL = 2, HB_WATCH_FD_WRAPPER = 4 };

typedef struct hb_watch_msg {
    uint32_t type;
    uint32_t fds;
    uint64_t key;
    char what[96];
} hb_watch_msg;

#endif /* HB_WATCH_MSG_H */
