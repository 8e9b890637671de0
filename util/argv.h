/*
 * util/argv.h - the one argv builder: a growable, NULL-terminated vector of
 * malloc'ed strings, in the spirit of git's strvec.
 *
 * Zero-initialise it (HB_ARGV_INIT). Every push copies its argument. A push
 * that cannot allocate marks the vector failed and every later push does
 * nothing, so a caller pushes a whole command line and checks once, with
 * hb__argv_detach() (or a.failed). a.v is NULL-terminated whenever it is not
 * NULL; a.n excludes the terminator.
 */
#ifndef HB_UTIL_ARGV_H
#define HB_UTIL_ARGV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hb_argv {
    char **v;
    size_t n, cap;
    bool failed;
} hb_argv;
#define HB_ARGV_INIT {NULL, 0, 0, false}

void hb__argv_push(hb_argv *a, const char *s);
void hb__argv_pushf(hb_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pushes every string of a NULL-terminated vector (v may be NULL). */
void hb__argv_push_all(hb_argv *a, char *const *v);
/* Pushes the strings of a NULL-terminated list of literals, in order. */
void hb__argv_pushl(hb_argv *a, const char *first, ...) __attribute__((sentinel));

/* Hands the vector over: *out becomes a NULL-terminated array (never NULL;
 * free it with hb__strv_free) and a is zeroed. -ENOMEM (a released, *out
 * untouched) if any push failed. */
int hb__argv_detach(hb_argv *a, char ***out);
/* The same as a value: the vector, or NULL (a released) if any push failed. */
char **hb__argv_take(hb_argv *a);
void hb__argv_release(hb_argv *a);

#endif /* HB_UTIL_ARGV_H */
