/* security/jail.c - the bubblewrap command line shared by workers and the
 * namespace compile backend (see jail.h for what a jail holds). */
#include "jail.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "argv.h"
#include "jail_cache.h"
#include "process.h"
#include "util.h"

extern char **environ;

/* ---- finding bwrap ---------------------------------------------------- */

/* The verdict (run_probe), under probe_mu. probe_reason is written only
 * while probe_ok is false (a caller may still hold the pointer). */
static pthread_mutex_t probe_mu = PTHREAD_MUTEX_INITIALIZER;
static char probe_reason[512];
static bool probe_done, probe_ok, probe_cached;
static char bwrap_path[PATH_MAX];

/* $HOTBOX_BWRAP (empty disables jails), else $PATH. */
static bool find_bwrap(char *reason, size_t rlen)
{
    const char *env = getenv("HOTBOX_BWRAP");
    if (env) {
        if (!*env) {
            snprintf(reason, rlen, "disabled by HOTBOX_BWRAP=\"\"");
            return false;
        }
        if (access(env, X_OK) < 0) {
            snprintf(reason, rlen, "HOTBOX_BWRAP=%s: %s", env, strerror(errno));
            return false;
        }
        snprintf(bwrap_path, sizeof(bwrap_path), "%s", env);
        return true;
    }
    char *found = NULL;
    if (hb__find_program("bwrap", &found) == 0) {
        snprintf(bwrap_path, sizeof(bwrap_path), "%s", found);
        free(found);
        return true;
    }
    snprintf(reason, rlen, "bwrap (bubblewrap) not found in PATH");
    return false;
}

const char *hb_jail_bwrap(void)
{
    return bwrap_path[0] ? bwrap_path : NULL;
}

/* ---- the command line ----------------------------------------------------- */

