/* One function per call type, for the worker's libffi path. Its fini writes
 * "fini" to the file named by t_set_fini_path(), so a test can observe that
 * fini ran. */
#include <hotbox/plugin.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char fini_path[4096];
static char greeting[256];
static int *volatile nowhere;

HB_EXPORT_FN void t_set_fini_path(const char *p)
{
    snprintf(fini_path, sizeof(fini_path), "%s", p ? p : "");
}

HB_EXPORT_FN bool t_not(bool b) { return !b; }
HB_EXPORT_FN int8_t t_neg8(int8_t x) { return (int8_t)-x; }
HB_EXPORT_FN uint8_t t_inc8(uint8_t x) { return (uint8_t)(x + 1); }
HB_EXPORT_FN int16_t t_neg16(int16_t x) { return (int16_t)-x; }
HB_EXPORT_FN uint16_t t_inc16(uint16_t x) { return (uint16_t)(x + 1); }
HB_EXPORT_FN int32_t t_neg32(int32_t x) { return -x; }
HB_EXPORT_FN uint32_t t_inc32(uint32_t x) { return x + 1; }
HB_EXPORT_FN long t_negl(long x) { return -x; }
HB_EXPORT_FN unsigned long t_incl(unsigned long x) { return x + 1; }
HB_EXPORT_FN int64_t t_neg64(int64_t x) { return -x; }
HB_EXPORT_FN uint64_t t_inc64(uint64_t x) { return x + 1; }
HB_EXPORT_FN float t_halff(float x) { return x / 2; }
HB_EXPORT_FN double t_halfd(double x) { return x / 2; }

HB_EXPORT_FN const char *t_greet(const char *name)
{
    snprintf(greeting, sizeof(greeting), "hello, %s", name ? name : "nobody");
    return greeting;
}

HB_EXPORT_FN const char *t_null(void) { return NULL; }

HB_EXPORT_FN uint64_t t_strlen(const char *s) { return s ? strlen(s) : UINT64_MAX; }

HB_EXPORT_FN uint32_t t_sum(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += b[i];
    return s;
}

HB_EXPORT_FN void t_upcase(void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)toupper(b[i]);
}

/* Every kind of parameter at once, in awkward register/stack positions. */
HB_EXPORT_FN double t_mixed(int8_t a, uint16_t b, float c, double d, int64_t e, const char *s,
                            const void *in, size_t inlen, void *io, size_t iolen, bool flag)
{
    unsigned char *o = io;
    for (size_t i = 0; i < iolen; i++)
        o[i] = (unsigned char)(o[i] ^ 0xff);
    double r = a + b + c + d + (double)e + (double)strlen(s) + (double)t_sum(in, inlen);
    return flag ? -r : r;
}

HB_EXPORT_FN int32_t t_sum32(int32_t a0, int32_t a1, int32_t a2, int32_t a3, int32_t a4,
                             int32_t a5, int32_t a6, int32_t a7, int32_t a8, int32_t a9,
                             int32_t a10, int32_t a11, int32_t a12, int32_t a13, int32_t a14,
                             int32_t a15, int32_t a16, int32_t a17, int32_t a18, int32_t a19,
                             int32_t a20, int32_t a21, int32_t a22, int32_t a23, int32_t a24,
                             int32_t a25, int32_t a26, int32_t a27, int32_t a28, int32_t a29,
                             int32_t a30, int32_t a31)
{
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 +
           a15 + a16 + a17 + a18 + a19 + a20 + a21 + a22 + a23 + a24 + a25 + a26 + a27 + a28 +
           a29 + a30 + a31 * 1000;
}

HB_EXPORT_FN void t_crash(void)
{
    *nowhere = 42;
}

static void fini(void)
{
    if (!fini_path[0])
        return;
    int fd = open(fini_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    (void)!write(fd, "fini\n", 5);
    close(fd);
}

HB_PLUGIN("types", 1, 0, fini, 0, 0);
