/*
 * util/edittrace.h - when each step of the last save -> swap happened, for
 * benchmarks (bench/bench_watch.c prints the breakdown). Each step stores
 * hb__now_ns() under its point when it runs; nothing else reads them. One
 * set per process, last writer wins: with several builds at once (parallel
 * builds, two watches) the marks mix, so only a benchmark that drives one
 * save at a time reads them. A mark costs one clock read (~30 ns).
 */
#ifndef HB_UTIL_EDITTRACE_H
#define HB_UTIL_EDITTRACE_H

#include <stdint.h>

typedef enum hb_et_point {
    HB_ET_WAKE,     /* the watcher read the save's inotify events */
    HB_ET_SETTLED,  /* the watcher handed over the change set */
    HB_ET_BUILD,    /* the build began (harness/build.c) */
    HB_ET_LOOKUP,   /* the compile cache lookup ended (a miss) */
    HB_ET_PREP,     /* the compiler's command line is ready (its first spawn begins) */
    HB_ET_SPAWNED,  /* the compiler was started (exec succeeded) */
    HB_ET_EXITED,   /* its exit was seen */
    HB_ET_REAPED,   /* it was reaped, its output read */
    HB_ET_COMPILED, /* the compile returned: depfile read, inputs hashed */
    HB_ET_VERIFIED, /* the object was analysed (ELF) */
    HB_ET_STORED,   /* the version was stored */
    HB_ET_BUILT,    /* the build returned */
    HB_ET_PREPARE,  /* the swap began: the stored object checked (harness/swap.c) */
    HB_ET_CARRY,    /* the carry plan (DWARF) begins */
    HB_ET_SWAP,     /* the SWAP request is sent to the worker */
    HB_ET_SWAPPED,  /* the worker answered it */
    HB_ET_EMIT,     /* the swapped event is raised (harness/swap.c) */
    HB_ET_COUNT
} hb_et_point;

/* Records now under p. */
void hb__et_mark(hb_et_point p);
/* Copies every point (0: not reached since the last reset) into out. */
void hb__et_read(uint64_t out[HB_ET_COUNT]);
/* Forgets every point. */
void hb__et_reset(void);

#endif
