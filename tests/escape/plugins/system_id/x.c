/* Escape attempt: system("id"). */
#include <hotbox/plugin.h>
#include <stdint.h>
#include <stdlib.h>

HB_EXPORT_FN int32_t esc(void) { return system("id"); }
HB_PLUGIN("system_id", 1, 0, 0, 0, 0);
