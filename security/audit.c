/* security/audit.c - see audit.h. */
#include "audit.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_MAX_KEEP 99u

struct hb_audit {
    pthread_mutex_t lock;
    char *dir;
    char *path;
    int fd;
    uint64_t size;
    uint64_t max_bytes;
    unsigned keep;
};

static int open_log(hb_audit *a)
{
    int fd;
    do
        fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    a->fd = fd;
    a->size = (uint64_t)st.st_size;
    return 0;
}

int hb_audit_open(const char *state_dir, hb_audit **out, char **err)
{
    if (!state_dir || !out)
        return -EINVAL;
    hb_audit *a = calloc(1, sizeof(*a));
    if (!a)
        return hb__seterr(err, -ENOMEM, "out of memory");
    a->fd = -1;
    a->max_bytes = HB_AUDIT_DEFAULT_MAX_BYTES;
    a->keep = HB_AUDIT_DEFAULT_KEEP;
    a->dir = strdup(state_dir);
    a->path = hb__path_join(state_dir, "audit.log");
    int r = -ENOMEM;
    if (!a->dir || !a->path) {
        hb__seterr(err, r, "out of memory");
        goto fail;
    }
    if ((r = open_log(a)) < 0) {
        hb__seterr(err, r, "audit log %s: %s", a->path, strerror(-r));
        goto fail;
    }
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return 0;
fail:
    HB_FREE_ALL(a->dir, a->path, a);
    return r;
}

void hb_audit_close(hb_audit *a)
{
    if (!a)
        return;
    if (a->fd >= 0)
        close(a->fd);
    pthread_mutex_destroy(&a->lock);
    HB_FREE_ALL(a->dir, a->path, a);
}

int hb_audit_set_rotation(hb_audit *a, uint64_t max_bytes, unsigned keep)
{
    if (!a || !max_bytes || keep < 1 || keep > AUDIT_MAX_KEEP)
        return -EINVAL;
    pthread_mutex_lock(&a->lock);
    a->max_bytes = max_bytes;
    a->keep = keep;
    pthread_mutex_unlock(&a->lock);
    return 0;
}

/* audit.log.(keep-1) -> .keep, ..., audit.log -> .1, then a new audit.log. */
static int rotate(hb_audit *a)
{
    size_t plen = strlen(a->path);
    char *from = malloc(plen + 8), *to = malloc(plen + 8);
    int r = -ENOMEM;
    if (!from || !to)
        goto out;
    for (unsigned i = a->keep; i >= 1; i--) {
        snprintf(to, plen + 8, "%s.%u", a->path, i);
        if (i == 1)
            snprintf(from, plen + 8, "%s", a->path);
        else
            snprintf(from, plen + 8, "%s.%u", a->path, i - 1);
        if (rename(from, to) < 0 && errno != ENOENT) {
            r = -errno;
            goto out;
        }
    }
    close(a->fd);
    a->fd = -1;
    if ((r = open_log(a)) < 0)
        goto out;
    r = hb__fsync_dir(a->dir);
out:
    free(from);
    free(to);
    return r;
}

static void now_rfc3339(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

int hb_audit_log(hb_audit *a, const char *kind, const char *plugin, uint64_t version,
                 const char *sha, const char *profile, int code, const char *message,
                 bool security_event)
{
    if (!a || !kind)
        return -EINVAL;
    char when[48];
    now_rfc3339(when, sizeof(when));
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(o, "kind", json_string(kind));
    if (plugin)
        json_object_set_new(o, "plugin", json_string(plugin));
    if (version)
        json_object_set_new(o, "version", json_integer((json_int_t)version));
    if (sha)
        json_object_set_new(o, "sha256", json_string(sha));
    if (profile)
        json_object_set_new(o, "profile", json_string(profile));
    json_object_set_new(o, "code", json_integer(code));
    if (message)
        json_object_set_new(o, "message", json_string(message));
    json_object_set_new(o, "security", json_boolean(security_event));
    /* COMPACT keeps it one line; jansson escapes control characters. */
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line)
        return -ENOMEM; /* also: a string that is not valid UTF-8 */
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL; written with its length */
    int r = 0;
    pthread_mutex_lock(&a->lock);
    if (a->size && a->size + n + 1 > a->max_bytes)
        r = rotate(a);
    if (r == 0 && a->fd < 0)
        r = -EBADF;
    if (r == 0) {
        r = hb__write_full(a->fd, line, n + 1);
        if (r == 0) {
            a->size += n + 1;
            if (security_event && fsync(a->fd) < 0)
                r = -errno;
        }
    }
    pthread_mutex_unlock(&a->lock);
    free(line);
    return r;
}

