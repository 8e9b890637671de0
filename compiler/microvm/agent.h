/*
 * compiler/microvm/agent.h - private to the static guest agent (agent.c,
 * agent_worker.c, agent_object.c): the helpers its files share.
 *
 *   agent.c         /init: mounts, modules, the agent port, RUN, MOUNT, SCRUB
 *   agent_worker.c  WORKER: the guest worker, its relay and its death report
 *   agent_object.c  OBJECT: a plugin object checked by SHA-256 and shown
 *                   read-only at its host path before the worker loads it
 *   agent_jail.c    the box a RUN job runs in (namespaces, mounts, powers)
 */
#ifndef HB_AGENT_H
#define HB_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "rlimit.h"
#include "util.h" /* hb__read_full, hb__write_full (util/fullio.c) */
#include "vmproto.h"

/* "hotbox-agent: ..." on the console (the host keeps it in a log file). */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* /dev/vportNpM whose sysfs name is `want`; -1 if not (yet) there. */
int agent_find_port(const char *want, char *out, size_t outlen);
/* Ends the frame (hb_vmp_end) and writes it; -1 on failure. */
int agent_send_frame(int fd, hb_vmp_w *w);
/* Answers a request with a frame of type: u64 err (0 or an errno), str msg;
 * logged when it cannot be sent. */
void agent_reply_status(int port, uint8_t *wbuf, size_t wcap, uint32_t type, uint64_t err,
                        const char *msg, const char *type_name);
/* mkdir -p for an absolute path; -1 (errno set) on failure. */
int agent_mkdir_p(const char *path);

/* agent_worker.c */
void agent_start_worker(hb_vmp_r *r, int port, uint8_t *wbuf, size_t wcap);
/* Waits for the port to be readable, reaping children (and reporting the
 * worker's end) meanwhile. */
void agent_wait_request(int port);

/* agent_jail.c: in the agent's child for a RUN job (stdio set up): makes
 * the job's box, runs argv in it with the limits and ends as the job ended
 * (its exit status, or its signal), once nothing of the job is left. */
void agent_job_run(char **binds, uint64_t nbinds, const char *cwd, char **argv, char **envp,
                   const hb_limits *lim) __attribute__((noreturn));

/* agent_object.c */
void agent_object(hb_vmp_r *r, int port, uint8_t *wbuf, size_t wcap);

#endif /* HB_AGENT_H */
