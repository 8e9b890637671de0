/* tests/worker/test_ffi_cache.c - the worker's libffi call interfaces are
 * prepared once per parameter list and return type, not once per call
 * (worker/ffi_call.c), and a cached one still calls correctly. */
#include "hbtest.h"
#include "signature.h"
#include "worker.h"

static int add(int a, int b) { return a + b; }
static long mul3(long a, long b, long c) { return a * b * c; }
static double half(double x) { return x / 2; }

static int call(void *fn, const char *signature, hb_wvalue *args, size_t n, hb_wvalue *ret)
{
    hb_sig sig;
    HB_CHECK_OK(hb__sig_parse(signature, &sig, NULL));
    char msg[256] = "";
    return hb__ffi_call(fn, NULL, &sig, args, n, ret, msg, sizeof(msg));
}

static void case_once_per_signature(void)
{
    unsigned long p0 = hb__ffi_cif_preps();
    hb_wvalue ret;
    for (int i = 0; i < 100; i++) {
        hb_wvalue a[2] = {{.type = HB_TYPE_I32, .n.i = i}, {.type = HB_TYPE_I32, .n.i = 1}};
        HB_CHECK_OK(call((void *)add, "ii)i", a, 2, &ret));
        HB_CHECK_EQ(ret.n.i, i + 1);
    }
    HB_CHECK_EQ(hb__ffi_cif_preps() - p0, 1);
    hb_wvalue l[3] = {{.type = HB_TYPE_LONG, .n.i = 2}, {.type = HB_TYPE_LONG, .n.i = 3},
                      {.type = HB_TYPE_LONG, .n.i = -7}};
    HB_CHECK_OK(call((void *)mul3, "lll)l", l, 3, &ret));
    HB_CHECK_EQ(ret.n.i, -42);
    hb_wvalue d = {.type = HB_TYPE_F64, .n.d = 5.0};
    HB_CHECK_OK(call((void *)half, "d)d", &d, 1, &ret));
    HB_CHECK_DBL(ret.n.d, 2.5, 1e-12);
    HB_CHECK_EQ(hb__ffi_cif_preps() - p0, 3);
    /* Back to the first signature: its entry, no new preparation. */
    hb_wvalue a[2] = {{.type = HB_TYPE_I32, .n.i = 40}, {.type = HB_TYPE_I32, .n.i = 2}};
    HB_CHECK_OK(call((void *)add, "ii)i", a, 2, &ret));
    HB_CHECK_EQ(ret.n.i, 42);
    HB_CHECK_OK(call((void *)mul3, "lll)l", l, 3, &ret));
    HB_CHECK_EQ(ret.n.i, -42);
    HB_CHECK_EQ(hb__ffi_cif_preps() - p0, 3);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {{"once_per_signature", case_once_per_signature}};
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
