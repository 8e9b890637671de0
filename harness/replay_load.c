/* harness/replay_load.c - a replay worker's plugin: one stored version
 * loaded with a recorded checkpoint (replay.c). Unlike hb_load nothing is
 * built and no catalogue status changes: a replay is an observer. */
#include "replay_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"

/* Drops the plugin's slot (its worker copy too) so the next load starts
 * from the segment's state. A worker that is down is started again. */
static int clear(hb_sandbox *sb, const char *name)
{
    if (sb->down || sb->failed || sb->restart_pending) {
        for (size_t i = sb->nslots; i-- > 0;)
            hb__slot_remove(sb, &sb->slots[i]);
        sb->down = sb->failed = false;
        return hb__restart_worker(sb, "replay: the next segment starts in a fresh worker");
    }
    hb_slot *s = hb__slot_find(sb, name);
    if (!s)
        return 0;
    char *err = NULL;
    int r = hb__rpc_unload(sb, name, &err);
    free(err);
    hb__slot_remove(sb, s);
    if (r < 0) /* a worker that fails to unload is replaced */
        return hb__restart_worker(sb, "replay: unload failed");
    return 0;
}

int hb__replay_load(hb_sandbox *sb, const char *name, const char *dir,
                    const hb_version_rec *rec, const hb_rec_segment *seg, char **why)
{
    int r = clear(sb, name);
    if (r < 0 || (r = hb__ensure_worker(sb)) < 0)
        return hb__seterr(why, r, "no replay worker: %s", sb->last_error);
    char *path = hb__object_path(sb, rec->object_sha256);
    hb_slot *ns = realloc(sb->slots, (sb->nslots + 1) * sizeof(*ns));
    if (ns)
        sb->slots = ns;
    if (!path || !ns) {
        free(path);
        return hb__seterr(why, -ENOMEM, "out of memory");
    }
    hb_ckpt ck = {.valid = seg->has_state, .version = seg->version, .schema = seg->schema,
                  .data = (void *)seg->state, .len = seg->len};
    hb_load_reply lr;
    char *err = NULL;
    r = hb__rpc_load(sb, name, path, rec->version, ck.valid ? &ck : NULL, &lr, &err);
    if (r < 0) {
        hb__seterr(why, r, "loading %s v%llu with the state recorded at offset %llu failed: %s",
                   name, (unsigned long long)rec->version, (unsigned long long)seg->offset,
                   err ? err : hb_strerror(r));
        free(err);
        free(path);
        return r;
    }
    free(err);
    hb_slot *s = &sb->slots[sb->nslots];
    memset(s, 0, sizeof(*s));
    s->name = strdup(name);
    s->dir = strdup(dir);
    if (!s->name || !s->dir) {
        free(s->name);
        free(s->dir);
        free(path);
        return hb__seterr(why, -ENOMEM, "out of memory");
    }
    sb->nslots++;
    hb__slot_activate(s, path, rec->version, rec->object_sha256);
    s->schema = lr.schema;
    s->hooks = lr.hooks;
    s->last_ckpt_ns = hb__now_ns();
    return 0;
}
