/*
 * compiler/microvm/config.c - what every VM of a pool boots: the QEMU binary, the kernel from
 * the kernel cache, and the pool's private initramfs (the base one plus the
 * kernel's modules, ld.so.cache and /etc/alternatives).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpio.h"
#include "vm_internal.h"

#ifndef HB_MICROVM_DEFAULT_INITRAMFS
#define HB_MICROVM_DEFAULT_INITRAMFS ""
#endif

char *hb__vm_cache_path(const char *env, const char *leaf)
{
    const char *e = getenv(env);
    if (e && *e)
        return strdup(e);
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x)
        return hb__asprintf("%s/hotbox/%s", x, leaf);
    const char *h = getenv("HOME");
    return hb__asprintf("%s/.cache/hotbox/%s", h && *h ? h : "/root", leaf);
}

/* Debian's /usr/bin/cc -> /etc/alternatives/cc -> /usr/bin/gcc: the guest
 * needs the /etc/alternatives links (not their targets, which are in /usr). */
static int add_alternatives(hb_cpio *c, char **err)
{
    DIR *d = opendir("/etc/alternatives");
    if (!d)
        return 0;
    int r = hb__cpio_dir(c, "etc/alternatives", 0755);
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        char path[PATH_MAX], target[PATH_MAX], name[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/etc/alternatives/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        snprintf(name, sizeof(name), "etc/alternatives/%s", e->d_name);
        r = hb__cpio_symlink(c, name, target);
    }
    closedir(d);
    if (r)
        hb__seterr(err, r, "cannot add /etc/alternatives to the initramfs: %s", strerror(-r));
    return r;
}

/* Appends the kernel's modules (in load order) and the host's ld.so.cache
 * to a copy of the base initramfs. */
