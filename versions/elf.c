/*
 * versions/elf.c - checks that an image is a plugin this host can load, and
 * extracts its dynamic interface, with libelf's gelf API.
 *
 * The image is parsed from a private heap copy with elf_memory(); it is
 * never mapped executable nor handed to the dynamic loader. libelf checks
 * some bounds lazily and some not at all, so every table we touch is first
 * checked against the image length here, which keeps the precise error text
 * ours ("section header table at offset X extends past end of file").
 */
#include "elf.h"
#include "elf_desc.h"

#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotbox/hotbox.h"
#include "hotbox/plugin.h"
#include "util.h"

#if defined(__x86_64__)
#define HOST_EM EM_X86_64
#elif defined(__aarch64__)
#define HOST_EM EM_AARCH64
#else
#error "hotbox: add this host's ELF machine to versions/elf.c"
#endif

/* An object larger than this is refused before parsing. */
#define HB_ELF_MAX_IMAGE ((size_t)1 << 30)

static const char *machine_name(unsigned em)
{
    switch (em) {
    case EM_386: return "Intel 80386";
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "AArch64";
    case EM_ARM: return "ARM";
    case EM_RISCV: return "RISC-V";
    case EM_PPC: return "PowerPC";
    case EM_PPC64: return "PowerPC64";
    case EM_S390: return "S/390";
    case EM_MIPS: return "MIPS";
    case EM_SPARCV9: return "SPARC v9";
    case EM_LOONGARCH: return "LoongArch";
    case EM_NONE: return "none";
    }
    return "unknown";
}

static HB_ENUM_NAMES(type_name, unsigned, [ET_NONE] = "NONE (no file type)",
                     [ET_REL] = "REL (relocatable object, not linked)",
                     [ET_EXEC] = "EXEC (executable)", [ET_DYN] = "DYN (shared object)",
                     [ET_CORE] = "CORE (core dump)")

static const char *ptype_name(uint32_t t)
{
    switch (t) {
    case PT_LOAD: return "LOAD";
    case PT_DYNAMIC: return "DYNAMIC";
    case PT_INTERP: return "INTERP";
    case PT_NOTE: return "NOTE";
    case PT_PHDR: return "PHDR";
    case PT_TLS: return "TLS";
    case PT_GNU_EH_FRAME: return "GNU_EH_FRAME";
    case PT_GNU_STACK: return "GNU_STACK";
    case PT_GNU_RELRO: return "GNU_RELRO";
    }
    return "other";
}

/* A growing NULL-terminated string vector. */
typedef struct strv {
    char **v;
    size_t n, cap;
} strv;

static int strv_add(strv *s, const char *str)
{
    if (s->n + 1 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        char **nv = realloc(s->v, ncap * sizeof(char *));
        if (!nv)
            return -ENOMEM;
        s->v = nv;
        s->cap = ncap;
    }
    char *d = strdup(str);
    if (!d)
        return -ENOMEM;
    s->v[s->n++] = d;
    s->v[s->n] = NULL;
    return 0;
}

/* Always returns a NULL-terminated vector (or NULL on ENOMEM). */
static char **strv_finish(strv *s)
{
    if (!s->v)
        return calloc(1, sizeof(char *));
    char **v = s->v;
    s->v = NULL;
    s->n = s->cap = 0;
    return v;
}

void hb_elf_info_release(hb_elf_info *info)
{
    if (!info)
        return;
    HB_STRV_FREE_ALL(info->exports, info->imports, info->needed, info->tests);
    free(info->descriptor_name);
    memset(info, 0, sizeof(*info));
}

/* Whether [off, off+size) lies within len, without overflow. */
static bool in_bounds(uint64_t off, uint64_t size, size_t len)
{
    return off <= len && size <= len - off;
}

struct ctx {
    const unsigned char *img;
    size_t len;
    Elf *e;
    char **err;
    size_t shnum, phnum;
    hb_elf_info info;
    strv exports, imports, needed, tests;
    /* descriptor facts for the error message */
    bool desc_seen, desc_defined;
    int desc_type, desc_vis;
    uint64_t desc_size, desc_value;
};

