/* monitor/metrics.c - counters and log-scale latency histograms.
 *
 * Every cell is a relaxed atomic: observing is a handful of uncontended
 * atomic adds, safe from any thread, never a lock on the call path. A
 * snapshot is not one instant across cells (count and buckets may disagree
 * by the samples recorded while it was read); quantiles tolerate that. */
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "util.h"

typedef struct hist {
    _Atomic uint64_t count, sum_ns, min_ns, max_ns;
    _Atomic uint64_t buckets[HB_HIST_BUCKETS];
} hist;

struct hb_metrics {
    _Atomic uint64_t counters[HB_CTR_COUNT_];
    hist hists[HB_HIST_COUNT_];
};

static const char *const hist_names[HB_HIST_COUNT_] = {"compile", "swap", "call", "rollback",
                                                       "restart"};
static const char *const ctr_names[HB_CTR_COUNT_] = {
    "compiles", "compile_failures", "swaps", "swap_failures", "calls", "call_errors",
    "crashes", "hangs", "restarts", "rollbacks", "limit_kills"};

int hb_metrics_new(hb_metrics **out)
{
    if (!out)
        return -EINVAL;
    hb_metrics *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    for (int i = 0; i < HB_HIST_COUNT_; i++)
        atomic_init(&m->hists[i].min_ns, UINT64_MAX);
    *out = m;
    return 0;
}

void hb_metrics_free(hb_metrics *m)
{
    free(m);
}

static unsigned bucket_of(uint64_t ns)
{
    uint64_t us = ns / 1000u;
    if (us == 0)
        return 0;
    unsigned b = 64u - (unsigned)__builtin_clzll(us); /* us in [2^(b-1), 2^b) */
    return b < HB_HIST_BUCKETS - 1 ? b : HB_HIST_BUCKETS - 1;
}

