/*
 * compiler/microvm/mkinitramfs.c - build tool: packs the static guest agent
 * into the base initramfs (newc cpio) as /init, with the directories, the
 * /dev/console node and the merged-/usr symlinks the guest needs.
 *
 *   hb-mkinitramfs AGENT OUTPUT
 *
 * The guest kernel's modules and /etc/ld.so.cache are NOT in this archive:
 * the host library appends them at run time from the kernel cache (see
 * config.c), so the build never depends on scripts/fetch-guest-kernel.sh
 * having run and a later kernel update needs no rebuild.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpio.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s AGENT OUTPUT\n", argv[0]);
        return 2;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
    FILE *f = fopen(tmp, "wbe");
    if (!f) {
        fprintf(stderr, "mkinitramfs: %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    hb_cpio c;
    hb__cpio_init(&c, f);
    static const char *dirs[] = {"dev", "proc", "sys", "tmp", "usr", "job", "etc",
                                 "modules", "root"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        hb__cpio_dir(&c, dirs[i], 0755);
    hb__cpio_chardev(&c, "dev/console", 0600, 5, 1);
    hb__cpio_chardev(&c, "dev/null", 0666, 1, 3);
    /* Merged /usr: the dynamic loader and libc are reached through these. */
    hb__cpio_symlink(&c, "bin", "usr/bin");
    hb__cpio_symlink(&c, "sbin", "usr/sbin");
    hb__cpio_symlink(&c, "lib", "usr/lib");
    hb__cpio_symlink(&c, "lib64", "usr/lib64");
    hb__cpio_file_from(&c, "init", 0755, argv[1]);
    int r = hb__cpio_finish(&c);
    if (fclose(f) != 0 && !r)
        r = -errno;
    if (r || rename(tmp, argv[2]) != 0) {
        fprintf(stderr, "mkinitramfs: writing %s: %s\n", argv[2], strerror(r ? -r : errno));
        remove(tmp);
        return 1;
    }
    return 0;
}
