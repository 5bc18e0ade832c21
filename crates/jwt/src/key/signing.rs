//! [`SigningKey`]: a private key (or HMAC secret) bound to one algorithm, generated or
//! imported, that signs and exports itself.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use aws_lc_rs::{hmac, rand};
use zeroize::Zeroizing;

use crate::algorithm::{Algorithm, Family};
use crate::error::{Error, Result};
use crate::jwk::Jwk;

use super::material::{MIN_RSA_BITS, Material, Permission, Private, bind, permission};
use super::parse::{ec_signing, material_from_der, material_from_jwk, material_from_pem};
use super::verifying::VerifyingKey;

enum Signer {
    Hmac(Box<hmac::Key>),
    Rsa(&'static dyn signature::RsaEncoding),
    Other,
}

/// A private key (or HMAC secret) bound to one algorithm, ready to sign.
///
/// Not `Clone`: share it behind an `Arc`. `Debug` shows the algorithm and `kid` only.
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    private: Private,
    signer: Signer,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl SigningKey {
    fn bind(private: Private, alg: Algorithm, kid: Option<String>) -> Result<Self> {
        let signer = match (&private, alg.family()) {
            (Private::Oct(secret), Family::Hmac) => {
                let h = alg.hmac().ok_or(Error::Crypto("HMAC algorithm"))?;
                Signer::Hmac(Box::new(hmac::Key::new(h, secret)))
            }
            (Private::Rsa(_), Family::Rsa) => {
                Signer::Rsa(alg.rsa_encoding().ok_or(Error::Crypto("RSA padding"))?)
            }
            _ => Signer::Other,
        };
        Ok(SigningKey {
            alg,
            kid,
            private,
            signer,
        })
    }

    fn from_material(
        private: Private,
        jwk_alg: Option<&str>,
        alg: Option<Algorithm>,
        kid: Option<String>,
    ) -> Result<Self> {
        let alg = bind(&private.to_public(), jwk_alg, alg)?;
        Self::bind(private, alg, kid)
    }

    /// An HMAC key. The secret must be at least as long as the hash output (RFC 7518 §3.2).
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self> {
        if alg.family() != Family::Hmac {
            return Err(Error::InvalidKey(format!("{alg} is not an HMAC algorithm")));
        }
        Self::from_material(
            Private::Oct(Zeroizing::new(secret.to_vec())),
            None,
            Some(alg),
            None,
        )
    }

    /// A private JWK. Its `alg`, if present, binds the key; otherwise `alg` (or the curve) does.
    /// A JWK whose `use` is not `sig`, or whose `key_ops` lack `sign`, is refused.
    pub fn from_jwk(jwk: &Jwk, alg: Option<Algorithm>) -> Result<Self> {
        if let Permission::Denied(why) = permission(jwk, "sign") {
            return Err(Error::InvalidKey(format!("the key may not sign: {why}")));
        }
        match material_from_jwk(jwk)? {
            Material::Private(p) => {
                Self::from_material(p, jwk.alg.as_deref(), alg, jwk.kid.clone())
            }
            Material::Public(_) => Err(Error::InvalidKey("a public key cannot sign".into())),
        }
    }

    /// A PEM private key: PKCS#8 (`PRIVATE KEY`), PKCS#1 (`RSA PRIVATE KEY`) or SEC1
    /// (`EC PRIVATE KEY`).
    pub fn from_pem(pem: &str, alg: Option<Algorithm>) -> Result<Self> {
        match material_from_pem(pem)? {
            Material::Private(p) => Self::from_material(p, None, alg, None),
            Material::Public(_) => Err(Error::InvalidKey("a public key cannot sign".into())),
        }
    }

    /// A DER private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_der(der: &[u8], alg: Option<Algorithm>) -> Result<Self> {
        match material_from_der(der)? {
            Material::Private(p) => Self::from_material(p, None, alg, None),
            Material::Public(_) => Err(Error::InvalidKey("a public key cannot sign".into())),
        }
    }

    /// Generates a fresh key for `alg` (RSA: 2048 bits; HMAC: a secret as long as the hash).
    pub fn generate(alg: Algorithm) -> Result<Self> {
        Self::generate_with_rsa_bits(alg, MIN_RSA_BITS)
    }

