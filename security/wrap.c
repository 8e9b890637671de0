/* security/wrap.c - the command line that starts a worker: bubblewrap with
 * private namespaces and a minimal root when the profile asks for them and
 * the machine allows them, the bare worker otherwise (said loudly).
 *
 * The worker's view under bwrap:
 *   /usr, /bin, /lib* (read-only, as on the host; symlinks kept), the
 *   loader cache, /proc of its own pid namespace, a minimal /dev, the
 *   worker binary and the plugin objects directory (read-only, same paths:
 *   LOAD names objects by absolute path), /tmp a private tmpfs, and the
 *   scratch directory (read-write) when one is given. Nothing else: no
 *   home, no /etc/shadow, no state directory, no run directory, no
 *   network, and the environment is cleared. The root itself is remounted
 *   read-only, so the only writable places are /tmp and the scratch.
 *
 * Inherited fds: bwrap passes its fds through untouched, so the channel is
 * fd N in the worker as it is in bwrap, and stdout/stderr still go where
 * the harness pointed them. */
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static char probe_reason[512];
static bool probe_ok;
static char bwrap_path[PATH_MAX];

/* A growable NULL-terminated argv; on allocation failure `failed` is set. */
typedef struct strv {
    char **v;
    size_t n, cap;
    bool failed;
} strv;

static void sv_add(strv *s, const char *arg)
{
    if (s->failed)
        return;
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv) {
            s->failed = true;
            return;
        }
        s->v = nv;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(arg))) {
        s->failed = true;
        return;
    }
    s->v[++s->n] = NULL;
}

static void sv_add2(strv *s, const char *a, const char *b)
{
    sv_add(s, a);
    sv_add(s, b);
}

static void sv_add3(strv *s, const char *a, const char *b, const char *c)
{
    sv_add(s, a);
    sv_add(s, b);
    sv_add(s, c);
}

static void sv_free(strv *s)
{
    hb__strv_free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Finds bwrap: $HOTBOX_BWRAP (empty disables namespaces, for tests and for
 * machines where bwrap misbehaves), else $PATH, else /usr/bin/bwrap. */
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
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    while (path && *path) {
        size_t len = strcspn(path, ":");
        if (len && len + 7 < sizeof(buf)) {
            snprintf(buf, sizeof(buf), "%.*s/bwrap", (int)len, path);
            if (access(buf, X_OK) == 0) {
                snprintf(bwrap_path, sizeof(bwrap_path), "%s", buf);
                return true;
            }
        }
        path += len;
        if (*path == ':')
            path++;
    }
    if (access("/usr/bin/bwrap", X_OK) == 0) {
        snprintf(bwrap_path, sizeof(bwrap_path), "/usr/bin/bwrap");
        return true;
    }
    snprintf(reason, rlen, "bwrap (bubblewrap) not found in PATH");
    return false;
}

/* Namespaces and the read-only system part of the root. */
static void add_base(strv *s)
{
    sv_add(s, bwrap_path);
    sv_add(s, "--unshare-user");
    sv_add(s, "--unshare-pid");
    sv_add(s, "--unshare-net");
    sv_add(s, "--unshare-ipc");
    sv_add(s, "--unshare-uts");
    sv_add(s, "--unshare-cgroup-try");
    sv_add(s, "--die-with-parent");
    /* setsid: plugin code cannot push input into the developer's terminal
     * (TIOCSTI). */
    sv_add(s, "--new-session");
    sv_add3(s, "--ro-bind", "/usr", "/usr");
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
            sv_add3(s, "--symlink", target, sysdirs[i]);
        } else if (S_ISDIR(st.st_mode)) {
            sv_add3(s, "--ro-bind", sysdirs[i], sysdirs[i]);
        }
    }
    sv_add3(s, "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache");
    sv_add3(s, "--ro-bind-try", "/etc/localtime", "/etc/localtime");
    sv_add2(s, "--proc", "/proc");
    /* No writes through /proc: /proc/self/mem writes into read-only and
     * executable memory (a W^X bypass), /proc/<pid>/mem into other
     * processes of the sandbox. */
    sv_add2(s, "--remount-ro", "/proc");
    sv_add2(s, "--dev", "/dev");
    sv_add2(s, "--tmpfs", "/tmp");
}

