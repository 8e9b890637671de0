/* proto/proto.c - the messages of the harness <-> worker protocol: one
 * encoder and one decoder per message, over the field codec of wire.c. See
 * proto.h. Values and CALL are in call.c, the carry sections in carry.c. */
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

/* ---- HELLO --------------------------------------------------------------- */

int hb__proto_hello_encode(hb_wbuf *w, uint32_t id, const hb_proto_hello *m)
{
    hb__wire_begin(w, HB_MSG_HELLO, id);
    hb__wire_put_u32(w, m->magic);
    hb__wire_put_u64(w, m->max_state_size);
    return hb__wire_finish(w);
}

int hb__proto_hello_decode(const void *payload, size_t len, hb_proto_hello *out)
{
    hb_rbuf r;
    hb_proto_hello h;
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &h.magic);
    hb__wire_get_u64(&r, &h.max_state_size);
    int rc = hb__proto_finish(&r, 0);
    if (rc < 0)
        return rc;
    *out = h;
    return 0;
}

int hb__proto_hello_ok_encode(hb_wbuf *w, uint32_t id, const hb_proto_hello_ok *m)
{
    hb__wire_begin(w, HB_MSG_OK, id);
    hb__wire_put_u32(w, m->magic);
    hb__wire_put_u32(w, m->abi);
    hb__wire_put_u32(w, m->pid);
    return hb__wire_finish(w);
}

int hb__proto_hello_ok_decode(const void *payload, size_t len, hb_proto_hello_ok *out)
{
    hb_rbuf r;
    hb_proto_hello_ok h;
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &h.magic);
    hb__wire_get_u32(&r, &h.abi);
    hb__wire_get_u32(&r, &h.pid);
    int rc = hb__proto_finish(&r, 0);
    if (rc < 0)
        return rc;
    *out = h;
    return 0;
}

/* ---- LOAD ---------------------------------------------------------------- */

int hb__proto_load_encode(hb_wbuf *w, uint32_t id, const hb_proto_load *m)
{
    hb__wire_begin(w, HB_MSG_LOAD, id);
    hb__wire_put_str(w, m->plugin);
    hb__wire_put_str(w, m->path);
    hb__wire_put_u64(w, m->version);
    hb__wire_put_u8(w, m->has_state);
    hb__wire_put_u32(w, m->state_schema);
    hb__wire_put_bytes(w, m->state, m->state_len);
    return hb__wire_finish(w);
}

void hb__proto_load_release(hb_proto_load *m)
{
    free(m->plugin);
    free(m->path);
    memset(m, 0, sizeof(*m));
}

int hb__proto_load_decode(const void *payload, size_t len, hb_proto_load *out)
{
    hb_rbuf r;
    hb_proto_load q = {0};
    int rc;
    hb__rbuf_init(&r, payload, len);
    if ((rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.plugin)) < 0 ||
        (rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.path)) < 0)
        goto fail;
    hb__wire_get_u64(&r, &q.version);
    hb__wire_get_u8(&r, &q.has_state);
    hb__wire_get_u32(&r, &q.state_schema);
    hb__wire_get_bytes(&r, &q.state, &q.state_len);
    rc = hb__proto_finish(&r, 0);
    if (rc == 0 && q.has_state > 1)
        rc = -EPROTO;
    if (rc < 0)
        goto fail;
    *out = q;
    return 0;
fail:
    hb__proto_load_release(&q);
    return rc;
}

void hb__proto_loaded_release(hb_proto_loaded *m)
{
    free(m->name);
    hb__proto_carry_result_release(&m->carry);
    memset(m, 0, sizeof(*m));
}

static int loaded_encode(hb_wbuf *w, uint32_t id, const hb_proto_loaded *m, bool swap)
{
    hb__wire_begin(w, HB_MSG_OK, id);
    hb__wire_put_str(w, m->name);
    hb__wire_put_u32(w, m->schema);
    hb__wire_put_u32(w, m->hooks);
    hb__wire_put_u8(w, m->state_result);
    if (swap)
        hb__wire_put_u64(w, m->previous);
    if (swap && m->carry.present)
        hb__proto_carry_result_put(w, &m->carry);
    return hb__wire_finish(w);
}

