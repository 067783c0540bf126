//! Hub tests on a paused Tokio clock: every wait is virtual, so they are deterministic and fast.
//! Assertions are on call counts and on virtual time, never on wall-clock durations.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pending,
    Approved,
    Denied,
    Expired,
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    key: u32,
    phase: Phase,
    /// Distinguishes non-terminal versions (e.g. an updated field).
    note: u32,
    deadline: Option<DateTime<Utc>>,
}

#[derive(Debug, PartialEq)]
struct FakeError;

impl Display for FakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("scripted upstream failure")
    }
}

/// A scripted upstream with call counters. `refresh` reports the scripted phase of the key
/// (pending if none); `expire` turns a pending item into an expired one.
#[derive(Default)]
struct Fake {
    upstream: parking_lot::Mutex<HashMap<u32, (Phase, u32)>>,
    refreshes: AtomicUsize,
    expires: AtomicUsize,
    /// `refresh` fails.
    fail: AtomicBool,
    /// `expire` fails.
    fail_expire: AtomicBool,
    /// `refresh` panics.
    panic: AtomicBool,
    /// Each `refresh` takes this long (virtual time).
    latency: parking_lot::Mutex<Duration>,
}

impl Fake {
    fn set(&self, key: u32, phase: Phase) {
        self.upstream.lock().insert(key, (phase, 0));
    }

    fn set_note(&self, key: u32, note: u32) {
        self.upstream.lock().insert(key, (Phase::Pending, note));
    }

    fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }

    fn expires(&self) -> usize {
        self.expires.load(Ordering::SeqCst)
    }
}

impl Follow for Fake {
    type Key = u32;
    type Item = Item;
    type Error = FakeError;

    fn is_terminal(item: &Item) -> bool {
        item.phase != Phase::Pending
    }

    fn deadline(item: &Item) -> Option<DateTime<Utc>> {
        item.deadline
    }

    async fn refresh(&self, item: &Item) -> Result<Item, FakeError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let latency = *self.latency.lock();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.panic.load(Ordering::SeqCst) {
            panic!("scripted panic in refresh");
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(FakeError);
        }
        let (phase, note) = self
            .upstream
            .lock()
            .get(&item.key)
            .copied()
            .unwrap_or((Phase::Pending, item.note));
        Ok(Item {
            phase,
            note,
            ..item.clone()
        })
    }

    async fn expire(&self, item: &Item) -> Result<Item, FakeError> {
        self.expires.fetch_add(1, Ordering::SeqCst);
        if self.fail_expire.load(Ordering::SeqCst) {
            return Err(FakeError);
        }
        Ok(Item {
            phase: Phase::Expired,
            ..item.clone()
        })
    }
}

const SECOND: Duration = Duration::from_secs(1);

/// 1 s interval, no jitter: exact call counts.
fn exact() -> HubConfig {
    HubConfig {
        poll_interval: SECOND,
        jitter: 0.0,
        max_backoff: Duration::from_secs(30),
    }
}

fn hub(config: HubConfig) -> (Arc<Fake>, Hub<Fake>) {
    let fake = Arc::new(Fake::default());
    let hub = Hub::new(Arc::clone(&fake), config);
    (fake, hub)
}

fn item(key: u32, phase: Phase) -> Item {
    Item {
        key,
        phase,
        note: 0,
        deadline: None,
    }
}

fn pending(key: u32) -> Item {
    item(key, Phase::Pending)
}

fn noted(key: u32, note: u32) -> Item {
    Item {
        note,
        ..pending(key)
    }
}

type Seen = Vec<Result<Item, HubClosed>>;

/// Drains the stream in its own task.
fn drain(stream: WatchStream<Fake>) -> JoinHandle<Seen> {
    tokio::spawn(stream.collect::<Seen>())
}

async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Awaits `future`, failing the test after ten minutes of virtual time: a hang would otherwise
/// spin the paused clock forever (auto-advance keeps firing the follower's timers).
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(600), future)
        .await
        .expect("no result within 600 s of virtual time")
}

/// What a drained stream yielded.
async fn seen(watcher: JoinHandle<Seen>) -> Seen {
    within(watcher).await.expect("the draining task failed")
}

/// Lets spawned tasks run without moving the clock meaningfully.
async fn settle() {
    sleep(Duration::from_millis(1)).await;
}

