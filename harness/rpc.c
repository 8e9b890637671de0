/* harness/rpc.c - the one place the sandbox speaks proto/ to its worker for
 * request/reply exchanges: LOAD, SWAP (with its CHECKPOINT and SWITCHED
 * interim frames), UNLOAD and SAVE. Each function encodes the request with
 * proto.h, sends it through worker_client.c and decodes the reply; the
 * callers never see a frame. (CALL lives on the hot path in call.c; HELLO,
 * SHUTDOWN and FAULT in worker_client.c.) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"
#include "guest.h"
#include "jail.h"

/* The OK of a LOAD, or of a SWAP when swap is set. */
static int parse_load_reply(const hb_frame *f, bool swap, hb_load_reply *out)
{
    hb_proto_loaded m;
    int r = swap ? hb__proto_swap_ok_decode(f->payload, f->len, &m)
                 : hb__proto_load_ok_decode(f->payload, f->len, &m);
    if (r < 0)
        return r == -ENOMEM ? r : HB_EPROTO;
    out->schema = m.schema;
    out->hooks = m.hooks;
    out->state_result = m.state_result;
    out->carry = m.carry;
    m.carry = (hb_proto_carry_result){0};
    hb__proto_loaded_release(&m);
    return 0;
}

/* Replaces *err with msg when msg could be built. */
static void replace_err(char **err, char *msg)
{
    if (msg) {
        free(*err);
        *err = msg;
    }
}

/* The dynamic loader's words for a missing provider or symbol become
 * HB_EUNRESOLVED with a sentence a developer can act on. */
static int map_loader_error(int r, char **err, const char *plugin)
{
    if (r != HB_EBADELF || !err || !*err)
        return r;
    const char *text = *err;
    const char *prov = strstr(text, "hotbox-plugin-");
    const char *undef = strstr(text, "undefined symbol: ");
    if (prov && strstr(text, "cannot open shared object")) {
        const char *end = strstr(prov, ".so");
        int len = end ? (int)(end - prov - 14) : 0;
        replace_err(err, hb__asprintf("%s depends on plugin %.*s, which is not loaded in this "
                                      "sandbox (load %.*s first): %s",
                                      plugin, len, prov + 14, len, prov + 14, text));
        return HB_EUNRESOLVED;
    }
    if (undef) {
        const char *sym = undef + 18;
        size_t len = strcspn(sym, " \t(),;\n");
        replace_err(err, hb__asprintf("%s imports %.*s, which no loaded plugin or library "
                                      "provides: %s", plugin, (int)len, sym, text));
        return HB_EUNRESOLVED;
    }
    return r;
}

int hb__rpc_expose(hb_sandbox *sb, const char *path, char **err)
{
    if (sb->wc.guest) /* a guest worker: the object crosses the VM, checked there */
        return hb__guest_expose(&sb->wc, path, err);
    return sb->jail_view ? hb_jail_view_add(sb->jail_view, path, err) : 0;
}

/* The path the worker opens for the store object at path: the same
 * inside a jail (the view is shown at the store's path); the view's host
 * path for an unjailed worker that dropped root (the store may be out of
 * its uid's reach). *out is path itself or malloc'ed into *owned. */
static int worker_object_path(hb_sandbox *sb, const char *path, const char **out, char **owned,
                              char **err)
{
    *owned = NULL;
    *out = path;
    if (!sb->wc.run_as)
        return 0;
    if (!sb->jail_view)
        return hb__seterr(err, HB_EWORKER, "%s: the worker runs as the jail's uid without "
                          "the jail, and this sandbox has no object view it could reach",
                          path);
    const char *base = strrchr(path, '/');
    *owned = hb__path_join(sb->jail_view, base ? base + 1 : path);
    if (!*owned)
        return hb__seterr(err, -ENOMEM, "out of memory");
    *out = *owned;
    return 0;
}

/* Sends an encoded request and waits for the reply (released on error). */
static int exchange(hb_sandbox *sb, const char *plugin, hb_wbuf *w, hb_interim_fn interim,
                    void *ud, hb_frame *reply, char **err)
{
    /* plugin's plugin.json runtime.swap_timeout_ms, under the sandbox's */
    int r = hb__wc_request(&sb->wc, w, hb__swap_timeout(sb, plugin), interim, ud, reply, err);
    hb__wire_release(w);
    return r;
}

int hb__rpc_load(hb_sandbox *sb, const char *plugin, const char *path, uint64_t version,
                 const hb_ckpt *ck, hb_load_reply *lr, char **err)
{
    int r = hb__rpc_expose(sb, path, err);
    char *owned = NULL;
    if (r < 0 || (r = worker_object_path(sb, path, &path, &owned, err)) < 0)
        return r;
    hb_wbuf w = {0};
    bool has = ck && ck->valid;
    hb_proto_load req = {.plugin = (char *)plugin, .path = (char *)path, .version = version,
                         .has_state = has, .state_schema = has ? ck->schema : 0,
                         .state = has ? ck->data : NULL, .state_len = has ? ck->len : 0};
    hb__proto_load_encode(&w, hb__wc_next_id(&sb->wc), &req); /* failure: hb__wc_request says */
    free(owned);
    hb_frame reply;
    r = exchange(sb, plugin, &w, NULL, NULL, &reply, err);
    if (r < 0)
        return map_loader_error(r, err, plugin);
    r = parse_load_reply(&reply, false, lr);
    hb__frame_release(&reply);
    if (r < 0)
        hb__seterr(err, r, "malformed LOAD reply");
    return r;
}

