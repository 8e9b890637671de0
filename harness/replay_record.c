/* harness/replay_record.c - recording the calls of a sandbox for
 * differential replay (replay.h, docs/replay.md).
 *
 * The call path pays for a lookup and a copy: the CALL frame the call sent
 * and the CALL OK frame it got back are already encoded, and their
 * payloads are appended to the plugin's buffer as they are. Files are
 * written at a segment start (which already costs a SAVE round trip),
 * when a buffer passes FLUSH_AT, and when the sandbox goes. */
#include "replay.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recording.h"
#include "sandbox_impl.h"
#include "util.h"

#define FLUSH_AT (256u << 10)

typedef struct rec_plugin {
    char *name;
    uint64_t version; /* of the open segment */
    pid_t pid;        /* the worker it ran in */
    bool open;        /* a segment was recorded for this load */
    uint64_t segment; /* its id */
    hb_wbuf buf;      /* records not written yet */
} rec_plugin;

struct hb_recorder {
    char *dir;
    rec_plugin *plugins;
    size_t nplugins, cap;
    size_t last; /* index of the last plugin used: calls come in runs */
};

int hb__recorder_new(const char *dir, hb_recorder **out, char **err)
{
    int r = hb__mkdir_p(dir, 0755);
    if (r < 0)
        return hb__seterr(err, r, "cannot create the recording directory %s: %s", dir,
                          strerror(-r));
    hb_recorder *rec = calloc(1, sizeof(*rec));
    if (!rec || !(rec->dir = strdup(dir))) {
        free(rec);
        return hb__seterr(err, -ENOMEM, "out of memory");
    }
    *out = rec;
    return 0;
}

static rec_plugin *find(hb_recorder *rec, const char *name, bool add)
{
    if (rec->last < rec->nplugins && strcmp(rec->plugins[rec->last].name, name) == 0)
        return &rec->plugins[rec->last];
    for (size_t i = 0; i < rec->nplugins; i++)
        if (strcmp(rec->plugins[i].name, name) == 0) {
            rec->last = i;
            return &rec->plugins[i];
        }
    if (!add)
        return NULL;
    rec_plugin *p = hb__push_named(&rec->plugins, &rec->nplugins, &rec->cap, sizeof(*p),
                                   offsetof(rec_plugin, name), name);
    if (p)
        rec->last = rec->nplugins - 1;
    return p;
}

/* Appends p's buffer to its file under an exclusive lock (two sandboxes
 * may record the same plugin), with the header first in a new file. */
static int write_out(hb_recorder *rec, rec_plugin *p, char **path_out)
{
    if (!p->buf.len && !p->buf.failed)
        return 0;
    int r = 0;
    char *file = hb__asprintf("%s/%s.hbrec", rec->dir, p->name);
    if (!file || p->buf.failed) {
        r = -ENOMEM;
        goto out;
    }
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            r = -errno;
            break;
        }
    struct stat st;
    if (r == 0 && fstat(fd, &st) < 0)
        r = -errno;
    if (r == 0 && st.st_size == 0) {
        hb_wbuf h = {0};
        hb__rec_put_header(&h);
        r = h.failed ? -ENOMEM : hb__write_full(fd, h.data, h.len);
        hb__wire_release(&h);
    }
    if (r == 0)
        r = hb__write_full(fd, p->buf.data, p->buf.len);
    close(fd); /* drops the lock */
out:
    p->buf.len = 0;
    p->buf.failed = false;
    if (path_out)
        *path_out = file;
    else
        free(file);
    return r;
}

static void flush_one(hb_sandbox *sb, rec_plugin *p)
{
    char *file = NULL;
    int r = write_out(sb->recorder, p, &file);
    if (r < 0 && sb->m)
        hb__emit(sb->m, sb, HB_EVENT_WARNING, p->name, 0, 0, r, NULL,
                 "recording of %s: writing %s failed: %s; those calls are not recorded",
                 p->name, file ? file : sb->recorder->dir, hb_strerror(r));
    free(file);
}

void hb__recorder_flush(hb_sandbox *sb, const char *plugin)
{
    hb_recorder *rec = sb->recorder;
    if (!rec)
        return;
    for (size_t i = 0; i < rec->nplugins; i++)
        if (!plugin || strcmp(plugin, rec->plugins[i].name) == 0)
            flush_one(sb, &rec->plugins[i]);
}

void hb__recorder_free(hb_recorder *rec)
{
    if (!rec)
        return;
    for (size_t i = 0; i < rec->nplugins; i++) {
        write_out(rec, &rec->plugins[i], NULL); /* nobody is left to tell */
        hb__wire_release(&rec->plugins[i].buf);
        free(rec->plugins[i].name);
    }
    free(rec->plugins);
    free(rec->dir);
    free(rec);
}

int hb__record_begin(hb_sandbox *sb, hb_slot *s)
{
    rec_plugin *p = find(sb->recorder, s->name, true);
    if (!p)
        return hb__sandbox_fail(sb, -ENOMEM, "out of memory");
    if (p->open && p->version == s->version && p->pid == sb->wc.pid)
        return 0;
    /* The state this segment starts from: its checkpoint now. */
    if (s->hooks & HB_PROTO_HOOK_SAVE) {
        int r = hb__checkpoint_one(sb, s);
        if (r < 0)
            return r;
    }
    const hb_ckpt *ck = &s->ckpts.latest;
    bool has = (s->hooks & HB_PROTO_HOOK_SAVE) && ck->valid;
    flush_one(sb, p); /* the previous segment's calls, off the call path */
    uint64_t id;
    if (getrandom(&id, sizeof(id), 0) != sizeof(id)) /* not secret; unique enough */
        id = ((uint64_t)getpid() << 40) ^ hb__now_ns();
    hb__rec_put_segment(&p->buf, id, s->name, s->version, s->sha, has, ck->schema, ck->data,
                        ck->len);
    p->segment = id;
    p->open = true;
    p->version = s->version;
    p->pid = sb->wc.pid;
    return 0;
}

void hb__record_call(hb_sandbox *sb, const char *plugin, const hb_wbuf *req, int r,
                     const hb_frame *reply, const char *err)
{
    rec_plugin *p = find(sb->recorder, plugin, false);
    if (!p || req->failed || req->len < HB_WIRE_HEADER)
        return;
    hb__rec_put_call(&p->buf, p->segment, req->data + HB_WIRE_HEADER, req->len - HB_WIRE_HEADER, r,
                     r == 0 ? reply->payload : NULL, r == 0 ? reply->len : 0,
                     err ? err : (r ? hb_strerror(r) : NULL));
    if (p->buf.len >= FLUSH_AT)
        flush_one(sb, p);
}
