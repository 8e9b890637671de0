/* plugin.json "runtime" settings applied to the worker, end to end (issue
 * 18): env (and LD_* refused), read-only data, allow-lists (a listed UNIX
 * socket reachable under the standard profile, an unlisted one not;
 * escaping paths refused), the profile rule (stronger wins unless the
 * sandbox trusts plugin.json), limits, swap_timeout_ms, and a changed
 * section restarting the worker at the next reload with state carried.
 * Run as root and, where it matters, as uid 65534 (CMakeLists.txt). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

static e2e_events ev;

static hb_sandbox *sandbox(hb_manager *m, bool trust)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.trust_plugin_runtime = trust;
    so.swap_timeout_ms = 60000;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    return sb;
}

/* The fixture of most cases: sandbox(m, trust) with dir loaded. */
static hb_sandbox *loaded(hb_manager *m, bool trust, const char *dir)
{
    hb_sandbox *sb = sandbox(m, trust);
    HB_CHECK_OK(hb_load(sb, dir));
    return sb;
}

/* The plugin "rt": the counter plus probes, each returning a number. */
static char *plugin(const char *json, const char *probes)
{
    /* A jail that drops root binds as an unprivileged host uid: the test
     * directory's parents must be searchable by it (mkdtemp made 0700). */
    HB_CHECK(chmod(e2e_root, 0755) == 0);
    e2e_write("rt", "plugin.json", json);
    char extra[16384];
    snprintf(extra, sizeof(extra),
             "#include <errno.h>\n#include <fcntl.h>\n#include <stdio.h>\n#include <unistd.h>\n"
             "#include <sys/socket.h>\n#include <sys/un.h>\n"
             "%s\nHB_PLUGIN(\"rt\", 1, 0, 0, save, migrate);",
             probes);
    return e2e_write("rt", "rt.c", e2e_counter_src(1, 1, extra));
}

static bool jailed(void)
{
    /* HOTBOX_BWRAP set but empty disables jails; without bwrap there are none. */
    const char *b = getenv("HOTBOX_BWRAP");
    return !(b && !*b) && access("/usr/bin/bwrap", X_OK) == 0;
}

static void need_jail(void)
{
    if (!jailed()) {
        printf("SKIP: no bubblewrap jail on this machine\n");
        exit(77);
    }
}

static int64_t call(hb_sandbox *sb, const char *fn)
{
    int64_t v = 0;
    int r = hb_callf(sb, "rt", fn, ")l", &v);
    if (r < 0)
        printf("%s() -> %d: %s\n", fn, r, hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    return v;
}

/* fn ends the worker with a seccomp denial whose text holds what. */
static void expect_denied(hb_sandbox *sb, const char *fn, const char *what)
{
    int64_t v;
    int r = hb_callf(sb, "rt", fn, ")l", &v);
    printf("%s() -> %d: %s\n", fn, r, hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_ECRASHED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), what);
}

static void case_env(void)
{
    char *dir = plugin("{\"runtime\": {\"env\": {\"GREETING\": \"hello\"}}}\n",
                       "int64_t greeting(void) { const char *g = getenv(\"GREETING\");"
                       " return g ? (int64_t)strlen(g) : -1; }");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir);
    HB_CHECK_EQ(call(sb, "greeting"), 5);
    e2e_free(sb, m);
}

static void case_ld_preload(void)
{
    char *dir = plugin("{\n  \"runtime\": {\n    \"env\": {\"LD_PRELOAD\": \"/tmp/evil.so\"}\n  }\n}\n",
                       "");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, false);
    int r = hb_load(sb, dir);
    printf("load -> %d: %s\n", r, hb_sandbox_last_error(sb));
    HB_CHECK(r < 0);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "plugin.json:3:");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "LD_PRELOAD");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "reserved");
    e2e_free(sb, m);
}

