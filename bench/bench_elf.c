/* bench_elf: ELF analysis (hb_elf_analyze_file: read + libelf checks +
 * exports/imports/DT_NEEDED) of a generated ~1 MiB and ~10 MiB shared
 * object, against `readelf -Ws` on the same file (spawned, output to
 * /dev/null) measured in the same run. Prints median and p95 in ms.
 *
 *   bench_elf [runs]      (default 21 runs per case)
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elf.h"
#include "util.h"

#ifndef HB_SOURCE_DIR
#define HB_SOURCE_DIR "."
#endif

extern char **environ;

static int run(char *const argv[], bool quiet)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (quiet)
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A plugin with nfuncs exported functions (so a large .dynsym/.dynstr) and
 * a data array of data_kib KiB (so a large file). */
static int generate(const char *dir, const char *name, int nfuncs, int data_kib, char **so)
{
    char *src = hb__asprintf("%s/%s.c", dir, name);
    *so = hb__asprintf("%s/%s.so", dir, name);
    hb_sb sb = HB_SB_INIT;
    hb__sb_adds(&sb, "#include <hotbox/plugin.h>\n");
    hb__sb_addf(&sb, "HB_EXPORT_FN const unsigned char big_table[%d] = {1};\n", data_kib * 1024);
    for (int i = 0; i < nfuncs; i++)
        hb__sb_addf(&sb, "HB_EXPORT_FN int exported_function_number_%d(int x) "
                    "{ return x * %d + %d; }\n", i, i, i & 7);
    hb__sb_adds(&sb, "HB_PLUGIN(\"bench\", 1, 0, 0, 0, 0);\n");
    int r = hb__write_file_atomic(src, sb.buf, sb.len, 0644);
    hb__sb_release(&sb);
    if (r == 0) {
        char *inc = hb__asprintf("-I%s/include", HB_SOURCE_DIR);
        char *argv[] = {"cc", "-O0", "-shared", "-fPIC", "-fvisibility=hidden", inc,
                        "-Wl,-z,noexecstack", "-o", *so, src, NULL};
        r = run(argv, false) == 0 ? 0 : -1;
        free(inc);
    }
    free(src);
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *what, double *ms, int n)
{
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    int p95 = (int)((n - 1) * 0.95 + 0.5);
    printf("  %-32s median %8.3f ms   p95 %8.3f ms\n", what, ms[n / 2], ms[p95]);
}

static int bench_one(const char *so, int runs)
{
    struct stat st;
    if (stat(so, &st) < 0)
        return -1;
    double *a = calloc((size_t)runs, sizeof(double)), *b = calloc((size_t)runs, sizeof(double));
    size_t nexp = 0;
    for (int i = -1; i < runs; i++) { /* run -1 warms the page cache */
        uint64_t t = hb__now_ns();
        hb_elf_info info;
        char *err = NULL;
        int r = hb_elf_analyze_file(so, &info, &err);
        if (i >= 0)
            a[i] = hb__ms_since(t);
        if (r != 0) {
            fprintf(stderr, "bench_elf: %s refused: %s\n", so, err ? err : "?");
            free(err);
            free(a);
            free(b);
            return -1;
        }
        nexp = hb__strv_len(info.exports);
        hb_elf_info_release(&info);
    }
    for (int i = 0; i < runs; i++) {
        char *argv[] = {"readelf", "-Ws", (char *)so, NULL};
        uint64_t t = hb__now_ns();
        if (run(argv, true) != 0) {
            fprintf(stderr, "bench_elf: readelf failed\n");
            break;
        }
        b[i] = hb__ms_since(t);
    }
    printf("%s: %.2f MiB, %zu exports\n", so, st.st_size / 1048576.0, nexp);
    report("hb_elf_analyze_file", a, runs);
    report("readelf -Ws (baseline, spawned)", b, runs);
    free(a);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 21;
    if (runs < 3)
        runs = 3;
    char *dir = NULL;
    if (hb__mkdtemp_in("/tmp", "hb-bench-elf-", &dir) < 0)
        return 1;
    char *so1 = NULL, *so10 = NULL;
    int rc = 1;
    printf("bench_elf: generating objects with cc...\n");
    if (generate(dir, "one_mib", 2000, 900, &so1) < 0 ||
        generate(dir, "ten_mib", 12000, 9000, &so10) < 0) {
        fprintf(stderr, "bench_elf: cc failed\n");
        goto out;
    }
    rc = (bench_one(so1, runs) < 0 || bench_one(so10, runs) < 0) ? 1 : 0;
out:
    hb__rm_rf(dir);
    free(so1);
    free(so10);
    free(dir);
    return rc;
}
