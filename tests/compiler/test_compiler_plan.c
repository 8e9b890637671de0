/* compiler/plan.c: the exact command lines of a compile (one source, several
 * sources, DT_NEEDED name-only libraries, plugin.json settings with a C++
 * source and the manager's --cflags as text) and the hashed flag list, so a
 * change to what the compiler is told is a visible change here. */
#include <stdio.h>

#include "ctest_util.h"
#include "plan.h"

static char *joined(char *const *v)
{
    hb_sb sb = HB_SB_INIT;
    for (size_t i = 0; v && v[i]; i++)
        hb__sb_addf(&sb, "%s%s", i ? " " : "", v[i]);
    return hb__sb_detach(&sb);
}

static void check_argv(char *const *v, const char *want)
{
    char *got = joined(v);
    HB_CHECK_STR(got, want);
    free(got);
}

int main(void)
{
    char *root = t_mkdtemp("hb-cplan-");
    char *job = t_subdir(root, "job");
    char *words[] = {"/usr/bin/cc", "-m64", NULL};
    hb__ccinfo ci = {.words = words, .real = "/usr/bin/gcc-12", .version = "gcc 12"};
    char *cflags[] = {"-O2", NULL};
    hb_compile_request req = {.plugin_dir = "/p", .job_dir = job, .cc = "cc -m64",
                              .cflags = cflags, .include_dir = "/inc"};
    char *one[] = {"/p/a.c", NULL}, *two[] = {"/p/a.c", "/p/b.c", NULL};
    char *pre = hb__asprintf("/usr/bin/cc -m64 -fdiagnostics-color=never "
                             "-ffile-prefix-map=%s=. -fdebug-prefix-map=%s=. -g -O2",
                             job, job);

    hb__plan p = {0};
    HB_CHECK_OK(hb__plan_compile(&req, &ci, NULL, false, one, &p));
    char *want = hb__asprintf("%s -shared -fPIC -I/inc -MD -MF %s/plugin.d -o %s/plugin.so "
                              "/p/a.c",
                              pre, job, job);
    check_argv(p.steps[0], want);
    HB_CHECK(p.steps[1] == NULL);
    free(want);
    want = hb__asprintf("%s/plugin.d", job);
    check_argv(p.depfiles, want);
    free(want);
    hb__plan_release(&p);

    char *needed[] = {"hotbox-plugin-base.so", NULL};
    req.soname = "hotbox-plugin-me.so";
    req.needed = needed;
    HB_CHECK_OK(hb__plan_compile(&req, &ci, NULL, true, two, &p));
    char *pre_nojson = pre;
    want = hb__asprintf("%s -shared -fPIC -Wl,-soname,hotbox-plugin-base.so -o "
                        "%s/deps/hotbox-plugin-base.so -x c /dev/null",
                        pre_nojson, job);
    check_argv(p.steps[0], want);
    free(want);
    char *prej = hb__asprintf("/usr/bin/cc -m64 -fdiagnostics-color=never "
                              "-fdiagnostics-format=json -ffile-prefix-map=%s=. "
                              "-fdebug-prefix-map=%s=. -g -O2",
                              job, job);
    want = hb__asprintf("%s -fPIC -I/inc -MD -MF %s/src1.d -c -o %s/src1.o /p/b.c", prej, job,
                        job);
    check_argv(p.steps[2], want);
    free(want);
    want = hb__asprintf("%s -shared -fPIC -o %s/plugin.so %s/src0.o %s/src1.o "
                        "-Wl,-soname,hotbox-plugin-me.so -Wl,--no-as-needed "
                        "%s/deps/hotbox-plugin-base.so",
                        prej, job, job, job, job);
    check_argv(p.steps[3], want);
    HB_CHECK(p.steps[4] == NULL);
    free(want);
    hb__plan_release(&p);

    char **flags = NULL;
    HB_CHECK_OK(hb__plan_hashed_flags(&req, &ci, NULL, two, &flags));
    /* No job directory path: the same inputs hash the same in any job. */
    check_argv(flags, "-m64 hotbox-job-prefix-map -g -O2 -shared -fPIC -I/inc -MD /p/a.c /p/b.c "
                      "-Wl,-soname,hotbox-plugin-me.so hotbox-needed hotbox-plugin-base.so");
    hb__strv_free(flags);

    /* plugin.json settings, a C source and a C++ one, --cflags as text. */
    char *cxx_words[] = {"/usr/bin/c++", "-m64", NULL};
    hb__ccinfo cxx = {.words = cxx_words, .real = "/usr/bin/g++-12", .version = "g++ 12"};
    char *set_c[] = {"-DX=1", "-I/p/inc", NULL}, *set_cxx[] = {"-DX=1", "-I/p/inc",
                                                               "-std=gnu++17", NULL};
    char *set_link[] = {"-llua5.4", NULL}, *text[] = {"-DG=hi there", NULL};
    hb__buildcfg bc = {.set = {.path = "/p/plugin.json", .compile_c = set_c,
                               .compile_cxx = set_cxx, .link = set_link},
                       .cxx = &cxx, .text_flags = text};
    char *mixed[] = {"/p/a.c", "/p/b.cc", NULL};
    req.cflags = NULL;
    req.soname = NULL;
    req.needed = NULL;
    HB_CHECK_OK(hb__plan_compile(&req, &ci, &bc, false, mixed, &p));
    char *tail = hb__asprintf("-fdiagnostics-color=never -ffile-prefix-map=%s=. "
                              "-fdebug-prefix-map=%s=. -g -DG=hi there -DX=1 -I/p/inc",
                              job, job);
    want = hb__asprintf("/usr/bin/cc -m64 %s -fPIC -I/inc -MD -MF %s/src0.d -c -o %s/src0.o "
                        "/p/a.c",
                        tail, job, job);
    check_argv(p.steps[0], want);
    free(want);
    want = hb__asprintf("/usr/bin/c++ -m64 %s -std=gnu++17 -fPIC -I/inc -MD -MF %s/src1.d -c "
                        "-o %s/src1.o /p/b.cc",
                        tail, job, job);
    check_argv(p.steps[1], want);
    free(want);
    /* The C++ driver links; the libraries come after the objects. */
    want = hb__asprintf("/usr/bin/c++ -m64 %s -std=gnu++17 -shared -fPIC -o %s/plugin.so "
                        "%s/src0.o %s/src1.o -llua5.4",
                        tail, job, job, job);
    check_argv(p.steps[2], want);
    HB_CHECK(p.steps[3] == NULL);
    free(want);
    hb__plan_release(&p);
    /* A single C++ source compiles and links in one command with c++. */
    char *only_cxx[] = {"/p/b.cc", NULL};
    HB_CHECK_OK(hb__plan_compile(&req, &ci, &bc, false, only_cxx, &p));
    want = hb__asprintf("/usr/bin/c++ -m64 %s -std=gnu++17 -shared -fPIC -I/inc -MD -MF "
                        "%s/plugin.d -o %s/plugin.so /p/b.cc -llua5.4",
                        tail, job, job);
    check_argv(p.steps[0], want);
    free(want);
    hb__plan_release(&p);
    HB_CHECK_OK(hb__plan_hashed_flags(&req, &ci, &bc, mixed, &flags));
    check_argv(flags, "-m64 hotbox-job-prefix-map -g -DG=hi there hotbox-settings-c -DX=1 "
                      "-I/p/inc hotbox-settings-c++ -DX=1 -I/p/inc -std=gnu++17 "
                      "hotbox-settings-link -llua5.4 hotbox-cxx /usr/bin/c++ -m64 "
                      "/usr/bin/g++-12 g++ 12 -shared -fPIC -I/inc -MD /p/a.c /p/b.cc");
    hb__strv_free(flags);
    /* "lang": "c++" compiles the .c source as C++ too, and says so in the hash. */
    bc.all_cxx = true;
    HB_CHECK_OK(hb__plan_compile(&req, &ci, &bc, false, mixed, &p));
    want = hb__asprintf("/usr/bin/c++ -m64 %s -std=gnu++17 -fPIC -I/inc -MD -MF %s/src0.d -c "
                        "-o %s/src0.o /p/a.c",
                        tail, job, job);
    check_argv(p.steps[0], want);
    free(want);
    hb__plan_release(&p);
    HB_CHECK_OK(hb__plan_hashed_flags(&req, &ci, &bc, mixed, &flags));
    HB_CHECK_STR(flags[4], "hotbox-settings-all-c++");
    hb__strv_free(flags);
    free(tail);

    free(pre);
    free(prej);
    hb__rm_rf(root);
    free(job);
    free(root);
    puts("PASS test_compiler_plan");
    return 0;
}
