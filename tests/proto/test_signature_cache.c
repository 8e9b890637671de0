/* hb__sig_parse_cached (proto/signature.h): the same answers as
 * hb__sig_parse, whatever the cache holds: a repeat, a different
 * signature, a refused one after a good one (not cached, and the good one
 * still served), a signature too long to cache, NULL. */
#include "hbtest.h"
#include "signature.h"

static void same_as_parse(hb_sig_cache *c, const char *sig)
{
    hb_sig want, got;
    hb_sig_error we, ge;
    memset(&want, 0, sizeof(want));
    memset(&got, 0, sizeof(got));
    int wr = hb__sig_parse(sig, &want, &we);
    int gr = hb__sig_parse_cached(c, sig, &got, &ge);
    HB_CHECK_EQ(gr, wr);
    if (wr == 0) {
        HB_CHECK_EQ(got.nargs, want.nargs);
        HB_CHECK_EQ(got.ret, want.ret);
        HB_CHECK(memcmp(got.args, want.args, want.nargs * sizeof(want.args[0])) == 0);
    } else {
        HB_CHECK_STR(ge.msg, we.msg);
    }
}

int main(void)
{
    hb_sig_cache c = {0};
    char longsig[HB_SIG_CACHE_TEXT + 8];
    memset(longsig, 'd', HB_SIG_CACHE_TEXT + 4);
    memcpy(longsig + 20, "ZZ", 2); /* refused: 'Z' */
    longsig[HB_SIG_CACHE_TEXT + 4] = '\0';
    char longok[] = "iiiiiiiiiiiiiiiiiiiiiiiiiiiii)d"; /* 29 args */
    char toolong[HB_SIG_CACHE_TEXT + 8];
    memset(toolong, 'l', 30);
    strcpy(toolong + 30, ")v");
    const char *seq[] = {"ii)i", "ii)i", "id)d", "ii)i", "ii)x", "ii)i", "ii", "ii)i",
                         ")v", "bw)v", longsig, "ii)i", longok, longok, toolong, toolong,
                         "ii)i", NULL, "ii)i", "ii)i"};
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++)
        same_as_parse(&c, seq[i]);
    /* A repeat is answered from the cache: what it holds is what is served. */
    hb_sig s;
    HB_CHECK_OK(hb__sig_parse_cached(&c, "ii)i", &s, NULL));
    HB_CHECK_STR(c.text, "ii)i");
    c.sig.ret = HB_TYPE_F64;
    HB_CHECK_OK(hb__sig_parse_cached(&c, "ii)i", &s, NULL));
    HB_CHECK_EQ(s.ret, HB_TYPE_F64);
    HB_CHECK_OK(hb__sig_parse_cached(&c, "ii)l", &s, NULL));
    HB_CHECK_EQ(s.ret, HB_TYPE_I64);
    HB_CHECK_STR(c.text, "ii)l");
    printf("signature cache: ok\n");
    return 0;
}
