/* tests/escape/test_escape_cc.c - hostile source trees at compile time.
 *
 * A plugin directory and its plugin.json are untrusted input (a cloned
 * repository). Each case builds such a tree with the namespace backend,
 * through the public API, as whoever runs CTest (root in CI) and as uid
 * 65534 (escape_cc_nobody_*, tests/escape/as_nobody.sh), and checks that
 * what the compiler says (its depfile, its diagnostics' locations) makes
 * the manager read no host file the compile was not shown, and that the
 * compile keeps to its share of the host's tasks.
 *
 * The secret is a 0600 file beside the project, which the manager itself
 * can read: only the manager reading it on the compile's word can leak it. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape_env.h"

static char root[4096], secret[4300], plug[4300];

static void cleanup(void)
{
    if (root[0] && !getenv("HB_TEST_KEEP")) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", root);
    }
}

/* root/p/x.c: a plugin, with `extra` appended. */
static void write_source(const char *extra)
{
    char file[4400], src[12000];
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
             "HB_EXPORT_FN int32_t one(void) { return 1; }\n"
             "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n%s",
             extra);
    snprintf(file, sizeof(file), "%s/x.c", plug);
    hb_escape_write_text(file, src);
    HB_CHECK(chmod(file, 0644) == 0);
}

static void write_json(const char *json)
{
    char file[4400];
    snprintf(file, sizeof(file), "%s/plugin.json", plug);
    hb_escape_write_text(file, json);
    HB_CHECK(chmod(file, 0644) == 0);
}

/* root/ (0755, so a root manager's compile may drop root), the secret in
 * root/private/ and the plugin directory root/p holding x.c and, unless
 * NULL, plugin.json. */
static void tree(const char *json)
{
    const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(root, sizeof(root), "%s/hb-escape-cc-XXXXXX", tmp);
    HB_CHECK(mkdtemp(root) != NULL);
    atexit(cleanup);
    HB_CHECK(chmod(root, 0755) == 0);
    char dir[4300];
    snprintf(dir, sizeof(dir), "%s/private", root);
    HB_CHECK(mkdir(dir, 0700) == 0);
    snprintf(secret, sizeof(secret), "%s/private/secret.txt", root);
    hb_escape_write_text(secret, "HB-CC-SECRET-7c1 first line of the secret\n");
    HB_CHECK(chmod(secret, 0600) == 0);
    snprintf(plug, sizeof(plug), "%s/p", root);
    HB_CHECK(mkdir(plug, 0755) == 0);
    write_source("");
    if (json)
        write_json(json);
}

typedef struct built {
    hb_manager *m;
    hb_sandbox *sb;
    int r;
    const char *err;
} built;

/* Loads root/p with the namespace backend (and the compiler cc, unless
 * NULL); skips where it cannot run. */
static built load_with(const char *cc)
{
    char state[4300];
    snprintf(state, sizeof(state), "%s/.hotbox", root);
    hb_manager_options o;
    HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
    o.state_dir = state;
    o.isolation = HB_ISOLATION_NAMESPACE;
    o.cc = cc;
    built b = {0};
    if (hb_manager_new(&o, &b.m) != 0)
        HB_SKIP("no manager with the namespace backend here");
    HB_CHECK_OK(hb_sandbox_new(b.m, NULL, &b.sb));
    b.r = hb_load(b.sb, plug);
    b.err = b.r ? hb_sandbox_last_error(b.sb) : "(loaded)";
    printf("load: %d %s\n", b.r, b.err);
    if (b.r == HB_EISOLATION && strstr(b.err, "unavailable"))
        HB_SKIP("the namespace backend is unavailable: %s", b.err);
    return b;
}

static built load(void)
{
    return load_with(NULL);
}

static void unload(built *b)
{
    hb_sandbox_free(b->sb);
    hb_manager_free(b->m);
}

/* plugin.json's "-MT" writes its text into the depfile as is: a target
 * with a newline forges a rule naming any host file as an input. Before,
 * the manager hashed the secret (as root in CI), stored it as an input of
 * the version and watch mode watched it; a missing file showed as "changed
 * while the compiler ran" (an existence oracle for root's files). Now the
 * compile is refused, naming the file, and nothing is read. */
