/* harness/console.c - the console server: the live sandbox served over
 * <state_dir>/run/console.sock to processes of the same user
 * (docs/console.md). No thread of its own: hb_console_process runs each
 * request on the caller's thread, the one that also swaps (watch mode), so
 * a call never meets a half-swapped plugin. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "harness.h"
#include "sandbox_impl.h"
#include "util.h"

struct hb_console {
    hb_sandbox *sb;
    int listen_fd, lock_fd;
    char *sock_path, *lock_path;
};

static int sock_addr(const char *path, struct sockaddr_un *a)
{
    memset(a, 0, sizeof(*a));
    a->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(a->sun_path))
        return -ENAMETOOLONG;
    memcpy(a->sun_path, path, strlen(path) + 1);
    return 0;
}

/* Binds under a temporary name, makes it 0600, then renames it into place:
 * the socket is never reachable with a wider mode. */
static int listen_at(hb_console *c)
{
    char *tmp = hb__asprintf("%s.%d", c->sock_path, (int)getpid());
    struct sockaddr_un a;
    int fd = -1, r = tmp ? sock_addr(tmp, &a) : -ENOMEM;
    if (r < 0)
        goto out;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    unlink(tmp);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(tmp, 0600) < 0 ||
        listen(fd, 16) < 0 || rename(tmp, c->sock_path) < 0) {
        r = -errno;
        unlink(tmp);
        goto out;
    }
    c->listen_fd = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    free(tmp);
    return r;
}

