/* Escape attempt that the import policy cannot see: execve resolved at
 * run time with dlsym(RTLD_DEFAULT) (the name is assembled so it is not
 * even a string in the object). seccomp must stop it. */
#include <hotbox/plugin.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>

typedef int (*execve_fn)(const char *, char *const[], char *const[]);

HB_EXPORT_FN int32_t esc(void)
{
    char name[8] = {'e', 'x', 'e', 'c', 'v', 'e', 0};
    execve_fn f = (execve_fn)dlsym(RTLD_DEFAULT, name);
    if (!f)
        return -ENOSYS;
    char *argv[] = {"/bin/sh", "-c", "id", 0};
    f("/bin/sh", argv, 0);
    return -errno;
}
HB_PLUGIN("dlsym_execve", 1, 0, 0, 0, 0);
