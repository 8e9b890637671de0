/* cli/info_cmds.c - doctor, status and audit: what the machine offers, what
 * the store holds, and what happened. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static bool help_asked(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return true;
    return false;
}

int cmd_doctor(const cli_global *g, int argc, char **argv)
{
    bool measure = false;
    if (help_asked(argc, argv)) {
        puts("usage: hotbox doctor [--measure]\n\n"
             "Says what this machine offers hotbox: whether the worker starts, every\n"
             "compiler isolation backend (microvm, namespace, local) with works/doesn't\n"
             "and the reason, which one `auto` picks and why, the plugin containment\n"
             "(seccomp, namespaces) and resource limits (rlimits, cgroups), and the\n"
             "effective containment of a worker started per profile, read from outside\n"
             "through /proc: host uid, uid inside and what it maps to, capabilities,\n"
             "seccomp and no_new_privs of every process of the sandbox.\n"
             "--measure also times one compile on each working backend (a microVM under\n"
             "TCG takes tens of seconds).");
        return HB_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--measure"))
            measure = true;
        else {
            cli_error("doctor: unknown argument %s", argv[i]);
            return HB_EXIT_USAGE;
        }
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    char *report = NULL;
    int r = hb_doctor(m, measure, &report);
    if (report)
        fputs(report, stdout);
    hb_free(report);
    hb_manager_free(m);
    return r < 0 ? HB_EXIT_FAILED : HB_EXIT_OK;
}

int cmd_status(const cli_global *g, int argc, char **argv)
{
    if (help_asked(argc, argv) || argc != 1) {
        fputs("usage: hotbox status\n\nShows every plugin in the store: its newest and active versions and\n"
              "their statuses, and the latest security events from the audit log. A\n"
              "running `hotbox watch` shows live usage and metrics itself.\n",
              argc != 1 && !help_asked(argc, argv) ? stderr : stdout);
        return help_asked(argc, argv) ? HB_EXIT_OK : HB_EXIT_USAGE;
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
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
    return HB_EXIT_OK;
}

int cmd_audit(const cli_global *g, int argc, char **argv)
{
    const char *plugin = NULL;
    bool security = false, json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: hotbox audit [--plugin NAME] [--security] [--json]\n\n"
                 "Prints the audit log: loads and swaps (plugin, version, object checksum,\n"
                 "profile), refusals, seccomp denials, limit kills, crashes and rollbacks,\n"
                 "oldest first. --security keeps security events only; --json prints the\n"
                 "stored JSON lines.");
            return HB_EXIT_OK;
        }
        if (!strcmp(argv[i], "--plugin") && i + 1 < argc)
            plugin = argv[++i];
        else if (!strcmp(argv[i], "--security"))
            security = true;
        else if (!strcmp(argv[i], "--json"))
            json = true;
        else {
            cli_error("audit: unknown argument %s", argv[i]);
            return HB_EXIT_USAGE;
        }
    }
    hb_manager *m;
    if (cli_manager(g, &m) < 0)
        return HB_EXIT_FAILED;
    char *log = NULL;
    int r = hb_audit_read(m, plugin, security, &log);
    if (r < 0) {
        cli_error("%s", hb_manager_last_error(m));
        hb_manager_free(m);
        return HB_EXIT_FAILED;
    }
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
    hb_manager_free(m);
    return HB_EXIT_OK;
}
