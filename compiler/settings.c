/*
 * compiler/settings.c - plugin.json (a plugin's own build settings) and the
 * shell-style splitting of flag strings. See settings.h and
 * docs/plugin-json.md.
 *
 * Parsing is strict: unknown keys, wrong types, empty strings, strings with
 * NUL bytes and duplicate keys are errors, so a typo never silently builds
 * something else. jansson gives the line and column of syntax errors; for a
 * key whose value is wrong, the key's first occurrence in the text gives
 * them (good enough to jump to; the message always names the key).
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <wordexp.h>

#include "argv.h"
#include "backend.h"
#include "settings.h"

#define MAX_STRING 4096u
#define PKG_TIMEOUT_MS 20000u

/* ---- string vectors (util/argv.h) ---------------------------------------- */

/* The finished vector (never NULL unless out of memory). */
static char **vec_done(hb_argv *a)
{
    char **v = NULL;
    return hb__argv_detach(a, &v) < 0 ? NULL : v;
}

/* ---- messages ---------------------------------------------------------------- */

/* Line and column (1-based) of "key" used as an object key in text, or 0. */
static void locate_key(const char *text, size_t len, const char *key, int *line, int *col)
{
    *line = *col = 0;
    size_t kl = strlen(key);
    for (size_t i = 0; i + kl + 2 <= len; i++) {
        if (text[i] != '"' || memcmp(text + i + 1, key, kl) || text[i + 1 + kl] != '"')
            continue;
        size_t j = i + kl + 2;
        while (j < len && strchr(" \t\r\n", text[j]))
            j++;
        if (j >= len || text[j] != ':')
            continue;
        int l = 1, c = 1;
        for (size_t k = 0; k < i; k++) {
            if (text[k] == '\n') {
                l++;
                c = 1;
            } else {
                c++;
            }
        }
        *line = l;
        *col = c;
        return;
    }
}

typedef struct pctx {
    const char *text;
    size_t len;
    const char *path;
    char **err;
} pctx;

