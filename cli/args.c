/* cli/args.c - the command-line conventions every command shares: options
 * parsed with getopt_long (`--opt=V`, `--opt V`, `-j2`, `-j 2`, `--` ends
 * options), each mistake reported once with a "did you mean" suggestion
 * found by edit distance; each command's options as one table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and swaps of two neighbours ("tset" is one step from "test"). */
size_t cli_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1; /* nobody mistypes that long a word */
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

const char *cli_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    size_t len = strlen(word);
    /* A close match only: at most 2 edits, and fewer than the word has
     * letters (so "x" does not suggest everything one letter long). */
    size_t limit = len < 3 ? 1 : 2;
    for (size_t i = 0; i < n; i++) {
        size_t d = cli_edit_distance(word, candidates[i]);
        if (d <= limit && d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

/* The suggestion for an unknown long option among longopts. */
static const char *suggest_option(const char *arg, const struct option *longopts)
{
    char name[128];
    const char *p = arg[0] == '-' && arg[1] == '-' ? arg + 2 : arg + (arg[0] == '-');
    size_t l = strcspn(p, "=");
    if (l >= sizeof(name))
        return NULL;
    memcpy(name, p, l);
    name[l] = '\0';
    const char *names[64];
    size_t n = 0;
    for (const struct option *o = longopts; o && o->name && n < 64; o++)
        names[n++] = o->name;
    return cli_suggest(name, names, n);
}

int cli_getopt(int argc, char **argv, const char *cmd, const char *shortopts,
               const struct option *longopts, int *longindex)
{
    /* A leading ':' makes getopt tell a missing value from an unknown
     * option; opterr = 0 keeps its own messages away (we say it once). */
    char spec[128];
    bool posix = shortopts[0] == '+';
    snprintf(spec, sizeof(spec), "%s:%s", posix ? "+" : "", shortopts + posix);
    opterr = 0;
    int c = getopt_long(argc, argv, spec, longopts, longindex);
    if (c != '?' && c != ':')
        return c;
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
    /* "test: ..." for a command's options; nothing for the global ones. */
    const char *sep = cmd ? ": " : "", *see = cmd ? " " : "";
    if (!cmd)
        cmd = "";
    char shortname[3] = {'-', (char)optopt, '\0'};
    /* For a short option, optind may still point at the word holding it. */
    const char *what = (c == ':' && arg[0] == '-' && arg[1] == '-') || !optopt ? arg : shortname;
    if (c == ':') {
        cli_error("%s%soption %s wants a value (see hotbox%s%s --help)", cmd, sep, what, see, cmd);
        return '?';
    }
    if (!optopt && arg[0] == '-' && arg[1] == '-') {
        const char *s = suggest_option(arg, longopts);
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
        if (s)
            cli_error("%s%sunknown option %s; did you mean --%s? (see hotbox%s%s --help)", cmd, sep,
                      name, s, see, cmd);
        else
            cli_error("%s%sunknown or ambiguous option %s (see hotbox%s%s --help)", cmd, sep, name,
                      see, cmd);
        return '?';
    }
    cli_error("%s%sunknown option %s (see hotbox%s%s --help)", cmd, sep, what, see, cmd);
    return '?';
}

/* A decimal number in [min, max] (digits only); 0 or -1. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (*p < '0' || *p > '9' || v > max / 10 || d > max - v * 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    uint64_t v;
    if (parse_u64(s, min, max, &v) < 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int cli_choose(const char *where, const char *what, const cli_choice *t, const char *v, int *out)
{
    char names[256] = "";
    size_t len = 0;
    for (const cli_choice *c = t; c->name; c++) {
        if (!strcmp(c->name, v)) {
            *out = c->value;
            return 0;
        }
        int k = snprintf(names + len, sizeof(names) - len, "%s%s", c == t ? "" : ", ", c->name);
        if (k > 0 && (size_t)k < sizeof(names) - len)
            len += (size_t)k;
    }
    cli_error("%s%sunknown %s \"%s\" (%s)", where ? where : "", where ? ": " : "", what, v, names);
    return -EINVAL;
}

static int list_add(cli_list *l, const char *v)
{
    const char **x = realloc(l->v, (l->n + 2) * sizeof(*x));
    if (!x) {
        cli_error("out of memory");
        return HB_EXIT_FAILED;
    }
    l->v = x;
    x[l->n++] = v;
    x[l->n] = NULL;
    return -1;
}

/* One option's value into its target (given as -L when as_letter): -1 to
 * go on, or the exit code. */
static int take(const cli_opt *o, const char *cmd, const char *v, bool as_letter)
{
    bool ok = true;
    uint64_t n = 0;
    switch (o->kind) {
    case CLI_OPT_FLAG: *(bool *)o->target = true; return -1;
    case CLI_OPT_FN:
    case CLI_OPT_DO: return o->fn(o->target, v);
    case CLI_OPT_CHOICE:
        return cli_choose(cmd, o->name, o->choices, v, o->target) < 0 ? HB_EXIT_USAGE : -1;
    case CLI_OPT_STR:
    case CLI_OPT_LIST:
        ok = !o->valid || o->valid(v);
        if (ok && o->kind == CLI_OPT_LIST)
            return list_add(o->target, v);
        if (ok)
            *(const char **)o->target = v;
        break;
    case CLI_OPT_UINT:
        ok = parse_u64(v, o->min, o->max, &n) == 0;
        if (ok)
            *(unsigned *)o->target = (unsigned)n;
        break;
    case CLI_OPT_U64:
        ok = parse_u64(v, o->min, o->max64, &n) == 0;
        if (ok)
            *(uint64_t *)o->target = n;
        break;
    }
    if (ok)
        return -1;
    char letter[3] = {'-', o->letter, '\0'};
    as_letter = as_letter || !o->name;
    cli_error("%s%s%s%s wants %s, not \"%s\" (see hotbox%s%s --help)", cmd ? cmd : "", cmd ? ": " : "",
              as_letter ? "" : "--", as_letter ? letter : o->name, o->wants, v, cmd ? " " : "",
              cmd ? cmd : "");
    return HB_EXIT_USAGE;
}

enum { MAX_OPTS = 40, LONG_BASE = 256 };

void cli_help_print(FILE *f, const cli_help *h, const cli_opt *opts)
{
    fputs(h->text, f);
    bool listed = false;
    for (const cli_opt *o = opts; o && (o->name || o->letter); o++) {
        if (!o->help)
            continue;
        /* "  -j, --jobs N", "  -k PATTERN", "  --json" */
        char letter[5] = "", label[128];
        if (o->letter)
            snprintf(letter, sizeof(letter), "-%c%s", o->letter, o->name ? ", " : "");
        snprintf(label, sizeof(label), "  %s%s%s%s%s", letter, o->name ? "--" : "",
                 o->name ? o->name : "", o->arg ? " " : "", o->arg ? o->arg : "");
        if (strlen(label) + 2 > h->column) /* too wide: the help follows it */
            fprintf(f, "%s  ", label);
        else
            fprintf(f, "%-*s", (int)h->column, label);
        for (const char *p = o->help; *p;) {
            size_t n = strcspn(p, "\n");
            fprintf(f, "%.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
            if (*p)
                fprintf(f, "%*s", (int)h->column, "");
        }
        listed = true;
    }
    if (listed && h->after)
        fprintf(f, "\n%s", h->after); /* a blank line after the list */
}

int cli_parse(int argc, char **argv, const char *cmd, const cli_help *help, const cli_opt *opts,
              unsigned flags)
{
    /* getopt_long's tables from ours: a long option returns LONG_BASE + its
     * index, a short one its letter. */
    struct option longopts[MAX_OPTS + 2] = {{"help", no_argument, NULL, 'h'}};
    char shortopts[2 * MAX_OPTS + 4] = "";
    size_t n = 0, nl = 1, ns = 0;
    if (flags & CLI_POSIX)
        shortopts[ns++] = '+';
    shortopts[ns++] = 'h';
    for (; opts && (opts[n].name || opts[n].letter) && n < MAX_OPTS; n++) {
        const cli_opt *o = &opts[n];
        int arg = o->kind == CLI_OPT_FLAG || o->kind == CLI_OPT_DO ? no_argument : required_argument;
        if (o->name)
            longopts[nl++] = (struct option){o->name, arg, NULL, LONG_BASE + (int)n};
        if (o->letter) {
            shortopts[ns++] = o->letter;
            if (arg == required_argument)
                shortopts[ns++] = ':';
        }
    }
    optind = 0;
    for (int c; (c = cli_getopt(argc, argv, cmd, shortopts, longopts, NULL)) != -1;) {
        if (c == 'h') {
            cli_help_print(stdout, help, opts);
            return HB_EXIT_OK;
        }
        const cli_opt *o = c >= LONG_BASE && c < LONG_BASE + (int)n ? &opts[c - LONG_BASE] : NULL;
        for (size_t i = 0; !o && c > 0 && c < LONG_BASE && i < n; i++)
            if (opts[i].letter == c)
                o = &opts[i];
        if (!o)
            return HB_EXIT_USAGE; /* cli_getopt said what */
        int rc = take(o, cmd, optarg, c < LONG_BASE);
        if (rc >= 0)
            return rc;
    }
    if ((flags & CLI_NO_OPERANDS) && optind < argc) {
        cli_error("%s: unexpected argument %s (see hotbox %s --help)", cmd, argv[optind], cmd);
        return HB_EXIT_USAGE;
    }
    return -1;
}

int cli_operands(int argc, char **argv, const char *cmd, const char *usage, int min, int max)
{
    int rc = cli_parse(argc, argv, cmd, CLI_HELP(usage), NULL, 0);
    if (rc >= 0)
        return rc;
    int n = argc - optind;
    if (n < min || (max >= 0 && n > max)) {
        fputs(usage, stderr);
        return HB_EXIT_USAGE;
    }
    return -1;
}
