/* counter v3: does not compile (a typo). hotbox keeps v2 serving and shows
 * the compiler's diagnostics with file:line. */
#include <hotbox/plugin.h>

#include <stdint.h>

static int64_t count;

HB_EXPORT_FN int64_t increment(void)
{
    count += 1
    return count;
}

HB_PLUGIN("counter", 3, 0, 0, 0, 0);
