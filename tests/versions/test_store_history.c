/* tests/versions/test_store_history.c - the small history questions of
 * versions/history.c answer as the whole-record reads they replaced:
 *   lists  hb_store_version_list (hb_version_depends/_exports) gives each
 *          version's depends and exports list as its whole record does,
 *          reading only that list's rows;
 *   pin    hb_pin (status lookups and the statuses above its target) leaves
 *          every version's status, and returns the code and version, as
 *          the old hb_pin (hb_store_list + hb_policy_fallback) did, for
 *          the default target, every stored version and a missing one.
 * One case per process: test_store_history <case>. */
#include <stdio.h>
#include <string.h>

#include "hotbox/hotbox.h"
#include "policy.h"
#include "vstore.h"

#define NVERSIONS 40u

/* Version i of "p", with lists, and a status cycling through all five. */
static void add_version(hb_store *s, const char *dir, unsigned i)
{
    char name[64], body[96], e1[32], e2[32], d1[32], in1[32];
    snprintf(name, sizeof(name), "obj-%u", i);
    snprintf(body, sizeof(body), "object p %u", i);
    char *path = vt_path(dir, name);
    vt_write_str(path, body);
    snprintf(e1, sizeof(e1), "zf_%u", i);
    snprintf(e2, sizeof(e2), "af_%u", i);
    snprintf(d1, sizeof(d1), "dep%u", i % 3);
    snprintf(in1, sizeof(in1), "/src/p%u.c", i);
    char *exports[] = {e1, e2, NULL}, *depends[] = {d1, NULL}, *inputs[] = {in1, NULL};
    hb_version_rec meta = {.exports = i % 4 ? exports : NULL, .depends = i % 2 ? depends : NULL,
                           .inputs = inputs};
    hb_version_rec rec;
    bool created = false;
    char *err = NULL;
    if (hb_store_add(s, "p", path, &meta, &rec, &created, &err) != 0)
        HB_FAIL_("hb_store_add p %u: %s", i, err ? err : "?");
    HB_CHECK_EQ(rec.version, i);
    hb_version_rec_release(&rec);
    unlink(path);
    free(path);
    unsigned k = (i * 7 + i / 5) % 5;
    if (k == 1 || k == 2 || k == 4)
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_ACTIVE));
    if (k == 2)
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_GOOD));
    if (k == 3)
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_BAD));
    if (k == 4)
        HB_CHECK_OK(hb_store_set_status(s, "p", i, HB_VERSION_ROLLED_BACK));
}

static void make_history(const char *state)
{
    hb_store *s = vs_open(state);
    for (unsigned i = 1; i <= NVERSIONS; i++)
        add_version(s, vs_dir, i);
    hb_store_close(s);
}

static void same_list(char *const *want, char *const *got)
{
    size_t n = hb__strv_len(want);
    HB_CHECK_EQ(hb__strv_len(got), n);
    for (size_t i = 0; i < n; i++)
        HB_CHECK_STR(got[i], want[i]);
}

static void run_lists(void)
{
    char *state = vt_path(vs_dir, "state");
    make_history(state);
    hb_store *s = vs_open(state);
    for (uint64_t v = 0; v <= NVERSIONS + 1; v++) {
        hb_version_rec rec = {0};
        int want = v ? hb_store_get(s, "p", v, &rec) : hb_store_latest(s, "p", &rec);
        for (int k = 0; k < 2; k++) {
            char **got = NULL;
            uint64_t before = hb_store_list_items_read(s);
            int r = hb_store_version_list(s, "p", v, k ? HB_STORE_LIST_DEPENDS
                                                       : HB_STORE_LIST_EXPORTS, &got);
            uint64_t read = hb_store_list_items_read(s) - before;
            if (want != 0) {
                HB_CHECK_EQ(want, -ENOENT);
                HB_CHECK_EQ(r, -ENOENT);
                HB_CHECK_EQ(read, 0u);
                continue;
            }
            HB_CHECK_OK(r);
            char **list = k ? rec.depends : rec.exports;
            same_list(list, got);
            HB_CHECK_EQ(read, hb__strv_len(list)); /* that list's rows, no other */
            hb__strv_free(got);
        }
        if (want == 0)
            hb_version_rec_release(&rec);
    }
    hb_store_close(s);
    free(state);
}

