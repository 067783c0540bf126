//! A generic watch hub: many watchers of an item, one upstream follower per item.
//!
//! A [`Hub`] serves one kind of followable item (OneTouch approvals, QR registrations), described
//! by a [`Follow`] implementation that does all the I/O. The hub only schedules reads and
//! broadcasts their results.
//!
//! # Invariants
//!
//! - **One follower per watched, non-terminal key.** The first [`Hub::watch`] of a key starts one
//!   follower task; every further watcher subscribes to the same state channel. Upstream load is
//!   O(watched items), never O(watchers).
//! - **One upstream read in flight per key.** Follower polls and [`Hub::refresh_now`] calls go
//!   through one single-flight slot: a read that starts while another is running for the same key
//!   joins it and gets the same result.
//! - **Persist, then broadcast.** The hub broadcasts only what [`Follow::refresh`] /
//!   [`Follow::expire`] returned (they persist before returning) and what callers hand to
//!   [`Hub::publish`] / [`Hub::watch`] (already persisted elsewhere). The hub never invents state.
//! - **Terminal is final.** Once a key's channel holds a terminal item, nothing replaces it; the
//!   key's entry is removed at that moment and its follower stops.
//! - **Local expiry.** At an item's [`Follow::deadline`] the next read is an `expire`, not a
//!   `refresh`, and error backoff never postpones a read past the deadline, so the terminal
//!   expiry arrives even while upstream is unreachable.
//! - **No orphaned watchers.** A follower stops when nobody watches its key; it checks and removes
//!   the key under the same lock that [`Hub::watch`] takes, so a watcher arriving at that moment
//!   either joins the running follower or starts a new one.
//! - **Shutdown ends every open stream** with `Err(HubClosed)` (the gRPC layer maps it to
//!   UNAVAILABLE so clients reconnect to another replica or after the restart).
//!
//! Streams have latest-value semantics: a watcher that falls behind may skip an intermediate
//! non-terminal item, but always receives the terminal one (it is never replaced).

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt::{self, Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::Rng;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_stream::Stream;
use tokio_stream::wrappers::WatchStream as ChangeStream;

/// One kind of followable item (approvals, registrations). The implementation does the I/O;
/// the hub only schedules calls and broadcasts their results.
///
/// Contract for implementations:
/// - [`refresh`](Follow::refresh) reads upstream once and **persists** any change before
///   returning the item *as stored*; [`expire`](Follow::expire) persists the local expiry the
///   same way. Both must never move a stored terminal item back to non-terminal (a conditional
///   update), and return what is stored, which may be a different terminal state that got
///   there first.
/// - `Error`'s `Display` is logged: it must not contain secrets.
/// - Calls may be cancelled at an await point (hub shutdown); each call runs in its own task,
///   so a panic is contained and reported as [`RefreshError::Aborted`].
pub trait Follow: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Debug + Send + Sync + 'static;
    type Item: Clone + PartialEq + Send + Sync + 'static;
    type Error: Display + Send + Sync + 'static;

    /// No transition leaves a terminal item.
    fn is_terminal(item: &Self::Item) -> bool;

    /// When the item expires locally, if it does.
    fn deadline(item: &Self::Item) -> Option<DateTime<Utc>>;

    /// Read upstream once, persist any change, return the item as stored.
    fn refresh(
        &self,
        item: &Self::Item,
    ) -> impl Future<Output = Result<Self::Item, Self::Error>> + Send;

    /// Persist the local expiry (the deadline has passed), return the item as stored.
    fn expire(
        &self,
        item: &Self::Item,
    ) -> impl Future<Output = Result<Self::Item, Self::Error>> + Send;
}

