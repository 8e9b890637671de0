/*
 * compiler/jobdir.c - bringing a namespace compile's job directory back to
 * the host, bounded.
 *
 * Inside the jail the job directory is a tmpfs of at most max_job_bytes
 * (namespace.c), so a compile (plugin.json may name "-wrapper sh,-c,...":
 * plugin code) cannot fill the host's disk while it runs. When the command
 * is done and every other process of the jail was killed, the jail waits
 * for the host (spawn.c), which copies the tmpfs's files into the host job
 * directory through /proc/<jail init>/root: regular files and directories
 * only (a symbolic link, FIFO, socket or device is refused, nothing of it
 * read), at most max_job_bytes and max_job_files in all, each file opened
 * O_NOFOLLOW and checked on its fd. The host directory is emptied first, so
 * it never holds more than one compile step's bounded copy. A later step's
 * jail starts from that copy (namespace.c copies it in).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "backend.h"

typedef struct copy_state {
    uint64_t max_bytes, max_files, bytes, files;
    const char *job_dir;
    char **err;
} copy_state;

static int over_limit(copy_state *c, const char *what)
{
    return hb__seterr(c->err, HB_ELIMIT,
                      "the compile wrote more than %llu %s in its job directory %s "
                      "(max_job_%s; the limit keeps a compile from filling the host's disk)",
                      (unsigned long long)(what[0] == 'b' ? c->max_bytes : c->max_files), what,
                      c->job_dir, what);
}

static int copy_file(copy_state *c, int sfd, int dfd, const char *name, const char *rel)
{
    int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), out = -1, r = 0;
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        r = hb__seterr(c->err, HB_EISOLATION,
                       "the compiler left %s in its job directory %s, which is not a regular "
                       "file (refused, nothing read)",
                       rel, c->job_dir);
        goto out;
    }
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 (st.st_mode & 0755) | 0644);
    if (out < 0) {
        r = hb__seterr(c->err, -errno, "copying %s out of the compile's job directory %s: %s", rel,
                       c->job_dir, strerror(errno));
        goto out;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = hb__seterr(c->err, -errno, "reading %s in the compile's job directory %s: %s", rel,
                           c->job_dir, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if ((c->bytes += (uint64_t)n) > c->max_bytes) {
            r = over_limit(c, "bytes");
            goto out;
        }
        if ((r = hb__write_full(out, buf, (size_t)n)) < 0) {
            r = hb__seterr(c->err, r, "writing %s into the job directory %s: %s", rel, c->job_dir,
                           strerror(-r));
            goto out;
        }
    }
out:
    HB_CLOSE_ALL(in, out);
    return r;
}

static int copy_tree(copy_state *c, int sfd, int dfd, const char *rel, int depth)
{
    DIR *d = fdopendir(sfd);
    if (!d) {
        close(sfd);
        return hb__seterr(c->err, -errno, "listing %s in the compile's job directory %s: %s",
                          *rel ? rel : ".", c->job_dir, strerror(errno));
    }
    int r = 0;
    struct dirent *de;
    while (r == 0 && (errno = 0, de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name);
        if (++c->files > c->max_files) {
            r = over_limit(c, "files");
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = hb__seterr(c->err, HB_EISOLATION, "the compiler left %s in its job directory %s, "
                           "which cannot be examined: %s", sub, c->job_dir, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            int s2 = depth < 8 ? openat(dirfd(d), de->d_name,
                                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                               : -1;
            int d2 = -1;
            if (s2 < 0 || (mkdirat(dfd, de->d_name, 0755) < 0 && errno != EEXIST) ||
                (d2 = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
                r = hb__seterr(c->err, HB_EISOLATION,
                               "the compiler left %s in its job directory %s: a directory too "
                               "deep or not copyable (refused)",
                               sub, c->job_dir);
                if (s2 >= 0)
                    close(s2);
            } else {
                r = copy_tree(c, s2, d2, sub, depth + 1);
            }
            if (d2 >= 0)
                close(d2);
        } else if (S_ISREG(st.st_mode)) {
            r = copy_file(c, dirfd(d), dfd, de->d_name, sub);
        } else {
            r = hb__seterr(c->err, HB_EISOLATION,
                           "the compiler left %s (%s) in its job directory %s: only regular "
                           "files and directories are accepted from inside the jail (refused, "
                           "nothing read)",
                           sub,
                           S_ISLNK(st.st_mode)    ? "a symbolic link"
                           : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "a device",
                           c->job_dir);
        }
    }
    if (r == 0 && errno)
        r = hb__seterr(c->err, -errno, "listing %s in the compile's job directory %s: %s",
                       *rel ? rel : ".", c->job_dir, strerror(errno));
    closedir(d);
    return r;
}

int hb__jobdir_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *p = hb__path_join(dir, de->d_name);
        int rr = p ? hb__rm_rf(p) : -ENOMEM;
        if (rr < 0 && r == 0)
            r = rr;
        free(p);
    }
    closedir(d);
    return r;
}

int hb__jobdir_copy_out(pid_t jail_pid, const char *job_dir, uint64_t max_bytes,
                        uint64_t max_files, char **err)
{
    char src[4096 + 64];
    snprintf(src, sizeof(src), "/proc/%d/root%s", (int)jail_pid, job_dir);
    copy_state c = {.max_bytes = max_bytes, .max_files = max_files, .job_dir = job_dir, .err = err};
    int r = hb__jobdir_empty(job_dir);
    if (r < 0)
        return hb__seterr(err, r, "emptying the job directory %s: %s", job_dir, strerror(-r));
    int sfd = open(src, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0)
        return hb__seterr(err, -errno, "opening the compile's job directory %s inside its jail: %s",
                          job_dir, strerror(errno));
    int dfd = open(job_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        r = hb__seterr(err, -errno, "opening the job directory %s: %s", job_dir, strerror(errno));
        close(sfd);
        return r;
    }
    /* A full tmpfs: the compiler's writes failed with ENOSPC at the limit,
     * which is the error to report, not what it did next. */
    struct statfs fs;
    if (fstatfs(sfd, &fs) == 0 && fs.f_type == TMPFS_MAGIC && fs.f_bavail == 0) {
        r = over_limit(&c, "bytes");
        close(sfd);
    } else {
        r = copy_tree(&c, sfd, dfd, "", 0); /* takes sfd */
    }
    close(dfd);
    if (r < 0)
        (void)hb__jobdir_empty(job_dir); /* nothing half-copied stays behind */
    return r;
}
