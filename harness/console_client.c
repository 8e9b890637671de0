/* harness/console_client.c - the client side of the console: one request
 * to the live session of a state directory (docs/console.md). Never
 * creates or removes anything: a read-only command may ask. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "console.h"
#include "util.h"

static int say(char **err, int code, char *msg)
{
    if (err)
        *err = msg;
    else
        free(msg);
    return code;
}

int hb_console_request(const char *state_dir, const char *request, char **reply, char **err)
{
    if (err)
        *err = NULL;
    if (!request || !reply)
        return -EINVAL;
    char *path = hb__asprintf("%s/run/" HB__CONSOLE_SOCK, state_dir ? state_dir : ".hotbox");
    if (!path)
        return -ENOMEM;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = -1, r;
    if (strlen(path) >= sizeof(a.sun_path)) {
        r = say(err, -ENAMETOOLONG, hb__asprintf("console: socket path too long: %s", path));
        goto out;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r = say(err, -errno, hb__asprintf("console: socket: %s", strerror(errno)));
        goto out;
    }
    while ((r = connect(fd, (struct sockaddr *)&a, sizeof(a))) < 0 && errno == EINTR)
        ;
    if (r < 0) {
        int e = errno;
        struct stat st;
        if (e == ENOENT || e == ENOTDIR)
            r = say(err, -ENOENT, hb__asprintf("no live session in %s (no %s)", state_dir ? state_dir : ".hotbox", path));
        else if (e == ECONNREFUSED)
            r = say(err, -ENOENT, hb__asprintf("no live session in %s (%s is stale: its session "
                                               "died; the next session replaces it)",
                                               state_dir ? state_dir : ".hotbox", path));
        else if (e == EACCES && stat(path, &st) == 0)
            r = say(err, -EACCES, hb__asprintf("console: %s belongs to uid %u, not to you (uid %u)",
                                               path, (unsigned)st.st_uid, (unsigned)geteuid()));
        else
            r = say(err, -e, hb__asprintf("console: cannot connect to %s: %s", path, strerror(e)));
        goto out;
    }
    int sent = hb__console_send(fd, request, strlen(request), HB__CONSOLE_IO_MS);
    /* The reply comes when the call has run: a slow plugin, or a swap in
     * progress, is waited for (the session's own call timeout bounds it).
     * A session that refused us replied without reading: the send may have
     * failed, the refusal still waits to be read. */
    size_t len;
    r = hb__console_recv(fd, reply, &len, sent < 0 ? 100u : 10u * 60 * 1000);
    if (r < 0 && sent < 0)
        r = say(err, sent, hb__asprintf("console: cannot send to %s: %s", path, strerror(-sent)));
    else if (r < 0)
        r = say(err, r, hb__asprintf("console: no reply from %s: %s", path, strerror(-r)));
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return r;
}

int hb_console_call(const char *state_dir, const char *plugin, const char *symbol,
                    const char *signature, hb_value *args, size_t nargs, hb_value *ret,
                    char **ret_text, char **err)
{
    if (err)
        *err = NULL;
    if (!plugin || !symbol || !signature || (nargs && !args) || !ret || !ret_text)
        return -EINVAL;
    hb_sig sig;
    hb_sig_error se;
    if (hb__sig_parse(signature, &sig, &se) < 0)
        return say(err, HB_ESIGNATURE, hb__asprintf("%s", se.msg));
    if (sig.nargs != nargs)
        return say(err, HB_EARGS, hb__asprintf("signature \"%s\" takes %zu arguments, %zu given",
                                               signature, sig.nargs, nargs));
    json_t *ja = json_array();
    for (size_t i = 0; i < nargs; i++)
        json_array_append_new(ja, hb__console_value_json(&args[i]));
    json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:o}", "op", "call", "plugin", plugin, "symbol",
                            symbol, "signature", signature, "args", ja);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text)
        return say(err, -ENOMEM, hb__asprintf("console: out of memory"));
    char *reply = NULL;
    int r = hb_console_request(state_dir, text, &reply, err);
    free(text);
    if (r < 0)
        return r;
    json_error_t je;
    json_t *rj = json_loads(reply, 0, &je);
    free(reply);
    json_t *ok = json_object_get(rj, "ok");
    if (!json_is_boolean(ok)) {
        r = say(err, HB_EPROTO, hb__asprintf("console: the session's reply is not a reply"));
        goto out;
    }
    if (!json_is_true(ok)) {
        json_t *code = json_object_get(rj, "code"), *e = json_object_get(rj, "error");
        r = json_is_integer(code) && json_integer_value(code) < 0 ? (int)json_integer_value(code)
                                                                   : HB_EFAILED;
        r = say(err, r, hb__asprintf("%s", json_is_string(e) ? json_string_value(e) : "the call failed"));
        goto out;
    }
    hb_value v;
    json_t *bufs = json_object_get(rj, "buffers");
    if (hb__console_json_value(json_object_get(rj, "result"), sig.ret, &v) < 0) {
        r = say(err, HB_EPROTO, hb__asprintf("console: the result is not a %s", hb__type_name(sig.ret)));
        goto out;
    }
    char *s = NULL;
    if (sig.ret == HB_TYPE_STR && v.v.s && !(s = strdup(v.v.s))) {
        r = say(err, -ENOMEM, hb__asprintf("console: out of memory"));
        goto out;
    }
    for (size_t i = 0; i < nargs; i++) {
        json_t *b = json_array_get(bufs, i);
        if (args[i].type == HB_TYPE_BUF_INOUT && json_is_string(b)) {
            size_t n = json_string_length(b);
            args[i].v.buf.len = n < args[i].v.buf.len ? n : args[i].v.buf.len;
            memcpy(args[i].v.buf.data, json_string_value(b), args[i].v.buf.len);
        }
    }
    v.v.s = sig.ret == HB_TYPE_STR ? s : v.v.s;
    *ret = v;
    *ret_text = s;
    r = 0;
out:
    json_decref(rj);
    return r;
}
