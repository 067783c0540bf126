//! Endpoint names, request counting and fault injection.
//!
//! Every request to an Authy endpoint is classified by its path into one of the stable
//! [`Endpoint`] names, counted, and checked against the injected faults *before* it reaches the
//! router (so faults also hit requests with a bad key or bad parameters, as a real outage would).
//! Control-API (`/__sim/…`) and unknown paths are neither counted nor faulted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use parking_lot::Mutex;
use serde_json::{Map, Value, json};

/// The Authy endpoints, by their stable names (used by `/__sim/faults` and `/__sim/stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    UsersNew,
    UsersRemove,
    UsersStatus,
    Sms,
    Call,
    Verify,
    ApprovalCreate,
    ApprovalGet,
    RegistrationStatus,
    AppDetails,
}

impl Endpoint {
    pub const ALL: [Endpoint; 10] = [
        Endpoint::UsersNew,
        Endpoint::UsersRemove,
        Endpoint::UsersStatus,
        Endpoint::Sms,
        Endpoint::Call,
        Endpoint::Verify,
        Endpoint::ApprovalCreate,
        Endpoint::ApprovalGet,
        Endpoint::RegistrationStatus,
        Endpoint::AppDetails,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Endpoint::UsersNew => "users_new",
            Endpoint::UsersRemove => "users_remove",
            Endpoint::UsersStatus => "users_status",
            Endpoint::Sms => "sms",
            Endpoint::Call => "call",
            Endpoint::Verify => "verify",
            Endpoint::ApprovalCreate => "approval_create",
            Endpoint::ApprovalGet => "approval_get",
            Endpoint::RegistrationStatus => "registration_status",
            Endpoint::AppDetails => "app_details",
        }
    }

    pub fn from_name(name: &str) -> Option<Endpoint> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The endpoint a request path belongs to (method-independent; a wrong method still counts).
    pub fn classify(path: &str) -> Option<Endpoint> {
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        match segments.as_slice() {
            ["protected", "json", "users", "new"] => Some(Endpoint::UsersNew),
            ["protected", "json", "users", _, "remove" | "delete"]
            | ["protected", "json", "users", "delete", _] => Some(Endpoint::UsersRemove),
            ["protected", "json", "users", _, "status"] => Some(Endpoint::UsersStatus),
            ["protected", "json", "sms", _] => Some(Endpoint::Sms),
            ["protected", "json", "call", _] => Some(Endpoint::Call),
            ["protected", "json", "verify", _, _] => Some(Endpoint::Verify),
            ["onetouch", "json", "users", _, "approval_requests"] => Some(Endpoint::ApprovalCreate),
            ["onetouch", "json", "approval_requests", _] => Some(Endpoint::ApprovalGet),
            ["protected", "json", "registrations", "status"] => Some(Endpoint::RegistrationStatus),
            ["protected", "json", "app", "details"] => Some(Endpoint::AppDetails),
            _ => None,
        }
    }
}

/// Request counters (lock-free).
#[derive(Debug, Default)]
pub struct Stats {
    counts: [AtomicU64; Endpoint::ALL.len()],
}

