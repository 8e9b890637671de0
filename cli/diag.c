/* cli/diag.c - a compiler diagnostic as GCC prints it: the location and
 * message, then the source line and a caret under the column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Line `want` (1-based) of path, without its newline; NULL when unreadable. */
static char *source_line(const char *path, unsigned want)
{
    FILE *f = path && *path && want ? fopen(path, "re") : NULL;
    if (!f)
        return NULL;
    char *line = NULL, *out = NULL;
    size_t cap = 0;
    ssize_t n;
    for (unsigned i = 1; (n = getline(&line, &cap, f)) >= 0; i++)
        if (i == want) {
            line[strcspn(line, "\r\n")] = '\0';
            out = line;
            line = NULL;
            break;
        }
    free(line);
    fclose(f);
    return out;
}

void cli_print_diagnostic(FILE *f, const hb_diagnostic *d, const char *indent, bool color)
{
    const char *sev = d->severity ? d->severity : "";
    const char *bold = color ? "\033[1m" : "", *off = color ? "\033[0m" : "";
    const char *col = !color ? "" : strstr(sev, "error") ? "\033[1;31m"
                                  : strstr(sev, "warning") ? "\033[1;35m" : "\033[1;36m";
    fprintf(f, "%s%s%s:%u:%u:%s %s%s:%s %s\n", indent, bold, d->file ? d->file : "?", d->line,
            d->column, off, col, sev, off, d->message ? d->message : "");
    char *src = source_line(d->file, d->line);
    if (!src)
        return;
    /* Long lines are cut like GCC does not: a terminal wraps them anyway. */
    fprintf(f, "%s%5u | %s\n", indent, d->line, src);
    if (d->column >= 1) {
        fprintf(f, "%s      | ", indent);
        /* Tabs stay tabs, so the caret lines up however the terminal
         * expands them. */
        size_t len = strlen(src);
        for (unsigned i = 0; i + 1 < d->column && i < len; i++)
            fputc(src[i] == '\t' ? '\t' : ' ', f);
        fprintf(f, "%s^%s\n", col, off);
    }
    free(src);
}
