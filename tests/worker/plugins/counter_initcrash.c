/* A counter whose init dereferences NULL. */
#include <hotbox/plugin.h>

static int *volatile nowhere;

static int init(void)
{
    *nowhere = 1;
    return 0;
}

HB_PLUGIN("counter", 1, init, 0, 0, 0);
