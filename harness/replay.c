/* harness/replay.c - hb_replay: a plugin's recorded calls replayed against
 * two versions, each in a shadow sandbox of its own, each segment from
 * the same recorded checkpoint, and the calls whose outcomes differ
 * (docs/replay.md). The recording file is versions/recording.c's; loading
 * is replay_load.c's, comparing replay_diff.c's. */
#include "replay_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "sandbox_impl.h"
#include "util.h"

typedef struct report {
    hb_replay_report pub; /* first: hb_replay_report_free takes it */
    hb_replay_diff *diffs;
    size_t cap;
    char *plugin, *recording;
} report;

void hb_replay_report_free(hb_replay_report *r)
{
    if (!r)
        return;
    report *rep = (report *)r;
    for (size_t i = 0; i < r->ndiffs; i++) {
        free((char *)rep->diffs[i].function);
        free((char *)rep->diffs[i].signature);
        free((char *)rep->diffs[i].args);
        free((char *)rep->diffs[i].old_result);
        free((char *)rep->diffs[i].new_result);
    }
    free(rep->diffs);
    free(rep->plugin);
    free(rep->recording);
    free(rep);
}

/* Everything one replay holds. */
typedef struct run {
    hb_manager *m;
    hb_replay_options o;
    char *dir, *name, *file;
    hb_recording rec;
    hb_sandbox *side[2];   /* old, new */
    hb_version_rec vrec[2];
    report *rep;
} run;

/* Sets the manager's last error and returns code. */
#define fail(x, code, ...) (hb__set_mgr_error((x)->m, __VA_ARGS__), (code))

/* Live recorders of the plugin in this manager write what they hold, so
 * the replay sees every call made so far (watch mode's --replay). */
static void flush_live(hb_manager *m, const char *plugin)
{
    pthread_mutex_lock(&m->lock);
    hb_sandbox *list = m->sandboxes;
    pthread_mutex_unlock(&m->lock);
    for (hb_sandbox *sb = list; sb; sb = sb->next)
        if (sb->recorder)
            hb__recorder_flush(sb, plugin);
}

static int new_side(run *x, int i)
{
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    char *name = hb__asprintf("replay-%s-%s", i ? "new" : "old", x->name);
    if (!name)
        return fail(x, -ENOMEM, "out of memory");
    so.name = name;
    so.profile = x->o.profile;
    so.no_auto_restart = 1; /* a crash is an outcome; the next segment restarts */
    so.no_probation = 1;
    int r = hb_sandbox_new(x->m, &so, &x->side[i]);
    free(name);
    if (r < 0)
        return fail(x, r, "replay of %s: no worker: %s", x->name, hb_manager_last_error(x->m));
    x->side[i]->named = false; /* the name is for events; no checkpoint persists */
    return 0;
}

/* The stored version v of the plugin, verified. */
static int find_version(run *x, uint64_t v, hb_version_rec *out)
{
    hb_version_rec *all;
    size_t n;
    int r = hb__versions_of(x->side[1], x->name, &all, &n);
    if (r < 0)
        return fail(x, r, "replay of %s: cannot list its versions: %s", x->name, hb_strerror(r));
    r = HB_ENOVERSION;
    for (size_t i = 0; i < n; i++)
        if (all[i].version == v) {
            *out = all[i];
            memset(&all[i], 0, sizeof(all[i]));
            r = 0;
        }
    hb_store_list_free(all, n);
    if (r < 0)
        return fail(x, r, "replay of %s: there is no stored v%llu (gone to gc?)", x->name,
                    (unsigned long long)v);
    char *err = NULL;
    if ((r = hb__verify_object(x->m, out, &err)) < 0)
        (void)fail(x, r, "replay of %s v%llu: %s", x->name, (unsigned long long)v,
             err ? err : hb_strerror(r));
    free(err);
    return r;
}

