/* tests/harness/test_durable.c - the store's durability is off the swap
 * path (versions/objects.c has the argument): a manager killed (SIGKILL)
 * right after a reload's swapped event, before hb_store_flush has synced
 * anything, or right after the new version's commit, before its swap,
 * leaves a store that verifies, where every version is intact and the last
 * good version is known; the next manager serves the right one. */
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "e2e.h"

static e2e_events ev;
static int event_pipe = -1;

/* The child's events: the version of every swapped event, down the pipe,
 * so the parent knows the event was raised before the kill. */
static void child_on_event(const hb_event *e, void *ud)
{
    (void)ud;
    if (e->type == HB_EVENT_SWAPPED) {
        uint64_t v = e->version;
        if (write(event_pipe, &v, sizeof(v)) != sizeof(v))
            _exit(13);
    }
}

/* Runs v1 in a child manager, then reloads v2 with HOTBOX_FAULT=point;
 * returns the version announced by a swapped event (0: none). */
static uint64_t reload_killed_at(const char *point, const char *dir)
{
    int p[2];
    HB_CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        event_pipe = p[1];
        char state[4300];
        snprintf(state, sizeof(state), "%s/.hotbox", e2e_root);
        hb_manager_options o;
        hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION);
        o.state_dir = state;
        o.isolation = HB_ISOLATION_LOCAL;
        o.on_event = child_on_event;
        hb_manager *m;
        hb_sandbox *sb;
        if (hb_manager_new(&o, &m) < 0 || hb_sandbox_new(m, NULL, &sb) < 0 ||
            hb_load(sb, dir) < 0)
            _exit(10);
        int64_t v;
        for (int i = 0; i < 3; i++)
            hb_callf(sb, "counter", "increment", ")l", &v);
        e2e_write("counter", "counter.c", e2e_counter_src(2, 1, NULL));
        setenv("HOTBOX_FAULT", point, 1);
        hb_reload(sb, "counter");
        _exit(12); /* the fault point was not reached */
    }
    close(p[1]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        HB_CHECK(errno == EINTR);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        HB_FAIL_("manager at %s: expected death by SIGKILL, got status 0x%x (exit %d)", point, st,
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    uint64_t swapped = 0;
    ssize_t n;
    while ((n = read(p[0], &swapped, sizeof(swapped))) < 0 && errno == EINTR)
        ;
    close(p[0]);
    return n == (ssize_t)sizeof(swapped) ? swapped : 0;
}

static hb_version_status status_of(hb_manager *m, uint64_t version)
{
    hb_version_info *v = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_versions(m, "counter", &v, &n));
    hb_version_status st = (hb_version_status)-1;
    for (size_t i = 0; i < n; i++)
        if (v[i].version == version)
            st = v[i].status;
    hb_free(v);
    return st;
}

/* The store verifies; the next manager loads the plugin and gets version
 * `want` (by its own answer). */
static void check_after(uint64_t want)
{
    hb_manager *m = e2e_manager(&ev);
    char *report = NULL;
    HB_CHECK_OK(hb_verify(m, &report));
    hb_free(report);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    char dir[4300];
    snprintf(dir, sizeof(dir), "%s/counter", e2e_root);
    HB_CHECK_OK(hb_load(sb, dir));
    int32_t got = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "version", ")i", &got));
    HB_CHECK_EQ(got, (int32_t)want);
    e2e_free(sb, m);
}

/* Killed after the swapped event, before the flush: v2 was committed
 * (stored, active) and v1 is the good one before it. */
static void case_killed_after_swap_event(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    uint64_t swapped = reload_killed_at("store.before_flush", dir);
    HB_CHECK_EQ(swapped, 2); /* the event came first */
    hb_manager *m = e2e_manager(&ev);
    HB_CHECK_EQ(status_of(m, 1), HB_VERSION_GOOD);
    HB_CHECK_EQ(status_of(m, 2), HB_VERSION_ACTIVE);
    hb_manager_free(m);
    check_after(2);
}

/* Killed after v2's commit, before its swap: v2 is a stored candidate,
 * v1 still the active (last good) version. */
static void case_killed_after_commit(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    HB_CHECK_EQ(reload_killed_at("store.after_commit", dir), 0);
    hb_manager *m = e2e_manager(&ev);
    HB_CHECK_EQ(status_of(m, 1), HB_VERSION_ACTIVE);
    HB_CHECK_EQ(status_of(m, 2), HB_VERSION_CANDIDATE);
    hb_manager_free(m);
    check_after(2); /* the source is v2: the stored v2 is found, not built again */
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"killed_after_swap_event", case_killed_after_swap_event},
        {"killed_after_commit", case_killed_after_commit},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