/// Polling schedule of the followers.
#[derive(Debug, Clone, PartialEq)]
pub struct HubConfig {
    /// Time between two upstream reads of a followed item (default 1 s). Clamped to 1 ms ..= 1 day.
    pub poll_interval: Duration,
    /// Relative jitter applied to every wait, e.g. `0.1` = ±10 % (default). Clamped to 0 ..= 0.9.
    pub jitter: f64,
    /// Longest wait after consecutive upstream errors (default 30 s). Never below `poll_interval`.
    pub max_backoff: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            jitter: 0.1,
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl HubConfig {
    const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

    fn sanitized(self) -> Self {
        let poll_interval = self
            .poll_interval
            .clamp(Duration::from_millis(1), Self::MAX_WAIT);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 0.9)
        } else {
            0.0
        };
        let max_backoff = self.max_backoff.clamp(poll_interval, Self::MAX_WAIT);
        Self {
            poll_interval,
            jitter,
            max_backoff,
        }
    }

    /// `wait` ± jitter.
    fn jittered(&self, wait: Duration) -> Duration {
        if self.jitter <= 0.0 {
            return wait;
        }
        let factor = 1.0 + rand::rng().random_range(-self.jitter..=self.jitter);
        Duration::try_from_secs_f64(wait.as_secs_f64() * factor).unwrap_or(wait)
    }

    /// The wait after `failures` consecutive failed reads: `poll_interval · 2^failures`, jittered,
    /// at most `max_backoff`.
    fn backoff(&self, failures: u32) -> Duration {
        let exponential = self
            .poll_interval
            .saturating_mul(2u32.saturating_pow(failures));
        self.jittered(exponential.min(self.max_backoff))
            .min(self.max_backoff)
    }
}

/// The hub shut down before the watched item reached a terminal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the watch hub is shutting down")]
pub struct HubClosed;

/// Why a shared upstream read produced no item. Cloneable, so every caller sharing the read gets
/// the same error.
pub enum RefreshError<E> {
    /// [`Follow::refresh`] or [`Follow::expire`] failed with this error.
    Upstream(Arc<E>),
    /// The read panicked or was cancelled before producing a result.
    Aborted,
}

impl<E> Clone for RefreshError<E> {
    fn clone(&self) -> Self {
        match self {
            Self::Upstream(error) => Self::Upstream(Arc::clone(error)),
            Self::Aborted => Self::Aborted,
        }
    }
}

impl<E: Display> Display for RefreshError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upstream(error) => Display::fmt(error, f),
            Self::Aborted => f.write_str("the upstream read was aborted"),
        }
    }
}

impl<E: Display> Debug for RefreshError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upstream(error) => f
                .debug_tuple("Upstream")
                .field(&format_args!("{error}"))
                .finish(),
            Self::Aborted => f.write_str("Aborted"),
        }
    }
}

impl<E: Display> std::error::Error for RefreshError<E> {}

type ReadResult<F> = Result<<F as Follow>::Item, RefreshError<<F as Follow>::Error>>;
type ReadReceiver<F> = watch::Receiver<Option<ReadResult<F>>>;

/// The value of a key's state channel.
#[derive(Clone)]
struct Slot<T> {
    item: T,
    /// The hub shut down: watchers end with `Err(HubClosed)`.
    closed: bool,
}

/// A followed key: its state channel and its follower's wake-ups. Present in the map exactly
/// while a follower runs for the key and its item is not terminal.
struct Entry<F: Follow> {
    /// Tells the follower task that this entry is still its own.
    id: u64,
    /// Receivers: the follower's own one, plus one per open watch stream.
    tx: watch::Sender<Slot<F::Item>>,
    /// Notified when a watch stream of the key ends, so the follower can stop promptly.
    left: Arc<Notify>,
    /// Notified after a successful read of the key, so the follower restarts its interval.
    fresh: Arc<Notify>,
}

struct State<F: Follow> {
    closed: bool,
    next_id: u64,
    entries: HashMap<F::Key, Entry<F>>,
    /// The single-flight read of each key, with its id.
    reads: HashMap<F::Key, (u64, ReadReceiver<F>)>,
}

impl<F: Follow> State<F> {
    fn next_id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// Replace the key's item unless it is terminal or unchanged; a terminal item also removes
    /// the entry (its follower sees the item and stops; streams end after yielding it).
    fn publish(&mut self, key: &F::Key, item: F::Item) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        let mut became_terminal = false;
        entry.tx.send_if_modified(|slot| {
            if F::is_terminal(&slot.item) || slot.item == item {
                return false;
            }
            became_terminal = F::is_terminal(&item);
            slot.item = item;
            true
        });
        if became_terminal {
            self.entries.remove(key);
        }
    }
}

/// Wall-clock deadlines on the Tokio clock: anchored once, so `tokio::time` control (tests)
/// moves deadlines and timers together, and wall-clock steps after start do not move them.
struct Clock {
    wall: DateTime<Utc>,
    mono: Instant,
}

