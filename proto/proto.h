/*
 * proto/proto.h - the harness <-> worker protocol: every message type, every
 * constant and limit, and per message one struct with its encoder and
 * decoder. The harness (libhotbox) and hotbox-worker both link this module
 * (hb_proto) and learn the format nowhere else. The catalogue in prose is
 * proto/PROTOCOL.md; framing and the field codec are in wire.h. Keep the
 * three in step.
 *
 * Encoders write one whole frame into *w (any earlier content is dropped):
 *     int hb__proto_<msg>_encode(hb_wbuf *w, uint32_t id, const T *m);
 * and return 0, -ENOMEM, or -EMSGSIZE when the payload passes the frame
 * limit (the frame then must not be sent). They only read *m: a message
 * may point at the caller's memory. NULL strings encode as "".
 *
 * Decoders take a whole payload (a received frame's):
 *     int hb__proto_<msg>_decode(const void *payload, size_t len, T *out);
 * and return 0, -EPROTO (truncated, trailing bytes, a string too long or
 * holding a NUL, an out-of-range field) or -ENOMEM. *out is written only on
 * success. Strings in a decoded message are malloc'ed NUL-terminated copies,
 * released with the message's _release function; state blobs and buffers
 * are views into the payload, valid while the frame is.
 */
#ifndef HB_PROTO_H
#define HB_PROTO_H

#include "signature.h"

#include <hotbox/hotbox.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line per message declares the encoder and decoder of message `name`
 * over struct T as described above; HB_PROTO_OWNING also declares the
 * _release of a message that holds malloc'ed strings once decoded. */
#define HB_PROTO_MESSAGE(name, T)                                                                  \
    int hb__proto_##name##_encode(hb_wbuf *w, uint32_t id, const T *m);                            \
    int hb__proto_##name##_decode(const void *payload, size_t len, T *out);
#define HB_PROTO_OWNING(name, T)                                                                   \
    HB_PROTO_MESSAGE(name, T)                                                                      \
    void hb__proto_##name##_release(T *m);

/* ---- framing limits --------------------------------------------------------- */

#define HB_WIRE_HEADER 12u             /* bytes of a frame header (wire.h) */
#define HB_WIRE_MAX_FRAME (64u << 20)  /* payload limit of any frame: 64 MiB */
#define HB_WIRE_MAGIC_HELLO 0x48425831u /* "HBX1", in HELLO and its reply */

/* Longest plugin name, path, symbol or signature a request carries. */
#define HB_PROTO_MAX_STR 4096u
/* Longest ERR message the harness accepts (the worker writes < 1 KiB). */
#define HB_PROTO_MAX_ERR 65536u
/* Longest plugin name in a FAULT frame: the fault handler's fixed table
 * holds this many bytes plus a NUL (longer names are cut there). */
#define HB_PROTO_MAX_FAULT_PLUGIN 127u
/* The payload of a LISTENER frame (u32 flags): the harness reads the
 * worker's first frame with this as the frame limit. */
#define HB_PROTO_LISTENER_LEN 4u
/* Most backtrace frames a FAULT frame carries (the innermost ones). */
#define HB_PROTO_MAX_FAULT_FRAMES 16u
/* One backtrace frame: u64 pc, u64 load base, u64 version, str plugin. */
#define HB_PROTO_FAULT_FRAME_MAX (8u + 8u + 8u + 4u + HB_PROTO_MAX_FAULT_PLUGIN)
/* A FAULT frame at its largest: header, u32, u64, u64, str, u64, u8, then
 * the appended backtrace: u32 count and that many frames. */
#define HB_PROTO_FAULT_MAX_FRAME                                                     \
    (HB_WIRE_HEADER + 4u + 8u + 8u + 4u + HB_PROTO_MAX_FAULT_PLUGIN + 8u + 1u + 4u + \
     HB_PROTO_MAX_FAULT_FRAMES * HB_PROTO_FAULT_FRAME_MAX)

/* ---- message types ------------------------------------------------------------ */

