/* tests/microvm/test_worker_kinds.c - the core end-to-end suite, run for
 * each worker kind (issue 17): `test_worker_kinds process` and
 * `test_worker_kinds microvm` run the same steps through the public API:
 *   load, call; self-tests; swap with state; a crash on probation ->
 *   restart with the checkpointed state and the automatic rollback; another
 *   swap and an explicit rollback (state carried); a hung call killed by
 *   its deadline, then serving again; an execve the standard profile
 *   denies, named, then serving again; the sandbox's limits (open files,
 *   CPU seconds: a spin ends in SIGXCPU named with its limit);
 * and, for microvm only, where the worker runs (PID 1 of its namespace is
 * the guest agent, /init), that the guest refuses a host file, and that
 * QEMU's own death is a crash ("its microVM died") the sandbox recovers
 * from. A guest worker that dies is restarted in the same VM; after a hang
 * (QEMU killed at the deadline) or the VM's death, a new VM is restored
 * from the worker snapshot. SKIPs (77) with the reason when this machine has no QEMU or no
 * guest kernel. No sleeps: every wait is an API call with its own deadline. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "../harness/e2e.h"

static e2e_events ev;
static bool guest;

static const char *plugin_src(int version, int step)
{
    static char src[4096];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <fcntl.h>\n#include <stdint.h>\n"
             "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <sys/syscall.h>\n#include <unistd.h>\n"
             "static int64_t count;\n"
             "int64_t increment(void) { count += %d; return count; }\n"
             "int64_t get(void) { return count; }\n"
             "int32_t version(void) { return %d; }\n"
             "int64_t crash(void) { volatile int *p = 0; *p = 1; return 0; }\n"
             /* by number: an import of execve is refused at load time */
             "int64_t do_exec(void) { char *a[] = {\"/bin/true\", 0}; "
             "syscall(SYS_execve, a[0], a, 0); return -1; }\n"
             "int64_t spin(void) { for (;;) count += 0 * getpid(); return 0; }\n"
             "int32_t say(int32_t n) { printf(\"out-%%d\\n\", n); fflush(stdout); "
             "fprintf(stderr, \"err-%%d\\n\", n); return n; }\n"
             /* opens until refused: the highest fd + 1 (RLIMIT_NOFILE bounds it) */
             "int64_t fds(void) { static int got[4096]; int n = 0; while (n < 4096 && "
             "(got[n] = open(\"/\", O_RDONLY | O_DIRECTORY)) >= 0) n++; "
             "int64_t top = n ? got[n - 1] : -1; while (n > 0) close(got[--n]); return top + 1; }\n"
             /* 1 when PID 1 here is the guest agent (/init) */
             "int32_t in_guest(void) { char b[64] = {0}; int fd = open(\"/proc/1/cmdline\", "
             "O_RDONLY); if (fd < 0) return -1; ssize_t n = read(fd, b, sizeof(b) - 1); "
             "close(fd); (void)n; return strcmp(b, \"/init\") == 0; }\n"
             "int32_t can_open(const char *p) { int fd = open(p, O_RDONLY); if (fd < 0) "
             "return 0; close(fd); return 1; }\n"
             "int hb_test_counts(void) { return count >= 0 ? 0 : 1; }\n"
             "int hb_test_version(void) { return version() == %d ? 0 : 1; }\n"
             "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; "
             "*p = count; *d = p; *l = 8; return 0; }\n"
             "static int migrate(const void *d, size_t l, uint32_t s) { if (s != 1 || l != 8) "
             "return -1; memcpy(&count, d, 8); return 0; }\n"
             "HB_PLUGIN(\"counter\", 1, 0, 0, save, migrate);\n",
             step, version, version);
    return src;
}

