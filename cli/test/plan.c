/* cli/test/plan.c - which cases run, and in which jobs. A job is a list of
 * steps run in order in one sandbox: a plugin's tests (split over several
 * jobs when there are fewer plugins than job slots), or a plugin's whole
 * upgrade path. -k and --shard select cases here. */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool selected(run *R, const char *plugin, const char *symbol)
{
    char id[512];
    snprintf(id, sizeof(id), "%s.%s", plugin, symbol);
    if (R->pattern && fnmatch(R->pattern, id, 0) != 0)
        return false;
    if (R->shard_n > 1) {
        /* In upgrade mode a plugin's sequence is one unit: shard by plugin. */
        const char *key = R->upgrade ? plugin : id;
        if (fnv1a64(key) % R->shard_n != R->shard_i - 1)
            return false;
    }
    return true;
}

static bool is_test(const char *s)
{
    return !strncmp(s, "hb_test_", 8) && s[8];
}

size_t cli_test_count_tests(char **ex)
{
    size_t n = 0;
    for (size_t i = 0; ex && ex[i]; i++)
        n += is_test(ex[i]);
    return n;
}

static int new_case(run *R, tplugin *p, const char *name, const char *symbol, size_t *idx)
{
    tr_case *nc = realloc(R->cases, (R->ncases + 1) * sizeof(*nc));
    if (!nc)
        return -ENOMEM;
    R->cases = nc;
    tr_case *c = &nc[R->ncases];
    memset(c, 0, sizeof(*c));
    c->plugin = strdup(p->name);
    c->name = strdup(name);
    c->id = tr_printf("%s.%s", p->name, symbol);
    if (!c->plugin || !c->name || !c->id) {
        tr_case_release(c);
        return -ENOMEM;
    }
    *idx = R->ncases++;
    return 0;
}

static int add_step(job *J, step s)
{
    step *ns = realloc(J->steps, (J->nsteps + 1) * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    J->steps = ns;
    ns[J->nsteps++] = s;
    return 0;
}

static job *new_job(run *R, tplugin *p)
{
    job *nj = realloc(R->jobs, (R->njobs + 1) * sizeof(*nj));
    if (!nj)
        return NULL;
    R->jobs = nj;
    job *J = &nj[R->njobs++];
    memset(J, 0, sizeof(*J));
    J->p = p;
    return J;
}

/* Adds the test steps of one version's exports, each repeated. */
static int plan_tests(run *R, job *J, tplugin *p, char **ex, const char *suffix)
{
    for (size_t i = 0; ex && ex[i]; i++) {
        if (!is_test(ex[i]) || !selected(R, p->name, ex[i]))
            continue;
        for (unsigned k = 1; k <= R->repeat; k++) {
            char *name = R->repeat > 1 ? tr_printf("%s%s#%u", ex[i], suffix, k)
                                       : tr_printf("%s%s", ex[i], suffix);
            size_t idx;
            int r = name ? new_case(R, p, name, ex[i], &idx) : -ENOMEM;
            free(name);
            if (r < 0 || (r = add_step(J, (step){STEP_TEST, p, ex[i], idx})) < 0)
                return r;
        }
    }
    return 0;
}

int cli_test_plan(run *R)
{
    for (size_t pi = 0; pi < R->nplugins; pi++) {
        tplugin *p = &R->plugins[pi];
        size_t idx;
        int r;
        if (!p->built) {
            if (!selected(R, p->name, "build"))
                continue;
            job *J = new_job(R, p);
            if (!J || (r = new_case(R, p, "build", "build", &idx)) < 0 ||
                (r = add_step(J, (step){STEP_BUILD, p, NULL, idx})) < 0)
                return -ENOMEM;
            continue;
        }
        if (p->ntests == 0) {
            cli_test_note(R, "%s v%" PRIu64 " exports no hb_test_* functions", p->name, p->version);
            if (R->require_tests && selected(R, p->name, "tests")) {
                job *J = new_job(R, p);
                if (!J || (r = new_case(R, p, "tests", "tests", &idx)) < 0 ||
                    (r = add_step(J, (step){STEP_NOTESTS, p, NULL, idx})) < 0)
                    return -ENOMEM;
            }
            continue;
        }
        if (R->upgrade && p->prev) {
            job *J = new_job(R, p);
            if (!J)
                return -ENOMEM;
            char *sfx_old = tr_printf("@v%" PRIu64, p->prev);
            char *sfx_new = tr_printf("@v%" PRIu64 "-upgraded", p->version);
            char *sfx_back = tr_printf("@v%" PRIu64 "-rolled-back", p->prev);
            char *n_to = tr_printf("switch-to@v%" PRIu64, p->prev);
            char *n_up = tr_printf("upgrade@v%" PRIu64 "->v%" PRIu64, p->prev, p->version);
            char *n_back = tr_printf("rollback@v%" PRIu64 "->v%" PRIu64, p->version, p->prev);
            size_t before = R->ncases;
            r = (!sfx_old || !sfx_new || !sfx_back || !n_to || !n_up || !n_back) ? -ENOMEM : 0;
            if (r == 0 && (r = new_case(R, p, n_to, "upgrade", &idx)) == 0)
                r = add_step(J, (step){STEP_TO_OLD, p, NULL, idx});
            if (r == 0)
                r = plan_tests(R, J, p, p->prev_exports, sfx_old);
            if (r == 0 && (r = new_case(R, p, n_up, "upgrade", &idx)) == 0)
                r = add_step(J, (step){STEP_UPGRADE, p, NULL, idx});
            if (r == 0)
                r = plan_tests(R, J, p, p->exports, sfx_new);
            if (r == 0 && (r = new_case(R, p, n_back, "upgrade", &idx)) == 0)
                r = add_step(J, (step){STEP_ROLLBACK, p, NULL, idx});
            if (r == 0)
                r = plan_tests(R, J, p, p->prev_exports, sfx_back);
            free(sfx_old);
            free(sfx_new);
            free(sfx_back);
            free(n_to);
            free(n_up);
            free(n_back);
            if (r < 0)
                return r;
            p->up_first = before;
            p->up_end = R->ncases;
            if (R->ncases - before == 3) {
                /* -k selected none of its tests: skip the swaps too. */
                for (size_t c = before; c < R->ncases; c++)
                    tr_case_release(&R->cases[c]);
                R->ncases = before;
                p->up_end = before;
                free(J->steps);
                R->njobs--;
            }
            continue;
        }
        /* Tests of one plugin share a sandbox; with fewer plugins than jobs
         * a plugin's tests are split so every job slot has work. */
        job *J = new_job(R, p);
        if (!J)
            return -ENOMEM;
        size_t first = R->njobs - 1;
        if ((r = plan_tests(R, J, p, p->exports, "")) < 0)
            return r;
        J = &R->jobs[first];
        if (J->nsteps == 0) {
            free(J->steps);
            R->njobs--;
            continue;
        }
        size_t parts = 1;
        if (R->nplugins < R->jobs_n)
            parts = (R->jobs_n + R->nplugins - 1) / R->nplugins;
        if (parts > J->nsteps)
            parts = J->nsteps;
        if (parts > 1) {
            step *all = J->steps;
            size_t n = J->nsteps;
            J->steps = NULL;
            J->nsteps = 0;
            for (size_t k = 1; k < parts; k++)
                if (!new_job(R, p))
                    return -ENOMEM;
            for (size_t k = 0; k < n; k++)
                if (add_step(&R->jobs[first + k % parts], all[k]) < 0)
                    return -ENOMEM;
            free(all);
        }
    }
    return 0;
}