typedef enum hb_msg {
    /* requests, harness -> worker */
    HB_MSG_HELLO = 1,          /* hb_proto_hello */
    HB_MSG_LOAD = 2,           /* hb_proto_load */
    HB_MSG_SWAP = 3,           /* hb_proto_swap */
    HB_MSG_CALL = 4,           /* hb_proto_call */
    HB_MSG_SAVE = 5,           /* hb_proto_plugin */
    HB_MSG_UNLOAD = 6,         /* hb_proto_plugin */
    HB_MSG_SHUTDOWN = 7,       /* (empty) */
    HB_MSG_PING = 8,           /* (empty) */
    HB_MSG_CHECKPOINT_ACK = 9, /* (empty, the SWAP's id): the checkpoint is durable */
    HB_MSG_TESTS = 10,         /* hb_proto_tests: run a batch of self-tests */
    HB_MSG_OUTPUT = 11,        /* (empty), one fd attached: the worker's stdout and
                                  stderr from now on (a pooled worker handed to its
                                  sandbox, harness/pool.c) */
    /* worker -> harness, interim (the request's id, more follows) */
    HB_MSG_CHECKPOINT = 64, /* hb_proto_checkpoint */
    HB_MSG_SWITCHED = 65,   /* hb_proto_switched: a SWAP passed its switch point */
    HB_MSG_DENIED = 66,     /* retired: denials are observed by the harness on
                               the seccomp listener, never reported by the
                               worker; the harness treats this frame as a
                               protocol violation (a forgery). */
    HB_MSG_LISTENER = 67,   /* hb_proto_listener, id 0: the first frame of a
                               worker under a seccomp profile, sent before it
                               reads any request, with the filter's
                               user-notification listener attached
                               (SCM_RIGHTS); the worker keeps no copy. */
    HB_MSG_FAULT = 68,      /* hb_proto_fault, id 0, during any request: a fatal
                               signal and the plugin version whose code faulted;
                               the worker dies of it next. */
    HB_MSG_RING_WAKE = 69,  /* (empty), the request's id: the reply of a CALL
                               posted on the shared-memory ring is in the ring,
                               and the harness sleeps (proto/ring.h) */
    HB_MSG_TEST_DONE = 70,  /* hb_proto_test_done, the TESTS' id: one test of
                               the batch ran (in order; the empty OK follows
                               the last) */
    /* replies, worker -> harness */
    HB_MSG_OK = 128,  /* the request's reply struct (hb_proto_*_ok) or empty */
    HB_MSG_ERR = 129, /* hb_proto_err */
} hb_msg;

/* ---- field values --------------------------------------------------------------- */

/* LOAD / SWAP reply `hooks`: which hooks the loaded version has. */
#define HB_PROTO_HOOK_INIT 1u
#define HB_PROTO_HOOK_FINI 2u
#define HB_PROTO_HOOK_SAVE 4u
#define HB_PROTO_HOOK_MIGRATE 8u

/* LOAD / SWAP reply `state_result`: what became of the state. */
enum {
    HB_PROTO_STATE_FRESH = 0,   /* no state was given, or the old version has no save */
    HB_PROTO_STATE_CARRIED = 1, /* migrate took it (returned 0) */
    HB_PROTO_STATE_DROPPED = 2, /* state given, the new version has no migrate */
};

/* LISTENER `flags`: what else the profile set up. */
#define HB_LISTENER_FILES_LOCKED 1u /* files it can write, it cannot read (strict) */

/* The field codec's buffers (wire.h). */
typedef struct hb_wbuf hb_wbuf;
typedef struct hb_rbuf hb_rbuf;
typedef struct hb_arena hb_arena;

/* ---- values (CALL arguments and results) --------------------------------------- */

/* A call argument or result. Integers are kept in their 64-bit wire form
 * (range checks against the C type are hb__call_check's job, so the reply
 * can be HB_EARGS naming the argument). Decoded, s and buf are malloc'ed
 * copies (hb__value_release frees them); s may be NULL (a NULL string); buf
 * is never NULL, even when len is 0. To encode, s and buf may point at the
 * caller's memory: encoders never write through them. */
typedef struct hb_wvalue {
    hb_type type;
    union {
        int64_t i;
        uint64_t u;
        float f;
        double d;
    } n;
    char *s;
    uint8_t *buf;
    size_t len;
} hb_wvalue;

/* One value off the reader (PROTOCOL.md "A value is ..."). */
int hb__value_decode(hb_rbuf *r, hb_wvalue *out);
void hb__value_release(hb_wvalue *v);
/* Appends a value in wire form. For HB_TYPE_STR a NULL s encodes is_null. */
void hb__value_encode(hb_wbuf *w, const hb_wvalue *v);
/* The wire form of a public hb_value, pointing at its memory (a view for
 * encoding: never release it). */
hb_wvalue hb__value_view(const hb_value *v);

/* Checks a call's values against a parsed signature: the count, each type,
 * and that each integer fits its C type. Returns 0, or HB_EARGS with one
 * line in msg naming the 1-based argument and both types. */
