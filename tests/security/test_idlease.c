/* Worker ids (security/idlease.c, jail.h): a root manager's object views
 * each get an id of their own from the worker range; a slot holds
 * HB_WORKER_ID_PER_SLOT of them and the lease after that fails closed
 * (-EUSERS, naming the range); an id comes back when its view goes; a
 * second manager process gets ids of another slot. Root only (SKIP). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "jail.h"

static char *views[HB_WORKER_ID_PER_SLOT + 1];

static unsigned id_of(char *view)
{
    unsigned id = 0;
    char *err = NULL;
    if (hb_jail_view_identity(view, &id, &err) != 0)
        HB_FAIL_("hb_jail_view_identity(%s): %s", view, err ? err : "?");
    return id;
}

int main(void)
{
    if (geteuid() != 0) {
        printf("SKIP: not root: worker ids are a root manager's\n");
        return 77;
    }
    char dir[] = "/tmp/hb-idlease-XXXXXX";
    HB_CHECK(mkdtemp(dir) != NULL);
    HB_CHECK(chmod(dir, 0755) == 0);
    unsigned first = 0;
    for (unsigned i = 0; i < HB_WORKER_ID_PER_SLOT; i++) {
        char *err = NULL;
        if (hb_jail_view_new(dir, &views[i], &err) != 0)
            HB_FAIL_("view %u: %s", i, err ? err : "?");
        unsigned id = id_of(views[i]);
        if (i == 0)
            first = id;
        HB_CHECK(id >= HB_WORKER_ID_FIRST && id - HB_WORKER_ID_FIRST < HB_WORKER_ID_COUNT);
        HB_CHECK_EQ(id, first + i); /* one slot, each id once */
        HB_CHECK_EQ(id_of(views[i]), id); /* the same view: the same id */
        struct stat st;
        HB_CHECK(stat(views[i], &st) == 0);
        HB_CHECK_EQ(st.st_gid, id);
    }
    /* used up: refused, never a shared id */
    char *err = NULL;
    HB_CHECK_OK(hb_jail_view_new(dir, &views[HB_WORKER_ID_PER_SLOT], &err));
    unsigned id = 0;
    int r = hb_jail_view_identity(views[HB_WORKER_ID_PER_SLOT], &id, &err);
    printf("lease %u: %d: %s\n", HB_WORKER_ID_PER_SLOT + 1, r, err ? err : "");
    HB_CHECK_EQ(r, -EUSERS);
    HB_CHECK_CONTAINS(err, "are in use");
    char range[64];
    snprintf(range, sizeof(range), "%u-%u", first, first + HB_WORKER_ID_PER_SLOT - 1);
    HB_CHECK_CONTAINS(err, range);
    free(err);
    /* an id comes back with its view */
    hb_jail_view_free(views[7]);
    views[7] = NULL;
    HB_CHECK_EQ(id_of(views[HB_WORKER_ID_PER_SLOT]), first + 7);
    /* another manager process: another slot */
    pid_t p = fork();
    HB_CHECK(p >= 0);
    if (p == 0) {
        char *v = NULL, *e = NULL;
        if (hb_jail_view_new(dir, &v, &e) != 0)
            _exit(2);
        unsigned other = 0;
        if (hb_jail_view_identity(v, &other, &e) != 0)
            _exit(3);
        hb_jail_view_free(v);
        _exit(other - first < HB_WORKER_ID_PER_SLOT ? 4 : 0);
    }
    int st;
    HB_CHECK(waitpid(p, &st, 0) == p);
    HB_CHECK(WIFEXITED(st));
    HB_CHECK_EQ(WEXITSTATUS(st), 0);
    for (unsigned i = 0; i <= HB_WORKER_ID_PER_SLOT; i++)
        hb_jail_view_free(views[i]);
    HB_CHECK(rmdir(dir) == 0);
    printf("PASS idlease\n");
    return 0;
}
