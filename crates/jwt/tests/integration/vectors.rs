//! Published vectors, read from the data files: RFC 7515 A.1–A.5, RFC 7519 §3.1, RFC 7520 §4
//! (compact forms, and the cookbook's own files), RFC 8037 A.4, RFC 7517 A/B keys, RFC 7638 and
//! RFC 8037 thumbprints. Every accepted vector is also tampered with (signature bit, payload,
//! header) and must then be rejected.

use aws_lc_rs::digest;
use serde_json::{Map, Value, json};
use tessera_jwt::{
    Algorithm, Error, Jwk, JwkSet, KeySet, SigningKey, Validation, VerifyingKey, dangerous, verify,
    verify_jws,
};

use crate::support::{
    b64d, b64e, clock, flip_signature_bit, hex, jwk, segments, vector, with_segment,
};

/// One second before the RFC tokens' `exp` (1300819380, 2011-03-22T18:43:00Z).
const BEFORE_RFC_EXP: i64 = 1_300_819_379;

fn rfc() -> Value {
    vector("rfc/rfc_vectors.json")
}

fn alg_of(case: &Value) -> Option<Algorithm> {
    case["alg"].as_str().and_then(|a| a.parse().ok())
}

/// The keys a case can be verified with: its `key` (private or public) and `public_key`.
fn case_keys(case: &Value) -> Vec<Jwk> {
    ["key", "public_key"]
        .iter()
        .filter(|k| case[**k].is_object())
        .map(|k| jwk(&case[*k]))
        .collect()
}

