/* tests/harness/test_watch_churn.c - watch mode under a storm of saves.
 *
 * Three plugins; a writer thread saves them hundreds of times in a few
 * seconds, mixing in-place writes (paused half-way, so a compile can see a
 * half-written file), write-temp-then-rename, delete-then-create and saves
 * that do not compile; a formatter thread re-saves each good save 30-60 ms
 * later, while builds run. The test thread runs the watch loop throughout.
 * Once both writers are done it waits (on the watch fd, with a deadline as
 * the failure path) until every plugin serves the value embedded in its
 * final content, then checks that nothing moves any more and that no
 * failure was reported after the final swap.
 *
 * Prints saves vs builds and the time from the last save to the final swap.
 * The nanosleeps in the writer threads pace the workload; no wait of the
 * test itself is a sleep. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "e2e.h"

#define NPLUG 3
#define NSAVES 240

static hb_manager *m;
static hb_sandbox *sb;
static char root[4200];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int latest[NPLUG];          /* seq of each plugin's newest save */
static int final_value[NPLUG];     /* value in the final content */
static uint64_t last_save_ns[NPLUG];
static atomic_int saves, formats, writers_done, formatter_done;

/* Per-plugin event history, written by the event callback (this thread). */
static int compiled, compile_failed, swap_failed, swapped, loaded, descriptor_noise;
static uint64_t final_swap_ns[NPLUG];
static bool failed_after_swap[NPLUG];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pause_ms(unsigned lo, unsigned hi, unsigned *seed)
{
    unsigned ms = lo + (hi > lo ? (unsigned)rand_r(seed) % (hi - lo + 1) : 0);
    struct timespec ts = {0, (long)ms * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int plug_index(const char *name)
{
    return name && name[0] == 'p' && name[1] >= '0' && name[1] < '0' + NPLUG && !name[2]
               ? name[1] - '0'
               : -1;
}

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    int i = plug_index(ev->plugin);
    switch (ev->type) {
    case HB_EVENT_COMPILED: compiled++; break;
    case HB_EVENT_COMPILE_FAILED: compile_failed++; break;
    case HB_EVENT_SWAP_FAILED:
        swap_failed++;
        if (ev->message && strstr(ev->message, "descriptor"))
            descriptor_noise++;
        break;
    case HB_EVENT_SWAPPED: swapped++; break;
    case HB_EVENT_LOADED: loaded++; break;
    default: break;
    }
    if (i < 0)
        return;
    if (ev->type == HB_EVENT_SWAPPED || ev->type == HB_EVENT_LOADED) {
        final_swap_ns[i] = now_ns();
        failed_after_swap[i] = false;
    } else if (ev->type == HB_EVENT_COMPILE_FAILED || ev->type == HB_EVENT_SWAP_FAILED) {
        failed_after_swap[i] = true;
    }
    if (getenv("HB_TEST_VERBOSE"))
        fprintf(stderr, "event %d %s: %.120s\n", ev->type, ev->plugin, ev->message);
}

/* The source of plugin i for save v; formatted adds what a formatter
 * would (a header comment, other spacing); broken does not compile. Its
 * value() is 2v, or 2v + 1 once formatted. */
static void source(char *buf, size_t size, int i, int v, bool formatted, bool broken)
{
    v = 2 * v + (formatted ? 1 : 0);
    snprintf(buf, size,
             "%s#include <hotbox/plugin.h>\n#include <stdint.h>\n\n"
             "static int32_t pad_%d[%d];\n"
             "int32_t value(void)%s{ return %d + 0 * pad_%d[0]; }\n"
             "%s"
             "HB_PLUGIN(\"p%d\", 1, 0, 0, 0, 0);\n",
             formatted ? "/* formatted by the test's formatter */\n" : "", v, 1 + v % 7,
             formatted ? "\n" : " ", v, v, broken ? "int32_t broken(void) { return ;\n" : "", i);
}

static void path_of(char *buf, size_t size, int i, const char *name)
{
    snprintf(buf, size, "%s/p%d/%s", root, i, name);
}

/* An in-place save, paused half-way. */
static void write_in_place(const char *path, const char *text, unsigned *seed)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    HB_CHECK(fd >= 0);
    size_t len = strlen(text), half = len / 2;
    HB_CHECK_EQ(write(fd, text, half), (ssize_t)half);
    pause_ms(0, 2, seed);
    HB_CHECK_EQ(write(fd, text + half, len - half), (ssize_t)(len - half));
    HB_CHECK_EQ(close(fd), 0);
}

