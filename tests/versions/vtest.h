/* tests/versions/vtest.h - helpers shared by the versions tests: temp
 * directories, files, and running the real compiler. */
#ifndef HB_VTEST_H
#define HB_VTEST_H

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "store.h"
#include "util.h"

extern char **environ;

static inline char *vt_tmpdir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    char *dir = NULL;
    int r = hb__mkdtemp_in(base && *base ? base : "/tmp", prefix, &dir);
    if (r < 0)
        HB_FAIL_("mkdtemp in /tmp: %s", strerror(-r));
    return dir;
}

static inline void vt_write(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        HB_FAIL_("open %s: %s", path, strerror(errno));
    HB_CHECK_OK(hb__write_full(fd, data, len));
    close(fd);
}

static inline void vt_write_str(const char *path, const char *text)
{
    vt_write(path, text, strlen(text));
}

static inline char *vt_path(const char *dir, const char *name)
{
    char *p = hb__path_join(dir, name);
    HB_CHECK(p != NULL);
    return p;
}

/* Runs argv (PATH lookup), returns its exit status or -1 if it did not exit
 * normally. Output goes to the test's own stdout/stderr. */
static inline int vt_run(char *const argv[])
{
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (r != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void *vt_read(const char *path, size_t *len)
{
    void *data = NULL;
    int r = hb__read_file(path, (size_t)1 << 30, &data, len);
    if (r < 0)
        HB_FAIL_("read %s: %s", path, strerror(-r));
    return data;
}

/* The store in dir, opened (the test fails when it cannot be). */
static inline hb_store *vt_store_open(const char *dir)
{
    hb_store *s = NULL;
    char *err = NULL;
    if (hb_store_open(dir, &s, &err) != 0)
        HB_FAIL_("hb_store_open %s: %s", dir, err ? err : "?");
    return s;
}

/* A new version of plugin from an object file with content text, written
 * in dir as name, described by meta (NULL: no lists); its number. */
static inline uint64_t vt_store_add(hb_store *s, const char *dir, const char *name,
                                    const char *plugin, const char *text,
                                    const hb_version_rec *meta)
{
    char *obj = vt_path(dir, name);
    vt_write_str(obj, text);
    hb_version_rec none, rec;
    memset(&none, 0, sizeof(none));
    bool created = false;
    char *err = NULL;
    if (hb_store_add(s, plugin, obj, meta ? meta : &none, &rec, &created, &err) != 0)
        HB_FAIL_("hb_store_add %s: %s", plugin, err ? err : "?");
    uint64_t v = rec.version;
    hb_version_rec_release(&rec);
    free(obj);
    return v;
}

#endif
