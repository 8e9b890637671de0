/*
 * compiler/microvm/agent_object.c - the guest agent's OBJECT request
 * (vmproto.h; guest workers, issue 17): a plugin object the host staged in
 * HB_VMP_OBJECT_DIR under its SHA-256 name is read into guest memory, its
 * digest checked, and written read-only (root-owned, 0444) at the path the
 * host's LOAD/SWAP will name, in a directory only root can change. The
 * worker (uid 65534) then dlopens a file neither it nor the host can alter
 * after the check: the bytes checked are the bytes written. Part of the
 * static agent.
 */
/* The low-level SHA-256 calls: SHA256() goes through libcrypto's provider
 * machinery, which pulls ~3.5 MB (and dlopen) into the static agent. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

#pragma GCC diagnostic ignored "-Wformat-truncation" /* messages are cut, never overrun */

/* Every existing directory from / to dir must be root's and writable by no
 * one else (or sticky, like /tmp): a worker that planted a directory on the
 * way could swap the object after the check. */
static int check_parents(const char *dir, char *msg, size_t msglen)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n >= sizeof(buf))
        return ENAMETOOLONG;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        struct stat st;
        if (lstat(buf, &st) != 0) {
            snprintf(msg, msglen, "%s: %s", buf, strerror(errno));
            return errno;
        }
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0 ||
            ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))) {
            snprintf(msg, msglen, "%s is not a root-owned directory only root can change "
                     "(uid %u, mode %o): refusing to put a checked object under it",
                     buf, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
            return EPERM;
        }
        buf[i] = c;
    }
    return 0;
}

static int read_all(const char *path, uint8_t **out, size_t *len, char *msg, size_t msglen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(msg, msglen, "%s: %s", path, strerror(e));
        if (fd >= 0)
            close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > HB_VMP_MAX_OBJECT) {
        snprintf(msg, msglen, "%s: not a regular file of at most %u bytes", path,
                 HB_VMP_MAX_OBJECT);
        close(fd);
        return EINVAL;
    }
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        snprintf(msg, msglen, "%s: short read (%zu of %lld bytes)", path, got,
                 (long long)st.st_size);
        free(buf);
        return EIO;
    }
    *out = buf;
    *len = got;
    return 0;
}

static int write_readonly(const char *path, const uint8_t *data, size_t len, char *msg,
                          size_t msglen)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.hb-tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0) {
        snprintf(msg, msglen, "create %s: %s", tmp, strerror(errno));
        return errno;
    }
    int e = -hb__write_full(fd, data, len);
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e && rename(tmp, path) != 0)
        e = errno;
    if (e) {
        snprintf(msg, msglen, "write %s: %s", path, strerror(e));
        unlink(tmp);
    }
    return e;
}

void agent_object(hb_vmp_r *r, int port, uint8_t *wbuf, size_t wcap)
{
    const char *dig_p, *path_p;
    size_t dig_n, path_n;
    char digest[65], path[4096], dir[4096], src[512], msg[600] = "";
    uint8_t *data = NULL;
    size_t len = 0;
    uint64_t err = 0;
    if (!hb_vmp_get_str(r, &dig_p, &dig_n) || !hb_vmp_get_str(r, &path_p, &path_n) ||
        dig_n != 64 || strspn(dig_p, "0123456789abcdef") < 64 || path_n == 0 ||
        path_n >= sizeof(path) - 16 || path_p[0] != '/' || memchr(path_p, 0, path_n)) {
        err = EPROTO;
        snprintf(msg, sizeof(msg), "malformed OBJECT request");
        goto reply;
    }
    memcpy(digest, dig_p, 64);
    digest[64] = 0;
    memcpy(path, path_p, path_n);
    path[path_n] = 0;
    if (strstr(path, "/../") || strstr(path, "/./")) {
        err = EINVAL;
        snprintf(msg, sizeof(msg), "OBJECT path %s is not normalized", path);
        goto reply;
    }
    snprintf(src, sizeof(src), "%s/%s", HB_VMP_OBJECT_DIR, digest);
    if ((err = (uint64_t)read_all(src, &data, &len, msg, sizeof(msg))))
        goto reply;
    uint8_t md[SHA256_DIGEST_LENGTH];
    char hex[65];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, len);
    SHA256_Final(md, &ctx);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    if (strcmp(hex, digest) != 0) {
        err = EBADMSG;
        snprintf(msg, sizeof(msg), "object %s: SHA-256 is %s, not %s: refused", src, hex,
                 digest);
        goto reply;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = 0;
    if (dir[0] && agent_mkdir_p(dir) != 0) {
        err = (uint64_t)errno;
        snprintf(msg, sizeof(msg), "mkdir %s: %s", dir, strerror(errno));
        goto reply;
    }
    if ((err = (uint64_t)check_parents(dir[0] ? dir : "/", msg, sizeof(msg))))
        goto reply;
    err = (uint64_t)write_readonly(path, data, len, msg, sizeof(msg));
reply:
    free(data);
    if (err)
        agent_log("OBJECT: %s", msg);
    agent_reply_status(port, wbuf, wcap, HB_VMP_OBJECT_OK, err, msg, "OBJECT_OK");
}
