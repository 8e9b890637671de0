/* tests/harness/test_runtime_once.c - one reload reads the plugin.json
 * runtime section once (issue 14): the swap's hb__runtime_refresh reads it,
 * and neither the carry decision nor the slot's activation reads it again.
 * Counted with inotify (IN_OPEN on plugin.json, closes watched too): a reload that is a compile
 * cache hit opens it exactly once more than the build alone does. Also:
 * "carry": false in that one reading still turns carry off. One case per
 * process: test_runtime_once <case>. */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/inotify.h>

#include "e2e.h"

static e2e_events ev;

#define NO_HOOKS "HB_PLUGIN(\"rt\", 1, 0, 0, 0, 0);"

/* IN_OPEN events of the watch so far (the kernel queues them at open
 * time, so everything the call made is there when it returns). */
static int opens(int in)
{
    int n = 0;
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t len = read(in, buf, sizeof(buf));
        if (len < 0 && errno == EINTR)
            continue;
        if (len <= 0)
            break;
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *e = (const void *)p;
            n += (e->mask & IN_OPEN) != 0;
            p += sizeof(*e) + e->len;
        }
    }
    return n;
}

static void reload_reads_once(const char *json, bool carry_off)
{
    /* No save/migrate hooks: the static count is carried by its DWARF
     * layout, which "carry": false turns off. */
    char *dir = e2e_write("rt", "rt.c", e2e_counter_src(1, 1, NO_HOOKS));
    e2e_write("rt", "plugin.json", json);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    char path[4300];
    snprintf(path, sizeof(path), "%s/plugin.json", dir);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    HB_CHECK(in >= 0);
    /* With closes watched too, successive opens are not identical events,
     * which inotify would merge into one. */
    HB_CHECK(inotify_add_watch(in, path, IN_OPEN | IN_CLOSE) >= 0);
    int64_t v = 0;
    HB_CHECK_OK(hb_callf(sb, "rt", "increment", ")l", &v));
    HB_CHECK_EQ(v, 1);
    e2e_write("rt", "rt.c", e2e_counter_src(1, 5, NO_HOOKS));
    /* The build alone (a compile and then a cache hit: what the reload's
     * build step does once the object is stored). */
    HB_CHECK_OK(hb_build(m, dir, NULL));
    opens(in);
    HB_CHECK_OK(hb_build(m, dir, NULL));
    int build = opens(in);
    HB_CHECK_OK(hb_reload(sb, "rt"));
    int reload = opens(in);
    HB_CHECK_EQ(ev.count[HB_EVENT_SWAPPED], 1);
    printf("plugin.json opened %d times by a cache-hit build, %d by the reload\n", build,
           reload);
    HB_CHECK_EQ(reload, build + 1);
    HB_CHECK_OK(hb_callf(sb, "rt", "increment", ")l", &v));
    HB_CHECK_EQ(v, carry_off ? 5 : 6); /* the static count carried unless off */
    close(in);
    e2e_free(sb, m);
}

static void case_reload_reads_once(void)
{
    reload_reads_once("{\"runtime\": {\"swap_timeout_ms\": 30000}}\n", false);
}

static void case_carry_off_read_once(void)
{
    reload_reads_once("{\"carry\": false, \"runtime\": {\"swap_timeout_ms\": 30000}}\n", true);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"reload_reads_once", case_reload_reads_once},
        {"carry_off_read_once", case_carry_off_read_once},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
