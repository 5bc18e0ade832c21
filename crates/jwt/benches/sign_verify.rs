//! Signing and verifying a typical access token, per algorithm, four ways in one run:
//!
//! - `tessera`: `tessera_jwt::encode` / `tessera_jwt::verify` with every check on (`exp`, `iss`,
//!   `aud`, `typ`, strict base64url and strict JSON);
//! - `jsonwebtoken`: the `jsonwebtoken` crate on its aws-lc-rs backend, with the same claim
//!   checks (it has no `typ` check, so the bench compares `typ` after `decode`);
//! - `aws-lc-rs`: the signature operation alone, on the signing input;
//! - `floor`: the least work any library must do. Verify: split, base64url-decode the three
//!   parts, parse the header and the claims with serde_json into small structs, one HMAC or
//!   signature check with a key parsed beforehand. Sign: serialize header and claims,
//!   base64url them, one signature with a key parsed beforehand, base64url the signature.
//!
//! `cargo bench -p tessera-jwt` runs them all through criterion, then measures each row once
//! more with the four contenders interleaved (round after round, a short batch of each, in a
//! rotating order), so that load from other processes falls on all four alike, and ends with a
//! markdown table of the median times and of the per-round ratios tessera/floor,
//! jsonwebtoken/floor and tessera/jsonwebtoken. A criterion filter (`cargo bench -p
//! tessera-jwt -- HS256`) limits the table to the rows it selects.
//!
//! For a profiler (`valgrind --tool=callgrind`, `perf record`), the environment variable
//! `TESSERA_BENCH_LOOP=ALG/OP/CONTENDER/N` (e.g. `HS256/verify/tessera/100000`) runs that one
//! operation N times without criterion; N = 0 gives the set-up cost to subtract.

use std::cell::Cell;
use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaEncoding, RsaKeyPair,
};
use aws_lc_rs::{hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use serde::{Deserialize, Serialize};
use tessera_jwt::{Algorithm, Clock as _, Header, KeySet, SigningKey, SystemClock, Validation};

type BoxResult<T> = Result<T, Box<dyn Error>>;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "orders-api";
const TYP: &str = "at+jwt";
const KID: &str = "2026-11-a";
const HMAC_SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

/// Samples per criterion measurement, and the time spent on them.
const SAMPLES: usize = 40;
const WARM_UP: Duration = Duration::from_millis(500);
const MEASUREMENT: Duration = Duration::from_millis(1500);

const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

const CONTENDERS: [&str; 4] = ["tessera", "jsonwebtoken", "aws-lc-rs", "floor"];

/// A typical access token's claims (RFC 9068 style), in the caller's own type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct AccessClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    jti: String,
    roles: Vec<String>,
}

/// The header fields a verifier needs, borrowed from the decoded header.
#[derive(Deserialize)]
struct FloorHeader<'a> {
    #[serde(borrow)]
    alg: &'a str,
    #[serde(borrow)]
    typ: Option<&'a str>,
    #[serde(borrow)]
    kid: Option<&'a str>,
}

#[derive(Serialize)]
struct FloorHeaderOut<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// A private key parsed once, for the raw and floor signers.
enum RawSigner {
    Hmac(Box<hmac::Key>),
    Rsa(RsaKeyPair, &'static dyn RsaEncoding),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl RawSigner {
    /// Signs and hands the signature to `out` (no copy for the fixed-size ones).
    fn sign_with<R>(&self, message: &[u8], out: impl FnOnce(&[u8]) -> R) -> Option<R> {
        match self {
            RawSigner::Hmac(key) => Some(out(hmac::sign(key, message).as_ref())),
            RawSigner::Rsa(pair, padding) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(*padding, &rand::SystemRandom::new(), message, &mut sig)
                    .ok()?;
                Some(out(&sig))
            }
            RawSigner::Ec(pair) => pair
                .sign(&rand::SystemRandom::new(), message)
                .ok()
                .map(|s| out(s.as_ref())),
            RawSigner::Ed(pair) => Some(out(pair.sign(message).as_ref())),
        }
    }
}

/// A public key (or HMAC secret) parsed once, for the raw and floor verifiers.
enum RawVerifier {
    Hmac(Box<hmac::Key>),
    Public(ParsedPublicKey),
}

impl RawVerifier {
    fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        match self {
            RawVerifier::Hmac(key) => hmac::verify(key, message, sig).is_ok(),
            RawVerifier::Public(key) => key.verify_sig(message, sig).is_ok(),
        }
    }
}

