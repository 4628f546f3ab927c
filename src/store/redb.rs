//! `RedbStore`: the embedded default store, one redb file in the data directory. A restart keeps
//! every replay id, so the replay window stays closed (docs/decisions/0002-store-redb.md).
//!
//! Each value is stored with its expiry instant (unix milliseconds); reads compare it with the
//! injected clock, so an expired entry is absent before any sweep. A second table indexes entries
//! by expiry so that a sweep reads only what is due. Every change is one write transaction, which
//! is what makes `take` and `insert_if_absent` atomic: redb runs one write transaction at a time
//! and readers see only committed state.
//!
//! redb is synchronous. The futures do their work on the polling thread: each transaction touches
//! a handful of keys and, at the default durability, ends in one fsync. The server will drive
//! these futures from a blocking-tolerant path; this file must not grow long-running work.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ::redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{StoreError, SyncBackend, check_key, check_value, is_live, ttl_millis, unix_millis};
use crate::clock::Clock;

/// key → (expiry in unix milliseconds, value).
const ENTRIES: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("entries");

/// (expiry in unix milliseconds, key) → (): the sweep's index, kept in step with `ENTRIES` by
/// every write transaction.
const EXPIRY: TableDefinition<(u64, &str), ()> = TableDefinition::new("expiry");

/// Most entries one sweep removes, so one write transaction stays short even after a long
/// outage left a backlog; the next sweep takes the rest. Far above what a node expires per
/// sweep interval.
const SWEEP_BATCH: usize = 10_000;

pub struct RedbStore {
    db: Database,
    path: PathBuf,
    clock: Arc<dyn Clock>,
}

