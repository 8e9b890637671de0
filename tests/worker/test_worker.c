/* Drives the real hotbox-worker (fork + exec over a socketpair) through the
 * message catalogue of proto/PROTOCOL.md with the plugins in plugins/. */
#include "proto.h"
#include "hbtest.h"
#include "util.h"
#include "wire.h"

#include <hotbox/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLY_TIMEOUT_MS 20000

typedef struct wk {
    pid_t pid;
    int fd;
    int child_fd; /* the worker's end, by its number in the worker */
    int listener; /* its seccomp listener, handed over at start */
    uint32_t next_id;
} wk;

static const char *worker_path;
static char last_msg[2048]; /* text of the last ERR */

/* ---- process ------------------------------------------------------------- */

static void wk_spawn(wk *k)
{
    int sv[2];
    HB_CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    /* A stray fd the worker must close (it is not CLOEXEC on purpose). */
    int stray = open("/dev/null", O_RDONLY);
    HB_CHECK(stray >= 0);
    int fd = fcntl(sv[1], F_DUPFD, 10); /* not CLOEXEC: the worker inherits it */
    HB_CHECK(fd >= 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        char num[16];
        snprintf(num, sizeof(num), "%d", fd);
        /* Let crashes be crashes under the sanitizers too. */
        char asan[512];
        const char *old = getenv("ASAN_OPTIONS");
        snprintf(asan, sizeof(asan), "%s%shandle_segv=0:handle_abort=0", old ? old : "",
                 old && *old ? ":" : "");
        setenv("ASAN_OPTIONS", asan, 1);
        execl(worker_path, "hotbox-worker", "--fd", num, (char *)NULL);
        _exit(127);
    }
    close(stray);
    close(sv[1]);
    close(fd);
    k->child_fd = fd;
    k->pid = pid;
    k->fd = sv[0];
    k->listener = -1;
    k->next_id = 1;
}

/* Waits for the worker to exit (bounded: poll on a pidfd-less loop would
 * need sleeps, so the socket's EOF is the event and waitpid follows it). */
static int wk_wait(wk *k)
{
    int status;
    HB_CHECK_EQ(waitpid(k->pid, &status, 0), k->pid);
    close(k->fd);
    if (k->listener >= 0)
        close(k->listener);
    k->listener = -1;
    k->pid = -1;
    return status;
}

/* Reads the next frame, failing the test if none comes in time. Returns
 * -EPIPE when the worker closed the channel. */
static int wk_recv(wk *k, hb_frame *f)
{
    struct pollfd p = {.fd = k->fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, REPLY_TIMEOUT_MS);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        HB_FAIL_("worker did not answer within %d ms", REPLY_TIMEOUT_MS);
    return hb__wire_recv(k->fd, HB_WIRE_MAX_FRAME, f);
}

static void wk_send(wk *k, hb_wbuf *w)
{
    HB_CHECK_OK(hb__wire_finish(w));
    HB_CHECK_OK(hb__wire_send(k->fd, w));
}

/* The reply to request `id`: 0 with an OK frame in *f, or the ERR code with
 * its text in last_msg (and *f released). Interim CHECKPOINT frames go to
 * *cp when cp is not NULL (at most one is expected). */
static int wk_reply(wk *k, uint32_t id, hb_frame *f, hb_frame *cp)
{
    for (;;) {
        int r = wk_recv(k, f);
        if (r < 0)
            HB_FAIL_("no reply to request %u: %s", id, strerror(-r));
        HB_CHECK_EQ(f->id, id);
        if (f->type == HB_MSG_SWITCHED) {
            hb__frame_release(f); /* a swap passed its switch point */
            continue;
        }
        if (f->type == HB_MSG_CHECKPOINT) {
            HB_CHECK(cp != NULL);
            HB_CHECK(cp->payload == NULL);
            *cp = *f;
            continue;
        }
        if (f->type == HB_MSG_OK)
            return 0;
        HB_CHECK_EQ(f->type, HB_MSG_ERR);
        hb_rbuf rb;
        uint32_t code;
        char *msg = NULL;
        hb__rbuf_init(&rb, f->payload, f->len);
        HB_CHECK_OK(hb__wire_get_u32(&rb, &code));
        HB_CHECK_OK(hb__wire_get_str(&rb, sizeof(last_msg) - 1, &msg));
        HB_CHECK(hb__wire_done(&rb));
        snprintf(last_msg, sizeof(last_msg), "%s", msg);
        HB_CHECK(strchr(msg, '\n') == NULL);
        free(msg);
        hb__frame_release(f);
        return (int)code;
    }
}

/* ---- requests ------------------------------------------------------------ */

static void wk_hello(wk *k, uint64_t max_state)
{
    hb_wbuf w = {0};
    hb_frame f = {0};
    uint32_t id = k->next_id++;
    hb__wire_begin(&w, HB_MSG_HELLO, id);
    hb__wire_put_u32(&w, HB_WIRE_MAGIC_HELLO);
    hb__wire_put_u64(&w, max_state);
    wk_send(k, &w);
    HB_CHECK_OK(wk_reply(k, id, &f, NULL));
    hb_rbuf r;
    uint32_t magic, abi, pid;
    hb__rbuf_init(&r, f.payload, f.len);
    hb__wire_get_u32(&r, &magic);
    hb__wire_get_u32(&r, &abi);
    hb__wire_get_u32(&r, &pid);
    HB_CHECK(hb__wire_done(&r));
    HB_CHECK_EQ(magic, HB_WIRE_MAGIC_HELLO);
    HB_CHECK_EQ(abi, HB_PLUGIN_ABI_VERSION);
    HB_CHECK_EQ(pid, k->pid);
    hb__frame_release(&f);
    hb__wire_release(&w);
}

