//! The behaviour every `Store` must show, written once and run against each implementation with
//! `store_suite!(fixture)` in that implementation's tests. A Redis store will run the same suite
//! against a real `redis-server`. Test code only.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use time::macros::datetime;

use super::{MAX_KEY_BYTES, MAX_VALUE_BYTES, Store, StoreError, block_on, spawn_sweeper};
use crate::clock::{Clock, ManualClock};

/// Generates one `#[test]` per behaviour below, each on a fresh store from `$fixture()`.
macro_rules! store_suite {
    ($fixture:ident) => {
        store_suite!(@tests $fixture:
            put_then_get_returns_the_value,
            put_overwrites_the_value_and_the_ttl,
            get_of_an_unknown_key_is_none,
            entry_expires_when_its_ttl_has_passed,
            sub_millisecond_ttl_rounds_up_to_one_millisecond,
            take_hands_out_a_value_once,
            take_of_an_expired_entry_is_none,
            insert_if_absent_refuses_a_live_id_and_accepts_it_after_expiry,
            insert_if_absent_keeps_the_first_value_and_its_ttl,
            remove_deletes_and_tolerates_absent_keys,
            sweep_removes_only_expired_entries_and_counts_them,
            racing_insert_if_absent_admits_exactly_one,
            racing_take_hands_out_a_code_once,
            sweeper_removes_expired_entries_and_stops_on_drop,
            rejects_keys_over_the_limit,
            rejects_values_over_the_limit,
            rejects_a_zero_ttl,
        );
    };
    (@tests $fixture:ident: $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::store::suite::$name($fixture());
            }
        )+
    };
}

pub(crate) fn start() -> OffsetDateTime {
    datetime!(2026-11-29 12:00 UTC)
}

/// A fresh store on a `ManualClock`, plus whatever must live as long as it (a temp directory).
pub(crate) struct Fixture {
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    _keep: Box<dyn Any>,
}

impl Fixture {
    pub(crate) fn new<K: 'static>(
        make: impl FnOnce(Arc<dyn Clock>) -> Arc<dyn Store>,
        keep: K,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(start()));
        Fixture {
            store: make(clock.clone()),
            clock,
            _keep: Box::new(keep),
        }
    }

    fn advance(&self, by: Duration) {
        self.clock
            .advance(time::Duration::try_from(by).expect("test duration"));
    }

    fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        block_on(self.store.put(key, value, ttl)).expect("put");
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        block_on(self.store.get(key)).expect("get")
    }

    fn take(&self, key: &str) -> Option<Vec<u8>> {
        block_on(self.store.take(key)).expect("take")
    }

    fn insert_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        block_on(self.store.insert_if_absent(key, value, ttl)).expect("insert_if_absent")
    }

    fn sweep(&self) -> usize {
        block_on(self.store.sweep()).expect("sweep")
    }
}

const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);
const FLOW_TTL: Duration = Duration::from_secs(600);
const REPLAY_TTL: Duration = Duration::from_secs(300);
const CODE_TTL: Duration = Duration::from_secs(60);

pub(crate) fn put_then_get_returns_the_value(f: Fixture) {
    f.put("flow:1", b"pending AuthnRequest", FLOW_TTL);
    assert_eq!(
        f.get("flow:1").as_deref(),
        Some(&b"pending AuthnRequest"[..])
    );
    // Reading does not consume.
    assert_eq!(
        f.get("flow:1").as_deref(),
        Some(&b"pending AuthnRequest"[..])
    );
    // An empty value (a bare replay marker) is a value, not an absence.
    f.put("replay:marker", b"", REPLAY_TTL);
    assert_eq!(f.get("replay:marker"), Some(Vec::new()));
}

pub(crate) fn put_overwrites_the_value_and_the_ttl(f: Fixture) {
    f.put("flow:1", b"first", 10 * SEC);
    f.put("flow:1", b"second", 100 * SEC);
    assert_eq!(f.get("flow:1").as_deref(), Some(&b"second"[..]));
    f.advance(50 * SEC);
    assert_eq!(
        f.get("flow:1").as_deref(),
        Some(&b"second"[..]),
        "the second put's TTL counts, not the first's"
    );
    assert_eq!(
        f.sweep(),
        0,
        "an overwritten entry's old expiry must not sweep it"
    );
    assert!(f.get("flow:1").is_some());
    f.advance(50 * SEC);
    assert_eq!(f.get("flow:1"), None);
}

pub(crate) fn get_of_an_unknown_key_is_none(f: Fixture) {
    assert_eq!(f.get("flow:never-stored"), None);
    assert_eq!(f.take("flow:never-stored"), None);
}

pub(crate) fn entry_expires_when_its_ttl_has_passed(f: Fixture) {
    f.put("code:abc", b"authorization code", CODE_TTL);
    f.advance(CODE_TTL - MS);
    assert!(
        f.get("code:abc").is_some(),
        "live until the last millisecond"
    );
    f.advance(MS);
    assert_eq!(
        f.get("code:abc"),
        None,
        "gone once the TTL has passed, before any sweep"
    );
}