static void run_probe(void)
{
    if (!find_bwrap(probe_reason, sizeof(probe_reason)))
        return;
    strv s = {0};
    add_base(&s);
    sv_add2(&s, "--remount-ro", "/");
    sv_add(&s, "--");
    sv_add(&s, access("/usr/bin/true", X_OK) == 0 ? "/usr/bin/true" : "/bin/true");
    if (s.failed) {
        snprintf(probe_reason, sizeof(probe_reason), "out of memory");
        sv_free(&s);
        return;
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(probe_reason, sizeof(probe_reason), "pipe: %s", strerror(errno));
        sv_free(&s);
        return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    pid_t pid;
    int r = posix_spawn(&pid, bwrap_path, &fa, NULL, s.v, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    sv_free(&s);
    if (r != 0) {
        snprintf(probe_reason, sizeof(probe_reason), "cannot run %.300s: %s", bwrap_path, strerror(r));
        close(pfd[0]);
        return;
    }
    char out[400];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(pfd[0], out + got, sizeof(out) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (got == sizeof(out) - 1)
            break;
    }
    out[got] = 0;
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        probe_ok = true;
        return;
    }
    out[strcspn(out, "\n")] = 0;
    char how[64];
    hb__describe_wait_status(st, how, sizeof(how));
    snprintf(probe_reason, sizeof(probe_reason), "%.200s %s%s%.200s", bwrap_path, how,
             out[0] ? ": " : "", out);
}

const char *hb_sec_namespaces_unavailable(void)
{
    pthread_once(&probe_once, run_probe);
    return probe_ok ? NULL : probe_reason;
}

static void add_env(strv *s, const char *name)
{
    const char *v = getenv(name);
    if (v)
        sv_add3(s, "--setenv", name, v);
}

int hb_sec_wrap_argv(const hb_sec_spawn *sp, char ***argv, bool *wrapped, char **warning,
                     char **err)
{
    if (!sp || !sp->worker_path || !argv || !wrapped)
        return -EINVAL;
    const hb_profile_spec *spec = hb_sec_profile(sp->profile);
    if (!spec)
        return hb__seterr(err, -EINVAL, "unknown security profile %d", (int)sp->profile);
    char fdarg[16];
    snprintf(fdarg, sizeof(fdarg), "%d", sp->channel_fd);
    const char *missing = spec->namespaces ? hb_sec_namespaces_unavailable() : NULL;
    bool wrap = spec->namespaces && !missing;
    char *warn = NULL;
    if (!spec->seccomp && !spec->namespaces)
        warn = hb__asprintf("the %s profile contains nothing: plugin code runs without seccomp "
                            "or namespaces and can read your files, use the network and start "
                            "programs",
                            spec->name);
    else if (missing)
        warn = hb__asprintf("namespaces unavailable: %s; the worker runs without a private "
                            "filesystem view, network or pid namespace (the %s profile's "
                            "seccomp filter and rlimits still apply)",
                            missing, spec->name);
    strv s = {0};
    if (wrap) {
        const char *scratch = sp->scratch_dir ? sp->scratch_dir : "/tmp";
        add_base(&s);
        if (strncmp(sp->worker_path, "/usr/", 5) != 0)
            sv_add3(&s, "--ro-bind", sp->worker_path, sp->worker_path);
        if (sp->objects_dir)
            sv_add3(&s, "--ro-bind", sp->objects_dir, sp->objects_dir);
        if (sp->scratch_dir)
            sv_add3(&s, "--bind", sp->scratch_dir, sp->scratch_dir);
        sv_add2(&s, "--remount-ro", "/");
        sv_add2(&s, "--chdir", scratch);
        sv_add(&s, "--clearenv");
        sv_add3(&s, "--setenv", "PATH", "/usr/bin:/bin");
        sv_add3(&s, "--setenv", "HOME", scratch);
        sv_add3(&s, "--setenv", "TMPDIR", scratch);
        add_env(&s, "LANG");
        add_env(&s, "LC_ALL");
        add_env(&s, "TZ");
        add_env(&s, "ASAN_OPTIONS");
        add_env(&s, "UBSAN_OPTIONS");
        add_env(&s, "LSAN_OPTIONS");
        sv_add(&s, "--");
    }
    sv_add(&s, sp->worker_path);
    sv_add2(&s, "--fd", fdarg);
    sv_add2(&s, "--profile", spec->name);
    if (s.failed || ((missing || !spec->seccomp) && !warn)) {
        sv_free(&s);
        free(warn);
        return hb__seterr(err, -ENOMEM, "out of memory");
    }
    *argv = s.v;
    *wrapped = wrap;
    if (warning)
        *warning = warn;
    else
        free(warn);
    return 0;
}