/* The worker (standard profile) hands over its seccomp listener first;
 * this test plays the harness and keeps it (k->listener). */
static void wk_take_listener(wk *k)
{
    struct pollfd p = {.fd = k->fd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, REPLY_TIMEOUT_MS), 1);
    hb_frame f;
    HB_CHECK_OK(hb__wire_recv_fd(k->fd, HB_WIRE_MAX_FRAME, &f, &k->listener));
    HB_CHECK_EQ(f.type, HB_MSG_LISTENER);
    HB_CHECK_EQ(f.id, 0u);
    HB_CHECK(k->listener >= 0);
    hb__frame_release(&f);
}

static void wk_start(wk *k, uint64_t max_state)
{
    wk_spawn(k);
    wk_take_listener(k);
    wk_hello(k, max_state);
}

/* Sends a request with an empty payload; returns the code. */
static int wk_simple(wk *k, uint8_t type, const char *plugin, hb_frame *f)
{
    hb_wbuf w = {0};
    uint32_t id = k->next_id++;
    hb__wire_begin(&w, type, id);
    if (plugin)
        hb__wire_put_str(&w, plugin);
    wk_send(k, &w);
    hb__wire_release(&w);
    return wk_reply(k, id, f, NULL);
}

typedef struct load_reply {
    char *name;
    uint32_t schema, hooks;
    uint8_t state_result;
    uint64_t previous;
} load_reply;

static void parse_load_reply(hb_frame *f, load_reply *out, bool swap)
{
    hb_rbuf r;
    hb__rbuf_init(&r, f->payload, f->len);
    HB_CHECK_OK(hb__wire_get_str(&r, 4096, &out->name));
    hb__wire_get_u32(&r, &out->schema);
    hb__wire_get_u32(&r, &out->hooks);
    hb__wire_get_u8(&r, &out->state_result);
    out->previous = 0;
    if (swap)
        hb__wire_get_u64(&r, &out->previous);
    HB_CHECK(hb__wire_done(&r));
    hb__frame_release(f);
}

static int wk_load(wk *k, const char *plugin, const char *path, uint64_t version,
                   const void *state, size_t state_len, uint32_t schema, load_reply *out)
{
    hb_wbuf w = {0};
    hb_frame f = {0};
    uint32_t id = k->next_id++;
    hb__wire_begin(&w, HB_MSG_LOAD, id);
    hb__wire_put_str(&w, plugin);
    hb__wire_put_str(&w, path);
    hb__wire_put_u64(&w, version);
    hb__wire_put_u8(&w, state != NULL);
    hb__wire_put_u32(&w, schema);
    hb__wire_put_bytes(&w, state, state_len);
    wk_send(k, &w);
    hb__wire_release(&w);
    int r = wk_reply(k, id, &f, NULL);
    if (r == 0)
        parse_load_reply(&f, out, false);
    return r;
}

typedef struct checkpoint {
    bool present;
    char *plugin;
    uint64_t version;
    uint32_t schema;
    uint8_t *state;
    size_t len;
} checkpoint;

static void parse_checkpoint(hb_frame *cp, checkpoint *out)
{
    memset(out, 0, sizeof(*out));
    if (!cp->payload)
        return;
    hb_rbuf r;
    const void *d;
    hb__rbuf_init(&r, cp->payload, cp->len);
    HB_CHECK_OK(hb__wire_get_str(&r, 4096, &out->plugin));
    hb__wire_get_u64(&r, &out->version);
    hb__wire_get_u32(&r, &out->schema);
    HB_CHECK_OK(hb__wire_get_bytes(&r, &d, &out->len));
    HB_CHECK(hb__wire_done(&r));
    out->state = malloc(out->len + 1);
    memcpy(out->state, d, out->len);
    out->present = true;
    hb__frame_release(cp);
}

static void checkpoint_release(checkpoint *c)
{
    free(c->plugin);
    free(c->state);
    memset(c, 0, sizeof(*c));
}

/* Sends SWAP; when cp is given, a CHECKPOINT frame (if any) is parsed into it. */
static int wk_swap(wk *k, const char *plugin, const char *path, uint64_t version,
                   load_reply *out, checkpoint *cp)
{
    hb_wbuf w = {0};
    hb_frame f = {0}, cpf = {0};
    uint32_t id = k->next_id++;
    hb__wire_begin(&w, HB_MSG_SWAP, id);
    hb__wire_put_str(&w, plugin);
    hb__wire_put_str(&w, path);
    hb__wire_put_u64(&w, version);
    wk_send(k, &w);
    hb__wire_release(&w);
    int r = wk_reply(k, id, &f, &cpf);
    checkpoint tmp;
    parse_checkpoint(&cpf, cp ? cp : &tmp);
    if (!cp)
        checkpoint_release(&tmp);
    if (r == 0)
        parse_load_reply(&f, out, true);
    return r;
}

/* CALL with values; on success *ret is the result and bufs[i] (up to 4) the
 * returned in/out buffers, malloc'ed. */
