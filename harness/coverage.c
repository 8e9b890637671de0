/* harness/coverage.c - hb_manager_options.coverage_dir: where the workers'
 * .gcda files go and where each compile's notes are kept
 * (docs/testing.md "Coverage").
 *
 * A coverage build (compiler/plan.c: --coverage) compiles in a job
 * directory <state>/tmp/job-XXXXXX, which is also the directory its
 * counters name. Workers run with GCOV_PREFIX=<coverage_dir> and
 * GCOV_PREFIX_STRIP=<components of <state>/tmp>, so the counters of that
 * compile land in <coverage_dir>/job-XXXXXX/, and the notes it wrote are
 * kept in <state>/coverage-notes/job-XXXXXX/ (a cached build's notes are
 * still there when a later run loads it). coverage_report.c pairs them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "jail.h"

/* Path components of an absolute path ("/a/b" has 2). */
static unsigned components(const char *path)
{
    unsigned n = 0;
    for (const char *p = path; *p; p++)
        if (*p == '/' && p[1] && p[1] != '/')
            n++;
    return n;
}

int hb__coverage_setup(hb_manager *m, const char *dir)
{
    if (!dir || !*dir)
        return 0;
    int r = hb__mkdir_p(dir, 0755);
    if (r < 0 || (r = hb__realpath(dir, &m->gcda_dir)) < 0) {
        hb__set_mgr_error(m, "coverage directory %s: %s", dir, strerror(-r));
        return r;
    }
    /* A root manager's jailed worker runs as the jail's host uid: the one
     * directory it writes must be its. */
    if (geteuid() == 0 && hb_jail_drops_root() &&
        chown(m->gcda_dir, HB_JAIL_HOST_UID, HB_JAIL_HOST_UID) < 0) {
        r = -errno;
        hb__set_mgr_error(m, "coverage directory %s: chown: %s", m->gcda_dir, strerror(errno));
        return r;
    }
    m->notes_dir = hb__path_join(m->state_dir, "coverage-notes");
    char *prefix = hb__asprintf("GCOV_PREFIX=%s", m->gcda_dir);
    char *strip = hb__asprintf("GCOV_PREFIX_STRIP=%u", components(m->tmp_dir));
    m->inst_env = calloc(3, sizeof(char *));
    if (!m->notes_dir || !prefix || !strip || !m->inst_env) {
        free(prefix);
        free(strip);
        return -ENOMEM;
    }
    m->inst_env[0] = prefix;
    m->inst_env[1] = strip;
    return hb__mkdir_p(m->notes_dir, 0755);
}

/* A copy of a regular file (not followed through a link), size-bounded. */
int hb__coverage_copy(const char *from, const char *to)
{
    int fd = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL
                                          : st.st_size > (64 << 20) ? -EFBIG : 0;
    void *data = r == 0 ? malloc((size_t)st.st_size + 1) : NULL;
    if (r == 0 && !data)
        r = -ENOMEM;
    size_t got = 0;
    while (r == 0 && got < (size_t)st.st_size) {
        ssize_t n = read(fd, (char *)data + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : -EIO;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (r == 0)
        r = hb__write_file_atomic(to, data, got, 0600);
    free(data);
    return r;
}

/* What the compile read and its contents ("SHA256 PATH" lines): the report
 * counts a source only from compiles of its current contents. */
static void write_sources(hb_manager *m, const char *dst, char *const *inputs)
{
    hb_sb sb = HB_SB_INIT;
    bool bad = false;
    for (char *const *i = inputs; i && *i; i++) {
        char hex[HB_SHA256_HEX];
        if (!strchr(*i, '\n') && hb__sha256_file_cached(*i, hex) == 0)
            bad |= hb__sb_addf(&sb, "%s %s\n", hex, *i) < 0;
    }
    char *path = hb__path_join(dst, HB_COVERAGE_SOURCES);
    int r = bad || !path ? -ENOMEM : hb__write_file_atomic(path, sb.buf ? sb.buf : "", sb.len, 0644);
    if (r < 0)
        hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                 "coverage: cannot record the sources of %s: %s", dst, strerror(-r));
    free(path);
    hb__sb_release(&sb);
}

/* Best effort: a build whose notes are lost still runs, and the report
 * names the counters it cannot pair. */
void hb__coverage_keep_notes(hb_manager *m, const char *job, char *const *inputs)
{
    const char *name = strrchr(job, '/');
    name = name ? name + 1 : job;
    char *dst = hb__path_join(m->notes_dir, name);
    if (dst && hb__mkdir_p(dst, 0755) == 0)
        write_sources(m, dst, inputs);
    DIR *d = dst ? opendir(job) : NULL;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".gcno") != 0)
            continue;
        char *from = hb__path_join(job, e->d_name), *to = hb__path_join(dst, e->d_name);
        int r = from && to ? hb__coverage_copy(from, to) : -ENOMEM;
        if (r < 0)
            hb__emit(m, NULL, HB_EVENT_WARNING, NULL, 0, 0, 0, NULL,
                     "coverage: cannot keep the notes %s: %s", from ? from : e->d_name,
                     strerror(-r));
        free(from);
        free(to);
    }
    if (d)
        closedir(d);
    free(dst);
}

void hb__coverage_release(hb_manager *m)
{
    free(m->gcda_dir);
    free(m->notes_dir);
    hb__strv_free(m->inst_env);
    m->gcda_dir = m->notes_dir = NULL;
    m->inst_env = NULL;
}