int hb__call_check(const hb_sig *sig, const hb_wvalue *args, size_t nargs, char *msg,
                   size_t msglen);

/* A byte string inside a payload (decoded) or the caller's memory (encoded). */
typedef struct hb_proto_bytes {
    const void *data;
    size_t len;
} hb_proto_bytes;

/* ---- requests, harness -> worker ------------------------------------------------- */

/* HELLO: u32 magic, u64 max_state_size. */
typedef struct hb_proto_hello {
    uint32_t magic; /* HB_WIRE_MAGIC_HELLO */
    uint64_t max_state_size;
} hb_proto_hello;

/* LOAD: str plugin, str path, u64 version, u8 has_state, u32 state_schema,
 * bytes state. */
typedef struct hb_proto_load {
    char *plugin, *path;
    uint64_t version;
    uint8_t has_state; /* 0 or 1 */
    uint32_t state_schema;
    const void *state;
    size_t state_len;
} hb_proto_load;

/* SWAP's optional carry section (proto/carry.c, PROTOCOL.md "Carry"): the
 * static variables the worker copies from the old version's memory to the
 * new one's, as offsets from each object's load base, with the offsets of
 * the pointers inside each (checked against the old object's mapping at
 * transfer time). flags HB_PROTO_CARRY_GUARD: the layout of a static
 * changed (reason says which): refuse the swap when the plugin carries
 * its state by save/migrate under an unchanged state_schema.
 * HB_PROTO_CARRY_MARKED: the variables are the ones the new version marks
 * with HB_CARRY (plugin.h): copy them even when save/migrate carries the
 * rest of the state. */
#define HB_PROTO_CARRY_GUARD 1u
#define HB_PROTO_CARRY_MARKED 2u
#define HB_PROTO_CARRY_FLAGS (HB_PROTO_CARRY_GUARD | HB_PROTO_CARRY_MARKED)
#define HB_PROTO_MAX_CARRY_VARS 65536u /* variables in one plan */
#define HB_PROTO_MAX_CARRY_PTRS 65536u /* pointer offsets of one variable */

typedef struct hb_proto_carry_var {
    uint64_t old_off, new_off, size;
    uint32_t nptrs;
    uint64_t *ptrs; /* offsets inside the variable, each + 8 <= size */
} hb_proto_carry_var;

typedef struct hb_proto_carry {
    bool present;   /* the section is on the wire */
    uint8_t flags;  /* HB_PROTO_CARRY_* */
    char *reason;   /* GUARD: the first layout change, one line; else "" */
    uint32_t nvars;
    hb_proto_carry_var *vars;
} hb_proto_carry;

/* The SWAP reply's carry section: whether the plan was applied (it is
 * when the old state did not go through save/migrate), and the variables
 * left at their new initial value because a pointer in them pointed into
 * the old object (index into the plan, offset of that pointer). */
typedef struct hb_proto_carry_refused {
    uint32_t index;
    uint64_t offset;
} hb_proto_carry_refused;
/* offset of a variable refused because it holds a pointer outside the old
 * object (to the heap) while the old version has fini, which runs after
 * the switch and may free what it points to. */
#define HB_PROTO_CARRY_REFUSED_FINI (UINT64_MAX - 1)

typedef struct hb_proto_carry_result {
    bool present;
    uint8_t applied; /* 0 or 1 */
    uint32_t nrefused;
    hb_proto_carry_refused *refused;
} hb_proto_carry_result;

void hb__proto_carry_put(hb_wbuf *w, const hb_proto_carry *c);
int hb__proto_carry_get(hb_rbuf *r, hb_proto_carry *out);
void hb__proto_carry_release(hb_proto_carry *c);
void hb__proto_carry_result_put(hb_wbuf *w, const hb_proto_carry_result *c);
int hb__proto_carry_result_get(hb_rbuf *r, hb_proto_carry_result *out);
void hb__proto_carry_result_release(hb_proto_carry_result *c);

/* SWAP: str plugin, str path, u64 version [, u8 wait_ack [, carry]]. The
 * flag is written only when set or when a carry section follows; any
 * non-zero value asks for a CHECKPOINT_ACK. */
typedef struct hb_proto_swap {
    char *plugin, *path;
    uint64_t version;
    uint8_t wait_ack;
    hb_proto_carry carry; /* carry.present: the section follows */
} hb_proto_swap;

/* CALL: str plugin, str symbol, str signature, u32 nargs, nargs x value
 * (nargs at most HB_SIG_MAX_ARGS). */
