/* harness/worker_kind.c - which kind of worker a sandbox gets
 * (hb_sandbox_options.worker) and the sentence saying why.
 *
 * process: a host process under bubblewrap and seccomp (the default).
 * microvm: hotbox-worker inside a QEMU microVM guest (issue 17; guest.h).
 *   Where this machine cannot run one (no QEMU, no guest kernel) the
 *   sandbox is refused with HB_EISOLATION when its worker starts, never
 *   quietly given a host process: a caller asking for a guest must not get
 *   the shared kernel without knowing.
 * auto: process, saying why (guest workers only pay off under KVM). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char guest_slow[] =
    "no KVM probe run: without KVM a guest worker runs under software emulation (TCG), "
    "seconds to start and milliseconds per call; ask for --worker microvm explicitly";

const char *hb__worker_kind_name(hb_worker_kind k)
{
    switch (k) {
    case HB_WORKER_PROCESS: return "process";
    case HB_WORKER_MICROVM: return "microvm";
    case HB_WORKER_AUTO: return "auto";
    }
    return "unknown";
}

int hb__worker_kind_resolve(hb_worker_kind want, hb_worker_kind *used, char **why)
{
    *why = NULL;
    switch (want) {
    case HB_WORKER_PROCESS:
        *used = HB_WORKER_PROCESS;
        *why = strdup("process: asked for (the default)");
        break;
    case HB_WORKER_MICROVM:
        *used = HB_WORKER_MICROVM;
        *why = strdup("microvm: asked for (hotbox-worker inside a QEMU microVM guest)");
        break;
    case HB_WORKER_AUTO:
        *used = HB_WORKER_PROCESS;
        *why = hb__asprintf("process: auto picks a microVM guest only where a KVM probe "
                            "boots a guest; %s", guest_slow);
        break;
    default:
        *why = hb__asprintf("unknown worker kind %d in hb_sandbox_options.worker "
                            "(HB_WORKER_PROCESS, HB_WORKER_MICROVM, HB_WORKER_AUTO)", (int)want);
        return -EINVAL;
    }
    return *why ? 0 : -ENOMEM;
}

int hb_sandbox_worker_kind(hb_sandbox *sb, hb_worker_kind *kind, const char **why)
{
    if (!sb)
        return -EINVAL;
    if (kind)
        *kind = sb->worker_kind;
    if (why)
        *why = sb->worker_why ? sb->worker_why : "";
    return 0;
}
