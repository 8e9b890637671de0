/*
 * compiler/settings_load.c - hb__settings_load: reads a plugin's
 * plugin.json (parsed by settings.c), resolves its include directories and
 * library files inside the plugin directory or its siblings, and runs
 * pkg-config on the host for "pkg". See settings.h and docs/plugin-json.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "argv.h"
#include "backend.h"
#include "settings.h"

#define PKG_TIMEOUT_MS 20000u

/* ---- loading: files, directories, pkg-config ------------------------------------ */

void hb__settings_release(hb__settings *s)
{
    if (!s)
        return;
    free(s->path);
    HB_STRV_FREE_ALL(s->compile_c, s->compile_cxx, s->link, s->show_dirs, s->host_dirs);
    hb__runtime_settings_release(&s->runtime);
    memset(s, 0, sizeof(*s));
}

/* Resolves a path plugin.json names (an include directory, a library
 * file): its real path, which must lie in the plugin directory or a sibling
 * of it; the sibling is added to show for isolated compiles. The result is
 * prefix + real path (e.g. "-I/abs/dir"). */
static int resolve_path(const char *plugin_dir, const char *path, const char *key,
                        const char *inc, bool dir, const char *prefix, hb_argv *flags,
                        hb_argv *show, char **err)
{
    char *joined = hb__path_join(plugin_dir, inc), *real = NULL;
    if (!joined)
        return hb__seterr(err, -ENOMEM, "out of memory");
    int r = hb__realpath(joined, &real);
    struct stat st;
    if (r < 0 || stat(real, &st) < 0 || (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
        r = hb__seterr(err, -EINVAL, "%s: key \"%s\": %s: %s", path, key, joined,
                     r < 0 ? strerror(-r) : dir ? "not a directory" : "not a regular file");
        goto out;
    }
    const char *slash = strrchr(plugin_dir, '/');
    size_t pl = slash ? (size_t)(slash - plugin_dir) : 0;
    if (hb__path_under(real, plugin_dir)) {
        r = 0;
    } else if (pl > 0 && !strncmp(real, plugin_dir, pl) && real[pl] == '/' &&
               real[pl + 1] != '.' && real[pl + 1] != 0) {
        size_t sl = strcspn(real + pl + 1, "/");
        char *sib = strndup(real, pl + 1 + sl);
        if (!sib)
            show->failed = true;
        else if (!hb__strv_contains(show->v, sib))
            hb__argv_push(show, sib);
        free(sib);
        r = 0;
    } else {
        r = hb__seterr(err, -EINVAL,
                     "%s: key \"%s\": \"%s\" resolves to %s, outside the plugin directory "
                     "and its sibling directories; a compile only sees those",
                     path, key, inc, real);
        goto out;
    }
    hb__argv_pushf(flags, "%s%s", prefix, real);
out:
    free(joined);
    free(real);
    return r;
}

/* The runtime section's data directories: each must resolve (symlinks
 * followed) to a directory inside the plugin directory itself; the worker
 * jail shows exactly those real paths read-only. */
static int resolve_data(const char *plugin_dir, const char *path, char *const *data,
                        char ***out, char **err)
{
    hb_argv res = HB_ARGV_INIT;
    char *base = NULL;
    int r = hb__realpath(plugin_dir, &base);
    if (r < 0)
        return hb__seterr(err, r, "%s: %s", plugin_dir, strerror(-r));
    for (; data && *data && r >= 0; data++) {
        char *joined = hb__path_join(plugin_dir, *data), *real = NULL;
        struct stat st;
        if (!joined) {
            r = hb__seterr(err, -ENOMEM, "out of memory");
            break;
        }
        int q = hb__realpath(joined, &real);
        if (q < 0 || stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
            r = hb__seterr(err, -EINVAL, "%s: key \"runtime.data\": %s: %s", path, joined,
                           q < 0 ? strerror(-q) : "not a directory");
        else if (!hb__path_under(real, base))
            r = hb__seterr(err, -EINVAL,
                           "%s: key \"runtime.data\": \"%s\" resolves to %s, outside the "
                           "plugin directory %s",
                           path, *data, real, base);
        else
            hb__argv_push(&res, real);
        free(joined);
        free(real);
    }
    free(base);
    char **v = hb__argv_take(&res);
    if (r >= 0 && !v)
        r = hb__seterr(err, -ENOMEM, "out of memory");
    if (r < 0) {
        hb__strv_free(v);
        return r;
    }
    *out = v;
    return 0;
}

/* The environment pkg-config runs with: PATH and its own variables. */
static char **pkg_env(void)
{
    static const char *const keep[] = {"PATH", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR",
                                       "PKG_CONFIG_SYSROOT_DIR", "PKG_CONFIG_ALLOW_SYSTEM_CFLAGS",
                                       "PKG_CONFIG_ALLOW_SYSTEM_LIBS", NULL};
    hb_argv e = HB_ARGV_INIT;
    for (size_t i = 0; keep[i]; i++) {
        const char *v = getenv(keep[i]);
        if (v)
            hb__argv_pushf(&e, "%s=%s", keep[i], v);
    }
    if (!getenv("PATH"))
        hb__argv_push(&e, "PATH=/usr/local/bin:/usr/bin:/bin");
    hb__argv_push(&e, "LC_ALL=C");
    return hb__argv_take(&e);
}

/* Runs pkg-config `mode` (--cflags or --libs) on the packages; the output
 * split into words. */
static int run_pkg_config(const char *path, char *const *pkgs, const char *mode, char ***words,
                          char **err)
{
    char *prog = NULL, **env = pkg_env();
    hb_argv argv = HB_ARGV_INIT;
    hb__run_outcome o = {0};
    int r = hb__find_program("pkg-config", &prog);
    if (r < 0) {
        r = hb__seterr(err, -ENOENT, "%s: key \"pkg\": pkg-config is not installed (apt-get "
                                   "install pkg-config)",
                     path);
        goto out;
    }
    hb__argv_push(&argv, prog);
    hb__argv_push(&argv, mode);
    hb__argv_push_all(&argv, pkgs);
    char **av = hb__argv_take(&argv);
    if (!av || !env) {
        hb__strv_free(av);
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto out;
    }
    hb__run_ctx ctx = {
        .envp = env,
        .deadline_ns = hb__now_ns() + PKG_TIMEOUT_MS * 1000000ull,
        .timeout_ms = PKG_TIMEOUT_MS,
        .max_output_bytes = 1u << 20,
        .max_memory_bytes = 1ull << 30,
    };
    r = hb__spawn_limited(&ctx, av, &o, err);
    hb__strv_free(av);
    if (r < 0)
        goto out;
    const char *text = o.output.buf ? o.output.buf : "";
    if (o.timed_out || !WIFEXITED(o.wait_status) || WEXITSTATUS(o.wait_status) != 0) {
        hb_sb names = HB_SB_INIT;
        for (char *const *p = pkgs; *p; p++)
            hb__sb_addf(&names, "%s%s", p == pkgs ? "" : " ", *p);
        r = hb__seterr(err, -ENOENT, "%s: key \"pkg\": pkg-config %s %s failed%s%.2000s", path,
                     mode, names.buf ? names.buf : "", o.timed_out ? " (timed out)" : ": ",
                     o.timed_out ? "" : text);
        hb__sb_release(&names);
        goto out;
    }
    char *what = hb__asprintf("%s: key \"pkg\": the output of pkg-config %s", path, mode);
    r = what ? hb__flags_split(text, what, words, err) : hb__seterr(err, -ENOMEM, "out of memory");
    free(what);
out:
    hb__sb_release(&o.output);
    free(prog);
    hb__strv_free(env);
    return r;
}

static void add_host_dir(hb_argv *host, const char *dir)
{
    if (dir[0] != '/' || hb__path_under(dir, "/usr") || hb__strv_contains(host->v, dir))
        return;
    hb__argv_push(host, dir);
}

static int resolve_pkg(const char *path, char *const *pkgs, hb_argv *flags, hb_argv *link,
                       hb_argv *host, char **err)
{
    char **cf = NULL, **lf = NULL;
    int r = run_pkg_config(path, pkgs, "--cflags", &cf, err);
    if (r == 0)
        r = run_pkg_config(path, pkgs, "--libs", &lf, err);
    for (char **w = cf; r == 0 && *w; w++) {
        hb__argv_push(flags, *w);
        if (!strncmp(*w, "-I", 2))
            add_host_dir(host, *w + 2);
    }
    for (char **w = lf; r == 0 && *w; w++) {
        hb__argv_push(link, *w);
        if (!strncmp(*w, "-L", 2))
            add_host_dir(host, *w + 2);
    }
    hb__strv_free(cf);
    hb__strv_free(lf);
    return r;
}

/* Moves the runtime section out of raw, all but "data" (still relative:
 * resolve_data makes the loaded list from it). */
static void take_runtime(hb__runtime_settings *out, hb__runtime_settings *raw)
{
    char **data = raw->data;
    *out = *raw;
    out->data = NULL;
    memset(raw, 0, sizeof(*raw));
    raw->data = data;
}

int hb__settings_load(const char *plugin_dir, hb__settings *out, char **err)
{
    memset(out, 0, sizeof(*out));
    char *path = hb__path_join(plugin_dir, HB__SETTINGS_FILE);
    void *data = NULL;
    size_t len = 0;
    hb__settings_raw raw = {0};
    hb_argv common = HB_ARGV_INIT, link = HB_ARGV_INIT, show = HB_ARGV_INIT;
    hb_argv host = HB_ARGV_INIT, c = HB_ARGV_INIT, cxx = HB_ARGV_INIT;
    int r;
    struct stat st;
    if (!path) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto fail;
    }
    if (lstat(path, &st) < 0 && errno == ENOENT) {
        free(path);
        path = NULL;
        goto empty;
    }
    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        r = hb__seterr(err, -EINVAL, "%s: not a regular file", path);
        goto fail;
    }
    if ((r = hb__read_file(path, HB__SETTINGS_MAX_BYTES + 1, &data, &len)) < 0) {
        r = hb__seterr(err, r == -EFBIG ? -EINVAL : r, "%s: %s", path, strerror(-r));
        goto fail;
    }
    hb__sha256_hex(data, len, out->hash);
    if ((r = hb__settings_parse(data, len, path, &raw, err)) < 0)
        goto fail;
    out->lang = raw.lang;
    hb__argv_push_all(&common, raw.cflags);
    hb__argv_push_all(&common, raw.defines);
    for (char **i = raw.include; *i; i++)
        if ((r = resolve_path(plugin_dir, path, "include", *i, true, "-I", &common, &show,
                              err)) < 0)
            goto fail;
    for (char **l = raw.libs; *l; l++) {
        if ((*l)[0] == '-')
            hb__argv_push(&link, *l);
        else if ((r = resolve_path(plugin_dir, path, "libs", *l, false, "", &link, &show,
                                   err)) < 0)
            goto fail;
    }
    if (raw.pkg[0] && (r = resolve_pkg(path, raw.pkg, &common, &link, &host, err)) < 0)
        goto fail;
    take_runtime(&out->runtime, &raw.runtime);
    if ((r = resolve_data(plugin_dir, path, raw.runtime.data, &out->runtime.data, err)) < 0)
        goto fail;
empty:
    hb__argv_push_all(&c, common.v);
    hb__argv_push_all(&cxx, common.v);
    if (raw.std)
        hb__argv_pushf(strstr(raw.std, "++") ? &cxx : &c, "-std=%s", raw.std);
    out->path = path;
    path = NULL;
    out->compile_c = hb__argv_take(&c);
    out->compile_cxx = hb__argv_take(&cxx);
    out->link = hb__argv_take(&link);
    out->show_dirs = hb__argv_take(&show);
    out->host_dirs = hb__argv_take(&host);
    if (!out->compile_c || !out->compile_cxx || !out->link || !out->show_dirs ||
        !out->host_dirs) {
        r = hb__seterr(err, -ENOMEM, "out of memory");
        goto fail;
    }
    r = 0;
    goto done;
fail:
    hb__settings_release(out);
done:
    free(path);
    free(data);
    hb__settings_raw_release(&raw);
    hb__strv_free(hb__argv_take(&common));
    hb__strv_free(hb__argv_take(&link));
    hb__strv_free(hb__argv_take(&show));
    hb__strv_free(hb__argv_take(&host));
    hb__strv_free(hb__argv_take(&c));
    hb__strv_free(hb__argv_take(&cxx));
    return r;
}

