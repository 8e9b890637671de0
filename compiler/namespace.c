/*
 * compiler/namespace.c - the "namespace" backend: the compiler runs under
 * bubblewrap (bwrap) with every namespace unshared (user, mount, pid, net,
 * ipc, uts, cgroup). The new root holds only:
 *   /usr read-only, the /bin /lib /lib64 /sbin ... links (or binds) the
 *   host has, /etc/ld.so.cache and /etc/alternatives (cc is a link through
 *   it on Debian), a fresh /proc, a minimal /dev, an empty tmpfs /tmp,
 *   the plugin directory and the include directory read-only, and the job
 *   directory read-write, each at its own host path.
 * HOME, /root, /etc/shadow and the rest of the file system are simply absent,
 * so a plugin source cannot #include them. Because every directory appears
 * at its host path, argv, the depfile and the diagnostics carry the user's
 * real paths with no translation.
 *
 * rlimits are set before bwrap is executed and are inherited by everything
 * inside. A timeout kills bwrap's process group; --die-with-parent and the
 * pid namespace take the sandboxed processes down with it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"

extern char **environ;

typedef struct argv_builder {
    char **v;
    size_t n, cap;
    bool failed;
} argv_builder;

static void add(argv_builder *b, const char *s)
{
    if (b->failed)
        return;
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char **nv = realloc(b->v, cap * sizeof(*nv));
        if (!nv) {
            b->failed = true;
            return;
        }
        b->v = nv;
        b->cap = cap;
    }
    b->v[b->n] = strdup(s);
    if (!b->v[b->n]) {
        b->failed = true;
        return;
    }
    b->v[++b->n] = NULL;
}

static void add3(argv_builder *b, const char *a, const char *c, const char *d)
{
    add(b, a);
    add(b, c);
    add(b, d);
}

/* The host's top-level links into /usr (merged /usr on Debian 12) are
 * recreated as links; real directories are bound read-only. */
