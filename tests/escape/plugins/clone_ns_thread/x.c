/* Escape attempt (issue 12, item 11): a thread in a new UTS namespace,
 * clone(CLONE_THREAD | CLONE_NEWUTS), past a filter that only checked
 * CLONE_THREAD. Safe: the new thread touches no memory and exits at once;
 * its namespace dies with it. Returns 1 when the thread was created,
 * -errno when the kernel refused, -ENOSYS off x86-64. */
#define _GNU_SOURCE
#include <hotbox/plugin.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>

HB_EXPORT_FN int32_t esc(void)
{
#if defined(__x86_64__)
    static char stack[256] __attribute__((aligned(16)));
    unsigned long flags = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_NEWUTS;
    long ret;
    register long r10 __asm__("r10") = 0;
    register long r8 __asm__("r8") = 0;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "mov $60, %%eax\n\t" /* SYS_exit: this thread only */
                     "xor %%edi, %%edi\n\t"
                     "syscall\n\t"
                     "1:\n\t"
                     : "=a"(ret)
                     : "a"((long)SYS_clone), "D"(flags), "S"(stack + sizeof(stack)), "d"(0L),
                       "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret > 0 ? 1 : (int32_t)ret;
#else
    return -ENOSYS;
#endif
}
HB_PLUGIN("clone_ns_thread", 1, 0, 0, 0, 0);
