/* plugin.json (compiler/settings.c) and the C++ path of the compiler, with
 * the real `cc`/`c++` through the local backend (and the namespace backend
 * when bubblewrap works here): errors name the key and the file; libraries
 * are linked after the objects (kept under --as-needed); include
 * directories of a sibling are visible to an isolated compile; the settings
 * file is a compile input; the manager's flags keep shell quoting. */
#include "ctest_util.h"
#include "elf.h"
#include "settings.h"

static char *root, *plugin, *common, *inc;

static bool has(char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (!strcmp(*v, s))
            return true;
    return false;
}

static void test_parse_errors(void)
{
    static const struct {
        const char *text, *want[3];
    } bad[] = {
        {"{\n  \"cflag\": [\"-O2\"]\n}", {"/x/plugin.json:2:3:", "\"cflag\"", "unknown key"}},
        {"{\"cflags\": \"-O2 -g\"}", {"/x/plugin.json:1:2:", "\"cflags\"", "array of strings"}},
        {"{\"runtime\": 3}", {"/x/plugin.json", "\"runtime\"", "expected an object"}},
        {"{\"lang\": \"rust\"}", {"/x/plugin.json", "\"lang\"", "rust"}},
        {"{\"std\": \"c++17\", \"lang\": \"c\"}", {"/x/plugin.json", "\"std\"", "c++17"}},
        {"{\"defines\": {\"1X\": 1}}", {"/x/plugin.json", "\"defines\"", "1X"}},
        {"{\"pkg\": [\"--libs\"]}", {"/x/plugin.json", "\"pkg\"", "--libs"}},
        {"{\"include\": [\"/etc\"]}", {"/x/plugin.json", "\"include\"", "absolute"}},
        {"{\"cflags\": [\"a\",]}", {"/x/plugin.json:1:", "invalid JSON", ""}},
        {"[1]", {"/x/plugin.json", "object", ""}},
        {"{\"runtime\": {\n  \"prof\": 1}}", {"/x/plugin.json:2:3:", "\"prof\"", "unknown key"}},
        {"{\"runtime\": {\"profile\": \"lax\"}}", {"/x/plugin.json:1:14:", "\"profile\"", "lax"}},
        {"{\"runtime\": {\"limits\": {\"memory\": 1}}}", {"/x/plugin.json", "\"memory\"", "unknown"}},
        {"{\"runtime\": {\"limits\": {\"max_fds\": -1}}}", {"/x/plugin.json", "\"max_fds\"", "integer"}},
        {"{\"runtime\": {\"call_timeout_ms\": 0}}", {"/x/plugin.json", "\"call_timeout_ms\"", "integer"}},
        {"{\"runtime\": {\"env\": {\"LD_PRELOAD\": \"x\"}}}", {"/x/plugin.json", "\"env\"", "reserved"}},
        {"{\"runtime\": {\"env\": {\"GLIBC_TUNABLES\": \"x\"}}}", {"/x/plugin.json", "\"env\"", "\"GLIBC_TUNABLES\" is read by the dynamic loader"}},
        {"{\"runtime\": {\"env\": {\"MALLOC_ARENA_MAX\": \"1\"}}}", {"/x/plugin.json", "\"env\"", "MALLOC_ARENA_MAX"}},
        {"{\"runtime\": {\"env\": {\"GCONV_PATH\": \"/tmp\"}}}", {"/x/plugin.json", "\"env\"", "GCONV_PATH"}},
        {"{\"runtime\": {\"env\": {\"A-B\": \"x\"}}}", {"/x/plugin.json", "\"env\"", "A-B"}},
        {"{\"runtime\": {\"env\": {\"A\": 1}}}", {"/x/plugin.json", "\"env\"", "string"}},
        {"{\"runtime\": {\"data\": [\"a/../../etc\"]}}", {"/x/plugin.json", "\"data\"", ".."}},
        {"{\"runtime\": {\"data\": [\"/etc\"]}}", {"/x/plugin.json", "\"data\"", "absolute"}},
    };
    for (size_t i = 0; i < HB_ARRAY_SIZE(bad); i++) {
        hb__settings_raw raw;
        char *err = NULL;
        int r = hb__settings_parse(bad[i].text, strlen(bad[i].text), "/x/plugin.json", &raw, &err);
        HB_CHECK_EQ(r, -EINVAL);
        for (size_t k = 0; k < 3; k++)
            HB_CHECK_CONTAINS(err, bad[i].want[k]);
        free(err);
    }
    const char *good = "{\"cflags\": [\"-O1\", \"-DX=a b\"], \"defines\": {\"A\": 1, \"B\": \"s\", "
                       "\"C\": true, \"D\": false}, \"libs\": [\"m\", \"-Wl,-z,now\"], "
                       "\"lang\": \"c\", \"std\": \"gnu11\", \"runtime\": {\"profile\": \"strict\", "
                       "\"limits\": {\"memory_mb\": 64, \"max_fds\": 32}, \"call_timeout_ms\": 250, "
                       "\"env\": {\"GREETING\": \"hi there\"}, \"data\": [\"testdata\"]}}";
    hb__settings_raw raw;
    char *err = NULL;
    HB_CHECK_OK(hb__settings_parse(good, strlen(good), "/x/plugin.json", &raw, &err));
    HB_CHECK(has(raw.cflags, "-DX=a b"));
    HB_CHECK(has(raw.defines, "-DA=1") && has(raw.defines, "-DB=s"));
    HB_CHECK(has(raw.defines, "-DC") && has(raw.defines, "-UD"));
    HB_CHECK(has(raw.libs, "-lm") && has(raw.libs, "-Wl,-z,now"));
    HB_CHECK_EQ(raw.lang, HB__LANG_C);
    HB_CHECK_STR(raw.std, "gnu11");
    HB_CHECK_EQ(raw.runtime.profile, HB__RT_PROFILE_STRICT);
    HB_CHECK_EQ(raw.runtime.memory_mb, 64);
    HB_CHECK_EQ(raw.runtime.max_fds, 32);
    HB_CHECK_EQ(raw.runtime.call_timeout_ms, 250);
    HB_CHECK(has(raw.runtime.env, "GREETING=hi there"));
    HB_CHECK(has(raw.runtime.data, "testdata"));
    hb__settings_raw_release(&raw);
}

