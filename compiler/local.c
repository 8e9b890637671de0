/*
 * compiler/local.c - the "local" backend: the compiler runs as a plain child
 * process with rlimits and a wall-clock deadline. It sees the whole file
 * system the caller sees; it is the fallback when namespaces are missing,
 * and the harness says so loudly (hotbox doctor names the backend in use).
 */
#include "backend.h"

static int local_probe(char **why)
{
    (void)why;
    return 0;
}

static int local_run(const hb__run_ctx *ctx, char *const *argv, hb__run_outcome *out, char **err)
{
    return hb__spawn_limited(ctx, argv, out, err);
}

static const hb__backend local_backend = {"local", local_probe, local_run, NULL};

const hb__backend *hb__local_backend(void)
{
    return &local_backend;
}