/// Everything one algorithm's measurements need, set up before any is taken.
struct Fixture {
    alg: Algorithm,
    claims: AccessClaims,
    token: String,
    // tessera
    key: SigningKey,
    header: Header,
    keys: KeySet,
    validation: Validation,
    // jsonwebtoken
    jwt_encoding: jsonwebtoken::EncodingKey,
    jwt_decoding: jsonwebtoken::DecodingKey,
    jwt_header: jsonwebtoken::Header,
    jwt_validation: jsonwebtoken::Validation,
    // raw aws-lc-rs and the floor
    raw_signer: RawSigner,
    raw_verifier: RawVerifier,
    signing_input: String,
    signature: Vec<u8>,
}

fn der_of(pem_text: &str) -> BoxResult<Vec<u8>> {
    Ok(pem::parse(pem_text)?.into_contents())
}

impl Fixture {
    fn new(alg: Algorithm) -> BoxResult<Self> {
        let now = SystemClock.now();
        let claims = AccessClaims {
            iss: ISSUER.into(),
            sub: "5f0c2a6e-9d41-4c57-8f0b-2f3a1c6d7e81".into(),
            aud: AUDIENCE.into(),
            exp: now + 900,
            iat: now,
            jti: "b6f1d3e0-6f0a-4a7e-9a1c-0c9d2e7f4b12".into(),
            roles: vec!["orders:read".into(), "orders:write".into()],
        };
        let key = match alg {
            Algorithm::HS256 => SigningKey::hmac(alg, HMAC_SECRET)?,
            _ => SigningKey::generate(alg)?,
        }
        .with_kid(KID);
        let verifying = key.verifying_key()?;
        let header = Header::for_key(&key).with_typ(TYP);
        let keys = KeySet::new(vec![verifying.clone()]);
        let validation = Validation::new([alg])
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .typ(TYP);

        let jwt_alg: jsonwebtoken::Algorithm = alg.name().parse()?;
        let mut jwt_header = jsonwebtoken::Header::new(jwt_alg);
        jwt_header.typ = Some(TYP.into());
        jwt_header.kid = Some(KID.into());
        let mut jwt_validation = jsonwebtoken::Validation::new(jwt_alg);
        jwt_validation.set_issuer(&[ISSUER]);
        jwt_validation.set_audience(&[AUDIENCE]);
        jwt_validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        jwt_validation.leeway = tessera_jwt::DEFAULT_LEEWAY;
        jwt_validation.validate_exp = true;
        jwt_validation.validate_nbf = true;

        let (jwt_encoding, jwt_decoding, raw_signer, raw_verifier) = match alg {
            Algorithm::HS256 => (
                jsonwebtoken::EncodingKey::from_secret(HMAC_SECRET),
                jsonwebtoken::DecodingKey::from_secret(HMAC_SECRET),
                RawSigner::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET))),
                RawVerifier::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET))),
            ),
            _ => {
                let private_pem = key.to_pem()?;
                let public_pem = verifying.to_pem()?;
                let private_der = der_of(&private_pem)?;
                let public_der = der_of(&public_pem)?;
                let (encoding, decoding, signer, verification): (
                    _,
                    _,
                    _,
                    &'static dyn signature::VerificationAlgorithm,
                ) = match alg {
                    Algorithm::RS256 | Algorithm::PS256 => {
                        let (padding, params): (&'static dyn RsaEncoding, _) =
                            if alg == Algorithm::RS256 {
                                (
                                    &signature::RSA_PKCS1_SHA256,
                                    &signature::RSA_PKCS1_2048_8192_SHA256,
                                )
                            } else {
                                (
                                    &signature::RSA_PSS_SHA256,
                                    &signature::RSA_PSS_2048_8192_SHA256,
                                )
                            };
                        (
                            jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes())?,
                            jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes())?,
                            RawSigner::Rsa(RsaKeyPair::from_pkcs8(&private_der)?, padding),
                            params,
                        )
                    }
                    Algorithm::ES256 => (
                        jsonwebtoken::EncodingKey::from_ec_pem(private_pem.as_bytes())?,
                        jsonwebtoken::DecodingKey::from_ec_pem(public_pem.as_bytes())?,
                        RawSigner::Ec(EcdsaKeyPair::from_pkcs8(
                            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                            &private_der,
                        )?),
                        &signature::ECDSA_P256_SHA256_FIXED,
                    ),
                    Algorithm::EdDSA => (
                        jsonwebtoken::EncodingKey::from_ed_pem(private_pem.as_bytes())?,
                        jsonwebtoken::DecodingKey::from_ed_pem(public_pem.as_bytes())?,
                        RawSigner::Ed(Ed25519KeyPair::from_pkcs8(&private_der)?),
                        &signature::ED25519,
                    ),
                    other => return Err(format!("no fixture for {other}").into()),
                };
                (
                    encoding,
                    decoding,
                    signer,
                    RawVerifier::Public(ParsedPublicKey::new(verification, &public_der)?),
                )
            }
        };

        let token = tessera_jwt::encode(&key, &header, &claims)?;
        let (signing_input, signature_b64) = token
            .rsplit_once('.')
            .ok_or("a token without a signature")?;
        let signature = URL_SAFE_NO_PAD.decode(signature_b64)?;
        let fixture = Fixture {
            alg,
            claims,
            signing_input: signing_input.to_owned(),
            signature,
            token,
            key,
            header,
            keys,
            validation,
            jwt_encoding,
            jwt_decoding,
            jwt_header,
            jwt_validation,
            raw_signer,
            raw_verifier,
        };
        fixture.check()?;
        Ok(fixture)
    }

    /// Every contender must succeed, and agree, before any of them is timed: a bench of the
    /// error path would measure nothing useful.
    fn check(&self) -> BoxResult<()> {
        let alg = self.alg;
        let tessera = self.tessera_verify()?;
        if tessera.claims() != &self.claims {
            return Err(format!("{alg}: tessera read other claims").into());
        }
        if self.jwt_verify()? != self.claims {
            return Err(format!("{alg}: jsonwebtoken read other claims").into());
        }
        if self.floor_verify().ok_or("floor verify failed")? != self.claims {
            return Err(format!("{alg}: the floor read other claims").into());
        }
        if !self.raw_verify() {
            return Err(format!("{alg}: aws-lc-rs did not verify").into());
        }
        // Each signer's token verifies with tessera.
        for (who, token) in [
            ("tessera", self.tessera_sign()?),
            ("jsonwebtoken", self.jwt_sign()?),
            ("floor", self.floor_sign().ok_or("floor sign failed")?),
        ] {
            let verified =
                tessera_jwt::verify::<AccessClaims>(&token, &self.keys, &self.validation)
                    .map_err(|e| format!("{alg}: the {who} token does not verify: {e}"))?;
            if verified.claims() != &self.claims {
                return Err(format!("{alg}: the {who} token carries other claims").into());
            }
        }
        if self.raw_sign().is_none() {
            return Err(format!("{alg}: aws-lc-rs did not sign").into());
        }
        // The validations really are on: a token for another audience, or expired, fails.
        let mut other = self.claims.clone();
        other.aud = "another-api".into();
        let token = tessera_jwt::encode(&self.key, &self.header, &other)?;
        if tessera_jwt::verify::<AccessClaims>(&token, &self.keys, &self.validation).is_ok() {
            return Err(format!("{alg}: tessera accepted a token for another audience").into());
        }
        let jwt_token = jsonwebtoken::encode(&self.jwt_header, &other, &self.jwt_encoding)?;
        if jsonwebtoken::decode::<AccessClaims>(
            &jwt_token,
            &self.jwt_decoding,
            &self.jwt_validation,
        )
        .is_ok()
        {
            return Err(format!("{alg}: jsonwebtoken accepted another audience").into());
        }
        Ok(())
    }

    fn tessera_sign(&self) -> tessera_jwt::Result<String> {
        tessera_jwt::encode(&self.key, &self.header, &self.claims)
    }

    fn tessera_verify(&self) -> tessera_jwt::Result<tessera_jwt::Verified<AccessClaims>> {
        tessera_jwt::verify::<AccessClaims>(&self.token, &self.keys, &self.validation)
    }

    fn jwt_sign(&self) -> jsonwebtoken::errors::Result<String> {
        jsonwebtoken::encode(&self.jwt_header, &self.claims, &self.jwt_encoding)
    }

    fn jwt_verify(&self) -> Result<AccessClaims, Box<dyn Error>> {
        let data = jsonwebtoken::decode::<AccessClaims>(
            &self.token,
            &self.jwt_decoding,
            &self.jwt_validation,
        )?;
        // jsonwebtoken has no `typ` rule; tessera's is a case-insensitive media-type compare.
        match data.header.typ.as_deref() {
            Some(t) if t.eq_ignore_ascii_case(TYP) => Ok(data.claims),
            _ => Err("typ mismatch".into()),
        }
    }

    fn raw_sign(&self) -> Option<usize> {
        self.raw_signer
            .sign_with(self.signing_input.as_bytes(), <[u8]>::len)
    }

    fn raw_verify(&self) -> bool {
        self.raw_verifier
            .verify(self.signing_input.as_bytes(), &self.signature)
    }

    fn floor_sign(&self) -> Option<String> {
        let header = serde_json::to_vec(&FloorHeaderOut {
            alg: self.alg.name(),
            typ: TYP,
            kid: KID,
        })
        .ok()?;
        let claims = serde_json::to_vec(&self.claims).ok()?;
        let mut out = String::with_capacity((header.len() + claims.len() + 512) * 4 / 3 + 4);
        URL_SAFE_NO_PAD.encode_string(&header, &mut out);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut out);
        let signature = self
            .raw_signer
            .sign_with(out.as_bytes(), |s| URL_SAFE_NO_PAD.encode(s))?;
        out.push('.');
        out.push_str(&signature);
        Some(out)
    }

    fn floor_verify(&self) -> Option<AccessClaims> {
        let token = self.token.as_str();
        let mut parts = token.split('.');
        let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header_bytes = URL_SAFE_NO_PAD.decode(h).ok()?;
        let header: FloorHeader<'_> = serde_json::from_slice(&header_bytes).ok()?;
        if header.alg != self.alg.name() {
            return None;
        }
        black_box((header.typ, header.kid));
        let payload = URL_SAFE_NO_PAD.decode(p).ok()?;
        let claims: AccessClaims = serde_json::from_slice(&payload).ok()?;
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        self.raw_verifier
            .verify(signing_input.as_bytes(), &sig)
            .then_some(claims)
    }
}

