/* harness/console_ops.c - the console's requests besides call: the status
 * of the live session's sandboxes (state, worker, restarts, last crash),
 * a restart on request, and named snapshots of the live state
 * (docs/console.md). They run on the session's thread like calls, through
 * the public API of the sandbox the console serves. */
#include <errno.h>
#include <string.h>

#include "console.h"
#include "sandbox_impl.h"
#include "util.h"

json_t *hb__console_error_reply(int code, const char *msg)
{
    return json_pack("{s:b, s:i, s:s}", "ok", 0, "code", code, "error", msg ? msg : "");
}

static HB_ENUM_NAMES(state_name, hb_sandbox_state, [HB_SANDBOX_RUNNING] = "running",
                     [HB_SANDBOX_RESTARTING] = "restarting", [HB_SANDBOX_DOWN] = "down",
                     [HB_SANDBOX_FAILED] = "failed", [HB_SANDBOX_DETACHED] = "detached")

/* The path a prebuilt active version was loaded from, or JSON null. */
static json_t *prebuilt_json(hb_sandbox *sb, const char *plugin, uint64_t version)
{
    hb_version_rec rec = {0};
    json_t *j = NULL;
    if (hb_store_get(sb->m->store, plugin, version, &rec) == 0 && hb_version_rec_prebuilt_from(&rec))
        j = json_string(hb_version_rec_prebuilt_from(&rec));
    hb_version_rec_release(&rec);
    return j ? j : json_null();
}

static json_t *sandbox_json(hb_sandbox *sb)
{
    hb_sandbox_status st;
    if (hb_sandbox_status_get(sb, &st) < 0)
        return json_null();
    int64_t at = 0;
    const char *crash = hb_sandbox_last_crash(sb, &at);
    json_t *plugins = json_array();
    for (size_t i = 0; i < st.nplugins; i++)
        json_array_append_new(plugins,
                              json_pack("{s:s, s:I, s:b, s:o}", "name", st.plugins[i].name,
                                        "version", (json_int_t)st.plugins[i].version,
                                        "on_probation", st.plugins[i].on_probation, "prebuilt_from",
                                        prebuilt_json(sb, st.plugins[i].name,
                                                      st.plugins[i].version)));
    return json_pack("{s:s, s:s, s:i, s:I, s:I, s:o, s:o, s:o}", "name", st.name ? st.name : "",
                     "state", state_name(st.state), "worker_pid", st.worker_pid, "crashes",
                     (json_int_t)st.crashes, "restarts", (json_int_t)st.restarts, "last_crash",
                     crash ? json_string(crash) : json_null(), "last_crash_at",
                     crash ? json_integer(at) : json_null(), "plugins", plugins);
}

json_t *hb__console_sandboxes_json(hb_sandbox *sb)
{
    json_t *all = json_array();
    hb_sandbox *list[64];
    size_t n = 0;
    if (hb_manager_sandboxes(sb->m, list, 64, &n) < 0)
        return all;
    for (size_t i = 0; i < n && i < 64; i++)
        json_array_append_new(all, sandbox_json(list[i]));
    return all;
}

json_t *hb__console_do_restart(hb_sandbox *sb, const hb__console_req *req)
{
    hb_sandbox *target = sb;
    if (req->plugin) {
        hb_sandbox *list[64];
        size_t n = 0;
        target = NULL;
        if (hb_manager_sandboxes(sb->m, list, 64, &n) == 0)
            for (size_t i = 0; i < n && i < 64 && !target; i++)
                if (hb__slot_find(list[i], req->plugin))
                    target = list[i];
        if (!target) {
            char *msg = hb__asprintf("plugin %s is not loaded in the live session", req->plugin);
            json_t *j = hb__console_error_reply(HB_ENOPLUGIN, msg ? msg : "no such plugin");
            free(msg);
            return j;
        }
    }
    int r = hb_sandbox_restart(target);
    if (r < 0)
        return hb__console_error_reply(r, hb_sandbox_last_error(target));
    return json_pack("{s:b, s:s, s:i}", "ok", 1, "sandbox", target->name ? target->name : "",
                     "worker_pid", hb_sandbox_worker_pid(target));
}

json_t *hb__console_do_snapshot(hb_sandbox *sb, const hb__console_req *req)
{
    const char *a = req->action;
    int r;
    if (!strcmp(a, "list")) {
        const char *const *names = NULL;
        size_t n = 0;
        if ((r = hb_snapshot_list(sb, req->plugin, &names, &n)) < 0)
            return hb__console_error_reply(r, hb_sandbox_last_error(sb));
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_string(names[i]));
        return json_pack("{s:b, s:o}", "ok", 1, "names", arr);
    }
    r = !strcmp(a, "save")      ? hb_snapshot_save(sb, req->plugin, req->name)
        : !strcmp(a, "restore") ? hb_snapshot_restore(sb, req->plugin, req->name)
                                : hb_snapshot_delete(sb, req->plugin, req->name);
    if (r == -ENOENT && strcmp(a, "save")) {
        char *msg = hb__asprintf("%s has no snapshot named %s", req->plugin, req->name);
        json_t *j = hb__console_error_reply(r, msg ? msg : "no such snapshot");
        free(msg);
        return j;
    }
    if (r < 0)
        return hb__console_error_reply(r, hb_sandbox_last_error(sb));
    uint64_t v = 0;
    hb_active_version(sb, req->plugin, &v);
    return json_pack("{s:b, s:s, s:I}", "ok", 1, "sandbox", sb->name ? sb->name : "", "version",
                     (json_int_t)v);
}