static int build_initramfs(const char *base, const char *kdir, const char *out, char **err)
{
    int r = hb__vm_copy_file(base, out, 0644);
    if (r)
        return hb__seterr(err, r, "cannot copy the initramfs %s: %s", base, strerror(-r));
    FILE *f = fopen(out, "abe");
    if (!f)
        return hb__seterr(err, -errno, "%s: %s", out, strerror(errno));
    /* newc archives start on a 4-byte boundary: the base ends aligned */
    hb_cpio c;
    hb__cpio_init(&c, f);
    char *order_path = hb__asprintf("%s/modules/order", kdir);
    void *order = NULL;
    size_t len = 0;
    if (order_path && hb__read_file(order_path, 1 << 16, &order, &len) == 0) {
        hb__cpio_file(&c, "modules/order", 0644, order, len);
        char *save = NULL;
        for (char *name = strtok_r(order, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
            char *src = hb__asprintf("%s/modules/%s", kdir, name);
            char *dst = hb__asprintf("modules/%s", name);
            r = src && dst ? hb__cpio_file_from(&c, dst, 0644, src) : -ENOMEM;
            if (r)
                hb__seterr(err, r, "cannot add module %s: %s", src ? src : name, strerror(-r));
            free(src);
            free(dst);
            if (r)
                break;
        }
    }
    free(order);
    free(order_path);
    if (!r && access("/etc/ld.so.cache", R_OK) == 0)
        r = hb__cpio_file_from(&c, "etc/ld.so.cache", 0644, "/etc/ld.so.cache");
    if (!r)
        r = add_alternatives(&c, err);
    int r2 = hb__cpio_finish(&c);
    if (fclose(f) != 0 && !r2)
        r2 = -errno;
    if (!r && r2)
        r = hb__seterr(err, r2, "cannot write %s: %s", out, strerror(-r2));
    return r;
}

/* Which kernel a pool boots, in this order: the pool's kernel_dir;
 * $HOTBOX_KERNEL_DIR; the minimal kernel built by
 * scripts/build-guest-kernel.sh (<min cache>/current/vmlinux) when it is
 * there, unless $HOTBOX_GUEST_KERNEL=debian; the Debian kernel's cache
 * (scripts/fetch-guest-kernel.sh), the default that needs no build.
 * $HOTBOX_GUEST_KERNEL=minimal insists on the minimal one. */
int hb__vm_kernel_dir(const hb_vm_pool_options *o, char **dir, bool *minimal, char **err)
{
    *dir = NULL;
    *minimal = false;
    if (o->kernel_dir || (getenv("HOTBOX_KERNEL_DIR") && *getenv("HOTBOX_KERNEL_DIR"))) {
        *dir = o->kernel_dir ? strdup(o->kernel_dir)
                             : hb__vm_cache_path("HOTBOX_KERNEL_DIR", "guest-kernel");
        return *dir ? 0 : -ENOMEM;
    }
    const char *want = getenv("HOTBOX_GUEST_KERNEL");
    if (want && !*want)
        want = NULL;
    if (want && strcmp(want, "debian") != 0 && strcmp(want, "minimal") != 0)
        return hb__seterr(err, -EINVAL,
                          "HOTBOX_GUEST_KERNEL=%s: expected \"debian\" or \"minimal\"", want);
    if (!want || strcmp(want, "debian") != 0) {
        char *root = hb__vm_cache_path("HOTBOX_MIN_KERNEL_DIR", "guest-kernel-min");
        char *cur = root ? hb__path_join(root, "current") : NULL;
        char *vmlinux = cur ? hb__path_join(cur, "vmlinux") : NULL;
        bool have = vmlinux && access(vmlinux, R_OK) == 0;
        int r = root && cur && vmlinux ? 0 : -ENOMEM;
        if (!r && !have && want)
            r = hb__seterr(err, -ENOENT,
                           "HOTBOX_GUEST_KERNEL=minimal but no minimal kernel at %s; run "
                           "scripts/build-guest-kernel.sh", vmlinux);
        /* the build the link names now: a rebuild mid-run changes nothing */
        if (!r && have && hb__realpath(cur, dir) == 0)
            *minimal = true;
        else if (!r && have)
            r = -ENOMEM;
        free(root);
        free(vmlinux);
        free(cur);
        if (r || have)
            return r;
    }
    *dir = hb__vm_cache_path("HOTBOX_KERNEL_DIR", "guest-kernel");
    return *dir ? 0 : -ENOMEM;
}

void hb__vm_add_identity(hb_sb *sb, const char *what, const char *path)
{
    struct stat st;
    if (path && stat(path, &st) == 0)
        hb__sb_addf(sb, "%s=%s %llu:%llu %lld %lld.%09ld\n", what, path,
                    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                    (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    else
        hb__sb_addf(sb, "%s=%s missing\n", what, path ? path : "?");
}

void hb__vm_cfg_release(vm_cfg *c)
{
    HB_FREE_ALL(c->append, c->snapshot, c->qemu, c->kernel, c->initrd);
    memset(c, 0, sizeof(*c));
}

/* Resolves kernel, initramfs and qemu; builds the private initramfs in dir. */
int hb__vm_cfg_init(const hb_vm_pool_options *o, const char *dir, vm_cfg *c, char **err)
{
    memset(c, 0, sizeof(*c));
    char *kdir = NULL;
    int r = hb__vm_kernel_dir(o, &kdir, &c->minimal_kernel, err);
    if (r)
        return r;
    const char *base = o->initramfs;
    if (!base)
        base = getenv("HOTBOX_MICROVM_INITRAMFS");
    if (!base || !*base)
        base = HB_MICROVM_DEFAULT_INITRAMFS;
    c->qemu = strdup(o->qemu ? o->qemu : "qemu-system-x86_64");
    c->memory_mb = o->memory_mb ? o->memory_mb : 256;
    c->boot_timeout_ms = o->boot_timeout_ms ? o->boot_timeout_ms : 30000;
    c->accel = o->accel;
    const char *tb = getenv("HOTBOX_VM_TB_MB");
    c->tb_mb = tb && atoi(tb) > 0 ? (unsigned)atoi(tb) : HB_VM_TCG_TB_MB;
    c->append = hb__vm_kernel_cmdline();
    if (!kdir || !c->qemu || !c->append) {
        r = -ENOMEM;
        goto out;
    }
    char *vmlinux = hb__path_join(kdir, "vmlinux"), *bz = hb__path_join(kdir, "bzImage");
    if (vmlinux && access(vmlinux, R_OK) == 0) {
        c->kernel = vmlinux;
        vmlinux = NULL;
    } else if (bz && access(bz, R_OK) == 0) {
        c->kernel = bz;
        bz = NULL;
    }
    free(vmlinux);
    free(bz);
    if (!c->kernel) {
        r = hb__seterr(err, -ENOENT,
                       "guest kernel not found at %s (no vmlinux or bzImage); run "
                       "scripts/fetch-guest-kernel.sh (or set HOTBOX_KERNEL_DIR)", kdir);
        goto out;
    }
    if (!*base || access(base, R_OK) != 0) {
        r = hb__seterr(err, -ENOENT,
                       "guest initramfs not found at %s; build the hb_microvm_initramfs "
                       "target (or set HOTBOX_MICROVM_INITRAMFS)", *base ? base : "(unset)");
        goto out;
    }
    if (dir) {
        c->initrd = hb__path_join(dir, "initramfs.cpio");
        r = c->initrd ? build_initramfs(base, kdir, c->initrd, err) : -ENOMEM;
    }
out:
    free(kdir);
    if (r)
        hb__vm_cfg_release(c);
    return r;
}

int hb__vm_cfg_compile_guest(vm_cfg *c)
{
    char *a = hb__asprintf("%s norandmaps", c->append);
    if (!a)
        return -ENOMEM;
    free(c->append);
    c->append = a;
    return 0;
}

int hb__vm_make_run_dir(const hb_vm_pool_options *o, char **out, char **err)
{
    const char *parent = o->run_dir;
    if (!parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    int r = hb__mkdtemp_in(parent, "hotbox-vm-", out);
    if (r)
        hb__seterr(err, r, "cannot create a directory in %s: %s", parent, strerror(-r));
    return r;
}