/// One row of the table: an algorithm and an operation, each contender's median time per
/// operation, and the medians of the paired ratios.
struct Row {
    alg: Algorithm,
    op: &'static str,
    medians: [f64; 4],
    /// tessera/floor, jsonwebtoken/floor, tessera/jsonwebtoken.
    ratios: [f64; 3],
    rounds: usize,
}

/// Time spent on each row of the table.
const TABLE_TIME: Duration = Duration::from_millis(1500);
/// Time one batch of one contender should take.
const BATCH_TIME: Duration = Duration::from_micros(400);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 0 => f64::midpoint(v[mid - 1], v[mid]),
        _ => v[mid],
    }
}

/// Times `ops` interleaved: each round runs a batch of every contender, in an order that
/// rotates, so that load from other processes falls on all of them alike; a ratio is taken
/// within each round, and the table shows medians over the rounds.
fn interleaved(alg: Algorithm, op: &'static str, ops: &mut [&mut dyn FnMut(); 4]) -> Row {
    let mut batch = [1u32; 4];
    for (op, n) in ops.iter_mut().zip(&mut batch) {
        let start = Instant::now();
        let mut runs = 0u32;
        while start.elapsed() < BATCH_TIME || runs < 3 {
            op();
            runs += 1;
        }
        *n = runs;
    }
    let mut times: [Vec<f64>; 4] = Default::default();
    let mut ratios: [Vec<f64>; 3] = Default::default();
    let started = Instant::now();
    let mut round = 0usize;
    while started.elapsed() < TABLE_TIME {
        let mut t = [0f64; 4];
        for k in 0..4 {
            let i = (k + round) % 4;
            let start = Instant::now();
            for _ in 0..batch[i] {
                ops[i]();
            }
            t[i] = start.elapsed().as_secs_f64() * 1e9 / f64::from(batch[i]);
        }
        for (all, v) in times.iter_mut().zip(t) {
            all.push(v);
        }
        ratios[0].push(t[0] / t[3]);
        ratios[1].push(t[1] / t[3]);
        ratios[2].push(t[0] / t[1]);
        round += 1;
    }
    Row {
        alg,
        op,
        medians: times.map(median),
        ratios: ratios.map(median),
        rounds: round,
    }
}