static void add_base(hb_argv *s, const hb_jail *j)
{
    char id[16];
    hb__argv_push(s, bwrap_path);
    if (j->userns_fd > 0) {
        /* A root manager's namespace, owned by root (see jail.h), at the
         * number the spawner puts it. */
        snprintf(id, sizeof(id), "%d", HB_JAIL_USERNS_FD);
        hb__argv_pushl(s, "--userns", id, NULL);
    } else {
        hb__argv_push(s, "--unshare-user");
    }
    hb__argv_push(s, "--unshare-pid");
    hb__argv_push(s, "--unshare-net");
    hb__argv_push(s, "--unshare-ipc");
    hb__argv_push(s, "--unshare-uts");
    hb__argv_push(s, "--unshare-cgroup-try");
    hb__argv_push(s, "--die-with-parent");
    /* setsid: code inside cannot push input into the developer's terminal
     * (TIOCSTI). */
    hb__argv_push(s, "--new-session");
    hb__argv_pushl(s, "--cap-drop", "ALL", NULL);
    snprintf(id, sizeof(id), "%d", HB_JAIL_UID);
    hb__argv_pushl(s, "--uid", id, NULL);
    snprintf(id, sizeof(id), "%d", HB_JAIL_GID);
    hb__argv_pushl(s, "--gid", id, NULL);
    if (j->as_pid_1)
        hb__argv_push(s, "--as-pid-1");
    if (j->info_fd >= 0) {
        snprintf(id, sizeof(id), "%d", j->info_fd);
        hb__argv_pushl(s, "--info-fd", id, NULL);
    }
    hb__argv_pushl(s, "--ro-bind", "/usr", "/usr", NULL);
    /* Merged /usr (Debian 12): the top-level links are recreated as links;
     * real directories are bound read-only. */
    static const char *const sysdirs[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
    for (size_t i = 0; i < HB_ARRAY_SIZE(sysdirs); i++) {
        struct stat st;
        if (lstat(sysdirs[i], &st) < 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(sysdirs[i], target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = 0;
            hb__argv_pushl(s, "--symlink", target, sysdirs[i], NULL);
        } else if (S_ISDIR(st.st_mode)) {
            hb__argv_pushl(s, "--ro-bind", sysdirs[i], sysdirs[i], NULL);
        }
    }
    hb__argv_pushl(s, "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache", NULL);
    hb__argv_pushl(s, "--ro-bind-try", "/etc/localtime", "/etc/localtime", NULL);
    if (j->etc_alternatives)
        hb__argv_pushl(s, "--ro-bind-try", "/etc/alternatives", "/etc/alternatives", NULL);
    hb__argv_pushl(s, "--proc", "/proc", NULL);
    hb__argv_pushl(s, "--dev", "/dev", NULL);
    /* Bounded (jail.h); /dev itself is made read-only with the root. */
    char size[32];
    snprintf(size, sizeof(size), "%llu", HB_JAIL_SHM_BYTES);
    hb__argv_pushl(s, "--size", size, "--tmpfs", "/dev/shm", NULL);
    snprintf(size, sizeof(size), "%llu", HB_JAIL_TMP_BYTES);
    hb__argv_pushl(s, "--size", size, "--tmpfs", "/tmp", NULL);
}

int hb_jail_argv(const hb_jail *j, char *const *cmd, char ***out)
{
    assert(j && cmd && out);
    hb_argv s = HB_ARGV_INIT;
    add_base(&s, j);
    for (size_t i = 0; i < j->nbinds; i++) {
        if (j->binds[i].tmpfs_bytes) {
            hb__argv_push(&s, "--size");
            hb__argv_pushf(&s, "%llu", j->binds[i].tmpfs_bytes);
            hb__argv_pushl(&s, "--tmpfs", j->binds[i].path, NULL);
            continue;
        }
        hb__argv_pushl(&s, j->binds[i].rw ? "--bind" : "--ro-bind",
                j->binds[i].src ? j->binds[i].src : j->binds[i].path, j->binds[i].path, NULL);
    }
    /* Last: the binds above are in place, now nothing but them, /tmp,
     * /dev/shm and /dev's nodes stays writable. A read-only /proc keeps /proc/sys,
     * /proc/sysrq-trigger and /proc/<pid>/mem from being opened for
     * writing whatever the uid. */
    hb__argv_pushl(&s, "--remount-ro", "/proc", NULL);
    hb__argv_pushl(&s, "--remount-ro", "/dev", NULL);
    hb__argv_pushl(&s, "--remount-ro", "/", NULL);
    hb__argv_pushl(&s, "--chdir", j->chdir ? j->chdir : "/", NULL);
    for (char *const *e = j->setenv; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e) {
            hb__argv_release(&s);
            return -EINVAL;
        }
        hb__argv_push(&s, "--setenv");
        hb__argv_pushf(&s, "%.*s", (int)(eq - *e), *e);
        hb__argv_push(&s, eq + 1);
    }
    hb__argv_push(&s, "--");
    /* bwrap passes its fds through untouched: the user namespace's fd would
     * reach the command (a compiler). A shell closes it and execs the
     * command, keeping its pid (pid 1 with as_pid_1); a command that closes
     * it itself (the worker) is started directly, without the shell's
     * ~1.5 ms. */
    if (j->userns_fd > 0 && !j->cmd_closes_userns)
        hb__argv_pushl(&s, "/bin/sh", "-c", "exec " HB_JAIL_USERNS_FD_STR "<&- \"$@\"",
                       "hotbox-jail", NULL);
    hb__argv_push_all(&s, cmd);
    return hb__argv_detach(&s, out);
}

/* ---- environment and credentials ------------------------------------------ */

char **hb_jail_env(const char *home, const char *tmpdir, const char *const *keep,
                   char *const *from)
{
    if (!from)
        from = environ;
    size_t nkeep = 0;
    while (keep && keep[nkeep])
        nkeep++;
    char **e = calloc(nkeep + 4, sizeof(*e));
    if (!e)
        return NULL;
    size_t k = 0;
    e[k++] = strdup("PATH=/usr/bin:/bin");
    e[k++] = hb__asprintf("HOME=%s", home);
    e[k++] = hb__asprintf("TMPDIR=%s", tmpdir);
    for (size_t i = 0; i < nkeep; i++) {
        size_t len = strlen(keep[i]);
        for (char *const *f = from; f && *f; f++) {
            if (strncmp(*f, keep[i], len) == 0 && (*f)[len] == '=') {
                e[k++] = strdup(*f);
                break;
            }
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (!e[i]) {
            hb__strv_free(e);
            return NULL;
        }
    }
    return e;
}

bool hb_jail_drops_root(void)
{
    return geteuid() == 0;
}

static int write_all_at(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t w;
    while ((w = write(fd, text, len)) < 0 && errno == EINTR)
        ;
    int r = w == (ssize_t)len ? 0 : w < 0 ? -errno : -EIO;
    close(fd);
    return r;
}

/* The helper child: a user namespace of its own, then stopped until the
 * parent has taken what it needs and kills it. Async-signal-safe. */
static int unshare_and_stop(void *arg)
{
    (void)arg;
    if (syscall(SYS_unshare, CLONE_NEWUSER) < 0)
        return 1;
    for (;;)
        syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
}

int hb_jail_userns_new(int *out, char **err)
{
    /* A child unshares a user namespace and stops itself; this process
     * (root in the initial namespace, so the namespace's owner is root)
     * writes its maps, keeps an fd of it and kills the child. */
    pid_t pid = -1;
    hb_spawn sp = {.child_main = unshare_and_stop};
    char *serr = NULL;
    if (hb__spawn(&sp, &pid, NULL, &serr) < 0) {
        int r = hb__seterr(err, -EAGAIN, "cannot make a jail's user namespace: %s",
                           serr ? serr : "out of memory");
        free(serr);
        return r;
    }
    int st = 0, r = 0, fd = -1;
    char path[64], map[64];
    const char *what = "unshare(CLONE_NEWUSER)";
    pid_t w;
    while ((w = waitpid(pid, &st, WUNTRACED)) < 0 && errno == EINTR)
        ;
    if (w != pid || !WIFSTOPPED(st)) {
        r = w < 0 ? -errno : -EPERM;
    } else {
        what = "uid_map";
        snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
        snprintf(map, sizeof(map), "%d %u 1\n", HB_JAIL_UID, HB_JAIL_HOST_UID);
        r = write_all_at(path, map);
        if (r == 0) {
            what = "gid_map";
            snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
            snprintf(map, sizeof(map), "%d %u 1\n", HB_JAIL_GID, HB_JAIL_HOST_GID);
            r = write_all_at(path, map);
        }
        if (r == 0) {
            what = "ns/user";
            snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
            fd = open(path, O_RDONLY | O_CLOEXEC);
            r = fd < 0 ? -errno : 0;
        }
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (r < 0)
        return hb__seterr(err, r, "cannot make a jail's user namespace (%s): %s", what,
                          strerror(-r));
    *out = fd;
    return 0;
}

int hb_jail_child_pid(int fd, pid_t *out)
{
    char buf[1024];
    size_t got = 0;
    /* bwrap writes the whole object at once before its child runs. */
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = 0;
        if (strchr(buf, '}') || got == sizeof(buf) - 1)
            break;
    }
    buf[got] = 0;
    const char *p = strstr(buf, "\"child-pid\"");
    if (!p)
        return -ENOENT;
    p = strchr(p, ':');
    if (!p)
        return -EINVAL;
    long pid = strtol(p + 1, NULL, 10);
    if (pid <= 0 || pid > INT_MAX)
        return -EINVAL;
    *out = (pid_t)pid;
    return 0;
}

/* ---- the probe ---------------------------------------------------------- */

/* Runs the jail a worker gets around `true` (argv, env), from a child that
 * drops root the way a worker's does. 0 when it exited 0, else -1 with
 * probe_reason set. */
static int probe_run(hb_jail *j, char **argv, char **env)
{
    int pfd[2] = {-1, -1}, r = -1;
    if (hb_jail_drops_root()) {
        char *uerr = NULL;
        if (hb_jail_userns_new(&j->userns_fd, &uerr) < 0) {
            snprintf(probe_reason, sizeof(probe_reason), "%s", uerr ? uerr : "out of memory");
            free(uerr);
            return -1;
        }
    }
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(probe_reason, sizeof(probe_reason), "pipe: %s", strerror(errno));
        goto out;
    }
    const hb_spawn_fd fds[] = {{HB_SPAWN_DEVNULL, 0},
                               {HB_SPAWN_DEVNULL, 1},
                               {pfd[1], 2},
                               {j->userns_fd, HB_JAIL_USERNS_FD}};
    hb_spawn sp = {.argv = argv, .envp = env, .fds = fds, .nfds = j->userns_fd > 0 ? 4 : 3};
    pid_t pid = -1;
    char *serr = NULL;
    if (hb__spawn(&sp, &pid, NULL, &serr) < 0) {
        snprintf(probe_reason, sizeof(probe_reason), "%s", serr ? serr : "out of memory");
        free(serr);
        goto out;
    }
    close(pfd[1]);
    pfd[1] = -1;
    if (j->userns_fd > 0) {
        close(j->userns_fd);
        j->userns_fd = 0;
    }
    char msg[400];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(pfd[0], msg + got, sizeof(msg) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof(msg) - 1)
            break;
    }
    msg[got] = 0;
    int st = 0;
    (void)hb__wait_pid(pid, &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        r = 0;
        goto out;
    }
    msg[strcspn(msg, "\n")] = 0;
    char how[64];
    hb__describe_wait_status(st, how, sizeof(how));
    snprintf(probe_reason, sizeof(probe_reason), "%.200s%s %s%s%.200s", bwrap_path,
                 hb_jail_drops_root() ? " (joining a root-owned user namespace)" : "", how,
                 msg[0] ? ": " : "", msg);
out:
    if (j->userns_fd > 0)
        close(j->userns_fd);
    j->userns_fd = 0;
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    return r;
}

