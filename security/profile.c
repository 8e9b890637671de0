/* security/profile.c - the profile table and the ELF import policy.
 *
 * | profile    | seccomp           | W+X memory | namespaces (bwrap)          | rlimits                         | imports refused                      | libraries allowed |
 * |------------|-------------------|------------|-----------------------------|---------------------------------|--------------------------------------|-------------------|
 * | strict     | deny list (TRAP)  | denied     | user pid net ipc uts cgroup | AS 1 GiB, NOFILE 64, FSIZE 64M, | exec*, system, popen, fork, spawn,   | libc, libm,       |
 * |            |                   |            | + mount: /usr, objects (ro),|   no core                       | socket family, dl*, ptrace, kill,    | libpthread, librt,|
 * |            |                   |            | scratch (rw), /proc, /dev   |                                 | syscall, mount, setuid family        | ld-linux, libgcc_s|
 * | standard   | deny list (TRAP)  | allowed    | same as strict              | NOFILE 1024, FSIZE 1 GiB,       | exec*, system, popen, fork, spawn,   | any               |
 * |            |                   |            |                             |   no core                       | ptrace                               |                   |
 * | permissive | none              | allowed    | none                        | no core                         | none                                 | any               |
 *
 * strict's W^X (seccomp.c, add_wx_rules): no mapping is writable and
 * executable, mprotect never adds PROT_EXEC, executable memory is never
 * anonymous, MAP_SHARED or SysV shm, and memfd_create is denied; the
 * worker's /proc is read-only (wrap.c), so /proc/self/mem cannot patch
 * code either; and inside the sandbox view a file the plugin can write is
 * a file it cannot open for reading, so it is never mapped executable
 * (landlock.c). Consequence: strict plugins can write files (scratch,
 * /tmp) but not read them back.
 *
 * Why standard allows W+X: the guarantees hotbox gives (no exec, no
 * network, no other processes, no files outside the view) come from the
 * seccomp filter and the namespaces, which generated code cannot get
 * around either; W^X only makes exploiting the plugin itself harder, and
 * legitimate plugins need W+X (JITs, GCC nested-function trampolines,
 * libffi closures). strict refuses it as defence in depth for code that is
 * meant to compute only.
 */
#include "security.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const strict_deny[] = {
    "system", "popen", "exec*", "fexecve", "fork", "vfork", "_Fork", "clone", "clone3",
    "posix_spawn*", "daemon", "socket", "socketpair", "connect", "bind", "listen", "accept",
    "accept4", "dlopen", "dlmopen", "dlsym", "dlvsym", "ptrace", "kill", "killpg", "tgkill",
    "pidfd_send_signal", "process_vm_readv", "process_vm_writev", "syscall", "mount",
    "umount", "umount2", "chroot", "pivot_root", "unshare", "setns", "setuid", "setgid",
    "seteuid", "setegid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "init_module", "finit_module", "delete_module", NULL,
};

static const char *const standard_deny[] = {
    "system", "popen", "exec*", "fexecve", "fork", "vfork", "_Fork", "clone", "clone3",
    "posix_spawn*", "daemon", "ptrace", NULL,
};

static const char *const strict_needed[] = {
    "libc.so.*", "libm.so.*", "libpthread.so.*", "librt.so.*", "ld-linux*", "libgcc_s.so.*",
    NULL,
};

static const char *const no_names[] = {NULL};

static const hb_profile_spec profiles[] = {
    {
        .id = HB_PROFILE_STRICT,
        .name = "strict",
        .seccomp = true,
        .deny_wx = true,
        .namespaces = true,
        .limits = {.memory_bytes = 1ull << 30, .open_files = 64, .file_size = 64ull << 20,
                   .no_core = 1},
        .deny_symbols = strict_deny,
        .allow_needed = strict_needed,
        .summary = "computation only: seccomp deny list, no W+X memory, private namespaces "
                   "and root, tight rlimits, only libc/libm/libpthread imports",
    },
    {
        .id = HB_PROFILE_STANDARD,
        .name = "standard",
        .seccomp = true,
        .deny_wx = false,
        .namespaces = true,
        .limits = {.open_files = 1024, .file_size = 1ull << 30, .no_core = 1},
        .deny_symbols = standard_deny,
        .allow_needed = NULL,
        .summary = "seccomp deny list (no exec, processes, network, ptrace, mounts, modules), "
                   "private namespaces and root, rlimits",
    },
    {
        .id = HB_PROFILE_PERMISSIVE,
        .name = "permissive",
        .seccomp = false,
        .deny_wx = false,
        .namespaces = false,
        .limits = {.no_core = 1},
        .deny_symbols = no_names,
        .allow_needed = NULL,
        .summary = "NO containment: no seccomp, no namespaces; plugin code can do anything "
                   "the developer can",
    },
};

