//! Claims validation through the public API: time claims at their boundary seconds, with and
//! without leeway, `max_age`, `iss`, `aud`, `sub`, `typ`, required claims, the caller's own
//! checks, and the exact texts of the errors.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tessera_jwt::{
    Algorithm, Clock, DEFAULT_LEEWAY, Error, FixedClock, Header, KeySet, Validation, Verified,
    encode, verify, verify_jws,
};

use crate::support::{clock, hs256_key};

/// 2026-11-23T10:00:00Z.
const T: i64 = 1_795_428_000;

fn keys() -> KeySet {
    KeySet::new(vec![hs256_key().verifying_key().expect("vk")])
}

fn token(claims: &Value) -> String {
    encode(
        &hs256_key(),
        &Header::new(Algorithm::HS256).with_typ("JWT"),
        claims,
    )
    .expect("encode")
}

fn token_with_typ(typ: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = typ.map(str::to_owned);
    encode(&hs256_key(), &header, &json!({"exp": T + 600})).expect("encode")
}

/// A validation at `now` with no leeway, unless the test sets one.
fn at(now: i64) -> Validation {
    Validation::new([Algorithm::HS256])
        .leeway(0)
        .clock(clock(now))
}

fn run(claims: &Value, validation: &Validation) -> Result<Verified<Value>, Error> {
    verify::<Value>(&token(claims), &keys(), validation)
}

fn err(claims: &Value, validation: &Validation) -> Error {
    let e = run(claims, validation).expect_err("rejected");
    assert!(e.is_token_rejection(), "{e}");
    e
}

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

#[test]
fn exp_without_leeway_is_exclusive() {
    let claims = json!({"exp": T});
    run(&claims, &at(T - 1)).expect("one second before exp");
    assert!(
        matches!(err(&claims, &at(T)), Error::Expired { .. }),
        "at exp"
    );
    let e = err(&claims, &at(T + 300));
    assert_eq!(
        e.to_string(),
        "token expired at 2026-11-23T10:00:00Z (now 2026-11-23T10:05:00Z)"
    );
    let Error::Expired { exp, now } = e else {
        panic!("{e}")
    };
    assert_eq!((exp.as_secs(), now.as_secs()), (T, T + 300));
}

#[test]
fn exp_with_leeway() {
    let claims = json!({"exp": T});
    run(&claims, &at(T + 29).leeway(30)).expect("inside leeway");
    assert!(matches!(
        err(&claims, &at(T + 30).leeway(30)),
        Error::Expired { .. }
    ));
    // The default leeway is DEFAULT_LEEWAY seconds.
    let default = Validation::new([Algorithm::HS256]);
    let lee = i64::try_from(DEFAULT_LEEWAY).expect("small");
    run(&claims, &default.clone().clock(clock(T + lee - 1))).expect("default leeway");
    assert!(run(&claims, &default.clock(clock(T + lee))).is_err());
}

#[test]
fn fractional_exp() {
    let claims = json!({"exp": T as f64 + 0.5});
    run(&claims, &at(T)).expect("half a second left");
    assert!(matches!(err(&claims, &at(T + 1)), Error::Expired { .. }));
}

#[test]
fn nbf_with_and_without_leeway() {
    let claims = json!({"exp": T + 3600, "nbf": T});
    run(&claims, &at(T)).expect("valid from nbf on");
    let e = err(&claims, &at(T - 1));
    assert!(matches!(e, Error::NotYetValid { .. }));
    assert_eq!(
        e.to_string(),
        "token not valid before 2026-11-23T10:00:00Z (now 2026-11-23T09:59:59Z)"
    );
    run(&claims, &at(T - 30).leeway(30)).expect("inside leeway");
    assert!(matches!(
        err(&claims, &at(T - 31).leeway(30)),
        Error::NotYetValid { .. }
    ));
}

#[test]
fn iat_in_the_future_with_and_without_leeway() {
    let claims = json!({"exp": T + 3600, "iat": T});
    run(&claims, &at(T)).expect("issued now");
    let e = err(&claims, &at(T - 1));
    assert_eq!(
        e.to_string(),
        "token issued in the future at 2026-11-23T10:00:00Z (now 2026-11-23T09:59:59Z)"
    );
    run(&claims, &at(T - 30).leeway(30)).expect("inside leeway");
    assert!(matches!(
        err(&claims, &at(T - 31).leeway(30)),
        Error::IssuedInFuture { .. }
    ));
}

