/*
 * harness/crash_trace.c - the symbolized backtrace of a worker's FAULT.
 *
 * The worker sends raw pcs with the load base of the plugin version each
 * lies in (proto FAULT, worker/fault.c); here each plugin frame is looked
 * up in the object the store holds for that version (versions/symbolize.c,
 * libdw) and turned into text: `at` for the one-line error (" at foo
 * (foo.c:12)"), `trace` for the lines after it and the CRASHED event's
 * backtrace field. Frames outside plugin code (the worker, libffi, libc)
 * are counted but not named.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "symbolize.h"

/* The stored object of plugin version (malloc'ed), or NULL. */
static char *object_of(hb_store *store, const char *plugin, uint64_t version)
{
    hb_version_rec rec;
    if (!store || hb_store_get(store, plugin, version, &rec) < 0)
        return NULL;
    char *path = hb_store_object_path(store, rec.object_sha256);
    hb_version_rec_release(&rec);
    return path;
}

static size_t append(char *buf, size_t len, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t append(char *buf, size_t len, size_t at, const char *fmt, ...)
{
    if (at >= len)
        return at;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + at, len - at, fmt, ap);
    va_end(ap);
    return n < 0 ? at : at + (size_t)n;
}

void hb__crash_trace(hb_store *store, const hb_proto_fault *m, struct hb_wfault *out)
{
    out->at[0] = out->trace[0] = 0;
    size_t t = 0, unnamed = 0;
    char *path = NULL, *path_plugin = NULL;
    uint64_t path_version = 0;
    for (uint32_t i = 0; i < m->nframes; i++) {
        const hb_proto_fault_frame *f = &m->frames[i];
        if (!f->plugin || !f->plugin[0] || f->pc < f->base) {
            unnamed++;
            continue;
        }
        if (!path_plugin || strcmp(path_plugin, f->plugin) != 0 || path_version != f->version) {
            free(path);
            free(path_plugin);
            path = object_of(store, f->plugin, f->version);
            path_plugin = strdup(f->plugin);
            path_version = f->version;
        }
        /* A caller's pc is its return address: the call is the byte before. */
        uint64_t addr = f->pc - f->base - (i > 0 ? 1 : 0);
        hb_symbol s;
        if (!path || hb__symbolize(path, addr, &s) < 0)
            snprintf(s.func, sizeof(s.func), "%#llx", (unsigned long long)addr);
        char where[300] = "";
        if (s.file[0] && s.line > 0)
            snprintf(where, sizeof(where), " (%s:%d)", s.file, s.line);
        if (i == 0)
            snprintf(out->at, sizeof(out->at), " at %s%s", s.func, where);
        t = append(out->trace, sizeof(out->trace), t, "%s  #%u %s%s in %s v%llu",
                   t ? "\n" : "", i, s.func, where, f->plugin,
                   (unsigned long long)f->version);
    }
    if (t && unnamed)
        append(out->trace, sizeof(out->trace), t, "\n  (%zu frame%s outside plugin code)",
               unnamed, unnamed == 1 ? "" : "s");
    free(path);
    free(path_plugin);
}
