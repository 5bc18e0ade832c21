//! Attacks on JWT verifiers, one named test per defense. Where a token must get past the
//! signature to reach the defense under test, it is correctly signed over exactly the bytes the
//! attack needs (see `support::sign_segments`), so that nothing else can be why it is refused.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Value, json};
use tessera_jwt::{
    Algorithm, DEFAULT_MAX_TOKEN_LEN, Error, Header, JwkSet, KeySet, KeySource, MAX_CANDIDATES,
    SigningKey, Validation, VerifyingKey, dangerous, encode, verify, verify_jws,
};

use crate::support::{
    NOW, b64d, b64e, clock, hs256_key, rsa_key, segments, sign_json, sign_segments, vector,
    with_segment,
};

fn claims() -> Value {
    json!({"sub": "u-1", "iat": NOW, "exp": NOW + 600})
}

fn validation() -> Validation {
    Validation::new(Algorithm::ALL).clock(clock(NOW))
}

fn hs_keys() -> KeySet {
    KeySet::new(vec![hs256_key().verifying_key().expect("vk")])
}

fn check(token: &str, keys: &impl KeySource) -> Result<Value, Error> {
    verify::<Value>(token, keys, &validation()).map(|v| v.into_claims())
}

fn token(key: &SigningKey) -> String {
    encode(key, &Header::for_key(key), &claims()).expect("encode")
}

// ---------------------------------------------------------------------------------------
// The algorithm comes from the verifier, never from the token
// ---------------------------------------------------------------------------------------

#[test]
fn alg_none_in_any_case_is_rejected_with_empty_or_non_empty_signature() {
    let ec = SigningKey::generate(Algorithm::ES256).expect("EC");
    let key_sets = [
        hs_keys(),
        KeySet::new(vec![
            ec.verifying_key().expect("vk"),
            rsa_key().verifying_key().expect("vk"),
        ]),
    ];
    let payload = b64e(claims().to_string());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64e(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let input = format!("{header}.{payload}");
        let mac = b64e(hs256_key().sign(input.as_bytes()).expect("sign"));
        for signature in ["", "c2lnbmF0dXJl", mac.as_str()] {
            let forged = format!("{input}.{signature}");
            for keys in &key_sets {
                for validation in [validation(), Validation::default().clock(clock(NOW))] {
                    for err in [
                        verify::<Value>(&forged, keys, &validation)
                            .map(|_| ())
                            .expect_err(alg),
                        verify_jws(&forged, keys, &validation)
                            .map(|_| ())
                            .expect_err(alg),
                    ] {
                        assert!(
                            matches!(&err, Error::AlgorithmNotAllowed(a) if a == alg),
                            "{alg} / {signature:?}: {err}"
                        );
                        assert_eq!(err.to_string(), format!("algorithm not allowed: {alg}"));
                    }
                }
            }
        }
    }
}

/// The classic confusion: the verifier holds an RSA/EC/Ed25519 public key; the attacker signs
/// HS256 with that public key's bytes as the HMAC secret.
#[test]
fn hs256_keyed_with_the_public_key_bytes_is_rejected() {
    let ec = SigningKey::generate(Algorithm::ES256)
        .expect("EC")
        .with_kid("ec");
    let ed = SigningKey::generate(Algorithm::EdDSA)
        .expect("Ed")
        .with_kid("ed");
    for victim in [rsa_key(), &ec, &ed] {
        let alg = victim.algorithm();
        let pem = victim.public_pem().expect("pem");
        let public_jwk = victim.public_jwk().expect("jwk");
        let jwk_json = public_jwk.to_json().expect("json");
        let jwks = JwkSet::new(vec![public_jwk.clone()]);
        let jwks_json = jwks.to_json().expect("json");
        let spki_der = pem::parse(&pem).expect("pem").into_contents();
        let secrets: [&[u8]; 5] = [
            pem.as_bytes(),
            pem.trim_end().as_bytes(),
            jwk_json.as_bytes(),
            jwks_json.as_bytes(),
            &spki_der,
        ];
        let verifiers = [
            KeySet::from_pem(&pem, &Algorithm::ALL).expect("pem key"),
            KeySet::from_pem(&pem, &[alg]).expect("pem key"),
            KeySet::from_jwk(&public_jwk, &Algorithm::ALL).expect("jwk key"),
            KeySet::from_jwks(&jwks, &Algorithm::ALL),
            KeySet::from_der(&spki_der, &Algorithm::ALL).expect("der key"),
        ];
        for secret in secrets {
            let attacker = SigningKey::hmac(Algorithm::HS256, secret).expect("long enough");
            for kid in [None, victim.kid()] {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = kid.map(str::to_owned);
                let forged = encode(&attacker, &header, &claims()).expect("encode");
                for keys in &verifiers {
                    for validation in [validation(), Validation::default().clock(clock(NOW))] {
                        let err = verify::<Value>(&forged, keys, &validation).expect_err("forged");
                        assert!(matches!(err, Error::AlgorithmNotAllowed(_)), "{alg}: {err}");
                    }
                }
            }
        }
        // Nor can the caller turn the public key into an HMAC key by asking.
        assert!(VerifyingKey::from_pem(&pem, Some(Algorithm::HS256)).is_err());
        // (A curve fixes its algorithm, so an EC or Ed25519 key loads, bound to that one.)
        if let Ok(set) = KeySet::from_pem(&pem, &[Algorithm::HS256]) {
            assert!(
                set.keys()
                    .iter()
                    .all(|k| !k.is_symmetric() && k.algorithm() == alg)
            );
            assert_ne!(alg, Algorithm::RS256, "an RSA key needs an RSA algorithm");
        }
        assert!(VerifyingKey::from_jwk(&public_jwk, Some(Algorithm::HS256)).is_err());
        let mut bare = public_jwk.clone();
        bare.alg = None;
        assert!(matches!(
            VerifyingKey::from_jwk(&bare, Some(Algorithm::HS256)),
            Err(Error::InvalidKey(_) | Error::KeyAlgorithmMismatch { .. })
        ));
        if let Ok(set) = KeySet::from_jwk(&bare, &[Algorithm::HS256]) {
            assert!(
                set.keys()
                    .iter()
                    .all(|k| !k.is_symmetric() && k.algorithm() == alg)
            );
        }
    }
}

