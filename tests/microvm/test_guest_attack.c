/*
 * tests/microvm/test_guest_attack.c - a hostile plugin in a guest worker
 * (issue 17's microvm worker), attacked from outside on one guest:
 *   devices     plugin code (uid 65534 in the guest) opens no agent port, no
 *               console, no kernel log for writing;
 *   forge       a frame header claiming a payload of 2 GiB written on the
 *               worker's channel: the call fails, the worker is replaced,
 *               the checkpointed state is served again;
 *   tmp_restart a file a crashed worker left in the guest's /tmp is not
 *               there for the worker restarted in the same VM (a process
 *               worker gets a fresh /tmp from its jail every start).
 * SKIPs (77) with the reason where no guest can run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness/e2e.h"

static e2e_events ev;

static const char *const src =
    "#include <hotbox/plugin.h>\n#include <dirent.h>\n#include <fcntl.h>\n#include <stdint.h>\n"
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <sys/socket.h>\n"
    "#include <sys/stat.h>\n#include <unistd.h>\n"
    "static int64_t count;\n"
    "int64_t increment(void) { return ++count; }\n"
    "int64_t get(void) { return count; }\n"
    "int64_t crash(void) { volatile int *p = 0; *p = 1; return 0; }\n"
    /* how many of the guest's devices that reach the host open for writing */
    "int32_t devices(void) { int n = 0; const char *f[] = {\"/dev/ttyS0\", \"/dev/console\",\n"
    "  \"/dev/kmsg\", \"/dev/hvc0\", \"/dev/mem\", 0};\n"
    "  for (int i = 0; f[i]; i++) { int fd = open(f[i], O_WRONLY | O_NONBLOCK); if (fd >= 0) {\n"
    "    n++; close(fd); } }\n"
    "  DIR *d = opendir(\"/dev\"); struct dirent *e; while (d && (e = readdir(d))) {\n"
    "    if (strncmp(e->d_name, \"vport\", 5)) continue; char p[300];\n"
    "    snprintf(p, sizeof(p), \"/dev/%s\", e->d_name); int fd = open(p, O_RDWR | O_NONBLOCK);\n"
    "    if (fd >= 0) { n++; close(fd); } }\n"
    "  if (d) closedir(d); return n; }\n"
    /* a header (len, type OK, flags, zero, id) claiming 2 GiB, on every socket */
    "int32_t forge(void) { unsigned char h[12] = {0xf0, 0xff, 0xff, 0x7f, 128, 0, 0, 0, 1, 0, 0, 0};\n"
    "  int n = 0; for (int fd = 0; fd < 64; fd++) { struct stat st;\n"
    "    if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && write(fd, h, sizeof(h)) == 12) n++; }\n"
    "  return n; }\n"
    "int32_t plant(void) { FILE *f = fopen(\"/tmp/hb-left-behind\", \"w\"); if (!f) return -1;\n"
    "  fputs(\"from a crashed worker\", f); fclose(f); return 0; }\n"
    "int32_t planted(void) { struct stat st; return stat(\"/tmp/hb-left-behind\", &st) == 0; }\n"
    "static int save(void **d, size_t *l) { int64_t *p = malloc(8); if (!p) return -1;\n"
    "  *p = count; *d = p; *l = 8; return 0; }\n"
    "static int migrate(const void *d, size_t l, uint32_t s) { if (s != 1 || l != 8) return -1;\n"
    "  memcpy(&count, d, 8); return 0; }\n"
    "HB_PLUGIN(\"hostile\", 1, 0, 0, save, migrate);\n";

static int64_t call_l(hb_sandbox *sb, const char *fn)
{
    int64_t v = -1;
    int r = hb_callf(sb, "hostile", fn, ")l", &v);
    if (r != 0)
        fprintf(stderr, "call %s: %s\n", fn, hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    return v;
}

static int32_t call_i(hb_sandbox *sb, const char *fn)
{
    int32_t v = -1;
    int r = hb_callf(sb, "hostile", fn, ")i", &v);
    if (r != 0)
        fprintf(stderr, "call %s: %s\n", fn, hb_sandbox_last_error(sb));
    HB_CHECK_OK(r);
    return v;
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    e2e_tmpdir();
    char *dir = e2e_write("hostile", "hostile.c", src);
    hb_manager *m = e2e_manager(&ev);
    hb_sandbox_options so = HB_SANDBOX_OPTIONS_INIT;
    so.worker = HB_WORKER_MICROVM;
    so.call_timeout_ms = 60000;
    hb_sandbox *sb = NULL;
    int r = hb_sandbox_new(m, &so, &sb);
    const char *why = hb_manager_last_error(m);
    if (r == HB_EISOLATION &&
        (strstr(why, "guest kernel not found") || strstr(why, "qemu-system-x86_64") ||
         strstr(why, "initramfs not found"))) {
        printf("SKIP: %s\n", why);
        hb_manager_free(m);
        e2e_cleanup();
        return 77;
    }
    if (r)
        fprintf(stderr, "hb_sandbox_new: %s\n", why);
    HB_CHECK_OK(r);
    HB_CHECK_OK(hb_load(sb, dir));
    HB_CHECK_EQ(call_l(sb, "increment"), 1);

    /* devices */
    int32_t opened = call_i(sb, "devices");
    printf("devices: %d opened\n", opened);
    HB_CHECK_EQ(opened, 0);

    /* forge */
    HB_CHECK_EQ(call_l(sb, "increment"), 2);
    HB_CHECK_OK(hb_checkpoint(sb, "hostile"));
    int32_t n = -1;
    r = hb_callf(sb, "hostile", "forge", ")i", &n);
    printf("forge: %d (%s), %d written\n", r, r ? hb_sandbox_last_error(sb) : "", n);
    HB_CHECK(r != 0);
    HB_CHECK_EQ(call_l(sb, "get"), 2);
    HB_CHECK_EQ(call_l(sb, "increment"), 3);

    /* tmp_restart */
    HB_CHECK_EQ(call_i(sb, "plant"), 0);
    HB_CHECK_EQ(call_i(sb, "planted"), 1);
    int64_t v;
    HB_CHECK_EQ(hb_callf(sb, "hostile", "crash", ")l", &v), HB_ECRASHED);
    int32_t left = call_i(sb, "planted");
    printf("tmp_restart: the restarted worker %s the crashed one's file\n", left ? "sees" : "does not see");
    HB_CHECK_EQ(left, 0);

    hb_sandbox_free(sb);
    hb_manager_free(m);
    e2e_cleanup();
    printf("ok\n");
    return 0;
}
