/* The carry sections of SWAP and of its OK reply (proto/carry.c) against
 * the bytes PROTOCOL.md describes, built here by hand: encoded byte for
 * byte, decoded back, every cut inside a section refused, and hostile
 * counts and offsets refused before anything is allocated for them. */
#include "hbtest.h"
#include "proto.h"
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gold.h"

static void check_payload(const hb_wbuf *w, const gold *p)
{
    HB_CHECK_EQ(w->len, HB_WIRE_HEADER + p->n);
    HB_CHECK(memcmp(w->data + HB_WIRE_HEADER, p->b, p->n) == 0);
}

static void swap_head(gold *p, uint8_t wait_ack)
{
    p->n = 0;
    g_str(p, "counter");
    g_str(p, "/o/c-2.so");
    g_u64(p, 4);
    g_u8(p, wait_ack);
}

static void case_swap_request(void)
{
    uint64_t ptrs[2] = {0, 16};
    hb_proto_carry_var vars[2] = {{.old_off = 0x4010, .new_off = 0x4020, .size = 8},
                                  {.old_off = 0x4040, .new_off = 0x4060, .size = 24, .nptrs = 2,
                                   .ptrs = ptrs}};
    hb_proto_swap m = {.plugin = "counter", .path = "/o/c-2.so", .version = 4,
                       .carry = {.present = true, .flags = HB_PROTO_CARRY_GUARD,
                                 .reason = "`long n`: type changed", .nvars = 2, .vars = vars}};
    hb_wbuf w = {0};
    HB_CHECK_OK(hb__proto_swap_encode(&w, 3, &m));
    /* wait_ack is written (0) because a carry section follows */
    gold p;
    swap_head(&p, 0);
    size_t head = p.n;
    g_u8(&p, 1);
    g_str(&p, "`long n`: type changed");
    g_u32(&p, 2);
    g_u64(&p, 0x4010), g_u64(&p, 0x4020), g_u64(&p, 8), g_u32(&p, 0);
    g_u64(&p, 0x4040), g_u64(&p, 0x4060), g_u64(&p, 24), g_u32(&p, 2);
    g_u64(&p, 0), g_u64(&p, 16);
    check_payload(&w, &p);
    hb__wire_release(&w);

    hb_proto_swap d;
    HB_CHECK_OK(hb__proto_swap_decode(p.b, p.n, &d));
    HB_CHECK(d.carry.present);
    HB_CHECK_EQ(d.carry.flags, HB_PROTO_CARRY_GUARD);
    HB_CHECK_STR(d.carry.reason, "`long n`: type changed");
    HB_CHECK_EQ(d.carry.nvars, 2);
    HB_CHECK_EQ(d.carry.vars[1].new_off, 0x4060);
    HB_CHECK_EQ(d.carry.vars[1].nptrs, 2);
    HB_CHECK_EQ(d.carry.vars[1].ptrs[1], 16);
    hb__proto_swap_release(&d);

    /* A cut anywhere inside the section, or a byte more, is malformed. */
    for (size_t cut = head + 1; cut < p.n; cut++)
        HB_CHECK_EQ(hb__proto_swap_decode(p.b, cut, &d), -EPROTO);
    gold more = p;
    g_u8(&more, 0);
    HB_CHECK_EQ(hb__proto_swap_decode(more.b, more.n, &d), -EPROTO);

    /* Without the section: exactly the old bytes. */
    m.carry.present = false;
    HB_CHECK_OK(hb__proto_swap_encode(&w, 3, &m));
    swap_head(&p, 0);
    p.n--; /* no wait_ack either */
    check_payload(&w, &p);
    hb__wire_release(&w);
}

/* Hostile sections: unknown flags, a pointer past its variable, a range
 * that wraps, counts larger than the payload. */
