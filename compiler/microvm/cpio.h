/*
 * compiler/microvm/cpio.h - a writer for the "newc" cpio format, the one the
 * Linux kernel unpacks as an initramfs. Several archives may be concatenated
 * into one initramfs file; the kernel unpacks them in order, which is how the
 * host appends the guest kernel's modules to the agent archive built by CMake.
 *
 * Used by the build tool (mkinitramfs.c) and the host library, so it depends
 * on nothing but libc. Functions return 0 or -errno.
 */
#ifndef HB_MICROVM_CPIO_H
#define HB_MICROVM_CPIO_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct hb_cpio {
    FILE *f;
    unsigned ino;
    int err;
} hb_cpio;

void hb__cpio_init(hb_cpio *c, FILE *f);
int hb__cpio_dir(hb_cpio *c, const char *name, mode_t perm);
int hb__cpio_file(hb_cpio *c, const char *name, mode_t perm, const void *data, size_t len);
/* Copies a host file's bytes into the archive under `name`. */
int hb__cpio_file_from(hb_cpio *c, const char *name, mode_t perm, const char *host_path);
int hb__cpio_symlink(hb_cpio *c, const char *name, const char *target);
int hb__cpio_chardev(hb_cpio *c, const char *name, mode_t perm, unsigned major, unsigned minor);
/* Writes the TRAILER!!! entry; returns the first error seen, if any. */
int hb__cpio_finish(hb_cpio *c);

#endif
