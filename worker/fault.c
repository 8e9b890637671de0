/* worker/fault.c - which plugin version a fatal signal came from, and
 * keeping a retired version's code mapped while threads it may have
 * started still run.
 *
 * Every version the worker opens is recorded with the address range of its
 * loaded segments. On SIGSEGV, SIGBUS, SIGILL or SIGFPE (on an alternate
 * stack, so a stack overflow is reported too) the handler looks the
 * faulting pc up in that table, unwinds the faulting thread's stack (the
 * raw pcs and the load base of the version each lies in: the harness
 * symbolizes them against the stored objects), writes one HB_MSG_FAULT
 * frame to the harness, and lets the signal kill the process as it would have: the
 * handler is reset, and returning re-executes the faulting instruction.
 * Everything the handler touches is async-signal-safe: a fixed table,
 * write(2), no allocation, no locks.
 *
 * A version is only unmapped (dlclose) when the worker runs no more
 * threads than it did at start: a thread a plugin started may still be
 * executing its code after fini, and unmapping it would turn that thread's
 * next instruction into a fault nobody can attribute. Nor when the carry
 * copied a heap pointer (carry.c): heap data may point at its code. */
#include "worker.h"
#include "util.h"
#include "wire.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#define MAX_RANGES 1024
#define NAME_MAX_LEN (HB_PROTO_MAX_FAULT_PLUGIN + 1)

typedef struct range {
    _Atomic int used;  /* 0 free, 1 active, 2 retired (kept mapped) */
    void *handle;
    uintptr_t start, end;
    uintptr_t base; /* load base (l_addr): pc - base is the object's address */
    uint64_t version;
    char plugin[NAME_MAX_LEN];
} range;

static range ranges[MAX_RANGES];
static _Atomic long channel_owner; /* tid writing a frame; 0: nobody */
static int report_fd = -1;
static long base_threads = -1;
static unsigned char altstack[64 << 10];

/* The tracked version whose loaded code holds pc, or NULL. */
static const range *range_of(uintptr_t pc)
{
    for (size_t i = 0; i < MAX_RANGES; i++) {
        int u = atomic_load_explicit(&ranges[i].used, memory_order_acquire);
        if (u && pc >= ranges[i].start && pc < ranges[i].end)
            return &ranges[i];
    }
    return NULL;
}

/* The backtrace of the faulting thread into m->frames: frame 0 is the
 * faulting pc, then the return addresses of its callers. glibc's
 * backtrace() unwinds with the objects' .eh_frame (CFI, emitted by default
 * on x86-64 and aarch64, so no frame pointers are needed) through the
 * kernel's signal frame; its first call loads libgcc_s, which
 * hb__fault_setup() does ahead, so here it neither allocates nor opens
 * anything. Frames before the faulting pc (this handler, the signal
 * trampoline) are dropped. */
static void fill_backtrace(hb_proto_fault *m, uintptr_t pc, char *none)
{
    void *bt[HB_PROTO_MAX_FAULT_FRAMES + 8];
    int n = backtrace(bt, (int)(sizeof(bt) / sizeof(bt[0])));
    int from = -1;
    for (int i = 0; i < n && from < 0; i++)
        if ((uintptr_t)bt[i] == pc)
            from = i + 1;
    if (from < 0)
        from = n > 2 ? 2 : n; /* pc not unwound (a jump to 0): the callers */
    uint32_t k = 0;
    uintptr_t frame_pc = pc;
    for (int i = from - 1; i < n && k < HB_PROTO_MAX_FAULT_FRAMES; i++) {
        if (i >= from)
            frame_pc = (uintptr_t)bt[i];
        const range *r = range_of(frame_pc);
        m->frames[k++] = (hb_proto_fault_frame){
            .pc = frame_pc,
            .base = r ? r->base : 0,
            .version = r ? r->version : 0,
            .plugin = r ? (char *)r->plugin : none,
        };
    }
    m->nframes = k;
}

/* Threads of this process, or -1 when /proc cannot tell. */
static long count_threads(void)
{
    return hb__dir_count("/proc/self/task");
}

static uintptr_t fault_pc(const void *ucv)
{
    const ucontext_t *uc = ucv;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#elif defined(__i386__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
#else
    (void)uc;
    return 0;
#endif
}

static long my_tid(void)
{
    return syscall(SYS_gettid);
}

void hb__channel_claim(void)
{
    long me = my_tid(), free_ = 0;
    while (!atomic_compare_exchange_weak(&channel_owner, &free_, me)) {
        free_ = 0;
        sched_yield(); /* a fault handler is writing; the process dies next */
    }
}

void hb__channel_release(void)
{
    atomic_store(&channel_owner, 0);
}

