/* W^X bypass attempt (issue 12, item 8): write `mov eax, 42; ret` into a
 * writable page, flip it to read+execute with mprotect, jump to it.
 * Returns 42 when that worked, -errno when a step was refused. */
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

HB_EXPORT_FN int32_t esc(void)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    static const unsigned char code[] = {0xb8, 42, 0, 0, 0, 0xc3};
    memcpy(p, code, sizeof(code));
    if (mprotect(p, 4096, PROT_READ | PROT_EXEC) < 0)
        return -errno;
    int32_t r = ((int32_t(*)(void))p)();
    munmap(p, 4096);
    return r;
}
HB_PLUGIN("wx_mprotect", 1, 0, 0, 0, 0);
