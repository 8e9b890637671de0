/* One passing and one failing test (returns 3). */
#include <hotbox/plugin.h>
#include <stdio.h>

HB_EXPORT_FN int hb_test_ok(void) { return 0; }
HB_EXPORT_FN int hb_test_returns_three(void)
{
    printf("about to fail\n");
    fflush(stdout); /* stdout into a file is block-buffered in the worker */
    return 3;
}

HB_PLUGIN("tfail", 1, 0, 0, 0, 0);
