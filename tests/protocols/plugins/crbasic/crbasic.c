/* cr.h's basic test, ported: statics survive a reload (cr.h needs CR_STATE;
 * hotbox carries every static whose layout its debug info proves
 * unchanged), the new code runs, and the retired version's fini runs once
 * per reload and at close (cr.h's CR_UNLOAD / CR_CLOSE). The tests edit
 * VERSION with sed. */
#include <hotbox/plugin.h>
#include <stdint.h>
#include <stdio.h>

#define VERSION 1

static int64_t counter;             /* state: survives the reload */
static int64_t loads;               /* how many versions ran init */

static int cr_init(void)
{
    loads++;
    fprintf(stderr, "crbasic: init v%d (loads %lld)\n", VERSION, (long long)loads);
    return 0;
}

static void cr_fini(void)
{
    fprintf(stderr, "crbasic: fini v%d\n", VERSION);
}

HB_EXPORT_FN int64_t bump(void) { return ++counter; }
HB_EXPORT_FN int32_t code_version(void) { return VERSION; }
HB_EXPORT_FN int64_t init_count(void) { return loads; }

HB_PLUGIN("crbasic", 1, cr_init, cr_fini, 0, 0);
