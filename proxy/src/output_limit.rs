//! Client output-buffer limits, with Redis's `client-output-buffer-limit` semantics: a client
//! whose queued reply bytes reach the **hard** limit is disconnected at once; one that stays at
//! or above the **soft** limit for longer than **soft seconds** is disconnected too; 0 turns a
//! limit off. `--client-output-buffer-limit-normal` (default `0 0 0`, none, as Redis) applies to
//! the replies of ordinary clients, `--client-output-buffer-limit-pubsub` (default
//! `32mb 8mb 60`, as Redis) to what subscribers are sent.
//!
//! The proxy counts what it holds for the client and has not yet handed to the kernel: the
//! replies of a batch it is collecting or writing, and the messages queued for a subscriber
//! (see [`crate::pubsub`]). With a limit set, that is what bounds one slow client's share of the
//! proxy's memory.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

/// One class's limits: `hard soft soft-seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limit {
    pub hard: usize,
    pub soft: usize,
    pub soft_secs: u64,
}

impl Limit {
    /// Redis's default for Pub/Sub clients: `32mb 8mb 60`.
    pub const PUBSUB: Limit = Limit { hard: 32 << 20, soft: 8 << 20, soft_secs: 60 };
    /// Redis's default for normal clients: no limit.
    pub const NONE: Limit = Limit { hard: 0, soft: 0, soft_secs: 0 };

    pub fn is_none(&self) -> bool {
        self.hard == 0 && self.soft == 0
    }
}

/// Why a limit value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: expected '<hard> <soft> <soft seconds>', e.g. '32mb 8mb 60'")]
pub struct BadLimit(String);

impl FromStr for Limit {
    type Err = BadLimit;

    fn from_str(s: &str) -> Result<Limit, BadLimit> {
        let bad = || BadLimit(s.to_string());
        let words: Vec<&str> = s.split_whitespace().collect();
        let [hard, soft, secs] = words[..] else { return Err(bad()) };
        Ok(Limit {
            hard: memory(hard).ok_or_else(bad)?,
            soft: memory(soft).ok_or_else(bad)?,
            soft_secs: secs.parse().map_err(|_| bad())?,
        })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.hard, self.soft, self.soft_secs)
    }
}

/// A memory size as Redis's config reads it (`memtoull`): digits and an optional unit, `k`/`m`/
/// `g` powers of 1000 and `kb`/`mb`/`gb` powers of 1024, any case.
fn memory(word: &str) -> Option<usize> {
    let lower = word.to_ascii_lowercase();
    let digits = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &lower[digits.len()..];
    let mul = protocol::number::memory_unit(unit)?;
    let n: u64 = digits.parse().ok()?;
    usize::try_from(n.checked_mul(mul)?).ok()
}

/// The limit was passed: the client is to be disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded;

/// One client's standing against its limit: since when it has been at or above the soft limit.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    limit: Limit,
    over_soft_since: Option<Instant>,
}

impl Meter {
    pub fn new(limit: Limit) -> Meter {
        Meter { limit, over_soft_since: None }
    }

    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Checks `queued` bytes at `now`, as Redis's `checkClientOutputBufferLimits` does each
    /// time a reply is added: the hard limit at once, the soft limit once it has held for more
    /// than its seconds.
    /// `now` is asked only when the soft limit is reached.
    pub fn check(&mut self, queued: usize, now: impl FnOnce() -> Instant) -> Result<(), Exceeded> {
        let l = self.limit;
        if l.hard > 0 && queued >= l.hard {
            return Err(Exceeded);
        }
        if l.soft > 0 && queued >= l.soft {
            let now = now();
            let since = *self.over_soft_since.get_or_insert(now);
            if now.duration_since(since) > Duration::from_secs(l.soft_secs) {
                return Err(Exceeded);
            }
        } else {
            self.over_soft_since = None;
        }
        Ok(())
    }

    /// When the soft limit, if it holds from now on, cuts the client (for a write that waits).
    pub fn soft_deadline(&self) -> Option<Instant> {
        self.over_soft_since.map(|s| s + Duration::from_secs(self.limit.soft_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_as_redis_reads_them() {
        assert_eq!("32mb 8mb 60".parse(), Ok(Limit::PUBSUB));
        assert_eq!("0 0 0".parse(), Ok(Limit::NONE));
        assert_eq!("1k 2KB 3".parse(), Ok(Limit { hard: 1000, soft: 2048, soft_secs: 3 }));
        assert_eq!("1g 1gb 0".parse::<Limit>().unwrap().soft, 1 << 30);
        assert!("32mb 8mb".parse::<Limit>().is_err());
        assert!("32xb 8mb 60".parse::<Limit>().is_err());
        assert!("-1 0 0".parse::<Limit>().is_err());
        assert_eq!(Limit::PUBSUB.to_string(), "33554432 8388608 60");
    }

    #[test]
    fn hard_cuts_at_once_soft_after_its_seconds() {
        let t0 = Instant::now();
        let mut m = Meter::new(Limit { hard: 100, soft: 50, soft_secs: 2 });
        assert_eq!(m.check(99, || t0), Ok(()), "over soft: the clock starts");
        assert_eq!(m.check(100, || t0), Err(Exceeded));
        let mut m = Meter::new(Limit { hard: 100, soft: 50, soft_secs: 2 });
        assert_eq!(m.check(60, || t0), Ok(()));
        assert_eq!(m.soft_deadline(), Some(t0 + Duration::from_secs(2)));
        assert_eq!(m.check(60, || t0 + Duration::from_secs(2)), Ok(()));
        // Dropping below the soft limit resets the clock.
        assert_eq!(m.check(10, || t0 + Duration::from_secs(2)), Ok(()));
        assert_eq!(m.soft_deadline(), None);
        assert_eq!(m.check(60, || t0 + Duration::from_secs(3)), Ok(()));
        assert_eq!(m.check(60, || t0 + Duration::from_millis(5001)), Err(Exceeded));
        let mut none = Meter::new(Limit::NONE);
        assert_eq!(none.check(usize::MAX, || t0), Ok(()));
    }
}
