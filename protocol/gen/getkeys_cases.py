#!/usr/bin/env python3
"""Captures key-extraction test cases from a running redis-server 7.0: for each argument vector,
what COMMAND GETKEYSANDFLAGS answers (positions and flags, or the error). Writes
protocol/src/command/getkeys_cases.rs, which the unit tests of `command::keys` replay. Run:

    redis-server --port 6399 --save '' --daemonize yes
    python3 protocol/gen/getkeys_cases.py 6399 > protocol/src/command/getkeys_cases.rs

Besides the hand-written cases below (movable keys, bad numkeys, keyword searches), every
command and subcommand is tried with generated arguments at its minimum arity and a few more.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from command_table import KEY_FLAGS, Conn  # noqa: E402

CASES = """
get k
get k x
set k v
set k v get
set k v nx get
set k v ex 10
mset k1 v1 k2 v2
mset k1 v1 k2
mget k1 k2 k3
del k1 k2
rename k1 k2
smove s1 s2 m
bitop and dest s1 s2 s3
bitfield k get u8 0
bitfield k set u8 0 1
bitfield k overflow wrap get u8 0
bitfield k incrby u8 0 1
bitfield k foo
bitfield_ro k get u8 0
eval s 0
eval s 2 k1 k2
eval s 2 k1 k2 a1
eval s 3 k1 k2
eval s abc k1
eval s -1 k1
eval s 2abc k1 k2
eval s 1 k1
evalsha sha 1 k1 a1
eval_ro s 1 k1
evalsha_ro s 2 k1 k2
fcall f 1 k1 a1
fcall f 0 a1
fcall_ro f 2 k1 k2
zunionstore d 2 k1 k2
zunionstore d 2 k1 k2 weights 1 2
zunionstore d 0 k1
zunionstore d 3 k1 k2
zunionstore d x k1
zinterstore d 1 k1
zdiffstore d 2 k1 k2
zunion 2 k1 k2
zunion 2 k1 k2 withscores
zunion 0 k1
zinter 1 k1
zinter 3 k1 k2
zdiff 2 k1 k2
zintercard 2 k1 k2
zintercard 2 k1 k2 limit 5
sintercard 2 k1 k2
sintercard 3 k1 k2
sintercard 1 k1 limit 1
sinterstore d k1 k2
lmpop 2 k1 k2 left
lmpop 2 k1 k2 right count 3
lmpop 0 k1 left
lmpop 5 k1 left
blmpop 0 2 k1 k2 left
blmpop 0 1 k1 left count 2
blmpop 0 0 k1 left
zmpop 2 k1 k2 min
zmpop 1 k1 max count 2
bzmpop 1 2 k1 k2 min
bzmpop 1 x k1 min
blpop k1 k2 0
brpoplpush s d 0
blmove s d left right 0
bzpopmin k1 k2 0
xread streams k1 0
xread streams k1 k2 0 0
xread count 2 streams k1 k2 0 0
xread block 0 count 2 streams k1 0
xread streams k1 k2 0
xread streams
xread count 1 k1 0
xreadgroup group g c streams k1 0
xreadgroup group g c noack streams k1 k2 0 0
xreadgroup group g c count 1 block 0 streams k1 >
xreadgroup group streams c streams k1 0
sort k
sort k store d
sort k by w store d
sort k by store store d
sort k limit 0 1 store d
sort k store d1 store d2
sort k get # store d alpha
sort k store
sort_ro k by w get #
georadius k 1 2 3 km
georadius k 1 2 3 km store d
georadius k 1 2 3 km storedist d
georadius k 1 2 3 km store d1 storedist d2
georadius k 1 2 3 km withdist store d count 3
georadiusbymember k m 3 km store d
georadiusbymember k m 3 km storedist d
georadius_ro k 1 2 3 km
geosearchstore d s frommember m byradius 1 km
migrate h 6379 k 0 5000
migrate h 6379 "" 0 5000 keys k1 k2
migrate h 6379 "" 0 5000 copy replace keys k1 k2 k3
migrate h 6379 "" 0 5000 auth pw keys k1
migrate h 6379 "" 0 5000 auth2 u pw keys k1
migrate h 6379 k 0 5000 keys k1 k2
migrate h 6379 k 0 5000 copy
object encoding k
object freq k
object help
memory usage k
memory usage k samples 5
memory doctor
debug object k
lcs k1 k2
copy s d
copy s d db 1 replace
getex k ex 10
pfmerge d s1 s2
pfcount k1 k2
rpoplpush s d
lmove s d left right
renamenx k1 k2
touch k1 k2 k3
unlink k1
exists k1 k2
watch k1 k2
ping
ping x
client list
client kill x
client nosuch
config get x
publish ch m
subscribe ch1 ch2
spublish ch m
ssubscribe ch1 ch2
pubsub numsub ch
xgroup create k g 0
xinfo stream k
xinfo groups k
xautoclaim k g c 0 0
xadd k * f v
hset k f v
zadd k 1 m
msetnx k1 v1 k2 v2
""".strip().splitlines()

TYPE_FLAGS = {name: rust for name, rust in KEY_FLAGS}


def words(line):
    out = []
    for w in line.split(" "):
        out.append("" if w == '""' else w)
    return out


def rs(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def capture(conn, args):
    reply = conn.call("COMMAND", "GETKEYSANDFLAGS", *args)
    if reply[0] == "error":
        text = reply[1]
        assert text.startswith("ERR "), text
        if "wrong number of arguments" in text:
            return None  # COMMAND GETKEYS itself needs an argument after the name
        return ("err", text[4:])
    keys = []
    for entry in reply[1]:
        name = entry[1][0][1]
        flags = [f[1] for f in entry[1][1][1]]
        positions = [i for i, a in enumerate(args) if i > 0 and a == name]
        if len(positions) != 1:
            return None  # ambiguous: the case can't be expressed as positions
        expr = " | ".join(TYPE_FLAGS[f] for f in flags) if flags else "0"
        keys.append((positions[0], expr))
    return ("ok", keys)


def generated(conn):
    """Unique-word argument vectors at each command's minimum arity and a bit beyond."""
    infos = conn.call("COMMAND")[1]
    out = []
    for info in infos:
        entries = [info] + list(info[1][9][1])
        for e in entries:
            name, arity = e[1][0][1], e[1][1][1]
            base = name.split("|")
            n = abs(arity)
            counts = [n] if arity > 0 else [n, n + 1, n + 2, n + 5]
            for count in counts:
                extra = max(count - len(base), 0)
                out.append(base + [f"a{i}" for i in range(1, extra + 1)])
    return out


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 6379
    conn = Conn(port)
    cases = [words(line) for line in CASES if line.strip()] + generated(conn)
    print("//! Key-extraction cases captured from redis-server 7.0's COMMAND GETKEYSANDFLAGS by")
    print("//! `protocol/gen/getkeys_cases.py`. Do not edit by hand: re-run the generator.")
    print()
    print("use crate::command::key_flags::*;")
    print()
    print("type Case = (&'static [&'static str], Result<&'static [(usize, u32)], &'static str>);")
    print()
    print("/// (arguments, keys as (position, flags) or the error text after `ERR `).")
    print("#[rustfmt::skip]")
    print("pub static CASES: &[Case] = &[")
    for args in cases:
        got = capture(conn, args)
        if got is None:
            continue
        arg_list = ", ".join(rs(a) for a in args)
        if got[0] == "err":
            print(f"    (&[{arg_list}], Err({rs(got[1])})),")
        else:
            keys = ", ".join(f"({p}, {f})" for p, f in got[1])
            print(f"    (&[{arg_list}], Ok(&[{keys}])),")
    print("];")


if __name__ == "__main__":
    main()
