//! The simulator's memory: users (with their app-code secret and last SMS/voice code), OneTouch
//! approval requests and QR registrations. Pure data and rules, no HTTP; every method takes the
//! current time so the rules can be tested without waiting.
//!
//! Locking: each store has its own `parking_lot` lock, held only for a few map operations (never
//! across an `.await`, never while hashing a TOTP code).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::totp::AppCodes;

/// How long an SMS / voice code stays valid.
pub const CODE_TTL_MS: i64 = 10 * 60 * 1000;
/// Default lifetime of an approval request (Authy docs: one day).
pub const DEFAULT_APPROVAL_TTL_SECS: u64 = 86_400;

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whole seconds of a millisecond timestamp.
pub fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// A Mongo-style ObjectId: 4 bytes of seconds then 8 random bytes, as 24 lower-case hex digits
/// (Authy's `_id`, `app_id` and `user_id` look like this).
pub fn object_id(now_ms: i64) -> String {
    let seconds = u32::try_from(secs(now_ms)).unwrap_or(u32::MAX);
    format!("{seconds:08x}{:016x}", rand::random::<u64>())
}

/// How a code was delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Sms,
    Call,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Sms => "sms",
            Via::Call => "call",
        }
    }
}

/// The last SMS / voice code sent to a user (a new request replaces it).
#[derive(Debug, Clone)]
pub struct PendingCode {
    pub code: String,
    pub via: Via,
    pub action: Option<String>,
    pub action_message: Option<String>,
    pub locale: Option<String>,
    pub issued_ms: i64,
}

impl PendingCode {
    pub fn is_live(&self, now_ms: i64) -> bool {
        now_ms < self.issued_ms.saturating_add(CODE_TTL_MS)
    }
}

/// One Authy user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    /// The user's "authy" device record (`detailed_devices[].device_id`, callback `device.id`).
    pub device_id: u64,
    pub email: String,
    /// Digits only.
    pub cellphone: String,
    pub country_code: u16,
    /// Mongo-style id (`user_id` of approval requests).
    pub hex_id: String,
    pub app: AppCodes,
    /// App devices (`android`, `iphone`, `authy_chrome`…). Non-empty = registered with the app.
    pub devices: Vec<String>,
    pub app_registered_ms: Option<i64>,
    pub created_ms: i64,
    /// Whether a token was ever verified for real (see the verify quirk in `authy_api`).
    pub has_verified: bool,
    pub code: Option<PendingCode>,
    pub send_install_link: bool,
}

impl User {
    /// `XXX-XXX-1118` (user status).
    pub fn masked_phone(&self) -> String {
        format!("XXX-XXX-{}", last_digits(&self.cellphone, 4))
    }

    /// `+57-XXX-XXX-XX12` (SMS / call responses).
    pub fn masked_cellphone(&self) -> String {
        format!(
            "+{}-XXX-XXX-XX{}",
            self.country_code,
            last_digits(&self.cellphone, 2)
        )
    }

    pub fn registered(&self) -> bool {
        !self.devices.is_empty()
    }

    /// The app device answering approvals and shown in callbacks (`android` when the user has
    /// none: the simulator lets tests answer approvals of any user).
    pub fn app_os(&self) -> &str {
        self.devices.last().map_or("android", String::as_str)
    }
}

fn last_digits(s: &str, n: usize) -> &str {
    &s[s.len().saturating_sub(n)..]
}

/// The outcome of an SMS / voice-call request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRequest {
    /// Not sent: the user has the app and `force` was not given.
    Ignored {
        cellphone: String,
        device: String,
    },
    Sent {
        cellphone: String,
    },
}

/// The outcome of a token verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The token matched the live SMS/voice code.
    ValidCode,
    /// The token matched the app's TOTP code.
    ValidApp {
        device_id: u64,
        os_type: String,
        registered_ms: i64,
    },
    /// Not checked: the user never verified and `force` was not set (Authy's lock-out guard).
    ValidUnforced,
    Invalid,
}

/// Everything a verification needs, copied out of the lock so the TOTP hashing runs unlocked.
struct VerifySnapshot {
    app: AppCodes,
    code: Option<PendingCode>,
    has_verified: bool,
    device_id: u64,
    os_type: Option<String>,
    registered_ms: i64,
}

