/* tests/harness/test_options.c - the public options structs accept every
 * version from 1 to the current one (missing fields default), refuse 0 and
 * newer versions with HB_EOPTVERSION, and every error code has its text.
 * One case per process: test_options <case>. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/hb-options-XXXXXX";
    char *d = mkdtemp(tmpl);
    HB_CHECK(d != NULL);
    return strdup(d);
}

static void case_manager_init_versions(void)
{
    hb_manager_options o;
    memset(&o, 0xAB, sizeof(o));
    const char *sentinel = (const char *)(uintptr_t)0x1234;
    o.cc_origin = sentinel;
    /* Version 1 callers have no cc_origin: it must not be written. */
    HB_CHECK_OK(hb_manager_options_init(&o, 1));
    HB_CHECK_EQ(o.version, 1u);
    HB_CHECK(o.state_dir == NULL);
    HB_CHECK_EQ((int)o.isolation, (int)HB_ISOLATION_AUTO);
    HB_CHECK(o.cc_origin == sentinel);
    HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
    HB_CHECK_EQ(o.version, (unsigned)HB_MANAGER_OPTIONS_VERSION);
    HB_CHECK(o.cc_origin == NULL);
    HB_CHECK_EQ(hb_manager_options_init(&o, 0), HB_EOPTVERSION);
    HB_CHECK_EQ(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION + 1), HB_EOPTVERSION);
    HB_CHECK_EQ(hb_manager_options_init(NULL, 1), -EINVAL);
}

static void case_manager_new_versions(void)
{
    char *dir = tmpdir();
    hb_manager_options o = HB_MANAGER_OPTIONS_INIT;
    o.state_dir = dir;
    hb_manager *m = NULL;
    o.version = 0;
    HB_CHECK_EQ(hb_manager_new(&o, &m), HB_EOPTVERSION);
    HB_CHECK(m == NULL);
    o.version = HB_MANAGER_OPTIONS_VERSION + 1;
    HB_CHECK_EQ(hb_manager_new(&o, &m), HB_EOPTVERSION);
    HB_CHECK(m == NULL);
    /* A version-1 caller's struct ends before cc_origin: whatever lies
     * there is not read as a field. */
    o.version = 1;
    o.cc_origin = (const char *)(uintptr_t)1;
    HB_CHECK_OK(hb_manager_new(&o, &m));
    HB_CHECK(m != NULL);
    HB_CHECK_STR(hb_manager_state_dir(m) ? "set" : "unset", "set");
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    HB_CHECK_EQ(so.version, (unsigned)HB_SANDBOX_OPTIONS_VERSION);
    hb_sandbox *sb = NULL;
    so.version = HB_SANDBOX_OPTIONS_VERSION + 1;
    HB_CHECK_EQ(hb_sandbox_new(m, &so, &sb), HB_EOPTVERSION);
    HB_CHECK(sb == NULL);
    HB_CHECK(strstr(hb_manager_last_error(m), "options version") != NULL);
    so.version = 0;
    HB_CHECK_EQ(hb_sandbox_new(m, &so, &sb), HB_EOPTVERSION);
    HB_CHECK_EQ(hb_sandbox_options_init(&so, 0), HB_EOPTVERSION);
    HB_CHECK_OK(hb_sandbox_options_init(&so, 1));
    HB_CHECK_EQ((int)so.profile, (int)HB_PROFILE_DEFAULT);
    hb_watch_options wo = HB_WATCH_OPTIONS_INIT;
    HB_CHECK_EQ(wo.version, (unsigned)HB_WATCH_OPTIONS_VERSION);
    hb_manager_free(m);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    HB_CHECK_EQ(system(cmd), 0);
    free(dir);
}

/* Every code in the table has its own text, not the generic fallbacks, and
 * the codes are contiguous from -1001 (append only). */
static void case_error_texts(void)
{
    int expect = -1001;
#define CHECK_CODE(name, value, text)                                       \
    HB_CHECK_EQ((int)(name), expect);                                       \
    expect--;                                                               \
    HB_CHECK_STR(hb_strerror(name), text);                                  \
    HB_CHECK(strcmp(hb_strerror(name), "unknown error") != 0);
    HB_ERROR_MAP(CHECK_CODE)
#undef CHECK_CODE
    HB_CHECK_EQ(HB_ECOMPILE, -1001);
    HB_CHECK_EQ(HB_EBADVERSION, -1027);
    HB_CHECK_EQ(HB_EOPTVERSION, -1028);
    HB_CHECK_STR(hb_strerror(0), "success");
    HB_CHECK_STR(hb_strerror(-ENOENT), strerror(ENOENT));
    HB_CHECK_STR(hb_strerror(-5000), "unknown error");
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"manager_init_versions", case_manager_init_versions},
        {"manager_new_versions", case_manager_new_versions},
        {"error_texts", case_error_texts},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
