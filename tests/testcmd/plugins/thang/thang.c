/* A test that never returns; the runner must kill it at the time limit. */
#include <hotbox/plugin.h>

HB_EXPORT_FN int hb_test_forever(void)
{
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}
HB_EXPORT_FN int hb_test_after(void) { return 0; }

HB_PLUGIN("thang", 1, 0, 0, 0, 0);
