/*
 * monitor/monitor.h - worker supervision primitives: pidfds, reaping with a
 * deadline, liveness. Death is seen through the pidfd becoming readable, so
 * waits are event-driven (poll), never sleeps.
 */
#ifndef HB_MONITOR_H
#define HB_MONITOR_H

#include <stdbool.h>
#include <sys/types.h>

/* pidfd_open(pid, 0) with O_CLOEXEC semantics. Returns fd or -errno. */
int hb_mon_pidfd_open(pid_t pid);

/* Waits until the process exits or timeout_ms passes (-1: forever), then
 * reaps it. Returns 0 with *status, -ETIMEDOUT (not reaped), or -errno. */
int hb_mon_reap(pid_t pid, int pidfd, int timeout_ms, int *status);

/* Kills (SIGKILL) and reaps. Returns 0 with *status or -errno. */
int hb_mon_kill_reap(pid_t pid, int pidfd, int *status);

/* Whether the process behind pidfd is still running (non-blocking). */
bool hb_mon_alive(int pidfd);

#endif /* HB_MONITOR_H */
