//! The hook that gathers the registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`,
//! `jti`) while `T` reads them, and notes which required claims are present.

use crate::claims::{Audience, NumericDate, RegisteredClaims};

use super::hook::{Scalar, TopLevel};

/// The registered claims of a claims set, and which required claims it has, gathered while
/// `T` is read.
///
/// It accepts exactly the values [`RegisteredClaims::from_map`] accepts and reads them the
/// same way; anything else fails the one pass, and `from_map` then gives its precise error.
pub(super) struct Registered<'v> {
    pub(super) claims: RegisteredClaims,
    required: &'v [String],
    /// Bit `i` is set when `required[i]` is not a registered claim: only those are looked
    /// for among the member names (a registered one is present when its field is set).
    plain: u64,
    /// Bit `i` is set when `required[i]` is present.
    found: u64,
    /// The registered claim whose value is being read.
    pending: Option<Claim>,
    /// The pending claim's value has been seen.
    seen: bool,
    /// A registered claim was not what `from_map` accepts (or not seen whole).
    failed: bool,
    /// The outermost object was read to its end, with every registered claim accepted.
    pub(super) complete: bool,
}

const fn three(name: &[u8; 3]) -> u32 {
    u32::from_le_bytes([name[0], name[1], name[2], 0])
}
const ISS: u32 = three(b"iss");
const SUB: u32 = three(b"sub");
const AUD: u32 = three(b"aud");
const EXP: u32 = three(b"exp");
const NBF: u32 = three(b"nbf");
const IAT: u32 = three(b"iat");
const JTI: u32 = three(b"jti");

#[derive(Clone, Copy, PartialEq, Eq)]
enum Claim {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    Jti,
}

impl Claim {
    /// The registered claim of this name. Every one has three bytes: they are compared as
    /// one number.
    #[inline]
    fn of(name: &str) -> Option<Claim> {
        match *name.as_bytes() {
            [a, b, c] => match u32::from_le_bytes([a, b, c, 0]) {
                ISS => Some(Claim::Iss),
                SUB => Some(Claim::Sub),
                AUD => Some(Claim::Aud),
                EXP => Some(Claim::Exp),
                NBF => Some(Claim::Nbf),
                IAT => Some(Claim::Iat),
                JTI => Some(Claim::Jti),
                _ => None,
            },
            _ => None,
        }
    }
}

impl<'v> Registered<'v> {
    /// `None` when there are too many required claims to track in `found`.
    pub(super) fn new(required: &'v [String]) -> Option<Self> {
        (required.len() <= 64).then(|| Registered {
            claims: RegisteredClaims::default(),
            required,
            plain: required
                .iter()
                .enumerate()
                .filter(|(_, name)| Claim::of(name).is_none())
                .fold(0, |mask, (i, _)| mask | 1 << i),
            found: 0,
            pending: None,
            seen: false,
            failed: false,
            complete: false,
        })
    }

    pub(super) fn has(&self, name: &str) -> bool {
        let c = &self.claims;
        match Claim::of(name) {
            Some(Claim::Iss) => c.iss.is_some(),
            Some(Claim::Sub) => c.sub.is_some(),
            Some(Claim::Aud) => c.aud.is_some(),
            Some(Claim::Exp) => c.exp.is_some(),
            Some(Claim::Nbf) => c.nbf.is_some(),
            Some(Claim::Iat) => c.iat.is_some(),
            Some(Claim::Jti) => c.jti.is_some(),
            None => self
                .required
                .iter()
                .position(|r| r == name)
                .is_some_and(|i| self.found & (1 << i) != 0),
        }
    }

    /// A claim whose value was never seen cannot be vouched for.
    #[inline]
    fn close_pending(&mut self) {
        if self.pending.take().is_some() && !self.seen {
            self.failed = true;
        }
        self.seen = false;
    }
}

