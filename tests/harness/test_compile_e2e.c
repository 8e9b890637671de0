/* End-to-end tests of how compiles reach the API user (issues 11.12, 12.7):
 * warnings of a successful compile are reported, structured, without
 * failing the build. */
#include "e2e.h"
#include "compiler.h"

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
    hb_manager_options o = e2e_options(on_event, w);
    return e2e_manager_with(&o);
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

/* Issue 12.6: an isolated compile sees the plugin directory, the siblings
 * its sources include from, the system headers and nothing else: not a file
 * next to the plugin, not the state directory's hotbox.db (here a sibling
 * of the plugin too). Each probe .incbin's a file by absolute path; under
 * isolation the assembler must not find it. */
static void see_too_much(hb_isolation iso)
{
    char why[512] = "";
    char *w = NULL;
    if (hb_compiler_backend_probe(iso, &w) < 0) {
        printf("SKIP: %s backend unavailable: %s\n", hb_compiler_backend_name(iso), w ? w : "?");
        free(w);
        e2e_cleanup();
        exit(77);
    }
    free(w);
    (void)why;
    char plugins[4300], state[4400], secret[4400], db[4500];
    snprintf(plugins, sizeof(plugins), "%s/plugins", e2e_root);
    snprintf(state, sizeof(state), "%s/state", plugins);
    snprintf(secret, sizeof(secret), "%s/secret.txt", plugins);
    snprintf(db, sizeof(db), "%s/hotbox.db", state);
    e2e_write("plugins/shared", "shared.h", "#define SHARED 5\n");
    e2e_write("plugins", "secret.txt", "TOP-SECRET\n");

    hb_manager_options o;
    HB_CHECK_OK(hb_manager_options_init(&o, HB_MANAGER_OPTIONS_VERSION));
    o.state_dir = state;
    o.isolation = iso;
    warn_rec rec = {0};
    o.on_event = on_event;
    o.event_userdata = &rec;
    hb_manager *m = NULL;
    HB_CHECK_OK(hb_manager_new(&o, &m));
    HB_CHECK(access(db, F_OK) == 0);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));

    /* Control: a sibling the plugin includes from is visible. */
    char *ok = e2e_write("plugins/ok", "ok.c",
                         "#include <hotbox/plugin.h>\n#include \"../shared/shared.h\"\n"
                         "int val(void) { return SHARED; }\nHB_PLUGIN(\"ok\", 1, 0, 0, 0, 0);\n");
    int r = hb_load(sb, ok);
    if (r != 0)
        HB_FAIL_("control plugin failed under %s: %s", hb_compiler_backend_name(iso),
                 hb_sandbox_last_error(sb));
    const char *targets[] = {secret, db};
    const char *names[] = {"peek", "peekdb"};
    for (int i = 0; i < 2; i++) {
        char src[9000];
        snprintf(src, sizeof(src),
                 "#include <hotbox/plugin.h>\n"
                 "__asm__(\".section .rodata\\n.incbin \\\"%s\\\"\\n.previous\");\n"
                 "int val(void) { return 1; }\nHB_PLUGIN(\"%s\", 1, 0, 0, 0, 0);\n",
                 targets[i], names[i]);
        char *dir = e2e_write(i ? "plugins/peekdb" : "plugins/peek", "p.c", src);
        r = hb_load(sb, dir);
        if (r != HB_ECOMPILE)
            HB_FAIL_("%s: .incbin of %s under %s: got %d (%s), want HB_ECOMPILE", names[i],
                     targets[i], hb_compiler_backend_name(iso), r, hb_strerror(r));
        HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), targets[i]);
    }
    e2e_free(sb, m);
}

static void case_see_too_much_namespace(void)
{
    see_too_much(HB_ISOLATION_NAMESPACE);
}

static void case_see_too_much_microvm(void)
{
    see_too_much(HB_ISOLATION_MICROVM);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"warnings", case_warnings},
        {"see_too_much_namespace", case_see_too_much_namespace},
        {"see_too_much_microvm", case_see_too_much_microvm},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
