/*
 * compiler/namespace.c - the "namespace" backend: the compiler runs in a
 * jail (security/jail.h, the same builder the worker's jail uses): every
 * namespace unshared, every capability dropped, uid 65534 inside, /proc
 * read-only, the root read-only. Besides what every jail holds (/usr, the
 * /bin /lib* links, the loader cache, a fresh /proc, a minimal /dev, a tmpfs
 * /tmp) it sees, each at its own host path:
 *   - the plugin directory (read-only);
 *   - the include directory holding hotbox/plugin.h (read-only);
 *   - sibling plugin directories: the directories beside the plugin's that
 *     hold C sources, so `#include "../scale/scale.h"` of a plugin it
 *     depends on works (read-only, at most HB_NS_MAX_SIBLINGS);
 *   - /etc/alternatives (cc is a link through it on Debian) and the
 *     compiler's own file (not its directory: ccinfo.h) when it is outside
 *     /usr (read-only);
 *   - the job directory (read-write): a tmpfs of max_job_bytes, not the
 *     host's directory; it starts as a copy of the host's (an earlier
 *     step's outputs) and is copied back out, bounded, when the compiler
 *     is done (handover_script, jobdir.c).
 * Not the plugin's parent directory itself (its other files, hidden
 * directories such as the state directory .hotbox, a home directory's
 * .ssh), not the state directory, not HOME. Because every directory appears
 * at its host path, argv, the depfile and the diagnostics carry the user's
 * real paths with no translation.
 *
 * Host uid: a root manager's compile runs as host uid HB_JAIL_HOST_UID, in a
 * root-owned user namespace (security/jail.h), when every directory above
 * is reachable by that uid (see compile_drops_root()).
 *
 * Environment (bwrap's own, so nothing else is in any /proc/<pid>/environ
 * inside): PATH=/usr/bin:/bin, HOME=the job directory, TMPDIR=/tmp, and
 * LC_ALL, LANG, TZ and SOURCE_DATE_EPOCH from the compile's environment.
 *
 * rlimits are set before bwrap is executed and are inherited by everything
 * inside. When the compiler ends or times out, spawn.c kills bwrap's
 * process group and the jail's init (named by bwrap on --info-fd), which
 * takes every process of the jail's pid namespace with it, and waits until
 * they are gone: nothing of a compile outlives hb_compiler_run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "backend.h"
#include "jail.h"
#include "plan.h"

#define HB_NS_MAX_SIBLINGS 64

typedef struct ns_bind {
    const char *path;
    bool rw;
    unsigned long long tmpfs_bytes;
} ns_bind;

/* Where the host's job directory is shown read-only, for the copy-in. */
#define HB_NS_JOB_IN "/hotbox-job-in"

/* The jail's command: the copy-in (a later step sees what earlier steps
 * made), the compiler (without the handover socket), then every other
 * process of the jail is killed (kill -1 spares only the shell and the
 * jail's init), the exit status goes to the host and the shell waits for
 * the host to have copied the job directory out (jobdir.c) before the jail
 * ends with it. */
static const char handover_script[] =
    "job=$1; shift\n" /* the job directory; the compile runs where it was started */
    "cp -R " HB_NS_JOB_IN "/. \"$job\" || exit 125\n"
    "\"$@\" 7<&-\n"
    "rc=$?\n"
    "kill -9 -1 2>/dev/null\n"
    "echo $rc >&7 && read x <&7\n"
    "exit $rc\n";

static int bind_depth_cmp(const void *a, const void *b)
{
    const ns_bind *x = a, *y = b;
    size_t lx = strlen(x->path), ly = strlen(y->path);
    return lx < ly ? -1 : lx > ly;
}

static int ns_probe(char **why)
{
    const char *missing = hb_jail_unavailable();
    if (!missing)
        return 0;
    if (why) {
        free(*why);
        *why = strdup(missing);
    }
    return -EPERM;
}

/* bwrap failed before the compiler ran (it says "bwrap: ..." and exits
 * 1) and its cached verdict no longer holds (jail.h: hb_jail_recheck). A
 * compile is never retried outside the jail on that: it fails, saying so. */
static bool jail_went_stale(const hb__run_outcome *out)
{
    return !out->timed_out && WIFEXITED(out->wait_status) && WEXITSTATUS(out->wait_status) == 1 &&
           out->output.buf && !strncmp(out->output.buf, "bwrap: ", 7) && hb_jail_recheck();
}

static bool is_c_or_h(const char *dir, const char *name, void *arg)
{
    size_t l = strlen(name);
    return l > 2 && name[l - 2] == '.' && (name[l - 1] == 'c' || name[l - 1] == 'h');
}

