//! Arbitrary bytes as a JWK, a JWK Set, or either: parsed, turned into keys, thumbprinted and
//! validated. Nothing may panic, and a private key read from a JWK must verify its own
//! signature.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_jwt::{Algorithm, Jwk, JwkOrSet, JwkSet, KeySet, SigningKey};

fn exercise(jwk: &Jwk) {
    let _ = jwk.thumbprint();
    let _ = jwk.validate();
    let _ = jwk.to_json();
    if let Some(public) = jwk.to_public() {
        assert!(!public.is_private(), "to_public kept private material");
        let _ = public.thumbprint();
    }
    if let Ok(keys) = KeySet::from_jwk(jwk, &Algorithm::ALL) {
        let _ = keys.to_public_jwks();
        for key in keys.keys() {
            let _ = key.thumbprint();
            let _ = key.to_pem();
            assert!(key.verify(b"message", &[0u8; 64]).is_err());
        }
    }
    if let Ok(key) = SigningKey::from_jwk(jwk, None) {
        let signature = key.sign(b"message").expect("a loaded key signs");
        let verifying = key
            .verifying_key()
            .expect("a loaded key has a verifying key");
        verifying
            .verify(b"message", &signature)
            .expect("a key verifies its own signature");
        let _ = key.to_jwk();
        let _ = key.public_jwk();
        let _ = key.thumbprint();
    }
}

fn exercise_set(set: &JwkSet) {
    let keys = KeySet::from_jwks(set, &Algorithm::ALL);
    let _ = keys.to_public_jwks();
    let _ = set.to_json();
    for jwk in &set.keys {
        exercise(jwk);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(jwk) = Jwk::from_json(data) {
        exercise(&jwk);
    }
    if let Ok(set) = JwkSet::from_json(data) {
        exercise_set(&set);
    }
    match JwkOrSet::from_json(data) {
        Ok(JwkOrSet::Key(jwk)) => exercise(&jwk),
        Ok(JwkOrSet::Set(set)) => exercise_set(&set),
        _ => {}
    }
});