/// All users, by id and by phone.
#[derive(Debug)]
pub struct Users {
    by_id: HashMap<u64, User>,
    by_phone: HashMap<(u16, String), u64>,
    next_id: u64,
}

impl Users {
    /// Ids start at `first_id` and grow by 2 (the user's device record takes the id after it,
    /// as in the recorded status fixture: authy_id 290907, device_id 290908).
    pub fn new(first_id: u64) -> Self {
        Self {
            by_id: HashMap::new(),
            by_phone: HashMap::new(),
            next_id: first_id,
        }
    }

    /// A random realistic starting id (8 digits), so ids of two simulator runs rarely collide.
    pub fn random_first_id() -> u64 {
        10_000_000 + 2 * rand::random_range(0..20_000_000u64)
    }

    pub fn get(&self, id: u64) -> Option<&User> {
        self.by_id.get(&id)
    }

    /// Creates a user, or returns the one with the same phone and country code (its email is
    /// updated), as Authy does.
    pub fn upsert(
        &mut self,
        email: &str,
        cellphone: &str,
        country_code: u16,
        send_install_link: bool,
        now_ms: i64,
    ) -> u64 {
        let key = (country_code, cellphone.to_owned());
        if let Some(id) = self.by_phone.get(&key).copied()
            && let Some(user) = self.by_id.get_mut(&id)
        {
            email.clone_into(&mut user.email);
            user.send_install_link |= send_install_link;
            return id;
        }
        let id = self.insert_new(email, cellphone, country_code, now_ms);
        if let Some(user) = self.by_id.get_mut(&id) {
            user.send_install_link = send_install_link;
        }
        self.by_phone.insert(key, id);
        id
    }

    fn insert_new(&mut self, email: &str, cellphone: &str, country_code: u16, now_ms: i64) -> u64 {
        let id = self.next_id;
        self.next_id += 2;
        self.by_id.insert(
            id,
            User {
                id,
                device_id: id + 1,
                email: email.to_owned(),
                cellphone: cellphone.to_owned(),
                country_code,
                hex_id: object_id(now_ms),
                app: AppCodes::random(),
                devices: Vec::new(),
                app_registered_ms: None,
                created_ms: now_ms,
                has_verified: false,
                code: None,
                send_install_link: false,
            },
        );
        id
    }

    /// What scanning a registration QR does: a user (new, or the one with this phone) that has
    /// the app on `os_type`. Without a phone a unique one is made up (`+1 555…`).
    pub fn register_app_user(
        &mut self,
        email: Option<&str>,
        phone: Option<(&str, u16)>,
        os_type: &str,
        now_ms: i64,
    ) -> u64 {
        let id = match phone {
            Some((cellphone, cc)) => {
                let email = email.map_or_else(
                    || format!("user{}@example.com", self.next_id),
                    str::to_owned,
                );
                self.upsert(&email, cellphone, cc, false, now_ms)
            }
            None => {
                let id = self.next_id;
                let email = email.map_or_else(|| format!("user{id}@example.com"), str::to_owned);
                let cellphone = format!("555{:07}", id % 10_000_000);
                let id = self.insert_new(&email, &cellphone, 1, now_ms);
                self.by_phone.entry((1, cellphone)).or_insert(id);
                id
            }
        };
        self.add_device(id, os_type, now_ms);
        id
    }

    /// Registers an app device for a user. False if there is no such user.
    pub fn add_device(&mut self, id: u64, os_type: &str, now_ms: i64) -> bool {
        let Some(user) = self.by_id.get_mut(&id) else {
            return false;
        };
        if !user.devices.iter().any(|d| d == os_type) {
            user.devices.push(os_type.to_owned());
        }
        user.app_registered_ms.get_or_insert(now_ms);
        true
    }

