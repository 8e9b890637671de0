/* Orphan reaping with real processes: a fake "manager" child spawns a
 * "worker" grandchild (no PDEATHSIG), records it, and is SIGKILLed; the
 * reaper must then kill the worker - and must not touch a live manager's
 * worker, nor a process whose pid matches a record but whose start time
 * does not (pid reuse). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "util.h"

static char *run_dir;

static bool exists(const char *name)
{
    char *p = hb__path_join(run_dir, name);
    struct stat st;
    bool r = stat(p, &st) == 0;
    free(p);
    return r;
}

static void put(const char *name, const char *text)
{
    char *p = hb__path_join(run_dir, name);
    HB_CHECK_OK(hb__write_file_atomic(p, text, strlen(text), 0600));
    free(p);
}

static void rename_in(const char *from, const char *to)
{
    char *a = hb__path_join(run_dir, from), *b = hb__path_join(run_dir, to);
    HB_CHECK(rename(a, b) == 0);
    free(a);
    free(b);
}

int main(void)
{
    /* Orphans are reparented to us, so we can see how they died. */
    HB_CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-orphans-", &run_dir));

    /* A missing run directory is nothing to do. */
    hb_orphan_report rep;
    char *missing = hb__path_join(run_dir, "nope");
    HB_CHECK_OK(hb_mon_reap_orphans(missing, &rep));
    HB_CHECK_EQ(rep.killed + rep.stale + rep.live + rep.bad, 0);
    HB_CHECK(rep.text == NULL);
    free(missing);

    int sync[2];
    HB_CHECK(pipe2(sync, O_CLOEXEC) == 0);
    pid_t mgr = fork();
    HB_CHECK(mgr >= 0);
    if (mgr == 0) {
        close(sync[0]);
        pid_t w = fork();
        if (w < 0)
            _exit(2);
        if (w == 0) {
            close(sync[1]);
            for (;;)
                pause();
        }
        if (hb_mon_record_worker(run_dir, w, getpid()) != 0)
            _exit(3);
        if (write(sync[1], &w, sizeof(w)) != sizeof(w))
            _exit(4);
        for (;;)
            pause();
    }
    close(sync[1]);
    pid_t worker = 0;
    HB_CHECK_EQ(read(sync[0], &worker, sizeof(worker)), (long)sizeof(worker));
    close(sync[0]);
    char recname[64];
    snprintf(recname, sizeof(recname), "worker-%d.rec", (int)worker);
    HB_CHECK(exists(recname));
    int wfd = hb_mon_pidfd_open(worker);
    HB_CHECK(wfd >= 0);

    /* Manager alive: its worker is left alone. */
    HB_CHECK_OK(hb_mon_reap_orphans(run_dir, &rep));
    HB_CHECK_EQ(rep.live, 1);
    HB_CHECK_EQ(rep.killed, 0);
    HB_CHECK(hb_mon_alive(wfd));
    hb_orphan_report_release(&rep);

    /* The manager dies by SIGKILL; the worker lives on (no PDEATHSIG). */
    int st;
    HB_CHECK(kill(mgr, SIGKILL) == 0);
    HB_CHECK(waitpid(mgr, &st, 0) == mgr);
    HB_CHECK(hb_mon_alive(wfd));

    /* Phase 1, with the real record set aside: a record naming the worker's
     * pid with another start time (pid reuse), a garbage record, and a
     * record of a live manager (us) must not kill anything. */
    rename_in(recname, "held-aside");
    uint64_t wstart = 0;
    HB_CHECK_OK(hb_mon_start_time(worker, &wstart));
    char text[256];
    snprintf(text, sizeof(text), "hotbox-worker-record 1\nworker %d %llu\nmanager %d 1\n",
             (int)worker, (unsigned long long)wstart + 7, (int)mgr);
    put("worker-999999.rec", text);
    put("worker-1.rec", "not a record\n");
    HB_CHECK_OK(hb_mon_record_worker(run_dir, getpid(), getpid()));
    put("unrelated.txt", "left alone\n");
    HB_CHECK_OK(hb_mon_reap_orphans(run_dir, &rep));
    HB_CHECK_EQ(rep.killed, 0);
    HB_CHECK_EQ(rep.stale, 1);
    HB_CHECK_EQ(rep.bad, 1);
    HB_CHECK_EQ(rep.live, 1);
    HB_CHECK_CONTAINS(rep.text, "removed unreadable record worker-1.rec");
    HB_CHECK(hb_mon_alive(wfd));
    HB_CHECK(!exists("worker-999999.rec"));
    HB_CHECK(!exists("worker-1.rec"));
    HB_CHECK(exists("unrelated.txt"));
    hb_orphan_report_release(&rep);

    /* Phase 2: the real record. The orphan is killed and its record gone. */
    rename_in("held-aside", recname);
    HB_CHECK_OK(hb_mon_reap_orphans(run_dir, &rep));
    HB_CHECK_EQ(rep.killed, 1);
    HB_CHECK_EQ(rep.live, 1);
    printf("%s", rep.text);
    HB_CHECK_CONTAINS(rep.text, "killed orphaned worker");
    hb_orphan_report_release(&rep);
    HB_CHECK(!hb_mon_alive(wfd));
    HB_CHECK(!exists(recname));
    HB_CHECK(waitpid(worker, &st, 0) == worker);
    HB_CHECK(WIFSIGNALED(st));
    HB_CHECK_EQ(WTERMSIG(st), SIGKILL);
    close(wfd);

    /* Our own record: forget removes it, twice is fine. */
    HB_CHECK_OK(hb_mon_forget_worker(run_dir, getpid()));
    HB_CHECK_OK(hb_mon_forget_worker(run_dir, getpid()));
    HB_CHECK_OK(hb_mon_reap_orphans(run_dir, &rep));
    HB_CHECK_EQ(rep.killed + rep.stale + rep.live + rep.bad, 0);
    HB_CHECK_EQ(hb_mon_record_worker(run_dir, 0, 1), -EINVAL);
    HB_CHECK_OK(hb__rm_rf(run_dir));
    free(run_dir);
    puts("PASS test_mon_orphans");
    return 0;
}
