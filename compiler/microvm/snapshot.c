/*
 * compiler/microvm/snapshot.c - the pool's boot snapshot: a guest booted to
 * the agent's READY (before it mounts anything over 9p: QEMU 7.2 refuses to
 * migrate while a 9p export is mounted), saved with QEMU migration to a file
 * and restored by every later VM (`-incoming fd:4`) instead of booting.
 *
 * Files, in the snapshot directory (hb__vm_snapshot_dir):
 *   <key>.vmstate  the migration stream
 *   <key>.sha256   its SHA-256, written before the stream is renamed into
 *                  place; a stream whose digest is missing or differs is
 *                  corrupt, is removed, and the pool boots instead.
 * The key (hb__vm_snapshot_key) is a SHA-256 over everything the saved guest
 * depends on, like the compile cache's: the QEMU binary, the kernel file,
 * the initramfs's contents (agent, modules, ld.so.cache, /etc/alternatives),
 * the machine options (accelerator, CPU model, memory, kernel command line)
 * and the host's /usr (its directory and dpkg's status file). Any change is
 * a new key, so a stale snapshot is never restored.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "vm_internal.h"

#define SNAPSHOT_EXT ".vmstate"
#define DIGEST_EXT ".sha256"
#define STALE_SNAPSHOT_S 3600 /* other keys' snapshots older than this are removed */

char *hb__vm_snapshot_dir(const hb_vm_pool_options *o)
{
    if (o->snapshot_dir)
        return strdup(o->snapshot_dir);
    return hb__vm_cache_path("HOTBOX_VM_SNAPSHOT_DIR", "vm-snapshots");
}

int hb__vm_snapshot_key(const vm_cfg *c, char out[HB_SHA256_HEX], char **err)
{
    hb_sb sb = HB_SB_INIT;
    char *qemu = NULL, *qreal = NULL, initrd[HB_SHA256_HEX];
    int r = hb__sha256_file(c->initrd, initrd);
    if (r)
        return hb__seterr(err, r, "cannot hash %s: %s", c->initrd, strerror(-r));
    hb__sb_addf(&sb, "hotbox-vm-snapshot 1\n");
    if (hb__find_program(c->qemu, &qemu) == 0 && hb__realpath(qemu, &qreal) == 0)
        hb__vm_add_identity(&sb, "qemu", qreal);
    else
        hb__vm_add_identity(&sb, "qemu", c->qemu);
    hb__vm_add_identity(&sb, "kernel", c->kernel);
    hb__sb_addf(&sb, "initramfs=%s\n", initrd);
    hb__vm_machine_text(c, &sb);
    hb__vm_add_identity(&sb, "usr", "/usr");
    hb__vm_add_identity(&sb, "dpkg", "/var/lib/dpkg/status");
    r = sb.buf ? 0 : -ENOMEM;
    if (!r)
        hb__sha256_hex(sb.buf, sb.len, out);
    hb__sb_release(&sb);
    free(qemu);
    free(qreal);
    return r;
}

char *hb__vm_snapshot_path(const char *dir, const char *key)
{
    return hb__asprintf("%s/%s" SNAPSHOT_EXT, dir, key);
}

static char *digest_path(const char *snapshot)
{
    size_t n = strlen(snapshot), e = strlen(SNAPSHOT_EXT);
    if (n < e)
        return NULL;
    return hb__asprintf("%.*s" DIGEST_EXT, (int)(n - e), snapshot);
}

void hb__vm_snapshot_remove(const char *path)
{
    char *d = digest_path(path);
    unlink(path);
    if (d)
        unlink(d);
    free(d);
}

int hb__vm_snapshot_check(const char *path, char **err)
{
    char *dpath = digest_path(path), have[HB_SHA256_HEX];
    void *want = NULL;
    size_t len = 0;
    struct stat st;
    int r;
    if (!dpath)
        return -ENOMEM;
    if (stat(path, &st) != 0) {
        r = -errno; /* ENOENT: none yet, not an error worth a message */
        if (r != -ENOENT)
            hb__seterr(err, r, "snapshot %s: %s", path, strerror(-r));
        goto out;
    }
    r = hb__read_file(dpath, 256, &want, &len);
    if (r) {
        hb__seterr(err, -EBADMSG, "snapshot %s has no digest (%s: %s)", path, dpath,
                   strerror(-r));
        r = -EBADMSG;
        goto out;
    }
    r = hb__sha256_file(path, have);
    if (r) {
        hb__seterr(err, r, "cannot read snapshot %s: %s", path, strerror(-r));
        goto out;
    }
    if (len < HB_SHA256_HEX - 1 || memcmp(want, have, HB_SHA256_HEX - 1) != 0) {
        r = hb__seterr(err, -EBADMSG, "snapshot %s is corrupt (its SHA-256 does not match %s)",
                       path, dpath);
        goto out;
    }
    r = 0;
out:
    free(want);
    free(dpath);
    return r;
}

/* ---- QMP: just enough to pass a file and migrate into it ------------------- */

/* Reads one line (a QMP message) into sb; -ETIMEDOUT at the deadline. */
static int qmp_line(int fd, uint64_t deadline_ns, hb_sb *sb)
{
    sb->len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        int n = poll(&p, 1, hb__vm_ms_left(deadline_ns));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        char ch;
        ssize_t k = read(fd, &ch, 1);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EPIPE;
        if (ch == '\n')
            return sb->buf ? 0 : hb__sb_add(sb, "", 0);
        if (sb->len > 65536 || hb__sb_add(sb, &ch, 1) != 0)
            return -EMSGSIZE;
    }
}

