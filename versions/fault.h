/*
 * versions/fault.h - fault injection for the store's crash tests (private).
 *
 * HOTBOX_FAULT=<point> in the environment makes the store misbehave at that
 * point: most points raise(SIGKILL) so a test can check what a kill -9 at
 * that exact moment leaves behind; "store.enospc" makes the object write fail
 * as if the disk were full. Unset (the normal case) costs one getenv.
 */
#ifndef HB_VERSIONS_FAULT_H
#define HB_VERSIONS_FAULT_H

#include <stdbool.h>

/* Whether HOTBOX_FAULT names `point`. */
bool hb__fault_active(const char *point);

/* Dies by SIGKILL when HOTBOX_FAULT names `point`; otherwise returns. */
void hb__fault_kill(const char *point);

#endif