/* The verdict: read from the cache when use_cache and it says "works"
 * under this machine's key (jail_cache.h), else probed, and a "works"
 * kept unless bwrap may have changed while it ran. */
static void run_probe(bool use_cache)
{
    if (!find_bwrap(probe_reason, sizeof(probe_reason)))
        return;
    const char *truebin = access("/usr/bin/true", X_OK) == 0 ? "/usr/bin/true" : "/bin/true";
    char *const cmd[] = {(char *)truebin, NULL};
    /* The command line does not depend on the namespace's fd (it is passed
     * at HB_JAIL_USERNS_FD), so it is keyed before the namespace exists. */
    hb_jail j = {.as_pid_1 = true, .info_fd = -1,
                 .userns_fd = hb_jail_drops_root() ? HB_JAIL_USERNS_FD : 0};
    char **argv = NULL;
    char **env = hb_jail_env("/tmp", "/tmp", NULL, NULL);
    if (!env || hb_jail_argv(&j, cmd, &argv) < 0) {
        snprintf(probe_reason, sizeof(probe_reason), "out of memory");
        goto out;
    }
    j.userns_fd = 0;
    char key[HB_SHA256_HEX], again[HB_SHA256_HEX];
    hb_file_id id;
    bool keyed = hb__jail_cache_key(bwrap_path, argv, key, &id) == 0;
    if (keyed && use_cache && hb__jail_cache_works(key)) {
        probe_ok = probe_cached = true;
        goto out;
    }
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME_COARSE, &t0);
    if (probe_run(&j, argv, env) < 0)
        goto out;
    probe_ok = true;
    if (keyed && !hb__file_id_racy(&id, &t0) &&
        hb__jail_cache_key(bwrap_path, argv, again, &id) == 0 && !strcmp(key, again))
        hb__jail_cache_store(key);