typedef struct hb_proto_call {
    char *plugin, *symbol, *signature;
    size_t nargs;
    hb_wvalue *args;
} hb_proto_call;

/* SAVE and UNLOAD: str plugin. */
typedef struct hb_proto_plugin {
    char *plugin;
} hb_proto_plugin;

HB_PROTO_MESSAGE(hello, hb_proto_hello)
HB_PROTO_OWNING(load, hb_proto_load)
HB_PROTO_OWNING(swap, hb_proto_swap)
HB_PROTO_OWNING(call, hb_proto_call)
/* A CALL decoded into arena (wire.h): its strings, values and argument
 * array live there, nothing is allocated and nothing is to be released
 * (hb__proto_call_release must not be called on it). -ENOMEM when the
 * arena is too small: HB_PROTO_CALL_ARENA(len) bytes always suffice. */
int hb__proto_call_decode_in(const void *payload, size_t len, hb_proto_call *out,
                             hb_arena *arena);
/* Every copy but the argument array takes a length-prefixed item of at
 * least 4 payload bytes and at most its bytes, a NUL and 7 bytes of
 * alignment: 3 bytes per payload byte, plus the array. */
#define HB_PROTO_CALL_ARENA(len) \
    (3 * (size_t)(len) + (HB_SIG_MAX_ARGS + 1) * sizeof(hb_wvalue) + 16)
int hb__proto_save_encode(hb_wbuf *w, uint32_t id, const hb_proto_plugin *m);
int hb__proto_unload_encode(hb_wbuf *w, uint32_t id, const hb_proto_plugin *m);
int hb__proto_plugin_decode(const void *payload, size_t len, hb_proto_plugin *out);
void hb__proto_plugin_release(hb_proto_plugin *m);
/* Frames without payload: SHUTDOWN, PING, CHECKPOINT_ACK, and the OK of
 * UNLOAD and SHUTDOWN. */
int hb__proto_empty_encode(hb_wbuf *w, uint8_t type, uint32_t id);
int hb__proto_empty_decode(const void *payload, size_t len);

/* ---- replies and interim frames, worker -> harness --------------------------------- */

/* OK of HELLO: u32 magic, u32 plugin ABI version, u32 pid. */
typedef struct hb_proto_hello_ok {
    uint32_t magic, abi, pid;
} hb_proto_hello_ok;

/* OK of LOAD: str descriptor name, u32 schema, u32 hooks, u8 state_result.
 * OK of SWAP: the same, then u64 previous (the version it replaced)
 * [, carry result: present when the request had a carry section]. */
typedef struct hb_proto_loaded {
    char *name;
    uint32_t schema;
    uint32_t hooks;       /* HB_PROTO_HOOK_* */
    uint8_t state_result; /* HB_PROTO_STATE_* */
    uint64_t previous;    /* SWAP only */
    hb_proto_carry_result carry; /* SWAP only */
} hb_proto_loaded;

/* OK of CALL: value (the return), u32 nbuf, nbuf x bytes (the in/out
 * buffers' new contents, in argument order; nbuf <= HB_SIG_MAX_ARGS). */
typedef struct hb_proto_call_ok {
    hb_wvalue ret;
    uint32_t nbuf;
    hb_proto_bytes bufs[HB_SIG_MAX_ARGS];
} hb_proto_call_ok;

/* OK of SAVE: u32 schema, u8 has_save, bytes state. */
typedef struct hb_proto_save_ok {
    uint32_t schema;
    uint8_t has_save;
    const void *state;
    size_t state_len;
} hb_proto_save_ok;

/* OK of PING: u32 pid. */
typedef struct hb_proto_ping_ok {
    uint32_t pid;
} hb_proto_ping_ok;

/* ERR: u32 code (a negative hotbox or errno code, two's complement), str
 * message (one line). */
typedef struct hb_proto_err {
    int32_t code;
    char *message;
} hb_proto_err;

/* CHECKPOINT: str plugin, u64 version, u32 schema, bytes state. */
typedef struct hb_proto_checkpoint {
    char *plugin;
    uint64_t version;
    uint32_t schema;
    const void *state;
    size_t state_len;
} hb_proto_checkpoint;

/* SWITCHED: str plugin, u64 version (the new one, now live). */
typedef struct hb_proto_switched {
    char *plugin;
    uint64_t version;
} hb_proto_switched;

/* LISTENER: u32 flags (HB_LISTENER_*). */
typedef struct hb_proto_listener {
    uint32_t flags;
} hb_proto_listener;

