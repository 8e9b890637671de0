/* state/state.c - see state.h. */
#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int hb_checkpoint_set(hb_ckpt *c, uint64_t version, uint32_t schema,
                      const void *data, size_t len, uint64_t now_ns)
{
    void *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    free(c->data);
    c->valid = true;
    c->version = version;
    c->schema = schema;
    c->data = copy;
    c->len = len;
    c->taken_ns = now_ns;
    return 0;
}

void hb_checkpoint_release(hb_ckpt *c)
{
    free(c->data);
    memset(c, 0, sizeof(*c));
}

int hb_ckset_record(hb_ckset *s, uint64_t version, uint32_t schema, const void *data,
                    size_t len, uint64_t now_ns)
{
    hb_ckpt *slot = NULL;
    for (size_t i = 0; i < s->nschemas; i++)
        if (s->by_schema[i].schema == schema)
            slot = &s->by_schema[i];
    if (!slot) {
        if (s->nschemas == HB_CKSET_MAX_SCHEMAS) {
            /* Forget the stalest schema to stay bounded. */
            size_t oldest = 0;
            for (size_t i = 1; i < s->nschemas; i++)
                if (s->by_schema[i].taken_ns < s->by_schema[oldest].taken_ns)
                    oldest = i;
            hb_checkpoint_release(&s->by_schema[oldest]);
            s->by_schema[oldest] = s->by_schema[s->nschemas - 1];
            memset(&s->by_schema[s->nschemas - 1], 0, sizeof(hb_ckpt));
            s->nschemas--;
        }
        slot = &s->by_schema[s->nschemas];
        memset(slot, 0, sizeof(*slot));
        int r = hb_checkpoint_set(slot, version, schema, data, len, now_ns);
        if (r < 0)
            return r;
        s->nschemas++;
    } else {
        int r = hb_checkpoint_set(slot, version, schema, data, len, now_ns);
        if (r < 0)
            return r;
    }
    return hb_checkpoint_set(&s->latest, version, schema, data, len, now_ns);
}

const hb_ckpt *hb_ckset_for_schema(const hb_ckset *s, uint32_t schema)
{
    for (size_t i = 0; i < s->nschemas; i++)
        if (s->by_schema[i].valid && s->by_schema[i].schema == schema)
            return &s->by_schema[i];
    return NULL;
}

void hb_ckset_release(hb_ckset *s)
{
    hb_checkpoint_release(&s->latest);
    for (size_t i = 0; i < s->nschemas; i++)
        hb_checkpoint_release(&s->by_schema[i]);
    s->nschemas = 0;
}
