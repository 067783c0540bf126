//! Local per-user limits, applied before Authy is asked: failed verifications (a guessing attack
//! costs the attacker, not the user's Authy quota) and code sends (an SMS bomb stops here).
//! Sliding windows in memory: a restart forgives, which is acceptable for limits whose purpose is
//! to slow an attacker down, not to account.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::domain::UserId;

/// At most `max` events per user within `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
}

/// The limits authyd applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Wrong tokens per user (right ones do not count, and a right one clears the count).
    pub failed_verifications: Limit,
    /// SMS and voice sends per user.
    pub sends: Limit,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            failed_verifications: Limit {
                max: 10,
                window: Duration::from_secs(10 * 60),
            },
            sends: Limit {
                max: 5,
                window: Duration::from_secs(10 * 60),
            },
        }
    }
}

/// A sliding-window counter per user.
#[derive(Debug)]
pub struct Window {
    limit: Limit,
    events: Mutex<HashMap<UserId, VecDeque<Instant>>>,
}

impl Window {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(retry_after)` when the user is at the limit now; `Ok(())` otherwise.
    pub fn check(&self, user: &UserId) -> Result<(), Duration> {
        self.check_at(user, Instant::now())
    }

    /// Counts one event now.
    pub fn record(&self, user: &UserId) {
        self.record_at(user, Instant::now());
    }

    /// Forgets the user's events (a successful verification).
    pub fn clear(&self, user: &UserId) {
        self.events.lock().remove(user);
    }

    fn check_at(&self, user: &UserId, now: Instant) -> Result<(), Duration> {
        let mut events = self.events.lock();
        let Some(q) = events.get_mut(user) else {
            return Ok(());
        };
        prune(q, now, self.limit.window);
        if q.is_empty() {
            events.remove(user);
            return Ok(());
        }
        if q.len() < self.limit.max {
            return Ok(());
        }
        // Blocked until the oldest event in the window leaves it.
        let oldest = q.front().copied().unwrap_or(now);
        let retry_after = (oldest + self.limit.window).saturating_duration_since(now);
        Err(retry_after.max(Duration::from_secs(1)))
    }

    fn record_at(&self, user: &UserId, now: Instant) {
        let mut events = self.events.lock();
        let q = events.entry(user.clone()).or_default();
        prune(q, now, self.limit.window);
        q.push_back(now);
        // Never keep more than the limit needs.
        while q.len() > self.limit.max {
            q.pop_front();
        }
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        q.pop_front();
    }
}

/// authyd's limits.
#[derive(Debug)]
pub struct Limits {
    pub failed_verifications: Window,
    pub sends: Window,
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Self {
            failed_verifications: Window::new(config.failed_verifications),
            sends: Window::new(config.sends),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }

    #[test]
    fn blocks_at_the_limit_until_the_window_slides() {
        let w = Window::new(Limit {
            max: 3,
            window: Duration::from_secs(60),
        });
        let (a, b) = (user("a"), user("b"));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(w.check_at(&a, t0 + Duration::from_secs(i)).is_ok());
            w.record_at(&a, t0 + Duration::from_secs(i));
        }
        let retry = w.check_at(&a, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(retry, Duration::from_secs(50));
        assert!(w.check_at(&b, t0).is_ok(), "limits are per user");
        assert!(w.check_at(&a, t0 + Duration::from_secs(60)).is_ok());
        w.clear(&a);
        assert!(w.check_at(&a, t0 + Duration::from_secs(10)).is_ok());
    }
}
