/* The worker's command line, on the two things a root manager must not
 * hand to a root process (security/wrap.c):
 *  - unjailed: a strict or standard worker is told to drop root
 *    (--run-as ID:ID, security/rootdrop.c) to an id of its view's own
 *    (jail.h: worker ids; two views, two ids; no view: refused) and
 *    hb_sec_cmd.run_as is set; permissive, or an unprivileged manager:
 *    neither; strict and standard start in / (--chdir);
 *  - jailed: plugin.json runtime.env (and an instrumented build's
 *    variables) reach the worker through bwrap's --setenv, never bwrap's
 *    own environment (bwrap runs as root under a root manager). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "jail.h"
#include "security.h"

static bool has_arg(char **v, const char *a)
{
    for (size_t i = 0; v[i]; i++)
        if (strcmp(v[i], a) == 0)
            return true;
    return false;
}

/* "a b c" in order, before the "--" that ends bwrap's options */
static bool has_triple_opt(char **v, const char *a, const char *b, const char *c)
{
    for (size_t i = 0; v[i] && v[i + 1] && v[i + 2] && strcmp(v[i], "--") != 0; i++)
        if (!strcmp(v[i], a) && !strcmp(v[i + 1], b) && !strcmp(v[i + 2], c))
            return true;
    return false;
}

static char *env[] = {"FOO=bar=baz", NULL};
static char *inst[] = {"GCOV_PREFIX=/cov", NULL};

/* The value after option a in v, or NULL. */
static const char *opt_value(char **v, const char *a)
{
    for (size_t k = 0; v[k] && v[k + 1]; k++)
        if (!strcmp(v[k], a))
            return v[k + 1];
    return NULL;
}

/* In a child: the jail verdict is per process. */
static int unjailed_child(void)
{
    setenv("HOTBOX_BWRAP", "", 1);
    bool root = geteuid() == 0;
    hb_profile ps[] = {HB_PROFILE_STRICT, HB_PROFILE_STANDARD, HB_PROFILE_PERMISSIVE};
    char *views[3] = {NULL, NULL, NULL};
    unsigned got[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        char *err = NULL;
        if (hb_jail_view_new(NULL, &views[i], &err) != 0)
            return 50 + i;
        hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = ps[i],
                           .channel_fd = 3, .env = env, .inst_env = inst,
                           .objects_src = views[i]};
        hb_sec_cmd c = {0};
        if (hb_sec_wrap(&sp, &c, &err) != 0 || c.wrapped)
            return 10 + i;
        bool want = root && ps[i] != HB_PROFILE_PERMISSIVE;
        /* --run-as ID:ID, the view's own id from the worker range, the
         * view's group */
        const char *ids_arg = opt_value(c.argv, "--run-as");
        char ids_buf[64] = "";
        if (ids_arg) /* kept past the release of c below */
            snprintf(ids_buf, sizeof(ids_buf), "%s", ids_arg);
        const char *ids = ids_arg ? ids_buf : NULL;
        unsigned u = 0, g = 0;
        struct stat st;
        if (ids && (sscanf(ids, "%u:%u", &u, &g) != 2 || u != g || u < HB_WORKER_ID_FIRST ||
                    u - HB_WORKER_ID_FIRST >= HB_WORKER_ID_COUNT || stat(views[i], &st) != 0 ||
                    st.st_gid != g || st.st_uid != 0 || (st.st_mode & 07777) != 0710))
            return 60 + i;
        got[i] = u;
        if ((ids != NULL) != want || c.run_as != want)
            return 20 + i;
        if (want && !strstr(c.warning, "drops root"))
            return 30 + i;
        /* a worker that asks for a private view starts in /, not here */
        const char *cd = opt_value(c.argv, "--chdir");
        if (ps[i] != HB_PROFILE_PERMISSIVE ? !cd || strcmp(cd, "/") != 0 : cd != NULL)
            return 70 + i;
        /* unjailed, the worker gets them in its environment directly */
        if (!has_arg(c.envp, "FOO=bar=baz") || !has_arg(c.envp, "GCOV_PREFIX=/cov"))
            return 40 + i;
        hb_sec_cmd_release(&c);
        /* the same view (a restart, its spare): the same id */
        if (want && (hb_sec_wrap(&sp, &c, &err) != 0 || !opt_value(c.argv, "--run-as") ||
                     strcmp(opt_value(c.argv, "--run-as"), ids ? ids : "") != 0))
            return 80 + i;
        if (want)
            hb_sec_cmd_release(&c);
    }
    /* two sandboxes: two ids */
    if (root && got[0] == got[1])
        return 90;
    /* no view, no id of its own: refused, never the shared uid */
    hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = HB_PROFILE_STANDARD,
                       .channel_fd = 3};
    hb_sec_cmd c = {0};
    char *err = NULL;
    int r = hb_sec_wrap(&sp, &c, &err);
    if (root ? r != -EINVAL || !err || !strstr(err, "uid of its own") : r != 0)
        return 91;
    if (r == 0)
        hb_sec_cmd_release(&c);
    free(err);
    for (int i = 0; i < 3; i++)
        hb_jail_view_free(views[i]);
    return 0;
}

int main(void)
{
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0)
        _exit(unjailed_child());
    int st;
    HB_CHECK(waitpid(p, &st, 0) == p);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0);

    const char *why = hb_jail_unavailable();
    if (why) {
        printf("SKIP: bubblewrap unavailable (%s); only the unjailed command was checked\n",
               why);
        return 77;
    }
    hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = HB_PROFILE_STANDARD,
                       .channel_fd = 3, .env = env, .inst_env = inst};
    hb_sec_cmd c = {0};
    char *err = NULL;
    HB_CHECK_OK(hb_sec_wrap(&sp, &c, &err));
    HB_CHECK(c.wrapped);
    HB_CHECK(!c.run_as);
    HB_CHECK(!has_arg(c.argv, "--run-as"));
    HB_CHECK(has_triple_opt(c.argv, "--setenv", "FOO", "bar=baz"));
    HB_CHECK(has_triple_opt(c.argv, "--setenv", "GCOV_PREFIX", "/cov"));
    HB_CHECK(!has_arg(c.envp, "FOO=bar=baz"));
    HB_CHECK(!has_arg(c.envp, "GCOV_PREFIX=/cov"));
    HB_CHECK(has_arg(c.envp, "PATH=/usr/bin:/bin"));
    hb_sec_cmd_release(&c);
    printf("PASS wrap_env\n");
    return 0;
}