/* The two versions: old as recorded (or asked), new as built (or asked). */
static int pick_versions(run *x)
{
    uint64_t old = x->o.old_version;
    for (size_t i = x->rec.nsegments; !old && i-- > 0;)
        if (strcmp(x->rec.segments[i].plugin, x->name) == 0)
            old = x->rec.segments[i].version;
    int r;
    if (!x->o.new_version) {
        hb_build_out b = {0};
        r = hb__build_for(x->side[1], x->dir, x->name, &b);
        if (r < 0) {
            (void)fail(x, r, "replay of %s: building its current sources failed: %s", x->name,
                 x->side[1]->last_error ? x->side[1]->last_error : hb_strerror(r));
            hb__build_out_release(&b);
            return r;
        }
        x->o.new_version = b.rec.version;
        hb__build_out_release(&b);
    }
    if ((r = find_version(x, old, &x->vrec[0])) < 0 ||
        (r = find_version(x, x->o.new_version, &x->vrec[1])) < 0)
        return r;
    return 0;
}

static bool excluded(const run *x, const char *fn)
{
    for (const char *const *e = x->o.exclude; e && *e; e++)
        if (strcmp(*e, fn) == 0)
            return true;
    return false;
}

static int add_diff(run *x, size_t index, const hb_rec_call *c, const hb_replay_outcome *a,
                    const hb_replay_outcome *b)
{
    report *rep = x->rep;
    hb_replay_diff *nd = hb__grow(rep->diffs, rep->pub.ndiffs, &rep->cap, sizeof(*nd));
    if (!nd)
        return -ENOMEM;
    rep->diffs = nd;
    rep->pub.diffs = nd;
    hb_replay_diff *d = &rep->diffs[rep->pub.ndiffs];
    /* Its own copies: the recording's strings go with the recording. */
    *d = (hb_replay_diff){.index = index, .offset = c->offset,
                          .function = strdup(c->req.symbol),
                          .signature = strdup(c->req.signature),
                          .args = hb__replay_args_text(c),
                          .old_result = hb__replay_outcome_text(c, a),
                          .new_result = hb__replay_outcome_text(c, b)};
    rep->pub.ndiffs++;
    if (!d->function || !d->signature || !d->args || !d->old_result || !d->new_result)
        return -ENOMEM;
    return 0;
}

/* Calls replayed on one side before the other takes its turn: each worker
 * stays busy (an idle worker sleeps, and waking it costs more than the
 * call), and each side runs in its own process with its own state, so the
 * order between the sides does not matter. */
#define BATCH 1024

/* The outcome of call c on side i (whose load said lr, why). */
static void outcome(run *x, int i, int lr, const char *why, const hb_rec_call *c,
                    hb_replay_outcome *o)
{
    if (lr < 0) { /* the version refused the recorded state: every call says so */
        memset(o, 0, sizeof(*o));
        o->code = lr;
        o->error = why ? strdup(why) : NULL;
    } else {
        hb__replay_call(x->side[i], c, o);
    }
}

/* Loads both sides for segment si and replays its calls. *index counts
 * the plugin's calls across segments. */
static int replay_segment(run *x, size_t si, size_t *index)
{
    const hb_rec_segment *seg = &x->rec.segments[si];
    size_t *batch = malloc(BATCH * sizeof(*batch));
    hb_replay_outcome *old = calloc(BATCH, sizeof(*old));
    char *why[2] = {NULL, NULL};
    int lr[2], r = 0;
    if (!batch || !old) {
        r = -ENOMEM;
        goto out;
    }
    size_t k = 0;
    while (k < x->rec.ncalls && x->rec.calls[k].segment != si)
        k++;
    if (k == x->rec.ncalls)
        goto out;
    x->rep->pub.segments++;
    for (int i = 0; i < 2; i++)
        lr[i] = hb__replay_load(x->side[i], x->name, x->dir, &x->vrec[i], seg, &why[i]);
    while (k < x->rec.ncalls && r == 0) {
        size_t n = 0;
        for (; k < x->rec.ncalls && n < BATCH; k++)
            if (x->rec.calls[k].segment == si)
                batch[n++] = k;
        for (size_t j = 0; j < n; j++)
            outcome(x, 0, lr[0], why[0], &x->rec.calls[batch[j]], &old[j]);
        for (size_t j = 0; j < n; j++) {
            const hb_rec_call *c = &x->rec.calls[batch[j]];
            hb_replay_outcome neu;
            outcome(x, 1, lr[1], why[1], c, &neu);
            x->rep->pub.calls++;
            if (excluded(x, c->req.symbol))
                x->rep->pub.excluded++;
            else if (r == 0 && !hb__replay_same(c, &old[j], &neu))
                r = add_diff(x, *index, c, &old[j], &neu);
            hb__replay_outcome_release(&old[j]);
            hb__replay_outcome_release(&neu);
            (*index)++;
        }
    }
out:
    free(batch);
    free(old);
    free(why[0]);
    free(why[1]);
    return r < 0 ? fail(x, r, "out of memory") : 0;
}

