//! The background expiry sweep: a plain thread that calls `Store::sweep` at a fixed interval, so
//! expired entries do not pile up in the file. Correctness never depends on it (reads already
//! treat expired entries as absent); it only bounds the store's size. It must not do anything
//! else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Store, StoreError, block_on};

/// Stops and joins the sweeper thread when dropped.
#[derive(Debug)]
pub struct SweeperHandle {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    removed: AtomicUsize,
    failures: AtomicUsize,
}

impl SweeperHandle {
    /// Entries removed by this sweeper so far.
    pub fn removed(&self) -> usize {
        self.counts.removed.load(Ordering::Relaxed)
    }

    /// Sweeps that failed so far; the next interval tries again. (Reported here until the `ops`
    /// layer exists to log them.)
    pub fn failures(&self) -> usize {
        self.counts.failures.load(Ordering::Relaxed)
    }
}

impl Drop for SweeperHandle {
    fn drop(&mut self) {
        // Closing the channel wakes the thread at once, so the join waits at most for one sweep.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts a thread that sweeps `store` every `every` (at least one millisecond) until the handle
/// is dropped.
///
/// The thread drives the store's futures with [`block_on`], so it suits stores whose futures need
/// no async runtime: [`RedbStore`](super::RedbStore) and [`MemoryStore`](super::MemoryStore).
/// Redis expires keys itself and needs no sweeper.
pub fn spawn_sweeper(store: Arc<dyn Store>, every: Duration) -> Result<SweeperHandle, StoreError> {
    let every = every.max(Duration::from_millis(1));
    let (stop, stopped) = mpsc::channel::<()>();
    let counts = Arc::new(Counts::default());
    let thread_counts = counts.clone();
    let thread = std::thread::Builder::new()
        .name("store-sweeper".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                match block_on(store.sweep()) {
                    Ok(n) => thread_counts.removed.fetch_add(n, Ordering::Relaxed),
                    Err(_) => thread_counts.failures.fetch_add(1, Ordering::Relaxed),
                };
            }
        })?;
    Ok(SweeperHandle {
        stop: Some(stop),
        thread: Some(thread),
        counts,
    })
}
