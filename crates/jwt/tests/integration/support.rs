//! Helpers shared by the areas of the suite: reading the vector files, base64url and hex,
//! fixed clocks, and building tokens segment by segment (to sign exactly the bytes an attack
//! needs, including ones `encode` would never produce).

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tessera_jwt::{Algorithm, Clock, FixedClock, Jwk, SigningKey};

/// A JSON file under `tests/vectors/`.
pub(crate) fn vector(rel: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "vectors", rel]
        .iter()
        .collect();
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn b64e(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn b64d(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(crate) fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length: {text}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap_or_else(|e| panic!("{text}: {e}")))
        .collect()
}

pub(crate) fn jwk(value: &Value) -> Jwk {
    Jwk::from_json(value.to_string().as_bytes()).unwrap_or_else(|e| panic!("{value}: {e}"))
}

pub(crate) fn clock(now: i64) -> Arc<dyn Clock> {
    Arc::new(FixedClock::new(now))
}

/// The three segments of a compact token.
pub(crate) fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    [parts[0], parts[1], parts[2]]
}

/// A token made of these literal header and payload segments, signed by `key` over exactly
/// `header.payload`.
pub(crate) fn sign_segments(key: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!("{header}.{payload}");
    let signature = key.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", b64e(signature))
}

/// A token whose header and payload are these exact JSON texts (duplicates, odd spacing and
/// all), correctly signed by `key`.
pub(crate) fn sign_json(key: &SigningKey, header_json: &str, payload: &[u8]) -> String {
    sign_segments(key, &b64e(header_json), &b64e(payload))
}

/// The token with segment `index` replaced.
pub(crate) fn with_segment(token: &str, index: usize, segment: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = segment;
    parts.join(".")
}

/// The token with one bit of its signature flipped (the last byte's lowest bit).
pub(crate) fn flip_signature_bit(token: &str) -> String {
    let [_, _, sig] = segments(token);
    let mut bytes = b64d(sig);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    with_segment(token, 2, &b64e(bytes))
}

/// An HMAC key fixed for the tests that do not care which key signs.
pub(crate) fn hs256_key() -> SigningKey {
    SigningKey::hmac(Algorithm::HS256, b"tessera integration tests secret!").expect("hmac key")
}

/// A fixed "now" for tests that need a clock: 2027-01-15T08:00:00Z.
pub(crate) const NOW: i64 = 1_800_000_000;

/// One RSA key (RS256, kid `rsa`) for the whole test binary: RSA generation is slow.
pub(crate) fn rsa_key() -> &'static SigningKey {
    static KEY: std::sync::OnceLock<SigningKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        SigningKey::generate(Algorithm::RS256)
            .expect("RSA generation")
            .with_kid("rsa")
    })
}