out:
    hb__strv_free(argv);
    hb__strv_free(env);
}

const char *hb_jail_unavailable(void)
{
    pthread_mutex_lock(&probe_mu);
    if (!probe_done) {
        run_probe(true);
        probe_done = true;
    }
    bool ok = probe_ok;
    pthread_mutex_unlock(&probe_mu);
    return ok ? NULL : probe_reason;
}

bool hb_jail_recheck(void)
{
    pthread_mutex_lock(&probe_mu);
    bool flipped = false;
    if (probe_done && probe_ok && probe_cached) {
        hb__jail_cache_forget();
        probe_ok = probe_cached = false;
        run_probe(false);
        flipped = !probe_ok;
    }
    pthread_mutex_unlock(&probe_mu);
    return flipped;
}

bool hb_jail_verdict_cached(void)
{
    pthread_mutex_lock(&probe_mu);
    bool c = probe_done && probe_cached;
    pthread_mutex_unlock(&probe_mu);
    return c;
}

/* ---- views ------------------------------------------------------------------ */

/* Whether the jail's host uid can reach path (search every parent, read
 * the file, and execute it when exec is set). Always true when jails keep
 * the manager's own uid. */
bool hb_jail_uid_can_reach(const char *path, bool exec)
{
    if (!hb_jail_drops_root())
        return true;
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf) || buf[0] != '/')
        return false;
    struct stat st;
    for (char *p = strchr(buf + 1, '/');; p = strchr(p + 1, '/')) {
        if (p)
            *p = 0;
        if (stat(buf[0] ? buf : "/", &st) < 0)
            return false;
        bool last = !p;
        mode_t need_o = last ? (S_ISDIR(st.st_mode) ? S_IXOTH : S_IROTH | (exec ? S_IXOTH : 0))
                             : S_IXOTH;
        mode_t need_u = need_o << 6, need_g = need_o << 3;
        bool ok = st.st_uid == HB_JAIL_HOST_UID ? (st.st_mode & need_u) == need_u
                  : st.st_gid == HB_JAIL_HOST_GID ? (st.st_mode & need_g) == need_g
                                             : (st.st_mode & need_o) == need_o;
        if (!ok)
            return false;
        if (last)
            return true;
        *p = '/';
    }
}