/* Whether dir directly holds a C source or header. */
static bool holds_sources(const char *dir)
{
    return hb__dir_any(dir, is_c_or_h, NULL) == 1;
}

/* The sibling plugin directories of plugin_dir under root (malloc'ed
 * strings appended to *out, at most max). Hidden entries are skipped. */
static size_t sibling_plugins(const char *root, const char *plugin_dir, char **out, size_t max)
{
    DIR *d = opendir(root);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = hb__path_join(root, de->d_name);
        struct stat st;
        if (p && strcmp(p, plugin_dir) != 0 && lstat(p, &st) == 0 && S_ISDIR(st.st_mode) &&
            holds_sources(p))
            out[n++] = p;
        else
            free(p);
    }
    closedir(d);
    return n;
}

static bool unreachable_file(const char *dir, const char *name, void *arg)
{
    char *p = hb__path_join(dir, name);
    struct stat st;
    bool ok = p && (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || hb_jail_uid_can_reach(p, false));
    free(p);
    return !ok;
}

/* Whether every regular file directly in dir is readable by the jail uid. */
static bool files_reachable(const char *dir)
{
    return hb__dir_any(dir, unreachable_file, NULL) == 0;
}

/* A root manager's compile drops to host uid 65534 when everything shown
 * is reachable by it (every directory searchable, the plugin's own files
 * readable); the job directory is then handed to that uid. Otherwise (a
 * tree under a 0700 home) it keeps the manager's uid, still without any
 * capability, uid 65534 inside, /proc and the root read-only. */
static bool compile_drops_root(const hb_compile_request *req, const hb_jail_bind *b, size_t n)
{
    if (!hb_jail_drops_root())
        return false;
    for (size_t i = 0; i < n; i++)
        if (!b[i].rw && !hb_jail_uid_can_reach(b[i].path, false))
            return false;
    if (!files_reachable(req->plugin_dir))
        return false;
    /* The job directory's parent must be searchable; the directory itself
     * becomes the jail uid's. */
    const char *slash = strrchr(req->job_dir, '/');
    char *parent = slash && slash != req->job_dir
                       ? strndup(req->job_dir, (size_t)(slash - req->job_dir))
                       : strdup("/");
    bool ok = parent && hb_jail_uid_can_reach(parent, false);
    free(parent);
    return ok && chown(req->job_dir, HB_JAIL_HOST_UID, HB_JAIL_HOST_GID) == 0;
}

/* Everything in the job directory was made inside the jail, by a compiler
 * that may be hostile (a repository's "cc", a -fplugin in its cflags, a
 * plugin.json "-wrapper"), and the manager reads it outside: depfiles,
 * objects. jobdir.c copies it out of the jail's tmpfs, bounded, regular
 * files and directories only, once every other process of the jail is gone
 * (the handover script). */
static int collect_job_dir(const hb__run_ctx *ctx, pid_t jail_pid, char **err)
{
    return hb__jobdir_copy_out(jail_pid, ctx->req->job_dir, ctx->max_job_bytes,
                               ctx->max_job_files, err);
}

static const char *const compiler_env_keep[] = {"LC_ALL", "LANG", "TZ", "SOURCE_DATE_EPOCH", NULL};

