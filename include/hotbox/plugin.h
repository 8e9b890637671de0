/*
 * hotbox/plugin.h - what a hotbox plugin includes.
 *
 * A plugin is a directory of C sources compiled into one shared object. It
 * exports exactly one descriptor, normally written with HB_PLUGIN(...), which
 * tells the worker the plugin's ABI version, its name, the version of its state
 * layout ("schema") and four optional hooks:
 *
 *   init()      called once when a version is loaded, before anything else.
 *   fini()      called once when a version is retired (after a successful swap
 *               to a newer version, on unload, and on worker shutdown).
 *   save()      serialises the plugin's state to bytes. The plugin allocates
 *               the buffer with malloc(); the worker frees it.
 *   migrate()   rebuilds the state from bytes that a version (maybe this one,
 *               maybe an older or newer one) saved with schema `from_schema`.
 *               Restoring a checkpoint is a migrate() with from_schema equal to
 *               the plugin's own schema. Return nonzero to refuse the bytes;
 *               the swap is then refused and the old version keeps running.
 *
 * Plugins keep their state where C code normally keeps it: in static variables
 * of the shared object. Every version is its own dlopen()ed object with its own
 * statics, which is what makes old and new versions coexist during a swap.
 *
 * Hook order on a hot swap from version A to version B:
 *   A.save -> dlopen(B) -> check B's descriptor -> B.init -> B.migrate(bytes,
 *   A.schema) -> switch -> A.fini -> dlclose(A).
 * Any failure before "switch" leaves A active with its state untouched.
 *
 * All hooks return 0 on success. A plugin without save/migrate keeps the
 * statics whose type layout its debug info (-g, the default) proves
 * unchanged; the others start fresh, and the swap event names each one and
 * why (docs/state.md). The copy happens after B.init. A plugin with hooks
 * whose (unmarked) statics changed layout under an unchanged schema is
 * refused. HB_CARRY(var) marks single statics for carrying (below); those
 * of a plugin with hooks are copied after B.init, before B.migrate.
 *
 * Exported functions named hb_test_* (returning int, 0 = pass, taking no
 * arguments) are the plugin's self-tests; hotbox runs them after a swap.
 */
#ifndef HOTBOX_PLUGIN_H
#define HOTBOX_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever hb_plugin_descriptor changes incompatibly. The worker
 * refuses a descriptor whose abi_version differs from its own. */
#define HB_PLUGIN_ABI_VERSION 1u

/* The exported symbol the worker looks for. */
#define HB_PLUGIN_SYMBOL "hb_plugin"
#define HB_PLUGIN_SYMBOL_ID hb_plugin

typedef struct hb_plugin_descriptor {
    uint32_t abi_version;  /* HB_PLUGIN_ABI_VERSION at build time */
    uint32_t size;         /* sizeof(hb_plugin_descriptor) at build time */
    const char *name;      /* human-readable plugin name */
    uint32_t state_schema; /* version of the layout save() writes */
    uint32_t reserved;     /* zero */
    int (*init)(void);
    void (*fini)(void);
    int (*save)(void **data, size_t *len);
    int (*migrate)(const void *data, size_t len, uint32_t from_schema);
} hb_plugin_descriptor;

#if defined(__GNUC__)
#define HB_PLUGIN_API __attribute__((visibility("default"), used))
#else
#define HB_PLUGIN_API
#endif

/* In C++, what hotbox looks up must have C linkage: unmangled names, and
 * external linkage for the const descriptor (a namespace-scope const is
 * internal in C++). */
#ifdef __cplusplus
#define HB_EXTERN_C extern "C"
#else
#define HB_EXTERN_C
#endif

/* Declares the plugin descriptor in one line. Pass 0 for any hook the plugin
 * does not have, e.g.
 *     HB_PLUGIN("counter", 2, counter_init, 0, counter_save, counter_migrate);
 */