int hb_console_start(hb_sandbox *sb, hb_console **out, int *stale_removed)
{
    if (!sb || !out)
        return -EINVAL;
    hb_console *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->sb = sb;
    c->listen_fd = c->lock_fd = -1;
    c->sock_path = hb__path_join(sb->m->run_dir, HB__CONSOLE_SOCK);
    c->lock_path = hb__path_join(sb->m->run_dir, HB__CONSOLE_LOCK);
    int r;
    if (!c->sock_path || !c->lock_path) {
        r = hb__sandbox_fail(sb, -ENOMEM, "console: out of memory");
        goto fail;
    }
    c->lock_fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c->lock_fd < 0) {
        r = hb__sandbox_fail(sb, -errno, "console: cannot open %s: %s", c->lock_path,
                             strerror(errno));
        goto fail;
    }
    /* The lock is held for the life of the console; the kernel drops it
     * when the process dies, however it dies. */
    while ((r = flock(c->lock_fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
        ;
    if (r < 0) {
        int e = errno;
        char owner[32] = "";
        ssize_t n = pread(c->lock_fd, owner, sizeof(owner) - 1, 0);
        owner[n > 0 ? n : 0] = '\0';
        owner[strcspn(owner, "\n")] = '\0';
        close(c->lock_fd);
        c->lock_fd = -1; /* not ours: stop must not remove the live session's files */
        free(c->sock_path);
        c->sock_path = NULL;
        r = e == EWOULDBLOCK
                ? hb__sandbox_fail(sb, -EBUSY, "console: another hotbox session (pid %s) serves %s",
                                   *owner ? owner : "?", sb->m->state_dir)
                : hb__sandbox_fail(sb, -e, "console: cannot lock %s: %s", c->lock_path, strerror(e));
        goto fail;
    }
    char pid[24];
    int pl = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(c->lock_fd, 0) < 0 || pwrite(c->lock_fd, pid, (size_t)pl, 0) != pl) {
        r = hb__sandbox_fail(sb, -errno, "console: cannot write %s: %s", c->lock_path,
                             strerror(errno));
        goto fail;
    }
    /* Holding the lock, a socket left here belongs to a session that died. */
    int stale = unlink(c->sock_path) == 0;
    r = listen_at(c);
    if (r < 0) {
        r = hb__sandbox_fail(sb, r, "console: cannot listen on %s: %s", c->sock_path, strerror(-r));
        goto fail;
    }
    if (stale_removed)
        *stale_removed = stale;
    *out = c;
    return 0;
fail:
    hb_console_stop(c);
    return r;
}

void hb_console_stop(hb_console *c)
{
    if (!c)
        return;
    if (c->listen_fd >= 0) {
        unlink(c->sock_path);
        close(c->listen_fd);
    }
    if (c->lock_fd >= 0) {
        if (ftruncate(c->lock_fd, 0) < 0) {
            /* only the pid note: the lock goes with the fd */
        }
        close(c->lock_fd);
    }
    HB_FREE_ALL(c->sock_path, c->lock_path, c);
}

int hb_console_fd(hb_console *c)
{
    return c ? c->listen_fd : -EINVAL;
}

/* ---- requests -------------------------------------------------------------- */


static json_t *do_status(hb_sandbox *sb)
{
    json_t *plugins = json_array();
    for (size_t i = 0; i < sb->nslots; i++)
        json_array_append_new(plugins, json_pack("{s:s, s:s, s:I, s:s}", "name", sb->slots[i].name,
                                                 "dir", sb->slots[i].dir ? sb->slots[i].dir : "",
                                                 "version", (json_int_t)sb->slots[i].version,
                                                 "sha256", sb->slots[i].sha));
    return json_pack("{s:b, s:i, s:i, s:s, s:s, s:o, s:o}", "ok", 1, "pid", (int)getpid(),
                     "worker_pid", hb_sandbox_worker_pid(sb), "sandbox", sb->name ? sb->name : "",
                     "state_dir", sb->m->state_dir, "plugins", plugins, "sandboxes",
                     hb__console_sandboxes_json(sb));
}

static json_t *do_call(hb_sandbox *sb, hb__console_req *req)
{
    /* In-out buffers are written back: they get memory of their own. */
    void *bufs[HB_SIG_MAX_ARGS] = {0};
    json_t *reply = NULL;
    for (size_t i = 0; i < req->nargs; i++)
        if (req->args[i].type == HB_TYPE_BUF_INOUT) {
            bufs[i] = malloc(req->args[i].v.buf.len + 1);
            if (!bufs[i]) {
                reply = hb__console_error_reply(-ENOMEM, "console: out of memory");
                goto out;
            }
            memcpy(bufs[i], req->args[i].v.buf.data, req->args[i].v.buf.len);
            req->args[i].v.buf.data = bufs[i];
        }
    hb_value ret;
    int r = hb_call(sb, req->plugin, req->symbol, req->signature, req->args, req->nargs, &ret);
    if (r < 0) {
        reply = hb__console_error_reply(r, hb_sandbox_last_error(sb));
        goto out;
    }
    json_t *inout = json_array();
    for (size_t i = 0; i < req->nargs; i++)
        json_array_append_new(inout, req->args[i].type == HB_TYPE_BUF_INOUT
                                         ? hb__console_value_json(&req->args[i]) : json_null());
    reply = json_pack("{s:b, s:o, s:o}", "ok", 1, "result", hb__console_value_json(&ret),
                      "buffers", inout);
out:
    for (size_t i = 0; i < HB_SIG_MAX_ARGS; i++)
        free(bufs[i]);
    return reply;
}

static void serve(hb_console *c, int fd)
{
    struct ucred cr;
    socklen_t cl = sizeof(cr);
    json_t *reply = NULL;
    char *msg = NULL;
    size_t len = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0) {
        reply = hb__console_error_reply(-errno, "console: cannot tell who is asking (SO_PEERCRED)");
    } else if (cr.uid != geteuid()) {
        char why[160];
        snprintf(why, sizeof(why), "console: refused: uid %u does not own this session (uid %u)",
                 (unsigned)cr.uid, (unsigned)geteuid());
        reply = hb__console_error_reply(-EACCES, why);
    } else {
        int r = hb__console_recv(fd, &msg, &len, HB__CONSOLE_IO_MS);
        if (r < 0) {
            reply = hb__console_error_reply(r, r == -EMSGSIZE ? "console: request too long"
                                                  : "console: no complete request in time");
        } else {
            hb__console_req req;
            char *err = NULL;
            if (hb__console_parse(msg, len, &req, &err) < 0) {
                reply = hb__console_error_reply(-EINVAL, err);
            } else {
                reply = req.op == HB__CONSOLE_STATUS     ? do_status(c->sb)
                        : req.op == HB__CONSOLE_RESTART  ? hb__console_do_restart(c->sb, &req)
                        : req.op == HB__CONSOLE_SNAPSHOT ? hb__console_do_snapshot(c->sb, &req)
                                                         : do_call(c->sb, &req);
                hb__console_req_release(&req);
            }
            free(err);
        }
    }
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    if (text)
        (void)hb__console_send(fd, text, strlen(text), HB__CONSOLE_IO_MS);
    free(text);
    json_decref(reply);
    free(msg);
}

int hb_console_process(hb_console *c)
{
    if (!c)
        return -EINVAL;
    int served = 0;
    /* A bounded batch: clients that keep coming cannot starve the watch. */
    while (served < 16) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0 && errno == EINTR)
            continue;
        if (fd < 0)
            return served; /* EAGAIN: nobody else waiting */
        serve(c, fd);
        close(fd);
        served++;
    }
    return served;
}
