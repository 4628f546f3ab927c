//! Short-lived state and replay protection for the flows: a pending flow, a one-time code, a
//! replay id, each with a time to live (ARCHITECTURE.md "State", invariant 7 "No replay").
//!
//! One trait, [`Store`], so the flows never know where the state lives: [`RedbStore`] (one redb
//! file, the embedded default, which keeps the replay window closed across a restart),
//! [`MemoryStore`] (tests and file-less auditor tools) and, later, Redis for several instances.
//! This layer stores bytes under string keys; it must not interpret them, and it must not know
//! SAML, OIDC or HTTP.

// Declared first: its `store_suite!` macro must be in scope for the implementations' tests.
#[cfg(test)]
#[macro_use]
mod suite;

mod memory;
mod redb;
mod sweeper;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use time::OffsetDateTime;

pub use self::memory::MemoryStore;
pub use self::redb::RedbStore;
pub use self::sweeper::{SweeperHandle, spawn_sweeper};

/// Longest key accepted, in bytes. Keys are namespaced ids such as
/// `replay:authnreq:<issuer>:<id>`; an issuer URL plus an ID fits with room to spare.
pub const MAX_KEY_BYTES: usize = 512;

/// Largest value accepted, in bytes. The biggest thing stored is a pending flow holding one
/// AuthnRequest, well under this; the bound keeps a hostile request from filling the disk.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;

/// What every store operation returns: a boxed future, so `Store` stays dyn-compatible
/// (`Arc<dyn Store>`) without an async-trait crate.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Why a store operation failed. The limits and the zero TTL are caller bugs or hostile input;
/// `Open` names the file; the rest come from the backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store file {path}: {source}")]
    Open {
        path: std::path::PathBuf,
        #[source]
        source: ::redb::Error,
    },
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("store database error: {0}")]
    Database(#[from] ::redb::Error),
    #[error("store key is {len} bytes, more than the limit of {limit} bytes")]
    KeyTooLarge { len: usize, limit: usize },
    #[error("store value is {len} bytes, more than the limit of {limit} bytes")]
    ValueTooLarge { len: usize, limit: usize },
    #[error("store TTL must be at least one millisecond")]
    ZeroTtl,
}

macro_rules! from_redb_error {
    ($($t:ty),+) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Database(e.into())
            }
        }
    )+};
}
from_redb_error!(
    ::redb::TransactionError,
    ::redb::TableError,
    ::redb::StorageError,
    ::redb::CommitError
);

/// Short-lived state with a time to live, and the atomic insert-if-absent that replay protection
/// rests on.
///
/// Semantics shared by every implementation, and how each maps to Redis:
///
/// | operation | meaning | Redis |
/// | --- | --- | --- |
/// | [`put`](Store::put) | set or overwrite, with a new TTL | `SET key value PX ttl_ms` |
/// | [`get`](Store::get) | the value, or `None` when absent or expired | `GET key` |
/// | [`take`](Store::take) | get and delete in one atomic step | `GETDEL key` |
/// | [`insert_if_absent`](Store::insert_if_absent) | store only when no live entry exists; `true` when stored | `SET key value NX PX ttl_ms` (`OK` → true, nil → false) |
/// | [`remove`](Store::remove) | delete; absent is fine | `DEL key` |
/// | [`sweep`](Store::sweep) | delete expired entries, return how many; one call may stop after a bounded batch, the next continues | nothing to do: Redis expires keys itself, so `Ok(0)` |
///
/// An expired entry is absent for every operation, whether or not a sweep has removed it yet.
/// TTLs are whole milliseconds (Redis `PX`), rounded up; a zero TTL is refused
/// ([`StoreError::ZeroTtl`]), as Redis refuses `PX 0`. Refreshing a TTL without rewriting the
/// value would be `PEXPIRE`; no caller needs it yet, so the trait has no such operation.
///
/// Keys are namespaced by callers (`replay:authnreq:<issuer>:<id>`, `flow:<id>`); a Redis store
/// may prepend its own instance prefix. Every operation checks [`MAX_KEY_BYTES`] and, where it
/// stores, [`MAX_VALUE_BYTES`].
///
/// The returned futures do nothing until polled.
pub trait Store: Send + Sync {
    fn put<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()>;

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    fn sweep(&self) -> StoreFuture<'_, usize>;
}

/// Runs a future to completion on the current thread.
///
/// The embedded stores do their work synchronously inside the future, so it is ready on the
/// first poll and this never parks; the loop with a waker that unparks this thread makes it
/// correct for any future that does not need a runtime's reactor. For the sweeper thread, the
/// file-less auditor tools and tests — not for code running on an async runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

fn check_key(key: &str) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::KeyTooLarge {
            len: key.len(),
            limit: MAX_KEY_BYTES,
        });
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), StoreError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::ValueTooLarge {
            len: value.len(),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}

/// Unix milliseconds; an instant before 1970 (only a badly set clock) counts as 0.
fn unix_millis(at: OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// A TTL in whole milliseconds, rounded up (Redis `PX` has the same granularity); zero is refused.
fn ttl_millis(ttl: Duration) -> Result<u64, StoreError> {
    match ttl.as_nanos().div_ceil(1_000_000) {
        0 => Err(StoreError::ZeroTtl),
        ms => Ok(u64::try_from(ms).unwrap_or(u64::MAX)),
    }
}

/// An entry is live strictly before its expiry instant; at the instant itself it is gone.
fn is_live(expires_at_ms: u64, now_ms: u64) -> bool {
    now_ms < expires_at_ms
}

/// Backends whose operations are short and synchronous (redb, the in-memory map): they get the
/// async [`Store`] through the one implementation below. A natively asynchronous backend (Redis)
/// implements [`Store`] itself.
pub(crate) trait SyncBackend: Send + Sync {
    fn put_now(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError>;
    fn get_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn take_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn insert_if_absent_now(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError>;
    fn remove_now(&self, key: &str) -> Result<(), StoreError>;
    fn sweep_now(&self) -> Result<usize, StoreError>;
}

impl<T: SyncBackend> Store for T {
    fn put<'a>(&'a self, key: &'a str, value: &'a [u8], ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.put_now(key, value, ttl) })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move { self.get_now(key) })
    }

    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move { self.take_now(key) })
    }

    fn insert_if_absent<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move { self.insert_if_absent_now(key, value, ttl) })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.remove_now(key) })
    }

    fn sweep(&self) -> StoreFuture<'_, usize> {
        Box::pin(async move { self.sweep_now() })
    }
}
