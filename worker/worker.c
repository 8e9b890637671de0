/* worker/worker.c - the request loop and the plugin table of hotbox-worker.
 * Implements the message catalogue of PROTOCOL.md. */
#include "worker.h"

#include "util.h"
#include "wire.h"

#include <hotbox/plugin.h>

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Plugins one worker hosts at most (the harness enforces its own, lower
 * max_plugins; this only bounds the table). */
#define HB_WORKER_MAX_PLUGINS 4096

/* One loaded plugin: the active version only (a swap replaces it). */
typedef struct wplugin {
    char *name;                       /* the harness's name for it */
    uint64_t version;
    void *handle;                     /* dlopen handle */
    const hb_plugin_descriptor *desc; /* inside the object; checked */
    void *cxx_guard;                  /* C++ plugins: hb_plugin_cxx_guard, else NULL */
    /* The last symbol called, looked up once per version (dlsym and the
     * owner check cost more than a ring round trip). fn NULL: none. */
    struct {
        char name[96];
        void *fn;
        const ElfW(Sym) *sym;
    } last;
} wplugin;

struct worker {
    int fd;
    hb_ring *ring;      /* NULL: requests come on fd only */
    uint32_t seen;      /* the last bell taken */
    bool ring_request;  /* the request being served came in the ring and its
                           reply (the next frame sent) goes back there */
    dev_t chan_dev;     /* the channel socket's identity, to notice plugin */
    ino_t chan_ino;     /* code that closed or replaced it (see below) */
    bool chan_guarded;  /* the seccomp filter forbids that (no check needed) */
    uint64_t max_state_size;
    wplugin *plugins; size_t nplugins, cap;
    hb_wbuf out;
    bool dead;        /* the channel failed; stop serving */
    char msg[1024];   /* ERR text of the request being handled */
    int passed;       /* the fd attached to the request, or -1 */
    hb_sig_cache sig_cache; /* the last CALL's signature, parsed */
};

/* ---- replies -------------------------------------------------------------- */

/* Sends w->out on the socket. The channel is claimed for the whole frame
 * so the fault handler of a crashing plugin thread never interleaves its
 * FAULT frame with a reply (fault.c). */
static int send_socket(worker *w)
{
    hb__channel_claim();
    int r = hb__wire_send(w->fd, &w->out);
    hb__channel_release();
    return r;
}

/* The reply of a ring request: into the reply slot when it fits (and a WAKE
 * frame on the socket when the harness stopped spinning), else the socket. */
static int send_ring_reply(worker *w)
{
    w->ring_request = false;
    /* A reply through the ring would not notice a channel that plugin
     * code closed (one on the socket fails: the worker ends, a crash), so
     * it must still be the socket it was, unless the profile's filter makes
     * closing or replacing it a denied call (ending the worker). */
    struct stat st;
    if (!w->chan_guarded && (fstat(w->fd, &st) < 0 || st.st_dev != w->chan_dev ||
                             st.st_ino != w->chan_ino))
        return -EBADF;
    if (w->out.len > HB_RING_SLOT) {
        int r = send_socket(w);
        hb__ring_reply(w->ring, NULL, 0);
        return r;
    }
    if (!hb__ring_reply(w->ring, w->out.data, w->out.len))
        return 0;
    uint32_t id = hb__wire_frame_id(&w->out);
    hb__proto_empty_encode(&w->out, HB_MSG_RING_WAKE, id);
    int r = hb__wire_finish(&w->out);
    return r < 0 ? r : send_socket(w);
}

/* Sends the finished w->out: a ring request's reply via the ring, else the socket. */
static int send_out(worker *w)
{
    return w->ring_request ? send_ring_reply(w) : send_socket(w);
}

static void send_frame(worker *w)
{
    /* Plugin output written before this reply reaches its file or pipe
     * before the harness acts on the reply (per-test output capture). */
    fflush(NULL);
    int r = hb__wire_finish(&w->out);
    if (r == 0)
        r = send_out(w);
    if (r < 0)
        w->dead = true;
}

