/*
 * proto/signature.h - parser for hotbox call signatures (dyncall characters
 * plus 'b'/'w' buffers, see hotbox.h). Pure code with no libffi dependency:
 * the worker uses it before every call and the harness library links it
 * (OBJECT library hb_proto) to check signatures on the client side.
 */
#ifndef HB_SIGNATURE_H
#define HB_SIGNATURE_H

#include <hotbox/hotbox.h>

#include <stddef.h>

/* At most this many argument characters (and so hb_value arguments). */
#define HB_SIG_MAX_ARGS 32

/* A parsed signature. args[i] is the hb_type of the i-th hb_value argument;
 * a 'b' or 'w' is one value but two C parameters (pointer, size_t). */
typedef struct hb_sig {
    hb_type args[HB_SIG_MAX_ARGS];
    size_t nargs;
    hb_type ret;
} hb_sig;

/* Why a signature was refused: pos is the 1-based position of the
 * offending character (one past the end for "missing ')'" errors) and msg
 * one line that quotes the signature and names the position. */
typedef struct hb_sig_error {
    size_t pos;
    char msg[192];
} hb_sig_error;

/* Parses sig. Returns 0 and fills *out, or HB_ESIGNATURE and fills *err
 * (when err is not NULL). *out is written only on success. */
int hb__sig_parse(const char *sig, hb_sig *out, hb_sig_error *err);

/* The last signature one caller parsed, kept for the next call (calls
 * usually repeat one): hb__sig_parse_cached answers a repeat with a string
 * compare instead of a parse. Zero-initialised means empty; not shared
 * between threads. Signatures of HB_SIG_CACHE_TEXT bytes or more are
 * parsed every time. */
#define HB_SIG_CACHE_TEXT 48
typedef struct hb_sig_cache {
    char text[HB_SIG_CACHE_TEXT]; /* "" when empty */
    hb_sig sig;
} hb_sig_cache;

/* hb__sig_parse through *cache (see above): the same results. */
int hb__sig_parse_cached(hb_sig_cache *cache, const char *sig, hb_sig *out, hb_sig_error *err);

/* The signature character of a type ('i' for HB_TYPE_I32, ...), '?' for
 * none, and a C-ish name ("int32", "string", "in/out buffer") for messages. */
char hb__sig_char(hb_type t);
const char *hb__type_name(hb_type t);

#endif /* HB_SIGNATURE_H */
