/*
 * security/security.h - containment applied to processes hotbox starts.
 *
 * hb_limits are resource limits applied with setrlimit in a freshly forked
 * child before exec (async-signal-safe: no allocation).
 */
#ifndef HB_SECURITY_H
#define HB_SECURITY_H

#include <stdint.h>

typedef struct hb_limits {
    uint64_t memory_bytes;   /* RLIMIT_AS; 0 = unlimited */
    uint64_t cpu_seconds;    /* RLIMIT_CPU; 0 = unlimited */
    uint64_t open_files;     /* RLIMIT_NOFILE; 0 = unchanged */
    uint64_t processes;      /* RLIMIT_NPROC; 0 = unchanged */
    uint64_t file_size;      /* RLIMIT_FSIZE; 0 = unlimited */
    int no_core;             /* RLIMIT_CORE = 0 when set */
} hb_limits;

/* Applies the limits to the calling process. Returns 0 or -errno with
 * *failed naming the limit that could not be set (static string). Safe to
 * call between fork and exec. */
int hb_sec_apply_limits(const hb_limits *l, const char **failed);

#endif /* HB_SECURITY_H */
