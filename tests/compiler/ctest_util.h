/* tests/compiler/ctest_util.h - helpers shared by the compiler tests:
 * temp trees with small plugins, requests, ELF checks. */
#ifndef HB_TESTS_COMPILER_UTIL_H
#define HB_TESTS_COMPILER_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler.h"
#include "hbtest.h"

static inline char *t_mkdtemp(const char *prefix)
{
    char *p = hb__asprintf("/tmp/%sXXXXXX", prefix);
    HB_CHECK(p != NULL);
    HB_CHECK(mkdtemp(p) != NULL);
    return p;
}

static inline void t_write(const char *dir, const char *name, const char *text)
{
    char *p = hb__path_join(dir, name);
    HB_CHECK(p != NULL);
    HB_CHECK_OK(hb__write_file_atomic(p, text, strlen(text), 0644));
    free(p);
}

static inline char *t_subdir(const char *dir, const char *name)
{
    char *p = hb__path_join(dir, name);
    HB_CHECK(p != NULL);
    HB_CHECK_OK(hb__mkdir_p(p, 0755));
    return p;
}

/* A fresh job directory under root for each compile. */
static inline char *t_job(const char *root)
{
    char *j = NULL;
    HB_CHECK_OK(hb__mkdtemp_in(root, "job-", &j));
    return j;
}

static inline hb_compile_request t_request(const char *plugin, const char *job, const char *inc)
{
    hb_compile_request req = {0};
    req.plugin_dir = plugin;
    req.job_dir = job;
    const char *cc = getenv("CC");
    req.cc = cc && *cc ? cc : "cc";
    req.include_dir = inc;
    req.timeout_ms = 60000;
    req.isolation = HB_ISOLATION_LOCAL;
    return req;
}

static inline void t_check_elf_so(const char *path)
{
    HB_CHECK(path != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    unsigned char h[18];
    HB_CHECK_EQ(read(fd, h, sizeof(h)), (long)sizeof(h));
    close(fd);
    HB_CHECK(memcmp(h, "\177ELF", 4) == 0);
    HB_CHECK_EQ(h[16] | (h[17] << 8), 3); /* ET_DYN */
}

static inline const hb_diag *t_find_diag(const hb_compile_result *res, const char *severity)
{
    for (size_t i = 0; i < res->ndiags; i++)
        if (!strcmp(res->diags[i].severity, severity))
            return &res->diags[i];
    return NULL;
}

static inline bool t_has_input(const hb_compile_result *res, const char *path)
{
    for (char **p = res->inputs; p && *p; p++)
        if (!strcmp(*p, path))
            return true;
    return false;
}

#endif
