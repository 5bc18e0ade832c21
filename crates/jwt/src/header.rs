//! The JOSE header of a compact JWS (RFC 7515 §4).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::error::{Error, Result};
use crate::key::SigningKey;

/// Header parameters defined by JWS/JWA, which `crit` must never list (RFC 7515 §4.1.11).
const REGISTERED: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];

/// Header parameters that have a field of their own in [`Header`].
const MODELLED: [&str; 5] = ["alg", "typ", "kid", "cty", "crit"];

/// A parsed JOSE header. `jku`, `x5u`, `jwk` and `x5c` are kept in `extra` for display and
/// never used to find a key.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Header {
    /// The signature algorithm.
    pub alg: Algorithm,
    /// Media type of the whole token (`JWT`, `at+jwt`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Key id: picks among keys the verifier already trusts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Content type of the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    /// Extensions the recipient must understand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit: Option<Vec<String>>,
    /// Every other parameter.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Header {
    /// A header for `alg` with nothing else.
    pub fn new(alg: Algorithm) -> Self {
        Header {
            alg,
            typ: None,
            kid: None,
            cty: None,
            crit: None,
            extra: Map::new(),
        }
    }

    /// A header for tokens signed by `key`: its algorithm and `kid`, `typ` `JWT`.
    pub fn for_key(key: &SigningKey) -> Self {
        let mut h = Header::new(key.algorithm());
        h.kid = key.kid().map(str::to_owned);
        h.typ = Some("JWT".into());
        h
    }

    /// Sets `typ`.
    #[must_use]
    pub fn with_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Sets `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Reads a header from its JSON object, checking each registered parameter's type.
    pub(crate) fn from_map(mut map: Map<String, Value>) -> Result<Self> {
        let alg = match map.remove("alg") {
            Some(Value::String(s)) => s.parse::<Algorithm>()?,
            Some(other) => {
                return Err(Error::InvalidHeader(format!(
                    "`alg` must be a string, found {}",
                    crate::json::kind(&other)
                )));
            }
            None => return Err(Error::InvalidHeader("no `alg`".into())),
        };
        let typ = take_string(&mut map, "typ")?;
        let kid = take_string(&mut map, "kid")?;
        let cty = take_string(&mut map, "cty")?;
        let crit = match map.remove("crit") {
            None => None,
            Some(Value::Array(items)) if !items.is_empty() => Some(
                items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) if !s.is_empty() => Ok(s),
                        _ => Err(Error::InvalidHeader(
                            "`crit` must list non-empty strings".into(),
                        )),
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Some(_) => {
                return Err(Error::InvalidHeader(
                    "`crit` must be a non-empty array".into(),
                ));
            }
        };
        // RFC 7797: an unencoded payload changes what is signed; tessera does not support it.
        match map.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(_) => return Err(Error::UnsupportedCritical("b64".into())),
        }
        Ok(Header {
            alg,
            typ,
            kid,
            cty,
            crit,
            extra: map,
        })
    }

    /// RFC 7515 §4.1.11: every `crit` name must be an extension (not a registered name),
    /// present in the header, and understood by this verifier.
    pub(crate) fn check_crit(&self, understood: &[String]) -> Result<()> {
        let Some(crit) = &self.crit else {
            return Ok(());
        };
        for name in crit {
            if REGISTERED.contains(&name.as_str()) {
                return Err(Error::InvalidHeader(format!(
                    "`crit` lists the registered parameter \"{name}\""
                )));
            }
            if !self.extra.contains_key(name) {
                return Err(Error::InvalidHeader(format!(
                    "`crit` lists \"{name}\", which is not in the header"
                )));
            }
            if !understood.iter().any(|u| u == name) {
                return Err(Error::UnsupportedCritical(name.clone()));
            }
        }
        Ok(())
    }

    /// The header JSON to sign. A parameter that has its own field (`alg`, `typ`, `kid`, `cty`,
    /// `crit`) may not also be in `extra`: it would be written twice, a token tessera itself
    /// refuses and that a parser keeping the last duplicate would read differently.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>> {
        if let Some(name) = self.extra.keys().find(|k| MODELLED.contains(&k.as_str())) {
            return Err(Error::Serialize(format!(
                "header parameter `{name}` is set in `extra`; set the field `{name}` instead"
            )));
        }
        serde_json::to_vec(self).map_err(|e| Error::Serialize(e.to_string()))
    }
}

fn take_string(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::InvalidHeader(format!(
            "`{name}` must be a string, found {}",
            crate::json::kind(&other)
        ))),
    }
}

/// Media types compare case-insensitively, and `application/` may be left out (RFC 7515 §4.1.9).
pub(crate) fn same_media_type(a: &str, b: &str) -> bool {
    const PREFIX: &str = "application/";
    fn strip(s: &str) -> &str {
        // Compared as bytes: `s` is the token's, and byte 12 need not be a char boundary.
        // When the prefix matches (ASCII), it is one.
        match s.as_bytes().get(..PREFIX.len()) {
            Some(head)
                if s.len() > PREFIX.len() && head.eq_ignore_ascii_case(PREFIX.as_bytes()) =>
            {
                &s[PREFIX.len()..]
            }
            _ => s,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header(v: Value) -> Result<Header> {
        match v {
            Value::Object(m) => Header::from_map(m),
            _ => unreachable!(),
        }
    }

    #[test]
    fn alg_is_required_and_typed() {
        assert!(header(json!({})).is_err());
        assert!(header(json!({"alg": 1})).is_err());
        assert!(matches!(
            header(json!({"alg": "none"})),
            Err(Error::AlgorithmNotAllowed(_))
        ));
        assert!(header(json!({"alg": "HS256", "kid": 5})).is_err());
        assert!(header(json!({"alg": "HS256", "typ": null})).is_err());
    }

    #[test]
    fn crit_rules() {
        let h = header(json!({"alg": "HS256", "crit": ["exp"], "exp": 1})).unwrap();
        assert!(matches!(
            h.check_crit(&[]),
            Err(Error::UnsupportedCritical(_))
        ));
        assert!(h.check_crit(&["exp".into()]).is_ok());
        let h = header(json!({"alg": "HS256", "crit": ["alg"]})).unwrap();
        assert!(h.check_crit(&["alg".into()]).is_err());
        let h = header(json!({"alg": "HS256", "crit": ["missing"]})).unwrap();
        assert!(h.check_crit(&["missing".into()]).is_err());
        assert!(header(json!({"alg": "HS256", "crit": []})).is_err());
        assert!(header(json!({"alg": "HS256", "crit": "x"})).is_err());
        assert!(header(json!({"alg": "HS256", "b64": false, "crit": ["b64"]})).is_err());
    }

    #[test]
    fn media_types() {
        assert!(same_media_type("at+jwt", "application/AT+JWT"));
        assert!(same_media_type("JWT", "jwt"));
        assert!(!same_media_type("JWT", "at+jwt"));
        assert!(!same_media_type("at+jwt", "aaaaaaaaaaa\u{e9}"));
        assert!(same_media_type("application/\u{e9}", "\u{e9}"));
    }
}