impl Stats {
    pub fn count(&self, endpoint: Endpoint) {
        self.counts[endpoint.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, endpoint: Endpoint) -> u64 {
        self.counts[endpoint.index()].load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        for c in &self.counts {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// `{"requests": {"users_new": n, …}, "total": n}` with every name present.
    pub fn to_json(&self) -> Value {
        let mut requests = Map::new();
        let mut total = 0u64;
        for endpoint in Endpoint::ALL {
            let n = self.get(endpoint);
            total += n;
            requests.insert(endpoint.name().to_owned(), json!(n));
        }
        json!({"requests": requests, "total": total})
    }
}

/// What a status fault answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStyle {
    /// An Authy JSON error envelope.
    Json,
    /// A non-JSON HTML page (what a load balancer in front of Authy returns).
    Html,
}

/// One kind of fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    Latency(Duration),
    Status { status: StatusCode, body: BodyStyle },
    Drop,
}

/// An injected fault.
#[derive(Debug, Clone)]
pub struct Fault {
    pub id: u64,
    /// `None` = every endpoint (`"*"`).
    pub endpoint: Option<Endpoint>,
    pub kind: FaultKind,
    /// Requests it still applies to; `None` = until deleted.
    pub remaining: Option<u64>,
}

impl Fault {
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        out.insert(
            "endpoint".into(),
            json!(self.endpoint.map_or("*", Endpoint::name)),
        );
        match &self.kind {
            FaultKind::Latency(d) => {
                out.insert("kind".into(), json!("latency"));
                out.insert(
                    "ms".into(),
                    json!(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                );
            }
            FaultKind::Status { status, body } => {
                out.insert("kind".into(), json!("status"));
                out.insert("status".into(), json!(status.as_u16()));
                out.insert(
                    "body".into(),
                    json!(match body {
                        BodyStyle::Json => "json",
                        BodyStyle::Html => "html",
                    }),
                );
            }
            FaultKind::Drop => {
                out.insert("kind".into(), json!("drop"));
            }
        }
        out.insert("count".into(), json!(self.remaining));
        Value::Object(out)
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Sum of the matching latency faults.
    pub delay: Duration,
    /// The first matching status or drop fault, if any.
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Respond { status: StatusCode, body: BodyStyle },
    Drop,
}

/// The injected faults. The common case (none) costs one atomic load per request.
#[derive(Debug, Default)]
pub struct Faults {
    any: AtomicBool,
    inner: Mutex<FaultList>,
}

#[derive(Debug, Default)]
struct FaultList {
    next_id: u64,
    faults: Vec<Fault>,
}

impl Faults {
    /// Adds a fault; returns it with its id.
    pub fn add(&self, endpoint: Option<Endpoint>, kind: FaultKind, count: Option<u64>) -> Fault {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        let fault = Fault {
            id: inner.next_id,
            endpoint,
            kind,
            remaining: count,
        };
        inner.faults.push(fault.clone());
        self.any.store(true, Ordering::Release);
        fault
    }

    pub fn clear(&self) -> usize {
        let mut inner = self.inner.lock();
        let n = inner.faults.len();
        inner.faults.clear();
        self.any.store(false, Ordering::Release);
        n
    }

    pub fn list(&self) -> Vec<Fault> {
        self.inner.lock().faults.clone()
    }