/// Verifies an accepted vector with `keys`, checks the decoded header and payload against
/// the texts in the vector, and checks that three kinds of tampering are rejected.
fn check_accepted(id: &str, alg: Algorithm, token: &str, key: &Jwk, expect: &Value) {
    let keys = KeySet::from_jwk(key, &[alg]).unwrap_or_else(|e| panic!("{id}: key: {e}"));
    let validation = Validation::new([alg]);
    let verified = verify_jws(token, &keys, &validation).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(verified.header().alg, alg, "{id}");

    let [header_seg, payload_seg, _] = segments(token);
    if let Some(text) = expect["payload_text"].as_str() {
        assert_eq!(verified.payload(), text.as_bytes(), "{id}: payload");
    }
    if let Some(text) = expect["protected_header_json"].as_str() {
        assert_eq!(b64d(header_seg), text.as_bytes(), "{id}: header bytes");
    }
    if let Some(expected) = expect["expected_header"].as_object() {
        let header = verified.header();
        assert_eq!(Some(header.alg.name()), expected["alg"].as_str(), "{id}");
        assert_eq!(
            header.kid.as_deref(),
            expected.get("kid").and_then(Value::as_str),
            "{id}"
        );
        assert_eq!(
            header.typ.as_deref(),
            expected.get("typ").and_then(Value::as_str),
            "{id}"
        );
        let parts = dangerous::decode_without_verifying(token, 16 * 1024).expect(id);
        assert_eq!(&parts.header, expected, "{id}: header JSON");
    }

    // Tampering: one signature bit, one payload byte, one header member.
    let flipped = flip_signature_bit(token);
    assert!(
        matches!(
            verify_jws(&flipped, &keys, &validation),
            Err(Error::InvalidSignature)
        ),
        "{id}: flipped signature bit accepted"
    );
    let mut payload = b64d(payload_seg);
    payload.push(b' ');
    let altered = with_segment(token, 1, &b64e(&payload));
    assert!(
        matches!(
            verify_jws(&altered, &keys, &validation),
            Err(Error::InvalidSignature)
        ),
        "{id}: altered payload accepted"
    );
    let header = String::from_utf8(b64d(header_seg)).expect("UTF-8 header");
    let altered_header = header.replacen('{', r#"{"x":1,"#, 1);
    let altered = with_segment(token, 0, &b64e(altered_header));
    assert!(
        matches!(
            verify_jws(&altered, &keys, &validation),
            Err(Error::InvalidSignature)
        ),
        "{id}: altered header accepted"
    );
}

/// For keys with a private half: deterministic algorithms reproduce the vector's signature byte
/// for byte; randomised ones produce a signature the public key accepts.
fn check_resign(id: &str, alg: Algorithm, token: &str, key: &Jwk) {
    if !key.is_private() {
        return;
    }
    let signer = SigningKey::from_jwk(key, Some(alg)).unwrap_or_else(|e| panic!("{id}: {e}"));
    let [header, payload, signature] = segments(token);
    let input = format!("{header}.{payload}");
    let ours = signer.sign(input.as_bytes()).expect(id);
    let deterministic = matches!(
        alg.family(),
        tessera_jwt::Family::Hmac | tessera_jwt::Family::Ed25519
    ) || alg.name().starts_with("RS");
    if deterministic {
        assert_eq!(ours, b64d(signature), "{id}: signature not reproduced");
    } else {
        let vk = signer.verifying_key().expect(id);
        vk.verify(input.as_bytes(), &ours)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_ne!(ours, b64d(signature), "{id}: randomised signature repeated");
    }
}

#[test]
fn rfc_compact_vectors_accept_and_reject_as_published() {
    let rfc = rfc();
    let cases = rfc["compact_cases"].as_array().expect("compact_cases");
    let (mut accepted, mut rejected) = (Vec::new(), Vec::new());
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let token = case["token"].as_str().expect("token");
        let expected = case["expected_jws"].as_str().expect("expected_jws");
        if expected.starts_with("accept") {
            let alg = alg_of(case).unwrap_or_else(|| panic!("{id}: alg"));
            let keys = case_keys(case);
            assert!(!keys.is_empty(), "{id}");
            for key in &keys {
                check_accepted(id, alg, token, key, case);
                check_resign(id, alg, token, key);
            }
            accepted.push(id);
        } else {
            assert!(expected.starts_with("reject"), "{id}: {expected}");
            let err = reject_reason(case, token);
            match id {
                "rfc7515-A.5-none" | "rfc7515-E-crit-negative" => {
                    assert!(
                        matches!(err, Error::AlgorithmNotAllowed(ref a) if a == "none"),
                        "{id}: {err}"
                    );
                }
                "rfc7797-4.2-HS256-b64-false-detached" => {
                    assert!(
                        matches!(err, Error::UnsupportedCritical(ref c) if c == "b64"),
                        "{id}: {err}"
                    );
                }
                "rfc7515-A.2-RS256-derived-wrong-key" => {
                    assert!(matches!(err, Error::AlgorithmNotAllowed(_)), "{id}: {err}");
                }
                "rfc7515-A.3-ES256-derived-wrong-key" => {
                    // RFC 7517 A.1's key is `use: enc`: it may never verify.
                    assert!(matches!(err, Error::KeyNotUsable(_)), "{id}: {err}");
                }
                _ => assert!(matches!(err, Error::InvalidSignature), "{id}: {err}"),
            }
            rejected.push(id);
        }
    }
    assert_eq!(accepted.len(), 11, "accepted: {accepted:?}");
    assert_eq!(rejected.len(), 15, "rejected: {rejected:?}");
}

/// The error a rejected case gets: with its own key when it has one, else with an HS256 key
/// (and every algorithm allowed, so nothing but the token itself can be the reason).
fn reject_reason(case: &Value, token: &str) -> Error {
    let id = case["id"].as_str().expect("id");
    let keys = match (case["key"].is_object(), alg_of(case)) {
        (true, Some(alg)) => KeySet::from_jwk(&jwk(&case["key"]), &[alg]).expect(id),
        _ => KeySet::from_secret(&[7; 64], &[Algorithm::HS256]).expect(id),
    };
    let validation = Validation::new(Algorithm::ALL);
    let err = verify_jws(token, &keys, &validation).expect_err(id);
    assert!(err.is_token_rejection(), "{id}: {err}");
    err
}