/* testdata/ readable (reader returns 42), not writable (writer: -errno). */
static void case_data_readonly(void)
{
    need_jail();
    char probes[4096];
    char *dir = e2e_write("rt/testdata", "n.txt", "42\n");
    dir[strlen(dir) - strlen("/testdata")] = 0;
    snprintf(probes, sizeof(probes),
             "int64_t reader(void) { FILE *f = fopen(\"%s/testdata/n.txt\", \"r\"); long n = -1;"
             " if (!f) return -errno; if (fscanf(f, \"%%ld\", &n) != 1) n = -1000; fclose(f); return n; }\n"
             "int64_t writer(void) { int fd = open(\"%s/testdata/w.txt\", O_WRONLY | O_CREAT, 0666);"
             " if (fd < 0) return -errno; close(fd); return 0; }\n"
             "int64_t overwrite(void) { int fd = open(\"%s/testdata/n.txt\", O_WRONLY | O_TRUNC);"
             " if (fd < 0) return -errno; close(fd); return 0; }",
             dir, dir, dir);
    char *pd = plugin("{\"runtime\": {\"data\": [\"testdata\"]}}\n", probes);
    HB_CHECK(chmod(e2e_root, 0755) == 0 && chmod(pd, 0777) == 0);
    char td[4400];
    snprintf(td, sizeof(td), "%s/testdata", pd);
    HB_CHECK(chmod(td, 0777) == 0); /* only the mount may stop the writes */
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, pd);
    HB_CHECK_EQ(call(sb, "reader"), 42);
    int64_t w = call(sb, "writer"), o = call(sb, "overwrite");
    printf("writer() -> %lld, overwrite() -> %lld (want -EROFS %d)\n", (long long)w,
           (long long)o, -EROFS);
    HB_CHECK_EQ(w, -EROFS);
    HB_CHECK_EQ(o, -EROFS);
    e2e_free(sb, m);
}

/* A data directory inside a writable allow-list directory stays
 * read-only (binds go parents first). */
static void case_data_under_write(void)
{
    need_jail();
    static char probes[8192], json[8192];
    char *dir = e2e_write("rt/testdata", "n.txt", "42\n");
    dir[strlen(dir) - strlen("/testdata")] = 0;
    snprintf(probes, sizeof(probes),
             "int64_t overwrite(void) { int fd = open(\"%s/testdata/n.txt\", O_WRONLY | O_TRUNC);"
             " if (fd < 0) return -errno; close(fd); return 0; }\n"
             "int64_t create(void) { int fd = open(\"%s/made\", O_WRONLY | O_CREAT, 0666);"
             " if (fd < 0) return -errno; close(fd); return 0; }",
             dir, dir);
    snprintf(json, sizeof(json),
             "{\"runtime\": {\"data\": [\"testdata\"], \"allow\": {\"write\": [\"%s\"]}}}\n",
             dir);
    char *pd = plugin(json, probes);
    char td[4400];
    snprintf(td, sizeof(td), "%s/testdata", pd);
    HB_CHECK(chmod(pd, 0777) == 0 && chmod(td, 0777) == 0);
    HB_CHECK(chmod(e2e_write("rt/testdata", "n.txt", "42\n"), 0777) == 0);
    char n[4500];
    snprintf(n, sizeof(n), "%s/n.txt", td);
    HB_CHECK(chmod(n, 0666) == 0);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, false);
    int r = hb_load(sb, pd);
    if (r < 0)
        printf("load: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    int64_t c = call(sb, "create"), o = call(sb, "overwrite");
    printf("create in the writable dir -> %lld, overwrite in its data dir -> %lld\n",
           (long long)c, (long long)o);
    HB_CHECK_EQ(c, 0);
    HB_CHECK_EQ(o, -EROFS);
    e2e_free(sb, m);
}

/* A listening UNIX socket at dir/name (mode 0777 so the jail's uid may
 * connect); the fd stays open for the test's life. */
