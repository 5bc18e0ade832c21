//! Arbitrary bytes as a compact JWS: parsed, decoded without verifying, and verified against a
//! fixed set of keys (HS256, RSA for RS256 and PS256, ES256, ES512, EdDSA) under several
//! validations. Nothing may panic.
//!
//! A forged token stops at the signature, so the input may instead say what to sign: `P`
//! then a payload (under a fixed header), or `H`, a header, a newline, then a payload; the
//! target signs it with the HMAC key, and the header and claims rules get arbitrary JSON.
//! Any other input is the token itself.
//!
//! It also holds the one-pass claims reading to the canonical one: the same token verified
//! with and without a custom check (which takes the canonical path) must give the same claims,
//! or the same error.

#![no_main]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tessera_jwt::{
    Algorithm, Audience, FixedClock, JwkSet, KeySet, SigningKey, UnverifiedToken, Validation,
    dangerous, verify, verify_jws,
};

/// The seeds' claims are valid at this time.
const NOW: i64 = 1_800_000_100;
const MAX_LEN: usize = 16 * 1024;

struct Fixture {
    keys: KeySet,
    hmac: SigningKey,
    validations: Vec<Validation>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    // Public halves of published RFC test keys, and the RFC 7515 A.1 HMAC secret.
    let set = JwkSet::from_json(include_bytes!("../keys.jwks")).expect("keys.jwks is a JWKS");
    let algorithms = [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::PS256,
        Algorithm::ES256,
        Algorithm::ES512,
        Algorithm::EdDSA,
    ];
    let keys = KeySet::from_jwks(&set, &algorithms);
    assert!(keys.skipped().is_empty(), "{:?}", keys.skipped());
    let hmac = set
        .keys
        .iter()
        .find(|k| k.kty == "oct")
        .map(|k| SigningKey::from_jwk(k, None).expect("the HMAC key signs"))
        .expect("keys.jwks has an HMAC key");
    let clock = Arc::new(FixedClock::new(NOW));
    let validations = vec![
        // What an API checks.
        Validation::new(algorithms)
            .issuer("https://issuer.example")
            .audience("api")
            .typ("at+jwt")
            .clock(clock.clone()),
        // What a tool that inspects tokens accepts.
        Validation::new(Algorithm::ALL)
            .insecure_any_audience()
            .insecure_ignore_exp()
            .understand_crit("exp")
            .clock(clock.clone()),
        // Required claims, a subject, an age limit, no leeway, the keys' own algorithms.
        Validation::default()
            .require("sub")
            .require("roles")
            .require("x")
            .subject("u-1")
            .max_age(3600)
            .leeway(0)
            .insecure_any_audience()
            .clock(clock),
    ];
    Fixture {
        keys,
        hmac,
        validations,
    }
});

/// A claims type that reads some members and skips the rest.
#[derive(Debug, PartialEq, Deserialize)]
struct Typed {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<f64>,
    roles: Option<Vec<String>>,
}

/// One that reads everything through `flatten`.
#[derive(Debug, PartialEq, Deserialize)]
struct Flattened {
    sub: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// The same token, the same validation, through the one pass and through the canonical path.
fn agree<T: DeserializeOwned + PartialEq + Debug>(token: &str, keys: &KeySet, v: &Validation) {
    let one_pass = verify::<T>(token, keys, v);
    let canonical = verify::<T>(token, keys, &v.clone().check(|_, _| Ok(())));
    match (one_pass, canonical) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.claims(), b.claims(), "{token}");
            assert_eq!(a.registered(), b.registered(), "{token}");
            assert_eq!(a.header(), b.header(), "{token}");
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{token}"),
        (a, b) => panic!("{token}: one pass {:?}, canonical {:?}", a.err(), b.err()),
    }
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// A token of this header and payload, signed with the HMAC key.
fn signed(fixture: &Fixture, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let signature = fixture.hmac.sign(input.as_bytes()).expect("HMAC signs");
    format!("{input}.{}", b64(&signature))
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let token = match data.split_first() {
        Some((b'P', payload)) => signed(
            fixture,
            br#"{"alg":"HS256","kid":"hs","typ":"at+jwt"}"#,
            payload,
        ),
        Some((b'H', rest)) => {
            let (header, payload) = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or((rest, &b""[..]), |at| (&rest[..at], &rest[at + 1..]));
            signed(fixture, header, payload)
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    let token = token.as_str();

    if let Ok(parts) = dangerous::decode_without_verifying(token, MAX_LEN) {
        let _ = parts.payload_json();
    }
    if let Ok(parsed) = UnverifiedToken::parse(token, MAX_LEN) {
        let _ = parsed.header().kid.as_deref();
    }
    for v in &fixture.validations {
        let _ = verify_jws(token, &fixture.keys, v);
        agree::<Map<String, Value>>(token, &fixture.keys, v);
        agree::<Value>(token, &fixture.keys, v);
        agree::<Typed>(token, &fixture.keys, v);
        agree::<Flattened>(token, &fixture.keys, v);
        if let Ok(verified) = verify::<Value>(token, &fixture.keys, v) {
            let _ = verified.registered().exp.map(|d| d.to_string());
            assert!(verified.claims().is_object());
        }
    }
});
