/* Kill-at-every-point test of the store: a child process inserts a version
 * with HOTBOX_FAULT=<point> and dies by SIGKILL right there; the parent then
 * opens the store, which must verify as consistent, hold every earlier
 * version intact, and continue the numbering. Also a full disk at the object
 * write (HOTBOX_FAULT=store.enospc): a clear error and nothing referenced. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>

#include "store.h"
#include "vtest.h"

static char *g_dir, *g_state;

static char *make_object(const char *tag)
{
    char name[64];
    snprintf(name, sizeof(name), "src-%s.so", tag);
    char *p = vt_path(g_dir, name);
    /* A few KB so the copy takes several writes' worth of buffer. */
    hb_sb sb = HB_SB_INIT;
    for (int i = 0; i < 400; i++)
        hb__sb_addf(&sb, "%s line %d\n", tag, i);
    vt_write(p, sb.buf, sb.len);
    hb__sb_release(&sb);
    return p;
}

static hb_store *open_store(void)
{
    hb_store *s = NULL;
    char *err = NULL;
    int r = hb_store_open(g_state, &s, &err);
    if (r != 0)
        HB_FAIL_("hb_store_open after crash: %d %s", r, err ? err : "");
    return s;
}

static uint64_t add(hb_store *s, const char *tag, bool *created)
{
    char *obj = make_object(tag);
    hb_version_rec rec;
    char *err = NULL;
    int r = hb_store_add(s, "p", obj, NULL, &rec, created, &err);
    if (r != 0)
        HB_FAIL_("hb_store_add(%s) = %d: %s", tag, r, err ? err : "");
    uint64_t v = rec.version;
    hb_version_rec_release(&rec);
    free(obj);
    return v;
}

static void check_consistent(hb_store *s, const char *when)
{
    hb_sb rep = HB_SB_INIT;
    int r = hb_store_verify_all(s, &rep);
    if (r != 0)
        HB_FAIL_("store inconsistent %s (%d):\n%s", when, r, rep.buf ? rep.buf : "");
    hb__sb_release(&rep);
}

/* Every version listed in before[] is still there, same object, intact. */
static void check_kept(hb_store *s, const hb_version_rec *before, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hb_version_rec r;
        HB_CHECK_OK(hb_store_get(s, "p", before[i].version, &r));
        HB_CHECK_STR(r.object_sha256, before[i].object_sha256);
        char *err = NULL;
        int rc = hb_store_object_verify(s, &r, &err);
        if (rc != 0)
            HB_FAIL_("v%llu lost its object: %s", (unsigned long long)r.version, err);
        hb_version_rec_release(&r);
    }
}

static void crash_at(const char *point, int round)
{
    hb_store *s = open_store();
    hb_version_rec *before = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_store_list(s, "p", &before, &n));
    hb_store_close(s); /* no SQLite handle crosses the fork */

    char tag[64];
    snprintf(tag, sizeof(tag), "crash-%d", round);
    fflush(NULL);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        setenv("HOTBOX_FAULT", point, 1);
        hb_store *cs = NULL;
        if (hb_store_open(g_state, &cs, NULL) != 0)
            _exit(2);
        bool created;
        char *obj = make_object(tag);
        hb_version_rec rec;
        hb_store_add(cs, "p", obj, NULL, &rec, &created, NULL);
        _exit(3); /* the fault point was not reached */
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        HB_CHECK(errno == EINTR);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        char buf[128];
        HB_FAIL_("child at %s: expected death by SIGKILL, it %s", point,
                 hb__describe_wait_status(st, buf, sizeof(buf)));
    }

    s = open_store();
    check_consistent(s, point);
    check_kept(s, before, n);
    uint64_t last = n ? before[n - 1].version : 0;

    /* Retrying the interrupted insert: a new version unless the crash came
     * after the commit, in which case it is already there. */
    bool created;
    uint64_t v = add(s, tag, &created);
    HB_CHECK_EQ(v, last + 1);
    HB_CHECK_EQ(created, strcmp(point, "store.after_commit") != 0);
    snprintf(tag, sizeof(tag), "after-%d", round);
    HB_CHECK_EQ(add(s, tag, &created), last + 2);
    HB_CHECK(created);
    check_consistent(s, "after retry");
    printf("  %s: killed, store consistent, v%llu..v%llu kept, numbering continues\n", point,
           (unsigned long long)(n ? before[0].version : 0), (unsigned long long)last);
    hb_store_list_free(before, n);
    hb_store_close(s);
}

