/* monitor/cgroupfs.h - reading the cgroup file systems, for cgroup.c (v2
 * sub-trees) and cpucap.c (a v1 cpu cap): small control files, where a
 * hierarchy is mounted, where this process sits in it. Private to monitor/. */
#ifndef HB_MONITOR_CGROUPFS_H
#define HB_MONITOR_CGROUPFS_H

#include <stddef.h>
#include <sys/types.h>

/* <dir>/<file> into buf (NUL-terminated, at most len - 1 bytes). */
int hb__cgfs_read(const char *dir, const char *file, char *buf, size_t len);
/* text into <dir>/<file> (one write, EINTR retried). */
int hb__cgfs_write(const char *dir, const char *file, const char *text);
/* Moves process pid into the cgroup at dir (v1 or v2: its cgroup.procs);
 * -EINVAL for a pid that is not positive. */
int hb__cgfs_add_pid(const char *dir, pid_t pid);
/* Mount point (malloc'ed) of the first file system of type fstype
 * ("cgroup2", or "cgroup" for v1) whose super options hold opt (NULL: any);
 * -ENOENT when none. */
int hb__cgfs_mount(const char *fstype, const char *opt, char **out);
/* This process's path (malloc'ed) in the v1 hierarchy holding controller,
 * or with controller NULL in cgroup v2 ("0::"); -ENOENT when it has none. */
int hb__cgfs_own(const char *controller, char **out);

#endif
