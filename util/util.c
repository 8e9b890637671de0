/* util/util.c - see util.h. */
#include "argv.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- hb_sb ---------------------------------------------------------------- */

int hb__sb_grow(hb_sb *sb, size_t extra)
{
    if (sb->len + extra + 1 <= sb->cap)
        return 0;
    if (extra > SIZE_MAX / 2 - sb->len)
        return -ENOMEM;
    size_t want = sb->len + extra + 1;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < want)
        cap *= 2;
    char *p = realloc(sb->buf, cap);
    if (!p)
        return -ENOMEM;
    sb->buf = p;
    sb->cap = cap;
    return 0;
}

int hb__sb_add(hb_sb *sb, const void *data, size_t len)
{
    int r = hb__sb_grow(sb, len);
    if (r < 0)
        return r;
    if (len)
        memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
    return 0;
}

int hb__sb_adds(hb_sb *sb, const char *s)
{
    return hb__sb_add(sb, s, strlen(s));
}

int hb__sb_vaddf(hb_sb *sb, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return -EINVAL;
    int r = hb__sb_grow(sb, (size_t)n);
    if (r < 0)
        return r;
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
    return 0;
}

int hb__sb_addf(hb_sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = hb__sb_vaddf(sb, fmt, ap);
    va_end(ap);
    return r;
}

