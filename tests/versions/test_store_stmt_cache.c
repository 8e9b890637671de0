/* tests/versions/test_store_stmt_cache.c - the store compiles each SQL
 * statement once per connection and reuses it: a second round of the
 * calls a reload makes (add, get, latest, find by input, status changes)
 * compiles nothing (hb_store_statements_prepared does not move), and the
 * results stay right. A kept statement holds no read transaction between
 * uses: a version another handle commits in between is seen at once. A
 * status change of a version that does not exist still fails with
 * -ENOENT. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "vtest.h"

static uint64_t add(hb_store *s, const char *dir, const char *bytes, const char *input_hash)
{
    char *obj = vt_path(dir, "obj");
    vt_write_str(obj, bytes);
    char *inputs[] = {"/src/a.c", "/usr/include/stdio.h", NULL};
    hb_version_rec meta, rec;
    memset(&meta, 0, sizeof(meta));
    snprintf(meta.input_hash, sizeof(meta.input_hash), "%s", input_hash);
    meta.inputs = inputs;
    bool created = false;
    char *err = NULL;
    if (hb_store_add(s, "p", obj, &meta, &rec, &created, &err) != 0)
        HB_FAIL_("hb_store_add: %s", err ? err : "?");
    HB_CHECK(created);
    uint64_t v = rec.version;
    hb_version_rec_release(&rec);
    free(obj);
    return v;
}

/* What one reload asks of the store, roughly; checks the answers. */
static void round_of_calls(hb_store *s, const char *dir, int i)
{
    char bytes[64], ih[HB_SHA256_HEX];
    snprintf(bytes, sizeof(bytes), "object p %d", i);
    snprintf(ih, sizeof(ih), "%064d", i);
    uint64_t v = add(s, dir, bytes, ih);
    hb_version_rec rec;
    HB_CHECK_OK(hb_store_find_input(s, "p", ih, &rec));
    HB_CHECK_EQ(rec.version, v);
    HB_CHECK(rec.inputs && rec.inputs[0] && !strcmp(rec.inputs[0], "/src/a.c"));
    hb_version_rec_release(&rec);
    HB_CHECK_OK(hb_store_latest(s, "p", &rec));
    HB_CHECK_EQ(rec.version, v);
    hb_version_rec_release(&rec);
    HB_CHECK_OK(hb_store_set_status(s, "p", v, HB_VERSION_ACTIVE));
    if (v > 1)
        HB_CHECK_OK(hb_store_set_status(s, "p", v - 1, HB_VERSION_GOOD));
    HB_CHECK_OK(hb_store_get(s, "p", v, &rec));
    HB_CHECK_EQ(rec.status, HB_VERSION_ACTIVE);
    hb_version_rec_release(&rec);
}

int main(void)
{
    char *dir = vt_tmpdir("hb-stmts-");
    hb_store *s = NULL, *other = NULL;
    char *err = NULL;
    if (hb_store_open(dir, &s, &err) != 0 || hb_store_open(dir, &other, &err) != 0)
        HB_FAIL_("hb_store_open %s: %s", dir, err ? err : "?");

    round_of_calls(s, dir, 1);
    round_of_calls(s, dir, 2);
    uint64_t before = hb_store_statements_prepared();
    for (int i = 3; i < 8; i++)
        round_of_calls(s, dir, i);
    uint64_t after = hb_store_statements_prepared();
    if (after != before)
        HB_FAIL_("5 more rounds compiled %llu statements (expected none: each is kept)",
                 (unsigned long long)(after - before));

    /* The other handle commits a version between two reads of this one:
     * the second read sees it (no read transaction left open). */
    hb_version_rec rec;
    HB_CHECK_OK(hb_store_latest(s, "p", &rec));
    uint64_t last = rec.version;
    hb_version_rec_release(&rec);
    char *obj = vt_path(dir, "obj2");
    vt_write_str(obj, "object from the other handle");
    hb_version_rec meta, added;
    memset(&meta, 0, sizeof(meta));
    bool created = false;
    if (hb_store_add(other, "p", obj, &meta, &added, &created, &err) != 0)
        HB_FAIL_("hb_store_add (other handle): %s", err ? err : "?");
    HB_CHECK_EQ(added.version, last + 1);
    hb_version_rec_release(&added);
    HB_CHECK_OK(hb_store_latest(s, "p", &rec));
    HB_CHECK_EQ(rec.version, last + 1);
    hb_version_rec_release(&rec);

    /* A status change of a version that is not there. */
    HB_CHECK_EQ(hb_store_set_status(s, "p", 999, HB_VERSION_GOOD), -ENOENT);
    HB_CHECK_CONTAINS(hb_store_last_error(s), "has no version 999");

    hb_store_close(other);
    hb_store_close(s);
    HB_CHECK_OK(hb__rm_rf(dir));
    free(obj);
    free(dir);
    puts("PASS test_store_stmt_cache");
    return 0;
}
