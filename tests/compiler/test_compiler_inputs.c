/* The compile's inputs, attacked from outside (local backend, real cc):
 * - a save while the compiler runs must never give an object whose input
 *   hash describes the new content (issue 11.1): a wrapper compiler blocks
 *   after compiling until the test has rewritten the source;
 * - an input that keeps changing gives HB_ECHANGED and no object;
 * - a FIFO or /dev/stdin among the inputs is refused with a compile error
 *   naming it, and hashing never blocks on it (issue 12.5).
 * alarm() is the deadline: a hang fails the test with SIGALRM. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#include "backend.h"
#include "ctest_util.h"

static char *root, *real_cc;

static char *path2(const char *dir, const char *name)
{
    char *p = hb__path_join(dir, name);
    HB_CHECK(p != NULL);
    return p;
}

static bool file_contains(const char *path, const char *needle)
{
    void *data = NULL;
    size_t len = 0;
    HB_CHECK_OK(hb__read_file(path, 64u << 20, &data, &len));
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static char *write_script(const char *name, const char *text)
{
    char *p = path2(root, name);
    HB_CHECK_OK(hb__write_file_atomic(p, text, strlen(text), 0755));
    return p;
}

typedef struct compile_job {
    hb_compile_request req;
    hb_compile_result res;
    char *err;
    int r;
} compile_job;

static void *compile_thread(void *arg)
{
    compile_job *j = arg;
    j->r = hb_compiler_run(&j->req, &j->res, &j->err);
    return NULL;
}

/* Reads one line from a FIFO, failing after timeout_ms. */
static void wait_fifo(const char *fifo, int timeout_ms)
{
    int fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    struct pollfd p = {fd, POLLIN, 0};
    int pr;
    do
        pr = poll(&p, 1, timeout_ms);
    while (pr < 0 && errno == EINTR);
    if (pr != 1)
        HB_FAIL_("the wrapper compiler never reported on %s", fifo);
    char buf[64];
    HB_CHECK(read(fd, buf, sizeof(buf)) > 0);
    close(fd);
}

