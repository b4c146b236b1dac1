//! The command table: every Redis command rcluster knows, with its arity, flags and key
//! positions. Servers use it to check arity and find keys; the proxy routes with it; COMMAND
//! INFO / DOCS / GETKEYS serve it.

mod table;

pub use table::TABLE;

/// Command flags, as COMMAND INFO names them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const MOVABLE_KEYS: u32 = 1 << 16;
    pub const ALLOW_BUSY: u32 = 1 << 17;
}

/// One command (or subcommand) of the table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name; for a subcommand the Redis full name, e.g. `client|list`.
    pub name: &'static str,
    /// Redis arity: positive = exact argument count (name included), negative = at least -arity.
    pub arity: i32,
    /// A bitset of [`flags`].
    pub flags: u32,
    /// Legacy key range: first key index, last (negative counts from the end), step. 0 = no key.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` arguments (the name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// The subcommand named `name` (case-insensitive).
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|s| {
            s.name
                .split_once('|')
                .map(|(_, sub)| sub)
                .unwrap_or(s.name)
                .as_bytes()
                .eq_ignore_ascii_case(name)
        })
    }
}

/// The command named `name` (case-insensitive).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    TABLE.iter().find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}
