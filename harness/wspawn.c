/* harness/wspawn.c - a worker's spawn settings (hb_wspawn) as a value of
 * their own: an owned copy that outlives the sandbox they came from, and
 * the comparison that decides whether a worker started with one copy may
 * serve a sandbox that would start with another. Used by the sandbox's
 * spare (spare.c) and the manager's pool (pool.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* hb__wspawn_same compares field by field, and hb__wspawn_own_copy copies
 * the strings: a field added to hb_wspawn or hb_limits and forgotten here
 * would let a pooled or spare worker serve a sandbox that asked for
 * something else. These mirrors list every field the two functions
 * handle; a new field changes the size and stops the build here (except
 * one small enough to fit in the padding after `profile` or `guest`). Add
 * it to the comparison (and the copy, for a string), then to the mirror. */
struct wspawn_fields {
    const char *worker_path, *output_path;
    hb_profile profile;
    uint64_t max_state;
    const char *objects_dir, *objects_view;
    hb_limits limits;
    const char *scratch_dir;
    hb_cgroup *cgroup;
    hb_store *store;
    char *const *env, *const *data_dirs;
    const char *preload, *write_dir;
    char *const *inst_env;
    bool guest;
    char *const *allow[3];
};
_Static_assert(sizeof(hb_wspawn) == sizeof(struct wspawn_fields),
               "hb_wspawn has a field hb__wspawn_same does not compare (see above)");
struct limits_fields {
    uint64_t memory_bytes, cpu_seconds, open_files, processes, file_size;
    int no_core;
};
_Static_assert(sizeof(hb_limits) == sizeof(struct limits_fields),
               "hb_limits has a field same_limits does not compare (see above)");

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_strv(char *const *a, char *const *b)
{
    if (!a || !b)
        return (!a || !*a) && (!b || !*b);
    for (; *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return false;
    return !*a && !*b;
}

static bool same_limits(const hb_limits *a, const hb_limits *b)
{
    return a->memory_bytes == b->memory_bytes && a->cpu_seconds == b->cpu_seconds &&
           a->open_files == b->open_files && a->processes == b->processes &&
           a->file_size == b->file_size && a->no_core == b->no_core;
}

bool hb__wspawn_same(const hb_wspawn *a, const hb_wspawn *b, bool late_bound)
{
    if (!late_bound && (!same_str(a->objects_view, b->objects_view) || a->cgroup != b->cgroup ||
                        !same_str(a->output_path, b->output_path)))
        return false;
    return same_str(a->worker_path, b->worker_path) &&
           !a->output_path == !b->output_path && a->profile == b->profile &&
           a->max_state == b->max_state && same_str(a->objects_dir, b->objects_dir) &&
           same_str(a->scratch_dir, b->scratch_dir) && same_limits(&a->limits, &b->limits) &&
           a->store == b->store && same_strv(a->env, b->env) &&
           same_strv(a->data_dirs, b->data_dirs) && same_str(a->preload, b->preload) &&
           same_str(a->write_dir, b->write_dir) && same_strv(a->inst_env, b->inst_env) &&
           same_strv(a->allow[0], b->allow[0]) && same_strv(a->allow[1], b->allow[1]) &&
           same_strv(a->allow[2], b->allow[2]) && a->guest == b->guest;
}

void hb__wspawn_own_release(hb_wspawn_own *o)
{
    HB_FREE_ALL(o->worker_path, o->output_path, o->objects_dir, o->objects_view, o->preload,
                o->write_dir, o->scratch_dir);
    HB_STRV_FREE_ALL(o->env, o->data_dirs, o->inst_env, o->allow[0], o->allow[1], o->allow[2]);
    memset(o, 0, sizeof(*o));
}

int hb__wspawn_own_copy(hb_wspawn_own *o, const hb_wspawn *how)
{
    memset(o, 0, sizeof(*o));
    o->how = *how;
    bool ok = true;
#define DUP_STR(field) \
    ok = ok && (!how->field || (o->how.field = o->field = strdup(how->field)))
#define DUP_STRV(field) \
    ok = ok && (!how->field || (o->how.field = o->field = hb__strv_dup((char **)how->field)))
    DUP_STR(worker_path);
    DUP_STR(output_path);
    DUP_STR(objects_dir);
    DUP_STR(objects_view);
    DUP_STR(preload);
    DUP_STR(write_dir);
    DUP_STR(scratch_dir);
    DUP_STRV(env);
    DUP_STRV(data_dirs);
    DUP_STRV(inst_env);
    for (size_t k = 0; k < 3; k++)
        ok = ok && (!how->allow[k] ||
                    (o->how.allow[k] = o->allow[k] = hb__strv_dup((char **)how->allow[k])));
#undef DUP_STR
#undef DUP_STRV
    if (!ok) {
        hb__wspawn_own_release(o);
        return -ENOMEM;
    }
    return 0;
}
