//! `UnverifiedJwt`: a token parsed once, then verified, answers every token as `verify` does,
//! with the same claims or the same error. Run over every published vector (Wycheproof JWS,
//! RFC 7515/7519/8037 compact cases, RFC 7520 cookbook), each tampered with, under several
//! validations, and over crafted tokens whose payload fails only after the signature holds.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use tessera_jwt::{
    Algorithm, DEFAULT_MAX_TOKEN_LEN, Error, Header, JwkOrSet, KeySet, RegisteredClaims,
    UnverifiedJwt, Validation, verify,
};

use crate::support::{
    NOW, b64e, clock, flip_signature_bit, hs256_key, jwk, segments, sign_json, sign_segments,
    vector, with_segment,
};

type Outcome = Result<(Header, RegisteredClaims, Map<String, Value>), String>;

fn by_verify(token: &str, keys: &KeySet, validation: &Validation) -> Outcome {
    verify::<Map<String, Value>>(token, keys, validation)
        .map(|v| (v.header().clone(), v.registered().clone(), v.into_claims()))
        .map_err(|e| format!("{e:?}"))
}

fn by_parse_once(token: &str, keys: &KeySet, validation: &Validation) -> Outcome {
    let parsed =
        UnverifiedJwt::parse(token, DEFAULT_MAX_TOKEN_LEN).map_err(|e| format!("{e:?}"))?;
    parsed
        .verify(keys, validation)
        .map(|v| (v.header().clone(), v.registered().clone(), v.into_claims()))
        .map_err(|e| format!("{e:?}"))
}

/// The validations every token is judged under: the default (exp required), exp optional,
/// pinned issuer/audience at a fixed time, a custom check, and a required private claim.
fn validations() -> Vec<Validation> {
    vec![
        Validation::default(),
        Validation::default().exp_optional(),
        Validation::default().insecure_ignore_exp(),
        Validation::default()
            .clock(clock(1_300_819_379))
            .issuer("joe")
            .leeway(0),
        Validation::default()
            .clock(clock(NOW))
            .issuer("https://issuer.example")
            .audience("orders")
            .typ("at+jwt")
            .require("sub"),
        Validation::default()
            .insecure_ignore_exp()
            .check(|_, claims| match claims.get("iss") {
                Some(Value::String(_)) => Ok(()),
                _ => Err("no string iss".into()),
            }),
        Validation::default()
            .exp_optional()
            .require("http://example.com/is_root"),
    ]
}

