//! Compact JWS tokens: parsing, signing and verification.
//!
//! An [`UnverifiedToken`] exposes its header (needed to pick a key) and nothing else; only
//! [`verify`] and [`verify_jws`] turn it into a [`Verified`] token whose claims can be read.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::b64;
use crate::claims::RegisteredClaims;
use crate::error::{Error, Result};
use crate::header::Header;
use crate::key::SigningKey;
use crate::keyset::KeySource;
use crate::validation::Validation;

/// The three segments of a compact JWS, split and checked for size and characters.
pub(crate) struct Segments<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    pub(crate) signing_input: &'a str,
}

pub(crate) fn split(token: &str, max_len: usize) -> Result<Segments<'_>> {
    if token.len() > max_len {
        return Err(Error::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    if token.is_empty() {
        return Err(Error::Malformed("empty token".into()));
    }
    if token.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Error::Malformed("token contains whitespace".into()));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let n = token.split('.').count();
        return Err(Error::Malformed(format!(
            "expected 3 segments separated by '.', found {n} (JWE and JSON serialization are not supported)"
        )));
    };
    if header.is_empty() {
        return Err(Error::Malformed("empty header segment".into()));
    }
    Ok(Segments {
        header,
        payload,
        signature,
        signing_input: &token[..header.len() + 1 + payload.len()],
    })
}

pub(crate) fn decode_segment(segment: &str, what: &str) -> Result<Vec<u8>> {
    b64::decode(segment).ok_or_else(|| Error::Malformed(format!("{what} is not strict base64url")))
}

pub(crate) fn parse_header(segment: &str) -> Result<Header> {
    let bytes = decode_segment(segment, "header")?;
    let map =
        crate::json::parse_object(&bytes).map_err(|e| Error::Malformed(format!("header: {e}")))?;
    Header::from_map(map)
}

/// A token split and its header parsed; the signature is not yet checked, so the payload is
/// not reachable.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    header: Header,
    payload_b64: &'a str,
    signature: Vec<u8>,
    signing_input: &'a str,
}

impl<'a> UnverifiedToken<'a> {
    /// Splits and decodes a compact JWS, refusing tokens longer than `max_len` before
    /// decoding anything.
    pub fn parse(token: &'a str, max_len: usize) -> Result<Self> {
        let seg = split(token, max_len)?;
        let header = parse_header(seg.header)?;
        let signature = decode_segment(seg.signature, "signature")?;
        if signature.is_empty() {
            return Err(Error::Malformed("empty signature".into()));
        }
        Ok(UnverifiedToken {
            header,
            payload_b64: seg.payload,
            signature,
            signing_input: seg.signing_input,
        })
    }

    /// The header: safe to read, since it only selects among keys the verifier trusts.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Checks the header rules and the signature; returns the header and the payload bytes.
    fn verify_signature(
        self,
        keys: &impl KeySource,
        validation: &Validation,
    ) -> Result<(Header, Vec<u8>)> {
        validation.check_header(&self.header)?;
        let candidates = keys.candidates(&self.header)?;
        let mut last = Error::InvalidSignature;
        let mut ok = false;
        for key in candidates {
            match key.verify(self.signing_input.as_bytes(), &self.signature) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(e @ Error::KeyNotUsable(_)) => last = e,
                Err(_) => last = Error::InvalidSignature,
            }
        }
        if !ok {
            return Err(last);
        }
        let payload = decode_segment(self.payload_b64, "payload")?;
        Ok((self.header, payload))
    }
}

/// A token whose signature and claims have been verified.
#[derive(Clone, Debug)]
pub struct Verified<T> {
    header: Header,
    registered: RegisteredClaims,
    claims: T,
}

impl<T> Verified<T> {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The registered claims, typed.
    pub fn registered(&self) -> &RegisteredClaims {
        &self.registered
    }

    /// The claims in the caller's type.
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// Takes the claims.
    pub fn into_claims(self) -> T {
        self.claims
    }
}

/// A JWS whose signature has been verified; its payload may be any bytes.
#[derive(Clone, Debug)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
}

impl VerifiedJws {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Takes the payload.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}

/// Verifies a JWT: size, segments, strict base64url, header (`alg` allowed and bound to the
/// selected key, `crit`, `typ`), signature, then the claims against `validation`. The claims
/// are returned in the caller's type `T` (`serde_json::Map<String, Value>` for raw JSON).
pub fn verify<T: DeserializeOwned>(
    token: &str,
    keys: &impl KeySource,
    validation: &Validation,
) -> Result<Verified<T>> {
    let (header, payload) = UnverifiedToken::parse(token, validation.max_token_len)?
        .verify_signature(keys, validation)?;
    let claims: Map<String, Value> = crate::json::parse_object(&payload)
        .map_err(|e| Error::InvalidClaims(format!("the payload is not a JSON claims set: {e}")))?;
    let registered = validation.check_claims(&header, &claims)?;
    let claims =
        T::deserialize(Value::Object(claims)).map_err(|e| Error::ClaimsShape(e.to_string()))?;
    Ok(Verified {
        header,
        registered,
        claims,
    })
}

/// Verifies a JWS of any payload: size, segments, base64url, header rules and signature. No
/// claim is looked at.
pub fn verify_jws(
    token: &str,
    keys: &impl KeySource,
    validation: &Validation,
) -> Result<VerifiedJws> {
    let (header, payload) = UnverifiedToken::parse(token, validation.max_token_len)?
        .verify_signature(keys, validation)?;
    Ok(VerifiedJws { header, payload })
}

/// Signs `claims` as a JWT with `key`. The header's `alg` must be the key's.
pub fn encode<T: Serialize + ?Sized>(
    key: &SigningKey,
    header: &Header,
    claims: &T,
) -> Result<String> {
    let payload = serde_json::to_vec(claims).map_err(|e| Error::Serialize(e.to_string()))?;
    if !payload.starts_with(b"{") {
        return Err(Error::Serialize(
            "JWT claims must serialize to a JSON object".into(),
        ));
    }
    sign_jws(key, header, &payload)
}

/// Signs any payload bytes as a compact JWS with `key`. The header's `alg` must be the key's.
pub fn sign_jws(key: &SigningKey, header: &Header, payload: &[u8]) -> Result<String> {
    if header.alg != key.algorithm() {
        return Err(Error::KeyAlgorithmMismatch {
            key: key.algorithm(),
            requested: header.alg,
        });
    }
    let header_json = header.to_json()?;
    let mut out = String::with_capacity((header_json.len() + payload.len()) * 4 / 3 + 700);
    b64::encode_into(&header_json, &mut out);
    out.push('.');
    b64::encode_into(payload, &mut out);
    let signature = key.sign(out.as_bytes())?;
    out.push('.');
    b64::encode_into(&signature, &mut out);
    Ok(out)
}
