/* bench_carry: the per-swap cost of carrying statics by their DWARF
 * layouts (docs/state.md).
 *
 * A typical plugin without hooks (nine statics, eight in memory at -O2: counters, a struct of
 * statistics, an array of 64 structs, a buffer, a heap pointer, an enum, a
 * function-local static; a dozen functions) is swapped back and forth
 * between two edits of a function body (compile cache hits after the first
 * two builds). Timed: the swap stage of each reload (hb_event.swap_ms:
 * DWARF analysis of the new object, the comparison, the SWAP round trip
 * with the copy in the worker).
 *
 * Baseline in the same run: the same plugin and swaps built without -g
 * (no debug info: nothing analysed, nothing carried). Also: the harness
 * side alone (hb_dwarf_analyze_file of one object + the plan) on an
 * object built here with cc -O2 -g.
 *
 *   bench_carry [runs]   (default 40)
 */
#include "bench_common.h"
#include "dwarf.h"
#include "util.h"

#include <hotbox/hotbox.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[] = "/tmp/hb-bench-carry-XXXXXX";
static double last_swap_ms;
static char last_msg[512];

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_SWAPPED) {
        last_swap_ms = ev->swap_ms;
        snprintf(last_msg, sizeof(last_msg), "%s", ev->message);
    }
}

static void write_plugin(const char *path, int step)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fprintf(f,
            "#include <hotbox/plugin.h>\n#include <stdint.h>\n#include <stdlib.h>\n"
            "enum mode { IDLE, BUSY, DONE };\n"
            "struct stats { long hits, misses; double avg; unsigned flags : 4, level : 4; char tag[8]; };\n"
            "struct slot { int id; long value; struct slot *next; };\n"
            "static long count;\n"
            "static int errors;\n"
            "static struct stats counters;\n"
            "static struct slot slots[64];\n"
            "static char buf[256];\n"
            "static long *heap;\n"
            "static enum mode mode;\n"
            "static double total;\n"
            "int64_t increment(void) { count += %d; counters.hits++; return count; }\n"
            "int64_t get(void) { return count; }\n"
            "int32_t fail(void) { return ++errors; }\n"
            "int64_t put(int32_t i, int64_t v) { slots[i & 63].id = i; slots[i & 63].value = v; return v; }\n"
            "int64_t at(int32_t i) { return slots[i & 63].value; }\n"
            "int32_t setmode(int32_t m) { mode = (enum mode)m; return (int32_t)mode; }\n"
            "double add(double x) { total += x; counters.avg = total / (double)(count ? count : 1); return total; }\n"
            "int32_t write_buf(int32_t c) { buf[c & 255] = (char)c; return buf[0]; }\n"
            "int64_t heap_get(void) { if (!heap) { heap = malloc(sizeof *heap); if (heap) *heap = 7; } return heap ? *heap : -1; }\n"
            "int64_t ticks(void) { static long n; return ++n; }\n"
            "int32_t level(void) { return (int32_t)counters.level; }\n"
            "HB_PLUGIN(\"typical\", 1, 0, 0, 0, 0);\n",
            step);
    fclose(f);
}

static void swaps(const char *cflags, const char *name, int runs, double *out)
{
    char dir[256], state[256], src[300];
    snprintf(dir, sizeof(dir), "%s/%s/typical", root, name);
    snprintf(state, sizeof(state), "%s/%s/state", root, name);
    char parent[256];
    snprintf(parent, sizeof(parent), "%s/%s", root, name);
    mkdir(parent, 0755);
    mkdir(dir, 0755);
    snprintf(src, sizeof(src), "%s/typical.c", dir);
    write_plugin(src, 1);
    hb_manager_options o;
    hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION);
    o.state_dir = state;
    o.cflags = cflags;
    o.isolation = HB_ISOLATION_LOCAL;
    o.on_event = on_event;
    hb_manager *m;
    hb_sandbox *sb;
    if (hb_manager_new(&o, &m) < 0 || hb_sandbox_new(m, NULL, &sb) < 0 || hb_load(sb, dir) < 0) {
        fprintf(stderr, "set-up failed\n");
        exit(1);
    }
    int64_t v;
    for (int i = -2; i < runs; i++) {
        hb_callf(sb, "typical", "increment", ")l", &v);
        write_plugin(src, 2 + (i & 1));
        if (hb_reload(sb, "typical") < 0) {
            fprintf(stderr, "reload failed: %s\n", hb_sandbox_last_error(sb));
            exit(1);
        }
        if (i >= 0) /* the first two build; the rest are cache hits */
            out[i] = last_swap_ms;
    }
    printf("  %s: last swap said \"%s\"\n", name, last_msg);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

static void analysis(int runs, double *out, size_t *nvars)
{
    char src[300], obj[300], cmd[1024];
    snprintf(src, sizeof(src), "%s/direct.c", root);
    snprintf(obj, sizeof(obj), "%s/direct.so", root);
    write_plugin(src, 1);
    snprintf(cmd, sizeof(cmd), "cc -O2 -g -shared -fPIC -I%s/include -o %s %s", HB_SOURCE_DIR, obj,
             src);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s failed\n", cmd);
        exit(1);
    }
    for (int i = 0; i < runs; i++) {
        double t0 = hb_bench_now_ms();
        hb_dwarf_info *a, *b;
        char *err;
        if (hb_dwarf_analyze_file(obj, &a, &err) < 0 || hb_dwarf_analyze_file(obj, &b, &err) < 0)
            exit(1);
        hb_carry_plan p;
        hb_carry_plan_make(a, b, &p);
        out[i] = (hb_bench_now_ms() - t0) / 2; /* one analysis + half a plan */
        *nvars = b->nvars;
        hb_carry_plan_release(&p);
        hb_dwarf_info_free(a);
        hb_dwarf_info_free(b);
    }
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 40;
    if (runs < 2)
        runs = 2;
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    double *carry = calloc((size_t)runs, sizeof(double));
    double *plain = calloc((size_t)runs, sizeof(double));
    double *an = calloc((size_t)runs, sizeof(double));
    size_t nvars = 0;
    printf("bench_carry: %d swaps of a typical plugin (9 statics) each way\n", runs);
    swaps("-O2 -g0", "nodebug", runs, plain); /* -g comes first: -g0 wins */
    swaps("-O2 -g", "debug", runs, carry);
    analysis(runs, an, &nvars);
    hb_bench_stats b = hb_bench_report("swap, no debug info (baseline)", plain, (size_t)runs);
    hb_bench_stats c = hb_bench_report("swap with DWARF carry", carry, (size_t)runs);
    hb_bench_report("analysis of one object + plan", an, (size_t)runs);
    printf("  %zu statics listed; carry adds %+.3f ms at the median, %+.3f ms at p95\n", nvars,
           c.median - b.median, c.p95 - b.p95);
    hb__rm_rf(root);
    free(carry);
    free(plain);
    free(an);
    return 0;
}
