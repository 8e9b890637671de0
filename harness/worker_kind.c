/* harness/worker_kind.c - which kind of worker a sandbox gets
 * (hb_sandbox_options.worker) and the sentence saying why.
 *
 * process: a host process under bubblewrap and seccomp (the default).
 * microvm: hotbox-worker inside a QEMU microVM guest (issue 17; guest.h).
 *   Where this machine cannot run one (no QEMU, no guest kernel) the
 *   sandbox is refused with HB_EISOLATION when its worker starts, never
 *   quietly given a host process: a caller asking for a guest must not get
 *   the shared kernel without knowing.
 * auto: microvm where a guest boots under KVM (the compile backend's KVM
 *   verdict, cached on disk per boot), else process; either way saying why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "harness.h"
#include "util.h"


HB_ENUM_NAMES(hb__worker_kind_name, hb_worker_kind, [HB_WORKER_PROCESS] = "process",
              [HB_WORKER_MICROVM] = "microvm", [HB_WORKER_AUTO] = "auto")

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
    case HB_WORKER_AUTO: {
        char w[512];
        if (hb__guest_auto(w, sizeof(w))) {
            *used = HB_WORKER_MICROVM;
            *why = hb__asprintf("microvm: auto picked a guest because %s", w);
        } else {
            *used = HB_WORKER_PROCESS;
            *why = hb__asprintf("process: auto picks a microVM guest only where a KVM probe "
                                "boots a guest (under software emulation a guest costs "
                                "seconds to start and milliseconds per call), and %s", w);
        }
        break;
    }
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
