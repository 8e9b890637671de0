/*
 * compiler/microvm/stage.c - per-job file staging: filling a VM's job directory from the
 * plugin, taking the outputs back, and mapping guest paths to host paths.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm_internal.h"

int hb__vm_copy_file(const char *src, const char *dst, mode_t mode)
{
    void *data;
    size_t len;
    int r = hb__read_file(src, (size_t)1 << 30, &data, &len);
    if (r)
        return r;
    int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        r = -errno;
        free(data);
        return r;
    }
    r = hb__write_full(fd, data, len);
    free(data);
    if (close(fd) != 0 && !r)
        r = -errno;
    return r;
}

/* Recursive copy of a directory of regular files (symlinks followed). */
static int copy_tree(const char *src, const char *dst, unsigned depth)
{
    if (depth > 32)
        return -ELOOP;
    int r = hb__mkdir_p(dst, 0755);
    if (r)
        return r;
    DIR *d = opendir(src);
    if (!d)
        return -errno;
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *s = hb__path_join(src, e->d_name), *t = hb__path_join(dst, e->d_name);
        struct stat st;
        if (!s || !t)
            r = -ENOMEM;
        else if (stat(s, &st) != 0)
            r = 0; /* dangling symlink: nothing to copy */
        else if (S_ISDIR(st.st_mode))
            r = copy_tree(s, t, depth + 1);
        else if (S_ISREG(st.st_mode))
            r = hb__vm_copy_file(s, t, 0644);
        free(s);
        free(t);
    }
    closedir(d);
    return r;
}

/* A file the guest made (in the job directory it writes over 9p) becomes a
 * new file of the manager's at dst, replacing any there, mode at most 0755.
 * Never a rename: with QEMU as root and the 9p export's security_model=none
 * the guest sets the owner and the mode bits of what it writes on the host,
 * so a renamed file could arrive set-uid root or writable by everyone. */
static int take_file(const char *src, const char *dst, mode_t mode)
{
    void *data;
    size_t len;
    int r = hb__read_file(src, (size_t)1 << 30, &data, &len);
    if (r)
        return r;
    r = hb__write_file_replace(dst, data, len, mode & 0755);
    free(data);
    if (!r)
        unlink(src);
    return r;
}

/* Takes (take_file) or copies every top-level regular file of src into dst,
 * replacing files of the same name. */
static int move_top_files(const char *src, const char *dst, bool copy_only)
{
    DIR *d = opendir(src);
    if (!d)
        return -errno;
    int r = 0;
    unsigned n = 0;
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (++n > 4096) {
            r = -E2BIG;
            break;
        }
        char *s = hb__path_join(src, e->d_name), *t = hb__path_join(dst, e->d_name);
        struct stat st;
        if (!s || !t)
            r = -ENOMEM;
        else if (lstat(s, &st) == 0 && S_ISREG(st.st_mode)) {
            if (copy_only)
                r = hb__vm_copy_file(s, t, st.st_mode & 0777);
            else
                r = take_file(s, t, st.st_mode);
        }
        free(s);
        free(t);
    }
    closedir(d);
    return r;
}

static int copy_top_files(const char *src, const char *dst)
{
    return move_top_files(src, dst, true);
}

bool hb__vm_safe_relname(const char *n)
{
    if (!n || !*n || n[0] == '/')
        return false;
    for (const char *p = n; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if ((len == 2 && p[0] == '.' && p[1] == '.') || len == 0)
            return false;
        p += len + (slash ? 1 : 0);
    }
    return true;
}

/* Replaces every occurrence of guest prefix `from` (followed by '/' or a
 * path end) with `to`; when escape_spaces, spaces in `to` become "\ " (make). */
static int map_prefix(hb_sb *out, const char *text, const char *from, const char *to,
                      bool escape_spaces)
{
    size_t fl = strlen(from);
    const char *p = text;
    for (;;) {
        const char *hit = strstr(p, from);
        if (!hit)
            return hb__sb_adds(out, p);
        int r = hb__sb_add(out, p, (size_t)(hit - p));
        if (r)
            return r;
        char next = hit[fl];
        bool boundary = next == '/' || next == ':' || next == ' ' || next == '\n' ||
                        next == '\0' || next == '\'' || next == '"' || next == ')';
        if (!boundary) {
            r = hb__sb_add(out, hit, fl);
        } else if (escape_spaces) {
            for (const char *t = to; *t && !r; t++)
                r = *t == ' ' ? hb__sb_add(out, "\\ ", 2) : hb__sb_add(out, t, 1);
        } else {
            r = hb__sb_adds(out, to);
        }
        if (r)
            return r;
        p = hit + fl;
    }
}

/* Maps the three guest prefixes in text; returns a malloc'ed string. */
char *hb__vm_map_paths(const char *text, const hb_vm_job *job, bool depfile)
{
    struct { const char *from, *to; } m[] = {
        {HB_VM_GUEST_SRC, job->plugin_dir},
        {HB_VM_GUEST_INCLUDE, job->include_dir},
        {HB_VM_GUEST_OUT, job->out_dir},
    };
    char *cur = strdup(text ? text : "");
    for (size_t i = 0; cur && i < HB_ARRAY_SIZE(m); i++) {
        if (!m[i].to)
            continue;
        hb_sb sb = HB_SB_INIT;
        if (map_prefix(&sb, cur, m[i].from, m[i].to, depfile) != 0) {
            hb__sb_release(&sb);
            free(cur);
            return NULL;
        }
        free(cur);
        cur = hb__sb_detach(&sb);
    }
    return cur;
}



