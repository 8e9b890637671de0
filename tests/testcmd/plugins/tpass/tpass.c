/* Ten passing tests, and output on stdout and stderr. */
#include <hotbox/plugin.h>
#include <stdio.h>

#define T(n) HB_EXPORT_FN int hb_test_p##n(void) { printf("p" #n " out\n"); return 0; }
T(0) T(1) T(2) T(3) T(4) T(5) T(6) T(7) T(8) T(9)

HB_EXPORT_FN int hb_test_stderr(void)
{
    fprintf(stderr, "to stderr <&> \x01\x1b[0m\n");
    return 0;
}

HB_PLUGIN("tpass", 1, 0, 0, 0, 0);