#[test]
fn rfc_jwts_are_valid_inside_their_lifetime_and_expired_after() {
    let rfc = rfc();
    let mut checked = 0;
    for case in rfc["compact_cases"].as_array().expect("cases") {
        let id = case["id"].as_str().expect("id");
        if !case["expected_jws"]
            .as_str()
            .is_some_and(|e| e.starts_with("accept"))
        {
            continue;
        }
        let alg = alg_of(case).expect(id);
        let token = case["token"].as_str().expect(id);
        let keys = KeySet::from_jwk(&jwk(&case["key"]), &[alg]).expect(id);
        let inside = Validation::new([alg])
            .leeway(0)
            .clock(clock(BEFORE_RFC_EXP));
        match case["expected_claims"].as_object() {
            Some(expected) => {
                let verified = verify::<Map<String, Value>>(token, &keys, &inside)
                    .unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(verified.claims(), expected, "{id}");
                assert_eq!(verified.registered().iss.as_deref(), Some("joe"), "{id}");
                let late = Validation::new([alg]).leeway(0).clock(clock(1_800_000_000));
                let err = verify::<Value>(token, &keys, &late).expect_err(id);
                assert_eq!(
                    err.to_string(),
                    "token expired at 2011-03-22T18:43:00Z (now 2027-01-15T08:00:00Z)",
                    "{id}"
                );
                let at_exp = Validation::new([alg]).leeway(0).clock(clock(1_300_819_380));
                assert!(matches!(
                    verify::<Value>(token, &keys, &at_exp),
                    Err(Error::Expired { .. })
                ));
                checked += 1;
            }
            None => {
                // A text payload is a valid JWS but not a JWT.
                let err = verify::<Value>(token, &keys, &inside).expect_err(id);
                assert!(matches!(err, Error::InvalidClaims(_)), "{id}: {err}");
            }
        }
    }
    // RFC 7515 A.1, A.2, A.3 and RFC 7519 §3.1.
    assert_eq!(checked, 4);
}

#[test]
fn rfc7515_a5_unsecured_jws_is_rejected_with_any_key() {
    let rfc = rfc();
    let case = rfc["compact_cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == "rfc7515-A.5-none")
        .expect("A.5");
    let token = case["token"].as_str().expect("token");
    assert!(token.ends_with('.'), "A.5 has an empty signature");
    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let key = SigningKey::generate_with_rsa_bits(alg, 2048).expect("key");
        let keys = KeySet::new(vec![key.verifying_key().expect("vk")]);
        let validation = Validation::default().insecure_ignore_exp();
        for result in [
            verify_jws(token, &keys, &validation).map(|_| ()),
            verify::<Value>(token, &keys, &validation).map(|_| ()),
        ] {
            let err = result.expect_err("unsecured JWS accepted");
            assert!(
                matches!(err, Error::AlgorithmNotAllowed(ref a) if a == "none"),
                "{err}"
            );
        }
    }
    // Reading it without verifying is possible (and says what it is).
    let parts = dangerous::decode_without_verifying(token, 1024).expect("decode");
    assert_eq!(parts.header["alg"], "none");
    assert!(parts.signature.is_empty());
}

#[test]
fn rfc7520_cookbook_compact_examples() {
    let files = [
        "rfc7520/jws/4_1.rsa_v15_signature.json",
        "rfc7520/jws/4_2.rsa-pss_signature.json",
        "rfc7520/jws/4_3.ecdsa_signature.json",
        "rfc7520/jws/4_4.hmac-sha2_integrity_protection.json",
        "rfc7520/curve25519/jws.json",
    ];
    for file in files {
        let example = vector(file);
        let input = &example["input"];
        let alg: Algorithm = input["alg"].as_str().expect("alg").parse().expect(file);
        let key = jwk(&input["key"]);
        let token = example["output"]["compact"].as_str().expect("compact");
        let [header, payload, signature] = segments(token);
        assert_eq!(header, example["signing"]["protected_b64u"], "{file}");
        assert_eq!(
            format!("{header}.{payload}"),
            example["signing"]["sig-input"],
            "{file}"
        );
        assert_eq!(signature, example["signing"]["sig"], "{file}");
        let expect = json!({
            "payload_text": input["payload"],
            "expected_header": example["signing"]["protected"],
        });
        check_accepted(file, alg, token, &key, &expect);
        // The public half alone verifies too.
        if alg.family() != tessera_jwt::Family::Hmac {
            let public = key.to_public().expect("asymmetric key has a public half");
            assert!(!public.is_private());
            check_accepted(file, alg, token, &public, &expect);
        }
        check_resign(file, alg, token, &key);
    }
}

