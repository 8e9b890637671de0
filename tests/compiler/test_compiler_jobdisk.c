/* What a namespace compile may write to the host's disk (one case per
 * process, named by argv[1]). A compile runs code its plugin controls
 * (plugin.json's "-wrapper sh,-c,...", a repository's cc): it used to write
 * into the host's job directory directly, any number of files of up to
 * RLIMIT_FSIZE each, until the compile's time limit. Now the job directory
 * is a tmpfs inside the jail, copied out bounded by max_job_bytes and
 * max_job_files.
 *   bytes  the compiler writes twice max_job_bytes in 1 MiB files;
 *   files  it makes 1.5 times max_job_files empty files.
 * While it waits (on a FIFO) the host's job directory is measured: it must
 * hold no more than the limits. The compile then fails with HB_ELIMIT
 * naming the limit, and nothing is left in the job directory. */
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>

#include "ctest_util.h"

#define LIMIT_BYTES (8ull << 20)
#define LIMIT_FILES 1000ull

static char *root, *plugin, *job, *cc;
static hb_compile_request req;
static hb_compile_result res;
static char *cerr;
static int cr;

static void *compile_thread(void *arg)
{
    (void)arg;
    cr = hb_compiler_run(&req, &res, &cerr);
    return NULL;
}

static unsigned long long used_bytes, used_files;
static int measure_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    if (f->level == 0)
        return 0;
    used_files++;
    used_bytes += (unsigned long long)st->st_blocks * 512;
    return 0;
}

static void measure(void)
{
    used_bytes = used_files = 0;
    HB_CHECK_OK(nftw(job, measure_one, 16, FTW_PHYS));
}

static void run_case(const char *writer, const char *limit_name, unsigned long long limit)
{
    char *why = NULL;
    if (hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, &why) != 0)
        HB_SKIP("namespace backend unavailable: %s", why ? why : "?");
    plugin = t_subdir(root, "plugin");
    job = t_job(root);
    t_write(plugin, "a.c", "int a(void) { return 1; }\n");
    char *ready = hb__path_join(plugin, "ready"), *go = hb__path_join(plugin, "go");
    HB_CHECK_OK(mkfifo(ready, 0666));
    HB_CHECK_OK(mkfifo(go, 0666));
    HB_CHECK_OK(chmod(ready, 0666));
    HB_CHECK_OK(chmod(go, 0666));
    char *bin = t_subdir(root, "bin");
    char *script = hb__asprintf("#!/bin/sh\n"
                                "case \"$1\" in --version) echo 'fakecc 1.0'; exit 0;; esac\n"
                                "case \"$HOME\" in */probe-*) exit 1;; esac\n" /* the probe: its own job dir */
                                "%s\n"
                                "echo written > '%s'\n"
                                "read x < '%s'\n"
                                "exit 0\n",
                                writer, ready, go);
    t_write(bin, "diskcc", script);
    cc = hb__path_join(bin, "diskcc");
    HB_CHECK_OK(chmod(cc, 0755));
    HB_CHECK_OK(chmod(bin, 0755));
    HB_CHECK_OK(chmod(plugin, 0755));
    req = t_request(plugin, job, NULL);
    req.cc = cc;
    req.isolation = HB_ISOLATION_NAMESPACE;
    req.max_job_bytes = LIMIT_BYTES;
    req.max_job_files = LIMIT_FILES;

    int rfd = open(ready, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    HB_CHECK(rfd >= 0);
    pthread_t t;
    HB_CHECK_OK(pthread_create(&t, NULL, compile_thread, NULL));
    /* The compiler has written everything and waits: measure the host. */
    struct pollfd p = {rfd, POLLIN, 0};
    int pr = poll(&p, 1, 60000);
    if (pr != 1)
        HB_FAIL_("the compiler never said it had written (poll %d)", pr);
    measure();
    printf("%s: the host's job directory holds %llu bytes in %llu files while the compile "
           "waits (limits %llu bytes, %llu files)\n",
           limit_name, used_bytes, used_files, LIMIT_BYTES, LIMIT_FILES);
    int wfd = open(go, O_WRONLY | O_CLOEXEC);
    HB_CHECK(wfd >= 0);
    HB_CHECK_OK(hb__write_full(wfd, "\n", 1));
    close(wfd);
    close(rfd);
    HB_CHECK_OK(pthread_join(t, NULL));
    HB_CHECK(used_bytes <= LIMIT_BYTES);
    HB_CHECK(used_files <= LIMIT_FILES);
    printf("compile: %d (%s)\n", cr, cerr ? cerr : "");
    HB_CHECK_EQ(cr, HB_ELIMIT);
    char lim[64];
    snprintf(lim, sizeof(lim), "%llu", limit);
    HB_CHECK(cerr && strstr(cerr, limit_name) && strstr(cerr, lim));
    measure();
    HB_CHECK_EQ(used_files, 0);
    hb_compile_result_release(&res);
    free(cerr);
    free(script);
    free(bin);
    free(ready);
    free(go);
}

int main(int argc, char **argv)
{
    root = t_mkdtemp("hb-cjobdisk-");
    HB_CHECK_OK(chmod(root, 0755));
    const char *which = argc > 1 ? argv[1] : "";
    if (!strcmp(which, "bytes"))
        /* 16 files of 1 MiB, in the job directory and its HOME (the same) */
        run_case("i=0; while [ $i -lt 16 ]; do head -c 1048576 /dev/zero > \"$HOME/f$i\"; "
                 "i=$((i+1)); done",
                 "max_job_bytes", LIMIT_BYTES);
    else if (!strcmp(which, "files"))
        run_case("mkdir \"$HOME/d\"; i=0; while [ $i -lt 1500 ]; do : > \"$HOME/d/f$i\"; i=$((i+1)); done",
                 "max_job_files", LIMIT_FILES);
    else
        HB_FAIL_("usage: test_compiler_jobdisk bytes|files");
    if (!getenv("HB_TEST_KEEP"))
        (void)hb__rm_rf(root);
    return 0;
}