/* Parses <plugin_dir>/plugin.json into *raw (left empty when there is no
 * file); *path is the file's name (the caller frees it). */
static int read_raw(const char *plugin_dir, char **path, hb__settings_raw *raw, char **err)
{
    memset(raw, 0, sizeof(*raw));
    if (!(*path = hb__path_join(plugin_dir, HB__SETTINGS_FILE)))
        return hb__seterr(err, -ENOMEM, "out of memory");
    void *data = NULL;
    size_t len = 0;
    struct stat st;
    if (lstat(*path, &st) < 0 && errno == ENOENT)
        return 0;
    int r = hb__read_file(*path, HB__SETTINGS_MAX_BYTES + 1, &data, &len);
    if (r < 0)
        r = hb__seterr(err, r == -EFBIG ? -EINVAL : r, "%s: %s", *path, strerror(-r));
    else
        r = hb__settings_parse(data, len, *path, raw, err);
    free(data);
    return r;
}

int hb__runtime_read(const char *plugin_dir, hb__runtime_settings *out, char **err)
{
    memset(out, 0, sizeof(*out));
    char *path = NULL;
    hb__settings_raw raw;
    int r = read_raw(plugin_dir, &path, &raw, err);
    if (r == 0) {
        take_runtime(out, &raw.runtime);
        /* No data directories (or no plugin.json at all: a prebuilt
         * object's plugin has no directory): nothing to resolve. */
        if (raw.runtime.data && raw.runtime.data[0] &&
            (r = resolve_data(plugin_dir, path, raw.runtime.data, &out->data, err)) < 0)
            hb__runtime_settings_release(out);
    }
    hb__settings_raw_release(&raw);
    free(path);
    return r;
}

int hb__settings_sources(const char *plugin_dir, char ***out, char **err)
{
    *out = NULL;
    char *path = NULL;
    hb__settings_raw raw;
    int r = read_raw(plugin_dir, &path, &raw, err);
    if (r == 0) {
        *out = raw.sources;
        raw.sources = NULL;
    }
    hb__settings_raw_release(&raw);
    free(path);
    return r;
}