pub(crate) fn sub_millisecond_ttl_rounds_up_to_one_millisecond(f: Fixture) {
    f.put("k", b"v", Duration::from_micros(10));
    assert!(f.get("k").is_some());
    f.advance(MS);
    assert_eq!(f.get("k"), None);
}

pub(crate) fn take_hands_out_a_value_once(f: Fixture) {
    f.put("code:abc", b"authorization code", CODE_TTL);
    assert_eq!(
        f.take("code:abc").as_deref(),
        Some(&b"authorization code"[..])
    );
    assert_eq!(f.take("code:abc"), None, "a one-time code is redeemed once");
    assert_eq!(f.get("code:abc"), None);
}

pub(crate) fn take_of_an_expired_entry_is_none(f: Fixture) {
    f.put("code:abc", b"authorization code", CODE_TTL);
    f.advance(CODE_TTL);
    assert_eq!(
        f.take("code:abc"),
        None,
        "an expired code cannot be redeemed"
    );
    assert_eq!(f.sweep(), 0, "take removed the expired entry");
}

pub(crate) fn insert_if_absent_refuses_a_live_id_and_accepts_it_after_expiry(f: Fixture) {
    let key = "replay:authnreq:https://connector.example.eu/metadata:_id1";
    assert!(
        f.insert_if_absent(key, b"", REPLAY_TTL),
        "first sight is accepted"
    );
    assert!(
        !f.insert_if_absent(key, b"", REPLAY_TTL),
        "a replay is refused"
    );
    f.advance(REPLAY_TTL - MS);
    assert!(
        !f.insert_if_absent(key, b"", REPLAY_TTL),
        "still refused within the window"
    );
    f.advance(MS);
    assert!(
        f.insert_if_absent(key, b"", REPLAY_TTL),
        "accepted once the window has passed"
    );
    assert!(
        !f.insert_if_absent(key, b"", REPLAY_TTL),
        "and the new window is closed again"
    );
    f.advance(REPLAY_TTL);
    assert_eq!(
        f.sweep(),
        1,
        "the replaced entry left nothing behind to sweep"
    );
}

pub(crate) fn insert_if_absent_keeps_the_first_value_and_its_ttl(f: Fixture) {
    assert!(f.insert_if_absent("flow:1", b"first", 10 * SEC));
    f.advance(5 * SEC);
    assert!(!f.insert_if_absent("flow:1", b"second", 100 * SEC));
    assert_eq!(f.get("flow:1").as_deref(), Some(&b"first"[..]));
    f.advance(5 * SEC);
    assert_eq!(
        f.get("flow:1"),
        None,
        "a refused insert does not extend the TTL"
    );
}

pub(crate) fn remove_deletes_and_tolerates_absent_keys(f: Fixture) {
    f.put("flow:1", b"pending", FLOW_TTL);
    block_on(f.store.remove("flow:1")).expect("remove");
    assert_eq!(f.get("flow:1"), None);
    block_on(f.store.remove("flow:1")).expect("removing an absent key is not an error");
    assert!(f.insert_if_absent("flow:1", b"again", FLOW_TTL));
    f.advance(FLOW_TTL);
    assert_eq!(f.sweep(), 1);
}

pub(crate) fn sweep_removes_only_expired_entries_and_counts_them(f: Fixture) {
    f.put("code:a", b"a", CODE_TTL);
    f.put("code:b", b"b", CODE_TTL);
    assert!(f.insert_if_absent("replay:c", b"", REPLAY_TTL));
    f.put("flow:d", b"d", FLOW_TTL);
    f.put("code:taken", b"t", CODE_TTL);
    assert!(f.take("code:taken").is_some());
    assert_eq!(f.sweep(), 0, "nothing has expired yet");

    f.advance(CODE_TTL);
    assert_eq!(f.sweep(), 2, "exactly the two codes");
    assert_eq!(f.get("replay:c"), Some(Vec::new()));
    assert_eq!(f.get("flow:d").as_deref(), Some(&b"d"[..]));
    assert_eq!(f.sweep(), 0, "a second sweep finds nothing");

    f.advance(FLOW_TTL);
    assert_eq!(f.sweep(), 2);
    assert_eq!(f.sweep(), 0);
}

const RACERS: usize = 8;

