// Over 600 lines: 140 of them are the tests of the split, whitespace and header rules, kept beside that code.
//! Compact JWS tokens: parsing, signing and verification.
//!
//! An [`UnverifiedToken`] exposes its header (needed to pick a key) and nothing else; only
//! [`verify`] and [`verify_jws`] turn it into a [`Verified`] token whose claims can be read.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::b64;
use crate::claims::RegisteredClaims;
use crate::error::{Error, Result};
use crate::fast_path;
use crate::header::Header;
use crate::json::NameSeed;
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
    check_size(token, max_len)?;
    if has_whitespace(token.as_bytes()) {
        return Err(whitespace());
    }
    segments(token)
}

/// The size limit, before anything else is looked at.
fn check_size(token: &str, max_len: usize) -> Result<()> {
    if token.len() > max_len {
        return Err(Error::TooLarge {
            len: token.len(),
            max: max_len,
        });
    }
    if token.is_empty() {
        return Err(Error::Malformed("empty token".into()));
    }
    Ok(())
}

fn whitespace() -> Error {
    Error::Malformed("token contains whitespace".into())
}

fn segments(token: &str) -> Result<Segments<'_>> {
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

/// Parses `token` and checks its header rules and signature, returning the header and the
/// decoded payload: the first half of [`verify`] and [`verify_jws`].
///
/// Whitespace is looked for only when something fails: no base64url character is whitespace,
/// so a token with any fails to decode one of its three segments by the end of this, and the
/// error it would have met first, "token contains whitespace", replaces whatever failed.
fn check_signed<'b>(
    token: &str,
    keys: &impl KeySource,
    validation: &Validation,
    buf: &'b mut [u8],
) -> Result<(Header, Cow<'b, [u8]>)> {
    check_size(token, validation.max_token_len)?;
    let checked = segments(token).and_then(|seg| {
        let token = UnverifiedToken::from_segments(&seg)?;
        let payload = token.verify_signature(keys, validation, buf)?;
        Ok((token.header, payload))
    });
    checked.map_err(|e| {
        if has_whitespace(token.as_bytes()) {
            whitespace()
        } else {
            e
        }
    })
}

/// Whether `bytes` holds ASCII whitespace. Every whitespace byte is at most `b' '`, and no
/// byte of a well-formed token is, so the common case is one pass that the compiler
/// vectorizes, with no early exit.
fn has_whitespace(bytes: &[u8]) -> bool {
    let low = bytes.iter().fold(false, |seen, &b| seen | (b <= b' '));
    low && bytes.iter().any(u8::is_ascii_whitespace)
}

pub(crate) fn decode_segment(segment: &str, what: &str) -> Result<Vec<u8>> {
    b64::decode(segment).ok_or_else(|| Error::Malformed(format!("{what} is not strict base64url")))
}

pub(crate) fn parse_header(segment: &str) -> Result<Header> {
    let mut buf = [0u8; 256];
    let bytes = b64::decode_in(segment, &mut buf)
        .ok_or_else(|| Error::Malformed("header is not strict base64url".into()))?;
    let bytes = &*bytes;
    if let Some(header) = common_header(bytes) {
        return Ok(header);
    }
    let map =
        crate::json::parse_object(bytes).map_err(|e| Error::Malformed(format!("header: {e}")))?;
    Header::from_map(map)
}