void hb__sb_reset(hb_sb *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void hb__sb_release(hb_sb *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

char *hb__sb_detach(hb_sb *sb)
{
    char *p = sb->buf;
    if (!p)
        p = calloc(1, 1);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return p;
}

char *hb__vasprintf(const char *fmt, va_list ap)
{
    hb_sb sb = HB_SB_INIT;
    if (hb__sb_vaddf(&sb, fmt, ap) < 0) {
        hb__sb_release(&sb);
        return NULL;
    }
    return hb__sb_detach(&sb);
}

char *hb__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = hb__vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

int hb__seterr(char **slot, int code, const char *fmt, ...)
{
    if (!slot)
        return code;
    hb_sb sb = HB_SB_INIT;
    va_list ap;
    va_start(ap, fmt);
    int r = hb__sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    free(*slot);
    *slot = r < 0 ? NULL : hb__sb_detach(&sb);
    if (r < 0)
        hb__sb_release(&sb);
    return code;
}

/* ---- files ---------------------------------------------------------------- */

int hb__read_file(const char *path, size_t max, void **data, size_t *len)
{
    /* O_NONBLOCK: a FIFO put where a file is expected (a plugin.json, a
     * cache file) must not block the open until a writer comes. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    int bad = fstat(fd, &st) < 0 ? -errno : 0;
    if (!bad && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
        bad = -EINVAL;
    if (bad) {
        close(fd);
        return bad;
    }
    hb_sb sb = HB_SB_INIT;
    int r = 0;
    for (;;) {
        r = hb__sb_grow(&sb, 65536);
        if (r < 0)
            goto out_close;
        ssize_t n = read(fd, sb.buf + sb.len, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out_close;
        }
        if (n == 0)
            break;
        sb.len += (size_t)n;
        if (sb.len > max) {
            r = -EFBIG;
            goto out_close;
        }
    }
    if (hb__sb_grow(&sb, 0) < 0) {
        r = -ENOMEM;
        goto out_close;
    }
    sb.buf[sb.len] = '\0';
    *len = sb.len;
    *data = hb__sb_detach(&sb);
out_close:
    close(fd);
    if (r < 0)
        hb__sb_release(&sb);
    return r;
}

int hb__fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static char *dirname_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static int write_atomic(const char *path, const void *data, size_t len, mode_t mode, bool sync)
{
    char *dir = dirname_of(path);
    char *tmp = hb__asprintf("%s.tmp.XXXXXX", path);
    int r = 0, fd = -1;
    if (!dir || !tmp) {
        r = -ENOMEM;
        goto out_free;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto out_free;
    }
    r = hb__write_full(fd, data, len);
    if (r < 0)
        goto out_unlink;
    if (fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0)) {
        r = -errno;
        goto out_unlink;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        goto out_unlink;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        goto out_unlink;
    }
    r = sync ? hb__fsync_dir(dir) : 0;
    goto out_free;
out_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out_free:
    free(tmp);
    free(dir);
    return r;
}

int hb__write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    return write_atomic(path, data, len, mode, true);
}

int hb__write_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
    return write_atomic(path, data, len, mode, false);
}

int hb__mkdir_p(const char *path, mode_t mode)
{
    char *p = strdup(path);
    if (!p)
        return -ENOMEM;
    int r = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, mode) < 0 && errno != EEXIST) {
                r = -errno;
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    if (r == 0) {
        struct stat st;
        if (stat(path, &st) < 0)
            r = -errno;
        else if (!S_ISDIR(st.st_mode))
            r = -ENOTDIR;
    }
    free(p);
    return r;
}

static int rm_rf_at(int parent, const char *name)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -errno : 0;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -errno;
    }
    int r = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int rr = rm_rf_at(dirfd(d), e->d_name);
        if (rr < 0 && r == 0)
            r = rr;
    }
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
        r = -errno;
    return r;
}

int hb__rm_rf(const char *path)
{
    return rm_rf_at(AT_FDCWD, path);
}

int hb__mkdtemp_in(const char *parent, const char *prefix, char **out)
{
    char *t = hb__asprintf("%s/%sXXXXXX", parent, prefix);
    if (!t)
        return -ENOMEM;
    if (!mkdtemp(t)) {
        int r = -errno;
        free(t);
        return r;
    }
    *out = t;
    return 0;
}

char *hb__path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    while (*b == '/')
        b++;
    return hb__asprintf("%.*s/%s", (int)la, a, b);
}

int hb__realpath(const char *path, char **out)
{
    char *p = realpath(path, NULL);
    if (!p)
        return -errno;
    *out = p;
    return 0;
}

bool hb__path_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 1 && dir[0] == '/')
        return path[0] == '/';
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
}

char *hb__basename(const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    return strndup(path + start, len - start);
}

/* ---- hashing -------------------------------------------------------------- */

struct hb_sha256 {
    EVP_MD_CTX *ctx;
};

static void to_hex(const unsigned char *md, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
}

hb_sha256 *hb__sha256_new(void)
{
    hb_sha256 *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
    }
    return h;
}

void hb__sha256_update(hb_sha256 *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void hb__sha256_update_framed(hb_sha256 *h, const void *data, size_t len)
{
    uint64_t l = len;
    EVP_DigestUpdate(h->ctx, &l, sizeof(l));
    EVP_DigestUpdate(h->ctx, data, len);
}

void hb__sha256_final(hb_sha256 *h, char out[HB_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    to_hex(md, n, out);
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void hb__sha256_hex(const void *data, size_t len, char out[HB_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    to_hex(md, n, out);
}

/* Pseudo file systems whose "regular files" are generated on read
 * (/proc/self/environ, /sys/...): their content is not a file's content. */
static bool is_pseudo_fs(int fd)
{
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0)
        return false;
    return sfs.f_type == PROC_SUPER_MAGIC || sfs.f_type == SYSFS_MAGIC ||
           sfs.f_type == DEBUGFS_MAGIC || sfs.f_type == TRACEFS_MAGIC;
}

int hb__sha256_file(const char *path, char out[HB_SHA256_HEX])
{
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the type check
     * below then refuses it (and devices, /dev/stdin, /proc files) before
     * any read could block or read something that is not a file. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode) || is_pseudo_fs(fd)) {
        close(fd);
        return -EINVAL;
    }
    hb_sha256 *h = hb__sha256_new();
    if (!h) {
        close(fd);
        return -ENOMEM;
    }
    unsigned char buf[65536];
    int r = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        hb__sha256_update(h, buf, (size_t)n);
    }
    close(fd);
    char tmp[HB_SHA256_HEX];
    hb__sha256_final(h, tmp);
    if (r == 0)
        memcpy(out, tmp, HB_SHA256_HEX);
    return r;
}

/* ---- time, io, signals ---------------------------------------------------- */

uint64_t hb__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double hb__ms_since(uint64_t start_ns)
{
    return (double)(hb__now_ns() - start_ns) / 1e6;
}

const char *hb__enum_name(const char *const *names, size_t n, long v)
{
    if (v < 0 || (unsigned long)v >= n || !names[v])
        return "unknown";
    return names[v];
}

const char *hb__signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
        {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < HB_ARRAY_SIZE(names); i++)
        if (names[i].sig == sig)
            return names[i].name;
    static _Thread_local char buf[32];
    snprintf(buf, sizeof(buf), "signal %d", sig);
    return buf;
}

const char *hb__describe_wait_status(int status, char *buf, size_t len)
{
    if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by %s (%s)%s", hb__signal_name(WTERMSIG(status)),
                 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else
        snprintf(buf, len, "stopped (wait status 0x%x)", (unsigned)status);
    return buf;
}

/* ---- strings -------------------------------------------------------------- */

char **hb__split_blank(const char *s)
{
    hb_argv v = HB_ARGV_INIT;
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, " \t\n");
        hb__argv_pushf(&v, "%.*s", (int)len, s);
        s += len;
    }
    char **out = NULL;
    return hb__argv_detach(&v, &out) < 0 ? NULL : out;
}

