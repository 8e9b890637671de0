/* harness/options.c - versions of the public options structs (options.h). */
#include "options.h"

#include <errno.h>
#include <string.h>

#include "hotbox/hotbox.h"

static const size_t manager_sizes[] = {
    offsetof(hb_manager_options, cc_origin), /* 1: up to event_userdata */
    offsetof(hb_manager_options, sanitize),  /* 2: cc_origin */
    offsetof(hb_manager_options, coverage_dir), /* 3: sanitize */
    offsetof(hb_manager_options, worker_pool), /* 4: coverage_dir */
    sizeof(hb_manager_options),              /* 5: worker_pool */
};
static const size_t sandbox_sizes[] = {
    offsetof(hb_sandbox_options, cpu_percent), /* 1: up to crash_loop_window_ms */
    offsetof(hb_sandbox_options, worker),      /* 2: cpu_percent */
    offsetof(hb_sandbox_options, no_auto_restart), /* 3: worker */
    offsetof(hb_sandbox_options, record_dir), /* 4: no_auto_restart, no_probation, from_snapshot */
    offsetof(hb_sandbox_options, trust_plugin_runtime), /* 5: record_dir */
    offsetof(hb_sandbox_options, no_carry),    /* 6: trust_plugin_runtime */
    sizeof(hb_sandbox_options),                /* 7: no_carry */
};
static const size_t watch_sizes[] = {
    offsetof(hb_watch_options, exclude), /* 1: up to run_selftests */
    sizeof(hb_watch_options),            /* 2: exclude */
};

static const size_t replay_sizes[] = {
    sizeof(hb_replay_options), /* 1 */
};

#define KIND(type, sizes, cur)                                                        \
    {#type, sizes, cur};                                                              \
    _Static_assert(sizeof(sizes) / sizeof(sizes[0]) == cur,                            \
                   #type ": one size per version, up to the current one")

const hb__options_kind hb__manager_options_kind =
    KIND(hb_manager_options, manager_sizes, HB_MANAGER_OPTIONS_VERSION);
const hb__options_kind hb__sandbox_options_kind =
    KIND(hb_sandbox_options, sandbox_sizes, HB_SANDBOX_OPTIONS_VERSION);
const hb__options_kind hb__watch_options_kind =
    KIND(hb_watch_options, watch_sizes, HB_WATCH_OPTIONS_VERSION);
const hb__options_kind hb__replay_options_kind =
    KIND(hb_replay_options, replay_sizes, HB_REPLAY_OPTIONS_VERSION);

int hb__options_check(const hb__options_kind *k, unsigned version)
{
    return version >= 1 && version <= k->current ? 0 : HB_EOPTVERSION;
}

int hb__options_take(const hb__options_kind *k, void *dst, const void *defaults,
                     const void *src)
{
    size_t full = k->sizes[k->current - 1];
    if (!src) {
        memcpy(dst, defaults, full);
        return 0;
    }
    unsigned version;
    memcpy(&version, src, sizeof(version)); /* every options struct starts with it */
    if (hb__options_check(k, version) < 0)
        return HB_EOPTVERSION;
    memcpy(dst, defaults, full);
    memcpy(dst, src, k->sizes[version - 1]);
    memcpy(dst, &k->current, sizeof(k->current));
    return 0;
}

int hb__options_init(const hb__options_kind *k, void *opts, const void *defaults,
                     unsigned version)
{
    if (!opts)
        return -EINVAL;
    if (hb__options_check(k, version) < 0)
        return HB_EOPTVERSION;
    memcpy(opts, defaults, k->sizes[version - 1]);
    memcpy(opts, &version, sizeof(version));
    return 0;
}
