/* harness/testhelp.c - hotbox/test.h: test sandboxes for C test suites.
 *
 * Built on the public API only (hotbox/hotbox.h) plus libc, like any user
 * of the library would write it; it lives in libhotbox for convenience. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hotbox/hotbox.h"
#include "hotbox/test.h"
#include "thread.h"
#include "util.h"

#define MAX_EVENTS 4096
#define GONE_TIMEOUT_MS 5000

typedef struct rec_event {
    hb_event_type type;
    char *plugin;
    uint64_t version;
    bool taken;
} rec_event;

struct hb_test_sandbox {
    char *tmp;      /* private temporary directory */
    char *src;      /* tmp/src/<name>: the copy of the plugin's sources */
    char *name;
    hb_manager *m;
    hb_sandbox *sb;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    rec_event ev[MAX_EVENTS];
    size_t head, count;  /* ring buffer */
    struct hb_test_sandbox *next; /* the live list for the atexit handler */
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static hb_test_sandbox *live;
static bool atexit_done;

static void free_all_at_exit(void)
{
    for (;;) {
        pthread_mutex_lock(&live_lock);
        hb_test_sandbox *ts = live;
        pthread_mutex_unlock(&live_lock);
        if (!ts)
            break;
        hb_test_sandbox_free(ts);
    }
}