static void test_flags_split(void)
{
    char **v = NULL, *err = NULL;
    HB_CHECK_OK(hb__flags_split("-O2  -DG=\"hi there\" '-DH=a b'\t-g\n", "--cflags", &v, &err));
    HB_CHECK_EQ(hb__strv_len(v), 4);
    HB_CHECK_STR(v[1], "-DG=hi there");
    HB_CHECK_STR(v[2], "-DH=a b");
    hb__strv_free(v);
    static const char *const refused[] = {"-DX=$(id)", "-DX=`id`", "-DX=$HB_SURELY_UNSET_VAR",
                                          "-O2; rm -rf /", "-DX=\"open"};
    for (size_t i = 0; i < HB_ARRAY_SIZE(refused); i++) {
        v = NULL;
        HB_CHECK_EQ(hb__flags_split(refused[i], "--cflags", &v, &err), -EINVAL);
        HB_CHECK(v == NULL);
        HB_CHECK_CONTAINS(err, "--cflags");
    }
    HB_CHECK_CONTAINS(err, "");
    v = NULL;
    HB_CHECK_EQ(hb__flags_split("-DX=$(id)", "--cflags", &v, &err), -EINVAL);
    HB_CHECK_CONTAINS(err, "command substitution");
    free(err);
}

static void setup(void)
{
    root = t_mkdtemp("hb-settings-");
    plugin = t_subdir(root, "plug");
    common = t_subdir(root, "common");
    inc = hb__asprintf("%s/include", HB_SOURCE_DIR);
    char *ci = t_subdir(common, "include");
    t_write(ci, "common.h", "#define COMMON 40\n");
    free(ci);
    t_write(plugin, "p.c",
            "#include <hotbox/plugin.h>\n#include <math.h>\n#include <common.h>\n"
            "HB_EXPORT_FN double f(double x) { return cos(x) + COMMON + TWO; }\n"
            "HB_PLUGIN(\"plug\", 1, 0, 0, 0, 0);\n");
}

