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
 * Loading (the file, its directories, pkg-config) is settings_load.c's.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <wordexp.h>

#include "allow.h"
#include "argv.h"
#include "settings.h"

#define MAX_STRING 4096u

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

/* s, a path relative to the plugin directory (what names its kind). */
static int push_relative(const pctx *p, const char *key, const char *s, const char *what,
                         hb_argv *out)
{
    if (s[0] == '/')
        return key_error(p, key, "\"%s\" is absolute; %s are relative to the plugin directory",
                         s, what);
    hb__argv_push(out, s);
    return 0;
}

static int item_include(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    return push_relative(p, key, s, "include directories", out);
}

static int item_lib(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    if (s[0] == '-') {
        hb__argv_push(out, s); /* -lfoo, -L/opt/x/lib, -Wl,-rpath,... as written */
        return 0;
    }
    if (strchr(s, '/')) /* an archive or object beside the plugin */
        return push_relative(p, key, s, "library files", out);
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

/* ---- the runtime section ----------------------------------------------------- */

void hb__runtime_settings_release(hb__runtime_settings *rt)
{
    if (!rt)
        return;
    hb__strv_free(rt->env);
    hb__strv_free(rt->data);
    for (size_t i = 0; i < HB_ARRAY_SIZE(rt->allow); i++)
        hb__strv_free(rt->allow[i]);
    memset(rt, 0, sizeof(*rt));
}

/* An integer key of the runtime section within [lo, hi]. */
static int rt_integer(const pctx *p, const char *key, json_t *v, unsigned long long lo,
                      unsigned long long hi, unsigned long long *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (unsigned long long)json_integer_value(v) < lo ||
        (unsigned long long)json_integer_value(v) > hi)
        return key_error(p, key, "expected an integer from %llu to %llu", lo, hi);
    *out = (unsigned long long)json_integer_value(v);
    return 0;
}

static int rt_limits(const pctx *p, json_t *v, hb__runtime_settings *rt)
{
    if (!json_is_object(v))
        return key_error(p, "limits", "expected an object ({\"memory_mb\": 256, ...})");
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        int r = 0;
        unsigned long long n = 0;
        if (!strcmp(key, "memory_mb"))
            r = rt_integer(p, key, e, 16, 1u << 20, &rt->memory_mb);
        else if (!strcmp(key, "cpu_seconds"))
            r = rt_integer(p, key, e, 1, 86400, &rt->cpu_seconds);
        else if (!strcmp(key, "max_fds"))
            r = rt_integer(p, key, e, 16, 1u << 20, &rt->max_fds);
        else if (!strcmp(key, "max_procs"))
            r = rt_integer(p, key, e, 1, 1u << 16, &rt->max_procs);
        else if (!strcmp(key, "cpu_percent")) {
            if ((r = rt_integer(p, key, e, 1, 10000, &n)) == 0)
                rt->cpu_percent = (unsigned)n;
        } else
            r = key_error(p, key, "unknown key in runtime.limits (known: memory_mb, "
                                  "cpu_seconds, max_fds, max_procs, cpu_percent)");
        if (r < 0)
            return r;
    }
    return 0;
}

/* Names glibc reads at a process's start or when it loads code (its list
 * of variables unsafe for set-uid programs, less TMPDIR): a worker started
 * without the jail by a root manager is root until it drops
 * (security/rootdrop.c), and such a variable would steer it first. */
static bool loader_reads(const char *name)
{
    static const char *const names[] = {"GLIBC_TUNABLES", "GCONV_PATH", "GETCONF_DIR",
                                        "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "NIS_PATH",
                                        "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS",
                                        "TZDIR", NULL};
    if (!strncmp(name, "MALLOC_", 7))
        return true;
    for (size_t i = 0; names[i]; i++)
        if (!strcmp(name, names[i]))
            return true;
    return false;
}

/* Environment names: identifiers, and none the loader or hotbox itself
 * reads (LD_*, HB_*, HOTBOX_*, loader_reads()): a plugin.json must not
 * preload code into the worker or steer it. */
