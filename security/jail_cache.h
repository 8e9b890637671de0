/*
 * security/jail_cache.h - the jail probe's verdict (jail.c: bwrap around
 * `true`, the way a worker is jailed) kept across processes, so that a
 * `hotbox test` or a `hotbox call` does not start bwrap once more before
 * its first worker and its first compile can (~25 ms).
 *
 * Only "works" is kept. A stored "does not work" would make a later run
 * start workers without namespaces (security/wrap.c's fallback) on the
 * word of a file; a missing or unreadable verdict only costs a probe. A
 * stored "works" that has gone stale cannot weaken anything either: the
 * jailed worker or compile then fails, and its caller asks
 * hb_jail_recheck() (jail.h), which drops the file and probes again.
 *
 * The file: ${XDG_CACHE_HOME:-$HOME/.cache}/hotbox/jail-probe, this user's
 * own (another owner's file is ignored), holding a tag, the key and
 * "works". The key is a SHA-256 of everything the verdict depends on:
 * the boot id (a reboot probes again), the effective uid and gid, the bwrap
 * binary's path, resolved path and identity (device, inode, size, mtime,
 * ctime, mode, owner), the user namespace this process runs in, the
 * sysctls that allow or limit user namespaces and the other kinds a jail
 * makes, the process's LSM label, its seccomp and no_new_privs state and
 * its capabilities, and the probe's whole bwrap command line.
 */
#ifndef HB_SECURITY_JAIL_CACHE_H
#define HB_SECURITY_JAIL_CACHE_H

#include <stdbool.h>

#include "fileid.h"
#include "util.h"

/* The key for a probe of bwrap (as found) running probe_argv. *bwrap_id:
 * the identity of the binary that was keyed. 0, or -errno when no key can
 * be made (no boot id, bwrap not stat'able): then nothing is read or kept. */
int hb__jail_cache_key(const char *bwrap, char *const *probe_argv, char out[HB_SHA256_HEX],
                       hb_file_id *bwrap_id);

/* Whether the file says "works" under exactly this key. */
bool hb__jail_cache_works(const char *key);

/* Keeps "works" under key (best effort: a cache that cannot be written is
 * probed around). */
void hb__jail_cache_store(const char *key);

/* Removes the kept verdict. */
void hb__jail_cache_forget(void);

#endif /* HB_SECURITY_JAIL_CACHE_H */
