/* The worker's command line, on the two things a root manager must not
 * hand to a root process (security/wrap.c):
 *  - unjailed: a strict or standard worker is told to drop root
 *    (--run-as UID:GID, security/rootdrop.c) and hb_sec_cmd.run_as is set;
 *    permissive, or an unprivileged manager: neither;
 *  - jailed: plugin.json runtime.env (and an instrumented build's
 *    variables) reach the worker through bwrap's --setenv, never bwrap's
 *    own environment (bwrap runs as root under a root manager). */
#include <stdlib.h>
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

/* In a child: the jail verdict is per process. */
static int unjailed_child(void)
{
    setenv("HOTBOX_BWRAP", "", 1);
    char ids[64];
    snprintf(ids, sizeof(ids), "%u:%u", HB_JAIL_HOST_UID, HB_JAIL_HOST_GID);
    hb_profile ps[] = {HB_PROFILE_STRICT, HB_PROFILE_STANDARD, HB_PROFILE_PERMISSIVE};
    for (int i = 0; i < 3; i++) {
        hb_sec_spawn sp = {.worker_path = "/opt/w/hotbox-worker", .profile = ps[i],
                           .channel_fd = 3, .env = env, .inst_env = inst};
        hb_sec_cmd c = {0};
        char *err = NULL;
        if (hb_sec_wrap(&sp, &c, &err) != 0 || c.wrapped)
            return 10 + i;
        bool want = geteuid() == 0 && ps[i] != HB_PROFILE_PERMISSIVE;
        bool has = false;
        for (size_t k = 0; c.argv[k] && c.argv[k + 1]; k++)
            if (!strcmp(c.argv[k], "--run-as") && !strcmp(c.argv[k + 1], ids))
                has = true;
        if (has != want || c.run_as != want || has_arg(c.argv, "--run-as") != want)
            return 20 + i;
        if (want && !strstr(c.warning, "drops root"))
            return 30 + i;
        /* unjailed, the worker gets them in its environment directly */
        if (!has_arg(c.envp, "FOO=bar=baz") || !has_arg(c.envp, "GCOV_PREFIX=/cov"))
            return 40 + i;
        hb_sec_cmd_release(&c);
    }
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
