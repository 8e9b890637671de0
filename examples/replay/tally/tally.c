/* tally: the plugin of the differential replay example (README.md here,
 * docs/replay.md). Its state (a running total) lives in a static saved by
 * save() and restored by migrate(), so a replay starts each segment of
 * recorded calls from the very state they were recorded with. */
#include <hotbox/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t total;

/* Adds n to the running total and returns it: l)l */
HB_EXPORT_FN int64_t add(int64_t n)
{
    total += n;
    return total;
}

/* The score of a value: i)i. The example edits this body. */
HB_EXPORT_FN int32_t score(int32_t x)
{
    return x * 2;
}

/* Upper-cases an in/out buffer: w)i (how many bytes changed) */
HB_EXPORT_FN int32_t shout(void *data, size_t len)
{
    unsigned char *p = data;
    int32_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] >= 'a' && p[i] <= 'z') {
            p[i] = (unsigned char)(p[i] - 'a' + 'A');
            n++;
        }
    return n;
}

/* A different answer on every call: exclude it from replays
 * (--exclude stamp). )L */
HB_EXPORT_FN uint64_t stamp(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int tally_save(void **data, size_t *len)
{
    int64_t *p = malloc(sizeof(*p));
    if (!p)
        return -1;
    *p = total;
    *data = p;
    *len = sizeof(*p);
    return 0;
}

static int tally_migrate(const void *data, size_t len, uint32_t from_schema)
{
    if (from_schema != 1 || len != sizeof(int64_t))
        return -1;
    memcpy(&total, data, sizeof(total));
    return 0;
}

HB_PLUGIN("tally", 1, 0, 0, tally_save, tally_migrate);