/* Encodes m into buf (no allocation) and writes it to the channel. */
static void write_report(const hb_proto_fault *m, unsigned char *buf, size_t cap)
{
    hb_wbuf w;
    hb__wire_init_fixed(&w, buf, cap);
    size_t total = hb__proto_fault_encode(&w, 0, m) == 0 ? w.len : 0, off = 0;
    while (report_fd >= 0 && off < total) {
        ssize_t n = write(report_fd, buf + off, total - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
    int saved = errno;
    /* Wait for a frame another thread is writing (its thread runs on); a
     * fault on the writing thread itself (not plugin code) writes anyway. */
    long me = my_tid(), free_ = 0;
    while (!atomic_compare_exchange_weak(&channel_owner, &free_, me)) {
        if (free_ == me)
            break;
        free_ = 0;
        sched_yield();
    }
    uintptr_t pc = fault_pc(ucv);
    const range *hit = range_of(pc);
    /* Encoded into a fixed buffer: no allocation in a signal handler. */
    static unsigned char buf[HB_PROTO_FAULT_MAX_FRAME];
    static hb_proto_fault m;
    char none[1] = "";
    m = (hb_proto_fault){
        .signo = (uint32_t)sig,
        .pc = pc,
        .addr = (uintptr_t)si->si_addr,
        .plugin = hit ? (char *)hit->plugin : none,
        .version = hit ? hit->version : 0,
        .retired = hit && atomic_load_explicit(&hit->used, memory_order_relaxed) == 2,
    };
    /* Twice: first without the backtrace, then with it. Unwinding reads
     * the faulting thread's stack, which may be what is broken (a garbage
     * stack pointer): the unwinder then faults here and the process dies
     * of that, with the first report already out. The harness keeps the
     * last report it reads. The first names the faulting pc's frame,
     * which needs no stack. */
    m.frames[0] = (hb_proto_fault_frame){.pc = pc,
                                         .base = hit ? hit->base : 0,
                                         .version = hit ? hit->version : 0,
                                         .plugin = hit ? (char *)hit->plugin : none};
    m.nframes = 1;
    write_report(&m, buf, sizeof(buf));
    fill_backtrace(&m, pc, none);
    if (m.nframes > 1)
        write_report(&m, buf, sizeof(buf));
    atomic_store(&channel_owner, 0);
    errno = saved;
    /* The disposition is back to default (SA_RESETHAND). A fault re-runs
     * its instruction and dies of it; a signal someone sent is raised. A
     * pid namespace's init (the worker under bwrap --as-pid-1) would drop
     * its own raised signal and carry on as if nothing happened: end it
     * the way bwrap reports a death by signal (main.c does the same for
     * the other deadly signals). */
    if (si->si_code <= 0) {
        if (getpid() == 1)
            _exit(128 + sig);
        raise(sig);
    }
}

void hb__fault_setup(int fd)
{
    report_fd = fd;
    base_threads = count_threads();
    void *warm[2];
    backtrace(warm, 2); /* loads libgcc_s now, not in the handler */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

struct find_ctx {
    const struct link_map *lm;
    uintptr_t start, end;
};

static int find_segments(struct dl_phdr_info *info, size_t size, void *ud)
{
    (void)size;
    struct find_ctx *c = ud;
    if (info->dlpi_addr != c->lm->l_addr || !info->dlpi_name ||
        strcmp(info->dlpi_name, c->lm->l_name) != 0)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr, e = s + ph->p_memsz;
        if (!c->start || s < c->start)
            c->start = s;
        if (e > c->end)
            c->end = e;
    }
    return 1;
}

void hb__fault_track(void *handle, const char *plugin, uint64_t version)
{
    struct link_map *lm = NULL;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return;
    struct find_ctx c = {lm, 0, 0};
    dl_iterate_phdr(find_segments, &c);
    if (!c.start)
        return;
    for (size_t i = 0; i < MAX_RANGES; i++) {
        if (atomic_load_explicit(&ranges[i].used, memory_order_relaxed))
            continue;
        range *r = &ranges[i];
        r->handle = handle;
        r->start = c.start;
        r->end = c.end;
        r->base = (uintptr_t)lm->l_addr;
        r->version = version;
        snprintf(r->plugin, sizeof(r->plugin), "%s", plugin);
        atomic_store_explicit(&r->used, 1, memory_order_release);
        return;
    }
    /* Table full: faults in this version are reported without a name. */
}

static range *range_of_handle(void *handle)
{
    for (size_t i = 0; i < MAX_RANGES; i++)
        if (atomic_load_explicit(&ranges[i].used, memory_order_relaxed) &&
            ranges[i].handle == handle)
            return &ranges[i];
    return NULL;
}

void hb__version_keep(void *handle)
{
    range *r = range_of_handle(handle);
    if (r)
        atomic_store_explicit(&r->used, 2, memory_order_release);
}

bool hb__version_unmap(void *handle)
{
    range *r = range_of_handle(handle);
    long now = count_threads();
    if (base_threads < 0 || now < 0 || now > base_threads) {
        /* A thread may still run this version's code: keep it mapped and
         * remember it as retired, so its faults are still attributed. */
        if (r)
            atomic_store_explicit(&r->used, 2, memory_order_release);
        return false;
    }
    if (r)
        atomic_store_explicit(&r->used, 0, memory_order_release);
    dlclose(handle);
    return true;
}