/* One frame of a FAULT's backtrace: the pc (frame 0: the faulting
 * instruction; later frames: a return address), and when it lies in a
 * plugin version's code, that object's load base (pc - base is the address
 * in the stored object), the version and the plugin ("", 0, 0 otherwise). */
typedef struct hb_proto_fault_frame {
    uint64_t pc, base, version;
    char *plugin; /* at most HB_PROTO_MAX_FAULT_PLUGIN bytes */
} hb_proto_fault_frame;

/* FAULT: u32 signo, u64 pc, u64 fault address, str plugin, u64 version,
 * u8 retired, then (appended; absent when nframes is 0, and a frame
 * without it decodes as nframes 0) u32 nframes <= HB_PROTO_MAX_FAULT_FRAMES
 * and that many
 * hb_proto_fault_frame as u64 pc, u64 base, u64 version, str plugin.
 * plugin is "" and version 0 when the pc is in no plugin. The encoder is
 * async-signal-safe over a fixed buffer (hb__wire_init_fixed). */
typedef struct hb_proto_fault {
    uint32_t signo;
    uint64_t pc, addr;
    char *plugin; /* at most HB_PROTO_MAX_FAULT_PLUGIN bytes */
    uint64_t version;
    uint8_t retired; /* 0 or 1 */
    uint32_t nframes;
    hb_proto_fault_frame frames[HB_PROTO_MAX_FAULT_FRAMES];
} hb_proto_fault;

HB_PROTO_MESSAGE(hello_ok, hb_proto_hello_ok)
HB_PROTO_MESSAGE(load_ok, hb_proto_loaded)
HB_PROTO_MESSAGE(swap_ok, hb_proto_loaded)
void hb__proto_loaded_release(hb_proto_loaded *m);
HB_PROTO_OWNING(call_ok, hb_proto_call_ok)
HB_PROTO_MESSAGE(save_ok, hb_proto_save_ok)
HB_PROTO_MESSAGE(ping_ok, hb_proto_ping_ok)
HB_PROTO_OWNING(err, hb_proto_err)
HB_PROTO_OWNING(checkpoint, hb_proto_checkpoint)
HB_PROTO_OWNING(switched, hb_proto_switched)
HB_PROTO_MESSAGE(listener, hb_proto_listener)
HB_PROTO_OWNING(fault, hb_proto_fault)

/* ---- test batches (tests.c) ---------------------------------------------------- */

/* Most tests one TESTS request carries. */
#define HB_PROTO_MAX_TESTS 4096u
/* TESTS flags: which fixture steps the plugin's active version exports. */
#define HB_PROTO_TESTS_SETUP 1u    /* int hb_setup(void) runs before each test */
#define HB_PROTO_TESTS_TEARDOWN 2u /* int hb_teardown(void) after each that returned */
/* TEST_DONE failed_step. */
#define HB_PROTO_STEP_NONE 0u /* passed */
#define HB_PROTO_STEP_SETUP 1u
#define HB_PROTO_STEP_TEST 2u
#define HB_PROTO_STEP_TEARDOWN 3u
/* TEST_DONE output_end when the worker's stdout is not a regular file. */
#define HB_PROTO_OUTPUT_UNKNOWN UINT64_MAX

/* TESTS: str plugin, u32 flags (HB_PROTO_TESTS_*), u32 n (1..MAX_TESTS),
 * n x str test function. Each test runs as hb_run_test runs one (hotbox.h):
 * hb_setup, the test, hb_teardown after a test that returned. */
typedef struct hb_proto_tests {
    char *plugin;
    uint32_t flags;
    uint32_t n;
    char **tests;
} hb_proto_tests;

/* TEST_DONE: u32 index (into the batch), u8 failed_step (HB_PROTO_STEP_*),
 * u32 error (0: failed_step returned `returned`; else a negative code the
 * step's call failed with, two's complement), u32 returned (two's
 * complement), u64 ns (wall time of the steps), u64 output_end (the size
 * of the worker's stdout file once the test's output was flushed), str
 * message (the error's text; "" when none). */
typedef struct hb_proto_test_done {
    uint32_t index;
    uint8_t failed_step;
    int32_t error;
    int32_t returned;
    uint64_t ns;
    uint64_t output_end;
    char *message;
} hb_proto_test_done;

HB_PROTO_OWNING(tests, hb_proto_tests)
HB_PROTO_OWNING(test_done, hb_proto_test_done)

#endif /* HB_PROTO_H */