static void test_save_during_compile(void)
{
    char *plugin = t_subdir(root, "race");
    char *src = path2(plugin, "r.c");
    char *fifo1 = path2(root, "compiled.fifo"), *fifo2 = path2(root, "go.fifo");
    char *block = path2(root, "block");
    HB_CHECK_OK(mkfifo(fifo1, 0600));
    HB_CHECK_OK(mkfifo(fifo2, 0600));
    t_write(root, "block", "");
    char *text = hb__asprintf("#!/bin/sh\n"
                              "'%s' \"$@\" || exit $?\n"
                              "case \"$*\" in *plugin.so*)\n"
                              "  if [ -e '%s' ]; then echo compiled > '%s'; read x < '%s'; fi;;\n"
                              "esac\n"
                              "exit 0\n",
                              real_cc, block, fifo1, fifo2);
    char *wrap = write_script("slow-cc.sh", text);
    t_write(plugin, "r.c", "const char *tag(void) { return \"OLD-CONTENT-1\"; }\n");

    compile_job j = {0};
    char *job = t_job(root);
    j.req = t_request(plugin, job, NULL);
    j.req.cc = wrap;
    pthread_t th;
    HB_CHECK_OK(pthread_create(&th, NULL, compile_thread, &j));
    wait_fifo(fifo1, 60000);
    /* The compiler has read the old source and finished; the user saves. */
    t_write(plugin, "r.c", "const char *tag(void) { return \"NEW-CONTENT-2\"; }\n");
    HB_CHECK_OK(unlink(block));
    int fd = open(fifo2, O_WRONLY | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK_OK(hb__write_full(fd, "go\n", 3));
    close(fd);
    HB_CHECK_OK(pthread_join(th, NULL));
    if (j.r != 0)
        HB_FAIL_("compile failed %d: %s\n%s", j.r, j.err ? j.err : "", j.res.diagnostics);
    /* Whatever the object is, its input hash must describe what it was
     * built from: the new content (the compile was repeated). */
    HB_CHECK(file_contains(j.res.object_path, "NEW-CONTENT-2"));
    HB_CHECK(!file_contains(j.res.object_path, "OLD-CONTENT-1"));
    char h[HB_SHA256_HEX];
    HB_CHECK_OK(hb_compiler_input_hash(&j.req, j.res.inputs, h));
    HB_CHECK_STR(h, j.res.input_hash);
    printf("save during compile: rebuilt in %.1f ms total\n", j.res.elapsed_ms);
    hb_compile_result_release(&j.res);
    free(j.err);
    free(job);
    free(text);
    free(wrap);
    free(fifo1);
    free(fifo2);
    free(block);
    free(src);
    free(plugin);
}

static void test_never_settles(void)
{
    char *plugin = t_subdir(root, "churn");
    char *hdr = path2(plugin, "churn.h");
    /* Every compile is followed by another "save" of the header. */
    char *text = hb__asprintf("#!/bin/sh\n"
                              "'%s' \"$@\" || exit $?\n"
                              "case \"$*\" in *plugin.so*) echo '/* saved */' >> '%s';; esac\n"
                              "exit 0\n",
                              real_cc, hdr);
    char *wrap = write_script("churn-cc.sh", text);
    t_write(plugin, "churn.h", "#define V 1\n");
    t_write(plugin, "c.c", "#include \"churn.h\"\nint v(void) { return V; }\n");
    char *job = t_job(root), *err = NULL;
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = wrap;
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    HB_CHECK_EQ(r, HB_ECHANGED);
    HB_CHECK(res.object_path == NULL);
    HB_CHECK(res.inputs == NULL);
    HB_CHECK_CONTAINS(err, "churn.h");
    hb_compile_result_release(&res);
    free(err);
    free(job);
    free(text);
    free(wrap);
    free(hdr);
    free(plugin);
}

/* A compile that reads `bad` must fail naming it, without blocking. */
static void expect_refused(const char *plugin, const char *bad)
{
    char *job = t_job(root), *err = NULL;
    hb_compile_request req = t_request(plugin, job, NULL);
    req.timeout_ms = 20000;
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != HB_ECOMPILE)
        HB_FAIL_("compile reading %s: got %d (%s), want HB_ECOMPILE", bad, r, err ? err : "");
    HB_CHECK_CONTAINS(err, bad);
    HB_CHECK_CONTAINS(res.diagnostics, bad);
    HB_CHECK_CONTAINS(res.diagnostics, "not a regular file");
    const hb_diag *d = t_find_diag(&res, "error");
    HB_CHECK(d != NULL);
    HB_CHECK_STR(d->file, bad);
    HB_CHECK(res.object_path == NULL);
    hb_compile_result_release(&res);
    /* The cache check over such an input list fails at once, too. */
    char *inputs[] = {(char *)bad, NULL};
    char h[HB_SHA256_HEX];
    HB_CHECK_EQ(hb_compiler_input_hash(&req, inputs, h), -EINVAL);
    free(err);
    free(job);
}

static void test_fifo_include(void)
{
    char *plugin = t_subdir(root, "fifo");
    char *fifo = path2(plugin, "in.h");
    HB_CHECK_OK(mkfifo(fifo, 0644));
    t_write(plugin, "f.c", "#include \"in.h\"\nint f(void) { return V; }\n");
    /* Feeds the FIFO once (the compiler's read), then is gone: an open
     * without O_NONBLOCK would now wait for a writer forever. */
    pid_t w = fork();
    HB_CHECK(w >= 0);
    if (w == 0) {
        int fd = open(fifo, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            _exit(1);
        _exit(hb__write_full(fd, "#define V 1\n", 12) == 0 ? 0 : 1);
    }
    expect_refused(plugin, fifo);
    int st;
    HB_CHECK_EQ(waitpid(w, &st, 0), w);
    HB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0); /* the compiler did read it */
    free(fifo);
    free(plugin);
}

static void test_dev_stdin_include(void)
{
    char *plugin = t_subdir(root, "stdin");
    t_write(plugin, "s.c", "#include \"/dev/stdin\"\nint s(void) { return 1; }\n");
    /* Our stdin: a pipe nobody writes to, as a manager's terminal would be.
     * Reading it to hash it would block forever. */
    int p[2];
    HB_CHECK_OK(pipe2(p, O_CLOEXEC));
    HB_CHECK(dup2(p[0], 0) == 0);
    expect_refused(plugin, "/dev/stdin");
    close(p[1]);
    free(plugin);
}

/* Issue 11.4: the same sources compiled in two job directories give the
 * same bytes, and the object names neither job directory (DW_AT_comp_dir).
 * On every stateless backend that works here (microvm: test_compiler_backends). */
