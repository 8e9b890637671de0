/* harness/coverage_report.c - hb_coverage_report: the counters the workers
 * wrote under coverage_dir (coverage.c says where), paired with the notes
 * of the compile that made each object, through gcov's JSON output, merged
 * per source file (two versions of a plugin, or a header in two plugins,
 * count together), then written as an lcov tracefile, a JSON summary and
 * one gcov-style text file per source.
 *
 * The .gcda files were written by plugin code: each is copied (a regular
 * file, not followed through a link, at most 64 MiB) with its notes into a
 * private work directory under the state directory's tmp/, and gcov runs
 * there, bounded in time, never in the directory the worker could write. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "process.h"

#define GCOV_TIMEOUT_MS 60000

typedef struct cov_fn {
    char *name;
    unsigned line;
    uint64_t count;
} cov_fn;

typedef struct cov_file {
    char *path;
    int64_t *counts; /* [line]: -1 not executable */
    unsigned nlines;
    cov_fn *fns;
    size_t nfns;
} cov_file;

typedef struct cov {
    cov_file *files;
    size_t nfiles, cap;
    hb_coverage_summary sum;
} cov;

static cov_file *file_of(cov *c, const char *path)
{
    for (size_t i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].path, path) == 0)
            return &c->files[i];
    return hb__push_named(&c->files, &c->nfiles, &c->cap, sizeof(cov_file),
                          offsetof(cov_file, path), path);
}

static int add_line(cov_file *f, unsigned line, uint64_t count)
{
    if (line >= f->nlines) {
        unsigned n = line + 64;
        int64_t *v = realloc(f->counts, n * sizeof(*v));
        if (!v)
            return -ENOMEM;
        for (unsigned i = f->nlines; i < n; i++)
            v[i] = -1;
        f->counts = v;
        f->nlines = n;
    }
    f->counts[line] = (f->counts[line] < 0 ? 0 : f->counts[line]) + (int64_t)count;
    return 0;
}

static int add_fn(cov_file *f, const char *name, unsigned line, uint64_t count)
{
    for (size_t i = 0; i < f->nfns; i++)
        if (f->fns[i].line == line && strcmp(f->fns[i].name, name) == 0) {
            f->fns[i].count += count;
            return 0;
        }
    cov_fn *n = realloc(f->fns, (f->nfns + 1) * sizeof(*n));
    if (!n)
        return -ENOMEM;
    f->fns = n;
    n[f->nfns] = (cov_fn){strdup(name), line, count};
    return n[f->nfns++].name ? 0 : -ENOMEM;
}

/* Whether path's contents are still those the compile read (sources: its
 * HB_COVERAGE_SOURCES text; a path it does not list is taken as is). */
static bool current(const char *sources, const char *path)
{
    size_t pl = strlen(path);
    for (const char *l = sources; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n == (HB_SHA256_HEX - 1) + 1 + pl && l[HB_SHA256_HEX - 1] == ' ' &&
            memcmp(l + HB_SHA256_HEX, path, pl) == 0) {
            char hex[HB_SHA256_HEX];
            return hb__sha256_file(path, hex) == 0 && memcmp(hex, l, HB_SHA256_HEX - 1) == 0;
        }
        l = nl ? nl + 1 : NULL;
    }
    return true;
}

/* One gcov JSON document (gcc 9+ format: files[].lines[], files[].functions[]).
 * A source changed since this compile is left out: its lines no longer
 * say what ran. */
