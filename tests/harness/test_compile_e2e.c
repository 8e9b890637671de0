/* End-to-end tests of how compiles reach the API user (issues 11.12, 12.7):
 * warnings of a successful compile are reported, structured, without
 * failing the build. */
#include "e2e.h"

typedef struct warn_rec {
    e2e_events ev;
    int with_diags;
    char file[512], message[512], severity[32];
    unsigned line, column;
} warn_rec;

static void on_event(const hb_event *ev, void *ud)
{
    warn_rec *w = ud;
    e2e_on_event(ev, &w->ev);
    if (ev->type == HB_EVENT_WARNING && ev->ndiagnostics) {
        w->with_diags++;
        const hb_diagnostic *d = &ev->diagnostics[0];
        snprintf(w->file, sizeof(w->file), "%s", d->file);
        snprintf(w->message, sizeof(w->message), "%s", d->message);
        snprintf(w->severity, sizeof(w->severity), "%s", d->severity);
        w->line = d->line;
        w->column = d->column;
    }
}

static hb_manager *manager(warn_rec *w)
{
    char state[4300];
    snprintf(state, sizeof(state), "%s/.hotbox", e2e_root);
    hb_manager_options o;
    HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
    o.state_dir = state;
    o.isolation = HB_ISOLATION_LOCAL;
    o.on_event = on_event;
    o.event_userdata = w;
    hb_manager *m = NULL;
    HB_CHECK_OK(hb_manager_new(&o, &m));
    return m;
}

static const char warn_src[] = "#include <hotbox/plugin.h>\n"
                               "#warning hotbox-test-warning\n"
                               "int val(void) { return 7; }\n"
                               "HB_PLUGIN(\"w\", 1, 0, 0, 0, 0);\n";

static void case_warnings(void)
{
    warn_rec w = {0};
    char *dir = e2e_write("w", "w.c", warn_src);
    char file[4400];
    snprintf(file, sizeof(file), "%s/w.c", dir);
    hb_manager *m = manager(&w);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_OK(hb_load(sb, dir)); /* a warning does not fail the build */
    int32_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "w", "val", ")i", &v));
    HB_CHECK_EQ(v, 7);
    /* The event: structured, with the user's real path. */
    HB_CHECK_EQ(w.with_diags, 1);
    HB_CHECK_STR(w.file, file);
    HB_CHECK_EQ(w.line, 2);
    HB_CHECK(w.column >= 1);
    HB_CHECK_STR(w.severity, "warning");
    HB_CHECK_CONTAINS(w.message, "hotbox-test-warning");
    HB_CHECK_CONTAINS(w.ev.last[HB_EVENT_WARNING], "w: compiled with 1 warning");
    /* The accessor. */
    const hb_diagnostic *d = NULL;
    size_t n = 0;
    HB_CHECK_OK(hb_sandbox_diagnostics(sb, &d, &n));
    HB_CHECK_EQ(n, 1);
    HB_CHECK_STR(d[0].file, file);
    HB_CHECK_EQ(d[0].line, 2);
    HB_CHECK_STR(d[0].severity, "warning");
    /* A cache hit compiles nothing and repeats nothing. */
    HB_CHECK_OK(hb_reload(sb, "w"));
    HB_CHECK_EQ(w.with_diags, 1);
    hb_sandbox_free(sb);

    /* hb_build reports them too. */
    e2e_write("w", "w.c", "#include <hotbox/plugin.h>\n\n#warning second\n"
                          "int val(void) { return 8; }\nHB_PLUGIN(\"w\", 1, 0, 0, 0, 0);\n");
    hb_version_info vi;
    HB_CHECK_OK(hb_build(m, dir, &vi));
    HB_CHECK_EQ(w.with_diags, 2);
    HB_CHECK_EQ(w.line, 3);
    HB_CHECK_CONTAINS(w.message, "second");
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"warnings", case_warnings},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