/* Records the ERR text for the current request. Newlines (dlerror text can
 * hold some) become blanks so the message stays one line. Returns code. */
__attribute__((format(printf, 3, 4))) static int fail(worker *w, int code, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof(w->msg), fmt, ap);
    va_end(ap);
    for (char *p = w->msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return code;
}

static void reply_err(worker *w, uint32_t id, int code)
{
    hb_proto_err m = {.code = code, .message = w->msg};
    hb__proto_err_encode(&w->out, id, &m);
    send_frame(w);
}

/* ---- plugin table --------------------------------------------------------- */

static wplugin *find_plugin(worker *w, const char *name)
{
    for (size_t i = 0; i < w->nplugins; i++)
        if (strcmp(w->plugins[i].name, name) == 0)
            return &w->plugins[i];
    return NULL;
}

/* Retires a version: fini (when it has one and `fini` is set), dlclose. */
static void close_version(void *handle, const hb_plugin_descriptor *desc, bool fini)
{
    if (fini && desc && desc->fini)
        desc->fini();
    hb__version_unmap(handle); /* kept mapped while threads it started may run */
}

/* own_symbol for a call, through the plugin's one-entry cache. */
static void *called_symbol(wplugin *p, const char *name, const ElfW(Sym) **sym)
{
    if (p->last.fn && strcmp(p->last.name, name) == 0) {
        *sym = p->last.sym;
        return p->last.fn;
    }
    void *fn = hb__worker_own_symbol(p->handle, name, sym);
    if (fn && strlen(name) < sizeof(p->last.name)) {
        strcpy(p->last.name, name);
        p->last.fn = fn;
        p->last.sym = *sym;
    }
    return fn;
}

/* ---- for batch.c (worker.h) ------------------------------------------------ */

void *hb__worker_fn(worker *w, const char *plugin, const char *name, void **cxx_guard,
                    char *msg, size_t msglen, int *code)
{
    const ElfW(Sym) *sym;
    wplugin *p = find_plugin(w, plugin);
    void *fn = p ? called_symbol(p, name, &sym) : NULL;
    if (fn && sym && ELF64_ST_TYPE(sym->st_info) != STT_FUNC &&
        ELF64_ST_TYPE(sym->st_info) != STT_GNU_IFUNC)
        fn = NULL;
    if (!fn) {
        *code = p ? HB_ENOSYM : HB_ENOPLUGIN;
        snprintf(msg, msglen, p ? "%s v%" PRIu64 " exports no function %s"
                                : "no plugin named %s is loaded%.0" PRIu64 "%s",
                 plugin, p ? p->version : 0, p ? name : "");
        return NULL;
    }
    *cxx_guard = p->cxx_guard;
    return fn;
}

hb_wbuf *hb__worker_out(worker *w)
{
    return &w->out;
}

bool hb__worker_send(worker *w)
{
    send_frame(w);
    return !w->dead;
}

/* Whether this process has no file descriptor left (RLIMIT_NOFILE): a
 * plugin that leaked them all makes every later dlopen fail. Probed by
 * duplicating the channel, which needs no path. */
static bool fds_exhausted(worker *w)
{
    int t = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
    if (t >= 0) {
        close(t);
        return false;
    }
    return errno == EMFILE;
}

/* dlopen + descriptor checks + init, for LOAD and SWAP. `tail` ends every
 * error message ("; v3 stays active" or "; counter not loaded"). On failure
 * nothing stays open. */
