/* tests/cli/check_events.c - checks JSON lines against the event tables of
 * docs/events.md: every line an object with a documented "event", every
 * required field present, no field outside its row.
 *   check_events DOC --names     every library event type has a row
 *   check_events DOC FILE...     validates every line of the files */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

#define MAX_ROWS 64
#define MAX_FIELDS 24

typedef struct row {
    char name[64];
    char req[MAX_FIELDS][32], opt[MAX_FIELDS][32];
    int nreq, nopt;
    int seen;
} row;

static row rows[MAX_ROWS];
static int nrows;

static int split_fields(char *cell, char out[][32])
{
    int n = 0;
    for (char *t = strtok(cell, ", "); t && n < MAX_FIELDS; t = strtok(NULL, ", "))
        snprintf(out[n++], 32, "%s", t);
    return n;
}

/* Rows look like: | `name` | a, b, c | d, e | */
static int load_doc(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[1024];
    while (fgets(line, sizeof(line), f) && nrows < MAX_ROWS) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char *cells[4] = {0};
        int nc = 0;
        for (char *p = line + 1; nc < 3 && (p = strchr(p, '|')); p++)
            cells[nc++] = p + 1;
        if (nc < 3)
            continue;
        row *r = &rows[nrows++];
        char *tick = strchr(line + 3, '`');
        snprintf(r->name, sizeof(r->name), "%.*s", (int)(tick - (line + 3)), line + 3);
        cells[0][-1] = '\0';
        cells[1][-1] = '\0';
        cells[2][-1] = '\0';
        char *end = strchr(cells[2], '|');
        if (end)
            *end = '\0';
        r->nreq = split_fields(cells[0], r->req);
        r->nopt = split_fields(cells[1], r->opt);
    }
    fclose(f);
    return nrows ? 0 : -1;
}

static row *find(const char *name)
{
    for (int i = 0; i < nrows; i++)
        if (!strcmp(rows[i].name, name))
            return &rows[i];
    return NULL;
}

static int in(const char *k, char list[][32], int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i], k))
            return 1;
    return 0;
}

static int check_line(const char *file, unsigned lineno, const char *text)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    int bad = 0;
    const char *ev = o ? json_string_value(json_object_get(o, "event")) : NULL;
    row *r = ev ? find(ev) : NULL;
    if (!o || !json_is_object(o) || !ev) {
        printf("FAIL %s:%u: not an event object: %.200s\n", file, lineno, text);
        bad = 1;
    } else if (!r) {
        printf("FAIL %s:%u: event \"%s\" is not in docs/events.md\n", file, lineno, ev);
        bad = 1;
    } else {
        r->seen++;
        for (int i = 0; i < r->nreq; i++)
            if (!json_object_get(o, r->req[i])) {
                printf("FAIL %s:%u: %s lacks required field \"%s\"\n", file, lineno, ev, r->req[i]);
                bad = 1;
            }
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            if (!in(k, r->req, r->nreq) && !in(k, r->opt, r->nopt)) {
                printf("FAIL %s:%u: %s has undocumented field \"%s\"\n", file, lineno, ev, k);
                bad = 1;
            }
        }
    }
    json_decref(o);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 3 || load_doc(argv[1]) < 0) {
        fprintf(stderr, "usage: check_events DOC --names | FILE...\n");
        return 2;
    }
    int bad = 0;
    if (!strcmp(argv[2], "--names")) {
        int n = 0;
        for (int t = 1; strcmp(cli_event_name((hb_event_type)t), "?") != 0; t++, n++)
            if (!find(cli_event_name((hb_event_type)t))) {
                printf("FAIL: event \"%s\" has no row in %s\n", cli_event_name((hb_event_type)t),
                       argv[1]);
                bad = 1;
            }
        if (n == 0) {
            printf("FAIL: no event names\n");
            bad = 1;
        }
        printf("%d library event types checked\n", n);
        return bad;
    }
    unsigned total = 0;
    for (int i = 2; i < argc; i++) {
        FILE *f = fopen(argv[i], "re");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        for (unsigned no = 1; (len = getline(&line, &cap, f)) > 0; no++) {
            if (line[0] != '{')
                continue; /* not an event line (a TAP or text line in a mixed log) */
            bad |= check_line(argv[i], no, line);
            total++;
        }
        free(line);
        fclose(f);
    }
    if (total == 0) {
        printf("FAIL: no events to check\n");
        bad = 1;
    }
    printf("%u events checked;", total);
    for (int i = 0; i < nrows; i++)
        if (rows[i].seen)
            printf(" %s=%d", rows[i].name, rows[i].seen);
    printf("\n");
    return bad;
}