static int wk_call(wk *k, const char *plugin, const char *sym, const char *sig,
                   const hb_wvalue *args, size_t nargs, hb_wvalue *ret, hb_wvalue *bufs)
{
    hb_wbuf w = {0};
    hb_frame f = {0};
    uint32_t id = k->next_id++;
    hb__wire_begin(&w, HB_MSG_CALL, id);
    hb__wire_put_str(&w, plugin);
    hb__wire_put_str(&w, sym);
    hb__wire_put_str(&w, sig);
    hb__wire_put_u32(&w, (uint32_t)nargs);
    for (size_t i = 0; i < nargs; i++)
        hb__value_encode(&w, &args[i]);
    wk_send(k, &w);
    hb__wire_release(&w);
    int r = wk_reply(k, id, &f, NULL);
    if (r != 0)
        return r;
    hb_rbuf rb;
    uint32_t nbuf;
    hb__rbuf_init(&rb, f.payload, f.len);
    HB_CHECK_OK(hb__value_decode(&rb, ret));
    HB_CHECK_OK(hb__wire_get_u32(&rb, &nbuf));
    HB_CHECK(nbuf <= 4);
    for (uint32_t i = 0; i < nbuf; i++) {
        const void *d;
        size_t len;
        HB_CHECK_OK(hb__wire_get_bytes(&rb, &d, &len));
        HB_CHECK(bufs != NULL);
        bufs[i] = (hb_wvalue){.type = HB_TYPE_BUF_INOUT};
        bufs[i].buf = malloc(len + 1);
        memcpy(bufs[i].buf, d, len);
        bufs[i].len = len;
    }
    HB_CHECK(hb__wire_done(&rb));
    hb__frame_release(&f);
    return 0;
}

static hb_wvalue vi(hb_type t, int64_t i)
{
    hb_wvalue v = {.type = t};
    v.n.i = i;
    return v;
}

static hb_wvalue vu(hb_type t, uint64_t u)
{
    hb_wvalue v = {.type = t};
    v.n.u = u;
    return v;
}

/* A call of ")i"/"i)i"-style int32 functions; returns the int32 result. */
static int32_t call_i32(wk *k, const char *plugin, const char *sym, const char *sig,
                        const hb_wvalue *args, size_t nargs)
{
    hb_wvalue ret;
    int r = wk_call(k, plugin, sym, sig, args, nargs, &ret, NULL);
    if (r != 0)
        HB_FAIL_("call %s.%s failed: %d %s", plugin, sym, r, last_msg);
    HB_CHECK_EQ(ret.type, HB_TYPE_I32);
    return (int32_t)ret.n.i;
}

static uint32_t call_u32(wk *k, const char *plugin, const char *sym)
{
    hb_wvalue ret;
    int r = wk_call(k, plugin, sym, ")I", NULL, 0, &ret, NULL);
    if (r != 0)
        HB_FAIL_("call %s.%s failed: %d %s", plugin, sym, r, last_msg);
    HB_CHECK_EQ(ret.type, HB_TYPE_U32);
    return (uint32_t)ret.n.u;
}

static int32_t counter_add(wk *k, int32_t n)
{
    hb_wvalue a = vi(HB_TYPE_I32, n);
    return call_i32(k, "counter", "counter_add", "i)i", &a, 1);
}

static int32_t counter_get(wk *k)
{
    return call_i32(k, "counter", "counter_get", ")i", NULL, 0);
}

static void wk_shutdown(wk *k)
{
    hb_frame f = {0};
    HB_CHECK_OK(wk_simple(k, HB_MSG_SHUTDOWN, NULL, &f));
    hb__frame_release(&f);
    int st = wk_wait(k);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0);
}

static void expect_dead_by_signal(wk *k)
{
    hb_frame f;
    int r;
    /* A fault in plugin code is reported (HB_MSG_FAULT, id 0) before the
     * worker dies of it. */
    while ((r = wk_recv(k, &f)) == 0) {
        HB_CHECK_EQ(f.type, HB_MSG_FAULT);
        HB_CHECK_EQ(f.id, 0);
        hb__frame_release(&f);
    }
    HB_CHECK_EQ(r, -EPIPE);
    int st = wk_wait(k);
    char why[128];
    if (!WIFSIGNALED(st) || (WTERMSIG(st) != SIGSEGV && WTERMSIG(st) != SIGABRT))
        HB_FAIL_("worker should die of SIGSEGV/SIGABRT, it %s",
                 hb__describe_wait_status(st, why, sizeof(why)));
}

/* ---- scenarios ----------------------------------------------------------- */