static int check_ident(struct ctx *c)
{
    static const unsigned char magic[4] = {0x7f, 'E', 'L', 'F'};
    if (c->len < 4 || memcmp(c->img, magic, 4) != 0) {
        char got[64] = "";
        size_t n = c->len < 4 ? c->len : 4;
        for (size_t i = 0; i < n; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%02x", i ? " " : "",
                     c->img[i]);
        if (c->len < 4)
            return hb__seterr(c->err, HB_EBADELF,
                              "not an ELF file (magic 7f 45 4c 46 expected, got only %zu "
                              "byte%s%s%s)", c->len, c->len == 1 ? "" : "s", n ? ": " : "", got);
        return hb__seterr(c->err, HB_EBADELF,
                          "not an ELF file (magic 7f 45 4c 46 expected, got %s)", got);
    }
    if (c->len < EI_NIDENT)
        return hb__seterr(c->err, HB_EBADELF,
                          "truncated ELF: identification needs %d bytes, file has %zu",
                          EI_NIDENT, c->len);
    unsigned cls = c->img[EI_CLASS];
    if (cls == ELFCLASS32)
        return hb__seterr(c->err, HB_EBADELF, "ELF class is 32-bit, host is 64-bit");
    if (cls != ELFCLASS64)
        return hb__seterr(c->err, HB_EBADELF, "ELF class %u is invalid (1 = 32-bit, 2 = 64-bit)",
                          cls);
    unsigned data = c->img[EI_DATA];
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const unsigned host_data = ELFDATA2LSB;
    const char *host_order = "little-endian";
#else
    const unsigned host_data = ELFDATA2MSB;
    const char *host_order = "big-endian";
#endif
    if (data != host_data) {
        const char *d = data == ELFDATA2LSB   ? "little-endian (LSB)"
                        : data == ELFDATA2MSB ? "big-endian (MSB)"
                                              : "invalid";
        return hb__seterr(c->err, HB_EBADELF, "ELF data encoding is %s (%u), host is %s", d,
                          data, host_order);
    }
    if (c->img[EI_VERSION] != EV_CURRENT)
        return hb__seterr(c->err, HB_EBADELF, "ELF identification version is %u, expected %u",
                          c->img[EI_VERSION], EV_CURRENT);
    if (c->len < sizeof(Elf64_Ehdr))
        return hb__seterr(c->err, HB_EBADELF,
                          "truncated ELF: file header needs %zu bytes, file has %zu",
                          sizeof(Elf64_Ehdr), c->len);
    return 0;
}

/* Checks the file header from the raw bytes (the byte order is the host's,
 * check_ident made sure), before libelf sees the image, so that bad tables
 * get our precise message rather than libelf's "invalid data". */
static int check_header(struct ctx *c)
{
    Elf64_Ehdr eh;
    memcpy(&eh, c->img, sizeof(eh));
    if (eh.e_machine != HOST_EM)
        return hb__seterr(c->err, HB_EBADELF, "ELF machine is %s (%u), host is %s (%u)",
                          machine_name(eh.e_machine), eh.e_machine, machine_name(HOST_EM),
                          HOST_EM);
    if (eh.e_type != ET_DYN)
        return hb__seterr(c->err, HB_EBADELF,
                          "ELF type is %s, a shared object (DYN) is needed", type_name(eh.e_type));
    c->info.is_dyn = true;
    if (eh.e_ehsize < sizeof(Elf64_Ehdr))
        return hb__seterr(c->err, HB_EBADELF, "bad ELF: header size is %u, expected %zu",
                          eh.e_ehsize, sizeof(Elf64_Ehdr));
    if (eh.e_phnum != 0 && eh.e_phentsize != sizeof(Elf64_Phdr))
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: program header entry size is %u, expected %zu",
                          eh.e_phentsize, sizeof(Elf64_Phdr));
    if (eh.e_shnum != 0 && eh.e_shentsize != sizeof(Elf64_Shdr))
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: section header entry size is %u, expected %zu",
                          eh.e_shentsize, sizeof(Elf64_Shdr));
    if (eh.e_shoff == 0 || (eh.e_shnum == 0 && eh.e_shentsize != sizeof(Elf64_Shdr)))
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: no section headers, cannot find the dynamic symbol table");
    /* With e_shnum == 0 (or e_phnum == PN_XNUM) the real count lives in
     * section 0 (extended numbering); that entry must be in the file first. */
    uint64_t shnum = eh.e_shnum, phnum = eh.e_phnum;
    if (!in_bounds(eh.e_shoff, sizeof(Elf64_Shdr), c->len))
        goto sh_past_end;
    if (shnum == 0 || phnum == PN_XNUM) {
        Elf64_Shdr sh0;
        memcpy(&sh0, c->img + eh.e_shoff, sizeof(sh0));
        if (shnum == 0)
            shnum = sh0.sh_size;
        if (phnum == PN_XNUM)
            phnum = sh0.sh_info;
    }
    if (shnum > c->len / sizeof(Elf64_Shdr) ||
        !in_bounds(eh.e_shoff, shnum * sizeof(Elf64_Shdr), c->len))
        goto sh_past_end;
    if (phnum > c->len / sizeof(Elf64_Phdr) ||
        !in_bounds(eh.e_phoff, phnum * sizeof(Elf64_Phdr), c->len))
        return hb__seterr(c->err, HB_EBADELF,
                          "truncated ELF: program header table at offset %" PRIu64
                          " (%" PRIu64 " entries) extends past end of file (%zu bytes)",
                          (uint64_t)eh.e_phoff, phnum, c->len);
    if (phnum == 0)
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: no program headers, a shared object needs segments");
    if (shnum < 2)
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: no section headers, cannot find the dynamic symbol table");
    c->shnum = shnum;
    c->phnum = phnum;
    return 0;