static int64_t call_l(hb_sandbox *sb, const char *fn)
{
    int64_t v = -1;
    int r = hb_callf(sb, "counter", fn, ")l", &v);
    if (r != 0)
        fprintf(stderr, "call %s: %s\n", fn, hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    return v;
}

static void check_kind(hb_sandbox *sb)
{
    hb_worker_kind k;
    const char *why = NULL;
    HB_CHECK_OK(hb_sandbox_worker_kind(sb, &k, &why));
    HB_CHECK_EQ((int)k, guest ? (int)HB_WORKER_MICROVM : (int)HB_WORKER_PROCESS);
    int32_t in = -1;
    HB_CHECK_OK(hb_callf(sb, "counter", "in_guest", ")i", &in));
    HB_CHECK_EQ(in, guest ? 1 : 0);
}

/* Waits (deadline 30 s) until the file at path contains want: a guest
 * worker's output reaches the file through QEMU, not in step with the
 * call's reply. */
static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool file_has(const char *path, const char *want)
{
    int in = inotify_init1(IN_CLOEXEC);
    if (in >= 0)
        inotify_add_watch(in, path, IN_MODIFY);
    uint64_t end = now_ms() + 30000;
    bool found = false;
    for (;;) {
        char buf[8192] = "";
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            buf[n] = 0;
            fclose(f);
        }
        if ((found = strstr(buf, want) != NULL) || now_ms() >= end || in < 0)
            break;
        struct pollfd p = {in, POLLIN, 0};
        if (poll(&p, 1, (int)(end - now_ms())) > 0) {
            char evbuf[4096];
            (void)!read(in, evbuf, sizeof(evbuf));
        }
    }
    if (in >= 0)
        close(in);
    return found;
}

/* The sandbox's limits bind the worker of either kind, and a limit death
 * reads the same: open files cap what a plugin can open; CPU seconds end a
 * spinning call with SIGXCPU, named with the limit, and the sandbox serves
 * again. The call deadline is far above the CPU limit (TCG is slow), so the
 * limit, not the deadline, ends the call. */
static void run_limits(hb_manager *m, const char *dir)
{
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.worker = guest ? HB_WORKER_MICROVM : HB_WORKER_PROCESS;
    so.call_timeout_ms = 120000;
    so.max_open_files = 32;
    so.max_cpu_seconds = 2;
    char out[4200];
    snprintf(out, sizeof(out), "%s/worker-output.log", e2e_root);
    so.output_path = out;
    hb_sandbox *sb = NULL;
    int r = hb_sandbox_new(m, &so, &sb);
    if (r)
        fprintf(stderr, "hb_sandbox_new (limits): %s\n", hb_manager_last_error(m));
    HB_CHECK_OK(r);
    HB_CHECK_OK(hb_load(sb, dir));
    /* Plugin output (stdout and stderr) reaches the sandbox's output file. */
    int32_t said = 0;
    HB_CHECK_OK(hb_callf(sb, "counter", "say", "i)i", 41, &said));
    HB_CHECK_EQ(said, 41);
    HB_CHECK(file_has(out, "out-41\n"));
    HB_CHECK(file_has(out, "err-41\n"));
    int64_t top = call_l(sb, "fds");
    HB_CHECK_INT(top, >, 3);
    HB_CHECK_INT(top, <=, 32);
    int64_t v;
    HB_CHECK_EQ(hb_callf(sb, "counter", "spin", ")l", &v), HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "killed by SIGXCPU: CPU time limit 2 s exceeded");
    HB_CHECK_INT(call_l(sb, "fds"), <=, 32); /* restarted under the same limits */
    check_kind(sb);
    hb_sandbox_free(sb);
}