/* counter v1 -> v2 (schema change) and every refused swap after it. */
static void test_swaps(void)
{
    wk k;
    load_reply lr;
    checkpoint cp;
    wk_start(&k, 1 << 20);

    hb_frame f = {0};
    HB_CHECK_OK(wk_simple(&k, HB_MSG_PING, NULL, &f));
    HB_CHECK_EQ(f.len, 4);
    hb__frame_release(&f);

    HB_CHECK_OK(wk_load(&k, "counter", PLUGIN_COUNTER_V1, 1, NULL, 0, 0, &lr));
    HB_CHECK_STR(lr.name, "counter");
    HB_CHECK_EQ(lr.schema, 1);
    HB_CHECK_EQ(lr.hooks, 1 | 4 | 8);
    HB_CHECK_EQ(lr.state_result, 0);
    free(lr.name);
    HB_CHECK_EQ(counter_add(&k, 5), 5);
    HB_CHECK_EQ(counter_add(&k, 7), 12);

    /* SAVE: schema 1, 4 bytes */
    HB_CHECK_OK(wk_simple(&k, HB_MSG_SAVE, "counter", &f));
    {
        hb_rbuf r;
        uint32_t schema;
        uint8_t has_save;
        const void *d;
        size_t len;
        hb__rbuf_init(&r, f.payload, f.len);
        hb__wire_get_u32(&r, &schema);
        hb__wire_get_u8(&r, &has_save);
        HB_CHECK_OK(hb__wire_get_bytes(&r, &d, &len));
        HB_CHECK(hb__wire_done(&r));
        HB_CHECK_EQ(schema, 1);
        HB_CHECK_EQ(has_save, 1);
        HB_CHECK_EQ(len, 4);
        int32_t v;
        memcpy(&v, d, 4);
        HB_CHECK_EQ(v, 12);
        hb__frame_release(&f);
    }

    /* v1 -> v2: checkpoint of v1's state, then migrate converts 1 -> 2 */
    uint64_t t0 = hb__now_ns();
    HB_CHECK_OK(wk_swap(&k, "counter", PLUGIN_COUNTER_V2, 2, &lr, &cp));
    printf("swap v1 -> v2: %.3f ms\n", hb__ms_since(t0));
    HB_CHECK(cp.present);
    HB_CHECK_STR(cp.plugin, "counter");
    HB_CHECK_EQ(cp.version, 1);
    HB_CHECK_EQ(cp.schema, 1);
    HB_CHECK_EQ(cp.len, 4);
    checkpoint_release(&cp);
    HB_CHECK_EQ(lr.schema, 2);
    HB_CHECK_EQ(lr.state_result, 1);
    HB_CHECK_EQ(lr.previous, 1);
    free(lr.name);
    HB_CHECK_EQ(counter_get(&k), 12);
    HB_CHECK_EQ(call_u32(&k, "counter", "counter_adds"), 0); /* v2 only */
    HB_CHECK_EQ(counter_add(&k, 1), 13);
    HB_CHECK_EQ(call_u32(&k, "counter", "counter_adds"), 1);

    /* no descriptor */
    HB_CHECK_EQ(wk_swap(&k, "counter", PLUGIN_COUNTER_NODESC, 3, &lr, &cp), HB_ENODESC);
    HB_CHECK(cp.present && cp.version == 2 && cp.schema == 2); /* save ran first */
    checkpoint_release(&cp);
    HB_CHECK_CONTAINS(last_msg, "counter v3");
    HB_CHECK_CONTAINS(last_msg, "v2 stays active");
    HB_CHECK_EQ(counter_get(&k), 13);
    HB_CHECK_EQ(call_u32(&k, "counter", "counter_adds"), 1);

    /* wrong ABI */
    HB_CHECK_EQ(wk_swap(&k, "counter", PLUGIN_COUNTER_BADABI, 4, &lr, NULL), HB_EABI);
    HB_CHECK_CONTAINS(last_msg, "ABI 99");
    HB_CHECK_CONTAINS(last_msg, "v2 stays active");
    HB_CHECK_EQ(counter_get(&k), 13);

    /* migrate refuses */
    HB_CHECK_EQ(wk_swap(&k, "counter", PLUGIN_COUNTER_BADMIGRATE, 5, &lr, NULL), HB_EHOOK);
    HB_CHECK_STR(last_msg, "migrate of counter v5 returned -1; v2 stays active");
    HB_CHECK_EQ(counter_get(&k), 13);
    HB_CHECK_EQ(call_u32(&k, "counter", "counter_adds"), 1);

    /* dlopen failure carries dlerror's text */
    HB_CHECK_EQ(wk_swap(&k, "counter", "/nonexistent/counter-v6.so", 6, &lr, NULL),
                HB_EBADELF);
    HB_CHECK_CONTAINS(last_msg, "/nonexistent/counter-v6.so");
    HB_CHECK_CONTAINS(last_msg, "dlopen of counter v6");
    /* the active object again (same path) is refused, not re-initialised */
    HB_CHECK_EQ(wk_swap(&k, "counter", PLUGIN_COUNTER_V2, 7, &lr, NULL), -EEXIST);
    HB_CHECK_EQ(counter_get(&k), 13);

    /* swap back v2 -> v1 (v1 refuses schema 2): old stays */
    HB_CHECK_EQ(wk_swap(&k, "counter", PLUGIN_COUNTER_V1, 8, &lr, NULL), HB_EHOOK);
    HB_CHECK_EQ(call_u32(&k, "counter", "counter_adds"), 1);

    /* LOAD of a loaded name; unknown plugin everywhere */
    HB_CHECK_EQ(wk_load(&k, "counter", PLUGIN_COUNTER_V1, 1, NULL, 0, 0, &lr), -EEXIST);
    hb_wvalue ret;
    HB_CHECK_EQ(wk_call(&k, "nope", "counter_get", ")i", NULL, 0, &ret, NULL), HB_ENOPLUGIN);
    HB_CHECK_CONTAINS(last_msg, "nope");
    HB_CHECK_EQ(wk_swap(&k, "nope", PLUGIN_COUNTER_V1, 1, &lr, NULL), HB_ENOPLUGIN);
    HB_CHECK_EQ(wk_simple(&k, HB_MSG_SAVE, "nope", &f), HB_ENOPLUGIN);
    HB_CHECK_EQ(wk_simple(&k, HB_MSG_UNLOAD, "nope", &f), HB_ENOPLUGIN);

    /* symbols: unknown, not a function, only in a dependency (libc) */
    HB_CHECK_EQ(wk_call(&k, "counter", "counter_mul", ")i", NULL, 0, &ret, NULL), HB_ENOSYM);
    HB_CHECK_CONTAINS(last_msg, "counter_mul");
    HB_CHECK_CONTAINS(last_msg, "counter v2");
    HB_CHECK_EQ(wk_call(&k, "counter", "hb_plugin", ")i", NULL, 0, &ret, NULL), HB_ENOSYM);
    HB_CHECK_EQ(wk_call(&k, "counter", "getpid", ")i", NULL, 0, &ret, NULL), HB_ENOSYM);

    /* signatures and arguments */
    HB_CHECK_EQ(wk_call(&k, "counter", "counter_get", "i)X", NULL, 0, &ret, NULL),
                HB_ESIGNATURE);
    HB_CHECK_CONTAINS(last_msg, "position 3");
    HB_CHECK_EQ(wk_call(&k, "counter", "counter_get", "p)i", NULL, 0, &ret, NULL),
                HB_ESIGNATURE);
    hb_wvalue two[2] = {vi(HB_TYPE_I32, 1), vi(HB_TYPE_I32, 2)};
    HB_CHECK_EQ(wk_call(&k, "counter", "counter_add", "i)i", two, 2, &ret, NULL), HB_EARGS);
    HB_CHECK_CONTAINS(last_msg, "takes 1 argument, got 2");
    hb_wvalue wrong = vi(HB_TYPE_I64, 1);
    HB_CHECK_EQ(wk_call(&k, "counter", "counter_add", "i)i", &wrong, 1, &ret, NULL), HB_EARGS);
    HB_CHECK_CONTAINS(last_msg, "argument 1 is int64, signature 'i' wants int32");
    hb_wvalue big = vi(HB_TYPE_I32, (int64_t)INT32_MAX + 1);
    HB_CHECK_EQ(wk_call(&k, "counter", "counter_add", "i)i", &big, 1, &ret, NULL), HB_EARGS);
    HB_CHECK_CONTAINS(last_msg, "does not fit int32");

    /* malformed requests: ERR HB_EPROTO, and the worker keeps serving */
    hb_wbuf w = {0};
    uint32_t id = k.next_id++;
    hb__wire_begin(&w, HB_MSG_CALL, id);
    hb__wire_put_str(&w, "counter");
    hb__wire_put_u32(&w, 0xffffffffu); /* a str length past the end */
    wk_send(&k, &w);
    HB_CHECK_EQ(wk_reply(&k, id, &f, NULL), HB_EPROTO);
    id = k.next_id++;
    hb__wire_begin(&w, 99, id);
    wk_send(&k, &w);
    HB_CHECK_EQ(wk_reply(&k, id, &f, NULL), HB_EPROTO);
    HB_CHECK_CONTAINS(last_msg, "unknown request type 99");
    id = k.next_id++;
    hb__wire_begin(&w, HB_MSG_PING, id);
    hb__wire_put_u8(&w, 1); /* PING takes no payload */
    wk_send(&k, &w);
    HB_CHECK_EQ(wk_reply(&k, id, &f, NULL), HB_EPROTO);
    id = k.next_id++;
    hb__wire_begin(&w, HB_MSG_HELLO, id);
    hb__wire_put_u32(&w, 0x1234);
    hb__wire_put_u64(&w, 1);
    wk_send(&k, &w);
    HB_CHECK_EQ(wk_reply(&k, id, &f, NULL), HB_EPROTO);
    hb__wire_release(&w);
    HB_CHECK_EQ(counter_get(&k), 13);

    /* UNLOAD, then the name is free again */
    HB_CHECK_OK(wk_simple(&k, HB_MSG_UNLOAD, "counter", &f));
    hb__frame_release(&f);
    HB_CHECK_EQ(wk_call(&k, "counter", "counter_get", ")i", NULL, 0, &ret, NULL), HB_ENOPLUGIN);
    HB_CHECK_OK(wk_load(&k, "counter", PLUGIN_COUNTER_V1, 1, NULL, 0, 0, &lr));
    free(lr.name);
    HB_CHECK_EQ(counter_get(&k), 0);
    wk_shutdown(&k);
}