sh_past_end:
    return hb__seterr(c->err, HB_EBADELF,
                      "truncated ELF: section header table at offset %" PRIu64
                      " extends past end of file (%zu bytes)",
                      (uint64_t)eh.e_shoff, c->len);
}

/* libelf's own view must agree with ours before we index its tables. */
static int check_libelf_counts(struct ctx *c)
{
    size_t shnum = 0, phnum = 0;
    if (elf_getshdrnum(c->e, &shnum) != 0 || elf_getphdrnum(c->e, &phnum) != 0)
        return hb__seterr(c->err, HB_EBADELF, "bad ELF: %s", elf_errmsg(-1));
    if (shnum != c->shnum || phnum != c->phnum)
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: inconsistent header counts (%zu/%zu sections, %zu/%zu "
                          "segments)", shnum, c->shnum, phnum, c->phnum);
    return 0;
}

static int check_segments(struct ctx *c)
{
    bool have_stack = false;
    for (size_t i = 0; i < c->phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(c->e, (int)i, &ph))
            return hb__seterr(c->err, HB_EBADELF, "bad ELF: program header %zu: %s", i,
                              elf_errmsg(-1));
        if (ph.p_type != PT_GNU_STACK && !in_bounds(ph.p_offset, ph.p_filesz, c->len))
            return hb__seterr(c->err, HB_EBADELF,
                              "truncated ELF: segment %zu (%s) at offset %" PRIu64 " size %" PRIu64
                              " extends past end of file (%zu bytes)",
                              i, ptype_name(ph.p_type), (uint64_t)ph.p_offset,
                              (uint64_t)ph.p_filesz, c->len);
        if (ph.p_type == PT_LOAD && ph.p_filesz > ph.p_memsz)
            return hb__seterr(c->err, HB_EBADELF,
                              "bad ELF: segment %zu (LOAD) has file size %" PRIu64
                              " larger than its memory size %" PRIu64,
                              i, (uint64_t)ph.p_filesz, (uint64_t)ph.p_memsz);
        if (ph.p_type == PT_GNU_STACK) {
            have_stack = true;
            if (ph.p_flags & PF_X)
                c->info.exec_stack = true;
        }
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) && (ph.p_flags & PF_X))
            c->info.wx_segment = true;
    }
    /* Without PT_GNU_STACK the loader assumes an executable stack. */
    if (!have_stack)
        c->info.exec_stack = true;
    return 0;
}

