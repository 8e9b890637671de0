/* cli/test/sanreport.c - a sanitizer's report in a test's output, turned
 * into the failure's text (--sanitize; docs/testing.md "Sanitizers").
 *
 * UBSan prints one "FILE:LINE:COL: runtime error: ..." line: that line and
 * what follows is the failure message, as before. ASan prints a block
 * from "==PID==ERROR: AddressSanitizer: ..." to "SUMMARY: ..." and then a
 * map of shadow bytes. The message is the SUMMARY line (the kind of
 * finding, the file and line, the function); the details are the block,
 * trimmed: the shadow map goes, and each stack stops at its first frame in
 * the worker's own machinery (libffi, hotbox-worker, libc's start), which
 * only says how hotbox called the test. */
#include <stdlib.h>
#include <string.h>

#include "test.h"

#define MAX_LINES 60

/* A stack frame line: spaces, '#', digits. */
static bool is_frame(const char *l, size_t n)
{
    size_t i = 0;
    while (i < n && l[i] == ' ')
        i++;
    return i < n && l[i] == '#' && i + 1 < n && l[i + 1] >= '0' && l[i + 1] <= '9';
}

static bool is_machinery(const char *l, size_t n)
{
    static const char *const marks[] = {"libffi.so", "hotbox-worker", "__libc_start", "_start (",
                                        "worker/ffi_call.c", "worker/worker.c", NULL};
    for (const char *const *m = marks; *m; m++) {
        size_t k = strlen(*m);
        for (size_t i = 0; i + k <= n; i++)
            if (memcmp(l + i, *m, k) == 0)
                return true;
    }
    return false;
}

/* The ASan block starting at err (the start of its ERROR line). */
static char *trim_asan(const char *err, char **summary)
{
    size_t cap = strlen(err) + 64, len = 0, lines = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    bool cut = false; /* this stack reached the machinery */
    const char *p = err;
    while (*p && lines < MAX_LINES) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        bool frame = is_frame(p, n);
        if (!frame)
            cut = false;
        else if (!cut && is_machinery(p, n)) {
            cut = true;
            static const char more[] = "    ... (frames in hotbox's worker)\n";
            memcpy(out + len, more, sizeof(more) - 1);
            len += sizeof(more) - 1;
            lines++;
        }
        if (!frame || !cut) {
            memcpy(out + len, p, n);
            len += n;
            out[len++] = '\n';
            lines++;
        }
        if (n >= 9 && memcmp(p, "SUMMARY: ", 9) == 0) {
            *summary = strndup(p + 9, n - 9);
            break;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    while (len && out[len - 1] == '\n')
        len--;
    out[len] = '\0';
    return out;
}

bool cli_test_sanitizer_report(const char *output, char **message, char **details)
{
    *message = *details = NULL;
    if (!output)
        return false;
    const char *asan = strstr(output, "ERROR: AddressSanitizer:");
    if (asan) {
        while (asan > output && asan[-1] != '\n')
            asan--;
        char *summary = NULL;
        *details = trim_asan(asan, &summary);
        if (!summary) {
            const char *e = strstr(asan, "ERROR: ");
            const char *nl = strchr(e, '\n');
            summary = nl ? strndup(e + 7, (size_t)(nl - e - 7)) : strdup(e + 7);
        }
        *message = summary;
        return *message && *details;
    }
    const char *ub = strstr(output, "runtime error:");
    if (!ub)
        return false;
    while (ub > output && ub[-1] != '\n')
        ub--;
    *message = strdup(ub);
    return *message != NULL;
}