/* LOAD with state: carried, dropped (no migrate), refused. */
static void test_load_state(void)
{
    wk k;
    load_reply lr;
    wk_start(&k, 1 << 20);
    int32_t v1state = 41;
    HB_CHECK_OK(wk_load(&k, "counter", PLUGIN_COUNTER_V2, 2, &v1state, 4, 1, &lr));
    HB_CHECK_EQ(lr.state_result, 1);
    free(lr.name);
    HB_CHECK_EQ(counter_get(&k), 41);

    HB_CHECK_OK(wk_load(&k, "nostate", PLUGIN_NOSTATE_V1, 1, "x", 1, 1, &lr));
    HB_CHECK_EQ(lr.state_result, 2);
    HB_CHECK_EQ(lr.hooks, 0);
    free(lr.name);

    HB_CHECK_EQ(wk_load(&k, "other", PLUGIN_COUNTER_BADMIGRATE, 1, "x", 1, 1, &lr), HB_EHOOK);
    HB_CHECK_STR(last_msg, "migrate of other v1 returned -1; other not loaded");
    hb_wvalue ret;
    HB_CHECK_EQ(wk_call(&k, "other", "counter_get", ")i", NULL, 0, &ret, NULL), HB_ENOPLUGIN);
    /* the same object under a second name would share statics: refused */
    HB_CHECK_EQ(wk_load(&k, "again", PLUGIN_COUNTER_V2, 2, NULL, 0, 0, &lr), -EEXIST);
    HB_CHECK_EQ(counter_get(&k), 41);
    wk_shutdown(&k);
}