static void listen_at(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    HB_CHECK(fd >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    HB_CHECK(strlen(path) < sizeof(a.sun_path));
    strcpy(a.sun_path, path);
    HB_CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    HB_CHECK(listen(fd, 8) == 0);
    HB_CHECK(chmod(path, 0777) == 0);
}

static const char *connect_probe =
    "static int64_t reach(const char *p) { int fd = socket(AF_UNIX, SOCK_STREAM, 0);"
    " if (fd < 0) return -1000 - errno; struct sockaddr_un a = {.sun_family = AF_UNIX};"
    " strcpy(a.sun_path, p); int r = connect(fd, (struct sockaddr *)&a, sizeof(a));"
    " int e = errno; close(fd); return r == 0 ? 0 : -e; }\n";

static void sockets(char *listed, char *unlisted, size_t n)
{
    /* (listen_at checks that each fits a sockaddr_un) */
    HB_CHECK(strlen(e2e_root) + 32 < n);
    snprintf(listed, n, "%.200s/srv/listed.sock", e2e_root);
    snprintf(unlisted, n, "%.200s/srv/unlisted.sock", e2e_root);
    e2e_write("srv", "README", "sockets\n");
    listen_at(listed);
    listen_at(unlisted);
}

static void case_allow_unix(void)
{
    need_jail();
    char listed[256], unlisted[256], probes[4096], json[512];
    sockets(listed, unlisted, sizeof(listed));
    snprintf(probes, sizeof(probes),
             "%sint64_t listed(void) { return reach(\"%s\"); }\n"
             "int64_t unlisted(void) { return reach(\"%s\"); }\n"
             "int64_t inet(void) { int fd = socket(AF_INET, SOCK_STREAM, 0); return fd; }",
             connect_probe, listed, unlisted);
    snprintf(json, sizeof(json), "{\"runtime\": {\"allow\": {\"connect_unix\": [\"%s\"]}}}\n",
             listed);
    char *dir = plugin(json, probes);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir); /* standard */
    int64_t a = call(sb, "listed"), b = call(sb, "unlisted");
    printf("listed -> %lld, unlisted -> %lld\n", (long long)a, (long long)b);
    HB_CHECK_EQ(a, 0);
    HB_CHECK_EQ(b, -ENOENT); /* not in the jail's view */
    /* Only AF_UNIX is opened: another family is still a denial. */
    expect_denied(sb, "inet", "socket");
    e2e_free(sb, m);
}

/* Without the allow-list the same probe is a seccomp denial. */
static void case_allow_unix_absent(void)
{
    need_jail();
    char listed[256], unlisted[256], probes[4096];
    sockets(listed, unlisted, sizeof(listed));
    snprintf(probes, sizeof(probes), "%sint64_t listed(void) { return reach(\"%s\"); }\n",
             connect_probe, listed);
    char *dir = plugin("{}\n", probes);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir);
    expect_denied(sb, "listed", "denied");
    e2e_free(sb, m);
}

/* allow.read and allow.write: a directory shown read-only, another one
 * read-write, nothing else of the test directory. */
static void case_allow_dirs(void)
{
    need_jail();
    char *ro = e2e_write("ro", "n.txt", "7\n"), *rw = e2e_write("rw", "keep", "x");
    e2e_write("hidden", "n.txt", "9\n");
    HB_CHECK(chmod(rw, 0777) == 0);
    static char probes[20000], json[10000];
    snprintf(probes, sizeof(probes),
             "static int64_t rd(const char *p) { FILE *f = fopen(p, \"r\"); long n = -1;"
             " if (!f) return -errno; if (fscanf(f, \"%%ld\", &n) != 1) n = -1000; fclose(f); return n; }\n"
             "static int64_t wr(const char *p) { int fd = open(p, O_WRONLY | O_CREAT, 0666);"
             " if (fd < 0) return -errno; close(fd); return 0; }\n"
             "int64_t read_ro(void) { return rd(\"%s/n.txt\"); }\n"
             "int64_t write_ro(void) { return wr(\"%s/new\"); }\n"
             "int64_t write_rw(void) { return wr(\"%s/new\"); }\n"
             "int64_t read_hidden(void) { return rd(\"%s/hidden/n.txt\"); }",
             ro, ro, rw, e2e_root);
    snprintf(json, sizeof(json),
             "{\"runtime\": {\"allow\": {\"read\": [\"%s\"], \"write\": [\"%s\"]}}}\n", ro, rw);
    char *dir = plugin(json, probes);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, false);
    int r = hb_load(sb, dir);
    if (r < 0)
        printf("load: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    HB_CHECK_EQ(call(sb, "read_ro"), 7);
    HB_CHECK_EQ(call(sb, "write_ro"), -EROFS);
    HB_CHECK_EQ(call(sb, "write_rw"), 0);
    HB_CHECK_EQ(call(sb, "read_hidden"), -ENOENT);
    char made[4400];
    snprintf(made, sizeof(made), "%s/new", rw);
    HB_CHECK(access(made, F_OK) == 0); /* the write reached the host */
    e2e_free(sb, m);
}

