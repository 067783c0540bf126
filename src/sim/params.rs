//! Request parameters the way Authy's (Rails/Rack) server saw them (reference §1.3).
//!
//! The SDKs send the same parameters in very different ways: a JSON body (python, java, node
//! authy-client), a form body with Rack bracket names (ruby, go, curl), everything in the query string
//! of a POST (php, Postman), even a form body on a GET (node-authy). This module turns each source into
//! one JSON object:
//!
//! * `user[email]=a` → `{"user":{"email":"a"}}`;
//! * `logos[][res]=low&logos[][url]=u&logos[][res]=high` → `{"logos":[{"res":"low","url":"u"},{"res":"high"}]}`
//!   (Rack: a new array element starts when the key already exists in the last element);
//! * `logos[0][res]=low&logos[1][res]=high` (PHP `http_build_query`) → an array ordered by index;
//! * `tags[]=a&tags[]=b` → `{"tags":["a","b"]}`;
//! * a repeated plain key keeps the last value; a name whose brackets don't parse stays a flat key.
//!
//! Sources are merged shallowly, later ones winning: query string < body (Rails'
//! `query_parameters.merge(request_parameters)`). Values from query and form are strings; JSON keeps
//! its types. Everything is bounded (pair count, nesting depth, index size) and nothing here panics.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// At most this many `key=value` pairs per source (Rack has a similar limit).
const MAX_PAIRS: usize = 1000;
/// At most this many bracket segments in one name.
const MAX_DEPTH: usize = 16;
/// Largest numeric index accepted as an array position (`a[7]`); larger numbers are hash keys.
const MAX_INDEX: u64 = 9_999;

/// Why parameters could not be read. Messages never echo values (they may be secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameter {0} is used both as a value and as a nested hash or array")]
    Conflict(String),
    #[error("parameter {0} is nested too deeply")]
    TooDeep(String),
    #[error("too many parameters (at most {MAX_PAIRS})")]
    TooMany,
    #[error("the request body is not valid JSON")]
    InvalidJson,
}

/// Parses a query string (without `?`).
pub fn parse_query(query: &str) -> Result<Map<String, Value>, ParamError> {
    parse_form(query.as_bytes())
}

/// Parses a request body according to its `Content-Type` (or, without one, by its look).
pub fn parse_body(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, ParamError> {
    let essence = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase());
    let trimmed = body.trim_ascii();
    match essence.as_deref() {
        Some("application/json") => parse_json(trimmed),
        Some(ct) if ct.ends_with("+json") => parse_json(trimmed),
        Some("application/x-www-form-urlencoded") => parse_form(body),
        _ if trimmed.is_empty() => Ok(Map::new()),
        // No (or another) content type: sniff. A JSON object is JSON, anything else a form.
        _ if trimmed.first() == Some(&b'{') => match parse_json(trimmed) {
            Ok(map) => Ok(map),
            Err(_) => parse_form(body),
        },
        _ => parse_form(body),
    }
}

/// Shallow merge, `over` wins.
pub fn merge(mut under: Map<String, Value>, over: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in over {
        under.insert(key, value);
    }
    under
}

/// A boolean the way the SDKs send it: `true`, `"true"`, `"1"`, `1`, `"yes"`, `"on"`, `"t"`.
/// Everything else (absent, null, `false`, `"false"`, `"0"`, garbage) is false.
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => {
            let s = s.trim();
            ["true", "1", "yes", "on", "t"]
                .iter()
                .any(|t| s.eq_ignore_ascii_case(t))
        }
        _ => false,
    }
}

/// A scalar as text (strings trimmed, numbers in decimal). `None` for null, bool, hash, array, and
/// for strings that are blank.
pub fn text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) => {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        }
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_json(body: &[u8]) -> Result<Map<String, Value>, ParamError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        // Rails wraps a non-object JSON body as `_json`, i.e. no usable parameters.
        Ok(_) => Ok(Map::new()),
        Err(_) => Err(ParamError::InvalidJson),
    }
}