static int rt_env(const pctx *p, json_t *v, hb_argv *out)
{
    if (!json_is_object(v))
        return key_error(p, "env", "expected an object of strings ({\"NAME\": \"value\"})");
    if (json_object_size(v) > HB__SETTINGS_MAX_ITEMS)
        return key_error(p, "env", "more than %u entries", HB__SETTINGS_MAX_ITEMS);
    const char *name;
    json_t *val;
    json_object_foreach(v, name, val) {
        if (!is_identifier(name, strlen(name)))
            return key_error(p, "env", "\"%s\" is not a variable name", name);
        if (!strncmp(name, "LD_", 3) || !strncmp(name, "HB_", 3) ||
            !strncmp(name, "HOTBOX_", 7))
            return key_error(p, "env", "\"%s\": LD_*, HB_* and HOTBOX_* are reserved", name);
        if (loader_reads(name))
            return key_error(p, "env", "\"%s\" is read by the dynamic loader or the C library "
                                       "as the worker starts (before it drops privileges): "
                                       "refused, like LD_*",
                             name);
        if (!json_is_string(val) || strlen(json_string_value(val)) != json_string_length(val) ||
            json_string_length(val) > MAX_STRING)
            return key_error(p, "env", "the value of %s must be a string without NUL of at "
                                       "most %u bytes",
                             name, MAX_STRING);
        hb__argv_pushf(out, "%s=%s", name, json_string_value(val));
    }
    return out->failed ? -ENOMEM : 0;
}

/* Whether the relative path s has a ".." component. */
static bool has_dotdot(const char *s)
{
    for (const char *c = s; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && !strncmp(c, "..", 2))
            return true;
        c += n;
        c += *c == '/';
    }
    return false;
}

static int item_data(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    if (s[0] == '/')
        return key_error(p, key, "\"%s\" is absolute; data directories are relative to the "
                                 "plugin directory",
                         s);
    if (has_dotdot(s))
        return key_error(p, key, "\"%s\" leaves the plugin directory (\"..\")", s);
    hb__argv_push(out, s);
    return 0;
}

/* One "sources" entry: a file or directory inside the plugin directory,
 * named relative to it; a name listed twice counts once. */
static int item_source(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    if (s[0] == '/')
        return key_error(p, key, "\"%s\" is absolute; sources are relative to the plugin "
                                 "directory",
                         s);
    if (has_dotdot(s))
        return key_error(p, key, "\"%s\" leaves the plugin directory (\"..\")", s);
    for (size_t i = 0; i < out->n; i++)
        if (!strcmp(out->v[i], s))
            return 0;
    hb__argv_push(out, s);
    return 0;
}

/* One path of an allow-list, as written (security/allow.h). */
static int item_allow(const pctx *p, const char *key, const char *s, hb_argv *out)
{
    const char *bad = hb_allow_check_text(s);
    if (bad)
        return key_error(p, key, "\"%s\" is refused: %s", s, bad);
    hb__argv_push(out, s);
    return 0;
}

static int rt_allow(const pctx *p, json_t *v, hb__runtime_settings *rt)
{
    if (!json_is_object(v))
        return key_error(p, "allow", "expected an object ({\"read\": [\"/srv/data\"], "
                                     "\"write\": [...], \"connect_unix\": [...]})");
    const char *key;
    json_t *e;
    json_object_foreach(v, key, e) {
        int k = !strcmp(key, "read")           ? HB_ALLOW_READ
                : !strcmp(key, "write")        ? HB_ALLOW_WRITE
                : !strcmp(key, "connect_unix") ? HB_ALLOW_CONNECT_UNIX
                                               : -1;
        if (k < 0)
            return key_error(p, key, "unknown key in runtime.allow (known: read, write, "
                                     "connect_unix)");
        hb_argv a = HB_ARGV_INIT;
        int r = string_array(p, key, e, item_allow, &a);
        hb__strv_free(rt->allow[k]);
        rt->allow[k] = hb__argv_take(&a);
        if (r < 0)
            return r;
        if (!rt->allow[k])
            return -ENOMEM;
    }
    return 0;
}

