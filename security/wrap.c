/* security/wrap.c - the command that starts a worker: a jail
 * (security/jail.c) around it when the profile asks for namespaces and the
 * machine allows them, the bare worker otherwise (said loudly).
 *
 * The worker's view in its jail, besides what every jail holds (jail.h):
 * the worker binary and the sandbox's object view (read-only, at the store's
 * objects path: LOAD names objects by absolute path, and the view holds only
 * the objects this sandbox loaded), and the scratch directory (read-write)
 * when one is given. The worker is the jail's pid 1 (--as-pid-1): there is
 * no bwrap init without seccomp beside it. When the manager is root the
 * jail joins a root-owned user namespace whose uid 65534 is host uid
 * HB_JAIL_HOST_UID (jail.h: hb_jail_userns_new(); the forked child passes
 * the fd on with hb_jail_drop_root()).
 *
 * Without the jail (bwrap unusable, HOTBOX_BWRAP="") a root manager's
 * strict or standard worker is told to drop root (--run-as, a uid/gid of
 * its sandbox's own, leased with the sandbox's object view: jail.h, worker
 * ids; rootdrop.c) before any plugin code runs, and names its objects by
 * the view's host path (hb_sec_cmd.run_as): the store may be out of that
 * uid's reach. Such a worker (strict or standard, unjailed, root or not)
 * also starts in / (--chdir), not in the manager's working directory. The
 * permissive profile keeps the manager's uid and directory.
 *
 * Environment (the same wrapped or not, and bwrap's own, so /proc/1/environ
 * holds nothing else): PATH=/usr/bin:/bin, HOME and TMPDIR = the scratch
 * directory or /tmp, and LANG, LC_ALL, TZ, ASAN_OPTIONS, UBSAN_OPTIONS,
 * LSAN_OPTIONS when the manager has them. A plugin.json's runtime.env and
 * an instrumented build's variables reach a jailed worker through bwrap's
 * --setenv, never bwrap's own environment: bwrap runs as root under a root
 * manager, and glibc reads GLIBC_TUNABLES, MALLOC_* and the like at its
 * start (compiler/settings.c refuses those names in plugin.json too, as the
 * unjailed worker starts as root before it drops).
 *
 * Inherited fds: bwrap passes its fds through untouched, so the channel is
 * fd N in the worker as it is in bwrap, and stdout/stderr still go where
 * the harness pointed them. */
#include "security.h"
#include "argv.h"
#include "jail.h"

#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const worker_env_keep[] = {"LANG", "LC_ALL", "TZ", "ASAN_OPTIONS",
                                              "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL};

/* Parents before children: a directory bound after one of its
 * subdirectories would hide that bind (a read-only data directory under a
 * writable allow-list directory would become writable). */
static int by_depth(const void *a, const void *b)
{
    size_t la = strlen(((const hb_jail_bind *)a)->path);
    size_t lb = strlen(((const hb_jail_bind *)b)->path);
    return la < lb ? -1 : la > lb;
}

void hb_sec_cmd_release(hb_sec_cmd *c)
{
    if (!c)
        return;
    hb__strv_free(c->argv);
    hb__strv_free(c->envp);
    if (c->userns_fd > 0)
        close(c->userns_fd);
    free(c->warning);
    memset(c, 0, sizeof(*c));
}

