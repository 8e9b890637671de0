/* worker/ffi_call.c - makes one plugin call through libffi. See worker.h. */
#include "worker.h"

#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libffi type of a scalar hb_type (buffers are handled by the caller). */
static ffi_type *ffi_type_of(hb_type t)
{
    switch (t) {
    case HB_TYPE_VOID: return &ffi_type_void;
    case HB_TYPE_BOOL: return &ffi_type_uint8; /* _Bool is one byte, 0 or 1 */
    case HB_TYPE_I8: return &ffi_type_sint8;
    case HB_TYPE_U8: return &ffi_type_uint8;
    case HB_TYPE_I16: return &ffi_type_sint16;
    case HB_TYPE_U16: return &ffi_type_uint16;
    case HB_TYPE_I32: return &ffi_type_sint32;
    case HB_TYPE_U32: return &ffi_type_uint32;
    case HB_TYPE_LONG: return &ffi_type_slong;
    case HB_TYPE_ULONG: return &ffi_type_ulong;
    case HB_TYPE_I64: return &ffi_type_sint64;
    case HB_TYPE_U64: return &ffi_type_uint64;
    case HB_TYPE_F32: return &ffi_type_float;
    case HB_TYPE_F64: return &ffi_type_double;
    case HB_TYPE_STR:
    case HB_TYPE_BUF_IN:
    case HB_TYPE_BUF_INOUT: return &ffi_type_pointer;
    }
    return NULL;
}

/* Storage for one C parameter (libffi reads sizeof(type) bytes from it) or
 * for the return value: libffi writes a return narrower than
 * ffi_arg as a whole (widened) ffi_arg, wider ones as themselves, so the
 * union holds both. */
typedef union slot {
    ffi_arg a;
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    uint32_t u32;
    int32_t i32;
    long l;
    unsigned long ul;
    int64_t i64;
    uint64_t u64;
    float f;
    double d;
    void *p;
    size_t z;
} slot;

/* Narrow integer returns: truncate the widened ffi_arg back to the C type,
 * whatever libffi put in the upper bits. */
#define NARROW(T, rv) ((T)(rv).a)

static void fill_slot(slot *s, const hb_wvalue *v)
{
    switch (v->type) {
    case HB_TYPE_BOOL: s->u8 = v->n.i != 0; break;
    case HB_TYPE_I8: s->i8 = (int8_t)v->n.i; break;
    case HB_TYPE_U8: s->u8 = (uint8_t)v->n.u; break;
    case HB_TYPE_I16: s->i16 = (int16_t)v->n.i; break;
    case HB_TYPE_U16: s->u16 = (uint16_t)v->n.u; break;
    case HB_TYPE_I32: s->i32 = (int32_t)v->n.i; break;
    case HB_TYPE_U32: s->u32 = (uint32_t)v->n.u; break;
    case HB_TYPE_LONG: s->l = (long)v->n.i; break;
    case HB_TYPE_ULONG: s->ul = (unsigned long)v->n.u; break;
    case HB_TYPE_I64: s->i64 = v->n.i; break;
    case HB_TYPE_U64: s->u64 = v->n.u; break;
    case HB_TYPE_F32: s->f = v->n.f; break;
    case HB_TYPE_F64: s->d = v->n.d; break;
    case HB_TYPE_STR: s->p = v->s; break;
    default: s->p = v->buf; break;
    }
}

/* A C++ plugin's hb_plugin_cxx_guard (hotbox/plugin.h) runs the call and
 * catches what escapes it; this is the call it runs. */
typedef struct ffi_job {
    ffi_cif *cif;
    void *fn, *rv, **avalues;
} ffi_job;

static void run_job(void *p)
{
    ffi_job *j = p;
    ffi_call(j->cif, FFI_FN(j->fn), j->rv, j->avalues);
}

/* Prepared call interfaces, one per C parameter list and return type: a
 * plugin's functions are called with few signatures, and ffi_prep_cif
 * costs about as much as the rest of a ring call's work in the worker.
 * Entries are filled in order and never replaced (the worker's calls all
 * run on its serving thread); a signature beyond the last entry is
 * prepared per call, as before. A cif points into its own entry's types. */
#define CIF_CACHE 32
typedef struct cif_entry {
    unsigned n;
    ffi_type *rtype;
    ffi_type *types[2 * HB_SIG_MAX_ARGS];
    ffi_cif cif;
} cif_entry;

static cif_entry cif_cache[CIF_CACHE];
static unsigned cif_used;

static unsigned long cif_preps; /* ffi_prep_cif calls made (hb__ffi_cif_preps) */

unsigned long hb__ffi_cif_preps(void)
{
    return cif_preps;
}

/* The prepared cif for (n, types, rtype): from the cache, or prepared into
 * *tmp. NULL when libffi refuses it. */
