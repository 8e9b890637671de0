/* hb_jail_views_reap in a shared directory ($TMPDIR, /tmp): it scans there
 * only while hb_jail_view_new's marker is present, still reaps the views a
 * killed manager left (the marker came with them), keeps a living
 * manager's views and their marker, and drops the marker once none is
 * left. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "jail.h"
#include "util.h"

static char tmp[200], mark[260];
/* No run directory: views go to $TMPDIR. */
static const char *const hint = NULL;

static bool exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* A view made by a process that then dies without freeing it (kill -9). */
static void dead_view(char *out, size_t len)
{
    int p[2];
    HB_CHECK(pipe2(p, O_CLOEXEC) == 0);
    pid_t pid = fork();
    HB_CHECK(pid >= 0);
    if (pid == 0) {
        char *view = NULL, *err = NULL;
        if (hb_jail_view_new(hint, &view, &err) < 0)
            _exit(1);
        ssize_t w = write(p[1], view, strlen(view) + 1);
        _exit(w > 0 ? 0 : 1);
    }
    close(p[1]);
    int st = 0;
    HB_CHECK_EQ(waitpid(pid, &st, 0), pid);
    HB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    ssize_t n = read(p[0], out, len - 1);
    close(p[0]);
    HB_CHECK(n > 0);
    out[n] = 0;
}

int main(void)
{
    char base[] = "/tmp/hb-reaptest-XXXXXX";
    HB_CHECK(mkdtemp(base) != NULL);
    HB_CHECK_EQ(chmod(base, 0755), 0); /* the jail's uid reaches $TMPDIR */
    snprintf(tmp, sizeof(tmp), "%s/tmp", base);
    snprintf(mark, sizeof(mark), "%s/.hb-views-%ld", tmp, (long)geteuid());
    HB_CHECK_EQ(mkdir(tmp, 0755), 0);
    HB_CHECK_EQ(setenv("TMPDIR", tmp, 1), 0);

    /* A view of a dead pid without the marker: not looked for. */
    pid_t gone = fork();
    HB_CHECK(gone >= 0);
    if (gone == 0)
        _exit(0);
    HB_CHECK_EQ(waitpid(gone, NULL, 0), gone);
    char unmarked[300];
    snprintf(unmarked, sizeof(unmarked), "%s/hb-view-%ld-abcdef", tmp, (long)gone);
    HB_CHECK_EQ(mkdir(unmarked, 0711), 0);
    hb_jail_views_reap(hint);
    HB_CHECK(exists(unmarked));
    HB_CHECK(!exists(mark));
    HB_CHECK_EQ(rmdir(unmarked), 0);

    /* A killed manager's view came with the marker: reaped, and the marker
     * goes with the last view. */
    char dead[300];
    dead_view(dead, sizeof(dead));
    HB_CHECK(strncmp(dead, tmp, strlen(tmp)) == 0);
    HB_CHECK(exists(dead));
    HB_CHECK(exists(mark));
    HB_CHECK(hb_jail_views_reap(hint) >= 1);
    HB_CHECK(!exists(dead));
    HB_CHECK(!exists(mark));

    /* A living manager's view stays, and so does the marker. */
    char *live = NULL, *err = NULL;
    HB_CHECK_OK(hb_jail_view_new(hint, &live, &err));
    dead_view(dead, sizeof(dead));
    HB_CHECK(hb_jail_views_reap(hint) >= 1);
    HB_CHECK(!exists(dead));
    HB_CHECK(exists(live));
    HB_CHECK(exists(mark));
    hb_jail_view_free(live);
    hb_jail_views_reap(hint);
    HB_CHECK(!exists(mark));

    HB_CHECK_OK(hb__rm_rf(base));
    puts("PASS test_views_reap");
    return 0;
}