#[test]
fn rfc7520_4_5_detached_content_is_not_supported() {
    let example = vector("rfc7520/jws/4_5.signature_with_detached_content.json");
    let token = example["output"]["compact"].as_str().expect("compact");
    assert!(
        token.contains(".."),
        "detached form has an empty payload segment"
    );
    let keys = KeySet::from_jwk(&jwk(&example["input"]["key"]), &[Algorithm::HS256]).expect("key");
    let err = verify_jws(token, &keys, &Validation::new([Algorithm::HS256])).expect_err("detached");
    assert!(matches!(err, Error::InvalidSignature), "{err}");
}

#[test]
fn rfc7520_section3_keys_parse_and_pair_up() {
    let ec_public = jwk(&vector("rfc7520/jwk/3_1.ec_public_key.json"));
    let ec_private = jwk(&vector("rfc7520/jwk/3_2.ec_private_key.json"));
    let rsa_public = jwk(&vector("rfc7520/jwk/3_3.rsa_public_key.json"));
    let rsa_private = jwk(&vector("rfc7520/jwk/3_4.rsa_private_key.json"));
    let oct = jwk(&vector(
        "rfc7520/jwk/3_5.symmetric_key_mac_computation.json",
    ));

    assert!(!ec_public.is_private() && ec_private.is_private());
    assert!(!rsa_public.is_private() && rsa_private.is_private());
    assert!(oct.is_private() && oct.to_public().is_none());
    for (public, private, alg) in [
        (&ec_public, &ec_private, Algorithm::ES512),
        (&rsa_public, &rsa_private, Algorithm::PS256),
    ] {
        public.validate().expect("public key");
        private.validate().expect("private key");
        assert_eq!(private.to_public().as_ref(), Some(public), "public half");
        assert!(
            SigningKey::from_jwk(public, Some(alg)).is_err(),
            "a public key cannot sign"
        );
        let signer = SigningKey::from_jwk(private, Some(alg)).expect("signing key");
        let vk = VerifyingKey::from_jwk(public, Some(alg)).expect("verifying key");
        assert_eq!(vk.kid(), Some("bilbo.baggins@hobbiton.example"));
        vk.verify(b"m", &signer.sign(b"m").expect("sign"))
            .expect("pair");
        assert_eq!(
            signer.thumbprint().expect("tp"),
            public.thumbprint().expect("tp")
        );
        assert_eq!(
            vk.thumbprint().expect("tp"),
            public.thumbprint().expect("tp")
        );
    }
    // The EC key is P-521: the curve fixes ES512 and nothing else.
    assert!(matches!(
        VerifyingKey::from_jwk(&ec_public, Some(Algorithm::ES256)),
        Err(Error::KeyAlgorithmMismatch { .. })
    ));
    // The symmetric key says `alg: HS256`: it is bound to it.
    assert_eq!(
        VerifyingKey::from_jwk(&oct, None).expect("oct").algorithm(),
        Algorithm::HS256
    );
    assert!(VerifyingKey::from_jwk(&oct, Some(Algorithm::HS512)).is_err());
}

