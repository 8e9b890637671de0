/* The escape suite. Usage: test_escape CASE
 *
 * Every case loads an escape plugin from tests/escape/plugins/<name>/
 * through the public API into a sandbox of the standard profile (strict
 * where the case says so), calls its `esc` function, and asserts that the
 * attempt was denied (the worker died and the last error names the system
 * call and the profile, or the import policy refused the load naming the
 * symbol) or contained (the call returned an error from inside the
 * worker's private view, and nothing changed outside). Then the sandbox
 * must still serve: mathx's add(2, 3) == 5. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"
#include "escape_env.h"
#include "ring.h"

static char root[4096];
static hb_manager *mgr;
static int warnings;
static char last_warning[1024];
static char all_warnings[8192]; /* every warning, one a line */
static size_t max_state; /* a case's hb_sandbox_options.max_state_size (0: default) */

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_WARNING) {
        warnings++;
        snprintf(last_warning, sizeof(last_warning), "%s", ev->message ? ev->message : "");
        size_t used = strlen(all_warnings);
        snprintf(all_warnings + used, sizeof(all_warnings) - used, "%s\n", last_warning);
    }
    if (getenv("HB_TEST_VERBOSE"))
        fprintf(stderr, "event %d: %s\n", ev->type, ev->message ? ev->message : "");
}

static void cleanup(void)
{
    hb_escape_cleanup(&mgr, root);
}

/* Whether bubblewrap can build the worker's namespaces here: the same
 * probe the library runs. Cases whose containment is the private view
 * skip without it (seccomp cases run either way). */
static const char *namespaces_missing(void)
{
    if (getenv("HOTBOX_BWRAP") && !*getenv("HOTBOX_BWRAP"))
        return "HOTBOX_BWRAP is empty";
    int r = system("bwrap --unshare-user --unshare-pid --unshare-net --unshare-ipc "
                   "--unshare-uts --ro-bind /usr /usr --proc /proc --dev /dev "
                   "--symlink usr/lib64 /lib64 --symlink usr/lib /lib /usr/bin/true "
                   ">/dev/null 2>&1");
    return r == 0 ? NULL : "bwrap cannot create user/pid/net namespaces on this machine";
}

static hb_sandbox *sandbox(hb_profile profile)
{
    if (!mgr) {
        mgr = hb_escape_manager_new(root, sizeof(root), "hb-escape", on_event);
        atexit(cleanup);
    }
    return hb_escape_sandbox_of(mgr, profile, max_state);
}

static void load(hb_sandbox *sb, const char *name)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tests/escape/plugins/%s", HB_SOURCE_DIR, name);
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading %s: %s", name, hb_sandbox_last_error(sb));
}

/* The sandbox still serves a well-behaved plugin afterwards. */
static void still_serves(hb_sandbox *sb)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/examples/plugins/mathx", HB_SOURCE_DIR);
    int r = hb_load(sb, dir);
    if (r != 0 && r != -EEXIST)
        HB_FAIL_("loading mathx after the escape: %s", hb_sandbox_last_error(sb));
    int32_t sum = 0;
    if (hb_callf(sb, "mathx", "add", "ii)i", 2, 3, &sum) != 0)
        HB_FAIL_("mathx.add after the escape: %s", hb_sandbox_last_error(sb));
    HB_CHECK_EQ(sum, 5);
}

/* The attempt must kill the worker with a denial naming `syscall` and the
 * profile, or be refused at load time by the import policy naming
 * `symbol`. */
static void expect_denied(hb_profile profile, const char *plugin, const char *sig,
                          int32_t arg, const char *syscall_name, const char *symbol)
{
    hb_sandbox *sb = sandbox(profile);
    const char *pname = profile == HB_PROFILE_STRICT ? "strict" : "standard";
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tests/escape/plugins/%s", HB_SOURCE_DIR, plugin);
    int r = hb_load(sb, dir);
    if (r == HB_EPOLICY) {
        HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), symbol);
        HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), pname);
        printf("refused at load: %s\n", hb_sandbox_last_error(sb));
        still_serves(sb);
        hb_sandbox_free(sb);
        return;
    }
    if (r != 0)
        HB_FAIL_("loading %s: %s", plugin, hb_sandbox_last_error(sb));
    int pid = hb_sandbox_worker_pid(sb);
    int32_t ret = 0;
    if (strcmp(sig, "i)i") == 0)
        r = hb_callf(sb, plugin, "esc", sig, arg, &ret);
    else
        r = hb_callf(sb, plugin, "esc", sig, &ret);
    if (r != HB_ECRASHED)
        HB_FAIL_("%s.esc returned %d (ret %d): expected HB_ECRASHED; last error: %s", plugin, r,
                 ret, hb_sandbox_last_error(sb));
    const char *e = hb_sandbox_last_error(sb);
    printf("denied: %s\n", e);
    char want[256];
    snprintf(want, sizeof(want), "plugin called %s (denied by the %s profile)", syscall_name,
             pname);
    HB_CHECK_CONTAINS(e, want);
    HB_CHECK_CONTAINS(e, plugin);
    HB_CHECK(hb_sandbox_worker_pid(sb) != pid);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* ---- cases ------------------------------------------------------------------ */

static void case_read_shadow(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s (without the private root the worker could read /etc/shadow as root)", why);
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "read_shadow");
    int32_t r = 0;
    HB_CHECK_OK(hb_callf(sb, "read_shadow", "esc", ")i", &r));
    HB_CHECK_EQ(r, -ENOENT); /* not in the worker's root at all */
    still_serves(sb);
    hb_sandbox_free(sb);
}

static void case_read_home(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    /* A developer's home we control, holding a secret. */
    char home[4200], secret[4300];
    snprintf(home, sizeof(home), "%s/home-dev", root);
    HB_CHECK(mkdir(home, 0700) == 0);
    snprintf(secret, sizeof(secret), "%s/.ssh_key", home);
    FILE *f = fopen(secret, "w");
    HB_CHECK(f != NULL);
    fputs("SECRET", f);
    fclose(f);
    setenv("HOME", home, 1);
    hb_sandbox_free(sb); /* a worker started with this HOME in the environment */
    sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "read_home");
    int32_t r = 0;
    HB_CHECK_OK(hb_callf(sb, "read_home", "esc", "Z)i", secret, &r));
    HB_CHECK_EQ(r, -ENOENT);
    HB_CHECK_OK(hb_callf(sb, "read_home", "home_is", "Z)i", home, &r));
    HB_CHECK_EQ(r, 0); /* the environment does not even name it */
    still_serves(sb);
    hb_sandbox_free(sb);
}