impl Clock {
    fn now() -> Self {
        Self {
            wall: Utc::now(),
            mono: Instant::now(),
        }
    }

    /// The instant at which the wall-clock time `at` is reached (`None`: unrepresentably far).
    fn instant_of(&self, at: DateTime<Utc>) -> Option<Instant> {
        match (at - self.wall).to_std() {
            Ok(ahead) => self.mono.checked_add(ahead),
            // Before the anchor: already past.
            Err(_) => Some(self.mono),
        }
    }
}

struct Inner<F: Follow> {
    source: Arc<F>,
    config: HubConfig,
    clock: Clock,
    state: Mutex<State<F>>,
    shutdown: watch::Sender<bool>,
    /// Open watch streams (all of them, including those that follow nothing).
    watchers: Arc<AtomicUsize>,
}

/// The watch hub of one kind of item. Cheap to clone (all clones share one hub).
///
/// Must be used within a Tokio runtime: [`watch`](Hub::watch) and
/// [`refresh_now`](Hub::refresh_now) spawn tasks. Dropping every handle does not stop running
/// followers (they stop when their watchers leave); call [`shutdown`](Hub::shutdown) for that.
pub struct Hub<F: Follow> {
    inner: Arc<Inner<F>>,
}

impl<F: Follow> Clone for Hub<F> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F: Follow> Debug for Hub<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hub")
            .field("followers", &self.followers())
            .field("watchers", &self.watchers())
            .finish_non_exhaustive()
    }
}

impl<F: Follow> Hub<F> {
    pub fn new(source: Arc<F>, config: HubConfig) -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                source,
                config: config.sanitized(),
                clock: Clock::now(),
                state: Mutex::new(State {
                    closed: false,
                    next_id: 0,
                    entries: HashMap::new(),
                    reads: HashMap::new(),
                }),
                shutdown,
                watchers: Arc::new(AtomicUsize::new(0)),
            }),
        }
    }

    /// A stream of the item: first `current` (or the hub's newer value, if it follows the key),
    /// then each change. It ends after yielding a terminal item, and with `Err(HubClosed)` if the
    /// hub shuts down first.
    ///
    /// `current` must be persisted (read from the store). A terminal `current` is yielded alone
    /// and follows nothing; it is also broadcast to the key's other watchers, if any. A
    /// non-terminal one starts the key's follower unless one runs.
    ///
    /// # Panics
    /// Outside a Tokio runtime (it may spawn the follower).
    pub fn watch(&self, key: F::Key, current: F::Item) -> WatchStream<F> {
        let inner = &self.inner;
        let mut state = inner.state.lock();
        if F::is_terminal(&current) {
            state.publish(&key, current.clone());
            return WatchStream::detached(current, false, &inner.watchers);
        }
        if state.closed {
            return WatchStream::detached(current, true, &inner.watchers);
        }
        if let Some(entry) = state.entries.get(&key) {
            let changes = entry.tx.subscribe();
            let first = changes.borrow().item.clone();
            return WatchStream::following(first, changes, &entry.left, &inner.watchers);
        }
        let id = state.next_id();
        let (tx, own) = watch::channel(Slot {
            item: current.clone(),
            closed: false,
        });
        let changes = tx.subscribe();
        let left = Arc::new(Notify::new());
        let fresh = Arc::new(Notify::new());
        // Spawn first: if spawning panics (no runtime), no entry is left without a follower.
        tokio::spawn(follow(
            Arc::clone(inner),
            key.clone(),
            id,
            Wakers {
                own,
                left: Arc::clone(&left),
                fresh: Arc::clone(&fresh),
            },
        ));
        state.entries.insert(
            key,
            Entry {
                id,
                tx,
                left: Arc::clone(&left),
                fresh,
            },
        );
        WatchStream::following(current, changes, &left, &inner.watchers)
    }

    /// Broadcast an item already persisted elsewhere (a verified OneTouch callback, a fresh read).
    /// Never moves a key from terminal back to non-terminal; a no-op when nobody watches the key.
    /// A terminal item stops the key's follower.
    pub fn publish(&self, key: &F::Key, item: F::Item) {
        self.inner.state.lock().publish(key, item);
    }

    /// A fresh upstream read (an `expire` once the deadline has passed), coalesced: if a read of
    /// the key is in flight (the follower's poll or another caller's), this joins it; otherwise
    /// it starts one that every concurrent caller shares. A running follower takes the read as
    /// its poll (it restarts its interval). The result is published to the key's watchers.
    ///
    /// A terminal `current` is returned as is, without reading. The read runs in its own task:
    /// dropping this future does not cancel it for the other callers.
    pub async fn refresh_now(
        &self,
        key: F::Key,
        current: F::Item,
    ) -> Result<F::Item, RefreshError<F::Error>> {
        if F::is_terminal(&current) {
            return Ok(current);
        }
        let mut read = {
            let mut state = self.inner.state.lock();
            let item = match state.entries.get(&key) {
                Some(entry) => entry.tx.borrow().item.clone(),
                None => current,
            };
            self.inner.start_read(&mut state, key, item)
        };
        wait_read::<F>(&mut read).await
    }

    /// Stops every follower; open watch streams end with `Err(HubClosed)`, and later watches of a
    /// non-terminal item yield it, then `Err(HubClosed)`. Reads already in flight finish (their
    /// callers get the result); `refresh_now` keeps working.
    pub fn shutdown(&self) {
        let entries = {
            let mut state = self.inner.state.lock();
            state.closed = true;
            std::mem::take(&mut state.entries)
        };
        for entry in entries.into_values() {
            entry.tx.send_modify(|slot| slot.closed = true);
        }
        self.inner.shutdown.send_replace(true);
    }

    /// The [`Follow`] implementation the hub reads through.
    pub fn source(&self) -> &F {
        &self.inner.source
    }

    /// Keys being followed (one follower task each).
    pub fn followers(&self) -> usize {
        self.inner.state.lock().entries.len()
    }

    /// Open watch streams.
    pub fn watchers(&self) -> usize {
        self.inner.watchers.load(Ordering::Relaxed)
    }
}

