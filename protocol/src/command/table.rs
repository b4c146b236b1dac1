//! The table data.
use super::flags::*;
use super::CommandSpec;

const fn cmd(name: &'static str, arity: i32, flags: u32, first: i32, last: i32, step: i32) -> CommandSpec {
    CommandSpec { name, arity, flags, first_key: first, last_key: last, step, subcommands: &[] }
}

pub static TABLE: &[CommandSpec] = &[
    cmd("ping", -1, FAST, 0, 0, 0),
    cmd("echo", 2, FAST, 0, 0, 0),
    cmd("get", 2, READONLY | FAST, 1, 1, 1),
    cmd("set", -3, WRITE | DENYOOM, 1, 1, 1),
    cmd("incr", 2, WRITE | DENYOOM | FAST, 1, 1, 1),
    cmd("mset", -3, WRITE | DENYOOM, 1, -1, 2),
    cmd("del", -2, WRITE, 1, -1, 1),
    cmd("quit", -1, NO_AUTH | FAST, 0, 0, 0),
    cmd("auth", -2, NO_AUTH | FAST, 0, 0, 0),
    cmd("hello", -1, NO_AUTH | FAST, 0, 0, 0),
    cmd("select", 2, FAST, 0, 0, 0),
];
