//! C2SP/Wycheproof vectors: the JWS and JWK suites through the whole verifier, and the raw
//! ECDSA P-256 (r‖s), Ed25519 and HMAC-SHA256 suites through `VerifyingKey`. Every test counts
//! the cases it ran and compares with the file's `numberOfTests`, so none can pass by running
//! nothing.

use std::collections::BTreeMap;

use serde_json::Value;
use tessera_jwt::{Algorithm, Error, Jwk, JwkOrSet, KeySet, Validation, VerifyingKey, verify_jws};

use crate::support::{b64e, hex, vector};

/// Cases whose upstream label this suite overrides, with the reason. Read from
/// `KNOWN_ISSUES.json` (labels that contradict RFC 7515), plus the cases its notes explain
/// are invalid for a verifier that binds a JWK to its `alg` and enforces `key_ops`, as
/// tessera does (DESIGN.md: "a JWK's `alg` member binds it to that algorithm").
fn jws_overrides() -> BTreeMap<u64, (bool, String)> {
    let known = vector("wycheproof/KNOWN_ISSUES.json");
    assert_eq!(known["file"], "json_web_signature_test.json");
    let mut out = BTreeMap::new();
    for o in known["overrides"].as_array().expect("overrides") {
        let id = o["tcId"].as_u64().expect("tcId");
        let valid = match o["correct_result"].as_str() {
            Some("valid") => true,
            Some("invalid") => false,
            other => panic!("tcId {id}: correct_result {other:?}"),
        };
        out.insert(
            id,
            (valid, o["why"].as_str().unwrap_or_default().to_owned()),
        );
    }
    assert_eq!(out.len(), 4, "KNOWN_ISSUES.json lists four overrides");
    let binding = "the group key declares another `alg` (PS256 for a PS384 token, or `ES521`, \
                   no JWS algorithm, for an ES512 token); KNOWN_ISSUES notes";
    for id in [346, 347, 350, 351] {
        out.insert(id, (false, binding.to_owned()));
    }
    out
}

/// Cases that are valid with the group's public key, but not with its private JWK, which
/// Wycheproof gives too and which this suite also tries (only the public half is used).
fn jws_private_key_invalid() -> BTreeMap<u64, &'static str> {
    // The private JWK's `key_ops` is the one string "sign, verify", not the two operations
    // "sign" and "verify" (RFC 7517 §4.3: an array of strings, one per operation), so it
    // does not permit "verify". The public JWK says ["verify"].
    BTreeMap::from([(349, "key_ops [\"sign, verify\"] lacks \"verify\"")])
}

/// The keys a JWS/JWK group verifies with: its public JWK (or JWKS) when it has one, else its
/// private one. A key that cannot be loaded is a rejection.
fn group_keys(group: &Value, which: &str) -> Option<Result<KeySet, Error>> {
    let key = group.get(which)?;
    let loaded = JwkOrSet::from_json(key.to_string().as_bytes()).and_then(|k| match k {
        JwkOrSet::Key(jwk) => KeySet::from_jwk(&jwk, &Algorithm::ALL),
        JwkOrSet::Set(set) => Ok(KeySet::from_jwks(&set, &Algorithm::ALL)),
        _ => unreachable!("JwkOrSet has two forms"),
    });
    Some(loaded)
}

fn verdict(keys: &Result<KeySet, Error>, jws: &str) -> Result<(), String> {
    match keys {
        Ok(keys) => verify_jws(jws, keys, &Validation::default())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("key refused: {e}")),
    }
}

