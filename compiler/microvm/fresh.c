/*
 * compiler/microvm/fresh.c - did a job on a warm VM compile against the
 * host's /usr as it is now?
 *
 * The guest mounts the host's /usr with cache=loose (the per-job speed
 * depends on it, docs/microvm.md), which never revalidates: a header
 * replaced or edited on the host after the VM mounted /usr (a package
 * upgrade, a file under /usr/local/include) keeps being served from the
 * guest's cache, while the host's compile cache keys the object by the new
 * contents. So after each job every /usr file its depfile names is checked
 * on the host: one changed (ctime or mtime) since just before the VM's
 * MOUNT, or gone, makes the result untrusted (-ESTALE, the VM counts as
 * faulty): the pool retires the VM and runs the job again on a fresh one,
 * whose cache starts empty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler.h"
#include "vm_internal.h"

/* The job's depfile on the host: the argument of -MF (or -MFpath), taken
 * from where the job's outputs went when it names the guest's out dir. */
static const char *depfile_of(const hb_vm_job *job, const hb_vm_result *res)
{
    const char *mf = NULL;
    for (size_t i = 0; job->argv[i]; i++) {
        if (!strcmp(job->argv[i], "-MF") && job->argv[i + 1])
            mf = job->argv[i + 1];
        else if (!strncmp(job->argv[i], "-MF", 3) && job->argv[i][3])
            mf = job->argv[i] + 3;
    }
    if (mf && !strncmp(mf, HB_VM_GUEST_OUT "/", sizeof(HB_VM_GUEST_OUT)))
        return res->depfile_path;
    return mf;
}

static uint64_t ns_of(const struct timespec *t)
{
    return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

int hb__vm_check_fresh(const vm *v, const hb_vm_job *job, const hb_vm_result *res, char **err)
{
    const char *dep = v->mount_real_ns ? depfile_of(job, res) : NULL;
    void *text = NULL;
    size_t len = 0;
    char **deps = NULL;
    if (!dep || hb__read_file(dep, 64u << 20, &text, &len) != 0)
        return 0; /* no depfile: the compile failed, or names none */
    int r = hb_compiler_parse_depfile(text, len, &deps);
    free(text);
    if (r < 0)
        return 0; /* compiler.c reports a depfile it cannot read */
    /* File times come from the kernel's coarse clock, up to a tick (<= 10
     * ms) behind the time MOUNT was sent: 50 ms early. */
    uint64_t since = v->mount_real_ns - 50000000u;
    for (size_t i = 0; !r && deps[i]; i++) {
        struct stat st;
        if (strncmp(deps[i], "/usr/", 5) != 0)
            continue;
        if (lstat(deps[i], &st) != 0)
            r = hb__seterr(err, -ESTALE, "%s is gone from the host but the VM's cached /usr "
                                         "still had it: compiling again on a fresh VM",
                           deps[i]);
        else if (ns_of(&st.st_ctim) >= since || ns_of(&st.st_mtim) >= since)
            r = hb__seterr(err, -ESTALE, "%s changed on the host after the VM mounted /usr "
                                         "(its cache may hold the old one): compiling again on "
                                         "a fresh VM",
                           deps[i]);
    }
    hb__strv_free(deps);
    return r;
}