static int loaded_decode(const void *payload, size_t len, hb_proto_loaded *out, bool swap)
{
    hb_rbuf r;
    hb_proto_loaded q = {0};
    int rc;
    hb__rbuf_init(&r, payload, len);
    if ((rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.name)) < 0)
        goto fail;
    hb__wire_get_u32(&r, &q.schema);
    hb__wire_get_u32(&r, &q.hooks);
    hb__wire_get_u8(&r, &q.state_result);
    if (swap)
        hb__wire_get_u64(&r, &q.previous);
    if (swap && !r.failed && r.left > 0)
        rc = hb__proto_carry_result_get(&r, &q.carry);
    rc = hb__proto_finish(&r, rc);
    if (rc == 0 && q.state_result > HB_PROTO_STATE_DROPPED)
        rc = -EPROTO;
    if (rc < 0)
        goto fail;
    *out = q;
    return 0;
fail:
    hb__proto_loaded_release(&q);
    return rc;
}

int hb__proto_load_ok_encode(hb_wbuf *w, uint32_t id, const hb_proto_loaded *m)
{
    return loaded_encode(w, id, m, false);
}

int hb__proto_load_ok_decode(const void *payload, size_t len, hb_proto_loaded *out)
{
    return loaded_decode(payload, len, out, false);
}

/* ---- SWAP ---------------------------------------------------------------- */

int hb__proto_swap_encode(hb_wbuf *w, uint32_t id, const hb_proto_swap *m)
{
    hb__wire_begin(w, HB_MSG_SWAP, id);
    hb__wire_put_str(w, m->plugin);
    hb__wire_put_str(w, m->path);
    hb__wire_put_u64(w, m->version);
    if (m->wait_ack || m->carry.present)
        hb__wire_put_u8(w, m->wait_ack);
    if (m->carry.present)
        hb__proto_carry_put(w, &m->carry);
    return hb__wire_finish(w);
}

void hb__proto_swap_release(hb_proto_swap *m)
{
    free(m->plugin);
    free(m->path);
    hb__proto_carry_release(&m->carry);
    memset(m, 0, sizeof(*m));
}

int hb__proto_swap_decode(const void *payload, size_t len, hb_proto_swap *out)
{
    hb_rbuf r;
    hb_proto_swap q = {0};
    int rc;
    hb__rbuf_init(&r, payload, len);
    if ((rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.plugin)) < 0 ||
        (rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.path)) < 0)
        goto fail;
    hb__wire_get_u64(&r, &q.version);
    if (!r.failed && r.left >= 1) /* the optional wait_ack flag */
        hb__wire_get_u8(&r, &q.wait_ack);
    if (!r.failed && r.left > 0) /* the optional carry section */
        rc = hb__proto_carry_get(&r, &q.carry);
    rc = hb__proto_finish(&r, rc);
    if (rc < 0)
        goto fail;
    *out = q;
    return 0;
fail:
    hb__proto_swap_release(&q);
    return rc;
}

int hb__proto_swap_ok_encode(hb_wbuf *w, uint32_t id, const hb_proto_loaded *m)
{
    return loaded_encode(w, id, m, true);
}

int hb__proto_swap_ok_decode(const void *payload, size_t len, hb_proto_loaded *out)
{
    return loaded_decode(payload, len, out, true);
}

/* ---- SAVE, UNLOAD -------------------------------------------------------- */

static int plugin_encode(hb_wbuf *w, uint8_t type, uint32_t id, const hb_proto_plugin *m)
{
    hb__wire_begin(w, type, id);
    hb__wire_put_str(w, m->plugin);
    return hb__wire_finish(w);
}

int hb__proto_save_encode(hb_wbuf *w, uint32_t id, const hb_proto_plugin *m)
{
    return plugin_encode(w, HB_MSG_SAVE, id, m);
}

int hb__proto_unload_encode(hb_wbuf *w, uint32_t id, const hb_proto_plugin *m)
{
    return plugin_encode(w, HB_MSG_UNLOAD, id, m);
}

void hb__proto_plugin_release(hb_proto_plugin *m)
{
    free(m->plugin);
    m->plugin = NULL;
}

int hb__proto_plugin_decode(const void *payload, size_t len, hb_proto_plugin *out)
{
    hb_rbuf r;
    hb_proto_plugin q = {0};
    hb__rbuf_init(&r, payload, len);
    int rc = hb__proto_finish(&r, hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.plugin));
    if (rc < 0) {
        hb__proto_plugin_release(&q);
        return rc;
    }
    *out = q;
    return 0;
}

