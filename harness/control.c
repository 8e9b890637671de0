/* harness/control.c - control over a sandbox's recovery from outside: its
 * status (state, worker, counters, active versions), a restart on request
 * (which also brings back a sandbox left down by no_auto_restart or failed
 * by a crash loop), and the list of a manager's sandboxes. */
#include <errno.h>
#include <stdlib.h>

#include "sandbox_impl.h"

static hb_sandbox_state state_of(const hb_sandbox *sb)
{
    if (!sb->m)
        return HB_SANDBOX_DETACHED;
    if (sb->failed)
        return HB_SANDBOX_FAILED;
    if (sb->down)
        return HB_SANDBOX_DOWN;
    if (sb->restart_pending)
        return HB_SANDBOX_RESTARTING;
    return HB_SANDBOX_RUNNING;
}

int hb_sandbox_status_get(hb_sandbox *sb, hb_sandbox_status *out)
{
    if (!sb || !out)
        return -EINVAL;
    hb_sandbox_plugin *p = calloc(sb->nslots ? sb->nslots : 1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    for (size_t i = 0; i < sb->nslots; i++) {
        const hb_slot *s = &sb->slots[i];
        p[i] = (hb_sandbox_plugin){s->name, s->version, s->schema, s->on_probation};
    }
    free(sb->pub_plugins);
    sb->pub_plugins = p;
    hb_sandbox_status st = {0};
    st.name = sb->name;
    st.state = state_of(sb);
    bool live = sb->wc.pid > 0 && st.state == HB_SANDBOX_RUNNING;
    st.worker_pid = live ? (int)(sb->wc.worker_pid > 0 ? sb->wc.worker_pid : sb->wc.pid) : 0;
    st.crashes = sb->crashes;
    st.restarts = sb->restarts;
    st.plugins = p;
    st.nplugins = sb->nslots;
    *out = st;
    return 0;
}

int hb_sandbox_restart(hb_sandbox *sb)
{
    if (!sb)
        return -EINVAL;
    int r = hb__sandbox_usable(sb);
    if (r < 0)
        return r;
    const char *why = sb->down ? "was down and was restarted on request"
                      : sb->failed ? "had failed (crash loop) and was restarted on request"
                                   : "was restarted on request";
    sb->down = false;
    sb->down_why = NULL;
    sb->failed = false;
    sb->restart_pending = false;
    hb_mon_policy_reset(sb->policy);
    return hb__restart_worker(sb, why);
}

int hb_manager_sandboxes(hb_manager *m, hb_sandbox **out, size_t cap, size_t *count)
{
    if (!m || !count || (cap && !out))
        return -EINVAL;
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    for (hb_sandbox *sb = m->sandboxes; sb; sb = sb->next, n++)
        if (n < cap)
            out[n] = sb;
    pthread_mutex_unlock(&m->lock);
    *count = n;
    return 0;
}

const char *hb_sandbox_last_crash(hb_sandbox *sb, int64_t *at)
{
    if (!sb || !sb->last_crash)
        return NULL;
    if (at)
        *at = sb->last_crash_at;
    return sb->last_crash;
}
