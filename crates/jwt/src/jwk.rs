//! JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037) as data, and RFC 7638 thumbprints.
//!
//! A [`Jwk`] is only the JSON model: turning it into something that signs or verifies is
//! the job of [`SigningKey`](crate::SigningKey) and [`VerifyingKey`](crate::VerifyingKey).

use std::fmt;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::b64;
use crate::error::{Error, Result};

/// A string holding secret key material (`d`, `k`, the RSA primes…): zeroized on drop and
/// redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(s: String) -> Self {
        SecretString(s)
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// One JSON Web Key. Members tessera does not use are kept in `other` and written back.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Jwk {
    /// Key type: `RSA`, `EC`, `OKP` or `oct`.
    pub kty: String,
    /// Public key use: `sig` or `enc`.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Permitted operations (`sign`, `verify`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// The algorithm the key is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Curve (`EC`, `OKP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Public x coordinate (`EC`) or public key (`OKP`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Public y coordinate (`EC`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private scalar (`EC`), seed (`OKP`) or private exponent (`RSA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<SecretString>,
    /// RSA first prime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<SecretString>,
    /// RSA second prime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<SecretString>,
    /// RSA first factor CRT exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<SecretString>,
    /// RSA second factor CRT exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<SecretString>,
    /// RSA first CRT coefficient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<SecretString>,
    /// Symmetric key value (`oct`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<SecretString>,
    /// Other members, kept as they are (`x5c`, `x5t`, `oth`, …). They never supply keys. A
    /// member named like one of the fields above is not written: the field is the key's.
    #[serde(flatten, serialize_with = "serialize_other")]
    pub other: Map<String, Value>,
}

/// The JWK members that have a field of their own in [`Jwk`].
const FIELDS: [&str; 17] = [
    "kty", "use", "key_ops", "alg", "kid", "crv", "x", "y", "n", "e", "d", "p", "q", "dp", "dq",
    "qi", "k",
];

/// Writes `other` without the members that would repeat a field (a JSON object with a member
/// twice is read differently by different parsers, and refused by tessera).
fn serialize_other<S: serde::Serializer>(
    other: &Map<String, Value>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_map(other.iter().filter(|(k, _)| !FIELDS.contains(&k.as_str())))
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("use", &self.use_)
            .field("crv", &self.crv)
            .field("private", &self.is_private())
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Parses one JWK from JSON, strictly (duplicate members rejected).
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let map =
            crate::json::parse_object(json).map_err(|e| Error::InvalidKey(format!("JWK: {e}")))?;
        Self::from_map(map)
    }

    pub(crate) fn from_map(map: Map<String, Value>) -> Result<Self> {
        serde_json::from_value(Value::Object(map))
            .map_err(|e| Error::InvalidKey(format!("JWK: {e}")))
    }

    /// Serializes to compact JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Serialize(e.to_string()))
    }

    /// Whether the JWK holds private (or secret) key material.
    pub fn is_private(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }

    /// The same key with every private member removed. For `oct` keys there is no public half:
    /// `None`.
    pub fn to_public(&self) -> Option<Jwk> {
        if self.kty == "oct" {
            return None;
        }
        let mut other = self.other.clone();
        // RSA multi-prime info is private too.
        other.remove("oth");
        Some(Jwk {
            kty: self.kty.clone(),
            use_: self.use_.clone(),
            // The public half may do the counterpart of each private operation.
            key_ops: self.key_ops.as_ref().map(|ops| {
                let mut public: Vec<String> = Vec::new();
                for op in ops {
                    let op = match op.as_str() {
                        "sign" => "verify",
                        "decrypt" => "encrypt",
                        "unwrapKey" => "wrapKey",
                        other => other,
                    };
                    if !public.iter().any(|p| p == op) {
                        public.push(op.to_owned());
                    }
                }
                public
            }),
            alg: self.alg.clone(),
            kid: self.kid.clone(),
            crv: self.crv.clone(),
            x: self.x.clone(),
            y: self.y.clone(),
            n: self.n.clone(),
            e: self.e.clone(),
            other,
            ..Jwk::default()
        })
    }

    /// The RFC 7638 thumbprint: base64url of the SHA-256 of the canonical required members.
    pub fn thumbprint(&self) -> Result<String> {
        let missing = |m: &str| Error::InvalidKey(format!("JWK of kty {} lacks `{m}`", self.kty));
        // Members in lexicographic order, no whitespace (RFC 7638 §3.2).
        let members: Vec<(&str, &str)> = match self.kty.as_str() {
            "RSA" => vec![
                ("e", self.e.as_deref().ok_or_else(|| missing("e"))?),
                ("kty", "RSA"),
                ("n", self.n.as_deref().ok_or_else(|| missing("n"))?),
            ],
            "EC" => vec![
                ("crv", self.crv.as_deref().ok_or_else(|| missing("crv"))?),
                ("kty", "EC"),
                ("x", self.x.as_deref().ok_or_else(|| missing("x"))?),
                ("y", self.y.as_deref().ok_or_else(|| missing("y"))?),
            ],
            "OKP" => vec![
                ("crv", self.crv.as_deref().ok_or_else(|| missing("crv"))?),
                ("kty", "OKP"),
                ("x", self.x.as_deref().ok_or_else(|| missing("x"))?),
            ],
            "oct" => vec![
                (
                    "k",
                    self.k
                        .as_ref()
                        .map(SecretString::expose)
                        .ok_or_else(|| missing("k"))?,
                ),
                ("kty", "oct"),
            ],
            other => return Err(Error::InvalidKey(format!("unsupported kty `{other}`"))),
        };
        let mut canonical = String::from("{");
        for (i, (name, value)) in members.iter().enumerate() {
            if i > 0 {
                canonical.push(',');
            }
            // Names and values are plain ASCII here, but let serde_json do the quoting.
            canonical.push_str(&Value::from(*name).to_string());
            canonical.push(':');
            canonical.push_str(&Value::from(*value).to_string());
        }
        canonical.push('}');
        let hash = digest::digest(&digest::SHA256, canonical.as_bytes());
        canonical.zeroize();
        Ok(b64::encode(hash.as_ref()))
    }
}