static int compile(hb_isolation iso, char *const *cflags, hb_compile_result *res, char **err)
{
    char *job = t_job(root);
    hb_compile_request req = t_request(plugin, job, inc);
    req.isolation = iso;
    req.cflags = cflags;
    int r = hb_compiler_run(&req, res, err);
    free(job);
    return r;
}

/* Libraries after the objects: under --as-needed (first in the flags, as
 * the manager's --cflags are) libm is still DT_NEEDED. Include directories
 * of a sibling, defines, and the settings file as an input. */
static void test_compile(hb_isolation iso)
{
    char *const as_needed[] = {"-O2", "-Wl,--as-needed", NULL};
    t_write(plugin, "plugin.json",
            "{\"defines\": {\"TWO\": 2}, \"include\": [\"../common/include\"],\n"
            " \"libs\": [\"m\"], \"cflags\": [\"-Wall\"]}\n");
    hb_compile_result res;
    char *err = NULL;
    int r = compile(iso, as_needed, &res, &err);
    if (r != 0)
        HB_FAIL_("compile (%s) failed %d: %s\n%s", hb_compiler_backend_name(iso), r,
                 err ? err : "", res.diagnostics ? res.diagnostics : "");
    hb_elf_info info;
    HB_CHECK_OK(hb_elf_analyze_file(res.object_path, &info, &err));
    HB_CHECK(has(info.needed, "libm.so.6"));
    hb_elf_info_release(&info);
    char *pj = hb__path_join(plugin, "plugin.json");
    HB_CHECK(t_has_input(&res, pj));
    char *ch = hb__asprintf("%s/include/common.h", common);
    HB_CHECK(t_has_input(&res, ch));

    /* The settings are hashed: a changed plugin.json changes the hash. */
    char h1[HB_SHA256_HEX], h2[HB_SHA256_HEX];
    hb_compile_request req = t_request(plugin, "/nonexistent-job", inc);
    req.isolation = iso;
    req.cflags = as_needed;
    HB_CHECK_OK(hb_compiler_input_hash(&req, res.inputs, h1));
    HB_CHECK_STR(h1, res.input_hash);
    t_write(plugin, "plugin.json",
            "{\"defines\": {\"TWO\": 3}, \"include\": [\"../common/include\"],\n"
            " \"libs\": [\"m\"], \"cflags\": [\"-Wall\"]}\n");
    HB_CHECK_OK(hb_compiler_input_hash(&req, res.inputs, h2));
    HB_CHECK(strcmp(h1, h2) != 0);
    printf("settings compile (%s): ok, %.1f ms\n", hb_compiler_backend_name(iso), res.elapsed_ms);
    hb_compile_result_release(&res);
    free(pj);
    free(ch);
    free(err);
}

/* A static archive in a sibling directory, named by a relative path in
 * "libs": linked in (its function is no import), visible to isolated
 * compiles; a path leading outside the siblings is refused. */
static void test_static_lib(hb_isolation iso)
{
    char *vendor = t_subdir(root, "vendor");
    t_write(vendor, "foo.c", "int foo_answer(void) { return 42; }\n");
    char *cmd = hb__asprintf("cd '%s' && cc -fPIC -c foo.c -o foo.o && ar rcs libfoo.a foo.o",
                             vendor);
    HB_CHECK(cmd && system(cmd) == 0);
    char *sdir = t_subdir(root, "uses-static");
    t_write(sdir, "s.c",
            "#include <hotbox/plugin.h>\nint foo_answer(void);\n"
            "HB_EXPORT_FN int answer(void) { return foo_answer(); }\n"
            "HB_PLUGIN(\"s\", 1, 0, 0, 0, 0);\n");
    t_write(sdir, "plugin.json", "{\"libs\": [\"../vendor/libfoo.a\"]}");
    char *job = t_job(root), *err = NULL;
    hb_compile_request req = t_request(sdir, job, inc);
    req.isolation = iso;
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("static lib compile (%s) failed %d: %s\n%s", hb_compiler_backend_name(iso), r,
                 err ? err : "", res.diagnostics ? res.diagnostics : "");
    hb_elf_info info;
    HB_CHECK_OK(hb_elf_analyze_file(res.object_path, &info, &err));
    HB_CHECK(!has(info.imports, "foo_answer"));
    hb_elf_info_release(&info);
    hb_compile_result_release(&res);
    t_write(sdir, "plugin.json", "{\"libs\": [\"../../etc/passwd\"]}");
    HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), HB_ECOMPILE);
    HB_CHECK_CONTAINS(err, "\"libs\"");
    hb_compile_result_release(&res);
    free(err);
    free(job);
    free(cmd);
    free(sdir);
    free(vendor);
}

