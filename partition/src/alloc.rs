//! A counting global allocator over jemalloc: `used_memory` is what the process really has
//! allocated, as Redis's zmalloc counts it, so `maxmemory` compares against the truth rather
//! than an estimate, and reading it costs one atomic load.
//!
//! jemalloc rather than the system allocator for the reason Redis uses it: its size classes
//! carry no per-allocation header and pack small objects (keyspace nodes, boxed values, small
//! listpacks) tightly, which measured about a third less RSS per small aggregate key than
//! glibc's malloc (bench/memory.sh).
//!
//! Each thread keeps its changes in a thread-local and folds them into the shared counter
//! every [`FLUSH_BYTES`]: the hot path of an allocation stays a thread-local add, without a
//! shared cache line bouncing between cores. The figure is exact to within `FLUSH_BYTES` per
//! thread (the calling thread's own pending bytes are included).
//!
//! Binaries install it with `#[global_allocator] static A: partition::alloc::Counting =
//! partition::alloc::Counting;`. Without it [`allocated`] returns `None` and memory figures fall
//! back to the per-key estimate.

use std::alloc::{GlobalAlloc, Layout};

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use tikv_jemallocator::Jemalloc;

/// Bytes a thread accumulates before publishing them.
const FLUSH_BYTES: isize = 32 * 1024;

static ALLOCATED: AtomicIsize = AtomicIsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

/// jemalloc, counting what it hands out.
pub struct Counting;

fn record(delta: isize) {
    let folded = PENDING.try_with(|p| {
        let v = p.get() + delta;
        if v.abs() >= FLUSH_BYTES {
            ALLOCATED.fetch_add(v, Ordering::Relaxed);
            p.set(0);
        } else {
            p.set(v);
        }
    });
    // During thread teardown the thread-local is gone: count directly.
    if folded.is_err() {
        ALLOCATED.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `Jemalloc`; only counters are updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { Jemalloc.alloc(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { Jemalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { Jemalloc.dealloc(ptr, layout) };
        record(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { Jemalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(new_size as isize - layout.size() as isize);
        }
        p
    }
}

impl Counting {
    /// Marks the allocator as installed (the binary calls this once at start-up, so that
    /// [`allocated`] knows its figure is meaningful).
    pub fn activate(&self) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
}

/// Bytes currently allocated by the process, when the counting allocator is installed.
pub fn allocated() -> Option<usize> {
    if !INSTALLED.load(Ordering::Relaxed) {
        return None;
    }
    let own = PENDING.try_with(Cell::get).unwrap_or(0);
    Some((ALLOCATED.load(Ordering::Relaxed) + own).max(0) as usize)
}