/* hb_pin as it was: the whole history read (hb_store_list). Returns its
 * code; *got the pinned version. */
static int old_pin(hb_store *s, uint64_t version, uint64_t *got)
{
    hb_version_rec *v = NULL;
    size_t n = 0;
    int r = hb_store_list(s, "p", &v, &n);
    if (r < 0 || n == 0) {
        hb_store_list_free(v, n);
        return HB_ENOVERSION;
    }
    size_t target = n;
    if (version) {
        for (size_t i = 0; i < n; i++)
            if (v[i].version == version)
                target = i;
    } else {
        size_t i = hb_policy_fallback(v, n - 1, UINT64_MAX, 0);
        if (i != HB_POLICY_NONE)
            target = i;
    }
    if (target == n || v[target].status == HB_VERSION_BAD) {
        hb_store_list_free(v, n);
        return HB_ENOVERSION;
    }
    for (size_t i = target + 1; i < n; i++)
        if (v[i].status != HB_VERSION_BAD)
            hb_store_set_status(s, "p", v[i].version, HB_VERSION_ROLLED_BACK);
    hb_store_set_status(s, "p", v[target].version, HB_VERSION_GOOD);
    *got = v[target].version;
    hb_store_list_free(v, n);
    return 0;
}

/* The statuses of every version of the store at state. */
static void statuses(const char *state, hb_version_status out[NVERSIONS + 1])
{
    hb_store *s = vs_open(state);
    for (unsigned i = 1; i <= NVERSIONS; i++)
        HB_CHECK_OK(hb_store_status(s, "p", i, &out[i]));
    hb_store_close(s);
}

static void run_pin(void)
{
    unsigned checked = 0, refused = 0;
    for (uint64_t target = 0; target <= NVERSIONS + 1; target++) {
        char name[64];
        snprintf(name, sizeof(name), "old-%llu", (unsigned long long)target);
        char *a = vt_path(vs_dir, name);
        snprintf(name, sizeof(name), "new-%llu", (unsigned long long)target);
        char *b = vt_path(vs_dir, name);
        make_history(a);
        make_history(b);
        hb_store *s = vs_open(a);
        uint64_t want = 0, got = 0;
        int wr = old_pin(s, target, &want);
        hb_store_close(s);
        hb_manager_options o;
        HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
        o.state_dir = b;
        o.isolation = HB_ISOLATION_LOCAL;
        o.worker_pool = 0;
        hb_manager *m = NULL;
        HB_CHECK_OK(hb_manager_new(&o, &m));
        int r = hb_pin(m, "p", target, &got);
        if (r != wr)
            HB_FAIL_("pin %llu: %d, before %d (%s)", (unsigned long long)target, r, wr,
                     hb_manager_last_error(m));
        hb_manager_free(m);
        HB_CHECK_EQ(got, want);
        hb_version_status sa[NVERSIONS + 1], sb[NVERSIONS + 1];
        statuses(a, sa);
        statuses(b, sb);
        for (unsigned i = 1; i <= NVERSIONS; i++)
            if (sa[i] != sb[i])
                HB_FAIL_("pin %llu: v%u is %s, before %s", (unsigned long long)target, i,
                         hb_version_status_name(sb[i]), hb_version_status_name(sa[i]));
        checked++;
        refused += r != 0;
        free(a);
        free(b);
    }
    printf("%u pins compared (%u refused)\n", checked, refused);
    HB_CHECK(refused > 0 && refused < checked);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        HB_FAIL_("usage: test_store_history lists|pin");
    if (!strcmp(argv[1], "lists"))
        vs_in_tmpdir("hb-history-", run_lists);
    else if (!strcmp(argv[1], "pin"))
        vs_in_tmpdir("hb-history-", run_pin);
    else
        HB_FAIL_("unknown case %s", argv[1]);
    printf("PASS store_history %s\n", argv[1]);
    return 0;
}
