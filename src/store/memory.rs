//! `MemoryStore`: the `Store` semantics on a map in memory, for unit tests of other layers and for
//! auditor tools that must not create files. Not for serving: a restart forgets every replay id
//! and so reopens the replay window (docs/decisions/0002-store-redb.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::{StoreError, SyncBackend, check_key, check_value, is_live, ttl_millis, unix_millis};
use crate::clock::Clock;

struct Entry {
    expires_at_ms: u64,
    value: Vec<u8>,
}

/// Every operation holds one mutex for its whole read-check-write, which is what makes `take`
/// and `insert_if_absent` atomic here.
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Entry>>,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            entries: Mutex::new(HashMap::new()),
            clock,
        }
    }

    // A panic while the lock was held cannot leave an entry half-written (each change is one
    // HashMap call), so a poisoned map is still consistent and is used as is.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        unix_millis(self.clock.now())
    }
}

impl SyncBackend for MemoryStore {
    fn put_now(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        check_key(key)?;
        check_value(value)?;
        let ttl_ms = ttl_millis(ttl)?;
        let mut entries = self.lock();
        let expires_at_ms = self.now_ms().saturating_add(ttl_ms);
        entries.insert(
            key.to_owned(),
            Entry {
                expires_at_ms,
                value: value.to_vec(),
            },
        );
        Ok(())
    }

    fn get_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let entries = self.lock();
        let now = self.now_ms();
        Ok(entries
            .get(key)
            .filter(|e| is_live(e.expires_at_ms, now))
            .map(|e| e.value.clone()))
    }

    fn take_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let mut entries = self.lock();
        let now = self.now_ms();
        Ok(entries
            .remove(key)
            .filter(|e| is_live(e.expires_at_ms, now))
            .map(|e| e.value))
    }

    fn insert_if_absent_now(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        check_key(key)?;
        check_value(value)?;
        let ttl_ms = ttl_millis(ttl)?;
        let mut entries = self.lock();
        let now = self.now_ms();
        if let Some(e) = entries.get(key)
            && is_live(e.expires_at_ms, now)
        {
            return Ok(false);
        }
        entries.insert(
            key.to_owned(),
            Entry {
                expires_at_ms: now.saturating_add(ttl_ms),
                value: value.to_vec(),
            },
        );
        Ok(true)
    }

    fn remove_now(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        self.lock().remove(key);
        Ok(())
    }

    fn sweep_now(&self) -> Result<usize, StoreError> {
        let mut entries = self.lock();
        let now = self.now_ms();
        let before = entries.len();
        entries.retain(|_, e| is_live(e.expires_at_ms, now));
        Ok(before - entries.len())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.lock().len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::MemoryStore;
    use crate::store::suite::Fixture;

    fn fixture() -> Fixture {
        Fixture::new(|clock| Arc::new(MemoryStore::new(clock)), ())
    }

    store_suite!(fixture);
}
