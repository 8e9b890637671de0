/* ELF analyser tests on real objects built by the real `cc` at test time:
 * a good plugin, no descriptor, a descriptor of the wrong size or type, an
 * executable (static-address and PIE), a relocatable object, -z execstack,
 * text relocations; and on byte-patched copies of the good plugin: 32-bit
 * class, foreign machine, big-endian, W+X segment, missing PT_GNU_STACK,
 * truncation at every length, random garbage and random mutations. */
/* The kernel's ELF types, by a path no module folder can shadow (the test
 * include path has versions/, whose elf.h is hotbox's). */
#include <linux/elf.h>
#include <stdio.h>

#include "elf.h"
#include "hotbox/hotbox.h"
#include "hotbox/plugin.h"
#include "vtest.h"

static char *g_dir;

#define PLUGIN_PRELUDE "#include <hotbox/plugin.h>\n#include <stdint.h>\n"

static const char good_src[] =
    PLUGIN_PRELUDE
    "#include <math.h>\n"
    "static int counter;\n"
    "extern int provider_fn(int);\n"
    "HB_EXPORT_FN int counter_add(int x) { return counter += x; }\n"
    "HB_EXPORT_FN int use_provider(int x) { return provider_fn(x); }\n"
    "HB_EXPORT_FN double use_libm(double x) { return sqrt(x); }\n"
    "HB_EXPORT_FN int hb_test_basic(void) { return counter_add(0); }\n"
    "int helper_hidden(void) { return 1; }\n"
    "HB_PLUGIN(\"good\", 1, 0, 0, 0, 0);\n";

/* Compiles src into dir/out with extra flags (blank separated); returns the
 * compiler's exit status. */
static int build(const char *out, const char *src, const char *flags)
{
    char *cpath = hb__asprintf("%s/%s.c", g_dir, out);
    char *opath = vt_path(g_dir, out);
    vt_write_str(cpath, src);
    char *cmd = hb__asprintf("cc -O1 -fvisibility=hidden -I%s/include %s -o %s %s",
                             HB_SOURCE_DIR, flags, opath, cpath);
    char **argv = hb__split_blank(cmd);
    int st = vt_run(argv);
    hb__strv_free(argv);
    free(cmd);
    free(cpath);
    free(opath);
    return st;
}

static void build_ok(const char *out, const char *src, const char *flags)
{
    int st = build(out, src, flags);
    if (st != 0)
        HB_FAIL_("cc %s for %s failed with status %d", flags, out, st);
}

#define SHARED "-shared -fPIC -Wl,--no-as-needed -lm -Wl,-z,noexecstack"

static bool has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (!strcmp(*v, s))
            return true;
    return false;
}

static int analyze_file(const char *name, char **err)
{
    char *p = vt_path(g_dir, name);
    hb_elf_info info;
    *err = NULL;
    int r = hb_elf_analyze_file(p, &info, err);
    if (r == 0)
        hb_elf_info_release(&info);
    free(p);
    return r;
}

static void expect_file(const char *name, int code, const char *needle)
{
    char *err;
    int r = analyze_file(name, &err);
    if (r != code)
        HB_FAIL_("%s: expected %d, got %d (%s)", name, code, r, err ? err : "no error");
    if (needle)
        HB_CHECK_CONTAINS(err, needle);
    printf("  %-14s -> %s\n", name, err ? err : "ok");
    free(err);
}

static void expect_image(const char *what, const void *img, size_t len, int code,
                         const char *needle)
{
    hb_elf_info info;
    char *err = NULL;
    int r = hb_elf_analyze(img, len, &info, &err);
    if (r == 0)
        hb_elf_info_release(&info);
    if (r != code)
        HB_FAIL_("%s: expected %d, got %d (%s)", what, code, r, err ? err : "no error");
    if (needle)
        HB_CHECK_CONTAINS(err, needle);
    printf("  %-14s -> %s\n", what, err ? err : "ok");
    free(err);
}

static void test_good(void)
{
    build_ok("good.so", good_src, SHARED);
    char *p = vt_path(g_dir, "good.so");
    hb_elf_info info;
    char *err = NULL;
    int r = hb_elf_analyze_file(p, &info, &err);
    if (r != 0)
        HB_FAIL_("good.so refused: %d %s", r, err);
    HB_CHECK(info.is_dyn);
    HB_CHECK(info.has_descriptor);
    HB_CHECK_EQ(info.descriptor_size, sizeof(hb_plugin_descriptor));
    HB_CHECK(!info.textrel && !info.exec_stack && !info.wx_segment);
    HB_CHECK(has(info.exports, "hb_plugin"));
    HB_CHECK(has(info.exports, "counter_add"));
    HB_CHECK(has(info.exports, "use_provider"));
    HB_CHECK(!has(info.exports, "helper_hidden")); /* hidden visibility */
    HB_CHECK(!has(info.exports, "counter"));       /* static */
    HB_CHECK(has(info.imports, "provider_fn"));
    HB_CHECK(has(info.imports, "sqrt"));
    HB_CHECK(!has(info.imports, "counter_add"));
    HB_CHECK(has(info.needed, "libm.so.6"));
    HB_CHECK_EQ(hb__strv_len(info.tests), 1);
    HB_CHECK_STR(info.tests[0], "hb_test_basic");
    hb_elf_info_release(&info);
    free(p);
    printf("  good.so        -> ok (descriptor, exports, imports, DT_NEEDED, tests)\n");
}

