/*
 * compiler/ccinfo.c - compiler identity, probed on the compile's own
 * backend and cached per process per (cc string, backend), and across
 * processes by the binary's identity; whether it
 * speaks JSON diagnostics, probed at its first compile. See ccinfo.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "argv.h"
#include "fileid.h"
#include "ccinfo.h"
#include "plan.h"

static pthread_mutex_t cc_lock = PTHREAD_MUTEX_INITIALIZER;
static hb__ccinfo *cc_cache;

static void ccinfo_free(hb__ccinfo *ci)
{
    if (!ci)
        return;
    free(ci->cc);
    hb__strv_free(ci->words);
    HB_FREE_ALL(ci->real, ci->version, ci);
}

/* Runs words + extra (a short query, not a compile) under pe's backend, in a
 * fresh directory inside the request's job directory. */
static int run_query(const hb__ccinfo *ci, const hb__probe_env *pe, const char *const *extra,
                     hb__run_outcome *out)
{
    char *dir = NULL;
    char **argv = NULL, **env = NULL, **ro = hb__ccinfo_paths(ci);
    hb_argv a = HB_ARGV_INIT;
    hb__argv_push_all(&a, ci->words);
    hb__argv_push_all(&a, (char *const *)extra);
    int r = hb__argv_detach(&a, &argv);
    if (r < 0 || !ro) {
        r = -ENOMEM;
        goto out;
    }
    const char *tmp = getenv("TMPDIR");
    /* The probe directory is made inside the job directory, which must then
     * be searchable by the jail's host uid (a root manager's isolated run
     * drops root only where that uid can reach: namespace.c); the job
     * directory becomes that uid's for the compile anyway. */
    if (pe->req->job_dir && geteuid() == 0)
        (void)chmod(pe->req->job_dir, 0711);
    if ((!pe->req->job_dir || hb__mkdtemp_in(pe->req->job_dir, "probe-", &dir) < 0) &&
        (r = hb__mkdtemp_in(tmp && *tmp == '/' ? tmp : "/tmp", "hotbox-probe-", &dir)) < 0)
        goto out;
    r = -ENOMEM;
    if (!(env = hb__compiler_env(dir)))
        goto out;
    hb_compile_request preq = *pe->req;
    preq.job_dir = dir;
    hb__run_ctx ctx = {
        .req = &preq,
        .envp = env,
        .deadline_ns = hb__now_ns() + 20ull * 1000000000ull,
        .timeout_ms = 20000,
        .max_output_bytes = 1u << 20,
        .max_memory_bytes = HB__DEFAULT_MAX_MEMORY,
        .extra_ro_dirs = ro,
        .state = pe->vm,
    };
    r = pe->be->run(&ctx, argv, out, NULL);
    if (r == 0 && out->timed_out)
        r = -ETIMEDOUT;
out:
    if (dir)
        (void)hb__rm_rf(dir);
    free(dir);
    hb__strv_free(argv);
    free(env);
    hb__strv_free(ro);
    return r;
}

/* GCC prints "[]" for a translation unit without diagnostics. */
static bool is_empty_json_output(const char *s)
{
    s += strspn(s, " \t\r\n");
    if (!strncmp(s, "[]", 2))
        s += 2;
    s += strspn(s, " \t\r\n");
    return *s == 0;
}

/* ---- the identity kept across processes --------------------------------
 * `cc --version` in a jail costs a bwrap start: a `hotbox test` on a warm
 * build cache would pay it every run. The version line is kept in
 * ${XDG_CACHE_HOME:-~/.cache}/hotbox/ccinfo/<sha256 of the key>, keyed by the
 * cc string, the backend, the resolved program and the identity
 * (util/fileid.h) of the binary it resolves to, so a new compiler, an
 * alternative switched or a rewritten wrapper script probes again. Not for
 * microVM guests (their /usr is the guest's). Best effort: a cache that
 * cannot be read or written is probed around. */
#define CCINFO_CACHE_TAG "hotbox-ccinfo 1"

