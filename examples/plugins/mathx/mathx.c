/* mathx: stateless functions exercising every kind of call signature that
 * hotbox can marshal (see the signature table in hotbox/hotbox.h). */
#include <hotbox/plugin.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

HB_EXPORT_FN int32_t add(int32_t a, int32_t b) { return a + b; }                  /* ii)i */
HB_EXPORT_FN int64_t mul64(int64_t a, int64_t b) { return a * b; }                 /* ll)l */
HB_EXPORT_FN uint64_t umax(uint64_t a, uint64_t b) { return a > b ? a : b; }       /* LL)L */
HB_EXPORT_FN int8_t neg8(int8_t a) { return (int8_t)-a; }                          /* c)c */
HB_EXPORT_FN uint8_t inc8(uint8_t a) { return (uint8_t)(a + 1); }                  /* C)C */
HB_EXPORT_FN int16_t neg16(int16_t a) { return (int16_t)-a; }                      /* s)s */
HB_EXPORT_FN uint16_t swap16(uint16_t a) { return (uint16_t)((a << 8) | (a >> 8)); } /* S)S */
HB_EXPORT_FN uint32_t rotl32(uint32_t a, int32_t n) { return (a << (n & 31)) | (a >> ((32 - n) & 31)); } /* Ii)I */
HB_EXPORT_FN long lsub(long a, long b) { return a - b; }                           /* jj)j */
HB_EXPORT_FN float scalef(float a, float b) { return a * b + 0.5f; }              /* ff)f */
HB_EXPORT_FN double mix(int32_t a, double b, float c) { return a + b * c; }         /* idf)d */
HB_EXPORT_FN bool is_even(int64_t a) { return a % 2 == 0; }                         /* l)B */
HB_EXPORT_FN uint64_t strlen_(const char *s) { return s ? strlen(s) : 0; }          /* Z)L */
HB_EXPORT_FN const char *greeting(int32_t formal) { return formal ? "Good day" : "hi"; } /* i)Z */

/* Sum of bytes of an input buffer: b)L */
HB_EXPORT_FN uint64_t checksum(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return sum;
}

/* Upper-cases an in/out buffer in place, returns how many letters changed: w)i */
HB_EXPORT_FN int32_t upcase(void *data, size_t len)
{
    unsigned char *p = data;
    int32_t changed = 0;
    for (size_t i = 0; i < len; i++) {
        if (islower(p[i])) {
            p[i] = (unsigned char)toupper(p[i]);
            changed++;
        }
    }
    return changed;
}

HB_EXPORT_FN int hb_test_add(void) { return add(2, 3) == 5 ? 0 : 1; }
HB_EXPORT_FN int hb_test_upcase(void)
{
    char s[] = "abC";
    return upcase(s, 3) == 2 && strcmp(s, "ABC") == 0 ? 0 : 1;
}

/* No state: no save/migrate hooks. */
HB_PLUGIN("mathx", 1, 0, 0, 0, 0);