int hb__rpc_reload_slot(hb_sandbox *sb, hb_slot *s, char **err)
{
    hb_load_reply lr;
    int r = hb__rpc_load(sb, s->name, s->path, s->version,
                         s->ckpts.latest.valid ? &s->ckpts.latest : NULL, &lr, err);
    if (r == 0) {
        s->schema = lr.schema;
        s->hooks = lr.hooks;
    }
    return r;
}

int hb__rpc_unload(hb_sandbox *sb, const char *plugin, char **err)
{
    hb_wbuf w = {0};
    hb_proto_plugin req = {(char *)plugin};
    hb__proto_unload_encode(&w, hb__wc_next_id(&sb->wc), &req);
    hb_frame reply;
    int r = exchange(sb, plugin, &w, NULL, NULL, &reply, err);
    if (r == 0)
        hb__frame_release(&reply);
    return r;
}

int hb__rpc_save(hb_sandbox *sb, const char *plugin, uint64_t version, hb_state_fn on_state,
                 void *ud, char **err)
{
    hb_wbuf w = {0};
    hb_proto_plugin req = {(char *)plugin};
    hb__proto_save_encode(&w, hb__wc_next_id(&sb->wc), &req);
    hb_frame reply;
    int r = exchange(sb, plugin, &w, NULL, NULL, &reply, err);
    if (r < 0)
        return r;
    hb_proto_save_ok ok = {0};
    r = hb__proto_save_ok_decode(reply.payload, reply.len, &ok) < 0 ? HB_EPROTO : 0;
    if (r < 0)
        hb__seterr(err, r, "malformed SAVE reply");
    else if (ok.has_save)
        r = on_state(ud, version, ok.schema, ok.state, ok.state_len);
    hb__frame_release(&reply);
    return r;
}

struct swap_ctx {
    hb_sandbox *sb;
    const char *plugin;
    uint64_t old_version; /* the version whose state the CHECKPOINT carries */
    bool wait_ack;
    hb_state_fn on_state;
    void *ud;
    hb_swap_progress *prog;
    char *why; /* a CHECKPOINT refused: what it claimed */
};

/* The interim frames of a SWAP: the old version's state (CHECKPOINT),
 * acknowledged when asked once it is recorded, and SWITCHED. A CHECKPOINT
 * must name the plugin and the version being swapped out: plugin code
 * shares the worker's channel and could otherwise have another version's
 * state recorded as this one's (and restored into it). */
static int on_interim(const hb_frame *f, void *ud)
{
    struct swap_ctx *c = ud;
    if (f->type == HB_MSG_SWITCHED) {
        c->prog->switched = true;
        return 0;
    }
    if (f->type != HB_MSG_CHECKPOINT)
        return HB_EPROTO;
    hb_proto_checkpoint ck = {0};
    int r = HB_EPROTO;
    bool decoded = hb__proto_checkpoint_decode(f->payload, f->len, &ck) == 0;
    if (decoded && (strcmp(ck.plugin, c->plugin) != 0 || ck.version != c->old_version)) {
        free(c->why);
        c->why = hb__asprintf("protocol violation: a CHECKPOINT for %.64s v%llu during the swap "
                              "of %s v%llu (forged by plugin code?); not kept, worker killed",
                              ck.plugin, (unsigned long long)ck.version, c->plugin,
                              (unsigned long long)c->old_version);
    } else if (decoded) {
        r = c->on_state(c->ud, ck.version, ck.schema, ck.state, ck.state_len);
        c->prog->got = r == 0;
        if (r == 0 && c->wait_ack) {
            hb_wbuf ack = {0};
            r = hb__proto_empty_encode(&ack, HB_MSG_CHECKPOINT_ACK, f->id);
            if (r == 0)
                r = hb__wire_send(c->sb->wc.fd, &ack);
            hb__wire_release(&ack);
        }
    }
    hb__proto_checkpoint_release(&ck);
    return r;
}

int hb__rpc_swap(hb_sandbox *sb, const char *plugin, const char *path, uint64_t old_version,
                 uint64_t version, bool wait_ack, const hb_proto_carry *carry,
                 hb_state_fn on_state, void *ud, hb_swap_progress *prog, hb_load_reply *lr,
                 char **err)
{
    *prog = (hb_swap_progress){0};
    struct swap_ctx ctx = {sb, plugin, old_version, wait_ack, on_state, ud, prog, NULL};
    char *owned = NULL;
    int pr = worker_object_path(sb, path, &path, &owned, err);
    if (pr < 0)
        return pr;
    hb_wbuf w = {0};
    hb_proto_swap req = {.plugin = (char *)plugin, .path = (char *)path, .version = version,
                         .wait_ack = wait_ack};
    if (carry)
        req.carry = *carry;
    hb__proto_swap_encode(&w, hb__wc_next_id(&sb->wc), &req);
    free(owned);
    hb_frame reply;
    int r = exchange(sb, plugin, &w, on_interim, &ctx, &reply, err);
    if (ctx.why && r < 0) {
        replace_err(err, ctx.why);
        return r;
    }
    free(ctx.why);
    if (r < 0)
        return map_loader_error(r, err, plugin);
    r = parse_load_reply(&reply, true, lr);
    hb__frame_release(&reply);
    prog->malformed = r < 0;
    return r;
}
