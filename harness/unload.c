/* harness/unload.c - hb_unload (fini runs; the plugin leaves the sandbox
 * even when fini crashes) and hb_active_version. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"

int hb_unload(hb_sandbox *sb, const char *plugin)
{
    if (!sb || !plugin)
        return -EINVAL;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin,
                           sb->name);
    int r = hb__ensure_worker(sb);
    if (r < 0)
        return r;
    if (!(s = hb__slot_find(sb, plugin)))
        return 0;
    char *err = NULL;
    r = hb__rpc_unload(sb, plugin, &err);
    uint64_t v = s->version;
    /* Gone either way: a crash in fini still removes the plugin. */
    hb__set_status(sb, plugin, v, HB_VERSION_GOOD);
    char *name = strdup(plugin);
    hb__slot_remove(sb, s);
    if (r == HB_ECRASHED || r == HB_EHUNG) {
        hb__sandbox_fail(sb, r, "fini of %s v%llu: %s", name ? name : plugin, (unsigned long long)v,
                    err ? err : "");
        hb__recover(sb, name, v, r, sb->last_error);
    } else if (r < 0) {
        hb__sandbox_fail(sb, r, "unload of %s: %s", name ? name : plugin, err ? err : hb_strerror(r));
    }
    hb__emit(sb->m, sb, HB_EVENT_UNLOADED, name, v, 0, r, NULL, "%s v%llu unloaded",
             name ? name : plugin, (unsigned long long)v);
    free(name);
    free(err);
    return r == HB_ECRASHED ? 0 : r;
}

int hb_active_version(hb_sandbox *sb, const char *plugin, uint64_t *out)
{
    if (!sb || !plugin || !out)
        return -EINVAL;
    hb_slot *s = hb__slot_find(sb, plugin);
    if (!s)
        return hb__sandbox_fail(sb, HB_ENOPLUGIN, "plugin %s is not loaded in sandbox %s", plugin,
                           sb->name);
    *out = s->version;
    return 0;
}
