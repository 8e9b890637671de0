/* tests/versions/test_store_providers.c - hb_store_providers (the build's
 * question "which plugins export what this one imports", issue 14) gives
 * what reading every other plugin's newest record gives, without reading
 * any record: only the newest version of a provider counts, the asking
 * plugin never provides to itself, the answer is sorted and without
 * repeats, and no imports means no providers. */
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "vtest.h"

static hb_store *s;
static char *dir;
static int nobj;

static void add(const char *plugin, char **exports)
{
    char name[32], text[64];
    snprintf(name, sizeof(name), "obj%d", nobj);
    snprintf(text, sizeof(text), "object %s %d", plugin, nobj++);
    hb_version_rec meta;
    memset(&meta, 0, sizeof(meta));
    meta.exports = exports;
    vt_store_add(s, dir, name, plugin, text, &meta);
}

/* The answer by reading each other plugin's newest record. */
static char **by_scan(const char *plugin, char **imports)
{
    char **names = NULL, **out = calloc(1, sizeof(char *));
    HB_CHECK_OK(hb_store_plugins(s, &names));
    for (size_t i = 0; names[i]; i++) {
        if (!strcmp(names[i], plugin))
            continue;
        hb_version_rec rec;
        HB_CHECK_OK(hb_store_latest(s, names[i], &rec));
        bool provides = false;
        for (size_t k = 0; imports && imports[k] && !provides; k++)
            provides = hb__strv_contains(rec.exports, imports[k]);
        if (provides)
            HB_CHECK_OK(hb__strv_push(&out, names[i]));
        hb_version_rec_release(&rec);
    }
    hb__strv_free(names);
    return out;
}

static void expect(const char *plugin, char **imports, const char *want)
{
    char **got = NULL;
    uint64_t before = hb_store_list_items_read(s);
    HB_CHECK_OK(hb_store_providers(s, plugin, imports, &got));
    HB_CHECK_EQ(hb_store_list_items_read(s) - before, 0); /* no record read */
    char text[256] = "";
    for (size_t i = 0; got[i]; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", i ? " " : "", got[i]);
    HB_CHECK_STR(text, want);
    char **scan = by_scan(plugin, imports);
    HB_CHECK(hb__strv_equal(got, scan));
    hb__strv_free(scan);
    hb__strv_free(got);
}

int main(void)
{
    dir = vt_tmpdir("hb-providers-");
    s = vt_store_open(dir);
    add("c", (char *[]){"f", NULL});
    add("a", (char *[]){"f", "g", NULL});
    add("b", (char *[]){"h", NULL});
    add("b", (char *[]){"k", NULL}); /* b's newest no longer exports h */
    add("p", (char *[]){"f", NULL});
    expect("p", (char *[]){"f", NULL}, "a c");
    expect("p", (char *[]){"h", NULL}, "");
    expect("p", (char *[]){"g", "f", "x", "k", NULL}, "a b c");
    expect("a", (char *[]){"f", NULL}, "c p");
    expect("p", (char *[]){NULL}, "");
    expect("p", NULL, "");
    expect("nobody", (char *[]){"k", NULL}, "b");
    hb_store_close(s);
    HB_CHECK_OK(hb__rm_rf(dir));
    free(dir);
    puts("PASS test_store_providers");
    return 0;
}
