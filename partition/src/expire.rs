//! Active expiry: a background cycle that samples keys with a TTL and deletes the expired ones,
//! so memory is reclaimed even for keys nobody reads. Like Redis's `activeExpireCycle`: `hz`
//! times a second, sample 20 volatile keys; while more than 25% of a sample was expired, sample
//! again, within a time budget of 25% of the cycle so clients are never stalled for long.
//!
//! The cycle also moves the keyspace's count of lazily expired keys into INFO's
//! `expired_keys`, so that count never lags by more than one cycle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::Server;

/// Volatile keys sampled per round (Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
const SAMPLE: usize = 20;

/// Runs the active expiry cycle `hz` times a second until the task is aborted (server
/// shutdown). `active_expire` is re-read every tick so DEBUG SET-ACTIVE-EXPIRE takes effect
/// at once.
pub async fn active_expiry(server: Arc<Server>) {
    loop {
        let (hz, enabled) = {
            let c = server.config();
            (c.hz.max(1), c.active_expire)
        };
        let period = Duration::from_millis(1000 / hz as u64);
        tokio::time::sleep(period).await;
        // A replica deletes expired keys when its master's DEL arrives, never on its own.
        if enabled && !server.replication.is_replica() {
            run_cycle(&server, period / 4);
        } else {
            let mut state = server.lock();
            state.fold_expired();
            server.publish(&mut state);
        }
    }
}

/// One cycle; returns the number of keys deleted.
pub fn run_cycle(server: &Server, budget: Duration) -> usize {
    let started = Instant::now();
    let mut deleted = 0;
    loop {
        // Take the lock per sample round so clients interleave with a long cycle.
        let mut state = server.lock();
        state.fold_expired();
        let now = crate::time::unix_ms();
        let mut expired_in_round = 0;
        let mut sampled = 0;
        for _ in 0..SAMPLE {
            let state = &mut *state;
            let rng = &mut state.rng;
            let Some((key, at)) = state.keyspace.random_volatile(|| rand::RngCore::next_u64(rng))
            else {
                break;
            };
            sampled += 1;
            // Expired once strictly past the deadline, as lazy expiry decides (`now > when`).
            if at < now {
                state.keyspace.remove(&key);
                state.stats.expired_keys += 1;
                state.key_expired(&key);
                expired_in_round += 1;
            }
        }
        deleted += expired_in_round;
        server.publish(&mut state);
        drop(state);
        if sampled == 0 || expired_in_round * 4 <= sampled || started.elapsed() >= budget {
            return deleted;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Entry;
    use crate::value::Value;
    use crate::Config;

    fn server_with(keys: usize, past: usize) -> Arc<Server> {
        let server = Server::new(Config::default(), 0);
        let now = crate::time::unix_ms();
        let mut state = server.lock();
        for i in 0..keys {
            let key = format!("k{i}");
            state.keyspace.set(key.as_bytes(), Entry::new(Value::Int(1), 0));
            let at = if i < past { now - 1000 } else { now + 3_600_000 };
            state.keyspace.set_expire(key.as_bytes(), at);
        }
        drop(state);
        server
    }

    #[test]
    fn deletes_expired_keys_without_reading_them() {
        let server = server_with(200, 200);
        let mut deleted = 0;
        for _ in 0..1000 {
            deleted += run_cycle(&server, Duration::from_secs(1));
            if server.lock().keyspace.is_empty() {
                break;
            }
        }
        let state = server.lock();
        assert!(state.keyspace.is_empty());
        assert_eq!(deleted, 200);
        assert_eq!(state.stats.expired_keys, 200);
    }

    #[test]
    fn leaves_live_keys_alone() {
        let server = server_with(100, 10);
        for _ in 0..200 {
            run_cycle(&server, Duration::from_secs(1));
        }
        let state = server.lock();
        assert_eq!(state.keyspace.len(), 90, "only the 10 past-deadline keys go");
        assert_eq!(state.keyspace.volatile_len(), 90);
    }

    #[test]
    fn a_mostly_live_sample_ends_the_cycle() {
        // 1 expired key among 1000: the first round finds <= 25% expired and stops.
        let server = server_with(1000, 1);
        let deleted = run_cycle(&server, Duration::from_secs(10));
        assert!(deleted <= 1);
        assert!(server.lock().keyspace.len() >= 999);
    }

    #[test]
    fn folds_lazy_expiry_counts_into_stats() {
        let server = server_with(1, 1);
        {
            let mut state = server.lock();
            assert!(state.keyspace.get(b"k0", crate::time::unix_ms()).is_none());
        }
        run_cycle(&server, Duration::from_secs(1));
        assert_eq!(server.lock().stats.expired_keys, 1);
    }
}