static int open_version(worker *w, const char *plugin, const char *path, uint64_t version,
                        const char *tail, void **handle_out,
                        const hb_plugin_descriptor **desc_out)
{
    const ElfW(Sym) *sym;
    int rc;
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        if (fds_exhausted(w))
            return fail(w, -EMFILE,
                        "dlopen of %s v%" PRIu64 " failed: the worker has no file descriptor "
                        "left (a loaded plugin holds them all): %s%s",
                        plugin, version, e ? e : "unknown error", tail);
        return fail(w, HB_EBADELF, "dlopen of %s v%" PRIu64 " failed: %s%s", plugin, version,
                    e ? e : "unknown error", tail);
    }
    /* dlopen caches by path and inode: an object already loaded comes back
     * as the same handle with the same statics, and its init would run on
     * live state. Versions must be distinct files. */
    for (size_t i = 0; i < w->nplugins; i++) {
        if (w->plugins[i].handle == h) {
            rc = fail(w, -EEXIST,
                      "%s v%" PRIu64 " (%s) is the object already loaded as %s v%" PRIu64
                      "; each version needs its own file%s",
                      plugin, version, path, w->plugins[i].name, w->plugins[i].version, tail);
            goto close;
        }
    }
    const hb_plugin_descriptor *d = hb__worker_own_symbol(h, HB_PLUGIN_SYMBOL, &sym);
    if (!d) {
        rc = fail(w, HB_ENODESC, "%s v%" PRIu64 " (%s) exports no %s descriptor%s", plugin,
                  version, path, HB_PLUGIN_SYMBOL, tail);
        goto close;
    }
    /* Check the symbol is data big enough for the two header fields before
     * reading them, so a stray `int hb_plugin` cannot make us read past it. */
    if (sym && (ELF64_ST_TYPE(sym->st_info) != STT_OBJECT || sym->st_size < 8)) {
        rc = fail(w, HB_ENODESC, "%s v%" PRIu64 ": %s is not a descriptor object%s", plugin,
                  version, HB_PLUGIN_SYMBOL, tail);
        goto close;
    }
    if (d->abi_version != HB_PLUGIN_ABI_VERSION) {
        rc = fail(w, HB_EABI,
                  "%s v%" PRIu64 " was built for plugin ABI %" PRIu32
                  ", this worker speaks ABI %u%s",
                  plugin, version, d->abi_version, HB_PLUGIN_ABI_VERSION, tail);
        goto close;
    }
    if (d->size < sizeof(*d) || (sym && sym->st_size < sizeof(*d))) {
        rc = fail(w, HB_ENODESC,
                  "%s v%" PRIu64 ": descriptor is %" PRIu32 " bytes, expected at least %zu%s",
                  plugin, version, d->size, sizeof(*d), tail);
        goto close;
    }
    /* From its first instruction on, a fault in this version names it. */
    hb__fault_track(h, plugin, version);
    if (d->init) {
        int r = d->init();
        if (r != 0) {
            rc = fail(w, HB_EHOOK, "init of %s v%" PRIu64 " returned %d%s", plugin, version, r,
                      tail);
            goto unmap;
        }
    }
    *handle_out = h;
    *desc_out = d;
    return 0;
unmap:
    hb__version_unmap(h); /* init ran: it may have started threads */
    return rc;
close:
    dlclose(h);
    return rc;
}

/* Runs a plugin's save hook and enforces max_state_size. On success *data
 * (malloc'ed by the plugin, maybe NULL) and *len are the state. */
static int run_save(worker *w, const wplugin *p, const char *tail, void **data, size_t *len)
{
    void *d = NULL;
    size_t n = 0;
    int r = p->desc->save(&d, &n);
    if (r != 0) {
        free(d);
        return fail(w, HB_EHOOK, "save of %s v%" PRIu64 " returned %d%s", p->name, p->version,
                    r, tail);
    }
    if (!d && n) {
        return fail(w, HB_EHOOK, "save of %s v%" PRIu64 " returned NULL with length %zu%s",
                    p->name, p->version, n, tail);
    }
    if (n > w->max_state_size) {
        free(d);
        return fail(w, HB_ESTATESIZE,
                    "save of %s v%" PRIu64 " produced %zu bytes, more than max_state_size %" PRIu64
                    "%s",
                    p->name, p->version, n, w->max_state_size, tail);
    }
    *data = d;
    *len = n;
    return 0;
}

/* ---- requests ------------------------------------------------------------- */

