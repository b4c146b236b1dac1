//! Clocks. Key expiry uses Unix milliseconds (deadlines survive restarts and travel in the AOF);
//! the LRU clock uses Redis's 24-bit seconds counter.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Microseconds since the Unix epoch.
pub fn unix_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Redis's LRU clock: seconds, wrapping at 24 bits.
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & ((1 << 24) - 1)) as u32
}
