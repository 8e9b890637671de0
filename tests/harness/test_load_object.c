/* tests/harness/test_load_object.c - prebuilt plugin objects (issue 18):
 * objects built outside hotbox with plain `cc -shared -fPIC` are loaded
 * with hb_load_object and `hotbox call --object`, swapped in for a
 * compiled version with their state, rolled back to, listed with their
 * origin; bad files are refused naming the file, nothing is stored and
 * the active version keeps serving. */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "harness/e2e.h"

static e2e_events ev;

/* Builds src into <root>/<file> with the system compiler, as a CMake or
 * Meson build would (no hotbox involved). */
static char *cc_object(const char *file, const char *src, const char *extra_flags)
{
    const char *inc = getenv("HB_SOURCE_INCLUDE");
    HB_CHECK(inc != NULL);
    char *srcdir = e2e_write("src", file, src);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "cc -shared -fPIC %s -I'%s' -o '%s/%s.so' '%s/%s'",
             extra_flags ? extra_flags : "", inc, e2e_root, file, srcdir, file);
    if (system("command -v cc >/dev/null 2>&1") != 0) {
        printf("SKIP: no system C compiler (cc) to build a prebuilt object\n");
        exit(77);
    }
    HB_CHECK_EQ(system(cmd), 0);
    char path[4400];
    snprintf(path, sizeof(path), "%s/%s.so", e2e_root, file);
    return e2e_ring(path);
}

static hb_sandbox *sandbox(hb_manager *m)
{
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    return sb;
}

static int64_t call_l(hb_sandbox *sb, const char *fn)
{
    int64_t v = -1;
    HB_CHECK_OK(hb_callf(sb, "counter", fn, ")l", &v));
    return v;
}

static size_t nversions(hb_manager *m, const char *plugin)
{
    hb_version_info *v = NULL;
    size_t n = 0;
    int r = hb_versions(m, plugin, &v, &n);
    HB_CHECK(r == 0 || r == -ENOENT);
    hb_free(v);
    return r == 0 ? n : 0;
}

/* A compiled version, then a prebuilt one: swapped with state, listed as
 * prebuilt with its path, rolled back from and to. */
static void case_swap_to_prebuilt(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    char *obj = cc_object("counter_v2.c", e2e_counter_src(2, 10, NULL), NULL);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load(sb, dir));
    for (int i = 0; i < 3; i++)
        call_l(sb, "increment");
    HB_CHECK_EQ(call_l(sb, "get"), 3);
    int swaps = ev.count[HB_EVENT_SWAPPED];
    HB_CHECK_OK(hb_load_object(sb, obj));
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], swaps + 1);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 2);
    HB_CHECK_EQ(call_l(sb, "get"), 3);        /* state carried by save/migrate */
    HB_CHECK_EQ(call_l(sb, "increment"), 13); /* the prebuilt code runs */

    hb_version_info *v = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_versions(m, "counter", &v, &n));
    HB_CHECK_EQ(n, 2);
    HB_CHECK(v[0].prebuilt_from == NULL);
    HB_CHECK(v[1].prebuilt_from != NULL);
    HB_CHECK_STR(v[1].prebuilt_from, obj);
    hb_free(v);

    /* Loading the same object again: the same version, nothing swapped. */
    HB_CHECK_OK(hb_load_object(sb, obj));
    HB_CHECK_EQ(nversions(m, "counter"), 2);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], swaps + 1);

    HB_CHECK_OK(hb_rollback(sb, "counter", 1));
    HB_CHECK_EQ(call_l(sb, "increment"), 14); /* compiled v1 steps by 1 */
    HB_CHECK_OK(hb_rollback(sb, "counter", 2)); /* rollback to the prebuilt one */
    HB_CHECK_EQ(call_l(sb, "increment"), 24);
    /* A restart reloads the prebuilt object from the store. */
    HB_CHECK_OK(hb_checkpoint(sb, "counter"));
    HB_CHECK_OK(hb_sandbox_restart(sb));
    int64_t got = 0;
    int r = hb_callf(sb, "counter", "get", ")l", &got);
    HB_CHECK(r == 0 || r == HB_ESTATELOST);
    HB_CHECK_EQ(call_l(sb, "get"), 24);
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 2);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* A plugin loaded from an object only: named by its descriptor, swapped
 * to a newer object; hb_reload has no sources to build. */
