/* tests/harness/test_spare.c - a sandbox's spare worker (harness/spare.c):
 *  - handover_keeps_state: after the first restart, each restart hands
 *    over to a spare started before the crash (the restart event says so),
 *    the new worker serves the checkpointed state, and the spare is
 *    refilled for the next crash (a new process each time);
 *  - free_ends_spare: the spare is a process of its own while it waits,
 *    and freeing the sandbox ends it (no child process is left). */
#include <dirent.h>
#include <poll.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

static const char plugin[] =
    "#include <hotbox/plugin.h>\n#include <string.h>\n#include <stdlib.h>\n"
    "static long n;\n"
    "long bump(void) { return ++n; }\n"
    "long get(void) { return n; }\n"
    "void crash(void) { *(volatile int *)0 = 1; }\n"
    "static int save(void **d, size_t *l) { long *p = malloc(sizeof n); if (!p) return -1;\n"
    "  *p = n; *d = p; *l = sizeof n; return 0; }\n"
    "static int migrate(const void *d, size_t l, uint32_t s) { (void)s;\n"
    "  if (l != sizeof n) return -1; memcpy(&n, d, l); return 0; }\n"
    "HB_PLUGIN(\"sparep\", 1, 0, 0, save, migrate);\n";

static hb_sandbox *start(hb_manager **m)
{
    char *dir = e2e_write("sparep", "sparep.c", plugin);
    *m = e2e_manager(&ev);
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = HB_PROFILE_STANDARD;
    so.crash_loop_max = 1000; /* crashes on purpose: no backoff */
    so.crash_loop_window_ms = 1;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(*m, &so, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    return sb;
}

static void case_handover_keeps_state(void)
{
    hb_manager *m;
    hb_sandbox *sb = start(&m);
    long v = 0;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "sparep", "bump", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    int pids[4];
    for (int k = 0; k < 4; k++) {
        pids[k] = hb_sandbox_worker_pid(sb);
        HB_CHECK_EQ(hb_callf(sb, "sparep", "crash", ")v"), HB_ECRASHED);
        const char *said = ev.last[HB_EVENT_RESTARTED];
        printf("restart %d: %s\n", k, said);
        /* The first restart arms the spare; every later one uses it. */
        if (k == 0)
            HB_CHECK(strstr(said, "a spare") == NULL);
        else
            HB_CHECK_CONTAINS(said, "a spare started before");
        v = -1;
        HB_CHECK_OK(hb_callf(sb, "sparep", "get", ")l", &v));
        HB_CHECK_EQ(v, 3); /* the checkpoint's state */
        int now = hb_sandbox_worker_pid(sb);
        for (int j = 0; j <= k; j++)
            HB_CHECK(now != pids[j]);
    }
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 4);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Child processes of this process (bwrap, or the worker when unwrapped). */
static int children(void)
{
    DIR *d = opendir("/proc");
    HB_CHECK(d != NULL);
    int n = 0, me = (int)getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t got = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[got] = 0;
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        char state;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == me && state != 'Z' &&
            !e2e_is_watch_helper(atoi(e->d_name)))
            n++;
    }
    closedir(d);
    return n;
}

static void case_free_ends_spare(void)
{
    hb_manager *m;
    hb_sandbox *sb = start(&m);
    HB_CHECK_EQ(children(), 1);
    HB_CHECK_EQ(hb_callf(sb, "sparep", "crash", ")v"), HB_ECRASHED);
    /* The restart armed a spare, started off the caller's path: wait for
     * it to show up as a second child. */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n;
    while ((n = children()) < 2) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        HB_CHECK_INT((long)(t.tv_sec - t0.tv_sec), <, 20); /* no spare within 20 s */
        (void)poll(NULL, 0, 5);
    }
    HB_CHECK_EQ(n, 2);
    hb_sandbox_free(sb);
    HB_CHECK_EQ(children(), 0);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"handover_keeps_state", case_handover_keeps_state},
        {"free_ends_spare", case_free_ends_spare},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