/* Escaping paths: refused as written (file:line:col) or once resolved. */
static void refused(const char *json, const char *want1, const char *want2)
{
    char *dir = plugin(json, "");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, false);
    int r = hb_load(sb, dir);
    printf("load with %s -> %d: %s\n", json, r, hb_sandbox_last_error(sb));
    HB_CHECK(r < 0);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), want1);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), want2);
    e2e_free(sb, m);
}

static void case_allow_refused(void)
{
    refused("{\"runtime\": {\"allow\": {\"read\": [\"/\"]}}}\n", "plugin.json:1:", "host's root");
    refused("{\"runtime\": {\"allow\": {\"read\": [\"/srv/../etc\"]}}}\n", "plugin.json:1:",
            "\"..\"");
    refused("{\"runtime\": {\"allow\": {\"write\": [\"/proc/self\"]}}}\n", "plugin.json:1:",
            "never shown");
    refused("{\"runtime\": {\"allow\": {\"read\": [\"/etc\"]}}}\n", "plugin.json:1:",
            "holds a place");
    refused("{\"runtime\": {\"allow\": {\"read\": [\"data\"]}}}\n", "plugin.json:1:",
            "not an absolute path");
    refused("{\"runtime\": {\"allow\": {\"exec\": [\"/usr\"]}}}\n", "plugin.json:1:",
            "unknown key in runtime.allow");
    /* A symlink spelled innocently that leads to a refused place. */
    char link[4400], json[4600];
    snprintf(link, sizeof(link), "%s/innocent", e2e_root);
    HB_CHECK(symlink("/etc/ssh", link) == 0);
    snprintf(json, sizeof(json), "{\"runtime\": {\"allow\": {\"read\": [\"%s\"]}}}\n", link);
    refused(json, "runtime.allow.read", "resolves to /etc/ssh");
    /* The state directory (the store) and its parents. */
    snprintf(json, sizeof(json), "{\"runtime\": {\"allow\": {\"read\": [\"%s\"]}}}\n", e2e_root);
    refused(json, "runtime.allow.read", "state directory");
    /* A socket path that is not a socket. */
    e2e_write("srv", "plain", "x");
    snprintf(json, sizeof(json),
             "{\"runtime\": {\"allow\": {\"connect_unix\": [\"%s/srv/plain\"]}}}\n", e2e_root);
    refused(json, "runtime.allow.connect_unix", "not a UNIX socket");
}

/* max_fds: the worker cannot open more than that many descriptors. */
static void case_limits_fds(void)
{
    char *dir = plugin("{\"runtime\": {\"limits\": {\"max_fds\": 32}}}\n",
                       "int64_t fds(void) { int n = 0, fd[2048]; while (n < 2048 &&"
                       " (fd[n] = open(\"/dev/null\", O_RDONLY)) >= 0) n++;"
                       " for (int i = 0; i < n; i++) close(fd[i]); return n; }");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir); /* its own limit: 256 */
    int64_t n = call(sb, "fds");
    printf("fds opened under max_fds 32: %lld\n", (long long)n);
    HB_CHECK(n > 0);
    HB_CHECK(n < 32);
    e2e_free(sb, m);
}

