/* proto/proto.c - the messages of the harness <-> worker protocol: per
 * message one layout table (proto_int.h) that fields.c encodes, decodes
 * and releases, and the tails tables cannot say. See proto.h. Values and
 * CALL are in call.c, the carry sections in carry.c. */
#include "proto.h"

#include "proto_int.h"
#include "wire.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hb__proto_finish(const hb_rbuf *r, int rc)
{
    if (rc < 0)
        return rc;
    if (r->failed)
        return -EPROTO;
    return hb__wire_done(r) ? 0 : -EPROTO;
}

int hb__proto_get_str(hb_rbuf *r, size_t max, char **out)
{
    if (r->failed)
        return -EPROTO;
    return hb__wire_get_str(r, max, out);
}

/* ---- empty frames -------------------------------------------------------- */

int hb__proto_empty_encode(hb_wbuf *w, uint8_t type, uint32_t id)
{
    hb__wire_begin(w, type, id);
    return hb__wire_finish(w);
}

int hb__proto_empty_decode(const void *payload, size_t len)
{
    (void)payload;
    return len == 0 ? 0 : -EPROTO;
}

/* ---- HELLO, LOAD, SAVE, UNLOAD, PING, ERR, CHECKPOINT, SWITCHED, LISTENER --- */

static const hb__proto_field hello_f[] = {
    HB_F_U32(hb_proto_hello, magic),
    HB_F_U64(hb_proto_hello, max_state_size),
};
static const hb__proto_layout hello_l = HB_LAYOUT(hb_proto_hello, hello_f, NULL, NULL, NULL);
HB_PROTO_DEFINE(hello, hb_proto_hello, HB_MSG_HELLO, hello_l)

static const hb__proto_field hello_ok_f[] = {
    HB_F_U32(hb_proto_hello_ok, magic),
    HB_F_U32(hb_proto_hello_ok, abi),
    HB_F_U32(hb_proto_hello_ok, pid),
};
static const hb__proto_layout hello_ok_l =
    HB_LAYOUT(hb_proto_hello_ok, hello_ok_f, NULL, NULL, NULL);
HB_PROTO_DEFINE(hello_ok, hb_proto_hello_ok, HB_MSG_OK, hello_ok_l)

static const hb__proto_field load_f[] = {
    HB_F_STR(hb_proto_load, plugin, HB_PROTO_MAX_STR),
    HB_F_STR(hb_proto_load, path, HB_PROTO_MAX_STR),
    HB_F_U64(hb_proto_load, version),
    HB_F_U8(hb_proto_load, has_state, 1),
    HB_F_U32(hb_proto_load, state_schema),
    HB_F_BYTES(hb_proto_load, state, state_len),
};
static const hb__proto_layout load_l = HB_LAYOUT(hb_proto_load, load_f, NULL, NULL, NULL);
HB_PROTO_DEFINE_OWNING(load, hb_proto_load, HB_MSG_LOAD, load_l)

/* SAVE and UNLOAD: one layout, two message types. */
static const hb__proto_field plugin_f[] = {
    HB_F_STR(hb_proto_plugin, plugin, HB_PROTO_MAX_STR),
};
static const hb__proto_layout plugin_l = HB_LAYOUT(hb_proto_plugin, plugin_f, NULL, NULL, NULL);
HB_PROTO_ENCODER(save, hb_proto_plugin, HB_MSG_SAVE, plugin_l)
HB_PROTO_ENCODER(unload, hb_proto_plugin, HB_MSG_UNLOAD, plugin_l)
HB_PROTO_DECODER(plugin, hb_proto_plugin, plugin_l)
HB_PROTO_RELEASER(plugin, hb_proto_plugin, plugin_l)

static const hb__proto_field save_ok_f[] = {
    HB_F_U32(hb_proto_save_ok, schema),
    HB_F_U8(hb_proto_save_ok, has_save, 1),
    HB_F_BYTES(hb_proto_save_ok, state, state_len),
};
static const hb__proto_layout save_ok_l =
    HB_LAYOUT(hb_proto_save_ok, save_ok_f, NULL, NULL, NULL);
HB_PROTO_DEFINE(save_ok, hb_proto_save_ok, HB_MSG_OK, save_ok_l)