static void write_renamed(int i, const char *text)
{
    char tmp[4400], path[4400];
    path_of(tmp, sizeof(tmp), i, ".main.c.swp");
    path_of(path, sizeof(path), i, "main.c");
    FILE *f = fopen(tmp, "w");
    HB_CHECK(f != NULL);
    fputs(text, f);
    HB_CHECK_EQ(fclose(f), 0);
    HB_CHECK_EQ(rename(tmp, path), 0);
}

/* Formatter jobs: re-save a good save 30-60 ms after it. */
typedef struct fjob {
    int plugin, seq, value;
    uint64_t due;
} fjob;
static fjob jobs[NSAVES];
static atomic_int njobs;
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond = PTHREAD_COND_INITIALIZER; /* a job, or writers_done */

static void *writer(void *arg)
{
    (void)arg;
    unsigned seed = 12345u ^ (unsigned)getpid();
    char text[1024], path[4400];
    for (int k = 0; k < NSAVES; k++) {
        int i = (int)((unsigned)rand_r(&seed) % NPLUG);
        bool last_for_plugin = k >= NSAVES - NPLUG;
        if (last_for_plugin)
            i = k - (NSAVES - NPLUG); /* each plugin's last save is a good one */
        int seq = k + 1;
        unsigned kind = (unsigned)rand_r(&seed) % 10;
        bool broken = !last_for_plugin && kind >= 8;
        source(text, sizeof(text), i, seq, false, broken);
        path_of(path, sizeof(path), i, "main.c");
        pthread_mutex_lock(&lock);
        latest[i] = seq;
        if (kind < 4 || broken) {
            write_in_place(path, text, &seed);
        } else if (kind < 6) {
            write_renamed(i, text);
        } else {
            HB_CHECK_EQ(unlink(path), 0);
            pause_ms(0, 3, &seed);
            write_in_place(path, text, &seed);
        }
        if (!broken)
            final_value[i] = 2 * seq;
        last_save_ns[i] = now_ns();
        pthread_mutex_unlock(&lock);
        atomic_fetch_add(&saves, 1);
        if (!broken) {
            int n = atomic_load(&njobs);
            jobs[n] = (fjob){i, seq, seq, now_ns() + (30u + (unsigned)rand_r(&seed) % 31u) * 1000000u};
            pthread_mutex_lock(&jobs_lock);
            atomic_store(&njobs, n + 1);
            pthread_cond_signal(&jobs_cond);
            pthread_mutex_unlock(&jobs_lock);
        }
        /* Bursts (a few ms apart) and pauses around the quiet window. */
        if (rand_r(&seed) % 3 == 0)
            pause_ms(40, 70, &seed);
        else
            pause_ms(1, 15, &seed);
    }
    pthread_mutex_lock(&jobs_lock);
    atomic_store(&writers_done, 1);
    pthread_cond_signal(&jobs_cond);
    pthread_mutex_unlock(&jobs_lock);
    return NULL;
}

static void *formatter(void *arg)
{
    (void)arg;
    unsigned seed = 777u;
    char text[1024], path[4400];
    for (int next = 0;;) {
        /* Wait for the writer's next job (or its end); the writer ends
         * within the test's time limit, which bounds this wait. */
        pthread_mutex_lock(&jobs_lock);
        while (next >= atomic_load(&njobs) && !atomic_load(&writers_done))
            pthread_cond_wait(&jobs_cond, &jobs_lock);
        bool none = next >= atomic_load(&njobs);
        pthread_mutex_unlock(&jobs_lock);
        if (none)
            break;
        fjob j = jobs[next++];
        uint64_t t = now_ns();
        if (j.due > t) {
            struct timespec ts = {(time_t)((j.due - t) / 1000000000u), (long)((j.due - t) % 1000000000u)};
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        }
        pthread_mutex_lock(&lock);
        if (latest[j.plugin] == j.seq) { /* not saved again since */
            source(text, sizeof(text), j.plugin, j.value, true, false);
            path_of(path, sizeof(path), j.plugin, "main.c");
            write_in_place(path, text, &seed);
            final_value[j.plugin] = 2 * j.value + 1;
            last_save_ns[j.plugin] = now_ns();
            atomic_fetch_add(&formats, 1);
        }
        pthread_mutex_unlock(&lock);
    }
    atomic_store(&formatter_done, 1);
    return NULL;
}

static int cycles;

/* One round of the watch loop: waits up to timeout_ms for the fd. Returns
 * whether it was ready. */
