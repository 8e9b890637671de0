/* Unit tests of state/: checkpoint copies and the per-schema set. */
#include "hbtest.h"
#include "state.h"

int main(void)
{
    hb_ckset s = {0};
    HB_CHECK(hb_ckset_for_schema(&s, 1) == NULL);
    int64_t a = 7;
    HB_CHECK_OK(hb_ckset_record(&s, 1, 1, &a, sizeof(a), 10));
    a = 99; /* the set holds a copy */
    HB_CHECK(s.latest.valid);
    HB_CHECK_EQ(*(int64_t *)s.latest.data, 7);
    HB_CHECK_OK(hb_ckset_record(&s, 2, 2, "abcdef", 6, 20));
    HB_CHECK_EQ(s.latest.schema, 2);
    HB_CHECK_EQ(s.latest.version, 2);
    const hb_ckpt *one = hb_ckset_for_schema(&s, 1);
    HB_CHECK(one != NULL);
    HB_CHECK_EQ(*(int64_t *)one->data, 7);
    /* Recording the same schema again replaces it. */
    int64_t b = 8;
    HB_CHECK_OK(hb_ckset_record(&s, 3, 1, &b, sizeof(b), 30));
    HB_CHECK_EQ(*(int64_t *)hb_ckset_for_schema(&s, 1)->data, 8);
    HB_CHECK_EQ(s.nschemas, 2);
    /* Bounded: more schemas than slots forget the stalest. */
    for (uint32_t sc = 10; sc < 10 + HB_CKSET_MAX_SCHEMAS; sc++)
        HB_CHECK_OK(hb_ckset_record(&s, sc, sc, &sc, sizeof(sc), 100 + sc));
    HB_CHECK_EQ(s.nschemas, HB_CKSET_MAX_SCHEMAS);
    HB_CHECK(hb_ckset_for_schema(&s, 2) == NULL);
    HB_CHECK(hb_ckset_for_schema(&s, 10 + HB_CKSET_MAX_SCHEMAS - 1) != NULL);
    /* Empty blobs are valid checkpoints. */
    HB_CHECK_OK(hb_ckset_record(&s, 50, 50, NULL, 0, 500));
    HB_CHECK_EQ(s.latest.len, 0);
    hb_ckset_release(&s);
    HB_CHECK_EQ(s.nschemas, 0);
    HB_CHECK(!s.latest.valid);
    puts("PASS test_state");
    return 0;
}
