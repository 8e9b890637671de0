/* security/allow.c - the paths a plugin.json allow-list may open (allow.h).
 *
 * Why a fixed refusal list and not "anything the user can read": the
 * worker's jail exists so that plugin code from a cloned repository cannot
 * read ~/.ssh or talk to dockerd; an allow-list written in that same
 * repository must not be able to undo that with one line. What stays open
 * is ordinary data: a directory, a file, a service's socket. */
#include "allow.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jail.h"
#include "util.h"

/* Never shown, nor any parent of them (a parent would show them too). */
static const char *const refused[] = {
    "/proc", "/sys", "/dev", "/boot", "/root",
    "/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers",
    "/etc/sudoers.d", "/etc/ssh", "/etc/security",
    "/run/docker.sock", "/var/run/docker.sock", "/run/containerd", "/var/run/containerd",
    "/run/podman", "/var/run/podman", "/run/systemd", "/var/run/systemd", "/run/dbus",
    "/var/run/dbus", "/run/user", "/var/lib/docker",
    NULL,
};

HB_ENUM_NAMES(hb_allow_kind_name, hb_allow_kind, [HB_ALLOW_READ] = "read",
              [HB_ALLOW_WRITE] = "write", [HB_ALLOW_CONNECT_UNIX] = "connect_unix")

/* a is b, or b lies beneath a ("/a" and "/a/b"; not "/ab"). */
static bool is_under(const char *b, const char *a)
{
    size_t n = strlen(a);
    return !strncmp(a, b, n) && (b[n] == 0 || b[n] == '/' || (n == 1 && a[0] == '/'));
}

/* One path against the list: under a refused place, or a parent of one. */
static const char *refused_place(const char *path)
{
    if (!strcmp(path, "/"))
        return "it is the host's root: every file of the machine would be shown";
    for (size_t i = 0; refused[i]; i++) {
        if (is_under(path, refused[i]))
            return "it lies in a place never shown to plugin code (/proc, /sys, /dev, /boot, "
                   "/root, the secrets of /etc, sockets that give root)";
        if (is_under(refused[i], path))
            return "it holds a place never shown to plugin code (/proc, /sys, /dev, /boot, "
                   "/root, the secrets of /etc, sockets that give root)";
    }
    return NULL;
}

const char *hb_allow_check_text(const char *path)
{
    if (!path || path[0] != '/')
        return "it is not an absolute path";
    if (strlen(path) >= PATH_MAX)
        return "it is longer than PATH_MAX";
    for (const char *c = path + 1;;) {
        size_t n = strcspn(c, "/");
        if (n == 0 && strcmp(path, "/") != 0)
            return "it has an empty component (\"//\" or a trailing \"/\")";
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return "it has a \".\" or \"..\" component";
        if (!c[n])
            break;
        c += n + 1;
    }
    return refused_place(path);
}

/* Whether the jail's host uid may use the last component as k needs (its
 * parents: hb_jail_uid_can_reach). */
static bool jail_uid_may(hb_allow_kind k, const char *real, const struct stat *st)
{
    if (!hb_jail_drops_root())
        return true;
    char *parent = strdup(real);
    if (!parent)
        return false;
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = 0;
    else
        *slash = 0;
    bool ok = hb_jail_uid_can_reach(parent, false);
    free(parent);
    mode_t need = k == HB_ALLOW_READ ? S_IROTH : S_IWOTH;
    if (S_ISDIR(st->st_mode))
        need |= S_IXOTH;
    return ok && (st->st_mode & need) == need;
}

int hb_allow_resolve(hb_allow_kind k, const char *path, const char *state_dir, char **real,
                     char **why)
{
    *real = NULL;
    *why = NULL;
    const char *bad = hb_allow_check_text(path);
    if (bad) {
        *why = strdup(bad);
        return -EINVAL;
    }
    char *rp = realpath(path, NULL);
    if (!rp) {
        int e = errno;
        *why = hb__asprintf("cannot resolve it: %s", strerror(e));
        return -e;
    }
    int r = 0;
    struct stat st;
    char *state_real = state_dir ? realpath(state_dir, NULL) : NULL;
    if ((bad = refused_place(rp))) {
        *why = hb__asprintf("it resolves to %s, and %s", rp, bad);
        r = -EPERM;
    } else if (state_real && (is_under(rp, state_real) || is_under(state_real, rp))) {
        *why = hb__asprintf("it %s hotbox's state directory %s (the store and its objects)",
                            is_under(rp, state_real) ? "lies in" : "holds", state_real);
        r = -EPERM;
    } else if (stat(rp, &st) < 0) {
        r = -errno;
        *why = hb__asprintf("cannot stat %s: %s", rp, strerror(-r));
    } else if (k == HB_ALLOW_CONNECT_UNIX ? !S_ISSOCK(st.st_mode)
                                          : !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
        *why = hb__asprintf("%s is not %s", rp,
                            k == HB_ALLOW_CONNECT_UNIX ? "a UNIX socket"
                                                       : "a directory or a regular file");
        r = -EINVAL;
    } else if (!jail_uid_may(k, rp, &st)) {
        *why = hb__asprintf("the worker's jail runs as an unprivileged host uid (the manager "
                            "is root), and others may not %s %s or search its parents",
                            k == HB_ALLOW_READ ? "read" : "write", rp);
        r = -EACCES;
    }
    free(state_real);
    if (r == 0)
        *real = rp;
    else
        free(rp);
    if (r < 0 && !*why)
        r = -ENOMEM;
    return r;
}
