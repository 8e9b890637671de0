/* Escape attempt: write a file outside the scratch directory. Returns 0
 * when the write happened, else -errno. scratch() writes in $TMPDIR, which
 * must work. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int32_t write_at(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, "pwned\n", 6);
    int e = errno;
    close(fd);
    return n == 6 ? 0 : -e;
}

HB_EXPORT_FN int32_t esc(const char *path) { return write_at(path); }

HB_EXPORT_FN int32_t scratch(void)
{
    const char *t = getenv("TMPDIR");
    char p[512];
    snprintf(p, sizeof(p), "%s/hb-scratch-probe", t && *t ? t : "/tmp");
    int32_t r = write_at(p);
    if (r == 0)
        unlink(p);
    return r;
}
HB_PLUGIN("write_outside", 1, 0, 0, 0, 0);
