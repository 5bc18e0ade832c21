//! Regression tests, each named after the bug it pins.

use serde_json::Value;
use tessera_jwt::{Algorithm, Error, Jwk, KeySet, SigningKey, VerifyingKey};

use crate::support::vector;

/// Wycheproof json_web_key_test tcId 7: an RSA key made by the Infineon library that ROCA
/// (CVE-2017-15361) factors was accepted, public and private.
#[test]
fn roca_fingerprinted_rsa_key_is_refused() {
    let data = vector("wycheproof/json_web_key_test.json");
    let group = data["testGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["comment"] == "jws_rsa_roca_key")
        .expect("ROCA group");
    for which in ["public", "private"] {
        let key: &Value = &group[which]["keys"][0];
        let jwk = Jwk::from_json(key.to_string().as_bytes()).expect("JWK");
        let err = VerifyingKey::from_jwk(&jwk, None).expect_err("ROCA key accepted");
        assert!(
            matches!(&err, Error::InvalidKey(m) if m.contains("ROCA")),
            "{err}"
        );
        assert!(KeySet::from_jwk(&jwk, &[Algorithm::RS256]).is_err());
        assert!(
            jwk.validate().is_ok(),
            "the key material itself is well-formed"
        );
    }
    let private = Jwk::from_json(group["private"]["keys"][0].to_string().as_bytes()).expect("JWK");
    let err = SigningKey::from_jwk(&private, None)
        .map(|_| ())
        .expect_err("refused");
    assert!(err.to_string().contains("CVE-2017-15361"), "{err}");
}

/// The fingerprint test must not refuse ordinary keys.
#[test]
fn roca_check_accepts_freshly_generated_and_published_rsa_keys() {
    let key = SigningKey::generate(Algorithm::RS256).expect("RSA");
    key.verifying_key().expect("fresh key accepted");
    let rfc = vector("rfc/rfc_vectors.json");
    let a2 = Jwk::from_json(rfc["compact_cases"][2]["key"].to_string().as_bytes()).expect("A.2");
    SigningKey::from_jwk(&a2, Some(Algorithm::RS256)).expect("RFC 7515 A.2 key accepted");
}

/// A header built with a registered parameter in `extra` (`extra["alg"] = "none"`) was
/// signed with that member twice, e.g. `{"alg":"HS256",…,"alg":"none"}`: a token tessera itself
/// refuses, and that a parser keeping the last duplicate reads as unsecured.
#[test]
fn header_extra_cannot_repeat_a_registered_parameter() {
    let key = crate::support::hs256_key();
    let claims = serde_json::json!({"exp": crate::support::NOW + 600});
    for name in ["alg", "typ", "kid", "cty", "crit"] {
        let mut header = tessera_jwt::Header::new(Algorithm::HS256)
            .with_kid("k")
            .with_typ("JWT");
        header.extra.insert(name.into(), serde_json::json!("none"));
        let result = tessera_jwt::encode(&key, &header, &claims);
        let err = result.expect_err(name);
        assert!(
            matches!(err, Error::Serialize(ref m) if m.contains(name)),
            "{name}: {err}"
        );
        assert!(
            tessera_jwt::sign_jws(&key, &header, b"x").is_err(),
            "{name}"
        );
    }
}

/// The `typ` comparison sliced the header's `typ` at byte 12 to look for `application/`: a
/// `typ` with a multi-byte character across that byte made the verifier panic (any token, no
/// key needed, whenever a `typ` was required).
#[test]
fn typ_with_a_multibyte_character_at_byte_12_does_not_panic() {
    let key = crate::support::hs256_key();
    let keys = KeySet::new(vec![key.verifying_key().expect("vk")]);
    let claims = serde_json::json!({"exp": crate::support::NOW + 600});
    for typ in [
        "aaaaaaaaaaa\u{e9}",
        "applicatio\u{1f600}/at+jwt",
        "x\u{1f600}\u{1f600}\u{1f600}",
    ] {
        assert!(typ.len() > 12 && !typ.is_char_boundary(12), "{typ}");
        let header = tessera_jwt::Header::new(Algorithm::HS256).with_typ(typ);
        let token = tessera_jwt::encode(&key, &header, &claims).expect("encode");
        for expected in ["at+jwt", typ] {
            let validation = tessera_jwt::Validation::new([Algorithm::HS256])
                .clock(crate::support::clock(crate::support::NOW))
                .typ(expected);
            let result = tessera_jwt::verify::<serde_json::Value>(&token, &keys, &validation);
            assert_eq!(
                result.is_ok(),
                expected == typ,
                "{typ} / {expected}: {result:?}"
            );
        }
    }
}

/// One member of a JWKS that is not a readable JWK (here a `kid` that is a number, and a
/// string) made `JwkSet::from_json` fail for the whole set, so one odd key of a provider's
/// JWKS took every other key down. RFC 7517 §5: such keys SHOULD be ignored.
#[test]
fn a_jwks_with_an_unreadable_member_keeps_its_other_keys() {
    let good = SigningKey::generate(Algorithm::ES256)
        .expect("EC")
        .with_kid("good");
    let public = serde_json::to_value(good.public_jwk().expect("jwk")).expect("json");
    let document = serde_json::json!({"keys": [
        {"kty": "EC", "kid": 7, "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        "not a key",
        public,
        {"kty": "RSA", "kid": "odd", "use": ["sig"], "n": "AQAB", "e": "AQAB"},
    ]});
    let set = tessera_jwt::JwkSet::from_json(document.to_string().as_bytes()).expect("JWKS");
    assert_eq!(set.keys.len(), 1);
    assert_eq!(set.keys[0].kid.as_deref(), Some("good"));
    let skipped: Vec<_> = set
        .skipped()
        .iter()
        .map(|(kid, _)| kid.as_deref())
        .collect();
    assert_eq!(skipped, [None, None, Some("odd")]);

    let keys = KeySet::from_jwks(&set, &[Algorithm::ES256]);
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.skipped().len(), 3);
    let token = tessera_jwt::encode(
        &good,
        &tessera_jwt::Header::for_key(&good),
        &serde_json::json!({"exp": crate::support::NOW + 600}),
    )
    .expect("encode");
    let validation = tessera_jwt::Validation::new([Algorithm::ES256])
        .clock(crate::support::clock(crate::support::NOW));
    tessera_jwt::verify::<Value>(&token, &keys, &validation).expect("the good key still verifies");

    // The document itself must still be a strict JWKS.
    for bad in [
        r#"{"keys":{}}"#,
        r#"{"kty":"EC"}"#,
        r#"{"keys":[],"keys":[]}"#,
        "[]",
    ] {
        assert!(
            tessera_jwt::JwkSet::from_json(bad.as_bytes()).is_err(),
            "{bad}"
        );
    }
}

/// A `Jwk` whose `other` held a member named like a field (`other["kty"]`, `other["alg"]`)
/// was written with that member twice, e.g. `{"kty":"EC",…,"kty":"oct"}`: a JWK (or a published
/// JWKS) that tessera itself refuses and that other parsers read as another key.
#[test]
fn jwk_other_cannot_repeat_a_member() {
    let key = SigningKey::generate(Algorithm::ES256)
        .expect("EC")
        .with_kid("k");
    let mut jwk = key.public_jwk().expect("jwk");
    jwk.other.insert("kty".into(), serde_json::json!("oct"));
    jwk.other.insert("alg".into(), serde_json::json!("none"));
    jwk.other.insert("d".into(), serde_json::json!("AAAA"));
    jwk.other.insert("x5t".into(), serde_json::json!("kept"));
    for text in [
        jwk.to_json().expect("json"),
        tessera_jwt::JwkSet::new(vec![jwk.clone()])
            .to_json()
            .expect("json"),
        serde_json::to_string(&jwk).expect("serde"),
    ] {
        tessera_jwt::json::parse_strict(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(text.contains(r#""x5t":"kept""#), "{text}");
        assert!(!text.contains("oct") && !text.contains("none"), "{text}");
    }
    let again = Jwk::from_json(jwk.to_json().expect("json").as_bytes()).expect("read back");
    assert_eq!(
        (again.kty.as_str(), again.alg.as_deref()),
        ("EC", Some("ES256"))
    );
    assert!(!again.is_private());
}

/// RSA public keys that aws-lc refuses at every verification (exponent 1 or even or over 33
/// bits, even modulus, modulus over 8192 bits) loaded without complaint: every token then
/// failed with "invalid signature", and in a JWKS such a key took a candidate slot.
#[test]
fn rsa_keys_that_can_never_verify_are_refused_when_loaded() {
    use crate::support::b64e;
    let n2048 = [vec![0xc5; 255], vec![0x01]].concat();
    let n_even = [vec![0xc5; 255], vec![0x02]].concat();
    let n16384 = [vec![0xc5; 2047], vec![0x01]].concat();
    let f4 = vec![1, 0, 1];
    for (what, n, e) in [
        ("e = 1", &n2048, vec![1]),
        ("e = 2", &n2048, vec![2]),
        ("e even", &n2048, vec![1, 0, 0]),
        ("e of 34 bits", &n2048, vec![2, 0, 0, 0, 1]),
        ("even n", &n_even, f4.clone()),
        ("16384-bit n", &n16384, f4.clone()),
    ] {
        let jwk = serde_json::json!({"kty": "RSA", "kid": what, "n": b64e(n), "e": b64e(&e)});
        let jwk = Jwk::from_json(jwk.to_string().as_bytes()).expect("JWK");
        let result = VerifyingKey::from_jwk(&jwk, Some(Algorithm::RS256));
        assert!(
            matches!(result, Err(Error::InvalidKey(_))),
            "{what}: {result:?}"
        );
        let set = tessera_jwt::JwkSet::new(vec![jwk]);
        assert_eq!(
            KeySet::from_jwks(&set, &[Algorithm::RS256]).skipped().len(),
            1,
            "{what}"
        );
    }
    // e = 3 and e = 2^32 + 1 are odd and within 33 bits: accepted.
    for e in [vec![3], vec![1, 0, 0, 0, 1]] {
        let jwk = serde_json::json!({"kty": "RSA", "n": b64e(&n2048), "e": b64e(&e)});
        let jwk = Jwk::from_json(jwk.to_string().as_bytes()).expect("JWK");
        VerifyingKey::from_jwk(&jwk, Some(Algorithm::RS256)).expect("valid exponent");
    }
}