/// Runs a JWS-type Wycheproof file; returns (cases run, cases accepted).
fn run_jws_file(
    file: &str,
    overrides: &BTreeMap<u64, (bool, String)>,
    accepted_by_policy: &BTreeMap<u64, &str>,
    private_key_invalid: &BTreeMap<u64, &str>,
) -> (usize, usize) {
    let data = vector(file);
    let mut wrong = Vec::new();
    let (mut ran, mut accepted) = (0, 0);
    for group in data["testGroups"].as_array().expect("groups") {
        let sources: Vec<_> = ["public", "private"]
            .iter()
            .filter_map(|w| group_keys(group, w).map(|k| (*w, k)))
            .collect();
        assert!(!sources.is_empty(), "{file}: group without a key");
        for case in group["tests"].as_array().expect("tests") {
            let id = case["tcId"].as_u64().expect("tcId");
            let jws = case["jws"].as_str().expect("jws");
            let upstream = case["result"] == "valid";
            let expect_valid = match (overrides.get(&id), accepted_by_policy.get(&id)) {
                (Some((valid, _)), _) => *valid,
                (None, Some(_)) => true,
                (None, None) => upstream,
            };
            for (which, keys) in &sources {
                let got = verdict(keys, jws);
                let expect_valid =
                    expect_valid && !(*which == "private" && private_key_invalid.contains_key(&id));
                if got.is_ok() != expect_valid {
                    wrong.push(format!(
                        "tcId {id} ({}) with the {which} key: expected {}, got {got:?}",
                        case["comment"],
                        if expect_valid { "valid" } else { "invalid" }
                    ));
                }
            }
            ran += 1;
            accepted += usize::from(expect_valid);
        }
    }
    assert!(wrong.is_empty(), "{file}:\n{}", wrong.join("\n"));
    assert_eq!(
        ran as u64,
        data["numberOfTests"].as_u64().expect("count"),
        "{file}"
    );
    (ran, accepted)
}

#[test]
fn json_web_signature_suite() {
    let overrides = jws_overrides();
    let (ran, accepted) = run_jws_file(
        "wycheproof/json_web_signature_test.json",
        &overrides,
        &BTreeMap::new(),
        &jws_private_key_invalid(),
    );
    assert_eq!(ran, 401);
    // Upstream labels 46 valid: +2 (367, 370), -2 (372, 373), -4 (346, 347, 350, 351).
    assert_eq!(accepted, 42);
}

#[test]
fn json_web_key_suite() {
    // Wycheproof flags these "Ambiguous" (behaviour the RFCs leave open; Tink rejects them).
    // tessera accepts them by design: a key set may mix an HMAC secret and public keys (each
    // key is bound to its own algorithm, so they cannot be confused), and keys sharing a
    // `kid` are all tried (at most MAX_CANDIDATES), as during a rotation.
    let policy = BTreeMap::from([
        (1, "MixedKeySet: each key keeps its own algorithm"),
        (4, "DuplicateKid: both keys are trusted, both are tried"),
    ]);
    let (ran, accepted) = run_jws_file(
        "wycheproof/json_web_key_test.json",
        &BTreeMap::new(),
        &policy,
        &BTreeMap::new(),
    );
    assert_eq!(ran, 26);
    // Upstream labels 5 valid (tcIds 2, 5, 13, 14, 15), plus the two above.
    assert_eq!(accepted, 7);
}

/// A public key from a Wycheproof group, in each form the group gives it.
fn group_verifying_keys(group: &Value) -> Vec<(&'static str, VerifyingKey)> {
    let mut keys = Vec::new();
    if let Some(jwk) = group.get("publicKeyJwk") {
        let jwk = Jwk::from_json(jwk.to_string().as_bytes()).expect("JWK");
        keys.push(("jwk", VerifyingKey::from_jwk(&jwk, None).expect("JWK key")));
    }
    let der = hex(group["publicKeyDer"].as_str().expect("der"));
    keys.push(("der", VerifyingKey::from_der(&der, None).expect("DER key")));
    let pem = group["publicKeyPem"].as_str().expect("pem");
    keys.push(("pem", VerifyingKey::from_pem(pem, None).expect("PEM key")));
    keys
}

