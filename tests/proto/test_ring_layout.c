/* The call ring's layout (proto/ring.h) follows the round trip's cache-line
 * transfers: a CALL of add(int,int) (the benchmark's call) fits whole in
 * the doorbell's line, so it arrives with the bell in one transfer; its OK
 * reply fits in the line the caller spins on; and `taken`, written by the
 * worker on every request, shares no line with any word the harness reads
 * or writes on every call (the CPUs, the sleep flag, the bell, the state,
 * the life word). */
#include "hbtest.h"
#include "proto.h"
#include "ring.h"
#include "wire.h"

#define LINE(field) (offsetof(hb_ring, field) / 64)

int main(void)
{
    hb_wvalue args[2] = {{.type = HB_TYPE_I32, .n.i = 1}, {.type = HB_TYPE_I32, .n.i = 2}};
    hb_proto_call q = {.plugin = "bench", .symbol = "add", .signature = "ii)i", .nargs = 2,
                       .args = args};
    hb_wbuf w = {0};
    HB_CHECK_OK(hb__proto_call_encode(&w, 1, &q));
    size_t room = 64 - offsetof(hb_ring, req) % 64;
    printf("add(int,int) request: %zu bytes, %zu in the bell's line\n", w.len, room);
    HB_CHECK_INT(w.len, <=, room);
    HB_CHECK_EQ(LINE(req), LINE(bell));
    hb_proto_call_ok ok = {.ret = {.type = HB_TYPE_I32, .n.i = 3}};
    HB_CHECK_OK(hb__proto_call_ok_encode(&w, 1, &ok));
    HB_CHECK_INT(w.len, <=, 64 - offsetof(hb_ring, rep) % 64);
    HB_CHECK_EQ(LINE(rep), LINE(state));
    HB_CHECK_EQ(LINE(rep_len), LINE(state));
    const size_t other[] = {LINE(worker_cpu), LINE(caller_cpu), LINE(worker_sleeping),
                            LINE(bell), LINE(state), LINE(life)};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        HB_CHECK(LINE(taken) != other[i]);
    hb__wire_release(&w);
    printf("ring layout: ok\n");
    return 0;
}