static void case_depfile_forged(void)
{
    char json[9000];
    tree(NULL);
    snprintf(json, sizeof(json), "{\"cflags\": [\"-MT\", \"x.o: %s\\nzz\"]}\n", secret);
    write_json(json);
    built b = load();
    if (b.r == 0)
        HB_FAIL_("a depfile naming %s, outside the compile's view, was accepted", secret);
    HB_CHECK_EQ(b.r, HB_ECOMPILE);
    HB_CHECK_CONTAINS(b.err, secret);
    HB_CHECK_CONTAINS(b.err, "outside what the namespace backend showed it");
    HB_CHECK(strstr(b.err, "HB-CC-SECRET") == NULL);
    unload(&b);
}

/* The same through a symbolic link the tree ships: p/link.h -> the
 * secret. The path as written is in the plugin directory; the file it
 * reaches is not. */
static void case_depfile_symlink(void)
{
    tree(NULL);
    char link[4400], json[9000];
    snprintf(link, sizeof(link), "%s/link.h", plug);
    HB_CHECK(symlink(secret, link) == 0);
    snprintf(json, sizeof(json), "{\"cflags\": [\"-MT\", \"x.o: %s\\nzz\"]}\n", link);
    write_json(json);
    built b = load();
    if (b.r == 0)
        HB_FAIL_("a depfile naming %s (a link to %s) was accepted", link, secret);
    HB_CHECK_EQ(b.r, HB_ECOMPILE);
    HB_CHECK_CONTAINS(b.err, link);
    HB_CHECK_CONTAINS(b.err, "outside what the namespace backend showed it");
    unload(&b);
}

/* The one diagnostic of the last load whose message holds needle. */
static hb_diagnostic one_diag(hb_sandbox *sb, const char *needle)
{
    const hb_diagnostic *d = NULL;
    size_t n = 0, found = 0;
    hb_diagnostic one = {0};
    HB_CHECK_OK(hb_sandbox_diagnostics(sb, &d, &n));
    for (size_t i = 0; i < n; i++)
        if (d[i].message && strstr(d[i].message, needle)) {
            printf("diag: %s:%u:%u: %s\n", d[i].file, d[i].line, d[i].column, d[i].message);
            one = d[i];
            found++;
        }
    if (found != 1)
        HB_FAIL_("%zu diagnostics say \"%s\" (of %zu), want 1", found, needle, n);
    return one;
}

/* "#line 1 FILE" makes GCC blame line 1 of FILE. A front end that shows a
 * diagnostic's source line (hotbox watch) read it on the host as the
 * manager: `#line 1 "/etc/shadow"` printed root's password hash. Outside
 * the compile's view (an absolute path elsewhere, a relative one, which a
 * front end would open in its own working directory) the line and column
 * are 0 ("unknown"); the plugin's own error keeps its location. */
static void case_line_claim(void)
{
    char extra[9000];
    tree(NULL);
    snprintf(extra, sizeof(extra),
             "#error own error\n"
             "#line 1 \"%s\"\n#warning claims the secret\n"
             "#line 1 \"private/secret.txt\"\n#warning claims a relative file\n",
             secret);
    write_source(extra);
    built b = load();
    HB_CHECK_EQ(b.r, HB_ECOMPILE);
    hb_diagnostic own = one_diag(b.sb, "own error");
    HB_CHECK_EQ(own.line, 5); /* a location in view is kept */
    hb_diagnostic abs_claim = one_diag(b.sb, "claims the secret");
    HB_CHECK_STR(abs_claim.file, secret);
    HB_CHECK_EQ(abs_claim.line, 0);
    HB_CHECK_EQ(abs_claim.column, 0);
    hb_diagnostic rel_claim = one_diag(b.sb, "claims a relative file");
    HB_CHECK_EQ(rel_claim.line, 0);
    HB_CHECK_EQ(rel_claim.column, 0);
    unload(&b);
}

/* A "-wrapper" in plugin.json runs anything in the compile's jail: a fork
 * or thread bomb there takes host pids (a pid namespace does not bound
 * them). The compile runs under the share of the host's tasks a worker
 * gets (RLIMIT_NPROC, a quarter of pid_max/threads-max); before, it ran
 * with the manager's (unlimited as root). Probed, not bombed: the wrapper
 * prints its limit and fails the compile. */