impl<F: Follow> Inner<F> {
    /// Join the key's read in flight, or start one: a task that calls `expire` (deadline passed)
    /// or `refresh` on `item`, publishes a successful result and hands it to every receiver.
    fn start_read(
        self: &Arc<Self>,
        state: &mut State<F>,
        key: F::Key,
        item: F::Item,
    ) -> ReadReceiver<F> {
        if let Some((_, read)) = state.reads.get(&key) {
            return read.clone();
        }
        let id = state.next_id();
        let (tx, rx) = watch::channel(None);
        let inner = Arc::clone(self);
        let task_key = key.clone();
        // Spawn first: if spawning panics (no runtime), no slot is left without a read. The task
        // cannot finish before the slot is in place: finishing takes the lock held here.
        tokio::spawn(async move {
            let outcome = inner.read(&task_key, item).await;
            let outcome = inner.finish_read(&task_key, id, outcome);
            tx.send_replace(Some(outcome));
        });
        state.reads.insert(key, (id, rx.clone()));
        rx
    }

    /// One upstream call, in its own task so that a panic is contained.
    async fn read(&self, key: &F::Key, item: F::Item) -> ReadResult<F> {
        let expiring = self.expired(&item);
        let source = Arc::clone(&self.source);
        let call = tokio::spawn(async move {
            if expiring {
                source.expire(&item).await
            } else {
                source.refresh(&item).await
            }
        });
        match call.await {
            Ok(Ok(item)) => Ok(item),
            Ok(Err(error)) => {
                tracing::warn!(?key, %error, expiring, "upstream read failed");
                Err(RefreshError::Upstream(Arc::new(error)))
            }
            Err(join) => {
                tracing::error!(
                    ?key,
                    panicked = join.is_panic(),
                    expiring,
                    "upstream read aborted"
                );
                Err(RefreshError::Aborted)
            }
        }
    }

    /// Free the key's single-flight slot and publish a successful result.
    fn finish_read(&self, key: &F::Key, id: u64, outcome: ReadResult<F>) -> ReadResult<F> {
        let mut state = self.state.lock();
        if state.reads.get(key).is_some_and(|(read, _)| *read == id) {
            state.reads.remove(key);
        }
        if let Ok(item) = &outcome {
            state.publish(key, item.clone());
            if let Some(entry) = state.entries.get(key) {
                entry.fresh.notify_one();
            }
        }
        outcome
    }

