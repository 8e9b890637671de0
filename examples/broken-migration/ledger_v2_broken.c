/* ledger v2 (broken) - changes the state layout (schema 2) and migrates
 * schema-1 state WRONGLY: the entries are lost, the balance is kept.
 * `hotbox test --upgrade` catches it: v1's tests pass, the hot swap succeeds,
 * and v2's invariant test fails on the migrated state. Compare
 * ledger_v2_fixed.c. */
#include <hotbox/plugin.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENTRIES 64

static int64_t balance;
static int32_t nentries;
static int64_t entries[MAX_ENTRIES];

HB_EXPORT_FN int64_t add(int64_t amount)
{
    if (nentries < MAX_ENTRIES) {
        entries[nentries++] = amount;
        balance += amount;
    }
    return balance;
}

HB_EXPORT_FN int64_t get_balance(void) { return balance; }
HB_EXPORT_FN int32_t get_count(void) { return nentries; }

HB_EXPORT_FN int hb_setup(void)
{
    if (balance == 0 && nentries == 0) {
        add(10);
        add(20);
        add(30);
    }
    return 0;
}

HB_EXPORT_FN int hb_test_balance_is_sum_of_entries(void)
{
    int64_t sum = 0;
    for (int32_t i = 0; i < nentries; i++)
        sum += entries[i];
    return sum == balance ? 0 : 1;
}

HB_EXPORT_FN int hb_test_seeded_entries_survive(void)
{
    return nentries >= 3 && entries[0] == 10 && entries[1] == 20 && entries[2] == 30 ? 0 : 1;
}

/* Schema 2: the count first, then the balance, then the entries. */
static int ledger_save(void **data, size_t *len)
{
    size_t n = sizeof(int32_t) + sizeof(int64_t) + (size_t)nentries * sizeof(int64_t);
    unsigned char *p = malloc(n);
    if (!p)
        return -1;
    memcpy(p, &nentries, sizeof(nentries));
    memcpy(p + 4, &balance, sizeof(balance));
    memcpy(p + 12, entries, (size_t)nentries * sizeof(int64_t));
    *data = p;
    *len = n;
    return 0;
}

static int load_v2(const unsigned char *p, size_t len)
{
    int32_t n;
    memcpy(&n, p, sizeof(n));
    if (n < 0 || n > MAX_ENTRIES || len != 12 + (size_t)n * sizeof(int64_t))
        return -1;
    nentries = n;
    memcpy(&balance, p + 4, sizeof(balance));
    memcpy(entries, p + 12, (size_t)n * sizeof(int64_t));
    return 0;
}

static int ledger_migrate(const void *data, size_t len, uint32_t from_schema)
{
    const unsigned char *p = data;
    if (len < 12)
        return -1;
    if (from_schema == 2)
        return load_v2(p, len);
    if (from_schema != 1)
        return -1;
    /* THE BUG: only the balance is carried over from schema 1; the entries
     * are dropped. Nothing crashes and the swap "succeeds" - the upgrade-path
     * tests are what notice that balance != sum(entries). */
    memcpy(&balance, p, sizeof(balance));
    nentries = 0;
    return 0;
}

HB_PLUGIN("ledger", 2, 0, 0, ledger_save, ledger_migrate);
