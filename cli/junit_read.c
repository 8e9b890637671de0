/* cli/junit_read.c - reading JUnit XML for `hotbox report merge`, with
 * libxml2. The document is parsed without network access, DTD loading or
 * entity substitution (XML_PARSE_NONET; no XML_PARSE_NOENT/DTDLOAD), and with
 * libxml2's default limits on depth and sizes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "report.h"

static bool is(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* An attribute's value (malloc'ed by libxml2) as a malloc'ed C string. */
static char *attr(const xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    char *s = v ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static char *text(const xmlNode *n)
{
    xmlChar *v = xmlNodeGetContent(n);
    char *s = v ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

static const xmlNode *child(const xmlNode *n, const char *name)
{
    for (const xmlNode *k = n->children; k; k = k->next)
        if (is(k, name))
            return k;
    return NULL;
}

static char *append(char *a, const char *b)
{
    char *s = tr_printf("%s%s", a ? a : "", b ? b : "");
    free(a);
    return s;
}

/* hotbox-event properties, one line each. */
static char *read_events(const xmlNode *tc)
{
    const xmlNode *props = child(tc, "properties");
    char *events = NULL;
    for (const xmlNode *p = props ? props->children : NULL; p; p = p->next) {
        if (!is(p, "property"))
            continue;
        char *name = attr(p, "name"), *value = attr(p, "value");
        if (name && value && !strcmp(name, "hotbox-event")) {
            events = append(events, value);
            events = append(events, "\n");
        }
        free(name);
        free(value);
    }
    return events;
}

typedef struct suite_time {
    double start, secs; /* 0, 0 when the suite has no timestamp */
} suite_time;

static int add_case(const xmlNode *tc, const char *suite_name, const suite_time *st, bool first,
                    tr_case **cases, size_t *n)
{
    tr_case c = {0};
    char *cls = attr(tc, "classname"), *time = attr(tc, "time");
    c.plugin = cls ? cls : tr_dup(suite_name ? suite_name : "");
    c.name = attr(tc, "name");
    if (!c.name)
        c.name = strdup("");
    c.id = tr_printf("%s.%s", c.plugin ? c.plugin : "", c.name ? c.name : "");
    c.ms = time ? strtod(time, NULL) * 1000.0 : 0;
    free(time);
    /* The first case starts with its suite, the others end with it: the
     * suite's span survives a merge. */
    if (st->start > 0)
        c.t0 = first || c.ms / 1000.0 > st->secs ? st->start : st->start + st->secs - c.ms / 1000.0;
    c.status = TR_PASS;
    const xmlNode *f = child(tc, "failure"), *s = child(tc, "skipped");
    if (!f)
        f = child(tc, "error");
    if (f) {
        c.status = TR_FAIL;
        c.message = attr(f, "message");
        c.body = text(f);
    } else if (s) {
        c.status = TR_SKIP;
        c.message = attr(s, "message");
    }
    const xmlNode *o = child(tc, "system-out"), *e = child(tc, "system-err");
    if (o)
        c.output = text(o);
    if (e) {
        char *t = text(e);
        c.output = append(c.output, t);
        free(t);
    }
    c.events = read_events(tc);
    if (!c.plugin || !c.name || !c.id) {
        tr_case_release(&c);
        return -ENOMEM;
    }
    tr_case *nc = realloc(*cases, (*n + 1) * sizeof(*nc));
    if (!nc) {
        tr_case_release(&c);
        return -ENOMEM;
    }
    *cases = nc;
    nc[(*n)++] = c;
    return 0;
}

static suite_time read_suite_time(const xmlNode *suite)
{
    suite_time st = {0, 0};
    char *ts = attr(suite, "timestamp"), *time = attr(suite, "time");
    struct tm tm = {0};
    const char *end = ts ? strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (end && (!*end || *end == 'Z' || *end == '.')) {
        st.start = (double)timegm(&tm);
        st.secs = time ? strtod(time, NULL) : 0;
        if (!(st.secs >= 0))
            st.secs = 0;
    }
    free(ts);
    free(time);
    return st;
}

static int add_suite(const xmlNode *suite, tr_case **cases, size_t *n, int depth)
{
    if (depth > 16)
        return -ELOOP;
    char *name = attr(suite, "name");
    suite_time st = read_suite_time(suite);
    bool first = true;
    int r = 0;
    for (const xmlNode *k = suite->children; k && r == 0; k = k->next) {
        if (is(k, "testcase")) {
            r = add_case(k, name, &st, first, cases, n);
            first = false;
        } else if (is(k, "testsuite")) {
            r = add_suite(k, cases, n, depth + 1); /* nested suites (some producers) */
        }
    }
    free(name);
    return r;
}

int junit_read(const char *path, tr_case **cases, size_t *n, char **err)
{
    xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *e = xmlGetLastError();
        *err = tr_printf("%s:%d: not well-formed XML: %s", path, e ? e->line : 0,
                         e && e->message ? e->message : "cannot parse");
        if (*err) /* libxml2's messages end with a newline */
            (*err)[strcspn(*err, "\n")] = '\0';
        xmlResetLastError();
        return -EINVAL;
    }
    const xmlNode *root = xmlDocGetRootElement(doc);
    int r = 0;
    if (root && is(root, "testsuite")) {
        r = add_suite(root, cases, n, 0);
    } else if (root && is(root, "testsuites")) {
        for (const xmlNode *k = root->children; k && r == 0; k = k->next)
            if (is(k, "testsuite"))
                r = add_suite(k, cases, n, 0);
    } else {
        *err = tr_printf("%s: root element is <%s>, not <testsuites> or <testsuite>", path,
                         root ? (const char *)root->name : "nothing");
        r = -EINVAL;
    }
    if (r < 0 && !*err)
        *err = tr_printf("%s: %s", path, strerror(-r));
    xmlFreeDoc(doc);
    return r;
}
