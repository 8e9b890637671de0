/* harness/console.h - the console's messages (docs/console.md): framing,
 * hb_value <-> JSON, and the request parser shared by the server
 * (console.c) and the client (console_client.c). console_wire.c owns them. */
#ifndef HB_CONSOLE_H
#define HB_CONSOLE_H

#include <hotbox/hotbox.h>
#include <jansson.h>
#include <stddef.h>

#include "signature.h"

#define HB__CONSOLE_SOCK "console.sock"
#define HB__CONSOLE_LOCK "console.lock"
/* Longest message either side accepts (4-byte length prefix excluded). */
#define HB__CONSOLE_MAX_MSG (1u << 20)
/* How long one side waits for the other to send or take a message. */
#define HB__CONSOLE_IO_MS 5000

/* Writes one message: a 4-byte big-endian length, then len bytes of JSON.
 * Returns 0 or a negative errno (-ETIMEDOUT past the deadline). */
int hb__console_send(int fd, const char *json, size_t len, unsigned timeout_ms);
/* Reads one message into *out (NUL-terminated, free()). -EMSGSIZE when the
 * length is over HB__CONSOLE_MAX_MSG, -ECONNRESET at a short read. */
int hb__console_recv(int fd, char **out, size_t *len, unsigned timeout_ms);

typedef enum {
    HB__CONSOLE_CALL = 1,
    HB__CONSOLE_STATUS,
    HB__CONSOLE_RESTART,  /* "plugin" optional: the sandbox holding it */
    HB__CONSOLE_SNAPSHOT, /* "action": save, restore, list, delete */
} hb__console_op;

/* A parsed request. Strings point into root (kept alive by it). */
typedef struct hb__console_req {
    hb__console_op op;
    const char *plugin, *symbol, *signature;
    const char *action, *name; /* snapshot */
    hb_sig sig;
    hb_value args[HB_SIG_MAX_ARGS];
    size_t nargs;
    json_t *root;
} hb__console_req;

/* Parses one request message. Returns 0, or -EINVAL with *err naming the
 * field that is wrong (free()). Release with hb__console_req_release. */
int hb__console_parse(const char *buf, size_t len, hb__console_req *req, char **err);
void hb__console_req_release(hb__console_req *req);

/* One value as JSON (integers over INT64_MAX and buffers as strings). */
json_t *hb__console_value_json(const hb_value *v);
/* The JSON of a value of type t back into *v; strings and buffers point
 * into j. -EINVAL when j does not fit t. */
int hb__console_json_value(json_t *j, hb_type t, hb_value *v);

/* console_ops.c: the requests besides call. Replies are JSON objects
 * with "ok"; a failure is hb__console_error_reply's shape. */
json_t *hb__console_error_reply(int code, const char *msg);
/* Every sandbox of sb's manager: state, worker, counters, last crash,
 * plugins (with a prebuilt object's path). */
json_t *hb__console_sandboxes_json(hb_sandbox *sb);
json_t *hb__console_do_restart(hb_sandbox *sb, const hb__console_req *req);
json_t *hb__console_do_snapshot(hb_sandbox *sb, const hb__console_req *req);

#endif
