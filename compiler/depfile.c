/*
 * compiler/depfile.c - make-style depfile parser (what -MD writes).
 *
 * Grammar handled: rules "targets: prerequisites" separated by newlines;
 * backslash-newline (also backslash-CRLF) continues a line; "\ " is a space
 * in a name, "\#" a '#', "\\" before a space/# pair as GCC writes it, and
 * "$$" a single '$'. Any other backslash is kept literally. An unescaped
 * ':' followed by a blank or the end of line ends the target list. Only
 * prerequisites are returned (targets, including -MP phony ones, are not).
 * Input is untrusted in the sense that it is fuzzed: no assumption about
 * its shape beyond the length given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "argv.h"
#include "compiler.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int hb_compiler_parse_depfile(const char *text, size_t len, char ***out)
{
    if ((!text && len) || !out)
        return -EINVAL;
    if (len && memchr(text, 0, len))
        return -EINVAL;
    hb_argv deps = HB_ARGV_INIT;
    hb_sb tok = HB_SB_INIT;
    bool in_deps = false, have_tok = false, in_comment = false;
    int r = 0;
    size_t i = 0;

    /* Ends the current token; prerequisites are kept, targets dropped. */
#define FLUSH()                                                            \
    do {                                                                   \
        if (have_tok && in_deps) {                                         \
            hb__argv_push(&deps, tok.buf ? tok.buf : "");                  \
            if (deps.failed) {                                             \
                r = -ENOMEM;                                               \
                goto fail;                                                 \
            }                                                              \
        }                                                                  \
        hb__sb_reset(&tok);                                                \
        have_tok = false;                                                  \
    } while (0)
#define PUT(c)                                                             \
    do {                                                                   \
        char c_ = (c);                                                     \
        if (hb__sb_add(&tok, &c_, 1) < 0) {                                \
            r = -ENOMEM;                                                   \
            goto fail;                                                     \
        }                                                                  \
        have_tok = true;                                                   \
    } while (0)

    while (i < len) {
        char c = text[i];
        if (c == '\\' && i + 1 < len && text[i + 1] == '\n') {
            FLUSH();
            i += 2;
            continue;
        }
        if (c == '\\' && i + 2 < len && text[i + 1] == '\r' && text[i + 2] == '\n') {
            FLUSH();
            i += 3;
            continue;
        }
        if (c == '\n') {
            FLUSH();
            in_deps = false;
            in_comment = false;
            i++;
            continue;
        }
        if (in_comment) {
            i++;
            continue;
        }
        if (c == '\\' && i + 1 < len && (is_blank(text[i + 1]) || text[i + 1] == '#')) {
            PUT(text[i + 1]);
            i += 2;
            continue;
        }
        if (c == '\\' && i + 2 < len && text[i + 1] == '\\' && is_blank(text[i + 2])) {
            /* GCC writes a name ending in a backslash before a space as
             * "\\\ "; keep one backslash and the escaped space. */
            PUT('\\');
            PUT(text[i + 2]);
            i += 3;
            continue;
        }
        if (c == '$' && i + 1 < len && text[i + 1] == '$') {
            PUT('$');
            i += 2;
            continue;
        }
        if (is_blank(c) || c == '\r') {
            FLUSH();
            i++;
            continue;
        }
        if (c == '#' && !have_tok) {
            in_comment = true;
            i++;
            continue;
        }
        if (c == ':' && !in_deps &&
            (i + 1 == len || is_blank(text[i + 1]) || text[i + 1] == '\n' ||
             text[i + 1] == '\r' || text[i + 1] == '\\')) {
            FLUSH();
            in_deps = true;
            i++;
            continue;
        }
        PUT(c);
        i++;
    }
    FLUSH();
#undef FLUSH
#undef PUT
    hb__sb_release(&tok);
    return hb__argv_detach(&deps, out);
fail:
    hb__sb_release(&tok);
    hb__argv_release(&deps);
    return r;
}
