/* harness/slots.c - the plugin slots of a sandbox: finding, activating and
 * removing them, and the catalogue status of the versions they hold. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox_impl.h"
#include "settings.h"

hb_slot *hb__slot_find(hb_sandbox *sb, const char *name)
{
    for (size_t i = 0; i < sb->nslots; i++)
        if (strcmp(sb->slots[i].name, name) == 0)
            return &sb->slots[i];
    return NULL;
}

void hb__slot_release(hb_slot *s)
{
    HB_FREE_ALL(s->name, s->dir, s->path);
    hb_dwarf_info_free(s->dwarf);
    hb_ckset_release(&s->ckpts);
    hb__runtime_settings_release(&s->rt);
    memset(s, 0, sizeof(*s));
}

void hb__slot_remove(hb_sandbox *sb, hb_slot *s)
{
    size_t i = (size_t)(s - sb->slots);
    hb__slot_release(s);
    memmove(&sb->slots[i], &sb->slots[i + 1], (sb->nslots - i - 1) * sizeof(*s));
    sb->nslots--;
}

void hb__slot_set_version(hb_slot *s, char *path, uint64_t version, const char *sha)
{
    free(s->path);
    s->path = path;
    s->version = version;
    memcpy(s->sha, sha, HB_SHA256_HEX);
}

void hb__slot_activate(hb_slot *s, char *path, uint64_t version, const char *sha)
{
    hb__slot_set_version(s, path, version, sha);
    /* The runtime section as it is on disk now; a file that went bad since
     * the compile keeps the previous values (the next compile reports it). */
    hb__runtime_settings rt;
    char *err = NULL;
    if (s->dir && *s->dir && hb__runtime_read(s->dir, &rt, &err) == 0) {
        hb__runtime_settings_release(&s->rt);
        s->rt = rt;
    }
    free(err);
}

void hb__set_status(hb_sandbox *sb, const char *plugin, uint64_t v, hb_version_status st)
{
    hb_store_set_status(sb->m->store, plugin, v, st);
}

void hb__store_durable(hb_sandbox *sb)
{
    char *err = NULL;
    if (hb_store_flush(sb->m->store, &err) < 0)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "the version store could not be synced to disk (a power loss may lose the "
                 "latest versions): %s", err ? err : "unknown error");
    free(err);
}

char *hb__object_path(hb_sandbox *sb, const char *sha)
{
    char *path = hb_store_object_path(sb->m->store, sha);
    return path;
}

int hb__versions_of(hb_sandbox *sb, const char *plugin, hb_version_rec **v, size_t *n)
{
    *v = NULL;
    *n = 0;
    int r = hb_store_list(sb->m->store, plugin, v, n);
    return r;
}
