/* Escape attempt: a TCP connection to 127.0.0.1:port. 0 if connected. */
#include <hotbox/plugin.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(int32_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
    close(fd);
    return r;
}
HB_PLUGIN("tcp_socket", 1, 0, 0, 0, 0);
