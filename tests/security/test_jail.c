/* security/jail.c's helpers: the minimal environment, bwrap's --info-fd
 * answer, and a sandbox's object view. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hbtest.h"
#include "jail.h"
#include "util.h"

static bool has(char **v, const char *s)
{
    for (; v && *v; v++)
        if (!strcmp(*v, s))
            return true;
    return false;
}

static void check_env(void)
{
    char *from[] = {"SECRET_TOKEN=x", "LANG=C.UTF-8", "TZ=UTC", "LANGUAGE=de", "PATH=/evil", NULL};
    const char *const keep[] = {"LANG", "TZ", "LC_ALL", NULL};
    char **e = hb_jail_env("/scratch", "/tmp", keep, from);
    HB_CHECK(e != NULL);
    HB_CHECK(has(e, "PATH=/usr/bin:/bin"));
    HB_CHECK(has(e, "HOME=/scratch"));
    HB_CHECK(has(e, "TMPDIR=/tmp"));
    HB_CHECK(has(e, "LANG=C.UTF-8"));
    HB_CHECK(has(e, "TZ=UTC"));
    HB_CHECK(!has(e, "SECRET_TOKEN=x"));
    HB_CHECK(!has(e, "LANGUAGE=de")); /* "LANG" is not a prefix match */
    HB_CHECK(!has(e, "PATH=/evil"));
    HB_CHECK_EQ(hb__strv_len(e), 5u);
    hb__strv_free(e);
}

static void check_info(void)
{
    int p[2];
    HB_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    const char *json = "{\n    \"child-pid\": 4242,\n    \"cgroup-namespace\": 1\n}\n";
    HB_CHECK(write(p[1], json, strlen(json)) == (ssize_t)strlen(json));
    pid_t pid = 0;
    HB_CHECK_OK(hb_jail_child_pid(p[0], &pid));
    HB_CHECK_EQ(pid, 4242);
    /* Nothing written (bwrap failed early): an error, not a wait. */
    HB_CHECK(hb_jail_child_pid(p[0], &pid) < 0);
    close(p[0]);
    close(p[1]);
}

static void check_view(void)
{
    char base[] = "/tmp/hb-jailtest-XXXXXX";
    HB_CHECK(mkdtemp(base) != NULL);
    char store[256], obj[300], other[300];
    snprintf(store, sizeof(store), "%s/objects", base);
    HB_CHECK(mkdir(store, 0755) == 0);
    snprintf(obj, sizeof(obj), "%s/aaaa.so", store);
    snprintf(other, sizeof(other), "%s/bbbb.so", store);
    FILE *f = fopen(obj, "w");
    HB_CHECK(f && fputs("object", f) >= 0 && fclose(f) == 0);
    f = fopen(other, "w");
    HB_CHECK(f && fputs("other", f) >= 0 && fclose(f) == 0);
    HB_CHECK(chmod(obj, 0644) == 0);
    char *view = NULL, *err = NULL;
    HB_CHECK_OK(hb_jail_view_new(base, &view, &err));
    HB_CHECK_OK(hb_jail_view_add(view, obj, &err));
    HB_CHECK_OK(hb_jail_view_add(view, obj, &err)); /* idempotent */
    char in[300];
    snprintf(in, sizeof(in), "%s/aaaa.so", view);
    struct stat st;
    HB_CHECK(stat(in, &st) == 0);
    HB_CHECK_EQ((long long)st.st_size, 6);
    snprintf(in, sizeof(in), "%s/bbbb.so", view);
    HB_CHECK(stat(in, &st) < 0 && errno == ENOENT); /* only what was added */
    HB_CHECK(hb_jail_view_add(view, "/nonexistent/cccc.so", &err) < 0);
    HB_CHECK_CONTAINS(err, "/nonexistent/cccc.so");
    free(err);
    err = NULL;
    char *w = NULL;
    HB_CHECK_OK(hb_jail_view_worker(view, "/bin/true", &w, &err));
    HB_CHECK_STR(w, "/bin/true"); /* reachable by everyone: no copy */
    free(w);
    char *saved = strdup(view);
    hb_jail_view_free(view);
    HB_CHECK(stat(saved, &st) < 0 && errno == ENOENT);
    free(saved);
    HB_CHECK_OK(hb__rm_rf(base));
}

/* A root manager's user namespace: owned by root, uid 65534 inside = the
 * jail's host uid; and many threads making them at once (sandboxes started
 * in parallel) all finish: helpers forked at the same time once waited on
 * each other's inherited pipe ends forever. SIGALRM is the deadline. */
static void *make_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++) {
        int fd = -1;
        char *err = NULL;
        if (hb_jail_userns_new(&fd, &err) < 0)
            HB_FAIL_("hb_jail_userns_new: %s", err ? err : "?");
        close(fd);
    }
    return NULL;
}

static void check_userns(void)
{
    if (geteuid() != 0) {
        puts("userns: not root, a jail's user namespace is bwrap's own (not checked here)");
        return;
    }
    int fd = -1;
    char *err = NULL;
    if (hb_jail_userns_new(&fd, &err) < 0)
        HB_FAIL_("hb_jail_userns_new: %s", err ? err : "?");
    HB_CHECK(fd >= 0);
    HB_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    uid_t owner = 12345;
    HB_CHECK(ioctl(fd, NS_GET_OWNER_UID, &owner) == 0);
    HB_CHECK_EQ((unsigned)owner, 0u);
    close(fd);
    alarm(60);
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        HB_CHECK(pthread_create(&t[i], NULL, make_many, NULL) == 0);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    alarm(0);
}

int main(void)
{
    check_userns();
    check_env();
    check_info();
    check_view();
    puts("PASS test_jail");
    return 0;
}