static int key_error(const pctx *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int key_error(const pctx *p, const char *key, const char *fmt, ...)
{
    int line, col;
    locate_key(p->text, p->len, key, &line, &col);
    hb_sb sb = HB_SB_INIT;
    if (line)
        hb__sb_addf(&sb, "%s:%d:%d: key \"%s\": ", p->path, line, col, key);
    else
        hb__sb_addf(&sb, "%s: key \"%s\": ", p->path, key);
    va_list ap;
    va_start(ap, fmt);
    int r = hb__sb_vaddf(&sb, fmt, ap);
    va_end(ap);
    char *msg = r < 0 ? NULL : hb__sb_detach(&sb);
    hb__sb_release(&sb);
    if (!msg)
        return -ENOMEM;
    if (p->err) {
        free(*p->err);
        *p->err = msg;
    } else {
        free(msg);
    }
    return -EINVAL;
}

/* ---- value checks -------------------------------------------------------------- */

/* A usable string: no NUL inside, not empty, bounded. */
static int get_string(const pctx *p, const char *key, json_t *v, const char **out)
{
    if (!json_is_string(v))
        return key_error(p, key, "expected a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n)
        return key_error(p, key, "the string contains a NUL character");
    if (n == 0)
        return key_error(p, key, "empty string");
    if (n > MAX_STRING)
        return key_error(p, key, "string longer than %u bytes", MAX_STRING);
    *out = s;
    return 0;
}

static bool is_identifier(const char *s, size_t n)
{
    if (n == 0 || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* A library or package name: no option look-alike, nothing a shell or
 * pkg-config would read as something else. */
static bool is_plain_name(const char *s)
{
    if (!*s || *s == '-' || *s == '.')
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              strchr("_.+-", *s)))
            return false;
    return true;
}

typedef int (*item_fn)(const pctx *p, const char *key, const char *s, hb_argv *out);

static int string_array(const pctx *p, const char *key, json_t *v, item_fn fn, hb_argv *out)
{
    if (!json_is_array(v))
        return key_error(p, key, "expected an array of strings");
    if (json_array_size(v) > HB__SETTINGS_MAX_ITEMS)
        return key_error(p, key, "more than %u entries", HB__SETTINGS_MAX_ITEMS);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        const char *s;
        int r = get_string(p, key, e, &s);
        if (r < 0)
            return r;
        if ((r = fn(p, key, s, out)) < 0)
            return r;
        if (out->failed)
            return -ENOMEM;
    }
    return 0;
}

static int item_verbatim(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    (void)p;
    (void)key;
    hb__argv_push(out, s);
    return 0;
}

static int item_include(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    if (s[0] == '/')
        return key_error(p, key, "\"%s\" is absolute; include directories are relative to the "
                                 "plugin directory",
                         s);
    hb__argv_push(out, s);
    return 0;
}

static int item_lib(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    if (s[0] == '-') {
        hb__argv_push(out, s); /* -lfoo, -L/opt/x/lib, -Wl,-rpath,... as written */
        return 0;
    }
    if (strchr(s, '/')) { /* an archive or object beside the plugin */
        if (s[0] == '/')
            return key_error(p, key, "\"%s\" is absolute; library files are relative to the "
                                     "plugin directory",
                             s);
        hb__argv_push(out, s);
        return 0;
    }
    if (!is_plain_name(s))
        return key_error(p, key, "\"%s\" is neither a library name (\"m\", \"lua5.4\"), a "
                                 "file (\"lib/libfoo.a\") nor a linker flag (\"-l...\", "
                                 "\"-L...\", \"-Wl,...\")",
                         s);
    hb__argv_pushf(out, "-l%s", s);
    return 0;
}

static int item_pkg(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    if (!is_plain_name(s))
        return key_error(p, key, "\"%s\" is not a pkg-config package name", s);
    hb__argv_push(out, s);
    return 0;
}

static int item_define(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    size_t n = strcspn(s, "=");
    if (!is_identifier(s, n))
        return key_error(p, key, "\"%.*s\" is not a macro name", (int)n, s);
    hb__argv_pushf(out, "-D%s", s);
    return 0;
}

static int parse_defines(const pctx *p, const char *key, json_t *v, hb_argv *out)
{
    if (json_is_array(v))
        return string_array(p, key, v, item_define, out);
    if (!json_is_object(v))
        return key_error(p, key, "expected an object ({\"NAME\": value}) or an array of "
                                 "\"NAME\"/\"NAME=value\" strings");
    if (json_object_size(v) > HB__SETTINGS_MAX_ITEMS)
        return key_error(p, key, "more than %u entries", HB__SETTINGS_MAX_ITEMS);
    const char *name;
    json_t *val;
    json_object_foreach(v, name, val) {
        if (!is_identifier(name, strlen(name)))
            return key_error(p, key, "\"%s\" is not a macro name", name);
        if (json_is_true(val) || json_is_null(val)) {
            hb__argv_pushf(out, "-D%s", name);
        } else if (json_is_false(val)) {
            hb__argv_pushf(out, "-U%s", name);
        } else if (json_is_integer(val)) {
            hb__argv_pushf(out, "-D%s=%lld", name, (long long)json_integer_value(val));
        } else if (json_is_real(val)) {
            hb__argv_pushf(out, "-D%s=%.17g", name, json_real_value(val));
        } else if (json_is_string(val)) {
            const char *s = json_string_value(val);
            if (strlen(s) != json_string_length(val) || strlen(s) > MAX_STRING)
                return key_error(p, key, "the value of %s contains a NUL or is too long", name);
            hb__argv_pushf(out, "-D%s=%s", name, s);
        } else {
            return key_error(p, key, "the value of %s must be a string, a number, true, false "
                                     "or null",
                             name);
        }
    }
    return out->failed ? -ENOMEM : 0;
}

/* "c11", "gnu17", "c2x", "c++17", "gnu++2b". */
static bool valid_std(const char *s)
{
    const char *t = !strncmp(s, "gnu", 3) ? s + 3 : s[0] == 'c' ? s + 1 : NULL;
    if (!t)
        return false;
    if (!strncmp(t, "++", 2))
        t += 2;
    size_t n = strlen(t);
    if (n < 2 || n > 3)
        return false;
    for (; *t; t++)
        if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'z')))
            return false;
    return true;
}