/// The token and what an attacker would make of it.
fn tampered(token: &str) -> Vec<String> {
    let mut out = vec![token.to_owned()];
    if token.split('.').count() != 3 {
        return out;
    }
    let [header, payload, signature] = segments(token);
    // Only a signature that decodes has a bit to flip.
    if URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|sig| !sig.is_empty())
    {
        out.push(flip_signature_bit(token));
    }
    out.push(with_segment(
        token,
        1,
        &b64e(r#"{"iss":"joe","exp":4000000000}"#),
    ));
    out.push(with_segment(token, 0, &b64e(r#"{"alg":"none"}"#)));
    out.push(with_segment(token, 1, "e30="));
    out.push(format!("{header}.{payload} .{signature}"));
    out.push(format!("{header}.{payload}"));
    out.push(token[..token.len() / 2].to_owned());
    out
}

/// Compares the two paths on every tampered form of `token`; returns the cases compared.
fn compare(token: &str, keys: &KeySet, what: &str) -> usize {
    let mut n = 0;
    for token in tampered(token) {
        for (i, validation) in validations().iter().enumerate() {
            let old = by_verify(&token, keys, validation);
            let new = by_parse_once(&token, keys, validation);
            assert_eq!(old, new, "{what}, validation {i}: {token}");
            n += 1;
        }
    }
    n
}

#[test]
fn wycheproof_jws_suite_gives_the_same_answers() {
    let data = vector("wycheproof/json_web_signature_test.json");
    let mut compared = 0;
    for group in data["testGroups"].as_array().expect("groups") {
        for which in ["public", "private"] {
            let Some(key) = group.get(which) else {
                continue;
            };
            let Ok(keys) = JwkOrSet::from_json(key.to_string().as_bytes()).and_then(|k| match k {
                JwkOrSet::Key(jwk) => KeySet::from_jwk(&jwk, &Algorithm::ALL),
                JwkOrSet::Set(set) => Ok(KeySet::from_jwks(&set, &Algorithm::ALL)),
                _ => unreachable!("JwkOrSet has two forms"),
            }) else {
                continue;
            };
            for case in group["tests"].as_array().expect("tests") {
                let jws = case["jws"].as_str().expect("jws");
                compared += compare(jws, &keys, &format!("tcId {}", case["tcId"]));
            }
        }
    }
    assert!(compared > 1000, "{compared} comparisons");
}

#[test]
fn rfc_compact_vectors_give_the_same_answers() {
    let mut compared = 0;
    for case in vector("rfc/rfc_vectors.json")["compact_cases"]
        .as_array()
        .expect("cases")
    {
        let id = case["id"].as_str().expect("id");
        let token = case["token"].as_str().expect("token");
        for member in ["key", "public_key"] {
            if !case[member].is_object() {
                continue;
            }
            let Ok(keys) = KeySet::from_jwk(&jwk(&case[member]), &Algorithm::ALL) else {
                continue;
            };
            compared += compare(token, &keys, id);
        }
    }
    assert!(compared > 500, "{compared} comparisons");
}

#[test]
fn rfc7520_cookbook_gives_the_same_answers() {
    for file in [
        "rfc7520/jws/4_1.rsa_v15_signature.json",
        "rfc7520/jws/4_2.rsa-pss_signature.json",
        "rfc7520/jws/4_3.ecdsa_signature.json",
        "rfc7520/jws/4_4.hmac-sha2_integrity_protection.json",
        "rfc7520/curve25519/jws.json",
    ] {
        let example = vector(file);
        let alg: Algorithm = example["input"]["alg"]
            .as_str()
            .expect("alg")
            .parse()
            .expect("alg");
        let keys = KeySet::from_jwk(&jwk(&example["input"]["key"]), &[alg]).expect(file);
        let token = example["output"]["compact"].as_str().expect("compact");
        compare(token, &keys, file);
        // The cookbook's payload is text, not a claims set: both paths say so, the same way.
        let err = by_parse_once(token, &keys, &Validation::default()).unwrap_err();
        assert!(err.contains("InvalidClaims"), "{file}: {err}");
    }
}

/// Tokens correctly signed whose payload is wrong in each way a payload can be: the parsed
/// path finds it while parsing but reports it where `verify` does, after the signature.
#[test]
fn payload_problems_are_reported_after_the_signature_as_verify_does() {
    let key = hs256_key();
    let keys = KeySet::new(vec![key.verifying_key().expect("public")]);
    let header = r#"{"alg":"HS256","typ":"at+jwt"}"#;
    let mut tokens = vec![
        sign_segments(&key, &b64e(header), "e30="),
        sign_segments(&key, &b64e(header), "!!"),
        sign_segments(&key, &b64e(header), ""),
    ];
    for payload in [
        "not json",
        "[1,2]",
        "\"iss\"",
        r#"{"iss":"a","iss":"b"}"#,
        r#"{"exp":"soon"}"#,
        r#"{"exp":1e400}"#,
        r#"{"aud":["orders",1],"exp":4000000000}"#,
        r#"{"iss":"https://issuer.example","aud":"orders","sub":"u","exp":1800000100}"#,
        r#"{"iss":"https://issuer.example","aud":"orders","exp":1800000100}"#,
        r#"{"iss":7,"exp":4000000000}"#,
        r#"{"iss":"joe","exp":1300819380,"http://example.com/is_root":true}"#,
        r#"{"a":{"b":{"c":{"d":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}}}"#,
    ] {
        tokens.push(sign_json(&key, header, payload.as_bytes()));
    }
    for token in &tokens {
        compare(token, &keys, "crafted");
    }
    // A payload that is not a claims set, under a bad signature: the signature is the error.
    let bad = flip_signature_bit(&tokens[3]);
    let parsed = UnverifiedJwt::parse(&bad, DEFAULT_MAX_TOKEN_LEN).expect("parses");
    assert!(matches!(
        parsed.unverified_issuer(),
        Err(Error::InvalidClaims(_))
    ));
    assert!(matches!(
        parsed.verify(&keys, &Validation::default()),
        Err(Error::InvalidSignature)
    ));
}

/// What may be read before verifying: the header, `kid`, and the `iss` under a name that
/// says it is unverified. `Debug` shows no claim.
#[test]
fn only_routing_information_is_readable_before_verifying() {
    let key = hs256_key().with_kid("k1");
    let token = tessera_jwt::encode(
        &key,
        &Header::for_key(&key),
        &json!({"iss": "https://issuer.example", "secret": "do-not-log", "exp": 4_000_000_000u64}),
    )
    .expect("sign");
    let parsed = UnverifiedJwt::parse(&token, DEFAULT_MAX_TOKEN_LEN).expect("parses");
    assert_eq!(parsed.kid(), Some("k1"));
    assert_eq!(parsed.header().alg, Algorithm::HS256);
    assert_eq!(
        parsed.unverified_issuer().expect("claims set"),
        Some("https://issuer.example")
    );
    assert!(!format!("{parsed:?}").contains("do-not-log"));
    // The same parsed token can be tried against other keys (a refreshed JWKS).
    let wrong = KeySet::new(vec![
        tessera_jwt::SigningKey::hmac(Algorithm::HS256, &[9; 32])
            .expect("key")
            .with_kid("k2")
            .verifying_key()
            .expect("public"),
    ]);
    assert!(matches!(
        parsed.verify(&wrong, &Validation::default()),
        Err(Error::NoMatchingKey(_))
    ));
    let right = KeySet::new(vec![key.verifying_key().expect("public")]);
    let verified = parsed
        .verify(&right, &Validation::default())
        .expect("verifies");
    assert_eq!(verified.claims()["secret"], "do-not-log");
    // Too large, before anything is decoded.
    assert!(matches!(
        UnverifiedJwt::parse(&token, token.len() - 1),
        Err(Error::TooLarge { .. })
    ));
}
