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
#include "wire.h"

#include <errno.h>
#include <link.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* State limit until HELLO says otherwise (the sandbox default). */
#define HB_WORKER_DEFAULT_MAX_STATE (16u << 20)

/* Serves requests on fd until SHUTDOWN or EOF. With a ring (proto/ring.h;
 * NULL: none) every request is announced by its bell, and a request posted
 * in the ring is answered there when the reply fits a slot. Returns the
 * process exit status: 0 after SHUTDOWN or EOF (fini hooks have run), 2
 * when the framing broke, 1 on other channel errors. chan_guarded: the
 * seccomp filter keeps fd from being closed or replaced (security.h), so
 * a ring reply need not check it. */
int hb__worker_serve(int fd, hb_ring *ring, bool chan_guarded);

/* hotbox-worker --watch-helper FD: the manager's watch helper
 * (watch_helper.c). Returns the exit status. */
int hb__watch_helper_main(int fd);

/* Calls fn with the arguments (already checked against sig by
 * hb__call_check). In/out buffers are modified in place. On success *ret
 * holds the result (a returned string is copied into ret->s). Returns 0, or
 * a negative code with one line in msg. cxx_guard: the plugin's
 * hb_plugin_cxx_guard (C++ plugins, see hotbox/plugin.h) or NULL; an
 * exception it catches fails the call with HB_EHOOK and its what(). */
int hb__ffi_call(void *fn, void *cxx_guard, const hb_sig *sig, hb_wvalue *args, size_t nargs,
                 hb_wvalue *ret, char *msg, size_t msglen);
/* How many call interfaces hb__ffi_call has prepared (one per distinct
 * parameter list and return type, up to a cache's size; tests). */
unsigned long hb__ffi_cif_preps(void);

/* The carry plan of a SWAP (carry.c), between opening the new version and
 * its migrate: refuses (HB_EHOOK, one line in msg) when plan has
 * HB_PROTO_CARRY_GUARD and the state goes through save/migrate under an
 * unchanged state_schema; else, when it does not go through save/migrate,
 * copies each variable from the old object's memory to the new one's,
 * except those holding a pointer into the old object, or a non-null one
 * elsewhere when the old version has fini (res->refused). *keep_old is set
 * when a copied variable holds a non-null pointer: heap data may point at
 * the old version's code, so it must stay mapped (hb__version_keep).
 * res is filled on 0 (release it with hb__proto_carry_result_release). */
struct hb_plugin_descriptor;
int hb__carry_swap(void *old_h, const struct hb_plugin_descriptor *old_d, void *new_h,
                   const struct hb_plugin_descriptor *new_d, const hb_proto_carry *plan,
                   hb_proto_carry_result *res, bool *keep_old, char *msg, size_t msglen);

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
/* Retires the version without unmapping it, for the worker's lifetime
 * (its faults are still attributed). */
void hb__version_keep(void *handle);
/* Frames on the channel are written whole: the request loop claims the
 * channel around each send, and the fault handler claims it (waiting for a
 * frame in progress on another thread) before writing its FAULT frame. */
void hb__channel_claim(void);
void hb__channel_release(void);

/* preload.c: makes lib (a sanitizer runtime's SONAME) the process's first
 * library by re-executing the worker with LD_PRELOAD (and ASan's options);
 * returns 0 when it already is, else only on failure (-errno, said on
 * stderr). */
int hb__worker_preload(const char *lib, char **argv);

/* The request loop's state (worker.c), and what batch.c needs of it. */
typedef struct worker worker;
/* The function `name` of plugin's active version (its own symbol, a
 * function) and the plugin's C++ guard; NULL with *code (HB_ENOPLUGIN,
 * HB_ENOSYM) and one line in msg when there is none. */
void *hb__worker_fn(worker *w, const char *plugin, const char *name, void **cxx_guard,
                    char *msg, size_t msglen, int *code);
/* The frame buffer replies are encoded into, and sending it (output
 * flushed first); false when the channel failed (the worker stops). */
/* A call's captured output (stdout, stderr) reaches its file before the
 * reply: each is flushed when it holds bytes (__fpending: no lock, no
 * system call), instead of fflush(NULL) walking every stream with its
 * lock on each call (~80 ns). Streams a plugin opens itself keep ordinary
 * stdio buffering (output.c). */
void hb__worker_flush_output(void);
hb_wbuf *hb__worker_out(worker *w);
bool hb__worker_send(worker *w);

/* TESTS (batch.c): runs each test of the batch with its fixture and sends
 * a TEST_DONE per test, then the empty OK. Returns 0, or a negative code
 * with one line in msg for a request refused before any test ran. */
int hb__worker_tests(worker *w, const hb_frame *f, char *msg, size_t msglen);

/* symbols.c: `name` looked up in the object of handle itself, never in the
 * libraries it depends on (dlsym on a handle searches those too, which
 * would let a call reach libc as if the plugin exported it); *sym is its
 * symbol entry when known. NULL when the object has no such symbol. */
void *hb__worker_own_symbol(void *handle, const char *name, const ElfW(Sym) **sym);
/* symbols.c: the PROTO hook bits of a descriptor's hooks; its name ("" when unset). */
uint32_t hb__worker_hooks_of(const struct hb_plugin_descriptor *d);
const char *hb__worker_desc_name(const struct hb_plugin_descriptor *d);
/* The guard a C++ plugin's HB_PLUGIN defines (hotbox/plugin.h), or NULL. */
void *hb__worker_cxx_guard(void *handle);

#endif /* HB_WORKER_H */
