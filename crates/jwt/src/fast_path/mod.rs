//! The speed-only way to read a claims set: `T` and the registered claims in one strict pass
//! over the payload, behind one function, [`claims_one_pass`].
//!
//! **What it is for.** Verifying a token reads its claims set twice on the auditable path:
//! [`crate::json::parse_object`] builds a map, [`RegisteredClaims::from_map`] (through
//! `Validation::check_claims`) reads the registered claims from it, and `T` is read from the
//! map. This module reads the payload once: a strict deserializer (duplicate member names
//! rejected at any depth, even in members `T` skips; nesting bounded by
//! [`crate::json::MAX_DEPTH`]; nothing after the value) drives `T` directly, and tells a hook
//! what the outermost members `iss`, `sub`, `aud`, `exp`, `nbf`, `iat` and `jti` hold while
//! `T` reads them. Nothing here decides whether a token is accepted: the caller still checks
//! the registered claims it returns.
//!
//! **What it must agree with.** Whatever it returns, the auditable path (`parse_object`, then
//! `RegisteredClaims::from_map` and `T::deserialize` of the map) returns too: the same `T`,
//! the same registered claims, the same answer about which required claims are present.
//! Whatever it cannot vouch for (an error of any kind, a registered claim of a type
//! `from_map` refuses or reads differently, a value `T` reads in a way the hook cannot
//! follow, a top-level value that is not an object) gives `None`, and the caller reads the
//! payload again the auditable way, which gives the precise answer or error. So it may
//! refuse more than the auditable path, never accept more or differently.
//!
//! **How that is tested.** Proptests over generated JSON compare the strict pass with
//! [`crate::json::parse_strict`] (`strict.rs`) and the registered claims with `from_map`
//! (`registered.rs`); `tests` below runs both paths over a fixed set of tricky inputs
//! (duplicate and escaped names, escapes, big and odd numbers, nested objects, deep nesting,
//! trailing data) and asserts the same result or, for an error, that both refuse.
//!
//! Layout: `strict.rs` is the strict deserializer, `names.rs` how it finds duplicate names,
//! `tee.rs` how a value is shown to the hook while `T` reads it, `registered.rs` the hook
//! that gathers the registered claims.

use serde::de::DeserializeOwned;

use crate::claims::RegisteredClaims;

/// Implements every `deserialize_*` method of a wrapping deserializer but
/// `deserialize_ignored_any` (each wrapper decides that one): the inner deserializer is
/// handed the wrapped visitor that `self.wrap(visitor)` makes. One list for the strict
/// deserializer and for the tee, so that the two cannot drift apart.
macro_rules! forward_deserialize {
    () => {
        forward_deserialize! {
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
    };
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {$(
        #[inline]
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, D::Error> {
            let (de, visitor) = self.wrap(visitor);
            de.$method($($($arg,)*)? visitor)
        }
    )*};
}

mod hook;
mod names;
mod registered;
mod strict;
mod tee;

use registered::Registered;

/// A claims set read in one pass: the caller's claims and the registered claims.
pub(crate) struct OnePass<'r, T> {
    claims: T,
    top: Registered<'r>,
}

impl<T> OnePass<'_, T> {
    /// The registered claims, as [`RegisteredClaims::from_map`] reads them.
    pub(crate) fn registered(&self) -> &RegisteredClaims {
        &self.top.claims
    }

    /// Whether the claims set has the member `claim`, one of the `required` it was read for
    /// or a registered claim.
    pub(crate) fn has(&self, claim: &str) -> bool {
        self.top.has(claim)
    }

    /// The caller's claims and the registered claims.
    pub(crate) fn into_parts(self) -> (T, RegisteredClaims) {
        (self.claims, self.top.claims)
    }
}

