/* W^X bypass attempt (issue 12, item 8): one memfd mapped twice, writable
 * through one view and executable through the other; writes
 * `mov eax, 42; ret` and jumps to it. Returns 42 when that worked, -errno
 * when a step was refused. */
#define _GNU_SOURCE
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(void)
{
    int fd = memfd_create("jit", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, 4096) < 0)
        return -errno;
    unsigned char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    close(fd);
    if (w == MAP_FAILED || x == MAP_FAILED)
        return -errno;
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};
    memcpy(w, code, sizeof(code));
    int32_t r = ((int32_t(*)(void))x)();
    munmap(w, 4096);
    munmap(x, 4096);
    return r;
}
HB_PLUGIN("wx_memfd", 1, 0, 0, 0, 0);