/* A plugin without save/migrate swaps with fresh state and no checkpoint. */
static void test_nostate_swap(void)
{
    wk k;
    load_reply lr;
    checkpoint cp;
    wk_start(&k, 1 << 20);
    HB_CHECK_OK(wk_load(&k, "nostate", PLUGIN_NOSTATE_V1, 1, NULL, 0, 0, &lr));
    free(lr.name);
    HB_CHECK_EQ(call_i32(&k, "nostate", "nostate_version", ")i", NULL, 0), 1);
    HB_CHECK_OK(wk_swap(&k, "nostate", PLUGIN_NOSTATE_V2, 2, &lr, &cp));
    HB_CHECK(!cp.present);
    HB_CHECK_EQ(lr.state_result, 0);
    HB_CHECK_EQ(lr.previous, 1);
    free(lr.name);
    HB_CHECK_EQ(call_i32(&k, "nostate", "nostate_version", ")i", NULL, 0), 2);
    /* SAVE of a plugin without save: has_save 0, empty state */
    hb_frame f;
    HB_CHECK_OK(wk_simple(&k, HB_MSG_SAVE, "nostate", &f));
    HB_CHECK_EQ(f.len, 4 + 1 + 4);
    HB_CHECK_EQ(f.payload[4], 0);
    hb__frame_release(&f);
    wk_shutdown(&k);
}

/* save() output over max_state_size: SAVE and SWAP refused, v1 serves. */
static void test_state_size(void)
{
    wk k;
    load_reply lr;
    checkpoint cp;
    wk_start(&k, 3); /* counter v1 saves 4 bytes */
    HB_CHECK_OK(wk_load(&k, "counter", PLUGIN_COUNTER_V1, 1, NULL, 0, 0, &lr));
    free(lr.name);
    HB_CHECK_EQ(counter_add(&k, 9), 9);
    hb_frame f;
    HB_CHECK_EQ(wk_simple(&k, HB_MSG_SAVE, "counter", &f), HB_ESTATESIZE);
    HB_CHECK_EQ(wk_swap(&k, "counter", PLUGIN_COUNTER_V2, 2, &lr, &cp), HB_ESTATESIZE);
    HB_CHECK(!cp.present);
    HB_CHECK_CONTAINS(last_msg, "4 bytes, more than max_state_size 3");
    HB_CHECK_CONTAINS(last_msg, "v1 stays active");
    HB_CHECK_EQ(counter_add(&k, 1), 10);
    wk_hello(&k, 4); /* a new limit applies at once */
    HB_CHECK_OK(wk_swap(&k, "counter", PLUGIN_COUNTER_V2, 2, &lr, NULL));
    free(lr.name);
    HB_CHECK_EQ(counter_get(&k), 10);
    wk_shutdown(&k);
}

/* init of the new version crashes: the checkpoint was already out, then
 * the worker dies of its signal. */
static void test_crash_in_init(void)
{
    wk k;
    hb_wbuf w = {0};
    hb_frame f = {0};
    checkpoint cp;
    load_reply lr;
    wk_start(&k, 1 << 20);
    HB_CHECK_OK(wk_load(&k, "counter", PLUGIN_COUNTER_V1, 1, NULL, 0, 0, &lr));
    free(lr.name);
    HB_CHECK_EQ(counter_add(&k, 3), 3);
    uint32_t id = k.next_id++;
    hb__wire_begin(&w, HB_MSG_SWAP, id);
    hb__wire_put_str(&w, "counter");
    hb__wire_put_str(&w, PLUGIN_COUNTER_INITCRASH);
    hb__wire_put_u64(&w, 2);
    wk_send(&k, &w);
    hb__wire_release(&w);
    HB_CHECK_OK(wk_recv(&k, &f));
    HB_CHECK_EQ(f.type, HB_MSG_CHECKPOINT);
    HB_CHECK_EQ(f.id, id);
    parse_checkpoint(&f, &cp);
    HB_CHECK_EQ(cp.len, 4);
    int32_t v;
    memcpy(&v, cp.state, 4);
    HB_CHECK_EQ(v, 3); /* nothing lost: the harness holds the state */
    checkpoint_release(&cp);
    expect_dead_by_signal(&k);
}

