/* A plugin without tests. */
#include <hotbox/plugin.h>

HB_EXPORT_FN int answer(void) { return 42; }

HB_PLUGIN("tnotests", 1, 0, 0, 0, 0);