static int open_recording(run *x)
{
    char *err = NULL;
    x->file = x->o.recording ? strdup(x->o.recording)
                             : hb__asprintf("%s/recordings/%s.hbrec", x->m->state_dir, x->name);
    if (!x->file)
        return fail(x, -ENOMEM, "out of memory");
    flush_live(x->m, x->name);
    int r = hb__rec_read(x->file, &x->rec, &err);
    if (r == -ENOENT)
        (void)fail(x, r, "%s: no recording of %s (record one with `--record`, or "
                   "hb_sandbox_options.record_dir)", x->file, x->name);
    else if (r < 0)
        (void)fail(x, r, "%s", err ? err : hb_strerror(r));
    free(err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < x->rec.nsegments; i++)
        if (strcmp(x->rec.segments[i].plugin, x->name) == 0)
            return 0;
    return fail(x, -ENOENT, "%s: the recording holds no calls of %s", x->file, x->name);
}

int hb_replay(hb_manager *m, const char *dir, const hb_replay_options *opts,
              hb_replay_report **out)
{
    if (!m || !dir || !out)
        return -EINVAL;
    static const hb_replay_options defaults = HB_REPLAY_OPTIONS_INIT;
    run x = {.m = m};
    int r = hb__options_take(&hb__replay_options_kind, &x.o, &defaults, opts);
    if (r < 0) {
        hb__set_mgr_error(m, "hb_replay: options version %u is not one this library accepts "
                          "(1 to %u)", opts->version, HB_REPLAY_OPTIONS_VERSION);
        return r;
    }
    char *err = NULL;
    if ((r = hb__resolve_plugin_dir(dir, &x.dir, &x.name, &err)) < 0) {
        hb__set_mgr_error(m, "%s", err ? err : hb_strerror(r));
        free(err);
        return r;
    }
    uint64_t t0 = hb__now_ns();
    if (!(x.rep = calloc(1, sizeof(*x.rep)))) {
        r = fail(&x, -ENOMEM, "out of memory");
        goto out;
    }
    if ((r = open_recording(&x)) < 0 || (r = new_side(&x, 1)) < 0 ||
        (r = pick_versions(&x)) < 0 || (r = new_side(&x, 0)) < 0)
        goto out;
    size_t index = 0;
    for (size_t si = 0; si < x.rec.nsegments && r == 0; si++)
        if (strcmp(x.rec.segments[si].plugin, x.name) == 0)
            r = replay_segment(&x, si, &index);
    if (r < 0)
        goto out;
    report *rep = x.rep;
    rep->pub.plugin = rep->plugin = x.name;
    rep->pub.recording = rep->recording = x.file;
    x.name = x.file = NULL;
    rep->pub.old_version = x.vrec[0].version;
    rep->pub.new_version = x.vrec[1].version;
    rep->pub.seconds = (double)(hb__now_ns() - t0) / 1e9;
    *out = &rep->pub;
    x.rep = NULL;
out:
    if (x.rep)
        hb_replay_report_free(&x.rep->pub);
    hb_sandbox_free(x.side[0]);
    hb_sandbox_free(x.side[1]);
    hb_version_rec_release(&x.vrec[0]);
    hb_version_rec_release(&x.vrec[1]);
    hb__rec_release(&x.rec);
    free(x.dir);
    free(x.name);
    free(x.file);
    return r;
}