#[test]
fn rfc7517_appendix_a1_public_keys() {
    let rfc = rfc();
    let example = &rfc["jwk_examples"][0];
    assert_eq!(example["id"], "rfc7517-A.1-public-keys");
    let set = JwkSet::from_json(example["jwk_set"].to_string().as_bytes()).expect("JWKS");
    assert_eq!(set.keys.len(), 2);
    let (ec, rsa) = (&set.keys[0], &set.keys[1]);
    assert_eq!(
        (ec.kty.as_str(), ec.kid.as_deref(), ec.use_.as_deref()),
        ("EC", Some("1"), Some("enc"))
    );
    assert_eq!(
        (rsa.kty.as_str(), rsa.kid.as_deref(), rsa.alg.as_deref()),
        ("RSA", Some("2011-04-29"), Some("RS256"))
    );
    assert!(set.keys.iter().all(|k| !k.is_private()));

    let keys = KeySet::from_jwks(&set, &Algorithm::ALL);
    assert!(keys.skipped().is_empty(), "{:?}", keys.skipped());
    let algs: Vec<_> = keys
        .keys()
        .iter()
        .map(|k| (k.kid(), k.algorithm()))
        .collect();
    assert_eq!(
        algs,
        [
            (Some("1"), Algorithm::ES256),
            (Some("2011-04-29"), Algorithm::RS256)
        ]
    );

    // The RSA key verifies what its private half (A.2) signs; the EC key is for encryption
    // and never verifies, even a signature its private half made.
    let private = &rfc["jwk_examples"][1]["jwk_set"]["keys"];
    let rsa_signer = SigningKey::from_jwk(&jwk(&private[1]), None).expect("A.2 RSA");
    let rsa_vk = VerifyingKey::from_jwk(rsa, None).expect("A.1 RSA");
    rsa_vk
        .verify(b"m", &rsa_signer.sign(b"m").expect("sign"))
        .expect("A.1/A.2 RSA pair");
    let mut ec_private = jwk(&private[0]);
    ec_private.use_ = None;
    let ec_sig = SigningKey::from_jwk(&ec_private, None)
        .expect("EC")
        .sign(b"m")
        .expect("sign");
    let ec_vk = VerifyingKey::from_jwk(ec, None).expect("A.1 EC");
    assert!(matches!(
        ec_vk.verify(b"m", &ec_sig),
        Err(Error::KeyNotUsable(_))
    ));
    let mut ec_sig_use = ec.clone();
    ec_sig_use.use_ = Some("sig".into());
    VerifyingKey::from_jwk(&ec_sig_use, None)
        .expect("EC")
        .verify(b"m", &ec_sig)
        .expect("pair");
}

#[test]
fn rfc7517_appendix_a2_private_keys() {
    let rfc = rfc();
    let public = &rfc["jwk_examples"][0]["jwk_set"]["keys"];
    let example = &rfc["jwk_examples"][1];
    assert_eq!(example["id"], "rfc7517-A.2-private-keys");
    let set = JwkSet::from_json(example["jwk_set"].to_string().as_bytes()).expect("JWKS");
    assert_eq!(set.keys.len(), 2);
    for (i, key) in set.keys.iter().enumerate() {
        assert!(key.is_private());
        key.validate().expect("consistent private key");
        let stripped = serde_json::to_value(key.to_public().expect("public half")).expect("json");
        assert_eq!(
            stripped, public[i],
            "the public half of A.2 key {i} is A.1 key {i}"
        );
        assert!(!format!("{key:?}").contains(key.d.as_ref().expect("d").expose()));
    }
    // `use: enc` keys may not sign; the RSA key (alg RS256) may.
    assert!(matches!(
        SigningKey::from_jwk(&set.keys[0], None),
        Err(Error::InvalidKey(_))
    ));
    let rsa = SigningKey::from_jwk(&set.keys[1], None).expect("RSA");
    assert_eq!(
        (rsa.algorithm(), rsa.kid()),
        (Algorithm::RS256, Some("2011-04-29"))
    );
    assert!(SigningKey::from_jwk(&set.keys[1], Some(Algorithm::PS256)).is_err());
}

