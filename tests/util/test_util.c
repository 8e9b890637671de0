/* Unit tests of util/: buffers, atomic files, hashing, paths, strings. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hbtest.h"
#include "util.h"

int main(void)
{
    hb_sb sb = HB_SB_INIT;
    HB_CHECK_OK(hb__sb_addf(&sb, "%d-%s", 42, "x"));
    for (int i = 0; i < 1000; i++)
        HB_CHECK_OK(hb__sb_adds(&sb, "ab"));
    HB_CHECK_EQ(sb.len, 4 + 2000);
    HB_CHECK(strncmp(sb.buf, "42-xab", 6) == 0);
    hb__sb_release(&sb);

    char hex[HB_SHA256_HEX];
    hb__sha256_hex("abc", 3, hex);
    HB_CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hb_sha256 *h = hb__sha256_new();
    hb__sha256_update(h, "a", 1);
    hb__sha256_update(h, "bc", 2);
    char hex2[HB_SHA256_HEX];
    hb__sha256_final(h, hex2);
    HB_CHECK_STR(hex2, hex);

    char dir[] = "/tmp/hb-util-XXXXXX";
    HB_CHECK(mkdtemp(dir) != NULL);
    char *nested = hb__asprintf("%s/a/b/c", dir);
    HB_CHECK_OK(hb__mkdir_p(nested, 0755));
    HB_CHECK_OK(hb__mkdir_p(nested, 0755)); /* idempotent */
    char *file = hb__asprintf("%s/f.txt", nested);
    HB_CHECK_OK(hb__write_file_atomic(file, "hello", 5, 0600));
    HB_CHECK_OK(hb__write_file_atomic(file, "world!", 6, 0600)); /* replaces */
    void *data;
    size_t len;
    HB_CHECK_OK(hb__read_file(file, 100, &data, &len));
    HB_CHECK_EQ(len, 6);
    HB_CHECK_STR((char *)data, "world!");
    free(data);
    HB_CHECK_EQ(hb__read_file(file, 3, &data, &len), -EFBIG);
    HB_CHECK_OK(hb__sha256_file(file, hex));
    hb__sha256_hex("world!", 6, hex2);
    HB_CHECK_STR(hex, hex2);
    struct stat st;
    HB_CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);
    HB_CHECK_EQ(hb__read_file("/nonexistent/x", 10, &data, &len), -ENOENT);
    HB_CHECK_EQ(hb__mkdir_p(file, 0755), -ENOTDIR);

    char *t = NULL;
    HB_CHECK_OK(hb__mkdtemp_in(dir, "job-", &t));
    HB_CHECK_CONTAINS(t, "/job-");
    free(t);
    HB_CHECK_OK(hb__rm_rf(dir));
    HB_CHECK(access(dir, F_OK) < 0);
    HB_CHECK_OK(hb__rm_rf(dir)); /* missing is fine */

    char *b = hb__basename("/x/y/plugin//");
    HB_CHECK_STR(b, "plugin");
    free(b);
    char *j = hb__path_join("/a/", "/b");
    HB_CHECK_STR(j, "/a/b");
    free(j);

    char **v = hb__split_blank("  -O2  -g\t-Wall ");
    HB_CHECK_EQ(hb__strv_len(v), 3);
    HB_CHECK_STR(v[2], "-Wall");
    hb__strv_free(v);
    v = hb__split_lines("a b\n\nc\n");
    HB_CHECK_EQ(hb__strv_len(v), 2);
    HB_CHECK_STR(v[0], "a b");
    hb__strv_free(v);

    uint64_t u;
    HB_CHECK_OK(hb__parse_u64("123", &u));
    HB_CHECK_EQ(u, 123);
    HB_CHECK_EQ(hb__parse_u64("12x", &u), -EINVAL);
    HB_CHECK_EQ(hb__parse_u64("-1", &u), -EINVAL);
    HB_CHECK_EQ(hb__parse_u64("99999999999999999999999", &u), -EINVAL);
    HB_CHECK_STR(hb__signal_name(SIGSEGV), "SIGSEGV");
    HB_CHECK(hb__has_suffix("a.so", ".so") && !hb__has_suffix("so", ".so"));

    char *msg = NULL;
    HB_CHECK_EQ(hb__seterr(&msg, -5, "x=%d", 3), -5);
    HB_CHECK_STR(msg, "x=3");
    free(msg);
    free(nested);
    free(file);
    puts("PASS test_util");
    return 0;
}