impl TopLevel for Registered<'_> {
    #[inline(always)]
    fn member(&mut self, name: &str) -> bool {
        self.close_pending();
        if self.plain != 0 {
            for (i, required) in self.required.iter().enumerate() {
                if self.plain & (1 << i) != 0 && required == name {
                    self.found |= 1 << i;
                }
            }
        }
        self.pending = Claim::of(name);
        self.pending.is_some()
    }

    #[inline(always)]
    fn value(&mut self, part: Scalar<'_>) -> Result<(), String> {
        let c = &mut self.claims;
        let first = !self.seen;
        self.seen = true;
        let taken = match (part, self.pending) {
            (Scalar::Str(s), Some(claim)) if first => match claim {
                Claim::Iss => c.iss.replace(s.to_owned()).is_none(),
                Claim::Sub => c.sub.replace(s.to_owned()).is_none(),
                Claim::Jti => c.jti.replace(s.to_owned()).is_none(),
                Claim::Aud => c.aud.replace(Audience::One(s.to_owned())).is_none(),
                Claim::Exp | Claim::Nbf | Claim::Iat => false,
            },
            (Scalar::Number(secs), Some(claim)) if first => match NumericDate::from_f64(secs) {
                Ok(date) => match claim {
                    Claim::Exp => c.exp.replace(date).is_none(),
                    Claim::Nbf => c.nbf.replace(date).is_none(),
                    Claim::Iat => c.iat.replace(date).is_none(),
                    Claim::Iss | Claim::Sub | Claim::Aud | Claim::Jti => false,
                },
                Err(_) => false,
            },
            (Scalar::Array, Some(Claim::Aud)) if first => {
                c.aud.replace(Audience::Many(Vec::new())).is_none()
            }
            (Scalar::Item(s), Some(Claim::Aud)) => match &mut c.aud {
                Some(Audience::Many(all)) => {
                    all.push(s.to_owned());
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if taken {
            Ok(())
        } else {
            self.failed = true;
            Err("a registered claim is left to the precise check".into())
        }
    }

    fn end(&mut self) {
        self.close_pending();
        self.complete = !self.failed;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value};

    use super::*;
    use crate::fast_path::claims_one_pass;

    /// The one pass, with the registered claims it gathered and which of `required` it
    /// found, or `None` where it left the claims set to the auditable path.
    fn one_pass<T: DeserializeOwned>(
        json: &str,
        required: &[String],
    ) -> Option<(T, RegisteredClaims, Vec<bool>)> {
        let read = claims_one_pass::<T>(json.as_bytes(), required)?;
        let present = required.iter().map(|r| read.has(r)).collect();
        let (claims, registered) = read.into_parts();
        Some((claims, registered, present))
    }

    #[test]
    fn a_registered_claim_whose_value_went_unseen_is_left_to_the_canonical_path() {
        let required = vec!["exp".to_owned()];
        let mut top = Registered::new(&required).unwrap();
        assert!(top.member("iss"));
        assert!(!top.member("x"));
        top.end();
        assert!(!top.complete);

        let mut top = Registered::new(&required).unwrap();
        assert!(top.member("exp"));
        top.value(Scalar::Number(1.0)).unwrap();
        assert!(top.value(Scalar::Number(2.0)).is_err(), "a second value");
        top.end();
        assert!(!top.complete);

        let mut top = Registered::new(&required).unwrap();
        assert!(top.member("exp"));
        top.value(Scalar::Number(1.0)).unwrap();
        top.end();
        assert!(top.complete && top.has("exp") && !top.has("iss"));
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Typed {
        iss: Option<String>,
        sub: String,
        aud: Option<Audience>,
        exp: Option<f64>,
        roles: Option<Vec<String>>,
    }

    fn claim_value() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just(r#""a""#),
            Just(r#""h\u0074tps:\/\/x""#),
            Just(r#""""#),
            Just("0"),
            Just("1800000000"),
            Just("1800000000.5"),
            Just("-1"),
            Just("253402300799"),
            Just("253402300800"),
            Just("1e300"),
            Just("18446744073709551616"),
            Just("true"),
            Just("null"),
            Just("[]"),
            Just(r#"["a","b"]"#),
            Just(r#"["a",1]"#),
            Just(r#"[["a"]]"#),
            Just(r#"{"a":"b"}"#),
        ]
    }

    fn claims_json() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("iss"),
            Just("sub"),
            Just("aud"),
            Just("exp"),
            Just("nbf"),
            Just("iat"),
            Just("jti"),
            Just("roles"),
            Just("x"),
            Just("i\\u0073s"),
        ];
        prop::collection::vec((name, claim_value()), 0..9).prop_map(|members| {
            let members: Vec<String> = members
                .into_iter()
                .map(|(k, v)| format!(r#""{k}":{v}"#))
                .collect();
            format!("{{{}}}", members.join(","))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the one pass accepts, the canonical path accepts with the same registered
        /// claims, the same claims and the same answer about required claims; and for a map
        /// of claims, what the canonical path accepts the one pass does not leave to it.
        #[test]
        fn registered_claims_agree_with_from_map(json in claims_json()) {
            let required: Vec<String> =
                ["exp", "iss", "roles", "x", "aud"].iter().map(|s| (*s).to_owned()).collect();
            let canonical = crate::json::parse_object(json.as_bytes())
                .ok()
                .and_then(|map| RegisteredClaims::from_map(&map).ok().map(|reg| (map, reg)));
            match (one_pass::<Map<String, Value>>(&json, &required), &canonical) {
                (Some((claims, reg, present)), Some((map, expected))) => {
                    prop_assert_eq!(&reg, expected, "{}", json);
                    prop_assert_eq!(&claims, map, "{}", json);
                    let expected: Vec<bool> = required.iter().map(|r| map.contains_key(r)).collect();
                    prop_assert_eq!(present, expected, "{}", json);
                }
                (None, None) => {}
                (fast, slow) => prop_assert!(false, "{}: one pass {:?}, canonical {:?}", json, fast.is_some(), slow.is_some()),
            }
            if let Some((typed, reg, _)) = one_pass::<Typed>(&json, &required) {
                let (map, expected) = canonical.as_ref().expect("the canonical path accepts it too");
                prop_assert_eq!(&reg, expected, "{}", json);
                let slow: Typed = serde_json::from_value(Value::Object(map.clone())).expect("typed");
                prop_assert_eq!(typed, slow, "{}", json);
            }
        }
    }
}