static int merge_json(cov *c, json_t *doc, const char *sources)
{
    size_t i, k;
    json_t *file, *e;
    json_array_foreach(json_object_get(doc, "files"), i, file) {
        const char *path = json_string_value(json_object_get(file, "file"));
        if (path && !current(sources, path)) {
            c->sum.stale++;
            continue;
        }
        cov_file *f = path ? file_of(c, path) : NULL;
        if (!f)
            return path ? -ENOMEM : -EPROTO;
        json_array_foreach(json_object_get(file, "lines"), k, e) {
            json_int_t line = json_integer_value(json_object_get(e, "line_number"));
            json_int_t count = json_integer_value(json_object_get(e, "count"));
            if (line > 0 && line < (1 << 24) && count >= 0 && add_line(f, (unsigned)line, (uint64_t)count) < 0)
                return -ENOMEM;
        }
        json_array_foreach(json_object_get(file, "functions"), k, e) {
            const char *name = json_string_value(json_object_get(e, "demangled_name"));
            json_int_t line = json_integer_value(json_object_get(e, "start_line"));
            json_int_t count = json_integer_value(json_object_get(e, "execution_count"));
            if (name && line > 0 && count >= 0 && add_fn(f, name, (unsigned)line, (uint64_t)count) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* gcov --json-format --stdout on one data file in the work directory. */
static int run_gcov(const char *gcov, const char *work, const char *base, json_t **doc, char **err)
{
    char *out_path = hb__asprintf("%s/gcov.out", work), *err_path = hb__asprintf("%s/gcov.err", work);
    char *data = hb__asprintf("%s.gcda", base);
    int ofd = out_path ? open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    int efd = err_path ? open(err_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
    int r = data && ofd >= 0 && efd >= 0 ? 0 : -ENOMEM;
    pid_t pid = -1;
    int pidfd = -1, st = 0;
    if (r == 0) {
        char *const argv[] = {(char *)gcov, "--json-format", "--stdout", "-o", ".", data, NULL};
        hb_spawn_fd fds[] = {{HB_SPAWN_DEVNULL, 0}, {ofd, 1}, {efd, 2}};
        hb_spawn sp = {.argv = argv, .fds = fds, .nfds = 3, .cwd = work, .die_with_parent = true};
        r = hb__spawn(&sp, &pid, &pidfd, err);
    }
    if (r == 0 && hb_mon_reap(pid, pidfd, GCOV_TIMEOUT_MS, &st) < 0) {
        hb_mon_kill_reap(pid, pidfd, &st);
        r = hb__seterr(err, HB_EHUNG, "%s ran longer than %u ms", gcov, GCOV_TIMEOUT_MS / 1000);
    }
    if (pidfd >= 0)
        close(pidfd);
    if (r == 0) {
        json_error_t je;
        *doc = json_load_file(out_path, JSON_DISABLE_EOF_CHECK, &je);
        if (!*doc) {
            void *text = NULL;
            size_t len = 0;
            (void)hb__read_file(err_path, 4096, &text, &len);
            r = hb__seterr(err, -EPROTO, "%s on %s: %s", gcov, data,
                           text && len ? (char *)text : je.text);
            free(text);
        }
    }
    HB_CLOSE_ALL(ofd, efd);
    free(out_path);
    free(err_path);
    free(data);
    return r;
}

/* Every <gcda_dir>/<job>/<name>.gcda with its notes <notes_dir>/<job>/<name>.gcno. */
static int collect(hb_manager *m, cov *c, const char *gcov, const char *work, char **err)
{
    DIR *d = opendir(m->gcda_dir);
    if (!d)
        return hb__seterr(err, -errno, "%s: %s", m->gcda_dir, strerror(errno));
    int r = 0;
    for (struct dirent *j; r == 0 && (j = readdir(d));) {
        if (strncmp(j->d_name, "job-", 4) != 0)
            continue;
        char *jd = hb__path_join(m->gcda_dir, j->d_name);
        DIR *dd = jd ? opendir(jd) : NULL;
        for (struct dirent *e; r == 0 && dd && (e = readdir(dd));) {
            size_t n = strlen(e->d_name);
            if (n < 6 || strcmp(e->d_name + n - 5, ".gcda") != 0)
                continue;
            char *base = strndup(e->d_name, n - 5);
            char *src = hb__path_join(jd, e->d_name);
            char *notes = hb__asprintf("%s/%s/%s.gcno", m->notes_dir, j->d_name, base);
            char *dst = hb__asprintf("%s/%s", work, e->d_name);
            char *dst_notes = hb__asprintf("%s/%s.gcno", work, base);
            if (!base || !src || !notes || !dst || !dst_notes)
                r = -ENOMEM;
            else if ((r = hb__coverage_copy(src, dst)) < 0)
                r = hb__seterr(err, r, "%s: %s", src, strerror(-r));
            else if ((r = hb__coverage_copy(notes, dst_notes)) < 0)
                r = hb__seterr(err, r, "%s: no notes for it (%s: %s)", src, notes, strerror(-r));
            json_t *doc = NULL;
            char *srcs = hb__asprintf("%s/%s/" HB_COVERAGE_SOURCES, m->notes_dir, j->d_name);
            void *sources = NULL;
            size_t slen = 0;
            if (srcs)
                (void)hb__read_file(srcs, 16u << 20, &sources, &slen); /* none: all current */
            free(srcs);
            if (r == 0 && (r = run_gcov(gcov, work, base, &doc, err)) == 0) {
                r = merge_json(c, doc, sources);
                if (r < 0)
                    hb__seterr(err, r, "%s: gcov's JSON: %s", src, strerror(-r));
                c->sum.data_files++;
            }
            json_decref(doc);
            free(sources);
            if (dst)
                unlink(dst);
            if (dst_notes)
                unlink(dst_notes);
            free(base);
            free(src);
            free(notes);
            free(dst);
            free(dst_notes);
        }
        if (dd)
            closedir(dd);
        free(jd);
    }
    closedir(d);
    return r;
}

/* ---- the reports ---------------------------------------------------------- */

static void tally(cov *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        cov_file *f = &c->files[i];
        bool any = false;
        for (unsigned l = 0; l < f->nlines; l++)
            if (f->counts[l] >= 0) {
                any = true;
                c->sum.lines++;
                c->sum.lines_hit += f->counts[l] > 0;
            }
        c->sum.files += any;
        for (size_t k = 0; k < f->nfns; k++) {
            c->sum.functions++;
            c->sum.functions_hit += f->fns[k].count > 0;
        }
    }
}

static int write_lcov(const cov *c, const char *path)
{
    hb_sb sb = HB_SB_INIT;
    bool bad = false;
    bad |= hb__sb_addf(&sb, "TN:hotbox\n") < 0;
    for (size_t i = 0; i < c->nfiles; i++) {
        const cov_file *f = &c->files[i];
        unsigned lf = 0, lh = 0, fh = 0;
        bad |= hb__sb_addf(&sb, "SF:%s\n", f->path) < 0;
        for (size_t k = 0; k < f->nfns; k++)
            bad |= hb__sb_addf(&sb, "FN:%u,%s\n", f->fns[k].line, f->fns[k].name) < 0;
        for (size_t k = 0; k < f->nfns; k++) {
            bad |= hb__sb_addf(&sb, "FNDA:%llu,%s\n", (unsigned long long)f->fns[k].count, f->fns[k].name) < 0;
            fh += f->fns[k].count > 0;
        }
        bad |= hb__sb_addf(&sb, "FNF:%zu\nFNH:%u\n", f->nfns, fh) < 0;
        for (unsigned l = 0; l < f->nlines; l++)
            if (f->counts[l] >= 0) {
                bad |= hb__sb_addf(&sb, "DA:%u,%lld\n", l, (long long)f->counts[l]) < 0;
                lf++;
                lh += f->counts[l] > 0;
            }
        bad |= hb__sb_addf(&sb, "LF:%u\nLH:%u\nend_of_record\n", lf, lh) < 0;
    }
    int r = bad ? -ENOMEM : hb__write_file_atomic(path, sb.buf, sb.len, 0644);
    hb__sb_release(&sb);
    return r;
}

static int write_json(const cov *c, const char *path)
{
    json_t *files = json_array();
    for (size_t i = 0; files && i < c->nfiles; i++) {
        const cov_file *f = &c->files[i];
        json_t *lines = json_object();
        for (unsigned l = 0; lines && l < f->nlines; l++)
            if (f->counts[l] >= 0) {
                char key[16];
                snprintf(key, sizeof(key), "%u", l);
                json_object_set_new(lines, key, json_integer(f->counts[l]));
            }
        json_array_append_new(files, json_pack("{s:s, s:o}", "file", f->path, "lines", lines));
    }
    json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:o}", "lines", (json_int_t)c->sum.lines,
                            "lines_hit", (json_int_t)c->sum.lines_hit, "functions",
                            (json_int_t)c->sum.functions, "functions_hit",
                            (json_int_t)c->sum.functions_hit, "files", files);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    int r = text ? hb__write_file_atomic(path, text, strlen(text), 0644) : -ENOMEM;
    free(text);
    json_decref(doc);
    return r;
}

/* NAME.gcov beside the others: the source's base name, or its whole path
 * with '/' as '#' (gcov -p) when two sources share a base name. */
static char *gcov_name(const cov *c, const cov_file *f)
{
    const char *b = strrchr(f->path, '/');
    b = b ? b + 1 : f->path;
    for (size_t i = 0; i < c->nfiles; i++) {
        const char *o = strrchr(c->files[i].path, '/');
        if (&c->files[i] != f && strcmp(o ? o + 1 : c->files[i].path, b) == 0) {
            char *m = hb__asprintf("%s.gcov", f->path);
            for (char *p = m; p && *p; p++)
                if (*p == '/')
                    *p = '#';
            return m;
        }
    }
    return hb__asprintf("%s.gcov", b);
}

/* gcov's text format: count (or - / #####), line number, source text. */
static int write_gcov_text(const cov *c, const cov_file *f, const char *out_dir)
{
    FILE *src = fopen(f->path, "re");
    if (!src)
        return 0; /* no longer readable: lcov and JSON still have it */
    char *name = gcov_name(c, f);
    char *path = name ? hb__path_join(out_dir, name) : NULL;
    hb_sb sb = HB_SB_INIT;
    bool bad = hb__sb_addf(&sb, "%9s:%5u:Source:%s\n", "-", 0u, f->path) < 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    for (unsigned l = 1; (n = getline(&line, &cap, src)) >= 0; l++) {
        if (n && line[n - 1] == '\n')
            line[--n] = '\0';
        int64_t k = l < f->nlines ? f->counts[l] : -1;
        char cnt[24];
        if (k < 0)
            snprintf(cnt, sizeof(cnt), "-");
        else if (k == 0)
            snprintf(cnt, sizeof(cnt), "#####");
        else
            snprintf(cnt, sizeof(cnt), "%lld", (long long)k);
        bad |= hb__sb_addf(&sb, "%9s:%5u:%s\n", cnt, l, line) < 0;
    }
    free(line);
    fclose(src);
    int r = !path || bad ? -ENOMEM : hb__write_file_atomic(path, sb.buf, sb.len, 0644);
    hb__sb_release(&sb);
    free(name);
    free(path);
    return r;
}

static void cov_release(cov *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].path);
        free(c->files[i].counts);
        for (size_t k = 0; k < c->files[i].nfns; k++)
            free(c->files[i].fns[k].name);
        free(c->files[i].fns);
    }
    free(c->files);
}