/* Sends a command (with an optional fd) and reads until its reply; events
 * in between are skipped. A QMP error reply is -EIO with its text in *err. */
static int qmp_cmd(int fd, const char *json, int pass_fd, uint64_t deadline_ns, char **err)
{
    /* (proto/wire.c's hb__wire_send_fd does the same, but hb_proto's
     * objects are not linked into every user of hb_microvm.) */
    struct iovec iov = {(void *)json, strlen(json)};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pass_fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n;
    while ((n = sendmsg(fd, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)iov.iov_len) /* a few dozen bytes: one send or an error */
        return hb__seterr(err, n < 0 ? -errno : -EIO, "QMP: cannot send %s", json);
    hb_sb line = HB_SB_INIT;
    int r;
    while ((r = qmp_line(fd, deadline_ns, &line)) == 0) {
        if (strstr(line.buf, "\"return\""))
            break;
        if (strstr(line.buf, "\"error\"")) {
            r = hb__seterr(err, -EIO, "QMP: %s failed: %s", json, line.buf);
            break;
        }
    }
    if (r && err && !*err)
        hb__seterr(err, r, "QMP: no reply to %s: %s", json, strerror(-r));
    hb__sb_release(&line);
    return r;
}

/* Waits for the MIGRATION event that ends the migration. */
static int qmp_wait_migration(int fd, uint64_t deadline_ns, char **err)
{
    hb_sb line = HB_SB_INIT;
    int r;
    while ((r = qmp_line(fd, deadline_ns, &line)) == 0) {
        if (!strstr(line.buf, "\"MIGRATION\""))
            continue;
        if (strstr(line.buf, "\"completed\""))
            break;
        if (strstr(line.buf, "\"failed\"") || strstr(line.buf, "\"cancelled\"")) {
            r = hb__seterr(err, -EIO, "QEMU could not save the VM: %s", line.buf);
            break;
        }
    }
    if (r && err && !*err)
        hb__seterr(err, r, "waiting for QEMU to save the VM: %s", strerror(-r));
    hb__sb_release(&line);
    return r;
}

/* Removes other keys' snapshots, and leftovers of saves that died, that
 * nobody has written for an hour. */
static void prune_stale(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), x = strlen(SNAPSHOT_EXT);
        bool snap = n > x && strcmp(e->d_name + n - x, SNAPSHOT_EXT) == 0;
        bool tmp = strstr(e->d_name, SNAPSHOT_EXT ".tmp") != NULL; /* a save that died */
        if (!snap && !tmp)
            continue;
        char *p = hb__path_join(dir, e->d_name);
        struct stat st;
        if (p && strcmp(p, keep) != 0 && stat(p, &st) == 0 &&
            now - st.st_mtime > STALE_SNAPSHOT_S) {
            if (snap)
                hb__vm_snapshot_remove(p);
            else
                unlink(p);
        }
        free(p);
    }
    closedir(d);
}

int hb__vm_snapshot_save(int qmp, const char *path, uint64_t deadline_ns, char **err)
{
    /* unique per process and per save: two pools may save the same key */
    static _Atomic unsigned seq;
    char *dir = strdup(path), *tmp = hb__asprintf("%s.tmp%d.%u", path, (int)getpid(), seq++);
    char *dpath = digest_path(path), sum[HB_SHA256_HEX];
    int fd = -1, r = dir && tmp && dpath ? 0 : -ENOMEM;
    if (r)
        goto out;
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = 0;
    if ((r = hb__mkdir_p(dir, 0700)) != 0) {
        hb__seterr(err, r, "cannot create the snapshot directory %s: %s", dir, strerror(-r));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = hb__seterr(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    hb_sb greeting = HB_SB_INIT;
    r = qmp_line(qmp, deadline_ns, &greeting);
    hb__sb_release(&greeting);
    if (r) {
        hb__seterr(err, r, "QMP: no greeting from QEMU: %s", strerror(-r));
        goto out;
    }
    /* The guest keeps running while it is saved: it is idle (the agent
     * waits on its port), and a running source restores as running. */
    if ((r = qmp_cmd(qmp, "{\"execute\":\"qmp_capabilities\"}", -1, deadline_ns, err)) ||
        (r = qmp_cmd(qmp, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
                          "{\"capabilities\":[{\"capability\":\"events\",\"state\":true}]}}",
                     -1, deadline_ns, err)) ||
        (r = qmp_cmd(qmp, "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"snap\"}}", fd,
                     deadline_ns, err)) ||
        (r = qmp_cmd(qmp, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:snap\"}}", -1,
                     deadline_ns, err)) ||
        (r = qmp_wait_migration(qmp, deadline_ns, err)))
        goto out;
    if (fsync(fd) != 0) {
        r = hb__seterr(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if ((r = hb__sha256_file(tmp, sum)) != 0 ||
        (r = hb__write_file_atomic(dpath, sum, strlen(sum), 0600)) != 0) {
        hb__seterr(err, r, "cannot write the digest %s: %s", dpath, strerror(-r));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        r = hb__seterr(err, -errno, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    prune_stale(dir, path);
out:
    if (fd >= 0)
        close(fd);
    if (r && tmp)
        unlink(tmp);
    HB_FREE_ALL(dir, tmp, dpath);
    return r;
}