static int ns_run(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out, char **err)
{
    char *why = NULL;
    int r = ns_probe(&why);
    if (r < 0) {
        r = hb__seterr(err, HB_EISOLATION, "namespace backend unavailable: %s", why ? why : "?");
        free(why);
        return r;
    }
    const hb_compile_request *req = ctx->req;
    hb__run_ctx jctx = *ctx;
    if (!jctx.max_job_bytes)
        jctx.max_job_bytes = HB__DEFAULT_MAX_JOB_BYTES;
    if (!jctx.max_job_files)
        jctx.max_job_files = HB__DEFAULT_MAX_JOB_FILES;
    char *siblings[HB_NS_MAX_SIBLINGS];
    size_t ns = req->source_root ? sibling_plugins(req->source_root, req->plugin_dir, siblings,
                                                   HB_NS_MAX_SIBLINGS)
                                 : 0;
    ns_bind binds[HB_NS_MAX_SIBLINGS + 16];
    size_t nb = 0;
    binds[nb++] = (ns_bind){req->plugin_dir, false, 0};
    /* Legacy callers naming only a source_root see its sibling plugin
     * directories (not the root itself); hotbox names source_dirs. */
    for (size_t i = 0; i < ns && !req->source_dirs; i++)
        binds[nb++] = (ns_bind){siblings[i], false, 0};
    for (char *const *d = req->source_dirs; d && *d && nb + 3 < HB_ARRAY_SIZE(binds); d++)
        binds[nb++] = (ns_bind){*d, false, 0};
    if (req->include_dir)
        binds[nb++] = (ns_bind){req->include_dir, false, 0};
    /* A tmpfs, not the host's directory: what a compile (plugin code, with
     * "-wrapper") writes there is bounded by max_job_bytes and never
     * reaches the host's disk before the bounded copy-out (jobdir.c). */
    binds[nb++] = (ns_bind){req->job_dir, true, jctx.max_job_bytes};
    for (char *const *d = ctx->extra_ro_dirs; d && *d && nb < HB_ARRAY_SIZE(binds); d++)
        binds[nb++] = (ns_bind){*d, false, 0};
    /* Parents before children, so a job directory inside the plugin
     * directory stays writable and a plugin directory inside a bound
     * directory is not hidden. */
    qsort(binds, nb, sizeof(binds[0]), bind_depth_cmp);
    hb_jail_bind jb[HB_ARRAY_SIZE(binds) + 1];
    for (size_t i = 0; i < nb; i++)
        jb[i] = (hb_jail_bind){binds[i].path, NULL, binds[i].rw, binds[i].tmpfs_bytes};
    /* bwrap names the jail's init here: a timeout kills the whole jail
     * through it (spawn.c), not only bwrap's own process group. */
    int info[2] = {-1, -1}, done[2] = {-1, -1};
    if (pipe2(info, O_CLOEXEC | O_NONBLOCK) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, done) < 0 ||
        fcntl(done[0], F_SETFL, O_NONBLOCK) < 0) {
        r = hb__seterr(err, -errno, "namespace backend: pipe: %s", strerror(errno));
        HB_CLOSE_ALL(info[0], info[1], done[0], done[1]);
        for (size_t i = 0; i < ns; i++)
            free(siblings[i]);
        return r;
    }
    /* Not counted in nb: compile_drops_root() checks the binds it gets. */
    jb[nb] = (hb_jail_bind){HB_NS_JOB_IN, req->job_dir, false, 0};
    hb_jail j = {.binds = jb,
                 .nbinds = nb + 1,
                 .chdir = hb__compile_cwd(req), /* bound at its own path */
                 .etc_alternatives = true,
                 .info_fd = HB__JAIL_INFO_FD};
    char **bargv = NULL;
    bool drop = compile_drops_root(req, jb, nb);
    char *uerr = NULL;
    if (drop && (r = hb_jail_userns_new(&j.userns_fd, &uerr)) < 0) {
        r = hb__seterr(err, HB_EISOLATION, "namespace backend: %s", uerr ? uerr : "?");
        free(uerr);
        for (size_t i = 0; i < ns; i++)
            free(siblings[i]);
        HB_CLOSE_ALL(info[0], info[1], done[0], done[1]);
        return r;
    }
    char **env = hb_jail_env(req->job_dir, "/tmp", compiler_env_keep, ctx->envp);
    hb_argv cmd = HB_ARGV_INIT;
    hb__argv_pushl(&cmd, "/bin/sh", "-c", handover_script, "hotbox-compile", req->job_dir, NULL);
    hb__argv_push_all(&cmd, argv);
    char **cargv = NULL;
    r = hb__argv_detach(&cmd, &cargv);
    r = env && r == 0 ? hb_jail_argv(&j, cargv, &bargv) : -ENOMEM;
    hb__strv_free(cargv);
    if (r < 0) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
    } else {
        jctx.envp = env;
        jctx.drop_root = drop;
        jctx.userns_fd = j.userns_fd;
        jctx.has_jail_info = true;
        jctx.jail_info_wr = info[1];
        jctx.jail_info_rd = info[0];
        jctx.has_jail_done = true;
        jctx.jail_done = done[0];
        jctx.jail_done_child = done[1];
        jctx.collect = collect_job_dir;
        r = hb__spawn_limited(&jctx, bargv, out, err);
        if (r >= 0 && jail_went_stale(out))
            r = hb__seterr(err, HB_EISOLATION,
                           "namespace backend: bubblewrap no longer works here (%s); the cached "
                           "verdict that it did was dropped",
                           hb_jail_unavailable());
    }
    if (j.userns_fd > 0)
        close(j.userns_fd);
    HB_CLOSE_ALL(info[0], info[1], done[0], done[1]);
    hb__strv_free(bargv);
    hb__strv_free(env);
    for (size_t i = 0; i < ns; i++)
        free(siblings[i]);
    return r;
}

static const hb__backend namespace_backend = {"namespace", ns_probe, ns_run, NULL};

const hb__backend *hb__namespace_backend(void)
{
    return &namespace_backend;
}
