/*
 * bench/pingpong.h - the hardware's floor for a cross-process round trip,
 * measured in the same run as the hotbox figures beside it: two processes
 * handing a token back and forth over shared memory (proto/ring.h's spin
 * then futex wait, no protocol) or over a socketpair (one byte each way),
 * with both processes pinned to one CPU or to two different CPUs.
 */
#ifndef HB_BENCH_PINGPONG_H
#define HB_BENCH_PINGPONG_H

#include <stddef.h>
#include <stdint.h>

/* Fills us[0..n) with round-trip times in microseconds. cpu_a is the
 * caller's CPU, cpu_b the echoing child's (-1: not pinned). spin_ns is the
 * shared-memory spin budget before each futex wait. Returns 0 or -1 (the
 * reason on stderr). The caller's affinity is restored afterwards. */
int hb_bench_shm_pingpong(int cpu_a, int cpu_b, uint64_t spin_ns, double *us, size_t n);
int hb_bench_sock_pingpong(int cpu_a, int cpu_b, double *us, size_t n);

/* Pins pid (0: this thread) to cpu; -1 leaves it. Returns 0 or -errno. */
int hb_bench_pin(int pid, int cpu);

#endif /* HB_BENCH_PINGPONG_H */
