//! Signing and verifying keys, each bound to one algorithm when it is made.
//!
//! Key material is parsed once, here, into aws-lc-rs objects; signing and verifying a token
//! never parse a key again. Loading accepts JWK (RFC 7517/7518/8037), PEM and DER (PKCS#8,
//! SubjectPublicKeyInfo, PKCS#1, SEC1).
//!
//! What is where: `material` (key material before it is bound, and the binding), `parse`
//! (JWK, PEM and DER import), `signing` ([`SigningKey`]) and `verifying` ([`VerifyingKey`]).

mod material;
mod parse;
mod signing;
mod verifying;

pub use material::{MAX_RSA_BITS, MIN_RSA_BITS};
pub use signing::SigningKey;
pub use verifying::VerifyingKey;

#[cfg(test)]
mod tests {
    use super::material::bit_len;
    use super::*;
    use crate::algorithm::{Algorithm, Family};
    use crate::error::Error;

    #[test]
    fn every_algorithm_generates_signs_and_verifies() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap().with_kid("k1");
            let sig = key.sign(b"message").unwrap();
            let vk = key.verifying_key().unwrap();
            vk.verify(b"message", &sig).unwrap();
            assert!(matches!(
                vk.verify(b"massage", &sig),
                Err(Error::InvalidSignature)
            ));
            // JWK round trip, private and public.
            let jwk = key.to_jwk().unwrap();
            let again = SigningKey::from_jwk(&jwk, None).unwrap();
            assert_eq!(again.algorithm(), alg);
            assert_eq!(again.kid(), Some("k1"));
            if alg.family() != Family::Hmac {
                let public = key.public_jwk().unwrap();
                assert!(!public.is_private());
                let vk2 = VerifyingKey::from_jwk(&public, None).unwrap();
                vk2.verify(b"message", &again.sign(b"message").unwrap())
                    .unwrap();
                // PEM round trips.
                let pem = key.to_pem().unwrap();
                let from_pem = SigningKey::from_pem(&pem, Some(alg)).unwrap();
                vk.verify(b"m", &from_pem.sign(b"m").unwrap()).unwrap();
                let vk3 = VerifyingKey::from_pem(&key.public_pem().unwrap(), Some(alg)).unwrap();
                vk3.verify(b"m", &key.sign(b"m").unwrap()).unwrap();
                assert_eq!(vk3.thumbprint().unwrap(), key.thumbprint().unwrap());
            }
        }
    }

    #[test]
    fn short_hmac_secrets_are_refused() {
        assert!(SigningKey::hmac(Algorithm::HS256, &[7; 31]).is_err());
        assert!(SigningKey::hmac(Algorithm::HS256, &[7; 32]).is_ok());
        assert!(SigningKey::hmac(Algorithm::HS384, &[7; 47]).is_err());
        assert!(SigningKey::hmac(Algorithm::HS512, &[7; 63]).is_err());
        assert!(VerifyingKey::hmac(Algorithm::HS512, &[7; 64]).is_ok());
    }

    #[test]
    fn the_key_fixes_its_algorithm() {
        let ec = SigningKey::generate(Algorithm::ES256).unwrap();
        let jwk = ec.to_jwk().unwrap();
        assert!(matches!(
            SigningKey::from_jwk(&jwk, Some(Algorithm::ES384)),
            Err(Error::KeyAlgorithmMismatch { .. })
        ));
        let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
        let mut jwk = rsa.to_jwk().unwrap();
        jwk.alg = None;
        assert!(matches!(
            SigningKey::from_jwk(&jwk, None),
            Err(Error::AlgorithmRequired(_))
        ));
        assert!(SigningKey::from_jwk(&jwk, Some(Algorithm::ES256)).is_err());
        assert_eq!(
            SigningKey::from_jwk(&jwk, Some(Algorithm::PS384))
                .unwrap()
                .algorithm(),
            Algorithm::PS384
        );
    }

    #[test]
    fn enc_keys_never_verify() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let sig = key.sign(b"m").unwrap();
        let mut jwk = key.public_jwk().unwrap();
        jwk.use_ = Some("enc".into());
        let vk = VerifyingKey::from_jwk(&jwk, None).unwrap();
        assert!(matches!(vk.verify(b"m", &sig), Err(Error::KeyNotUsable(_))));
        jwk.use_ = None;
        jwk.key_ops = Some(vec!["encrypt".into()]);
        let vk = VerifyingKey::from_jwk(&jwk, None).unwrap();
        assert!(matches!(vk.verify(b"m", &sig), Err(Error::KeyNotUsable(_))));
        let mut private = key.to_jwk().unwrap();
        private.use_ = Some("enc".into());
        assert!(SigningKey::from_jwk(&private, None).is_err());
    }

    #[test]
    fn debug_never_shows_secrets() {
        let key = SigningKey::hmac(Algorithm::HS256, b"0123456789abcdef0123456789abcdef").unwrap();
        let dbg = format!("{key:?} {:?}", key.verifying_key().unwrap());
        assert!(!dbg.contains("0123"), "{dbg}");
    }

    #[test]
    fn bit_length() {
        assert_eq!(bit_len(&[0, 0x80]), 8);
        assert_eq!(bit_len(&[1, 0]), 9);
        assert_eq!(bit_len(&[]), 0);
    }
}