static size_t count_files(const char *dir)
{
    DIR *d = opendir(dir);
    HB_CHECK(d != NULL);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

static void disk_full(void)
{
    hb_store *s = open_store();
    /* Start from a store without leftovers, so "nothing new" is exact. */
    HB_CHECK_OK(hb_store_gc(s, 1000, NULL, 0, NULL, NULL));
    char *objdir = strdup(hb_store_objects_dir(s));
    hb_version_rec latest;
    HB_CHECK_OK(hb_store_latest(s, "p", &latest));
    size_t files = count_files(objdir);
    hb_sb rep0 = HB_SB_INIT; /* young temp files of the crashes may warn */
    HB_CHECK_OK(hb_store_verify_all(s, &rep0));

    setenv("HOTBOX_FAULT", "store.enospc", 1);
    char *obj = make_object("enospc");
    hb_version_rec rec;
    bool created;
    char *err = NULL;
    int r = hb_store_add(s, "p", obj, NULL, &rec, &created, &err);
    unsetenv("HOTBOX_FAULT");
    HB_CHECK_EQ(r, -ENOSPC);
    HB_CHECK_CONTAINS(err, "No space left on device");
    HB_CHECK_CONTAINS(err, "disk holding the state directory is full");
    free(err);
    HB_CHECK_EQ(count_files(objdir), files); /* no temp file, no object */
    hb_version_rec now;
    HB_CHECK_OK(hb_store_latest(s, "p", &now));
    HB_CHECK_EQ(now.version, latest.version);
    hb_sb rep = HB_SB_INIT;
    HB_CHECK_OK(hb_store_verify_all(s, &rep));
    HB_CHECK_STR(rep.buf ? rep.buf : "", rep0.buf ? rep0.buf : ""); /* no new warning */
    hb__sb_release(&rep);
    hb__sb_release(&rep0);

    /* Space is back: the same insert works and gets the next number. */
    bool c2;
    HB_CHECK_EQ(add(s, "enospc", &c2), latest.version + 1);
    HB_CHECK(c2);
    hb_version_rec_release(&latest);
    hb_version_rec_release(&now);
    free(obj);
    free(objdir);
    hb_store_close(s);
    printf("  store.enospc: -ENOSPC with a clear error, nothing half-written\n");
}

int main(void)
{
    g_dir = vt_tmpdir("hb-crash-");
    g_state = vt_path(g_dir, "state");
    hb_store *s = open_store();
    bool created;
    HB_CHECK_EQ(add(s, "base-1", &created), 1);
    HB_CHECK_EQ(add(s, "base-2", &created), 2);
    hb_store_close(s);

    static const char *points[] = {
        "store.after_object_tmp", "store.after_object_rename",
        "store.before_commit",    "store.after_commit",
    };
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < HB_ARRAY_SIZE(points); i++)
            crash_at(points[i], round * 10 + (int)i);
    disk_full();

    /* gc clears what the crashes left behind; verify is then silent except
     * for temp files younger than the grace period. */
    s = open_store();
    HB_CHECK_OK(hb_store_gc(s, 1000, NULL, 0, NULL, NULL));
    hb_sb rep = HB_SB_INIT;
    HB_CHECK_OK(hb_store_verify_all(s, &rep));
    if (rep.buf && strstr(rep.buf, "orphan object"))
        HB_FAIL_("orphans left after gc:\n%s", rep.buf);
    hb__sb_release(&rep);
    hb_store_close(s);

    hb__rm_rf(g_dir);
    free(g_state);
    free(g_dir);
    printf("test_store_crash: ok\n");
    return 0;
}