/// A JWK Set (RFC 7517 §5).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
    /// Members of `keys` that could not be read as a JWK, with the reason.
    #[serde(skip)]
    skipped: Vec<(Option<String>, String)>,
}

impl JwkSet {
    /// A set of these keys.
    pub fn new(keys: Vec<Jwk>) -> Self {
        JwkSet {
            keys,
            skipped: Vec::new(),
        }
    }

    /// Parses a JWK Set from JSON, strictly: the document must be strict JSON with a `keys`
    /// array. A member of `keys` that is not a readable JWK (a string, a `kid` that is a
    /// number…) is left out and listed in [`skipped`](Self::skipped), as RFC 7517 §5 asks, so
    /// that one odd key of a provider's set does not take the others down.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let mut map =
            crate::json::parse_object(json).map_err(|e| Error::InvalidKey(format!("JWKS: {e}")))?;
        let entries = match map.remove("keys") {
            Some(Value::Array(keys)) => keys,
            Some(_) => return Err(Error::InvalidKey("JWKS: `keys` is not an array".into())),
            None => return Err(Error::InvalidKey("JWKS: no `keys` member".into())),
        };
        let mut set = JwkSet::default();
        for entry in entries {
            match entry {
                Value::Object(m) => {
                    let kid = m.get("kid").and_then(Value::as_str).map(str::to_owned);
                    match Jwk::from_map(m) {
                        Ok(jwk) => set.keys.push(jwk),
                        Err(e) => set.skipped.push((kid, e.to_string())),
                    }
                }
                other => set.skipped.push((
                    None,
                    format!(
                        "a member of `keys` is {}, not a JWK",
                        crate::json::kind(&other)
                    ),
                )),
            }
        }
        Ok(set)
    }

    /// Members of `keys` that [`from_json`](Self::from_json) could not read (`kid` if it had
    /// one, why).
    pub fn skipped(&self) -> &[(Option<String>, String)] {
        &self.skipped
    }

    /// Serializes to compact JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Serialize(e.to_string()))
    }
}

/// Either one JWK or a JWK Set, as found in a key file.
#[derive(Debug)]
#[non_exhaustive]
pub enum JwkOrSet {
    /// A single key.
    Key(Box<Jwk>),
    /// A key set.
    Set(JwkSet),
}

impl JwkOrSet {
    /// Parses JSON holding a JWK or a JWKS (an object with `keys`).
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let map =
            crate::json::parse_object(json).map_err(|e| Error::InvalidKey(format!("JWK: {e}")))?;
        if map.contains_key("keys") && !map.contains_key("kty") {
            let bytes = serde_json::to_vec(&map).map_err(|e| Error::Serialize(e.to_string()))?;
            Ok(JwkOrSet::Set(JwkSet::from_json(&bytes)?))
        } else {
            Ok(JwkOrSet::Key(Box::new(Jwk::from_map(map)?)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_section_3_1() {
        let jwk = Jwk::from_json(br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(
            jwk.thumbprint().unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn debug_redacts_and_public_strips() {
        let jwk = Jwk::from_json(br#"{"kty":"oct","k":"c2VjcmV0c2VjcmV0"}"#).unwrap();
        assert!(!format!("{jwk:?}").contains("c2Vj"));
        assert!(jwk.to_public().is_none());
        let ec = Jwk::from_json(br#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret","key_ops":["sign","verify"]}"#).unwrap();
        let public = ec.to_public().unwrap();
        assert!(public.d.is_none());
        assert_eq!(public.key_ops.unwrap(), vec!["verify".to_string()]);
        // A signing-only private key gives a public key that may verify.
        let ec = Jwk::from_json(
            br#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"secret","key_ops":["sign"]}"#,
        )
        .unwrap();
        assert_eq!(
            ec.to_public().unwrap().key_ops.unwrap(),
            vec!["verify".to_string()]
        );
    }

    #[test]
    fn duplicate_members_rejected() {
        assert!(Jwk::from_json(br#"{"kty":"oct","k":"AAAA","k":"BBBB"}"#).is_err());
        assert!(JwkSet::from_json(br#"{"keys":[],"keys":[]}"#).is_err());
    }
}
