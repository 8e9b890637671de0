/* tests/versions/test_store_reads.c - what the compile cache's and the
 * status paths read (issue 14: a plugin with 1,000 tests has 1,000 exports,
 * and reading them on every status change or cache lookup cost
 * milliseconds per `hotbox test` run). Counted with
 * hb_store_list_items_read:
 *   - hb_store_set_status reads no list (only the status column), whether
 *     it changes the status or finds it already set;
 *   - hb_store_input_sets reads only the inputs and depends lists, and
 *     gives them complete; exports and the other lists are left NULL;
 *   - hb_store_get still reads every list. */
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "vtest.h"

#define NEXPORTS 300

int main(void)
{
    char *dir = vt_tmpdir("hb-reads-");
    hb_store *s = vt_store_open(dir);
    char *inputs[] = {"/src/p/p.c", "/src/p/p.h", "/usr/include/stdint.h", NULL};
    char *depends[] = {"q", NULL};
    char *exports[NEXPORTS + 1];
    for (int i = 0; i < NEXPORTS; i++) {
        exports[i] = hb__asprintf("hb_test_t%04d", i);
        HB_CHECK(exports[i] != NULL);
    }
    exports[NEXPORTS] = NULL;
    char *imports[] = {"q_fn", NULL};
    hb_version_rec meta, rec;
    memset(&meta, 0, sizeof(meta));
    memcpy(meta.input_hash, "1111111111111111111111111111111111111111111111111111111111111111",
           HB_SHA256_HEX);
    meta.inputs = inputs;
    meta.depends = depends;
    meta.exports = exports;
    meta.imports = imports;
    uint64_t v = vt_store_add(s, dir, "obj", "p", "object p 1", &meta);

    /* Status changes, and a status set to the one it has. */
    uint64_t before = hb_store_list_items_read(s);
    HB_CHECK_OK(hb_store_set_status(s, "p", v, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "p", v, HB_VERSION_ACTIVE));
    HB_CHECK_OK(hb_store_set_status(s, "p", v, HB_VERSION_GOOD));
    HB_CHECK_EQ(hb_store_list_items_read(s) - before, 0);
    HB_CHECK_EQ(hb_store_set_status(s, "p", v + 1, HB_VERSION_GOOD), -ENOENT);

    /* The cache's candidates: inputs and depends, nothing else. */
    before = hb_store_list_items_read(s);
    hb_version_rec *sets = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_store_input_sets(s, "p", 16, &sets, &n));
    HB_CHECK_EQ(n, 1);
    HB_CHECK_EQ(hb_store_list_items_read(s) - before, 4); /* 3 inputs + 1 depends */
    HB_CHECK(hb__strv_equal(sets[0].inputs, inputs));
    HB_CHECK(hb__strv_equal(sets[0].depends, depends));
    HB_CHECK(sets[0].exports == NULL);
    HB_CHECK(sets[0].imports == NULL);
    HB_CHECK_EQ(sets[0].status, HB_VERSION_GOOD);
    hb_store_list_free(sets, n);

    /* A whole record still has every list. */
    before = hb_store_list_items_read(s);
    HB_CHECK_OK(hb_store_get(s, "p", v, &rec));
    HB_CHECK_EQ(hb_store_list_items_read(s) - before, 3 + 1 + NEXPORTS + 1);
    HB_CHECK_EQ(hb__strv_len(rec.exports), NEXPORTS);
    HB_CHECK(hb__strv_equal(rec.imports, imports));
    hb_version_rec_release(&rec);

    hb_store_close(s);
    HB_CHECK_OK(hb__rm_rf(dir));
    for (int i = 0; i < NEXPORTS; i++)
        free(exports[i]);
    free(dir);
    puts("PASS test_store_reads");
    return 0;
}
