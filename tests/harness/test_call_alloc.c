/* tests/harness/test_call_alloc.c - a ring call allocates nothing on the
 * caller's side: the request is encoded on the stack and an OK reply is
 * copied out of the ring into the client's own buffer (harness/call.c,
 * ring_client.c; the worker's side is test_call_arena). malloc, calloc and
 * realloc are counted for this thread over 1,000 calls of add(int,int)
 * (after a warm-up that sets up the caches), standard and permissive,
 * with the caller and the worker pinned to two CPUs so calls take the
 * spinning path. A call whose worker was preempted long enough makes the
 * caller sleep and read a WAKE frame off the socket (one allocation), so
 * the bound is half the calls: before, every call made two. A call with a
 * string result and one with a w buffer must still decode right from the
 * borrowed reply. */
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "e2e.h"

/* AddressSanitizer brings its own allocator, which these would bypass
 * before it is set up: the ASan build skips (below). */
#if !defined(__SANITIZE_ADDRESS__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
#endif

/* Plain globals, not thread-locals: malloc runs before TLS is set up.
 * Only the calling thread's allocations count (the manager's own threads
 * may allocate meanwhile). */
static volatile pid_t counting; /* the thread counted, 0: none */
static volatile long allocs;

#if !defined(__SANITIZE_ADDRESS__)
static void count(void)
{
    if (counting && (pid_t)syscall(SYS_gettid) == counting)
        allocs++;
}

__attribute__((visibility("default"))) void *malloc(size_t n)
{
    count();
    return __libc_malloc(n);
}

__attribute__((visibility("default"))) void *calloc(size_t a, size_t b)
{
    count();
    return __libc_calloc(a, b);
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n)
{
    count();
    return __libc_realloc(p, n);
}
#endif

static e2e_events ev;

static const char adder[] =
    "#include <hotbox/plugin.h>\n#include <string.h>\n"
    "int add(int a, int b) { return a + b; }\n"
    "const char *name(int n) { return n ? \"seven\" : \"zero\"; }\n"
    "void fill(unsigned char *b, size_t n) { memset(b, 'x', n); }\n"
    "HB_PLUGIN(\"adder\", 1, 0, 0, 0, 0);\n";

static void no_allocs(hb_profile profile)
{
    char *dir = e2e_write("adder", "adder.c", adder);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.profile = profile;
    hb_sandbox *sb = e2e_loaded(m, &so, dir);
    cpu_set_t all, one;
    HB_CHECK_OK(sched_getaffinity(0, sizeof(all), &all));
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    HB_CHECK_OK(sched_setaffinity(hb_sandbox_worker_pid(sb), sizeof(one), &one));
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    HB_CHECK_OK(sched_setaffinity(0, sizeof(one), &one));
    int32_t r = 0;
    for (int i = 0; i < 200; i++)
        HB_CHECK_OK(hb_callf(sb, "adder", "add", "ii)i", i, 1, &r));
    allocs = 0;
    counting = (pid_t)syscall(SYS_gettid);
    for (int i = 0; i < 1000; i++) {
        if (hb_callf(sb, "adder", "add", "ii)i", i, 1, &r) < 0 || r != i + 1)
            break;
    }
    counting = 0;
    HB_CHECK_OK(sched_setaffinity(0, sizeof(all), &all));
    HB_CHECK_EQ(r, 1000);
    printf("allocations in 1000 calls: %ld\n", allocs);
    HB_CHECK_INT(allocs, <, 500);
    /* Replies with more than a number decode right from the borrowed copy,
     * and the next small call is still right. */
    const char *s = NULL;
    HB_CHECK_OK(hb_callf(sb, "adder", "name", "i)Z", 1, &s));
    HB_CHECK_STR(s, "seven");
    unsigned char buf[100] = {0};
    HB_CHECK_OK(hb_callf(sb, "adder", "fill", "w)v", buf, sizeof(buf)));
    HB_CHECK(buf[0] == 'x' && buf[99] == 'x');
    HB_CHECK_OK(hb_callf(sb, "adder", "add", "ii)i", 40, 2, &r));
    HB_CHECK_EQ(r, 42);
    e2e_free(sb, m);
}

static void need_two_cpus(void)
{
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof(all), &all) < 0 || !CPU_ISSET(0, &all) ||
        !CPU_ISSET(1, &all)) {
        printf("SKIP: needs CPUs 0 and 1\n");
        exit(77);
    }
}

static void skip_under_asan(void)
{
#if defined(__SANITIZE_ADDRESS__)
    printf("SKIP: malloc is counted by interposing on glibc's; an AddressSanitizer build has its own\n");
    exit(77);
#endif
}

static void case_standard(void) { skip_under_asan(); need_two_cpus(); no_allocs(HB_PROFILE_STANDARD); }
static void case_permissive(void) { skip_under_asan(); need_two_cpus(); no_allocs(HB_PROFILE_PERMISSIVE); }

int main(int argc, char **argv)
{
    static const e2e_case cases[] = {
        {"standard", case_standard},
        {"permissive", case_permissive},
    };
    return e2e_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
