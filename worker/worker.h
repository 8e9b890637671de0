/*
 * worker/worker.h - private interface of the hotbox-worker executable.
 * The worker is single-threaded: it reads one request, acts on it, answers,
 * and reads the next. Plugin code runs on this one thread.
 */
#ifndef HB_WORKER_H
#define HB_WORKER_H

#include "decode.h"
#include "signature.h"

#include <errno.h>
#include <stddef.h>

/* State limit until HELLO says otherwise (the sandbox default). */
#define HB_WORKER_DEFAULT_MAX_STATE (16u << 20)

/* Serves requests on fd until SHUTDOWN or EOF. Returns the process exit
 * status: 0 after SHUTDOWN or EOF (fini hooks have run), 2 when the framing
 * broke, 1 on other channel errors. */
int hb__worker_serve(int fd);

/* Calls fn with the arguments (already checked against sig by
 * hb__call_check). In/out buffers are modified in place. On success *ret
 * holds the result (a returned string is copied into ret->s). Returns 0, or
 * a negative code with one line in msg. */
int hb__ffi_call(void *fn, const hb_sig *sig, hb_wvalue *args, size_t nargs, hb_wvalue *ret,
                 char *msg, size_t msglen);

#endif /* HB_WORKER_H */
