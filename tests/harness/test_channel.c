/* tests/harness/test_channel.c - plugin code that writes on its own worker
 * channel: half a frame, a header announcing a large frame that never
 * comes, a header past the protocol limit. Every case must end within the
 * call's time limit with a precise code, and the sandbox keeps serving with
 * its checkpointed state. alarm() is the test-side deadline: without the
 * fix the call blocks forever and SIGALRM fails the test.
 * Each case runs as: test_channel CASE. */
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

#define CALL_TIMEOUT_MS 2000u

/* `bad(kind)` finds the channel fd (the worker's "--fd N" argument), writes
 * on it what kind asks for, and blocks. */
static const char bad_src[] =
    "#include <fcntl.h>\n#include <unistd.h>\n"
    "static int channel_fd(void) {\n"
    "    char cl[4096]; int f = open(\"/proc/self/cmdline\", O_RDONLY);\n"
    "    if (f < 0) return -1;\n"
    "    ssize_t n = read(f, cl, sizeof(cl) - 1); close(f);\n"
    "    for (ssize_t i = 0; i + 6 < n; i++)\n"
    "        if (!memcmp(cl + i, \"--fd\", 5)) return atoi(cl + i + 5);\n"
    "    return -1;\n"
    "}\n"
    "int64_t bad(int32_t kind) {\n"
    "    int fd = channel_fd();\n"
    "    if (fd < 0) return -1;\n"
    "    unsigned char h[12] = {0};\n"
    "    uint32_t len = kind == 1 ? (64u << 20) - 1u : 0xfffffff0u;\n"
    "    memcpy(h, &len, 4); h[4] = 128; h[8] = 2;\n"
    "    if (write(fd, h, kind == 0 ? 5 : 12) < 0) return -2;\n"
    "    for (;;) pause();\n"
    "}\n"
    "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void run_channel(int kind, unsigned timeout_ms, int want, const char *needle, double max_ms)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, bad_src));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.call_timeout_ms = timeout_ms;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    alarm(60); /* the test's own deadline: a hang fails here, not at ctest's */
    double t0 = now_ms();
    int r = hb_callf(sb, "counter", "bad", "i)l", (int32_t)kind, &v);
    double took = now_ms() - t0;
    alarm(0);
    printf("bad(%d) -> %d after %.0f ms: %s\n", kind, r, took, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, want);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), needle);
    HB_CHECK(took >= 0 && took < max_ms); /* the time limit, then a worker restart */
    /* The sandbox serves again, from the checkpoint. */
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 4);
    HB_CHECK(ev.count[HB_EVENT_RESTARTED] >= 1);
    e2e_free(sb, m);
}

/* 5 bytes of a 12-byte header, then silence. */
static void case_half_header(void)
{
    run_channel(0, CALL_TIMEOUT_MS, HB_EHUNG, "unfinished frame", CALL_TIMEOUT_MS + 4000);
}

/* A header announcing 64 MiB - 1 (within the limit) and no payload. */
static void case_big_header(void)
{
    run_channel(1, CALL_TIMEOUT_MS, HB_EHUNG, "unfinished frame", CALL_TIMEOUT_MS + 4000);
}

/* A header announcing ~4 GiB: refused at once, not waited for (a 30 s
 * limit, so "at once" stands out from "at the limit" even under load). */
static void case_oversized_header(void)
{
    run_channel(2, 30000, HB_EPROTO, "protocol limit", 10000);
}

/* The same during a hot swap: v2's migrate hook writes half a frame and
 * blocks. The swap ends within the swap time limit and v1 keeps serving
 * with its state. */
static void case_half_header_swap(void)
{
    static const char v2_extra[] =
        "#include <fcntl.h>\n#include <unistd.h>\n"
        "static int bad_migrate(const void *d, size_t l, uint32_t s) {\n"
        "    (void)d; (void)l; (void)s; (void)migrate;\n"
        "    char cl[4096]; int f = open(\"/proc/self/cmdline\", O_RDONLY);\n"
        "    ssize_t n = f < 0 ? 0 : read(f, cl, sizeof(cl) - 1); int fd = -1;\n"
        "    for (ssize_t i = 0; i + 6 < n; i++)\n"
        "        if (!memcmp(cl + i, \"--fd\", 5)) { fd = atoi(cl + i + 5); break; }\n"
        "    if (fd < 0 || write(fd, \"\\x10\\0\\0\\0\\x80\", 5) < 0) return -1;\n"
        "    for (;;) pause();\n"
        "}\n"
        "HB_PLUGIN(\"counter\", 1, 0, 0, save, bad_migrate);";
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.swap_timeout_ms = CALL_TIMEOUT_MS;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", e2e_counter_src(2, 10, v2_extra));
    alarm(60);
    double t0 = now_ms();
    int r = hb_reload(sb, "counter");
    double took = now_ms() - t0;
    alarm(0);
    printf("reload -> %d after %.0f ms: %s\n", r, took, hb_sandbox_last_error(sb));
    HB_CHECK(r < 0);
    HB_CHECK(took < CALL_TIMEOUT_MS + 4000); /* the limit, then a worker restart */
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_EQ(v, 4); /* v1 with its state: nothing lost */
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    static const e2e_case cases[] = {
        {"half_header", case_half_header},
        {"big_header", case_big_header},
        {"oversized_header", case_oversized_header},
        {"half_header_swap", case_half_header_swap},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
