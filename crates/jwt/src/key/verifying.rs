//! [`VerifyingKey`]: a public key (or HMAC secret) bound to one algorithm, that checks
//! signatures; and the binding of one key to every algorithm it may serve, for key sets.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use zeroize::Zeroizing;

use crate::algorithm::{self, Algorithm, Family};
use crate::error::{Error, Result};
use crate::jwk::Jwk;

use super::material::{Material, Permission, Public, bind, permission};
use super::parse::{material_from_der, material_from_jwk, material_from_pem};

enum Verifier {
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

/// A public key (or HMAC secret) bound to one algorithm, ready to verify.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    kid: Option<String>,
    permission: Permission,
    verifier: std::sync::Arc<Verifier>,
    public: Public,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("usable", &(self.permission == Permission::Allowed))
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    pub(super) fn bind(
        public: Public,
        alg: Algorithm,
        kid: Option<String>,
        permission: Permission,
    ) -> Result<Self> {
        let verifier = match &public {
            Public::Oct(secret) => Verifier::Hmac(Box::new(hmac::Key::new(
                alg.hmac().ok_or(Error::Crypto("HMAC algorithm"))?,
                secret,
            ))),
            Public::Rsa { n, e } => Verifier::Public(
                RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(alg.rsa_params().ok_or(Error::Crypto("RSA parameters"))?)
                    .map_err(|e| Error::InvalidKey(format!("RSA public key: {e}")))?,
            ),
            Public::Ec { point: bytes, .. } | Public::Ed25519(bytes) => Verifier::Public(
                ParsedPublicKey::new(
                    alg.verification()
                        .ok_or(Error::Crypto("verification algorithm"))?,
                    bytes,
                )
                .map_err(|e| Error::InvalidKey(format!("public key: {e}")))?,
            ),
        };
        Ok(VerifyingKey {
            alg,
            kid,
            permission,
            verifier: std::sync::Arc::new(verifier),
            public,
        })
    }

    fn from_public(
        public: Public,
        jwk_alg: Option<&str>,
        alg: Option<Algorithm>,
        kid: Option<String>,
        permission: Permission,
    ) -> Result<Self> {
        let alg = bind(&public, jwk_alg, alg)?;
        Self::bind(public, alg, kid, permission)
    }

    /// Binds key material to every algorithm it may serve: the one it fixes itself (JWK `alg`,
    /// EC curve, Ed25519), or else each of `algorithms` of its family.
    fn bind_all(
        public: Public,
        jwk_alg: Option<&str>,
        algorithms: &[Algorithm],
        kid: Option<String>,
        permission: Permission,
    ) -> Result<Vec<Self>> {
        if jwk_alg.is_some() || public.implied_alg().is_some() {
            return Ok(vec![Self::from_public(
                public, jwk_alg, None, kid, permission,
            )?]);
        }
        let family = public.family();
        let algs: Vec<Algorithm> = algorithms
            .iter()
            .copied()
            .filter(|a| a.family() == family)
            .collect();
        if algs.is_empty() {
            return Err(Error::AlgorithmRequired(algorithm::list(
                Algorithm::of_family(family),
            )));
        }
        algs.into_iter()
            .map(|alg| {
                Self::from_public(
                    public.clone(),
                    None,
                    Some(alg),
                    kid.clone(),
                    permission.clone(),
                )
            })
            .collect()
    }

    /// A JWK bound to each algorithm it may serve (see [`KeySet::from_jwk`](crate::KeySet::from_jwk)).
    pub(crate) fn from_jwk_for(jwk: &Jwk, algorithms: &[Algorithm]) -> Result<Vec<Self>> {
        let public = match material_from_jwk(jwk)? {
            Material::Private(p) => p.to_public(),
            Material::Public(p) => p,
        };
        Self::bind_all(
            public,
            jwk.alg.as_deref(),
            algorithms,
            jwk.kid.clone(),
            permission(jwk, "verify"),
        )
    }

    /// A PEM key bound to each algorithm it may serve.
    pub(crate) fn from_pem_for(pem: &str, algorithms: &[Algorithm]) -> Result<Vec<Self>> {
        let public = match material_from_pem(pem)? {
            Material::Private(p) => p.to_public(),
            Material::Public(p) => p,
        };
        Self::bind_all(public, None, algorithms, None, Permission::Allowed)
    }

    /// A DER key bound to each algorithm it may serve.
    pub(crate) fn from_der_for(der: &[u8], algorithms: &[Algorithm]) -> Result<Vec<Self>> {
        let public = match material_from_der(der)? {
            Material::Private(p) => p.to_public(),
            Material::Public(p) => p,
        };
        Self::bind_all(public, None, algorithms, None, Permission::Allowed)
    }

