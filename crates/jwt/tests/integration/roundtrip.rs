//! Round trips for every algorithm, with proptest: random claims, `kid` and `typ` are signed,
//! verified and read back unchanged, and any one-character change to the token is rejected.
//! Also interoperability with an independent implementation (the `jsonwebtoken` crate).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use tessera_jwt::{
    Algorithm, Family, Header, KeySet, SigningKey, Validation, encode, sign_jws, verify, verify_jws,
};

use crate::support::{NOW, b64d, clock, rsa_key};

/// One key per algorithm, made once for the whole binary. The RSA algorithms share one
/// generated key (generation is slow), bound to each algorithm in turn.
fn key(alg: Algorithm) -> &'static SigningKey {
    static KEYS: OnceLock<BTreeMap<Algorithm, SigningKey>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut rsa = rsa_key().to_jwk().expect("RSA JWK");
        rsa.alg = None;
        Algorithm::ALL
            .into_iter()
            .map(|alg| {
                let key = match alg.family() {
                    Family::Rsa => SigningKey::from_jwk(&rsa, Some(alg)).expect("RSA"),
                    _ => SigningKey::generate(alg).expect("generate"),
                };
                (alg, key)
            })
            .collect()
    });
    &keys[&alg]
}

const REGISTERED: [&str; 7] = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];

/// JSON values whose text form reads back as the same value (integers, and fractions that are
/// exact in binary, so that float formatting cannot make a difference).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|n| json!(f64::from(n) / 8.0)),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn audience() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z]{1,8}".prop_map(Value::String),
        prop::collection::vec("[a-z]{1,8}", 1..4).prop_map(|v| json!(v)),
    ]
}

/// A claims set: registered claims that are valid at NOW, and custom claims of any shape.
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::option::of(any::<String>()),
        prop::option::of(any::<String>()),
        prop::option::of(audience()),
        1i64..1_000_000,
        prop::option::of(0i64..1_000_000),
        prop::option::of(0i64..1_000_000),
        prop::option::of(any::<String>()),
        prop::collection::btree_map("[a-z_][a-z0-9_:/.]{0,15}", json_value(), 0..6),
    )
        .prop_map(|(iss, sub, aud, exp, nbf, iat, jti, custom)| {
            let mut m: Map<String, Value> = custom
                .into_iter()
                .filter(|(k, _)| !REGISTERED.contains(&k.as_str()))
                .collect();
            m.insert("exp".into(), json!(NOW + exp));
            let mut put = |name: &str, v: Option<Value>| {
                if let Some(v) = v {
                    m.insert(name.into(), v);
                }
            };
            put("iss", iss.map(Value::String));
            put("sub", sub.map(Value::String));
            put("aud", aud);
            put("nbf", nbf.map(|s| json!(NOW - s)));
            put("iat", iat.map(|s| json!(NOW - s)));
            put("jti", jti.map(Value::String));
            m
        })
}

fn validation_for(alg: Algorithm, claims: &Map<String, Value>, typ: Option<&str>) -> Validation {
    let mut v = Validation::new([alg]).clock(clock(NOW)).leeway(0);
    if let Some(iss) = claims.get("iss").and_then(Value::as_str) {
        v = v.issuer(iss);
    }
    if let Some(sub) = claims.get("sub").and_then(Value::as_str) {
        v = v.subject(sub);
    }
    match claims.get("aud") {
        Some(Value::String(a)) => v = v.audience(a.clone()),
        Some(Value::Array(a)) => v = v.audience(a[a.len() - 1].as_str().expect("string")),
        _ => {}
    }
    if let Some(typ) = typ {
        v = v.typ(typ);
    }
    v
}

const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";