#define VIEW_PREFIX "hb-view-"
/* <dir>/.hb-views-<euid>: this user made object views in dir, a shared
 * directory (not the manager's run directory) that hb_jail_views_reap
 * scans only while the marker is there: /tmp holds thousands of entries
 * and a manager starts for every `hotbox test`. */
#define VIEW_MARK ".hb-views-"

static char *views_mark_path(const char *dir)
{
    return hb__asprintf("%s/" VIEW_MARK "%ld", dir, (long)geteuid());
}

/* Best effort: a view without its marker is only not reaped after a kill. */
static void views_mark(const char *dir)
{
    char *mark = views_mark_path(dir);
    int fd = mark ? open(mark, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
    if (fd >= 0)
        close(fd);
    free(mark);
}

int hb_jail_view_new(const char *dir_hint, char **out, char **err)
{
    const char *base = dir_hint && hb_jail_uid_can_reach(dir_hint, false) ? dir_hint : NULL;
    if (!base) {
        const char *t = getenv("TMPDIR");
        base = t && *t == '/' && hb_jail_uid_can_reach(t, false) ? t : "/tmp";
    }
    /* The creator's pid in the name: hb_jail_views_reap finds the views
     * of a manager that was killed before it could remove them. */
    char *dir = hb__asprintf("%s/" VIEW_PREFIX "%ld-XXXXXX", base, (long)getpid());
    if (!dir)
        return hb__seterr(err, -ENOMEM, "out of memory");
    if (!mkdtemp(dir)) {
        int e = errno;
        int r = hb__seterr(err, -e, "cannot create a sandbox's object view in %s: %s", base,
                           strerror(e));
        free(dir);
        return r;
    }
    /* Outside dir_hint (a shared $TMPDIR or /tmp): the marker that makes
     * hb_jail_views_reap look there. After mkdtemp, so a reaper that
     * removed the marker before its scan either sees this view or finds
     * the marker again. */
    if (base != dir_hint)
        views_mark(base);
    /* A root manager's: searchable by the jail's host gid only (its
     * workers, jailed or not), listable by none of them; owned by root, so
     * a worker cannot change that. */
    if (hb_jail_drops_root() &&
        (chown(dir, 0, HB_JAIL_HOST_GID) < 0 || chmod(dir, 0710) < 0)) {
        int e = errno;
        int r = hb__seterr(err, -e, "making %s searchable by gid %u only: %s", dir,
                           HB_JAIL_HOST_GID, strerror(e));
        hb__rm_rf(dir);
        free(dir);
        return r;
    }
    *out = dir;
    return 0;
}

/* Copies src to dst (through a temporary name beside it) with mode. */
static int copy_file(const char *src, const char *dst, mode_t mode, char **err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return hb__seterr(err, -errno, "cannot open %s: %s", src, strerror(errno));
    char *tmp = hb__asprintf("%s.tmp-XXXXXX", dst);
    int outfd = tmp ? mkostemp(tmp, O_CLOEXEC) : -1;
    int r = 0;
    if (outfd < 0) {
        r = tmp ? hb__seterr(err, -errno, "cannot create %s: %s", tmp, strerror(errno))
                : hb__seterr(err, -ENOMEM, "out of memory");
        goto out;
    }
    if ((r = hb__copy_fd(in, outfd)) < 0)
        r = hb__seterr(err, r, "copying %s to %s: %s", src, tmp, strerror(-r));
    if (r == 0 && fchmod(outfd, mode) < 0)
        r = hb__seterr(err, -errno, "chmod %s: %s", tmp, strerror(errno));
    close(outfd);
    if (r == 0 && rename(tmp, dst) < 0)
        r = hb__seterr(err, -errno, "rename %s: %s", tmp, strerror(errno));
    if (r < 0)
        unlink(tmp);
out:
    close(in);
    free(tmp);
    return r;
}

static int link_or_copy(const char *file, const char *dst, mode_t mode, char **err)
{
    if (link(file, dst) == 0 || errno == EEXIST)
        return 0;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK)
        return hb__seterr(err, -errno, "cannot link %s into %s: %s", file, dst, strerror(errno));
    return copy_file(file, dst, mode, err);
}