/// Runs a raw signature file (msg, sig, result) through `VerifyingKey::verify`.
fn run_signature_file(file: &str, alg: Algorithm) -> usize {
    let data = vector(file);
    let mut wrong = Vec::new();
    let mut ran = 0;
    for group in data["testGroups"].as_array().expect("groups") {
        let keys = group_verifying_keys(group);
        for (_, key) in &keys {
            assert_eq!(key.algorithm(), alg, "{file}: the key fixes the algorithm");
        }
        for case in group["tests"].as_array().expect("tests") {
            let id = case["tcId"].as_u64().expect("tcId");
            let msg = hex(case["msg"].as_str().expect("msg"));
            let sig = hex(case["sig"].as_str().expect("sig"));
            let valid = match case["result"].as_str() {
                Some("valid") => true,
                Some("invalid") => false,
                other => panic!("{file} tcId {id}: result {other:?}"),
            };
            for (form, key) in &keys {
                let got = key.verify(&msg, &sig);
                let ok = match &got {
                    Ok(()) => true,
                    Err(Error::InvalidSignature) => false,
                    Err(e) => panic!("{file} tcId {id}: not a signature verdict: {e}"),
                };
                if ok != valid {
                    wrong.push(format!(
                        "tcId {id} ({}, {form} key): expected {valid}, got {got:?}",
                        case["comment"]
                    ));
                }
            }
            ran += 1;
        }
    }
    assert!(wrong.is_empty(), "{file}:\n{}", wrong.join("\n"));
    assert_eq!(
        ran as u64,
        data["numberOfTests"].as_u64().expect("count"),
        "{file}"
    );
    ran
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    let ran = run_signature_file(
        "wycheproof/ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::ES256,
    );
    assert_eq!(ran, 262);
}

#[test]
fn ed25519() {
    let ran = run_signature_file("wycheproof/ed25519_test.json", Algorithm::EdDSA);
    assert_eq!(ran, 151);
}

#[test]
fn hmac_sha256() {
    let data = vector("wycheproof/hmac_sha256_test.json");
    let mut wrong = Vec::new();
    let (mut full, mut truncated, mut short_keys) = (0, 0, 0);
    for group in data["testGroups"].as_array().expect("groups") {
        let tag_bits = group["tagSize"].as_u64().expect("tagSize");
        let key_bits = group["keySize"].as_u64().expect("keySize");
        for case in group["tests"].as_array().expect("tests") {
            let id = case["tcId"].as_u64().expect("tcId");
            let key = hex(case["key"].as_str().expect("key"));
            let msg = hex(case["msg"].as_str().expect("msg"));
            let tag = hex(case["tag"].as_str().expect("tag"));
            let valid = case["result"] == "valid";
            let jwk = Jwk::from_json(
                serde_json::json!({"kty": "oct", "k": b64e(&key)})
                    .to_string()
                    .as_bytes(),
            )
            .expect("oct JWK");
            let from_jwk = VerifyingKey::from_jwk(&jwk, Some(Algorithm::HS256));
            let from_secret = VerifyingKey::hmac(Algorithm::HS256, &key);
            if key_bits < 256 {
                // RFC 7518 §3.2: an HS256 key must be at least 256 bits.
                assert!(matches!(from_jwk, Err(Error::InvalidKey(_))), "tcId {id}");
                assert!(
                    matches!(from_secret, Err(Error::InvalidKey(_))),
                    "tcId {id}"
                );
                short_keys += 1;
                continue;
            }
            for key in [from_jwk.expect("JWK key"), from_secret.expect("key")] {
                let got = key.verify(&msg, &tag);
                if tag_bits < 256 {
                    // A JWS HMAC is the whole output; a truncated tag never verifies.
                    if !matches!(got, Err(Error::InvalidSignature)) {
                        wrong.push(format!("tcId {id}: truncated tag gave {got:?}"));
                    }
                } else if got.is_ok() != valid {
                    wrong.push(format!(
                        "tcId {id} ({}): expected {valid}, got {got:?}",
                        case["comment"]
                    ));
                }
            }
            if tag_bits < 256 {
                truncated += 1;
            } else {
                full += 1;
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(full + truncated + short_keys, 174);
    assert_eq!((full, truncated, short_keys), (84, 84, 6));
}
