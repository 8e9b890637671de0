/* harness/load_object.c - hb_load_object: a prebuilt plugin object (built
 * by CMake or Meson, or a release artifact) read once, checked as a compile
 * output is (versions/elf.c), stored under its checksum with its origin,
 * then loaded (load.c) or swapped in (group.c) exactly as a build is. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox_impl.h"

/* An object larger than this is refused before it is read (elf.c refuses
 * the same size). */
#define MAX_OBJECT ((size_t)1 << 30)

/* Names as the store and the worker's SONAMEs use them. */
static bool valid_name(const char *n)
{
    size_t len = strlen(n);
    if (!len || len > 127 || n[0] == '.' || n[0] == '-')
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.' || *p == '+'))
            return false;
    return true;
}

/* The file's bytes, read once: what is checked is what is stored. */
static int read_object(const char *path, char **abs, void **data, size_t *len, char **err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        if (e == ELOOP)
            return hb__seterr(err, -e, "prebuilt object %s: a symbolic link loop (%s)", path,
                              strerror(e));
        return hb__seterr(err, -e, "prebuilt object %s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode))
        return hb__seterr(err, -EISDIR,
                          "prebuilt object %s is a directory, not a shared object (a plugin "
                          "directory of sources is loaded with hb_load / hotbox call DIR)",
                          path);
    if (!S_ISREG(st.st_mode))
        return hb__seterr(err, -EINVAL, "prebuilt object %s is not a regular file", path);
    if ((uint64_t)st.st_size > MAX_OBJECT)
        return hb__seterr(err, -EFBIG, "prebuilt object %s is %llu bytes, more than the limit of %zu",
                          path, (unsigned long long)st.st_size, MAX_OBJECT);
    int r = hb__realpath(path, abs);
    if (r == 0 && (r = hb__read_file(path, MAX_OBJECT, data, len)) < 0) {
        free(*abs);
        *abs = NULL;
    }
    if (r < 0)
        return hb__seterr(err, r, "prebuilt object %s: cannot read it: %s", path, strerror(-r));
    return 0;
}

/* The plugin's name: `name` when given, else the descriptor's. */
static int plugin_name(const char *path, const char *name, const hb_elf_info *info, char **out,
                       char **err)
{
    const char *n = name ? name : info->descriptor_name;
    if (!n)
        return hb__seterr(err, -EINVAL,
                          "prebuilt object %s: the name in its hb_plugin descriptor cannot be "
                          "read from the file; give the plugin a name (hotbox call --name)",
                          path);
    if (!valid_name(n))
        return hb__seterr(err, -EINVAL,
                          "prebuilt object %s: \"%s\"%s is not a usable plugin name (1 to 127 "
                          "of A-Z a-z 0-9 _ - . +, not starting with . or -)",
                          path, n, name ? "" : " (its descriptor's name)");
    return (*out = strdup(n)) ? 0 : hb__seterr(err, -ENOMEM, "out of memory");
}

/* Checks the image (elf.c) and stores it as a version of the plugin whose
 * name *name receives. */
static int store_object(hb_manager *m, const char *abs, const void *img, size_t len,
                        const char *name, char **plugin, hb_build_out *b, char **err)
{
    hb_elf_info info;
    char *eerr = NULL, *dir = NULL, *tmp = NULL, *serr = NULL;
    uint64_t tv = hb__now_ns();
    int r = hb_elf_analyze(img, len, &info, &eerr);
    if (r < 0) {
        r = hb__seterr(err, r, "prebuilt object %s is not a loadable plugin: %s", abs,
                       eerr ? eerr : hb_strerror(r));
        free(eerr);
        return r;
    }
    if ((r = plugin_name(abs, name, &info, plugin, err)) < 0)
        goto out;
    /* The store copies a file in: the bytes just checked, not the
     * caller's file again (it may change meanwhile). */
    if ((r = hb__mkdtemp_in(m->tmp_dir, "prebuilt-", &dir)) < 0 ||
        !(tmp = hb__path_join(dir, "object.so")) ||
        (r = hb__write_file_atomic(tmp, img, len, 0644)) < 0) {
        r = hb__seterr(err, r < 0 ? r : -ENOMEM, "prebuilt object %s: cannot stage it in %s: %s",
                       abs, m->tmp_dir, strerror(r < 0 ? -r : ENOMEM));
        goto out;
    }
    char *origin[] = {HB_ORIGIN_PREBUILT, (char *)abs, NULL};
    hb_version_rec meta = {0}; /* lists borrowed; no input hash: never a cache hit */
    meta.exports = info.exports;
    meta.imports = info.imports;
    meta.needed = info.needed;
    meta.origin = origin;
    b->t.verify_ms = hb__ms_since(tv);
    r = hb_store_add(m->store, *plugin, tmp, &meta, &b->rec, &b->created, &serr);
    if (r < 0) {
        hb__seterr(err, r, "prebuilt object %s: cannot store it as %s: %s", abs, *plugin,
                   serr ? serr : hb_strerror(r));
        goto out;
    }
    hb_store_object_set_analysed(m->store, b->rec.object_sha256);
out:
    if (dir)
        hb__rm_rf(dir);
    free(dir);
    free(tmp);
    free(serr);
    hb_elf_info_release(&info);
    return r;
}

/* Reads, checks and stores the object at path (the step hb_load_object
 * and hb_build_object share); *plugin: its name. */
static int add_object(hb_manager *m, hb_sandbox *sb, const char *path, const char *name,
                      char **plugin, hb_build_out *b, char **err)
{
    char *abs = NULL;
    void *img = NULL;
    size_t len = 0;
    int r = read_object(path, &abs, &img, &len, err);
    if (r == 0)
        r = store_object(m, abs, img, len, name, plugin, b, err);
    if (r == 0)
        hb__emit(m, sb, HB_EVENT_NOTICE, *plugin, b->rec.version, 0, 0, NULL,
                 "%s v%llu: prebuilt object %s%s", *plugin, (unsigned long long)b->rec.version,
                 abs, b->created ? "" : " (identical to a stored version)");
    free(img);
    free(abs);
    return r;
}

int hb_build_object(hb_manager *m, const char *path, const char *name, hb_version_info *out)
{
    if (!m || !path)
        return -EINVAL;
    char *plugin = NULL, *err = NULL;
    hb_build_out b = {0};
    int r = add_object(m, NULL, path, name, &plugin, &b, &err);
    if (r < 0)
        hb__set_mgr_error(m, "%s", err ? err : hb_strerror(r));
    else if (out)
        hb__rec_to_info(&b.rec, out);
    hb__build_out_release(&b);
    free(plugin);
    free(err);
    return r;
}

int hb_load_object_as(hb_sandbox *sb, const char *path, const char *name)
{
    if (!sb || !path)
        return -EINVAL;
    int r = hb__sandbox_usable(sb);
    if (r < 0)
        return r;
    uint64_t t0 = hb__now_ns();
    char *plugin = NULL, *err = NULL;
    hb_build_out b = {0};
    if ((r = add_object(sb->m, sb, path, name, &plugin, &b, &err)) < 0) {
        hb__sandbox_set_err(sb, err);
        err = NULL;
        goto out;
    }
    if (hb__slot_find(sb, plugin)) {
        r = hb__reload_to_built(sb, plugin, &b, t0);
    } else {
        char *dir = strdup(""); /* no sources: hb_reload refuses it */
        r = dir ? hb__load_room(sb, plugin) : -ENOMEM;
        if (r == 0)
            r = hb__load_stored(sb, &plugin, &dir, &b, t0);
        free(dir);
    }
out:
    hb__build_out_release(&b);
    free(plugin);
    free(err);
    return r;
}

int hb_load_object(hb_sandbox *sb, const char *path)
{
    return hb_load_object_as(sb, path, NULL);
}