static void test_bad_builds(void)
{
    build_ok("nodesc.so", PLUGIN_PRELUDE "HB_EXPORT_FN int f(void) { return 1; }\n", SHARED);
    expect_file("nodesc.so", HB_ENODESC, "no hb_plugin descriptor: ");

    build_ok("small.so",
             PLUGIN_PRELUDE
             "HB_PLUGIN_API const struct { uint32_t a, b; const char *n; uint64_t x; }\n"
             "    hb_plugin = {1, 24, \"x\", 0};\n",
             SHARED);
    char want[64];
    snprintf(want, sizeof(want), "hb_plugin has size 24, expected %zu",
             sizeof(hb_plugin_descriptor));
    expect_file("small.so", HB_ENODESC, want);

    build_ok("funcdesc.so", PLUGIN_PRELUDE "HB_PLUGIN_API int hb_plugin(void) { return 0; }\n",
             SHARED);
    expect_file("funcdesc.so", HB_ENODESC, "hb_plugin is of type FUNC");

    const char *prog = PLUGIN_PRELUDE "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n"
                                      "int main(void) { return hb_plugin.size == 0; }\n";
    build_ok("exe", prog, "-no-pie -Wl,-z,noexecstack");
    expect_file("exe", HB_EBADELF, "ELF type is EXEC (executable), a shared object (DYN) is needed");
    build_ok("pie", prog, "-fPIE -pie -Wl,-z,noexecstack");
    expect_file("pie", HB_EBADELF, "position-independent executable");
    build_ok("reloc.o", prog, "-c -fPIC");
    expect_file("reloc.o", HB_EBADELF, "ELF type is REL");

    build_ok("execstack.so", good_src, "-shared -fPIC -Wl,-z,execstack");
    expect_file("execstack.so", HB_EPOLICY, "executable stack");

#if defined(__x86_64__)
    /* An absolute address in .text needs a run-time fix-up of code. */
    const char *textrel = PLUGIN_PRELUDE "HB_PLUGIN(\"t\", 1, 0, 0, 0, 0);\n"
                                         "__asm__(\".text\\n.globl tr\\ntr: .quad hb_plugin\\n\");\n";
    if (build("textrel.so", textrel, SHARED " -Wl,-z,notext") == 0)
        expect_file("textrel.so", HB_EPOLICY, "text relocations");
    else
        printf("  textrel.so     -> SKIP: the linker refused to create DT_TEXTREL\n");
#else
    printf("  textrel.so     -> SKIP: text relocation source is x86-64 assembly\n");
#endif

    char *p = vt_path(g_dir, "script.sh");
    vt_write_str(p, "#!/bin/sh\necho hi\n");
    free(p);
    expect_file("script.sh", HB_EBADELF,
                "not an ELF file (magic 7f 45 4c 46 expected, got 23 21 2f 62)");
    expect_image("empty", "", 0, HB_EBADELF, "got only 0 bytes");
    char *err = NULL;
    HB_CHECK_EQ(analyze_file("does-not-exist.so", &err), -ENOENT);
    HB_CHECK_CONTAINS(err, "does-not-exist.so");
    free(err);
}

static unsigned char *good_copy(size_t *len)
{
    char *p = vt_path(g_dir, "good.so");
    unsigned char *img = vt_read(p, len);
    free(p);
    return img;
}

