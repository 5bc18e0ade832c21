//! The `tessera` binary, run as a process on real files: the CLI pinned in DESIGN.md. One
//! module per area; RFC examples come from the JOSE core's vector files.

// Test code: a failed expectation is a panic, in the helpers as in the tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
use tempfile::TempDir;

fn tessera() -> Command {
    assert_cmd::cargo::cargo_bin_cmd!("tessera")
}

/// A scratch directory with files in it.
struct Dir(TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn json(&self, name: &str, value: &Value) -> PathBuf {
        self.write(name, serde_json::to_vec_pretty(value).unwrap())
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The RFC example vectors of the JOSE core.
fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../jwt/tests/vectors/rfc/rfc_vectors.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn case(id: &str) -> Value {
    vectors()["compact_cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
        .clone()
}

fn token_of(case: &Value) -> String {
    case["token"].as_str().unwrap().to_owned()
}

/// Changes one character in the middle of a segment (0 header, 1 payload, 2 signature) to
/// another base64url character; the segment stays strict base64url.
fn tamper(token: &str, segment: usize) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let s = &mut parts[segment];
    let mid = s.len() / 2;
    let new = if &s[mid..=mid] == "A" { "B" } else { "A" };
    s.replace_range(mid..=mid, new);
    parts.join(".")
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

/// Runs `verify` and checks it rejects with exit 1 and ONE line on stderr containing `why`.
fn assert_rejected(args: &[&str], token: &str, why: &str) {
    let assert = tessera()
        .args(["token", "verify"])
        .args(args)
        .arg(token)
        .assert()
        .code(1)
        .stdout("");
    let stderr = stderr_of(&assert);
    assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
    assert!(
        stderr.starts_with("error: token rejected: ") && stderr.contains(why),
        "expected {why:?} in {stderr:?}"
    );
}

/// Runs `verify` expecting success, returns stdout.
fn verified(args: &[&str], token: &str) -> String {
    let assert = tessera()
        .args(["token", "verify"])
        .args(args)
        .arg(token)
        .assert();
    let out = assert.get_output();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn claims_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap()
}

/// Generates a key with `tessera key generate`, returns its path.
fn generate(dir: &Dir, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.path(name);
    tessera()
        .args(["key", "generate"])
        .args(args)
        .args(["--out", p(&path)])
        .assert()
        .success();
    path
}

/// Signs with `tessera token sign`, returns the token (without the newline).
fn sign(args: &[&str]) -> String {
    let assert = tessera().args(["token", "sign"]).args(args).assert();
    let out = assert.get_output();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let token = stdout
        .strip_suffix('\n')
        .expect("token ends with a newline");
    assert!(!token.contains(char::is_whitespace));
    token.to_owned()
}

mod rfc_vectors {
    use super::*;

    /// Before the RFC 7515 examples' `exp` (1300819380).
    const RFC_NOW: &str = "1300819000";

    /// (vector id, --alg if the key does not fix it, JWS-only because the payload is text)
    const RFC7515: [(&str, Option<&str>, bool); 4] = [
        ("rfc7515-A.1-HS256", Some("HS256"), false),
        ("rfc7515-A.2-RS256", Some("RS256"), false),
        ("rfc7515-A.3-ES256", None, false),
        ("rfc7515-A.4-ES512", None, true),
    ];

    const RFC7520: [(&str, Option<&str>); 4] = [
        ("rfc7520-4.1-RS256", Some("RS256")),
        ("rfc7520-4.2-PS384", Some("PS384")),
        ("rfc7520-4.3-ES512", None),
        ("rfc7520-4.4-HS256", None),
    ];

    fn args_for(key: &Path, alg: Option<&str>, jws_only: bool) -> Vec<String> {
        let mut args = vec![
            "--key".to_owned(),
            p(key).to_owned(),
            "--now".into(),
            RFC_NOW.into(),
        ];
        if let Some(alg) = alg {
            args.extend(["--alg".to_owned(), alg.to_owned()]);
        }
        if jws_only {
            args.push("--jws-only".into());
        }
        args
    }

    fn strs(args: &[String]) -> Vec<&str> {
        args.iter().map(String::as_str).collect()
    }

    #[test]
    fn rfc7515_appendix_a_examples_verify_with_their_own_keys() {
        let dir = Dir::new();
        for (id, alg, jws_only) in RFC7515 {
            let case = case(id);
            // Both the RFC's private key and its public half (where the RFC gives one).
            for form in ["key", "public_key"] {
                if case[form].is_null() {
                    continue;
                }
                let key = dir.json(&format!("{id}.{form}.jwk"), &case[form]);
                let args = args_for(&key, alg, jws_only);
                let stdout = verified(&strs(&args), &token_of(&case));
                if jws_only {
                    assert_eq!(stdout, case["payload_text"].as_str().unwrap(), "{id}");
                } else {
                    assert_eq!(claims_of(&stdout), case["expected_claims"], "{id}");
                }
            }
        }
    }

    #[test]
    fn rfc7515_appendix_a_examples_tampered_are_rejected() {
        let dir = Dir::new();
        for (id, alg, jws_only) in RFC7515 {
            let case = case(id);
            let key = dir.json(&format!("{id}.jwk"), &case["key"]);
            let args = args_for(&key, alg, jws_only);
            let token = token_of(&case);
            for tampered in [tamper(&token, 1), tamper(&token, 2)] {
                assert_rejected(&strs(&args), &tampered, "invalid signature");
            }
            // The vector file's own negatives.
            for suffix in ["derived-sigflip", "derived-payload-modified"] {
                let negative = super::case(&format!("{id}-{suffix}"));
                assert_rejected(&strs(&args), &token_of(&negative), "invalid signature");
            }
        }
    }

    #[test]
    fn rfc7515_examples_without_now_are_expired() {
        let dir = Dir::new();
        let case = case("rfc7515-A.1-HS256");
        let key = dir.json("a1.jwk", &case["key"]);
        assert_rejected(
            &["--key", p(&key), "--alg", "HS256"],
            &token_of(&case),
            "token expired at 2011-03-22T18:43:00Z",
        );
    }

    #[test]
    fn rfc7520_section_4_examples_verify_and_tampered_are_rejected() {
        let dir = Dir::new();
        for (id, alg) in RFC7520 {
            let case = case(id);
            let key = dir.json(&format!("{id}.jwk"), &case["key"]);
            let args = args_for(&key, alg, true);
            let token = token_of(&case);
            let stdout = verified(&strs(&args), &token);
            assert_eq!(stdout, case["payload_text"].as_str().unwrap(), "{id}");
            for tampered in [tamper(&token, 1), tamper(&token, 2)] {
                assert_rejected(&strs(&args), &tampered, "invalid signature");
            }
            // A text payload is not a JWT: without --jws-only it is rejected.
            assert_rejected(
                &strs(&args_for(&key, alg, false)),
                &token,
                "invalid claims: the payload is not a JSON claims set",
            );
        }
    }

    #[test]
    fn rsa_key_without_alg_needs_alg_and_the_header_never_chooses() {
        let dir = Dir::new();
        let case = case("rfc7520-4.1-RS256");
        let key = dir.json("bilbo.jwk", &case["key"]);
        tessera()
            .args(["token", "verify", "--jws-only", "--key", p(&key)])
            .arg(token_of(&case))
            .assert()
            .code(2)
            .stderr(predicate::str::contains("pass --alg"));
        // --alg PS384 does not accept the RS256 token, whatever its header says.
        assert_rejected(
            &["--jws-only", "--key", p(&key), "--alg", "PS384"],
            &token_of(&case),
            "algorithm not allowed: RS256",
        );
    }

    #[test]
    fn wrong_keys_from_the_vectors_are_rejected() {
        let dir = Dir::new();
        for (id, alg, why) in [
            (
                "rfc7515-A.2-RS256-derived-wrong-key",
                "RS256",
                "algorithm not allowed: RS256",
            ),
            (
                "rfc7515-A.3-ES256-derived-wrong-key",
                "ES256",
                "key not usable for verification",
            ),
        ] {
            let case = case(id);
            let key = dir.json(&format!("{id}.jwk"), &case["key"]);
            assert_rejected(
                &["--key", p(&key), "--alg", alg, "--now", RFC_NOW],
                &token_of(&case),
                why,
            );
        }
    }

    #[test]
    fn none_tokens_are_rejected() {
        let dir = Dir::new();
        let key = dir.json("a1.jwk", &case("rfc7515-A.1-HS256")["key"]);
        let none = token_of(&case("rfc7515-A.5-none"));
        for args in [
            vec!["--key", p(&key), "--alg", "HS256", "--now", RFC_NOW],
            vec!["--key", p(&key), "--alg", "HS256", "--jws-only"],
        ] {
            assert_rejected(&args, &none, "algorithm not allowed: none");
        }
        // `none` with a signature made up, and `none` as an --alg value.
        assert_rejected(
            &["--key", p(&key), "--alg", "HS256"],
            &format!("{none}c2ln"),
            "algorithm not allowed: none",
        );
        tessera()
            .args(["token", "verify", "--key", p(&key), "--alg", "none", &none])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("unknown algorithm `none`"));
    }

    #[test]
    fn rfc7515_a1_from_a_jwks_is_picked_by_kid() {
        let dir = Dir::new();
        // RFC 7520 4.4's token names kid 018c0ae5-…; the set holds another key first.
        let case = case("rfc7520-4.4-HS256");
        let other = json!({"kty": "oct", "kid": "other", "alg": "HS256",
            "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"});
        let set = dir.json("set.json", &json!({"keys": [other, case["key"]]}));
        let stdout = verified(&["--key", p(&set), "--jws-only"], &token_of(&case));
        assert_eq!(stdout, case["payload_text"].as_str().unwrap());
        let only_other = dir.json("other.json", &json!({"keys": [other]}));
        assert_rejected(
            &["--key", p(&only_other), "--jws-only"],
            &token_of(&case),
            "no matching key",
        );
    }
}

mod exit_codes {
    use super::*;

    #[test]
    fn zero_one_and_two() {
        let dir = Dir::new();
        let key = generate(&dir, "es.jwk", &["--alg", "ES256"]);
        let token = sign(&["--key", p(&key), "--exp", "5m"]);
        tessera()
            .args(["token", "verify", "--key", p(&key), &token])
            .assert()
            .code(0);
        tessera()
            .args(["token", "verify", "--key", p(&key), &tamper(&token, 2)])
            .assert()
            .code(1);
        // Usage errors (clap's, and ours).
        for args in [
            vec!["token", "verify", "--bogus"],
            vec!["token", "verify", &token],
            vec!["token", "verify", "--key", p(&key), "--secret", "s", &token],
            vec![
                "token",
                "verify",
                "--key",
                p(&key),
                "--leeway",
                "-1",
                &token,
            ],
            vec![
                "token",
                "verify",
                "--key",
                p(&key),
                "--jws-only",
                "--iss",
                "x",
                &token,
            ],
            vec!["token", "verify", "--key", p(&key), "--alg", "HS1", &token],
            vec!["token", "sign", "--key", p(&key), "--exp", "soon"],
            vec!["key", "generate"],
            vec!["key", "generate", "--alg", "ES256", "--rsa-bits", "4096"],
            vec!["jwks"],
            vec!["frobnicate"],
        ] {
            tessera().args(&args).assert().code(2);
        }
    }

    #[test]
    fn key_file_errors_are_2() {
        let dir = Dir::new();
        let token = token_of(&case("rfc7515-A.3-ES256"));
        let garbage = dir.write(
            "garbage.jwk",
            "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}",
        );
        let not_a_key = dir.write("text.pem", "hello\n");
        let empty = dir.write("empty", "");
        let dup = dir.write("dup.jwk", r#"{"kty":"oct","k":"AAAA","k":"BBBB"}"#);
        for key in [
            dir.path("missing.jwk"),
            garbage,
            not_a_key,
            empty,
            dup,
            dir.0.path().to_path_buf(),
        ] {
            let assert = tessera()
                .args(["token", "verify", "--key", p(&key), &token])
                .assert()
                .code(2);
            let stderr = stderr_of(&assert);
            assert!(stderr.starts_with("error: "), "{stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
        }
    }

    #[test]
    fn an_hmac_secret_needs_alg() {
        let dir = Dir::new();
        let secret = dir.write("secret", [7u8; 32]);
        let token = sign(&["--secret-file", p(&secret), "--alg", "HS256", "--exp", "5m"]);
        for args in [
            vec!["token", "verify", "--secret-file", p(&secret), &token],
            vec!["token", "sign", "--secret-file", p(&secret)],
        ] {
            tessera()
                .args(&args)
                .assert()
                .code(2)
                .stderr(predicate::str::contains(
                    "pass --alg (one of HS256, HS384, HS512)",
                ));
        }
        // A secret shorter than the hash is refused as a key, not as a token.
        let short = dir.write("short", [7u8; 16]);
        tessera()
            .args([
                "token",
                "verify",
                "--secret-file",
                p(&short),
                "--alg",
                "HS256",
                &token,
            ])
            .assert()
            .code(2);
    }

    #[test]
    fn malformed_and_empty_tokens_are_1() {
        let dir = Dir::new();
        let key = dir.json("a3.jwk", &case("rfc7515-A.3-ES256")["key"]);
        let token = token_of(&case("rfc7515-A.3-ES256"));
        for (bad, why) in [
            ("", "malformed token: empty token"),
            ("abc", "malformed token"),
            ("a.b.c.d.e", "malformed token"),
            (&format!("{token}="), "malformed token"),
            (
                &format!(" {token}"),
                "malformed token: token contains whitespace",
            ),
            (&"a".repeat(20_000), "token too large"),
        ] {
            assert_rejected(&["--key", p(&key), "--now", "1300819000"], bad, why);
        }
    }
}

mod stdin {
    use super::*;

    fn verify_stdin(key: &Path, input: &str, dash: bool) -> assert_cmd::assert::Assert {
        let mut cmd = tessera();
        cmd.args(["token", "verify", "--key", p(key)]);
        if dash {
            cmd.arg("-");
        }
        cmd.write_stdin(input).assert()
    }

    #[test]
    fn one_trailing_newline_is_dropped_nothing_else_is_trimmed() {
        let dir = Dir::new();
        let key = generate(&dir, "ed.jwk", &["--alg", "EdDSA"]);
        let token = sign(&["--key", p(&key), "--exp", "5m", "--sub", "s"]);
        for dash in [true, false] {
            for ok in [format!("{token}\n"), format!("{token}\r\n"), token.clone()] {
                let assert = verify_stdin(&key, &ok, dash).code(0);
                assert_eq!(claims_of(&stdout_of(&assert))["sub"], "s");
            }
            for bad in [
                format!("{token} "),
                format!("{token} \n"),
                format!("{token}\n\n"),
                format!("{token}\r"),
                format!("{token}\t\n"),
                format!(" {token}\n"),
            ] {
                let assert = verify_stdin(&key, &bad, dash).code(1);
                let stderr = stderr_of(&assert);
                assert!(stderr.contains("malformed token"), "{bad:?}: {stderr}");
                assert_eq!(stderr.lines().count(), 1);
            }
            for empty in ["", "\n", "\r\n"] {
                verify_stdin(&key, empty, dash)
                    .code(1)
                    .stderr(predicate::str::contains("empty token"));
            }
        }
    }

    #[test]
    fn decode_reads_stdin_too() {
        let token = token_of(&case("rfc7515-A.1-HS256"));
        tessera()
            .args(["token", "decode", "-"])
            .write_stdin(format!("{token}\n"))
            .assert()
            .code(0);
        tessera()
            .args(["token", "decode"])
            .write_stdin(format!("{token} "))
            .assert()
            .code(1)
            .stderr(predicate::str::contains("whitespace"));
    }
}

mod sign_verify {
    use super::*;

    #[test]
    fn round_trips_for_every_algorithm_through_jwk_public_jwk_and_jwks() {
        let dir = Dir::new();
        for alg in [
            "HS256", "HS384", "HS512", "RS256", "PS384", "ES256", "ES384", "ES512", "EdDSA",
        ] {
            let key = generate(&dir, &format!("{alg}.jwk"), &["--alg", alg]);
            let token = sign(&[
                "--key",
                p(&key),
                "--sub",
                "alice",
                "--exp",
                "10m",
                "--now",
                "1800000000",
            ]);
            let header = decoded(&token)["header"].clone();
            assert_eq!(header["alg"], alg);
            assert_eq!(header["typ"], "JWT");
            let verify = ["--now", "1800000100"];
            let claims = claims_of(&verified(
                &[&["--key", p(&key)], &verify[..]].concat(),
                &token,
            ));
            assert_eq!(
                claims,
                json!({"sub": "alice", "exp": 1_800_000_600, "iat": 1_800_000_000})
            );
            if alg.starts_with("HS") {
                continue;
            }
            // The public half and a JWKS of it verify too; the kid is the thumbprint.
            let public = dir.path(&format!("{alg}.pub.jwk"));
            let out = tessera()
                .args(["key", "public", p(&key)])
                .assert()
                .success();
            std::fs::write(&public, &out.get_output().stdout).unwrap();
            let public_jwk: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
            assert!(public_jwk.get("d").is_none());
            assert_eq!(header["kid"], public_jwk["kid"]);
            let thumbprint = tessera()
                .args(["key", "thumbprint", p(&key)])
                .assert()
                .success();
            assert_eq!(
                stdout_of(&thumbprint).trim_end(),
                public_jwk["kid"].as_str().unwrap()
            );
            verified(&[&["--key", p(&public)], &verify[..]].concat(), &token);
            let jwks = dir.path(&format!("{alg}.jwks"));
            let out = tessera().args(["jwks", p(&key)]).assert().success();
            std::fs::write(&jwks, &out.get_output().stdout).unwrap();
            verified(&[&["--key", p(&jwks)], &verify[..]].concat(), &token);
        }
    }

    #[test]
    fn pem_keys_sign_and_verify() {
        let dir = Dir::new();
        for (alg, sign_alg) in [("RS256", Some("PS256")), ("ES384", None), ("EdDSA", None)] {
            let pem = generate(
                &dir,
                &format!("{alg}.pem"),
                &["--alg", alg, "--format", "pem"],
            );
            let text = std::fs::read_to_string(&pem).unwrap();
            assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "{text}");
            let mut args = vec!["--key", p(&pem), "--exp", "5m", "--iss", "me"];
            if let Some(a) = sign_alg {
                args.extend(["--alg", a]);
            }
            let token = sign(&args);
            let mut vargs = vec!["--key", p(&pem)];
            if let Some(a) = sign_alg {
                vargs.extend(["--alg", a]);
            }
            assert_eq!(claims_of(&verified(&vargs, &token))["iss"], "me");
            if sign_alg.is_some() {
                // PEM has no `alg`: an RSA PEM needs --alg to sign as well as to verify.
                tessera()
                    .args(["token", "sign", "--key", p(&pem), "--exp", "5m"])
                    .assert()
                    .code(2)
                    .stderr(predicate::str::contains("pass --alg"));
            }
        }
    }

    #[test]
    fn secrets_inline_and_from_files() {
        let dir = Dir::new();
        let secret = "correct horse battery staple, and 48 bytes or more!!";
        let file = dir.write("secret.bin", secret);
        let token = sign(&["--secret", secret, "--alg", "HS384", "--exp", "5m"]);
        verified(&["--secret-file", p(&file), "--alg", "HS384"], &token);
        verified(&["--secret", secret, "--alg", "HS256,HS384"], &token);
        // The raw bytes of the file: a trailing newline is part of the secret.
        let with_newline = dir.write("secret.txt", format!("{secret}\n"));
        assert_rejected(
            &["--secret-file", p(&with_newline), "--alg", "HS384"],
            &token,
            "invalid signature",
        );
        // HS384 is not among the accepted algorithms.
        assert_rejected(
            &["--secret", secret, "--alg", "HS256"],
            &token,
            "algorithm not allowed: HS384",
        );
    }

    #[test]
    fn claims_flags_and_header() {
        let dir = Dir::new();
        let key = generate(&dir, "es.jwk", &["--alg", "ES256", "--kid", "k-1"]);
        let claims_file = dir.write(
            "claims.json",
            r#"{"roles": ["admin"], "sub": "old", "aud": "x", "iat": 5}"#,
        );
        let token = sign(&[
            "--key",
            p(&key),
            "--claims",
            &format!("@{}", p(&claims_file)),
            "--sub",
            "alice",
            "--aud",
            "orders",
            "--aud",
            "billing",
            "--iss",
            "https://auth.example.com",
            "--exp",
            "1h30m",
            "--nbf",
            "1800000010",
            "--jti",
            "--typ",
            "at+jwt",
            "--now",
            "1800000000",
        ]);
        let decoded = decoded(&token);
        assert_eq!(
            decoded["header"],
            json!({"alg": "ES256", "typ": "at+jwt", "kid": "k-1"})
        );
        let payload = &decoded["payload"];
        assert_eq!(payload["sub"], "alice");
        assert_eq!(payload["aud"], json!(["orders", "billing"]));
        assert_eq!(payload["exp"], 1_800_005_400);
        assert_eq!(payload["nbf"], 1_800_000_010);
        assert_eq!(payload["iat"], 5, "an iat given in --claims is kept");
        assert_eq!(payload["roles"], json!(["admin"]));
        let jti = payload["jti"].as_str().unwrap();
        assert_eq!(jti.len(), 36);
        assert_eq!(&jti[14..15], "4", "a version 4 UUID: {jti}");
        // --kid overrides the key's; --no-iat leaves iat out; inline claims.
        let token = sign(&[
            "--key",
            p(&key),
            "--kid",
            "other",
            "--no-iat",
            "--claims",
            r#"{"n": 1}"#,
            "--exp",
            "5m",
        ]);
        let decoded = super::decoded(&token);
        assert_eq!(decoded["header"]["kid"], "other");
        assert!(decoded["payload"].get("iat").is_none());
        assert!(decoded["payload"].get("jti").is_none());
        // Two tokens, two jtis.
        let a = sign(&["--key", p(&key), "--jti", "--exp", "5m"]);
        let b = sign(&["--key", p(&key), "--jti", "--exp", "5m"]);
        assert_ne!(
            super::decoded(&a)["payload"]["jti"],
            super::decoded(&b)["payload"]["jti"]
        );
    }

    #[test]
    fn bad_claims_are_usage_errors() {
        let dir = Dir::new();
        let key = generate(&dir, "es.jwk", &["--alg", "ES256"]);
        for (claims, why) in [
            ("[1]", "not a JSON object"),
            (r#"{"a":1,"a":2}"#, "duplicate"),
            ("{", "not a JSON object"),
            (r#"{"exp":"tomorrow"}"#, "invalid claim `exp`"),
            ("@/nonexistent/claims.json", "cannot open"),
        ] {
            tessera()
                .args(["token", "sign", "--key", p(&key), "--claims", claims])
                .assert()
                .code(2)
                .stderr(predicate::str::contains(why));
        }
        tessera()
            .args(["token", "sign", "--key", p(&key), "--exp", "253402300800"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("outside 1970-01-01..9999-12-31"));
        // A public key cannot sign; an RS256 JWK cannot sign PS256.
        let public = dir.path("pub.jwk");
        let out = tessera()
            .args(["key", "public", p(&key)])
            .assert()
            .success();
        std::fs::write(&public, &out.get_output().stdout).unwrap();
        tessera()
            .args(["token", "sign", "--key", p(&public)])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("cannot sign"));
        tessera()
            .args(["token", "sign", "--key", p(&key), "--alg", "ES384"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("key is for ES256, not ES384"));
    }

    #[test]
    fn sign_warns_about_a_token_without_exp() {
        let dir = Dir::new();
        let key = generate(&dir, "es.jwk", &["--alg", "ES256"]);
        let assert = tessera()
            .args(["token", "sign", "--key", p(&key), "--sub", "a"])
            .assert()
            .success();
        assert!(stderr_of(&assert).contains("warning: the token has no `exp`"));
        let token = stdout_of(&assert).trim_end().to_owned();
        assert_rejected(&["--key", p(&key)], &token, "missing required claim `exp`");
        verified(&["--key", p(&key), "--ignore-exp"], &token);
    }

    #[test]
    fn a_jwks_signs_with_the_key_kid_picks() {
        let dir = Dir::new();
        let a = generate(&dir, "a.jwk", &["--alg", "ES256", "--kid", "a"]);
        let b = generate(&dir, "b.jwk", &["--alg", "EdDSA", "--kid", "b"]);
        let private_set = dir.json(
            "private.json",
            &json!({"keys": [
                serde_json::from_slice::<Value>(&std::fs::read(&a).unwrap()).unwrap(),
                serde_json::from_slice::<Value>(&std::fs::read(&b).unwrap()).unwrap(),
            ]}),
        );
        tessera()
            .args(["token", "sign", "--key", p(&private_set), "--exp", "5m"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("choose one with --kid"));
        let token = sign(&["--key", p(&private_set), "--kid", "b", "--exp", "5m"]);
        assert_eq!(decoded(&token)["header"]["alg"], "EdDSA");
        let public_set = dir.path("public.json");
        let out = tessera().args(["jwks", p(&a), p(&b)]).assert().success();
        std::fs::write(&public_set, &out.get_output().stdout).unwrap();
        verified(&["--key", p(&public_set)], &token);
        // A token naming a kid the set does not have.
        let c = generate(&dir, "c.jwk", &["--alg", "EdDSA", "--kid", "c"]);
        let stranger = sign(&["--key", p(&c), "--exp", "5m"]);
        assert_rejected(&["--key", p(&public_set)], &stranger, "no matching key");
    }
}

mod verify_options {
    use super::*;

    struct Fixture {
        _dir: Dir,
        key: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = Dir::new();
        let key = generate(&dir, "es.jwk", &["--alg", "ES256"]);
        Fixture { _dir: dir, key }
    }

    fn token(f: &Fixture, extra: &[&str]) -> String {
        sign(&[&["--key", p(&f.key), "--now", "1800000000"], extra].concat())
    }

    fn args<'a>(f: &'a Fixture, extra: &[&'a str]) -> Vec<&'a str> {
        [&["--key", p(&f.key), "--now", "1800000100"], extra].concat()
    }

    #[test]
    fn audience() {
        let f = fixture();
        let t = token(&f, &["--exp", "1h", "--aud", "orders"]);
        verified(&args(&f, &[]), &t); // not checked without --aud
        verified(&args(&f, &["--aud", "orders"]), &t);
        verified(&args(&f, &["--aud", "billing", "--aud", "orders"]), &t);
        assert_rejected(
            &args(&f, &["--aud", "billing"]),
            &t,
            "audience mismatch: expected billing, got orders",
        );
        let no_aud = token(&f, &["--exp", "1h"]);
        assert_rejected(
            &args(&f, &["--aud", "orders"]),
            &no_aud,
            "missing required claim `aud`",
        );
    }

    #[test]
    fn issuer_subject_and_typ() {
        let f = fixture();
        let t = token(
            &f,
            &[
                "--exp",
                "1h",
                "--iss",
                "https://a.example",
                "--sub",
                "u-1",
                "--typ",
                "at+jwt",
            ],
        );
        verified(
            &args(
                &f,
                &[
                    "--iss",
                    "https://a.example",
                    "--sub",
                    "u-1",
                    "--typ",
                    "at+jwt",
                ],
            ),
            &t,
        );
        verified(&args(&f, &["--typ", "application/AT+JWT"]), &t);
        assert_rejected(
            &args(&f, &["--iss", "https://b.example"]),
            &t,
            "issuer mismatch: expected https://b.example, got https://a.example",
        );
        assert_rejected(
            &args(&f, &["--sub", "u-2"]),
            &t,
            "subject mismatch: expected u-2, got u-1",
        );
        assert_rejected(
            &args(&f, &["--typ", "JWT"]),
            &t,
            "type mismatch: expected typ JWT, got at+jwt",
        );
    }

    #[test]
    fn require() {
        let f = fixture();
        let plain = token(&f, &["--exp", "1h"]);
        let with_jti = token(&f, &["--exp", "1h", "--jti"]);
        assert_rejected(
            &args(&f, &["--require", "jti"]),
            &plain,
            "missing required claim `jti`",
        );
        verified(
            &args(&f, &["--require", "jti", "--require", "iat"]),
            &with_jti,
        );
    }

    #[test]
    fn leeway_and_now() {
        let f = fixture();
        let key = p(&f.key);
        // exp = 1800000060.
        let t = token(&f, &["--exp", "60s"]);
        verified(&["--key", key, "--now", "1800000059"], &t);
        // No leeway by default: expired exactly at exp.
        assert_rejected(
            &["--key", key, "--now", "1800000060"],
            &t,
            "token expired at 2027-01-15T08:01:00Z (now 2027-01-15T08:01:00Z)",
        );
        verified(&["--key", key, "--now", "1800000060", "--leeway", "1"], &t);
        assert_rejected(
            &["--key", key, "--now", "1800000061", "--leeway", "1"],
            &t,
            "token expired",
        );
        // iat in the future is refused; within the leeway it is accepted.
        assert_rejected(
            &["--key", key, "--now", "1799999990"],
            &t,
            "token issued in the future",
        );
        verified(&["--key", key, "--now", "1799999990", "--leeway", "10"], &t);
        // nbf.
        let later = token(&f, &["--exp", "2h", "--nbf", "1h"]);
        assert_rejected(
            &["--key", key, "--now", "1800000100"],
            &later,
            "token not valid before",
        );
        verified(&["--key", key, "--now", "1800003600"], &later);
    }

    #[test]
    fn ignore_exp() {
        let f = fixture();
        let t = token(&f, &["--exp", "60s"]);
        assert_rejected(
            &["--key", p(&f.key), "--now", "1800000999"],
            &t,
            "token expired",
        );
        verified(
            &["--key", p(&f.key), "--now", "1800000999", "--ignore-exp"],
            &t,
        );
    }

    #[test]
    fn jws_only_prints_the_payload_as_it_is() {
        let f = fixture();
        let t = token(&f, &["--exp", "1h", "--sub", "s"]);
        let raw = verified(&args(&f, &["--jws-only"]), &t);
        // The payload bytes exactly, compact as signed, not re-serialized.
        assert!(raw.starts_with("{\"exp\":"), "{raw}");
        assert!(!raw.ends_with('\n'));
        // Claims are not looked at: an expired token passes its signature check.
        verified(
            &["--key", p(&f.key), "--now", "1900000000", "--jws-only"],
            &t,
        );
        // Header rules still apply.
        assert_rejected(
            &args(&f, &["--jws-only", "--typ", "at+jwt"]),
            &t,
            "type mismatch",
        );
        // Claim checks cannot be combined with --jws-only.
        for flag in ["--iss", "--aud", "--sub", "--require"] {
            tessera()
                .args([
                    "token",
                    "verify",
                    "--key",
                    p(&f.key),
                    "--jws-only",
                    flag,
                    "x",
                    &t,
                ])
                .assert()
                .code(2);
        }
    }

    #[test]
    fn jwk_use_key_ops_and_alg_bind_the_key() {
        let dir = Dir::new();
        let key = generate(&dir, "rsa.pem", &["--alg", "RS256", "--format", "pem"]);
        let rs = sign(&["--key", p(&key), "--alg", "RS256", "--exp", "5m"]);
        let ps = sign(&["--key", p(&key), "--alg", "PS256", "--exp", "5m"]);
        let out = tessera()
            .args(["key", "public", p(&key)])
            .assert()
            .success();
        let public: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert!(public.get("alg").is_none());
        let with = |name: &str, extra: Value| {
            let mut jwk = public.clone();
            for (k, v) in extra.as_object().unwrap() {
                jwk[k] = v.clone();
            }
            dir.json(name, &jwk)
        };
        // `alg` in the JWK binds it: RS256 only, whatever --alg or the header say.
        let bound = with("bound.jwk", json!({"alg": "RS256"}));
        verified(&["--key", p(&bound)], &rs);
        assert_rejected(&["--key", p(&bound)], &ps, "algorithm not allowed: PS256");
        assert_rejected(
            &["--key", p(&bound), "--alg", "PS256"],
            &ps,
            "algorithm not allowed",
        );
        // Without `alg`, --alg decides; several may be allowed.
        verified(&["--key", p(&key), "--alg", "RS256,PS256"], &ps);
        assert_rejected(
            &["--key", p(&key), "--alg", "RS256"],
            &ps,
            "algorithm not allowed: PS256",
        );
        // `use` other than sig, `key_ops` without verify: the key loads but never verifies.
        let enc = with("enc.jwk", json!({"alg": "RS256", "use": "enc"}));
        assert_rejected(&["--key", p(&enc)], &rs, "key not usable for verification");
        let sign_only = with("ops.jwk", json!({"alg": "RS256", "key_ops": ["sign"]}));
        assert_rejected(
            &["--key", p(&sign_only)],
            &rs,
            "key not usable for verification",
        );
        let verify_ok = with("ops2.jwk", json!({"alg": "RS256", "key_ops": ["verify"]}));
        verified(&["--key", p(&verify_ok)], &rs);
        // An EC key fixes its algorithm: --alg cannot move it.
        let ec = generate(&dir, "ec.jwk", &["--alg", "ES256"]);
        let es = sign(&["--key", p(&ec), "--exp", "5m"]);
        assert_rejected(
            &["--key", p(&ec), "--alg", "ES384"],
            &es,
            "algorithm not allowed: ES256",
        );
    }

    #[test]
    fn der_keys_are_read() {
        let dir = Dir::new();
        let pem = generate(&dir, "ed.pem", &["--alg", "EdDSA", "--format", "pem"]);
        let der = pem::parse(std::fs::read(&pem).unwrap())
            .unwrap()
            .into_contents();
        let der_path = dir.write("ed.der", der);
        let token = sign(&["--key", p(&der_path), "--exp", "5m"]);
        verified(&["--key", p(&pem)], &token);
        verified(&["--key", p(&der_path)], &token);
        let thumb_pem = tessera()
            .args(["key", "thumbprint", p(&pem)])
            .assert()
            .success();
        let thumb_der = tessera()
            .args(["key", "thumbprint", p(&der_path)])
            .assert()
            .success();
        assert_eq!(stdout_of(&thumb_pem), stdout_of(&thumb_der));
    }
}

mod keys {
    use super::*;

    const RFC7638_KEY: &str = r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;

    #[test]
    fn rfc7638_thumbprint() {
        let dir = Dir::new();
        let key = dir.write("rfc7638.jwk", RFC7638_KEY);
        tessera()
            .args(["key", "thumbprint", p(&key)])
            .assert()
            .code(0)
            .stdout("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs\n");
        // Every thumbprint in the vector file.
        for (i, t) in vectors()["thumbprints"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let key = dir.json(&format!("t{i}.jwk"), &t["jwk"]);
            tessera()
                .args(["key", "thumbprint", p(&key)])
                .assert()
                .code(0)
                .stdout(format!("{}\n", t["expected_thumbprint"].as_str().unwrap()));
        }
    }

    #[test]
    fn public_keeps_the_public_members_and_drops_the_private_ones() {
        let dir = Dir::new();
        let key = dir.write("rfc7638.jwk", RFC7638_KEY);
        let out = tessera().args(["key", "public", p(&key)]).assert().code(0);
        let public: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(public, serde_json::from_str::<Value>(RFC7638_KEY).unwrap());
        let private = dir.json("a2.jwk", &case("rfc7515-A.2-RS256")["key"]);
        let out = tessera()
            .args(["key", "public", p(&private)])
            .assert()
            .code(0);
        let public: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(public, case("rfc7515-A.2-RS256")["public_key"]);
        // From PEM.
        let pem = generate(&dir, "es.pem", &["--alg", "ES384", "--format", "pem"]);
        let out = tessera().args(["key", "public", p(&pem)]).assert().code(0);
        let public: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(public["kty"], "EC");
        assert_eq!(public["crv"], "P-384");
        assert!(public.get("d").is_none());
    }

    #[test]
    fn an_hmac_secret_has_no_public_half() {
        let dir = Dir::new();
        let key = generate(&dir, "hs.jwk", &["--alg", "HS256"]);
        let jwk: Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
        assert_eq!(jwk["kty"], "oct");
        assert_eq!(jwk["alg"], "HS256");
        assert_eq!(jwk["use"], "sig");
        assert!(jwk.get("kid").is_none(), "no kid for HMAC unless given");
        for args in [vec!["key", "public", p(&key)], vec!["jwks", p(&key)]] {
            tessera()
                .args(&args)
                .assert()
                .code(2)
                .stderr(predicate::str::contains("no public half"));
        }
        tessera()
            .args(["key", "generate", "--alg", "HS256", "--format", "pem"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("no PEM form"));
    }

    #[test]
    fn generate_prints_a_private_jwk_with_alg_use_and_kid() {
        let out = tessera()
            .args(["key", "generate", "--alg", "ES512"])
            .assert()
            .code(0);
        let jwk: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(jwk["alg"], "ES512");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["crv"], "P-521");
        assert!(jwk["d"].is_string());
        assert_eq!(jwk["kid"].as_str().unwrap().len(), 43, "a thumbprint");
        let out = tessera()
            .args(["key", "generate", "--alg", "HS512", "--kid", "shared"])
            .assert()
            .code(0);
        let jwk: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(jwk["kid"], "shared");
        assert_eq!(jwk["k"].as_str().unwrap().len(), 86, "64 random bytes");
    }

    #[cfg(unix)]
    #[test]
    fn generate_writes_mode_0600_and_never_overwrites() {
        use std::os::unix::fs::PermissionsExt;
        let dir = Dir::new();
        for format in ["jwk", "pem"] {
            let path = dir.path(&format!("key.{format}"));
            tessera()
                .args([
                    "key",
                    "generate",
                    "--alg",
                    "EdDSA",
                    "--format",
                    format,
                    "--out",
                    p(&path),
                ])
                .assert()
                .code(0)
                .stdout("");
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{format}: {mode:o}");
            let before = std::fs::read(&path).unwrap();
            tessera()
                .args([
                    "key",
                    "generate",
                    "--alg",
                    "EdDSA",
                    "--format",
                    format,
                    "--out",
                    p(&path),
                ])
                .assert()
                .code(2)
                .stderr(predicate::str::contains("refusing to overwrite"));
            assert_eq!(std::fs::read(&path).unwrap(), before);
        }
    }

    #[test]
    fn generate_refuses_bad_combinations() {
        for args in [
            vec!["--alg", "ES256", "--format", "pem", "--kid", "k"],
            vec!["--alg", "ES256", "--rsa-bits", "3072"],
            vec!["--alg", "RS256", "--rsa-bits", "1024"],
            vec!["--alg", "none"],
        ] {
            tessera()
                .args(["key", "generate"])
                .args(&args)
                .assert()
                .code(2);
        }
    }

    #[test]
    fn jwks_of_several_files() {
        let dir = Dir::new();
        let a = generate(&dir, "a.jwk", &["--alg", "ES256", "--kid", "a"]);
        let pem = generate(&dir, "b.pem", &["--alg", "RS256", "--format", "pem"]);
        let rfc = dir.write("rfc7638.jwk", RFC7638_KEY);
        let out = tessera()
            .args(["jwks", p(&a), p(&pem), p(&rfc)])
            .assert()
            .code(0);
        let set: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        for key in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(key.get(private).is_none(), "{key}");
            }
        }
        assert_eq!(keys[0]["kid"], "a");
        // The PEM key had no kid: it gets its thumbprint.
        let thumb = tessera()
            .args(["key", "thumbprint", p(&pem)])
            .assert()
            .success();
        assert_eq!(keys[1]["kid"], stdout_of(&thumb).trim_end());
        assert_eq!(keys[2]["kid"], "2011-04-29");
        // A JWKS file contributes its keys; the same kid twice is refused.
        let set_file = dir.json("set.json", &set);
        tessera().args(["jwks", p(&set_file)]).assert().code(0);
        tessera()
            .args(["jwks", p(&set_file), p(&a)])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("kid \"a\" appears twice"));
        tessera()
            .args(["jwks", p(&dir.path("missing"))])
            .assert()
            .code(2);
    }
}

/// `tessera token decode` of a token, parsed.
fn decoded(token: &str) -> Value {
    let out = tessera().args(["token", "decode", token]).assert().code(0);
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

mod decode {
    use super::*;

    #[test]
    fn shows_header_and_payload_and_warns_on_stderr() {
        let token = token_of(&case("rfc7515-A.1-HS256"));
        let assert = tessera().args(["token", "decode", &token]).assert().code(0);
        let out: Value = serde_json::from_str(&stdout_of(&assert)).unwrap();
        assert_eq!(
            out,
            json!({
                "header": {"typ": "JWT", "alg": "HS256"},
                "payload": {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": true},
            })
        );
        let stderr = stderr_of(&assert);
        assert!(stderr.contains("NOT verified"), "{stderr}");
        assert!(
            stderr.contains("exp: 2011-03-22T18:43:00Z (expired "),
            "{stderr}"
        );
        // As of a given time.
        tessera()
            .args(["token", "decode", "--now", "1300819080", &token])
            .assert()
            .code(0)
            .stderr(predicate::str::contains(
                "exp: 2011-03-22T18:43:00Z (expires in 5m)",
            ));
        tessera()
            .args(["token", "decode", "--now", "1300819680", &token])
            .assert()
            .code(0)
            .stderr(predicate::str::contains(
                "exp: 2011-03-22T18:43:00Z (expired 5m ago)",
            ));
    }

    #[test]
    fn a_text_payload_is_a_string_and_none_tokens_are_shown() {
        let token = token_of(&case("rfc7515-A.4-ES512"));
        assert_eq!(decoded(&token)["payload"], "Payload");
        // Decoding shows even what verification refuses.
        let none = token_of(&case("rfc7515-A.5-none"));
        assert_eq!(decoded(&none)["header"]["alg"], "none");
    }

    #[test]
    fn malformed_tokens_exit_1() {
        for bad in [
            "",
            "abc",
            "a.b",
            "e30.e30.e30.e30",
            "!!.e30.",
            "eyJhbGciOiJIUzI1NiJ9.e30=.x",
        ] {
            let assert = tessera().args(["token", "decode", bad]).assert().code(1);
            let stderr = stderr_of(&assert);
            assert!(
                stderr.starts_with("error: malformed token"),
                "{bad}: {stderr}"
            );
            assert_eq!(stdout_of(&assert), "");
        }
    }
}

mod help {
    use super::*;

    #[test]
    fn every_command_has_help() {
        for path in [
            &[][..],
            &["token"],
            &["token", "decode"],
            &["token", "sign"],
            &["token", "verify"],
            &["key"],
            &["key", "generate"],
            &["key", "public"],
            &["key", "thumbprint"],
            &["jwks"],
        ] {
            for flag in ["--help", "-h"] {
                let assert = tessera().args(path).arg(flag).assert().code(0);
                let stdout = stdout_of(&assert);
                let usage = format!("Usage: tessera {}", path.join(" "));
                assert!(stdout.contains(usage.trim_end()), "{path:?}: {stdout}");
            }
        }
        // What --help promises about verify.
        let assert = tessera()
            .args(["token", "verify", "--help"])
            .assert()
            .code(0);
        let help = stdout_of(&assert)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            help.contains("Without --aud the audience is NOT checked"),
            "{help}"
        );
        assert!(help.contains("The default is 0"), "{help}");
    }
}
