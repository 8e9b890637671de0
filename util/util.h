/*
 * util/util.h - small helpers shared by every hotbox module: error text,
 * files written atomically, SHA-256 (OpenSSL), clocks, fd helpers.
 *
 * util depends on nothing else in hotbox. Names are prefixed hb__.
 */
#ifndef HB_UTIL_H
#define HB_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The one way to name an enum value: NAMES is a string array indexed by the
 * enum, written with designated initializers ([HB_X_A] = "a", ...). Gives
 * "unknown" for a value outside the array or one the array has no name for
 * (the bounds check lives here, once, not at every caller). */
const char *hb__enum_name(const char *const *names, size_t n, long v);
#define HB_ENUM_NAME(names, v) hb__enum_name((names), HB_ARRAY_SIZE(names), (long)(v))
/* Defines `const char *fn(T v)` over such a table, the designated
 * initializers given after T: one statement per enum. Write `static`
 * before it for a function private to its file. */
#define HB_ENUM_NAMES(fn, T, ...)                                                                  \
    const char *fn(T v)                                                                            \
    {                                                                                              \
        static const char *const names_[] = {__VA_ARGS__};                                         \
        return HB_ENUM_NAME(names_, v);                                                            \
    }
#define HB_SHA256_HEX 65 /* 64 hex digits + NUL */

/* A growable byte/text buffer in the spirit of git's strbuf. buf is always
 * NUL-terminated when non-NULL; len excludes the NUL. Zero-initialise it
 * (HB_SB_INIT) before use; hb__sb_release frees and re-zeroes it. */
