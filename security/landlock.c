/* security/landlock.c - strict's W^X for files: inside the sandbox view,
 * a file the plugin can write is a file it cannot open for reading, so it
 * can never be mapped executable (mmap needs a readable fd). And, for
 * strict and standard alike, the worker's own Landlock domain
 * (hb__sec_scope_process): ptrace rules then keep it from every process
 * outside the domain, which matters where no jail hides the manager.
 *
 * Why: the seccomp filter sees mmap's flags, not which file an fd names.
 * With memory W^X alone a plugin writes code into a file in its scratch or
 * /tmp (or prints it to its own output and reopens /proc/self/fd/1) and
 * maps it PROT_EXEC|MAP_PRIVATE. bubblewrap cannot mount the writable
 * places noexec, and noexec would not cover the output file anyway.
 *
 * How: a Landlock ruleset that handles opening files for reading and for
 * writing, with one rule per mount point of the worker's view as
 * mountinfo lists them (add_mount_rule): read beneath read-only mounts
 * (/usr, the plugin objects, /etc/ld.so.cache, ...) and /proc, write
 * beneath writable ones (/tmp, the scratch, /dev's tmpfs), both on the
 * character devices. Files outside the view reached through /proc/self/fd
 * (the worker's output file) get neither. Already open fds keep their
 * access (Landlock checks at open).
 *
 * Only inside the sandbox view (its root is read-only): a worker that runs
 * unwrapped sees the host, where this rule would refuse the libraries, and
 * its missing namespaces are already reported as a warning. */
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RIGHTS ((uint64_t)(LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE))

/* mountinfo escapes blanks and backslashes as \ooo. In place. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
}

/* The 5th field of a mountinfo line (the mount point), unescaped; NULL
 * when the line is malformed. Modifies line. */
static char *mount_point(char *line)
{
    char *save = NULL, *f = strtok_r(line, " ", &save);
    for (int i = 1; f && i < 5; i++)
        f = strtok_r(NULL, " ", &save);
    if (f)
        unescape_octal(f);
    return f;
}

/* The rights beneath one mount point of the view:
 *  - read-only mounts: read (nothing there can be written);
 *  - procfs: read only, so no /proc/<pid>/mem writes even if /proc were
 *    mounted writable (reading is harmless: nothing in it can be mapped,
 *    and its fd links open the file they name, which this rule does not
 *    cover);
 *  - character devices (/dev/null, /dev/urandom, ...): read and write;
 *  - every other, writable, mount (/tmp, the scratch, /dev's tmpfs):
 *    write only. */
static uint64_t mount_rights(int fd)
{
    struct statvfs vfs;
    struct statfs fs;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode))
        return RIGHTS;
    if ((fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) ||
        (fstatfs(fd, &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC))
        return LANDLOCK_ACCESS_FS_READ_FILE;
    return LANDLOCK_ACCESS_FS_WRITE_FILE;
}

/* Whether dir is a proper ancestor directory of path. */
static bool beneath(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    return strncmp(dir, path, n) == 0 && path[n] == '/';
}

typedef struct mnt {
    char *path;
    uint64_t rights;
} mnt;

/* Reads the mount points of the view ("/" and /dev aside, see below) with
 * their rights. A mount point that cannot be opened (overmounted, gone) is
 * left out. */
static int read_mounts(mnt **out, size_t *n, char *err, size_t errlen)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        int r = -errno;
        snprintf(err, errlen, "/proc/self/mountinfo: %s", strerror(errno));
        return r;
    }
    char *line = NULL;
    size_t cap = 0, cnt = 0, room = 0;
    mnt *v = NULL;
    int r = 0;
    while (r == 0 && getline(&line, &cap, f) > 0) {
        char *mp = mount_point(line);
        /* "/" and /dev are read-only but hold the writable mounts (/tmp;
         * /dev/shm, /dev/pts and the device nodes, each a mount of its
         * own with its own rule); what is directly in /dev is links and
         * directories, so it needs no rule of its own. */
        if (!mp || strcmp(mp, "/") == 0 || strcmp(mp, "/dev") == 0)
            continue;
        int fd = open(mp, O_PATH | O_CLOEXEC);
        if (fd < 0)
            continue;
        uint64_t rights = mount_rights(fd);
        close(fd);
        if (cnt == room) {
            room = room ? 2 * room : 32;
            mnt *nv = realloc(v, room * sizeof(*v));
            if (!nv) {
                r = -ENOMEM;
                break;
            }
            v = nv;
        }
        if (!(v[cnt].path = strdup(mp))) {
            r = -ENOMEM;
            break;
        }
        v[cnt++].rights = rights;
    }
    free(line);
    fclose(f);
    if (r < 0)
        snprintf(err, errlen, "out of memory reading mountinfo");
    *out = v;
    *n = cnt;
    return r;
}

int hb__sec_lock_written_files(char *err, size_t errlen)
{
    struct statvfs root;
    if (statvfs("/", &root) < 0 || !(root.f_flag & ST_RDONLY))
        return 0; /* not inside the sandbox view */
    struct landlock_ruleset_attr attr = {.handled_access_fs = RIGHTS};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (ruleset < 0)
        return 0; /* no Landlock here (ENOSYS, EOPNOTSUPP): the harness warns */
    mnt *m = NULL;
    size_t n = 0;
    int r = read_mounts(&m, &n, err, errlen);
    /* Rights are inherited beneath a rule: a writable mount under a
     * readable one would make its files readable. Refuse such a view. */
    for (size_t i = 0; r == 0 && i < n; i++)
        for (size_t j = 0; r == 0 && j < n; j++)
            if (!(m[i].rights & LANDLOCK_ACCESS_FS_READ_FILE) &&
                (m[j].rights & LANDLOCK_ACCESS_FS_READ_FILE) && beneath(m[j].path, m[i].path)) {
                r = -EINVAL;
                snprintf(err, errlen, "writable mount %s lies beneath readable %s", m[i].path,
                         m[j].path);
            }
    for (size_t i = 0; r == 0 && i < n; i++) {
        int fd = open(m[i].path, O_PATH | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct landlock_path_beneath_attr pb = {.allowed_access = m[i].rights, .parent_fd = fd};
        if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
            r = -errno;
            snprintf(err, errlen, "landlock rule for %s: %s", m[i].path, strerror(errno));
        }
        close(fd);
    }
    if (r == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
        r = -errno;
        snprintf(err, errlen, "landlock_restrict_self: %s", strerror(errno));
    }
    for (size_t i = 0; i < n; i++)
        free(m[i].path);
    free(m);
    close(ruleset);
    return r == 0 ? 1 : r;
}

int hb__sec_scope_process(char *err, size_t errlen)
{
    /* A domain needs a handled right; these two have no legitimate use in
     * a worker. No rule: they are refused everywhere. The ptrace scope
     * comes with any domain. */
    struct landlock_ruleset_attr attr = {
        .handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (ruleset < 0)
        return 0; /* no Landlock here (ENOSYS, EOPNOTSUPP) */
    int r = 1;
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
        r = -errno;
        snprintf(err, errlen, "landlock_restrict_self (process scope): %s", strerror(errno));
    }
    close(ruleset);
    return r;
}