static void record(const hb_event *e, void *ud)
{
    hb_test_sandbox *ts = ud;
    pthread_mutex_lock(&ts->lock);
    if (ts->count == MAX_EVENTS) { /* drop the oldest */
        free(ts->ev[ts->head].plugin);
        ts->head = (ts->head + 1) % MAX_EVENTS;
        ts->count--;
    }
    rec_event *r = &ts->ev[(ts->head + ts->count) % MAX_EVENTS];
    r->type = e->type;
    r->plugin = e->plugin ? strdup(e->plugin) : NULL;
    r->version = e->version;
    r->taken = false;
    ts->count++;
    pthread_cond_broadcast(&ts->cond);
    pthread_mutex_unlock(&ts->lock);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int copy_sources(const char *from, const char *to)
{
    DIR *d = opendir(from);
    if (!d)
        return -errno;
    int r = 0;
    struct dirent *e;
    while (r == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *a = NULL, *b = NULL;
        if (asprintf(&a, "%s/%s", from, e->d_name) < 0 || asprintf(&b, "%s/%s", to, e->d_name) < 0) {
            free(a);
            r = -ENOMEM;
            break;
        }
        struct stat st;
        if (stat(a, &st) == 0 && S_ISREG(st.st_mode))
            r = hb__copy_file(a, b, 0644);
        free(a);
        free(b);
    }
    closedir(d);
    return r;
}

static void ts_destroy(hb_test_sandbox *ts)
{
    hb_sandbox_free(ts->sb);
    hb_manager_free(ts->m);
    if (ts->tmp)
        nftw(ts->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < ts->count; i++)
        free(ts->ev[(ts->head + i) % MAX_EVENTS].plugin);
    pthread_cond_destroy(&ts->cond);
    pthread_mutex_destroy(&ts->lock);
    HB_FREE_ALL(ts->tmp, ts->src, ts->name, ts);
}

int hb_test_sandbox_new(const char *plugin_dir, hb_test_sandbox **out)
{
    if (!plugin_dir || !out)
        return -EINVAL;
    hb_test_sandbox *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return -ENOMEM;
    pthread_mutex_init(&ts->lock, NULL);
    hb__cond_init_monotonic(&ts->cond);

    int r = 0;
    char *abs = realpath(plugin_dir, NULL);
    if (!abs) {
        r = -errno;
        goto fail;
    }
    const char *base = strrchr(abs, '/');
    ts->name = strdup(base && base[1] ? base + 1 : abs);
    const char *tmpdir = getenv("TMPDIR");
    if (asprintf(&ts->tmp, "%s/hbtest-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp") < 0) {
        ts->tmp = NULL;
        free(abs);
        r = -ENOMEM;
        goto fail;
    }
    if (!ts->name || !mkdtemp(ts->tmp)) {
        r = ts->name ? -errno : -ENOMEM;
        free(ts->tmp);
        ts->tmp = NULL;
        free(abs);
        goto fail;
    }
    char *srcroot = NULL, *state = NULL;
    if (asprintf(&srcroot, "%s/src", ts->tmp) < 0 || asprintf(&ts->src, "%s/%s", srcroot, ts->name) < 0 ||
        asprintf(&state, "%s/state", ts->tmp) < 0) {
        free(srcroot);
        free(abs);
        ts->src = NULL;
        r = -ENOMEM;
        goto fail;
    }
    if (mkdir(srcroot, 0700) < 0 || mkdir(ts->src, 0700) < 0)
        r = -errno;
    free(srcroot);
    if (r == 0)
        r = copy_sources(abs, ts->src);
    free(abs);
    if (r < 0) {
        free(state);
        goto fail;
    }

    hb_manager_options mo;
    hb_manager_options_init(&mo, HB_MANAGER_OPTIONS_VERSION);
    mo.state_dir = state;
    mo.on_event = record;
    mo.event_userdata = ts;
    r = hb_manager_new(&mo, &ts->m);
    free(state);
    if (r < 0)
        goto fail;
    hb_sandbox_options so;
    hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION);
    so.name = ts->name;
    if ((r = hb_sandbox_new(ts->m, &so, &ts->sb)) < 0)
        goto fail;
    if ((r = hb_load(ts->sb, ts->src)) < 0)
        goto fail;

    pthread_mutex_lock(&live_lock);
    ts->next = live;
    live = ts;
    if (!atexit_done)
        atexit_done = atexit(free_all_at_exit) == 0;
    pthread_mutex_unlock(&live_lock);
    *out = ts;
    return 0;
fail:
    ts_destroy(ts);
    return r;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int hb_test_sandbox_free(hb_test_sandbox *ts)
{
    if (!ts)
        return 0;
    pthread_mutex_lock(&live_lock);
    for (hb_test_sandbox **pp = &live; *pp; pp = &(*pp)->next)
        if (*pp == ts) {
            *pp = ts->next;
            break;
        }
    pthread_mutex_unlock(&live_lock);

    /* A pidfd taken while the worker runs keeps naming that process even
     * after it exits, so "gone" is checked without any pid-reuse race. */
    int pid = ts->sb ? hb_sandbox_worker_pid(ts->sb) : -1;
    int pfd = pid > 0 ? pidfd_open_(pid) : -1;
    ts_destroy(ts);
    if (pfd < 0)
        return 0; /* no worker, or it was already gone (ESRCH) */
    struct pollfd p = {pfd, POLLIN, 0};
    int n;
    do
        n = poll(&p, 1, GONE_TIMEOUT_MS);
    while (n < 0 && errno == EINTR);
    int r = 0;
    if (n == 0) {
#ifdef SYS_pidfd_send_signal
        syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
#else
        kill(pid, SIGKILL);
#endif
        r = -ETIMEDOUT;
    }
    close(pfd);
    return r;
}

hb_sandbox *hb_test_sandbox_handle(hb_test_sandbox *ts)
{
    return ts ? ts->sb : NULL;
}

hb_manager *hb_test_sandbox_manager(hb_test_sandbox *ts)
{
    return ts ? ts->m : NULL;
}

const char *hb_test_sandbox_plugin(hb_test_sandbox *ts)
{
    return ts ? ts->name : NULL;
}

const char *hb_test_sandbox_dir(hb_test_sandbox *ts)
{
    return ts ? ts->src : NULL;
}

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

int hb_test_wait_event(hb_test_sandbox *ts, hb_event_type type, const char *plugin,
                       uint64_t version, unsigned timeout_ms)
{
    if (!ts)
        return -EINVAL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ts->lock);
    int r = -ETIMEDOUT;
    for (;;) {
        for (size_t i = 0; i < ts->count; i++) {
            rec_event *e = &ts->ev[(ts->head + i) % MAX_EVENTS];
            if (e->taken || e->type != type || (version && e->version != version) ||
                (plugin && (!e->plugin || strcmp(plugin, e->plugin) != 0)))
                continue;
            e->taken = true;
            r = 0;
            goto out;
        }
        int w = pthread_cond_timedwait(&ts->cond, &ts->lock, &deadline);
        if (w == ETIMEDOUT)
            break;
    }
out:
    pthread_mutex_unlock(&ts->lock);
    return r;
}

static int write_atomic(const char *dir, const char *file, const char *text)
{
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/%s", dir, file) < 0)
        return -ENOMEM;
    if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, file) < 0) {
        free(path);
        return -ENOMEM;
    }
    int r = 0;
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        off += (size_t)n;
    }
    if (r == 0 && fchmod(fd, 0644) < 0)
        r = -errno;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
out:
    free(path);
    free(tmp);
    return r;
}

int hb_test_write_source(hb_test_sandbox *ts, const char *file, const char *text,
                         unsigned timeout_ms, uint64_t *version_out)
{
    if (!ts || !file || !text || !*file || strchr(file, '/') || !strcmp(file, ".") ||
        !strcmp(file, ".."))
        return -EINVAL;
    uint64_t t0 = mono_ms();
    int r = write_atomic(ts->src, file, text);
    if (r < 0)
        return r;
    uint64_t after = 0;
    if ((r = hb_reload(ts->sb, ts->name)) < 0)
        return r;
    if ((r = hb_active_version(ts->sb, ts->name, &after)) < 0)
        return r;
    if (timeout_ms && mono_ms() - t0 > timeout_ms)
        return -ETIMEDOUT;
    if (version_out)
        *version_out = after;
    return 0;
}
