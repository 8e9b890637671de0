/* W^X bypass attempt (issue 12, item 8): write `mov eax, 42; ret` into a
 * file in the worker's writable working directory (its scratch), open it
 * again for reading and map it PROT_EXEC|MAP_PRIVATE, as a loader maps a
 * library; call it. Returns 42 when that worked, -errno when a step was
 * refused. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(void)
{
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};
    int w = open("wx_private_file.bin", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0700);
    if (w < 0)
        return -errno;
    ssize_t n = write(w, code, sizeof(code));
    int e = errno;
    close(w);
    if (n != (ssize_t)sizeof(code))
        return n < 0 ? -e : -EIO;
    int fd = open("wx_private_file.bin", O_RDONLY | O_CLOEXEC);
    e = errno;
    unlink("wx_private_file.bin");
    if (fd < 0)
        return -e;
    void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    close(fd);
    if (x == MAP_FAILED)
        return -errno;
    int32_t r = ((int32_t(*)(void))x)();
    munmap(x, 4096);
    return r;
}
HB_PLUGIN("wx_private_file", 1, 0, 0, 0, 0);