static void case_task_share(void)
{
    tree("{\"cflags\": [\"-wrapper\", \"sh,-c,grep 'Max processes' /proc/self/limits "
             ">&2; exit 1\"]}\n");
    long long room = hb_escape_host_task_room();
    built b = load();
    HB_CHECK_EQ(b.r, HB_ECOMPILE);
    const char *at = strstr(b.err, "Max processes");
    if (!at)
        HB_FAIL_("the wrapper did not run: %s", b.err);
    char soft[64] = "";
    HB_CHECK(sscanf(at, "Max processes %63s", soft) == 1);
    printf("compile RLIMIT_NPROC %s, host room %lld\n", soft, room);
    if (!strcmp(soft, "unlimited"))
        HB_FAIL_("the compile runs without a process limit (host room %lld)", room);
    long long lim = atoll(soft);
    HB_CHECK(lim > 0 && lim <= room / 4);
    unload(&b);
}

/* A compiler outside /usr is shown to its compile. A repository's
 * ./hotbox.json naming "./cc" (a wrapper it ships in the project root) made
 * that the compiler's directory, the whole project: every file beside the
 * plugin, other plugins, the state directory. An .incbin of a file there
 * was baked into the object. Now only the compiler's own file is shown: the
 * wrapper still runs, the file stays out of reach. */
static void case_cc_dir(void)
{
    tree(NULL);
    char cc[4400], other[4400], src[12000], file[4400];
    snprintf(cc, sizeof(cc), "%s/cc", root);
    hb_escape_write_text(cc, "#!/bin/sh\nexec /usr/bin/cc \"$@\"\n");
    HB_CHECK(chmod(cc, 0755) == 0);
    snprintf(other, sizeof(other), "%s/notes.txt", root); /* not a sibling directory */
    hb_escape_write_text(other, "HB-CC-PROJECT-FILE-2b9\n");
    HB_CHECK(chmod(other, 0644) == 0);
    snprintf(src, sizeof(src),
             "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
             "__asm__(\".section .rodata\\n.globl leaked\\nleaked:\\n.incbin \\\"%s\\\"\\n"
             ".byte 0\\n.previous\");\n"
             "extern const char leaked[];\n"
             "HB_EXPORT_FN int32_t one(void) { return leaked[0]; }\n"
             "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n",
             other);
    snprintf(file, sizeof(file), "%s/x.c", plug);
    hb_escape_write_text(file, src);
    built b = load_with(cc);
    if (b.r == 0)
        HB_FAIL_("the compile read %s, beside the plugin, through the compiler's directory",
                 other);
    HB_CHECK_EQ(b.r, HB_ECOMPILE);
    HB_CHECK_CONTAINS(b.err, other); /* the assembler: file not found */
    HB_CHECK(strstr(b.err, "not found") != NULL);
    unload(&b);
    /* The wrapper itself still compiles a plugin. */
    hb_escape_write_text(file, "#include <hotbox/plugin.h>\n#include <stdint.h>\n"
                     "HB_EXPORT_FN int32_t one(void) { return 1; }\n"
                     "HB_PLUGIN(\"p\", 1, 0, 0, 0, 0);\n");
    b = load_with(cc);
    HB_CHECK_EQ(b.r, 0);
    unload(&b);
}

/* A source whose name holds a line break: GCC writes it into the depfile
 * as is, and its pieces came back as inputs ("hashing compile input
 * .../a: No such file or directory"). Now it is refused up front, naming
 * the plugin directory and the source. */
static void case_newline_name(void)
{
    tree(NULL);
    char file[4400];
    snprintf(file, sizeof(file), "%s/a\nb.c", plug);
    hb_escape_write_text(file, "int b(void) { return 2; }\n");
    built b = load();
    HB_CHECK_EQ(b.r, HB_ECOMPILE);
    HB_CHECK_CONTAINS(b.err, plug);
    HB_CHECK_CONTAINS(b.err, "source file \"a\\nb.c\" has a control character");
    unload(&b);
}

/* A diagnostic blaming a FIFO the tree ships (in the plugin directory,
 * so in view): a front end reading its "line" would block for ever. Its
 * line and column are 0 too. The wrapper prints the claim the way GCC
 * prints a location (GCC itself would block on the FIFO, until the compile
 * time limit). */
static void case_fifo_claim(void)
{
    tree(NULL);
    char fifo[4400], json[9000];
    snprintf(fifo, sizeof(fifo), "%s/f.h", plug);
    HB_CHECK(mkfifo(fifo, 0644) == 0);
    snprintf(json, sizeof(json),
             "{\"cflags\": [\"-wrapper\", \"sh,-c,echo '%s:1:1: error: claims a fifo' >&2; "
             "exit 1\"]}\n",
             fifo);
    write_json(json);
    built b = load();
    HB_CHECK_EQ(b.r, HB_ECOMPILE);
    hb_diagnostic claim = one_diag(b.sb, "claims a fifo");
    HB_CHECK_STR(claim.file, fifo);
    HB_CHECK_EQ(claim.line, 0);
    unload(&b);
}

