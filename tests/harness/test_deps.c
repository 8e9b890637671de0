/* tests/harness/test_deps.c - dependencies between plugins: load order,
 * re-binding dependents when a provider reloads (atomically), cycles,
 * missing providers and unresolved symbols. Each case: test_deps CASE. */
#include "e2e.h"

static e2e_events ev;

/* The provider: scale(x) multiplies by `factor`, unless `extra` replaces
 * that definition (e.g. to drop scale() altogether). */
static const char *provider_src(int factor, const char *extra)
{
    static char src[4096];
    char body[256];
    if (!extra) {
        snprintf(body, sizeof(body), "int64_t scale(int64_t x) { calls++; return x * %d; }", factor);
        extra = body;
    }
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
             "static int64_t calls;\n%s\n"
             "int64_t scale_calls(void) { return calls; }\n"
             "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = calls; *d = p; *l = 8; return 0; }\n"
             "static int migrate(const void *d, size_t l, uint32_t s) { if (l != 8) return -1; memcpy(&calls, d, 8); return 0; }\n"
             "HB_PLUGIN(\"scale\", 1, 0, 0, save, migrate);\n",
             extra);
    return src;
}

static const char *dependent_src =
    "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "int64_t scale(int64_t x);\n"
    "static int64_t quotes;\n"
    "int64_t price(int64_t units) { quotes++; return scale(units) + 1; }\n"
    "int64_t quote_count(void) { return quotes; }\n"
    "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1; *p = quotes; *d = p; *l = 8; return 0; }\n"
    "static int migrate(const void *d, size_t l, uint32_t s) { if (l != 8) return -1; memcpy(&quotes, d, 8); return 0; }\n"
    "HB_PLUGIN(\"pricing\", 1, 0, 0, save, migrate);\n";

static int64_t call1(hb_sandbox *sb, const char *plugin, const char *fn, int64_t arg)
{
    int64_t v = -1;
    HB_CHECK_OK(hb_callf(sb, plugin, fn, "l)l", arg, &v));
    return v;
}

static int64_t call0(hb_sandbox *sb, const char *plugin, const char *fn)
{
    int64_t v = -1;
    HB_CHECK_OK(hb_callf(sb, plugin, fn, ")l", &v));
    return v;
}

static void case_rebind(void)
{
    char *scale = e2e_write("scale", "scale.c", provider_src(2, NULL));
    char *pricing = e2e_write("pricing", "pricing.c", dependent_src);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, scale);
    HB_CHECK_OK(hb_load(sb, pricing));
    HB_CHECK_EQ(call1(sb, "pricing", "price", 10), 21);
    HB_CHECK_EQ(call1(sb, "pricing", "price", 5), 11);
    /* The provider changes: the dependent is re-bound, both keep state. */
    e2e_write("scale", "scale.c", provider_src(3, NULL));
    HB_CHECK_OK(hb_reload(sb, "scale"));
    HB_CHECK_EQ(call1(sb, "pricing", "price", 10), 31);
    HB_CHECK_EQ(call0(sb, "scale", "scale_calls"), 3);
    HB_CHECK_EQ(call0(sb, "pricing", "quote_count"), 3);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_NOTICE], "re-bound");
    /* A provider version that drops scale(): re-binding pricing fails and
     * the whole group stays on its previous versions with its state. */
    e2e_write("scale", "scale.c",
              provider_src(0, "int64_t rescale(int64_t x) { calls++; return x * 4; }"));
    int r = hb_reload(sb, "scale");
    HB_CHECK_EQ(r, HB_EUNRESOLVED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "scale");
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "scale", &active));
    HB_CHECK_EQ(active, 2);
    HB_CHECK_EQ(call1(sb, "pricing", "price", 10), 31);
    HB_CHECK_EQ(call0(sb, "pricing", "quote_count"), 4);
    HB_CHECK_EQ(call0(sb, "scale", "scale_calls"), 4);
    e2e_free(sb, m);
}

static void case_missing_provider(void)
{
    char *scale = e2e_write("scale", "scale.c", provider_src(2, NULL));
    char *pricing = e2e_write("pricing", "pricing.c", dependent_src);
    hb_manager *m = e2e_manager(&ev);
    hb_version_info vi;
    HB_CHECK_OK(hb_build(m, scale, &vi));
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    /* pricing needs scale, which this sandbox has not loaded. */
    HB_CHECK_EQ(hb_load(sb, pricing), HB_EUNRESOLVED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "scale");
    HB_CHECK_OK(hb_load(sb, scale));
    HB_CHECK_OK(hb_load(sb, pricing));
    HB_CHECK_EQ(call1(sb, "pricing", "price", 1), 3);
    e2e_free(sb, m);
}

static void case_unresolved_symbol(void)
{
    char *dir = e2e_write("lonely", "l.c",
                          "#include <hotbox/plugin.h>\nint nobody_provides_this(int);\n"
                          "int f(int x) { return nobody_provides_this(x); }\nHB_PLUGIN(\"lonely\", 1, 0, 0, 0, 0);\n");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_EQ(hb_load(sb, dir), HB_EUNRESOLVED);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "nobody_provides_this");
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "lonely");
    e2e_free(sb, m);
}

static void case_cycle(void)
{
    char *a = e2e_write("alpha", "a.c",
                        "#include <hotbox/plugin.h>\nint beta_fn(int);\nint alpha_fn(int x) { return x + 1; }\n"
                        "int use_beta(int x) { return beta_fn(x); }\nHB_PLUGIN(\"alpha\", 1, 0, 0, 0, 0);\n");
    char *b = e2e_write("beta", "b.c",
                        "#include <hotbox/plugin.h>\nint alpha_fn(int);\nint beta_fn(int x) { return alpha_fn(x) * 2; }\n"
                        "HB_PLUGIN(\"beta\", 1, 0, 0, 0, 0);\n");
    hb_manager *m = e2e_manager(&ev);
    hb_version_info vi;
    HB_CHECK_OK(hb_build(m, a, &vi)); /* beta unknown yet: no dependency */
    HB_CHECK_OK(hb_build(m, b, &vi)); /* beta -> alpha */
    e2e_write("alpha", "a.c",
              "#include <hotbox/plugin.h>\nint beta_fn(int);\nint alpha_fn(int x) { return x + 2; }\n"
              "int use_beta(int x) { return beta_fn(x); }\nHB_PLUGIN(\"alpha\", 1, 0, 0, 0, 0);\n");
    HB_CHECK_EQ(hb_build(m, a, &vi), HB_ECYCLE); /* alpha -> beta -> alpha */
    HB_CHECK_CONTAINS(hb_manager_last_error(m), "alpha -> beta -> alpha");
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"rebind", case_rebind},
        {"missing_provider", case_missing_provider},
        {"unresolved_symbol", case_unresolved_symbol},
        {"cycle", case_cycle},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
