/* tests/harness/test_reload_path.c - what stays off the save -> swap path.
 * A compile's job directory is removed after the reload's SWAPPED event
 * (its unlinks cost milliseconds the event does not wait for), and it is
 * still removed before hb_reload returns: nothing is left in the state's
 * tmp/. One case per process: test_reload_path <case>. */
#include <dirent.h>

#include "e2e.h"

static e2e_events ev;
static int jobs_at_swap = -1; /* job directories in tmp/ when SWAPPED was raised */

static int count_jobs(void)
{
    char tmp[4300];
    snprintf(tmp, sizeof(tmp), "%s/.hotbox/tmp", e2e_root);
    DIR *d = opendir(tmp);
    HB_CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "job-", 4) == 0;
    closedir(d);
    return n;
}

static void on_event(const hb_event *e, void *ud)
{
    if (e->type == HB_EVENT_SWAPPED)
        jobs_at_swap = count_jobs();
    e2e_on_event(e, ud);
}

static void case_job_dir_after_event(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager_options o = e2e_options(on_event, &ev);
    hb_manager *m = e2e_manager_with(&o);
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(count_jobs(), 0);
    e2e_write("counter", "counter.c", e2e_counter_src(2, 100, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    /* The compile's job directory was still there when the event went out
     * (its removal is not on the path) ... */
    HB_CHECK_EQ(jobs_at_swap, 1);
    /* ... and gone once hb_reload returned. */
    HB_CHECK_EQ(count_jobs(), 0);
    /* A failed compile leaves nothing either. */
    e2e_write("counter", "counter.c", "this is not C\n");
    HB_CHECK(hb_reload(sb, "counter") < 0);
    HB_CHECK_EQ(count_jobs(), 0);
    hb_sandbox_free(sb);
    hb_manager_free(m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"job_dir_after_event", case_job_dir_after_event},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
