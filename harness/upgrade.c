/* harness/upgrade.c - upgrade-path test results in the catalogue, and the
 * choice of the version an upgrade run starts from (its one owner). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int hb_version_set_upgrade_result(hb_manager *m, const char *plugin, uint64_t version,
                                  uint64_t base, hb_upgrade_result result)
{
    if (!m || !plugin || !version || (unsigned)result > HB_UPGRADE_FAILED)
        return -EINVAL;
    int r = hb_store_set_upgrade_result(m->store, plugin, version, base, (int)result);
    char *why = r < 0 ? strdup(hb_store_last_error(m->store)) : NULL;
    if (r < 0)
        hb__set_mgr_error(m, "%s", why ? why : hb_strerror(r));
    free(why);
    return r == -ENOENT ? HB_ENOVERSION : r;
}

int hb_version_upgrade_result(hb_manager *m, const char *plugin, uint64_t version,
                              hb_upgrade_result *result, uint64_t *base)
{
    if (!m || !plugin || !version)
        return -EINVAL;
    hb_version_rec rec = {0};
    int r = hb_store_get(m->store, plugin, version, &rec);
    char *why = r < 0 ? strdup(hb_store_last_error(m->store)) : NULL;
    if (r < 0) {
        hb__set_mgr_error(m, "%s", why ? why : hb_strerror(r));
        free(why);
        return r == -ENOENT ? HB_ENOVERSION : r;
    }
    if (result)
        *result = (hb_upgrade_result)rec.upgrade_result;
    if (base)
        *base = rec.upgrade_base;
    hb_version_rec_release(&rec);
    return 0;
}

int hb_upgrade_base(hb_manager *m, const char *plugin, uint64_t version, uint64_t *base)
{
    if (!m || !plugin || !base)
        return -EINVAL;
    hb_version_rec *v = NULL;
    size_t n = 0;
    int r = hb_store_list(m->store, plugin, &v, &n);
    if (r < 0) {
        hb__set_mgr_error(m, "cannot list versions of %s: %s", plugin, hb_strerror(r));
        return r;
    }
    uint64_t found = 0;
    for (size_t i = n; i-- > 0 && !found;)
        if (v[i].version < version && v[i].status != HB_VERSION_BAD &&
            v[i].upgrade_result != HB_UPGRADE_FAILED)
            found = v[i].version;
    hb_store_list_free(v, n);
    if (!found) {
        hb__set_mgr_error(m, "%s has no version before v%" PRIu64
                          " that is not bad and passed its upgrade tests", plugin, version);
        return HB_ENOVERSION;
    }
    *base = found;
    return 0;
}
