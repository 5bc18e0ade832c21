//! Key material as parsed, before it is bound to an algorithm, and the binding itself: which
//! one algorithm a key serves, and whether it is strong enough for it. Also the way back out,
//! to JWK and SubjectPublicKeyInfo.

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    RsaPublicKeyComponents,
};
use pkcs8::der::Decode as _;
use zeroize::Zeroizing;

use crate::algorithm::{self, Algorithm, Curve, Family};
use crate::b64;
use crate::error::{Error, Result};
use crate::jwk::{Jwk, SecretString};

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits (the limit of the aws-lc verification algorithms).
pub const MAX_RSA_BITS: usize = 8192;

/// Private key material, not yet bound to an algorithm.
pub(super) enum Private {
    Oct(Zeroizing<Vec<u8>>),
    Rsa(RsaKeyPair),
    Ec(Curve, EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Public key material (or, for HMAC, the shared secret), not yet bound to an algorithm.
#[derive(Clone)]
pub(super) enum Public {
    Oct(Zeroizing<Vec<u8>>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { curve: Curve, point: Vec<u8> },
    Ed25519(Vec<u8>),
}

/// What a key file held: a private or a public key.
pub(super) enum Material {
    Private(Private),
    Public(Public),
}

impl Private {
    pub(super) fn to_public(&self) -> Public {
        match self {
            Private::Oct(secret) => Public::Oct(secret.clone()),
            Private::Rsa(pair) => {
                let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                Public::Rsa {
                    n: components.n,
                    e: components.e,
                }
            }
            Private::Ec(curve, pair) => Public::Ec {
                curve: *curve,
                point: pair.public_key().as_ref().to_vec(),
            },
            Private::Ed25519(pair) => Public::Ed25519(pair.public_key().as_ref().to_vec()),
        }
    }
}

impl Private {
    /// The private JWK (key members only).
    pub(super) fn to_jwk(&self) -> Result<Jwk> {
        let mut jwk = self.to_public().to_jwk();
        let secret = |b: &[u8]| Some(SecretString::new(b64::encode(b)));
        match self {
            Private::Oct(_) => {}
            Private::Rsa(pair) => {
                let pkcs8 = pair.as_der().map_err(|_| Error::Crypto("RSA export"))?;
                let info = pkcs8::PrivateKeyInfo::from_der(pkcs8.as_ref())
                    .map_err(|_| Error::Crypto("RSA export"))?;
                let key = pkcs1::RsaPrivateKey::from_der(info.private_key)
                    .map_err(|_| Error::Crypto("RSA export"))?;
                jwk.d = secret(key.private_exponent.as_bytes());
                jwk.p = secret(key.prime1.as_bytes());
                jwk.q = secret(key.prime2.as_bytes());
                jwk.dp = secret(key.exponent1.as_bytes());
                jwk.dq = secret(key.exponent2.as_bytes());
                jwk.qi = secret(key.coefficient.as_bytes());
            }
            Private::Ec(_, pair) => {
                let d = pair
                    .private_key()
                    .as_be_bytes()
                    .map_err(|_| Error::Crypto("EC export"))?;
                jwk.d = secret(d.as_ref());
            }
            Private::Ed25519(pair) => {
                let seed = pair.seed().map_err(|_| Error::Crypto("Ed25519 export"))?;
                let seed = seed
                    .as_be_bytes()
                    .map_err(|_| Error::Crypto("Ed25519 export"))?;
                jwk.d = secret(seed.as_ref());
            }
        }
        Ok(jwk)
    }
}

impl Material {
    pub(super) fn to_jwk(&self) -> Result<Jwk> {
        match self {
            Material::Private(p) => p.to_jwk(),
            Material::Public(p) => Ok(p.to_jwk()),
        }
    }
}

impl Public {
    fn family_name(&self) -> &'static str {
        match self {
            Public::Oct(_) => "HMAC secret",
            Public::Rsa { .. } => "RSA",
            Public::Ec { .. } => "EC",
            Public::Ed25519(_) => "Ed25519",
        }
    }

    /// The algorithm the key material itself fixes, if any.
    pub(super) fn implied_alg(&self) -> Option<Algorithm> {
        match self {
            Public::Ec { curve, .. } => Some(curve.algorithm()),
            Public::Ed25519(_) => Some(Algorithm::EdDSA),
            Public::Oct(_) | Public::Rsa { .. } => None,
        }
    }

    fn fits(&self, alg: Algorithm) -> bool {
        match (self, alg.family()) {
            (Public::Oct(_), Family::Hmac) | (Public::Rsa { .. }, Family::Rsa) => true,
            (Public::Ec { curve, .. }, Family::Ec(c)) => *curve == c,
            (Public::Ed25519(_), Family::Ed25519) => true,
            _ => false,
        }
    }

    pub(super) fn family(&self) -> Family {
        match self {
            Public::Oct(_) => Family::Hmac,
            Public::Rsa { .. } => Family::Rsa,
            Public::Ec { curve, .. } => Family::Ec(*curve),
            Public::Ed25519(_) => Family::Ed25519,
        }
    }

    /// Rejects key material that is too weak for `alg`.
    fn check_strength(&self, alg: Algorithm) -> Result<()> {
        match self {
            Public::Oct(secret) if secret.len() < alg.min_secret_len() => {
                Err(Error::InvalidKey(format!(
                    "HMAC secret is {} bytes; {alg} needs at least {}",
                    secret.len(),
                    alg.min_secret_len()
                )))
            }
            Public::Rsa { n, e } => {
                let bits = bit_len(n);
                // What aws-lc would refuse at every verification is refused here, once, with
                // the reason (a key that can never verify would otherwise load and fail each
                // token with "invalid signature").
                let e_bits = bit_len(e);
                if bits < MIN_RSA_BITS {
                    Err(Error::InvalidKey(format!(
                        "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"
                    )))
                } else if bits > MAX_RSA_BITS {
                    Err(Error::InvalidKey(format!(
                        "RSA key is {bits} bits; at most {MAX_RSA_BITS} are supported"
                    )))
                } else if n.last().is_none_or(|b| b & 1 == 0) {
                    Err(Error::InvalidKey("RSA modulus is even".into()))
                } else if e.last().is_none_or(|b| b & 1 == 0) || !(2..=33).contains(&e_bits) {
                    Err(Error::InvalidKey(
                        "RSA public exponent must be odd, at least 3 and at most 33 bits".into(),
                    ))
                } else if has_roca_fingerprint(n) {
                    Err(Error::InvalidKey(
                        "RSA key has the ROCA fingerprint (CVE-2017-15361): its factors can be \
                         computed from the public key; replace it"
                            .into(),
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub(super) fn to_jwk(&self) -> Jwk {
        let mut jwk = Jwk::default();
        match self {
            Public::Oct(secret) => {
                jwk.kty = "oct".into();
                jwk.k = Some(SecretString::new(b64::encode(secret.as_slice())));
            }
            Public::Rsa { n, e } => {
                jwk.kty = "RSA".into();
                jwk.n = Some(b64::encode(n));
                jwk.e = Some(b64::encode(e));
            }
            Public::Ec { curve, point } => {
                let len = curve.field_len();
                jwk.kty = "EC".into();
                jwk.crv = Some(curve.name().into());
                // Uncompressed point: 0x04 ‖ x ‖ y.
                jwk.x = point.get(1..=len).map(b64::encode);
                jwk.y = point.get(1 + len..).map(b64::encode);
            }
            Public::Ed25519(x) => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(b64::encode(x));
            }
        }
        jwk
    }

    pub(super) fn to_spki_der(&self) -> Result<Vec<u8>> {
        let der = match self {
            Public::Oct(_) => {
                return Err(Error::InvalidKey("an HMAC secret has no public key".into()));
            }
            Public::Rsa { n, e } => {
                let key = RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                    .map_err(|e| Error::InvalidKey(format!("RSA public key: {e}")))?;
                key.as_der().map(|d| d.as_ref().to_vec())
            }
            Public::Ec { curve, point } => {
                let alg = curve
                    .algorithm()
                    .verification()
                    .ok_or(Error::Crypto("EC verification algorithm"))?;
                let key = ParsedPublicKey::new(alg, point)
                    .map_err(|e| Error::InvalidKey(format!("EC public key: {e}")))?;
                key.as_der().map(|d| d.as_ref().to_vec())
            }
            Public::Ed25519(x) => {
                let key = ParsedPublicKey::new(&signature::ED25519, x)
                    .map_err(|e| Error::InvalidKey(format!("Ed25519 public key: {e}")))?;
                key.as_der().map(|d| d.as_ref().to_vec())
            }
        };
        der.map_err(|_| Error::Crypto("public key export"))
    }
}

/// Whether an RSA modulus has the structure of the keys made by the Infineon library that
/// ROCA (CVE-2017-15361, Nemec et al., CCS 2017) factors. Its primes are `k·M + (65537^a mod M)`
/// with `M` the product of the first 126 primes for every key size from 1984 bits up, so for
/// each such prime `p`, `n mod p` lies in the subgroup generated by 65537 mod `p`. A random
/// modulus passes the test for all of them with probability about 2^-167. Only public data is examined;
/// this is a fingerprint, not cryptography.
fn has_roca_fingerprint(n: &[u8]) -> bool {
    // The first 126 primes end at 701; 2 tells nothing (65537 and n are both odd).
    let mut primes =
        (3u32..=701).filter(|&c| (2..c).take_while(|d| d * d <= c).all(|d| c % d != 0));
    primes.all(|p| {
        let residue = n
            .iter()
            .fold(0u32, |acc, &byte| (acc * 256 + u32::from(byte)) % p);
        let generator = 65_537 % p;
        let mut power = 1;
        loop {
            if power == residue {
                return true;
            }
            power = power * generator % p;
            if power == 1 {
                return false;
            }
        }
    })
}

pub(super) fn bit_len(be: &[u8]) -> usize {
    let trimmed: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => &[],
    };
    match trimmed.first() {
        Some(&first) => trimmed.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// How a JWK's `use`/`key_ops` limit a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Permission {
    Allowed,
    Denied(String),
}

pub(super) fn permission(jwk: &Jwk, op: &str) -> Permission {
    if let Some(use_) = &jwk.use_
        && use_ != "sig"
    {
        return Permission::Denied(format!("its `use` is \"{use_}\", not \"sig\""));
    }
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|o| o == op)
    {
        return Permission::Denied(format!("its `key_ops` do not include \"{op}\""));
    }
    Permission::Allowed
}

/// Decides the one algorithm a key is bound to: the JWK's `alg` if it has one, else the one
/// the key material fixes (EC curve, Ed25519), else the one asked for.
pub(super) fn bind(
    public: &Public,
    jwk_alg: Option<&str>,
    requested: Option<Algorithm>,
) -> Result<Algorithm> {
    let fixed = match jwk_alg {
        Some(name) => Some(name.parse::<Algorithm>().map_err(|_| {
            Error::InvalidKey(format!(
                "the key's `alg` \"{name}\" is not a supported JWS algorithm"
            ))
        })?),
        None => public.implied_alg(),
    };
    let alg = match (fixed, requested) {
        (Some(fixed), Some(requested)) if fixed != requested => {
            return Err(Error::KeyAlgorithmMismatch {
                key: fixed,
                requested,
            });
        }
        (Some(alg), _) | (None, Some(alg)) => alg,
        (None, None) => {
            return Err(Error::AlgorithmRequired(algorithm::list(
                Algorithm::of_family(public.family()),
            )));
        }
    };
    if !public.fits(alg) {
        return Err(Error::InvalidKey(format!(
            "a{} {} key cannot be used with {alg}",
            if public.family_name().starts_with(['E', 'R', 'H']) {
                "n"
            } else {
                ""
            },
            public.family_name()
        )));
    }
    public.check_strength(alg)?;
    Ok(alg)
}
