/* tests/microvm/test_guest_worker.c - hotbox-worker inside a microVM guest
 * (issue 17, transport slice): one TCG guest booted by the compile VMs'
 * launcher with a second virtio-serial port; the agent starts the worker
 * (uid 65534, no_new_privs) and relays its socket to that port; the host
 * speaks the unchanged wire protocol over the port's socket: OBJECT (a
 * staged copy under the wrong SHA-256 is refused; the right one is written
 * read-only at a host path), HELLO, LOAD from that path, CALL add -> 5, escape
 * probes from plugin code (host file, host network, host /proc) that must
 * all fail, and a crash reported by the agent with its signal. SKIPs when
 * the guest kernel cache is missing. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hbtest.h"
#include "vm_internal.h"
#include "wire.h"

#define DEADLINE_S 120

static const char plugin_src[] =
    "#include <hotbox/plugin.h>\n"
    "#include <errno.h>\n#include <fcntl.h>\n#include <stdint.h>\n#include <string.h>\n"
    "#include <unistd.h>\n#include <netinet/in.h>\n#include <arpa/inet.h>\n"
    "#include <sys/socket.h>\n"
    "HB_EXPORT_FN int32_t add(int32_t a, int32_t b) { return a + b; }\n"
    "HB_EXPORT_FN int32_t boom(void) { volatile int *p = 0; return *p; }\n"
    /* 0 when path opens, else errno */
    "HB_EXPORT_FN int32_t can_open(const char *p) {\n"
    "  int fd = open(p, O_RDONLY); if (fd < 0) return errno; close(fd); return 0; }\n"
    /* 0 when a TCP connect to addr:port works, else errno */
    "HB_EXPORT_FN int32_t can_connect(const char *addr, int32_t port) {\n"
    "  int s = socket(AF_INET, SOCK_STREAM, 0); if (s < 0) return errno;\n"
    "  struct sockaddr_in a = {0}; a.sin_family = AF_INET; a.sin_port = htons((uint16_t)port);\n"
    "  inet_pton(AF_INET, addr, &a.sin_addr);\n"
    "  int r = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : errno; close(s); return r; }\n"
    /* 1 when /proc/1/cmdline is the guest agent's (\"/init\") */
    "HB_EXPORT_FN int32_t proc1_is_agent(void) {\n"
    "  char b[64] = {0}; int fd = open(\"/proc/1/cmdline\", O_RDONLY); if (fd < 0) return -errno;\n"
    "  ssize_t n = read(fd, b, sizeof(b) - 1); close(fd); (void)n; return strcmp(b, \"/init\") == 0; }\n"
    /* 0 when path opens for writing, else errno */
    "HB_EXPORT_FN int32_t can_write(const char *p) {\n"
    "  int fd = open(p, O_WRONLY); if (fd < 0) return errno; close(fd); return 0; }\n"
    "HB_EXPORT_FN int32_t do_exec(void) {\n"
    "  char *a[] = {\"/bin/true\", 0}; execve(a[0], a, 0); return errno; }\n"
    "HB_PLUGIN(\"probe\", 1, 0, 0, 0, 0);\n";

static uint32_t next_id = 1;
static char load_path[4096] = "/job/probe.so"; /* where LOAD finds the object */
static int listeners; /* LISTENER frames seen (a seccomp profile is on) */

static hb_frame request(int fd, hb_wbuf *w)
{
    HB_CHECK_OK(hb__wire_finish(w));
    HB_CHECK_OK(hb__wire_send(fd, w));
    hb__wire_release(w);
    hb_frame f;
    for (;;) {
        int r = hb__wire_recv_until(fd, HB_WIRE_MAX_FRAME,
                                    hb__now_ns() + DEADLINE_S * 1000000000ull, &f, NULL);
        if (r != 0) {
            fprintf(stderr, "no reply from the guest worker: %s\n", strerror(-r));
            HB_CHECK(0);
        }
        if (f.type != HB_MSG_LISTENER) /* its fd stays with the guest's relay */
            return f;
        listeners++;
        hb__frame_release(&f);
    }
}

static void call_async(int fd, const char *symbol, const char *sig, hb_wvalue *args, size_t n)
{
    hb_wbuf w = {0};
    hb_proto_call c = {"probe", (char *)symbol, (char *)sig, n, args};
    HB_CHECK_OK(hb__proto_call_encode(&w, next_id++, &c));
    HB_CHECK_OK(hb__wire_finish(&w));
    HB_CHECK_OK(hb__wire_send(fd, &w));
    hb__wire_release(&w);
}

