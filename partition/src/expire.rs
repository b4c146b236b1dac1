//! Active expiry: a background cycle that samples keys with a TTL and deletes the expired ones,
//! so memory is reclaimed even for keys nobody reads. Like Redis's `activeExpireCycle`: `hz`
//! times a second, sample 20 volatile keys; while more than 25% of a sample was expired, sample
//! again, within a time budget of 25% of the cycle so clients are never stalled for long.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::server::Server;

const SAMPLE: usize = 20;

pub async fn active_expiry(server: Arc<Server>) {
    loop {
        let (hz, enabled) = {
            let c = server.config();
            (c.hz.max(1), c.active_expire)
        };
        let period = Duration::from_millis(1000 / hz as u64);
        tokio::time::sleep(period).await;
        if enabled {
            run_cycle(&server, period / 4);
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
            if at <= now {
                state.keyspace.remove(&key);
                state.stats.expired_keys += 1;
                expired_in_round += 1;
            }
        }
        deleted += expired_in_round;
        drop(state);
        if sampled == 0 || expired_in_round * 4 <= sampled || started.elapsed() >= budget {
            return deleted;
        }
    }
}