static int do_hello(worker *w, const hb_frame *f)
{
    hb_proto_hello q;
    if (hb__proto_hello_decode(f->payload, f->len, &q) < 0)
        return fail(w, HB_EPROTO, "malformed HELLO request");
    if (q.magic != HB_WIRE_MAGIC_HELLO)
        return fail(w, HB_EPROTO, "HELLO magic is 0x%08" PRIx32 ", expected 0x%08x", q.magic,
                    HB_WIRE_MAGIC_HELLO);
    w->max_state_size = q.max_state_size;
    hb_proto_hello_ok ok = {HB_WIRE_MAGIC_HELLO, HB_PLUGIN_ABI_VERSION, (uint32_t)getpid()};
    hb__proto_hello_ok_encode(&w->out, f->id, &ok);
    send_frame(w);
    return 0;
}

static int do_load(worker *w, const hb_frame *f)
{
    hb_proto_load q;
    void *h;
    const hb_plugin_descriptor *d;
    uint8_t state_result = HB_PROTO_STATE_FRESH;
    char tail[64 + HB_PROTO_MAX_STR];
    int rc = hb__proto_load_decode(f->payload, f->len, &q);
    if (rc < 0)
        return fail(w, rc == -ENOMEM ? -ENOMEM : HB_EPROTO, "malformed LOAD request");
    if (!q.plugin[0]) {
        rc = fail(w, -EINVAL, "LOAD with an empty plugin name");
        goto out;
    }
    const wplugin *old = find_plugin(w, q.plugin);
    if (old) {
        rc = fail(w, -EEXIST, "%s is already loaded (v%" PRIu64 "); use SWAP", q.plugin,
                  old->version);
        goto out;
    }
    if (w->nplugins == HB_WORKER_MAX_PLUGINS) {
        rc = fail(w, HB_ELIMIT, "this worker already hosts %d plugins", HB_WORKER_MAX_PLUGINS);
        goto out;
    }
    /* Grow the table first: after init, nothing may fail for lack of memory. */
    if (w->nplugins == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        wplugin *np = realloc(w->plugins, cap * sizeof(*np));
        if (!np) {
            rc = fail(w, -ENOMEM, "out of memory");
            goto out;
        }
        w->plugins = np;
        w->cap = cap;
    }
    char *name = strdup(q.plugin);
    if (!name) {
        rc = fail(w, -ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tail, sizeof(tail), "; %s not loaded", q.plugin);
    rc = open_version(w, q.plugin, q.path, q.version, tail, &h, &d);
    if (rc < 0)
        goto free_name;
    if (q.has_state && d->migrate) {
        int r = d->migrate(q.state, q.state_len, q.state_schema);
        if (r != 0) {
            rc = fail(w, HB_EHOOK, "migrate of %s v%" PRIu64 " returned %d%s", q.plugin,
                      q.version, r, tail);
            close_version(h, d, true);
            goto free_name;
        }
        state_result = HB_PROTO_STATE_CARRIED;
    } else if (q.has_state) {
        state_result = HB_PROTO_STATE_DROPPED;
    }
    w->plugins[w->nplugins++] = (wplugin){.name = name, .version = q.version, .handle = h,
                                          .desc = d, .cxx_guard = hb__worker_cxx_guard(h)};
    hb_proto_loaded ok = {.name = (char *)hb__worker_desc_name(d), .schema = d->state_schema,
                          .hooks = hb__worker_hooks_of(d), .state_result = state_result};
    hb__proto_load_ok_encode(&w->out, f->id, &ok);
    send_frame(w);
    rc = 0;
    goto out;
free_name:
    free(name);
out:
    hb__proto_load_release(&q);
    return rc;
}

static int do_swap(worker *w, const hb_frame *f)
{
    hb_proto_swap q;
    void *h;
    const hb_plugin_descriptor *d;
    void *state = NULL;
    size_t state_len = 0;
    uint8_t state_result = HB_PROTO_STATE_FRESH;
    hb_proto_carry_result carry = {0};
    bool keep_old = false;
    char tail[64];
    int rc = hb__proto_swap_decode(f->payload, f->len, &q);
    if (rc < 0)
        return fail(w, rc == -ENOMEM ? -ENOMEM : HB_EPROTO, "malformed SWAP request");
    wplugin *p = find_plugin(w, q.plugin);
    if (!p) {
        rc = fail(w, HB_ENOPLUGIN, "no plugin named %s is loaded", q.plugin);
        goto out;
    }
    snprintf(tail, sizeof(tail), "; v%" PRIu64 " stays active", p->version);

    /* 1. Quiesced (single thread). The old version's state, sent to the
     *    harness before anything else can go wrong, so a crash in the new
     *    version's hooks loses nothing. */
    bool had_save = p->desc->save != NULL;
    if (had_save) {
        rc = run_save(w, p, tail, &state, &state_len);
        if (rc < 0)
            goto out;
        hb_proto_checkpoint ck = {.plugin = p->name, .version = p->version,
                                  .schema = p->desc->state_schema, .state = state,
                                  .state_len = state_len};
        rc = hb__proto_checkpoint_encode(&w->out, f->id, &ck);
        if (rc < 0) {
            rc = fail(w, rc == -EMSGSIZE ? HB_ESTATESIZE : rc,
                      "checkpoint of %s v%" PRIu64 " (%zu bytes) does not fit a frame%s",
                      p->name, p->version, state_len, tail);
            goto free_state;
        }
        if (send_out(w) < 0) {
            w->dead = true;
            rc = 0; /* nobody to answer */
            goto free_state;
        }
        if (q.wait_ack) {
            /* The harness makes the checkpoint durable before any code of
             * the new version runs, so a manager killed from here on loses
             * nothing. */
            hb_frame ack;
            int ar = hb__wire_recv(w->fd, HB_WIRE_MAX_FRAME, &ack);
            if (ar < 0) {
                w->dead = true;
                rc = 0;
                goto free_state;
            }
            bool ok = ack.type == HB_MSG_CHECKPOINT_ACK && ack.id == f->id;
            hb__frame_release(&ack);
            if (!ok) {
                rc = fail(w, HB_EPROTO, "expected CHECKPOINT_ACK during the swap of %s%s",
                          p->name, tail);
                goto free_state;
            }
        }
    }
    /* 2. The new version: dlopen, descriptor, init. */
    rc = open_version(w, q.plugin, q.path, q.version, tail, &h, &d);
    if (rc < 0)
        goto free_state;
    /* 3. Carry the state: statics by the harness's plan (carry.c), or by
     *    save/migrate. */
    char cmsg[sizeof(w->msg) - 128];
    if ((rc = hb__carry_swap(p->handle, p->desc, h, d, &q.carry, &carry, &keep_old, cmsg,
                             sizeof(cmsg))) < 0) {
        rc = fail(w, rc, "swap of %s v%" PRIu64 " -> v%" PRIu64 " refused: %s%s", q.plugin,
                  p->version, q.version, cmsg, tail);
        close_version(h, d, true);
        goto free_state;
    }
    if (had_save && d->migrate) {
        int r = d->migrate(state, state_len, p->desc->state_schema);
        if (r != 0) {
            rc = fail(w, HB_EHOOK, "migrate of %s v%" PRIu64 " returned %d%s", q.plugin,
                      q.version, r, tail);
            close_version(h, d, true);
            goto free_state;
        }
        state_result = HB_PROTO_STATE_CARRIED;
    } else if (had_save) {
        state_result = HB_PROTO_STATE_DROPPED;
    }
    /* 4. Switch, then retire the old version. */
    void *old_handle = p->handle;
    const hb_plugin_descriptor *old_desc = p->desc;
    uint64_t previous = p->version;
    p->handle = h;
    p->cxx_guard = hb__worker_cxx_guard(h);
    p->last.fn = NULL; /* the old version's symbol */
    p->desc = d;
    p->version = q.version;
    /* Tell the harness the new version is live before the old one's fini
     * runs: if fini crashes now, the new version (with the migrated state)
     * is what a restarted worker must serve. */
    hb_proto_switched sw = {.plugin = p->name, .version = p->version};
    hb__proto_switched_encode(&w->out, f->id, &sw);
    send_frame(w);
    if (w->dead)
        goto free_state;
    if (keep_old) /* heap data may point at its code (carry.c) */
        hb__version_keep(old_handle); /* no fini: carry.c refused that case */
    else
        close_version(old_handle, old_desc, true);

    hb_proto_loaded ok = {.name = (char *)hb__worker_desc_name(d), .schema = d->state_schema,
                          .hooks = hb__worker_hooks_of(d), .state_result = state_result,
                          .previous = previous, .carry = carry};
    hb__proto_swap_ok_encode(&w->out, f->id, &ok);
    send_frame(w);
    rc = 0;
free_state:
    hb__proto_carry_result_release(&carry);
    free(state);
out:
    hb__proto_swap_release(&q);
    return rc;
}

/* A ring CALL's strings, values and argument array (hb__proto_call_decode_in):
 * the worker's own memory, reused by every ring call (no allocation). A
 * CALL on the socket (larger than a ring slot) is decoded with malloc. */
static uint8_t call_arena_mem[HB_PROTO_CALL_ARENA(HB_RING_SLOT)] __attribute__((aligned(16)));

static int do_call(worker *w, const hb_frame *f)
{
    hb_proto_call q;
    hb_sig sig;
    hb_sig_error serr;
    hb_wvalue ret;
    const ElfW(Sym) *sym;
    char why[512];
    hb_arena arena = {call_arena_mem, sizeof(call_arena_mem), 0};
    bool in_arena = f->len <= HB_RING_SLOT;
    int rc = in_arena ? hb__proto_call_decode_in(f->payload, f->len, &q, &arena)
                      : hb__proto_call_decode(f->payload, f->len, &q);
    if (rc < 0)
        return fail(w, rc == -ENOMEM ? -ENOMEM : HB_EPROTO, "malformed CALL request");
    wplugin *p = find_plugin(w, q.plugin);
    if (!p) {
        rc = fail(w, HB_ENOPLUGIN, "no plugin named %s is loaded", q.plugin);
        goto out;
    }
    if (hb__sig_parse_cached(&w->sig_cache, q.signature, &sig, &serr) < 0) {
        rc = fail(w, HB_ESIGNATURE, "call of %s in %s v%" PRIu64 ": %s", q.symbol, p->name,
                  p->version, serr.msg);
        goto out;
    }
    if (hb__call_check(&sig, q.args, q.nargs, why, sizeof(why)) < 0) {
        rc = fail(w, HB_EARGS, "call of %s(\"%s\") in %s v%" PRIu64 ": %s", q.symbol,
                  q.signature, p->name, p->version, why);
        goto out;
    }
    void *fn = called_symbol(p, q.symbol, &sym);
    if (!fn) {
        rc = fail(w, HB_ENOSYM, "%s v%" PRIu64 " exports no symbol %s", p->name, p->version,
                  q.symbol);
        goto out;
    }
    if (sym && ELF64_ST_TYPE(sym->st_info) != STT_FUNC &&
        ELF64_ST_TYPE(sym->st_info) != STT_GNU_IFUNC) {
        rc = fail(w, HB_ENOSYM, "%s in %s v%" PRIu64 " is not a function", q.symbol, p->name,
                  p->version);
        goto out;
    }
    rc = hb__ffi_call(fn, p->cxx_guard, &sig, q.args, q.nargs, &ret, why, sizeof(why));
    if (rc < 0) {
        fail(w, rc, "call of %s in %s v%" PRIu64 ": %s", q.symbol, p->name, p->version, why);
        goto out;
    }
    hb_proto_call_ok ok = {.ret = ret};
    for (size_t i = 0; i < q.nargs; i++)
        if (q.args[i].type == HB_TYPE_BUF_INOUT)
            ok.bufs[ok.nbuf++] = (hb_proto_bytes){q.args[i].buf, q.args[i].len};
    rc = hb__proto_call_ok_encode(&w->out, f->id, &ok);
    hb__value_release(&ret);
    if (rc < 0) {
        rc = fail(w, rc == -EMSGSIZE ? HB_ELIMIT : rc,
                  "result of %s in %s v%" PRIu64 " does not fit a frame", q.symbol, p->name,
                  p->version);
        goto out;
    }
    hb__worker_flush_output(); /* the call's output reaches its file before the reply */
    if (send_out(w) < 0)
        w->dead = true;
out:
    if (!in_arena)
        hb__proto_call_release(&q);
    return rc;
}

static int do_save(worker *w, const hb_frame *f)
{
    hb_proto_plugin q;
    void *state = NULL;
    size_t len = 0;
    int rc = hb__proto_plugin_decode(f->payload, f->len, &q);
    if (rc < 0)
        return fail(w, rc == -ENOMEM ? -ENOMEM : HB_EPROTO, "malformed SAVE request");
    const wplugin *p = find_plugin(w, q.plugin);
    if (!p) {
        rc = fail(w, HB_ENOPLUGIN, "no plugin named %s is loaded", q.plugin);
        goto out;
    }
    if (p->desc->save && (rc = run_save(w, p, "", &state, &len)) < 0)
        goto out;
    hb_proto_save_ok ok = {.schema = p->desc->state_schema, .has_save = p->desc->save != NULL,
                           .state = state, .state_len = len};
    rc = hb__proto_save_ok_encode(&w->out, f->id, &ok);
    if (rc < 0) {
        rc = fail(w, rc == -EMSGSIZE ? HB_ESTATESIZE : rc,
                  "state of %s v%" PRIu64 " (%zu bytes) does not fit a frame", p->name,
                  p->version, len);
        goto out;
    }
    fflush(NULL);
    if (send_out(w) < 0)
        w->dead = true;
out:
    free(state);
    hb__proto_plugin_release(&q);
    return rc;
}

static void remove_plugin(worker *w, wplugin *p)
{
    close_version(p->handle, p->desc, true);
    free(p->name);
    size_t i = (size_t)(p - w->plugins);
    memmove(p, p + 1, (w->nplugins - i - 1) * sizeof(*p));
    w->nplugins--;
}

static int do_unload(worker *w, const hb_frame *f)
{
    hb_proto_plugin q;
    int rc = hb__proto_plugin_decode(f->payload, f->len, &q);
    if (rc < 0)
        return fail(w, rc == -ENOMEM ? -ENOMEM : HB_EPROTO, "malformed UNLOAD request");
    wplugin *p = find_plugin(w, q.plugin);
    if (!p) {
        rc = fail(w, HB_ENOPLUGIN, "no plugin named %s is loaded", q.plugin);
        goto out;
    }
    remove_plugin(w, p);
    hb__proto_empty_encode(&w->out, HB_MSG_OK, f->id);
    send_frame(w);
    rc = 0;
out:
    hb__proto_plugin_release(&q);
    return rc;
}

static int do_ping(worker *w, const hb_frame *f)
{
    if (hb__proto_empty_decode(f->payload, f->len) < 0)
        return fail(w, HB_EPROTO, "malformed PING request");
    hb_proto_ping_ok ok = {(uint32_t)getpid()};
    hb__proto_ping_ok_encode(&w->out, f->id, &ok);
    send_frame(w);
    return 0;
}

/* OUTPUT: the attached fd becomes stdout and stderr (what a worker started
 * with an output file has from its start). */
static int do_output(worker *w, const hb_frame *f)
{
    if (hb__proto_empty_decode(f->payload, f->len) < 0 || w->passed < 0)
        return fail(w, HB_EPROTO, "malformed OUTPUT request (no fd attached)");
    fflush(NULL);
    if (dup2(w->passed, STDOUT_FILENO) < 0 || dup2(w->passed, STDERR_FILENO) < 0)
        return fail(w, HB_EWORKER, "OUTPUT: dup2: %s", strerror(errno));
    hb__proto_empty_encode(&w->out, HB_MSG_OK, f->id);
    send_frame(w);
    return 0;
}

/* Retires every plugin, newest first, running fini hooks. */
static void unload_all(worker *w)
{
    while (w->nplugins)
        remove_plugin(w, &w->plugins[w->nplugins - 1]);
}

/* A request posted in the ring, copied into the worker's own buffer
 * (hb__ring_take_request): no allocation per call. */
static uint8_t ring_in[HB_RING_SLOT];
static int ring_recv(worker *w, hb_frame *f)
{
    int r = hb__ring_take_request(w->ring, ring_in, f);
    w->ring_request = r == 0;
    return r;
}

/* The next request: the one the bell announces when there is a ring, else
 * the next frame on the socket. */
static int next_request(worker *w, hb_frame *f)
{
    w->ring_request = false;
    if (w->ring && hb__ring_next(w->ring, &w->seen) == HB_RING_KIND_RING)
        return ring_recv(w, f);
    return hb__wire_recv_fd(w->fd, HB_WIRE_MAX_FRAME, f, &w->passed);
}

int hb__worker_serve(int fd, hb_ring *ring, bool chan_guarded)
{
    worker w = {.fd = fd, .ring = ring, .max_state_size = HB_WORKER_DEFAULT_MAX_STATE,
                .passed = -1, .chan_guarded = chan_guarded};
    struct stat st;
    if (fstat(fd, &st) < 0)
        return 1;
    w.chan_dev = st.st_dev;
    w.chan_ino = st.st_ino;
    hb__fault_setup(fd);
    int status = 0;
    for (;;) {
        hb_frame f;
        int r = next_request(&w, &f);
        if (r == -EPIPE || r == -ECONNRESET)
            break; /* the harness went away: retire plugins cleanly */
        if (r == -EPROTO || r == -EMSGSIZE || r == -ENOMEM) {
            status = 2; /* framing lost: the byte stream cannot be resynchronised */
            break;
        }
        if (r < 0) {
            status = 1;
            break;
        }
        bool shutdown = false;
        w.msg[0] = '\0';
        switch (f.type) {
        case HB_MSG_HELLO: r = do_hello(&w, &f); break;
        case HB_MSG_LOAD: r = do_load(&w, &f); break;
        case HB_MSG_SWAP: r = do_swap(&w, &f); break;
        case HB_MSG_CALL: r = do_call(&w, &f); break;
        case HB_MSG_SAVE: r = do_save(&w, &f); break;
        case HB_MSG_UNLOAD: r = do_unload(&w, &f); break;
        case HB_MSG_PING: r = do_ping(&w, &f); break;
        case HB_MSG_TESTS: r = hb__worker_tests(&w, &f, w.msg, sizeof(w.msg)); break;
        case HB_MSG_OUTPUT: r = do_output(&w, &f); break;
        case HB_MSG_SHUTDOWN:
            if (hb__proto_empty_decode(f.payload, f.len) < 0) {
                r = fail(&w, HB_EPROTO, "malformed SHUTDOWN request");
                break;
            }
            hb__proto_empty_encode(&w.out, HB_MSG_OK, f.id);
            send_frame(&w);
            shutdown = true;
            r = 0;
            break;
        default:
            r = fail(&w, HB_EPROTO, "unknown request type %u", f.type);
            break;
        }
        if (r < 0 && !w.dead)
            reply_err(&w, f.id, r);
        if (w.passed >= 0) /* an fd only OUTPUT takes */
            close(w.passed);
        w.passed = -1;
        if (f.payload != ring_in) /* ring_in is kept for the next request */
            hb__frame_release(&f);
        if (shutdown || w.dead)
            break;
    }
    unload_all(&w);
    free(w.plugins);
    hb__wire_release(&w.out);
    return status;
}