    /// Which faults apply to this request. Each applied fault with a count uses one up; a fault
    /// whose count reaches zero disappears. Latency faults add up; after them the first status or
    /// drop fault (in the order added) decides the outcome, and later ones are not used up.
    pub fn plan(&self, endpoint: Endpoint) -> Plan {
        if !self.any.load(Ordering::Acquire) {
            return Plan::default();
        }
        let mut inner = self.inner.lock();
        let mut plan = Plan::default();
        for fault in &mut inner.faults {
            if fault.endpoint.is_some_and(|e| e != endpoint) {
                continue;
            }
            match fault.kind {
                FaultKind::Latency(d) => plan.delay = plan.delay.saturating_add(d),
                FaultKind::Status { .. } | FaultKind::Drop if plan.outcome.is_some() => continue,
                FaultKind::Status { status, body } => {
                    plan.outcome = Some(Outcome::Respond { status, body });
                }
                FaultKind::Drop => plan.outcome = Some(Outcome::Drop),
            }
            if let Some(n) = fault.remaining.as_mut() {
                *n = n.saturating_sub(1);
            }
        }
        inner.faults.retain(|f| f.remaining != Some(0));
        if inner.faults.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        plan
    }
}

/// The body of an injected status fault.
pub fn fault_body(status: StatusCode, style: BodyStyle) -> (&'static str, Vec<u8>) {
    match style {
        BodyStyle::Html => {
            let reason = status.canonical_reason().unwrap_or("Error");
            let code = status.as_u16();
            let page = format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
            );
            ("text/html", page.into_bytes())
        }
        BodyStyle::Json => {
            let (code, message) = match status.as_u16() {
                429 => ("60003", "DoS protection"),
                401 => ("60001", "Invalid API key"),
                400 => ("60002", "Invalid request"),
                _ => ("60000", "An error occurred"),
            };
            let body = json!({
                "message": message,
                "success": false,
                "errors": {"message": message},
                "error_code": code,
            });
            (
                super::authy_api::JSON_CONTENT_TYPE,
                serde_json::to_vec(&body).unwrap_or_default(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in Endpoint::ALL {
            assert_eq!(Endpoint::from_name(e.name()), Some(e));
        }
        assert_eq!(Endpoint::from_name("nope"), None);
    }

    #[test]
    fn classify_paths() {
        use Endpoint::*;
        let cases = [
            ("/protected/json/users/new", Some(UsersNew)),
            ("/protected/json/users/new/", Some(UsersNew)),
            ("/protected/json/users/12/remove", Some(UsersRemove)),
            ("/protected/json/users/12/delete", Some(UsersRemove)),
            ("/protected/json/users/delete/12", Some(UsersRemove)),
            ("/protected/json/users/12/status", Some(UsersStatus)),
            ("/protected/json/sms/12", Some(Sms)),
            ("/protected/json/call/12", Some(Call)),
            ("/protected/json/verify/1234567/12", Some(Verify)),
            (
                "/onetouch/json/users/12/approval_requests",
                Some(ApprovalCreate),
            ),
            ("/onetouch/json/approval_requests/abc", Some(ApprovalGet)),
            (
                "/protected/json/registrations/status",
                Some(RegistrationStatus),
            ),
            ("/protected/json/app/details", Some(AppDetails)),
            ("/protected/xml/app/details", None),
            ("/__sim/stats", None),
            ("/", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(Endpoint::classify(path), want, "{path}");
        }
    }

    #[test]
    fn stats_json_lists_every_name() {
        let stats = Stats::default();
        stats.count(Endpoint::Sms);
        stats.count(Endpoint::Sms);
        stats.count(Endpoint::Verify);
        let v = stats.to_json();
        assert_eq!(v["requests"]["sms"], 2);
        assert_eq!(v["requests"]["users_new"], 0);
        assert_eq!(v["total"], 3);
        assert_eq!(v["requests"].as_object().unwrap().len(), 10);
        stats.reset();
        assert_eq!(stats.to_json()["total"], 0);
    }

    #[test]
    fn plan_combines_latency_and_first_terminal_and_counts_down() {
        let faults = Faults::default();
        assert_eq!(faults.plan(Endpoint::Sms), Plan::default());
        faults.add(None, FaultKind::Latency(Duration::from_millis(5)), None);
        faults.add(
            Some(Endpoint::Sms),
            FaultKind::Latency(Duration::from_millis(7)),
            Some(1),
        );
        faults.add(Some(Endpoint::Sms), FaultKind::Drop, Some(2));
        faults.add(
            None,
            FaultKind::Status {
                status: StatusCode::TOO_MANY_REQUESTS,
                body: BodyStyle::Json,
            },
            Some(1),
        );
        let p = faults.plan(Endpoint::Sms);
        assert_eq!(p.delay, Duration::from_millis(12));
        assert_eq!(p.outcome, Some(Outcome::Drop));
        let p = faults.plan(Endpoint::Sms);
        assert_eq!(p.delay, Duration::from_millis(5));
        assert_eq!(p.outcome, Some(Outcome::Drop));
        // The drop is used up; the 429 was never used, so now it applies (once).
        let p = faults.plan(Endpoint::Sms);
        assert!(matches!(p.outcome, Some(Outcome::Respond { .. })));
        let p = faults.plan(Endpoint::Sms);
        assert_eq!(p.outcome, None);
        assert_eq!(faults.list().len(), 1);
        assert_eq!(faults.clear(), 1);
        assert_eq!(faults.plan(Endpoint::Verify), Plan::default());
    }

    #[test]
    fn fault_bodies() {
        let (ct, body) = fault_body(StatusCode::SERVICE_UNAVAILABLE, BodyStyle::Html);
        assert_eq!(ct, "text/html");
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("503 Service Unavailable")
        );
        let (_, body) = fault_body(StatusCode::TOO_MANY_REQUESTS, BodyStyle::Json);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error_code"], "60003");
        assert_eq!(v["success"], false);
    }
}