/// The algorithm of this name: the names tessera knows are matched as one number, and any
/// other goes to `Algorithm::from_str`, which decides.
fn algorithm(name: &str) -> Option<Algorithm> {
    const fn five(name: &[u8; 5]) -> u64 {
        u64::from_le_bytes([name[0], name[1], name[2], name[3], name[4], 0, 0, 0])
    }
    const HS256: u64 = five(b"HS256");
    const HS384: u64 = five(b"HS384");
    const HS512: u64 = five(b"HS512");
    const RS256: u64 = five(b"RS256");
    const RS384: u64 = five(b"RS384");
    const RS512: u64 = five(b"RS512");
    const PS256: u64 = five(b"PS256");
    const PS384: u64 = five(b"PS384");
    const PS512: u64 = five(b"PS512");
    const ES256: u64 = five(b"ES256");
    const ES384: u64 = five(b"ES384");
    const ES512: u64 = five(b"ES512");
    const EDDSA: u64 = five(b"EdDSA");
    let &[a, b, c, d, e] = name.as_bytes() else {
        return name.parse().ok();
    };
    Some(match u64::from_le_bytes([a, b, c, d, e, 0, 0, 0]) {
        HS256 => Algorithm::HS256,
        HS384 => Algorithm::HS384,
        HS512 => Algorithm::HS512,
        RS256 => Algorithm::RS256,
        RS384 => Algorithm::RS384,
        RS512 => Algorithm::RS512,
        PS256 => Algorithm::PS256,
        PS384 => Algorithm::PS384,
        PS512 => Algorithm::PS512,
        ES256 => Algorithm::ES256,
        ES384 => Algorithm::ES384,
        ES512 => Algorithm::ES512,
        EDDSA => Algorithm::EdDSA,
        _ => return name.parse().ok(),
    })
}

/// A three-byte name as one number.
const fn three(name: &[u8; 3]) -> u32 {
    u32::from_le_bytes([name[0], name[1], name[2], 0])
}

/// The header of nearly every token, read in one pass: an object of `alg` and, at most once
/// each, `typ`, `kid` and `cty`, every one a string. Anything else (another member, another
/// type, a duplicate, a bad `alg`) gives `None`, and [`Header::from_map`] decides, with its
/// precise error; so this accepts only what that accepts, with the same result.
fn common_header(bytes: &[u8]) -> Option<Header> {
    struct Common;

    impl<'de> Visitor<'de> for Common {
        type Value = Header;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JOSE header")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Header, A::Error> {
            let other = || de::Error::custom("not a common header");
            let mut alg: Option<Algorithm> = None;
            let (mut typ, mut kid, mut cty) = (None, None, None);
            const ALG: u32 = three(b"alg");
            const TYP: u32 = three(b"typ");
            const KID: u32 = three(b"kid");
            const CTY: u32 = three(b"cty");
            while let Some(name) = map.next_key_seed(NameSeed)? {
                let [a, b, c] = *name.as_bytes() else {
                    return Err(other());
                };
                let slot = match u32::from_le_bytes([a, b, c, 0]) {
                    ALG if alg.is_none() => {
                        let value: Cow<'de, str> = map.next_value_seed(NameSeed)?;
                        alg = Some(algorithm(&value).ok_or_else(other)?);
                        continue;
                    }
                    TYP => &mut typ,
                    KID => &mut kid,
                    CTY => &mut cty,
                    _ => return Err(other()),
                };
                if slot.is_some() {
                    return Err(other());
                }
                *slot = Some(map.next_value::<String>()?);
            }
            Ok(Header {
                alg: alg.ok_or_else(other)?,
                typ,
                kid,
                cty,
                crit: None,
                extra: Map::new(),
            })
        }
    }

    let mut de = serde_json::Deserializer::from_slice(bytes);
    let header = de::Deserializer::deserialize_map(&mut de, Common).ok()?;
    de.end().ok()?;
    Some(header)
}

/// Payloads up to this many bytes are decoded in place (most access tokens' are), since
/// `verify` only reads them.
const PAYLOAD_IN_PLACE: usize = 512;

/// A token split and its header parsed; the signature is not yet checked, so the payload is
/// not reachable.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    header: Header,
    payload_b64: &'a str,
    /// Fits in place for HMAC, ECDSA and Ed25519.
    signature: b64::Decoded<132>,
    signing_input: &'a str,
}

impl<'a> UnverifiedToken<'a> {
    /// Splits and decodes a compact JWS, refusing tokens longer than `max_len` before
    /// decoding anything.
    pub fn parse(token: &'a str, max_len: usize) -> Result<Self> {
        Self::from_segments(&split(token, max_len)?)
    }

    #[inline]
    fn from_segments(seg: &Segments<'a>) -> Result<Self> {
        let header = parse_header(seg.header)?;
        let signature = b64::decode_small(seg.signature)
            .ok_or_else(|| Error::Malformed("signature is not strict base64url".into()))?;
        if signature.as_slice().is_empty() {
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

    /// Checks the header rules and the signature; returns the payload bytes.
    fn verify_signature<'b>(
        &self,
        keys: &impl KeySource,
        validation: &Validation,
        buf: &'b mut [u8],
    ) -> Result<Cow<'b, [u8]>> {
        self.check_signature(keys, validation)?;
        b64::decode_in(self.payload_b64, buf).ok_or_else(payload_not_base64url)
    }

