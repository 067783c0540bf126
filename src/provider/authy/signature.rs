//! OneTouch callback signatures (reference §4.3).
//!
//! Authy signs each callback with `base64(HMAC-SHA256(api_key, "nonce|METHOD|url|params"))`, where
//! `params` is the payload flattened the way Rails' `Hash#to_query` does it: nested keys become
//! `a[b][c]`, array elements `a[]` (order kept), empty objects and arrays vanish, `null` becomes an
//! empty value, and the `key=value` chunks of each object are sorted byte-wise. Keys and values are
//! form-encoded keeping only `A-Z a-z 0-9 - _ . ~`, with space as `+`.
//!
//! Two edge cases no recorded callback settles follow authy-python (and older ActiveSupport)
//! rather than current ActiveSupport: the keys of objects inside arrays are sorted too (newer
//! Rails keeps their order), and an object whose values are all empty contributes nothing (Rails
//! leaves a stray `&`). `tests/fixtures/authy/callbacks_authy_python.json` lists where authy-python
//! itself departs from Rails (digit-only keys, the string `"None"`, arrays of 10+ elements).
//!
//! Everything here is pure: no clock, no I/O. Nonce freshness and replay protection belong to the
//! HTTP endpoint that receives callbacks.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::ApiKey;

/// How Authy delivers a callback (configured per application in the Authy console).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackMethod {
    /// Parameters in the query string.
    Get,
    /// Parameters as a JSON body.
    Post,
}

impl CallbackMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

impl fmt::Display for CallbackMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The method was neither GET nor POST.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("callback method must be GET or POST")]
pub struct InvalidCallbackMethod;

impl FromStr for CallbackMethod {
    type Err = InvalidCallbackMethod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("get") {
            Ok(Self::Get)
        } else if s.eq_ignore_ascii_case("post") {
            Ok(Self::Post)
        } else {
            Err(InvalidCallbackMethod)
        }
    }
}

/// The signed parameters of a callback, as received.
#[derive(Debug, Clone, Copy)]
pub enum CallbackParams<'a> {
    /// A POST callback's parsed JSON body.
    Json(&'a Value),
    /// A GET callback's raw query string (without the leading `?`), still percent-encoded.
    Query(&'a str),
}

/// The signature Authy would send for these inputs (standard base64 with padding).
pub fn sign(
    api_key: &ApiKey,
    nonce: &str,
    method: CallbackMethod,
    url: &str,
    params: CallbackParams<'_>,
) -> String {
    let data = signed_string(nonce, method, url, params);
    BASE64.encode(hmac_sha256(api_key, &data))
}

/// Whether `signature` (the `X-Authy-Signature` header) is Authy's signature of these inputs.
/// `url` is the callback URL exactly as configured at Authy (not as seen through a proxy); any
/// query string or fragment on it is ignored. The comparison is constant-time.
pub fn verify(
    api_key: &ApiKey,
    nonce: &str,
    method: CallbackMethod,
    url: &str,
    params: CallbackParams<'_>,
    signature: &str,
) -> bool {
    let expected = sign(api_key, nonce, method, url, params);
    expected
        .as_bytes()
        .ct_eq(signature.trim().as_bytes())
        .into()
}

/// The exact string that is signed: `nonce|METHOD|url|sorted_params`.
pub fn signed_string(
    nonce: &str,
    method: CallbackMethod,
    url: &str,
    params: CallbackParams<'_>,
) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let params = match params {
        CallbackParams::Json(value) => to_query(value),
        CallbackParams::Query(raw) => to_query(&nest_query(raw)),
    };
    format!("{nonce}|{}|{url}|{params}", method.as_str())
}

/// Rails' `Hash#to_query` of a JSON payload: the canonical, sorted, form-encoded parameter string.
/// It is also how Authy puts a payload into the query string of a GET callback.
pub fn to_query(payload: &Value) -> String {
    match payload {
        Value::Object(map) => object_to_query(map, None),
        // A callback payload is always an object; anything else has no keys to sign.
        _ => String::new(),
    }
}

fn object_to_query(map: &Map<String, Value>, namespace: Option<&str>) -> String {
    let mut chunks: Vec<String> = map
        .iter()
        .filter(|(_, v)| !is_empty_container(v))
        .map(|(k, v)| {
            let key = match namespace {
                Some(ns) => format!("{ns}[{k}]"),
                None => k.clone(),
            };
            value_to_query(v, &key)
        })
        .filter(|chunk| !chunk.is_empty())
        .collect();
    chunks.sort_unstable();
    chunks.join("&")
}

