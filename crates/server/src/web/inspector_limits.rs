//! Ties the token inspector's limits to the Rust ones they copy. The inspector
//! (`web/assets/jwt-verify.js`, driven by `inspect.js`) verifies tokens in the browser by
//! tessera's rules; its limits are numbers written in JavaScript. Each is read here from the
//! script's source and compared with the constant of `tessera-jwt` or of this crate that it
//! mirrors, so changing one side without the other fails this test.

/// The inspector's verifier, as served.
const JWT_VERIFY_JS: &str = include_str!("../../web/assets/jwt-verify.js");
/// The inspector page's script.
const INSPECT_JS: &str = include_str!("../../web/assets/inspect.js");

/// The right-hand side of the top-level `const NAME = …;` (or `export const`) in `js`.
fn declaration<'a>(js: &'a str, name: &str) -> &'a str {
    let mut found = js.lines().filter_map(|line| {
        let line = line.strip_prefix("export ").unwrap_or(line);
        let rest = line.strip_prefix("const ")?.strip_prefix(name)?;
        let value = rest.trim_start().strip_prefix('=')?;
        Some(value.trim().strip_suffix(';').unwrap_or_else(|| {
            panic!("const {name}: one line ending in `;` expected, found {value:?}")
        }))
    });
    let value = found
        .next()
        .unwrap_or_else(|| panic!("no top-level `const {name} = …;`"));
    assert!(found.next().is_none(), "const {name} is declared twice");
    value.trim()
}

/// A numeric constant: an integer literal (`_` separators allowed) or a product of them
/// (`16 * 1024`), the forms the script uses. Anything else fails the test rather than
/// being guessed at.
fn number(js: &str, name: &str) -> u64 {
    let value = declaration(js, name);
    value
        .split('*')
        .map(|factor| {
            let digits = factor.trim().replace('_', "");
            digits
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("const {name} = {value}: not an integer product"))
        })
        .product()
}

/// A string constant in single quotes.
fn string<'a>(js: &'a str, name: &str) -> &'a str {
    let value = declaration(js, name);
    value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or_else(|| panic!("const {name} = {value}: not a single-quoted string"))
}

/// The `size` of `alg` in the script's `ALGORITHMS` table (`HS256: { …, size: 32 },`).
fn algorithm_size(js: &str, alg: &str) -> u64 {
    let line = js
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with(&format!("{alg}: {{")))
        .unwrap_or_else(|| panic!("no {alg} entry in ALGORITHMS"));
    let size = line
        .split_once("size:")
        .map(|(_, rest)| rest.trim_start())
        .unwrap_or_else(|| panic!("{alg} has no size: {line}"));
    let digits: String = size.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{alg}: size {size}"))
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap()
}

#[test]
fn the_inspector_limits_are_the_libraries_limits() {
    let js = JWT_VERIFY_JS;
    assert_eq!(
        number(js, "MAX_TOKEN_LEN"),
        as_u64(tessera_jwt::DEFAULT_MAX_TOKEN_LEN),
        "the longest token"
    );
    assert_eq!(
        number(js, "DEFAULT_LEEWAY"),
        tessera_jwt::DEFAULT_LEEWAY,
        "the clock leeway"
    );
    assert_eq!(
        number(js, "MAX_CANDIDATES"),
        as_u64(tessera_jwt::MAX_CANDIDATES),
        "the keys tried for one token"
    );
    assert_eq!(
        number(js, "MAX_JSON_DEPTH"),
        as_u64(tessera_jwt::json::MAX_DEPTH),
        "the JSON nesting"
    );
    assert_eq!(
        number(js, "MIN_RSA_BITS"),
        as_u64(tessera_jwt::MIN_RSA_BITS),
        "the smallest RSA key"
    );
    assert_eq!(
        number(js, "MAX_RSA_BITS"),
        as_u64(tessera_jwt::MAX_RSA_BITS),
        "the largest RSA key"
    );
    assert_eq!(
        string(js, "ISSUER_JWKS_PATH"),
        crate::publish::JWKS_PATH,
        "where the issuer's keys are"
    );
}

#[test]
fn the_inspector_accepts_the_libraries_range_of_dates() {
    // tessera-jwt keeps its bound private; its behaviour at the bound is what must agree.
    let max = i64::try_from(number(JWT_VERIFY_JS, "MAX_DATE")).unwrap();
    assert!(
        tessera_jwt::NumericDate::from_secs(max).is_ok(),
        "MAX_DATE {max}"
    );
    assert!(
        tessera_jwt::NumericDate::from_secs(max + 1).is_err(),
        "MAX_DATE {max} is below the library's bound"
    );
}

#[test]
fn the_inspector_asks_hmac_secrets_as_long_as_the_library() {
    use tessera_jwt::Algorithm;
    for (name, alg) in [
        ("HS256", Algorithm::HS256),
        ("HS384", Algorithm::HS384),
        ("HS512", Algorithm::HS512),
    ] {
        assert_eq!(
            algorithm_size(JWT_VERIFY_JS, name),
            as_u64(alg.min_secret_len()),
            "{name}"
        );
    }
}

#[test]
fn the_page_script_keeps_no_limit_of_its_own() {
    // inspect.js takes every limit from jwt-verify.js, where the tests above read them.
    for line in INSPECT_JS.lines() {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some(rest) = line.strip_prefix("const ") {
            assert!(
                !(rest.starts_with("MAX_") || rest.starts_with("MIN_")),
                "inspect.js declares a limit: {line}; declare it in jwt-verify.js and test it here"
            );
        }
    }
}

#[test]
fn the_reader_takes_only_what_it_understands() {
    let js = "export const A = 16 * 1024;\nconst B = 1_000;\nconst C = 'x';\nconst AB = 2;\n";
    assert_eq!(number(js, "A"), 16_384);
    assert_eq!(number(js, "B"), 1000);
    assert_eq!(number(js, "AB"), 2);
    assert_eq!(string(js, "C"), "x");
    for (bad, name) in [
        ("const A = 1 << 14;", "A"),
        ("const A = 0x10;", "A"),
        ("const A = 1;\nconst A = 1;", "A"),
        ("let A = 1;", "A"),
        ("const A = 2", "A"),
    ] {
        let bad = bad.to_owned();
        let name = name.to_owned();
        assert!(
            std::panic::catch_unwind(move || number(&bad, &name)).is_err(),
            "accepted"
        );
    }
}
