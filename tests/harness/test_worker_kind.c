/* tests/harness/test_worker_kind.c - hb_sandbox_options.worker (version 2):
 * process is the default and what a version-1 struct gets; microvm is
 * refused with HB_EISOLATION and a reason (no host process stands in for a
 * guest); auto picks process and says why, in an event and through
 * hb_sandbox_worker_kind; an unknown kind is -EINVAL. One case per process:
 * test_worker_kind <case>. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbtest.h"
#include "hotbox/hotbox.h"

static char notices[4096];

static void on_event(const hb_event *ev, void *ud)
{
    (void)ud;
    if (ev->type == HB_EVENT_NOTICE && ev->message &&
        strlen(notices) + strlen(ev->message) + 2 < sizeof(notices)) {
        strcat(notices, ev->message);
        strcat(notices, "\n");
    }
}

static char *dir;

static hb_manager *new_manager(void)
{
    char tmpl[] = "/tmp/hb-worker-kind-XXXXXX";
    char *d = mkdtemp(tmpl);
    HB_CHECK(d != NULL);
    dir = strdup(d);
    hb_manager_options o = HB_MANAGER_OPTIONS_INIT;
    o.state_dir = dir;
    o.on_event = on_event;
    hb_manager *m = NULL;
    HB_CHECK_OK(hb_manager_new(&o, &m));
    return m;
}

static void done(hb_manager *m)
{
    hb_manager_free(m);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    HB_CHECK_EQ(system(cmd), 0);
    free(dir);
}

/* The worker really serves calls: load mathx and add. */
static void check_serves(hb_sandbox *sb)
{
    HB_CHECK_OK(hb_load(sb, HB_SOURCE_DIR "/examples/plugins/mathx"));
    hb_value args[2] = {{.type = HB_TYPE_I32, .v.i = 2}, {.type = HB_TYPE_I32, .v.i = 3}};
    hb_value ret;
    HB_CHECK_OK(hb_call(sb, "mathx", "add", "ii)i", args, 2, &ret));
    HB_CHECK_EQ((int)ret.v.i, 5);
}

/* The sandbox got a process worker, and its reason holds `why`. */
static void check_process(hb_sandbox *sb, const char *why)
{
    hb_worker_kind k = HB_WORKER_AUTO;
    const char *w = NULL;
    HB_CHECK_OK(hb_sandbox_worker_kind(sb, &k, &w));
    HB_CHECK_EQ((int)k, (int)HB_WORKER_PROCESS);
    HB_CHECK_CONTAINS(w, why);
}

static void case_default_process(void)
{
    hb_manager *m = new_manager();
    hb_sandbox_options so;
    HB_CHECK_OK(hb_sandbox_options_init(&so, HB_SANDBOX_OPTIONS_VERSION));
    HB_CHECK_EQ(so.version, (unsigned)HB_SANDBOX_OPTIONS_VERSION);
    HB_CHECK_EQ((int)so.worker, (int)HB_WORKER_PROCESS);
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    check_process(sb, "process: asked for");
    HB_CHECK(strstr(notices, "worker") == NULL); /* the caller's own choice: no notice */
    check_serves(sb);
    hb_sandbox_free(sb);
    HB_CHECK_EQ(hb_sandbox_worker_kind(NULL, NULL, NULL), -EINVAL);
    done(m);
}

/* A version-1 caller's struct ends before `worker`: whatever lies after it
 * (here: a value that would be refused) is not read. */
static void case_v1_struct(void)
{
    hb_manager *m = new_manager();
    hb_sandbox_options so;
    memset(&so, 0xAB, sizeof(so));
    HB_CHECK_OK(hb_sandbox_options_init(&so, 1));
    HB_CHECK_EQ((int)so.worker, (int)0xABABABAB); /* not written by a v1 init */
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    check_process(sb, "process: asked for");
    hb_sandbox_free(sb);
    done(m);
}

/* Where no guest can run (here: no guest kernel), microvm is refused with
 * the reason and the fix; no host process stands in for the guest. */
static void case_microvm_refused(void)
{
    char kdir[] = "/tmp/hb-no-kernel-XXXXXX";
    HB_CHECK(mkdtemp(kdir) != NULL);
    HB_CHECK_OK(setenv("HOTBOX_KERNEL_DIR", kdir, 1));
    hb_manager *m = new_manager();
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.worker = HB_WORKER_MICROVM;
    hb_sandbox *sb = (hb_sandbox *)(uintptr_t)1;
    HB_CHECK_EQ(hb_sandbox_new(m, &so, &sb), HB_EISOLATION);
    HB_CHECK(sb == (hb_sandbox *)(uintptr_t)1); /* untouched on failure */
    HB_CHECK_CONTAINS(hb_manager_last_error(m), "microVM worker");
    HB_CHECK_CONTAINS(hb_manager_last_error(m), "guest kernel not found");
    HB_CHECK_CONTAINS(hb_manager_last_error(m), "fetch-guest-kernel.sh");
    rmdir(kdir);
    /* The manager still makes process sandboxes afterwards. */
    so.worker = HB_WORKER_PROCESS;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    check_serves(sb);
    hb_sandbox_free(sb);
    done(m);
}

static void case_auto_says_why(void)
{
    hb_manager *m = new_manager();
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.worker = HB_WORKER_AUTO;
    hb_sandbox *sb = NULL;
    HB_CHECK_OK(hb_sandbox_new(m, &so, &sb));
    /* A guest where one boots under KVM (not on this machine kind: PVM),
     * else a process; the notice says which check decided either way. */
    hb_worker_kind k = HB_WORKER_AUTO;
    const char *w = NULL;
    HB_CHECK_OK(hb_sandbox_worker_kind(sb, &k, &w));
    if (k == HB_WORKER_MICROVM) {
        HB_CHECK_CONTAINS(w, "KVM runs guests here");
        HB_CHECK_CONTAINS(notices, "worker microvm: auto picked a guest");
    } else {
        check_process(sb, "auto picks a microVM guest only where a KVM probe");
        HB_CHECK_CONTAINS(notices, "worker process: auto picks");
    }
    check_serves(sb);
    hb_sandbox_free(sb);
    done(m);
}

static void case_unknown_kind(void)
{
    hb_manager *m = new_manager();
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.worker = (hb_worker_kind)7;
    hb_sandbox *sb = NULL;
    HB_CHECK_EQ(hb_sandbox_new(m, &so, &sb), -EINVAL);
    HB_CHECK(sb == NULL);
    HB_CHECK_CONTAINS(hb_manager_last_error(m), "unknown worker kind 7");
    done(m);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {
        {"default_process", case_default_process},
        {"v1_struct", case_v1_struct},
        {"microvm_refused", case_microvm_refused},
        {"auto_says_why", case_auto_says_why},
        {"unknown_kind", case_unknown_kind},
    };
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
