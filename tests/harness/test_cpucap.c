/* hb_sandbox_options.cpu_percent end to end: a plugin that burns CPU in a
 * sandbox capped at 20% of one CPU is throttled by the kernel (the worker's
 * cgroup counts throttled periods, and the burn takes at least 4x its CPU
 * time in wall time). cgroup v2 cpu.max where the cpu controller is
 * delegated, a cgroup v1 cpu hierarchy on a hybrid machine as root; SKIP
 * where neither can be had (the sandbox warns and runs uncapped). */
#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "e2e.h"

static e2e_events ev;

#define BURN_MS 150

static const char *burner_src =
    "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <time.h>\n"
    "static int64_t ms(clockid_t c) { struct timespec t; clock_gettime(c, &t);\n"
    "  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000; }\n"
    "/* Burns n ms of CPU time; returns the wall-clock ms it took. */\n"
    "int64_t burn(int64_t n) { int64_t w0 = ms(CLOCK_MONOTONIC), c0 = ms(CLOCK_PROCESS_CPUTIME_ID);\n"
    "  volatile uint64_t x = 0; while (ms(CLOCK_PROCESS_CPUTIME_ID) - c0 < n) x++;\n"
    "  return ms(CLOCK_MONOTONIC) - w0; }\n"
    "HB_PLUGIN(\"burner\", 1, 0, 0, 0, 0);\n";

/* The worker's cgroup directory whose cpu.stat counts throttling: the v1
 * cpu hierarchy's, else the v2 one's. Returns the cpu.stat text. */
static bool throttle_stat(int pid, char *dir, size_t dlen, char *stat, size_t slen)
{
    char p[64], line[1024];
    snprintf(p, sizeof(p), "/proc/%d/cgroup", pid);
    FILE *f = fopen(p, "re");
    HB_CHECK(f != NULL);
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        *c1 = '\0';
        /* v1: the hierarchy holding cpu; v2: the unified one. */
        bool v2 = strcmp(line, "0") == 0, cpu = false;
        for (char *t = strtok(c1 + 1, ","); t; t = strtok(NULL, ","))
            cpu |= strcmp(t, "cpu") == 0;
        if (!v2 && !cpu)
            continue;
        const char *mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct",
                                "/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
        for (size_t i = v2 ? 2 : 0; i < (v2 ? 4u : 2u) && !found; i++) {
            snprintf(dir, dlen, "%s%s", mounts[i], c2 + 1);
            char sp[4200];
            snprintf(sp, sizeof(sp), "%s/cpu.stat", dir);
            FILE *s = fopen(sp, "re");
            if (!s)
                continue;
            size_t n = fread(stat, 1, slen - 1, s);
            stat[n] = '\0';
            fclose(s);
            found = strstr(stat, "nr_throttled") != NULL;
        }
    }
    fclose(f);
    return found;
}

static long stat_value(const char *stat, const char *key)
{
    const char *p = strstr(stat, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void case_throttled(void)
{
    char *dir = e2e_write("burner", "burner.c", burner_src);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.cpu_percent = 20;
    hb_sandbox *sb = NULL;
    int r0 = hb_sandbox_new(m, &so, &sb);
    if (r0 < 0)
        fprintf(stderr, "hb_sandbox_new: %s\n", hb_manager_last_error(m));
    HB_CHECK_OK(r0);
    if (strstr(ev.last[HB_EVENT_WARNING], "cpu_percent")) {
        printf("SKIP: %s\n", ev.last[HB_EVENT_WARNING]);
        hb_manager_free(m);
        e2e_cleanup();
        exit(77);
    }
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t wall = 0;
    HB_CHECK_OK(hb_callf(sb, "burner", "burn", "l)l", (int64_t)BURN_MS, &wall));
    char cg[4096], stat[4096];
    HB_CHECK(throttle_stat(hb_sandbox_worker_pid(sb), cg, sizeof(cg), stat, sizeof(stat)));
    printf("cgroup %s: burn %d ms CPU took %lld ms wall\n%s", cg, BURN_MS, (long long)wall, stat);
    /* 150 ms of CPU at 20 ms per 100 ms period spans at least 7 periods;
     * those that exhaust their quota are throttled (on a busy machine not
     * all of them do, so at least one). Uncapped: none. */
    HB_CHECK(stat_value(stat, "nr_throttled ") >= 1);
    HB_CHECK(stat_value(stat, "throttled_time ") > 0 || stat_value(stat, "throttled_usec ") > 0);
    HB_CHECK(wall >= 4 * BURN_MS);
    /* The cap survives a worker restart: the new worker is in it too. */
    int old = hb_sandbox_worker_pid(sb);
    HB_CHECK_OK(kill(old, SIGKILL) == 0 ? 0 : -errno);
    int r = -1;
    for (int i = 0; i < 5 && r != 0; i++)
        r = hb_callf(sb, "burner", "burn", "l)l", (int64_t)1, &wall);
    HB_CHECK_OK(r);
    HB_CHECK(hb_sandbox_worker_pid(sb) != old);
    char cg2[4096];
    HB_CHECK(throttle_stat(hb_sandbox_worker_pid(sb), cg2, sizeof(cg2), stat, sizeof(stat)));
    HB_CHECK_STR(cg2, cg);
    hb_manager_free(m);
}

static const e2e_case cases[] = {{"throttled", case_throttled}};

int main(int argc, char **argv)
{
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