static void case_write_outside(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "write_outside");
    int32_t r = 0;
    /* The scratch directory works. */
    HB_CHECK_OK(hb_callf(sb, "write_outside", "scratch", ")i", &r));
    HB_CHECK_EQ(r, 0);
    /* Beside the state directory: the worker's /tmp is its own tmpfs, so
     * the write either fails or lands there, never on the host. */
    char target[4200];
    snprintf(target, sizeof(target), "%s/pwned.txt", root);
    HB_CHECK_OK(hb_callf(sb, "write_outside", "esc", "Z)i", target, &r));
    printf("write to %s inside the worker: %s\n", target, r ? strerror(-r) : "private tmpfs");
    struct stat st;
    HB_CHECK(stat(target, &st) < 0 && errno == ENOENT);
    /* Into the objects directory, which the worker sees read-only. */
    snprintf(target, sizeof(target), "%s/.hotbox/objects/pwned.so", root);
    HB_CHECK_OK(hb_callf(sb, "write_outside", "esc", "Z)i", target, &r));
    HB_CHECK_EQ(r, -EROFS);
    HB_CHECK(stat(target, &st) < 0 && errno == ENOENT);
    /* The developer's working tree (outside /tmp): not in the view. */
    char cwd[4096];
    HB_CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    if (strncmp(cwd, "/tmp", 4) != 0) {
        snprintf(target, sizeof(target), "%s/hb-pwned-%d.txt", cwd, (int)getpid());
        HB_CHECK_OK(hb_callf(sb, "write_outside", "esc", "Z)i", target, &r));
        HB_CHECK(r < 0);
        HB_CHECK(stat(target, &st) < 0 && errno == ENOENT);
    }
    /* The root itself. */
    HB_CHECK_OK(hb_callf(sb, "write_outside", "esc", "Z)i", "/pwned", &r));
    HB_CHECK_EQ(r, -EROFS);
    still_serves(sb);
    hb_sandbox_free(sb);
}

static void case_tcp_socket(void)
{
    /* A real listener, so "refused" cannot be mistaken for containment. */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    HB_CHECK(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    HB_CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t al = sizeof(a);
    HB_CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
    HB_CHECK(listen(l, 4) == 0);
    expect_denied(HB_PROFILE_STANDARD, "tcp_socket", "i)i", ntohs(a.sin_port), "socket", "socket");
    struct pollfd p = {.fd = l, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 0), 0); /* nobody connected */
    close(l);
}

static void case_unix_socket(void)
{
    hb_sandbox *probe = sandbox(HB_PROFILE_STANDARD); /* creates the manager */
    hb_sandbox_free(probe);
    char run[4200];
    snprintf(run, sizeof(run), "%s/run", hb_manager_state_dir(mgr));
    mkdir(run, 0700);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    HB_CHECK(l >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path, sizeof(a.sun_path), "%s/manager.sock", run);
    if (n >= (int)sizeof(a.sun_path))
        HB_SKIP("run directory path too long for a UNIX socket");
    HB_CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
    HB_CHECK(listen(l, 4) == 0);
    /* esc takes the path: call it directly, not through expect_denied. */
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "unix_socket");
    int32_t r = 0;
    int rc = hb_callf(sb, "unix_socket", "esc", "Z)i", a.sun_path, &r);
    if (rc != HB_ECRASHED)
        HB_FAIL_("unix_socket.esc returned %d (ret %d): %s", rc, r, hb_sandbox_last_error(sb));
    printf("denied: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "plugin called socket (denied by the standard profile)");
    struct pollfd p = {.fd = l, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 0), 0);
    close(l);
    still_serves(sb);
    hb_sandbox_free(sb);
}

static void case_ptrace_mgr(void)
{
    expect_denied(HB_PROFILE_STANDARD, "ptrace_mgr", "i)i", (int32_t)getpid(), "ptrace", "ptrace");
}

static void case_kill_mgr(void)
{
    /* Reaching the end of this function proves the manager survived. */
    expect_denied(HB_PROFILE_STANDARD, "kill_mgr", "i)i", (int32_t)getpid(),
                  "kill (of another process)", "kill");
}

static void case_wx_jump_standard(void)
{
    /* standard allows W+X memory (see security/profile.c for why). */
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "wx_jump");
    int32_t r = 0;
    if (hb_callf(sb, "wx_jump", "esc", ")i", &r) != 0)
        HB_FAIL_("wx_jump under standard: %s", hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, 42);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* ---- the jail itself (issue 12 items 1, 2, 3, 6, 10; issue 11 item 13) ---- */

#define SECRET_NAME "HB_ESCAPE_SECRET"

/* A value a hostile plugin must never see: set in this (the manager's)
 * process before any worker or compiler starts. */
static void set_secret(void)
{
    setenv(SECRET_NAME, "hunter2-token-do-not-leak", 1);
}

/* The hex (or decimal for Seccomp/NoNewPrivs) value of a field of
 * /proc/<pid>/status, read from outside the jail. */
static unsigned long long host_status(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        HB_FAIL_("%s: %s", path, strerror(errno));
    size_t l = strlen(field);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, l) == 0 && line[l] == ':') {
            fclose(f);
            bool hex = strncmp(field, "Cap", 3) == 0;
            return strtoull(line + l + 1, NULL, hex ? 16 : 10);
        }
    }
    fclose(f);
    HB_FAIL_("%s has no %s line", path, field);
}

/* Every uid of the Uid: line of /proc/<pid>/status (real, effective,
 * saved, fs) is non-zero. */
static bool host_uids_nonroot(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "re");
    HB_CHECK(f != NULL);
    bool ok = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned r, e, s, fs;
        if (sscanf(line, "Uid: %u %u %u %u", &r, &e, &s, &fs) == 4) {
            printf("worker %d: host uids %u %u %u %u\n", pid, r, e, s, fs);
            ok = r && e && s && fs;
        }
    }
    fclose(f);
    return ok;
}

static hb_sandbox *jailed_probe(hb_profile profile)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    set_secret();
    hb_sandbox *sb = sandbox(profile);
    load(sb, "jail_probe");
    return sb;
}

/* Item 1: /proc/sys/kernel/core_pattern and friends cannot be opened for
 * writing (as root, today's worker could install a core handler that the
 * kernel runs as real root). */
