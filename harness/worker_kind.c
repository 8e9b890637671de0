/* harness/worker_kind.c - which kind of worker a sandbox gets
 * (hb_sandbox_options.worker) and the sentence saying why.
 *
 * Only process workers exist in this build. A microVM worker (issue 17:
 * hotbox-worker started by the compile VMs' guest agent, the unchanged wire
 * protocol over a virtio-serial port) is refused with HB_EISOLATION rather
 * than quietly replaced by a host process: a caller asking for a guest must
 * not get the shared kernel without knowing. `auto` checks availability
 * before it would run the KVM probe (compiler/microvm/probe.c), so it costs
 * nothing where no guest worker can be had. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char guest_missing[] =
    "microVM workers are not available in this build (the guest side of issue 17, "
    "hotbox-worker started by the guest agent and spoken to over virtio-serial, is not "
    "implemented yet)";

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
        *why = hb__asprintf("worker microvm: %s; use process (the default) or auto",
                            guest_missing);
        return HB_EISOLATION;
    case HB_WORKER_AUTO:
        *used = HB_WORKER_PROCESS;
        *why = hb__asprintf("process: auto picks a microVM guest only where guest workers "
                            "exist and a KVM probe boots a guest, and %s (no KVM probe run)",
                            guest_missing);
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
