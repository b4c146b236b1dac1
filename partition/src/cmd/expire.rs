//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX/XX/GT/LT), TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! Deadlines are absolute Unix milliseconds. A deadline that is already in the past deletes
//! the key at once (and still replies 1), as Redis does.

use bytes::Bytes;

use super::{fold_expired, lookup_read, lookup_write};
use super::{is, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::notify;

pub const COMMANDS: &[(&str, Handler)] = &[
    ("expire", expire),
    ("pexpire", pexpire),
    ("expireat", expireat),
    ("pexpireat", pexpireat),
    ("ttl", ttl),
    ("pttl", pttl),
    ("expiretime", expiretime),
    ("pexpiretime", pexpiretime),
    ("persist", persist),
];

/// The unit of an expire command's argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

fn expire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, args, "expire", now, Unit::Seconds)
}

fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms as i64;
    expire_generic(ctx, args, "pexpire", now, Unit::Millis)
}

fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, "expireat", 0, Unit::Seconds)
}

fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, "pexpireat", 0, Unit::Millis)
}

/// The NX/XX/GT/LT conditions of an expire command.
#[derive(Default, Clone, Copy)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl Conditions {
    /// Parses the options after the time argument, with Redis's texts for unknown and
    /// incompatible options (checked after all options are read, as Redis does).
    fn parse(options: &[Bytes]) -> Result<Conditions, CmdError> {
        let mut c = Conditions::default();
        for opt in options {
            if is(opt, "nx") {
                c.nx = true;
            } else if is(opt, "xx") {
                c.xx = true;
            } else if is(opt, "gt") {
                c.gt = true;
            } else if is(opt, "lt") {
                c.lt = true;
            } else {
                return Err(CmdError::err(format!(
                    "Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CmdError::err(
                "NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(CmdError::err("GT and LT options at the same time are not compatible"));
        }
        Ok(c)
    }

    /// Whether a new deadline `when` may replace `current` (`None` = no TTL, which GT and LT
    /// treat as an infinite TTL).
    fn allow(&self, current: Option<u64>, when: i64) -> bool {
        let current = current.map(|c| c as i64);
        if self.nx && current.is_some() {
            return false;
        }
        if self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|c| when <= c) {
            return false;
        }
        if self.lt && current.is_some_and(|c| when >= c) {
            return false;
        }
        true
    }
}

/// EXPIRE and friends: the deadline is `basetime + time` in milliseconds.
fn expire_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    name: &str,
    basetime: i64,
    unit: Unit,
) -> CmdResult {
    let conditions = Conditions::parse(&args[3..])?;
    let mut when = parse_int(&args[2])?;
    let invalid = || CmdError::err(format!("invalid expire time in '{name}' command"));
    if unit == Unit::Seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    when = when.checked_add(basetime).ok_or_else(invalid)?;
    let key = &args[1];
    let now = ctx.now_ms;
    let state = &mut *ctx.state;
    if lookup_write(state, key, now).is_none() {
        ctx.out.integer(0);
        return Ok(());
    }
    if !conditions.allow(state.keyspace.expire_at(key), when) {
        ctx.out.integer(0);
        return Ok(());
    }
    if when <= now as i64 {
        // Already past: delete now rather than store a deadline nobody could observe.
        state.keyspace.remove(key);
        state.propagation.rewrite(&[&b"DEL"[..], key]);
        ctx.changed(notify::GENERIC, "del", key);
    } else {
        state.keyspace.set_expire(key, when as u64);
        // Replicas and the AOF get the absolute deadline, whatever form the client used.
        let at = itoa::Buffer::new().format(when).to_owned();
        state.propagation.rewrite(&[&b"PEXPIREAT"[..], key, at.as_bytes()]);
        ctx.changed(notify::GENERIC, "expire", key);
    }
    ctx.state.dirty += 1;
    ctx.out.integer(1);
    Ok(())
}

/// What TTL-like commands report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Report {
    /// Time left (TTL, PTTL).
    Remaining,
    /// The deadline itself (EXPIRETIME, PEXPIRETIME).
    Absolute,
}

fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, Report::Remaining, Unit::Seconds)
}

fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, Report::Remaining, Unit::Millis)
}

fn expiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, Report::Absolute, Unit::Seconds)
}

fn pexpiretime(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, args, Report::Absolute, Unit::Millis)
}

/// -2 for a missing key, -1 for a key without TTL, else the time left or the deadline;
/// seconds are rounded to the nearest second, as Redis does (`(ms + 500) / 1000`).
fn ttl_generic(ctx: &mut Ctx, args: &[Bytes], report: Report, unit: Unit) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    if lookup_read(ctx.state, key, now, false).is_none() {
        ctx.out.integer(-2);
        return Ok(());
    }
    let Some(at) = ctx.state.keyspace.expire_at(key) else {
        ctx.out.integer(-1);
        return Ok(());
    };
    let ms = match report {
        Report::Remaining => at.saturating_sub(now),
        Report::Absolute => at,
    };
    let value = match unit {
        Unit::Millis => ms,
        Unit::Seconds => ms.saturating_add(500) / 1000,
    };
    ctx.out.integer(value.min(i64::MAX as u64) as i64);
    Ok(())
}

fn persist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let now = ctx.now_ms;
    let state = &mut *ctx.state;
    let removed = lookup_write(state, key, now).is_some() && state.keyspace.persist(key);
    fold_expired(state);
    if removed {
        state.dirty += 1;
        ctx.changed(notify::GENERIC, "persist", key);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(opts: &[&str]) -> Result<Conditions, CmdError> {
        let opts: Vec<Bytes> = opts.iter().map(|o| Bytes::copy_from_slice(o.as_bytes())).collect();
        Conditions::parse(&opts)
    }

    #[test]
    fn incompatible_options() {
        let nx_xx = conditions(&["nx", "XX"]).err().unwrap().to_string();
        assert_eq!(nx_xx, "ERR NX and XX, GT or LT options at the same time are not compatible");
        let gt_lt = conditions(&["gt", "lt"]).err().unwrap().to_string();
        assert_eq!(gt_lt, "ERR GT and LT options at the same time are not compatible");
        let bad = conditions(&["gt", "foo"]).err().unwrap().to_string();
        assert_eq!(bad, "ERR Unsupported option foo");
        assert!(conditions(&["xx", "gt"]).is_ok());
    }

    #[test]
    fn gt_and_lt_treat_no_ttl_as_infinite() {
        let gt = conditions(&["gt"]).unwrap();
        assert!(!gt.allow(None, 100));
        assert!(gt.allow(Some(50), 100));
        assert!(!gt.allow(Some(100), 100));
        let lt = conditions(&["lt"]).unwrap();
        assert!(lt.allow(None, 100));
        assert!(lt.allow(Some(150), 100));
        assert!(!lt.allow(Some(100), 100));
        let nx = conditions(&["nx"]).unwrap();
        assert!(nx.allow(None, 1) && !nx.allow(Some(5), 1));
        let xx = conditions(&["xx"]).unwrap();
        assert!(!xx.allow(None, 1) && xx.allow(Some(5), 1));
    }
}