static void case_host_knobs(void)
{
    hb_sandbox *sb = jailed_probe(HB_PROFILE_STANDARD);
    int32_t r = -1;
    HB_CHECK_OK(hb_callf(sb, "jail_probe", "host_knobs", ")i", &r));
    HB_CHECK_EQ(r, 0);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* Item 1: no capability inside, not uid 0 inside, and on the host the
 * worker's uid is not root; the worker's process (not bwrap's) is under
 * seccomp with no_new_privs. */
static void case_capabilities(void)
{
    hb_sandbox *sb = jailed_probe(HB_PROFILE_STANDARD);
    int32_t r = -1;
    HB_CHECK_OK(hb_callf(sb, "jail_probe", "caps", ")i", &r));
    HB_CHECK_EQ(r, 0);
    int pid = hb_sandbox_worker_pid(sb);
    HB_CHECK(pid > 0);
    HB_CHECK_EQ(host_status(pid, "CapEff"), 0ull);
    HB_CHECK_EQ(host_status(pid, "CapBnd"), 0ull);
    HB_CHECK_EQ(host_status(pid, "CapPrm"), 0ull);
    HB_CHECK_EQ(host_status(pid, "Seccomp"), 2ull);
    HB_CHECK_EQ(host_status(pid, "NoNewPrivs"), 1ull);
    HB_CHECK(host_uids_nonroot(pid));
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* Item 2: no process the plugin can see is unfiltered or has writable
 * memory (today pid 1 is bwrap's init: no seccomp, /proc/1/mem writable). */
static void case_pid1(void)
{
    hb_sandbox *sb = jailed_probe(HB_PROFILE_STANDARD);
    int32_t r = -1;
    HB_CHECK_OK(hb_callf(sb, "jail_probe", "other_processes", ")i", &r));
    HB_CHECK_EQ(r, 0);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* Item 3: the manager's environment is not in /proc/1/environ nor in the
 * worker's own. */
static void case_environ(void)
{
    hb_sandbox *sb = jailed_probe(HB_PROFILE_STANDARD);
    int32_t r = -1;
    HB_CHECK_OK(hb_callf(sb, "jail_probe", "environ_has", "Z)i", SECRET_NAME, &r));
    HB_CHECK_EQ(r, 0);
    /* The probe can fail: PATH is there. */
    HB_CHECK_OK(hb_callf(sb, "jail_probe", "environ_has", "Z)i", "PATH", &r));
    HB_CHECK_EQ(r, 1);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* Item 10: a worker opens its own objects, not another sandbox's. */
static void case_other_objects(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox *other = sandbox(HB_PROFILE_STANDARD);
    still_serves(other); /* loads mathx there */
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "jail_probe");
    char objdir[4200];
    snprintf(objdir, sizeof(objdir), "%s/objects", hb_manager_state_dir(mgr));
    DIR *d = opendir(objdir);
    HB_CHECK(d != NULL);
    int readable = 0, total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".so") != 0)
            continue;
        char path[4500];
        snprintf(path, sizeof(path), "%s/%s", objdir, e->d_name);
        int32_t r = -1;
        HB_CHECK_OK(hb_callf(sb, "jail_probe", "can_read", "Z)i", path, &r));
        printf("%s: %s\n", e->d_name, r == 0 ? "readable" : strerror(-r));
        total++;
        readable += r == 0;
    }
    closedir(d);
    HB_CHECK_EQ(total, 2);    /* jail_probe's and mathx's */
    HB_CHECK_EQ(readable, 1); /* its own only */
    hb_sandbox_free(sb);
    hb_sandbox_free(other);
}

/* Issue 11 item 13: the pid the API reports is the worker itself (what
 * gdb -p wants), not bwrap around it, and usage shows its memory. */
static void case_worker_pid(void)
{
    hb_sandbox *sb = jailed_probe(HB_PROFILE_STANDARD);
    int pid = hb_sandbox_worker_pid(sb);
    char path[64], exe[4096];
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    ssize_t n = readlink(path, exe, sizeof(exe) - 1);
    HB_CHECK(n > 0);
    exe[n] = 0;
    printf("worker pid %d: %s\n", pid, exe);
    HB_CHECK_CONTAINS(exe, "hotbox-worker");
    hb_sandbox_usage u;
    HB_CHECK_OK(hb_sandbox_usage_get(sb, &u));
    HB_CHECK_EQ(u.worker_pid, pid);
    /* bwrap's RSS is a few hundred KiB; the worker with libc and a plugin
     * mapped is more, and the figure must be the worker's own. */
    unsigned long long rss_kb = host_status(pid, "VmRSS");
    printf("usage rss %llu KiB, /proc VmRSS %llu KiB\n",
           (unsigned long long)(u.rss_bytes / 1024), rss_kb);
    HB_CHECK(u.rss_bytes > 0);
    HB_CHECK(u.rss_bytes / 1024 <= rss_kb * 2 && u.rss_bytes / 1024 * 2 >= rss_kb);
    hb_sandbox_free(sb);
}

/* Deliverable: `hotbox doctor` reports the effective containment of each
 * profile's worker, read from outside. */
static void case_doctor(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox_free(sandbox(HB_PROFILE_STANDARD)); /* the manager */
    char *rep = NULL;
    HB_CHECK_OK(hb_doctor(mgr, 0, &rep));
    const char *sec = strstr(rep, "effective containment");
    HB_CHECK(sec != NULL);
    const char *std = strstr(sec, "profile standard:");
    HB_CHECK(std != NULL);
    const char *w = strstr(std, "  worker pid ");
    HB_CHECK(w != NULL);
    char line[1024];
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(w, "\n"), w);
    printf("%s\n", line);
    HB_CHECK_CONTAINS(line, "uid 65534 inside = host uid ");
    HB_CHECK(strstr(line, "(ROOT)") == NULL);
    HB_CHECK_CONTAINS(line, "capabilities none (");
    HB_CHECK_CONTAINS(line, "seccomp filter");
    HB_CHECK_CONTAINS(line, "no_new_privs 1");
    hb_free(rep);
}

/* From outside: a process running as uid 65534 (nobody: daemons, an
 * unprivileged CI stage) on the same machine must not reach a root
 * manager's worker. Before, bwrap ran as host uid 65534, so the worker was
 * a dumpable process of nobody's and its user namespace was nobody's: any
 * nobody process could ptrace it, write its memory (and from there forge
 * frames to the root manager) or enter its namespaces with every
 * capability. The probe is safe: opens only, nothing written or stopped.
 * As an unprivileged manager the worker is our own uid's (same trust
 * domain) and the same probe must reach it, which shows the probe works. */
static void case_outside_attach(void)
{
    hb_sandbox *sb = jailed_probe(HB_PROFILE_STANDARD);
    int pid = hb_sandbox_worker_pid(sb);
    HB_CHECK(pid > 0);
    pid_t c = fork();
    HB_CHECK(c >= 0);
    if (c == 0) {
        if (geteuid() == 0 &&
            (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
             setresuid(65534, 65534, 65534) < 0))
            _exit(100);
        char path[64];
        int got = 0;
        snprintf(path, sizeof(path), "/proc/%d/mem", pid);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            got |= 1;
            close(fd);
        }
        snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
            got |= 2;
            close(fd);
        }
        snprintf(path, sizeof(path), "/proc/%d/root/tmp", pid);
        DIR *d = opendir(path);
        if (d) {
            got |= 4;
            closedir(d);
        }
        _exit(got);
    }
    int st = 0;
    HB_CHECK(waitpid(c, &st, 0) == c && WIFEXITED(st));
    int got = WEXITSTATUS(st);
    HB_CHECK(got != 100);
    printf("as uid %d: /proc/%d/mem rw %s, ns/user %s, root/ %s\n", geteuid() == 0 ? 65534 : (int)geteuid(), pid,
           got & 1 ? "opened" : "denied", got & 2 ? "opened" : "denied",
           got & 4 ? "opened" : "denied");
    if (geteuid() == 0)
        HB_CHECK_EQ(got, 0);
    else
        HB_CHECK_EQ(got & 1, 1);
    HB_CHECK(host_uids_nonroot(pid));
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* ---- the namespace compile backend (item 6, and items 1 and 3 there) ---- */

static hb_manager *ns_manager(const char *state)
{
    return hb_escape_manager_at(state, HB_ISOLATION_NAMESPACE, NULL, on_event);
}

/* A project: <root>/proj holding a secret file, the state directory
 * .hotbox and the plugin incbin/ whose source embeds `target`. The
 * compile must fail: target is not in the compiler's view. */
