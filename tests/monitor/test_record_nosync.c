/* A worker's pid record (hb_mon_record_worker) is written without fsync:
 * it is on every worker start and restart, and two disk syncs cost
 * milliseconds there (tens under load). The check: with fsync and
 * fdatasync refused by a seccomp filter (EPERM), the record is still
 * written, whole, and read back by the orphan reaper's format. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "util.h"

static int refuse_sync(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fsync, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fdatasync, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    };
    struct sock_fprog prog = {sizeof(f) / sizeof(f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -errno;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno : 0;
}

int main(void)
{
    char dir[] = "/tmp/hb-record-XXXXXX";
    HB_CHECK(mkdtemp(dir) != NULL);
    if (refuse_sync() < 0) {
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