int hb_jail_view_add(const char *view, const char *file, char **err)
{
    assert(view && file);
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char *dst = hb__path_join(view, base);
    if (!dst)
        return hb__seterr(err, -ENOMEM, "out of memory");
    int r = link_or_copy(file, dst, 0644, err);
    free(dst);
    return r;
}

int hb_jail_view_worker(const char *view, const char *worker_path, char **out, char **err)
{
    if (hb_jail_uid_can_reach(worker_path, true)) {
        *out = strdup(worker_path);
        return *out ? 0 : hb__seterr(err, -ENOMEM, "out of memory");
    }
    char *dst = hb__path_join(view, ".hotbox-worker");
    if (!dst)
        return hb__seterr(err, -ENOMEM, "out of memory");
    struct stat st;
    int r = stat(dst, &st) == 0 ? 0 : copy_file(worker_path, dst, 0755, err);
    if (r < 0) {
        free(dst);
        return r;
    }
    *out = dst;
    return 0;
}

void hb_jail_view_free(char *view)
{
    if (!view)
        return;
    struct stat st;
    bool leased = stat(view, &st) == 0 && st.st_gid != HB_JAIL_HOST_GID;
    hb__rm_rf(view);
    if (leased)
        hb__jail_view_release_id(st.st_gid);
    free(view);
}

/* Removes the views in dir that this user's dead processes created; *left
 * (NULL ok) counts this user's views that stay (their makers live). */
static unsigned reap_views_in(const char *dir, unsigned *left)
{
    unsigned n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, VIEW_PREFIX, strlen(VIEW_PREFIX)) != 0)
            continue;
        char *end = NULL;
        errno = 0;
        long pid = strtol(e->d_name + strlen(VIEW_PREFIX), &end, 10);
        if (errno || pid <= 0 || !end || *end != '-')
            continue; /* not a name we give */
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
            continue;
        bool lives = kill((pid_t)pid, 0) == 0 || errno != ESRCH; /* or a reused pid */
        char *path = lives ? NULL : hb__path_join(dir, e->d_name);
        if (path && hb__rm_rf(path) == 0)
            n++;
        else if (left)
            (*left)++;
        free(path);
    }
    closedir(d);
    return n;
}

/* A shared directory is scanned only while it holds this user's marker
 * (hb_jail_view_new leaves it there). The marker goes before the scan and
 * comes back when views of living managers stay: a view made during the
 * scan either is seen or brings its own marker. */
static unsigned reap_marked(const char *dir)
{
    char *mark = views_mark_path(dir);
    if (mark && unlink(mark) < 0 && errno == ENOENT) {
        free(mark);
        return 0; /* no marker (or another reaper is at it): nothing of ours */
    }
    /* Removed, or not ours to remove (someone else's file by that name):
     * scan. */
    unsigned left = 0, n = reap_views_in(dir, &left);
    if (left)
        views_mark(dir);
    free(mark);
    return n;
}

unsigned hb_jail_views_reap(const char *dir_hint)
{
    unsigned n = 0;
    if (dir_hint)
        n += reap_views_in(dir_hint, NULL);
    const char *t = getenv("TMPDIR");
    if (t && *t == '/' && (!dir_hint || strcmp(t, dir_hint) != 0))
        n += reap_marked(t);
    if ((!dir_hint || strcmp(dir_hint, "/tmp") != 0) && (!t || strcmp(t, "/tmp") != 0))
        n += reap_marked("/tmp");
    return n;
}
