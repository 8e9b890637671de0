/*
 * harness/options.h - the one place the public options structs' versions
 * are checked and filled (libgit2's way): a caller built against any
 * version from 1 to the current one is accepted, the fields its version
 * lacks keep their defaults; version 0 or a newer version than this
 * library knows is HB_EOPTVERSION.
 *
 * Every public options struct starts with `unsigned version`. When a field
 * is appended, the struct's HB_*_OPTIONS_VERSION goes up by one and its
 * table in options.c gets the new size.
 */
#ifndef HB_HARNESS_OPTIONS_H
#define HB_HARNESS_OPTIONS_H

#include <stddef.h>

typedef struct hb__options_kind {
    const char *name;     /* "hb_manager_options", for messages */
    const size_t *sizes;  /* sizes[v - 1]: bytes a version-v caller's struct has */
    unsigned current;     /* HB_*_OPTIONS_VERSION */
} hb__options_kind;

extern const hb__options_kind hb__manager_options_kind;
extern const hb__options_kind hb__sandbox_options_kind;
extern const hb__options_kind hb__watch_options_kind;
extern const hb__options_kind hb__replay_options_kind;

/* 0 when version is one this library accepts for kind, else HB_EOPTVERSION. */
int hb__options_check(const hb__options_kind *k, unsigned version);

/* dst (a whole current struct) becomes defaults overlaid with the fields of
 * src that src's version has; src NULL means defaults. dst->version is the
 * current version afterwards. HB_EOPTVERSION (dst untouched) when src's
 * version is not accepted. */
int hb__options_take(const hb__options_kind *k, void *dst, const void *defaults,
                     const void *src);

/* hb_X_options_init: writes the defaults for a caller of `version` (only
 * the bytes that version's struct has). -EINVAL for NULL opts. */
int hb__options_init(const hb__options_kind *k, void *opts, const void *defaults,
                     unsigned version);

#endif /* HB_HARNESS_OPTIONS_H */