    /// An HMAC secret bound to each HMAC algorithm in `algorithms`.
    pub(crate) fn from_secret_for(secret: &[u8], algorithms: &[Algorithm]) -> Result<Vec<Self>> {
        Self::bind_all(
            Public::Oct(Zeroizing::new(secret.to_vec())),
            None,
            algorithms,
            None,
            Permission::Allowed,
        )
    }

    /// An HMAC verifying key (the shared secret).
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self> {
        if alg.family() != Family::Hmac {
            return Err(Error::InvalidKey(format!("{alg} is not an HMAC algorithm")));
        }
        Self::from_public(
            Public::Oct(Zeroizing::new(secret.to_vec())),
            None,
            Some(alg),
            None,
            Permission::Allowed,
        )
    }

    /// A JWK, public or private (only its public half is kept). Its `alg`, if present, binds
    /// the key; otherwise `alg` (or the curve) does. A JWK whose `use` is not `sig`, or whose
    /// `key_ops` lack `verify`, loads but never verifies.
    pub fn from_jwk(jwk: &Jwk, alg: Option<Algorithm>) -> Result<Self> {
        let public = match material_from_jwk(jwk)? {
            Material::Private(p) => p.to_public(),
            Material::Public(p) => p,
        };
        Self::from_public(
            public,
            jwk.alg.as_deref(),
            alg,
            jwk.kid.clone(),
            permission(jwk, "verify"),
        )
    }

    /// A PEM key: public (SPKI, PKCS#1) or private (PKCS#8, PKCS#1, SEC1; only its public
    /// half is kept).
    pub fn from_pem(pem: &str, alg: Option<Algorithm>) -> Result<Self> {
        let public = match material_from_pem(pem)? {
            Material::Private(p) => p.to_public(),
            Material::Public(p) => p,
        };
        Self::from_public(public, None, alg, None, Permission::Allowed)
    }

    /// A DER key, public or private.
    pub fn from_der(der: &[u8], alg: Option<Algorithm>) -> Result<Self> {
        let public = match material_from_der(der)? {
            Material::Private(p) => p.to_public(),
            Material::Public(p) => p,
        };
        Self::from_public(public, None, alg, None, Permission::Allowed)
    }

    /// The same key material bound to another algorithm of the same family (RS256 → PS256).
    pub fn rebind(&self, alg: Algorithm) -> Result<Self> {
        Self::from_public(
            self.public.clone(),
            None,
            Some(alg),
            self.kid.clone(),
            self.permission.clone(),
        )
    }

    /// Whether the key material fixes the algorithm by itself (EC curves, Ed25519).
    pub fn material_fixes_algorithm(&self) -> bool {
        self.public.implied_alg().is_some()
    }

    /// Sets the key id.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether the key is an HMAC secret.
    pub fn is_symmetric(&self) -> bool {
        matches!(self.public, Public::Oct(_))
    }

    /// Checks the key may verify at all (`use`/`key_ops`).
    pub(crate) fn check_usable(&self) -> Result<()> {
        match &self.permission {
            Permission::Allowed => Ok(()),
            Permission::Denied(why) => Err(Error::KeyNotUsable(why.clone())),
        }
    }

    /// Verifies `signature` over `message`. Any failure is `InvalidSignature`, with no detail.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        self.check_usable()?;
        if let Some(len) = self.alg.fixed_signature_len()
            && signature.len() != len
        {
            return Err(Error::InvalidSignature);
        }
        let ok = match &*self.verifier {
            Verifier::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            Verifier::Public(key) => key.verify_sig(message, signature).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidSignature)
        }
    }

    /// The public JWK, with `alg`, `use: sig` and `kid`. For HMAC keys this includes the
    /// secret: treat it as one.
    pub fn to_jwk(&self) -> Result<Jwk> {
        let mut jwk = self.public.to_jwk();
        jwk.alg = Some(self.alg.name().into());
        jwk.use_ = Some("sig".into());
        jwk.kid = self.kid.clone();
        Ok(jwk)
    }

    /// The public key as SubjectPublicKeyInfo PEM.
    pub fn to_pem(&self) -> Result<String> {
        let der = self.public.to_spki_der()?;
        Ok(pem::encode(&pem::Pem::new("PUBLIC KEY", der)))
    }

    /// RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> Result<String> {
        self.public.to_jwk().thumbprint()
    }
}