    /// Whether the item's deadline has passed.
    fn expired(&self, item: &F::Item) -> bool {
        self.deadline(item).is_some_and(|at| at <= Instant::now())
    }

    fn deadline(&self, item: &F::Item) -> Option<Instant> {
        F::deadline(item).and_then(|at| self.clock.instant_of(at))
    }

    /// Remove the follower's entry if nobody watches the key. True when the follower must stop
    /// (also when the entry is no longer its own). Under the lock `watch` takes, so a watcher
    /// either subscribed before (the entry stays) or comes after (and starts a new follower).
    fn stop_if_unwatched(&self, key: &F::Key, id: u64) -> bool {
        let mut state = self.state.lock();
        match state.entries.get(key) {
            Some(entry) if entry.id == id => {
                // The follower's own receiver is one of them.
                if entry.tx.receiver_count() > 1 {
                    return false;
                }
                state.entries.remove(key);
                true
            }
            _ => true,
        }
    }

    /// Remove the entry if it is still the follower's own (the follower is gone).
    fn forget(&self, key: &F::Key, id: u64) {
        let mut state = self.state.lock();
        if state.entries.get(key).is_some_and(|entry| entry.id == id) {
            state.entries.remove(key);
        }
    }
}

async fn wait_read<F: Follow>(read: &mut ReadReceiver<F>) -> ReadResult<F> {
    match read.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().unwrap_or(Err(RefreshError::Aborted)),
        // The read task was dropped (runtime shutting down).
        Err(_) => Err(RefreshError::Aborted),
    }
}

/// What wakes a follower besides its timer.
struct Wakers<T> {
    /// Its own receiver of the key's channel: item changes, shutdown.
    own: watch::Receiver<Slot<T>>,
    /// A watcher left.
    left: Arc<Notify>,
    /// A read succeeded.
    fresh: Arc<Notify>,
}

/// Removes the follower's entry however the follower ends (also on a panic of the hub's own
/// code, or when the runtime drops the task), so watchers are never left without a follower:
/// their streams end with `Err(HubClosed)` and the clients reconnect.
struct FollowerGuard<'a, F: Follow> {
    inner: &'a Inner<F>,
    key: &'a F::Key,
    id: u64,
}

impl<F: Follow> Drop for FollowerGuard<'_, F> {
    fn drop(&mut self) {
        self.inner.forget(self.key, self.id);
    }
}

/// The follower of one key: until terminal, shutdown or no watchers, wait for the next poll
/// (interval ± jitter, or backoff after errors), or the item's deadline if earlier, then read.
async fn follow<F: Follow>(inner: Arc<Inner<F>>, key: F::Key, id: u64, wakers: Wakers<F::Item>) {
    let _guard = FollowerGuard {
        inner: &inner,
        key: &key,
        id,
    };
    let Wakers {
        mut own,
        left,
        fresh,
    } = wakers;
    let mut shutdown = inner.shutdown.subscribe();
    let config = &inner.config;
    let mut item = own.borrow_and_update().item.clone();
    let mut failures: u32 = 0;
    let mut next_poll = Instant::now() + config.jittered(config.poll_interval);
    // A read was attempted at or after the current item's deadline: from then on, retries follow
    // the backoff schedule instead of the (past) deadline.
    let mut expiry_tried = false;

    loop {
        if F::is_terminal(&item) {
            return;
        }
        let deadline = inner.deadline(&item);
        let wake_at = match deadline {
            Some(at) if !expiry_tried => at.min(next_poll),
            _ => next_poll,
        };
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|closed| *closed) => return,
            changed = own.changed() => {
                if changed.is_err() {
                    return;
                }
                let slot = own.borrow_and_update();
                if slot.closed {
                    return;
                }
                if slot.item != item {
                    item = slot.item.clone();
                    expiry_tried = false;
                }
                continue;
            }
            () = left.notified() => {
                if inner.stop_if_unwatched(&key, id) {
                    return;
                }
                continue;
            }
            () = fresh.notified() => {
                failures = 0;
                next_poll = Instant::now() + config.jittered(config.poll_interval);
                continue;
            }
            () = tokio::time::sleep_until(wake_at) => {}
        }
        if inner.stop_if_unwatched(&key, id) {
            return;
        }
        if deadline.is_some_and(|at| at <= Instant::now()) {
            expiry_tried = true;
        }
        let mut read = {
            let mut state = inner.state.lock();
            inner.start_read(&mut state, key.clone(), item.clone())
        };
        let outcome = tokio::select! {
            biased;
            _ = shutdown.wait_for(|closed| *closed) => return,
            outcome = wait_read::<F>(&mut read) => outcome,
        };
        // A successful result is already published to `own`: the next turn picks it up.
        match outcome {
            Ok(_) => {
                failures = 0;
                next_poll = Instant::now() + config.jittered(config.poll_interval);
            }
            Err(_) => {
                failures = failures.saturating_add(1);
                let wait = config.backoff(failures);
                tracing::debug!(?key, failures, ?wait, "follower backing off");
                next_poll = Instant::now() + wait;
            }
        }
    }
}

