/* hb_setup/hb_teardown run around every test. */
#include <hotbox/plugin.h>

static int ready, torn;

HB_EXPORT_FN int hb_setup(void) { ready = 1; return 0; }
HB_EXPORT_FN int hb_teardown(void) { ready = 0; torn++; return 0; }
HB_EXPORT_FN int hb_test_sees_setup(void) { return ready ? 0 : 1; }
HB_EXPORT_FN int hb_test_sees_setup_again(void) { return ready ? 0 : 1; }

HB_PLUGIN("tsetup", 1, 0, 0, 0, 0);
