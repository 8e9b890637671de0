/* examples/test-suite/counter_test.c - a test program that links the
 * installed libhotbox and drives the whole loop on a copy of the counter
 * example: load -> call -> edit the source -> reload -> call -> roll back.
 *
 * Build with pkg-config:
 *     cc counter_test.c $(pkg-config --cflags --libs hotbox) -o counter_test
 * or with CMake (see CMakeLists.txt here), then run:
 *     ./counter_test path/to/a/copy/of/examples/plugins/counter
 * It edits counter.c in that directory, so give it a copy. */
#include <hotbox/hotbox.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define EXPECT(cond, ...)                                    \
    do {                                                     \
        if (!(cond)) {                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                    \
            fputc('\n', stderr);                             \
            failures++;                                      \
        }                                                    \
    } while (0)

/* Replaces "count += 1" with "count += 5" in counter.c: an edit. */
static int edit_step(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/counter.c", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strstr(buf, "count += 1;");
    if (!p)
        return -1;
    p[9] = '5';
    f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(buf, f);
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s COUNTER_PLUGIN_DIR (a copy; it is edited)\n", argv[0]);
        return 2;
    }
    printf("hotbox %s\n", hb_version());
    hb_manager_options mo = HB_MANAGER_OPTIONS_INIT;
    mo.state_dir = ".hotbox-test-suite";
    mo.isolation = HB_ISOLATION_LOCAL;
    hb_manager *m = NULL;
    int r = hb_manager_new(&mo, &m);
    if (r < 0) {
        fprintf(stderr, "hb_manager_new: %s\n", hb_strerror(r));
        return 1;
    }
    hb_sandbox *sb = NULL;
    r = hb_sandbox_new(m, NULL, &sb);
    if (r < 0) {
        fprintf(stderr, "hb_sandbox_new: %s\n", hb_manager_last_error(m));
        return 1;
    }

    r = hb_load(sb, argv[1]);
    EXPECT(r == 0, "load: %s", hb_sandbox_last_error(sb));
    int64_t v = 0;
    for (int i = 0; i < 3; i++)
        hb_callf(sb, "counter", "increment", ")l", &v);
    EXPECT(v == 3, "after 3 increments: %" PRId64, v);

    EXPECT(edit_step(argv[1]) == 0, "could not edit counter.c");
    r = hb_reload(sb, "counter");
    EXPECT(r == 0, "reload: %s", hb_sandbox_last_error(sb));
    r = hb_callf(sb, "counter", "increment", ")l", &v);
    EXPECT(r == 0 && v == 8, "after reload, increment: %" PRId64 " (want 8: state kept, +5)", v);

    uint64_t active = 0;
    hb_active_version(sb, "counter", &active);
    r = hb_rollback(sb, "counter", 0);
    EXPECT(r == 0, "rollback: %s", hb_sandbox_last_error(sb));
    uint64_t after = 0;
    hb_active_version(sb, "counter", &after);
    EXPECT(after < active, "rollback went from v%" PRIu64 " to v%" PRIu64, active, after);
    r = hb_callf(sb, "counter", "increment", ")l", &v);
    EXPECT(r == 0 && v == 9, "after rollback, increment: %" PRId64 " (want 9: state kept, +1)", v);

    hb_sandbox_free(sb);
    hb_manager_free(m);
    printf("%s: %d failure%s\n", failures ? "FAILED" : "passed", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