/* Section scn as a checked table of entsize-byte entries. */
static int section_table(struct ctx *c, Elf_Scn *scn, size_t idx, const GElf_Shdr *sh,
                         size_t entsize, const char *what, Elf_Data **data, size_t *count)
{
    if (sh->sh_entsize != entsize)
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: %s section %zu has entry size %" PRIu64 ", expected %zu", what,
                          idx, (uint64_t)sh->sh_entsize, entsize);
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d || !d->d_buf || d->d_size < sh->sh_size)
        return hb__seterr(c->err, HB_EBADELF, "bad ELF: cannot read %s section %zu: %s", what,
                          idx, elf_errmsg(-1));
    *data = d;
    *count = sh->sh_size / entsize;
    return 0;
}

static int check_strtab_link(struct ctx *c, size_t idx, const GElf_Shdr *sh, const char *what)
{
    GElf_Shdr ls;
    Elf_Scn *l = (sh->sh_link && sh->sh_link < c->shnum) ? elf_getscn(c->e, sh->sh_link) : NULL;
    if (!l || !gelf_getshdr(l, &ls) || ls.sh_type != SHT_STRTAB)
        return hb__seterr(c->err, HB_EBADELF,
                          "bad ELF: %s section %zu links to section %u, which is not a string "
                          "table", what, idx, (unsigned)sh->sh_link);
    return 0;
}

