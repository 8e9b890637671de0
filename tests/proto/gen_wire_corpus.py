#!/usr/bin/env python3
"""Writes the seed corpus of the `wire` fuzz target (tests/fuzz/corpus/wire/):
one valid frame of every message (requests, replies, interim frames), in the
format of proto/PROTOCOL.md, written here independently of proto/'s C code.
A reply's file name says which request it answers (ok_<request>), because an
OK frame's type does not. tests/proto/test_proto.c (case corpus) re-encodes
every seed with proto/ and compares the bytes. Run it again after a protocol
change and commit the result."""
import os
import struct
import sys

def u8(v): return struct.pack('<B', v)
def u32(v): return struct.pack('<I', v & 0xffffffff)
def u64(v): return struct.pack('<Q', v & 0xffffffffffffffff)
def f32(v): return struct.pack('<f', v)
def f64(v): return struct.pack('<d', v)
def bts(b): return u32(len(b)) + b
def s(t): return bts(t.encode())

def frame(typ, payload, fid=1):
    return u32(len(payload)) + u8(typ) + u8(0) + struct.pack('<H', 0) + u32(fid) + payload

# hb_type numbering from include/hotbox/hotbox.h
VOID, BOOL, I8, U8, I16, U16, I32, U32, LONG, ULONG, I64, U64, F32, F64, STR, BUF_IN, BUF_INOUT = range(17)

def val(t, v=None):
    if t == VOID: return u8(t)
    if t in (F32,): return u8(t) + f32(v)
    if t in (F64,): return u8(t) + f64(v)
    if t == STR: return u8(t) + (u8(1) + bts(b'') if v is None else u8(0) + bts(v.encode()))
    if t in (BUF_IN, BUF_INOUT): return u8(t) + bts(v)
    return u8(t) + u64(v)

def call(plugin, sym, sig, *vals):
    return s(plugin) + s(sym) + s(sig) + u32(len(vals)) + b''.join(vals)

seeds = {
    'hello': frame(1, u32(0x48425831) + u64(16 << 20)),
    'load': frame(2, s('counter') + s('/tmp/objects/ab/counter-1.so') + u64(1) + u8(0) + u32(0) + bts(b'')),
    'load_state': frame(2, s('counter') + s('/tmp/c2.so') + u64(2) + u8(1) + u32(1) + bts(b'\x0c\0\0\0')),
    'swap': frame(3, s('counter') + s('/tmp/objects/cd/counter-2.so') + u64(2)),
    'call_int': frame(4, call('counter', 'counter_add', 'i)i', val(I32, 5))),
    'call_all': frame(4, call('types', 't_mixed', 'BcCsSiIjJlLfdZbw)d',
                              val(BOOL, 1), val(I8, -3), val(U8, 200), val(I16, -300), val(U16, 60000),
                              val(I32, -70000), val(U32, 4000000000), val(LONG, -1), val(ULONG, 1 << 63),
                              val(I64, -(1 << 40)), val(U64, (1 << 64) - 1), val(F32, 0.5), val(F64, -2.25),
                              val(STR, 'hi'), val(BUF_IN, b'\x01\x02'), val(BUF_INOUT, b'abc'))),
    'call_nullstr': frame(4, call('types', 't_greet', 'Z)Z', val(STR, None))),
    'call_badsig': frame(4, call('types', 'f', 'ip)X', val(I32, 1), val(I32, 2))),
    'save': frame(5, s('counter')),
    'unload': frame(6, s('counter')),
    'shutdown': frame(7, b''),
    'ping': frame(8, b''),
    'ack': frame(9, b''),
    'ok_hello': frame(128, u32(0x48425831) + u32(1) + u32(4242)),
    'ok_load': frame(128, s('counter') + u32(1) + u32(1 | 2 | 4 | 8) + u8(1)),
    'ok_swap': frame(128, s('counter') + u32(2) + u32(4 | 8) + u8(2) + u64(1)),
    'ok_call': frame(128, val(I32, 7) + u32(1) + bts(b'abc')),
    'ok_call_str': frame(128, val(STR, 'hello') + u32(0)),
    'ok_save': frame(128, u32(1) + u8(1) + bts(b'\x0c\0\0\0')),
    'ok_ping': frame(128, u32(4242)),
    'ok_empty': frame(128, b''),
    'err': frame(129, u32(-22) + s('no plugin named x is loaded')),
    'checkpoint': frame(64, s('counter') + u64(1) + u32(1) + bts(b'\x0c\0\0\0')),
    'switched': frame(65, s('counter') + u64(2)),
    'listener': frame(67, u32(1), 0),
    'fault': frame(68, u32(11) + u64(0x7f0000001000) + u64(8) + s('counter') + u64(2) + u8(1), 0),
    'sig_only': b'cSfdlZbwB)d',
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', 'fuzz', 'corpus', 'wire')
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), 'wb') as f:
        f.write(data)
print(f'wrote {len(seeds)} seeds to {out}')