static void case_prebuilt_only(void)
{
    char *v1 = cc_object("a_file_name.c", e2e_counter_src(1, 1, NULL), NULL);
    char *v2 = cc_object("another.c", e2e_counter_src(2, 5, NULL), "-O2");
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load_object(sb, v1)); /* named "counter" by its descriptor */
    HB_CHECK_EQ(call_l(sb, "increment"), 1);
    HB_CHECK_OK(hb_load_object(sb, v2));
    HB_CHECK_EQ(call_l(sb, "increment"), 6);
    HB_CHECK_EQ(hb_reload(sb, "counter"), -EOPNOTSUPP);
    HB_CHECK(strstr(hb_sandbox_last_error(sb), "prebuilt") != NULL);
    /* --name: the same bytes under another name. */
    HB_CHECK_OK(hb_load_object_as(sb, v1, "other"));
    int64_t x = 0;
    HB_CHECK_OK(hb_callf(sb, "other", "increment", ")l", &x));
    HB_CHECK_EQ(x, 1);
    HB_CHECK_EQ(hb_load_object_as(sb, v1, "../evil"), -EINVAL);
    HB_CHECK(strstr(hb_sandbox_last_error(sb), "../evil") != NULL);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* Copies src to <root>/<name> and sets byte `at` to `val` (at < 0: none). */
static char *patched_copy(const char *src, const char *name, long at, unsigned char val)
{
    char dst[4400], cmd[9000];
    snprintf(dst, sizeof(dst), "%s/%s", e2e_root, name);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
    HB_CHECK_EQ(system(cmd), 0);
    if (at >= 0) {
        int fd = open(dst, O_WRONLY | O_CLOEXEC);
        HB_CHECK(fd >= 0);
        HB_CHECK_EQ(pwrite(fd, &val, 1, at), 1);
        close(fd);
    }
    return e2e_ring(dst);
}

/* One bad file: refused with code, the error names the file and `what`,
 * nothing stored, the active version keeps serving with its state. */
static void refused(hb_manager *m, hb_sandbox *sb, const char *path, int code, const char *what)
{
    size_t before = nversions(m, "counter");
    int64_t state = call_l(sb, "get");
    int r = hb_load_object(sb, path);
    const char *err = hb_sandbox_last_error(sb);
    if (r != code || !strstr(err, path) || !strstr(err, what))
        fprintf(stderr, "%s: got %d (want %d): %s (want \"%s\")\n", path, r, code, err, what);
    HB_CHECK_EQ(r, code);
    HB_CHECK(strstr(err, path) != NULL);
    HB_CHECK(strstr(err, what) != NULL);
    HB_CHECK_EQ(nversions(m, "counter"), before);
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_EQ(call_l(sb, "get"), state);
}

static void case_bad_objects(void)
{
    char *good = cc_object("counter.c", e2e_counter_src(1, 1, NULL), NULL);
    char *nodesc = cc_object("nodesc.c", "int add(int a, int b) { return a + b; }\n", NULL);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = sandbox(m);
    HB_CHECK_OK(hb_load_object(sb, good));
    call_l(sb, "increment");
    call_l(sb, "increment");

    e2e_write("bad", "notelf.so", "this is not an object\n");
    char notelf[4400];
    snprintf(notelf, sizeof(notelf), "%s/bad/notelf.so", e2e_root);
    refused(m, sb, notelf, HB_EBADELF, "not an ELF file");
    /* e_machine (offset 18) of another architecture. */
    char *arch = patched_copy(good, "arm.so", 18, 40 /* EM_ARM */);
    refused(m, sb, arch, HB_EBADELF, "ELF machine is ARM");
    refused(m, sb, nodesc, HB_ENODESC, "no hb_plugin descriptor");
    char dir[4400];
    snprintf(dir, sizeof(dir), "%s/bad", e2e_root);
    refused(m, sb, dir, -EISDIR, "is a directory");
    char loop1[4400], loop2[4400];
    snprintf(loop1, sizeof(loop1), "%s/loop1.so", e2e_root);
    snprintf(loop2, sizeof(loop2), "%s/loop2.so", e2e_root);
    HB_CHECK_EQ(symlink(loop2, loop1), 0);
    HB_CHECK_EQ(symlink(loop1, loop2), 0);
    refused(m, sb, loop1, -ELOOP, "symbolic link loop");
    char missing[4400];
    snprintf(missing, sizeof(missing), "%s/missing.so", e2e_root);
    refused(m, sb, missing, -ENOENT, "No such file");
    char fifo[4400];
    snprintf(fifo, sizeof(fifo), "%s/fifo.so", e2e_root);
    HB_CHECK_EQ(mkfifo(fifo, 0600), 0);
    refused(m, sb, fifo, -EINVAL, "not a regular file");
    if (geteuid() != 0) { /* root reads it anyway */
        char *unread = patched_copy(good, "unreadable.so", -1, 0);
        HB_CHECK_EQ(chmod(unread, 0), 0);
        refused(m, sb, unread, -EACCES, "cannot read");
    }
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

/* `hotbox call --object FILE` on an object built with plain cc. */
static int run_cli(const char *args, const char *out)
{
    const char *cli = getenv("HOTBOX_CLI");
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "'%s' --state-dir '%s/.hotbox' %s >'%s' 2>&1", cli, e2e_root, args,
             out);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char buf[8192] = "";
    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        fclose(f);
    }
    if (!strstr(buf, text))
        fprintf(stderr, "%s does not contain \"%s\":\n%s\n", path, text, buf);
    return strstr(buf, text) != NULL;
}

