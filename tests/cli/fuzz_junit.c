/* tests/cli/fuzz_junit.c - `hotbox report merge`'s JUnit reader (libxml2
 * parses; the walk over the tree, the timestamps and the case placement
 * are ours) on arbitrary bytes, then the writer on whatever was read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("junit", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    tr_case *cases = NULL;
    size_t n = 0;
    char *err = NULL;
    if (junit_read(path, &cases, &n, &err) == 0) {
        FILE *out = fopen("/dev/null", "we");
        if (out) {
            junit_write(out, cases, n);
            fclose(out);
        }
    }
    free(err);
    for (size_t i = 0; i < n; i++)
        tr_case_release(&cases[i]);
    free(cases);
    close(fd);
    return 0;
}
