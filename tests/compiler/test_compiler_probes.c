/* Which compiler probes a warm build-cache lookup runs (issue 14, the
 * fixed cost of `hotbox test`): an input hash needs the compiler's identity
 * (`cc --version`), not whether it speaks JSON diagnostics; that probe runs
 * at the first compile, and a compile still gets JSON diagnostics. The
 * identity is kept across processes (XDG_CACHE_HOME/hotbox/ccinfo): a
 * second process does not run `cc --version` again, and a changed compiler
 * binary is probed again. A wrapper compiler logs every command it is
 * given; each "process" is a child forked before this one probed anything. */
#include <sys/wait.h>
#include <time.h>

#include "backend.h"
#include "ctest_util.h"

static bool log_has(const char *log, const char *needle)
{
    void *data = NULL;
    size_t len = 0;
    int r = hb__read_file(log, 1u << 20, &data, &len);
    if (r == -ENOENT)
        return false;
    HB_CHECK_OK(r);
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static size_t log_count(const char *log, const char *needle)
{
    void *data = NULL;
    size_t len = 0, n = 0;
    if (hb__read_file(log, 1u << 20, &data, &len) < 0)
        return 0;
    for (const char *p = data; (p = memmem(p, len - (size_t)(p - (char *)data), needle,
                                           strlen(needle)));
         p++)
        n++;
    free(data);
    return n;
}

/* An input hash in a fresh child process. */
static void hash_in_child(hb_compile_request *req, char *const *inputs)
{
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        char h[HB_SHA256_HEX];
        _exit(hb_compiler_input_hash(req, inputs, h) == 0 ? 0 : 1);
    }
    int st = 0;
    HB_CHECK(waitpid(pid, &st, 0) == pid);
    HB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A cache entry is written only for a binary whose ctime is before the
 * probe's clock tick: waits (deadline 5 s) until the coarse clock has
 * passed the file's ctime. */
static void wait_clock_past(const char *path)
{
    struct stat st;
    HB_CHECK_OK(stat(path, &st));
    for (int i = 0; i < 5000; i++) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME_COARSE, &now);
        if (now.tv_sec > st.st_ctim.tv_sec ||
            (now.tv_sec == st.st_ctim.tv_sec && now.tv_nsec > st.st_ctim.tv_nsec))
            return;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    HB_FAIL_("the clock never passed the ctime of %s", path);
}

int main(void)
{
    char *root = t_mkdtemp("hb-cprobes-");
    const char *cc = getenv("CC");
    char *real_cc = NULL;
    HB_CHECK_OK(hb__find_program(cc && *cc ? cc : "cc", &real_cc));
    char *plugin = t_subdir(root, "p");
    t_write(plugin, "p.c", "int p(void) { return 1; }\n");
    char *log = hb__path_join(root, "cc.log");
    char *text = hb__asprintf("#!/bin/sh\necho \"$*\" >> '%s'\nexec '%s' \"$@\"\n", log, real_cc);
    char *wrap = hb__path_join(root, "log-cc.sh");
    HB_CHECK(log && text && wrap);
    HB_CHECK_OK(hb__write_file_atomic(wrap, text, strlen(text), 0755));

    char *cache = hb__path_join(root, "cache");
    HB_CHECK(cache != NULL);
    HB_CHECK_OK(setenv("XDG_CACHE_HOME", cache, 1));

    char *job = t_job(root);
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = wrap;
    char *src = hb__path_join(plugin, "p.c");
    char *inputs[] = {src, NULL};
    char h[HB_SHA256_HEX];

    /* Across processes: probed once, then kept; a new binary probes again. */
    wait_clock_past(wrap);
    hash_in_child(&req, inputs);
    HB_CHECK_EQ(log_count(log, "--version"), 1);
    hash_in_child(&req, inputs);
    if (log_count(log, "--version") != 1)
        HB_FAIL_("a second process ran `cc --version` again (%zu runs)", log_count(log, "--version"));
    char *text2 = hb__asprintf("#!/bin/sh\n# v2\necho \"$*\" >> '%s'\nexec '%s' \"$@\"\n", log,
                               real_cc);
    HB_CHECK(text2 != NULL);
    HB_CHECK_OK(hb__write_file_atomic(wrap, text2, strlen(text2), 0755));
    hash_in_child(&req, inputs);
    if (log_count(log, "--version") != 2)
        HB_FAIL_("a changed compiler binary was not probed again");
    free(text2);
    HB_CHECK_OK(unlink(log));

    HB_CHECK_OK(hb_compiler_input_hash(&req, inputs, h));
    if (log_has(log, "-fdiagnostics-format=json -fsyntax-only"))
        HB_FAIL_("an input hash (a cache lookup) ran the JSON-diagnostics probe");

    hb_compile_result res;
    char *err = NULL;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("compile failed %d: %s", r, err ? err : "");
    if (!log_has(log, "-fdiagnostics-format=json -fsyntax-only"))
        HB_FAIL_("the first compile did not probe JSON diagnostics");
    /* GCC >= 10 (Debian 12 has 12): the compile itself asked for JSON. */
    if (!log_has(log, "-fdiagnostics-color=never -fdiagnostics-format=json"))
        HB_FAIL_("the compile did not use JSON diagnostics");
    hb_compile_result_release(&res);
    free(err);
    hb__rm_rf(root);
    HB_FREE_ALL(root, real_cc, plugin, log, text, wrap, job, src, cache);
    printf("ok\n");
    return 0;
}
