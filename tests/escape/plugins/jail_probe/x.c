/* Escape attempts on the jail itself. Every probe is safe: write access is
 * proven by open(O_WRONLY) (or O_RDWR) alone, nothing is ever written. Each
 * returns 0 when contained and a positive code when it got out. */
#include <hotbox/plugin.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <termios.h>

/* 1 when path opens for writing (closed at once, nothing written). */
static int32_t writable(const char *path)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

/* Host knobs: core_pattern (a root worker could install a pipe handler the
 * kernel runs as real root), sysrq-trigger, another sysctl. */
HB_EXPORT_FN int32_t host_knobs(void)
{
    return writable("/proc/sys/kernel/core_pattern") | writable("/proc/sysrq-trigger") << 1 |
           writable("/proc/sys/vm/drop_caches") << 2;
}

/* The value of field `name` ("CapEff:") in /proc/<pid>/status, as hex. */
static int status_field(const char *pid, const char *name, unsigned long long *out)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int r = -1;
    size_t l = strlen(name);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, name, l) == 0) {
            *out = strtoull(line + l, NULL, strcmp(name, "Seccomp:") == 0 ? 10 : 16);
            r = 0;
            break;
        }
    fclose(f);
    return r;
}

/* 1: CapEff non-empty, 2: CapBnd non-empty, 4: CapPrm non-empty,
 * 8: uid 0 inside. */
HB_EXPORT_FN int32_t caps(void)
{
    unsigned long long eff = 1, bnd = 1, prm = 1;
    status_field("self", "CapEff:", &eff);
    status_field("self", "CapBnd:", &bnd);
    status_field("self", "CapPrm:", &prm);
    return (eff != 0) | (bnd != 0) << 1 | (prm != 0) << 2 | (getuid() == 0 || geteuid() == 0) << 3;
}

/* Every other process this code can see must be under a seccomp filter
 * and must not open for writing through /proc/<pid>/mem.
 * 1: an unfiltered process, 2: a writable /proc/<pid>/mem. */
HB_EXPORT_FN int32_t other_processes(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int32_t r = 0;
    char self[32];
    snprintf(self, sizeof(self), "%d", (int)getpid());
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]) || strcmp(e->d_name, self) == 0)
            continue;
        unsigned long long mode = 0;
        if (status_field(e->d_name, "Seccomp:", &mode) == 0 && mode == 0)
            r |= 1;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%s/mem", e->d_name);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            r |= 2;
        }
    }
    closedir(d);
    return r;
}

/* 1 when name= appears in the environment of pid 1 or of this process. */
HB_EXPORT_FN int32_t environ_has(const char *name)
{
    static const char *const files[] = {"/proc/1/environ", "/proc/self/environ"};
    size_t l = strlen(name);
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "re");
        if (!f)
            continue;
        char buf[65536];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t off = 0; off < n; off += strlen(buf + off) + 1) {
            buf[n] = 0;
            if (strncmp(buf + off, name, l) == 0 && buf[off + l] == '=')
                return 1;
        }
    }
    return 0;
}

/* 0 when path can be opened for reading, else -errno. */
HB_EXPORT_FN int32_t can_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}
/* The terminal the worker's stderr may be (the developer's): 1 when its
 * modes can be set (ECHO turned off: the probe's only change, on the test's
 * own pseudo-terminal), 2 when TIOCSTI injects a byte into its input. */
HB_EXPORT_FN int32_t tty_poke(void)
{
    int32_t r = 0;
    struct termios t;
    if (tcgetattr(2, &t) == 0) {
        t.c_lflag &= ~(tcflag_t)ECHO;
        if (tcsetattr(2, TCSANOW, &t) == 0)
            r |= 1;
    }
    char c = '#';
    if (ioctl(2, TIOCSTI, &c) == 0)
        r |= 2;
    return r;
}

HB_PLUGIN("jail_probe", 1, 0, 0, 0, 0);