    /// Generates a fresh key; for RSA algorithms, of `rsa_bits` (2048, 3072 or 4096).
    pub fn generate_with_rsa_bits(alg: Algorithm, rsa_bits: usize) -> Result<Self> {
        let private = match alg.family() {
            Family::Hmac => {
                let mut secret = Zeroizing::new(vec![0u8; alg.min_secret_len()]);
                rand::fill(&mut secret).map_err(|_| Error::Crypto("random generation"))?;
                Private::Oct(secret)
            }
            Family::Rsa => {
                let size = match rsa_bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    other => {
                        return Err(Error::InvalidKey(format!(
                            "RSA keys are generated with 2048, 3072 or 4096 bits, not {other}"
                        )));
                    }
                };
                Private::Rsa(
                    RsaKeyPair::generate(size).map_err(|_| Error::Crypto("RSA key generation"))?,
                )
            }
            Family::Ec(curve) => Private::Ec(
                curve,
                EcdsaKeyPair::generate(ec_signing(curve)?)
                    .map_err(|_| Error::Crypto("EC key generation"))?,
            ),
            Family::Ed25519 => Private::Ed25519(
                Ed25519KeyPair::generate().map_err(|_| Error::Crypto("Ed25519 key generation"))?,
            ),
        };
        Self::bind(private, alg, None)
    }

    /// Sets the key id.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Signs `message` (the JWS signing input).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match (&self.signer, &self.private) {
            (Signer::Hmac(key), _) => Ok(hmac::sign(key, message).as_ref().to_vec()),
            (Signer::Rsa(padding), Private::Rsa(pair)) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(*padding, &rand::SystemRandom::new(), message, &mut sig)
                    .map_err(|_| Error::Crypto("RSA signing"))?;
                Ok(sig)
            }
            (_, Private::Ec(_, pair)) => pair
                .sign(&rand::SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Crypto("ECDSA signing")),
            (_, Private::Ed25519(pair)) => Ok(pair.sign(message).as_ref().to_vec()),
            _ => Err(Error::Crypto("key and algorithm do not match")),
        }
    }

    /// The matching verifying key (for HMAC, the same secret), with the same `kid`.
    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        VerifyingKey::bind(
            self.private.to_public(),
            self.alg,
            self.kid.clone(),
            Permission::Allowed,
        )
    }

    /// The public JWK (with `kty`, key members, `alg`, `use: sig`, `kid`). An HMAC key has
    /// none: `InvalidKey`.
    pub fn public_jwk(&self) -> Result<Jwk> {
        if matches!(self.private, Private::Oct(_)) {
            return Err(Error::InvalidKey("an HMAC secret has no public key".into()));
        }
        self.verifying_key()?.to_jwk()
    }

    /// The private JWK, with `alg`, `use: sig` and `kid`. Treat the result as a secret.
    pub fn to_jwk(&self) -> Result<Jwk> {
        let mut jwk = self.private.to_jwk()?;
        jwk.alg = Some(self.alg.name().into());
        jwk.use_ = Some("sig".into());
        jwk.kid = self.kid.clone();
        Ok(jwk)
    }

    /// The private key as PKCS#8 PEM (`PRIVATE KEY`). HMAC secrets have no PEM form.
    pub fn to_pem(&self) -> Result<Zeroizing<String>> {
        let der: Zeroizing<Vec<u8>> = Zeroizing::new(
            match &self.private {
                Private::Oct(_) => {
                    return Err(Error::InvalidKey(
                        "an HMAC secret has no PEM form; use JWK".into(),
                    ));
                }
                Private::Rsa(pair) => pair.as_der().map(|d| d.as_ref().to_vec()),
                Private::Ec(_, pair) => pair.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
                Private::Ed25519(pair) => pair.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
            }
            .map_err(|_| Error::Crypto("private key export"))?,
        );
        Ok(Zeroizing::new(pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            der.to_vec(),
        ))))
    }

    /// The public key as SubjectPublicKeyInfo PEM (`PUBLIC KEY`).
    pub fn public_pem(&self) -> Result<String> {
        let der = self.private.to_public().to_spki_der()?;
        Ok(pem::encode(&pem::Pem::new("PUBLIC KEY", der)))
    }

    /// RFC 7638 thumbprint of the key (for HMAC, of the secret JWK).
    pub fn thumbprint(&self) -> Result<String> {
        self.private.to_public().to_jwk().thumbprint()
    }
}
