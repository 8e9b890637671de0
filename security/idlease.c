/* security/idlease.c - a host uid/gid of its own for each sandbox whose
 * worker a root manager starts without the jail (jail.h: "worker ids").
 *
 * Why: unjailed workers that all dropped root to one uid could open each
 * other's files (a 0600 file in /tmp), and each other's objects views.
 * Jailed workers share HB_JAIL_HOST_UID too, but each jail has its own
 * pid namespace and /tmp; an unjailed worker has neither.
 *
 * The range, HB_WORKER_ID_FIRST .. + HB_WORKER_ID_COUNT - 1, lies in the
 * range no distribution or systemd hands out (jail.h says which). It is cut
 * into HB_WORKER_ID_SLOTS slots; a manager process takes one slot, the
 * first it can lock (flock on HB_WORKER_ID_DIR/slot-NN, held until the
 * process ends, so a killed manager's slot frees itself), and leases ids of
 * that slot to its sandboxes' views, next-fit (an id freed now is handed
 * out again only after the rest of the slot). Ids that /etc/passwd (or
 * NSS) or /etc/group name, and ids a running process holds when the slot
 * is taken (left over by a manager that held it before), are never handed
 * out. When none is left the lease fails, naming the range: fail closed,
 * never two sandboxes on one id. */
#include "jail.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ID_FREE, ID_LEASED, ID_FOREIGN };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t slot_owner;  /* the process that took the slot (a fork's child did not) */
static int slot = -1;     /* this process's slot, -1: none yet */
static int slot_fd = -1;  /* its lock, held for the life of the process */
static unsigned next_id;  /* next-fit cursor into the slot */
static uint8_t ids[HB_WORKER_ID_PER_SLOT];

static uid_t slot_first(void)
{
    return HB_WORKER_ID_FIRST + (uid_t)slot * HB_WORKER_ID_PER_SLOT;
}

/* Whether id is one of this process's slot (mu held). */
static bool in_slot(unsigned id)
{
    return slot >= 0 && slot_owner == getpid() && id >= slot_first() &&
           id - slot_first() < HB_WORKER_ID_PER_SLOT;
}

/* path: a directory owned by root that nobody else may write (made 0755
 * or 0700 when missing). */
static int root_dir(const char *path, mode_t mode, char **err)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return hb__seterr(err, -errno, "worker ids: cannot create %s: %s", path, strerror(errno));
    struct stat st;
    if (lstat(path, &st) < 0)
        return hb__seterr(err, -errno, "worker ids: %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
        return hb__seterr(err, -EPERM,
                          "worker ids: %s is not a directory owned by root that only root "
                          "may write; refusing to keep id leases there",
                          path);
    return 0;
}

/* Marks the ids of the slot that a running process holds (real,
 * effective, saved or file-system uid or gid). */
static void mark_running(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    uid_t first = slot_first();
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[4096];
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n;
        do
            n = read(fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = 0;
        const char *keys[] = {"\nUid:", "\nGid:"};
        for (size_t k = 0; k < 2; k++) {
            const char *p = strstr(buf, keys[k]);
            unsigned v[4];
            if (p && sscanf(p + 5, "%u %u %u %u", &v[0], &v[1], &v[2], &v[3]) == 4)
                for (int i = 0; i < 4; i++)
                    if (v[i] >= first && v[i] - first < HB_WORKER_ID_PER_SLOT)
                        ids[v[i] - first] = ID_FOREIGN;
        }
    }
    closedir(d);
}

/* Takes the first free slot (mu held). */
static int take_slot(char **err)
{
    int r = root_dir(HB_WORKER_ID_RUN, 0755, err);
    if (r < 0 || (r = root_dir(HB_WORKER_ID_DIR, 0700, err)) < 0)
        return r;
    for (int s = 0; s < HB_WORKER_ID_SLOTS; s++) {
        char path[sizeof(HB_WORKER_ID_DIR) + 16];
        snprintf(path, sizeof(path), "%s/slot-%02d", HB_WORKER_ID_DIR, s);
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return hb__seterr(err, -errno, "worker ids: cannot open %s: %s", path,
                              strerror(errno));
        int l;
        do
            l = flock(fd, LOCK_EX | LOCK_NB);
        while (l < 0 && errno == EINTR);
        if (l == 0) {
            if (slot_fd >= 0)
                close(slot_fd); /* a fork's child: the parent's slot is not ours */
            slot_fd = fd;
            slot = s;
            slot_owner = getpid();
            next_id = 0;
            memset(ids, ID_FREE, sizeof(ids));
            mark_running();
            return 0;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK)
            return hb__seterr(err, -e, "worker ids: cannot lock %s: %s", path, strerror(e));
    }
    return hb__seterr(err, -EUSERS,
                      "worker ids: all %d slots of uids %u-%u are held by other hotbox "
                      "managers (%s); a root manager without the jail needs one",
                      HB_WORKER_ID_SLOTS, HB_WORKER_ID_FIRST,
                      HB_WORKER_ID_FIRST + HB_WORKER_ID_COUNT - 1, HB_WORKER_ID_DIR);
}

/* Whether the account databases name id as a user or a group. */
static bool named(unsigned id)
{
    char buf[4096];
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;
    return (getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &pwp) == 0 && pwp) ||
           (getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &grp) == 0 && grp);
}

/* One free id of the slot (mu held). */
static int lease(unsigned *out, char **err)
{
    if ((slot < 0 || slot_owner != getpid())) {
        int r = take_slot(err);
        if (r < 0)
            return r;
    }
    for (unsigned i = 0; i < HB_WORKER_ID_PER_SLOT; i++) {
        unsigned k = (next_id + i) % HB_WORKER_ID_PER_SLOT;
        if (ids[k] != ID_FREE)
            continue;
        unsigned id = slot_first() + k;
        if (named(id)) {
            ids[k] = ID_FOREIGN;
            continue;
        }
        ids[k] = ID_LEASED;
        next_id = k + 1;
        *out = id;
        return 0;
    }
    return hb__seterr(err, -EUSERS,
                      "worker ids: all %d uids of this manager's slot (%u-%u) are in use: at "
                      "most that many sandboxes run without the jail at once under a root "
                      "manager",
                      HB_WORKER_ID_PER_SLOT, slot_first(),
                      slot_first() + HB_WORKER_ID_PER_SLOT - 1);
}

int hb_jail_view_identity(const char *view, unsigned *id, char **err)
{
    if (!view)
        return hb__seterr(err, -EINVAL,
                          "a root manager's worker without the jail needs its sandbox's object "
                          "view for a uid of its own; this sandbox has none");
    pthread_mutex_lock(&mu);
    struct stat st;
    int r = 0;
    unsigned got = 0;
    if (stat(view, &st) < 0) {
        r = hb__seterr(err, -errno, "object view %s: %s", view, strerror(errno));
    } else if (in_slot(st.st_gid) && ids[st.st_gid - slot_first()] == ID_LEASED) {
        got = st.st_gid; /* this view's id (its spare, a restart) */
    } else if ((r = lease(&got, err)) == 0 && chown(view, 0, (gid_t)got) < 0) {
        r = hb__seterr(err, -errno, "object view %s: chown to group %u: %s", view, got,
                       strerror(errno));
        ids[got - slot_first()] = ID_FREE;
    }
    pthread_mutex_unlock(&mu);
    if (r == 0)
        *id = got;
    return r;
}

void hb__jail_view_release_id(unsigned gid)
{
    pthread_mutex_lock(&mu);
    if (in_slot(gid))
        ids[gid - slot_first()] = ID_FREE;
    pthread_mutex_unlock(&mu);
}
