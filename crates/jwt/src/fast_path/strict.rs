//! The strict deserializer: it passes every visitor of the caller's `T` through the rules of
//! [`crate::json::parse_strict`] (duplicate member names rejected at any depth, nesting
//! bounded by [`MAX_DEPTH`], nothing after the value), and shows the hook the outermost
//! object's members.

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::hook::{NoHook, TopLevel};
use super::names::Names;
use super::tee::TeeSeed;
use crate::json::{MAX_DEPTH, NameSeed};

/// One strict pass of `T` over `bytes`, reporting the outermost object to `top`. No fallback:
/// an error here may differ from [`crate::json::parse_strict`]'s, and callers that need the precise error
/// read the input again.
pub(super) fn from_slice_with<'de, T: de::Deserialize<'de>, H: TopLevel>(
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

impl<'h, D, H> Strict<'h, D, H> {
    /// The inner deserializer, and `visitor` made strict at this depth.
    #[inline]
    fn wrap<V>(self, visitor: V) -> (D, StrictVisitor<'h, V, H>) {
        let visitor = StrictVisitor {
            visitor,
            depth: self.depth,
            top: self.top,
        };
        (self.de, visitor)
    }
}

impl<'de, D: Deserializer<'de>, H: TopLevel> Deserializer<'de> for Strict<'_, D, H> {
    type Error = D::Error;

    forward_deserialize!();

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
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::*;
    use crate::json::{from_slice, parse_strict};

    /// A caller's type that reads one member and skips the rest, as most claims types do.
    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Skipping {
        a: Option<Value>,
    }

    /// The one pass alone, without the fallback that would hide a lenient one pass.
    fn one_pass<T: DeserializeOwned>(json: &str) -> Result<T, serde_json::Error> {
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
