/*
 * tests/microvm/test_microvm_kernel.c - the optional minimal guest kernel
 * (scripts/build-guest-kernel.sh) without building one:
 *   fragment  the config fragment holds the options the guest needs, and the
 *             script's check names an option that did not reach a .config;
 *   select    which kernel a pool boots (hb__vm_kernel_dir): the pool's
 *             kernel_dir, $HOTBOX_KERNEL_DIR, the minimal kernel's cache when
 *             it holds a build, $HOTBOX_GUEST_KERNEL=debian|minimal, else
 *             the Debian kernel's cache; the snapshot key changes with it;
 *   compile_guest  a compile pool's guest runs without address-space
 *             randomisation (norandmaps: TCG reuses a warm VM's translations
 *             only at the same virtual addresses); SKIPs without a kernel;
 *   kvm       the KVM path: a probe boot under KVM (8 s limit); where a guest
 *             does not boot under it (no /dev/kvm, PVM hosts like this
 *             project's CI) it SKIPs with the probe's reason; else a KVM pool
 *             saves and restores its snapshot and compiles, and prints boot
 *             and restore times (docs/microvm.md has the figures to expect);
 *   boot      when a minimal kernel is cached (the script was run), a pool
 *             boots it, restores its snapshot and compiles a plugin that
 *             loads here. SKIPs otherwise: tests never build a kernel.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "process.h"
#include "vm_internal.h"

#define SCRIPT HB_SOURCE_DIR "/scripts/build-guest-kernel.sh"
#define FRAGMENT HB_SOURCE_DIR "/scripts/guest-kernel.config"

/* Runs the script with args; its exit status, its stderr in *out. */
static int run_script(const char *const *args, char **out)
{
    char *tmp = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-kscript-", &tmp));
    char *log = hb__path_join(tmp, "stderr");
    char *cmd = hb__asprintf("bash %s %s %s 2>%s", SCRIPT, args[0] ? args[0] : "",
                             args[0] && args[1] ? args[1] : "", log);
    int st = system(cmd);
    void *data = NULL;
    size_t len = 0;
    if (hb__read_file(log, 1 << 20, &data, &len) != 0)
        data = strdup("");
    *out = data;
    hb__rm_rf(tmp);
    free(tmp);
    free(log);
    free(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void case_fragment(void)
{
    void *frag = NULL;
    size_t len = 0;
    HB_CHECK_OK(hb__read_file(FRAGMENT, 1 << 20, &frag, &len));
    /* what the guest needs (docs/microvm.md) */
    static const char *const need[] = {
        "CONFIG_VIRTIO_MMIO=y\n", "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y\n",
        "CONFIG_VIRTIO_CONSOLE=y\n", "CONFIG_NET_9P_VIRTIO=y\n", "CONFIG_9P_FS=y\n",
        "CONFIG_PVH=y\n", "CONFIG_DEVTMPFS=y\n", "CONFIG_TMPFS=y\n",
        "CONFIG_BLK_DEV_INITRD=y\n", "CONFIG_SECCOMP_FILTER=y\n", "CONFIG_MULTIUSER=y\n",
        "CONFIG_PROC_SYSCTL=y\n", "CONFIG_SERIAL_8250_CONSOLE=y\n", "CONFIG_NAMESPACES=y\n"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        HB_CHECK_CONTAINS((const char *)frag, need[i]);
    HB_CHECK(!strstr(frag, "CONFIG_MODULES=y")); /* everything built in */

    /* a .config holding every fragment line passes the script's check... */
    char *tmp = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-kfrag-", &tmp));
    char *good = hb__path_join(tmp, "good.config"), *bad = hb__path_join(tmp, "bad.config");
    hb_sb sb = HB_SB_INIT;
    hb__sb_addf(&sb, "# generated\nCONFIG_EXTRA=y\n%s", (const char *)frag);
    HB_CHECK_OK(hb__write_file_atomic(good, sb.buf, sb.len, 0644));
    char *err = NULL;
    const char *a1[] = {"--check-fragment", good, NULL};
    int st = run_script(a1, &err);
    if (st != 0)
        fprintf(stderr, "script: %s\n", err);
    HB_CHECK_EQ(st, 0);
    free(err);
    /* ...one where 9P_FS did not take (a missing dependency) fails, naming it */
    char *cut = strstr(sb.buf, "CONFIG_9P_FS=y\n");
    HB_CHECK(cut);
    memcpy(cut, "# CONFIG_9P_FS is not set\n", strlen("CONFIG_9P_FS=y\n"));
    HB_CHECK_OK(hb__write_file_atomic(bad, sb.buf, sb.len, 0644));
    const char *a2[] = {"--check-fragment", bad, NULL};
    st = run_script(a2, &err);
    HB_CHECK_INT(st, !=, 0);
    HB_CHECK_CONTAINS(err, "CONFIG_9P_FS=y did not take");
    free(err);
    /* the cache key is printed without building anything */
    const char *a3[] = {"--print-key", NULL};
    HB_CHECK_EQ(run_script(a3, &err), 0);
    free(err);
    hb__sb_release(&sb);
    hb__rm_rf(tmp);
    free(tmp);
    free(good);
    free(bad);
    free(frag);
}

static void put(const char *path)
{
    char *dir = strdup(path);
    *strrchr(dir, '/') = 0;
    HB_CHECK_OK(hb__mkdir_p(dir, 0755));
    HB_CHECK_OK(hb__write_file_atomic(path, "ELF?", 4, 0644));
    free(dir);
}

/* hb__vm_kernel_dir's answer: the directory (malloc'ed) or NULL with *r. */
static char *pick(const hb_vm_pool_options *o, bool *minimal, int *r, char **err)
{
    char *dir = NULL;
    *err = NULL;
    *r = hb__vm_kernel_dir(o, &dir, minimal, err);
    return dir;
}

static void case_select(void)
{
    char *tmp = NULL, *err = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-ksel-", &tmp));
    setenv("XDG_CACHE_HOME", tmp, 1);
    unsetenv("HOTBOX_KERNEL_DIR");
    unsetenv("HOTBOX_MIN_KERNEL_DIR");
    unsetenv("HOTBOX_GUEST_KERNEL");
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    char *debian = hb__path_join(tmp, "hotbox/guest-kernel");
    char *minroot = hb__path_join(tmp, "hotbox/guest-kernel-min");
    char *build = hb__path_join(minroot, "0123456789abcdef");
    char *vmlinux = hb__path_join(build, "vmlinux");
    char *current = hb__path_join(minroot, "current");
    bool minimal = true;
    int r;

    /* nothing built: the Debian kernel's cache, the default */
    char *d = pick(&o, &minimal, &r, &err);
    HB_CHECK_OK(r);
    HB_CHECK_STR(d, debian);
    HB_CHECK(!minimal);
    free(d);
    /* asking for the minimal one when there is none says how to get it */
    setenv("HOTBOX_GUEST_KERNEL", "minimal", 1);
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_EQ(r, -ENOENT);
    HB_CHECK(!d);
    HB_CHECK_CONTAINS(err, "scripts/build-guest-kernel.sh");
    free(err);
    setenv("HOTBOX_GUEST_KERNEL", "tiny", 1);
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_EQ(r, -EINVAL);
    HB_CHECK_CONTAINS(err, "HOTBOX_GUEST_KERNEL=tiny");
    free(err);
    unsetenv("HOTBOX_GUEST_KERNEL");

    /* a build behind `current` (what the script leaves): chosen, resolved */
    put(vmlinux);
    HB_CHECK_OK(symlink("0123456789abcdef", current));
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_OK(r);
    HB_CHECK_STR(d, build);
    HB_CHECK(minimal);
    free(d);
    setenv("HOTBOX_GUEST_KERNEL", "minimal", 1);
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_OK(r);
    HB_CHECK_STR(d, build);
    free(d);
    /* the Debian kernel on request */
    setenv("HOTBOX_GUEST_KERNEL", "debian", 1);
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_OK(r);
    HB_CHECK_STR(d, debian);
    HB_CHECK(!minimal);
    free(d);
    unsetenv("HOTBOX_GUEST_KERNEL");
    /* an explicit kernel directory wins over both */
    setenv("HOTBOX_KERNEL_DIR", "/somewhere/else", 1);
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_OK(r);
    HB_CHECK_STR(d, "/somewhere/else");
    HB_CHECK(!minimal);
    free(d);
    unsetenv("HOTBOX_KERNEL_DIR");
    o.kernel_dir = "/from/the/options";
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_OK(r);
    HB_CHECK_STR(d, "/from/the/options");
    free(d);
    o.kernel_dir = NULL;
    /* the script's cache variable moves the minimal kernel's cache */
    char *alt = hb__path_join(tmp, "alt");
    setenv("HOTBOX_MIN_KERNEL_DIR", alt, 1);
    d = pick(&o, &minimal, &r, &err);
    HB_CHECK_OK(r);
    HB_CHECK_STR(d, debian);
    free(d);
    free(alt);

    free(debian);
    free(minroot);
    free(build);
    free(vmlinux);
    free(current);
    hb__rm_rf(tmp);
    free(tmp);
}

/* A pool under o's accelerator saves its snapshot and restores it, and a
 * plugin compiled in the restored VM loads and runs here. */
static void restore_and_compile(hb_vm_pool_options *o, const char *what)
{
    char *tmp = NULL, *err = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-kboot-", &tmp));
    char *plugin = hb__path_join(tmp, "plugin"), *out = hb__path_join(tmp, "out");
    char *snaps = hb__path_join(tmp, "snaps"), *file = hb__path_join(plugin, "k.c");
    HB_CHECK_OK(hb__mkdir_p(plugin, 0755));
    HB_CHECK_OK(hb__mkdir_p(out, 0755));
    const char *src = "int twice(int x) { return 2 * x; }\n";
    HB_CHECK_OK(hb__write_file_atomic(file, src, strlen(src), 0644));
    o->size = 1;
    o->snapshot_dir = snaps;
    hb_vm_pool *pool = NULL;
    int r = hb_vm_pool_new(o, &pool, &err);
    if (!r)
        r = hb_vm_pool_wait_warm(pool, 300000, &err);
    if (r)
        fprintf(stderr, "%s pool: %s\n", what, err ? err : "");
    HB_CHECK_OK(r);
    hb_vm_pool_stats st;
    hb_vm_pool_stats_get(pool, &st);
    HB_CHECK_CONTAINS(st.snapshot_note, "saved");
    HB_CHECK_EQ(st.restores, 1);
    HB_CHECK_EQ(st.accel, o->accel);
    const char *sources[] = {"k.c", NULL};
    const char *argv[] = {"cc", "-shared", "-fPIC", "-O2", "-o",
                          HB_VM_GUEST_OUT "/" HB_VM_OBJECT_NAME, HB_VM_GUEST_SRC "/k.c", NULL};
    hb_vm_job job = {.plugin_dir = plugin, .sources = sources, .argv = argv, .out_dir = out};
    hb_vm_result res;
    r = hb_vm_pool_compile(pool, &job, &res, &err);
    if (r)
        fprintf(stderr, "compile: %s\n", err ? err : "");
    HB_CHECK_OK(r);
    if (res.exit_status != 0)
        fprintf(stderr, "output: %s\n", res.output);
    HB_CHECK_EQ(res.exit_status, 0);
    HB_CHECK(res.object_path);
    void *h = dlopen(res.object_path, RTLD_NOW | RTLD_LOCAL);
    HB_CHECK(h);
    int (*twice)(int) = (int (*)(int))dlsym(h, "twice");
    HB_CHECK(twice);
    HB_CHECK_EQ(twice(21), 42);
    dlclose(h);
    printf("%s: %s; boot to READY %.0f ms, restore to ready %.0f ms, a job %.0f ms\n", what,
           st.snapshot_note, st.last_boot_ms, st.last_restore_ms, res.elapsed_ms);
    hb_vm_result_release(&res);
    hb_vm_pool_free(pool);
    hb__rm_rf(tmp);
    free(tmp);
    free(plugin);
    free(out);
    free(snaps);
    free(file);
    free(err);
}

static void case_boot(void)
{
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    char *kdir = NULL, *err = NULL;
    bool minimal = false;
    unsetenv("HOTBOX_KERNEL_DIR");
    unsetenv("HOTBOX_GUEST_KERNEL");
    if (hb__vm_kernel_dir(&o, &kdir, &minimal, &err) != 0 || !minimal)
        HB_SKIP("no minimal guest kernel is cached (run scripts/build-guest-kernel.sh; "
                "tests never build one)");
    o.accel = HB_VM_ACCEL_TCG;
    o.boot_timeout_ms = 120000;
    restore_and_compile(&o, kdir);
    free(kdir);
    free(err);
}

static void case_compile_guest(void)
{
    char *tmp = NULL, *err = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-kaslr-", &tmp));
    char *out = hb__path_join(tmp, "out");
    HB_CHECK_OK(hb__mkdir_p(out, 0755));
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    o.size = 1;
    o.accel = HB_VM_ACCEL_TCG;
    o.no_snapshot = true;
    o.no_warmup = true;
    o.boot_timeout_ms = 120000;
    hb_vm_pool *pool = NULL;
    int r = hb_vm_pool_new(&o, &pool, &err);
    if (r == -ENOENT && err && strstr(err, "not found")) {
        hb__rm_rf(tmp);
        HB_SKIP("%s", err);
    }
    HB_CHECK_OK(r);
    const char *sources[] = {NULL};
    const char *argv[] = {"cat", "/proc/sys/kernel/randomize_va_space", NULL};
    hb_vm_job job = {.plugin_dir = tmp, .sources = sources, .argv = argv, .out_dir = out};
    hb_vm_result res;
    r = hb_vm_pool_compile(pool, &job, &res, &err);
    if (r)
        fprintf(stderr, "job: %s\n", err ? err : "");
    HB_CHECK_OK(r);
    if (res.exit_status != 0)
        fprintf(stderr, "exit %d, signal %d, timed out %d, output: %s\n", res.exit_status,
                res.term_signal, res.timed_out, res.output);
    HB_CHECK_EQ(res.exit_status, 0);
    HB_CHECK_STR(res.output, "0\n");
    hb_vm_result_release(&res);
    hb_vm_pool_free(pool);
    hb__rm_rf(tmp);
    free(tmp);
    free(out);
    free(err);
}

static void case_kvm(void)
{
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    o.accel = HB_VM_ACCEL_KVM;
    o.boot_timeout_ms = 8000;
    hb_vm_accel used = HB_VM_ACCEL_AUTO;
    double boot_ms = 0;
    char *why = NULL;
    int r = hb_vm_probe(&o, &used, &boot_ms, &why);
    if (r == -ENOENT && why && strstr(why, "not found"))
        HB_SKIP("%s", why);
    if (r != 0)
        HB_SKIP("KVM does not run a guest here: %s", why ? why : "?");
    HB_CHECK_EQ(used, HB_VM_ACCEL_KVM);
    printf("kvm probe: %s\n", why);
    o.boot_timeout_ms = 30000;
    restore_and_compile(&o, "kvm");
    free(why);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"fragment", case_fragment}, {"select", case_select}, {"boot", case_boot},
        {"compile_guest", case_compile_guest}, {"kvm", case_kvm}};
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