    /// Removes a user. False if there is no such user.
    pub fn remove(&mut self, id: u64) -> bool {
        match self.by_id.remove(&id) {
            Some(user) => {
                let key = (user.country_code, user.cellphone);
                if self.by_phone.get(&key) == Some(&id) {
                    self.by_phone.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    /// An SMS or voice-call code request. `None` if there is no such user.
    pub fn request_code(
        &mut self,
        id: u64,
        via: Via,
        force: bool,
        options: CodeOptions,
        now_ms: i64,
    ) -> Option<CodeRequest> {
        let user = self.by_id.get_mut(&id)?;
        let cellphone = user.masked_cellphone();
        if user.registered() && !force {
            return Some(CodeRequest::Ignored {
                cellphone,
                device: user.app_os().to_owned(),
            });
        }
        user.code = Some(PendingCode {
            code: rand::random_range(1_000_000..=9_999_999u32).to_string(),
            via,
            action: options.action,
            action_message: options.action_message,
            locale: options.locale,
            issued_ms: now_ms,
        });
        Some(CodeRequest::Sent { cellphone })
    }

    /// Current codes of a user: the live SMS/voice code (if any) and the app's TOTP code.
    pub fn codes(&self, id: u64, now_ms: i64) -> Option<(Option<PendingCode>, String)> {
        let user = self.by_id.get(&id)?;
        let code = user.code.clone().filter(|c| c.is_live(now_ms));
        let now_secs = u64::try_from(secs(now_ms)).unwrap_or(0);
        Some((code, user.app.code_at(now_secs)))
    }

    fn verify_snapshot(&self, id: u64) -> Option<VerifySnapshot> {
        let user = self.by_id.get(&id)?;
        Some(VerifySnapshot {
            app: user.app.clone(),
            code: user.code.clone(),
            has_verified: user.has_verified,
            device_id: user.device_id,
            os_type: user.devices.last().cloned(),
            registered_ms: user.app_registered_ms.unwrap_or(user.created_ms),
        })
    }
}

/// SMS / call options that are stored with the code.
#[derive(Debug, Clone, Default)]
pub struct CodeOptions {
    pub action: Option<String>,
    pub action_message: Option<String>,
    pub locale: Option<String>,
}

/// Whether a token has the shape of an Authy token (6–12 digits).
pub fn well_formed_token(token: &str) -> bool {
    (6..=12).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_digit())
}

/// Verifies a token for a user; `None` if there is no such user.
///
/// Valid when the token is the live SMS/voice code (and, if that code was bound to an action, the
/// same action is given; the code is then used up) or the app's current TOTP code (±1 step).
/// Otherwise, Authy's quirk: without `force`, a user who never verified successfully gets "valid"
/// for any well-formed token.
pub fn verify(
    users: &parking_lot::RwLock<Users>,
    id: u64,
    token: &str,
    action: Option<&str>,
    force: bool,
    now_ms: i64,
) -> Option<Verification> {
    let snapshot = users.read().verify_snapshot(id)?;
    if !well_formed_token(token) {
        return Some(Verification::Invalid);
    }
    let code_matches = snapshot.code.as_ref().is_some_and(|code| {
        code.is_live(now_ms)
            && bool::from(code.code.as_bytes().ct_eq(token.as_bytes()))
            && code
                .action
                .as_deref()
                .is_none_or(|bound| action == Some(bound))
    });
    let now_secs = u64::try_from(secs(now_ms)).unwrap_or(0);
    let app_matches = !code_matches && snapshot.app.check(token, now_secs);

    if code_matches || app_matches {
        let mut guard = users.write();
        let Some(user) = guard.by_id.get_mut(&id) else {
            return None; // removed meanwhile
        };
        if code_matches {
            // Single use: only the first of two concurrent verifications of a code wins.
            let still_there =
                user.code
                    .as_ref()
                    .zip(snapshot.code.as_ref())
                    .is_some_and(|(now, seen)| {
                        now.issued_ms == seen.issued_ms && now.code == seen.code
                    });
            if !still_there {
                drop(guard);
                return Some(unforced_or_invalid(snapshot.has_verified, force));
            }
            user.code = None;
        }
        user.has_verified = true;
        return Some(if code_matches {
            Verification::ValidCode
        } else {
            match snapshot.os_type {
                Some(os_type) => Verification::ValidApp {
                    device_id: snapshot.device_id,
                    os_type,
                    registered_ms: snapshot.registered_ms,
                },
                None => Verification::ValidCode,
            }
        });
    }
    Some(unforced_or_invalid(snapshot.has_verified, force))
}

fn unforced_or_invalid(has_verified: bool, force: bool) -> Verification {
    if !force && !has_verified {
        Verification::ValidUnforced
    } else {
        Verification::Invalid
    }
}

/// An approval request's state as stored (expiry is computed on read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Pending,
    Approved,
    Denied,
}

/// An approval request's state as reported: the domain's own (same wire spellings).
pub use crate::domain::ApprovalStatus;

/// The device that answers an approval (copied at creation; survives the user's removal).
#[derive(Debug, Clone)]
pub struct DeviceSnapshot {
    pub id: u64,
    pub os_type: String,
    pub registered_ms: i64,
}

/// One OneTouch approval request.
#[derive(Debug, Clone)]
pub struct Approval {
    pub uuid: String,
    pub hex_id: String,
    pub authy_id: u64,
    pub user_hex_id: String,
    pub user_email: String,
    pub message: String,
    pub details: Map<String, Value>,
    pub hidden_details: Map<String, Value>,
    /// `None` when no logos were given.
    pub logos: Option<Vec<Value>>,
    /// 0 = never expires.
    pub seconds_to_expire: u64,
    pub created_ms: i64,
    pub answer: Answer,
    pub answered_ms: Option<i64>,
    pub notified: bool,
    pub device: DeviceSnapshot,
    /// How many times Authy's GET endpoint read it.
    pub polls: u64,
}

impl Approval {
    /// When it expires, if ever.
    pub fn expires_ms(&self) -> Option<i64> {
        let ttl_ms = i64::try_from(self.seconds_to_expire)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        (self.seconds_to_expire > 0).then(|| self.created_ms.saturating_add(ttl_ms))
    }

    /// Status at `now_ms` and when it was reached (`processed_at`): the answer time, or the
    /// expiry moment for an unanswered request past its lifetime.
    pub fn status_at(&self, now_ms: i64) -> (ApprovalStatus, Option<i64>) {
        match self.answer {
            Answer::Approved => (ApprovalStatus::Approved, self.answered_ms),
            Answer::Denied => (ApprovalStatus::Denied, self.answered_ms),
            Answer::Pending => match self.expires_ms() {
                Some(at) if now_ms >= at => (ApprovalStatus::Expired, Some(at)),
                _ => (ApprovalStatus::Pending, None),
            },
        }
    }

    /// Answers a pending request. On failure returns the status that prevented it.
    pub fn answer(&mut self, approve: bool, now_ms: i64) -> Result<(), ApprovalStatus> {
        match self.status_at(now_ms).0 {
            ApprovalStatus::Pending => {
                self.answer = if approve {
                    Answer::Approved
                } else {
                    Answer::Denied
                };
                self.answered_ms = Some(now_ms);
                Ok(())
            }
            other => Err(other),
        }
    }
}

/// A QR registration, keyed by the caller's `custom_user_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub status: String,
    pub authy_id: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::RwLock;

    const T0: i64 = 1_700_000_000_000;

    fn users_with_one() -> (RwLock<Users>, u64) {
        let mut users = Users::new(1000);
        let id = users.upsert("a@b.co", "3003003312", 57, false, T0);
        (RwLock::new(users), id)
    }

    fn sms(users: &RwLock<Users>, id: u64, action: Option<&str>, now: i64) -> String {
        let options = CodeOptions {
            action: action.map(str::to_owned),
            ..CodeOptions::default()
        };
        users
            .write()
            .request_code(id, Via::Sms, true, options, now)
            .unwrap();
        users.read().codes(id, now).unwrap().0.unwrap().code
    }

    #[test]
    fn same_phone_same_id_and_email_updated() {
        let mut users = Users::new(1000);
        let a = users.upsert("a@b.co", "3003003312", 57, false, T0);
        let b = users.upsert("new@b.co", "3003003312", 57, false, T0);
        let c = users.upsert("a@b.co", "3003003312", 1, false, T0);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(users.get(a).unwrap().email, "new@b.co");
        assert_eq!(c, a + 2);
        assert_eq!(users.get(a).unwrap().device_id, a + 1);
        assert!(users.remove(a));
        assert!(!users.remove(a));
        let d = users.upsert("a@b.co", "3003003312", 57, false, T0);
        assert_ne!(d, a, "a removed user's phone gets a new id");
    }

    #[test]
    fn masks() {
        let (users, id) = users_with_one();
        let users = users.read();
        let user = users.get(id).unwrap();
        assert_eq!(user.masked_phone(), "XXX-XXX-3312");
        assert_eq!(user.masked_cellphone(), "+57-XXX-XXX-XX12");
    }

    #[test]
    fn sms_ignored_for_app_users_unless_forced() {
        let (users, id) = users_with_one();
        users.write().add_device(id, "android", T0);
        let ignored = users
            .write()
            .request_code(id, Via::Sms, false, CodeOptions::default(), T0)
            .unwrap();
        assert_eq!(
            ignored,
            CodeRequest::Ignored {
                cellphone: "+57-XXX-XXX-XX12".into(),
                device: "android".into()
            }
        );
        assert!(users.read().codes(id, T0).unwrap().0.is_none());
        let sent = users
            .write()
            .request_code(id, Via::Call, true, CodeOptions::default(), T0)
            .unwrap();
        assert!(matches!(sent, CodeRequest::Sent { .. }));
        let code = users.read().codes(id, T0).unwrap().0.unwrap();
        assert_eq!(code.via, Via::Call);
        assert_eq!(code.code.len(), 7);
    }

    #[test]
    fn sms_code_is_single_use() {
        let (users, id) = users_with_one();
        let code = sms(&users, id, None, T0);
        assert_eq!(
            verify(&users, id, &code, None, true, T0),
            Some(Verification::ValidCode)
        );
        assert_eq!(
            verify(&users, id, &code, None, true, T0),
            Some(Verification::Invalid)
        );
    }

    #[test]
    fn sms_code_expires_after_ten_minutes() {
        let (users, id) = users_with_one();
        let code = sms(&users, id, None, T0);
        let later = T0 + CODE_TTL_MS;
        assert!(users.read().codes(id, later).unwrap().0.is_none());
        assert_eq!(
            verify(&users, id, &code, None, true, later),
            Some(Verification::Invalid)
        );
        let code = sms(&users, id, None, T0);
        assert_eq!(
            verify(&users, id, &code, None, true, later - 1),
            Some(Verification::ValidCode)
        );
    }

    #[test]
    fn new_code_replaces_old() {
        let (users, id) = users_with_one();
        let first = sms(&users, id, None, T0);
        let mut second = sms(&users, id, None, T0 + 1);
        while second == first {
            second = sms(&users, id, None, T0 + 1);
        }
        assert_eq!(
            verify(&users, id, &first, None, true, T0 + 2),
            Some(Verification::Invalid)
        );
        assert_eq!(
            verify(&users, id, &second, None, true, T0 + 2),
            Some(Verification::ValidCode)
        );
    }

    #[test]
    fn action_binding() {
        let (users, id) = users_with_one();
        let code = sms(&users, id, Some("login"), T0);
        assert_eq!(
            verify(&users, id, &code, None, true, T0),
            Some(Verification::Invalid)
        );
        assert_eq!(
            verify(&users, id, &code, Some("transfer"), true, T0),
            Some(Verification::Invalid)
        );
        assert_eq!(
            verify(&users, id, &code, Some("login"), true, T0),
            Some(Verification::ValidCode)
        );
        // An unbound code ignores the action given at verification.
        let code = sms(&users, id, None, T0);
        assert_eq!(
            verify(&users, id, &code, Some("anything"), true, T0),
            Some(Verification::ValidCode)
        );
    }

    #[test]
    fn totp_codes() {
        let (users, id) = users_with_one();
        let totp = users.read().codes(id, T0).unwrap().1;
        assert_eq!(
            verify(&users, id, &totp, None, true, T0),
            Some(Verification::ValidCode)
        );
        // Reusable within its window, and the previous step still counts.
        assert_eq!(
            verify(&users, id, &totp, None, true, T0 + 20_000),
            Some(Verification::ValidCode)
        );
        users.write().add_device(id, "iphone", T0);
        let device_id = users.read().get(id).unwrap().device_id;
        assert_eq!(
            verify(&users, id, &totp, None, true, T0),
            Some(Verification::ValidApp {
                device_id,
                os_type: "iphone".into(),
                registered_ms: T0
            })
        );
    }

    #[test]
    fn unforced_quirk_until_first_success() {
        let (users, id) = users_with_one();
        assert_eq!(
            verify(&users, id, "0000000", None, false, T0),
            Some(Verification::ValidUnforced)
        );
        assert_eq!(
            verify(&users, id, "0000000", None, true, T0),
            Some(Verification::Invalid)
        );
        assert_eq!(
            verify(&users, id, "12ab", None, false, T0),
            Some(Verification::Invalid)
        );
        let code = sms(&users, id, None, T0);
        assert_eq!(
            verify(&users, id, &code, None, false, T0),
            Some(Verification::ValidCode)
        );
        assert_eq!(
            verify(&users, id, "0000000", None, false, T0),
            Some(Verification::Invalid)
        );
    }

    #[test]
    fn unknown_user() {
        let (users, _) = users_with_one();
        assert_eq!(verify(&users, 1, "1234567", None, true, T0), None);
        assert!(
            users
                .write()
                .request_code(1, Via::Sms, true, CodeOptions::default(), T0)
                .is_none()
        );
    }

    #[test]
    fn token_shape() {
        assert!(well_formed_token("123456"));
        assert!(well_formed_token("123456789012"));
        assert!(!well_formed_token("12345"));
        assert!(!well_formed_token("1234567890123"));
        assert!(!well_formed_token("12345a7"));
        assert!(!well_formed_token("１２３４５６７"));
    }

    #[test]
    fn register_app_user_without_and_with_phone() {
        let mut users = Users::new(1000);
        let a = users.register_app_user(None, None, "android", T0);
        let b = users.register_app_user(None, None, "ios", T0);
        assert_ne!(a, b);
        assert!(users.get(a).unwrap().registered());
        assert_eq!(users.get(b).unwrap().devices, ["ios"]);
        let c = users.upsert("x@y.io", "3001112222", 57, false, T0);
        let d = users.register_app_user(Some("z@y.io"), Some(("3001112222", 57)), "android", T0);
        assert_eq!(c, d);
        assert!(users.get(c).unwrap().registered());
    }

    fn approval(ttl: u64) -> Approval {
        Approval {
            uuid: "u".into(),
            hex_id: object_id(T0),
            authy_id: 1,
            user_hex_id: object_id(T0),
            user_email: "a@b.co".into(),
            message: "m".into(),
            details: Map::new(),
            hidden_details: Map::new(),
            logos: None,
            seconds_to_expire: ttl,
            created_ms: T0,
            answer: Answer::Pending,
            answered_ms: None,
            notified: false,
            device: DeviceSnapshot {
                id: 2,
                os_type: "android".into(),
                registered_ms: T0,
            },
            polls: 0,
        }
    }

    #[test]
    fn approval_expiry_on_read() {
        let a = approval(60);
        assert_eq!(a.status_at(T0 + 59_999), (ApprovalStatus::Pending, None));
        assert_eq!(
            a.status_at(T0 + 60_000),
            (ApprovalStatus::Expired, Some(T0 + 60_000))
        );
        let never = approval(0);
        assert_eq!(never.status_at(i64::MAX).0, ApprovalStatus::Pending);
        let huge = approval(u64::MAX);
        assert_eq!(huge.status_at(T0 + 1).0, ApprovalStatus::Pending);
    }

    #[test]
    fn approval_answers() {
        let mut a = approval(60);
        assert_eq!(a.answer(true, T0 + 1), Ok(()));
        assert_eq!(
            a.status_at(T0 + 120_000),
            (ApprovalStatus::Approved, Some(T0 + 1))
        );
        assert_eq!(a.answer(false, T0 + 2), Err(ApprovalStatus::Approved));
        let mut b = approval(60);
        assert_eq!(b.answer(false, T0 + 60_000), Err(ApprovalStatus::Expired));
        assert_eq!(b.answer(false, T0 + 1), Ok(()));
        assert_eq!(b.status_at(T0 + 2).0, ApprovalStatus::Denied);
    }

    #[test]
    fn object_ids_are_24_hex() {
        let id = object_id(T0);
        assert_eq!(id.len(), 24);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