fn bench_algorithm(c: &mut Criterion, alg: Algorithm, table: bool) -> BoxResult<Vec<Row>> {
    let f = Fixture::new(alg)?;
    let mut rows = Vec::new();
    for op in ["sign", "verify"] {
        let ran = Cell::new(false);
        let mut group = c.benchmark_group(format!("{alg}/{op}"));
        group
            .sample_size(SAMPLES)
            .warm_up_time(WARM_UP)
            .measurement_time(MEASUREMENT)
            .nresamples(10_000);
        let mut measure = |name: &str, op: &mut dyn FnMut()| {
            group.bench_function(name, |b| {
                ran.set(true);
                b.iter(&mut *op);
            });
        };
        let mut sign: [&mut dyn FnMut(); 4] = [
            &mut || {
                let _ = black_box(f.tessera_sign());
            },
            &mut || {
                let _ = black_box(f.jwt_sign());
            },
            &mut || {
                let _ = black_box(f.raw_sign());
            },
            &mut || {
                let _ = black_box(f.floor_sign());
            },
        ];
        let mut verify: [&mut dyn FnMut(); 4] = [
            &mut || {
                let _ = black_box(f.tessera_verify());
            },
            &mut || {
                let _ = black_box(f.jwt_verify());
            },
            &mut || {
                let _ = black_box(f.raw_verify());
            },
            &mut || {
                let _ = black_box(f.floor_verify());
            },
        ];
        let ops = if op == "sign" { &mut sign } else { &mut verify };
        for (name, op) in CONTENDERS.iter().zip(ops.iter_mut()) {
            measure(name, *op);
        }
        group.finish();
        // The table covers what criterion was asked to measure (its filter), in bench mode.
        if table && ran.get() {
            rows.push(interleaved(alg, op, ops));
        }
    }
    Ok(rows)
}