typedef struct hb_sb {
    char *buf;
    size_t len;
    size_t cap;
} hb_sb;
#define HB_SB_INIT {0, 0, 0}
int hb__sb_grow(hb_sb *sb, size_t extra);
int hb__sb_add(hb_sb *sb, const void *data, size_t len);
int hb__sb_adds(hb_sb *sb, const char *s);
int hb__sb_addf(hb_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int hb__sb_vaddf(hb_sb *sb, const char *fmt, va_list ap);
void hb__sb_reset(hb_sb *sb); /* len = 0, keeps memory */
void hb__sb_release(hb_sb *sb);
char *hb__sb_detach(hb_sb *sb); /* returns buf (maybe "" allocated), zeroes sb */

/* malloc'ed printf. Returns NULL on allocation failure. */
char *hb__asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* hb__asprintf with a va_list. */
char *hb__vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Replaces *slot (freed) with a formatted message. Never fails: on
 * allocation failure *slot becomes NULL. slot may be NULL (the caller wants
 * no text). Returns `code` for tail calls. */
int hb__seterr(char **slot, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a whole file (at most max bytes; -EFBIG beyond). *data is
 * NUL-terminated for convenience. A FIFO or socket is refused (-EINVAL)
 * without waiting for a writer. Returns 0 or -errno. */
int hb__read_file(const char *path, size_t max, void **data, size_t *len);

/* Writes data to path atomically: temp file in the same directory, fsync,
 * rename over path, fsync of the directory. Returns 0 or -errno. */
int hb__write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* The same without either fsync: readers never see a partial file, and a
 * killed process leaves it whole, but a machine crash may lose it. For
 * records that mean nothing after a reboot (a worker's pid in run/). */
int hb__write_file_replace(const char *path, const void *data, size_t len, mode_t mode);

/* fsync a directory by path. */
int hb__fsync_dir(const char *dir);

/* mkdir -p. Returns 0 or -errno. */
int hb__mkdir_p(const char *path, mode_t mode);

/* rm -rf (does not follow symlinks). Missing path is success. */
int hb__rm_rf(const char *path);

/* Creates a fresh directory "<parent>/<prefix>XXXXXX"; *out is malloc'ed. */
int hb__mkdtemp_in(const char *parent, const char *prefix, char **out);

/* Joins two path parts with one '/'. malloc'ed, NULL on ENOMEM. */
char *hb__path_join(const char *a, const char *b);

/* Absolute, normalised path of an existing file (realpath). malloc'ed. */
int hb__realpath(const char *path, char **out);
/* Whether path is dir or lies beneath it, comparing the text ("/a/b" is
 * under "/a" and "/"; "/ab" is not under "/a"). Both absolute; no
 * normalisation: resolve first when symlinks or ".." matter. */
bool hb__path_under(const char *path, const char *dir);
/* Finding hotbox's helper files (libexec.c): the first of a and b that is
 * set and not empty (an option, getenv(...)), or NULL; and
 * <dir>/../libexec/hotbox/<name>, dir holding the library or program that
 * contains addr, when it passes access(mode) (malloc'ed; else NULL). The
 * layout is the same in the build tree and installed. */
const char *hb__nonempty(const char *a, const char *b);
char *hb__libexec_file(const void *addr, const char *name, int mode);

/* Last path component without trailing slashes, malloc'ed. */
char *hb__basename(const char *path);

/* SHA-256 as lowercase hex. */
void hb__sha256_hex(const void *data, size_t len, char out[HB_SHA256_HEX]);
/* Hashes a regular file's content. Anything else (a FIFO, a device such as
 * /dev/stdin, a socket, a file on /proc or /sys) is refused with -EINVAL
 * without reading from it: the open never blocks. */
int hb__sha256_file(const char *path, char out[HB_SHA256_HEX]);
/* The same, remembering each file's hash by its identity (device, inode,
 * size, mtime, ctime) for the life of the process (util/hashcache.c): a
 * file that did not change since it was last hashed is not read again. A
 * file changed in the current clock tick, or on a file system without
 * nanosecond timestamps, is always read. Thread-safe. */
int hb__sha256_file_cached(const char *path, char out[HB_SHA256_HEX]);
/* Calls of hb__sha256_file_cached answered from memory, and files read. */
void hb__hash_cache_stats(uint64_t *hits, uint64_t *reads);
void hb__hash_cache_clear(void); /* forgets every entry and the counts */

/* Incremental SHA-256 for hashing several inputs. */
typedef struct hb_sha256 hb_sha256;
hb_sha256 *hb__sha256_new(void);
void hb__sha256_update(hb_sha256 *h, const void *data, size_t len);
/* Hashes len as 8 bytes then the data, so concatenations cannot collide. */
void hb__sha256_update_framed(hb_sha256 *h, const void *data, size_t len);
void hb__sha256_final(hb_sha256 *h, char out[HB_SHA256_HEX]); /* frees h */

/* Monotonic clock. */
uint64_t hb__now_ns(void);
/* Waits until fd reports one of events (or an error/hang-up) by
 * deadline_ns (hb__now_ns time; UINT64_MAX: no deadline). Returns 0,
 * -ETIMEDOUT, or -errno; EINTR is retried. */
int hb__wait_fd(int fd, short events, uint64_t deadline_ns);
double hb__ms_since(uint64_t start_ns);

/* read()/write() everything, retrying on EINTR and short transfers.
 * Return 0, -errno, or -EPIPE on EOF for read_full. */
int hb__write_full(int fd, const void *buf, size_t len);
int hb__read_full(int fd, void *buf, size_t len);
/* send()/recv() everything on socket fd by deadline_ns (hb__now_ns time),
 * waiting for the socket while it would block (sockio.c); sends use
 * MSG_NOSIGNAL. 0, -ETIMEDOUT, -ECONNRESET when the peer closes before
 * all of it arrived, or -errno (-ENOTSOCK for a pipe). */
int hb__send_full_until(int fd, const void *buf, size_t len, uint64_t deadline_ns);
int hb__recv_full_until(int fd, void *buf, size_t len, uint64_t deadline_ns);
/* Copies everything from in (to its end) to out: 0 or -errno. */
int hb__copy_fd(int in, int out);
/* Copies file src to dst (created or truncated, with mode when created):
 * 0 or -errno (-ENOENT when src is absent). */
int hb__copy_file(const char *src, const char *dst, mode_t mode);

/* Name of a signal ("SIGSEGV"), or "signal N" in a static buffer. */
const char *hb__signal_name(int sig);

/* Describes a wait status: "killed by SIGSEGV (Segmentation fault)",
 * "exited with status 3". Writes into buf. */
const char *hb__describe_wait_status(int status, char *buf, size_t len);

/* Splits a blank-separated string into a NULL-terminated argv (malloc'ed;
 * free with hb__strv_free). Quoting is not supported. */
char **hb__split_blank(const char *s);
/* Splits on newlines (empty lines dropped); NULL-terminated, malloc'ed. */
char **hb__split_lines(const char *s);
void hb__strv_free(char **v);
/* Frees n strings of v, then v. */
void hb__strs_free(char **v, size_t n);

/* Destructor helpers: HB_FREE_ALL(a, b, ...) frees each pointer (NULL is
 * fine), HB_STRV_FREE_ALL(v, w, ...) each string vector. */
void hb__free_n(void *const *ptrs, size_t n);
void hb__strv_free_n(char **const *vecs, size_t n);
/* HB_CLOSE_ALL(fd, ...) closes each fd that is open (>= 0; -1 is skipped). */
void hb__close_n(const int *fds, size_t n);
#define HB_CLOSE_ALL(...) \
    hb__close_n((const int[]){__VA_ARGS__}, sizeof((int[]){__VA_ARGS__}) / sizeof(int))
#define HB_FREE_ALL(...) \
    hb__free_n((void *const[]){__VA_ARGS__}, sizeof((void *[]){__VA_ARGS__}) / sizeof(void *))
#define HB_STRV_FREE_ALL(...)                          \
    hb__strv_free_n((char **const[]){__VA_ARGS__}, \
                    sizeof((char **[]){__VA_ARGS__}) / sizeof(char **))
size_t hb__strv_len(char *const *v);
/* Whether s is an element of v (NULL v: empty). The one "is X in this list". */
bool hb__strv_contains(char *const *v, const char *s);
/* Same elements in the same order (NULL equals empty). */
bool hb__strv_equal(char *const *a, char *const *b);
/* Appends a copy of s to *v (NULL *v: a new list). 0 or -ENOMEM (*v kept). */
int hb__strv_push(char ***v, const char *s);
/* Entries of directory path, "." and ".." and other dot-names not
 * counted (a /proc fd or task list); -1 when it cannot be opened. */
long hb__dir_count(const char *path);
/* Whether some entry of directory dir (dot-names skipped) satisfies
 * pred(dir, name, arg), asked entry by entry until one does: 1 when one
 * does, 0 when none does, -errno when dir cannot be opened. */
int hb__dir_any(const char *dir, bool (*pred)(const char *dir, const char *name, void *arg),
                void *arg);
/* Room for element len of an array of *cap elements of elem bytes: arr
 * itself when there is room, else arr reallocated to twice the capacity
 * (at least 8) with *cap updated; NULL (arr and *cap kept) on failure. */
void *hb__grow(void *arr, size_t len, size_t *cap, size_t elem);
/* Appends one zeroed element of elem bytes to an array of *len elements
 * (room for *cap), growing it as hb__grow does: arrp is the address of the
 * array's pointer (a T **). Returns the new element with *len counting it,
 * or NULL with the array, *len and *cap unchanged. */
void *hb__push(void *arrp, size_t *len, size_t *cap, size_t elem);
/* hb__push for an array of entries keyed by name: the new entry's char *
 * at byte name_off holds a copy of name. NULL (nothing changed) when out
 * of memory. */
void *hb__push_named(void *arrp, size_t *len, size_t *cap, size_t elem, size_t name_off,
                     const char *name);
/* The first n strings of v packed into one allocation (the pointer array,
 * NULL-terminated, then the strings), so one free() releases it all: the
 * shape public list results take (hb_free). NULL on allocation failure. */
char **hb__strv_pack(const char *const *v, size_t n);
/* A deep copy; NULL v gives an empty list. NULL on allocation failure. */
char **hb__strv_dup(char *const *v);

/* Whether name ends with suffix. */
bool hb__has_suffix(const char *name, const char *suffix);

/* Parses an unsigned decimal; returns -EINVAL on junk or overflow. */
int hb__parse_u64(const char *s, uint64_t *out);

#endif /* HB_UTIL_H */