static int64_t call_i32(int fd, const char *symbol, const char *sig, hb_wvalue *args, size_t n)
{
    hb_wbuf w = {0};
    hb_proto_call c = {"probe", (char *)symbol, (char *)sig, n, args};
    HB_CHECK_OK(hb__proto_call_encode(&w, next_id++, &c));
    hb_frame f = request(fd, &w);
    if (f.type != HB_MSG_OK)
        fprintf(stderr, "CALL %s: reply type %u: %.*s\n", symbol, f.type, (int)f.len,
                (const char *)f.payload);
    HB_CHECK_EQ(f.type, HB_MSG_OK);
    hb_proto_call_ok ok;
    HB_CHECK_OK(hb__proto_call_ok_decode(f.payload, f.len, &ok));
    int64_t v = ok.ret.n.i;
    hb__proto_call_ok_release(&ok);
    hb__frame_release(&f);
    return v;
}

/* A frame of type want: n u64 fields into out, then (msg not NULL) its str. */
static void agent_frame(vm *v, uint32_t want, int n_u64, uint64_t *out, char *msg, size_t msglen)
{
    uint32_t type, len;
    uint8_t *p = NULL;
    HB_CHECK_OK(hb__vm_recv_frame(v, hb__now_ns() + DEADLINE_S * 1000000000ull, &type, &p, &len));
    HB_CHECK_EQ(type, want);
    hb_vmp_r r = {p, len, false};
    for (int i = 0; i < n_u64; i++)
        HB_CHECK(hb_vmp_get_u64(&r, &out[i]));
    const char *s;
    size_t n;
    if (msg) {
        HB_CHECK(hb_vmp_get_str(&r, &s, &n));
        snprintf(msg, msglen, "%.*s", (int)n, s);
    }
    free(p);
}

static void send_object(vm *v, const char *digest, const char *path)
{
    uint8_t buf[8192];
    hb_vmp_w w = {buf, sizeof(buf), 0, false};
    hb_vmp_begin(&w, HB_VMP_OBJECT);
    hb_vmp_put_str(&w, digest);
    hb_vmp_put_str(&w, path);
    HB_CHECK_OK(hb__vm_send_frame(v->sock, &w));
}

/* WORKER (the agent starts it), HELLO (answered by the guest pid the agent
 * reported) and LOAD of /job/probe.so. */
static void start_worker(vm *v, int fd, const char *profile)
{
    uint8_t buf[512];
    hb_vmp_w w = {buf, sizeof(buf), 0, false};
    hb_vmp_begin(&w, HB_VMP_WORKER);
    hb_vmp_put_str(&w, "/job/hotbox-worker");
    hb_vmp_put_str(&w, profile);
    HB_CHECK_OK(hb__vm_send_frame(v->sock, &w));
    uint64_t st[2];
    char msg[512] = "";
    agent_frame(v, HB_VMP_WORKER_STARTED, 2, st, msg, sizeof(msg));
    if (st[0])
        fprintf(stderr, "WORKER: %s\n", msg);
    HB_CHECK_EQ((int)st[0], 0);
    printf("worker (%s) started in the guest as pid %llu\n", profile,
           (unsigned long long)st[1]);

    hb_wbuf wb = {0};
    hb_proto_hello hello = {HB_WIRE_MAGIC_HELLO, 1u << 20};
    HB_CHECK_OK(hb__proto_hello_encode(&wb, next_id++, &hello));
    hb_frame f = request(fd, &wb);
    HB_CHECK_EQ(f.type, HB_MSG_OK);
    hb_proto_hello_ok hok;
    HB_CHECK_OK(hb__proto_hello_ok_decode(f.payload, f.len, &hok));
    HB_CHECK_EQ((int)hok.pid, (int)st[1]);
    hb__frame_release(&f);

    hb_proto_load ld = {"probe", load_path, 1, 0, 0, NULL, 0};
    HB_CHECK_OK(hb__proto_load_encode(&wb, next_id++, &ld));
    f = request(fd, &wb);
    if (f.type != HB_MSG_OK)
        fprintf(stderr, "LOAD: %.*s\n", (int)f.len, (const char *)f.payload);
    HB_CHECK_EQ(f.type, HB_MSG_OK);
    hb__frame_release(&f);
}