fn format_time(ns: f64) -> String {
    if ns < 1_000.0 {
        format!("{ns:.0} ns")
    } else if ns < 1_000_000.0 {
        format!("{:.2} µs", ns / 1_000.0)
    } else {
        format!("{:.3} ms", ns / 1_000_000.0)
    }
}

/// The project's targets for tessera/floor.
fn target(alg: Algorithm, op: &str) -> f64 {
    match (alg, op) {
        (Algorithm::HS256, "verify") => 1.30,
        (_, "verify") => 1.05,
        _ => 1.10,
    }
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {cpu}")
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "Median time per operation, {}; the four measured interleaved, ~{} ms each row:",
        machine(),
        TABLE_TIME.as_millis()
    );
    println!();
    println!(
        "| alg | op | tessera | jsonwebtoken | aws-lc-rs | floor | tessera/floor | jsonwebtoken/floor | tessera/jsonwebtoken | target tessera/floor |"
    );
    println!("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for row in rows {
        let [tessera, jwt, raw, floor] = row.medians.map(format_time);
        let [t_floor, j_floor, t_jwt] = row.ratios;
        let goal = target(row.alg, row.op);
        let verdict = if t_floor <= goal { "met" } else { "MISSED" };
        println!(
            "| {} | {} | {tessera} | {jwt} | {raw} | {floor} | {t_floor:.2} | {j_floor:.2} | {t_jwt:.2} | ≤ {goal:.2} {verdict} |",
            row.alg, row.op,
        );
    }
    let rounds: Vec<String> = rows.iter().map(|r| r.rounds.to_string()).collect();
    println!();
    println!(
        "Ratios are medians of per-round ratios (rounds per row: {}).",
        rounds.join(", ")
    );
}

/// `ALG/OP/CONTENDER/N`: runs one operation N times, for a profiler.
fn run_loop(spec: &str) -> BoxResult<()> {
    let usage = "TESSERA_BENCH_LOOP=ALG/OP/CONTENDER/N, e.g. HS256/verify/tessera/100000";
    let mut parts = spec.split('/');
    let (Some(alg), Some(op), Some(who), Some(n), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(usage.into());
    };
    let f = Fixture::new(alg.parse()?)?;
    let n: u64 = n.parse()?;
    for _ in 0..n {
        match (op, who) {
            ("sign", "tessera") => {
                let _ = black_box(f.tessera_sign());
            }
            ("sign", "jsonwebtoken") => {
                let _ = black_box(f.jwt_sign());
            }
            ("sign", "aws-lc-rs") => {
                let _ = black_box(f.raw_sign());
            }
            ("sign", "floor") => {
                let _ = black_box(f.floor_sign());
            }
            ("verify", "tessera") => {
                let _ = black_box(f.tessera_verify());
            }
            ("verify", "jsonwebtoken") => {
                let _ = black_box(f.jwt_verify());
            }
            ("verify", "aws-lc-rs") => {
                let _ = black_box(f.raw_verify());
            }
            ("verify", "floor") => {
                let _ = black_box(f.floor_verify());
            }
            _ => return Err(usage.into()),
        }
    }
    Ok(())
}

fn main() -> BoxResult<()> {
    if let Ok(spec) = std::env::var("TESSERA_BENCH_LOOP") {
        return run_loop(&spec);
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and criterion then
    // only checks that each routine runs. The table is for real runs only.
    let args: Vec<String> = std::env::args().collect();
    let table = args.iter().any(|a| a == "--bench")
        && !args
            .iter()
            .any(|a| matches!(a.as_str(), "--test" | "--list" | "--profile-time"));
    let mut c = Criterion::default().configure_from_args();
    let mut rows = Vec::new();
    for alg in ALGORITHMS {
        rows.extend(bench_algorithm(&mut c, alg, table)?);
    }
    c.final_summary();
    if !rows.is_empty() {
        print_table(&rows);
    }
    Ok(())
}
