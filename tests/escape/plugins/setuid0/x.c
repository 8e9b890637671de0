/* Escape attempt: setuid(0). */
#include <hotbox/plugin.h>
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

HB_EXPORT_FN int32_t esc(void) { return setuid(0) < 0 ? -errno : 0; }
HB_PLUGIN("setuid0", 1, 0, 0, 0, 0);
