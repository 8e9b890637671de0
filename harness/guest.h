/* harness/guest.h - the guest worker (issue 17): hotbox-worker running inside
 * a QEMU microVM started with the compile VMs' machinery
 * (compiler/microvm/), spoken to over the unchanged wire protocol.
 *
 * How an hb_wclient looks for a guest worker (guest_worker.c fills it):
 *   fd          the host end of the VM's second virtio-serial port
 *               ("org.hotbox.worker"): the agent relays it to the worker's
 *               socket in the guest, so every proto/ frame crosses unchanged
 *   pid, pidfd  QEMU's: its exit is the VM's death, a crash ("the VM died");
 *               killing it (a request's deadline) kills the guest
 *   worker_pid  QEMU's too: its memory is the guest's (usage, status)
 *   ring        NULL: shared memory cannot cross the VM; calls take the socket
 *   guest       the VM; its agent port (hb__guest_event_fd) reports the
 *               worker's death with its wait status or the denied call
 *               (QEMU keeps the port open when the worker dies: no EOF)
 * Objects reach the guest through hb__guest_expose (the OBJECT request: a
 * copy staged under its SHA-256 name, checked by the agent and written
 * read-only at its host path) before a LOAD or SWAP names them. */
#ifndef HB_GUEST_H
#define HB_GUEST_H

#include "harness.h"

/* Starts a VM (restored from the worker snapshot when there is one), the
 * worker in it, and the handshake. HB_EISOLATION when this machine cannot
 * run a guest (no QEMU, no guest kernel: *err says which and the fix),
 * HB_EWORKER otherwise; wc is then untouched. */
int hb__guest_spawn(hb_wclient *wc, const hb_wspawn *how, char **err);
/* The worker ended and its VM lives: the VM, its port and QEMU's pid go back
 * to the guest (wc->pid = 0, wc->guest_reusable), so the next
 * hb__guest_spawn on wc starts a new worker in it instead of a new VM. */
void hb__guest_park(hb_wclient *wc);
/* Kills what is left of the VM and frees the guest (wc->pid is already
 * reaped by the caller). NULL ok. */
void hb__guest_free(struct hb_guest *g);
/* The agent's socket: readable when it reports something (the worker's end). */
int hb__guest_event_fd(const struct hb_guest *g);
/* Reads what the agent reported. Returns 1 when the worker ended: *status
 * is its wait status, denied names a call its seccomp profile denied (""
 * if none); 0 when it still runs; -1 when the agent's channel failed (the
 * VM is as good as dead). */
int hb__guest_take_exit(struct hb_guest *g, int *status, char *denied, size_t len);
/* Shows the object at path to the worker (see above). */
int hb__guest_expose(hb_wclient *wc, const char *path, char **err);
/* HB_WORKER_AUTO's question: 1 when a guest boots under KVM here (the
 * compile backend's verdict, cached on disk per boot), else 0; why says
 * which check decided. The first call on a machine may take one probe
 * boot (bounded, ~8 s). */
int hb__guest_auto(char *why, size_t len);
/* One line for status and benchmarks: accelerator, snapshot, start time. */
const char *hb__guest_note(const struct hb_guest *g);

#endif /* HB_GUEST_H */
