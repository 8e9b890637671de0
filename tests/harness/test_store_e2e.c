/* tests/harness/test_store_e2e.c - the version store as the harness uses
 * it: persisted checkpoints, pins, bad versions, verify, gc, corrupted
 * objects. Each case: test_store_e2e CASE. */
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/syscall.h>

#include "e2e.h"

static e2e_events ev;

static hb_sandbox *named_sandbox(hb_manager *m, const char *name)
{
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    so.name = name;
    hb_sandbox *sb;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    return sb;
}

static void case_resume_named(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = named_sandbox(m, "suite");
    HB_CHECK_OK(hb_load(sb, dir));
    int64_t v;
    for (int i = 0; i < 6; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    HB_CHECK_OK(hb_checkpoint(sb, "counter"));
    e2e_free(sb, m);
    /* A new manager (a restarted program) resumes from the checkpoint. */
    m = e2e_manager(&ev);
    sb = named_sandbox(m, "suite");
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_LOADED], "resumed");
    HB_CHECK_OK(hb_callf(sb, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 6);
    /* An unnamed sandbox starts fresh. */
    hb_sandbox *anon = e2e_loaded(m, NULL, dir);
    HB_CHECK_OK(hb_callf(anon, "counter", "get", ")l", &v));
    HB_CHECK_EQ(v, 0);
    hb_manager_free(m);
}

static void case_pin(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_version_info vi;
    HB_CHECK_OK(hb_build(m, dir, &vi));
    HB_CHECK_EQ(vi.version, 1);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    hb_sandbox_free(sb);
    e2e_write("counter", "counter.c", e2e_counter_src(2, 10, NULL));
    HB_CHECK_OK(hb_build(m, dir, &vi));
    HB_CHECK_EQ(vi.version, 2);
    uint64_t pinned = 0;
    HB_CHECK_OK(hb_pin(m, "counter", 0, &pinned));
    HB_CHECK_EQ(pinned, 1);
    /* The source still builds to v2, which is rolled back: v1 loads. */
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    hb_sandbox_free(sb);
    /* A new edit builds v3 and loads it. */
    e2e_write("counter", "counter.c", e2e_counter_src(3, 100, NULL));
    HB_CHECK_OK(hb_sandbox_new(m, NULL, &sb));
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 3);
    HB_CHECK_EQ(hb_pin(m, "counter", 42, NULL), HB_ENOVERSION);
    HB_CHECK_EQ(hb_pin(m, "nobody", 0, NULL), HB_ENOVERSION);
    e2e_free(sb, m);
}

static void case_bad_not_retried(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    e2e_write("counter", "counter.c",
              e2e_counter_src(2, 1, "static int init(void) { volatile int *p = 0; return *p; }\n"
                                    "HB_PLUGIN(\"counter\", 1, init, 0, save, migrate);"));
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_ECRASHED);
    int crashes = ev.count[HB_EVENT_CRASHED];
    /* Same source again: not retried (no new crash), the old one serves,
     * and the reload says it swapped nothing. */
    HB_CHECK_EQ(hb_reload(sb, "counter"), HB_EBADVERSION);
    HB_CHECK_EQ(ev.count[HB_EVENT_CRASHED], crashes);
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_WARNING], "marked bad");
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    e2e_free(sb, m);
}

static void corrupt(const char *state, const char *sha)
{
    char path[4400];
    snprintf(path, sizeof(path), "%s/objects/%s.so", state, sha);
    FILE *f = fopen(path, "r+b");
    HB_CHECK(f != NULL);
    fseek(f, 100, SEEK_SET);
    fputc(0x5a, f);
    fputc(0xa5, f);
    HB_CHECK_EQ(fclose(f), 0);
}