static void reproducible_on(hb_isolation iso, const char *plugin)
{
    char *cflags[] = {"-g", "-O1", NULL};
    char sha[2][HB_SHA256_HEX];
    char *jobs[2];
    for (int i = 0; i < 2; i++) {
        jobs[i] = t_job(root);
        char *err = NULL;
        hb_compile_request req = t_request(plugin, jobs[i], NULL);
        req.cflags = cflags;
        req.isolation = iso;
        hb_compile_result res;
        int r = hb_compiler_run(&req, &res, &err);
        if (r != 0)
            HB_FAIL_("%s compile failed %d: %s\n%s", hb_compiler_backend_name(iso), r,
                     err ? err : "", res.diagnostics);
        HB_CHECK_OK(hb__sha256_file(res.object_path, sha[i]));
        HB_CHECK(!file_contains(res.object_path, jobs[i]));
        hb_compile_result_release(&res);
        free(err);
    }
    HB_CHECK(strcmp(jobs[0], jobs[1]) != 0);
    HB_CHECK_STR(sha[0], sha[1]);
    printf("reproducible on %s: %s\n", hb_compiler_backend_name(iso), sha[0]);
    free(jobs[0]);
    free(jobs[1]);
}

static void test_reproducible(void)
{
    char *plugin = t_subdir(root, "repro");
    t_write(plugin, "a.c", "#include \"a.h\"\nint a(void) { return A; }\n");
    t_write(plugin, "a.h", "#define A 7\n");
    t_write(plugin, "b.c", "const char *b(void) { return __FILE__; }\n");
    reproducible_on(HB_ISOLATION_LOCAL, plugin);
    if (hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, NULL) == 0)
        reproducible_on(HB_ISOLATION_NAMESPACE, plugin);
    else
        printf("note: namespace backend unavailable here; reproducibility checked on local\n");
    free(plugin);
}

/* Issue 12.3 (compiler side): the compiler gets the documented minimal
 * environment, not the manager's. */
static void test_minimal_env(void)
{
    char *plugin = t_subdir(root, "env");
    char *dump = path2(root, "env.out");
    t_write(plugin, "e.c", "int e(void) { return 1; }\n");
    char *text = hb__asprintf("#!/bin/sh\n"
                              "case \"$*\" in *plugin.so*) env > '%s';; esac\n"
                              "exec '%s' \"$@\"\n",
                              dump, real_cc);
    char *wrap = write_script("env-cc.sh", text);
    HB_CHECK_OK(setenv("HB_TEST_SECRET_TOKEN", "hunter2", 1));
    HB_CHECK_OK(setenv("CPATH", "/nonexistent-cpath", 1));
    char *job = t_job(root), *err = NULL;
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = wrap;
    hb_compile_result res;
    int r = hb_compiler_run(&req, &res, &err);
    if (r != 0)
        HB_FAIL_("compile failed %d: %s\n%s", r, err ? err : "", res.diagnostics);
    void *data = NULL;
    size_t len = 0;
    HB_CHECK_OK(hb__read_file(dump, 1u << 20, &data, &len));
    HB_CHECK(strstr(data, "HB_TEST_SECRET_TOKEN") == NULL);
    HB_CHECK(strstr(data, "CPATH") == NULL);
    HB_CHECK_CONTAINS((char *)data, "LC_ALL=C\n");
    char *tmpdir = hb__asprintf("TMPDIR=%s\n", job);
    HB_CHECK_CONTAINS((char *)data, tmpdir);
    HB_CHECK_CONTAINS((char *)data, "PATH=");
    unsetenv("HB_TEST_SECRET_TOKEN");
    unsetenv("CPATH");
    free(tmpdir);
    free(data);
    hb_compile_result_release(&res);
    free(err);
    free(job);
    free(wrap);
    free(text);
    free(dump);
    free(plugin);
}

/* With an argument, runs only the case of that name. */
int main(int argc, char **argv)
{
    alarm(100);
    root = t_mkdtemp("hb-cinputs-");
    const char *cc = getenv("CC");
    HB_CHECK_OK(hb__find_program(cc && *cc ? cc : "cc", &real_cc));
    const char *only = argc > 1 ? argv[1] : NULL;
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {{"fifo", test_fifo_include},
                 {"stdin", test_dev_stdin_include},
                 {"never-settles", test_never_settles},
                 {"save-during-compile", test_save_during_compile},
                 {"reproducible", test_reproducible},
                 {"env", test_minimal_env}};
    for (size_t i = 0; i < HB_ARRAY_SIZE(cases); i++)
        if (!only || !strcmp(only, cases[i].name))
            cases[i].fn();
    hb__rm_rf(root);
    free(root);
    free(real_cc);
    printf("ok\n");
    return 0;
}
