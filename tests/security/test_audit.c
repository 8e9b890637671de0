/* The audit log: JSON lines, query with filters, rotation by size, torn
 * lines skipped, concurrent appends from threads. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "hbtest.h"
#include "util.h"

typedef struct seen {
    int n;
    char last_kind[32];
    char last_msg[128];
    uint64_t last_version;
    bool last_security;
} seen;

static int count_cb(const hb_audit_record *r, void *ud)
{
    seen *s = ud;
    s->n++;
    snprintf(s->last_kind, sizeof(s->last_kind), "%s", r->kind);
    snprintf(s->last_msg, sizeof(s->last_msg), "%s", r->message);
    s->last_version = r->version;
    s->last_security = r->security;
    return 0;
}

static int stop_cb(const hb_audit_record *r, void *ud)
{
    (void)r;
    (void)ud;
    return 42;
}

static hb_audit *shared;

static void *writer(void *arg)
{
    for (int i = 0; i < 200; i++)
        if (hb_audit_log(shared, "call", (const char *)arg, (uint64_t)i + 1, NULL, NULL, 0,
                         "x", false) != 0)
            return (void *)1;
    return NULL;
}

int main(void)
{
    char *dir = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-audit-", &dir));
    hb_audit *a = NULL;
    char *err = NULL;
    HB_CHECK_EQ(hb_audit_open("/nonexistent/dir", &a, &err), -ENOENT);
    HB_CHECK_CONTAINS(err, "/nonexistent/dir/audit.log");
    HB_CHECK(a == NULL);

    seen s = {0};
    HB_CHECK_OK(hb_audit_query(dir, NULL, count_cb, &s, NULL, &err)); /* no log yet */
    HB_CHECK_EQ(s.n, 0);

    HB_CHECK_OK(hb_audit_open(dir, &a, &err));
    HB_CHECK_OK(hb_audit_log(a, "load", "counter", 1, "ab12", "standard", 0,
                             "counter v1 loaded", false));
    HB_CHECK_OK(hb_audit_log(a, "denied", "counter", 2, "cd34", "standard", -1003,
                             "plugin called execve (denied by the standard profile)", true));
    HB_CHECK_OK(hb_audit_log(a, "refused", "net\"x", 3, NULL, "strict", -1015,
                             "line\nbreak \"quoted\"", true));
    HB_CHECK_EQ(hb_audit_log(a, NULL, NULL, 0, NULL, NULL, 0, NULL, false), -EINVAL);

    /* The file is JSON lines: exactly three newline-terminated lines. */
    char *path = hb__path_join(dir, "audit.log");
    void *data = NULL;
    size_t len = 0;
    HB_CHECK_OK(hb__read_file(path, 1 << 20, &data, &len));
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += ((char *)data)[i] == '\n';
    HB_CHECK_EQ(lines, 3);
    HB_CHECK(((char *)data)[len - 1] == '\n');
    HB_CHECK_CONTAINS((char *)data, "\"kind\":\"denied\"");
    HB_CHECK_CONTAINS((char *)data, "\"security\":true");
    free(data);

    memset(&s, 0, sizeof(s));
    HB_CHECK_OK(hb_audit_query(dir, NULL, count_cb, &s, NULL, &err));
    HB_CHECK_EQ(s.n, 3);
    HB_CHECK_STR(s.last_kind, "refused");
    HB_CHECK_STR(s.last_msg, "line\nbreak \"quoted\"");
    memset(&s, 0, sizeof(s));
    hb_audit_filter f = {.security_only = true};
    HB_CHECK_OK(hb_audit_query(dir, &f, count_cb, &s, NULL, &err));
    HB_CHECK_EQ(s.n, 2);
    memset(&s, 0, sizeof(s));
    hb_audit_filter f2 = {.kind = "denied", .plugin = "counter"};
    HB_CHECK_OK(hb_audit_query(dir, &f2, count_cb, &s, NULL, &err));
    HB_CHECK_EQ(s.n, 1);
    HB_CHECK_EQ(s.last_version, 2);
    HB_CHECK(s.last_security);
    HB_CHECK_EQ(hb_audit_query(dir, NULL, stop_cb, NULL, NULL, &err), 42);

    /* A torn last line (crash mid-write) is skipped and counted. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    HB_CHECK(fd >= 0);
    HB_CHECK(write(fd, "{\"kind\":\"lo", 11) == 11);
    close(fd);
    size_t skipped = 0;
    memset(&s, 0, sizeof(s));
    HB_CHECK_OK(hb_audit_query(dir, NULL, count_cb, &s, &skipped, &err));
    HB_CHECK_EQ(s.n, 3);
    HB_CHECK_EQ(skipped, 1);
    hb_audit_close(a);

    /* Rotation: tiny files, keep 2; the oldest records fall off, the rest
     * read back in order. */
    char *dir2 = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-audit-", &dir2));
    HB_CHECK_OK(hb_audit_open(dir2, &a, &err));
    HB_CHECK_EQ(hb_audit_set_rotation(a, 0, 2), -EINVAL);
    HB_CHECK_OK(hb_audit_set_rotation(a, 1000, 2));
    for (int i = 1; i <= 100; i++)
        HB_CHECK_OK(hb_audit_log(a, "swap", "p", (uint64_t)i, NULL, "standard", 0, "m", false));
    struct stat stt;
    char p1[4200], p2[4200], p3[4200];
    snprintf(p1, sizeof(p1), "%s/audit.log.1", dir2);
    snprintf(p2, sizeof(p2), "%s/audit.log.2", dir2);
    snprintf(p3, sizeof(p3), "%s/audit.log.3", dir2);
    HB_CHECK(stat(p1, &stt) == 0 && stt.st_size <= 1000);
    HB_CHECK(stat(p2, &stt) == 0 && stt.st_size <= 1000);
    HB_CHECK(stat(p3, &stt) < 0);
    memset(&s, 0, sizeof(s));
    HB_CHECK_OK(hb_audit_query(dir2, NULL, count_cb, &s, NULL, &err));
    HB_CHECK(s.n > 10 && s.n < 100);
    HB_CHECK_EQ(s.last_version, 100);
    hb_audit_close(a);

    /* Threads: 2 x 200 appends, every line intact. */
    char *dir3 = NULL;
    HB_CHECK_OK(hb__mkdtemp_in("/tmp", "hb-audit-", &dir3));
    HB_CHECK_OK(hb_audit_open(dir3, &shared, &err));
    pthread_t t1, t2;
    pthread_create(&t1, NULL, writer, "a");
    pthread_create(&t2, NULL, writer, "b");
    void *r1, *r2;
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    HB_CHECK(r1 == NULL && r2 == NULL);
    hb_audit_close(shared);
    memset(&s, 0, sizeof(s));
    skipped = 99;
    HB_CHECK_OK(hb_audit_query(dir3, NULL, count_cb, &s, &skipped, &err));
    HB_CHECK_EQ(s.n, 400);
    HB_CHECK_EQ(skipped, 0);

    hb__rm_rf(dir);
    hb__rm_rf(dir2);
    hb__rm_rf(dir3);
    free(dir);
    free(dir2);
    free(dir3);
    free(path);
    free(err);
    hb_audit_close(NULL);
    puts("PASS test_audit");
    return 0;
}