fn value_to_query(value: &Value, key: &str) -> String {
    match value {
        Value::Object(map) => object_to_query(map, Some(key)),
        Value::Array(items) => {
            let prefix = format!("{key}[]");
            let parts: Vec<String> = items
                .iter()
                .map(|item| value_to_query(item, &prefix))
                .filter(|chunk| !chunk.is_empty())
                .collect();
            parts.join("&")
        }
        Value::Null => pair(key, ""),
        Value::Bool(b) => pair(key, if *b { "true" } else { "false" }),
        Value::Number(n) => pair(key, &n.to_string()),
        Value::String(s) => pair(key, s),
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn pair(key: &str, value: &str) -> String {
    format!("{}={}", escape(key), escape(value))
}

/// Ruby's `CGI.escape`: keep `A-Z a-z 0-9 - _ . ~`, space as `+`, every other UTF-8 byte as `%XX`.
const CGI_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ');

fn escape(s: &str) -> String {
    utf8_percent_encode(s, CGI_ESCAPED)
        .to_string()
        .replace(' ', "+")
}

/// The nested payload a GET callback's raw query string carries: what its signature covers, and
/// where its fields are read from (reading them from the raw pairs instead could see another
/// value of a repeated key than the one that was signed).
pub fn query_params(raw: &str) -> Value {
    nest_query(raw)
}

/// Bracket levels of a query key that nest; deeper ones stay part of the last key's name, so
/// hostile input cannot make the recursion (here and in `to_query`) arbitrarily deep. Real
/// callbacks nest four levels at most.
const MAX_KEY_DEPTH: usize = 32;

/// Turns a bracket-named query string back into the nested payload it was made from, so that
/// `to_query` can produce the canonical form whatever order the pairs arrived in. Values stay
/// strings (they print the same), numeric indices `a[0]` count as `a[]`, and an array element of
/// objects is closed when a key repeats (Rack's rule), which keeps `logos[][res]=…&logos[][url]=…`
/// grouped per logo.
fn nest_query(raw: &str) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let path = key_path(&key);
        insert(&mut root, &path, value.into_owned());
    }
    root
}

#[derive(Debug, PartialEq)]
enum Segment {
    Key(String),
    Push,
}

fn key_path(key: &str) -> Vec<Segment> {
    let (head, mut rest) = match key.find('[') {
        Some(i) if i > 0 => (&key[..i], &key[i..]),
        _ => return vec![Segment::Key(key.to_owned())],
    };
    let mut path = vec![Segment::Key(head.to_owned())];
    while let Some(stripped) = rest.strip_prefix('[') {
        if path.len() > MAX_KEY_DEPTH {
            if let Some(Segment::Key(last)) = path.last_mut() {
                last.push_str(rest);
            } else {
                path.push(Segment::Key(rest.to_owned()));
            }
            return path;
        }
        let Some(end) = stripped.find(']') else {
            // An unclosed bracket: Rack keeps the remainder as part of the name.
            if let Some(Segment::Key(last)) = path.last_mut() {
                last.push_str(rest);
            }
            return path;
        };
        let inner = &stripped[..end];
        if inner.is_empty() || inner.bytes().all(|b| b.is_ascii_digit()) {
            path.push(Segment::Push);
        } else {
            path.push(Segment::Key(inner.to_owned()));
        }
        rest = &stripped[end + 1..];
    }
    path
}

fn insert(node: &mut Value, path: &[Segment], value: String) {
    let Some((first, rest)) = path.split_first() else {
        *node = Value::String(value);
        return;
    };
    match first {
        Segment::Key(k) => {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            if let Value::Object(map) = node {
                let child = map.entry(k.clone()).or_insert(Value::Null);
                if rest.is_empty() {
                    *child = Value::String(value);
                } else {
                    insert(child, rest, value);
                }
            }
        }
        Segment::Push => {
            if !node.is_array() {
                *node = Value::Array(Vec::new());
            }
            if let Value::Array(items) = node {
                match rest.first() {
                    // `a[]=v`: a scalar element.
                    None => items.push(Value::String(value)),
                    // `a[][k]…=v`: continue the last element unless it already has `k`.
                    Some(Segment::Key(_)) => {
                        let reuse = matches!(items.last(), Some(last @ Value::Object(_)) if !has_path(last, rest));
                        if !reuse {
                            items.push(Value::Object(Map::new()));
                        }
                        if let Some(last) = items.last_mut() {
                            insert(last, rest, value);
                        }
                    }
                    // `a[][]…`: nested arrays; always a new element.
                    Some(Segment::Push) => {
                        items.push(Value::Array(Vec::new()));
                        if let Some(last) = items.last_mut() {
                            insert(last, rest, value);
                        }
                    }
                }
            }
        }
    }
}

