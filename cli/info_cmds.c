/* cli/info_cmds.c - doctor, status and audit: what the machine offers, what
 * the store holds, and what happened. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char usage_doctor[] =
    "usage: hotbox doctor [--measure] [--json]\n\n"
    "Says what this machine offers hotbox: whether the worker starts, every\n"
    "compiler isolation backend (microvm, namespace, local) with works/doesn't\n"
    "and the reason, which one `auto` picks and why, the plugin containment\n"
    "(seccomp, namespaces) and resource limits (rlimits, cgroups), and the\n"
    "effective containment of a worker started per profile, read from outside\n"
    "through /proc: host uid, uid inside and what it maps to, capabilities,\n"
    "seccomp and no_new_privs of every process of the sandbox. The machine's\n"
    "permanent notices (the KVM verdict, the cgroup mode), which other commands\n"
    "show only once per machine, are always here.\n"
    "--measure also times one compile on each working backend (a microVM under\n"
    "TCG takes tens of seconds). --json prints one JSON object (docs/events.md).\n"
    "Creates nothing: without a state directory a temporary one is used.\n";

/* The report as JSON: "key: value" lines at the left margin are fields, a
 * "title:" line opens a section of the lines below it. */
static json_t *doctor_json(const char *report, int r)
{
    json_t *o = json_object(), *fields = json_object(), *sections = json_object(), *cur = NULL;
    json_object_set_new(o, "event", json_string("doctor"));
    json_object_set_new(o, "ok", json_boolean(r == 0));
    for (const char *p = report ? report : ""; *p;) {
        size_t len = strcspn(p, "\n");
        char *line = strndup(p, len);
        p += len + (p[len] == '\n');
        if (!line)
            break;
        char *colon = strstr(line, ": ");
        size_t l = strlen(line);
        if (l == 0) {
            cur = NULL;
        } else if (line[0] != ' ' && l > 1 && line[l - 1] == ':') {
            line[l - 1] = '\0';
            cur = json_array();
            json_object_set_new(sections, line, cur);
        } else if (cur) {
            json_array_append_new(cur, json_string(line + strspn(line, " ")));
        } else if (line[0] != ' ' && colon) {
            *colon = '\0';
            json_object_set_new(fields, line, json_string(colon + 2));
        }
        free(line);
    }
    json_object_set_new(o, "fields", fields);
    json_object_set_new(o, "sections", sections);
    json_object_set_new(o, "report", json_string(report ? report : ""));
    return o;
}

int cmd_doctor(const cli_global *g, int argc, char **argv)
{
    bool measure = false, json = false;
    const cli_opt opts[] = {
CLI_FLAG("measure", &measure), CLI_FLAG("json", &json), {0}};
    int rc = cli_parse(argc, argv, "doctor", CLI_HELP(usage_doctor), opts, CLI_NO_OPERANDS);
    if (rc >= 0)
        return rc;
    /* Read-only: a missing state directory is not created; the probe
     * workers use a temporary one, removed after. */
    cli_global tg = *g;
    char *tmp = NULL;
    if (cli_state_dir_absent(g)) {
        const char *t = getenv("TMPDIR");
        if (asprintf(&tmp, "%s/hotbox-doctor-XXXXXX", t && *t ? t : "/tmp") < 0 || !mkdtemp(tmp)) {
            cli_error("doctor: cannot create a temporary state directory: %s", strerror(errno));
            free(tmp);
            return HB_EXIT_FAILED;
        }
        tg.state_dir = tmp;
    }
    tg.machine_notices = true; /* doctor shows them every time */
    hb_manager *m;
    rc = HB_EXIT_FAILED;
    if (cli_manager(&tg, &m) < 0)
        goto out;
    char *report = NULL;
    int r = hb_doctor(m, measure, &report);
    if (json) {
        cli_json_print(stdout, doctor_json(report, r));
    } else if (report) {
        fputs(report, stdout);
    }
    hb_free(report);
    hb_manager_free(m);
    rc = r < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
out:
    if (tmp) {
        cli_remove_tree(tmp);
        free(tmp);
    }
    return rc;
}