#[test]
fn rfc7517_appendix_a3_symmetric_keys() {
    let rfc = rfc();
    let example = &rfc["jwk_examples"][2];
    assert_eq!(example["id"], "rfc7517-A.3-symmetric-keys");
    let set = JwkSet::from_json(example["jwk_set"].to_string().as_bytes()).expect("JWKS");
    assert_eq!(set.keys.len(), 2);
    let (aes, hmac) = (&set.keys[0], &set.keys[1]);
    assert!(aes.is_private() && hmac.is_private());
    // A128KW is a key-wrapping algorithm, not a JWS one: the key never signs nor verifies.
    assert!(matches!(
        VerifyingKey::from_jwk(aes, None),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        VerifyingKey::from_jwk(aes, Some(Algorithm::HS256)),
        Err(Error::InvalidKey(_))
    ));
    assert!(SigningKey::from_jwk(aes, None).is_err());

    // The HMAC key is RFC 7515 A.1's: it verifies that token (kid or not, since it is the
    // only HS256 key of the set).
    let keys = KeySet::from_jwks(&set, &[Algorithm::HS256]);
    assert_eq!(keys.keys().len(), 1);
    assert_eq!(keys.skipped().len(), 1);
    assert_eq!(
        keys.keys()[0].kid(),
        Some("HMAC key used in JWS spec Appendix A.1 example")
    );
    let a1 = rfc["compact_cases"][0]["token"].as_str().expect("A.1");
    let validation = Validation::new([Algorithm::HS256]).clock(clock(BEFORE_RFC_EXP));
    verify::<Value>(a1, &keys, &validation).expect("A.1 with the A.3 key");
}

#[test]
fn rfc7517_appendix_b_x5c_is_kept_but_never_a_key() {
    let rfc = rfc();
    let example = &rfc["jwk_examples"][3];
    assert_eq!(example["id"], "rfc7517-B-x5c");
    let key = jwk(&example["jwk"]);
    assert_eq!(key.kid.as_deref(), Some("1b94c"));
    let chain = key.other["x5c"].as_array().expect("x5c kept");
    assert_eq!(chain.len(), 1);
    let vk = VerifyingKey::from_jwk(&key, Some(Algorithm::RS256)).expect("RSA key");
    // The certificate (standard base64, RFC 7517 §4.7) holds this very public key.
    use base64::Engine as _;
    let cert = base64::engine::general_purpose::STANDARD
        .decode(chain[0].as_str().expect("string"))
        .expect("standard base64");
    let spki = pem::parse(vk.to_pem().expect("pem"))
        .expect("pem")
        .into_contents();
    assert!(
        cert.windows(spki.len()).any(|w| w == spki),
        "certificate holds n/e"
    );
    // Written back, x5c is still there.
    let again = Jwk::from_json(key.to_json().expect("json").as_bytes()).expect("again");
    assert_eq!(again.other["x5c"], example["jwk"]["x5c"]);
}

#[test]
fn rfc7638_and_rfc8037_thumbprints() {
    let rfc = rfc();
    let cases = rfc["thumbprints"].as_array().expect("thumbprints");
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let expected = case["expected_thumbprint"].as_str().expect("expected");
        // The vector is self-consistent: the hash of its canonical JSON is the thumbprint.
        let canonical = case["canonical_json"].as_str().expect("canonical");
        let hash = digest::digest(&digest::SHA256, canonical.as_bytes());
        assert_eq!(b64e(hash.as_ref()), expected, "{id}: vector");
        if let Some(h) = case["expected_sha256_hex"].as_str() {
            assert_eq!(hex(h), b64d(expected), "{id}: vector hex");
        }

        let key = jwk(&case["jwk"]);
        assert_eq!(key.thumbprint().expect(id), expected, "{id}: Jwk");
        let alg = match key.kty.as_str() {
            "RSA" => Some(Algorithm::RS256),
            _ => None,
        };
        let vk = VerifyingKey::from_jwk(&key, alg).expect(id);
        assert_eq!(vk.thumbprint().expect(id), expected, "{id}: VerifyingKey");
        if key.is_private() {
            let sk = SigningKey::from_jwk(&key, alg).expect(id);
            assert_eq!(sk.thumbprint().expect(id), expected, "{id}: SigningKey");
        }
        // `alg`, `kid`, `use` are not part of it.
        let mut decorated = key.clone();
        decorated.kid = Some("another".into());
        decorated.use_ = Some("sig".into());
        assert_eq!(
            decorated.thumbprint().expect(id),
            expected,
            "{id}: decorated"
        );
    }
    assert_eq!(cases.len(), 4);
}
