/* Escape attempt: read a file in the developer's home (path given by the
 * test) and $HOME as the worker sees it. Returns bytes read or -errno. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n < 0 ? -errno : (int32_t)n;
}

/* 1 when the worker's $HOME is the path given (it must not be). */
HB_EXPORT_FN int32_t home_is(const char *path)
{
    const char *h = getenv("HOME");
    return h && strcmp(h, path) == 0;
}
HB_PLUGIN("read_home", 1, 0, 0, 0, 0);
