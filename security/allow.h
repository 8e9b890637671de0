/*
 * security/allow.h - which host paths a plugin.json "runtime.allow" list may
 * open in a worker's jail, and how each is shown (docs/plugin-json.md).
 *
 * An allow-list opens one thing without dropping to the permissive
 * profile:
 *   read          a directory or file, bound read-only at its own path
 *   write         a directory or file, bound read-write at its own path
 *   connect_unix  a UNIX socket file, bound at its own path; the worker's
 *                 seccomp filter then allows socket(AF_UNIX, ...) and
 *                 connect() (no other family: the jail has no network,
 *                 and only the listed socket files exist in its view)
 *
 * Refused, whatever the spelling: a relative path, "." or ".." components,
 * "/" itself, anything under (or a parent of) /proc, /sys, /dev, /boot,
 * /root, the secrets of /etc (shadow, gshadow, sudoers, ssh) and the
 * sockets that give root (docker, containerd, podman, systemd, D-Bus), and
 * a path that is the hotbox state directory, inside it or a parent of it.
 * A path is checked as written (plugin.json's parser, with line:col) and
 * again after its symlinks are resolved (when a sandbox loads the plugin):
 * a symlink cannot lead to what its spelling could not name.
 *
 * Pure path logic plus stat/realpath; part of hb_jail (linked into the
 * compiler's settings parser and the harness).
 */
#ifndef HB_SECURITY_ALLOW_H
#define HB_SECURITY_ALLOW_H

#include <stdbool.h>

typedef enum hb_allow_kind {
    HB_ALLOW_READ = 0,
    HB_ALLOW_WRITE,
    HB_ALLOW_CONNECT_UNIX,
} hb_allow_kind;

/* "read", "write", "connect_unix". */
const char *hb_allow_kind_name(hb_allow_kind k);

/* The path as written: absolute, normal (no "", "." or ".." component, no
 * trailing slash), not "/" and not a refused place. NULL when it is fine,
 * else a static sentence saying why not. */
const char *hb_allow_check_text(const char *path);

/* The path as it is on this host: resolves it (symlinks followed), checks
 * the real path as hb_allow_check_text does, that it exists with the kind's
 * type (connect_unix: a socket; read/write: a directory or regular file),
 * and that it is not state_dir, inside it or a parent of it (state_dir may
 * be NULL). When a jail binds as an unprivileged host uid (the manager is
 * root), that uid must reach it: read it (read), write it (write,
 * connect_unix). 0 with *real malloc'ed, or a negative errno with *why a
 * malloc'ed sentence (without the path, which the caller names). */
int hb_allow_resolve(hb_allow_kind k, const char *path, const char *state_dir, char **real,
                     char **why);

#endif /* HB_SECURITY_ALLOW_H */
