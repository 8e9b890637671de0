/* worker/main.c - hotbox-worker: the guest process that hosts plugins.
 *
 *   hotbox-worker --fd N [--profile strict|standard|permissive] [--ring M]
 *                 [--preload LIB] [--allow unix] [--run-as UID:GID]
 *   hotbox-worker --watch-helper FD     (the manager's watch helper:
 *                                        watch_helper.c)
 *
 * N is this end of the harness's socketpair; M, when given, the memfd of
 * the shared-memory call ring (proto/ring.h), mapped here before anything
 * else and closed. The profile (default
 * standard) is applied before the first request is read, so no plugin code
 * ever runs outside it: rlimits, no_new_privs and the seccomp filter (see
 * security/security.h). Everything else about the process (which plugins,
 * which versions, limits) arrives as requests; see PROTOCOL.md. --allow
 * unix (a plugin.json allow-list names a UNIX socket) lets the filter allow
 * AF_UNIX sockets and connect. --run-as (a root manager's worker started
 * without the jail) drops root to UID:GID, every capability and every way
 * back (security/rootdrop.c) before the lifeline thread, the profile and
 * any plugin code; a worker that cannot drop does not serve. */
#include "worker.h"

#include "security.h"
#include "util.h"
#include "wire.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_USAGE 64

#if defined(__SANITIZE_ADDRESS__)
/* In sanitizer builds the worker must still die of the signal a plugin
 * raised (the harness reports "killed by SIGSEGV"), not have ASan catch it
 * and exit 1; and its leak check cannot run under the seccomp profile. */
const char *__asan_default_options(void) __attribute__((visibility("default"), used));
const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0:"
           "detect_leaks=0:allow_user_segv_handler=1";
}
#endif

/* Closes every fd above 2 except keep, so nothing the harness had open
 * (other sandboxes' sockets, the store) leaks into plugin code. */
static int close_other_fds(int keep)
{
    int r = 0;
    if (keep > 3)
        r = close_range(3, (unsigned)keep - 1, 0);
    if (r == 0)
        r = close_range(keep < 3 ? 3u : (unsigned)keep + 1, ~0u, 0);
    if (r == 0)
        return 0;
    /* Kernels before 5.9 lack close_range: walk /proc/self/fd instead. */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t n;
        if (hb__parse_u64(e->d_name, &n) < 0 || n > INT32_MAX)
            continue;
        int fd = (int)n;
        if (fd > 2 && fd != keep && fd != self)
            close(fd);
    }
    closedir(d);
    return 0;
}

/* The seccomp listener goes to the harness, the only reader of denials,
 * and this process keeps no copy: plugin code could otherwise read its own
 * denied calls, or answer them and let them through. */
static int hand_over_listener(int sock, int listener, uint32_t flags)
{
    hb_wbuf w = {0};
    hb_proto_listener m = {flags};
    int r = hb__proto_listener_encode(&w, 0, &m);
    if (r == 0)
        r = hb__wire_send_fd(sock, &w, listener);
    hb__wire_release(&w);
    close(listener);
    return r;
}

/* Under bwrap --as-pid-1 the worker is its pid namespace's init, and the
 * kernel drops every signal an init sends itself (raise(), abort()'s
 * SIGABRT, kill(getpid(), ...)) or gets from the kernel's CPU and file size
 * limits while its action is the default. Make every signal whose default
 * action ends a process end the worker as "killed by signal n" would read
 * through bwrap (exit status 128+n), so crashes report the same inside a
 * jail or not and a raised signal is never a call that returned. Faults
 * (SIGSEGV & co.) are forced and kill an init anyway; a raised fault signal
 * ends in fault.c's handler the same way. SIGKILL and SIGSTOP cannot be
 * caught: an init's raise(SIGKILL) does nothing. */
static void exit_like_signal(int sig)
{
    _exit(128 + sig);
}