static void expect_incbin_fails(const char *which)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    set_secret();
    sandbox(HB_PROFILE_STANDARD); /* creates root */
    char proj[4200], state[4300], plug[4300], target[4400], src[8192], file[4400];
    snprintf(proj, sizeof(proj), "%s/proj", root);
    HB_CHECK(mkdir(proj, 0755) == 0);
    snprintf(state, sizeof(state), "%s/.hotbox", proj);
    snprintf(plug, sizeof(plug), "%s/incbin", proj);
    HB_CHECK(mkdir(plug, 0755) == 0);
    snprintf(file, sizeof(file), "%s/secret.txt", proj);
    hb_escape_write_text(file, "SECRET-IN-PARENT\n");
    hb_manager *m = ns_manager(state);
    if (!strcmp(which, "parent"))
        snprintf(target, sizeof(target), "%s", file);
    else
        snprintf(target, sizeof(target), "%s/hotbox.db", state);
    struct stat st;
    HB_CHECK(stat(target, &st) == 0); /* it exists on the host */
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
             "__asm__(\".section .rodata\\n.globl leaked\\nleaked:\\n.incbin \\\"%s\\\"\\n"
             ".previous\\n\");\n"
             "HB_EXPORT_FN int32_t one(void) { return 1; }\n"
             "HB_PLUGIN(\"incbin\", 1, 0, 0, 0, 0);\n",
             target);
    snprintf(file, sizeof(file), "%s/x.c", plug);
    hb_escape_write_text(file, src);
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    int r = hb_load(sb, plug);
    printf("load: %d %s\n", r, r ? hb_sandbox_last_error(sb) : "(compiled)");
    HB_CHECK_EQ(r, HB_ECOMPILE);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), target);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Items 3 and 1 for the compiler: a compiler (here a wrapper script that
 * dumps what it sees when it runs inside the jail, where HOME is the job
 * directory it runs in) sees the minimal documented environment, not the
 * manager's, holds no capability, is not uid 0 and cannot write host
 * knobs. */
