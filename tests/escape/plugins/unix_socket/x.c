/* Escape attempt: connect to a UNIX socket in the manager's run directory. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int r = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
    close(fd);
    return r;
}
HB_PLUGIN("unix_socket", 1, 0, 0, 0, 0);