static int parse_runtime(const pctx *p, json_t *v, hb__runtime_settings *rt)
{
    if (!json_is_object(v))
        return key_error(p, "runtime", "expected an object");
    hb_argv env = HB_ARGV_INIT, data = HB_ARGV_INIT;
    const char *key;
    json_t *e;
    int r = 0;
    json_object_foreach(v, key, e) {
        unsigned long long n = 0;
        if (!strcmp(key, "profile")) {
            const char *s;
            if ((r = get_string(p, key, e, &s)) < 0)
                break;
            rt->profile = !strcmp(s, "strict")       ? HB__RT_PROFILE_STRICT
                          : !strcmp(s, "standard")   ? HB__RT_PROFILE_STANDARD
                          : !strcmp(s, "permissive") ? HB__RT_PROFILE_PERMISSIVE
                                                     : HB__RT_PROFILE_UNSET;
            if (!rt->profile)
                r = key_error(p, key, "\"%s\" is not a profile (strict, standard, permissive)",
                              s);
        } else if (!strcmp(key, "limits")) {
            r = rt_limits(p, e, rt);
        } else if (!strcmp(key, "call_timeout_ms")) {
            if ((r = rt_integer(p, key, e, 1, 3600000, &n)) == 0)
                rt->call_timeout_ms = (unsigned)n;
        } else if (!strcmp(key, "swap_timeout_ms")) {
            if ((r = rt_integer(p, key, e, 1, 3600000, &n)) == 0)
                rt->swap_timeout_ms = (unsigned)n;
        } else if (!strcmp(key, "env")) {
            r = rt_env(p, e, &env);
        } else if (!strcmp(key, "data")) {
            r = string_array(p, key, e, item_data, &data);
        } else if (!strcmp(key, "allow")) {
            r = rt_allow(p, e, rt);
        } else {
            r = key_error(p, key, "unknown key in runtime (known: profile, limits, "
                                  "call_timeout_ms, swap_timeout_ms, env, data, allow)");
        }
        if (r < 0)
            break;
    }
    rt->env = hb__argv_take(&env);
    rt->data = hb__argv_take(&data);
    if (r == 0 && (!rt->env || !rt->data))
        r = -ENOMEM;
    return r;
}

void hb__settings_raw_release(hb__settings_raw *s)
{
    if (!s)
        return;
    HB_STRV_FREE_ALL(s->cflags, s->defines, s->include, s->libs, s->pkg, s->sources);
    free(s->std);
    hb__runtime_settings_release(&s->runtime);
    memset(s, 0, sizeof(*s));
}

static const char *const known_keys[] = {"cflags", "defines", "include", "libs",    "pkg",
                                         "lang",   "std",     "runtime", "carry", "sources",
                                         NULL};

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
    bool carry_off = false; /* set after "runtime", which may come later */
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
                                   "lang, std, runtime, carry, sources)");
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
        else if (!strcmp(key, "sources")) {
            hb_argv src = HB_ARGV_INIT;
            r = string_array(&p, key, v, item_source, &src);
            if (r == 0 && !(out->sources = hb__argv_take(&src)))
                r = -ENOMEM;
            hb__argv_release(&src);
        }
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
            r = parse_runtime(&p, v, &out->runtime);
        } else if (!strcmp(key, "carry")) {
            if (!json_is_boolean(v))
                r = key_error(&p, key, "expected true or false");
            else
                carry_off = json_is_false(v);
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
    out->runtime.carry_off = carry_off;
    out->cflags = hb__argv_take(&cflags);
    out->defines = hb__argv_take(&defines);
    out->include = hb__argv_take(&include);
    out->libs = hb__argv_take(&libs);
    out->pkg = hb__argv_take(&pkg);
    if (!out->cflags || !out->defines || !out->include || !out->libs || !out->pkg)
        r = -ENOMEM;
out:
    json_decref(root);
    hb__strv_free(hb__argv_take(&cflags));
    hb__strv_free(hb__argv_take(&defines));
    hb__strv_free(hb__argv_take(&include));
    hb__strv_free(hb__argv_take(&libs));
    hb__strv_free(hb__argv_take(&pkg));
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
    char **res = hb__argv_take(&v);
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