#[tokio::test(start_paused = true)]
async fn thousand_watchers_share_one_follower_polling_once_per_interval() {
    let (fake, hub) = hub(HubConfig::default()); // 1 s ± 10 %
    let started = Instant::now();
    let watchers: Vec<_> = (0..1000).map(|_| drain(hub.watch(7, pending(7)))).collect();
    assert_eq!(hub.followers(), 1);
    assert_eq!(hub.watchers(), 1000);

    sleep(Duration::from_secs(20)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let calls = fake.refreshes() as f64;
    // One poll per interval in [0.9 s, 1.1 s], whatever the number of watchers.
    assert!(
        (elapsed / 1.1).floor() <= calls && calls <= (elapsed / 0.9).floor(),
        "{calls} refreshes in {elapsed} s"
    );
    assert_eq!(hub.followers(), 1);

    fake.set(7, Phase::Approved);
    for watcher in watchers {
        assert_eq!(
            seen(watcher).await,
            vec![Ok(pending(7)), Ok(item(7, Phase::Approved))]
        );
    }
    assert_eq!(hub.followers(), 0);
    assert_eq!(hub.watchers(), 0);
    let calls = fake.refreshes();
    sleep(Duration::from_secs(10)).await;
    assert_eq!(
        fake.refreshes(),
        calls,
        "the follower stopped at the terminal item"
    );
}

#[tokio::test(start_paused = true)]
async fn every_watcher_gets_the_first_item_then_each_change_then_the_end() {
    let (fake, hub) = hub(exact());
    let early = drain(hub.watch(1, pending(1)));
    sleep(Duration::from_millis(1500)).await; // one poll (no change)
    fake.set_note(1, 5);
    sleep(SECOND).await; // the 2 s poll sees note 5
    // A late watcher with a stale `current` starts from the hub's newer item.
    let late = drain(hub.watch(1, pending(1)));
    fake.set(1, Phase::Denied);

    let expected_late = vec![Ok(noted(1, 5)), Ok(item(1, Phase::Denied))];
    assert_eq!(seen(late).await, expected_late);
    assert_eq!(
        seen(early).await,
        vec![Ok(pending(1)), Ok(noted(1, 5)), Ok(item(1, Phase::Denied))]
    );
    assert_eq!(fake.refreshes(), 3);
}

#[tokio::test(start_paused = true)]
async fn expiry_arrives_at_the_deadline_while_refresh_keeps_failing() {
    let (fake, hub) = hub(exact());
    fake.fail.store(true, Ordering::SeqCst);
    let started = Instant::now();
    let expiring = Item {
        deadline: Some(Utc::now() + chrono::TimeDelta::seconds(5)),
        ..pending(3)
    };
    let mut stream = hub.watch(3, expiring.clone());
    assert_eq!(within(stream.next()).await, Some(Ok(expiring.clone())));
    let last = within(stream.next()).await;
    let at = started.elapsed();
    assert_eq!(
        last,
        Some(Ok(Item {
            phase: Phase::Expired,
            ..expiring
        }))
    );
    assert_eq!(within(stream.next()).await, None);
    // Virtual time: at the deadline, although the backoff alone (1 s, then 2 s, then 4 s) would
    // have waited until 7 s.
    assert!(
        at >= Duration::from_secs(5) && at < Duration::from_secs(6),
        "{at:?}"
    );
    assert_eq!(fake.refreshes(), 2, "failed polls at 1 s and 3 s");
    assert_eq!(fake.expires(), 1);
    assert_eq!(hub.followers(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failing_expire_is_retried_with_backoff() {
    let (fake, hub) = hub(exact());
    fake.fail.store(true, Ordering::SeqCst);
    fake.fail_expire.store(true, Ordering::SeqCst);
    let expiring = Item {
        deadline: Some(Utc::now() + chrono::TimeDelta::milliseconds(500)),
        ..pending(3)
    };
    let watcher = drain(hub.watch(3, expiring.clone()));
    sleep(Duration::from_secs(10)).await;
    // 0.5 s (fails), then backoff 2 s, 4 s: 2.5 s, 6.5 s; the next would be at 14.5 s.
    assert_eq!(fake.expires(), 3);
    assert_eq!(fake.refreshes(), 0, "past the deadline, reads are expiries");
    fake.fail_expire.store(false, Ordering::SeqCst);
    let seen = seen(watcher).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].as_ref().map(|item| item.phase), Ok(Phase::Expired));
    assert_eq!(fake.expires(), 4);
}

#[tokio::test(start_paused = true)]
async fn follower_stops_when_all_watchers_leave_and_restarts_for_a_new_one() {
    let (fake, hub) = hub(exact());
    let first = hub.watch(2, pending(2));
    let second = hub.watch(2, pending(2));
    sleep(Duration::from_millis(3500)).await;
    assert_eq!(fake.refreshes(), 3);

    drop(first);
    settle().await;
    assert_eq!(hub.followers(), 1, "one watcher left");
    drop(second);
    settle().await;
    assert_eq!(hub.followers(), 0);
    assert_eq!(hub.watchers(), 0);
    sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.refreshes(), 3, "no polls without watchers");

    let again = drain(hub.watch(2, pending(2)));
    assert_eq!(hub.followers(), 1);
    sleep(Duration::from_millis(2500)).await;
    assert_eq!(fake.refreshes(), 5);
    fake.set(2, Phase::Approved);
    assert_eq!(
        seen(again).await,
        vec![Ok(pending(2)), Ok(item(2, Phase::Approved))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_watcher_arriving_as_the_last_one_leaves_is_never_left_without_a_follower() {
    let (fake, hub) = hub(exact());
    for round in 0..20 {
        let leaving = hub.watch(4, pending(4));
        sleep(Duration::from_millis(1100)).await;
        // Drop and subscribe back to back, before the follower reacts to the departure.
        drop(leaving);
        let staying = drain(hub.watch(4, pending(4)));
        settle().await;
        assert_eq!(hub.followers(), 1, "round {round}");
        if round == 19 {
            fake.set(4, Phase::Approved);
        }
        sleep(Duration::from_millis(1100)).await;
        if round < 19 {
            staying.abort();
            let _ = staying.await;
            settle().await;
            assert_eq!(hub.followers(), 0, "round {round}");
        } else {
            assert_eq!(
                seen(staying).await,
                vec![Ok(pending(4)), Ok(item(4, Phase::Approved))]
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn publish_reaches_every_watcher_and_a_terminal_stops_the_follower() {
    let (fake, hub) = hub(exact());
    let watchers: Vec<_> = (0..10).map(|_| drain(hub.watch(5, pending(5)))).collect();
    settle().await;
    hub.publish(&5, noted(5, 1));
    settle().await;
    hub.publish(&5, item(5, Phase::Approved));
    assert_eq!(
        hub.followers(),
        0,
        "a terminal publish ends the follow at once"
    );
    for watcher in watchers {
        assert_eq!(
            seen(watcher).await,
            vec![
                Ok(pending(5)),
                Ok(noted(5, 1)),
                Ok(item(5, Phase::Approved))
            ]
        );
    }
    sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.refreshes(), 0);
    assert_eq!(hub.watchers(), 0);
}

#[tokio::test(start_paused = true)]
async fn publish_never_regresses_a_terminal_item() {
    let (_fake, hub) = hub(exact());
    let watcher = drain(hub.watch(6, pending(6)));
    settle().await;
    hub.publish(&6, item(6, Phase::Denied));
    hub.publish(&6, pending(6));
    hub.publish(&6, item(6, Phase::Approved));
    assert_eq!(
        seen(watcher).await,
        vec![Ok(pending(6)), Ok(item(6, Phase::Denied))]
    );

    // Within the channel too: a terminal slot is never replaced.
    let mut state = State::<Fake> {
        closed: false,
        next_id: 0,
        entries: HashMap::new(),
        reads: HashMap::new(),
    };
    let (tx, rx) = watch::channel(Slot {
        item: item(6, Phase::Denied),
        closed: false,
    });
    state.entries.insert(
        6,
        Entry {
            id: 1,
            tx,
            left: Arc::default(),
            fresh: Arc::default(),
        },
    );
    state.publish(&6, pending(6));
    state.publish(&6, item(6, Phase::Approved));
    assert_eq!(rx.borrow().item, item(6, Phase::Denied));
    assert!(!rx.has_changed().unwrap());
}

#[tokio::test(start_paused = true)]
async fn publish_without_watchers_is_a_no_op() {
    let (fake, hub) = hub(exact());
    hub.publish(&8, item(8, Phase::Approved));
    assert_eq!(hub.followers(), 0);
    let watcher = drain(hub.watch(8, pending(8)));
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.refreshes(), 1);
    hub.publish(&8, item(8, Phase::Approved));
    assert_eq!(
        seen(watcher).await,
        vec![Ok(pending(8)), Ok(item(8, Phase::Approved))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_terminal_current_in_watch_ends_the_follow_for_everyone() {
    let (fake, hub) = hub(exact());
    let existing = drain(hub.watch(9, pending(9)));
    settle().await;
    let newcomer = within(hub.watch(9, item(9, Phase::Denied)).collect::<Seen>()).await;
    assert_eq!(newcomer, vec![Ok(item(9, Phase::Denied))]);
    assert_eq!(
        seen(existing).await,
        vec![Ok(pending(9)), Ok(item(9, Phase::Denied))]
    );
    assert_eq!(hub.followers(), 0);
    assert_eq!(fake.refreshes(), 0);
}

#[tokio::test(start_paused = true)]
async fn refresh_now_coalesces_concurrent_callers_into_one_upstream_call() {
    let (fake, hub) = hub(exact());
    *fake.latency.lock() = Duration::from_millis(300);
    fake.set(10, Phase::Approved);
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move { hub.refresh_now(10, pending(10)).await })
        })
        .collect();
    for caller in callers {
        assert_eq!(
            within(caller).await.unwrap().ok(),
            Some(item(10, Phase::Approved))
        );
    }
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(hub.followers(), 0, "refresh_now starts no follower");

    // Not a cache: a later call reads again.
    within(hub.refresh_now(10, pending(10))).await.ok();
    assert_eq!(fake.refreshes(), 2);
}

#[tokio::test(start_paused = true)]
async fn refresh_now_shares_the_running_followers_read() {
    let (fake, hub) = hub(exact());
    *fake.latency.lock() = Duration::from_millis(300);
    let watcher = drain(hub.watch(11, pending(11)));
    // Inside the follower's first poll (1 s .. 1.3 s).
    sleep(Duration::from_millis(1100)).await;
    assert_eq!(fake.refreshes(), 1);
    fake.set_note(11, 2);
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move { hub.refresh_now(11, pending(11)).await })
        })
        .collect();
    for caller in callers {
        assert!(within(caller).await.unwrap().is_ok());
    }
    assert_eq!(fake.refreshes(), 1, "joined the follower's poll");

    // Between polls: the callers' read is the follower's poll, and it restarts its interval.
    sleep(Duration::from_millis(400)).await; // 1.7 s; next poll due at 2.3 s
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move { hub.refresh_now(11, pending(11)).await })
        })
        .collect();
    for caller in callers {
        assert_eq!(within(caller).await.unwrap().ok(), Some(noted(11, 2)));
    }
    assert_eq!(fake.refreshes(), 2);
    // That read ended at 2.0 s: the follower's next poll is at 3.0 s, not 2.3 s.
    sleep(Duration::from_millis(900)).await; // 2.9 s
    assert_eq!(fake.refreshes(), 2);
    sleep(Duration::from_millis(200)).await; // 3.1 s
    assert_eq!(fake.refreshes(), 3);

    fake.set(11, Phase::Approved);
    assert_eq!(
        seen(watcher).await,
        vec![
            Ok(pending(11)),
            Ok(noted(11, 2)),
            Ok(item(11, Phase::Approved))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn refresh_now_shares_a_failure_and_publishes_successes() {
    let (fake, hub) = hub(exact());
    *fake.latency.lock() = Duration::from_millis(300);
    fake.fail.store(true, Ordering::SeqCst);
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let hub = hub.clone();
            tokio::spawn(async move { hub.refresh_now(12, pending(12)).await })
        })
        .collect();
    for caller in callers {
        let error = within(caller).await.unwrap().err();
        assert!(matches!(error, Some(RefreshError::Upstream(ref e)) if **e == FakeError));
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("scripted upstream failure")
        );
    }
    assert_eq!(fake.refreshes(), 1);

    fake.fail.store(false, Ordering::SeqCst);
    let watcher = drain(hub.watch(12, pending(12)));
    settle().await;
    fake.set(12, Phase::Denied);
    let read = within(hub.refresh_now(12, pending(12))).await;
    assert_eq!(read.ok(), Some(item(12, Phase::Denied)));
    assert_eq!(
        seen(watcher).await,
        vec![Ok(pending(12)), Ok(item(12, Phase::Denied))]
    );
    assert_eq!(hub.followers(), 0);
}