int hb__proto_save_ok_encode(hb_wbuf *w, uint32_t id, const hb_proto_save_ok *m)
{
    hb__wire_begin(w, HB_MSG_OK, id);
    hb__wire_put_u32(w, m->schema);
    hb__wire_put_u8(w, m->has_save);
    hb__wire_put_bytes(w, m->state, m->state_len);
    return hb__wire_finish(w);
}

int hb__proto_save_ok_decode(const void *payload, size_t len, hb_proto_save_ok *out)
{
    hb_rbuf r;
    hb_proto_save_ok q = {0};
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &q.schema);
    hb__wire_get_u8(&r, &q.has_save);
    hb__wire_get_bytes(&r, &q.state, &q.state_len);
    int rc = hb__proto_finish(&r, 0);
    if (rc == 0 && q.has_save > 1)
        rc = -EPROTO;
    if (rc < 0)
        return rc;
    *out = q;
    return 0;
}

/* ---- PING ---------------------------------------------------------------- */

int hb__proto_ping_ok_encode(hb_wbuf *w, uint32_t id, const hb_proto_ping_ok *m)
{
    hb__wire_begin(w, HB_MSG_OK, id);
    hb__wire_put_u32(w, m->pid);
    return hb__wire_finish(w);
}

int hb__proto_ping_ok_decode(const void *payload, size_t len, hb_proto_ping_ok *out)
{
    hb_rbuf r;
    hb_proto_ping_ok q;
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &q.pid);
    int rc = hb__proto_finish(&r, 0);
    if (rc < 0)
        return rc;
    *out = q;
    return 0;
}

/* ---- ERR ----------------------------------------------------------------- */

int hb__proto_err_encode(hb_wbuf *w, uint32_t id, const hb_proto_err *m)
{
    hb__wire_begin(w, HB_MSG_ERR, id);
    hb__wire_put_u32(w, (uint32_t)m->code);
    hb__wire_put_str(w, m->message);
    return hb__wire_finish(w);
}

void hb__proto_err_release(hb_proto_err *m)
{
    free(m->message);
    m->message = NULL;
}

int hb__proto_err_decode(const void *payload, size_t len, hb_proto_err *out)
{
    hb_rbuf r;
    hb_proto_err q = {0};
    uint32_t code = 0;
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &code);
    int rc = hb__proto_finish(&r, hb__proto_get_str(&r, HB_PROTO_MAX_ERR, &q.message));
    if (rc < 0) {
        hb__proto_err_release(&q);
        return rc;
    }
    q.code = (int32_t)code;
    *out = q;
    return 0;
}

/* ---- CHECKPOINT, SWITCHED ------------------------------------------------- */

int hb__proto_checkpoint_encode(hb_wbuf *w, uint32_t id, const hb_proto_checkpoint *m)
{
    hb__wire_begin(w, HB_MSG_CHECKPOINT, id);
    hb__wire_put_str(w, m->plugin);
    hb__wire_put_u64(w, m->version);
    hb__wire_put_u32(w, m->schema);
    hb__wire_put_bytes(w, m->state, m->state_len);
    return hb__wire_finish(w);
}

void hb__proto_checkpoint_release(hb_proto_checkpoint *m)
{
    free(m->plugin);
    memset(m, 0, sizeof(*m));
}

int hb__proto_checkpoint_decode(const void *payload, size_t len, hb_proto_checkpoint *out)
{
    hb_rbuf r;
    hb_proto_checkpoint q = {0};
    int rc;
    hb__rbuf_init(&r, payload, len);
    if ((rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.plugin)) < 0)
        goto fail;
    hb__wire_get_u64(&r, &q.version);
    hb__wire_get_u32(&r, &q.schema);
    hb__wire_get_bytes(&r, &q.state, &q.state_len);
    if ((rc = hb__proto_finish(&r, 0)) < 0)
        goto fail;
    *out = q;
    return 0;
fail:
    hb__proto_checkpoint_release(&q);
    return rc;
}

int hb__proto_switched_encode(hb_wbuf *w, uint32_t id, const hb_proto_switched *m)
{
    hb__wire_begin(w, HB_MSG_SWITCHED, id);
    hb__wire_put_str(w, m->plugin);
    hb__wire_put_u64(w, m->version);
    return hb__wire_finish(w);
}

void hb__proto_switched_release(hb_proto_switched *m)
{
    free(m->plugin);
    memset(m, 0, sizeof(*m));
}