/* A plugin asking for permissive does not weaken the sandbox's standard
 * (socket() stays denied, a notice says so); trusted, it does. */
static void case_profile_weaker(void)
{
    char *dir = plugin("{\"runtime\": {\"profile\": \"permissive\"}}\n",
                       "int64_t inet(void) { int fd = socket(AF_INET, SOCK_STREAM, 0);"
                       " if (fd >= 0) close(fd); return fd >= 0 ? 1 : -errno; }");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir);
    printf("notice: %s\n", ev.last[HB_EVENT_NOTICE]);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_NOTICE], "keeps standard");
    expect_denied(sb, "inet", "socket");
    hb_sandbox_free(sb);
    sb = loaded(m, true, dir);
    HB_CHECK_EQ(call(sb, "inet"), 1);
    e2e_free(sb, m);
}

/* A plugin asking for strict gets strict in a standard sandbox: W+X
 * memory, allowed under standard, is a denial. */
static void case_profile_stronger(void)
{
    const char *probe = "#include <sys/mman.h>\n"
                        "int64_t wx(void) { void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE |"
                        " PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);"
                        " if (p == MAP_FAILED) return -errno; munmap(p, 4096); return 1; }";
    char *dir = plugin("{}\n", probe);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir);
    HB_CHECK_EQ(call(sb, "wx"), 1);
    hb_sandbox_free(sb);
    dir = plugin("{\"runtime\": {\"profile\": \"strict\"}}\n", probe);
    sb = loaded(m, false, dir);
    expect_denied(sb, "wx", "mmap");
    e2e_free(sb, m);
}

/* Watch-mode style: plugin.json changes with the source; the reload
 * restarts the worker with the new settings (the event says so) and the
 * state is carried. */
static void case_reload_restarts(void)
{
    const char *probe = "int64_t greeting(void) { const char *g = getenv(\"GREETING\");"
                        " return g ? (int64_t)strlen(g) : -1; }\n"
                        "int64_t fds(void) { int n = 0, fd[2048]; while (n < 2048 &&"
                        " (fd[n] = open(\"/dev/null\", O_RDONLY)) >= 0) n++;"
                        " for (int i = 0; i < n; i++) close(fd[i]); return n; }";
    char *dir = plugin("{}\n", probe);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir);
    HB_CHECK_EQ(call(sb, "increment"), 1);
    HB_CHECK_EQ(call(sb, "increment"), 2);
    HB_CHECK_EQ(call(sb, "greeting"), -1);
    pid_t before = hb_sandbox_worker_pid(sb);
    int restarts = ev.count[HB_EVENT_RESTARTED];
    e2e_write("rt", "plugin.json",
              "{\"runtime\": {\"env\": {\"GREETING\": \"hi\"}, \"limits\": {\"max_fds\": 40}}}\n");
    e2e_write("rt", "rt.c", e2e_counter_src(2, 1,
              "#include <fcntl.h>\n#include <unistd.h>\n"
              "int64_t greeting(void) { const char *g = getenv(\"GREETING\");"
              " return g ? (int64_t)strlen(g) : -1; }\n"
              "int64_t fds(void) { int n = 0, fd[2048]; while (n < 2048 &&"
              " (fd[n] = open(\"/dev/null\", O_RDONLY)) >= 0) n++;"
              " for (int i = 0; i < n; i++) close(fd[i]); return n; }\n"
              "HB_PLUGIN(\"rt\", 1, 0, 0, save, migrate);"));
    int r = hb_reload(sb, "rt");
    if (r < 0)
        printf("reload: %s\n", hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    printf("restarted: %s\n", ev.last[HB_EVENT_RESTARTED]);
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], restarts + 1);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_RESTARTED], "plugin.json runtime settings");
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_RESTARTED], "fds 256 -> 40");
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_RESTARTED], "env, data or allow-list");
    HB_CHECK(hb_sandbox_worker_pid(sb) != before);
    int32_t ver;
    HB_CHECK_OK(hb_callf(sb, "rt", "version", ")i", &ver));
    HB_CHECK_EQ(ver, 2);
    HB_CHECK_EQ(call(sb, "get"), 2); /* state carried across the restart and the swap */
    HB_CHECK_EQ(call(sb, "greeting"), 2);
    HB_CHECK(call(sb, "fds") < 40);
    /* An unchanged section reloads without a restart. */
    e2e_write("rt", "rt.c", e2e_counter_src(3, 1,
              "#include <stdlib.h>\nHB_PLUGIN(\"rt\", 1, 0, 0, save, migrate);"));
    HB_CHECK_OK(hb_reload(sb, "rt"));
    HB_CHECK_EQ(ev.count[HB_EVENT_RESTARTED], restarts + 1);
    e2e_free(sb, m);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* swap_timeout_ms: an init hook that never returns fails the load at the
 * plugin's 300 ms, not the sandbox's 60 s (the time includes the compile). */