#[test]
fn max_age_counts_from_iat() {
    let claims = json!({"exp": T + 7200, "iat": T});
    run(&claims, &at(T + 600).max_age(600)).expect("exactly max_age old");
    let e = err(&claims, &at(T + 601).max_age(600));
    assert_eq!(
        e.to_string(),
        "token too old: issued at 2026-11-23T10:00:00Z, maximum age 600s (now 2026-11-23T10:10:01Z)"
    );
    run(&claims, &at(T + 630).max_age(600).leeway(30)).expect("inside leeway");
    assert!(matches!(
        err(&claims, &at(T + 631).max_age(600).leeway(30)),
        Error::TooOld { .. }
    ));
    // max_age needs iat.
    let e = err(&json!({"exp": T + 7200}), &at(T).max_age(600));
    assert!(matches!(e, Error::MissingClaim(ref c) if c == "iat"), "{e}");
}

#[test]
fn exp_is_required_unless_made_optional() {
    let no_exp = json!({"sub": "u-1"});
    let e = err(&no_exp, &at(T));
    assert_eq!(e.to_string(), "missing required claim `exp`");
    run(&no_exp, &at(T).exp_optional()).expect("exp optional");
    // Optional is not ignored: an exp that is there is checked.
    assert!(matches!(
        err(&json!({"exp": T}), &at(T).exp_optional()),
        Error::Expired { .. }
    ));
    // Ignoring it lets an expired token through (for inspection tools only).
    run(&json!({"exp": T}), &at(T + 86_400).insecure_ignore_exp()).expect("exp ignored");
    run(&no_exp, &at(T).insecure_ignore_exp()).expect("exp ignored");
}

#[test]
fn the_injected_clock_decides() {
    let fixed = Arc::new(FixedClock::new(T - 10));
    let validation = Validation::new([Algorithm::HS256])
        .leeway(0)
        .clock(fixed.clone());
    let claims = json!({"exp": T});
    run(&claims, &validation).expect("before exp");
    assert_eq!(validation.now(), T - 10);
    fixed.advance(10);
    assert!(matches!(err(&claims, &validation), Error::Expired { .. }));
    fixed.set(T - 1);
    run(&claims, &validation).expect("clock set back");
    assert_eq!(fixed.now(), T - 1);
}

// ---------------------------------------------------------------------------------------
// Who: iss, aud, sub, typ
// ---------------------------------------------------------------------------------------

#[test]
fn issuer() {
    let claims = json!({"exp": T + 600, "iss": "https://evil.example"});
    let e = err(&claims, &at(T).issuer("https://auth.example"));
    assert_eq!(
        e.to_string(),
        "issuer mismatch: expected https://auth.example, got https://evil.example"
    );
    let two = at(T)
        .issuer("https://auth.example")
        .issuer("https://login.example");
    let e = err(&claims, &two);
    assert_eq!(
        e.to_string(),
        "issuer mismatch: expected https://auth.example or https://login.example, got https://evil.example"
    );
    run(
        &json!({"exp": T + 600, "iss": "https://login.example"}),
        &two,
    )
    .expect("second issuer");
    let e = err(&json!({"exp": T + 600}), &two);
    assert!(matches!(e, Error::MissingClaim(ref c) if c == "iss"), "{e}");
    // Issuers are compared exactly.
    assert!(
        run(
            &json!({"exp": T + 600, "iss": "https://auth.example/"}),
            &two
        )
        .is_err()
    );
    // No issuer configured: any is accepted.
    run(&claims, &at(T)).expect("no issuer rule");
}

#[test]
fn audience_as_string_and_array() {
    let orders = at(T).audience("orders");
    run(&json!({"exp": T + 600, "aud": "orders"}), &orders).expect("string");
    let verified = run(
        &json!({"exp": T + 600, "aud": ["billing", "orders"]}),
        &orders,
    )
    .expect("array");
    let aud = verified.registered().aud.as_ref().expect("aud");
    assert_eq!(aud.iter().collect::<Vec<_>>(), ["billing", "orders"]);
    assert!(aud.contains("billing"));

    for claims in [
        json!({"exp": T + 600, "aud": "billing"}),
        json!({"exp": T + 600, "aud": ["billing", "shipping"]}),
        json!({"exp": T + 600, "aud": []}),
        json!({"exp": T + 600, "aud": "Orders"}),
    ] {
        assert!(
            matches!(err(&claims, &orders), Error::AudienceMismatch { .. }),
            "{claims}"
        );
    }
    let e = err(&json!({"exp": T + 600}), &orders);
    assert!(matches!(e, Error::MissingClaim(ref c) if c == "aud"), "{e}");

    // Several accepted audiences: any one will do.
    let several = at(T).audience("orders").audience("billing");
    run(&json!({"exp": T + 600, "aud": "billing"}), &several).expect("second audience");
    run(&json!({"exp": T + 600, "aud": ["x", "orders"]}), &several).expect("first audience");
    assert!(run(&json!({"exp": T + 600, "aud": "x"}), &several).is_err());
}