void hb_metrics_observe(hb_metrics *m, hb_metric_hist h, uint64_t ns)
{
    if (!m || (unsigned)h >= HB_HIST_COUNT_)
        return;
    hist *x = &m->hists[h];
    atomic_fetch_add_explicit(&x->buckets[bucket_of(ns)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&x->sum_ns, ns, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&x->min_ns, memory_order_relaxed);
    while (ns < cur && !atomic_compare_exchange_weak_explicit(&x->min_ns, &cur, ns,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
    cur = atomic_load_explicit(&x->max_ns, memory_order_relaxed);
    while (ns > cur && !atomic_compare_exchange_weak_explicit(&x->max_ns, &cur, ns,
                                                              memory_order_relaxed,
                                                              memory_order_relaxed)) {
    }
    atomic_fetch_add_explicit(&x->count, 1, memory_order_relaxed);
}

void hb_metrics_add(hb_metrics *m, hb_metric_counter c, uint64_t n)
{
    if (m && (unsigned)c < HB_CTR_COUNT_)
        atomic_fetch_add_explicit(&m->counters[c], n, memory_order_relaxed);
}

uint64_t hb_metrics_counter(hb_metrics *m, hb_metric_counter c)
{
    if (!m || (unsigned)c >= HB_CTR_COUNT_)
        return 0;
    return atomic_load_explicit(&m->counters[c], memory_order_relaxed);
}

void hb_metrics_hist(hb_metrics *m, hb_metric_hist h, hb_hist_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    if (!m || (unsigned)h >= HB_HIST_COUNT_)
        return;
    hist *x = &m->hists[h];
    for (int i = 0; i < HB_HIST_BUCKETS; i++) {
        out->buckets[i] = atomic_load_explicit(&x->buckets[i], memory_order_relaxed);
        out->count += out->buckets[i]; /* count from the buckets: consistent with them */
    }
    out->sum_ns = atomic_load_explicit(&x->sum_ns, memory_order_relaxed);
    if (out->count) {
        out->min_ns = atomic_load_explicit(&x->min_ns, memory_order_relaxed);
        out->max_ns = atomic_load_explicit(&x->max_ns, memory_order_relaxed);
        if (out->min_ns == UINT64_MAX)
            out->min_ns = 0;
    }
}

uint64_t hb_hist_quantile_ns(const hb_hist_snapshot *s, double q)
{
    if (!s || !s->count)
        return 0;
    if (q <= 0)
        return s->min_ns;
    if (q > 1)
        q = 1;
    double rank = q * (double)s->count; /* 1-based rank of the wanted sample */
    uint64_t seen = 0;
    for (unsigned i = 0; i < HB_HIST_BUCKETS; i++) {
        if (!s->buckets[i])
            continue;
        if ((double)(seen + s->buckets[i]) < rank) {
            seen += s->buckets[i];
            continue;
        }
        double lo = i == 0 ? 0.0 : 1000.0 * (double)(1ull << (i - 1)); /* ns */
        /* The last bucket is open-ended: its top is the largest sample. */
        double hi = i == HB_HIST_BUCKETS - 1 ? (double)s->max_ns : 1000.0 * (double)(1ull << i);
        if (lo < (double)s->min_ns)
            lo = (double)s->min_ns;
        if (hi > (double)s->max_ns)
            hi = (double)s->max_ns;
        if (hi < lo)
            hi = lo;
        double frac = (rank - (double)seen) / (double)s->buckets[i];
        double v = lo + (hi - lo) * frac; /* linear within the bucket: no libm */
        return (uint64_t)(v + 0.5);
    }
    return s->max_ns;
}

const char *hb_metric_hist_name(hb_metric_hist h)
{
    return HB_ENUM_NAME(hist_names, h);
}

const char *hb_metric_counter_name(hb_metric_counter c)
{
    return HB_ENUM_NAME(ctr_names, c);
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

int hb_metrics_json(hb_metrics *m, char **out)
{
    if (!m || !out)
        return -EINVAL;
    int r = -ENOMEM;
    json_t *root = json_object(), *ctrs = json_object(), *lat = json_object();
    if (!root || !ctrs || !lat)
        goto fail;
    json_object_set_new(root, "counters", ctrs);
    json_object_set_new(root, "latency_ms", lat);
    for (int c = 0; c < HB_CTR_COUNT_; c++)
        if (json_object_set_new(ctrs, ctr_names[c],
                                json_integer((json_int_t)hb_metrics_counter(m, c))) < 0)
            goto fail_owned;
    for (int h = 0; h < HB_HIST_COUNT_; h++) {
        hb_hist_snapshot s;
        hb_metrics_hist(m, h, &s);
        json_t *o = json_pack("{s:I,s:f,s:f,s:f,s:f,s:f,s:f}", "count", (json_int_t)s.count,
                              "mean", s.count ? ms(s.sum_ns) / (double)s.count : 0.0, "min",
                              ms(s.min_ns), "p50", ms(hb_hist_quantile_ns(&s, 0.5)), "p95",
                              ms(hb_hist_quantile_ns(&s, 0.95)), "p99",
                              ms(hb_hist_quantile_ns(&s, 0.99)), "max", ms(s.max_ns));
        if (!o || json_object_set_new(lat, hist_names[h], o) < 0)
            goto fail_owned;
    }
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return -ENOMEM;
    /* jansson's allocator is malloc unless the application changed it. */
    *out = text;
    return 0;
fail:
    json_decref(ctrs);
    json_decref(lat);
fail_owned:
    json_decref(root);
    return r;
}

int hb_metrics_text(hb_metrics *m, char **out)
{
    if (!m || !out)
        return -EINVAL;
    hb_sb sb = HB_SB_INIT;
    for (int c = 0; c < HB_CTR_COUNT_; c++)
        hb__sb_addf(&sb, "%s%s %llu", c ? "  " : "", ctr_names[c],
                    (unsigned long long)hb_metrics_counter(m, c));
    hb__sb_adds(&sb, "\n");
    for (int h = 0; h < HB_HIST_COUNT_; h++) {
        hb_hist_snapshot s;
        hb_metrics_hist(m, h, &s);
        if (!s.count)
            continue;
        hb__sb_addf(&sb, "%-9s n=%-6llu p50 %8.3f ms  p95 %8.3f ms  p99 %8.3f ms  max %8.3f ms\n",
                    hist_names[h], (unsigned long long)s.count,
                    ms(hb_hist_quantile_ns(&s, 0.5)), ms(hb_hist_quantile_ns(&s, 0.95)),
                    ms(hb_hist_quantile_ns(&s, 0.99)), ms(s.max_ns));
    }
    if (!sb.buf) {
        hb__sb_release(&sb);
        return -ENOMEM;
    }
    *out = hb__sb_detach(&sb);
    return 0;
}