    /// Checks the header rules and the signature over the token's own `header.payload` bytes.
    #[inline]
    pub(crate) fn check_signature(
        &self,
        keys: &impl KeySource,
        validation: &Validation,
    ) -> Result<()> {
        validation.check_header(&self.header)?;
        let mut last = None;
        for key in keys.candidates(&self.header)? {
            match key.verify(self.signing_input.as_bytes(), self.signature.as_slice()) {
                Ok(()) => return Ok(()),
                Err(e @ Error::KeyNotUsable(_)) => last = Some(e),
                Err(_) => last = None,
            }
        }
        Err(last.unwrap_or(Error::InvalidSignature))
    }

    /// The payload segment, still base64url-encoded.
    pub(crate) fn payload_b64(&self) -> &'a str {
        self.payload_b64
    }
}

/// The error for a payload segment that does not decode, met once the signature holds.
pub(crate) fn payload_not_base64url() -> Error {
    Error::Malformed("payload is not strict base64url".into())
}

/// The error for a payload that is not a JSON claims set, met once the signature holds.
pub(crate) fn not_a_claims_set(reason: &str) -> Error {
    Error::InvalidClaims(format!("the payload is not a JSON claims set: {reason}"))
}

/// A token whose signature and claims have been verified.
#[derive(Clone, Debug)]
pub struct Verified<T> {
    header: Header,
    registered: RegisteredClaims,
    claims: T,
}

