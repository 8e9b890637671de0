/*
 * worker/worker.h - private interface of the hotbox-worker executable.
 * The worker is single-threaded: it reads one request, acts on it, answers,
 * and reads the next. Plugin code runs on this one thread, except threads a
 * plugin starts itself (fault.c keeps their code mapped and attributes
 * their faults).
 */
#ifndef HB_WORKER_H
#define HB_WORKER_H

#include "proto.h"
#include "ring.h"
#include "signature.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* State limit until HELLO says otherwise (the sandbox default). */
#define HB_WORKER_DEFAULT_MAX_STATE (16u << 20)

/* Serves requests on fd until SHUTDOWN or EOF. With a ring (proto/ring.h;
 * NULL: none) every request is announced by its bell, and a request posted
 * in the ring is answered there when the reply fits a slot. Returns the
 * process exit status: 0 after SHUTDOWN or EOF (fini hooks have run), 2
 * when the framing broke, 1 on other channel errors. */
int hb__worker_serve(int fd, hb_ring *ring);

/* Calls fn with the arguments (already checked against sig by
 * hb__call_check). In/out buffers are modified in place. On success *ret
 * holds the result (a returned string is copied into ret->s). Returns 0, or
 * a negative code with one line in msg. */
int hb__ffi_call(void *fn, const hb_sig *sig, hb_wvalue *args, size_t nargs, hb_wvalue *ret,
                 char *msg, size_t msglen);

/* Fault attribution and safe unmapping (fault.c). hb__fault_setup installs
 * the fatal-signal handlers (on an alternate stack) that report the faulting
 * pc's plugin version to the harness on fd as an HB_MSG_FAULT frame, and
 * counts the threads the worker starts with. */
void hb__fault_setup(int fd);
/* Records a version just opened (its loaded address range). */
void hb__fault_track(void *handle, const char *plugin, uint64_t version);
/* dlclose's the version unless more threads run than at set-up (one may
 * still execute its code): then it stays mapped and retired. Returns
 * whether it was unmapped. */
bool hb__version_unmap(void *handle);
/* Frames on the channel are written whole: the request loop claims the
 * channel around each send, and the fault handler claims it (waiting for a
 * frame in progress on another thread) before writing its FAULT frame. */
void hb__channel_claim(void);
void hb__channel_release(void);

#endif /* HB_WORKER_H */
