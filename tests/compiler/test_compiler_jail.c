/* What a compiler gets and what is left of it (one case per process, named
 * by argv[1]):
 *   fds      the compiler inherits stdin/stdout/stderr and nothing else, on
 *            the local backend and, when bwrap works, the namespace one
 *            (a root manager's jail used to hand it the user-namespace fd);
 *   timeout  a namespace compile killed at its time limit takes every
 *            process of its jail with it before hb_compiler_run returns
 *            (the kill used to reach only bwrap's own process group). */
#include <dirent.h>
#include <stdio.h>

#include "ctest_util.h"

static char *root;

static char *make_cc(const char *name, const char *body)
{
    char *dir = t_subdir(root, "bin");
    char *script = hb__asprintf("#!/bin/sh\n"
                                "case \"$1\" in --version) echo 'fakecc 1.0'; exit 0;; esac\n"
                                "for a in \"$@\"; do [ \"$a\" = -fsyntax-only ] && exit 1; done\n"
                                "%s",
                                body);
    t_write(dir, name, script);
    char *path = hb__path_join(dir, name);
    HB_CHECK_OK(chmod(path, 0755));
    free(script);
    free(dir);
    return path;
}

static int compile_with(const char *cc, hb_isolation iso, unsigned timeout_ms,
                        hb_compile_result *res, char **err)
{
    char *plugin = t_subdir(root, "plugin"), *job = t_job(root);
    t_write(plugin, "a.c", "int a(void) { return 1; }\n");
    hb_compile_request req = t_request(plugin, job, NULL);
    req.cc = cc;
    req.isolation = iso;
    req.timeout_ms = timeout_ms;
    int r = hb_compiler_run(&req, res, err);
    free(job);
    free(plugin);
    return r;
}

/* Every fd `ls -l /proc/self/fd` shows besides 0-2 and ls's own listing of
 * /proc is a leak. */
static void check_fds(hb_isolation iso)
{
    char *cc = make_cc("fdcc", "ls -l /proc/self/fd\nexit 1\n"), *err = NULL;
    hb_compile_result res;
    int r = compile_with(cc, iso, 60000, &res, &err);
    if (r != HB_ECOMPILE)
        HB_FAIL_("expected HB_ECOMPILE, got %d (%s)", r, err ? err : "");
    printf("%s backend, the compiler's fds:\n%s", res.backend, res.diagnostics);
    int leaks = 0;
    for (const char *l = res.diagnostics; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
        const char *arrow = strstr(l, " -> ");
        const char *eol = strchr(l, '\n');
        if (!arrow || (eol && arrow > eol))
            continue;
        const char *num = arrow;
        while (num > l && num[-1] >= '0' && num[-1] <= '9')
            num--;
        int fd = atoi(num);
        if (fd <= 2 || !strncmp(arrow + 4, "/proc/", 6))
            continue;
        fprintf(stderr, "leaked into the compiler: %.*s\n",
                (int)(eol ? eol - l : (long)strlen(l)), l);
        leaks++;
    }
    HB_CHECK_EQ(leaks, 0);
    hb_compile_result_release(&res);
    free(err);
    free(cc);
}

static void test_fds(void)
{
    check_fds(HB_ISOLATION_LOCAL);
    char *why = NULL;
    if (hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, &why) != 0) {
        printf("namespace backend unavailable (%s): local only\n", why ? why : "?");
        free(why);
        return;
    }
    check_fds(HB_ISOLATION_NAMESPACE);
}

/* Processes whose command line holds marker. */
static int count_marked(const char *marker)
{
    DIR *d = opendir("/proc");
    HB_CHECK(d != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[sizeof("/proc//cmdline") + sizeof(de->d_name)], buf[4096];
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        for (ssize_t i = 0; i < len; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[len > 0 ? len : 0] = 0;
        if (strstr(buf, marker))
            n++;
    }
    closedir(d);
    return n;
}

static void test_timeout(void)
{
    char *why = NULL;
    if (hb_compiler_backend_probe(HB_ISOLATION_NAMESPACE, &why) != 0)
        HB_SKIP("namespace backend unavailable: %s", why ? why : "?");
    char marker[64];
    snprintf(marker, sizeof(marker), "hbjailmark%ld", (long)getpid());
    /* A compiler whose helpers leave its session and process group and
     * close the output pipe, as a daemon would. */
    char *body = hb__asprintf("setsid sh -c 'while :; do :; done; : %s' </dev/null >/dev/null "
                              "2>&1 &\n"
                              "while :; do :; done\n",
                              marker);
    char *cc = make_cc("hangcc", body), *err = NULL;
    hb_compile_result res;
    int r = compile_with(cc, HB_ISOLATION_NAMESPACE, 1500, &res, &err);
    /* Right away: the jail must already be gone. */
    int left = count_marked(marker);
    if (r != HB_EHUNG)
        HB_FAIL_("expected HB_EHUNG, got %d (%s)", r, err ? err : "");
    HB_CHECK_EQ(left, 0);
    hb_compile_result_release(&res);
    free(err);
    free(cc);
    free(body);
}

int main(int argc, char **argv)
{
    root = t_mkdtemp("hb-cjail-");
    HB_CHECK_OK(chmod(root, 0755));
    const char *which = argc > 1 ? argv[1] : "";
    if (!strcmp(which, "fds"))
        test_fds();
    else if (!strcmp(which, "timeout"))
        test_timeout();
    else
        HB_FAIL_("unknown case '%s' (fds, timeout)", which);
    hb__rm_rf(root);
    free(root);
    return 0;
}