#[test]
fn a_token_with_aud_is_refused_when_no_audience_is_configured() {
    let claims = json!({"exp": T + 600, "aud": "orders"});
    assert!(matches!(
        err(&claims, &at(T)),
        Error::AudienceMismatch { .. }
    ));
    run(&claims, &at(T).insecure_any_audience()).expect("any audience");
    run(
        &json!({"exp": T + 600, "aud": ["a", "b"]}),
        &at(T).insecure_any_audience(),
    )
    .expect("any");
    run(&json!({"exp": T + 600}), &at(T)).expect("no aud, none configured");
    // insecure_any_audience skips the check, not the type check.
    assert!(matches!(
        err(
            &json!({"exp": T + 600, "aud": 5}),
            &at(T).insecure_any_audience()
        ),
        Error::InvalidClaim { claim: "aud", .. }
    ));
}

#[test]
fn audience_mismatch_texts() {
    let e = err(
        &json!({"exp": T + 600, "aud": "billing"}),
        &at(T).audience("orders"),
    );
    assert_eq!(
        e.to_string(),
        "audience mismatch: expected orders, got billing"
    );
    let e = err(
        &json!({"exp": T + 600, "aud": ["a", "b"]}),
        &at(T).audience("x").audience("y"),
    );
    assert_eq!(
        e.to_string(),
        "audience mismatch: expected x or y, got a, b"
    );
    let e = err(&json!({"exp": T + 600, "aud": "orders"}), &at(T));
    assert_eq!(
        e.to_string(),
        "audience mismatch: expected no audience (none is configured), got orders"
    );
}

#[test]
fn subject() {
    let v = at(T).subject("u-1");
    run(&json!({"exp": T + 600, "sub": "u-1"}), &v).expect("same subject");
    let e = err(&json!({"exp": T + 600, "sub": "u-2"}), &v);
    assert_eq!(e.to_string(), "subject mismatch: expected u-1, got u-2");
    let e = err(&json!({"exp": T + 600}), &v);
    assert!(matches!(e, Error::MissingClaim(ref c) if c == "sub"), "{e}");
}

#[test]
fn typ_is_a_media_type() {
    for (expected, got) in [
        ("at+jwt", "at+jwt"),
        ("at+jwt", "application/at+jwt"),
        ("application/at+jwt", "at+jwt"),
        ("at+jwt", "AT+JWT"),
        ("at+jwt", "Application/At+Jwt"),
        ("JWT", "jwt"),
    ] {
        let v = at(T).typ(expected);
        verify::<Value>(&token_with_typ(Some(got)), &keys(), &v)
            .unwrap_or_else(|e| panic!("{expected} / {got}: {e}"));
        verify_jws(&token_with_typ(Some(got)), &keys(), &v).expect("JWS too");
    }
    let v = at(T).typ("at+jwt");
    for got in [
        "JWT",
        "application/jwt",
        "jwt+at",
        "application/",
        "at+jwt ",
    ] {
        let e = verify::<Value>(&token_with_typ(Some(got)), &keys(), &v).expect_err(got);
        assert!(matches!(e, Error::TypeMismatch { .. }), "{got}: {e}");
        assert!(
            verify_jws(&token_with_typ(Some(got)), &keys(), &v).is_err(),
            "{got}"
        );
    }
    let e = verify::<Value>(&token_with_typ(Some("JWT")), &keys(), &v).expect_err("JWT");
    assert_eq!(e.to_string(), "type mismatch: expected typ at+jwt, got JWT");
    let e = verify::<Value>(&token_with_typ(None), &keys(), &v).expect_err("no typ");
    assert_eq!(
        e.to_string(),
        "type mismatch: expected typ at+jwt, got (none)"
    );
    // No typ rule: anything goes.
    verify::<Value>(&token_with_typ(None), &keys(), &at(T)).expect("no rule");
}

