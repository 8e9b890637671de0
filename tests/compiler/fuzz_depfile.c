/* Fuzz target: the make-style depfile parser. */
#include <stdint.h>

#include "compiler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char **deps = NULL;
    if (hb_compiler_parse_depfile((const char *)data, size, &deps) == 0)
        hb__strv_free(deps);
    return 0;
}