/* A "-wrapper" in plugin.json (plugin code, run inside the compile's jail)
 * used to write straight into the host's job directory: any number of files
 * of up to RLIMIT_FSIZE each, until the compile's time limit, filling the
 * host's disk. The job directory is now a tmpfs of max_job_bytes (1 GiB)
 * inside the jail. The wrapper writes up to 2 GiB in 1 MiB files, then
 * waits on a FIFO while the test measures everything under the test's root
 * (the state directory with the job directory included) on the host: it
 * must stay far below what was written. The build then fails naming the
 * limit, and nothing is left behind. */
static uint64_t tree_bytes;
static int add_bytes(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    tree_bytes += (uint64_t)st->st_blocks * 512;
    return 0;
}

static uint64_t root_usage(void)
{
    tree_bytes = 0;
    HB_CHECK(nftw(root, add_bytes, 16, FTW_PHYS) == 0);
    return tree_bytes;
}

static built disk_built;
static void *disk_load(void *arg)
{
    (void)arg;
    disk_built = load();
    return NULL;
}

static void case_job_disk(void)
{
    tree(NULL);
    char ready[4400], go[4400], wrapper[4400], script[20000], json[9000];
    snprintf(ready, sizeof(ready), "%s/ready", plug);
    snprintf(go, sizeof(go), "%s/go", plug);
    snprintf(wrapper, sizeof(wrapper), "%s/w.sh", plug);
    HB_CHECK(mkfifo(ready, 0666) == 0 && chmod(ready, 0666) == 0);
    HB_CHECK(mkfifo(go, 0666) == 0 && chmod(go, 0666) == 0);
    snprintf(script, sizeof(script),
             "case \"$1\" in *cc1)\n"
             "  i=0; while [ $i -lt 2048 ]; do\n"
             "    head -c 1048576 /dev/zero > \"$HOME/f$i\" 2>/dev/null || break; i=$((i+1)); done\n"
             "  echo \"$i MiB written\" > '%s'; read x < '%s';;\n"
             "esac\n"
             "exec \"$@\"\n",
             ready, go);
    hb_escape_write_text(wrapper, script);
    HB_CHECK(chmod(wrapper, 0644) == 0);
    snprintf(json, sizeof(json), "{\"cflags\": [\"-wrapper\", \"/bin/sh,%s\"]}\n", wrapper);
    write_json(json);
    uint64_t before = root_usage();
    int rfd = open(ready, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    HB_CHECK(rfd >= 0);
    pthread_t t;
    HB_CHECK(pthread_create(&t, NULL, disk_load, NULL) == 0);
    struct pollfd p = {rfd, POLLIN, 0};
    if (poll(&p, 1, 120000) != 1)
        HB_FAIL_("the wrapper never said it had written");
    char said[64] = "";
    ssize_t n = read(rfd, said, sizeof(said) - 1);
    said[n > 0 ? n - 1 : 0] = 0;
    uint64_t during = root_usage();
    printf("wrapper: %s; the host holds %llu bytes under the test root (%llu before)\n", said,
           (unsigned long long)during, (unsigned long long)before);
    int wfd = open(go, O_WRONLY | O_CLOEXEC);
    HB_CHECK(wfd >= 0 && write(wfd, "\n", 1) == 1);
    close(wfd);
    close(rfd);
    HB_CHECK(pthread_join(t, NULL) == 0);
    HB_CHECK(atoi(said) >= 1000); /* it did write about a GiB inside */
    HB_CHECK(during < before + (64ull << 20));
    HB_CHECK_EQ(disk_built.r, HB_ELIMIT);
    HB_CHECK(strstr(disk_built.err, "max_job_bytes") && strstr(disk_built.err, "1073741824"));
    unload(&disk_built);
    uint64_t after = root_usage();
    printf("after the build: %llu bytes under the test root\n", (unsigned long long)after);
    HB_CHECK(after < before + (64ull << 20));
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"depfile_forged", case_depfile_forged},
        {"depfile_symlink", case_depfile_symlink},
        {"line_claim", case_line_claim},
        {"task_share", case_task_share},
        {"cc_dir", case_cc_dir},
        {"newline_name", case_newline_name},
        {"fifo_claim", case_fifo_claim},
        {"job_disk", case_job_disk},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