/* Empties the job directory (the 9p export: the directory itself stays,
 * QEMU holds it open) and makes src, include and out. Everything goes, not
 * only those three: a job could leave a file anywhere in /job for the next
 * job, of another plugin, to find. */
static int reset_jobdir(vm *v)
{
    DIR *d = opendir(v->jobdir);
    if (!d)
        return -errno;
    int r = 0;
    struct dirent *e;
    while (!r && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = hb__path_join(v->jobdir, e->d_name);
        r = p ? hb__rm_rf(p) : -ENOMEM;
        free(p);
    }
    closedir(d);
    static const char *const sub[] = {"src", "include", "out"};
    for (size_t i = 0; !r && i < HB_ARRAY_SIZE(sub); i++) {
        char *p = hb__path_join(v->jobdir, sub[i]);
        if (!p)
            return -ENOMEM;
        r = hb__mkdir_p(p, 0755);
        free(p);
    }
    return r;
}

int hb__vm_stage_job(vm *v, const hb_vm_job *job, char **err)
{
    int r = reset_jobdir(v);
    if (r)
        return hb__seterr(err, r, "cannot reset %s: %s", v->jobdir, strerror(-r));
    for (size_t i = 0; job->sources[i]; i++) {
        char *src = hb__path_join(job->plugin_dir, job->sources[i]);
        char *dst = hb__asprintf("%s/src/%s", v->jobdir, job->sources[i]);
        char *slash = dst ? strrchr(dst, '/') : NULL;
        r = src && dst ? 0 : -ENOMEM;
        if (!r && slash) {
            *slash = 0;
            r = hb__mkdir_p(dst, 0755);
            *slash = '/';
        }
        /* Keep the execute bit: a plugin may ship a script its build runs. */
        struct stat st;
        if (!r)
            r = hb__vm_copy_file(src, dst, stat(src, &st) == 0 && (st.st_mode & 0111) ? 0755 : 0644);
        if (r)
            hb__seterr(err, r, "cannot copy %s into the job directory: %s", src ? src : "?",
                       strerror(-r));
        free(src);
        free(dst);
        if (r)
            return r;
    }
    if (job->sync_out) {
        char *dst = hb__path_join(v->jobdir, "out");
        r = dst ? copy_top_files(job->out_dir, dst) : -ENOMEM;
        free(dst);
        if (r)
            return hb__seterr(err, r, "cannot copy %s into the job directory: %s",
                              job->out_dir, strerror(-r));
    }
    if (job->include_dir) {
        char *dst = hb__path_join(v->jobdir, "include");
        r = dst ? copy_tree(job->include_dir, dst, 0) : -ENOMEM;
        free(dst);
        if (r)
            return hb__seterr(err, r, "cannot copy %s into the job directory: %s",
                              job->include_dir, strerror(-r));
    }
    return 0;
}

/* sync_out: every file the job left in the guest's out dir goes to out_dir
 * as is (with host_paths the depfile already names host paths). */
static int collect_all_outputs(vm *v, const hb_vm_job *job, hb_vm_result *res, char **err)
{
    char *out = hb__path_join(v->jobdir, "out");
    char *oobj = hb__path_join(job->out_dir, HB_VM_OBJECT_NAME);
    char *odep = hb__path_join(job->out_dir, HB_VM_DEPFILE_NAME);
    int r = out && oobj && odep ? 0 : -ENOMEM;
    if (!r) {
        unlink(oobj);
        unlink(odep);
        r = move_top_files(out, job->out_dir, false);
        if (r)
            hb__seterr(err, r, "cannot move the job's files to %s: %s", job->out_dir,
                       strerror(-r));
    }
    if (!r && access(oobj, F_OK) == 0) {
        res->object_path = oobj;
        oobj = NULL;
    }
    if (!r && access(odep, F_OK) == 0) {
        res->depfile_path = odep;
        odep = NULL;
    }
    HB_FREE_ALL(out, oobj, odep);
    return r;
}

/* Moves plugin.so and the mapped plugin.d to out_dir. */
int hb__vm_collect_outputs(vm *v, const hb_vm_job *job, hb_vm_result *res, char **err)
{
    if (job->sync_out)
        return collect_all_outputs(v, job, res, err);
    char *obj = hb__asprintf("%s/out/" HB_VM_OBJECT_NAME, v->jobdir);
    char *dep = hb__asprintf("%s/out/" HB_VM_DEPFILE_NAME, v->jobdir);
    char *oobj = hb__path_join(job->out_dir, HB_VM_OBJECT_NAME);
    char *odep = hb__path_join(job->out_dir, HB_VM_DEPFILE_NAME);
    int r = obj && dep && oobj && odep ? 0 : -ENOMEM;
    struct stat st;
    if (!r) {
        unlink(oobj);
        unlink(odep);
    }
    if (!r && lstat(obj, &st) == 0 && S_ISREG(st.st_mode)) {
        r = take_file(obj, oobj, 0755);
        if (!r) {
            res->object_path = oobj;
            oobj = NULL;
        } else {
            hb__seterr(err, r, "cannot move %s to %s: %s", obj, oobj, strerror(-r));
        }
    }
    void *data = NULL;
    size_t len;
    if (!r && hb__read_file(dep, 64u << 20, &data, &len) == 0) {
        char *mapped = hb__vm_map_paths(data, job, true);
        r = mapped ? hb__write_file_atomic(odep, mapped, strlen(mapped), 0644) : -ENOMEM;
        free(mapped);
        if (!r) {
            res->depfile_path = odep;
            odep = NULL;
        } else {
            hb__seterr(err, r, "cannot write %s: %s", odep, strerror(-r));
        }
    }
    HB_FREE_ALL(data, obj, dep, oobj, odep);
    return r;
}
