//! The tee: while `T` reads the value of an outermost member the hook asked for, the same
//! visits tell the hook what the value is made of, so the value is read once and seen by both.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

use super::hook::{Scalar, TopLevel};

/// Hands a value to `T` through [`Tee`], which tells the hook what it is made of.
pub(super) struct TeeSeed<'s, S, H> {
    pub(super) seed: S,
    pub(super) sink: &'s mut H,
    /// The value is a member of an array.
    pub(super) item: bool,
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

impl<'s, D, H> Tee<'s, D, H> {
    /// The inner deserializer, and `visitor` made to tell the hook what it visits.
    #[inline]
    fn wrap<V>(self, visitor: V) -> (D, TeeVisitor<'s, V, H>) {
        let visitor = TeeVisitor {
            visitor,
            sink: self.sink,
            item: self.item,
        };
        (self.de, visitor)
    }
}

impl<'de, D: Deserializer<'de>, H: TopLevel> Deserializer<'de> for Tee<'_, D, H> {
    type Error = D::Error;

    forward_deserialize!();

    /// A member `T` skips is still shown to the hook: the inner (strict) deserializer reads
    /// it whole, through the tee's visitor.
    #[inline]
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.wrap(visitor);
        de.deserialize_ignored_any(visitor)
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