static void case_swap_timeout(void)
{
    e2e_write("rt", "plugin.json", "{\"runtime\": {\"swap_timeout_ms\": 300}}\n");
    char *dir = e2e_write("rt", "rt.c",
                          "#include <hotbox/plugin.h>\n"
                          "static int init(void) { for (;;) __asm__ volatile(\"\"); return 0; }\n"
                          "HB_PLUGIN(\"rt\", 1, init, 0, 0, 0);\n");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m, false);
    double t0 = now_ms();
    int r = hb_load(sb, dir);
    double took = now_ms() - t0;
    printf("load with a hanging init -> %d after %.0f ms: %s\n", r, took,
           hb_sandbox_last_error(sb));
    HB_CHECK_EQ(r, HB_EHUNG);
    HB_CHECK(took < 30000);
    e2e_free(sb, m);
}

/* limits.cpu_percent: a plugin that burns 150 ms of CPU under its own 20%
 * cap takes at least 4x that in wall time (uncapped: about 1x). SKIP where
 * no cap can be had here (the warning says why). */
static void case_cpu_percent(void)
{
    char *dir = plugin("{\"runtime\": {\"limits\": {\"cpu_percent\": 20}}}\n",
                       "#include <time.h>\n"
                       "static int64_t ms(clockid_t c) { struct timespec t; clock_gettime(c, &t);"
                       " return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000; }\n"
                       "int64_t burn(void) { int64_t w0 = ms(CLOCK_MONOTONIC),"
                       " c0 = ms(CLOCK_PROCESS_CPUTIME_ID); volatile uint64_t x = 0;"
                       " while (ms(CLOCK_PROCESS_CPUTIME_ID) - c0 < 150) x++;"
                       " return ms(CLOCK_MONOTONIC) - w0; }");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = loaded(m, false, dir);
    if (strstr(ev.last[HB_EVENT_WARNING], "cpu_percent")) {
        printf("SKIP: %s\n", ev.last[HB_EVENT_WARNING]);
        hb_manager_free(m);
        e2e_cleanup();
        exit(77);
    }
    int64_t wall = call(sb, "burn");
    printf("150 ms of CPU under cpu_percent 20 took %lld ms wall\n", (long long)wall);
    HB_CHECK(wall >= 4 * 150);
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"env", case_env},
        {"ld_preload", case_ld_preload},
        {"data_readonly", case_data_readonly},
        {"data_under_write", case_data_under_write},
        {"allow_unix", case_allow_unix},
        {"allow_unix_absent", case_allow_unix_absent},
        {"allow_dirs", case_allow_dirs},
        {"allow_refused", case_allow_refused},
        {"limits_fds", case_limits_fds},
        {"profile_weaker", case_profile_weaker},
        {"profile_stronger", case_profile_stronger},
        {"reload_restarts", case_reload_restarts},
        {"swap_timeout", case_swap_timeout},
        {"cpu_percent", case_cpu_percent},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