/// Whether every key of `path` already exists below `node` (Rack's test for starting a new
/// array element).
fn has_path(node: &Value, path: &[Segment]) -> bool {
    match path.split_first() {
        None => true,
        Some((Segment::Key(k), rest)) => node.get(k).is_some_and(|child| has_path(child, rest)),
        Some((Segment::Push, _)) => false,
    }
}

fn hmac_sha256(api_key: &ApiKey, data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    match Hmac::<Sha256>::new_from_slice(api_key.expose().as_bytes()) {
        Ok(mut mac) => {
            mac.update(data.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> ApiKey {
        ApiKey::new(k).unwrap()
    }

    #[test]
    fn escape_matches_cgi_escape() {
        assert_eq!(
            escape("a b+c/d=e,f|g&h~i*j"),
            "a+b%2Bc%2Fd%3De%2Cf%7Cg%26h~i%2Aj"
        );
        assert_eq!(escape("Zürich ✓"), "Z%C3%BCrich+%E2%9C%93");
        assert_eq!(escape("a[b]"), "a%5Bb%5D");
    }

    #[test]
    fn flattening_follows_rails_to_query() {
        let payload = json!({
            "b": "2",
            "a": {"z": null, "y": true, "x": {}, "w": [], "v": 1},
            "l": [{"url": "u1", "res": "low"}, {"res": "high", "url": "u2"}],
            "s": ["pin", "fingerprint"]
        });
        assert_eq!(
            to_query(&payload),
            "a%5Bv%5D=1&a%5By%5D=true&a%5Bz%5D=&b=2\
             &l%5B%5D%5Bres%5D=low&l%5B%5D%5Burl%5D=u1&l%5B%5D%5Bres%5D=high&l%5B%5D%5Burl%5D=u2\
             &s%5B%5D=pin&s%5B%5D=fingerprint"
        );
    }

    #[test]
    fn chunks_sort_bytewise_like_rails() {
        // "a-b=" sorts before "a=" because '-' (0x2D) < '=' (0x3D): whole chunks are compared.
        assert_eq!(
            to_query(&json!({"a": "1", "a-b": "2", "B": "3"})),
            "B=3&a-b=2&a=1"
        );
    }

    #[test]
    fn authy_python_docs_example_corrected() {
        // Reference §4.4: the documented Webhooks-API example string and its corrected signatures.
        let k = key("foobar123");
        let url = "https://api.authy.com/dashboard/json/application/webhooks";
        let params = json!({"b": "val|ue&2", "a": "value1"});
        let nonce = "1427849783.886085";
        assert_eq!(
            signed_string(
                nonce,
                CallbackMethod::Post,
                url,
                CallbackParams::Json(&params)
            ),
            "1427849783.886085|POST|https://api.authy.com/dashboard/json/application/webhooks|a=value1&b=val%7Cue%262"
        );
        let post = sign(
            &k,
            nonce,
            CallbackMethod::Post,
            url,
            CallbackParams::Json(&params),
        );
        assert_eq!(post, "4f9676D/+BzsEq8NzF0fXpv7qETnzJUW/4YGe7p0EPM=");
        let get = sign(
            &k,
            nonce,
            CallbackMethod::Get,
            url,
            CallbackParams::Json(&params),
        );
        assert_eq!(get, "W+RlOV+lGi1EA9jaT1X5hL1aJFAuTRwnHuQhCp2tAxI=");
        // The bogus values in authy-python's own test must NOT verify.
        assert!(!verify(
            &k,
            nonce,
            CallbackMethod::Post,
            url,
            CallbackParams::Json(&params),
            "UJRjviTdXFA0xu4duxW9BWVDRZGsmSUDd4RglmzcX4o="
        ));
    }

    #[test]
    fn query_params_are_canonicalised_whatever_their_order() {
        let k = key("k");
        let sorted = "a=1&b%5Bc%5D=2&l%5B%5D%5Bres%5D=low&l%5B%5D%5Burl%5D=u1&l%5B%5D%5Bres%5D=high&l%5B%5D%5Burl%5D=u2";
        let shuffled = "l[][res]=low&b[c]=2&l[][url]=u1&l[][res]=high&a=1&l[][url]=u2";
        let indexed = "l%5B0%5D%5Bres%5D=low&l%5B0%5D%5Burl%5D=u1&l%5B1%5D%5Bres%5D=high&l%5B1%5D%5Burl%5D=u2&a=1&b%5Bc%5D=2";
        let s = sign(
            &k,
            "1",
            CallbackMethod::Get,
            "https://x/cb",
            CallbackParams::Query(sorted),
        );
        for q in [shuffled, indexed] {
            assert!(
                verify(
                    &k,
                    "1",
                    CallbackMethod::Get,
                    "https://x/cb",
                    CallbackParams::Query(q),
                    &s
                ),
                "{q}"
            );
        }
        // And a GET query string verifies the same as the payload it was made from.
        let payload = json!({"a": 1, "b": {"c": 2}, "l": [{"res": "low", "url": "u1"}, {"res": "high", "url": "u2"}]});
        assert!(verify(
            &k,
            "1",
            CallbackMethod::Get,
            "https://x/cb",
            CallbackParams::Json(&payload),
            &s
        ));
        assert_eq!(to_query(&payload), sorted);
    }

    #[test]
    fn url_query_and_fragment_are_ignored_and_method_matters() {
        let p = json!({"a": "b"});
        let check = |k: &str, nonce: &str, method: CallbackMethod, url: &str, sig: &str| {
            verify(&key(k), nonce, method, url, CallbackParams::Json(&p), sig)
        };
        let s = sign(
            &key("k"),
            "9",
            CallbackMethod::Post,
            "https://h/p",
            CallbackParams::Json(&p),
        );
        assert!(check(
            "k",
            "9",
            CallbackMethod::Post,
            "https://h/p?x=1#f",
            &s
        ));
        assert!(!check("k", "9", CallbackMethod::Get, "https://h/p", &s));
        assert!(!check("k", "9", CallbackMethod::Post, "http://h/p", &s));
        assert!(!check("k", "10", CallbackMethod::Post, "https://h/p", &s));
        assert!(!check("K", "9", CallbackMethod::Post, "https://h/p", &s));
        assert!(!check("k", "9", CallbackMethod::Post, "https://h/p", ""));
    }

    #[test]
    fn method_parses_case_insensitively() {
        assert_eq!("post".parse::<CallbackMethod>(), Ok(CallbackMethod::Post));
        assert_eq!("GET".parse::<CallbackMethod>(), Ok(CallbackMethod::Get));
        assert!("PUT".parse::<CallbackMethod>().is_err());
    }

    #[test]
    fn key_paths() {
        use Segment::*;
        assert_eq!(key_path("a"), vec![Key("a".into())]);
        assert_eq!(
            key_path("a[b][]"),
            vec![Key("a".into()), Key("b".into()), Push]
        );
        assert_eq!(
            key_path("a[3][c]"),
            vec![Key("a".into()), Push, Key("c".into())]
        );
        assert_eq!(key_path("[x]"), vec![Key("[x]".into())]);
        assert_eq!(key_path("a[b"), vec![Key("a[b".into())]);
    }

    #[test]
    fn nested_query_groups_array_elements_like_rack() {
        let nested = nest_query("a[][b][c]=1&a[][b][d]=2&a[][b][c]=3&s[]=x&s[]=y");
        assert_eq!(
            nested,
            json!({"a": [{"b": {"c": "1", "d": "2"}}, {"b": {"c": "3"}}], "s": ["x", "y"]})
        );
    }

    #[test]
    fn garbage_queries_do_not_panic() {
        let k = key("k");
        for q in [
            "",
            "&&&",
            "=",
            "a[",
            "a]",
            "a[][]=1&a[][]=2",
            "a=1&a[b]=2",
            "a[b]=1&a=2",
            "%ZZ=%",
            "a[][b][c][]=1&a[][b][c][]=2",
        ] {
            let _ = sign(
                &k,
                "1",
                CallbackMethod::Get,
                "https://x",
                CallbackParams::Query(q),
            );
        }
    }

    #[test]
    fn deeply_nested_query_keys_stay_shallow() {
        // 64 KiB of brackets (the most an HTTP request line carries here) must neither overflow
        // the stack nor blow up memory: nesting stops at MAX_KEY_DEPTH levels.
        for bracket in ["[b]", "[]", "[0]"] {
            let key = format!("a{}", bracket.repeat(65_536 / bracket.len()));
            let query = format!("{key}=1&{key}=2");
            let signed = signed_string(
                "1",
                CallbackMethod::Get,
                "https://x",
                CallbackParams::Query(&query),
            );
            assert!(signed.len() < 4 * query.len(), "{} bytes", signed.len());
            let mut depth = 0;
            let mut node = &query_params(&query);
            while let Some(child) = match node {
                Value::Object(m) => m.values().next(),
                Value::Array(a) => a.first(),
                _ => None,
            } {
                depth += 1;
                node = child;
            }
            assert!(depth <= MAX_KEY_DEPTH + 2, "{depth} levels");
        }
    }
}
