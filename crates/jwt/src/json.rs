//! Strict JSON for headers, claims and keys: duplicate member names are an error (RFC 7515
//! §5.2 lets a parser either reject them or take the last; taking the last lets two parsers
//! disagree about what a token says), and nesting is bounded.
//!
//! Two ways to read it: [`parse_strict`] builds a [`Value`]; [`from_slice`] drives the caller's
//! type directly, in one pass, with the same rules (it is what verifying a token uses, so a
//! claims set is not built twice).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
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

/// Deserializes `T` from `bytes` as strictly as [`parse_strict`] reads a [`Value`] (duplicate
/// member names rejected at any depth, even in members `T` ignores; nesting bounded by
/// [`MAX_DEPTH`]; nothing after the value), without building a [`Value`] first.
///
/// When the one pass fails, the input is read again through [`parse_strict`] and
/// `serde_json::from_value`, so the error (and the rare input that only the second way
/// accepts, such as a map with integer keys) is the same as reading it in two steps.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match from_slice_with(bytes, &mut NoHook) {
        Ok(value) => Ok(value),
        Err(_) => {
            let value = parse_strict(bytes)?;
            T::deserialize(value).map_err(|e| e.to_string())
        }
    }
}

/// What the value of an outermost member is made of, told to a [`TopLevel`] hook while `T`
/// reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scalar<'a> {
    /// A string.
    Str(&'a str),
    /// A number, as [`Number::as_f64`] gives it.
    Number(f64),
    /// An array begins; its members follow, each as [`Scalar::Item`] if it is a string.
    Array,
    /// A string member of the array that began last.
    Item(&'a str),
}

/// What a one-pass read reports about the members of the outermost object.
pub(crate) trait TopLevel {
    /// The name of an outermost member, as it is read (duplicates never reach it). Returns
    /// whether [`value`](Self::value) should be told what its value is made of.
    fn member(&mut self, name: &str) -> bool;

    /// Part of the value of the member [`member`](Self::member) last asked for. Anything
    /// that is not a [`Scalar`] (an object, a boolean, `null`, an array in an array, an array
    /// member that is not a string, or a value `T` reads in a way this cannot follow) fails
    /// the read, as does an error returned here.
    fn value(&mut self, part: Scalar<'_>) -> Result<(), String>;

    /// The outermost object has been read to its end.
    fn end(&mut self);
}

/// Wants nothing.
pub(crate) struct NoHook;

impl TopLevel for NoHook {
    fn member(&mut self, _: &str) -> bool {
        false
    }

    fn value(&mut self, _: Scalar<'_>) -> Result<(), String> {
        Ok(())
    }

    fn end(&mut self) {}
}

/// One strict pass of `T` over `bytes`, reporting the outermost object to `top`. No fallback:
/// an error here may differ from [`parse_strict`]'s, and callers that need the precise error
/// read the input again.
pub(crate) fn from_slice_with<'de, T: de::Deserialize<'de>, H: TopLevel>(
    bytes: &'de [u8],
    top: &mut H,
) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(Strict {
        de: &mut de,
        depth: 0,
        top: Some(top),
    })?;
    de.end()?;
    Ok(value)
}

/// A deserializer that passes every visitor through the strict rules. `top` is the hook of
/// the outermost object, `None` below it.
struct Strict<'h, D, H> {
    de: D,
    depth: usize,
    top: Option<&'h mut H>,
}

macro_rules! forward {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method($($($arg,)*)? StrictVisitor {
                visitor,
                depth: self.depth,
                top: self.top,
            })
        }
    )*};
}

impl<'de, D: Deserializer<'de>, H: TopLevel> Deserializer<'de> for Strict<'_, D, H> {
    type Error = D::Error;

    forward! {
        deserialize_any, deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32,
        deserialize_i64, deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32,
        deserialize_u64, deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char,
        deserialize_str, deserialize_string, deserialize_bytes, deserialize_byte_buf,
        deserialize_option, deserialize_unit, deserialize_seq, deserialize_map,
        deserialize_identifier,
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    /// Skipped members are read like any other: serde_json's own skipping does not look for
    /// duplicate names.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct StrictSeed<S> {
    seed: S,
    depth: usize,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<S> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Strict::<D, NoHook> {
            de,
            depth: self.depth,
            top: None,
        })
    }
}

