/* Unit tests of monitor/metrics.c: bucket placement, quantile estimates
 * against known distributions, concurrent updates, JSON and text. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "hbtest.h"
#include "monitor.h"

#define US 1000ull
#define MS 1000000ull

static hb_metrics *shared;

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        hb_metrics_observe(shared, HB_HIST_CALL, (uint64_t)(i % 1000 + 1) * US);
        hb_metrics_add(shared, HB_CTR_CALLS, 1);
    }
    return NULL;
}

/* The estimate is within a factor of two of the truth (one bucket). */
static void check_within_2x(uint64_t est, uint64_t truth)
{
    if (!(est * 2 >= truth && est <= truth * 2))
        HB_FAIL_("estimate %llu ns vs true %llu ns: off by more than 2x",
                 (unsigned long long)est, (unsigned long long)truth);
}

int main(void)
{
    hb_metrics *m = NULL;
    HB_CHECK_OK(hb_metrics_new(&m));
    hb_hist_snapshot s;
    hb_metrics_hist(m, HB_HIST_SWAP, &s);
    HB_CHECK_EQ(s.count, 0);
    HB_CHECK_EQ(hb_hist_quantile_ns(&s, 0.5), 0);

    /* Every sample equal: exact answers through the min/max clamp. */
    for (int i = 0; i < 10; i++)
        hb_metrics_observe(m, HB_HIST_SWAP, 3 * MS);
    hb_metrics_hist(m, HB_HIST_SWAP, &s);
    HB_CHECK_EQ(s.count, 10);
    HB_CHECK_EQ(hb_hist_quantile_ns(&s, 0.5), 3 * MS);
    HB_CHECK_EQ(hb_hist_quantile_ns(&s, 0.99), 3 * MS);
    HB_CHECK_EQ(s.min_ns, 3 * MS);
    HB_CHECK_EQ(s.max_ns, 3 * MS);
    /* 3 ms = 3000 us lies in [2048, 4096) us: bucket 12. */
    HB_CHECK_EQ(s.buckets[12], 10);

    /* Edges: < 1 us in bucket 0, huge in the last bucket. */
    hb_metrics_observe(m, HB_HIST_COMPILE, 500);
    hb_metrics_observe(m, HB_HIST_COMPILE, 1 * US);
    hb_metrics_observe(m, HB_HIST_COMPILE, 1000ull * 1000 * MS); /* 1000 s */
    hb_metrics_hist(m, HB_HIST_COMPILE, &s);
    HB_CHECK_EQ(s.buckets[0], 1);
    HB_CHECK_EQ(s.buckets[1], 1);
    HB_CHECK_EQ(s.buckets[HB_HIST_BUCKETS - 1], 1);
    HB_CHECK_EQ(hb_hist_quantile_ns(&s, 1.0), 1000ull * 1000 * MS);

    /* Uniform 1..1000 us: p50 ~ 500 us, p95 ~ 950, p99 ~ 990. */
    for (int i = 1; i <= 1000; i++)
        hb_metrics_observe(m, HB_HIST_ROLLBACK, (uint64_t)i * US);
    hb_metrics_hist(m, HB_HIST_ROLLBACK, &s);
    check_within_2x(hb_hist_quantile_ns(&s, 0.5), 500 * US);
    check_within_2x(hb_hist_quantile_ns(&s, 0.95), 950 * US);
    check_within_2x(hb_hist_quantile_ns(&s, 0.99), 990 * US);
    HB_CHECK(hb_hist_quantile_ns(&s, 0.5) <= hb_hist_quantile_ns(&s, 0.95));
    HB_CHECK(hb_hist_quantile_ns(&s, 0.95) <= hb_hist_quantile_ns(&s, 0.99));
    HB_CHECK(hb_hist_quantile_ns(&s, 0.99) <= 1000 * US);

    /* A tail: 99 fast calls, one slow one, p99 stays fast, max is the slow one. */
    hb_metrics *t = NULL;
    HB_CHECK_OK(hb_metrics_new(&t));
    for (int i = 0; i < 99; i++)
        hb_metrics_observe(t, HB_HIST_CALL, 50 * US);
    hb_metrics_observe(t, HB_HIST_CALL, 2000 * MS);
    hb_metrics_hist(t, HB_HIST_CALL, &s);
    check_within_2x(hb_hist_quantile_ns(&s, 0.5), 50 * US);
    check_within_2x(hb_hist_quantile_ns(&s, 0.99), 50 * US);
    HB_CHECK_EQ(s.max_ns, 2000 * MS);
    hb_metrics_free(t);

    /* Four threads at once: nothing lost. */
    shared = m;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        HB_CHECK_EQ(pthread_create(&th[i], NULL, hammer, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    hb_metrics_hist(m, HB_HIST_CALL, &s);
    HB_CHECK_EQ(s.count, 400000);
    HB_CHECK_EQ(hb_metrics_counter(m, HB_CTR_CALLS), 400000);
    HB_CHECK_EQ(s.min_ns, 1 * US);
    HB_CHECK_EQ(s.max_ns, 1000 * US);
    HB_CHECK_EQ(s.sum_ns, 4ull * 100 * (1000 * 1001 / 2) * US);

    hb_metrics_add(m, HB_CTR_ROLLBACKS, 3);

    /* JSON parses back, with the numbers in it. */
    char *json = NULL;
    HB_CHECK_OK(hb_metrics_json(m, &json));
    json_error_t jerr;
    json_t *root = json_loads(json, 0, &jerr);
    HB_CHECK(root != NULL);
    HB_CHECK_EQ(json_integer_value(json_object_get(json_object_get(root, "counters"), "calls")),
                400000);
    HB_CHECK_EQ(json_integer_value(json_object_get(json_object_get(root, "counters"), "rollbacks")),
                3);
    json_t *swap = json_object_get(json_object_get(root, "latency_ms"), "swap");
    HB_CHECK_EQ(json_integer_value(json_object_get(swap, "count")), 10);
    HB_CHECK_DBL(json_real_value(json_object_get(swap, "p95")), 3.0, 1e-9);
    HB_CHECK(json_object_get(json_object_get(root, "latency_ms"), "restart") != NULL);
    json_decref(root);
    free(json);

    char *text = NULL;
    HB_CHECK_OK(hb_metrics_text(m, &text));
    HB_CHECK_CONTAINS(text, "calls 400000");
    HB_CHECK_CONTAINS(text, "rollbacks 3");
    HB_CHECK_CONTAINS(text, "swap      n=10");
    HB_CHECK_CONTAINS(text, "p95    3.000 ms");
    HB_CHECK(strstr(text, "\nrestart ") == NULL); /* empty histograms are left out */
    free(text);
    HB_CHECK_STR(hb_metric_hist_name(HB_HIST_ROLLBACK), "rollback");
    HB_CHECK_STR(hb_metric_counter_name(HB_CTR_LIMIT_KILLS), "limit_kills");
    hb_metrics_free(m);
    hb_metrics_free(NULL);
    puts("PASS test_metrics");
    return 0;
}