static ffi_cif *prepared_cif(unsigned n, ffi_type **types, ffi_type *rtype, ffi_cif *tmp)
{
    for (unsigned i = 0; i < cif_used; i++) {
        cif_entry *e = &cif_cache[i];
        if (e->n == n && e->rtype == rtype && memcmp(e->types, types, n * sizeof(*types)) == 0)
            return &e->cif;
    }
    cif_preps++;
    if (cif_used < CIF_CACHE) {
        cif_entry *e = &cif_cache[cif_used];
        e->n = n;
        e->rtype = rtype;
        memcpy(e->types, types, n * sizeof(*types));
        if (ffi_prep_cif(&e->cif, FFI_DEFAULT_ABI, n, rtype, e->types) != FFI_OK)
            return NULL;
        cif_used++;
        return &e->cif;
    }
    return ffi_prep_cif(tmp, FFI_DEFAULT_ABI, n, rtype, types) == FFI_OK ? tmp : NULL;
}

int hb__ffi_call(void *fn, void *cxx_guard, const hb_sig *sig, hb_wvalue *args, size_t nargs,
                 hb_wvalue *ret, char *msg, size_t msglen)
{
    ffi_type *types[2 * HB_SIG_MAX_ARGS];
    void *avalues[2 * HB_SIG_MAX_ARGS];
    slot slots[2 * HB_SIG_MAX_ARGS];
    unsigned n = 0;
    ffi_cif tmp, *cif;
    slot rv;
    hb_wvalue r;

    if (nargs > HB_SIG_MAX_ARGS) {
        snprintf(msg, msglen, "too many arguments");
        return HB_EARGS;
    }
    for (size_t i = 0; i < nargs; i++) {
        fill_slot(&slots[n], &args[i]);
        types[n] = ffi_type_of(args[i].type);
        avalues[n] = &slots[n];
        n++;
        if (args[i].type == HB_TYPE_BUF_IN || args[i].type == HB_TYPE_BUF_INOUT) {
            /* The buffer's second C parameter: its length as a size_t. */
            slots[n].z = args[i].len;
            types[n] = sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
            avalues[n] = &slots[n];
            n++;
        }
    }
    ffi_type *rtype = ffi_type_of(sig->ret);
    if (!rtype || !(cif = prepared_cif(n, types, rtype, &tmp))) {
        snprintf(msg, msglen, "libffi cannot prepare a call with this signature");
        return HB_ESIGNATURE;
    }
    memset(&rv, 0, sizeof(rv));
    ffi_job job = {cif, fn, &rv, n ? avalues : NULL};
    if (cxx_guard) {
        char what[512] = "";
        int (*guard)(void (*)(void *), void *, char *, size_t) =
            (int (*)(void (*)(void *), void *, char *, size_t))cxx_guard;
        if (guard(run_job, &job, what, sizeof(what)) != 0) {
            snprintf(msg, msglen, "a C++ exception escaped it: %s", what);
            return HB_EHOOK;
        }
    } else {
        run_job(&job);
    }

    memset(&r, 0, sizeof(r));
    r.type = sig->ret;
    switch (sig->ret) {
    case HB_TYPE_VOID: break;
    case HB_TYPE_BOOL: r.n.i = NARROW(uint8_t, rv) != 0; break;
    case HB_TYPE_I8: r.n.i = NARROW(int8_t, rv); break;
    case HB_TYPE_U8: r.n.u = NARROW(uint8_t, rv); break;
    case HB_TYPE_I16: r.n.i = NARROW(int16_t, rv); break;
    case HB_TYPE_U16: r.n.u = NARROW(uint16_t, rv); break;
    case HB_TYPE_I32: r.n.i = NARROW(int32_t, rv); break;
    case HB_TYPE_U32: r.n.u = NARROW(uint32_t, rv); break;
    /* long and 64-bit types are at least as wide as ffi_arg on every LP64
     * and ILP32 target libffi supports, so they are stored unwidened. */
    case HB_TYPE_LONG: r.n.i = sizeof(long) < sizeof(ffi_arg) ? NARROW(long, rv) : rv.l; break;
    case HB_TYPE_ULONG:
        r.n.u = sizeof(long) < sizeof(ffi_arg) ? NARROW(unsigned long, rv) : rv.ul;
        break;
    case HB_TYPE_I64: r.n.i = rv.i64; break;
    case HB_TYPE_U64: r.n.u = rv.u64; break;
    case HB_TYPE_F32: r.n.f = rv.f; break;
    case HB_TYPE_F64: r.n.d = rv.d; break;
    case HB_TYPE_STR:
        if (rv.p) {
            /* The plugin keeps ownership of what it returned; we copy. */
            r.s = strdup(rv.p);
            if (!r.s) {
                snprintf(msg, msglen, "out of memory copying the returned string");
                return -ENOMEM;
            }
        }
        break;
    default:
        snprintf(msg, msglen, "unsupported return type");
        return HB_ESIGNATURE;
    }
    *ret = r;
    return 0;
}
