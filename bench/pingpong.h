/*
 * bench/pingpong.h - the hardware's floor for a cross-process round trip,
 * measured in the same run as the hotbox figures beside it: two processes
 * handing a token back and forth over shared memory (proto/ring.h's own
 * spin-then-futex primitives, no protocol) or over a socketpair (one byte
 * each way), with both processes pinned to one CPU or to two different
 * CPUs.
 *
 * What the shared-memory figure is, physically: the caller increments a
 * word (`ping`, its cache line) and spins on another (`pong`, a second
 * line); the echoing process spins on `ping` and increments `pong`. One
 * round trip is two cache-line hand-offs between the two CPUs (each a
 * request for ownership, the other side's miss, the line's transfer) plus
 * the spinners' detection delay (a `pause` between reads). The same
 * primitives, the same spin budgets and the same placement rule carry a
 * hb_call through the ring, so the ratio of the two is what the call's
 * own work costs over the hand-off it cannot avoid.
 *
 * A session (hb_bench_pp_*) keeps one echoing process pinned for many
 * blocks, so a benchmark can interleave blocks of ping-pong with blocks of
 * the thing it compares against it (A/B/A/B) under the same placement.
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

/* A shared-memory ping-pong session: the echoing child is forked once,
 * pinned to cpu_b (-1: not pinned), and echoes with spin_ns of spinning
 * before each futex wait until hb_bench_pp_stop. NULL on failure (the
 * reason on stderr). */
typedef struct hb_bench_pp hb_bench_pp;
hb_bench_pp *hb_bench_pp_start(int cpu_b, uint64_t spin_ns);
/* One block: `warmup` untimed round trips, then n timed ones into us[],
 * from the calling thread (pin it first: hb_bench_pin). Returns 0 or -1. */
int hb_bench_pp_block(hb_bench_pp *pp, size_t warmup, double *us, size_t n);
void hb_bench_pp_stop(hb_bench_pp *pp);

/* Pins pid (0: this thread) to cpu; -1 leaves it. Returns 0 or -errno. */
int hb_bench_pin(int pid, int cpu);

#endif /* HB_BENCH_PINGPONG_H */