int hb_coverage_report(hb_manager *m, const char *out_dir, hb_coverage_summary *out)
{
    if (!m || !out_dir || !*out_dir || !out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (!m->gcda_dir) {
        hb__set_mgr_error(m, "no coverage data: the manager was created without coverage_dir");
        return -ENOENT;
    }
    char *err = NULL, *work = NULL, *gcov = NULL;
    const char *gname = getenv("GCOV");
    cov c = {0};
    int r = hb__find_program(gname && *gname ? gname : "gcov", &gcov);
    if (r < 0)
        hb__seterr(&err, r, "gcov (%s) not found: %s", gname && *gname ? gname : "gcov",
                   strerror(-r));
    if (r == 0 && (r = hb__mkdir_p(out_dir, 0755)) < 0)
        hb__seterr(&err, r, "%s: %s", out_dir, strerror(-r));
    if (r == 0 && (r = hb__mkdtemp_in(m->tmp_dir, "coverage-", &work)) < 0)
        hb__seterr(&err, r, "a work directory in %s: %s", m->tmp_dir, strerror(-r));
    if (r == 0)
        r = collect(m, &c, gcov, work, &err);
    if (r == 0 && c.sum.data_files == 0) {
        r = -ENOENT;
        hb__seterr(&err, r, "no coverage data in %s (no plugin code ran, or every worker "
                   "that ran it crashed before writing its counters)", m->gcda_dir);
    }
    char *info = hb__path_join(out_dir, "coverage.info");
    char *json = hb__path_join(out_dir, "coverage.json");
    if (r == 0) {
        tally(&c);
        if (!info || !json)
            r = -ENOMEM;
        if (r == 0 && ((r = write_lcov(&c, info)) < 0 || (r = write_json(&c, json)) < 0))
            hb__seterr(&err, r, "writing the report in %s: %s", out_dir, strerror(-r));
        for (size_t i = 0; r == 0 && i < c.nfiles; i++)
            if ((r = write_gcov_text(&c, &c.files[i], out_dir)) < 0)
                hb__seterr(&err, r, "writing %s's gcov file in %s: %s", c.files[i].path,
                           out_dir, strerror(-r));
    }
    if (r == 0)
        *out = c.sum;
    else
        hb__set_mgr_error(m, "coverage report: %s", err ? err : hb_strerror(r));
    if (work)
        hb__rm_rf(work);
    free(work);
    free(gcov);
    free(info);
    free(json);
    free(err);
    cov_release(&c);
    return r;
}
