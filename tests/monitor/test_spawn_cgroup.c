/* hb__spawn's in_cgroup (util/process.h) with a real cgroup v2 directory
 * (monitor/cgroup.c): the child runs in the cgroup from its first
 * instruction, and a directory that is not a cgroup fails the spawn,
 * naming the step, with no child left behind. SKIPs (77) where this
 * process cannot create a cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hbtest.h"
#include "monitor.h"
#include "process.h"
#include "util.h"

static hb_cgroup *live_cg;
static void cleanup(void)
{
    hb_cgroup_destroy(live_cg);
    live_cg = NULL;
}

/* In the child: waits on the pipe (fd 3) until the parent has looked. */
static int child_wait(void *arg)
{
    (void)arg;
    char c;
    ssize_t n;
    do
        n = read(3, &c, 1);
    while (n < 0 && errno == EINTR);
    return 0;
}

int main(void)
{
    char name[64], *err = NULL;
    snprintf(name, sizeof(name), "spawn-%d", (int)getpid());
    hb_cgroup_limits lim = {0};
    hb_cgroup *cg = NULL;
    if (hb_cgroup_create(name, &lim, &cg, &err) < 0) {
        printf("SKIP: cannot create a cgroup here: %s\n", err ? err : "?");
        free(err);
        return 77;
    }
    live_cg = cg;
    atexit(cleanup);
    int dir = hb_cgroup_dir_fd(cg);
    HB_CHECK(dir >= 0);
    int p[2];
    HB_CHECK_OK(pipe2(p, O_CLOEXEC));
    hb_spawn_fd fds[] = {{p[0], 3}};
    hb_spawn sp = {.child_main = child_wait, .fds = fds, .nfds = 1, .in_cgroup = true,
                   .cgroup_dir = dir};
    pid_t pid = -1;
    HB_CHECK_OK(hb__spawn(&sp, &pid, NULL, &err));
    /* /proc/<pid>/cgroup says "0::<path below the root>": path ends it. */
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/%d/cgroup", (int)pid);
    void *data;
    size_t len;
    HB_CHECK_OK(hb__read_file(proc, 4096, &data, &len));
    const char *want = strrchr(hb_cgroup_path(cg), '/');
    HB_CHECK(want != NULL);
    char *line = data;
    HB_CHECK_CONTAINS(line, want);
    free(data);
    HB_CHECK_EQ(write(p[1], "x", 1), 1);
    int st = -1;
    HB_CHECK_EQ(hb__wait_pid(pid, &st, 0), pid);
    HB_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* Not a cgroup: clone3 refuses it, the forked child's own join fails. */
    int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    HB_CHECK(tmp >= 0);
    sp.cgroup_dir = tmp;
    pid = -1;
    HB_CHECK(hb__spawn(&sp, &pid, NULL, &err) < 0);
    HB_CHECK_CONTAINS(err, "joining the cgroup");
    HB_CHECK_EQ(waitpid(-1, NULL, WNOHANG), -1); /* no child left */
    free(err);
    close(tmp);
    close(dir);
    close(p[0]);
    close(p[1]);
    printf("ok\n");
    return 0;
}