static char *cache_key(const hb__ccinfo *ci)
{
    const char *real = ci->real;
    struct stat st;
    if (stat(real, &st) < 0)
        return NULL;
    hb_file_id id = hb__file_id(&st);
    return hb__asprintf("%s|%s|%s|%s|%llu:%llu:%lld:%lld.%09ld:%lld.%09ld", ci->cc, ci->backend,
                        ci->words[0], real, (unsigned long long)id.dev,
                        (unsigned long long)id.ino, (long long)id.size,
                        (long long)id.mtime.tv_sec, id.mtime.tv_nsec, (long long)id.ctime.tv_sec,
                        id.ctime.tv_nsec);
}

static char *cache_path(const hb__ccinfo *ci)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char *base = xdg && *xdg == '/' ? hb__asprintf("%s/hotbox/ccinfo", xdg)
                 : home && *home == '/' ? hb__asprintf("%s/.cache/hotbox/ccinfo", home)
                                        : NULL;
    char *name = hb__asprintf("%s|%s", ci->cc, ci->backend);
    char *path = NULL;
    if (base && name) {
        char h[HB_SHA256_HEX];
        hb__sha256_hex(name, strlen(name), h);
        path = hb__asprintf("%s/%s", base, h);
    }
    free(base);
    free(name);
    return path;
}

/* The version line kept for ci when its key still matches, else NULL. */
static char *cache_read(const char *path, const hb__ccinfo *ci)
{
    void *data = NULL;
    size_t len = 0;
    if (hb__read_file(path, 16 << 10, &data, &len) < 0)
        return NULL;
    char **lines = hb__split_lines(data);
    free(data);
    char *key = cache_key(ci);
    char *version = NULL;
    if (key && lines && hb__strv_len(lines) >= 3 && !strcmp(lines[0], CCINFO_CACHE_TAG) &&
        !strcmp(lines[1], key) && lines[2][0])
        version = strdup(lines[2]);
    free(key);
    hb__strv_free(lines);
    return version;
}

/* Keeps ci's version line, unless its binary may have changed since t0
 * (the moment before the probe read it). */
static void cache_write(const char *path, const hb__ccinfo *ci, const struct timespec *t0)
{
    struct stat st;
    if (stat(ci->real, &st) < 0)
        return;
    hb_file_id id = hb__file_id(&st);
    if (hb__file_id_racy(&id, t0))
        return;
    char *key = cache_key(ci), *dir = strdup(path);
    char *text = key ? hb__asprintf("%s\n%s\n%s\n", CCINFO_CACHE_TAG, key, ci->version) : NULL;
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    if (text && slash && hb__mkdir_p(dir, 0755) == 0)
        (void)hb__write_file_atomic(path, text, strlen(text), 0644);
    HB_FREE_ALL(key, dir, text);
}

static int ccinfo_probe(const char *cc, const hb__probe_env *pe, hb__ccinfo **out, char **err)
{
    hb__ccinfo *ci = calloc(1, sizeof(*ci));
    hb__run_outcome o1 = {0};
    char *resolved = NULL, *cache = NULL;
    int r = -ENOMEM;
    if (!ci || !(ci->cc = strdup(cc)) || !(ci->words = hb__split_blank(cc)))
        goto fail;
    ci->backend = pe->be->name;
    if (!ci->words[0]) {
        r = hb__seterr(err, -EINVAL, "empty compiler command");
        goto fail;
    }
    r = hb__find_program(ci->words[0], &resolved);
    if (r < 0) {
        r = hb__seterr(err, r, "compiler %s not found on $PATH", ci->words[0]);
        goto fail;
    }
    free(ci->words[0]);
    ci->words[0] = resolved;
    if (hb__realpath(resolved, &ci->real) < 0 && !(ci->real = strdup(resolved))) {
        r = -ENOMEM;
        goto fail;
    }

    cache = pe->vm ? NULL : cache_path(ci);
    if (cache && (ci->version = cache_read(cache, ci))) {
        free(cache);
        *out = ci;
        return 0;
    }
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME_COARSE, &t0);
    static const char *const ver[] = {"--version", NULL};
    r = run_query(ci, pe, ver, &o1);
    if (r < 0 || !WIFEXITED(o1.wait_status) || WEXITSTATUS(o1.wait_status) != 0) {
        /* It ran and failed: a compile problem the user fixes (HB_ECOMPILE). */
        r = hb__seterr(err, r < 0 ? r : HB_ECOMPILE, "%s --version failed%s%.2000s", cc,
                     o1.output.len ? ": " : "", o1.output.buf ? o1.output.buf : "");
        goto fail;
    }
    size_t l = strcspn(o1.output.buf, "\n");
    if (!(ci->version = strndup(o1.output.buf, l))) {
        r = -ENOMEM;
        goto fail;
    }
    if (cache && !strchr(ci->version, '\r'))
        cache_write(cache, ci, &t0);
    free(cache);
    hb__sb_release(&o1.output);
    *out = ci;
    return 0;