char **hb__split_lines(const char *s)
{
    hb_argv v = HB_ARGV_INIT;
    while (s && *s) {
        size_t len = strcspn(s, "\n");
        if (len)
            hb__argv_pushf(&v, "%.*s", (int)len, s);
        s += len + (s[len] == '\n');
    }
    char **out = NULL;
    return hb__argv_detach(&v, &out) < 0 ? NULL : out;
}

void hb__strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

void hb__strs_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int hb__wait_fd(int fd, short events, uint64_t deadline_ns)
{
    for (;;) {
        int ms = -1;
        if (deadline_ns != UINT64_MAX) {
            uint64_t now = hb__now_ns();
            if (now >= deadline_ns)
                return -ETIMEDOUT;
            uint64_t left = (deadline_ns - now + 999999u) / 1000000u;
            ms = left > INT32_MAX ? INT32_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

void hb__free_n(void *const *ptrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ptrs[i]);
}

void hb__close_n(const int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

void hb__strv_free_n(char **const *vecs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        hb__strv_free(vecs[i]);
}

size_t hb__strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

bool hb__strv_contains(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

bool hb__strv_equal(char *const *a, char *const *b)
{
    size_t i = 0;
    for (; a && a[i] && b && b[i]; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return !(a && a[i]) && !(b && b[i]);
}

int hb__strv_push(char ***v, const char *s)
{
    size_t n = hb__strv_len(*v);
    char *copy = strdup(s);
    char **nv = copy ? realloc(*v, (n + 2) * sizeof(*nv)) : NULL;
    if (!nv) {
        free(copy);
        return -ENOMEM;
    }
    nv[n] = copy;
    nv[n + 1] = NULL;
    *v = nv;
    return 0;
}

long hb__dir_count(const char *path)
{
    DIR *d = opendir(path); /* glibc opens it O_CLOEXEC */
    if (!d)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int hb__dir_any(const char *dir, bool (*pred)(const char *dir, const char *name, void *arg),
                void *arg)
{
    DIR *d = opendir(dir); /* glibc opens it O_CLOEXEC */
    if (!d)
        return -errno;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        found = e->d_name[0] != '.' && pred(dir, e->d_name, arg);
    closedir(d);
    return found;
}

void *hb__grow(void *arr, size_t len, size_t *cap, size_t elem)
{
    if (len < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 8;
    if (ncap < *cap || ncap > SIZE_MAX / elem)
        return NULL;
    void *n = realloc(arr, ncap * elem);
    if (n)
        *cap = ncap;
    return n;
}

void *hb__push(void *arrp, size_t *len, size_t *cap, size_t elem)
{
    void *arr;
    memcpy(&arr, arrp, sizeof(arr));
    char *n = hb__grow(arr, *len, cap, elem);
    if (!n)
        return NULL;
    memcpy(arrp, &n, sizeof(n));
    char *e = n + *len * elem;
    memset(e, 0, elem);
    (*len)++;
    return e;
}

void *hb__push_named(void *arrp, size_t *len, size_t *cap, size_t elem, size_t name_off,
                     const char *name)
{
    char *copy = strdup(name);
    char *e = copy ? hb__push(arrp, len, cap, elem) : NULL;
    if (!e) {
        free(copy);
        return NULL;
    }
    memcpy(e + name_off, &copy, sizeof(copy));
    return e;
}

char **hb__strv_pack(const char *const *v, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(v[i]) + 1;
    char **out = malloc((n + 1) * sizeof(char *) + bytes);
    if (!out)
        return NULL;
    char *p = (char *)(out + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(p, v[i], l);
        out[i] = p;
        p += l;
    }
    out[n] = NULL;
    return out;
}

char **hb__strv_dup(char *const *v)
{
    char **out = calloc(1, sizeof(*out));
    for (size_t i = 0; out && v && v[i]; i++)
        if (hb__strv_push(&out, v[i]) < 0) {
            hb__strv_free(out);
            return NULL;
        }
    return out;
}

bool hb__has_suffix(const char *name, const char *suffix)
{
    size_t a = strlen(name), b = strlen(suffix);
    return a >= b && memcmp(name + a - b, suffix, b) == 0;
}

int hb__parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}