fn round_trip(alg: Algorithm, cases: u32) {
    let signer = key(alg);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let strategy = (
        claims(),
        prop::option::of(any::<String>()),
        prop::option::of(prop_oneof!["[A-Za-z0-9+./-]{1,20}", any::<String>()]),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
    );
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |(claims, kid, typ, at, with)| {
        let mut header = Header::new(alg);
        header.kid = kid.clone();
        header.typ = typ.clone();
        let token = encode(signer, &header, &claims).map_err(fail)?;
        let mut vk = signer.verifying_key().map_err(fail)?;
        if let Some(kid) = &kid {
            vk = vk.with_kid(kid.clone());
        }
        let keys = KeySet::new(vec![vk]);
        let validation = validation_for(alg, &claims, typ.as_deref());

        let verified = verify::<Map<String, Value>>(&token, &keys, &validation).map_err(fail)?;
        prop_assert_eq!(verified.claims(), &claims);
        prop_assert_eq!(verified.header(), &header);
        let reg = verified.registered();
        prop_assert_eq!(
            reg.iss.as_deref(),
            claims.get("iss").and_then(Value::as_str)
        );
        prop_assert_eq!(
            reg.jti.as_deref(),
            claims.get("jti").and_then(Value::as_str)
        );
        prop_assert_eq!(reg.exp.map(|d| d.as_secs()), claims["exp"].as_i64());

        let jws = verify_jws(&token, &keys, &validation).map_err(fail)?;
        let expected_payload = serde_json::to_vec(&claims).map_err(fail)?;
        prop_assert_eq!(jws.payload(), expected_payload.as_slice());

        // Any one character changed (or a space, '=', '+', '/' put in) is rejected.
        let position = at.index(token.len());
        let original = token.as_bytes()[position];
        let mut replacement = TOKEN_CHARS[with.index(TOKEN_CHARS.len())];
        if replacement == original {
            replacement = if original == b'A' { b'B' } else { b'A' };
        }
        let mut tampered = token.clone().into_bytes();
        tampered[position] = replacement;
        let tampered = String::from_utf8(tampered).map_err(fail)?;
        prop_assert!(
            verify::<Value>(&tampered, &keys, &validation).is_err(),
            "accepted with byte {} changed to {:?}",
            position,
            replacement as char
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{alg}: {e}");
    }
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

macro_rules! round_trips {
    ($($name:ident: $alg:ident, $cases:expr;)*) => {
        $(
            #[test]
            fn $name() {
                round_trip(Algorithm::$alg, $cases);
            }
        )*
        /// The algorithms that have a round-trip test above.
        const COVERED: &[Algorithm] = &[$(Algorithm::$alg),*];
    };
}

round_trips! {
    hs256: HS256, 48;
    hs384: HS384, 32;
    hs512: HS512, 32;
    rs256: RS256, 24;
    rs384: RS384, 16;
    rs512: RS512, 16;
    ps256: PS256, 24;
    ps384: PS384, 16;
    ps512: PS512, 16;
    es256: ES256, 48;
    es384: ES384, 32;
    es512: ES512, 32;
    eddsa: EdDSA, 48;
}

#[test]
fn every_algorithm_has_a_round_trip_test() {
    for alg in Algorithm::ALL {
        assert!(COVERED.contains(&alg), "{alg} has no round-trip test");
    }
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    /// Any bytes survive as a JWS payload, and keys survive their JWK and PEM forms.
    #[test]
    fn jws_payloads_and_key_forms(
        payload in prop::collection::vec(any::<u8>(), 0..512),
        alg in prop::sample::select(&Algorithm::ALL[..]),
    ) {
        let signer = key(alg);
        let token = sign_jws(signer, &Header::new(alg), &payload).map_err(fail)?;
        let validation = Validation::new([alg]);
        let from_jwk = match alg.family() {
            Family::Hmac => KeySet::from_jwk(&signer.to_jwk().map_err(fail)?, &[alg]),
            _ => KeySet::from_jwk(&signer.public_jwk().map_err(fail)?, &[alg]),
        }.map_err(fail)?;
        let jws = verify_jws(&token, &from_jwk, &validation).map_err(fail)?;
        prop_assert_eq!(jws.payload(), payload.as_slice());
        if alg.family() != Family::Hmac {
            let from_pem = KeySet::from_pem(&signer.public_pem().map_err(fail)?, &[alg]).map_err(fail)?;
            let jws = verify_jws(&token, &from_pem, &validation).map_err(fail)?;
            prop_assert_eq!(jws.payload(), payload.as_slice());
            let private = SigningKey::from_pem(&signer.to_pem().map_err(fail)?, Some(alg)).map_err(fail)?;
            let again = sign_jws(&private, &Header::new(alg), &payload).map_err(fail)?;
            prop_assert!(verify_jws(&again, &from_jwk, &validation).is_ok());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Interoperability with the jsonwebtoken crate
// ---------------------------------------------------------------------------------------

/// The algorithms jsonwebtoken supports (it has no ES512).
const SHARED: [Algorithm; 12] = [
    Algorithm::HS256,
    Algorithm::HS384,
    Algorithm::HS512,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

fn theirs(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.name().parse().expect("jsonwebtoken algorithm")
}

fn their_keys(alg: Algorithm) -> (jsonwebtoken::EncodingKey, jsonwebtoken::DecodingKey) {
    use jsonwebtoken::{DecodingKey, EncodingKey};
    let key = key(alg);
    if alg.family() == Family::Hmac {
        let secret = b64d(key.to_jwk().expect("jwk").k.expect("k").expose());
        return (
            EncodingKey::from_secret(&secret),
            DecodingKey::from_secret(&secret),
        );
    }
    let private = key.to_pem().expect("pem");
    let public = key.public_pem().expect("pem");
    match alg.family() {
        Family::Rsa => (
            EncodingKey::from_rsa_pem(private.as_bytes()).expect("RSA"),
            DecodingKey::from_rsa_pem(public.as_bytes()).expect("RSA"),
        ),
        Family::Ec(_) => (
            EncodingKey::from_ec_pem(private.as_bytes()).expect("EC"),
            DecodingKey::from_ec_pem(public.as_bytes()).expect("EC"),
        ),
        _ => (
            EncodingKey::from_ed_pem(private.as_bytes()).expect("Ed"),
            DecodingKey::from_ed_pem(public.as_bytes()).expect("Ed"),
        ),
    }
}

#[test]
fn tokens_interoperate_with_jsonwebtoken_both_ways() {
    let claims = json!({"iss": "https://auth.example", "sub": "u-42", "aud": "orders",
                        "exp": NOW + 600, "iat": NOW, "roles": ["admin"], "n": 1.5});
    for alg in SHARED {
        let (encoding, decoding) = their_keys(alg);
        let mut their_validation = jsonwebtoken::Validation::new(theirs(alg));
        // Their clock is the system's; ours is fixed. Time is not what is compared here.
        their_validation.validate_exp = false;
        their_validation.required_spec_claims.clear();
        their_validation.set_audience(&["orders"]);

        let ours = encode(key(alg), &Header::for_key(key(alg)), &claims).expect("encode");
        let read = jsonwebtoken::decode::<Value>(&ours, &decoding, &their_validation)
            .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken refused our token: {e}"));
        assert_eq!(read.claims, claims, "{alg}");

        let token =
            jsonwebtoken::encode(&jsonwebtoken::Header::new(theirs(alg)), &claims, &encoding)
                .expect("their token");
        let keys = KeySet::new(vec![key(alg).verifying_key().expect("vk")]);
        let validation = Validation::new([alg]).audience("orders").clock(clock(NOW));
        let verified = verify::<Value>(&token, &keys, &validation)
            .unwrap_or_else(|e| panic!("{alg}: we refused their token: {e}"));
        assert_eq!(verified.claims(), &claims, "{alg}");
    }
}
