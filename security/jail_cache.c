/*
 * security/jail_cache.c - the jail probe's verdict kept across processes
 * (see jail_cache.h for what is kept, under which key, and why only "works").
 */
#include "jail_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileid.h"
#include "util.h"

#define JAIL_CACHE_TAG "hotbox-jail-probe v1"
#define JAIL_CACHE_VERDICT "works"

/* The sysctls that decide whether an unprivileged process may make user
 * namespaces (and the other kinds a jail makes): Debian's switch, Ubuntu's
 * AppArmor restriction, and the per-kind limits (0 forbids). */
static const char *const userns_sysctls[] = {
    "/proc/sys/kernel/unprivileged_userns_clone",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    "/proc/sys/kernel/apparmor_restrict_unprivileged_unconfined",
    "/proc/sys/user/max_user_namespaces",
    "/proc/sys/user/max_mnt_namespaces",
    "/proc/sys/user/max_pid_namespaces",
    "/proc/sys/user/max_net_namespaces",
    "/proc/sys/user/max_ipc_namespaces",
    "/proc/sys/user/max_uts_namespaces",
    "/proc/sys/user/max_cgroup_namespaces",
};

/* The lines of /proc/self/status that say what this process may do: a
 * seccomp filter or no_new_privs inherited from a container runtime can
 * forbid what bwrap needs, and a root manager needs its capabilities. */
static const char *const status_keys[] = {"Seccomp:", "NoNewPrivs:", "CapEff:", "CapBnd:"};

/* path's first line (at most 256 bytes), or "-" when it cannot be read. */
static void add_file_line(hb_sb *sb, const char *what, const char *path)
{
    void *data = NULL;
    size_t len = 0;
    if (hb__read_file(path, 256, &data, &len) < 0) {
        hb__sb_addf(sb, "%s=-\n", what);
        return;
    }
    size_t l = strcspn(data, "\n");
    hb__sb_addf(sb, "%s=%.*s\n", what, (int)l, (char *)data);
    free(data);
}

static void add_status(hb_sb *sb)
{
    void *data = NULL;
    size_t len = 0;
    if (hb__read_file("/proc/self/status", 64 << 10, &data, &len) < 0) {
        hb__sb_addf(sb, "status=-\n");
        return;
    }
    char **lines = hb__split_lines(data);
    free(data);
    for (size_t k = 0; k < HB_ARRAY_SIZE(status_keys); k++) {
        const char *v = "-";
        for (size_t i = 0; lines && lines[i]; i++)
            if (!strncmp(lines[i], status_keys[k], strlen(status_keys[k])))
                v = lines[i];
        hb__sb_addf(sb, "%s\n", v);
    }
    hb__strv_free(lines);
}

int hb__jail_cache_key(const char *bwrap, char *const *probe_argv, char out[HB_SHA256_HEX],
                       hb_file_id *bwrap_id)
{
    void *boot = NULL;
    size_t blen = 0;
    if (hb__read_file("/proc/sys/kernel/random/boot_id", 128, &boot, &blen) < 0)
        return -ENOENT; /* no boot id: never trust a stored verdict */
    hb_sb sb = HB_SB_INIT;
    hb__sb_addf(&sb, "boot_id=%.*s\n", (int)blen, (char *)boot);
    free(boot);
    hb__sb_addf(&sb, "euid=%u egid=%u\n", (unsigned)geteuid(), (unsigned)getegid());
    /* The binary that runs, through any link: a new bwrap probes again. */
    char *real = NULL;
    struct stat st;
    int r = hb__realpath(bwrap, &real);
    if (r == 0 && stat(real, &st) < 0)
        r = -errno;
    if (r == 0) {
        *bwrap_id = hb__file_id(&st);
        hb__sb_addf(&sb, "bwrap=%s %s %llu:%llu %lld %lld.%09ld %lld.%09ld mode=%o uid=%u\n",
                    bwrap, real, (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
                    (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                    (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec, (unsigned)st.st_mode,
                    (unsigned)st.st_uid);
    }
    free(real);
    /* The user namespace this process runs in (a container has its own). */
    char ns[128];
    ssize_t n = readlink("/proc/self/ns/user", ns, sizeof(ns) - 1);
    hb__sb_addf(&sb, "userns=%.*s\n", n > 0 ? (int)n : 1, n > 0 ? ns : "-");
    for (size_t i = 0; i < HB_ARRAY_SIZE(userns_sysctls); i++)
        add_file_line(&sb, userns_sysctls[i], userns_sysctls[i]);
    add_file_line(&sb, "lsm", "/proc/self/attr/current");
    add_status(&sb);
    /* The probe's own command line: a jail with other flags probes again. */
    for (char *const *a = probe_argv; a && *a; a++)
        hb__sb_addf(&sb, "argv=%s\n", *a);
    if (r == 0 && !sb.buf)
        r = -ENOMEM;
    if (r == 0)
        hb__sha256_hex(sb.buf, sb.len, out);
    hb__sb_release(&sb);
    return r;
}

static char *cache_file(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg == '/')
        return hb__asprintf("%s/hotbox/jail-probe", xdg);
    return home && *home == '/' ? hb__asprintf("%s/.cache/hotbox/jail-probe", home) : NULL;
}

bool hb__jail_cache_works(const char *key)
{
    char *path = cache_file();
    if (!path)
        return false;
    /* Only this user's own file: a verdict another user left is not ours
     * (it can only ever say "works", but there is no reason to read it). */
    /* O_NONBLOCK: a FIFO planted there fails the type check below instead
     * of blocking every worker start and compile. */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    free(path);
    if (fd < 0)
        return false;
    struct stat st;
    char buf[256];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
        while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
            ;
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    char want[sizeof(buf)];
    int w = snprintf(want, sizeof(want), "%s\n%s\n%s\n", JAIL_CACHE_TAG, key, JAIL_CACHE_VERDICT);
    return w > 0 && (size_t)w < sizeof(want) && !strcmp(buf, want);
}

void hb__jail_cache_store(const char *key)
{
    char *path = cache_file();
    char *text = hb__asprintf("%s\n%s\n%s\n", JAIL_CACHE_TAG, key, JAIL_CACHE_VERDICT);
    char *dir = path ? strdup(path) : NULL;
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = 0;
    if (text && slash && hb__mkdir_p(dir, 0755) == 0)
        (void)hb__write_file_atomic(path, text, strlen(text), 0644);
    HB_FREE_ALL(path, text, dir);
}

void hb__jail_cache_forget(void)
{
    char *path = cache_file();
    if (path)
        (void)unlink(path);
    free(path);
}