#[test]
fn key_and_algorithm_of_different_families_never_verify() {
    let hs = SigningKey::hmac(Algorithm::HS256, &[42; 64])
        .expect("hmac")
        .with_kid("k");
    let es = SigningKey::generate(Algorithm::ES256)
        .expect("EC")
        .with_kid("k");
    let es384 = SigningKey::generate(Algorithm::ES384)
        .expect("EC")
        .with_kid("k");
    let ed = SigningKey::generate(Algorithm::EdDSA)
        .expect("Ed")
        .with_kid("k");
    let rsa = SigningKey::from_jwk(&rsa_key().to_jwk().expect("jwk"), None)
        .expect("RSA")
        .with_kid("k");
    let keys: [&SigningKey; 5] = [&hs, &es, &es384, &ed, &rsa];
    for trusted in keys {
        let set = KeySet::new(vec![trusted.verifying_key().expect("vk")]);
        for signer in keys {
            let forged = token(signer);
            let result = check(&forged, &set);
            if std::ptr::eq(trusted, signer) {
                result.expect("its own token");
            } else {
                let err = result.expect_err("other family accepted");
                assert!(matches!(err, Error::AlgorithmNotAllowed(_)), "{err}");
            }
        }
    }

    // Same key material, same family, other algorithm: a genuine signature by the right key
    // is still refused, because the key is bound to one algorithm.
    let rsa_jwk = {
        let mut j = rsa.to_jwk().expect("jwk");
        j.alg = None;
        j
    };
    let ps256 = SigningKey::from_jwk(&rsa_jwk, Some(Algorithm::PS256))
        .expect("PS256")
        .with_kid("k");
    let rs256_only = KeySet::new(vec![rsa.verifying_key().expect("vk")]);
    let err = check(&token(&ps256), &rs256_only).expect_err("PS256 under an RS256 key");
    assert_eq!(
        err.to_string(),
        "algorithm not allowed: PS256 (the key is for RS256)"
    );
    let hs512 = SigningKey::hmac(Algorithm::HS512, &[42; 64])
        .expect("hmac")
        .with_kid("k");
    let hs256_only = KeySet::new(vec![hs.verifying_key().expect("vk")]);
    assert!(matches!(
        check(&token(&hs512), &hs256_only),
        Err(Error::AlgorithmNotAllowed(_))
    ));

    // The verifier's list wins too: the key is RS256, but only ES256 is accepted.
    let es_only = Validation::new([Algorithm::ES256]).clock(clock(NOW));
    let err = verify::<Value>(&token(&rsa), &rs256_only, &es_only).expect_err("not allowed");
    assert!(
        matches!(err, Error::AlgorithmNotAllowed(ref a) if a == "RS256"),
        "{err}"
    );

    // Keys cannot be made for an algorithm of another family.
    let public_rsa = rsa.public_pem().expect("pem");
    assert!(VerifyingKey::from_pem(&public_rsa, Some(Algorithm::ES256)).is_err());
    assert!(VerifyingKey::from_pem(&public_rsa, Some(Algorithm::EdDSA)).is_err());
    assert!(SigningKey::from_pem(&es.to_pem().expect("pem"), Some(Algorithm::RS256)).is_err());
    assert!(matches!(
        VerifyingKey::from_pem(&ed.public_pem().expect("pem"), Some(Algorithm::ES256)),
        Err(Error::KeyAlgorithmMismatch { .. })
    ));
    let vk = rsa.verifying_key().expect("vk");
    assert!(vk.rebind(Algorithm::ES256).is_err());
    assert!(vk.rebind(Algorithm::HS256).is_err());
    assert_eq!(
        vk.rebind(Algorithm::PS512)
            .expect("same family")
            .algorithm(),
        Algorithm::PS512
    );
}