// ---------------------------------------------------------------------------------------
// Required claims, the caller's checks, typed claims
// ---------------------------------------------------------------------------------------

#[test]
fn required_claims() {
    let v = at(T).require("jti").require("roles").require("jti");
    let e = err(&json!({"exp": T + 600, "roles": []}), &v);
    assert_eq!(e.to_string(), "missing required claim `jti`");
    let e = err(&json!({"exp": T + 600, "jti": "1"}), &v);
    assert_eq!(e.to_string(), "missing required claim `roles`");
    run(&json!({"exp": T + 600, "jti": "1", "roles": []}), &v).expect("all present");
}

#[test]
fn custom_checks_run_after_the_built_in_ones() {
    let v = at(T)
        .check(|header, _| {
            if header.typ.as_deref() == Some("JWT") {
                Ok(())
            } else {
                Err("not a JWT".into())
            }
        })
        .check(|_, claims| match claims.get("roles") {
            Some(Value::Array(r)) if r.iter().any(|x| x == "admin") => Ok(()),
            _ => Err("not an admin".into()),
        });
    run(&json!({"exp": T + 600, "roles": ["admin"]}), &v).expect("admin");
    let e = err(&json!({"exp": T + 600, "roles": ["user"]}), &v);
    assert!(matches!(e, Error::Rejected(_)));
    assert_eq!(e.to_string(), "rejected: not an admin");
    // A built-in rule fails first.
    assert!(matches!(
        err(&json!({"exp": T, "roles": ["admin"]}), &v),
        Error::Expired { .. }
    ));
    let e = verify::<Value>(&token_with_typ(Some("at+jwt")), &keys(), &v).expect_err("typ check");
    assert_eq!(e.to_string(), "rejected: not a JWT");
}

#[derive(Debug, Deserialize)]
struct AccessClaims {
    sub: String,
    roles: Vec<String>,
}

#[test]
fn claims_in_the_callers_type() {
    let claims = json!({"exp": T + 600, "sub": "u-1", "roles": ["admin"], "iss": "i"});
    let verified = verify::<AccessClaims>(&token(&claims), &keys(), &at(T)).expect("typed");
    assert_eq!(verified.claims().sub, "u-1");
    assert_eq!(verified.claims().roles, ["admin"]);
    assert_eq!(verified.registered().iss.as_deref(), Some("i"));
    assert_eq!(
        verified.registered().exp.map(|d| d.as_secs()),
        Some(T + 600)
    );
    assert_eq!(verified.header().typ.as_deref(), Some("JWT"));
    let e = verify::<AccessClaims>(
        &token(&json!({"exp": T + 600, "sub": "u-1", "roles": "admin"})),
        &keys(),
        &at(T),
    )
    .expect_err("wrong shape");
    assert!(matches!(e, Error::ClaimsShape(_)), "{e}");
    let e = verify::<AccessClaims>(&token(&json!({"exp": T + 600})), &keys(), &at(T))
        .expect_err("missing");
    assert!(
        e.to_string()
            .starts_with("claims do not match the expected shape: "),
        "{e}"
    );
}

#[test]
fn error_texts_and_verdicts() {
    assert_eq!(Error::InvalidSignature.to_string(), "invalid signature");
    let wrong_key = KeySet::from_secret(&[9; 32], &[Algorithm::HS256]).expect("key");
    let e = verify::<Value>(&token(&json!({"exp": T + 600})), &wrong_key, &at(T)).expect_err("key");
    assert_eq!(e.to_string(), "invalid signature");
    // Rejections of tokens versus problems of the caller's own.
    for e in [
        Error::InvalidSignature,
        Error::Malformed("x".into()),
        Error::MissingClaim("exp".into()),
        Error::KeyNotUsable("use".into()),
    ] {
        assert!(e.is_token_rejection(), "{e}");
    }
    for e in [
        Error::InvalidKey("x".into()),
        Error::AlgorithmRequired("RS256".into()),
    ] {
        assert!(!e.is_token_rejection(), "{e}");
    }
    // Errors cross threads.
    fn send_sync<E: Send + Sync + std::error::Error + 'static>() {}
    send_sync::<Error>();
}
