//! Strict JSON for headers, claims and keys: duplicate member names are an error (RFC 7515
//! §5.2 lets a parser either reject them or take the last; taking the last lets two parsers
//! disagree about what a token says), and nesting is bounded.
//!
//! [`parse_strict`] builds a [`Value`] under these rules; [`parse_object`] requires an object;
//! [`from_slice`] reads the caller's type with the same rules and the same result as reading
//! a [`Value`] first. Reading a claims set in one pass, for speed, is `fast_path`'s.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Number, Value};

/// How deep objects and arrays may nest in anything tessera parses.
pub const MAX_DEPTH: usize = 32;

/// Parses `bytes` as one JSON value, rejecting duplicate member names at any depth and
/// nesting deeper than [`MAX_DEPTH`].
pub fn parse_strict(bytes: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue { depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// Parses `bytes` as a JSON object, strictly.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match parse_strict(bytes)? {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a JSON object, found {}", kind(&other))),
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct StrictValue {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl StrictValue {
    fn nested<E: de::Error>(&self) -> Result<StrictValue, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!(
                "JSON nested deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(StrictValue {
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue { depth: inner.depth })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate member name \"{key}\""
                )));
            }
            let value = map.next_value_seed(StrictValue { depth: inner.depth })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Deserializes `T` from `bytes` as strictly as [`parse_strict`] reads a [`Value`]: duplicate
/// member names rejected at any depth, even in members `T` ignores; nesting bounded by
/// [`MAX_DEPTH`]; nothing after the value. The result and the error are those of reading it
/// in two steps, [`parse_strict`] then `T::deserialize`.
///
/// A claims set (an object whose registered claims have their registered types) is read in
/// one pass, without building a [`Value`] first (see `fast_path`); anything else, and any
/// error, is read the two-step way.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if let Some(read) = crate::fast_path::claims_one_pass::<T>(bytes, &[]) {
        return Ok(read.into_parts().0);
    }
    let value = parse_strict(bytes)?;
    T::deserialize(value).map_err(|e| e.to_string())
}

/// A member name (or any string), borrowed from the input when it has no escapes.
pub(crate) struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Cow<'de, str>, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_rejected_at_any_depth() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"x":{"a":1,"a":1}}"#).is_err());
        assert!(parse_strict(br#"[{"a":1,"a":1}]"#).is_err());
        assert!(parse_strict(br#"{"a":1,"b":{"a":1}}"#).is_ok());
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse_strict(deep.as_bytes()).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse_strict(ok.as_bytes()).is_ok());
    }

    #[test]
    fn trailing_data_and_non_objects() {
        assert!(parse_strict(br#"{"a":1} x"#).is_err());
        assert!(parse_object(b"[]").is_err());
        assert!(parse_object(b"").is_err());
        assert!(parse_object(br#"{"a":1}"#).is_ok());
    }

    #[test]
    fn from_slice_falls_back_for_what_only_a_value_reads() {
        // serde_json reads integer map keys from a `Value`; the one pass leaves them to it.
        let map: std::collections::BTreeMap<u32, bool> = from_slice(br#"{"1":true}"#).unwrap();
        assert_eq!(map.get(&1), Some(&true));
        assert!(
            from_slice::<std::collections::BTreeMap<u32, bool>>(br#"{"1":true,"1":false}"#)
                .is_err()
        );
    }
}
