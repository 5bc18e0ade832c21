//! Registered claims (RFC 7519 §4.1), read strictly: a registered claim of the wrong JSON type
//! is an error, never silently skipped.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// Latest accepted date: 9999-12-31T23:59:59Z.
const MAX_DATE: f64 = 253_402_300_799.0;

/// A JSON NumericDate: seconds since the epoch, possibly fractional, between 1970 and 9999.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct NumericDate(f64);

impl NumericDate {
    /// A date from whole seconds. Values outside 1970..=9999 are refused.
    pub fn from_secs(secs: i64) -> Result<Self> {
        #[allow(clippy::cast_precision_loss)] // the range check bounds it well inside f64's
        Self::from_f64(secs as f64)
    }

    /// A date from seconds, possibly fractional.
    pub fn from_f64(secs: f64) -> Result<Self> {
        if secs.is_finite() && (0.0..=MAX_DATE).contains(&secs) {
            Ok(NumericDate(secs))
        } else {
            Err(Error::InvalidClaim {
                claim: "date",
                reason: format!("{secs} is outside 1970-01-01..9999-12-31"),
            })
        }
    }

    /// The date as a clock reading, which is never out of range: clamped to 1970..=9999.
    pub(crate) fn clamp(secs: i64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        NumericDate((secs as f64).clamp(0.0, MAX_DATE))
    }

    /// Seconds since the epoch.
    pub fn as_f64(self) -> f64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn as_secs(self) -> i64 {
        #[allow(clippy::cast_possible_truncation)] // in range by construction
        {
            self.0.floor() as i64
        }
    }

    fn from_value(claim: &'static str, value: &Value) -> Result<Self> {
        let secs = match value {
            Value::Number(n) => n.as_f64().ok_or_else(|| Error::InvalidClaim {
                claim,
                reason: "not a representable number".into(),
            })?,
            other => {
                return Err(Error::InvalidClaim {
                    claim,
                    reason: format!(
                        "expected a number of seconds, found {}",
                        crate::json::kind(other)
                    ),
                });
            }
        };
        Self::from_f64(secs).map_err(|_| Error::InvalidClaim {
            claim,
            reason: format!("{value} is outside 1970-01-01..9999-12-31"),
        })
    }
}

impl fmt::Display for NumericDate {
    /// RFC 3339 in UTC, whole seconds: `2026-11-23T10:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.as_secs())
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
        {
            Some(s) => f.write_str(&s),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for NumericDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 {
            s.serialize_i64(self.as_secs())
        } else {
            s.serialize_f64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        NumericDate::from_f64(v).map_err(serde::de::Error::custom)
    }
}

/// The `aud` claim: one string or an array of strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Every audience named.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Audience::One(s) => std::slice::from_ref(s),
            Audience::Many(v) => v,
        };
        slice.iter().map(String::as_str)
    }

    /// Whether `aud` is among them.
    pub fn contains(&self, aud: &str) -> bool {
        self.iter().any(|a| a == aud)
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iter().collect::<Vec<_>>().join(", "))
    }
}

/// The registered claims of a token, each checked for its JSON type.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RegisteredClaims {
    /// `iss`.
    pub iss: Option<String>,
    /// `sub`.
    pub sub: Option<String>,
    /// `aud`.
    pub aud: Option<Audience>,
    /// `exp`.
    pub exp: Option<NumericDate>,
    /// `nbf`.
    pub nbf: Option<NumericDate>,
    /// `iat`.
    pub iat: Option<NumericDate>,
    /// `jti`.
    pub jti: Option<String>,
}

impl RegisteredClaims {
    /// Reads the registered claims of a claims set. A registered claim whose JSON type is
    /// wrong (a string `exp`, a number `iss`, an `aud` array holding a number) is an error.
    pub fn from_map(claims: &Map<String, Value>) -> Result<Self> {
        Ok(RegisteredClaims {
            iss: string_claim(claims, "iss")?,
            sub: string_claim(claims, "sub")?,
            aud: match claims.get("aud") {
                None => None,
                Some(Value::String(s)) => Some(Audience::One(s.clone())),
                Some(Value::Array(items)) => Some(Audience::Many(
                    items
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(s.clone()),
                            other => Err(Error::InvalidClaim {
                                claim: "aud",
                                reason: format!(
                                    "array member is {}, not a string",
                                    crate::json::kind(other)
                                ),
                            }),
                        })
                        .collect::<Result<_>>()?,
                )),
                Some(other) => {
                    return Err(Error::InvalidClaim {
                        claim: "aud",
                        reason: format!(
                            "expected a string or an array of strings, found {}",
                            crate::json::kind(other)
                        ),
                    });
                }
            },
            exp: date_claim(claims, "exp")?,
            nbf: date_claim(claims, "nbf")?,
            iat: date_claim(claims, "iat")?,
            jti: string_claim(claims, "jti")?,
        })
    }
}

fn string_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<String>> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::InvalidClaim {
            claim: name,
            reason: format!("expected a string, found {}", crate::json::kind(other)),
        }),
    }
}

fn date_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<NumericDate>> {
    claims
        .get(name)
        .map(|v| NumericDate::from_value(name, v))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Result<RegisteredClaims> {
        match v {
            Value::Object(m) => RegisteredClaims::from_map(&m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn wrong_types_are_errors_not_skipped() {
        assert!(claims(json!({"exp": "1300819380"})).is_err());
        assert!(claims(json!({"nbf": true})).is_err());
        assert!(claims(json!({"iat": null})).is_err());
        assert!(claims(json!({"iss": 1})).is_err());
        assert!(claims(json!({"sub": ["a"]})).is_err());
        assert!(claims(json!({"aud": ["a", 1]})).is_err());
        assert!(claims(json!({"aud": {"a": 1}})).is_err());
        assert!(claims(json!({"jti": 5})).is_err());
    }

    #[test]
    fn dates_in_range_integer_or_float() {
        let c = claims(json!({"exp": 1300819380, "nbf": 1300819379.5, "iat": 0})).unwrap();
        assert_eq!(c.exp.unwrap().as_secs(), 1300819380);
        assert_eq!(c.nbf.unwrap().as_secs(), 1300819379);
        assert!(claims(json!({"exp": -1})).is_err());
        assert!(claims(json!({"exp": 253402300800_i64})).is_err());
        assert!(claims(json!({"exp": 1e300})).is_err());
        assert!(claims(json!({"exp": u64::MAX})).is_err());
    }

    #[test]
    fn dates_display_as_rfc3339() {
        let d = NumericDate::from_secs(1_795_428_000).unwrap();
        assert_eq!(d.to_string(), "2026-11-23T10:00:00Z");
    }
}
