/*
 * util/libexec.c - where hotbox finds its helper files (the worker binary,
 * the guest initramfs): a setting from an option or the environment, else
 * beside the library or program that holds the code asking.
 */
#include "util.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stdlib.h>
#include <unistd.h>

const char *hb__nonempty(const char *a, const char *b)
{
    return a && *a ? a : b && *b ? b : NULL;
}

char *hb__libexec_file(const void *addr, const char *name, int mode)
{
    Dl_info info;
    char *self = NULL;
    if (!dladdr(addr, &info) || !info.dli_fname || hb__realpath(info.dli_fname, &self) != 0)
        return NULL;
    char *cand = hb__asprintf("%s/../libexec/hotbox/%s", dirname(self), name);
    free(self);
    if (cand && access(cand, mode) == 0)
        return cand;
    free(cand);
    return NULL;
}
