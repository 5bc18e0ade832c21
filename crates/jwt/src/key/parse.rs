//! Importing key material: JWK (RFC 7517/7518/8037), PEM and DER (PKCS#8,
//! SubjectPublicKeyInfo, PKCS#1, SEC1), parsed once into aws-lc-rs objects.

use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair, RsaPublicKeyComponents,
};
use pkcs8::der::Decode as _;
use zeroize::Zeroizing;

use crate::algorithm::Curve;
use crate::b64;
use crate::error::{Error, Result};
use crate::jwk::{Jwk, SecretString};

use super::material::{Material, Private, Public};

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

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

fn jwk_bytes(jwk: &Jwk, name: &str, value: Option<&str>) -> Result<Vec<u8>> {
    let value =
        value.ok_or_else(|| Error::InvalidKey(format!("{} JWK lacks `{name}`", jwk.kty)))?;
    b64::decode(value)
        .ok_or_else(|| Error::InvalidKey(format!("JWK member `{name}` is not strict base64url")))
}

fn jwk_secret(jwk: &Jwk, name: &str, value: Option<&SecretString>) -> Result<Zeroizing<Vec<u8>>> {
    jwk_bytes(jwk, name, value.map(SecretString::expose)).map(Zeroizing::new)
}

pub(super) fn material_from_jwk(jwk: &Jwk) -> Result<Material> {
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

pub(super) fn ec_signing(curve: Curve) -> Result<&'static signature::EcdsaSigningAlgorithm> {
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

pub(super) fn material_from_pem(text: &str) -> Result<Material> {
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

pub(super) fn material_from_der(der: &[u8]) -> Result<Material> {
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