impl RedbStore {
    /// Opens the store file at `path`, creating it (not its directory) when missing.
    ///
    /// The whole file is integrity-checked on open, so a file damaged outside redb is refused with
    /// [`StoreError::Open`] instead of being trusted; the file holds only short-lived entries, so
    /// the check is cheap. redb locks the file: a second open, from this process or another,
    /// fails. Several instances share state through Redis, not through one file.
    pub fn open(path: impl AsRef<Path>, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let open_error = |source: ::redb::Error| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .create(path)
            .map_err(|e| open_error(e.into()))?;
        // Create both tables up front, so read transactions can always open them.
        let txn = db.begin_write().map_err(|e| open_error(e.into()))?;
        txn.open_table(ENTRIES).map_err(|e| open_error(e.into()))?;
        txn.open_table(EXPIRY).map_err(|e| open_error(e.into()))?;
        txn.commit().map_err(|e| open_error(e.into()))?;
        Ok(RedbStore {
            db,
            path: path.to_owned(),
            clock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn now_ms(&self) -> u64 {
        unix_millis(self.clock.now())
    }
}

impl SyncBackend for RedbStore {
    fn put_now(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        check_key(key)?;
        check_value(value)?;
        let ttl_ms = ttl_millis(ttl)?;
        let txn = self.db.begin_write()?;
        {
            let expires = self.now_ms().saturating_add(ttl_ms);
            let mut entries = txn.open_table(ENTRIES)?;
            let mut expiry = txn.open_table(EXPIRY)?;
            let old = entries.insert(key, (expires, value))?.map(|g| g.value().0);
            if let Some(old_expires) = old {
                expiry.remove((old_expires, key))?;
            }
            expiry.insert((expires, key), ())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn get_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let txn = self.db.begin_read()?;
        let entries = txn.open_table(ENTRIES)?;
        let now = self.now_ms();
        let value = entries.get(key)?.and_then(|g| {
            let (expires, value) = g.value();
            is_live(expires, now).then(|| value.to_vec())
        });
        Ok(value)
    }

    fn take_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let txn = self.db.begin_write()?;
        let taken = {
            let now = self.now_ms();
            let mut entries = txn.open_table(ENTRIES)?;
            let removed = entries.remove(key)?.map(|g| {
                let (expires, value) = g.value();
                (expires, value.to_vec())
            });
            match removed {
                None => None,
                Some((expires, value)) => {
                    txn.open_table(EXPIRY)?.remove((expires, key))?;
                    Some(is_live(expires, now).then_some(value))
                }
            }
        };
        match taken {
            None => {
                txn.abort()?;
                Ok(None)
            }
            Some(value) => {
                txn.commit()?;
                Ok(value)
            }
        }
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
        let txn = self.db.begin_write()?;
        let inserted = {
            let now = self.now_ms();
            let expires = now.saturating_add(ttl_ms);
            let mut entries = txn.open_table(ENTRIES)?;
            let existing = entries.get(key)?.map(|g| g.value().0);
            match existing {
                Some(old_expires) if is_live(old_expires, now) => false,
                existing => {
                    let mut expiry = txn.open_table(EXPIRY)?;
                    if let Some(old_expires) = existing {
                        expiry.remove((old_expires, key))?;
                    }
                    entries.insert(key, (expires, value))?;
                    expiry.insert((expires, key), ())?;
                    true
                }
            }
        };
        if inserted {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(inserted)
    }

    fn remove_now(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        let txn = self.db.begin_write()?;
        let removed = {
            let mut entries = txn.open_table(ENTRIES)?;
            let old = entries.remove(key)?.map(|g| g.value().0);
            if let Some(old_expires) = old {
                txn.open_table(EXPIRY)?.remove((old_expires, key))?;
            }
            old.is_some()
        };
        if removed {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(())
    }

    fn sweep_now(&self) -> Result<usize, StoreError> {
        let txn = self.db.begin_write()?;
        let removed = {
            let now = self.now_ms();
            let mut expiry = txn.open_table(EXPIRY)?;
            // Every index key whose expiry is <= now sorts before (now + 1, "").
            let first_live: (u64, &str) = (now.saturating_add(1), "");
            // Only the index keys read from the iterator are removed, so `take` bounds the batch.
            let mut extract = expiry.extract_from_if(..first_live, |_, ()| true)?;
            let mut due = Vec::new();
            for item in extract.by_ref().take(SWEEP_BATCH) {
                let (key, _) = item?;
                due.push(key.value().1.to_owned());
            }
            // Closing explicitly reports a failed removal, which dropping would only poison.
            extract.close()?;
            let mut entries = txn.open_table(ENTRIES)?;
            let mut removed = 0;
            for key in &due {
                // The index and the entries change together, so a due index key names an expired
                // entry; the check keeps a live entry safe even if that ever stopped being true.
                let expires = entries.get(key.as_str())?.map(|g| g.value().0);
                if let Some(expires) = expires
                    && !is_live(expires, now)
                {
                    entries.remove(key.as_str())?;
                    removed += 1;
                }
            }
            if due.is_empty() { None } else { Some(removed) }
        };
        match removed {
            None => {
                txn.abort()?;
                Ok(0)
            }
            Some(removed) => {
                txn.commit()?;
                Ok(removed)
            }
        }
    }
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{ENTRIES, EXPIRY, RedbStore, SWEEP_BATCH};
    use crate::clock::{Clock, ManualClock};
    use crate::store::suite::{Fixture, start};
    use crate::store::unix_millis;
    use crate::store::{Store, StoreError, block_on};

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.redb");
        Fixture::new(
            move |clock| Arc::new(RedbStore::open(&path, clock).expect("open store")),
            dir,
        )
    }

    store_suite!(fixture);

    const REPLAY_KEY: &str = "replay:authnreq:https://connector.example.eu/metadata:_a1b2c3";
    const WINDOW: Duration = Duration::from_secs(300);

    #[test]
    fn replay_id_still_blocks_after_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.redb");
        let clock = Arc::new(ManualClock::new(start()));
        let as_clock = || clock.clone() as Arc<dyn Clock>;

        let store = RedbStore::open(&path, as_clock()).expect("open");
        assert!(block_on(store.insert_if_absent(REPLAY_KEY, b"", WINDOW)).expect("insert"));
        drop(store);

        let store = RedbStore::open(&path, as_clock()).expect("reopen");
        assert!(
            !block_on(store.insert_if_absent(REPLAY_KEY, b"", WINDOW)).expect("insert"),
            "a replayed AuthnRequest ID must still be refused after a restart"
        );

        clock.advance(time::Duration::seconds(301));
        drop(store);
        let store = RedbStore::open(&path, as_clock()).expect("reopen");
        assert!(
            block_on(store.insert_if_absent(REPLAY_KEY, b"", WINDOW)).expect("insert"),
            "once the window has passed, the id is accepted again"
        );
    }

    #[test]
    fn pending_flow_and_its_expiry_survive_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.redb");
        let clock = Arc::new(ManualClock::new(start()));

        let store = RedbStore::open(&path, clock.clone()).expect("open");
        block_on(store.put("flow:1", b"pending", Duration::from_secs(600))).expect("put");
        drop(store);

        let store = RedbStore::open(&path, clock.clone()).expect("reopen");
        assert_eq!(
            block_on(store.get("flow:1")).expect("get").as_deref(),
            Some(&b"pending"[..])
        );
        clock.advance(time::Duration::seconds(600));
        assert_eq!(block_on(store.get("flow:1")).expect("get"), None);
        assert_eq!(block_on(store.sweep()).expect("sweep"), 1);
    }

    #[test]
    fn sweep_clears_a_large_backlog_in_bounded_batches() {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(start()));
        let store = RedbStore::open(dir.path().join("s.redb"), clock.clone()).expect("open");
        // A backlog bigger than one batch, as after a long outage; written in one transaction
        // because one fsync per entry would make the test slow.
        let expires = unix_millis(start()) + 1_000;
        let txn = store.db.begin_write().expect("begin");
        {
            let mut entries = txn.open_table(ENTRIES).expect("entries");
            let mut expiry = txn.open_table(EXPIRY).expect("expiry");
            for i in 0..SWEEP_BATCH + 5 {
                let key = format!("replay:assertion:_{i}");
                entries
                    .insert(key.as_str(), (expires, &b""[..]))
                    .expect("insert");
                expiry.insert((expires, key.as_str()), ()).expect("index");
            }
        }
        txn.commit().expect("commit");
        block_on(store.put("flow:live", b"kept", WINDOW)).expect("put");

        clock.advance(time::Duration::seconds(2));
        assert_eq!(block_on(store.sweep()).expect("sweep"), SWEEP_BATCH);
        assert_eq!(
            block_on(store.sweep()).expect("sweep"),
            5,
            "the next sweep takes the rest"
        );
        assert_eq!(block_on(store.sweep()).expect("sweep"), 0);
        assert!(block_on(store.get("flow:live")).expect("get").is_some());
    }

    fn open_error(path: &std::path::Path) -> StoreError {
        let clock = Arc::new(ManualClock::new(start()));
        RedbStore::open(path, clock).expect_err("open must fail")
    }

    fn assert_open_error_names_path(err: &StoreError, path: &std::path::Path) {
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "the error must name the file: {message}"
        );
    }

