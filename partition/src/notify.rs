//! Keyspace notifications (`notify-keyspace-events`): which event classes are enabled, and the
//! channel names events are published on.
//!
//! Commands report every change with `Ctx::notify(class, event, key)` as Redis's
//! `notifyKeyspaceEvent`; when the class is enabled the event goes out on
//! `__keyspace@0__:<key>` (message: the event name) and/or `__keyevent@0__:<event>` (message: the
//! key), through ordinary Pub/Sub.

/// Event classes, one bit each (Redis's `NOTIFY_*`).
pub const KEYSPACE: u16 = 1 << 0; // K
pub const KEYEVENT: u16 = 1 << 1; // E
pub const GENERIC: u16 = 1 << 2; // g
pub const STRING: u16 = 1 << 3; // $
pub const LIST: u16 = 1 << 4; // l
pub const SET: u16 = 1 << 5; // s
pub const HASH: u16 = 1 << 6; // h
pub const ZSET: u16 = 1 << 7; // z
pub const EXPIRED: u16 = 1 << 8; // x
pub const EVICTED: u16 = 1 << 9; // e
pub const STREAM: u16 = 1 << 10; // t
pub const KEY_MISS: u16 = 1 << 11; // m
pub const MODULE: u16 = 1 << 12; // d
pub const NEW: u16 = 1 << 13; // n

/// The class flags of a `notify-keyspace-events` value (already validated by the config).
pub fn parse_flags(value: &str) -> u16 {
    let all = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
    value.chars().fold(0, |flags, c| {
        flags
            | match c {
                'A' => all,
                'g' => GENERIC,
                '$' => STRING,
                'l' => LIST,
                's' => SET,
                'h' => HASH,
                'z' => ZSET,
                'x' => EXPIRED,
                'e' => EVICTED,
                'K' => KEYSPACE,
                'E' => KEYEVENT,
                't' => STREAM,
                'm' => KEY_MISS,
                'd' => MODULE,
                'n' => NEW,
                _ => 0,
            }
    })
}

/// True when `class` events are published under `flags` (some channel kind is on and the class
/// is enabled).
pub fn enabled(flags: u16, class: u16) -> bool {
    flags & (KEYSPACE | KEYEVENT) != 0 && flags & class != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_redis_letters() {
        assert_eq!(parse_flags(""), 0);
        let f = parse_flags("KEA");
        assert!(enabled(f, GENERIC) && enabled(f, EXPIRED) && !enabled(f, KEY_MISS));
        assert!(!enabled(f, NEW));
        let f = parse_flags("Ex");
        assert!(enabled(f, EXPIRED) && !enabled(f, GENERIC));
        // Classes without K or E publish nothing.
        assert!(!enabled(parse_flags("A"), GENERIC));
    }
}