static void run_suite(void)
{
    char *dir = e2e_write("counter", "counter.c", plugin_src(1, 1));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.worker = guest ? HB_WORKER_MICROVM : HB_WORKER_PROCESS;
    so.call_timeout_ms = 5000;
    hb_sandbox *sb = NULL;
    int r = hb_sandbox_new(m, &so, &sb);
    const char *why = hb_manager_last_error(m);
    if (guest && r == HB_EISOLATION &&
        (strstr(why, "guest kernel not found") || strstr(why, "qemu-system-x86_64") ||
         strstr(why, "initramfs not found"))) {
        printf("SKIP: %s\n", hb_manager_last_error(m));
        hb_manager_free(m);
        e2e_cleanup();
        exit(77);
    }
    if (r)
        fprintf(stderr, "hb_sandbox_new: %s\n", hb_manager_last_error(m));
    HB_CHECK_OK(r);

    /* Load and call. */
    HB_CHECK_OK(hb_load(sb, dir));
    check_kind(sb);
    for (int i = 0; i < 3; i++)
        HB_CHECK_EQ(call_l(sb, "increment"), i + 1);

    /* Self-tests. */
    unsigned passed = 0, failed = 9;
    HB_CHECK_OK(hb_run_selftests(sb, "counter", &passed, &failed));
    HB_CHECK_EQ(passed, 2u);
    HB_CHECK_EQ(failed, 0u);

    /* Swap with state: v2 adds 100, starting from v1's 3. */
    e2e_write("counter", "counter.c", plugin_src(2, 100));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    HB_CHECK_EQ(call_l(sb, "increment"), 103);

    /* Crash -> restart with the checkpointed state. v2 is on probation, so
     * its crash also rolls back to v1 (automatically, v2 marked bad). */
    HB_CHECK_OK(hb_checkpoint(sb, "counter")); /* 103 */
    HB_CHECK_EQ(call_l(sb, "increment"), 203);  /* after the checkpoint: lost */
    int pid = hb_sandbox_worker_pid(sb);
    int64_t v;
    HB_CHECK_EQ(hb_callf(sb, "counter", "crash", ")l", &v), HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "SIGSEGV");
    HB_CHECK_EQ(call_l(sb, "get"), 103);
    /* A process worker is a new process; a guest worker is a new process
     * in the same VM (QEMU's pid is the one the host sees). */
    if (guest)
        HB_CHECK_EQ(hb_sandbox_worker_pid(sb), pid);
    else
        HB_CHECK_INT(hb_sandbox_worker_pid(sb), !=, pid);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_CRASHED], "SIGSEGV");
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 1);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_ROLLED_BACK], "crashed during probation");
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1u);
    check_kind(sb);

    /* Another swap (v3 adds 10), then an explicit rollback to v1: the state
     * carries both ways (schema 1). */
    e2e_write("counter", "counter.c", plugin_src(3, 10));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 2);
    HB_CHECK_EQ(call_l(sb, "increment"), 113);
    HB_CHECK_OK(hb_rollback(sb, "counter", 1));
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1u);
    HB_CHECK_EQ(ev.count[HB_EVENT_ROLLED_BACK], 2);
    HB_CHECK_EQ(call_l(sb, "increment"), 114);

    /* A hung call is killed by its deadline; the sandbox serves again. */
    HB_CHECK_OK(hb_checkpoint(sb, "counter")); /* 114 */
    HB_CHECK_EQ(hb_callf(sb, "counter", "spin", ")l", &v), HB_EHUNG);
    HB_CHECK_EQ(call_l(sb, "get"), 114);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], 2);

    /* A call the standard profile denies ends the worker and is named. */
    HB_CHECK_EQ(hb_callf(sb, "counter", "do_exec", ")l", &v), HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "execve");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "denied by the standard profile");
    HB_CHECK_EQ(call_l(sb, "get"), 114);

    if (guest) {
        /* The guest has no host files. */
        int32_t can = -1;
        HB_CHECK_EQ(access(dir, R_OK), 0);
        char path[4200];
        snprintf(path, sizeof(path), "%s/counter.c", dir);
        HB_CHECK_OK(hb_callf(sb, "counter", "can_open", "Z)i", path, &can));
        HB_CHECK_EQ(can, 0);
        /* The VM's own death is a crash too; the sandbox recovers. */
        HB_CHECK_OK(hb_checkpoint(sb, "counter"));
        HB_CHECK_OK(kill(hb_sandbox_worker_pid(sb), SIGKILL));
        int c = hb_callf(sb, "counter", "increment", ")l", &v);
        if (c == HB_ECRASHED) {
            HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "microVM died");
            HB_CHECK_EQ(call_l(sb, "get"), 114);
        } else {
            /* The death was noticed before the call was sent: restarted
             * first, the call then served by the new VM. */
            HB_CHECK_OK(c);
            HB_CHECK_EQ(v, 115);
            HB_CHECK_CONTAINS(ev.last[HB_EVENT_CRASHED], "microVM died");
        }
        check_kind(sb);
    }
    hb_sandbox_free(sb);
    run_limits(m, dir);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "process") && strcmp(argv[1], "microvm"))) {
        fprintf(stderr, "usage: %s process|microvm\n", argv[0]);
        return 2;
    }
    guest = strcmp(argv[1], "microvm") == 0;
    e2e_tmpdir();
    run_suite();
    e2e_cleanup();
    printf("PASS %s\n", argv[1]);
    return 0;
}