static void case_cli_call_object(void)
{
    if (!getenv("HOTBOX_CLI")) {
        printf("SKIP: HOTBOX_CLI is not set\n");
        exit(77);
    }
    char *obj = cc_object("adder.c",
                          "#include <hotbox/plugin.h>\n"
                          "HB_PLUGIN(\"adder\", 1, 0, 0, 0, 0);\n"
                          "HB_EXPORT_FN int add(int a, int b) { return a + b; }\n",
                          NULL);
    char out[4400], args[5000];
    snprintf(out, sizeof(out), "%s/out", e2e_root);
    snprintf(args, sizeof(args), "call --object '%s' -- adder add 'ii)i' 40 2", obj);
    HB_CHECK_EQ(run_cli(args, out), 0);
    HB_CHECK(file_has(out, "42"));
    HB_CHECK_EQ(run_cli("versions adder", out), 0);
    HB_CHECK(file_has(out, "prebuilt from"));
    HB_CHECK(file_has(out, obj));
    snprintf(args, sizeof(args), "call --object '%s' --name plus -- plus add 'ii)i' 1 2", obj);
    HB_CHECK_EQ(run_cli(args, out), 0);
    HB_CHECK(file_has(out, "3"));
    /* A bad object: exit 1, the message names the file, nothing stored. */
    char bad[4400];
    snprintf(bad, sizeof(bad), "%s/junk.so", e2e_root);
    FILE *f = fopen(bad, "w");
    HB_CHECK(f != NULL);
    fputs("junk", f);
    fclose(f);
    snprintf(args, sizeof(args), "call --object '%s' -- junk add 'ii)i' 1 2", bad);
    HB_CHECK_EQ(run_cli(args, out), 1);
    HB_CHECK(file_has(out, bad));
    HB_CHECK(file_has(out, "not an ELF file"));
    HB_CHECK_EQ(run_cli("versions junk", out), 0);
    HB_CHECK(file_has(out, "no stored versions"));
}

/* `hotbox test --object FILE`: the object's hb_test_* run like a built
 * plugin's; a bad object fails its build case naming the file. */
static void case_cli_test_object(void)
{
    if (!getenv("HOTBOX_CLI")) {
        printf("SKIP: HOTBOX_CLI is not set\n");
        exit(77);
    }
    char *obj = cc_object("tested.c",
                          "#include <hotbox/plugin.h>\n"
                          "HB_PLUGIN(\"tested\", 1, 0, 0, 0, 0);\n"
                          "HB_EXPORT_FN int add(int a, int b) { return a + b; }\n"
                          "HB_EXPORT_FN int hb_test_add(void) { return add(2, 2) == 4 ? 0 : 1; }\n"
                          "HB_EXPORT_FN int hb_test_wrong(void) { return add(2, 2) == 5 ? 0 : 1; }\n",
                          NULL);
    char out[4400], args[5000];
    snprintf(out, sizeof(out), "%s/out", e2e_root);
    snprintf(args, sizeof(args), "--isolation local test --object '%s'", obj);
    HB_CHECK_EQ(run_cli(args, out), 1);
    HB_CHECK(file_has(out, "PASS tested.hb_test_add"));
    HB_CHECK(file_has(out, "FAIL tested.hb_test_wrong"));
    HB_CHECK(file_has(out, "1 passed, 1 failed"));
    snprintf(args, sizeof(args), "--isolation local test -k tested.hb_test_add --object '%s'", obj);
    HB_CHECK_EQ(run_cli(args, out), 0);
    HB_CHECK(file_has(out, "1 passed, 0 failed"));
    snprintf(args, sizeof(args), "--isolation local test --object '%s/src'", e2e_root);
    HB_CHECK_EQ(run_cli(args, out), 1);
    HB_CHECK(file_has(out, "is not a loadable plugin object"));
    HB_CHECK(file_has(out, "is a directory"));
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"swap_to_prebuilt", case_swap_to_prebuilt},
        {"prebuilt_only", case_prebuilt_only},
        {"bad_objects", case_bad_objects},
        {"cli_call_object", case_cli_call_object},
        {"cli_test_object", case_cli_test_object},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
