/* Escape attempt: execve("/bin/sh"). */
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(void)
{
    char *argv[] = {"/bin/sh", "-c", "id", NULL};
    execve("/bin/sh", argv, NULL);
    return -errno;
}
HB_PLUGIN("exec_sh", 1, 0, 0, 0, 0);
