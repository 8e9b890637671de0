/* A worker's pid record (hb_mon_record_worker) is written without fsync:
 * it is on every worker start and restart, and two disk syncs cost
 * milliseconds there (tens under load). The check: with fsync and
 * fdatasync refused by a seccomp filter (EPERM), the record is still
 * written, whole, and read back by the orphan reaper's format. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "refuse_sync.h"
#include "util.h"

int main(void)
{
    char dir[] = "/tmp/hb-record-XXXXXX";
    HB_CHECK(mkdtemp(dir) != NULL);
    if (hbt_refuse_sync() < 0) {
        printf("SKIP: cannot install a seccomp filter here\n");
        hb__rm_rf(dir);
        return 77;
    }
    HB_CHECK_EQ(fsync(1), -1); /* the filter works: syncs fail */
    HB_CHECK_EQ(errno, EPERM);
    HB_CHECK_OK(hb_mon_record_worker(dir, getpid(), getppid()));
    /* Read back as the orphan reaper reads it: our own record, of a live
     * manager, left alone. */
    hb_orphan_report rep = {0};
    HB_CHECK_OK(hb_mon_reap_orphans(dir, &rep));
    HB_CHECK_EQ(rep.live, 1u);
    HB_CHECK_EQ(rep.bad, 0u);
    free(rep.text);
    HB_CHECK_OK(hb_mon_forget_worker(dir, getpid()));
    hb__rm_rf(dir);
    printf("ok\n");
    return 0;
}
