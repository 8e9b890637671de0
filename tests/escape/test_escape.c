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
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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
#include <unistd.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"

static char root[4096];
static hb_manager *mgr;
static int warnings;
static char last_warning[1024];
static char all_warnings[8192]; /* every warning, one a line */

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
    hb_manager_free(mgr);
    mgr = NULL;
    if (root[0] && !getenv("HB_TEST_KEEP")) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
    }
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
        snprintf(root, sizeof(root), "%s/hb-escape-XXXXXX",
                 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        HB_CHECK(mkdtemp(root) != NULL);
        atexit(cleanup);
        char state[4200];
        snprintf(state, sizeof(state), "%s/.hotbox", root);
        hb_manager_options o;
        HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
        o.state_dir = state;
        o.isolation = HB_ISOLATION_LOCAL;
        o.on_event = on_event;
        HB_CHECK_OK(hb_manager_new(&o, &mgr));
    }
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.profile = profile;
    so.call_timeout_ms = 20000;
    hb_sandbox *sb = NULL;
    if (hb_sandbox_new(mgr, &so, &sb) != 0)
        HB_FAIL_("hb_sandbox_new: %s", hb_manager_last_error(mgr));
    return sb;
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
    else
        HB_FAIL_("unknown case %s", c);
    printf("PASS escape %s\n", c);
    return 0;
}