static const hb__proto_field ping_ok_f[] = {
    HB_F_U32(hb_proto_ping_ok, pid),
};
static const hb__proto_layout ping_ok_l =
    HB_LAYOUT(hb_proto_ping_ok, ping_ok_f, NULL, NULL, NULL);
HB_PROTO_DEFINE(ping_ok, hb_proto_ping_ok, HB_MSG_OK, ping_ok_l)

static const hb__proto_field err_f[] = {
    HB_F_U32(hb_proto_err, code),
    HB_F_STR(hb_proto_err, message, HB_PROTO_MAX_ERR),
};
static const hb__proto_layout err_l = HB_LAYOUT(hb_proto_err, err_f, NULL, NULL, NULL);
HB_PROTO_DEFINE_OWNING(err, hb_proto_err, HB_MSG_ERR, err_l)

static const hb__proto_field checkpoint_f[] = {
    HB_F_STR(hb_proto_checkpoint, plugin, HB_PROTO_MAX_STR),
    HB_F_U64(hb_proto_checkpoint, version),
    HB_F_U32(hb_proto_checkpoint, schema),
    HB_F_BYTES(hb_proto_checkpoint, state, state_len),
};
static const hb__proto_layout checkpoint_l =
    HB_LAYOUT(hb_proto_checkpoint, checkpoint_f, NULL, NULL, NULL);
HB_PROTO_DEFINE_OWNING(checkpoint, hb_proto_checkpoint, HB_MSG_CHECKPOINT, checkpoint_l)

static const hb__proto_field switched_f[] = {
    HB_F_STR(hb_proto_switched, plugin, HB_PROTO_MAX_STR),
    HB_F_U64(hb_proto_switched, version),
};
static const hb__proto_layout switched_l =
    HB_LAYOUT(hb_proto_switched, switched_f, NULL, NULL, NULL);
HB_PROTO_DEFINE_OWNING(switched, hb_proto_switched, HB_MSG_SWITCHED, switched_l)

static const hb__proto_field listener_f[] = {
    HB_F_U32(hb_proto_listener, flags),
};
static const hb__proto_layout listener_l =
    HB_LAYOUT(hb_proto_listener, listener_f, NULL, NULL, NULL);
HB_PROTO_DEFINE(listener, hb_proto_listener, HB_MSG_LISTENER, listener_l)

/* ---- SWAP: optional wait_ack flag, then the optional carry section ------- */

static void swap_put_tail(hb_wbuf *w, const void *mv)
{
    const hb_proto_swap *m = mv;
    if (m->wait_ack || m->carry.present)
        hb__wire_put_u8(w, m->wait_ack);
    if (m->carry.present)
        hb__proto_carry_put(w, &m->carry);
}

static int swap_get_tail(hb_rbuf *r, void *qv)
{
    hb_proto_swap *q = qv;
    if (r->left >= 1)
        hb__wire_get_u8(r, &q->wait_ack);
    if (!r->failed && r->left > 0)
        return hb__proto_carry_get(r, &q->carry);
    return 0;
}

static void swap_release_tail(void *qv)
{
    hb__proto_carry_release(&((hb_proto_swap *)qv)->carry);
}

static const hb__proto_field swap_f[] = {
    HB_F_STR(hb_proto_swap, plugin, HB_PROTO_MAX_STR),
    HB_F_STR(hb_proto_swap, path, HB_PROTO_MAX_STR),
    HB_F_U64(hb_proto_swap, version),
};
static const hb__proto_layout swap_l =
    HB_LAYOUT(hb_proto_swap, swap_f, swap_put_tail, swap_get_tail, swap_release_tail);
HB_PROTO_DEFINE_OWNING(swap, hb_proto_swap, HB_MSG_SWAP, swap_l)

/* ---- OK of LOAD and SWAP (SWAP adds previous and the carry result) ------- */

static void swap_ok_put_tail(hb_wbuf *w, const void *mv)
{
    const hb_proto_loaded *m = mv;
    if (m->carry.present)
        hb__proto_carry_result_put(w, &m->carry);
}

static int swap_ok_get_tail(hb_rbuf *r, void *qv)
{
    return r->left > 0 ? hb__proto_carry_result_get(r, &((hb_proto_loaded *)qv)->carry) : 0;
}