int cmd_status(const cli_global *g, int argc, char **argv)
{
    hb_manager *m;
    int rc = cli_manager_existing(g, "no plugins stored yet", &m);
    if (rc <= 0)
        return rc < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
    char **plugins = NULL;
    int r = hb_plugins(m, &plugins);
    if (r < 0) {
        cli_error("status: %s", hb_strerror(r));
        hb_manager_free(m);
        return HB_EXIT_FAILED;
    }
    printf("store: %s\n", hb_manager_state_dir(m));
    if (!plugins[0])
        printf("no plugins stored yet\n");
    else
        printf("%-20s %8s %10s %8s  %s\n", "PLUGIN", "VERSIONS", "NEWEST", "ACTIVE", "BAD");
    for (char **p = plugins; *p; p++) {
        hb_version_info *v = NULL;
        size_t n = 0;
        if (hb_versions(m, *p, &v, &n) < 0 || n == 0)
            continue;
        char active[32] = "-";
        unsigned bad = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].status == HB_VERSION_ACTIVE)
                snprintf(active, sizeof(active), "v%" PRIu64, v[i].version);
            bad += v[i].status == HB_VERSION_BAD;
        }
        char newest[64];
        snprintf(newest, sizeof(newest), "v%" PRIu64 " %s", v[n - 1].version,
                 hb_version_status_name(v[n - 1].status));
        printf("%-20s %8zu %10s %8s  %u\n", *p, n, newest, active, bad);
        hb_free(v);
    }
    hb_free(plugins);
    char *log = NULL;
    if (hb_audit_read(m, NULL, 1, &log) == 0 && log && *log) {
        /* the last five security events */
        const char *lines[5] = {0};
        size_t k = 0;
        for (char *l = strtok(log, "\n"); l; l = strtok(NULL, "\n"))
            lines[k++ % 5] = l;
        printf("\nlatest security events:\n");
        for (size_t i = k > 5 ? k - 5 : 0; i < k; i++)
            printf("  %s\n", lines[i % 5]);
    }
    hb_free(log);
    hb_manager_free(m);
    putchar('\n');
    cli_console_print_status(g);
    return HB_EXIT_OK;
}

static const char usage_audit[] =
    "usage: hotbox audit [--plugin NAME] [--security] [--json]\n\n"
    "Prints the audit log: loads and swaps (plugin, version, object checksum,\n"
    "profile), refusals, seccomp denials, limit kills, crashes and rollbacks,\n"
    "oldest first. --security keeps security events only; --json prints the\n"
    "stored JSON lines. Creates nothing: without a state directory there is\n"
    "no log.\n";

int cmd_audit(const cli_global *g, int argc, char **argv)
{
    const char *plugin = NULL;
    bool security = false, json = false;
    const cli_opt opts[] = {CLI_STR("plugin", &plugin), CLI_FLAG("security", &security),
                            CLI_FLAG("json", &json), {0}};
    int rc = cli_parse(argc, argv, "audit", CLI_HELP(usage_audit), opts, CLI_NO_OPERANDS);
    if (rc >= 0)
        return rc;
    hb_manager *m;
    if ((rc = cli_manager_existing(g, json ? NULL : "no audit log", &m)) <= 0)
        return rc < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
    char *log = NULL;
    int r = hb_audit_read(m, plugin, security, &log);
    if (r < 0)
        return cli_manager_end(m, r, NULL);
    for (char *l = strtok(log, "\n"); l; l = strtok(NULL, "\n")) {
        if (json) {
            puts(l);
            continue;
        }
        json_t *o = json_loads(l, 0, NULL);
        if (!o)
            continue;
        const char *t = json_string_value(json_object_get(o, "time"));
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *pl = json_string_value(json_object_get(o, "plugin"));
        const char *msg = json_string_value(json_object_get(o, "message"));
        json_t *sec = json_object_get(o, "security");
        printf("%s %s%-14s %-12s %s\n", t ? t : "", json_is_true(sec) ? "!" : " ", kind ? kind : "",
               pl ? pl : "", msg ? msg : "");
        json_decref(o);
    }
    hb_free(log);
    return cli_manager_end(m, 0, NULL);
}
