/* A plugin that does not compile. */
#include <hotbox/plugin.h>

HB_EXPORT_FN int hb_test_never(void) { return this_is_not_declared; }

HB_PLUGIN("tbroken", 1, 0, 0, 0, 0);