static bool step(hb_watch *w, int timeout_ms)
{
    struct pollfd p = {.fd = hb_watch_fd(w), .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    HB_CHECK(n >= 0 || errno == EINTR);
    if (n <= 0)
        return false;
    int r = hb_watch_process(w);
    HB_CHECK(r >= 0);
    if (r > 0)
        cycles++;
    return true;
}

static bool all_final(void)
{
    for (int i = 0; i < NPLUG; i++) {
        char name[8];
        snprintf(name, sizeof(name), "p%d", i);
        int32_t v = -1;
        if (hb_callf(sb, name, "value", ")i", &v) != 0 || v != final_value[i])
            return false;
    }
    return true;
}

static void case_churn(void)
{
    snprintf(root, sizeof(root), "%s/plugins", e2e_root);
    char text[1024];
    for (int i = 0; i < NPLUG; i++) {
        char dir[64];
        snprintf(dir, sizeof(dir), "plugins/p%d", i);
        source(text, sizeof(text), i, 0, false, false);
        e2e_write(dir, "main.c", text);
    }
    hb_manager_options o = e2e_options(on_event, NULL);
    o.cflags = "-O0";
    m = e2e_manager_with(&o);
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    const char *roots[] = {root, NULL};
    hb_watch *w = NULL;
    HB_CHECK_OK(hb_watch_new(sb, roots, NULL, &w));
    HB_CHECK_EQ(loaded, NPLUG);

    uint64_t t0 = now_ns();
    pthread_t tw, tf;
    HB_CHECK_EQ(pthread_create(&tw, NULL, writer, NULL), 0);
    HB_CHECK_EQ(pthread_create(&tf, NULL, formatter, NULL), 0);
    while (!atomic_load(&writers_done) || !atomic_load(&formatter_done))
        step(w, 50);
    HB_CHECK_EQ(pthread_join(tw, NULL), 0);
    HB_CHECK_EQ(pthread_join(tf, NULL), 0);
    uint64_t storm_end = now_ns();

    /* Settle: every plugin serves its final content, within a deadline. */
    uint64_t deadline = now_ns() + 40ull * 1000000000u;
    bool done = all_final();
    while (!done && now_ns() < deadline) {
        step(w, 200);
        done = all_final();
    }
    if (!done) {
        for (int i = 0; i < NPLUG; i++) {
            char name[8];
            snprintf(name, sizeof(name), "p%d", i);
            int32_t v = -1;
            hb_callf(sb, name, "value", ")i", &v);
            fprintf(stderr, "p%d serves %d, final content has %d\n", i, v, final_value[i]);
        }
        /* What the watch thinks: still pending (superseded builds or
         * changes in their quiet window), and what ran. */
        char *metrics = NULL;
        hb_manager_metrics(m, 1, &metrics);
        fprintf(stderr, "hb_watch_pending: %d; %d watch cycles; events: %d compiled, %d compile-failed, %d swap-failed, %d swapped; metrics: %s\n",
                hb_watch_pending(w), cycles, compiled, compile_failed, swap_failed, swapped,
                metrics ? metrics : "-");
        hb_free(metrics);
    }
    HB_CHECK(done);
    /* And it stays so: whatever is still ready is handled, nothing moves. */
    int swaps_at_final = swapped;
    while (step(w, 200))
        ;
    HB_CHECK(all_final());
    HB_CHECK_EQ(swapped, swaps_at_final);
    for (int i = 0; i < NPLUG; i++)
        HB_CHECK(!failed_after_swap[i]);
    HB_CHECK_EQ(descriptor_noise, 0);

    /* Every compiler run, superseded ones included (the events above count
     * only the builds whose outcome was reported). */
    char *metrics = NULL;
    HB_CHECK_OK(hb_manager_metrics(m, 1, &metrics));
    const char *c = strstr(metrics, "\"compiles\":");
    HB_CHECK(c != NULL);
    long runs = strtol(c + strlen("\"compiles\":"), NULL, 10);
    hb_free(metrics);
    int total_saves = atomic_load(&saves) + atomic_load(&formats);
    HB_CHECK(runs >= compiled);
    HB_CHECK(runs < total_saves); /* coalesced: not one build per save */

    double worst = 0;
    for (int i = 0; i < NPLUG; i++) {
        double ms = final_swap_ns[i] > last_save_ns[i]
                        ? (double)(final_swap_ns[i] - last_save_ns[i]) / 1e6
                        : 0;
        if (ms > worst)
            worst = ms;
    }
    printf("churn: %d saves + %d formatter re-saves in %.1f s -> %ld compiler runs; reported: "
           "%d compiled, %d compile-failed, %d other failures; %d swaps, %d watch cycles; last "
           "save -> final swap: %.0f ms (worst plugin)\n",
           atomic_load(&saves), atomic_load(&formats), (double)(storm_end - t0) / 1e9, runs,
           compiled, compile_failed, swap_failed, swapped, cycles, worst);
    hb_watch_free(w);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"churn", case_churn},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
