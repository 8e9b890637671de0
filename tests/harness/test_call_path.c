/* tests/harness/test_call_path.c - what a call costs the caller's thread,
 * and who watches the worker between calls:
 *  - no_poll_per_call: steady ring calls (caller and worker on two CPUs,
 *    standard profile's seccomp without bwrap) make no poll at all:
 *    liveness is the ring's life word, denials are the denial watcher's
 *    (before, every call polled the pidfd and the seccomp listener). Counted by a seccomp user-notification filter on
 *    the calling thread only;
 *  - denial_idle_kills: a plugin thread stopped in a denied call ends the
 *    worker at once, with no call made (before, it waited for the next
 *    call), and that next call says which system call it was. */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

static const char plugin[] =
    "#include <hotbox/plugin.h>\n#include <pthread.h>\n#include <sys/socket.h>\n"
    "int add(int a, int b) { return a + b; }\n"
    "#include <stdint.h>\n#include <time.h>\n"
    "static uint64_t now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);\n"
    "  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u; }\n"
    /* 300 ms after the call returned: the worker is idle by then. */
    "static void *denied(void *a) { (void)a; uint64_t end = now_ms() + 300;\n"
    "  while (now_ms() < end) ; socket(2, 1, 0); return 0; }\n"
    "int start_denied_thread(void) { pthread_t t; return pthread_create(&t, 0, denied, 0); }\n"
    "HB_PLUGIN(\"callp\", 1, 0, 0, 0, 0);\n";

static hb_sandbox *start(hb_manager **m)
{
    char *dir = e2e_write("callp", "callp.c", plugin);
    *m = e2e_manager(&ev);
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = HB_PROFILE_STANDARD;
    so.call_timeout_ms = 20000;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(*m, &so, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    return sb;
}

static void pin(pid_t pid, int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    HB_CHECK_OK(sched_setaffinity(pid, sizeof(s), &s));
}

static _Atomic long polls;

/* Answers the filter's notifications: counts them and lets the call run. */
static void *counter(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    if (seccomp_notify_alloc(&req, &resp) < 0)
        return NULL;
    for (;;) {
        memset(req, 0, sizeof(*req));
        if (seccomp_notify_receive(fd, req) < 0)
            continue;
        polls++;
        memset(resp, 0, sizeof(*resp));
        resp->id = req->id;
        resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        (void)seccomp_notify_respond(fd, resp);
    }
    return NULL;
}

static void case_no_poll_per_call(void)
{
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        HB_SKIP("needs 2 CPUs (the ring spins only for a worker on another CPU)");
    /* The standard profile's seccomp filter and listener, without bwrap:
     * a wrapped worker's call asks bwrap's pidfd (one poll; see
     * hb__wc_alive). */
    setenv("HOTBOX_BWRAP", "", 1);
    hb_manager *m;
    hb_sandbox *sb = start(&m);
    int32_t r = 0;
    HB_CHECK_OK(hb_callf(sb, "callp", "add", "ii)i", 1, 2, &r));
    pin(hb_sandbox_worker_pid(sb), 1);
    pin(0, 0);
    /* This thread only (no TSYNC): the manager's other threads and the
     * workers are untouched. */
    HB_CHECK_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    HB_CHECK(ctx != NULL);
    HB_CHECK_OK(seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(poll), 0));
    HB_CHECK_OK(seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(ppoll), 0));
    if (seccomp_load(ctx) < 0)
        HB_SKIP("no seccomp user notification here");
    int nfd = seccomp_notify_fd(ctx);
    HB_CHECK(nfd >= 0);
    seccomp_release(ctx); /* the loaded filter and its fd stay */
    pthread_t t;
    HB_CHECK_OK(pthread_create(&t, NULL, counter, (void *)(intptr_t)nfd));
    /* Does the counter count? One poll of our own first. */
    (void)poll(NULL, 0, 0);
    HB_CHECK_EQ(polls, 1);
    const int calls = 5000;
    for (int i = 0; i < calls; i++) {
        HB_CHECK_OK(hb_callf(sb, "callp", "add", "ii)i", i, 1, &r));
        HB_CHECK_EQ(r, i + 1);
    }
    long n = polls - 1;
    printf("%ld polls in %d calls\n", n, calls);
    /* A worker descheduled for longer than a spin sends the caller to the
     * socket wait (a poll) now and then; one per call is what it was. */
    HB_CHECK_INT(n, <, calls / 10);
    /* The filter stays on this thread; the counter keeps answering. */
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void case_denial_idle_kills(void)
{
    hb_manager *m;
    hb_sandbox *sb = start(&m);
    int32_t r = -1;
    HB_CHECK_OK(hb_callf(sb, "callp", "start_denied_thread", ")i", &r));
    HB_CHECK_EQ(r, 0);
    {
        /* No call: the worker must end by itself, within a deadline. */
        int pid = hb_sandbox_worker_pid(sb);
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        HB_CHECK(pfd >= 0);
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        double t0 = now_ms();
        int n;
        do
            n = poll(&p, 1, 10000);
        while (n < 0 && errno == EINTR);
        HB_CHECK_EQ(n, 1); /* 0: still running 10 s after the denial */
        printf("worker ended %.1f ms after the call returned\n", now_ms() - t0);
        close(pfd);
        /* The death is found before the call is sent: the worker restarts
         * and the call says the state since the last checkpoint was lost
         * (or reports the crash itself). Either way the sandbox said what
         * was denied. */
        int rc = hb_callf(sb, "callp", "add", "ii)i", 1, 2, &r);
        HB_CHECK(rc == HB_ESTATELOST || rc == HB_ECRASHED);
        const char *said = strstr(hb_sandbox_last_error(sb), "denied")
                               ? hb_sandbox_last_error(sb)
                               : e2e_event_with(&ev, "denied");
        HB_CHECK(said != NULL);
        HB_CHECK_CONTAINS(said, "socket");
        HB_CHECK_CONTAINS(said, "denied");
    }
    HB_CHECK_OK(hb_callf(sb, "callp", "add", "ii)i", 2, 3, &r));
    HB_CHECK_EQ(r, 5);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"no_poll_per_call", case_no_poll_per_call},
        {"denial_idle_kills", case_denial_idle_kills},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
