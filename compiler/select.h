/*
 * compiler/select.h - private: which backend a compile runs on.
 *
 * select.c owns the hb_compiler context (options, the microvm state, the
 * cached selection and the reason for it: see compiler.h) and the public
 * probe/selection functions. The pipeline (compiler.c) asks it one
 * question per compile: hb__compiler_backend().
 */
#ifndef HB_COMPILER_SELECT_H
#define HB_COMPILER_SELECT_H

#include "backend.h"

/* The backend a request asking for `want` runs on: AUTO means the
 * context's selection, or without a context (c == NULL) namespace when
 * bubblewrap works, else local. *vm is the context's microvm state when the
 * backend is microvm, else NULL. HB_EISOLATION (with *err, which may be
 * NULL) when that backend is not built in or unavailable, or is microvm and
 * there is no context. */
int hb__compiler_backend(hb_compiler *c, hb_isolation want, const hb__backend **be,
                         hb__vm_state **vm, char **err);

/* The context's job_timeout_ms; 0 without a context or when unset. */
unsigned hb__compiler_job_timeout(const hb_compiler *c);

#endif /* HB_COMPILER_SELECT_H */