impl<T> Verified<T> {
    /// Only after the signature and the claims have been checked.
    pub(crate) fn new(header: Header, registered: RegisteredClaims, claims: T) -> Self {
        Verified {
            header,
            registered,
            claims,
        }
    }

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
    let mut buf = [0u8; PAYLOAD_IN_PLACE];
    let (header, payload) = check_signed(token, keys, validation, &mut buf)?;
    // For speed only: the claims set read once, when the one pass can vouch for it. Custom
    // checks need the claims as a map; and whatever the one pass leaves, the auditable path
    // below reads again and decides, with its precise error.
    if !validation.has_custom_checks()
        && let Some(read) = fast_path::claims_one_pass::<T>(&payload, &validation.required)
    {
        validation.check_registered(read.registered(), |claim| read.has(claim))?;
        let (claims, registered) = read.into_parts();
        return Ok(Verified {
            header,
            registered,
            claims,
        });
    }
    let claims: Map<String, Value> =
        crate::json::parse_object(&payload).map_err(|e| not_a_claims_set(&e))?;
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
    let (header, payload) = check_signed(token, keys, validation, &mut [])?;
    Ok(VerifiedJws {
        header,
        payload: payload.into_owned(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_found_anywhere() {
        assert!(!has_whitespace(b"eyJhbGciOiJIUzI1NiJ9.e30.c2ln-_"));
        for ws in [b' ', b'\t', b'\n', b'\r', 0x0c] {
            for at in [0, 7, 40] {
                let mut token =
                    b"eyJhbGciOiJIUzI1NiJ9.e30.c2lnYXR1cmUtYW5kLW1vcmUtYnl0ZXM".to_vec();
                token[at] = ws;
                assert!(has_whitespace(&token), "{ws:#x} at {at}");
            }
        }
        // Control bytes below the space are not whitespace: base64url refuses them later.
        assert!(!has_whitespace(b"a\x01b\x1fc"));
    }

    #[test]
    fn whitespace_anywhere_is_the_error_even_when_looked_for_last() {
        use crate::keyset::KeySet;
        let key = SigningKey::hmac(Algorithm::HS256, &[7u8; 32]).unwrap();
        let keys = KeySet::new(vec![key.verifying_key().unwrap()]);
        let validation = Validation::new([Algorithm::HS256]).insecure_ignore_exp();
        let good = encode(
            &key,
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"a": 1}),
        )
        .unwrap();
        verify::<Value>(&good, &keys, &validation).unwrap();
        let mut forged = good.clone();
        forged.replace_range(good.len() - 2.., "AA");
        for token in [good, forged] {
            for at in 0..=token.len() {
                for ws in [" ", "\t", "\n", "\r", "\x0c"] {
                    let mut t = token.clone();
                    t.insert_str(at, ws);
                    let expected = "malformed token: token contains whitespace";
                    let err = verify::<Value>(&t, &keys, &validation).unwrap_err();
                    assert_eq!(err.to_string(), expected, "{t:?}");
                    let err = verify_jws(&t, &keys, &validation).unwrap_err();
                    assert_eq!(err.to_string(), expected, "{t:?}");
                    let err = UnverifiedToken::parse(&t, 4096).unwrap_err();
                    assert_eq!(err.to_string(), expected, "{t:?}");
                }
            }
        }
        let err = verify::<Value>(" ", &keys, &validation.clone().max_token_len(0)).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { .. }),
            "the size limit comes first"
        );
    }

    #[test]
    fn segments_are_split_at_exactly_two_dots() {
        let ok = segments("a.bc.d").unwrap();
        assert_eq!((ok.header, ok.payload, ok.signature), ("a", "bc", "d"));
        assert_eq!(ok.signing_input, "a.bc");
        let ok = segments("a..").unwrap();
        assert_eq!((ok.header, ok.payload, ok.signature), ("a", "", ""));
        for (token, n) in [
            ("a", 1),
            ("a.b", 2),
            ("a.b.c.d", 4),
            ("a.b.c.d.e", 5),
            ("....", 5),
        ] {
            let err = segments(token).err().unwrap().to_string();
            assert!(err.contains(&format!("found {n} ")), "{token}: {err}");
        }
        // More dots than a byte counts.
        let many = ".".repeat(600);
        assert!(
            segments(&many)
                .err()
                .unwrap()
                .to_string()
                .contains("found 601 ")
        );
        assert!(segments(".b.c").is_err(), "empty header");
    }

    #[test]
    fn algorithm_names_match_from_str() {
        for alg in Algorithm::ALL {
            assert_eq!(algorithm(alg.name()), Some(alg));
        }
        for name in [
            "none", "None", "hs256", "HS257", "EDDSA", "ES25", "ES2566", "", "HS256 ",
        ] {
            assert_eq!(algorithm(name), name.parse().ok(), "{name}");
            assert_eq!(algorithm(name), None, "{name}");
        }
    }

    /// What `Header::from_map` makes of a header, as `parse_header` did before the fast path.
    fn header_by_map(json: &str) -> Result<Header> {
        let map = crate::json::parse_object(json.as_bytes())
            .map_err(|e| Error::Malformed(format!("header: {e}")))?;
        Header::from_map(map)
    }

    #[test]
    fn the_common_header_path_agrees_with_from_map() {
        for json in [
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"ES256","typ":"at+jwt","kid":"2026-11"}"#,
            r#"{"kid":"k\u0031","cty":"JWT","typ":"JWT","alg":"EdDSA"}"#,
            r#" {"alg" : "RS256" } "#,
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"a"}"#,
            r#"{"alg":"none"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":1}"#,
            r#"{"typ":"JWT"}"#,
            r#"{"alg":"HS256","typ":null}"#,
            r#"{"alg":"HS256","kid":5}"#,
            r#"{"alg":"HS256","crit":["x"],"x":1}"#,
            r#"{"alg":"HS256","b64":false}"#,
            r#"{"alg":"HS256","jwk":{}}"#,
            r#"{"alg":"HS256"} x"#,
            r#"["alg"]"#,
        ] {
            let fast = common_header(json.as_bytes());
            let slow = header_by_map(json);
            if let Some(fast) = &fast {
                assert_eq!(Some(fast), slow.as_ref().ok(), "{json}");
            }
            let decoded = parse_header(&b64::encode(json));
            assert_eq!(
                decoded.as_ref().map_err(ToString::to_string),
                slow.as_ref().map_err(ToString::to_string),
                "{json}"
            );
        }
        assert!(common_header(br#"{"alg":"ES256","typ":"at+jwt","kid":"k"}"#).is_some());
    }
}