/// Checks the depth before an object, array or enum is entered.
fn enter<E: de::Error>(depth: usize) -> Result<usize, E> {
    if depth >= MAX_DEPTH {
        return Err(E::custom(format!(
            "JSON nested deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(depth + 1)
}

struct StrictVisitor<'h, V, H> {
    visitor: V,
    depth: usize,
    top: Option<&'h mut H>,
}

macro_rules! pass {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        #[inline]
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.visitor.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>, H: TopLevel> Visitor<'de> for StrictVisitor<'_, V, H> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    pass! {
        visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64),
        visit_i128(i128), visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64),
        visit_u128(u128), visit_f32(f32), visit_f64(f64), visit_char(char), visit_str(&str),
        visit_borrowed_str(&'de str), visit_string(String), visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]), visit_byte_buf(Vec<u8>),
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Strict {
            de,
            depth: self.depth,
            top: self.top,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Strict {
            de,
            depth: self.depth,
            top: self.top,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        let depth = enter(self.depth)?;
        self.visitor.visit_seq(StrictSeq { seq, depth })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let depth = enter(self.depth)?;
        self.visitor.visit_map(StrictMap {
            map,
            depth,
            names: Names::default(),
            top: self.top,
            taking: false,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        // `{"Variant": …}` is an object to `parse_strict`: count it as a level.
        let depth = enter(self.depth)?;
        self.visitor.visit_enum(StrictEnum { data, depth })
    }
}

struct StrictSeq<A> {
    seq: A,
    depth: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StrictSeq<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.seq.next_element_seed(StrictSeed {
            seed,
            depth: self.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

/// Up to this many members, duplicates are found by comparing fingerprints kept in place;
/// past it, through a hash set, so that a large object still costs linear time.
const INLINE_NAMES: usize = 16;

/// The member names of one object so far, to find duplicates.
#[derive(Default)]
struct Names<'de> {
    len: usize,
    prints: [u64; INLINE_NAMES],
    /// Names longer than a fingerprint holds, with their fingerprints.
    long: Vec<(u64, Cow<'de, str>)>,
    /// Boxed: it is rarely there, and `Names` is moved with every object read.
    #[allow(clippy::box_collection)]
    large: Option<Box<HashSet<Name<'de>>>>,
}

/// A name as the hash set keeps it: short ones by their fingerprint, which holds all of them.
#[derive(PartialEq, Eq, Hash)]
enum Name<'de> {
    Short(u64),
    Long(Cow<'de, str>),
}

/// Names of at most this many bytes are held whole by their fingerprint.
const SHORT: usize = 7;

/// The length and first seven bytes of a name: equal names have equal prints, and names of
/// at most seven bytes with equal prints are equal.
#[inline]
fn fingerprint(name: &str) -> u64 {
    let b = name.as_bytes();
    let len = u64::try_from(b.len()).map_or(255, |n| n.min(255));
    let u = |i: usize| u64::from(b[i]) << (8 * i);
    // Fixed-size reads for each length, rather than a loop or a copy.
    let head = match b.len() {
        0 => 0,
        1 => u(0),
        2 => u(0) | u(1),
        3 => u(0) | u(1) | u(2),
        4 => u(0) | u(1) | u(2) | u(3),
        5 => u(0) | u(1) | u(2) | u(3) | u(4),
        6 => u(0) | u(1) | u(2) | u(3) | u(4) | u(5),
        _ => u(0) | u(1) | u(2) | u(3) | u(4) | u(5) | u(6),
    };
    head | len << 56
}

/// The length a fingerprint records (saturated at 255).
fn print_len(print: u64) -> usize {
    (print >> 56) as usize
}

impl<'de> Names<'de> {
    /// Adds `name`; false if it was already there.
    #[inline(always)]
    #[allow(clippy::ptr_arg)] // a long name is kept as it is, borrowed from the input if it can
    fn insert(&mut self, name: &Cow<'de, str>) -> bool {
        if name.len() <= SHORT && self.len < INLINE_NAMES && self.large.is_none() {
            let print = fingerprint(name);
            if self.prints[..self.len].contains(&print) {
                return false;
            }
            self.prints[self.len] = print;
            self.len += 1;
            return true;
        }
        self.insert_other(name.clone())
    }

    /// A long name, or one past the inline ones.
    #[cold]
    #[inline(never)]
    fn insert_other(&mut self, name: Cow<'de, str>) -> bool {
        let print = fingerprint(&name);
        let short = name.len() <= SHORT;
        if let Some(set) = &mut self.large {
            return set.insert(if short {
                Name::Short(print)
            } else {
                Name::Long(name)
            });
        }
        if self.prints[..self.len].contains(&print)
            && (short || self.long.iter().any(|(p, n)| *p == print && *n == name))
        {
            return false;
        }
        if self.len < INLINE_NAMES {
            self.prints[self.len] = print;
            self.len += 1;
            if !short {
                self.long.push((print, name));
            }
        } else {
            let mut set: HashSet<Name<'de>> = self.prints[..self.len]
                .iter()
                .filter(|p| print_len(**p) <= SHORT)
                .map(|p| Name::Short(*p))
                .collect();
            set.extend(self.long.drain(..).map(|(_, n)| Name::Long(n)));
            set.insert(if short {
                Name::Short(print)
            } else {
                Name::Long(name)
            });
            self.large = Some(Box::new(set));
        }
        true
    }
}

struct StrictMap<'h, 'de, A, H> {
    map: A,
    depth: usize,
    names: Names<'de>,
    top: Option<&'h mut H>,
    /// The hook wants the value of the member whose name was read last.
    taking: bool,
}

impl<'de, A: MapAccess<'de>, H: TopLevel> MapAccess<'de> for StrictMap<'_, 'de, A, H> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(name) = self.map.next_key_seed(NameSeed)? else {
            if let Some(top) = self.top.as_mut() {
                top.end();
            }
            return Ok(None);
        };
        if !self.names.insert(&name) {
            return Err(de::Error::custom(format!(
                "duplicate member name \"{name}\""
            )));
        }
        self.taking = self.top.as_mut().is_some_and(|top| top.member(&name));
        match name {
            Cow::Borrowed(name) => seed.deserialize(BorrowedStrDeserializer::new(name)),
            Cow::Owned(name) => seed.deserialize(StrDeserializer::new(&name)),
        }
        .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        if !self.taking {
            return self.map.next_value_seed(StrictSeed {
                seed,
                depth: self.depth,
            });
        }
        self.taking = false;
        let Some(sink) = self.top.as_deref_mut() else {
            return Err(de::Error::custom("no hook"));
        };
        self.map.next_value_seed(StrictSeed {
            seed: TeeSeed {
                seed,
                sink,
                item: false,
            },
            depth: self.depth,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// Hands a value to `T` through [`Tee`], which tells the hook what it is made of.
struct TeeSeed<'s, S, H> {
    seed: S,
    sink: &'s mut H,
    /// The value is a member of an array.
    item: bool,
}

impl<'de, S: DeserializeSeed<'de>, H: TopLevel> DeserializeSeed<'de> for TeeSeed<'_, S, H> {
    type Value = S::Value;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Tee {
            de,
            sink: self.sink,
            item: self.item,
        })
    }
}

/// A deserializer (already strict) whose visitors also tell the hook what they visit, so the
/// value is read once, by `T`, and seen by both.
struct Tee<'s, D, H> {
    de: D,
    sink: &'s mut H,
    item: bool,
}

macro_rules! tee {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method($($($arg,)*)? TeeVisitor {
                visitor,
                sink: self.sink,
                item: self.item,
            })
        }
    )*};
}

impl<'de, D: Deserializer<'de>, H: TopLevel> Deserializer<'de> for Tee<'_, D, H> {
    type Error = D::Error;

    tee! {
        deserialize_any, deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32,
        deserialize_i64, deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32,
        deserialize_u64, deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char,
        deserialize_str, deserialize_string, deserialize_bytes, deserialize_byte_buf,
        deserialize_option, deserialize_unit, deserialize_seq, deserialize_map,
        deserialize_identifier, deserialize_ignored_any,
        deserialize_unit_struct(name: &'static str),
        deserialize_newtype_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
        deserialize_struct(name: &'static str, fields: &'static [&'static str]),
        deserialize_enum(name: &'static str, variants: &'static [&'static str]),
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

struct TeeVisitor<'s, V, H> {
    visitor: V,
    sink: &'s mut H,
    item: bool,
}

impl<V, H: TopLevel> TeeVisitor<'_, V, H> {
    #[inline]
    fn string<E: de::Error>(&mut self, s: &str) -> Result<(), E> {
        let part = if self.item {
            Scalar::Item(s)
        } else {
            Scalar::Str(s)
        };
        self.sink.value(part).map_err(E::custom)
    }

    #[inline]
    fn number<E: de::Error>(&mut self, n: f64) -> Result<(), E> {
        if self.item {
            return Err(unfollowed());
        }
        self.sink.value(Scalar::Number(n)).map_err(E::custom)
    }
}

fn unfollowed<E: de::Error>() -> E {
    E::custom("a value the one-pass read does not follow")
}

macro_rules! tee_number {
    ($($method:ident($ty:ty)),* $(,)?) => {$(
        #[allow(clippy::cast_precision_loss, clippy::cast_lossless)] // as `Number::as_f64` does
        #[inline]
        fn $method<E: de::Error>(mut self, v: $ty) -> Result<V::Value, E> {
            self.number(v as f64)?;
            self.visitor.$method(v)
        }
    )*};
}

macro_rules! tee_other {
    ($($method:ident$(($ty:ty))?),* $(,)?) => {$(
        fn $method<E: de::Error>(self $(, _: $ty)?) -> Result<V::Value, E> {
            Err(unfollowed())
        }
    )*};
}

impl<'de, V: Visitor<'de>, H: TopLevel> Visitor<'de> for TeeVisitor<'_, V, H> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    #[inline]
    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<V::Value, E> {
        self.string(v)?;
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<V::Value, E> {
        self.string(v)?;
        self.visitor.visit_str(v)
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<V::Value, E> {
        self.string(&v)?;
        self.visitor.visit_string(v)
    }

    tee_number! {
        visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64), visit_i128(i128),
        visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64), visit_u128(u128),
        visit_f32(f32), visit_f64(f64),
    }

    tee_other! {
        visit_bool(bool), visit_char(char), visit_bytes(&[u8]), visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>), visit_none, visit_unit,
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Tee {
            de,
            sink: self.sink,
            item: self.item,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Tee {
            de,
            sink: self.sink,
            item: self.item,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.item {
            return Err(unfollowed());
        }
        self.sink.value(Scalar::Array).map_err(de::Error::custom)?;
        self.visitor.visit_seq(TeeSeq {
            seq,
            sink: self.sink,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        Err(unfollowed())
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<V::Value, A::Error> {
        Err(unfollowed())
    }
}

struct TeeSeq<'s, A, H> {
    seq: A,
    sink: &'s mut H,
}

impl<'de, A: SeqAccess<'de>, H: TopLevel> SeqAccess<'de> for TeeSeq<'_, A, H> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.seq.next_element_seed(TeeSeed {
            seed,
            sink: &mut *self.sink,
            item: true,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
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

struct StrictEnum<A> {
    data: A,
    depth: usize,
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for StrictEnum<A> {
    type Error = A::Error;
    type Variant = StrictVariant<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.data.variant_seed(StrictSeed {
            seed,
            depth: self.depth,
        })?;
        Ok((
            value,
            StrictVariant {
                variant,
                depth: self.depth,
            },
        ))
    }
}

struct StrictVariant<A> {
    variant: A,
    depth: usize,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for StrictVariant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.variant.newtype_variant_seed(StrictSeed {
            seed,
            depth: self.depth,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.variant.tuple_variant(
            len,
            StrictVisitor::<V, NoHook> {
                visitor,
                depth: self.depth,
                top: None,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.variant.struct_variant(
            fields,
            StrictVisitor::<V, NoHook> {
                visitor,
                depth: self.depth,
                top: None,
            },
        )
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

    /// A caller's type that reads one member and skips the rest, as most claims types do.
    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Skipping {
        a: Option<Value>,
    }

    /// The one pass alone, without the fallback that would hide a lenient one pass.
    fn one_pass<T: de::DeserializeOwned>(json: &str) -> Result<T, serde_json::Error> {
        from_slice_with(json.as_bytes(), &mut NoHook)
    }

    #[test]
    fn the_one_pass_rejects_duplicates_even_in_members_it_skips() {
        let long = "a_rather_long_member_name";
        let many: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
        for json in [
            r#"{"a":1,"a":2}"#.to_owned(),
            r#"{"a":1,"\u0061":2}"#.to_owned(),
            r#"{"x":{"b":1,"b":2}}"#.to_owned(),
            r#"{"x":[{"b":1,"b":2}]}"#.to_owned(),
            r#"{"a":{"b":{"c":{"d":1,"d":1}}}}"#.to_owned(),
            format!(r#"{{"{long}":1,"{long}":2}}"#),
            format!(r#"{{"{long}1":1,"{long}2":2,"{long}1":3}}"#),
            format!(r#"{{{many}"k7":0}}"#),
            format!(r#"{{{many}"x":1,"x":2}}"#),
            format!(r#"{{"x":{{{many}"k39":0}}}}"#),
        ] {
            assert!(one_pass::<Skipping>(&json).is_err(), "{json}");
            assert!(one_pass::<Value>(&json).is_err(), "{json}");
            assert!(from_slice::<Skipping>(json.as_bytes()).is_err(), "{json}");
        }
        let ok = format!(r#"{{{many}"{long}1":1,"{long}2":{{"{long}1":2}},"a":3}}"#);
        assert_eq!(
            one_pass::<Skipping>(&ok).unwrap(),
            Skipping { a: Some(3.into()) }
        );
        assert_eq!(
            one_pass::<Value>(&ok).unwrap(),
            parse_strict(ok.as_bytes()).unwrap()
        );
    }

    #[test]
    fn the_one_pass_bounds_depth_even_in_members_it_skips() {
        let nest = |n: usize| "[".repeat(n) + &"]".repeat(n);
        // The outer object is one level, as for `parse_strict`.
        let fits = format!(r#"{{"x":{}}}"#, nest(MAX_DEPTH - 1));
        let deep = format!(r#"{{"x":{}}}"#, nest(MAX_DEPTH));
        assert!(parse_strict(fits.as_bytes()).is_ok());
        assert!(parse_strict(deep.as_bytes()).is_err());
        assert!(one_pass::<Skipping>(&fits).is_ok());
        assert!(one_pass::<Skipping>(&deep).is_err());
        assert!(one_pass::<Value>(&deep).is_err());
        let objects = format!(
            r#"{{"x":{}1{}}}"#,
            r#"{"y":"#.repeat(MAX_DEPTH),
            "}".repeat(MAX_DEPTH)
        );
        assert!(parse_strict(objects.as_bytes()).is_err());
        assert!(one_pass::<Skipping>(&objects).is_err());
    }

    #[test]
    fn the_one_pass_rejects_trailing_data() {
        assert!(one_pass::<Skipping>(r#"{"a":1} x"#).is_err());
        assert!(one_pass::<Skipping>(r#"{"a":1}{"a":2}"#).is_err());
        assert!(from_slice::<Skipping>(br#"{"a":1} "#).is_ok());
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

    mod agreement {
        use super::*;
        use proptest::prelude::*;

        /// JSON text from a small alphabet of names (so that duplicates, escaped spellings of
        /// the same name and long names come up), at any depth up to a few levels.
        fn json() -> impl Strategy<Value = String> {
            let leaf = prop_oneof![
                Just("null".to_owned()),
                Just("true".to_owned()),
                Just("-12".to_owned()),
                Just("1.5e3".to_owned()),
                Just(r#""s""#.to_owned()),
                Just(r#""\u00e9\n""#.to_owned()),
            ];
            let name = prop_oneof![
                Just("a"),
                Just("b"),
                Just("\\u0061"),
                Just("a_long_member_name_1"),
                Just("a_long_member_name_2"),
                Just("iss"),
                Just("exp"),
            ];
            leaf.prop_recursive(5, 64, 24, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6)
                        .prop_map(|v| format!("[{}]", v.join(","))),
                    prop::collection::vec((name.clone(), inner), 0..24).prop_map(|members| {
                        let members: Vec<String> = members
                            .into_iter()
                            .map(|(k, v)| format!(r#""{k}":{v}"#))
                            .collect();
                        format!("{{{}}}", members.join(","))
                    }),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn one_pass_and_value_agree(json in json()) {
                let strict = parse_strict(json.as_bytes());
                let value = one_pass::<Value>(&json);
                prop_assert_eq!(strict.as_ref().ok(), value.as_ref().ok(), "{}", json);
                // Reading less never accepts more.
                if one_pass::<Skipping>(&json).is_ok() {
                    prop_assert!(strict.is_ok(), "{}", json);
                }
            }
        }
    }
}