// ---------------------------------------------------------------------------------------
// Header parameters
// ---------------------------------------------------------------------------------------

/// `jwk`, `jku`, `x5u` and `x5c` carrying the attacker's own key, the token signed with it.
#[test]
fn header_jwk_jku_x5u_x5c_never_supply_keys() {
    let victim = SigningKey::generate(Algorithm::ES256)
        .expect("EC")
        .with_kid("victim");
    let attacker = SigningKey::generate(Algorithm::ES256)
        .expect("EC")
        .with_kid("victim");
    let trusted = KeySet::new(vec![victim.verifying_key().expect("vk")]);
    let attacker_jwk = serde_json::to_value(attacker.public_jwk().expect("jwk")).expect("json");
    let attacker_spki = pem::parse(attacker.public_pem().expect("pem"))
        .expect("pem")
        .into_contents();
    let x5c = json!([base64::engine::general_purpose::STANDARD.encode(attacker_spki)]);
    let members = [
        ("jwk", attacker_jwk.clone()),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", x5c.clone()),
    ];
    let mut all = Header::for_key(&attacker);
    for (name, value) in &members {
        all.extra.insert((*name).to_owned(), value.clone());
    }
    let mut headers: Vec<Header> = members
        .iter()
        .map(|(name, value)| {
            let mut h = Header::for_key(&attacker);
            h.extra.insert((*name).to_owned(), value.clone());
            h
        })
        .collect();
    headers.push(all);
    for header in headers {
        for kid in [Some("victim"), None] {
            let mut header = header.clone();
            header.kid = kid.map(str::to_owned);
            let forged = encode(&attacker, &header, &claims()).expect("encode");
            assert!(
                matches!(check(&forged, &trusted), Err(Error::InvalidSignature)),
                "{:?}",
                header.extra.keys().collect::<Vec<_>>()
            );
            assert!(matches!(
                check(&forged, &KeySet::default()),
                Err(Error::NoMatchingKey(_))
            ));
        }
    }
    // The members are kept for display, and ignored, on a token the trusted key signed.
    let mut header = Header::for_key(&victim);
    header
        .extra
        .insert("jku".into(), json!("https://attacker.example/jwks.json"));
    header.extra.insert("jwk".into(), attacker_jwk);
    let genuine = encode(&victim, &header, &claims()).expect("encode");
    let verified = verify::<Value>(&genuine, &trusted, &validation()).expect("genuine");
    assert_eq!(
        verified.header().extra["jku"],
        "https://attacker.example/jwks.json"
    );
}

