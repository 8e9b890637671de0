/* worker/preload.c - `--preload LIB`: a sanitizer runtime loaded first.
 *
 * A plugin built with -fsanitize=address needs the ASan runtime to be the
 * first library of the process that dlopens it (ASan replaces malloc and
 * must own the heap from the first allocation). The harness names the
 * runtime its compiler links (harness/sanitize.c); the worker re-executes
 * itself once with LD_PRELOAD set to it, before any other set-up, so the
 * runtime lives in the worker only (not in bwrap or the shell in front of
 * it) and the inherited fds (the channel, the ring) pass through exec.
 *
 * ASAN_OPTIONS, ours before the user's (a later entry wins):
 *   detect_leaks=0  LeakSanitizer stops the world through ptrace, which
 *                   the seccomp profiles deny, and a leak found at worker
 *                   exit belongs to no test;
 *   handle_*=0, allow_user_segv_handler=1
 *                   crashes stay crashes: fault.c reports the signal, the
 *                   function and a backtrace, as in a plain worker;
 *   exitcode=1      (ASan's default) a finding ends the worker, the call
 *                   fails with HB_ECRASHED and the report is on the
 *                   plugin's output. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ASAN_DEFAULTS                                                                   \
    "detect_leaks=0:handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:"      \
    "handle_sigill=0:allow_user_segv_handler=1:exitcode=1"

int hb__worker_preload(const char *lib, char **argv)
{
    const char *cur = getenv("LD_PRELOAD");
    if (cur && strcmp(cur, lib) == 0)
        return 0; /* the re-executed worker: the runtime is in */
    if (strchr(lib, ':') || strchr(lib, ' ')) {
        fprintf(stderr, "hotbox-worker: --preload %s: not one library\n", lib);
        return -EINVAL;
    }
    const char *user = getenv("ASAN_OPTIONS");
    size_t n = strlen(ASAN_DEFAULTS) + (user ? strlen(user) + 1 : 0) + 1;
    char *opts = malloc(n);
    if (!opts)
        return -ENOMEM;
    snprintf(opts, n, "%s%s%s", ASAN_DEFAULTS, user && *user ? ":" : "", user ? user : "");
    if (setenv("LD_PRELOAD", lib, 1) < 0 || setenv("ASAN_OPTIONS", opts, 1) < 0) {
        free(opts);
        return -errno;
    }
    free(opts);
    execv("/proc/self/exe", argv);
    int e = errno;
    fprintf(stderr, "hotbox-worker: --preload %s: re-executing /proc/self/exe: %s\n", lib,
            strerror(e));
    return -e;
}