fail:
    free(cache);
    hb__sb_release(&o1.output);
    ccinfo_free(ci);
    return r;
}

bool hb__ccinfo_json(const hb__ccinfo *ci, const hb__probe_env *pe)
{
    hb__ccinfo *c = (hb__ccinfo *)ci; /* the answer is cached in the entry */
    int known = atomic_load(&c->json_known);
    if (known)
        return known == 1;
    /* GCC 9 has a different JSON shape and Clang rejects the value; only
     * trust a compiler that accepts the flag silently and is not clang. A
     * racing duplicate probe gives the same answer. */
    static const char *const jq[] = {"-fdiagnostics-format=json", "-fsyntax-only", "-x", "c",
                                     "/dev/null", NULL};
    hb__run_outcome o = {0};
    bool json = !strstr(c->version, "clang") && run_query(c, pe, jq, &o) == 0 &&
                WIFEXITED(o.wait_status) && WEXITSTATUS(o.wait_status) == 0 &&
                is_empty_json_output(o.output.buf ? o.output.buf : "");
    hb__sb_release(&o.output);
    atomic_store(&c->json_known, json ? 1 : 2);
    return json;
}

/* Entries are never freed: the cache lives as long as the process, and a
 * pointer handed out stays valid. */
int hb__ccinfo_get(const char *cc, const hb__probe_env *pe, const hb__ccinfo **out, char **err)
{
    pthread_mutex_lock(&cc_lock);
    for (hb__ccinfo *c = cc_cache; c; c = c->next) {
        if (!strcmp(c->cc, cc) && !strcmp(c->backend, pe->be->name)) {
            pthread_mutex_unlock(&cc_lock);
            *out = c;
            return 0;
        }
    }
    pthread_mutex_unlock(&cc_lock);
    /* Probe without the lock (it runs processes); a racing duplicate is
     * harmless, the first one inserted wins. */
    hb__ccinfo *ci = NULL;
    int r = ccinfo_probe(cc, pe, &ci, err);
    if (r < 0)
        return r;
    pthread_mutex_lock(&cc_lock);
    for (hb__ccinfo *c = cc_cache; c; c = c->next) {
        if (!strcmp(c->cc, cc) && !strcmp(c->backend, pe->be->name)) {
            pthread_mutex_unlock(&cc_lock);
            ccinfo_free(ci);
            *out = c;
            return 0;
        }
    }
    ci->next = cc_cache;
    cc_cache = ci;
    pthread_mutex_unlock(&cc_lock);
    *out = ci;
    return 0;
}

char **hb__ccinfo_paths(const hb__ccinfo *ci)
{
    hb_argv files = HB_ARGV_INIT;
    const char *paths[] = {ci->words[0], ci->real};
    for (size_t i = 0; i < HB_ARRAY_SIZE(paths); i++) {
        if (paths[i][0] != '/' || hb__path_under(paths[i], "/usr") ||
            hb__path_under(paths[i], "/etc/alternatives") ||
            (i == 1 && !strcmp(paths[1], paths[0])))
            continue;
        hb__argv_push(&files, paths[i]);
    }
    return hb__argv_take(&files);
}