/// The stream returned by [`Hub::watch`]: `Ok(item)` per change, ending after a terminal item;
/// `Err(HubClosed)` as the last element if the hub shut down first (or, defensively, if the
/// key's follower vanished without a terminal item). Dropping it unsubscribes.
pub struct WatchStream<F: Follow> {
    /// Yielded first.
    first: Option<F::Item>,
    /// The last item yielded, to skip notifications that carry no new item.
    last: Option<F::Item>,
    /// Changes of the key's channel; `None` once finished (or when following nothing).
    changes: Option<ChangeStream<Slot<F::Item>>>,
    /// The key's follower, told when this stream stops listening.
    left: Option<Arc<Notify>>,
    /// Yield `Err(HubClosed)` next, then end.
    closing: bool,
    open: Arc<AtomicUsize>,
}

// No field is ever pinned (the change stream is `Unpin`, the rest is plain data).
impl<F: Follow> Unpin for WatchStream<F> {}

impl<F: Follow> WatchStream<F> {
    /// Yields `item` alone (then `Err(HubClosed)` if `closed`).
    fn detached(item: F::Item, closed: bool, open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self {
            first: Some(item),
            last: None,
            changes: None,
            left: None,
            closing: closed,
            open: Arc::clone(open),
        }
    }

    /// Yields `first`, then the changes of `channel` after the moment it was subscribed.
    fn following(
        first: F::Item,
        channel: watch::Receiver<Slot<F::Item>>,
        left: &Arc<Notify>,
        open: &Arc<AtomicUsize>,
    ) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self {
            first: Some(first),
            last: None,
            changes: Some(ChangeStream::from_changes(channel)),
            left: Some(Arc::clone(left)),
            closing: false,
            open: Arc::clone(open),
        }
    }

    fn emit(&mut self, item: F::Item) -> F::Item {
        if F::is_terminal(&item) {
            self.closing = false;
            self.finish();
        } else if self.changes.is_some() {
            self.last = Some(item.clone());
        }
        item
    }

    /// Stop listening: drop the receiver first, then tell the follower, so that it counts the
    /// remaining watchers without this one.
    fn finish(&mut self) {
        if let Some(changes) = self.changes.take() {
            drop(changes);
            if let Some(left) = self.left.take() {
                left.notify_one();
            }
        }
    }
}

impl<F: Follow> Stream for WatchStream<F> {
    type Item = Result<F::Item, HubClosed>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(item) = this.first.take() {
            return Poll::Ready(Some(Ok(this.emit(item))));
        }
        loop {
            if this.closing {
                this.closing = false;
                this.finish();
                return Poll::Ready(Some(Err(HubClosed)));
            }
            let Some(changes) = this.changes.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(Pin::new(changes).poll_next(cx)) {
                Some(slot) => {
                    this.closing = slot.closed;
                    if this.last.as_ref() != Some(&slot.item) {
                        return Poll::Ready(Some(Ok(this.emit(slot.item))));
                    }
                }
                // The channel is gone without a terminal item or a shutdown mark: the follower
                // ended abnormally. End like a shutdown so that the client reconnects.
                None => this.closing = true,
            }
        }
    }
}

impl<F: Follow> Drop for WatchStream<F> {
    fn drop(&mut self) {
        self.finish();
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<F: Follow> Debug for WatchStream<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream")
            .field("following", &self.changes.is_some())
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}