void hb__settings_raw_release(hb__settings_raw *s)
{
    if (!s)
        return;
    hb__strv_free(s->cflags);
    hb__strv_free(s->defines);
    hb__strv_free(s->include);
    hb__strv_free(s->libs);
    hb__strv_free(s->pkg);
    free(s->std);
    memset(s, 0, sizeof(*s));
}

static const char *const known_keys[] = {"cflags", "defines", "include", "libs",
                                         "pkg",    "lang",    "std",     "runtime", NULL};

int hb__settings_parse(const char *text, size_t len, const char *path, hb__settings_raw *out,
                       char **err)
{
    pctx p = {text, len, path ? path : HB__SETTINGS_FILE, err};
    memset(out, 0, sizeof(*out));
    if (len > HB__SETTINGS_MAX_BYTES)
        return hb__seterr(err, -EINVAL, "%s: larger than %u bytes", p.path, HB__SETTINGS_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return hb__seterr(err, -EINVAL, "%s:%d:%d: invalid JSON: %s", p.path, je.line, je.column,
                        je.text);
    hb_argv cflags = HB_ARGV_INIT, defines = HB_ARGV_INIT, include = HB_ARGV_INIT;
    hb_argv libs = HB_ARGV_INIT, pkg = HB_ARGV_INIT;
    int r = 0;
    if (!json_is_object(root)) {
        r = hb__seterr(err, -EINVAL, "%s: expected a JSON object ({\"cflags\": [...], ...})",
                     p.path);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        size_t k = 0;
        while (known_keys[k] && strcmp(known_keys[k], key))
            k++;
        if (!known_keys[k]) {
            r = key_error(&p, key, "unknown key (known: cflags, defines, include, libs, pkg, "
                                   "lang, std, runtime)");
            goto out;
        }
        if (!strcmp(key, "cflags"))
            r = string_array(&p, key, v, item_verbatim, &cflags);
        else if (!strcmp(key, "defines"))
            r = parse_defines(&p, key, v, &defines);
        else if (!strcmp(key, "include"))
            r = string_array(&p, key, v, item_include, &include);
        else if (!strcmp(key, "libs"))
            r = string_array(&p, key, v, item_lib, &libs);
        else if (!strcmp(key, "pkg"))
            r = string_array(&p, key, v, item_pkg, &pkg);
        else if (!strcmp(key, "lang")) {
            const char *s;
            if ((r = get_string(&p, key, v, &s)) < 0)
                goto out;
            if (!strcmp(s, "c"))
                out->lang = HB__LANG_C;
            else if (!strcmp(s, "c++"))
                out->lang = HB__LANG_CXX;
            else
                r = key_error(&p, key, "\"%s\" is not a language (\"c\" or \"c++\")", s);
        } else if (!strcmp(key, "std")) {
            const char *s;
            if ((r = get_string(&p, key, v, &s)) < 0)
                goto out;
            if (!valid_std(s))
                r = key_error(&p, key, "\"%s\" is not a language standard (\"c11\", \"gnu17\", "
                                       "\"c++17\", ...)",
                              s);
            else if (!(out->std = strdup(s)))
                r = -ENOMEM;
        } else if (!strcmp(key, "runtime")) {
            /* Reserved for the runtime settings (issue 18): only its type is
             * checked for now. */
            if (!json_is_object(v))
                r = key_error(&p, key, "expected an object");
        }
        if (r < 0)
            goto out;
    }
    if (out->std && out->lang != HB__LANG_AUTO &&
        (strstr(out->std, "++") != NULL) != (out->lang == HB__LANG_CXX)) {
        r = key_error(&p, "std", "\"%s\" is not a standard of lang \"%s\"", out->std,
                      out->lang == HB__LANG_CXX ? "c++" : "c");
        goto out;
    }
    out->cflags = vec_done(&cflags);
    out->defines = vec_done(&defines);
    out->include = vec_done(&include);
    out->libs = vec_done(&libs);
    out->pkg = vec_done(&pkg);
    if (!out->cflags || !out->defines || !out->include || !out->libs || !out->pkg)
        r = -ENOMEM;
out:
    json_decref(root);
    hb__strv_free(vec_done(&cflags));
    hb__strv_free(vec_done(&defines));
    hb__strv_free(vec_done(&include));
    hb__strv_free(vec_done(&libs));
    hb__strv_free(vec_done(&pkg));
    if (r == -ENOMEM)
        hb__seterr(err, r, "%s: out of memory", p.path);
    if (r < 0)
        hb__settings_raw_release(out);
    return r;
}

/* ---- flag strings ----------------------------------------------------------- */

int hb__flags_split(const char *flags, const char *what, char ***out, char **err)
{
    /* wordexp refuses a newline as a bad character; pkg-config ends its
     * output with one. Blanks of any kind separate words. */
    char *copy = strdup(flags ? flags : "");
    if (!copy)
        return hb__seterr(err, -ENOMEM, "out of memory");
    for (char *c = copy; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    wordexp_t we;
    int w = wordexp(copy, &we, WRDE_NOCMD | WRDE_UNDEF);
    free(copy);
    if (w != 0) {
        const char *why = w == WRDE_CMDSUB    ? "command substitution ($(...) or `...`) is not "
                                                "allowed; flags are never run through a shell"
                          : w == WRDE_BADCHAR ? "an unquoted | & ; < > ( ) { } (quote it)"
                          : w == WRDE_BADVAL  ? "an undefined shell variable (set it, or write "
                                                "\\$ for a literal $)"
                          : w == WRDE_SYNTAX  ? "a syntax error (an unbalanced quote?)"
                          : w == WRDE_NOSPACE ? "out of memory"
                                              : "cannot be split";
        if (w == WRDE_NOSPACE)
            wordfree(&we);
        return hb__seterr(err, w == WRDE_NOSPACE ? -ENOMEM : -EINVAL, "%s \"%s\": %s", what,
                        flags, why);
    }
    hb_argv v = HB_ARGV_INIT;
    for (size_t i = 0; i < we.we_wordc; i++)
        hb__argv_push(&v, we.we_wordv[i]);
    wordfree(&we);
    char **res = vec_done(&v);
    if (!res)
        return hb__seterr(err, -ENOMEM, "out of memory");
    *out = res;
    return 0;
}

bool hb__is_cxx_source(const char *name)
{
    return hb__has_suffix(name, ".cc") || hb__has_suffix(name, ".cpp") ||
           hb__has_suffix(name, ".cxx");
}

/* ---- loading: files, directories, pkg-config ------------------------------------ */

void hb__settings_release(hb__settings *s)
{
    if (!s)
        return;
    free(s->path);
    hb__strv_free(s->compile_c);
    hb__strv_free(s->compile_cxx);
    hb__strv_free(s->link);
    hb__strv_free(s->show_dirs);
    hb__strv_free(s->host_dirs);
    memset(s, 0, sizeof(*s));
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == 0);
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
    if (under(real, plugin_dir)) {
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
    return vec_done(&e);
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
    char **av = vec_done(&argv);
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
    if (dir[0] != '/' || under(dir, "/usr") || hb__strv_contains(host->v, dir))
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
empty:
    hb__argv_push_all(&c, common.v);
    hb__argv_push_all(&cxx, common.v);
    if (raw.std)
        hb__argv_pushf(strstr(raw.std, "++") ? &cxx : &c, "-std=%s", raw.std);
    out->path = path;
    path = NULL;
    out->compile_c = vec_done(&c);
    out->compile_cxx = vec_done(&cxx);
    out->link = vec_done(&link);
    out->show_dirs = vec_done(&show);
    out->host_dirs = vec_done(&host);
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
    hb__strv_free(vec_done(&common));
    hb__strv_free(vec_done(&link));
    hb__strv_free(vec_done(&show));
    hb__strv_free(vec_done(&host));
    hb__strv_free(vec_done(&c));
    hb__strv_free(vec_done(&cxx));
    return r;
}
