/* monitor/cgroupfs.c - reading the cgroup file systems (cgroupfs.h). */
#include "cgroupfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* <dir>/<file> opened with flags (and O_CLOEXEC): the fd or -errno. */
static int open_in(const char *dir, const char *file, int flags)
{
    char *p = hb__path_join(dir, file);
    if (!p)
        return -ENOMEM;
    int fd = open(p, flags | O_CLOEXEC);
    int e = errno;
    free(p);
    return fd < 0 ? -e : fd;
}

int hb__cgfs_read(const char *dir, const char *file, char *buf, size_t len)
{
    int fd = open_in(dir, file, O_RDONLY);
    if (fd < 0)
        return fd;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0) {
                int e = errno;
                close(fd);
                return -e;
            }
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return 0;
}

int hb__cgfs_write(const char *dir, const char *file, const char *text)
{
    int fd = open_in(dir, file, O_WRONLY);
    if (fd < 0)
        return fd;
    ssize_t n;
    do
        n = write(fd, text, strlen(text));
    while (n < 0 && errno == EINTR);
    int r = n < 0 ? -errno : 0;
    close(fd);
    return r;
}

/* Whether a comma-separated list holds word. */
static bool in_list(char *list, const char *word)
{
    bool yes = false;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        yes |= strcmp(t, word) == 0;
    return yes;
}

/* Octal escapes (\040 for a blank) in mount points, in place. */
static void unescape(char *s)
{
    char *w = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] && p[3]) {
            *w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
}

int hb__cgfs_add_pid(const char *dir, pid_t pid)
{
    if (pid <= 0)
        return -EINVAL;
    char v[32];
    snprintf(v, sizeof(v), "%d", (int)pid);
    return hb__cgfs_write(dir, "cgroup.procs", v);
}

/* The next line of a NUL-terminated buffer (cut at its newline), or NULL
 * at the end; *cur moves past it. */
static char *next_line(char **cur)
{
    char *line = *cur;
    if (!line || !*line)
        return NULL;
    char *nl = strchr(line, '\n');
    if (nl)
        *nl++ = '\0';
    *cur = nl;
    return line;
}

/* A copy of what pick() finds in the first line of file path (read up to
 * max bytes) where it finds anything; -ENOENT when no line has it. */
static int find_in_lines(const char *path, size_t max, char *(*pick)(char *line, void *arg),
                         void *arg, char **out)
{
    void *data = NULL;
    size_t len = 0;
    int r = hb__read_file(path, max, &data, &len);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (char *cur = data, *line; (line = next_line(&cur));) {
        const char *found = pick(line, arg);
        if (found) {
            *out = strdup(found);
            r = *out ? 0 : -ENOMEM;
            break;
        }
    }
    free(data);
    return r;
}

typedef struct mount_want {
    const char *fstype, *opt;
    char mnt[4096];
} mount_want;

static char *mount_point(char *line, void *arg)
{
    /* "... <mount point> ... - <fstype> <source> <super options>" */
    mount_want *w = arg;
    char *sep = strstr(line, " - ");
    char type[32], src[256], sopts[512];
    if (!sep || sscanf(sep + 3, "%31s %255s %511s", type, src, sopts) != 3 ||
        strcmp(type, w->fstype) != 0 || (w->opt && !in_list(sopts, w->opt)))
        return NULL;
    if (sscanf(line, "%*s %*s %*s %*s %4095s", w->mnt) != 1)
        return NULL;
    unescape(w->mnt);
    return w->mnt;
}

int hb__cgfs_mount(const char *fstype, const char *opt, char **out)
{
    mount_want w = {.fstype = fstype, .opt = opt};
    return find_in_lines("/proc/self/mountinfo", 1u << 20, mount_point, &w, out);
}

static char *cgroup_path(char *line, void *arg)
{
    /* "<id>:<controllers>:<path>"; v2 is "0::<path>". */
    const char *controller = arg;
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return NULL;
    *c2 = '\0';
    bool match = controller ? in_list(c1 + 1, controller)
                            : (c1 == line + 1 && line[0] == '0' && c2 == c1 + 1);
    return match ? c2 + 1 : NULL;
}

int hb__cgfs_own(const char *controller, char **out)
{
    return find_in_lines("/proc/self/cgroup", 1u << 16, cgroup_path, (void *)controller, out);
}
