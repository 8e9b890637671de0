/* cli/test/capture.c - a test's output. The worker appends its stdout and
 * stderr to the job's capture file (O_APPEND). Before each case (or batch
 * of cases: each test's output is then the byte range the worker reported
 * for it) the file is emptied; after it, what was written is read back,
 * keeping the first and last halves of OUTPUT_KEEP bytes when it is larger. Harness events are
 * never mixed in here: they go to the case's own events field. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

char *cli_test_read_capture(int fd)
{
    return cli_test_read_capture_range(fd, 0, UINT64_MAX);
}

char *cli_test_read_capture_range(int fd, uint64_t from, uint64_t to)
{
    if (from >= to)
        return NULL; /* the worker said: no output (most tests) */
    struct stat st;
    if (fstat(fd, &st) < 0)
        return NULL;
    uint64_t fsize = (uint64_t)st.st_size;
    if (to > fsize)
        to = fsize;
    if (from >= to)
        return NULL;
    size_t size = (size_t)(to - from);
    off_t base = (off_t)from;
    size_t head = size <= OUTPUT_KEEP ? size : OUTPUT_KEEP / 2;
    size_t tail = size <= OUTPUT_KEEP ? 0 : OUTPUT_KEEP / 2;
    char marker[96];
    int ml = tail ? snprintf(marker, sizeof(marker), "\n[... %zu bytes of output omitted ...]\n",
                             size - head - tail)
                  : 0;
    char *buf = malloc(head + (size_t)ml + tail + 1);
    if (!buf)
        return NULL;
    size_t got = 0;
    while (got < head) {
        ssize_t n = pread(fd, buf + got, head - got, base + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (tail) {
        memcpy(buf + got, marker, (size_t)ml);
        got += (size_t)ml;
        size_t t = 0;
        while (t < tail) {
            ssize_t n = pread(fd, buf + got + t, tail - t, base + (off_t)(size - tail + t));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            t += (size_t)n;
        }
        got += t;
    }
    buf[got] = '\0';
    /* Captured bytes may contain NULs: keep the text readable. */
    for (size_t i = 0; i < got; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    return buf;
}

void cli_test_reset_capture(int fd)
{
    while (ftruncate(fd, 0) < 0 && errno == EINTR)
        ;
}