static void case_guest_worker(void)
{
    hb_vm_pool_options o = HB_VM_POOL_OPTIONS_INIT;
    o.accel = HB_VM_ACCEL_TCG;
    o.boot_timeout_ms = 90000;
    o.no_snapshot = true;
    char *dir = NULL, *err = NULL;
    vm_cfg c;
    HB_CHECK_OK(hb__vm_make_run_dir(&o, &dir, &err));
    int r = hb__vm_cfg_init(&o, dir, &c, &err);
    if (r == -ENOENT) {
        printf("SKIP: %s\n", err ? err : "guest kernel missing");
        hb__rm_rf(dir);
        exit(77);
    }
    HB_CHECK_OK(r);
    /* A worker VM has one more port than a compile VM: a snapshot of one
     * must never be restored as the other (its own key). */
    char key_compile[HB_SHA256_HEX], key_worker[HB_SHA256_HEX];
    HB_CHECK_OK(hb__vm_snapshot_key(&c, key_compile, &err));
    c.worker_port = true;
    HB_CHECK_OK(hb__vm_snapshot_key(&c, key_worker, &err));
    HB_CHECK(strcmp(key_compile, key_worker) != 0);
    int sv[2];
    HB_CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    hb__vm_spawn_io io = {.restore_fd = -1, .qmp_fd = -1, .worker = true, .worker_fd = sv[1]};
    vm v;
    HB_CHECK_OK(hb__vm_spawn(&c, dir, 0, &io, &v, &err));
    close(sv[1]);
    uint64_t deadline = v.spawn_ns + 90000000000ull;
    if ((r = hb__vm_wait_ready(&v, deadline, HB_VMP_READY, &err)) == 0)
        r = hb__vm_mount(&v, deadline, &err);
    if (r)
        fprintf(stderr, "boot: %s\n", err ? err : strerror(-r));
    HB_CHECK_OK(r);
    printf("guest up in %.0f ms\n", hb__ms_since(v.spawn_ns));

    /* Stage the worker and the plugin (built on the host) in /job. */
    char path[4096], cmd[8192];
    const char *worker = getenv("HOTBOX_WORKER");
    HB_CHECK(worker != NULL);
    snprintf(path, sizeof(path), "%s/hotbox-worker", v.jobdir);
    HB_CHECK_OK(hb__vm_copy_file(worker, path, 0755));
    snprintf(path, sizeof(path), "%s/probe.c", dir);
    HB_CHECK_OK(hb__write_file_atomic(path, plugin_src, strlen(plugin_src), 0644));
    snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -O2 -I'%s/include' -o '%s/probe.so' '%s'",
             HB_SOURCE_DIR, v.jobdir, path);
    HB_CHECK_EQ(system(cmd), 0);

    /* OBJECT: the agent checks the SHA-256 of what the host staged; a copy
     * whose digest differs from its name is refused, a right one is written
     * root-owned and read-only at the host path LOAD then names. */
    char so_path[4096], hex[HB_SHA256_HEX], staged[4200];
    snprintf(so_path, sizeof(so_path), "%s/probe.so", v.jobdir);
    HB_CHECK_OK(hb__sha256_file(so_path, hex));
    snprintf(path, sizeof(path), "%s/objects", v.jobdir);
    HB_CHECK_OK(hb__mkdir_p(path, 0755));
    const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
    snprintf(staged, sizeof(staged), "%s/objects/%s", v.jobdir, wrong);
    HB_CHECK_OK(hb__vm_copy_file(so_path, staged, 0444));
    snprintf(load_path, sizeof(load_path), "%s/store/objects/probe-%.12s.so", dir, hex);
    uint64_t st[2];
    char msg[600];
    send_object(&v, wrong, load_path);
    agent_frame(&v, HB_VMP_OBJECT_OK, 1, st, msg, sizeof(msg));
    HB_CHECK_EQ((int)st[0], EBADMSG);
    HB_CHECK_CONTAINS(msg, "SHA-256");
    printf("a staged object under the wrong digest: refused (%s)\n", msg);
    snprintf(staged, sizeof(staged), "%s/objects/%s", v.jobdir, hex);
    HB_CHECK_OK(hb__vm_copy_file(so_path, staged, 0444));
    send_object(&v, hex, load_path);
    agent_frame(&v, HB_VMP_OBJECT_OK, 1, st, msg, sizeof(msg));
    if (st[0])
        fprintf(stderr, "OBJECT: %s\n", msg);
    HB_CHECK_EQ((int)st[0], 0);
    HB_CHECK(access(load_path, F_OK) != 0); /* in the guest only */

    int fd = sv[0];
    uint64_t t0 = hb__now_ns();
    start_worker(&v, fd, "permissive");
    HB_CHECK_EQ(listeners, 0);
    hb_wvalue a[2] = {{.type = HB_TYPE_I32, .n.i = 2}, {.type = HB_TYPE_I32, .n.i = 3}};
    HB_CHECK_EQ((int)call_i32(fd, "add", "ii)i", a, 2), 5);
    printf("hello+load+call in the guest: %.0f ms\n", hb__ms_since(t0));
    t0 = hb__now_ns();
    for (int i = 0; i < 20; i++)
        HB_CHECK_EQ((int)call_i32(fd, "add", "ii)i", a, 2), 5);
    printf("call round trip through the guest: %.2f ms\n", hb__ms_since(t0) / 20);

    /* Escape probes: a host file (this test's own source file: the guest
     * has no such path), the host network, the host's /proc. */
    hb_wvalue s = {.type = HB_TYPE_STR, .s = (char *)HB_SOURCE_DIR "/CMakeLists.txt"};
    HB_CHECK_EQ(access(s.s, R_OK), 0); /* there on the host */
    HB_CHECK_INT(call_i32(fd, "can_open", "Z)i", &s, 1), !=, 0);
    hb_wvalue net[2] = {{.type = HB_TYPE_STR, .s = (char *)"10.0.2.2"}, {.type = HB_TYPE_I32, .n.i = 22}};
    HB_CHECK_INT(call_i32(fd, "can_connect", "Zi)i", net, 2), !=, 0);
    net[0].s = (char *)"127.0.0.1";
    HB_CHECK_INT(call_i32(fd, "can_connect", "Zi)i", net, 2), !=, 0);
    HB_CHECK_EQ((int)call_i32(fd, "proc1_is_agent", ")i", NULL, 0), 1);
    /* The checked object is read-only for the worker (uid 65534). */
    hb_wvalue lp = {.type = HB_TYPE_STR, .s = load_path};
    HB_CHECK_EQ((int)call_i32(fd, "can_write", "Z)i", &lp, 1), EACCES);

    /* A crash in the guest: reported by the agent with its signal. */
    call_async(fd, "boom", ")i", NULL, 0);
    agent_frame(&v, HB_VMP_WORKER_EXIT, 2, st, NULL, 0);
    HB_CHECK_EQ((int)st[0], HB_VMP_SIGNALED);
    HB_CHECK_EQ((int)st[1], SIGSEGV);
    printf("crash reported: signal %d\n", (int)st[1]);
    /* The worker's own FAULT reports crossed the boundary too: first the
     * faulting frame alone (sent before unwinding), then the backtrace. */
    for (int report = 0; report < 2; report++) {
        hb_frame f;
        HB_CHECK_OK(hb__wire_recv_until(fd, HB_WIRE_MAX_FRAME,
                                        hb__now_ns() + DEADLINE_S * 1000000000ull, &f, NULL));
        HB_CHECK_EQ(f.type, HB_MSG_FAULT);
        hb_proto_fault fault;
        HB_CHECK_OK(hb__proto_fault_decode(f.payload, f.len, &fault));
        HB_CHECK_EQ((int)fault.signo, SIGSEGV);
        HB_CHECK_STR(fault.plugin, "probe");
        HB_CHECK_EQ(fault.nframes > 1, report == 1);
        hb__proto_fault_release(&fault);
        hb__frame_release(&f);
    }

    /* The standard profile in the guest: its seccomp filter is in force
     * (the worker handed its listener over), a call works, and exec is
     * denied: the relay kills the worker and the agent names the call. */
    start_worker(&v, fd, "standard");
    HB_CHECK_EQ(listeners, 1);
    HB_CHECK_EQ((int)call_i32(fd, "add", "ii)i", a, 2), 5);
    call_async(fd, "do_exec", ")i", NULL, 0);
    agent_frame(&v, HB_VMP_WORKER_EXIT, 2, st, NULL, 0);
    HB_CHECK_EQ((int)st[0], HB_VMP_DENIED);
    HB_CHECK_EQ((int)st[1], (int)SYS_execve);
    printf("denied in the guest: syscall %d\n", (int)st[1]);

    close(fd);
    hb__vm_kill(&v);
    hb__vm_cfg_release(&c);
    hb__rm_rf(dir);
    free(dir);
    free(err);
}

int main(int argc, char **argv)
{
    static const hb_test_case cases[] = {{"guest_worker", case_guest_worker}};
    return hb_test_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