fn parse_form(input: &[u8]) -> Result<Map<String, Value>, ParamError> {
    let mut root = Node::Map(Vec::new());
    let mut count = 0usize;
    for (name, value) in form_urlencoded::parse(input) {
        if name.is_empty() {
            continue;
        }
        count += 1;
        if count > MAX_PAIRS {
            return Err(ParamError::TooMany);
        }
        insert_pair(&mut root, &name, value.into_owned())?;
    }
    match root.into_value() {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

/// Inserts one `name=value` pair (name possibly with brackets) into a tree.
fn insert_pair(root: &mut Node, name: &str, value: String) -> Result<(), ParamError> {
    let (base, segments) = match split_name(name) {
        Some(parts) => parts,
        None => (name, Vec::new()),
    };
    if segments.len() > MAX_DEPTH {
        return Err(ParamError::TooDeep(short(name)));
    }
    let mut path = Vec::with_capacity(segments.len() + 1);
    path.push(Seg::Key(base));
    path.extend(segments);
    insert(root, &path, value, name)
}

/// One bracket segment of a parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg<'a> {
    /// `[name]` (or the base name); an all-digit name may also index an array.
    Key(&'a str),
    /// `[]`
    Push,
}

/// `user[email]` → `("user", [Key("email")])`; `None` when the brackets are malformed.
fn split_name(name: &str) -> Option<(&str, Vec<Seg<'_>>)> {
    let open = match name.find('[') {
        Some(i) => i,
        None => return Some((name, Vec::new())),
    };
    let base = &name[..open];
    if base.is_empty() || base.contains(']') {
        return None;
    }
    let mut segments = Vec::new();
    let mut rest = &name[open..];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let content = &inner[..close];
        if content.contains('[') {
            return None;
        }
        segments.push(if content.is_empty() {
            Seg::Push
        } else {
            Seg::Key(content)
        });
        rest = &inner[close + 1..];
    }
    Some((base, segments))
}

/// An array index the way PHP writes it: digits, no leading zero, not too large.
fn as_index(key: &str) -> Option<u64> {
    if key.is_empty() || key.len() > 4 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if key.len() > 1 && key.starts_with('0') {
        return None;
    }
    key.parse::<u64>().ok().filter(|i| *i <= MAX_INDEX)
}

/// The tree parameters are collected in before becoming JSON.
#[derive(Debug)]
enum Node {
    /// Not set yet.
    Absent,
    Leaf(String),
    /// A hash; insertion order kept.
    Map(Vec<(String, Node)>),
    /// Built by `[]`.
    List(Vec<Node>),
    /// Built by `[0]`, `[1]`…; becomes an array ordered by index.
    Indexed(BTreeMap<u64, Node>),
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Absent => Value::Null,
            Node::Leaf(s) => Value::String(s),
            Node::Map(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
            Node::List(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Indexed(items) => {
                Value::Array(items.into_values().map(Node::into_value).collect())
            }
        }
    }

    fn map_child<'n>(entries: &'n mut Vec<(String, Node)>, key: &str) -> &'n mut Node {
        let pos = match entries.iter().position(|(k, _)| k == key) {
            Some(pos) => pos,
            None => {
                entries.push((key.to_owned(), Node::Absent));
                entries.len() - 1
            }
        };
        &mut entries[pos].1
    }

    /// Rack's `params_hash_has_key?`: does this element already hold the rest of the path?
    fn has_path(&self, path: &[Seg<'_>]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return true;
        };
        match (self, first) {
            (Node::Map(entries), Seg::Key(k)) => entries
                .iter()
                .find(|(name, _)| name == k)
                .is_some_and(|(_, child)| child.has_path(rest)),
            _ => false,
        }
    }
}

