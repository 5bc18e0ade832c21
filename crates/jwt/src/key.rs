//! Signing and verifying keys, each bound to one algorithm when it is made.
//!
//! Key material is parsed once, here, into aws-lc-rs objects; signing and verifying a token
//! never parse a key again. Loading accepts JWK (RFC 7517/7518/8037), PEM and DER (PKCS#8,
//! SubjectPublicKeyInfo, PKCS#1, SEC1).

use std::fmt;

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, ParsedPublicKey, RsaKeyPair,
    RsaPublicKeyComponents,
};
use aws_lc_rs::{hmac, rand};
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

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// Private key material, not yet bound to an algorithm.
enum Private {
    Oct(Zeroizing<Vec<u8>>),
    Rsa(RsaKeyPair),
    Ec(Curve, EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// Public key material (or, for HMAC, the shared secret), not yet bound to an algorithm.
#[derive(Clone)]
enum Public {
    Oct(Zeroizing<Vec<u8>>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { curve: Curve, point: Vec<u8> },
    Ed25519(Vec<u8>),
}

/// What a key file held: a private or a public key.
enum Material {
    Private(Private),
    Public(Public),
}

impl Private {
    fn to_public(&self) -> Public {
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
    fn to_jwk(&self) -> Result<Jwk> {
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
    fn to_jwk(&self) -> Result<Jwk> {
        match self {
            Material::Private(p) => p.to_jwk(),
            Material::Public(p) => Ok(p.to_jwk()),
        }
    }
}

impl Jwk {
    /// Converts a PEM key (private or public; PKCS#8, SPKI, PKCS#1, SEC1) to a JWK with the key
    /// members only: no `alg`, `use` or `kid`. A private key gives a private JWK.
    pub fn from_pem(pem: &str) -> Result<Jwk> {
        material_from_pem(pem)?.to_jwk()
    }

    /// Converts a DER key (private or public) to a JWK, as [`Jwk::from_pem`].
    pub fn from_der(der: &[u8]) -> Result<Jwk> {
        material_from_der(der)?.to_jwk()
    }

    /// Checks that the JWK holds a usable key of a supported type (the key material is parsed
    /// and validated; nothing is kept).
    pub fn validate(&self) -> Result<()> {
        material_from_jwk(self).map(|_| ())
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
    fn implied_alg(&self) -> Option<Algorithm> {
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

    fn family(&self) -> Family {
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

    fn to_jwk(&self) -> Jwk {
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

    fn to_spki_der(&self) -> Result<Vec<u8>> {
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

fn bit_len(be: &[u8]) -> usize {
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
enum Permission {
    Allowed,
    Denied(String),
}

fn permission(jwk: &Jwk, op: &str) -> Permission {
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
fn bind(public: &Public, jwk_alg: Option<&str>, requested: Option<Algorithm>) -> Result<Algorithm> {
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

// ---------------------------------------------------------------------------------------
// Parsing key material
// ---------------------------------------------------------------------------------------

fn jwk_bytes(jwk: &Jwk, name: &str, value: Option<&str>) -> Result<Vec<u8>> {
    let value =
        value.ok_or_else(|| Error::InvalidKey(format!("{} JWK lacks `{name}`", jwk.kty)))?;
    b64::decode(value)
        .ok_or_else(|| Error::InvalidKey(format!("JWK member `{name}` is not strict base64url")))
}

fn jwk_secret(jwk: &Jwk, name: &str, value: Option<&SecretString>) -> Result<Zeroizing<Vec<u8>>> {
    jwk_bytes(jwk, name, value.map(SecretString::expose)).map(Zeroizing::new)
}

fn material_from_jwk(jwk: &Jwk) -> Result<Material> {
    match jwk.kty.as_str() {
        "oct" => {
            let k = jwk_secret(jwk, "k", jwk.k.as_ref())?;
            Ok(Material::Private(Private::Oct(k)))
        }
        "RSA" => {
            let n = jwk_bytes(jwk, "n", jwk.n.as_deref())?;
            let e = jwk_bytes(jwk, "e", jwk.e.as_deref())?;
            if n.first() == Some(&0) || e.first() == Some(&0) || n.is_empty() || e.is_empty() {
                return Err(Error::InvalidKey(
                    "RSA `n` and `e` must be unsigned big-endian without leading zeros".into(),
                ));
            }
            if jwk.d.is_none() {
                return Ok(Material::Public(Public::Rsa { n, e }));
            }
            if jwk.other.contains_key("oth") {
                return Err(Error::InvalidKey(
                    "multi-prime RSA keys are not supported".into(),
                ));
            }
            let d = jwk_secret(jwk, "d", jwk.d.as_ref())?;
            let missing_crt = jwk.p.is_none() || jwk.q.is_none();
            if missing_crt {
                return Err(Error::InvalidKey(
                    "RSA private JWK lacks the primes `p`, `q` (and `dp`, `dq`, `qi`)".into(),
                ));
            }
            let p = jwk_secret(jwk, "p", jwk.p.as_ref())?;
            let q = jwk_secret(jwk, "q", jwk.q.as_ref())?;
            let dp = jwk_secret(jwk, "dp", jwk.dp.as_ref())?;
            let dq = jwk_secret(jwk, "dq", jwk.dq.as_ref())?;
            let qi = jwk_secret(jwk, "qi", jwk.qi.as_ref())?;
            let components = aws_lc_rs::rsa::KeyPairComponents {
                public_key: RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                },
                d: d.as_slice(),
                p: p.as_slice(),
                q: q.as_slice(),
                dP: dp.as_slice(),
                dQ: dq.as_slice(),
                qInv: qi.as_slice(),
            };
            let pair = RsaKeyPair::from_components(&components)
                .map_err(|e| Error::InvalidKey(format!("RSA private JWK: {e}")))?;
            Ok(Material::Private(Private::Rsa(pair)))
        }
        "EC" => {
            let crv = jwk.crv.as_deref().unwrap_or("");
            let curve = Curve::from_name(crv)
                .ok_or_else(|| Error::InvalidKey(format!("unsupported EC curve \"{crv}\"")))?;
            let x = jwk_bytes(jwk, "x", jwk.x.as_deref())?;
            let y = jwk_bytes(jwk, "y", jwk.y.as_deref())?;
            let len = curve.field_len();
            if x.len() != len || y.len() != len {
                return Err(Error::InvalidKey(format!(
                    "{crv} coordinates must be {len} bytes each (RFC 7518 §6.2.1)"
                )));
            }
            let mut point = Vec::with_capacity(1 + 2 * len);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            // Validates that the point is on the curve.
            let verification = curve
                .algorithm()
                .verification()
                .ok_or(Error::Crypto("EC verification algorithm"))?;
            ParsedPublicKey::new(verification, &point)
                .map_err(|e| Error::InvalidKey(format!("{crv} public key: {e}")))?;
            match &jwk.d {
                None => Ok(Material::Public(Public::Ec { curve, point })),
                Some(d) => {
                    let d = jwk_secret(jwk, "d", Some(d))?;
                    if d.len() != len {
                        return Err(Error::InvalidKey(format!("{crv} `d` must be {len} bytes")));
                    }
                    let signing = curve
                        .algorithm()
                        .ecdsa_signing()
                        .ok_or(Error::Crypto("EC signing algorithm"))?;
                    let pair = EcdsaKeyPair::from_private_key_and_public_key(signing, &d, &point)
                        .map_err(|e| Error::InvalidKey(format!("{crv} private JWK: {e}")))?;
                    Ok(Material::Private(Private::Ec(curve, pair)))
                }
            }
        }
        "OKP" => {
            let crv = jwk.crv.as_deref().unwrap_or("");
            if crv != "Ed25519" {
                return Err(Error::InvalidKey(format!(
                    "unsupported OKP curve \"{crv}\" (only Ed25519 signs)"
                )));
            }
            let x = jwk_bytes(jwk, "x", jwk.x.as_deref())?;
            if x.len() != 32 {
                return Err(Error::InvalidKey("Ed25519 `x` must be 32 bytes".into()));
            }
            ParsedPublicKey::new(&signature::ED25519, &x)
                .map_err(|e| Error::InvalidKey(format!("Ed25519 public key: {e}")))?;
            match &jwk.d {
                None => Ok(Material::Public(Public::Ed25519(x))),
                Some(d) => {
                    let d = jwk_secret(jwk, "d", Some(d))?;
                    let pair = Ed25519KeyPair::from_seed_and_public_key(&d, &x)
                        .map_err(|e| Error::InvalidKey(format!("Ed25519 private JWK: {e}")))?;
                    Ok(Material::Private(Private::Ed25519(pair)))
                }
            }
        }
        other => Err(Error::InvalidKey(format!("unsupported kty \"{other}\""))),
    }
}

fn curve_from_oid(oid: &str) -> Option<Curve> {
    match oid {
        OID_P256 => Some(Curve::P256),
        OID_P384 => Some(Curve::P384),
        OID_P521 => Some(Curve::P521),
        _ => None,
    }
}

fn ec_signing(curve: Curve) -> Result<&'static signature::EcdsaSigningAlgorithm> {
    curve
        .algorithm()
        .ecdsa_signing()
        .ok_or(Error::Crypto("EC signing algorithm"))
}

fn private_from_pkcs8(der: &[u8]) -> Result<Private> {
    let info = pkcs8::PrivateKeyInfo::from_der(der)
        .map_err(|e| Error::InvalidKey(format!("PKCS#8: {e}")))?;
    let oid = info.algorithm.oid.to_string();
    match oid.as_str() {
        OID_RSA => RsaKeyPair::from_pkcs8(der)
            .map(Private::Rsa)
            .map_err(|e| Error::InvalidKey(format!("RSA PKCS#8: {e}"))),
        OID_EC => {
            let curve_oid = info
                .algorithm
                .parameters_oid()
                .map_err(|_| Error::InvalidKey("EC PKCS#8 without a named curve".into()))?
                .to_string();
            let curve = curve_from_oid(&curve_oid)
                .ok_or_else(|| Error::InvalidKey(format!("unsupported EC curve {curve_oid}")))?;
            EcdsaKeyPair::from_pkcs8(ec_signing(curve)?, der)
                .map(|pair| Private::Ec(curve, pair))
                .map_err(|e| Error::InvalidKey(format!("EC PKCS#8: {e}")))
        }
        OID_ED25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(Private::Ed25519)
            .map_err(|e| Error::InvalidKey(format!("Ed25519 PKCS#8: {e}"))),
        other => Err(Error::InvalidKey(format!(
            "unsupported private key algorithm {other}"
        ))),
    }
}

fn private_from_sec1(der: &[u8]) -> Result<Private> {
    for curve in [Curve::P256, Curve::P384, Curve::P521] {
        if let Ok(pair) = EcdsaKeyPair::from_private_key_der(ec_signing(curve)?, der) {
            return Ok(Private::Ec(curve, pair));
        }
    }
    Err(Error::InvalidKey(
        "not a SEC1 EC private key on P-256, P-384 or P-521".into(),
    ))
}

fn private_from_pkcs1(der: &[u8]) -> Result<Private> {
    RsaKeyPair::from_der(der)
        .map(Private::Rsa)
        .map_err(|e| Error::InvalidKey(format!("PKCS#1 RSA private key: {e}")))
}

fn rsa_public_from_pkcs1(der: &[u8]) -> Result<Public> {
    let key = pkcs1::RsaPublicKey::from_der(der)
        .map_err(|e| Error::InvalidKey(format!("PKCS#1 RSA public key: {e}")))?;
    Ok(Public::Rsa {
        n: key.modulus.as_bytes().to_vec(),
        e: key.public_exponent.as_bytes().to_vec(),
    })
}

fn public_from_spki(der: &[u8]) -> Result<Public> {
    let spki = pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::InvalidKey(format!("SubjectPublicKeyInfo: {e}")))?;
    let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        Error::InvalidKey("SubjectPublicKeyInfo: bit string not octet-aligned".into())
    })?;
    let oid = spki.algorithm.oid.to_string();
    let public = match oid.as_str() {
        OID_RSA => rsa_public_from_pkcs1(bits)?,
        OID_EC => {
            let curve_oid = spki
                .algorithm
                .parameters_oid()
                .map_err(|_| Error::InvalidKey("EC public key without a named curve".into()))?
                .to_string();
            let curve = curve_from_oid(&curve_oid)
                .ok_or_else(|| Error::InvalidKey(format!("unsupported EC curve {curve_oid}")))?;
            let verification = curve
                .algorithm()
                .verification()
                .ok_or(Error::Crypto("EC verification algorithm"))?;
            let parsed = ParsedPublicKey::new(verification, bits)
                .map_err(|e| Error::InvalidKey(format!("EC public key: {e}")))?;
            // Normalise to the uncompressed point.
            let point = match bits.first() {
                Some(4) => bits.to_vec(),
                _ => {
                    return Err(Error::InvalidKey(format!(
                        "compressed EC points are not supported ({} bytes)",
                        parsed.as_ref().len()
                    )));
                }
            };
            Public::Ec { curve, point }
        }
        OID_ED25519 => {
            ParsedPublicKey::new(&signature::ED25519, bits)
                .map_err(|e| Error::InvalidKey(format!("Ed25519 public key: {e}")))?;
            Public::Ed25519(bits.to_vec())
        }
        other => {
            return Err(Error::InvalidKey(format!(
                "unsupported public key algorithm {other}"
            )));
        }
    };
    Ok(public)
}

fn material_from_pem(text: &str) -> Result<Material> {
    let blocks = pem::parse_many(text).map_err(|e| Error::InvalidKey(format!("PEM: {e}")))?;
    let block = blocks
        .iter()
        .find(|b| b.tag() != "EC PARAMETERS")
        .ok_or_else(|| Error::InvalidKey("no PEM block found".into()))?;
    let der = block.contents();
    match block.tag() {
        "PRIVATE KEY" => private_from_pkcs8(der).map(Material::Private),
        "RSA PRIVATE KEY" => private_from_pkcs1(der).map(Material::Private),
        "EC PRIVATE KEY" => private_from_sec1(der).map(Material::Private),
        "PUBLIC KEY" => public_from_spki(der).map(Material::Public),
        "RSA PUBLIC KEY" => rsa_public_from_pkcs1(der).map(Material::Public),
        "ENCRYPTED PRIVATE KEY" => Err(Error::InvalidKey(
            "encrypted PKCS#8 is not supported; decrypt it first (openssl pkcs8)".into(),
        )),
        "CERTIFICATE" => Err(Error::InvalidKey(
            "X.509 certificates are not accepted as keys; give the public key".into(),
        )),
        other => Err(Error::InvalidKey(format!(
            "unsupported PEM block \"{other}\""
        ))),
    }
}

fn material_from_der(der: &[u8]) -> Result<Material> {
    if let Ok(p) = private_from_pkcs8(der) {
        return Ok(Material::Private(p));
    }
    if let Ok(p) = public_from_spki(der) {
        return Ok(Material::Public(p));
    }
    if let Ok(p) = private_from_pkcs1(der) {
        return Ok(Material::Private(p));
    }
    if let Ok(p) = private_from_sec1(der) {
        return Ok(Material::Private(p));
    }
    if let Ok(p) = rsa_public_from_pkcs1(der) {
        return Ok(Material::Public(p));
    }
    Err(Error::InvalidKey(
        "DER is none of PKCS#8, SubjectPublicKeyInfo, PKCS#1 or SEC1".into(),
    ))
}

// ---------------------------------------------------------------------------------------
// SigningKey
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// VerifyingKey
// ---------------------------------------------------------------------------------------

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
    fn bind(
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

#[cfg(test)]
mod tests {
    use super::*;

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
