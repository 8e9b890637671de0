/* Profiles table and the ELF import policy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hbtest.h"
#include "security.h"

static int check(hb_profile p, char **imports, char **needed, char **err)
{
    free(*err);
    *err = NULL;
    return hb_sec_check_imports(p, imports, needed, err);
}

int main(void)
{
    HB_CHECK_STR(hb_profile_name(HB_PROFILE_STRICT), "strict");
    HB_CHECK_STR(hb_profile_name(HB_PROFILE_STANDARD), "standard");
    HB_CHECK_STR(hb_profile_name(HB_PROFILE_PERMISSIVE), "permissive");
    HB_CHECK_STR(hb_profile_name(HB_PROFILE_DEFAULT), "standard");
    HB_CHECK_STR(hb_profile_name((hb_profile)42), "unknown");
    hb_profile p;
    HB_CHECK_OK(hb_sec_profile_parse("strict", &p));
    HB_CHECK_EQ(p, HB_PROFILE_STRICT);
    HB_CHECK_OK(hb_sec_profile_parse("permissive", &p));
    HB_CHECK_EQ(p, HB_PROFILE_PERMISSIVE);
    HB_CHECK_EQ(hb_sec_profile_parse("lax", &p), -EINVAL);
    HB_CHECK(hb_sec_profile(HB_PROFILE_STRICT)->deny_wx);
    HB_CHECK(!hb_sec_profile(HB_PROFILE_STANDARD)->deny_wx);
    HB_CHECK(!hb_sec_profile(HB_PROFILE_PERMISSIVE)->seccomp);
    HB_CHECK(hb_sec_profile(HB_PROFILE_STANDARD)->namespaces);

    char *err = NULL;
    /* A computing plugin passes everywhere. */
    char *calm[] = {"malloc@GLIBC_2.2.5", "free", "memcpy", "sqrt", NULL};
    char *libc[] = {"libc.so.6", "libm.so.6", NULL};
    HB_CHECK_OK(check(HB_PROFILE_STRICT, calm, libc, &err));
    HB_CHECK_OK(check(HB_PROFILE_STANDARD, calm, libc, &err));
    HB_CHECK_OK(check(HB_PROFILE_STRICT, NULL, NULL, &err));

    /* Every offender is named once, sorted, without symbol versions. */
    char *bad[] = {"system@GLIBC_2.2.5", "popen", "malloc", "socket", "execvp", "execvp",
                   "dlsym", "posix_spawnp", "exec_helper_not_libc", NULL};
    char *libs[] = {"libcurl.so.4", "libc.so.6", "libssl.so.3", NULL};
    HB_CHECK_EQ(check(HB_PROFILE_STRICT, bad, libs, &err), HB_EPOLICY);
    HB_CHECK_STR(err, "refused by the strict profile: imports dlsym, exec_helper_not_libc, "
                      "execvp, popen, posix_spawnp, socket, system; needs libcurl.so.4, "
                      "libssl.so.3");
    /* standard: process creation and exec only; any library. */
    HB_CHECK_EQ(check(HB_PROFILE_STANDARD, bad, libs, &err), HB_EPOLICY);
    HB_CHECK_STR(err, "refused by the standard profile: imports exec_helper_not_libc, execvp, "
                      "popen, posix_spawnp, system");
    char *net[] = {"socket", "connect", "dlopen", NULL};
    HB_CHECK_OK(check(HB_PROFILE_STANDARD, net, libs, &err));
    /* Libraries alone. */
    char *curl[] = {"libcurl.so.4", NULL};
    HB_CHECK_EQ(check(HB_PROFILE_STRICT, calm, curl, &err), HB_EPOLICY);
    HB_CHECK_STR(err, "refused by the strict profile: needs libcurl.so.4");
    /* permissive allows everything. */
    HB_CHECK_OK(check(HB_PROFILE_PERMISSIVE, bad, libs, &err));
    HB_CHECK_EQ(check((hb_profile)42, bad, libs, &err), -EINVAL);
    /* A near miss is not a match: "systemd_x" is not "system". */
    char *near[] = {"systemd_x", "forkx", "kill_switch", NULL};
    HB_CHECK_OK(check(HB_PROFILE_STRICT, near, NULL, &err));
    free(err);

    hb_sb rep = HB_SB_INIT;
    HB_CHECK_OK(hb_sec_report(&rep));
    printf("%s", rep.buf);
    HB_CHECK_CONTAINS(rep.buf, "seccomp filters: ");
    HB_CHECK_CONTAINS(rep.buf, "bubblewrap namespaces: ");
    HB_CHECK_CONTAINS(rep.buf, "cgroup v2: ");
    HB_CHECK_CONTAINS(rep.buf, "profile strict: ");
    hb__sb_release(&rep);
    puts("PASS test_profile");
    return 0;
}
