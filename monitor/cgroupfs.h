/* monitor/cgroupfs.h - reading the cgroup file systems, for cgroup.c (v2
 * sub-trees) and cpucap.c (a v1 cpu cap): small control files, where a
 * hierarchy is mounted, where this process sits in it. Private to monitor/. */
#ifndef HB_MONITOR_CGROUPFS_H
#define HB_MONITOR_CGROUPFS_H

#include <stddef.h>

/* <dir>/<file> into buf (NUL-terminated, at most len - 1 bytes). */
int hb__cgfs_read(const char *dir, const char *file, char *buf, size_t len);
/* text into <dir>/<file> (one write, EINTR retried). */
int hb__cgfs_write(const char *dir, const char *file, const char *text);
/* Mount point (malloc'ed) of the first file system of type fstype
 * ("cgroup2", or "cgroup" for v1) whose super options hold opt (NULL: any);
 * -ENOENT when none. */
int hb__cgfs_mount(const char *fstype, const char *opt, char **out);
/* This process's path (malloc'ed) in the v1 hierarchy holding controller,
 * or with controller NULL in cgroup v2 ("0::"); -ENOENT when it has none. */
int hb__cgfs_own(const char *controller, char **out);

#endif