static void case_compile_environ(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    set_secret();
    hb_sandbox_free(sandbox(HB_PROFILE_STANDARD)); /* creates root */
    char bin[4200], cc[4300], plug[4200], file[4300], state[4200];
    snprintf(bin, sizeof(bin), "%s/ccwrap", root);
    HB_CHECK(mkdir(bin, 0755) == 0);
    snprintf(cc, sizeof(cc), "%s/cc", bin);
    /* Inside the jail it also reports its capabilities, its uid and
     * whether host knobs are writable (test -w: access(), nothing written).
     * The jail is told by /hotbox-job-in, which only the namespace
     * compile's jail has (compiler/namespace.c); the compile itself runs
     * in the plugin directory, with HOME its job directory. */
    hb_escape_write_text(cc, "#!/bin/sh\n"
                   "case \" $* \" in *\" -o \"*) real=1;; *) real=;; esac\n"
                   "if [ -n \"$real\" ] && [ -d /hotbox-job-in ]; then\n"
                   "  env >&2; grep -E '^Cap(Eff|Bnd):' /proc/self/status >&2\n"
                   "  echo \"UID-$(id -u)\" >&2\n"
                   "  if [ -w /proc/sys/kernel/core_pattern ] || [ -w /proc/sysrq-trigger ]; then\n"
                   "    echo KNOBS-WRITABLE >&2; else echo KNOBS-RO >&2; fi\n"
                   "  echo HB-ENV-DUMPED >&2; exit 1\n"
                   "fi\n"
                   "exec /usr/bin/cc \"$@\"\n");
    HB_CHECK(chmod(cc, 0755) == 0);
    snprintf(plug, sizeof(plug), "%s/envp", root);
    HB_CHECK(mkdir(plug, 0755) == 0);
    snprintf(file, sizeof(file), "%s/x.c", plug);
    hb_escape_write_text(file, "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
                     "HB_EXPORT_FN int32_t one(void) { return 1; }\n"
                     "HB_PLUGIN(\"envp\", 1, 0, 0, 0, 0);\n");
    snprintf(state, sizeof(state), "%s/.hotbox-env", root);
    hb_manager *m = hb_escape_manager_at(state, HB_ISOLATION_NAMESPACE, cc, NULL);
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    int r = hb_load(sb, plug);
    const char *e = hb_sandbox_last_error(sb);
    printf("load: %d\n%s\n", r, r ? e : "(compiled: the compiler ran with the manager's HOME)");
    HB_CHECK_EQ(r, HB_ECOMPILE);
    HB_CHECK_CONTAINS(e, "HB-ENV-DUMPED");
    HB_CHECK_CONTAINS(e, "PATH=/usr/bin:/bin");
    HB_CHECK(strstr(e, SECRET_NAME) == NULL);
    /* Item 1 for the compiler: no capabilities, not uid 0, no host knobs. */
    HB_CHECK_CONTAINS(e, "CapEff:\t0000000000000000");
    HB_CHECK_CONTAINS(e, "CapBnd:\t0000000000000000");
    HB_CHECK_CONTAINS(e, "UID-65534");
    HB_CHECK_CONTAINS(e, "KNOBS-RO");
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Item 1 for the compiler: with a root manager and a tree uid 65534 can
 * reach, the compiler's host uid is not root: a sibling file only root may
 * read (0600) stays unreadable to it. (An unprivileged manager's compiler
 * has the manager's uid: the same file, ours, is readable, which shows the
 * probe works.) */
static void case_compile_host_uid(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox_free(sandbox(HB_PROFILE_STANDARD)); /* creates root */
    HB_CHECK(chmod(root, 0755) == 0);
    char bin[4200], cc[4300], proj[4200], plug[4300], sib[4300], file[4400], secret[4400],
        state[4300], script[9000];
    snprintf(proj, sizeof(proj), "%s/uidproj", root);
    snprintf(plug, sizeof(plug), "%s/p", proj);
    snprintf(sib, sizeof(sib), "%s/s", proj);
    HB_CHECK(mkdir(proj, 0755) == 0 && mkdir(plug, 0755) == 0 && mkdir(sib, 0755) == 0);
    snprintf(file, sizeof(file), "%s/s.c", sib);
    hb_escape_write_text(file, "int s(void) { return 0; }\n");
    /* The plugin includes from the sibling, so the compile sees it. */
    snprintf(file, sizeof(file), "%s/pub.h", sib);
    hb_escape_write_text(file, "#define PUB 1\n");
    HB_CHECK(chmod(file, 0644) == 0);
    snprintf(secret, sizeof(secret), "%s/secret.h", sib);
    hb_escape_write_text(secret, "#define SECRET 1\n");
    HB_CHECK(chmod(secret, 0600) == 0);
    snprintf(file, sizeof(file), "%s/x.c", plug);
    hb_escape_write_text(file, "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include \"../s/pub.h\"\n"
                     "HB_EXPORT_FN int32_t one(void) { return PUB; }\n"
                     "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n");
    HB_CHECK(chmod(file, 0644) == 0);
    snprintf(bin, sizeof(bin), "%s/ccuid", root);
    HB_CHECK(mkdir(bin, 0755) == 0);
    snprintf(cc, sizeof(cc), "%s/cc", bin);
    snprintf(script, sizeof(script),
             "#!/bin/sh\n"
             "case \" $* \" in *\" -o \"*) real=1;; *) real=;; esac\n"
             "if [ -n \"$real\" ] && [ -d /hotbox-job-in ]; then\n"
             "  if cat '%s' >/dev/null 2>&1; then echo HOSTROOT-READ >&2;\n"
             "  else echo HOSTROOT-DENIED >&2; fi; exit 1\n"
             "fi\n"
             "exec /usr/bin/cc \"$@\"\n",
             secret);
    hb_escape_write_text(cc, script);
    HB_CHECK(chmod(cc, 0755) == 0);
    snprintf(state, sizeof(state), "%s/.hotbox", proj);
    hb_manager *m = hb_escape_manager_at(state, HB_ISOLATION_NAMESPACE, cc, NULL);
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    int r = hb_load(sb, plug);
    const char *e = hb_sandbox_last_error(sb);
    printf("load: %d\n%s\n", r, r ? e : "(compiled)");
    HB_CHECK_EQ(r, HB_ECOMPILE);
    if (geteuid() == 0)
        HB_CHECK_CONTAINS(e, "HOSTROOT-DENIED");
    else
        HB_CHECK_CONTAINS(e, "HOSTROOT-READ");
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* ---- seccomp cases (issue 12: items 8, 9, 11) ------------------------------ */

/* The listener stays with the manager, a forged DENIED frame is a protocol
 * violation, and the audit log holds only denials the manager observed. */
static void case_forge_denied(void)
{
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "forge_denied");
    int32_t n = -1;
    HB_CHECK_OK(hb_callf(sb, "forge_denied", "listeners", ")i", &n));
    HB_CHECK_EQ(n, 0); /* no seccomp listener among the worker's fds */
    int32_t ret = 0;
    int r = hb_callf(sb, "forge_denied", "esc", ")i", &ret);
    const char *e = hb_sandbox_last_error(sb);
    printf("forged frame: %d: %s\n", r, e);
    HB_CHECK_EQ(r, HB_EPROTO);
    HB_CHECK_CONTAINS(e, "protocol violation");
    HB_CHECK(strstr(e, "ptrace") == NULL && strstr(e, "plugin called") == NULL);
    /* A real denial, for contrast: observed, reported and audited. */
    r = hb_callf(sb, "forge_denied", "real", ")i", &ret);
    e = hb_sandbox_last_error(sb);
    printf("real denial: %d: %s\n", r, e);
    HB_CHECK_EQ(r, HB_ECRASHED);
    HB_CHECK_CONTAINS(e, "plugin called socket (denied by the standard profile)");
    char *log = NULL;
    HB_CHECK_OK(hb_audit_read(mgr, "forge_denied", 0, &log));
    int denials = 0;
    for (const char *p = log; (p = strstr(p, "\"kind\":\"denied\"")); p++)
        denials++;
    printf("audit log:\n%s", log);
    HB_CHECK_EQ(denials, 1);
    HB_CHECK(strstr(log, "ptrace") == NULL);
    HB_CHECK_CONTAINS(log, "plugin called socket");
    hb_free(log);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* A forged SAVE reply (plugin code writing on its channel) carrying more
 * state than max_state_size: the worker's own check is bypassed, the
 * manager must refuse it, not keep or persist it. */
static void case_forge_state(void)
{
    max_state = 4096;
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "forge_state");
    int32_t armed = -1;
    HB_CHECK_OK(hb_callf(sb, "forge_state", "arm", "ii)i", (int32_t)(64 << 10),
                         (int32_t)offsetof(hb_ring, req), &armed));
    HB_CHECK_EQ(armed, 0);
    int r = hb_checkpoint(sb, "forge_state");
    const char *e = hb_sandbox_last_error(sb);
    printf("forged state: %d: %s\n", r, e);
    HB_CHECK_EQ(r, HB_ESTATESIZE);
    HB_CHECK_CONTAINS(e, "65536 bytes of state for forge_state");
    HB_CHECK_CONTAINS(e, "max_state_size 4096");
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* The jail's memory file systems are bounded (security/jail.h): /tmp and
 * /dev/shm hold at most HB_JAIL_TMP_BYTES / HB_JAIL_SHM_BYTES, not half of
 * the host's RAM each, and /dev itself takes no files. */
static void case_tmpfs_fill(void)
{
    const char *why = namespaces_missing();
    if (why) {
        printf("SKIP: %s\n", why);
        exit(77);
    }
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "tmpfs_fill");
    int32_t tmp = 0, shm = 0, made = 0;
    HB_CHECK_OK(hb_callf(sb, "tmpfs_fill", "esc", "Z)i", "/tmp", &tmp));
    HB_CHECK_OK(hb_callf(sb, "tmpfs_fill", "esc", "Z)i", "/dev/shm", &shm));
    printf("/tmp holds %d MiB, /dev/shm %d MiB\n", tmp, shm);
    HB_CHECK(tmp > 0 && tmp <= 1024);
    HB_CHECK(shm > 0 && shm <= 64);
    HB_CHECK_OK(hb_callf(sb, "tmpfs_fill", "create", "Z)i", "/tmp", &made));
    HB_CHECK_EQ(made, 0); /* still writable */
    HB_CHECK_OK(hb_callf(sb, "tmpfs_fill", "create", "Z)i", "/dev/shm", &made));
    HB_CHECK_EQ(made, 0);
    HB_CHECK_OK(hb_callf(sb, "tmpfs_fill", "create", "Z)i", "/dev", &made));
    printf("a file in /dev: %d\n", made);
    HB_CHECK_EQ(made, -EROFS);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* Where namespaces are unavailable (here: HOTBOX_BWRAP="") the worker runs
 * with the manager's uid (root under a root manager) and sees its pid:
 * its Landlock domain (security/landlock.c) still keeps it from the
 * manager's memory, and prlimit of another process is denied. */
static void case_fallback_reach_mgr(void)
{
    if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 1) {
        printf("SKIP: no Landlock on this kernel\n");
        exit(77);
    }
    setenv("HOTBOX_BWRAP", "", 1);
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    load(sb, "reach_mgr");
    int32_t r = 0;
    HB_CHECK_OK(hb_callf(sb, "reach_mgr", "esc", "i)i", (int32_t)getpid(), &r));
    printf("open(/proc/<manager>/mem, O_RDWR) from the worker: %d\n", r);
    HB_CHECK(r == -EACCES || r == -EPERM);
    /* The worker's own memory stays its own; a root manager's worker
     * dropped root and is not dumpable (security/rootdrop.c): its /proc
     * files are root's, so not even it opens its mem. */
    HB_CHECK_OK(hb_callf(sb, "reach_mgr", "esc", "i)i", (int32_t)hb_sandbox_worker_pid(sb), &r));
    HB_CHECK_EQ(r, geteuid() == 0 ? -EACCES : 0);
    hb_sandbox_free(sb);
    expect_denied(HB_PROFILE_STANDARD, "reach_mgr_limit", "i)i", (int32_t)getpid(),
                  "prlimit64 (of another process)", "prlimit");
}

/* A thread bomb must not take the host's pid space: under strict and
 * standard the worker's uid may hold at most a quarter of the tasks the
 * host can (security/seccomp.c), jailed or not. Probed by reading the
 * limit: the bomb itself would starve every process on the machine. */
static void case_task_share(void)
{
    long long room = hb_escape_host_task_room();
    hb_profile profiles[] = {HB_PROFILE_STANDARD, HB_PROFILE_STRICT};
    for (size_t i = 0; i < 2; i++) {
        hb_sandbox *sb = sandbox(profiles[i]);
        load(sb, "task_share");
        int64_t lim = 0;
        HB_CHECK_OK(hb_callf(sb, "task_share", "esc", ")l", &lim));
        printf("%s: RLIMIT_NPROC %lld, host room %lld\n", i ? "strict" : "standard",
               (long long)lim, room);
        HB_CHECK(lim > 0 && lim <= room / 4);
        hb_sandbox_free(sb);
    }
}

/* A listening UNIX socket at root/NAME (mode 0777); returns its fd. */
static int listen_at(const char *name, char *path, size_t len)
{
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    HB_CHECK(l >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int n = snprintf(a.sun_path, sizeof(a.sun_path), "%s/%s", root, name);
    if (n >= (int)sizeof(a.sun_path))
        HB_SKIP("temporary directory path too long for a UNIX socket");
    HB_CHECK(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
    HB_CHECK(listen(l, 4) == 0);
    HB_CHECK(chmod(a.sun_path, 0777) == 0);
    snprintf(path, len, "%s", a.sun_path);
    return l;
}

/* plugin.json's allow.connect_unix opens socket() and connect() in the
 * filter; the jail's view shows only the listed socket files. Without the
 * jail the opening would reach every socket of the host (docker's, D-Bus,
 * the hotbox console): it is not made, and socket() stays denied. */
static void case_fallback_connect_unix(void)
{
    setenv("HOTBOX_BWRAP", "", 1);
    hb_sandbox *probe = sandbox(HB_PROFILE_STANDARD); /* creates the manager and root */
    hb_sandbox_free(probe);
    HB_CHECK(chmod(root, 0755) == 0); /* a root manager's allow-list must be reachable */
    char listed[200], other[200], dir[4200], json[600];
    int l1 = listen_at("listed.sock", listed, sizeof(listed));
    int l2 = listen_at("other.sock", other, sizeof(other));
    snprintf(dir, sizeof(dir), "%s/unix_socket", root);
    HB_CHECK(mkdir(dir, 0755) == 0);
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "cp '%s/tests/escape/plugins/unix_socket/x.c' '%s/x.c'",
             HB_SOURCE_DIR, dir);
    HB_CHECK(system(cmd) == 0);
    snprintf(json, sizeof(json), "{\"runtime\": {\"allow\": {\"connect_unix\": [\"%s\"]}}}\n",
             listed);
    snprintf(cmd, sizeof(cmd), "%s/plugin.json", dir);
    FILE *f = fopen(cmd, "we");
    HB_CHECK(f != NULL);
    fputs(json, f);
    HB_CHECK(fclose(f) == 0);
    hb_sandbox *sb = sandbox(HB_PROFILE_STANDARD);
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading unix_socket: %s", hb_sandbox_last_error(sb));
    int32_t r = 0;
    int rc = hb_callf(sb, "unix_socket", "esc", "Z)i", other, &r);
    printf("connect to an unlisted socket without the jail: %d (ret %d): %s\n", rc, r,
           hb_sandbox_last_error(sb));
    HB_CHECK_EQ(rc, HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "plugin called socket");
    HB_CHECK_CONTAINS(all_warnings, "allow.connect_unix is not opened");
    struct pollfd p = {.fd = l2, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 0), 0);
    close(l1);
    close(l2);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* /proc/self/mem writes past page protections: the worker's /proc is
 * read-only, and strict's Landlock rule allows no writes beneath /proc,
 * so strict's W^X holds there too. */
static void case_wx_proc_mem(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s (without bwrap the worker sees the host's writable /proc)", why);
    hb_sandbox *sb = sandbox(HB_PROFILE_STRICT);
    load(sb, "wx_proc_mem");
    int32_t r = 0;
    HB_CHECK_OK(hb_callf(sb, "wx_proc_mem", "esc", ")i", &r));
    printf("wx_proc_mem.esc -> %d (%s)\n", r, r < 0 ? strerror(-r) : "patched its own code");
    /* EROFS: the read-only /proc; EACCES: Landlock, which strict adds. */
    if (r != -EROFS && r != -EACCES)
        HB_FAIL_("wx_proc_mem.esc returned %d: expected -EROFS or -EACCES", r);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* Whether Landlock works here (strict's W^X for files needs it). */
static const char *landlock_missing(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v >= 1 ? NULL : "Landlock is not available on this kernel";
}

/* Under strict, a file the plugin can write is a file it cannot open for
 * reading, hence never map executable: esc must return -EACCES. */
static void expect_unreadable(const char *plugin)
{
    const char *why = namespaces_missing();
    if (!why)
        why = landlock_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox_free(sandbox(HB_PROFILE_STRICT)); /* creates the manager */
    char out[4200];
    snprintf(out, sizeof(out), "%s/%s.out", root, plugin);
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = HB_PROFILE_STRICT;
    so.call_timeout_ms = 20000;
    so.output_path = out; /* a file the worker's stdout appends to */
    hb_sandbox *sb = NULL;
    if (hb_sandbox_new(mgr, &so, &sb) != 0)
        HB_FAIL_("hb_sandbox_new: %s", hb_manager_last_error(mgr));
    load(sb, plugin);
    int32_t r = 0;
    if (hb_callf(sb, plugin, "esc", ")i", &r) != 0)
        HB_FAIL_("%s.esc: %s", plugin, hb_sandbox_last_error(sb));
    printf("%s.esc -> %d (%s)\n", plugin, r, r < 0 ? strerror(-r) : "ran the written code");
    HB_CHECK_EQ(r, -EACCES);
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* The same file mapped MAP_SHARED twice: seccomp denies the executable
 * view, or (Landlock) the file cannot even be opened read-write. */
static void case_wx_shared_file(void)
{
    hb_sandbox *sb = sandbox(HB_PROFILE_STRICT);
    load(sb, "wx_shared_file");
    int32_t ret = 0;
    int r = hb_callf(sb, "wx_shared_file", "esc", ")i", &ret);
    const char *e = hb_sandbox_last_error(sb);
    printf("wx_shared_file.esc -> %d (ret %d): %s\n", r, ret, e);
    if (r == 0)
        HB_CHECK_EQ(ret, -EACCES);
    else
        HB_CHECK_CONTAINS(e, "plugin called mmap (an executable shared mapping) (denied by the "
                             "strict profile)");
    still_serves(sb);
    hb_sandbox_free(sb);
}

/* Without Landlock, strict cannot keep written files from being mapped
 * executable: the sandbox must say so. Landlock is hidden from this test
 * process and its children (the worker) with a filter answering ENOSYS. */
static void case_landlock_missing_warns(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    HB_CHECK(ctx != NULL);
    HB_CHECK_OK(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(landlock_create_ruleset), 0));
    HB_CHECK_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    HB_CHECK_OK(seccomp_load(ctx));
    seccomp_release(ctx);
    HB_CHECK(landlock_missing() != NULL);
    all_warnings[0] = 0;
    hb_sandbox *sb = sandbox(HB_PROFILE_STRICT);
    printf("warnings:\n%s", all_warnings);
    HB_CHECK_CONTAINS(all_warnings, "Landlock unavailable: under the strict profile");
    still_serves(sb); /* memory W^X and the rest still hold */
    hb_sandbox_free(sb);
    /* standard promises nothing about files: no such warning. */
    all_warnings[0] = 0;
    sb = sandbox(HB_PROFILE_STANDARD);
    HB_CHECK(strstr(all_warnings, "Landlock") == NULL);
    hb_sandbox_free(sb);
}

/* Returns whether c is one of these cases (and ran it). */
static bool seccomp_case(const char *c)
{
    if (!strcmp(c, "forge_denied"))
        case_forge_denied();
    else if (!strcmp(c, "clone_ns_thread"))
        expect_denied(HB_PROFILE_STANDARD, "clone_ns_thread", ")i", 0,
                      "clone (namespace flags on a thread)", "clone");
    else if (!strcmp(c, "wx_memfd"))
        expect_denied(HB_PROFILE_STRICT, "wx_memfd", ")i", 0, "memfd_create", "memfd_create");
    else if (!strcmp(c, "wx_mprotect"))
        expect_denied(HB_PROFILE_STRICT, "wx_mprotect", ")i", 0,
                      "mprotect (making memory executable)", "mprotect");
    else if (!strcmp(c, "wx_proc_mem"))
        case_wx_proc_mem();
    else if (!strcmp(c, "wx_shared_file"))
        case_wx_shared_file();
    else if (!strcmp(c, "wx_private_file"))
        expect_unreadable("wx_private_file");
    else if (!strcmp(c, "wx_output_reopen"))
        expect_unreadable("wx_output_reopen");
    else if (!strcmp(c, "landlock_missing_warns"))
        case_landlock_missing_warns();
    else
        return false;
    return true;
}

/* The compiler of a root manager runs as a host uid nothing else runs as
 * (not 0, not 65534): a compiler is dumpable, so any process of the same
 * host uid could ptrace it and change the object root then stores. The
 * wrapper cc reads its uid map inside the jail: "65534 HOST 1" in the one
 * root-owned user namespace. (Before, bwrap ran as host uid 65534 and
 * nested its own namespaces: the map read "65534 0 1", relative to an
 * intermediate namespace.) An unprivileged manager's compiler is its own
 * uid's, in bwrap's nested namespaces; there the probe only proves it
 * runs (uid 65534 inside). */
static void case_compile_shared_uid(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox_free(sandbox(HB_PROFILE_STANDARD)); /* creates root */
    HB_CHECK(chmod(root, 0755) == 0);
    char bin[4200], cc[4300], plug[4200], file[4300], state[4200];
    snprintf(bin, sizeof(bin), "%s/ccmap", root);
    HB_CHECK(mkdir(bin, 0755) == 0);
    snprintf(cc, sizeof(cc), "%s/cc", bin);
    hb_escape_write_text(cc, "#!/bin/sh\n"
                   "if [ -d /hotbox-job-in ]; then\n"
                   "  echo \"UIDMAP-$(awk '{print $1 \"-\" $2}' /proc/self/uid_map)-\" >&2; exit 1\n"
                   "fi\n"
                   "exec /usr/bin/cc \"$@\"\n");
    HB_CHECK(chmod(cc, 0755) == 0);
    snprintf(plug, sizeof(plug), "%s/mapp", root);
    HB_CHECK(mkdir(plug, 0755) == 0);
    snprintf(file, sizeof(file), "%s/x.c", plug);
    hb_escape_write_text(file, "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
                     "HB_EXPORT_FN int32_t one(void) { return 1; }\n"
                     "HB_PLUGIN(\"mapp\", 1, 0, 0, 0, 0);\n");
    HB_CHECK(chmod(file, 0644) == 0);
    snprintf(state, sizeof(state), "%s/.hotbox-map", root);
    hb_manager *m = hb_escape_manager_at(state, HB_ISOLATION_NAMESPACE, cc, NULL);
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    int r = hb_load(sb, plug);
    const char *e = hb_sandbox_last_error(sb);
    printf("load: %d\n%s\n", r, r ? e : "(compiled)");
    HB_CHECK_EQ(r, HB_ECOMPILE);
    const char *u = strstr(e, "UIDMAP-");
    HB_CHECK(u != NULL);
    unsigned inside = 0, host = 0;
    HB_CHECK(sscanf(u, "UIDMAP-%u-%u-", &inside, &host) == 2);
    printf("compiler: uid %u inside = host uid %u\n", inside, host);
    HB_CHECK_EQ(inside, 65534u);
    if (geteuid() == 0) {
        HB_CHECK(host != 0);
        HB_CHECK(host != 65534u);
    }
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A compiler in the jail may be hostile (a cloned repository's hotbox.json
 * "cc", a -fplugin in its cflags). What it leaves in its job directory is
 * read by the manager outside the jail: a depfile it replaced with a
 * symbolic link to a host file it cannot see (a 0600 secret beside the
 * project) must not be followed. Before, the manager read the secret as
 * the depfile and its lines came back as "inputs" in the error. */
static void case_compile_job_symlink(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    hb_sandbox_free(sandbox(HB_PROFILE_STANDARD)); /* creates root */
    HB_CHECK(chmod(root, 0755) == 0);
    char bin[4200], cc[4300], plug[4200], file[4300], state[4200], secret[4300], script[9000];
    snprintf(file, sizeof(file), "%s/private", root);
    HB_CHECK(mkdir(file, 0700) == 0);
    snprintf(secret, sizeof(secret), "%s/private/secret.txt", root);
    hb_escape_write_text(secret, "HB-LEAKED-SECRET-9f3: /HB-LEAKED-SECRET-9f3\n");
    HB_CHECK(chmod(secret, 0600) == 0);
    snprintf(bin, sizeof(bin), "%s/ccdep", root);
    HB_CHECK(mkdir(bin, 0755) == 0);
    snprintf(cc, sizeof(cc), "%s/cc", bin);
    snprintf(script, sizeof(script),
             "#!/bin/sh\n"
             "if [ -d /hotbox-job-in ]; then\n"
             "  /usr/bin/cc \"$@\" || exit $?\n"
             "  for f in \"$HOME\"/*.d; do [ -f \"$f\" ] && ln -sf '%s' \"$f\"; done\n"
             "  exit 0\n"
             "fi\n"
             "exec /usr/bin/cc \"$@\"\n",
             secret);
    hb_escape_write_text(cc, script);
    HB_CHECK(chmod(cc, 0755) == 0);
    snprintf(plug, sizeof(plug), "%s/depp", root);
    HB_CHECK(mkdir(plug, 0755) == 0);
    snprintf(file, sizeof(file), "%s/x.c", plug);
    hb_escape_write_text(file, "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
                     "HB_EXPORT_FN int32_t one(void) { return 1; }\n"
                     "HB_PLUGIN(\"depp\", 1, 0, 0, 0, 0);\n");
    HB_CHECK(chmod(file, 0644) == 0);
    snprintf(state, sizeof(state), "%s/.hotbox-dep", root);
    hb_manager *m = hb_escape_manager_at(state, HB_ISOLATION_NAMESPACE, cc, NULL);
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    int r = hb_load(sb, plug);
    const char *e = r ? hb_sandbox_last_error(sb) : "";
    printf("load: %d %s\n", r, r ? e : "(loaded)");
    if (r == 0)
        HB_FAIL_("a compile whose depfile is a symbolic link out of the jail was accepted");
    HB_CHECK(strstr(e, "HB-LEAKED") == NULL);
    HB_CHECK_CONTAINS(e, "symbolic link");
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* NEEDS A SECCOMP RULE (or a harness that never hands the worker a
 * terminal); fails on today's code, registered DISABLED until then (see
 * CMakeLists.txt). Without an output file the worker's stdout and stderr
 * are the manager's, often the developer's terminal. --new-session keeps
 * TIOCSTI out, but plugin code can still set the terminal's modes (echo
 * off, raw mode, a flushed input queue) and they outlive hotbox. The case
 * gives the manager a pseudo-terminal of its own as stderr, lets the plugin
 * try, and checks the terminal's modes are unchanged. */
static void case_tty_termios(void)
{
    const char *why = namespaces_missing();
    if (why)
        HB_SKIP("%s", why);
    int mfd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (mfd < 0 || grantpt(mfd) < 0 || unlockpt(mfd) < 0)
        HB_SKIP("no pseudo-terminal: %s", strerror(errno));
    int sfd = open(ptsname(mfd), O_RDWR | O_NOCTTY | O_CLOEXEC);
    HB_CHECK(sfd >= 0);
    struct termios before, after;
    HB_CHECK(tcgetattr(sfd, &before) == 0);
    HB_CHECK(before.c_lflag & ECHO);
    fflush(stderr);
    int saved = dup(2);
    HB_CHECK(saved >= 0 && dup2(sfd, 2) == 2);
    hb_sandbox *sb = jailed_probe(HB_PROFILE_STANDARD); /* the worker inherits it */
    int32_t r = -1;
    int rc = hb_callf(sb, "jail_probe", "tty_poke", ")i", &r);
    HB_CHECK(tcgetattr(sfd, &after) == 0);
    tcsetattr(sfd, TCSANOW, &before);
    HB_CHECK(dup2(saved, 2) == 2);
    close(saved);
    printf("tty_poke: call %d, result %d (1: modes set, 2: TIOCSTI); ECHO %s\n", rc, r,
           after.c_lflag & ECHO ? "kept" : "turned off from inside the sandbox");
    if (rc == 0)
        HB_CHECK_EQ(r, 0);
    else
        HB_CHECK_EQ(rc, HB_ECRASHED); /* a denial is containment too */
    HB_CHECK(after.c_lflag & ECHO);
    close(sfd);
    close(mfd);
    hb_sandbox_free(sb);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        HB_FAIL_("usage: test_escape CASE");
    const char *c = argv[1];
    if (seccomp_case(c)) {
        printf("PASS escape %s\n", c);
        return 0;
    }
    if (!strcmp(c, "read_shadow"))
        case_read_shadow();
    else if (!strcmp(c, "read_home"))
        case_read_home();
    else if (!strcmp(c, "write_outside"))
        case_write_outside();
    else if (!strcmp(c, "tcp_socket"))
        case_tcp_socket();
    else if (!strcmp(c, "unix_socket"))
        case_unix_socket();
    else if (!strcmp(c, "exec_sh"))
        expect_denied(HB_PROFILE_STANDARD, "exec_sh", ")i", 0, "execve", "execve");
    else if (!strcmp(c, "system_id"))
        /* glibc's system() starts /bin/sh with clone(CLONE_VM|CLONE_VFORK) */
        expect_denied(HB_PROFILE_STANDARD, "system_id", ")i", 0, "clone (a new process)", "system");
    else if (!strcmp(c, "fork_loop"))
        expect_denied(HB_PROFILE_STANDARD, "fork_loop", ")i", 0, "clone (a new process)", "fork");
    else if (!strcmp(c, "ptrace_mgr"))
        case_ptrace_mgr();
    else if (!strcmp(c, "kill_mgr"))
        case_kill_mgr();
    else if (!strcmp(c, "wx_jump_standard"))
        case_wx_jump_standard();
    else if (!strcmp(c, "wx_jump_strict"))
        expect_denied(HB_PROFILE_STRICT, "wx_jump", ")i", 0,
                      "mmap (writable and executable memory)", "mmap");
    else if (!strcmp(c, "setuid0"))
        expect_denied(HB_PROFILE_STANDARD, "setuid0", ")i", 0, "setuid", "setuid");
    else if (!strcmp(c, "load_module"))
        expect_denied(HB_PROFILE_STANDARD, "load_module", ")i", 0, "init_module", "syscall");
    else if (!strcmp(c, "dlsym_execve"))
        /* The import policy cannot see execve here: seccomp must stop it. */
        expect_denied(HB_PROFILE_STANDARD, "dlsym_execve", ")i", 0, "execve", "dlsym");
    else if (!strcmp(c, "dlsym_execve_strict"))
        /* strict refuses dlsym at load (once wired) or denies execve. */
        expect_denied(HB_PROFILE_STRICT, "dlsym_execve", ")i", 0, "execve", "dlsym");
    else if (!strcmp(c, "host_knobs"))
        case_host_knobs();
    else if (!strcmp(c, "capabilities"))
        case_capabilities();
    else if (!strcmp(c, "pid1"))
        case_pid1();
    else if (!strcmp(c, "environ"))
        case_environ();
    else if (!strcmp(c, "other_objects"))
        case_other_objects();
    else if (!strcmp(c, "worker_pid"))
        case_worker_pid();
    else if (!strcmp(c, "compile_host_uid"))
        case_compile_host_uid();
    else if (!strcmp(c, "compile_environ"))
        case_compile_environ();
    else if (!strcmp(c, "outside_attach"))
        case_outside_attach();
    else if (!strcmp(c, "compile_shared_uid"))
        case_compile_shared_uid();
    else if (!strcmp(c, "compile_job_symlink"))
        case_compile_job_symlink();
    else if (!strcmp(c, "tty_termios"))
        case_tty_termios();
    else if (!strcmp(c, "forge_state"))
        case_forge_state();
    else if (!strcmp(c, "tmpfs_fill"))
        case_tmpfs_fill();
    else if (!strcmp(c, "fallback_reach_mgr"))
        case_fallback_reach_mgr();
    else if (!strcmp(c, "task_share"))
        case_task_share();
    else if (!strcmp(c, "fallback_connect_unix"))
        case_fallback_connect_unix();
    else if (!strcmp(c, "doctor"))
        case_doctor();
    else if (!strcmp(c, "incbin_parent"))
        expect_incbin_fails("parent");
    else if (!strcmp(c, "incbin_state"))
        expect_incbin_fails("state");
    else
        HB_FAIL_("unknown case %s", c);
    printf("PASS escape %s\n", c);
    return 0;
}
