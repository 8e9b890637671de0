/* Live++ / jet-live "function pointer" checks, ported: a static function
 * pointer to the plugin's own code points into the old object after a
 * reload, so hotbox resets it (to the new version's initializer: the new
 * code), while the value it worked on carries. A heap-held pointer to the
 * old code keeps working (the old object stays mapped) and runs the old
 * code. The tests edit STEP with sed. */
#include <hotbox/plugin.h>
#include <stdint.h>
#include <stdlib.h>

#define STEP 1

static int64_t add_step(int64_t x) { return x + STEP; }

static int64_t (*op)(int64_t) = add_step; /* reset at a reload: new code */
static int64_t value;                     /* carried */

struct callback {
    int64_t (*fn)(int64_t);
};
static struct callback *saved; /* heap: keeps pointing at the first version's code */

HB_EXPORT_FN int64_t apply(void) { return value = op(value); }
HB_EXPORT_FN int64_t reset_op(void) { op = add_step; return 0; } /* op is a variable */

HB_EXPORT_FN int64_t apply_saved(void)
{
    if (!saved && (saved = malloc(sizeof *saved)))
        saved->fn = add_step;
    return saved ? saved->fn(0) : -1;
}

HB_PLUGIN("fnptr", 1, 0, 0, 0, 0);
