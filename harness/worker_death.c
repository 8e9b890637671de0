/* harness/worker_death.c - how a worker's end reads: where a reported fault
 * was (HB_MSG_FAULT, symbolized by crash_trace.c), its wait status, a
 * resource limit that explains it, a system call its profile denied, or
 * (a guest worker) the death of its microVM. worker_client.c records and
 * reaps; this file only words. */
#include <stdio.h>

#include "harness.h"
#include "monitor.h"
#include "security.h"

/* Where a reported fault was, when in plugin code: " in counter v1, a
 * version no longer active (...) at foo (counter.c:12) (pc 0x..., address
 * 0x...)"; "" otherwise. */
void hb__wc_fault_place(const hb_wclient *wc, char *buf, size_t len)
{
    buf[0] = 0;
    if (!wc->fault.valid || !wc->fault.plugin[0])
        return;
    snprintf(buf, len, " in %s v%llu%s%s (pc %#llx, address %#llx)", wc->fault.plugin,
             (unsigned long long)wc->fault.version,
             wc->fault.retired ? ", a version no longer active (a thread it started outlived it)"
                               : "",
             wc->fault.at, (unsigned long long)wc->fault.pc, (unsigned long long)wc->fault.addr);
}

void hb__wc_describe_end(const hb_wclient *wc, char *buf, size_t len)
{
    char st[160];
    hb__describe_wait_status(wc->wait_status, st, sizeof(st));
    if (wc->vm_died)
        snprintf(buf, len, "its microVM died (QEMU %s)", st);
    else if (wc->denied[0])
        snprintf(buf, len, "plugin called %s (denied by the %s profile)", wc->denied,
                 hb_profile_name(wc->profile));
    else
        snprintf(buf, len, "%s", st);
}

int hb__wc_describe_death(hb_wclient *wc, char **err, const char *what)
{
    char buf[256], where[1024];
    hb__wc_describe_end(wc, buf, sizeof(buf));
    if (wc->vm_died || wc->denied[0])
        return hb__seterr(err, HB_ECRASHED, "worker %s %s", what, buf);
    hb__wc_fault_place(wc, where, sizeof(where));
    /* A death a resource limit explains is reported with the limit and its
     * value ("killed by SIGXCPU: CPU time limit 5 s exceeded"). */
    char why[256];
    if (wc->reaped &&
        hb_mon_explain_death(wc->wait_status, &wc->limits, NULL, NULL, why, sizeof(why)) !=
            HB_LIMIT_NONE)
        return hb__seterr(err, HB_ECRASHED, "worker %s %s%s", what, why, where);
    /* A symbolized backtrace follows the one-line reason (crash_trace.c). */
    const char *bt = wc->fault.valid && wc->fault.trace[0] ? wc->fault.trace : NULL;
    return hb__seterr(err, HB_ECRASHED, "worker %s %s%s%s%s", what, buf, where,
                      bt ? "\nbacktrace:\n" : "", bt ? bt : "");
}

/* HB_MSG_FAULT: u32 signo, u64 pc, u64 addr, str plugin, u64 version,
 * u8 retired. Kept for hb__wc_describe_death and for blaming the right version. */
void hb__wc_record_fault(hb_wclient *wc, const hb_frame *f)
{
    hb_proto_fault m;
    if (hb__proto_fault_decode(f->payload, f->len, &m) < 0)
        return;
    struct hb_wfault x = {.valid = true, .retired = m.retired != 0, .signo = m.signo,
                          .pc = m.pc, .addr = m.addr, .version = m.version};
    snprintf(x.plugin, sizeof(x.plugin), "%s", m.plugin);
    hb__crash_trace(wc->store, &m, &x);
    wc->fault = x;
    hb__proto_fault_release(&m);
}
