/* Fuzz target: the compiler diagnostics parsers (text, and GCC JSON mixed
 * with text), fed arbitrary compiler output. */
#include <stdint.h>
#include <stdlib.h>

#include "compiler.h"
#include "diag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_diag *d = NULL;
    size_t n = 0;
    if (hb_compiler_parse_diagnostics((const char *)data, size, &d, &n) == 0)
        hb_diags_free(d, n);
    char *rendered = NULL;
    if (hb__parse_mixed_diagnostics((const char *)data, size, &d, &n, &rendered) == 0) {
        hb_diags_free(d, n);
        free(rendered);
    }
    return 0;
}
