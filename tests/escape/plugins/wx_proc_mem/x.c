/* W^X bypass attempt (issue 12, item 8): write `mov eax, 42; ret` over
 * this plugin's own (read-only, executable) code through /proc/self/mem,
 * which writes past page protections, and call it. Safe: only this
 * worker's private copy of its own page changes. Returns 42 when that
 * worked, -errno when a step was refused. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

__attribute__((noinline)) static int32_t victim(void)
{
    return 7;
}

HB_EXPORT_FN int32_t esc(void)
{
    int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};
    ssize_t n = pwrite(fd, code, sizeof(code), (off_t)(uintptr_t)&victim);
    int e = errno;
    close(fd);
    if (n < 0)
        return -e;
    int32_t (*volatile f)(void) = victim;
    return f();
}
HB_PLUGIN("wx_proc_mem", 1, 0, 0, 0, 0);