#define HB_PLUGIN(name_, schema_, init_, fini_, save_, migrate_)                 \
    HB_PLUGIN_CXX_GUARD(name_)                                                   \
    HB_EXTERN_C HB_PLUGIN_API const hb_plugin_descriptor HB_PLUGIN_SYMBOL_ID = { \
        HB_PLUGIN_ABI_VERSION, (uint32_t)sizeof(hb_plugin_descriptor), (name_), \
        (schema_), 0u, (init_), (fini_), (save_), (migrate_)}

/* Marks a function as callable from hotbox (exported from the object, with
 * C linkage in C++). */
#define HB_EXPORT_FN HB_EXTERN_C HB_PLUGIN_API

/* Marks a static variable for carrying across swaps (docs/state.md). Write
 * it after the variable's definition, at file scope or inside the function
 * that holds a function-local static:
 *
 *     static long count;
 *     HB_CARRY(count);
 *     int64_t tick(void) { static int n; HB_CARRY(n); return ++n; }
 *
 * - A plugin with save/migrate: its marked statics are carried as well
 *   (copied after init, before migrate); the others are left to the hooks.
 * - A plugin without them that marks any static: only the marked ones are
 *   carried; the others start from their initial values (the swap event
 *   says they were not marked).
 * - No marks and no hooks: every static whose layout is unchanged carries.
 * A marked static whose layout changed starts fresh with the change named,
 * as every static does. plugin.json "carry": false turns carrying off.
 *
 * How: the mark is a pointer to the variable in the section "hotbox_carry".
 * The harness resolves each pointer through the object's relocations to
 * the variable's address and matches it to the DWARF of the statics, so
 * the mark names exactly that variable (two function-local statics of one
 * name are told apart, which a name could not) and taking its address
 * keeps the optimiser from removing it. var must be a plain identifier. */
#if defined(__GNUC__)
#if defined(__has_attribute)
#if __has_attribute(retain)
#define HB_CARRY_RETAIN_ __attribute__((retain))
#endif
#endif
#ifndef HB_CARRY_RETAIN_
#define HB_CARRY_RETAIN_
#endif
#define HB_CARRY_SECTION "hotbox_carry"
#define HB_CARRY(var)                                                                  \
    static const volatile void *const hb__carry_mark_##var                             \
        __attribute__((used, section(HB_CARRY_SECTION))) HB_CARRY_RETAIN_ = &(var)
#endif

#ifdef __cplusplus
}
#endif

/* C++ plugins: an exception escaping a plugin function must not unwind into
 * the worker (which is C: the runtime would call std::terminate and the
 * worker would abort with the plugin's state). HB_PLUGIN therefore also
 * defines hb_plugin_cxx_guard, which the worker calls every plugin function
 * through: it runs call(ctx) and, when an exception escapes, copies its
 * what() into msg and returns nonzero. The call then fails with that text
 * (HB_EHOOK) and the worker and the plugin's state live on. */
#define HB_PLUGIN_CXX_GUARD_SYMBOL "hb_plugin_cxx_guard"
#ifdef __cplusplus
#include <exception>

static inline void hb__cxx_copy(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src && len && i + 1 < len && src[i]; i++)
        dst[i] = src[i];
    if (len)
        dst[i] = 0;
}
#define HB_PLUGIN_CXX_GUARD(name_)                                                       \
    extern "C" HB_PLUGIN_API int hb_plugin_cxx_guard(void (*call_)(void *), void *ctx_,  \
                                                     char *msg_, size_t len_)            \
    {                                                                                    \
        try {                                                                            \
            call_(ctx_);                                                                 \
            return 0;                                                                    \
        } catch (const std::exception &e_) {                                             \
            hb__cxx_copy(msg_, len_, e_.what());                                         \
            return 1;                                                                    \
        } catch (...) {                                                                  \
            hb__cxx_copy(msg_, len_, "an exception that is not a std::exception");       \
            return 2;                                                                    \
        }                                                                                \
    }
#else
#define HB_PLUGIN_CXX_GUARD(name_)
#endif

#endif /* HOTBOX_PLUGIN_H */