#[tokio::test(start_paused = true)]
async fn refresh_now_expires_past_the_deadline_and_skips_terminal_items() {
    let (fake, hub) = hub(exact());
    let overdue = Item {
        deadline: Some(Utc::now() - chrono::TimeDelta::seconds(1)),
        ..pending(13)
    };
    let read = within(hub.refresh_now(13, overdue.clone())).await;
    assert_eq!(read.ok().map(|item| item.phase), Some(Phase::Expired));
    assert_eq!((fake.refreshes(), fake.expires()), (0, 1));

    let read = within(hub.refresh_now(13, item(13, Phase::Approved))).await;
    assert_eq!(read.ok(), Some(item(13, Phase::Approved)));
    assert_eq!((fake.refreshes(), fake.expires()), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_open_streams_with_hub_closed() {
    let (fake, hub) = hub(exact());
    let watchers: Vec<_> = [14, 14, 15]
        .into_iter()
        .map(|key| drain(hub.watch(key, pending(key))))
        .collect();
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(hub.followers(), 2);
    hub.shutdown();
    assert_eq!(hub.followers(), 0);
    for (watcher, key) in watchers.into_iter().zip([14, 14, 15]) {
        assert_eq!(seen(watcher).await, vec![Ok(pending(key)), Err(HubClosed)]);
    }
    let calls = fake.refreshes();
    sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.refreshes(), calls, "followers stopped");

    // After shutdown: a pending item is yielded, then HubClosed; a terminal one ends normally.
    let late = within(hub.watch(14, pending(14)).collect::<Seen>()).await;
    assert_eq!(late, vec![Ok(pending(14)), Err(HubClosed)]);
    let done = within(hub.watch(14, item(14, Phase::Expired)).collect::<Seen>()).await;
    assert_eq!(done, vec![Ok(item(14, Phase::Expired))]);
    assert_eq!(hub.followers(), 0);
    assert_eq!(hub.watchers(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_terminal_item_is_yielded_alone_without_a_follower() {
    let (fake, hub) = hub(exact());
    let mut stream = hub.watch(16, item(16, Phase::Approved));
    assert_eq!(hub.followers(), 0);
    assert_eq!(hub.watchers(), 1);
    assert_eq!(
        within(stream.next()).await,
        Some(Ok(item(16, Phase::Approved)))
    );
    assert_eq!(within(stream.next()).await, None);
    assert_eq!(within(stream.next()).await, None);
    drop(stream);
    assert_eq!(hub.watchers(), 0);
    sleep(Duration::from_secs(5)).await;
    assert_eq!(fake.refreshes() + fake.expires(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_refresh_does_not_kill_the_follower_or_the_hub() {
    let (fake, hub) = hub(exact());
    fake.panic.store(true, Ordering::SeqCst);
    let watcher = drain(hub.watch(17, pending(17)));
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(hub.followers(), 1);
    let read = within(hub.refresh_now(17, pending(17))).await;
    assert!(matches!(read, Err(RefreshError::Aborted)));
    assert_eq!(
        read.err().map(|e| e.to_string()).as_deref(),
        Some("the upstream read was aborted")
    );

    fake.panic.store(false, Ordering::SeqCst);
    fake.set(17, Phase::Approved);
    assert_eq!(
        seen(watcher).await,
        vec![Ok(pending(17)), Ok(item(17, Phase::Approved))]
    );
    assert_eq!(hub.followers(), 0);
}

#[tokio::test(start_paused = true)]
async fn upstream_errors_back_off_exponentially_up_to_the_maximum() {
    let (fake, hub) = hub(exact());
    fake.fail.store(true, Ordering::SeqCst);
    let _watcher = hub.watch(18, pending(18));
    sleep(Duration::from_millis(100_500)).await;
    // Polls at 1 s, then after 2, 4, 8, 16, 30 (capped), 30 s: 1, 3, 7, 15, 31, 61, 91.
    assert_eq!(fake.refreshes(), 7);
    fake.fail.store(false, Ordering::SeqCst);
    sleep(Duration::from_secs(25)).await; // 125.5 s
    // 121 (success), then every second: 122, 123, 124, 125.
    assert_eq!(fake.refreshes(), 12);
}

#[test]
fn config_is_sanitized() {
    let config = HubConfig {
        poll_interval: Duration::ZERO,
        jitter: f64::NAN,
        max_backoff: Duration::MAX,
    }
    .sanitized();
    assert_eq!(config.poll_interval, Duration::from_millis(1));
    assert_eq!(config.jitter, 0.0);
    assert_eq!(config.max_backoff, HubConfig::MAX_WAIT);

    let config = HubConfig {
        poll_interval: Duration::from_secs(10),
        jitter: 5.0,
        max_backoff: SECOND,
    }
    .sanitized();
    assert_eq!(config.jitter, 0.9);
    assert_eq!(config.max_backoff, Duration::from_secs(10));

    let config = HubConfig::default().sanitized();
    for failures in 0..100 {
        let wait = config.backoff(failures);
        assert!(wait <= config.max_backoff);
        assert!(wait >= config.poll_interval.mul_f64(0.9));
    }
    for _ in 0..1000 {
        let wait = config.jittered(SECOND);
        assert!(wait >= Duration::from_millis(900) && wait <= Duration::from_millis(1100));
    }
}