const hb_profile_spec *hb_sec_profile(hb_profile p)
{
    if (p == HB_PROFILE_DEFAULT)
        p = HB_PROFILE_STANDARD;
    for (size_t i = 0; i < HB_ARRAY_SIZE(profiles); i++)
        if (profiles[i].id == p)
            return &profiles[i];
    return NULL;
}

const char *hb_profile_name(hb_profile p)
{
    const hb_profile_spec *s = hb_sec_profile(p);
    return s ? s->name : "unknown";
}

int hb_sec_profile_parse(const char *name, hb_profile *out)
{
    if (!name || !out)
        return -EINVAL;
    for (size_t i = 0; i < HB_ARRAY_SIZE(profiles); i++) {
        if (strcmp(profiles[i].name, name) == 0) {
            *out = profiles[i].id;
            return 0;
        }
    }
    if (strcmp(name, "default") == 0) {
        *out = HB_PROFILE_STANDARD;
        return 0;
    }
    return -EINVAL;
}

/* pattern: exact, or a prefix when it ends in '*'. name stops at '@'
 * (symbol versions: "execve@GLIBC_2.2.5"). */
static bool name_matches(const char *pattern, const char *name)
{
    size_t n = strcspn(name, "@");
    size_t pl = strlen(pattern);
    if (pl && pattern[pl - 1] == '*')
        return n >= pl - 1 && strncmp(pattern, name, pl - 1) == 0;
    return n == pl && strncmp(pattern, name, n) == 0;
}

static bool any_matches(const char *const *patterns, const char *name)
{
    for (size_t i = 0; patterns[i]; i++)
        if (name_matches(patterns[i], name))
            return true;
    return false;
}

/* Appends name (without its @version) unless already listed. */
static void add_unique(hb_sb *list, const char *name)
{
    size_t n = strcspn(name, "@");
    const char *p = list->buf;
    while (p && *p) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return;
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    hb__sb_addf(list, "%s%.*s", list->len ? ", " : "", (int)n, name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted copy of v (pointers only), so messages do not depend on the
 * order the ELF happened to list things in. */
static const char **sorted(char *const *v, size_t *n)
{
    *n = v ? hb__strv_len(v) : 0;
    const char **s = calloc(*n + 1, sizeof(*s));
    if (!s)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        s[i] = v[i];
    qsort(s, *n, sizeof(*s), cmp_str);
    return s;
}

int hb_sec_check_imports(hb_profile p, char *const *imports, char *const *needed, char **err)
{
    const hb_profile_spec *spec = hb_sec_profile(p);
    if (!spec)
        return -EINVAL;
    size_t ni = 0, nn = 0;
    const char **si = sorted(imports, &ni);
    const char **sn = sorted(needed, &nn);
    hb_sb syms = HB_SB_INIT, libs = HB_SB_INIT;
    int r = -ENOMEM;
    if (!si || !sn)
        goto out;
    for (size_t i = 0; i < ni; i++)
        if (any_matches(spec->deny_symbols, si[i]))
            add_unique(&syms, si[i]);
    if (spec->allow_needed)
        for (size_t i = 0; i < nn; i++)
            if (!any_matches(spec->allow_needed, sn[i]))
                add_unique(&libs, sn[i]);
    r = 0;
    if (syms.len || libs.len)
        r = hb__seterr(err, HB_EPOLICY, "refused by the %s profile: %s%s%s%s%s", spec->name,
                       syms.len ? "imports " : "", syms.len ? syms.buf : "",
                       syms.len && libs.len ? "; " : "", libs.len ? "needs " : "",
                       libs.len ? libs.buf : "");
out:
    free(si);
    free(sn);
    hb__sb_release(&syms);
    hb__sb_release(&libs);
    return r;
}

/* The share of the host's tasks (util/rlimit.h: hb__host_task_share). */
void hb_sec_limits_host(hb_profile p, hb_limits *lim)
{
    const hb_profile_spec *spec = hb_sec_profile(p);
    if (spec && spec->seccomp && !lim->processes)
        lim->processes = hb__host_task_share();
}