static void case_swap_hostile(void)
{
    hb_proto_swap d;
    gold p;
    swap_head(&p, 0);
    g_u8(&p, 0x80); /* unknown flag */
    g_str(&p, "");
    g_u32(&p, 0);
    HB_CHECK_EQ(hb__proto_swap_decode(p.b, p.n, &d), -EPROTO);

    swap_head(&p, 0);
    g_u8(&p, 0), g_str(&p, ""), g_u32(&p, 1);
    g_u64(&p, 0x10), g_u64(&p, 0x20), g_u64(&p, 8), g_u32(&p, 1), g_u64(&p, 4);
    HB_CHECK_EQ(hb__proto_swap_decode(p.b, p.n, &d), -EPROTO); /* 4 + 8 > 8 */

    swap_head(&p, 0);
    g_u8(&p, 0), g_str(&p, ""), g_u32(&p, 1);
    g_u64(&p, UINT64_MAX - 2), g_u64(&p, 0x20), g_u64(&p, 8), g_u32(&p, 0);
    HB_CHECK_EQ(hb__proto_swap_decode(p.b, p.n, &d), -EPROTO); /* wraps */

    swap_head(&p, 0);
    g_u8(&p, 0), g_str(&p, ""), g_u32(&p, 0x7fffffff);
    HB_CHECK_EQ(hb__proto_swap_decode(p.b, p.n, &d), -EPROTO);

    swap_head(&p, 0);
    g_u8(&p, 0), g_str(&p, ""), g_u32(&p, 1);
    g_u64(&p, 0x10), g_u64(&p, 0x20), g_u64(&p, 1 << 20), g_u32(&p, 60000);
    HB_CHECK_EQ(hb__proto_swap_decode(p.b, p.n, &d), -EPROTO);

    /* an empty plan with the guard is well-formed */
    swap_head(&p, 1);
    g_u8(&p, 1), g_str(&p, "r"), g_u32(&p, 0);
    HB_CHECK_OK(hb__proto_swap_decode(p.b, p.n, &d));
    HB_CHECK_EQ(d.wait_ack, 1);
    HB_CHECK_EQ(d.carry.nvars, 0);
    hb__proto_swap_release(&d);
}

static void case_swap_ok(void)
{
    hb_proto_carry_refused ref[1] = {{.index = 1, .offset = 16}};
    hb_proto_loaded m = {.name = "c", .schema = 1, .hooks = 0, .state_result = 0, .previous = 3,
                         .carry = {.present = true, .applied = 1, .nrefused = 1, .refused = ref}};
    hb_wbuf w = {0};
    HB_CHECK_OK(hb__proto_swap_ok_encode(&w, 3, &m));
    gold p = {.n = 0};
    g_str(&p, "c"), g_u32(&p, 1), g_u32(&p, 0), g_u8(&p, 0), g_u64(&p, 3);
    size_t head = p.n;
    g_u8(&p, 1), g_u32(&p, 1), g_u32(&p, 1), g_u64(&p, 16);
    check_payload(&w, &p);
    hb__wire_release(&w);
    hb_proto_loaded d;
    HB_CHECK_OK(hb__proto_swap_ok_decode(p.b, p.n, &d));
    HB_CHECK(d.carry.present);
    HB_CHECK_EQ(d.carry.applied, 1);
    HB_CHECK_EQ(d.carry.nrefused, 1);
    HB_CHECK_EQ(d.carry.refused[0].index, 1);
    HB_CHECK_EQ(d.carry.refused[0].offset, 16);
    hb__proto_loaded_release(&d);
    for (size_t cut = head + 1; cut < p.n; cut++)
        HB_CHECK_EQ(hb__proto_swap_ok_decode(p.b, cut, &d), -EPROTO);
    /* without the section: the reply decodes with no carry result */
    HB_CHECK_OK(hb__proto_swap_ok_decode(p.b, head, &d));
    HB_CHECK(!d.carry.present);
    hb__proto_loaded_release(&d);
    p.b[head] = 2; /* applied is 0 or 1 */
    HB_CHECK_EQ(hb__proto_swap_ok_decode(p.b, p.n, &d), -EPROTO);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    if (!strcmp(argv[1], "swap_request"))
        case_swap_request();
    else if (!strcmp(argv[1], "swap_hostile"))
        case_swap_hostile();
    else if (!strcmp(argv[1], "swap_ok"))
        case_swap_ok();
    else
        return 2;
    return 0;
}