int hb__proto_switched_decode(const void *payload, size_t len, hb_proto_switched *out)
{
    hb_rbuf r;
    hb_proto_switched q = {0};
    int rc;
    hb__rbuf_init(&r, payload, len);
    if ((rc = hb__proto_get_str(&r, HB_PROTO_MAX_STR, &q.plugin)) < 0)
        goto fail;
    hb__wire_get_u64(&r, &q.version);
    if ((rc = hb__proto_finish(&r, 0)) < 0)
        goto fail;
    *out = q;
    return 0;
fail:
    hb__proto_switched_release(&q);
    return rc;
}

/* ---- LISTENER, FAULT ------------------------------------------------------ */

int hb__proto_listener_encode(hb_wbuf *w, uint32_t id, const hb_proto_listener *m)
{
    hb__wire_begin(w, HB_MSG_LISTENER, id);
    hb__wire_put_u32(w, m->flags);
    return hb__wire_finish(w);
}

int hb__proto_listener_decode(const void *payload, size_t len, hb_proto_listener *out)
{
    hb_rbuf r;
    hb_proto_listener q;
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &q.flags);
    int rc = hb__proto_finish(&r, 0);
    if (rc < 0)
        return rc;
    *out = q;
    return 0;
}

/* Async-signal-safe over a fixed buffer: the field codec only copies. */
int hb__proto_fault_encode(hb_wbuf *w, uint32_t id, const hb_proto_fault *m)
{
    hb__wire_begin(w, HB_MSG_FAULT, id);
    hb__wire_put_u32(w, m->signo);
    hb__wire_put_u64(w, m->pc);
    hb__wire_put_u64(w, m->addr);
    hb__wire_put_str(w, m->plugin);
    hb__wire_put_u64(w, m->version);
    hb__wire_put_u8(w, m->retired);
    /* The appended backtrace, only when there is one: a frame without it
     * is the same bytes as before the field existed. */
    uint32_t n = m->nframes < HB_PROTO_MAX_FAULT_FRAMES ? m->nframes : HB_PROTO_MAX_FAULT_FRAMES;
    if (n)
        hb__wire_put_u32(w, n);
    for (uint32_t i = 0; i < n; i++) {
        hb__wire_put_u64(w, m->frames[i].pc);
        hb__wire_put_u64(w, m->frames[i].base);
        hb__wire_put_u64(w, m->frames[i].version);
        hb__wire_put_str(w, m->frames[i].plugin ? m->frames[i].plugin : "");
    }
    return hb__wire_finish(w);
}

void hb__proto_fault_release(hb_proto_fault *m)
{
    free(m->plugin);
    for (uint32_t i = 0; i < m->nframes && i < HB_PROTO_MAX_FAULT_FRAMES; i++)
        free(m->frames[i].plugin);
    memset(m, 0, sizeof(*m));
}

int hb__proto_fault_decode(const void *payload, size_t len, hb_proto_fault *out)
{
    hb_rbuf r;
    hb_proto_fault q = {0};
    int rc;
    hb__rbuf_init(&r, payload, len);
    hb__wire_get_u32(&r, &q.signo);
    hb__wire_get_u64(&r, &q.pc);
    hb__wire_get_u64(&r, &q.addr);
    if ((rc = hb__proto_get_str(&r, HB_PROTO_MAX_FAULT_PLUGIN, &q.plugin)) < 0)
        goto fail;
    hb__wire_get_u64(&r, &q.version);
    hb__wire_get_u8(&r, &q.retired);
    rc = 0;
    if (!r.failed && !hb__wire_done(&r)) { /* the appended backtrace */
        uint32_t n = 0;
        hb__wire_get_u32(&r, &n);
        /* 0 is never written (an empty backtrace leaves the field out):
         * one encoding per message. */
        if (n == 0 || n > HB_PROTO_MAX_FAULT_FRAMES)
            rc = -EPROTO;
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            hb_proto_fault_frame *fr = &q.frames[i];
            hb__wire_get_u64(&r, &fr->pc);
            hb__wire_get_u64(&r, &fr->base);
            hb__wire_get_u64(&r, &fr->version);
            q.nframes = i + 1; /* released from here on */
            rc = hb__proto_get_str(&r, HB_PROTO_MAX_FAULT_PLUGIN, &fr->plugin);
        }
    }
    rc = hb__proto_finish(&r, rc);
    if (rc == 0 && q.retired > 1)
        rc = -EPROTO;
    if (rc < 0)
        goto fail;
    *out = q;
    return 0;
fail:
    hb__proto_fault_release(&q);
    return rc;
}