static void loaded_release_tail(void *qv)
{
    hb__proto_carry_result_release(&((hb_proto_loaded *)qv)->carry);
}

#define LOADED_FIELDS                                            \
    HB_F_STR(hb_proto_loaded, name, HB_PROTO_MAX_STR),           \
        HB_F_U32(hb_proto_loaded, schema), HB_F_U32(hb_proto_loaded, hooks), \
        HB_F_U8(hb_proto_loaded, state_result, HB_PROTO_STATE_DROPPED)
static const hb__proto_field load_ok_f[] = {LOADED_FIELDS};
static const hb__proto_field swap_ok_f[] = {LOADED_FIELDS, HB_F_U64(hb_proto_loaded, previous)};
static const hb__proto_layout load_ok_l =
    HB_LAYOUT(hb_proto_loaded, load_ok_f, NULL, NULL, loaded_release_tail);
static const hb__proto_layout swap_ok_l = HB_LAYOUT(hb_proto_loaded, swap_ok_f, swap_ok_put_tail,
                                                    swap_ok_get_tail, loaded_release_tail);
HB_PROTO_DEFINE(load_ok, hb_proto_loaded, HB_MSG_OK, load_ok_l)
HB_PROTO_DEFINE(swap_ok, hb_proto_loaded, HB_MSG_OK, swap_ok_l)
/* Either layout releases the same memory. */
HB_PROTO_RELEASER(loaded, hb_proto_loaded, load_ok_l)

/* ---- FAULT: the appended backtrace ----------------------------------------- */

/* Async-signal-safe: the field codec only copies. The backtrace is written
 * only when there is one: a frame without it is the same bytes as before
 * the field existed. */
static void fault_put_tail(hb_wbuf *w, const void *mv)
{
    const hb_proto_fault *m = mv;
    uint32_t n = m->nframes < HB_PROTO_MAX_FAULT_FRAMES ? m->nframes : HB_PROTO_MAX_FAULT_FRAMES;
    if (n)
        hb__wire_put_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        hb__wire_put_u64(w, m->frames[i].pc);
        hb__wire_put_u64(w, m->frames[i].base);
        hb__wire_put_u64(w, m->frames[i].version);
        hb__wire_put_str(w, m->frames[i].plugin ? m->frames[i].plugin : "");
    }
}

static int fault_get_tail(hb_rbuf *r, void *qv)
{
    hb_proto_fault *q = qv;
    if (hb__wire_done(r))
        return 0;
    uint32_t n = 0;
    hb__wire_get_u32(r, &n);
    /* 0 is never written (an empty backtrace leaves the field out): one
     * encoding per message. */
    if (n == 0 || n > HB_PROTO_MAX_FAULT_FRAMES)
        return -EPROTO;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        hb_proto_fault_frame *fr = &q->frames[i];
        hb__wire_get_u64(r, &fr->pc);
        hb__wire_get_u64(r, &fr->base);
        hb__wire_get_u64(r, &fr->version);
        q->nframes = i + 1; /* released from here on */
        rc = hb__proto_get_str(r, HB_PROTO_MAX_FAULT_PLUGIN, &fr->plugin);
    }
    return rc;
}

static void fault_release_tail(void *qv)
{
    hb_proto_fault *m = qv;
    for (uint32_t i = 0; i < m->nframes && i < HB_PROTO_MAX_FAULT_FRAMES; i++)
        free(m->frames[i].plugin);
}

static const hb__proto_field fault_f[] = {
    HB_F_U32(hb_proto_fault, signo),
    HB_F_U64(hb_proto_fault, pc),
    HB_F_U64(hb_proto_fault, addr),
    HB_F_STR(hb_proto_fault, plugin, HB_PROTO_MAX_FAULT_PLUGIN),
    HB_F_U64(hb_proto_fault, version),
    HB_F_U8(hb_proto_fault, retired, 1),
};
static const hb__proto_layout fault_l =
    HB_LAYOUT(hb_proto_fault, fault_f, fault_put_tail, fault_get_tail, fault_release_tail);
HB_PROTO_DEFINE_OWNING(fault, hb_proto_fault, HB_MSG_FAULT, fault_l)
