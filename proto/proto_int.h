/* proto/proto_int.h - helpers shared by the message codecs of proto/
 * (proto.c, call.c); not part of proto.h. */
#ifndef HB_PROTO_INT_H
#define HB_PROTO_INT_H

#include <stddef.h>

#include "wire.h"

/* The reader's failure (truncation, NUL in a str) or trailing bytes: rc
 * when it is already an error, -EPROTO for a failed reader or bytes left,
 * else 0. */
int hb__proto_finish(const hb_rbuf *r, int rc);

/* A str field: -EPROTO when it is longer than max or holds a NUL. Keeps
 * the reader failed after an error, so later gets fail too. */
int hb__proto_get_str(hb_rbuf *r, size_t max, char **out);

#endif /* HB_PROTO_INT_H */