static void init_dies_of_signals(void)
{
    if (getpid() != 1)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = exit_like_signal;
    sigfillset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        switch (sig) {
        case SIGKILL: case SIGSTOP: /* cannot be caught */
        case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH: /* default: ignore */
        case SIGTSTP: case SIGTTIN: case SIGTTOU: /* default: stop */
        case SIGPIPE: /* ignored on purpose (main) */
        case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: /* fault.c reports them */
            continue;
        default:
            /* glibc's own real-time signals (below SIGRTMIN) refuse. */
            (void)sigaction(sig, &sa, NULL);
        }
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: hotbox-worker --fd N [--profile strict|standard|permissive] "
                    "[--ring M] [--preload LIB] [--allow unix] [--run-as UID:GID] [--chdir DIR]\n"
                    "(started by the hotbox library, not by hand)\n");
    return EXIT_USAGE;
}

/* Ends the worker when the harness's end of the channel is gone: the
 * manager died (SIGKILL) or let go of this worker. A dedicated thread, so
 * a worker whose plugin code never returns still goes; the parent-death
 * signal alone does not cover a root manager's jail (bwrap stays root, the
 * worker is the jail's uid, and the kernel does not deliver that signal
 * across the uid change).
 *
 * An orderly end (the harness closes the channel after its last request)
 * is also a hang-up: the main loop then reads EOF and runs each plugin's
 * fini hook. So the lifeline gives it LIFELINE_GRACE_MS to finish on its
 * own (its return ends the process and this thread) and only then ends a
 * worker whose code is stuck. */
#define LIFELINE_GRACE_MS 1000
static void *lifeline(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        int n = poll(&p, 1, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NULL;
        if (p.revents)
            break;
    }
    /* poll with no fds: a wait the seccomp profiles already allow. */
    uint64_t end = hb__now_ns() + LIFELINE_GRACE_MS * 1000000ull;
    for (uint64_t now = hb__now_ns(); now < end; now = hb__now_ns())
        (void)poll(NULL, 0, (int)((end - now) / 1000000u) + 1);
    _exit(0);
}