#[test]
fn unknown_crit_extension_is_rejected() {
    let key = hs256_key();
    let keys = hs_keys();
    let payload = claims().to_string();
    let signed = |header: &str| sign_json(&key, header, payload.as_bytes());

    // RFC 7515 appendix E, with a real signature.
    let appendix_e = signed(
        "{\"alg\":\"HS256\",\r\n \"crit\":[\"http://example.com/UNDEFINED\"],\r\n \"http://example.com/UNDEFINED\":true\r\n}",
    );
    let err = check(&appendix_e, &keys).expect_err("unknown crit");
    assert_eq!(
        err.to_string(),
        "unsupported critical header parameter: http://example.com/UNDEFINED"
    );
    assert!(verify_jws(&appendix_e, &keys, &validation()).is_err());

    let exp_ext = signed(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#);
    assert!(matches!(check(&exp_ext, &keys), Err(Error::UnsupportedCritical(ref c)) if c == "exp"));
    // A verifier that says it understands the extension accepts it.
    let understood = validation().understand_crit("exp");
    verify::<Value>(&exp_ext, &keys, &understood).expect("understood crit");
    verify::<Value>(
        &appendix_e,
        &keys,
        &validation().understand_crit("http://example.com/UNDEFINED"),
    )
    .expect("understood crit");

    // Malformed crit lists are refused even when every name is "understood".
    let lenient = validation()
        .understand_crit("alg")
        .understand_crit("absent")
        .understand_crit("b64");
    for header in [
        r#"{"alg":"HS256","crit":["alg"]}"#,
        r#"{"alg":"HS256","crit":["absent"]}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":"exp","exp":1}"#,
        r#"{"alg":"HS256","crit":[1]}"#,
        r#"{"alg":"HS256","crit":[""]}"#,
    ] {
        let err = verify::<Value>(&signed(header), &keys, &lenient).expect_err(header);
        assert!(matches!(err, Error::InvalidHeader(_)), "{header}: {err}");
    }
    // RFC 7797 unencoded payloads change what is signed: never, even if "understood".
    let b64 = signed(r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#);
    let err = verify::<Value>(&b64, &keys, &lenient).expect_err("b64");
    assert!(
        matches!(err, Error::UnsupportedCritical(ref c) if c == "b64"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Strict decoding
// ---------------------------------------------------------------------------------------

/// What a lenient decoder would make of a segment: padding optional, trailing bits ignored,
/// either alphabet. Used to show each bad encoding below decodes to the same bytes, so only
/// strictness can refuse it.
fn lenient_decode(segment: &str) -> Vec<u8> {
    let config = GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let url = segment.replace('+', "-").replace('/', "_");
    GeneralPurpose::new(&alphabet::URL_SAFE, config)
        .decode(url)
        .expect("lenient decoding")
}

const URL_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The three non-canonical encodings of a segment whose length is not a multiple of 4.
fn bad_encodings(segment: &str) -> Vec<(&'static str, String)> {
    assert!(
        !segment.len().is_multiple_of(4),
        "{segment}: no room for padding or trailing bits"
    );
    assert!(
        segment.contains(['-', '_']),
        "{segment}: no URL-safe character to swap"
    );
    let padded = format!("{segment}{}", "=".repeat(4 - segment.len() % 4));
    let standard = segment.replace('-', "+").replace('_', "/");
    let last = segment.as_bytes()[segment.len() - 1];
    let index = URL_ALPHABET
        .iter()
        .position(|&c| c == last)
        .expect("alphabet");
    assert_eq!(index & 1, 0, "canonical last character has a zero low bit");
    let trailing = format!(
        "{}{}",
        &segment[..segment.len() - 1],
        URL_ALPHABET[index | 1] as char
    );
    let out = vec![
        ("padding", padded),
        ("+/ alphabet", standard),
        ("trailing bits", trailing),
    ];
    for (what, bad) in &out {
        assert_eq!(
            lenient_decode(bad),
            b64d(segment),
            "{what}: same bytes to a lenient decoder"
        );
    }
    out
}

#[test]
fn base64url_is_strict_in_each_of_the_three_segments() {
    let key = hs256_key();
    let keys = hs_keys();
    // '?' runs encode to '_'; lengths are kept off multiples of 3 so there are trailing bits.
    let mut header = r#"{"alg":"HS256","x":"??????"}"#.to_owned();
    while header.len().is_multiple_of(3) {
        header.push(' ');
    }
    let mut n = 0;
    let (header_seg, payload_seg, token) = loop {
        let mut payload = json!({"exp": NOW + 600, "x": "??????", "n": n}).to_string();
        while payload.len().is_multiple_of(3) {
            payload.push(' ');
        }
        let token = sign_json(&key, &header, payload.as_bytes());
        if segments(&token)[2].contains(['-', '_']) {
            break (b64e(&header), b64e(&payload), token);
        }
        n += 1;
    };
    check(&token, &keys).expect("the canonical token is valid");

    for (what, bad) in bad_encodings(&header_seg) {
        let forged = sign_segments(&key, &bad, &payload_seg);
        let err = check(&forged, &keys).expect_err(what);
        assert_eq!(
            err.to_string(),
            "malformed token: header is not strict base64url",
            "{what}"
        );
        assert!(dangerous::decode_without_verifying(&forged, 4096).is_err());
    }
    for (what, bad) in bad_encodings(&payload_seg) {
        let forged = sign_segments(&key, &header_seg, &bad);
        let err = check(&forged, &keys).expect_err(what);
        assert_eq!(
            err.to_string(),
            "malformed token: payload is not strict base64url",
            "{what}"
        );
        let err = verify_jws(&forged, &keys, &validation()).expect_err(what);
        assert!(matches!(err, Error::Malformed(_)), "{what}: {err}");
    }
    for (what, bad) in bad_encodings(segments(&token)[2]) {
        let forged = with_segment(&token, 2, &bad);
        let err = check(&forged, &keys).expect_err(what);
        assert_eq!(
            err.to_string(),
            "malformed token: signature is not strict base64url",
            "{what}"
        );
    }
    // Characters outside any base64 alphabet.
    for bad in ["e30?", "e30%", "e3\u{e9}0"] {
        let forged = sign_segments(&key, bad, &payload_seg);
        assert!(
            matches!(check(&forged, &keys), Err(Error::Malformed(_))),
            "{bad}"
        );
    }
}

#[test]
fn size_limit_applies_before_any_decoding() {
    let keys = hs_keys();
    // Nothing of this is base64url, JSON or even segmented: only the size can be judged.
    let garbage = "!".repeat(DEFAULT_MAX_TOKEN_LEN + 1);
    let err = check(&garbage, &keys).expect_err("huge");
    assert!(
        matches!(err, Error::TooLarge { len, max } if len == DEFAULT_MAX_TOKEN_LEN + 1 && max == DEFAULT_MAX_TOKEN_LEN),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "token too large: 16385 bytes, the limit is 16384"
    );
    let huge = "a.".repeat(4 << 20);
    assert!(matches!(check(&huge, &keys), Err(Error::TooLarge { .. })));
    assert!(matches!(
        verify_jws(&huge, &keys, &validation()),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        dangerous::decode_without_verifying(&huge, DEFAULT_MAX_TOKEN_LEN),
        Err(Error::TooLarge { .. })
    ));

    // A genuine token over the limit is refused the same way; at the limit it passes.
    let big = encode(
        &hs256_key(),
        &Header::new(Algorithm::HS256),
        &json!({"exp": NOW + 600, "pad": "x".repeat(20_000)}),
    )
    .expect("encode");
    assert!(matches!(check(&big, &keys), Err(Error::TooLarge { .. })));
    let exact = validation().max_token_len(big.len());
    verify::<Value>(&big, &keys, &exact).expect("at the limit");
    let under = validation().max_token_len(big.len() - 1);
    let err = verify::<Value>(&big, &keys, &under).expect_err("over the limit");
    assert!(
        matches!(err, Error::TooLarge { len, .. } if len == big.len()),
        "{err}"
    );
}

#[test]
fn duplicate_member_names_in_the_header_are_rejected() {
    let key = hs256_key();
    for header in [
        r#"{"alg":"HS256","alg":"HS256"}"#,
        r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
        r#"{"alg":"HS256","typ":"JWT","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","x":{"y":1,"y":2}}"#,
    ] {
        let forged = sign_json(&key, header, claims().to_string().as_bytes());
        let err = check(&forged, &hs_keys()).expect_err(header);
        assert!(matches!(err, Error::Malformed(_)), "{header}: {err}");
        assert!(err.to_string().contains("duplicate member name"), "{err}");
        assert!(dangerous::decode_without_verifying(&forged, 4096).is_err());
    }
}

#[test]
fn duplicate_member_names_in_the_claims_are_rejected() {
    let key = hs256_key();
    let header = r#"{"alg":"HS256"}"#;
    let later = NOW + 600;
    for payload in [
        format!(r#"{{"sub":"alice","sub":"admin","exp":{later}}}"#),
        // An expired exp shadowed by a later one: two parsers would disagree.
        format!(r#"{{"exp":{},"exp":{later}}}"#, NOW - 600),
        format!(r#"{{"exp":{later},"roles":{{"admin":false,"admin":true}}}}"#),
    ] {
        let forged = sign_json(&key, header, payload.as_bytes());
        let err = check(&forged, &hs_keys()).expect_err(&payload);
        assert!(matches!(err, Error::InvalidClaims(_)), "{payload}: {err}");
        assert!(err.to_string().contains("duplicate member name"), "{err}");
        // As a plain JWS the payload is opaque bytes, delivered as signed.
        let jws = verify_jws(&forged, &hs_keys(), &validation()).expect("JWS");
        assert_eq!(jws.payload(), payload.as_bytes());
    }
}

#[test]
fn registered_claims_of_the_wrong_json_type_are_errors_not_skipped() {
    let key = hs256_key();
    let later = NOW + 600;
    let cases = [
        ("exp", json!(later.to_string())),
        ("exp", json!(true)),
        ("exp", Value::Null),
        ("exp", json!([later])),
        ("exp", json!({"secs": later})),
        ("nbf", json!("0")),
        ("iat", json!({})),
        ("iss", json!(1)),
        ("sub", json!(["a"])),
        ("aud", json!(1)),
        ("aud", json!(["a", 1])),
        ("aud", json!({"a": 1})),
        ("jti", json!(5)),
    ];
    for (claim, value) in cases {
        let mut claims = claims();
        claims[claim] = value.clone();
        let t = encode(&key, &Header::new(Algorithm::HS256), &claims).expect("encode");
        // Even when the claim's check is switched off, its type is checked.
        let lax = validation().insecure_ignore_exp().insecure_any_audience();
        for v in [validation().audience("a"), lax] {
            let err = verify::<Value>(&t, &hs_keys(), &v).expect_err(claim);
            assert!(
                matches!(&err, Error::InvalidClaim { claim: c, .. } if *c == claim),
                "{claim} = {value}: {err}"
            );
        }
    }
    let mut string_exp = claims();
    string_exp["exp"] = json!("1800000600");
    let t = encode(&key, &Header::new(Algorithm::HS256), &string_exp).expect("encode");
    assert_eq!(
        check(&t, &hs_keys()).expect_err("string exp").to_string(),
        "invalid claim `exp`: expected a number of seconds, found a string"
    );
}

#[test]
fn dates_out_of_range_are_rejected() {
    let key = hs256_key();
    let header = r#"{"alg":"HS256"}"#;
    for claim in ["exp", "nbf", "iat"] {
        for bad in [
            "-1",
            "-0.5",
            "253402300800",
            "1e300",
            "18446744073709551615",
            "1e20",
        ] {
            let payload = if claim == "exp" {
                format!(r#"{{"exp":{bad}}}"#)
            } else {
                format!(r#"{{"exp":{},"{claim}":{bad}}}"#, NOW + 600)
            };
            let t = sign_json(&key, header, payload.as_bytes());
            let v = validation().insecure_ignore_exp();
            let err = verify::<Value>(&t, &hs_keys(), &v).expect_err(&payload);
            assert!(
                matches!(&err, Error::InvalidClaim { claim: c, .. } if *c == claim),
                "{payload}: {err}"
            );
        }
    }
    // Numbers too large for JSON doubles are not even JSON numbers.
    let t = sign_json(&key, header, br#"{"exp":1e400}"#);
    assert!(check(&t, &hs_keys()).is_err());
    // Integers and fractions inside 1970..=9999 are dates.
    for payload in [
        format!(r#"{{"exp":{}.5,"nbf":0,"iat":{NOW}}}"#, NOW + 600),
        r#"{"exp":253402300799,"iat":0.0}"#.to_owned(),
        format!(r#"{{"exp":{}e0}}"#, NOW + 600),
    ] {
        let t = sign_json(&key, header, payload.as_bytes());
        check(&t, &hs_keys()).unwrap_or_else(|e| panic!("{payload}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------
// Signatures
// ---------------------------------------------------------------------------------------

/// DER `SEQUENCE { INTEGER r, INTEGER s }`, the form X.509 uses and JWS does not.
fn der_signature(rs: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let mut v: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        if v.first().is_none_or(|&b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, u8::try_from(v.len()).expect("short")];
        out.extend(v);
        out
    }
    let (r, s) = rs.split_at(rs.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30];
    if body.len() > 127 {
        out.push(0x81);
    }
    out.push(u8::try_from(body.len()).expect("short"));
    out.extend(body);
    out
}

#[test]
fn ecdsa_signatures_must_be_fixed_length_r_s() {
    // The order n of P-256: r or s equal to it is out of range.
    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    for alg in [Algorithm::ES256, Algorithm::ES384, Algorithm::ES512] {
        let key = SigningKey::generate(alg).expect("EC");
        let keys = KeySet::new(vec![key.verifying_key().expect("vk")]);
        let t = token(&key);
        check(&t, &keys).expect("genuine");
        let sig = b64d(segments(&t)[2]);
        let half = sig.len() / 2;
        let (r, s) = sig.split_at(half);
        let zeros = vec![0u8; half];
        let pad = |x: &[u8], to: usize| [vec![0u8; to - x.len()], x.to_vec()].concat();
        let mut variants: Vec<(&str, Vec<u8>)> = vec![
            ("zero (r = s = 0)", vec![0; sig.len()]),
            ("r = 0", [&zeros[..], s].concat()),
            ("s = 0", [r, &zeros[..]].concat()),
            ("r = s", [r, r].concat()),
            ("one byte more", [&sig[..], &[0]].concat()),
            ("one byte less", sig[..sig.len() - 1].to_vec()),
            (
                "components padded",
                [pad(r, half + 1), pad(s, half + 1)].concat(),
            ),
            ("DER", der_signature(&sig)),
            ("r only", r.to_vec()),
            ("doubled", [&sig[..], &sig[..]].concat()),
        ];
        if alg == Algorithm::ES256 {
            let n = crate::support::hex(P256_N);
            variants.push(("r = n", [&n[..], s].concat()));
            variants.push(("s = n", [r, &n[..]].concat()));
        }
        for (what, bytes) in variants {
            let forged = with_segment(&t, 2, &b64e(&bytes));
            let err = check(&forged, &keys).expect_err(what);
            assert!(
                matches!(err, Error::InvalidSignature),
                "{alg} {what}: {err}"
            );
            assert_eq!(err.to_string(), "invalid signature");
        }
        // An empty signature is not a signature at all.
        let err = check(&with_segment(&t, 2, ""), &keys).expect_err("empty");
        assert!(matches!(err, Error::Malformed(_)), "{err}");
    }
}

#[test]
fn a_failed_signature_says_only_invalid_signature() {
    let ec = SigningKey::generate(Algorithm::ES256).expect("EC");
    let ed = SigningKey::generate(Algorithm::EdDSA).expect("Ed");
    for key in [&hs256_key(), rsa_key(), &ec, &ed] {
        let keys = KeySet::new(vec![key.verifying_key().expect("vk")]);
        let t = crate::support::flip_signature_bit(&token(key));
        let err = check(&t, &keys).expect_err("flipped");
        assert!(matches!(err, Error::InvalidSignature));
        assert_eq!(err.to_string(), "invalid signature");
        assert!(err.is_token_rejection());
    }
}

#[test]
fn weak_keys_are_refused() {
    assert!(matches!(
        SigningKey::hmac(Algorithm::HS256, &[1; 31]),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        VerifyingKey::hmac(Algorithm::HS512, &[1; 63]),
        Err(Error::InvalidKey(_))
    ));
    assert!(KeySet::from_secret(b"", &[Algorithm::HS256]).is_err());
    let data = vector("wycheproof/json_web_key_test.json");
    let small = data["testGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["comment"] == "keysize_too_small")
        .expect("1024-bit group");
    let jwk = tessera_jwt::Jwk::from_json(small["public"]["keys"][0].to_string().as_bytes())
        .expect("JWK");
    let err = VerifyingKey::from_jwk(&jwk, None).expect_err("1024-bit RSA");
    assert_eq!(
        err.to_string(),
        "invalid key: RSA key is 1024 bits; at least 2048 are required"
    );
    assert!(!err.is_token_rejection());
}

// ---------------------------------------------------------------------------------------
// Shape of the token
// ---------------------------------------------------------------------------------------

#[test]
fn json_nesting_is_bounded() {
    use tessera_jwt::json::MAX_DEPTH;
    let key = hs256_key();
    let roomy = validation().max_token_len(1 << 20);
    let nest = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));

    let deep = nest(50_000);
    let header = format!(r#"{{"alg":"HS256","x":{deep}}}"#);
    let t = sign_json(&key, &header, claims().to_string().as_bytes());
    let err = verify::<Value>(&t, &hs_keys(), &roomy).expect_err("deep header");
    assert!(matches!(err, Error::Malformed(_)), "{err}");

    let payload = format!(r#"{{"exp":{},"x":{deep}}}"#, NOW + 600);
    let t = sign_json(&key, r#"{"alg":"HS256"}"#, payload.as_bytes());
    let err = verify::<Value>(&t, &hs_keys(), &roomy).expect_err("deep claims");
    assert!(matches!(err, Error::InvalidClaims(_)), "{err}");

    // The claims object itself is one level: MAX_DEPTH levels in all pass, one more fails.
    for (depth, ok) in [(MAX_DEPTH - 1, true), (MAX_DEPTH, false)] {
        let payload = format!(r#"{{"exp":{},"x":{}}}"#, NOW + 600, nest(depth));
        let t = sign_json(&key, r#"{"alg":"HS256"}"#, payload.as_bytes());
        assert_eq!(check(&t, &hs_keys()).is_ok(), ok, "depth {}", depth + 1);
    }
    let deep_jwk = format!(r#"{{"kty":"oct","k":"AAAA","x":{}}}"#, nest(10_000));
    assert!(matches!(
        tessera_jwt::Jwk::from_json(deep_jwk.as_bytes()),
        Err(Error::InvalidKey(_))
    ));
}

#[test]
fn wrong_number_of_segments_is_malformed() {
    let t = token(&hs256_key());
    let [h, p, s] = segments(&t);
    let jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.OKOawDo13gRp2ojaHV7LFpZcgV7T6DVZKTyKOMTYUmKoTCVJRgckCL9kiMT03JGeipsEdY3mx_etLbbWSrFr05kLzcSr4qKAq7YN7e9jwQRb23nfa6c9d-StnImGyFDbSv04uVuxIp5Zms1gNxKKK2Da14B8S4rzVRltdYwam_lDp5XnZAYpQdb76FdIKLaVmqgfwX7XWRxv2322i-vDxRfqNzo_tETKzpVLzfiwQyeyPGLBIO56YJ7eObdv0je81860ppamavo35UgoRdbYaBcoh9QcfylQr66oc6vFWXRcZ_ZT2LawVCWTIy3brGPi6UklfCpIMfIjf7iGdXKHzg.48V1_ALb6US04U3b.5eym8TW_c8SuK0ltJ3rpYIzOeDQz7TALvtu6UG9oMo4vpzs9tX_EFShS8iB7j6jiSdiwkIr3ajwQzaBtQD_A.XFBoMYUZodetZdvTiFvSkQ";
    let cases = [
        (1, h.to_owned()),
        (2, format!("{h}.{p}")),
        (2, format!("{h}.")),
        (4, format!("{t}.")),
        (4, format!("{t}.{s}")),
        (5, format!("{t}.{p}.{s}")),
        (5, jwe.to_owned()),
        (3, format!(".{p}.{s}")),
        (2, ".".to_owned()),
        (3, "..".to_owned()),
    ];
    for (n, forged) in cases {
        let err = check(&forged, &hs_keys()).expect_err(&forged);
        assert!(matches!(err, Error::Malformed(_)), "{n}: {err}");
        if n != 3 {
            assert!(err.to_string().contains(&format!("found {n}")), "{err}");
        }
        assert!(verify_jws(&forged, &hs_keys(), &validation()).is_err());
    }
}

#[test]
fn empty_and_whitespace_tokens_are_malformed() {
    let t = token(&hs256_key());
    let (h, rest) = t.split_once('.').expect("dot");
    let cases = [
        String::new(),
        " ".into(),
        "\n".into(),
        format!(" {t}"),
        format!("{t} "),
        format!("{t}\n"),
        format!("{t}\r\n"),
        format!("\t{t}"),
        format!("{h} .{rest}"),
        format!("{h}.\n{rest}"),
        format!("{}\n{}", &t[..10], &t[10..]),
        format!("{}\u{a0}{}", &t[..10], &t[10..]),
        format!("{t}\u{2028}"),
    ];
    for forged in cases {
        let err = check(&forged, &hs_keys()).expect_err(&forged);
        assert!(matches!(err, Error::Malformed(_)), "{forged:?}: {err}");
        assert!(err.is_token_rejection());
    }
    assert_eq!(
        check("", &hs_keys()).expect_err("empty").to_string(),
        "malformed token: empty token"
    );
    assert_eq!(
        check(&format!("{t}\n"), &hs_keys())
            .expect_err("newline")
            .to_string(),
        "malformed token: token contains whitespace"
    );
}

// ---------------------------------------------------------------------------------------
// Key selection
// ---------------------------------------------------------------------------------------

#[test]
fn a_token_without_kid_is_tried_against_at_most_max_candidates_keys() {
    let signers: Vec<SigningKey> = (0..MAX_CANDIDATES + 3)
        .map(|i| {
            SigningKey::hmac(Algorithm::HS256, &[u8::try_from(i).expect("small"); 32])
                .expect("hmac")
        })
        .collect();
    // Keys of another algorithm first: they are not candidates and do not use up the budget.
    let mut keys = KeySet::default();
    for _ in 0..3 {
        keys.push(
            SigningKey::generate(Algorithm::ES256)
                .expect("EC")
                .verifying_key()
                .expect("vk"),
        );
    }
    for s in &signers {
        keys.push(s.verifying_key().expect("vk"));
    }
    let candidates = keys
        .candidates(&Header::new(Algorithm::HS256))
        .expect("candidates");
    assert_eq!(candidates.len(), MAX_CANDIDATES);
    for (i, signer) in signers.iter().enumerate() {
        let t = encode(signer, &Header::new(Algorithm::HS256), &claims()).expect("encode");
        let result = check(&t, &keys);
        if i < MAX_CANDIDATES {
            result.unwrap_or_else(|e| panic!("key {i}: {e}"));
        } else {
            assert!(
                matches!(result, Err(Error::InvalidSignature)),
                "key {i}: {result:?}"
            );
        }
    }

    // The same budget holds for keys that share a kid.
    let shared = KeySet::new(
        signers
            .iter()
            .map(|s| s.verifying_key().expect("vk").with_kid("shared"))
            .collect(),
    );
    let last = signers.last().expect("keys");
    let t = encode(
        last,
        &Header::new(Algorithm::HS256).with_kid("shared"),
        &claims(),
    )
    .expect("t");
    assert!(matches!(check(&t, &shared), Err(Error::InvalidSignature)));
    // A kid of its own picks the one key, wherever it is.
    let mut own = shared.clone();
    own.push(last.verifying_key().expect("vk").with_kid("own"));
    let t = encode(
        last,
        &Header::new(Algorithm::HS256).with_kid("own"),
        &claims(),
    )
    .expect("t");
    check(&t, &own).expect("selected by kid");
    let t = encode(
        last,
        &Header::new(Algorithm::HS256).with_kid("nobody"),
        &claims(),
    )
    .expect("t");
    let err = check(&t, &own).expect_err("unknown kid");
    assert_eq!(
        err.to_string(),
        "no matching key: no HS256 key with kid \"nobody\""
    );
}
