/* Fuzz target: the plugin.json parser (compiler/settings.c). Every refusal
 * must come with a message naming the file. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb__settings_raw raw;
    char *err = NULL;
    int r = hb__settings_parse((const char *)data, size, "/fuzz/plugin.json", &raw, &err);
    if (r == 0)
        hb__settings_raw_release(&raw);
    else if (r == -EINVAL && (!err || strncmp(err, "/fuzz/plugin.json", 17) != 0))
        abort();
    free(err);
    return 0;
}