fn race<F>(f: &Fixture, rounds: usize, attempt: F) -> Vec<usize>
where
    F: Fn(&dyn Store, usize) -> bool + Send + Sync + 'static,
{
    let wins: Arc<Vec<AtomicUsize>> = Arc::new((0..rounds).map(|_| AtomicUsize::new(0)).collect());
    let barrier = Arc::new(Barrier::new(RACERS));
    let attempt = Arc::new(attempt);
    let threads: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, wins, barrier, attempt) = (
                f.store.clone(),
                wins.clone(),
                barrier.clone(),
                attempt.clone(),
            );
            std::thread::spawn(move || {
                for round in 0..rounds {
                    barrier.wait();
                    if attempt(store.as_ref(), round) {
                        wins[round].fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("racer thread");
    }
    wins.iter().map(|w| w.load(Ordering::SeqCst)).collect()
}

pub(crate) fn racing_insert_if_absent_admits_exactly_one(f: Fixture) {
    let wins = race(&f, 16, |store, round| {
        let key = format!("replay:assertion:_race{round}");
        block_on(store.insert_if_absent(&key, b"", REPLAY_TTL)).expect("insert_if_absent")
    });
    assert_eq!(wins, vec![1; 16], "one winner per replayed id, never two");
}

pub(crate) fn racing_take_hands_out_a_code_once(f: Fixture) {
    for round in 0..16 {
        f.put(&format!("code:_race{round}"), b"code", CODE_TTL);
    }
    let wins = race(&f, 16, |store, round| {
        let key = format!("code:_race{round}");
        block_on(store.take(&key)).expect("take").is_some()
    });
    assert_eq!(wins, vec![1; 16], "a code is redeemed by one request only");
}

pub(crate) fn sweeper_removes_expired_entries_and_stops_on_drop(f: Fixture) {
    f.put("code:old", b"a", CODE_TTL);
    f.put("flow:live", b"b", FLOW_TTL);
    f.advance(CODE_TTL);

    let sweeper = spawn_sweeper(f.store.clone(), Duration::from_millis(5)).expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while sweeper.removed() < 1 {
        assert!(Instant::now() < deadline, "the sweeper did not run");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(sweeper.removed(), 1);
    assert_eq!(sweeper.failures(), 0);
    assert!(
        f.get("flow:live").is_some(),
        "the sweeper left the live entry"
    );
    assert_eq!(f.sweep(), 0, "nothing expired is left");

    drop(sweeper);
    assert_eq!(
        Arc::strong_count(&f.store),
        1,
        "dropping the handle ended the thread and released the store"
    );
    f.put("code:later", b"c", CODE_TTL);
    f.advance(CODE_TTL);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(f.sweep(), 1, "no sweeper ran after the drop");
}

pub(crate) fn rejects_keys_over_the_limit(f: Fixture) {
    let at_limit = "k".repeat(MAX_KEY_BYTES);
    f.put(&at_limit, b"v", CODE_TTL);
    assert!(f.get(&at_limit).is_some());

    let over = "k".repeat(MAX_KEY_BYTES + 1);
    let expect_refused = |r: Result<(), StoreError>| match r {
        Err(e @ StoreError::KeyTooLarge { len, limit }) => {
            assert_eq!((len, limit), (MAX_KEY_BYTES + 1, MAX_KEY_BYTES));
            assert!(e.to_string().contains("512"), "{e}");
        }
        other => panic!("expected KeyTooLarge, got {other:?}"),
    };
    expect_refused(block_on(f.store.put(&over, b"v", CODE_TTL)));
    expect_refused(block_on(f.store.get(&over)).map(drop));
    expect_refused(block_on(f.store.take(&over)).map(drop));
    expect_refused(block_on(f.store.insert_if_absent(&over, b"v", CODE_TTL)).map(drop));
    expect_refused(block_on(f.store.remove(&over)));
}

pub(crate) fn rejects_values_over_the_limit(f: Fixture) {
    let at_limit = vec![7u8; MAX_VALUE_BYTES];
    f.put("flow:big", &at_limit, FLOW_TTL);
    assert_eq!(f.get("flow:big").map(|v| v.len()), Some(MAX_VALUE_BYTES));

    let over = vec![7u8; MAX_VALUE_BYTES + 1];
    let expect_refused = |r: Result<(), StoreError>| match r {
        Err(e @ StoreError::ValueTooLarge { len, limit }) => {
            assert_eq!((len, limit), (MAX_VALUE_BYTES + 1, MAX_VALUE_BYTES));
            assert!(e.to_string().contains("262144"), "{e}");
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    };
    expect_refused(block_on(f.store.put("flow:big", &over, FLOW_TTL)));
    expect_refused(block_on(f.store.insert_if_absent("flow:other", &over, FLOW_TTL)).map(drop));
    assert_eq!(
        f.get("flow:big").map(|v| v.len()),
        Some(MAX_VALUE_BYTES),
        "a refused put leaves the old value"
    );
    assert_eq!(f.get("flow:other"), None);
}

pub(crate) fn rejects_a_zero_ttl(f: Fixture) {
    assert!(matches!(
        block_on(f.store.put("k", b"v", Duration::ZERO)),
        Err(StoreError::ZeroTtl)
    ));
    assert!(matches!(
        block_on(f.store.insert_if_absent("k", b"v", Duration::ZERO)),
        Err(StoreError::ZeroTtl)
    ));
    assert_eq!(f.get("k"), None);
}