    #[test]
    fn refuses_to_open_a_file_that_is_not_a_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.redb");
        std::fs::write(&path, vec![0x5a; 8192]).expect("write");
        let err = open_error(&path);
        assert_open_error_names_path(&err, &path);
        assert!(err.to_string().contains("Not a redb database"), "{err}");
        // The file is left as it was: nothing is overwritten on a failed open.
        assert_eq!(std::fs::read(&path).expect("read"), vec![0x5a; 8192]);
    }

    #[test]
    fn refuses_to_open_a_store_damaged_after_it_was_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.redb");
        let clock = Arc::new(ManualClock::new(start()));
        let store = RedbStore::open(&path, clock).expect("open");
        for i in 0..64 {
            let key = format!("replay:{i}");
            block_on(store.put(&key, &[i as u8; 512], WINDOW)).expect("put");
        }
        drop(store);
        let mut bytes = std::fs::read(&path).expect("read");
        // Flip every byte after the header page: page checksums no longer match.
        for b in bytes.iter_mut().skip(4096) {
            *b ^= 0xff;
        }
        std::fs::write(&path, bytes).expect("write");
        let err = open_error(&path);
        assert_open_error_names_path(&err, &path);
        assert!(err.to_string().contains("corrupted"), "{err}");
    }

    #[test]
    fn refuses_to_open_a_directory_or_a_path_under_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = open_error(dir.path());
        assert_open_error_names_path(&err, dir.path());

        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").expect("write");
        let under_file = file.join("store.redb");
        let err = open_error(&under_file);
        assert_open_error_names_path(&err, &under_file);
    }

    #[test]
    fn refuses_a_second_open_of_the_same_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.redb");
        let clock = Arc::new(ManualClock::new(start()));
        let _first = RedbStore::open(&path, clock).expect("open");
        let err = open_error(&path);
        assert_open_error_names_path(&err, &path);
    }

    #[test]
    fn store_is_usable_as_a_shared_trait_object() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<RedbStore>();
        assert_send_sync::<StoreError>();
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(start()));
        let store: Arc<dyn Store> =
            Arc::new(RedbStore::open(dir.path().join("s.redb"), clock).expect("open"));
        block_on(store.put("k", b"v", WINDOW)).expect("put");
        assert!(block_on(store.get("k")).expect("get").is_some());
    }
}