/// Reads the claims set `payload` as `T` and its registered claims in one strict pass, noting
/// which of `required` (at most 64 names) it has. `None` when the pass cannot vouch for the
/// result, for any reason: then the auditable path must read `payload` again, and decides.
pub(crate) fn claims_one_pass<'r, T: DeserializeOwned>(
    payload: &[u8],
    required: &'r [String],
) -> Option<OnePass<'r, T>> {
    let mut top = Registered::new(required)?;
    let claims = strict::from_slice_with::<T, _>(payload, &mut top).ok()?;
    top.complete.then_some(OnePass { claims, top })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde::Deserialize;
    use serde_json::{Map, Value};

    use super::*;
    use crate::algorithm::Algorithm;
    use crate::clock::FixedClock;
    use crate::header::Header;
    use crate::key::SigningKey;
    use crate::keyset::KeySet;
    use crate::token::{Verified, encode, sign_jws, verify};
    use crate::validation::Validation;
    use crate::{Audience, Result};

    /// Payloads chosen to be hard on a second parser: duplicate and escaped names, escapes in
    /// values, big and odd numbers, registered claims of the wrong type, nesting at and past
    /// the limit, trailing data, and values that are not objects.
    fn tricky() -> Vec<String> {
        let many: String = (0..40).map(|i| format!(r#""k{i}":{i},"#)).collect();
        let long = "a_rather_long_member_name";
        let nest = |n: usize| "[".repeat(n) + &"]".repeat(n);
        let mut all: Vec<String> = [
            r#"{"sub":"u-1","exp":1800000000}"#,
            r#"{"iss":"https://a","sub":"u","aud":"orders","exp":1800000000,"iat":1700000000,"nbf":1700000000,"jti":"j"}"#,
            r#" { "sub" : "u" , "exp" : 1800000000 } "#,
            // Duplicates, plain and escaped, at the top and below.
            r#"{"sub":"u","exp":1800000000,"exp":1800000000}"#,
            r#"{"sub":"u","exp":1800000000,"\u0065xp":1800000000}"#,
            r#"{"iss":"a","i\u0073s":"b","exp":1800000000}"#,
            r#"{"sub":"u","exp":1800000000,"x":{"a":1,"a":1}}"#,
            r#"{"sub":"u","exp":1800000000,"x":[{"b":1,"b":2}]}"#,
            r#"{"sub":"u","exp":1800000000,"x":1,"x":1}"#,
            // Escapes in values.
            r#"{"iss":"h\u0074tps:\/\/a","sub":"\ud83d\ude00","exp":1800000000}"#,
            r#"{"sub":"a\"b\\c\n\t","exp":1800000000}"#,
            r#"{"sub":"\ud800","exp":1800000000}"#,
            r#"{"sub":"u","exp":1800000000,"x":"\ud800"}"#,
            // Numbers.
            r#"{"sub":"u","exp":1800000000.5}"#,
            r#"{"sub":"u","exp":1.8e9}"#,
            r#"{"sub":"u","exp":18446744073709551616}"#,
            r#"{"sub":"u","exp":1e300}"#,
            r#"{"sub":"u","exp":253402300799}"#,
            r#"{"sub":"u","exp":253402300800}"#,
            r#"{"sub":"u","exp":-1}"#,
            r#"{"sub":"u","exp":-0}"#,
            r#"{"sub":"u","exp":1800000000,"n":123456789012345678901234567890}"#,
            r#"{"sub":"u","exp":1800000000,"n":-9223372036854775809}"#,
            // Registered claims of the wrong type.
            r#"{"sub":"u","exp":"1800000000"}"#,
            r#"{"sub":1,"exp":1800000000}"#,
            r#"{"sub":null,"exp":1800000000}"#,
            r#"{"iss":true,"sub":"u","exp":1800000000}"#,
            r#"{"sub":"u","exp":1800000000,"iat":[1]}"#,
            r#"{"sub":"u","exp":{"t":1}}"#,
            // Audiences.
            r#"{"sub":"u","aud":["orders","x"],"exp":1800000000}"#,
            r#"{"sub":"u","aud":[],"exp":1800000000}"#,
            r#"{"sub":"u","aud":["orders",1],"exp":1800000000}"#,
            r#"{"sub":"u","aud":[["orders"]],"exp":1800000000}"#,
            r#"{"sub":"u","aud":{"orders":true},"exp":1800000000}"#,
            // Nested objects and arrays the caller's type skips or reads.
            r#"{"sub":"u","exp":1800000000,"roles":["a","b"],"x":{"y":{"z":[1,{"w":null}]}}}"#,
            r#"{"sub":"u","exp":1800000000,"roles":"admin"}"#,
            r#"{"sub":"u","exp":1800000000,"roles":[1]}"#,
            // Not a claims set.
            r#"{"sub":"u","exp":1800000000} x"#,
            r#"{"sub":"u","exp":1800000000}{}"#,
            r#"{"sub":"u","exp":1800000000,}"#,
            r#"["sub"]"#,
            r#""sub""#,
            "null",
            "",
            "{",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        all.push(format!(r#"{{{many}"sub":"u","exp":1800000000}}"#));
        all.push(format!(r#"{{{many}"sub":"u","exp":1800000000,"k7":0}}"#));
        all.push(format!(
            r#"{{"{long}1":1,"{long}2":2,"sub":"u","exp":1800000000,"{long}1":3}}"#
        ));
        for depth in [crate::json::MAX_DEPTH - 1, crate::json::MAX_DEPTH] {
            all.push(format!(
                r#"{{"sub":"u","exp":1800000000,"x":{}}}"#,
                nest(depth)
            ));
        }
        all
    }

    /// A caller's type with a registered claim, a claim of its own, and members it skips.
    #[derive(Debug, Deserialize, PartialEq)]
    struct Typed {
        sub: String,
        aud: Option<Audience>,
        exp: Option<f64>,
        roles: Option<Vec<String>>,
    }

    /// A result, comparable: the verified parts, or the error's message (which names its
    /// class and its cause).
    fn outcome<T>(r: Result<Verified<T>>) -> std::result::Result<(T, RegisteredClaims), String> {
        r.map(|v| {
            let registered = v.registered().clone();
            (v.into_claims(), registered)
        })
        .map_err(|e| e.to_string())
    }

    /// `verify` with and without a check of the caller's own, which sends it down the
    /// auditable path, agree on every tricky payload: the same claims and registered claims,
    /// or the same error.
    #[test]
    fn verify_agrees_with_the_auditable_path_on_tricky_payloads() {
        let key = SigningKey::hmac(Algorithm::HS256, &[7u8; 32]).unwrap();
        let keys = KeySet::new(vec![key.verifying_key().unwrap()]);
        let header = Header::new(Algorithm::HS256);
        let base = Validation::new([Algorithm::HS256])
            .clock(Arc::new(FixedClock::new(1_750_000_000)))
            .leeway(0);
        let validations = [
            base.clone(),
            base.clone()
                .audience("orders")
                .require("roles")
                .require("x"),
            base.clone().exp_optional().subject("u"),
        ];
        let mut fast_accepted = 0;
        for payload in tricky() {
            let token = sign_jws(&key, &header, payload.as_bytes()).unwrap();
            for validation in &validations {
                let auditable = validation.clone().check(|_, _| Ok(()));
                let fast = outcome(verify::<Map<String, Value>>(&token, &keys, validation));
                let slow = outcome(verify::<Map<String, Value>>(&token, &keys, &auditable));
                assert_eq!(fast, slow, "{payload}");
                fast_accepted += usize::from(fast.is_ok());
                let fast = outcome(verify::<Typed>(&token, &keys, validation));
                let slow = outcome(verify::<Typed>(&token, &keys, &auditable));
                assert_eq!(fast, slow, "{payload}");
            }
        }
        assert!(fast_accepted > 10, "the set exercises acceptance too");
        // A token made by `encode` takes the same way.
        let token = encode(
            &key,
            &header,
            &serde_json::json!({"sub": "u", "exp": 1_800_000_000}),
        )
        .unwrap();
        assert!(verify::<Typed>(&token, &keys, &validations[0]).is_ok());
    }

    /// The one pass alone, against the auditable reading of the same bytes: whatever it
    /// returns, `parse_object`, `RegisteredClaims::from_map` and `T::deserialize` return too;
    /// where the auditable reading refuses, so does the one pass.
    #[test]
    fn the_one_pass_never_accepts_more_than_the_auditable_reading() {
        let required: Vec<String> = ["exp", "sub", "roles", "x"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for payload in tricky() {
            let auditable = crate::json::parse_object(payload.as_bytes())
                .ok()
                .and_then(|map| RegisteredClaims::from_map(&map).ok().map(|reg| (map, reg)));
            let fast = claims_one_pass::<Map<String, Value>>(payload.as_bytes(), &required);
            match (fast, &auditable) {
                (Some(read), Some((map, reg))) => {
                    assert_eq!(read.registered(), reg, "{payload}");
                    for name in &required {
                        assert_eq!(read.has(name), map.contains_key(name), "{payload}: {name}");
                    }
                    assert_eq!(&read.into_parts().0, map, "{payload}");
                }
                (Some(_), None) => panic!("{payload}: the one pass accepts more"),
                (None, _) => {}
            }
            if let Some(read) = claims_one_pass::<Typed>(payload.as_bytes(), &required) {
                let Some((map, _)) = &auditable else {
                    panic!("{payload}: the one pass accepts more");
                };
                let slow = Typed::deserialize(Value::Object(map.clone()));
                assert_eq!(Some(&read.into_parts().0), slow.as_ref().ok(), "{payload}");
            }
        }
    }
}
