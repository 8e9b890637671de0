/* cli/args.c - the command-line conventions every command shares: options
 * parsed with getopt_long (`--opt=V`, `--opt V`, `-j2`, `-j 2`, `--` ends
 * options), each mistake reported once with a "did you mean" suggestion
 * found by edit distance. */
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

int cli_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    if (!s || !*s)
        return -1;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
        if (v > max)
            return -1;
    }
    if (v < min)
        return -1;
    *out = (unsigned)v;
    return 0;
}

int cli_operands(int argc, char **argv, const char *cmd, const char *usage, int min, int max)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    optind = 0;
    int c;
    while ((c = cli_getopt(argc, argv, cmd, "h", longopts, NULL)) != -1) {
        if (c != 'h')
            return HB_EXIT_USAGE;
        fputs(usage, stdout);
        return HB_EXIT_OK;
    }
    int n = argc - optind;
    if (n < min || (max >= 0 && n > max)) {
        fputs(usage, stderr);
        return HB_EXIT_USAGE;
    }
    return -1;
}
