/*
 * harness/runtime.c - the worker-wide part of the plugin.json "runtime"
 * section (docs/plugin-json.md): env and data.
 *
 * A sandbox's worker gets the union of the env and data of the plugins
 * loaded into it (the first value of a variable wins). They are given to
 * the worker when it starts: a load that adds something while a worker
 * runs checkpoints the loaded plugins and restarts the worker (their state
 * carried); when that checkpoint fails, a notice says the settings take
 * effect at the next restart.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "argv.h"
#include "jail.h"
#include "sandbox_impl.h"
#include "settings.h"

/* Adds the items of add not yet in *set (env: by name); how many it added,
 * or -1 when out of memory. */
static int merge(char ***set, char *const *add, bool by_name)
{
    int added = 0;
    hb_argv v = HB_ARGV_INIT;
    hb__argv_push_all(&v, *set);
    for (; add && *add; add++) {
        bool have = false;
        size_t n = by_name ? strcspn(*add, "=") + 1 : strlen(*add) + 1;
        for (char **s = v.v; s && *s && !have; s++)
            have = !strncmp(*s, *add, n);
        if (!have) {
            hb__argv_push(&v, *add);
            added++;
        }
    }
    char **res = hb__argv_take(&v);
    if (!res)
        return -1;
    hb__strv_free(*set);
    *set = res;
    return added;
}

/* A jail that drops root binds as an unprivileged host uid: a data
 * directory it cannot reach would keep the worker from starting, so such a
 * load is refused up front. 0, or -EACCES naming the path. */
static int reachable(hb_sandbox *sb, const char *name, const char *dir)
{
    if (geteuid() != 0 || !hb_jail_drops_root())
        return 0;
    char *p = strdup(dir);
    if (!p)
        return 0;
    int r = 0;
    for (char *c = p + 1;; c++) {
        bool end = *c == 0;
        if (*c == '/' || end) {
            *c = 0;
            struct stat st;
            mode_t need = end ? (S_IXOTH | S_IROTH) : S_IXOTH;
            if (stat(p, &st) == 0 && (st.st_mode & need) != need) {
                r = hb__sandbox_fail(sb, -EACCES,
                                     "%s: plugin.json runtime.data %s: %s is not %s by others, "
                                     "and the worker's jail binds it as an unprivileged user",
                                     name, dir, p, end ? "readable and searchable" : "searchable");
                break;
            }
            if (end)
                break;
            *c = '/';
        }
    }
    free(p);
    return r;
}

int hb__runtime_merge(hb_sandbox *sb, const char *name, const char *dir)
{
    hb__runtime_settings rt;
    char *err = NULL;
    if (hb__runtime_read(dir, &rt, &err) < 0) { /* the compile reports a bad file */
        free(err);
        return 0;
    }
    for (char **d = rt.data; d && *d; d++) {
        int r = reachable(sb, name, *d);
        if (r < 0) {
            hb__runtime_settings_release(&rt);
            return r;
        }
    }
    int ae = merge(&sb->rt_env, rt.env, true);
    int ad = merge(&sb->rt_data, rt.data, false);
    if (ae < 0 || ad < 0) {
        hb__emit(sb->m, sb, HB_EVENT_WARNING, name, 0, 0, -ENOMEM, NULL,
                 "%s: runtime env/data of plugin.json not applied: out of memory", name);
    } else if ((ae > 0 || ad > 0) && hb__wc_alive(&sb->wc)) {
        /* The running worker started without them: a fresh one, with the
         * loaded plugins' state carried by a checkpoint taken just now. */
        if (sb->nslots > 0 && hb_checkpoint(sb, NULL) < 0)
            hb__emit(sb->m, sb, HB_EVENT_NOTICE, name, 0, 0, 0, NULL,
                     "%s: plugin.json runtime env/data take effect when the worker of sandbox "
                     "%s next restarts (checkpointing for a restart now failed: %s)",
                     name, sb->name, hb_sandbox_last_error(sb));
        else
            hb__restart_worker(sb, "was started without the runtime env/data of plugin.json");
    }
    hb__runtime_settings_release(&rt);
    return 0;
}