int hb_sec_wrap(const hb_sec_spawn *sp, hb_sec_cmd *out, char **err)
{
    if (!sp || !sp->worker_path || !out)
        return -EINVAL;
    const hb_profile_spec *spec = hb_sec_profile(sp->profile);
    if (!spec)
        return hb__seterr(err, -EINVAL, "unknown security profile %d", (int)sp->profile);
    char fdarg[16];
    snprintf(fdarg, sizeof(fdarg), "%d", sp->channel_fd);
    const char *missing = spec->namespaces ? hb_jail_unavailable() : NULL;
    bool wrap = spec->namespaces && !missing;
    bool run_as = !wrap && spec->namespaces && hb_jail_drops_root();
    char *warn = NULL;
    if (!spec->seccomp && !spec->namespaces)
        warn = hb__asprintf("the %s profile contains nothing: plugin code runs without seccomp "
                            "or namespaces and can read your files, use the network and start "
                            "programs",
                            spec->name);
    else if (missing)
        warn = hb__asprintf("namespaces unavailable: %s; the worker runs without a private "
                            "filesystem view, network or pid namespace (the %s profile's "
                            "seccomp filter and rlimits still apply%s)",
                            missing, spec->name,
                            run_as ? "; it drops root to the jail's host uid first" : "");
    const char *scratch = sp->scratch_dir ? sp->scratch_dir : "/tmp";
    char ringarg[16];
    snprintf(ringarg, sizeof(ringarg), "%d", sp->ring_fd);
    /* --allow unix: the filter lets AF_UNIX sockets connect (allow.h).
     * Only in the jail, whose view shows just the listed socket files:
     * without it connect would reach every socket of the host (docker's,
     * D-Bus, the hotbox console), so the opening is not made. */
    bool want_unix = sp->allow_unix && sp->allow_unix[0] && spec->seccomp;
    bool unix_ok = want_unix && wrap;
    if (want_unix && !wrap) {
        char *more = hb__asprintf("allow.connect_unix is not opened without the jail (connect "
                                  "would reach every UNIX socket of the host); %s",
                                  warn ? warn : "no jail");
        free(warn);
        warn = more;
    }
    /* The uid and gid of this sandbox's own (jail.h: worker ids), leased
     * with its object view: never shared with another sandbox's worker. */
    char idarg[32];
    unsigned id = 0;
    if (run_as) {
        int ir = hb_jail_view_identity(sp->objects_src, &id, err);
        if (ir < 0) {
            free(warn);
            return ir;
        }
        snprintf(idarg, sizeof(idarg), "%u:%u", id, id);
    }
    hb_argv wa = HB_ARGV_INIT;
    hb__argv_pushl(&wa, sp->worker_path, "--fd", fdarg, "--profile", spec->name, NULL);
    if (run_as)
        hb__argv_pushl(&wa, "--run-as", idarg, NULL);
    /* Without the jail (which starts it in its scratch directory) the
     * worker would keep the manager's working directory: plugin code
     * starts in / instead. */
    if (!wrap && spec->namespaces)
        hb__argv_pushl(&wa, "--chdir", "/", NULL);
    if (unix_ok)
        hb__argv_pushl(&wa, "--allow", "unix", NULL);
    if (sp->ring_fd > 0)
        hb__argv_pushl(&wa, "--ring", ringarg, NULL);
    if (sp->preload)
        hb__argv_pushl(&wa, "--preload", sp->preload, NULL);
    char **cmd = hb__argv_take(&wa);
    if (!cmd) {
        free(warn);
        return hb__seterr(err, -ENOMEM, "out of memory");
    }
    hb_sec_cmd c = {.wrapped = wrap, .drop_root = wrap && hb_jail_drops_root(), .warning = warn,
                    .run_as = run_as};
    int r = 0;
    if (wrap) {
        size_t ndata = hb__strv_len(sp->data_dirs), nread = hb__strv_len(sp->allow_read);
        size_t nwrite = hb__strv_len(sp->allow_write), nunix = hb__strv_len(sp->allow_unix);
        hb_jail_bind *binds = calloc(4 + ndata + nread + nwrite + nunix, sizeof(*binds));
        if (!binds) {
            hb__strv_free(cmd);
            hb_sec_cmd_release(&c);
            return hb__seterr(err, -ENOMEM, "out of memory");
        }
        size_t nb = 0;
        if (strncmp(sp->worker_path, "/usr/", 5) != 0 || sp->worker_src)
            binds[nb++] = (hb_jail_bind){sp->worker_path, sp->worker_src, false, 0};
        if (sp->objects_dir)
            binds[nb++] = (hb_jail_bind){sp->objects_dir, sp->objects_src, false, 0};
        if (sp->scratch_dir)
            binds[nb++] = (hb_jail_bind){sp->scratch_dir, NULL, true, 0};
        size_t first_rt = nb;
        for (size_t i = 0; i < ndata; i++)
            binds[nb++] = (hb_jail_bind){sp->data_dirs[i], NULL, false, 0};
        if (sp->write_dir)
            binds[nb++] = (hb_jail_bind){sp->write_dir, NULL, true, 0};
        /* allow-lists: after the jail's own mounts (a path under /tmp lands
         * on its tmpfs); a UNIX socket needs no write access to the mount */
        for (size_t i = 0; i < nread; i++)
            binds[nb++] = (hb_jail_bind){sp->allow_read[i], NULL, false, 0};
        for (size_t i = 0; i < nwrite; i++)
            binds[nb++] = (hb_jail_bind){sp->allow_write[i], NULL, true, 0};
        for (size_t i = 0; i < nunix; i++)
            binds[nb++] = (hb_jail_bind){sp->allow_unix[i], NULL, false, 0};
        qsort(binds + first_rt, nb - first_rt, sizeof(*binds), by_depth);
        if (c.drop_root && (r = hb_jail_userns_new(&c.userns_fd, err)) < 0) {
            hb__strv_free(cmd);
            free(binds);
            hb_sec_cmd_release(&c);
            return r;
        }
        hb_argv e = HB_ARGV_INIT;
        if (sp->env)
            hb__argv_push_all(&e, sp->env);
        if (sp->inst_env)
            hb__argv_push_all(&e, sp->inst_env);
        char **extra = hb__argv_take(&e);
        hb_jail j = {.binds = binds,
                     .nbinds = nb,
                     .chdir = scratch,
                     .as_pid_1 = true,
                     .info_fd = sp->info_fd > 0 ? sp->info_fd : -1,
                     .userns_fd = c.userns_fd,
                     .cmd_closes_userns = true, /* close_other_fds, worker/main.c */
                     .setenv = extra};
        r = extra ? hb_jail_argv(&j, cmd, &c.argv) : -ENOMEM;
        hb__strv_free(extra);
        free(binds);
    } else {
        hb_argv a = HB_ARGV_INIT;
        hb__argv_push_all(&a, cmd);
        r = hb__argv_detach(&a, &c.argv);
    }
    hb__strv_free(cmd);
    c.envp = hb_jail_env(scratch, scratch, worker_env_keep, NULL);
    if (c.envp && !wrap && ((sp->env && sp->env[0]) || (sp->inst_env && sp->inst_env[0]))) {
        hb_argv e = HB_ARGV_INIT;
        hb__argv_push_all(&e, c.envp);
        if (sp->env)
            hb__argv_push_all(&e, sp->env);
        if (sp->inst_env)
            hb__argv_push_all(&e, sp->inst_env);
        hb__strv_free(c.envp);
        c.envp = hb__argv_take(&e);
    }
    if (r == -EINVAL) {
        hb_sec_cmd_release(&c);
        return hb__seterr(err, -EINVAL, "a worker environment entry is not NAME=value");
    }
    if (r < 0 || !c.envp || ((missing || !spec->seccomp) && !warn)) {
        hb_sec_cmd_release(&c);
        return hb__seterr(err, -ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}
