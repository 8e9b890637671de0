/* Escape attempt: a fork loop. Returns how many children it made. */
#include <hotbox/plugin.h>
#include <stdint.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(void)
{
    int32_t n = 0;
    for (int i = 0; i < 64; i++) {
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        if (p > 0)
            n++;
    }
    return n;
}
HB_PLUGIN("fork_loop", 1, 0, 0, 0, 0);
