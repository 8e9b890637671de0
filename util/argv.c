/* util/argv.c - see argv.h. */
#include "argv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Takes ownership of s (NULL marks the vector failed). */
static void push_owned(hb_argv *a, char *s)
{
    /* Room for s and the NULL after it. */
    char **nv = a->failed || !s ? NULL : hb__grow(a->v, a->n + 1, &a->cap, sizeof(*nv));
    if (!nv) {
        a->failed = true;
        free(s);
        return;
    }
    a->v = nv;
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

void hb__argv_push(hb_argv *a, const char *s)
{
    push_owned(a, a->failed || !s ? NULL : strdup(s));
}

void hb__argv_pushf(hb_argv *a, const char *fmt, ...)
{
    if (a->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = hb__vasprintf(fmt, ap);
    va_end(ap);
    push_owned(a, s);
}

void hb__argv_push_all(hb_argv *a, char *const *v)
{
    for (; v && *v; v++)
        hb__argv_push(a, *v);
}

void hb__argv_pushl(hb_argv *a, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        hb__argv_push(a, s);
    va_end(ap);
}

int hb__argv_detach(hb_argv *a, char ***out)
{
    if (!a->failed && !a->v && !(a->v = calloc(1, sizeof(*a->v))))
        a->failed = true;
    if (a->failed) {
        hb__argv_release(a);
        return -ENOMEM;
    }
    *out = a->v;
    *a = (hb_argv)HB_ARGV_INIT;
    return 0;
}

char **hb__argv_take(hb_argv *a)
{
    char **v = NULL;
    return hb__argv_detach(a, &v) < 0 ? NULL : v;
}

void hb__argv_release(hb_argv *a)
{
    hb__strv_free(a->v);
    *a = (hb_argv)HB_ARGV_INIT;
}
