//! A borrowed JSON tree: what the normaliser parses each record into.
//!
//! [`Node`] holds the same values as [`serde_json::Value`], parsed by the same `serde_json`
//! deserializer (same numbers, same errors, same recursion limit), but strings without escapes
//! borrow from the input bytes and objects are vectors of entries in document order instead of
//! B-trees of owned keys. Parsing a record into it allocates one vector per object or array (and a
//! string per escaped string) instead of one allocation per key, string and tree node, and
//! dropping it is as cheap: the normaliser, which reads a few dozen fields of each record and
//! drops it, spends most of its time there otherwise.
//!
//! Semantics follow `serde_json::Value`'s: a key that appears twice in an object reads as its last
//! value, and [`Node::to_value`] gives exactly the `Value` that `serde_json` would have parsed
//! (keys sorted, duplicates resolved), so dead letters and content hashes do not change.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value whose strings borrow from the parsed bytes where they can.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` parses it.
    Number(Number),
    /// A string (borrowed unless it held escapes).
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Node<'a>>),
    /// An object's entries in document order; a repeated key reads as its last value.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Node<'a> {
    /// Parses one JSON document (trailing whitespace only), as `serde_json::from_slice` would.
    pub fn parse(bytes: &'a [u8]) -> serde_json::Result<Node<'a>> {
        let mut scratch = Scratch::default();
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let node = NodeSeed(&mut scratch).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(node)
    }

    /// A tree borrowing the strings of `value`.
    pub fn from_value(value: &'a Value) -> Node<'a> {
        match value {
            Value::Null => Node::Null,
            Value::Bool(flag) => Node::Bool(*flag),
            Value::Number(number) => Node::Number(number.clone()),
            Value::String(text) => Node::String(Cow::Borrowed(text)),
            Value::Array(items) => Node::Array(items.iter().map(Node::from_value).collect()),
            Value::Object(map) => Node::Object(
                map.iter().map(|(key, item)| (Cow::Borrowed(key.as_str()), Node::from_value(item))).collect(),
            ),
        }
    }

    /// The `serde_json::Value` `serde_json` would have parsed from the same bytes.
    pub fn to_value(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(flag) => Value::Bool(*flag),
            Node::Number(number) => Value::Number(number.clone()),
            Node::String(text) => Value::String(text.clone().into_owned()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Object(entries) => {
                let mut map = Map::new();
                for (key, item) in entries {
                    map.insert(key.clone().into_owned(), item.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// The value under `key` of an object (its last, when repeated).
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        let Node::Object(entries) = self else { return None };
        let (length, first) = (key.len(), key.as_bytes().first());
        // Length and first byte rule out most keys before a full comparison.
        entries
            .iter()
            .rev()
            .find(|(name, _)| name.len() == length && name.as_bytes().first() == first && name.as_ref() == key)
            .map(|(_, item)| item)
    }

    /// Element `index` of an array.
    pub fn get_index(&self, index: usize) -> Option<&Node<'a>> {
        match self {
            Node::Array(items) => items.get(index),
            _ => None,
        }
    }

    /// The elements of an array.
    pub fn as_array(&self) -> Option<&[Node<'a>]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(text) => Some(text),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// Whether this is `true` or `false`.
    pub fn is_boolean(&self) -> bool {
        matches!(self, Node::Bool(_))
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    /// An object's distinct keys, sorted as `serde_json::Map` iterates them.
    pub fn sorted_keys(&self) -> Vec<&str> {
        let Node::Object(entries) = self else { return Vec::new() };
        let mut keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_ref()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

impl fmt::Display for Node<'_> {
    /// Compact JSON, as `serde_json::Value` displays it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_value(), f)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Node<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        NodeSeed(&mut Scratch::default()).deserialize(deserializer)
    }
}

/// The elements of the containers being parsed, one segment per open container: a container's
/// elements go there, then move to a vector of exactly their number when it closes, so each
/// container allocates once (instead of once per doubling).
#[derive(Default)]
struct Scratch<'a> {
    entries: Vec<(Cow<'a, str>, Node<'a>)>,
    items: Vec<Node<'a>>,
}

/// Parses one value, using the scratch space of the document.
struct NodeSeed<'s, 'a>(&'s mut Scratch<'a>);

impl<'de: 'a, 'a> DeserializeSeed<'de> for NodeSeed<'_, 'a> {
    type Value = Node<'a>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node<'a>, D::Error> {
        deserializer.deserialize_any(NodeVisitor(self.0))
    }
}

struct NodeVisitor<'s, 'a>(&'s mut Scratch<'a>);

impl<'de: 'a, 'a> Visitor<'de> for NodeVisitor<'_, 'a> {
    type Value = Node<'a>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Node<'a>, E> {
        Ok(Node::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Node<'a>, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Node<'a>, E> {
        Ok(Node::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Node<'a>, E> {
        Ok(Number::from_f64(value).map_or(Node::Null, Node::Number))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Node<'a>, E> {
        Ok(Node::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Node<'a>, E> {
        Ok(Node::String(Cow::Owned(value.to_string())))
    }

    fn visit_string<E>(self, value: String) -> Result<Node<'a>, E> {
        Ok(Node::String(Cow::Owned(value)))
    }

    fn visit_none<E>(self) -> Result<Node<'a>, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node<'a>, D::Error> {
        NodeSeed(self.0).deserialize(deserializer)
    }

    fn visit_unit<E>(self) -> Result<Node<'a>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'a>, A::Error> {
        let scratch = self.0;
        let start = scratch.items.len();
        while let Some(item) = seq.next_element_seed(NodeSeed(&mut *scratch))? {
            scratch.items.push(item);
        }
        Ok(Node::Array(scratch.items.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'a>, A::Error> {
        let scratch = self.0;
        let start = scratch.entries.len();
        while let Some(Key(key)) = map.next_key()? {
            let value = map.next_value_seed(NodeSeed(&mut *scratch))?;
            scratch.entries.push((key, value));
        }
        Ok(Node::Object(scratch.entries.drain(start..).collect()))
    }
}

/// An object key, borrowed when it holds no escape.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

struct KeyVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
    type Value = Key<'a>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Key<'a>, E> {
        Ok(Key(Cow::Borrowed(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Key<'a>, E> {
        Ok(Key(Cow::Owned(value.to_string())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Key<'a>, E> {
        Ok(Key(Cow::Owned(value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn strings_without_escapes_borrow_from_the_input() {
        let bytes = br#"{"a": "plain", "b\u0041": "esc\"aped", "n": [1, -2, 3.5, null, true]}"#;
        let node = Node::parse(bytes).unwrap();
        assert!(matches!(node.get("a"), Some(Node::String(Cow::Borrowed("plain")))));
        assert!(matches!(node.get("bA"), Some(Node::String(Cow::Owned(text))) if text == "esc\"aped"));
        assert_eq!(node.get("n").and_then(|n| n.get_index(2)), Some(&Node::Number(Number::from_f64(3.5).unwrap())));
        assert_eq!(node.to_value(), serde_json::from_slice::<Value>(bytes).unwrap());
    }

    #[test]
    fn a_repeated_key_reads_as_its_last_value_and_keys_sort_as_serde_json_does() {
        let bytes = br#"{"b": 1, "a": 2, "b": 3, "B": 4}"#;
        let node = Node::parse(bytes).unwrap();
        assert_eq!(node.get("b"), Some(&Node::Number(3.into())));
        assert_eq!(node.sorted_keys(), ["B", "a", "b"]);
        let value: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(node.to_value(), value);
        assert_eq!(serde_json::to_vec(&node.to_value()).unwrap(), serde_json::to_vec(&value).unwrap());
        assert_eq!(node.to_string(), value.to_string());
    }

    #[test]
    fn errors_are_serde_json_errors() {
        for bad in [&b"{\"a\": }"[..], b"[1, 2", b"{} x", b"\xff", b""] {
            let expected = serde_json::from_slice::<Value>(bad).unwrap_err().to_string();
            assert_eq!(Node::parse(bad).unwrap_err().to_string(), expected);
        }
    }

    #[test]
    fn values_round_trip_through_borrowed_trees() {
        let value = json!({"a": [1, {"b": "c", "d": null}], "e": 1.5, "f": u64::MAX, "g": i64::MIN});
        assert_eq!(Node::from_value(&value).to_value(), value);
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-c\"\\\\]{0,3}", inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parsing_gives_what_serde_json_gives(value in arbitrary_json()) {
            let text = value.to_string();
            let node = Node::parse(text.as_bytes()).unwrap();
            prop_assert_eq!(node.to_value(), serde_json::from_str::<Value>(&text).unwrap());
        }

        #[test]
        fn arbitrary_bytes_parse_or_fail_as_serde_json_does(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let ours = Node::parse(&bytes).map(|node| node.to_value()).map_err(|e| e.to_string());
            let theirs = serde_json::from_slice::<Value>(&bytes).map_err(|e| e.to_string());
            prop_assert_eq!(ours, theirs);
        }
    }
}