static void test_bad_settings(void)
{
    hb_compile_result res;
    char *err = NULL;
    t_write(plugin, "plugin.json", "{\n  \"libs\": [\"m\"],\n  \"cflag\": []\n}\n");
    HB_CHECK_EQ(compile(HB_ISOLATION_LOCAL, NULL, &res, &err), HB_ECOMPILE);
    HB_CHECK_CONTAINS(err, "plugin.json:3:3:");
    HB_CHECK_CONTAINS(err, "\"cflag\"");
    hb_compile_result_release(&res);
    /* Outside the plugin directory and its siblings: refused. */
    t_write(plugin, "plugin.json", "{\"include\": [\"../..\"]}");
    HB_CHECK_EQ(compile(HB_ISOLATION_LOCAL, NULL, &res, &err), HB_ECOMPILE);
    HB_CHECK_CONTAINS(err, "\"include\"");
    HB_CHECK_CONTAINS(err, "outside the plugin directory");
    hb_compile_result_release(&res);
    t_write(plugin, "plugin.json", "{\"pkg\": [\"hotbox-no-such-package\"]}");
    HB_CHECK_EQ(compile(HB_ISOLATION_LOCAL, NULL, &res, &err), HB_ECOMPILE);
    HB_CHECK_CONTAINS(err, "\"pkg\"");
    HB_CHECK_CONTAINS(err, "hotbox-no-such-package");
    hb_compile_result_release(&res);
    free(err);
}

/* A C++ source compiles and links with the C++ driver (libstdc++ needed),
 * and HB_EXPORT_FN names are not mangled. */
static void test_cxx(void)
{
    char *cxx = t_subdir(root, "cxx");
    t_write(cxx, "w.cpp",
            "#include <hotbox/plugin.h>\n#include <string>\n#include <vector>\n"
            "static std::vector<std::string> v;\n"
            "HB_EXPORT_FN int add(const char *s) { v.push_back(s); return (int)v.size(); }\n"
            "HB_PLUGIN(\"cxx\", 1, 0, 0, 0, 0);\n");
    char *job = t_job(root), *err = NULL;
    hb_compile_request req = t_request(cxx, job, inc);
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("C++ compile failed %d: %s\n%s", r, err ? err : "",
                 res.diagnostics ? res.diagnostics : "");
    hb_elf_info info;
    HB_CHECK_OK(hb_elf_analyze_file(res.object_path, &info, &err));
    HB_CHECK(has(info.exports, "add"));
    HB_CHECK(info.has_descriptor);
    bool stdcxx = false;
    for (char **n = info.needed; *n; n++)
        stdcxx |= !strncmp(*n, "libstdc++", 9);
    HB_CHECK(stdcxx);
    hb_elf_info_release(&info);
    hb_compile_result_release(&res);
    /* lang "c" with a C++ source: an error naming the key. */
    t_write(cxx, "plugin.json", "{\"lang\": \"c\"}");
    HB_CHECK_EQ(hb_compiler_run(&req, &res, &err), HB_ECOMPILE);
    HB_CHECK_CONTAINS(err, "\"lang\"");
    hb_compile_result_release(&res);
    free(err);
    free(job);
    free(cxx);
}

int main(void)
{
    test_parse_errors();
    test_flags_split();
    setup();
    test_compile(HB_ISOLATION_LOCAL);
    test_static_lib(HB_ISOLATION_LOCAL);
    if (hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, NULL) == 0) {
        test_compile(HB_ISOLATION_NAMESPACE);
        test_static_lib(HB_ISOLATION_NAMESPACE);
    } else
        printf("note: namespace backend unavailable; include visibility checked locally only\n");
    test_bad_settings();
    test_cxx();
    hb__rm_rf(root);
    printf("ok\n");
    return 0;
}
