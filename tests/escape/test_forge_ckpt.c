/* tests/escape/test_forge_ckpt.c - the state a swap and a restore take in:
 *
 * swap_version: plugin code forges the CHECKPOINT frame of a swap claiming
 *   another version (tests/escape/plugins/forge_ckpt): the manager refuses
 *   it naming the claimed and the real version, kills the worker and keeps
 *   the last good state (the checkpoint before); the old version serves.
 * restore_oversize: a stored snapshot larger than the sandbox's
 *   max_state_size is refused on restore with what really happened (the
 *   snapshot's size, the limit, plugin and version), not a forged reply;
 *   the plugin keeps its state. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"
#include "escape_env.h"
#include "ring.h"

static char root[4096];
static hb_manager *mgr;

static void cleanup(void)
{
    hb_escape_cleanup(&mgr, root);
}

static hb_sandbox *sandbox(size_t max_state)
{
    if (!mgr) {
        mgr = hb_escape_manager_new(root, sizeof(root), "hb-forge-ckpt", NULL);
        atexit(cleanup);
    }
    return hb_escape_sandbox_of(mgr, HB_PROFILE_STANDARD, max_state);
}

/* A copy of the plugin (and the header it shares, forge.h) in the
 * test's directory (a reload edits it). */
static void load_copy(hb_sandbox *sb, char *dir, size_t len)
{
    snprintf(dir, len, "%s/forge_ckpt", root);
    char cmd[9000];
    snprintf(cmd, sizeof(cmd),
             "rm -rf '%s' && cp -r '%s/tests/escape/plugins/forge_ckpt' '%s' && "
             "cp '%s/tests/escape/plugins/forge.h' '%s'",
             dir, HB_SOURCE_DIR, dir, HB_SOURCE_DIR, root);
    HB_CHECK(system(cmd) == 0);
    if (hb_load(sb, dir) != 0)
        HB_FAIL_("loading %s: %s", dir, hb_sandbox_last_error(sb));
}

static int64_t get(hb_sandbox *sb)
{
    int64_t v = -1;
    int rc = hb_callf(sb, "forge_ckpt", "get", ")l", &v);
    if (rc == HB_ESTATELOST) /* a restart said so once: ask again */
        rc = hb_callf(sb, "forge_ckpt", "get", ")l", &v);
    if (rc != 0)
        HB_FAIL_("get: %d: %s", rc, hb_sandbox_last_error(sb));
    return v;
}

static void case_swap_version(void)
{
    hb_sandbox *sb = sandbox(0);
    char dir[4200];
    load_copy(sb, dir, sizeof(dir));
    int64_t v = 0;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "forge_ckpt", "bump", ")l", &v));
    HB_CHECK_EQ(v, 3);
    HB_CHECK_OK(hb_checkpoint(sb, "forge_ckpt")); /* the last good state: 3 */
    uint64_t v1 = 0, now = 0;
    HB_CHECK_OK(hb_active_version(sb, "forge_ckpt", &v1));
    int32_t armed = -1;
    HB_CHECK_OK(hb_callf(sb, "forge_ckpt", "arm", "i)i", (int32_t)offsetof(hb_ring, req),
                         &armed));
    HB_CHECK_EQ(armed, 0);
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "sed -i 's/#define BUMP 1 /#define BUMP 10 /' '%s/x.c'", dir);
    HB_CHECK(system(cmd) == 0);
    int r = hb_reload(sb, "forge_ckpt");
    const char *e = hb_sandbox_last_error(sb);
    printf("reload with a forged checkpoint: %d: %s\n", r, e);
    HB_CHECK(r != 0);
    HB_CHECK_CONTAINS(e, "CHECKPOINT for forge_ckpt v424242");
    char want[128];
    snprintf(want, sizeof(want), "during the swap of forge_ckpt v%llu", (unsigned long long)v1);
    HB_CHECK_CONTAINS(e, want);
    HB_CHECK_CONTAINS(e, "worker killed");
    /* the old version serves, with the last good state */
    HB_CHECK_OK(hb_active_version(sb, "forge_ckpt", &now));
    HB_CHECK_EQ(now, v1);
    HB_CHECK_EQ(get(sb), 3);
    HB_CHECK_OK(hb_callf(sb, "forge_ckpt", "bump", ")l", &v));
    HB_CHECK_EQ(v, 4);
    hb_sandbox_free(sb);
}

static void case_restore_oversize(void)
{
    /* a snapshot of 64 KiB + 8 bytes, taken where the limit allows it */
    hb_sandbox *big = sandbox(1u << 20);
    char dir[4200];
    load_copy(big, dir, sizeof(dir));
    int64_t v = 0;
    HB_CHECK_OK(hb_callf(big, "forge_ckpt", "bump", ")l", &v));
    int32_t ok = -1;
    HB_CHECK_OK(hb_callf(big, "forge_ckpt", "pad", "i)i", (int32_t)(64 << 10), &ok));
    HB_CHECK_OK(hb_snapshot_save(big, "forge_ckpt", "large"));
    uint64_t ver = 0;
    HB_CHECK_OK(hb_active_version(big, "forge_ckpt", &ver));
    hb_sandbox_free(big);
    /* restored where the limit is 4 KiB */
    hb_sandbox *sb = sandbox(4096);
    load_copy(sb, dir, sizeof(dir));
    for (int i = 0; i < 5; i++)
        HB_CHECK_OK(hb_callf(sb, "forge_ckpt", "bump", ")l", &v));
    int r = hb_snapshot_restore(sb, "forge_ckpt", "large");
    const char *e = hb_sandbox_last_error(sb);
    printf("restore of a snapshot over the limit: %d: %s\n", r, e);
    HB_CHECK_EQ(r, HB_ESTATESIZE);
    char want[256];
    snprintf(want, sizeof(want),
             "stored snapshot large of forge_ckpt (saved by v%llu) is 65544 bytes, more than "
             "this sandbox's max_state_size 4096",
             (unsigned long long)ver);
    HB_CHECK_CONTAINS(e, want);
    if (strstr(e, "forged"))
        HB_FAIL_("the error suggests a forgery: %s", e);
    HB_CHECK_EQ(get(sb), 5); /* it keeps its state */
    hb_sandbox_free(sb);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        HB_FAIL_("usage: test_forge_ckpt CASE");
    const char *c = argv[1];
    if (!strcmp(c, "swap_version"))
        case_swap_version();
    else if (!strcmp(c, "restore_oversize"))
        case_restore_oversize();
    else
        HB_FAIL_("unknown case %s", c);
    printf("PASS forge_ckpt %s\n", c);
    return 0;
}