static void case_verify_and_corruption(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    int64_t v;
    for (int i = 0; i < 3; i++)
        HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_write("counter", "counter.c", e2e_counter_src(2, 10, NULL));
    HB_CHECK_OK(hb_reload(sb, "counter"));
    char *report = NULL;
    HB_CHECK_OK(hb_verify(m, &report));
    hb_free(report);
    hb_version_info *vi;
    size_t n;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    HB_CHECK_EQ(n, 2);
    /* Corrupt the active v2 on disk, then kill the worker: the restart
     * refuses v2 and falls back to v1, the newest good version. */
    corrupt(hb_manager_state_dir(m), vi[1].object_sha256);
    HB_CHECK_EQ(hb_verify(m, &report), HB_ECORRUPT);
    HB_CHECK_CONTAINS(report, vi[1].object_sha256);
    hb_free(report);
    HB_CHECK_OK(hb_checkpoint(sb, NULL));
    int pid = hb_sandbox_worker_pid(sb);
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    HB_CHECK_EQ(kill(pid, SIGKILL), 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    HB_CHECK_EQ(poll(&p, 1, 10000), 1);
    close(fd);
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    uint64_t active = 0;
    HB_CHECK_OK(hb_active_version(sb, "counter", &active));
    HB_CHECK_EQ(active, 1);
    HB_CHECK_EQ(v, 4); /* v1 restored from the checkpoint (same schema) */
    /* ... and the altered v2 is on record, not just skipped. */
    HB_CHECK_CONTAINS(ev.last[HB_EVENT_WARNING], "does not match its checksum");
    char *log = NULL;
    HB_CHECK_OK(hb_audit_read(m, "counter", 1, &log));
    HB_CHECK_CONTAINS(log, "object-mismatch");
    hb_free(log);
    /* Rolling back to a corrupted version is refused with the reason. */
    HB_CHECK_EQ(hb_rollback(sb, "counter", 2), HB_ECORRUPT);
    HB_CHECK_CONTAINS(hb_sandbox_last_error(sb), "v2");
    hb_free(vi);
    e2e_free(sb, m);
}

/* A cached object altered on disk is rebuilt, but never silently: a
 * warning event naming the object and a security record in the audit log. */
static void case_tampered_rebuilt(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_version_info v1, v;
    HB_CHECK_OK(hb_build(m, dir, &v1));
    corrupt(hb_manager_state_dir(m), v1.object_sha256);
    int warnings = ev.count[HB_EVENT_WARNING];
    HB_CHECK_OK(hb_build(m, dir, &v));
    HB_CHECK_EQ(ev.count[HB_EVENT_WARNING], warnings + 1);
    const char *w = ev.last[HB_EVENT_WARNING];
    printf("warning: %s\n", w);
    HB_CHECK_CONTAINS(w, "does not match its checksum");
    HB_CHECK_CONTAINS(w, v1.object_sha256);
    HB_CHECK_CONTAINS(w, "rebuilt from source");
    char *log = NULL;
    HB_CHECK_OK(hb_audit_read(m, "counter", 1, &log));
    printf("audit: %s\n", log ? log : "");
    HB_CHECK_CONTAINS(log, "\"kind\":\"object-mismatch\"");
    HB_CHECK_CONTAINS(log, v1.object_sha256);
    hb_free(log);
    hb_manager_free(m);
}

static void case_gc(void)
{
    char *dir = e2e_write("counter", "counter.c", e2e_counter_src(1, 1, NULL));
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox *sb = e2e_loaded(m, NULL, dir);
    for (int i = 2; i <= 6; i++) {
        e2e_write("counter", "counter.c", e2e_counter_src(i, i, NULL));
        HB_CHECK_OK(hb_reload(sb, "counter"));
    }
    HB_CHECK_OK(hb_rollback(sb, "counter", 1)); /* v1 is live: protected */
    unsigned removed = 0;
    HB_CHECK_OK(hb_gc(m, 2, &removed));
    HB_CHECK(removed >= 2);
    hb_version_info *vi;
    size_t n;
    HB_CHECK_OK(hb_versions(m, "counter", &vi, &n));
    bool has1 = false, has6 = false;
    for (size_t i = 0; i < n; i++) {
        has1 |= vi[i].version == 1;
        has6 |= vi[i].version == 6;
    }
    HB_CHECK(has1 && has6);
    hb_free(vi);
    char *report = NULL;
    HB_CHECK_OK(hb_verify(m, &report));
    hb_free(report);
    int64_t v;
    HB_CHECK_OK(hb_callf(sb, "counter", "increment", ")l", &v));
    e2e_free(sb, m);
}

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"resume_named", case_resume_named},
        {"pin", case_pin},
        {"bad_not_retried", case_bad_not_retried},
        {"verify_and_corruption", case_verify_and_corruption},
        {"gc", case_gc},
        {"tampered_rebuilt", case_tampered_rebuilt},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
