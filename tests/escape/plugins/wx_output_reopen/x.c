/* W^X bypass attempt (issue 12, item 8): print `mov eax, 42; ret` at a
 * page boundary of the worker's output file, open that file again for
 * reading through /proc/self/fd/1 (it lies outside the sandbox view, on a
 * mount nobody made noexec) and map it PROT_EXEC|MAP_PRIVATE; call it.
 * Safe: it only appends to its own output. Returns 42 when that worked,
 * -errno when a step was refused. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(void)
{
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};
    struct stat st;
    if (fstat(STDOUT_FILENO, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -ENOTSUP; /* output is not a file: nothing to map */
    unsigned char pad[4096];
    memset(pad, '\n', sizeof(pad));
    size_t n = (size_t)(4096 - st.st_size % 4096) % 4096;
    off_t at = st.st_size + (off_t)n;
    if ((n && write(STDOUT_FILENO, pad, n) != (ssize_t)n) ||
        write(STDOUT_FILENO, code, sizeof(code)) != (ssize_t)sizeof(code))
        return -EIO;
    int fd = open("/proc/self/fd/1", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    void *x = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, at);
    close(fd);
    if (x == MAP_FAILED)
        return -errno;
    int32_t r = ((int32_t(*)(void))x)();
    munmap(x, 4096);
    return r;
}
HB_PLUGIN("wx_output_reopen", 1, 0, 0, 0, 0);
