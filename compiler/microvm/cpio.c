/* compiler/microvm/cpio.c - newc cpio writer; see cpio.h. */
#include "cpio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void hb__cpio_init(hb_cpio *c, FILE *f)
{
    c->f = f;
    c->ino = 1000;
    c->err = 0;
}

static void put(hb_cpio *c, const void *p, size_t n)
{
    if (!c->err && n && fwrite(p, 1, n, c->f) != n)
        c->err = errno ? -errno : -EIO;
}

static void pad4(hb_cpio *c)
{
    static const char zeros[4];
    long pos = ftell(c->f);
    if (pos < 0) {
        c->err = c->err ? c->err : -errno;
        return;
    }
    put(c, zeros, (4 - (size_t)pos % 4) % 4);
}

static int entry(hb_cpio *c, const char *name, unsigned mode, unsigned major, unsigned minor,
                 const void *data, size_t len)
{
    char hdr[111];
    size_t nlen = strlen(name) + 1;
    /* Archives are reproducible: fixed owner (root) and mtime 0. */
    snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
             c->ino++, mode, 0u, 0u, (mode & S_IFMT) == S_IFDIR ? 2u : 1u, 0u, (unsigned)len,
             0u, 0u, major, minor, (unsigned)nlen, 0u);
    put(c, hdr, 110);
    put(c, name, nlen);
    pad4(c);
    put(c, data, len);
    pad4(c);
    return c->err;
}

int hb__cpio_dir(hb_cpio *c, const char *name, mode_t perm)
{
    return entry(c, name, S_IFDIR | (perm & 07777), 0, 0, NULL, 0);
}

int hb__cpio_file(hb_cpio *c, const char *name, mode_t perm, const void *data, size_t len)
{
    return entry(c, name, S_IFREG | (perm & 07777), 0, 0, data, len);
}

int hb__cpio_file_from(hb_cpio *c, const char *name, mode_t perm, const char *host_path)
{
    int fd = open(host_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = S_ISREG(st.st_mode) ? -errno : -EINVAL;
        close(fd);
        return e;
    }
    size_t len = (size_t)st.st_size;
    char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? -errno : -EIO;
            free(buf);
            close(fd);
            return e;
        }
        got += (size_t)n;
    }
    close(fd);
    int r = hb__cpio_file(c, name, perm, buf, len);
    free(buf);
    return r;
}

int hb__cpio_symlink(hb_cpio *c, const char *name, const char *target)
{
    return entry(c, name, S_IFLNK | 0777, 0, 0, target, strlen(target));
}

int hb__cpio_chardev(hb_cpio *c, const char *name, mode_t perm, unsigned major, unsigned minor)
{
    return entry(c, name, S_IFCHR | (perm & 07777), major, minor, NULL, 0);
}

int hb__cpio_finish(hb_cpio *c)
{
    entry(c, "TRAILER!!!", 0, 0, 0, NULL, 0);
    if (!c->err && fflush(c->f) != 0)
        c->err = -errno;
    return c->err;
}