/* ---- reading -------------------------------------------------------------- */

static const char *str_field(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static bool passes(const hb_audit_filter *f, const hb_audit_record *rec)
{
    if (!f)
        return true;
    if (f->kind && strcmp(f->kind, rec->kind) != 0)
        return false;
    if (f->plugin && strcmp(f->plugin, rec->plugin) != 0)
        return false;
    if (f->security_only && !rec->security)
        return false;
    return true;
}

int hb_audit_query(const char *state_dir, const hb_audit_filter *filter, hb_audit_fn fn,
                   void *ud, size_t *skipped, char **err)
{
    if (!state_dir || !fn)
        return -EINVAL;
    char *base = hb__path_join(state_dir, "audit.log");
    if (!base)
        return hb__seterr(err, -ENOMEM, "out of memory");
    /* Read every file first: an I/O error is reported before any record is
     * passed on (a function that fails never calls its callback). */
    void *data[AUDIT_MAX_KEEP + 1] = {0};
    size_t lens[AUDIT_MAX_KEEP + 1] = {0};
    size_t nfiles = 0;
    int r = 0;
    for (int i = (int)AUDIT_MAX_KEEP; i >= 0 && r == 0; i--) {
        char *p = i ? hb__asprintf("%s.%d", base, i) : strdup(base);
        if (!p) {
            r = hb__seterr(err, -ENOMEM, "out of memory");
            break;
        }
        void *d = NULL;
        size_t l = 0;
        int rr = hb__read_file(p, (size_t)1 << 30, &d, &l);
        if (rr == 0) {
            data[nfiles] = d;
            lens[nfiles++] = l;
        } else if (rr != -ENOENT) {
            r = hb__seterr(err, rr, "audit log %s: %s", p, strerror(-rr));
        }
        free(p);
    }
    free(base);
    size_t bad = 0;
    for (size_t f = 0; f < nfiles && r == 0; f++) {
        char *s = data[f];
        char *end = s + lens[f];
        while (s < end && r == 0) {
            char *nl = memchr(s, '\n', (size_t)(end - s));
            char *stop = nl ? nl : end;
            *stop = 0;
            if (stop > s) {
                json_error_t je;
                json_t *o = json_loads(s, 0, &je);
                if (!json_is_object(o) || !json_string_value(json_object_get(o, "kind"))) {
                    bad++;
                } else {
                    hb_audit_record rec = {
                        .time = str_field(o, "time"),
                        .pid = (long long)json_integer_value(json_object_get(o, "pid")),
                        .kind = str_field(o, "kind"),
                        .plugin = str_field(o, "plugin"),
                        .version = (uint64_t)json_integer_value(json_object_get(o, "version")),
                        .sha256 = str_field(o, "sha256"),
                        .profile = str_field(o, "profile"),
                        .code = (int)json_integer_value(json_object_get(o, "code")),
                        .message = str_field(o, "message"),
                        .security = json_is_true(json_object_get(o, "security")),
                        .json = s,
                    };
                    if (passes(filter, &rec))
                        r = fn(&rec, ud);
                }
                json_decref(o);
            }
            s = stop + 1;
        }
    }
    for (size_t f = 0; f < nfiles; f++)
        free(data[f]);
    if (skipped)
        *skipped = bad;
    return r;
}
