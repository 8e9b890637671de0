/* Signature parser: accepted forms, refused forms and the reported position. */
#include "hbtest.h"
#include "signature.h"

static void check_bad(const char *sig, size_t pos, const char *needle)
{
    hb_sig s;
    hb_sig_error e;
    memset(&s, 0x5a, sizeof(s));
    hb_sig before = s;
    int r = hb__sig_parse(sig, &s, &e);
    if (r != HB_ESIGNATURE)
        HB_FAIL_("signature \"%s\" accepted (r=%d)", sig ? sig : "(null)", r);
    HB_CHECK_EQ(e.pos, pos);
    HB_CHECK_CONTAINS(e.msg, needle);
    char at[32];
    snprintf(at, sizeof(at), "position %zu", pos);
    HB_CHECK_CONTAINS(e.msg, at);
    HB_CHECK(memcmp(&s, &before, sizeof(s)) == 0); /* output untouched on failure */
}

int main(void)
{
    hb_sig s;
    hb_sig_error e;

    HB_CHECK_OK(hb__sig_parse(")v", &s, &e));
    HB_CHECK_EQ(s.nargs, 0);
    HB_CHECK_EQ(s.ret, HB_TYPE_VOID);

    HB_CHECK_OK(hb__sig_parse("BcCsSiIjJlLfdZbw)i", &s, &e));
    HB_CHECK_EQ(s.nargs, 16);
    static const hb_type want[] = {HB_TYPE_BOOL, HB_TYPE_I8, HB_TYPE_U8, HB_TYPE_I16,
                                   HB_TYPE_U16, HB_TYPE_I32, HB_TYPE_U32, HB_TYPE_LONG,
                                   HB_TYPE_ULONG, HB_TYPE_I64, HB_TYPE_U64, HB_TYPE_F32,
                                   HB_TYPE_F64, HB_TYPE_STR, HB_TYPE_BUF_IN, HB_TYPE_BUF_INOUT};
    for (size_t i = 0; i < 16; i++)
        HB_CHECK_EQ(s.args[i], want[i]);
    HB_CHECK_EQ(s.ret, HB_TYPE_I32);

    /* every scalar return type and Z */
    const char *rets = "BcCsSiIjJlLfdZv";
    for (const char *p = rets; *p; p++) {
        char sig[4] = {')', *p, 0, 0};
        HB_CHECK_OK(hb__sig_parse(sig, &s, NULL));
        HB_CHECK_EQ(hb__sig_char(s.ret), *p);
    }

    /* exactly 32 arguments is fine, 33 is not */
    char many[40];
    memset(many, 'i', 32);
    strcpy(many + 32, ")i");
    HB_CHECK_OK(hb__sig_parse(many, &s, &e));
    HB_CHECK_EQ(s.nargs, 32);
    memset(many, 'd', 33);
    strcpy(many + 33, ")v");
    check_bad(many, 33, "more than 32 arguments");

    check_bad(NULL, 1, "no signature");
    check_bad("", 1, "missing ')'");
    check_bad("ii", 3, "missing ')'");
    check_bad("ii)", 4, "missing return type");
    check_bad("iX)i", 2, "unknown type character 'X'");
    check_bad("ip)i", 2, "raw pointer");
    check_bad(")p", 2, "raw pointer");
    check_bad("v)i", 1, "only valid as the return type");
    check_bad("i)ii", 4, "trailing characters");
    check_bad("i))", 3, "unknown return type character ')'");
    check_bad(")b", 2, "cannot be a return type");
    check_bad("i)w", 3, "cannot be a return type");
    check_bad("i\x01)i", 2, "0x01");

    HB_CHECK_EQ(hb__sig_parse("x)i", &s, NULL), HB_ESIGNATURE); /* err may be NULL */
    HB_CHECK_STR(hb__type_name(HB_TYPE_BUF_INOUT), "in/out buffer");
    printf("signature: ok\n");
    return 0;
}
