/* Escape attempt: read /etc/shadow. Returns the bytes read or -errno. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(void)
{
    int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof(buf));
    close(fd);
    return n < 0 ? -errno : (int32_t)n;
}
HB_PLUGIN("read_shadow", 1, 0, 0, 0, 0);