/* Every call type through libffi, then a crash in a call. */
static void test_types_and_fini(void)
{
    wk k;
    load_reply lr;
    hb_wvalue ret, bufs[4];
    wk_start(&k, 1 << 20);
    HB_CHECK_OK(wk_load(&k, "types", PLUGIN_TYPES, 1, NULL, 0, 0, &lr));
    HB_CHECK_EQ(lr.hooks, 2);
    free(lr.name);

    struct {
        const char *sym, *sig;
        hb_type t;
        int64_t in, out; /* as int64 or bit pattern of uint64 */
    } ints[] = {
        {"t_not", "B)B", HB_TYPE_BOOL, 0, 1},
        {"t_not", "B)B", HB_TYPE_BOOL, 1, 0},
        {"t_neg8", "c)c", HB_TYPE_I8, 127, -127},
        {"t_neg8", "c)c", HB_TYPE_I8, -5, 5},
        {"t_inc8", "C)C", HB_TYPE_U8, 254, 255},
        {"t_neg16", "s)s", HB_TYPE_I16, 32767, -32767},
        {"t_inc16", "S)S", HB_TYPE_U16, 65534, 65535},
        {"t_neg32", "i)i", HB_TYPE_I32, INT32_MAX, -INT32_MAX},
        {"t_inc32", "I)I", HB_TYPE_U32, 0xfffffffeLL, 0xffffffffLL},
        {"t_negl", "j)j", HB_TYPE_LONG, LONG_MAX, -LONG_MAX},
        {"t_incl", "J)J", HB_TYPE_ULONG, -2 /* ULONG_MAX-1 */, -1},
        {"t_neg64", "l)l", HB_TYPE_I64, INT64_MIN + 1, INT64_MAX},
        {"t_inc64", "L)L", HB_TYPE_U64, -2, -1},
    };
    for (size_t i = 0; i < HB_ARRAY_SIZE(ints); i++) {
        hb_wvalue a = vi(ints[i].t, ints[i].in);
        int r = wk_call(&k, "types", ints[i].sym, ints[i].sig, &a, 1, &ret, NULL);
        if (r != 0)
            HB_FAIL_("%s: %d %s", ints[i].sym, r, last_msg);
        HB_CHECK_EQ(ret.type, ints[i].t);
        if (ret.n.i != ints[i].out)
            HB_FAIL_("%s(%lld) returned %lld, want %lld", ints[i].sym, (long long)ints[i].in,
                     (long long)ret.n.i, (long long)ints[i].out);
    }

    hb_wvalue a = {.type = HB_TYPE_F32};
    a.n.f = 3.0f;
    HB_CHECK_OK(wk_call(&k, "types", "t_halff", "f)f", &a, 1, &ret, NULL));
    HB_CHECK_EQ(ret.type, HB_TYPE_F32);
    HB_CHECK_DBL(ret.n.f, 1.5, 0);
    a.type = HB_TYPE_F64;
    a.n.d = -7.0;
    HB_CHECK_OK(wk_call(&k, "types", "t_halfd", "d)d", &a, 1, &ret, NULL));
    HB_CHECK_EQ(ret.type, HB_TYPE_F64);
    HB_CHECK_DBL(ret.n.d, -3.5, 0);

    /* strings in and out, NULL both ways */
    hb_wvalue s = {.type = HB_TYPE_STR, .s = "hotbox"};
    HB_CHECK_OK(wk_call(&k, "types", "t_greet", "Z)Z", &s, 1, &ret, NULL));
    HB_CHECK_EQ(ret.type, HB_TYPE_STR);
    HB_CHECK_STR(ret.s, "hello, hotbox");
    hb__value_release(&ret);
    hb_wvalue nul = {.type = HB_TYPE_STR, .s = NULL};
    HB_CHECK_OK(wk_call(&k, "types", "t_greet", "Z)Z", &nul, 1, &ret, NULL));
    HB_CHECK_STR(ret.s, "hello, nobody");
    hb__value_release(&ret);
    HB_CHECK_OK(wk_call(&k, "types", "t_null", ")Z", NULL, 0, &ret, NULL));
    HB_CHECK_EQ(ret.type, HB_TYPE_STR);
    HB_CHECK(ret.s == NULL);
    HB_CHECK_OK(wk_call(&k, "types", "t_strlen", "Z)L", &s, 1, &ret, NULL));
    HB_CHECK_EQ(ret.n.u, 6);

    /* buffers: in (length passed as size_t), in/out modified by the plugin */
    hb_wvalue in = {.type = HB_TYPE_BUF_IN, .buf = (uint8_t *)"\x01\x02\x03\xff", .len = 4};
    HB_CHECK_OK(wk_call(&k, "types", "t_sum", "b)I", &in, 1, &ret, NULL));
    HB_CHECK_EQ(ret.n.u, 261);
    hb_wvalue io = {.type = HB_TYPE_BUF_INOUT, .buf = (uint8_t *)"abc-xyz", .len = 7};
    HB_CHECK_OK(wk_call(&k, "types", "t_upcase", "w)v", &io, 1, &ret, bufs));
    HB_CHECK_EQ(ret.type, HB_TYPE_VOID);
    HB_CHECK_EQ(bufs[0].len, 7);
    bufs[0].buf[7] = 0;
    HB_CHECK_STR((char *)bufs[0].buf, "ABC-XYZ");
    hb__value_release(&bufs[0]);
    hb_wvalue empty = {.type = HB_TYPE_BUF_INOUT, .buf = (uint8_t *)"", .len = 0};
    HB_CHECK_OK(wk_call(&k, "types", "t_upcase", "w)v", &empty, 1, &ret, bufs));
    HB_CHECK_EQ(bufs[0].len, 0);
    hb__value_release(&bufs[0]);

    /* everything at once */
    hb_wvalue mixed[9] = {vi(HB_TYPE_I8, -3), vu(HB_TYPE_U16, 1000), {.type = HB_TYPE_F32},
                          {.type = HB_TYPE_F64}, vi(HB_TYPE_I64, -100000000000LL),
                          {.type = HB_TYPE_STR, .s = "four"},
                          {.type = HB_TYPE_BUF_IN, .buf = (uint8_t *)"\x0a\x0b", .len = 2},
                          {.type = HB_TYPE_BUF_INOUT, .buf = (uint8_t *)"\x00\xf0", .len = 2},
                          vi(HB_TYPE_BOOL, 1)};
    mixed[2].n.f = 0.5f;
    mixed[3].n.d = 0.25;
    HB_CHECK_OK(wk_call(&k, "types", "t_mixed", "cSfdlZbwB)d", mixed, 9, &ret, bufs));
    HB_CHECK_DBL(ret.n.d, -(-3 + 1000 + 0.5 + 0.25 - 100000000000.0 + 4 + 21), 1e-3);
    HB_CHECK_EQ(bufs[0].len, 2);
    HB_CHECK_EQ(bufs[0].buf[0], 0xff);
    HB_CHECK_EQ(bufs[0].buf[1], 0x0f);
    hb__value_release(&bufs[0]);

    /* 32 arguments (the maximum), most of them on the stack */
    hb_wvalue many[32];
    char sig[40];
    for (int i = 0; i < 32; i++) {
        many[i] = vi(HB_TYPE_I32, i);
        sig[i] = 'i';
    }
    strcpy(sig + 32, ")i");
    HB_CHECK_EQ(call_i32(&k, "types", "t_sum32", sig, many, 32), 465 + 31 * 1000);

    /* Informational: round-trip cost of a small call (not an assertion). */
    uint64_t t0 = hb__now_ns();
    for (int i = 0; i < 2000; i++) {
        hb_wvalue x = vi(HB_TYPE_I32, i);
        HB_CHECK_EQ(call_i32(&k, "types", "t_neg32", "i)i", &x, 1), -i);
    }
    printf("call round trip: %.1f us mean over 2000 calls\n", hb__ms_since(t0) * 1000.0 / 2000);

    /* fini runs at SHUTDOWN */
    char dir[] = "/tmp/hbtw-XXXXXX";
    HB_CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof(path), "%s/fini", dir);
    hb_wvalue p = {.type = HB_TYPE_STR, .s = path};
    HB_CHECK_OK(wk_call(&k, "types", "t_set_fini_path", "Z)v", &p, 1, &ret, NULL));
    struct stat st;
    HB_CHECK(stat(path, &st) < 0);
    wk_shutdown(&k);
    char buf[16] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK_EQ(read(fd, buf, sizeof(buf) - 1), 5);
    HB_CHECK_STR(buf, "fini\n");
    close(fd);
    unlink(path);

    /* fini also runs when the harness just goes away (EOF) */
    wk_start(&k, 1 << 20);
    HB_CHECK_OK(wk_load(&k, "types", PLUGIN_TYPES, 1, NULL, 0, 0, &lr));
    free(lr.name);
    HB_CHECK_OK(wk_call(&k, "types", "t_set_fini_path", "Z)v", &p, 1, &ret, NULL));
    shutdown(k.fd, SHUT_WR);
    hb_frame f;
    HB_CHECK_EQ(wk_recv(&k, &f), -EPIPE);
    int status = wk_wait(&k);
    HB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    HB_CHECK_OK(stat(path, &st));
    unlink(path);
    rmdir(dir);

    /* a crash inside a call kills the worker with its signal */
    wk_start(&k, 1 << 20);
    HB_CHECK_OK(wk_load(&k, "types", PLUGIN_TYPES, 1, NULL, 0, 0, &lr));
    free(lr.name);
    hb_wbuf w = {0};
    hb__wire_begin(&w, HB_MSG_CALL, k.next_id++);
    hb__wire_put_str(&w, "types");
    hb__wire_put_str(&w, "t_crash");
    hb__wire_put_str(&w, ")v");
    hb__wire_put_u32(&w, 0);
    wk_send(&k, &w);
    hb__wire_release(&w);
    expect_dead_by_signal(&k);
}

