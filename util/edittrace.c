/* util/edittrace.c - the save -> swap step marks (edittrace.h). */
#include "edittrace.h"

#include <stdatomic.h>

#include "util.h"

static _Atomic uint64_t marks[HB_ET_COUNT];

void hb__et_mark(hb_et_point p)
{
    if ((unsigned)p < HB_ET_COUNT)
        atomic_store_explicit(&marks[p], hb__now_ns(), memory_order_relaxed);
}

void hb__et_read(uint64_t out[HB_ET_COUNT])
{
    for (int i = 0; i < HB_ET_COUNT; i++)
        out[i] = atomic_load_explicit(&marks[i], memory_order_relaxed);
}

void hb__et_reset(void)
{
    for (int i = 0; i < HB_ET_COUNT; i++)
        atomic_store_explicit(&marks[i], 0, memory_order_relaxed);
}