static void add_system_dirs(argv_builder *b)
{
    static const char *const tops[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
    add3(b, "--ro-bind", "/usr", "/usr");
    for (size_t i = 0; i < HB_ARRAY_SIZE(tops); i++) {
        struct stat st;
        if (lstat(tops[i], &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlink(tops[i], target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = 0;
            add3(b, "--symlink", target, tops[i]);
        } else if (S_ISDIR(st.st_mode)) {
            add3(b, "--ro-bind", tops[i], tops[i]);
        }
    }
    add3(b, "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache");
    add3(b, "--ro-bind-try", "/etc/alternatives", "/etc/alternatives");
    add(b, "--proc");
    add(b, "/proc");
    add(b, "--dev");
    add(b, "/dev");
    add(b, "--tmpfs");
    add(b, "/tmp");
}

static void add_common(argv_builder *b, const char *bwrap)
{
    add(b, bwrap);
    add(b, "--unshare-all");
    add(b, "--die-with-parent");
    add(b, "--new-session");
    add_system_dirs(b);
}

typedef struct bind {
    const char *path;
    bool rw;
} bind;

static int bind_depth_cmp(const void *a, const void *b)
{
    const bind *x = a, *y = b;
    size_t lx = strlen(x->path), ly = strlen(y->path);
    return lx < ly ? -1 : lx > ly;
}

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_result;
static char *probe_why;
static char *bwrap_path;

static void probe_now(void)
{
    argv_builder b = {0};
    hb__run_outcome out = {0};
    char *truebin = NULL, *err = NULL;
    int r = hb__find_program("bwrap", &bwrap_path);
    if (r < 0) {
        probe_result = -ENOENT;
        probe_why = strdup("bwrap (Debian package bubblewrap) is not on $PATH");
        return;
    }
    if (hb__find_program("true", &truebin) < 0)
        truebin = strdup("/usr/bin/true");
    add_common(&b, bwrap_path);
    add(&b, "--");
    add(&b, truebin ? truebin : "/usr/bin/true");
    if (b.failed) {
        probe_result = -ENOMEM;
        goto out;
    }
    hb__run_ctx ctx = {
        .envp = environ,
        .deadline_ns = hb__now_ns() + 10ull * 1000000000ull,
        .timeout_ms = 10000,
        .max_output_bytes = 1u << 20,
        .max_memory_bytes = 1ull << 31,
    };
    r = hb__spawn_limited(&ctx, b.v, &out, &err);
    if (r < 0) {
        probe_result = r;
        probe_why = hb__asprintf("cannot run %s: %s", bwrap_path, err ? err : "?");
    } else if (out.timed_out) {
        probe_result = -ETIMEDOUT;
        probe_why = hb__asprintf("%s did not finish within 10 s", bwrap_path);
    } else if (!WIFEXITED(out.wait_status) || WEXITSTATUS(out.wait_status) != 0) {
        char desc[128];
        probe_result = -EPERM;
        size_t l = out.output.len;
        while (l > 0 && (out.output.buf[l - 1] == '\n' || out.output.buf[l - 1] == ' '))
            l--;
        probe_why = hb__asprintf("%s --unshare-all ... true %s: %.*s", bwrap_path,
                                 hb__describe_wait_status(out.wait_status, desc, sizeof(desc)),
                                 (int)l, out.output.buf ? out.output.buf : "");
    }
out:
    free(err);
    free(truebin);
    hb__sb_release(&out.output);
    hb__strv_free(b.v);
}

static int ns_probe(char **why)
{
    pthread_once(&probe_once, probe_now);
    if (probe_result < 0 && why) {
        free(*why);
        *why = strdup(probe_why ? probe_why : "bwrap probe failed");
    }
    return probe_result;
}

static int ns_run(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out, char **err)
{
    char *why = NULL;
    int r = ns_probe(&why);
    if (r < 0) {
        r = hb__cerr(err, HB_EISOLATION, "namespace backend unavailable: %s", why ? why : "?");
        free(why);
        return r;
    }
    argv_builder b = {0};
    add_common(&b, bwrap_path);

    bind binds[16];
    size_t nb = 0;
    const hb_compile_request *req = ctx->req;
    binds[nb++] = (bind){req->plugin_dir, false};
    if (req->source_root && !req->source_dirs)
        binds[nb++] = (bind){req->source_root, false};
    for (char *const *d = req->source_dirs; d && *d && nb + 3 < HB_ARRAY_SIZE(binds); d++)
        binds[nb++] = (bind){*d, false};
    if (req->include_dir)
        binds[nb++] = (bind){req->include_dir, false};
    binds[nb++] = (bind){req->job_dir, true};
    for (char *const *d = ctx->extra_ro_dirs; d && *d && nb < HB_ARRAY_SIZE(binds); d++)
        binds[nb++] = (bind){*d, false};
    /* Parents before children, so a job directory inside the plugin
     * directory stays writable and a plugin directory inside a bound
     * parent is not hidden. */
    qsort(binds, nb, sizeof(binds[0]), bind_depth_cmp);
    for (size_t i = 0; i < nb; i++)
        add3(&b, binds[i].rw ? "--bind" : "--ro-bind", binds[i].path, binds[i].path);
    add(&b, "--chdir");
    add(&b, req->job_dir);
    add(&b, "--");
    for (char *const *a = argv; *a; a++)
        add(&b, *a);
    if (b.failed) {
        hb__strv_free(b.v);
        return hb__cerr(err, -ENOMEM, "out of memory");
    }
    r = hb__spawn_limited(ctx, b.v, out, err);
    hb__strv_free(b.v);
    return r;
}

static const hb__backend namespace_backend = {"namespace", ns_probe, ns_run, NULL};

const hb__backend *hb__namespace_backend(void)
{
    return &namespace_backend;
}