/* Broken framing: the worker exits with status 2. */
static void test_framing(void)
{
    for (int kind = 0; kind < 2; kind++) {
        wk k;
        wk_start(&k, 1 << 20);
        uint8_t hdr[HB_WIRE_HEADER] = {0};
        if (kind == 0)
            hdr[5] = 1; /* flags */
        else
            memcpy(hdr, "\xff\xff\xff\x7f", 4); /* 2 GiB */
        hdr[4] = HB_MSG_PING;
        HB_CHECK_EQ(write(k.fd, hdr, sizeof(hdr)), (long)sizeof(hdr));
        hb_frame f;
        HB_CHECK_EQ(wk_recv(&k, &f), -EPIPE);
        int st = wk_wait(&k);
        HB_CHECK(WIFEXITED(st));
        HB_CHECK_EQ(WEXITSTATUS(st), 2);
    }
}

/* The worker closes fds it inherited (other than its channel). */
static void test_fds_closed(void)
{
    wk k;
    wk_start(&k, 1 << 20);
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)k.pid);
    DIR *d = opendir(dir);
    if (!d) {
        wk_shutdown(&k);
        return;
    }
    struct dirent *e;
    int extra = 0;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd > 2 && fd != k.child_fd) {
            char link[400], target[256] = "";
            snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
            ssize_t n = readlink(link, target, sizeof(target) - 1);
            if (n > 0)
                target[n] = 0;
            /* Not even the seccomp listener: it went to the harness. */
            fprintf(stderr, "worker still has fd %d -> %s\n", fd, target);
            extra++;
        }
    }
    closedir(d);
    HB_CHECK_EQ(extra, 0);
    wk_shutdown(&k);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"swaps", test_swaps},
        {"load_state", test_load_state},
        {"nostate_swap", test_nostate_swap},
        {"state_size", test_state_size},
        {"crash_in_init", test_crash_in_init},
        {"types_and_fini", test_types_and_fini},
        {"framing", test_framing},
        {"fds_closed", test_fds_closed},
    };
    worker_path = getenv("HOTBOX_WORKER");
    if (!worker_path || access(worker_path, X_OK) != 0)
        HB_SKIP("HOTBOX_WORKER is not set to an executable worker");
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