fn insert(node: &mut Node, path: &[Seg<'_>], value: String, name: &str) -> Result<(), ParamError> {
    let Some((first, rest)) = path.split_first() else {
        // A leaf: a repeated plain key keeps the last value; a leaf cannot replace a container.
        return match node {
            Node::Absent | Node::Leaf(_) => {
                *node = Node::Leaf(value);
                Ok(())
            }
            _ => Err(ParamError::Conflict(short(name))),
        };
    };
    match *first {
        Seg::Key(key) => {
            let index = as_index(key);
            if matches!(node, Node::Absent) {
                *node = if index.is_some() {
                    Node::Indexed(BTreeMap::new())
                } else {
                    Node::Map(Vec::new())
                };
            }
            match node {
                Node::Map(entries) => insert(Node::map_child(entries, key), rest, value, name),
                Node::Indexed(items) => match index {
                    Some(i) => insert(items.entry(i).or_insert(Node::Absent), rest, value, name),
                    None => {
                        // `a[0]=x&a[k]=y`: it was a hash with numeric keys after all.
                        let taken = std::mem::take(items);
                        let mut entries: Vec<(String, Node)> =
                            taken.into_iter().map(|(i, n)| (i.to_string(), n)).collect();
                        let child = Node::map_child(&mut entries, key);
                        let result = insert(child, rest, value, name);
                        *node = Node::Map(entries);
                        result
                    }
                },
                Node::List(items) => match index {
                    Some(i) if (i as usize) < items.len() => {
                        insert(&mut items[i as usize], rest, value, name)
                    }
                    Some(i) if i as usize == items.len() => {
                        items.push(Node::Absent);
                        let last = items.len() - 1;
                        insert(&mut items[last], rest, value, name)
                    }
                    _ => Err(ParamError::Conflict(short(name))),
                },
                Node::Absent | Node::Leaf(_) => Err(ParamError::Conflict(short(name))),
            }
        }
        Seg::Push => {
            if matches!(node, Node::Absent) {
                *node = Node::List(Vec::new());
            }
            let Node::List(items) = node else {
                return Err(ParamError::Conflict(short(name)));
            };
            let reuse_last = !rest.is_empty()
                && matches!(rest.first(), Some(Seg::Key(_)))
                && items
                    .last()
                    .is_some_and(|last| matches!(last, Node::Map(_)) && !last.has_path(rest));
            if !reuse_last {
                items.push(Node::Absent);
            }
            let last = items.len() - 1;
            insert(&mut items[last], rest, value, name)
        }
    }
}

/// A parameter name shortened for error messages.
fn short(name: &str) -> String {
    let mut out: String = name.chars().take(64).collect();
    if out.len() < name.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn form(s: &str) -> Value {
        Value::Object(parse_query(s).unwrap())
    }

    #[test]
    fn flat_pairs_and_encoding() {
        assert_eq!(
            form("a=1&b=hello+world&c=%26%3D%5B&d="),
            json!({"a":"1","b":"hello world","c":"&=[","d":""})
        );
    }

    #[test]
    fn repeated_plain_key_keeps_last() {
        assert_eq!(form("a=1&a=2"), json!({"a":"2"}));
    }

    #[test]
    fn nested_hash() {
        assert_eq!(
            form(
                "user%5Bemail%5D=a%40b.co&user[cellphone]=300-300&user[country_code]=57&send_install_link_via_sms=true"
            ),
            json!({"user":{"email":"a@b.co","cellphone":"300-300","country_code":"57"},"send_install_link_via_sms":"true"})
        );
    }

    #[test]
    fn hash_keys_with_spaces_and_order() {
        assert_eq!(
            form(
                "details[Bank+account]=23527922&details[Amount]=10+BTC&hidden_details[IP+Address]=1.2.3.4"
            ),
            json!({"details":{"Bank account":"23527922","Amount":"10 BTC"},"hidden_details":{"IP Address":"1.2.3.4"}})
        );
        let keys: Vec<String> = form("d[z]=1&d[a]=2")["d"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["z", "a"]);
    }

    #[test]
    fn rack_array_of_hashes() {
        assert_eq!(
            form(
                "logos[][res]=low&logos[][url]=http://l&logos[][res]=high&logos[][url]=http://h&logos[][res]=default"
            ),
            json!({"logos":[{"res":"low","url":"http://l"},{"res":"high","url":"http://h"},{"res":"default"}]})
        );
    }

    #[test]
    fn rack_array_of_hashes_encoded_brackets() {
        assert_eq!(
            form("logos%5B%5D%5Bres%5D=med&logos%5B%5D%5Burl%5D=http%3A%2F%2Fimage.co"),
            json!({"logos":[{"res":"med","url":"http://image.co"}]})
        );
    }

    #[test]
    fn rack_array_nested_deeper() {
        assert_eq!(
            form("a[][b][c]=1&a[][b][d]=2&a[][b][c]=3"),
            json!({"a":[{"b":{"c":"1","d":"2"}},{"b":{"c":"3"}}]})
        );
    }

    #[test]
    fn plain_array() {
        assert_eq!(
            form("tags[]=a&tags[]=b&tags[]=a"),
            json!({"tags":["a","b","a"]})
        );
    }

    #[test]
    fn php_indexed_array() {
        assert_eq!(
            form(
                "logos[0][res]=default&logos[0][url]=http://d&logos[1][res]=low&logos[1][url]=http://l"
            ),
            json!({"logos":[{"res":"default","url":"http://d"},{"res":"low","url":"http://l"}]})
        );
    }

    #[test]
    fn php_indexed_out_of_order_is_sorted_by_index() {
        assert_eq!(
            form("l[1][res]=b&l[0][res]=a&l[10]=z"),
            json!({"l":[{"res":"a"},{"res":"b"},"z"]})
        );
    }

    #[test]
    fn numeric_then_named_key_becomes_hash() {
        assert_eq!(form("d[0]=a&d[x]=b"), json!({"d":{"0":"a","x":"b"}}));
        assert_eq!(form("d[x]=b&d[0]=a"), json!({"d":{"x":"b","0":"a"}}));
    }

    #[test]
    fn leading_zero_and_huge_numbers_are_keys() {
        assert_eq!(form("d[01]=a"), json!({"d":{"01":"a"}}));
        assert_eq!(form("d[123456]=a"), json!({"d":{"123456":"a"}}));
    }

    #[test]
    fn index_into_push_list() {
        assert_eq!(form("a[]=x&a[1]=y&a[0]=z"), json!({"a":["z","y"]}));
    }

    #[test]
    fn malformed_brackets_stay_flat() {
        assert_eq!(form("a[b=1"), json!({"a[b":"1"}));
        assert_eq!(form("a]b=1"), json!({"a]b":"1"}));
        assert_eq!(form("[a]=1"), json!({"[a]":"1"}));
        assert_eq!(form("a[b]c=1"), json!({"a[b]c":"1"}));
        assert_eq!(form("a[b[c]]=1"), json!({"a[b[c]]":"1"}));
        assert_eq!(form("=1&&&x"), json!({"x":""}));
    }

    #[test]
    fn conflicts_are_errors_not_panics() {
        assert!(matches!(
            parse_query("a=1&a[b]=2"),
            Err(ParamError::Conflict(_))
        ));
        assert!(matches!(
            parse_query("a[b]=2&a=1"),
            Err(ParamError::Conflict(_))
        ));
        assert!(matches!(
            parse_query("a[]=1&a[b]=2"),
            Err(ParamError::Conflict(_))
        ));
        assert!(matches!(
            parse_query("a[b]=1&a[]=2"),
            Err(ParamError::Conflict(_))
        ));
        assert!(matches!(
            parse_query("a[]=1&a[5]=2"),
            Err(ParamError::Conflict(_))
        ));
    }

    #[test]
    fn limits() {
        let deep = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        assert!(matches!(parse_query(&deep), Err(ParamError::TooDeep(_))));
        let ok = format!("a{}=1", "[x]".repeat(MAX_DEPTH));
        assert!(parse_query(&ok).is_ok());
        let many: Vec<String> = (0..=MAX_PAIRS).map(|i| format!("k{i}=v")).collect();
        assert_eq!(parse_query(&many.join("&")), Err(ParamError::TooMany));
    }

    #[test]
    fn invalid_utf8_is_lossy_not_fatal() {
        let map = parse_body(None, b"a=%FF%FE&b=\xff").unwrap();
        assert!(map.contains_key("a"));
    }

    #[test]
    fn body_json() {
        let body = br#"{"message":"m","seconds_to_expire":null,"details":{},"hidden_details":{},"logos":[]}"#;
        let map = parse_body(Some("application/json"), body).unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"message":"m","seconds_to_expire":null,"details":{},"hidden_details":{},"logos":[]})
        );
    }

    #[test]
    fn body_json_variants() {
        assert!(
            parse_body(Some("application/json"), b"")
                .unwrap()
                .is_empty()
        );
        assert!(
            parse_body(Some("application/json"), b"  {} ")
                .unwrap()
                .is_empty()
        );
        assert!(
            parse_body(Some("Application/JSON; charset=UTF-8"), b"{\"a\":1}")
                .unwrap()
                .contains_key("a")
        );
        assert!(
            parse_body(Some("application/vnd.x+json"), b"{\"a\":1}")
                .unwrap()
                .contains_key("a")
        );
        assert!(
            parse_body(Some("application/json"), b"[1,2]")
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            parse_body(Some("application/json"), b"{\"a\":"),
            Err(ParamError::InvalidJson)
        );
    }

    #[test]
    fn body_form_with_and_without_content_type() {
        let expected = json!({"user":{"email":"e@x.io"}});
        for ct in [
            Some("application/x-www-form-urlencoded"),
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            None,
            Some("text/plain"),
        ] {
            let map = parse_body(ct, b"user%5Bemail%5D=e%40x.io").unwrap();
            assert_eq!(Value::Object(map), expected, "{ct:?}");
        }
    }

    #[test]
    fn body_sniffed_json_without_content_type() {
        let map = parse_body(None, b"{\"force\":true}").unwrap();
        assert_eq!(Value::Object(map), json!({"force":true}));
        // Not JSON after all: read as a form, never an error.
        assert!(parse_body(None, b"{oops").is_ok());
    }

    #[test]
    fn merge_body_over_query() {
        let q = parse_query("a=1&b=2").unwrap();
        let b = parse_body(Some("application/json"), br#"{"b":3,"c":{"d":4}}"#).unwrap();
        assert_eq!(
            Value::Object(merge(q, b)),
            json!({"a":"1","b":3,"c":{"d":4}})
        );
    }

    #[test]
    fn truthy_values() {
        for v in [
            json!(true),
            json!("true"),
            json!("TRUE"),
            json!("1"),
            json!(1),
            json!("yes"),
        ] {
            assert!(truthy(Some(&v)), "{v}");
        }
        for v in [
            json!(false),
            json!("false"),
            json!("0"),
            json!(0),
            json!(null),
            json!(""),
            json!({}),
            json!("maybe"),
        ] {
            assert!(!truthy(Some(&v)), "{v}");
        }
        assert!(!truthy(None));
    }

    #[test]
    fn text_values() {
        assert_eq!(text(Some(&json!(" 57 "))), Some("57".into()));
        assert_eq!(text(Some(&json!(57))), Some("57".into()));
        assert_eq!(text(Some(&json!("  "))), None);
        assert_eq!(text(Some(&json!(null))), None);
        assert_eq!(text(Some(&json!({"a":1}))), None);
        assert_eq!(text(None), None);
    }
}
