/* util/rlimit.c - see rlimit.h. libc only (linked into the guest agent). */
#include "rlimit.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static int set_one(int res, uint64_t v)
{
    struct rlimit cur;
    if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && v > (uint64_t)cur.rlim_max)
        v = (uint64_t)cur.rlim_max;
    struct rlimit rl = {.rlim_cur = (rlim_t)v, .rlim_max = (rlim_t)v};
    if (res == RLIMIT_CPU && (cur.rlim_max == RLIM_INFINITY || (uint64_t)cur.rlim_max > v))
        rl.rlim_max = (rlim_t)v + 1; /* SIGXCPU at the soft limit, SIGKILL one second later */
    return setrlimit(res, &rl) < 0 ? -errno : 0;
}

int hb__limits_apply(const hb_limits *l, const char **failed)
{
    const struct {
        int res;
        uint64_t v;
        const char *name;
    } want[] = {
        {RLIMIT_AS, l->memory_bytes, "RLIMIT_AS"},
        {RLIMIT_CPU, l->cpu_seconds, "RLIMIT_CPU"},
        {RLIMIT_NOFILE, l->open_files, "RLIMIT_NOFILE"},
        {RLIMIT_NPROC, l->processes, "RLIMIT_NPROC"},
        {RLIMIT_FSIZE, l->file_size, "RLIMIT_FSIZE"},
        {RLIMIT_CORE, 0, l->no_core ? "RLIMIT_CORE" : NULL},
    };
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (want[i].res == RLIMIT_CORE ? !want[i].name : !want[i].v)
            continue;
        int r = set_one(want[i].res, want[i].v);
        if (r < 0) {
            if (failed)
                *failed = want[i].name;
            return r;
        }
    }
    return 0;
}

uint64_t hb__host_task_share(void)
{
    static const char *const files[] = {"/proc/sys/kernel/pid_max",
                                        "/proc/sys/kernel/threads-max"};
    uint64_t least = 0;
    for (unsigned i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        FILE *f = fopen(files[i], "re");
        unsigned long long v = 0;
        if (f && fscanf(f, "%llu", &v) == 1 && v && (!least || v < least))
            least = v;
        if (f)
            fclose(f);
    }
    return least / 4;
}