static int read_dynsym(struct ctx *c, Elf_Scn *scn, size_t idx, const GElf_Shdr *sh)
{
    Elf_Data *d;
    size_t n;
    int r = check_strtab_link(c, idx, sh, "dynamic symbol");
    if (r == 0)
        r = section_table(c, scn, idx, sh, sizeof(Elf64_Sym), "dynamic symbol", &d, &n);
    if (r < 0)
        return r;
    for (size_t i = 1; i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(d, (int)i, &sym))
            return hb__seterr(c->err, HB_EBADELF, "bad ELF: dynamic symbol %zu: %s", i,
                              elf_errmsg(-1));
        const char *name = elf_strptr(c->e, sh->sh_link, sym.st_name);
        if (!name)
            return hb__seterr(c->err, HB_EBADELF,
                              "bad ELF: dynamic symbol %zu has a name offset %u outside its "
                              "string table", i, (unsigned)sym.st_name);
        if (!*name)
            continue;
        unsigned bind = GELF_ST_BIND(sym.st_info), type = GELF_ST_TYPE(sym.st_info);
        unsigned vis = GELF_ST_VISIBILITY(sym.st_other);
        bool global = bind == STB_GLOBAL || bind == STB_WEAK || bind == STB_GNU_UNIQUE;
        bool defined = sym.st_shndx != SHN_UNDEF;
        if (!strcmp(name, HB_PLUGIN_SYMBOL) && (defined || !c->desc_seen)) {
            c->desc_seen = true;
            c->desc_defined = defined && global;
            c->desc_type = (int)type;
            c->desc_vis = (int)vis;
            c->desc_size = sym.st_size;
            c->desc_value = sym.st_value;
        }
        if (!global || type == STT_SECTION || type == STT_FILE)
            continue;
        if (!defined) {
            r = strv_add(&c->imports, name);
        } else if (vis == STV_DEFAULT || vis == STV_PROTECTED) {
            r = strv_add(&c->exports, name);
            if (r == 0 && !strncmp(name, "hb_test_", 8) && type == STT_FUNC)
                r = strv_add(&c->tests, name);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

static int read_dynamic(struct ctx *c, Elf_Scn *scn, size_t idx, const GElf_Shdr *sh)
{
    Elf_Data *d;
    size_t n;
    int r = check_strtab_link(c, idx, sh, "dynamic");
    if (r == 0)
        r = section_table(c, scn, idx, sh, sizeof(Elf64_Dyn), "dynamic", &d, &n);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        GElf_Dyn dyn;
        if (!gelf_getdyn(d, (int)i, &dyn))
            return hb__seterr(c->err, HB_EBADELF, "bad ELF: dynamic entry %zu: %s", i,
                              elf_errmsg(-1));
        if (dyn.d_tag == DT_NULL)
            break;
        if (dyn.d_tag == DT_TEXTREL || (dyn.d_tag == DT_FLAGS && (dyn.d_un.d_val & DF_TEXTREL)))
            c->info.textrel = true;
        /* A PIE executable is ET_DYN too, but dlopen refuses it. */
        if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE))
            return hb__seterr(c->err, HB_EBADELF,
                              "ELF type is DYN but the object is a position-independent "
                              "executable (DF_1_PIE), a shared object is needed");
        if (dyn.d_tag == DT_NEEDED) {
            const char *name = elf_strptr(c->e, sh->sh_link, dyn.d_un.d_val);
            if (!name)
                return hb__seterr(c->err, HB_EBADELF,
                                  "bad ELF: DT_NEEDED entry %zu has a name offset %" PRIu64
                                  " outside its string table", i, (uint64_t)dyn.d_un.d_val);
            r = strv_add(&c->needed, name);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int read_sections(struct ctx *c)
{
    bool have_dynsym = false, have_dynamic = false;
    for (size_t i = 1; i < c->shnum; i++) {
        Elf_Scn *scn = elf_getscn(c->e, i);
        GElf_Shdr sh;
        if (!scn || !gelf_getshdr(scn, &sh))
            return hb__seterr(c->err, HB_EBADELF, "bad ELF: section header %zu: %s", i,
                              elf_errmsg(-1));
        if (sh.sh_type != SHT_NOBITS && !in_bounds(sh.sh_offset, sh.sh_size, c->len))
            return hb__seterr(c->err, HB_EBADELF,
                              "truncated ELF: section %zu at offset %" PRIu64 " size %" PRIu64
                              " extends past end of file (%zu bytes)",
                              i, (uint64_t)sh.sh_offset, (uint64_t)sh.sh_size, c->len);
    }
    /* Bounds of every section are known good before libelf reads any. */
    for (size_t i = 1; i < c->shnum; i++) {
        Elf_Scn *scn = elf_getscn(c->e, i);
        GElf_Shdr sh;
        int r = 0;
        if (!scn || !gelf_getshdr(scn, &sh))
            return hb__seterr(c->err, HB_EBADELF, "bad ELF: section header %zu", i);
        if (sh.sh_type == SHT_DYNSYM && !have_dynsym) {
            have_dynsym = true;
            r = read_dynsym(c, scn, i, &sh);
        } else if (sh.sh_type == SHT_DYNAMIC && !have_dynamic) {
            have_dynamic = true;
            r = read_dynamic(c, scn, i, &sh);
        }
        if (r < 0)
            return r;
    }
    if (!have_dynsym)
        return hb__seterr(c->err, HB_ENODESC,
                          "no hb_plugin descriptor: the object has no dynamic symbol table");
    return 0;
}

static const char *stt_name(int t)
{
    switch (t) {
    case STT_NOTYPE: return "NOTYPE";
    case STT_FUNC: return "FUNC (a function)";
    case STT_TLS: return "TLS (a thread-local)";
    case STT_GNU_IFUNC: return "IFUNC";
    case STT_COMMON: return "COMMON";
    }
    return "non-object symbol";
}

static int check_descriptor(struct ctx *c)
{
    const size_t want = sizeof(hb_plugin_descriptor);
    if (!c->desc_seen)
        return hb__seterr(c->err, HB_ENODESC,
                          "no hb_plugin descriptor: the object exports no symbol named "
                          HB_PLUGIN_SYMBOL " (declare one with HB_PLUGIN(...) from "
                          "hotbox/plugin.h)");
    if (!c->desc_defined)
        return hb__seterr(c->err, HB_ENODESC,
                          "no hb_plugin descriptor: " HB_PLUGIN_SYMBOL " is referenced but not "
                          "defined by the object");
    if (c->desc_vis != STV_DEFAULT && c->desc_vis != STV_PROTECTED)
        return hb__seterr(c->err, HB_ENODESC,
                          "no hb_plugin descriptor: " HB_PLUGIN_SYMBOL " has hidden visibility "
                          "(use HB_PLUGIN(...), which exports it)");
    if (c->desc_type != STT_OBJECT)
        return hb__seterr(c->err, HB_ENODESC,
                          "no hb_plugin descriptor: " HB_PLUGIN_SYMBOL " is of type %s, a data "
                          "object is needed", stt_name(c->desc_type));
    c->info.descriptor_size = c->desc_size;
    if (c->desc_size != want)
        return hb__seterr(c->err, HB_ENODESC, HB_PLUGIN_SYMBOL " has size %" PRIu64
                          ", expected %zu (built against a different hotbox/plugin.h?)",
                          c->desc_size, want);
    c->info.has_descriptor = true;
    return 0;
}

static int check_policy(struct ctx *c)
{
    if (c->info.textrel)
        return hb__seterr(c->err, HB_EPOLICY,
                          "object has text relocations (DT_TEXTREL): code pages would be "
                          "writable at load; compile every source with -fPIC");
    if (c->info.wx_segment)
        return hb__seterr(c->err, HB_EPOLICY,
                          "object has a segment that is both writable and executable (W+X)");
    if (c->info.exec_stack)
        return hb__seterr(c->err, HB_EPOLICY,
                          "object asks for an executable stack (PT_GNU_STACK missing or "
                          "with PF_X); link with -z noexecstack");
    return 0;
}

/* Analyses img (owned by the caller, private to this call: libelf may
 * touch it). */
static _Atomic uint64_t analyses;

uint64_t hb_elf_analyses(void)
{
    return analyses;
}

static int analyze(unsigned char *img, size_t len, hb_elf_info *out, char **err)
{
    analyses++;
    struct ctx c = {.img = img, .len = len, .err = err};
    int r = check_ident(&c);
    if (r < 0)
        return r;
    r = check_header(&c);
    if (r < 0)
        return r;
    if (elf_version(EV_CURRENT) == EV_NONE)
        return hb__seterr(err, HB_EBADELF, "libelf is too old: %s", elf_errmsg(-1));
    c.e = elf_memory((char *)img, len);
    if (!c.e || elf_kind(c.e) != ELF_K_ELF) {
        r = hb__seterr(err, HB_EBADELF, "bad ELF: %s", elf_errmsg(-1));
        goto out;
    }
    r = check_libelf_counts(&c);
    if (r == 0)
        r = check_segments(&c);
    if (r == 0)
        r = read_sections(&c);
    if (r == 0)
        r = check_descriptor(&c);
    if (r == 0)
        r = check_policy(&c);
    if (r == 0) {
        c.info.exports = strv_finish(&c.exports);
        c.info.imports = strv_finish(&c.imports);
        c.info.needed = strv_finish(&c.needed);
        c.info.tests = strv_finish(&c.tests);
        c.info.descriptor_name = hb__elf_descriptor_name(c.e, c.img, c.len, c.desc_value);
        if (!c.info.exports || !c.info.imports || !c.info.needed || !c.info.tests) {
            hb_elf_info_release(&c.info);
            r = -ENOMEM;
        } else {
            *out = c.info;
        }
    }
    if (r == -ENOMEM)
        hb__seterr(err, r, "out of memory analysing ELF");
out:
    HB_STRV_FREE_ALL(c.exports.v, c.imports.v, c.needed.v, c.tests.v);
    if (c.e)
        elf_end(c.e);
    return r;
}

int hb_elf_analyze(const void *image, size_t len, hb_elf_info *out, char **err)
{
    if ((!image && len) || !out)
        return -EINVAL;
    if (len > HB_ELF_MAX_IMAGE)
        return hb__seterr(err, HB_EBADELF, "object is %zu bytes, larger than the limit of %zu",
                          len, HB_ELF_MAX_IMAGE);
    /* libelf may write into the buffer it parses; never let it near the
     * caller's (maybe read-only) memory. */
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy)
        return hb__seterr(err, -ENOMEM, "out of memory copying a %zu-byte object", len);
    if (len)
        memcpy(copy, image, len);
    int r = analyze(copy, len, out, err);
    free(copy);
    return r;
}

int hb_elf_analyze_file(const char *path, hb_elf_info *out, char **err)
{
    if (!path || !out)
        return -EINVAL;
    void *data = NULL;
    size_t len = 0;
    int r = hb__read_file(path, HB_ELF_MAX_IMAGE, &data, &len);
    if (r < 0)
        return hb__seterr(err, r, "cannot read %s: %s", path, strerror(-r));
    char *inner = NULL;
    r = analyze(data, len, out, &inner);
    if (r < 0)
        hb__seterr(err, r, "%s: %s", path, inner ? inner : "invalid ELF object");
    free(inner);
    free(data);
    return r;
}