static void test_patched(void)
{
    size_t len;
    unsigned char *img = good_copy(&len);
    HB_CHECK(len > sizeof(Elf64_Ehdr));
    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    unsigned char *c = malloc(len);

    memcpy(c, img, len);
    c[EI_CLASS] = ELFCLASS32;
    expect_image("class32", c, len, HB_EBADELF, "ELF class is 32-bit, host is 64-bit");

    memcpy(c, img, len);
    c[EI_DATA] = ELFDATA2MSB;
    expect_image("bigendian", c, len, HB_EBADELF, "ELF data encoding is big-endian");

    memcpy(c, img, len);
#if defined(__x86_64__)
    ((Elf64_Ehdr *)c)->e_machine = EM_AARCH64;
    expect_image("aarch64", c, len, HB_EBADELF, "ELF machine is AArch64 (183), host is x86-64 (62)");
#else
    ((Elf64_Ehdr *)c)->e_machine = EM_X86_64;
    expect_image("x86-64", c, len, HB_EBADELF, "ELF machine is x86-64 (62), host is AArch64 (183)");
#endif

    /* Make the first PT_LOAD writable+executable; drop PT_GNU_STACK. */
    memcpy(c, img, len);
    Elf64_Phdr *ph = (Elf64_Phdr *)(c + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD) {
            ph[i].p_flags = PF_R | PF_W | PF_X;
            break;
        }
    expect_image("wx-segment", c, len, HB_EPOLICY, "both writable and executable");
    memcpy(c, img, len);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_GNU_STACK)
            ph[i].p_type = PT_NULL;
    expect_image("no-gnu-stack", c, len, HB_EPOLICY, "PT_GNU_STACK missing");

    /* Section header table pointing past the end. */
    memcpy(c, img, len);
    ((Elf64_Ehdr *)c)->e_shoff = len - 10;
    expect_image("shoff-past-end", c, len, HB_EBADELF,
                 "section header table at offset");
    memcpy(c, img, len);
    ((Elf64_Ehdr *)c)->e_phoff = UINT64_MAX - 8;
    expect_image("phoff-overflow", c, len, HB_EBADELF, "program header table at offset");

    /* Truncation at every length up to 4 KiB, then every 7th: always an
     * error (the section headers are at the end), never a crash. */
    char want[128];
    snprintf(want, sizeof(want), "truncated ELF: section header table at offset %llu "
             "extends past end of file (%zu bytes)", (unsigned long long)eh->e_shoff, len - 1);
    expect_image("truncated-1", img, len - 1, HB_EBADELF, want);
    size_t tried = 0;
    for (size_t l = 0; l < len; l += (l < 4096 ? 1 : 7)) {
        hb_elf_info info;
        char *err = NULL;
        int r = hb_elf_analyze(img, l, &info, &err);
        if (r != HB_EBADELF)
            HB_FAIL_("truncated to %zu of %zu: expected HB_EBADELF, got %d (%s)", l, len, r,
                     err ? err : "");
        HB_CHECK(err != NULL && *err);
        free(err);
        tried++;
    }
    printf("  truncated      -> %zu lengths, all HB_EBADELF\n", tried);

    /* Random mutations of the good image and pure garbage: any answer but a
     * crash (the sanitizer build makes out-of-bounds reads fatal). */
    uint64_t x = 0x9e3779b97f4a7c15ull;
#define NEXT() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
    int ok = 0, refused = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(c, img, len);
        int flips = 1 + (int)(NEXT() % 8);
        for (int f = 0; f < flips; f++) {
            /* Mostly the headers, where the interesting fields are. */
            size_t at = (NEXT() % 4) ? NEXT() % 512 : NEXT() % len;
            if (NEXT() % 2)
                at = (size_t)(eh->e_shoff + NEXT() % (len - eh->e_shoff));
            c[at % len] = (unsigned char)NEXT();
        }
        hb_elf_info info;
        char *err = NULL;
        int r = hb_elf_analyze(c, len, &info, &err);
        if (r == 0) {
            hb_elf_info_release(&info);
            ok++;
        } else {
            HB_CHECK(err != NULL);
            refused++;
        }
        free(err);
    }
    for (int round = 0; round < 500; round++) {
        size_t l = NEXT() % 2048;
        for (size_t i = 0; i < l; i++)
            c[i] = (unsigned char)NEXT();
        if (round % 2 && l >= 16)
            memcpy(c, img, 16); /* a valid identification, garbage after */
        hb_elf_info info;
        char *err = NULL;
        int r = hb_elf_analyze(c, l, &info, &err);
        if (r == 0)
            HB_FAIL_("garbage of %zu bytes accepted", l);
        free(err);
    }
    printf("  mutations      -> %d accepted, %d refused, no crash; 500 garbage refused\n", ok,
           refused);
    free(c);
    free(img);
}

int main(void)
{
    char *const probe[] = {"cc", "--version", NULL};
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int saved = dup(1);
    dup2(devnull, 1);
    int st = vt_run(probe);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    if (st != 0)
        HB_SKIP("no working `cc` on PATH to build test objects");

    g_dir = vt_tmpdir("hb-elf-");
    test_good();
    test_bad_builds();
    test_patched();
    hb__rm_rf(g_dir);
    free(g_dir);
    printf("test_elf: ok\n");
    return 0;
}