int main(int argc, char **argv)
{
    uint64_t fd = UINT64_MAX, ring_fd = UINT64_MAX;
    hb_profile profile = HB_PROFILE_STANDARD;
    const char *preload = NULL; /* --preload LIB: preload.c */
    unsigned allow = 0; /* --allow unix: a plugin.json allow-list's sockets */
    bool helper = false; /* --watch-helper FD: watch_helper.c */
    const char *run_as = NULL; /* --run-as UID:GID: rootdrop.c */
    const char *chdir_to = NULL; /* --chdir DIR: security/wrap.c */
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--watch-helper") == 0) {
            if (hb__parse_u64(argv[i + 1], &fd) < 0 || fd > INT32_MAX)
                return usage();
            helper = true;
        } else if (strcmp(argv[i], "--fd") == 0) {
            if (hb__parse_u64(argv[i + 1], &fd) < 0 || fd > INT32_MAX)
                return usage();
        } else if (strcmp(argv[i], "--ring") == 0) {
            if (hb__parse_u64(argv[i + 1], &ring_fd) < 0 || ring_fd > INT32_MAX)
                return usage();
        } else if (strcmp(argv[i], "--run-as") == 0) {
            run_as = argv[i + 1];
        } else if (strcmp(argv[i], "--chdir") == 0) {
            chdir_to = argv[i + 1];
        } else if (strcmp(argv[i], "--preload") == 0) {
            preload = argv[i + 1];
        } else if (strcmp(argv[i], "--allow") == 0) {
            if (strcmp(argv[i + 1], "unix") != 0)
                return usage();
            allow |= HB_SEC_ALLOW_UNIX;
        } else if (strcmp(argv[i], "--profile") == 0) {
            if (hb_sec_profile_parse(argv[i + 1], &profile) < 0) {
                fprintf(stderr, "hotbox-worker: unknown profile %s\n", argv[i + 1]);
                return EXIT_USAGE;
            }
        } else {
            return usage();
        }
    }
    if (fd == UINT64_MAX)
        return usage();
    if (helper) /* the manager's watch helper, not a worker */
        return hb__watch_helper_main((int)fd);
    if (preload && hb__worker_preload(preload, argv) < 0)
        return 1;
    int sock = (int)fd;
    if (fcntl(sock, F_GETFD) < 0) {
        fprintf(stderr, "hotbox-worker: fd %d is not open\n", sock);
        return EXIT_USAGE;
    }
    /* The ring is mapped before the inherited fds are closed (its own with
     * them) and before the seccomp filter. */
    hb_ring *ring = NULL;
    if (ring_fd != UINT64_MAX && (ring_fd == fd || hb__ring_map((int)ring_fd, &ring) < 0)) {
        fprintf(stderr, "hotbox-worker: fd %d is not a call ring\n", (int)ring_fd);
        return EXIT_USAGE;
    }
    /* This thread serves every request: its death is the worker's, and the
     * kernel tells the harness through the ring's life word (ring.h). No
     * robust list (never with glibc): the harness polls the pidfd instead. */
    if (ring)
        (void)hb__ring_hold_life(ring);
    /* A harness that goes away must show up as EPIPE on send, not kill us
     * before fini hooks run. */
    signal(SIGPIPE, SIG_IGN);
    init_dies_of_signals();
    /* Also the jail's user namespace (HB_JAIL_USERNS_FD, security/jail.h):
     * bwrap passes it through and no shell closes it before us. */
    if (close_other_fds(sock) < 0) {
        fprintf(stderr, "hotbox-worker: cannot close inherited fds\n");
        return 1;
    }
    /* Root goes before any thread starts (capabilities are per thread)
     * and before the profile (its filter denies the calls this needs). */
    if (run_as) {
        unsigned uid = 0, gid = 0;
        char tail = 0, why[256];
        if (sscanf(run_as, "%u:%u%c", &uid, &gid, &tail) != 2) {
            fprintf(stderr, "hotbox-worker: --run-as %s: not UID:GID\n", run_as);
            return EXIT_USAGE;
        }
        if (hb_sec_drop_root((uid_t)uid, (gid_t)gid, why, sizeof(why)) < 0) {
            fprintf(stderr, "hotbox-worker: cannot drop root to uid %u: %s\n", uid, why);
            return 1;
        }
    }
    /* An unjailed worker leaves the manager's working directory (as the
     * uid it now runs as: the directory must be reachable by it). */
    if (chdir_to && chdir(chdir_to) < 0) {
        fprintf(stderr, "hotbox-worker: cannot change to %s: %s\n", chdir_to, strerror(errno));
        return 1;
    }
    /* Children a plugin spawns must not hold the channel open. */
    (void)fcntl(sock, F_SETFD, FD_CLOEXEC);
    pthread_t life;
    if (pthread_create(&life, NULL, lifeline, (void *)(intptr_t)sock) != 0) {
        fprintf(stderr, "hotbox-worker: cannot start the lifeline thread\n");
        return 1;
    }
    pthread_detach(life);
    /* Last step of set-up: from here on only the profile's calls work. */
    char why[256];
    hb_sec_applied applied;
    if (hb_sec_apply_profile_guard(profile, allow, sock, &applied, why, sizeof(why)) < 0) {
        fprintf(stderr, "hotbox-worker: cannot apply the %s profile: %s\n",
                hb_profile_name(profile), why);
        return 1;
    }
    uint32_t flags = applied.files_locked ? HB_LISTENER_FILES_LOCKED : 0;
    if (applied.listener >= 0 && hand_over_listener(sock, applied.listener, flags) < 0) {
        fprintf(stderr, "hotbox-worker: cannot pass the seccomp listener to the harness\n");
        return 1;
    }
    /* With a filter the channel cannot be closed or replaced any more
     * (hb_sec_apply_profile_guard): not even here; exit closes it. */
    return hb__worker_serve(sock, ring, applied.listener >= 0);
}
