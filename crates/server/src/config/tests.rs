#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use super::*;

const NO_ENV: [(&str, &str); 0] = [];

#[test]
fn defaults_are_valid_and_match_the_key_table() {
    let config = Config::defaults();
    assert_eq!(config.issuer, "http://127.0.0.1:7070");
    assert_eq!(config.tokens.access_ttl, Duration::from_secs(900));
    assert_eq!(config.keys.algorithm, Algorithm::RS256);
    assert_eq!(config.keys.publish_lead, config.keys.jwks_max_age * 2);
    assert_eq!(config.passwords.memory_kib, 19_456);
    assert_eq!(config.http.body_limit, 65_536);
    assert_eq!(config.master_key, MasterKeySource::Default);
    // Every documented default is what an empty file gives.
    for k in KEYS {
        if k.default.is_empty() || k.default.starts_with('(') || k.default == "[]" {
            continue;
        }
        let toml = match k.kind {
            KeyKind::Text => format!("\"{}\"", k.default),
            _ => k.default.to_owned(),
        };
        let (table, leaf) = match k.key.split_once('.') {
            Some((t, l)) => (format!("[{t}]\n"), l),
            None => (String::new(), k.key),
        };
        let explicit = Config::from_toml_and_env(&format!("{table}{leaf} = {toml}"), NO_ENV)
            .unwrap_or_else(|e| panic!("{}: {e}", k.key));
        assert_eq!(format!("{explicit:?}"), format!("{config:?}"), "{}", k.key);
    }
}

#[test]
fn every_key_of_the_table_is_accepted_from_the_environment() {
    for k in KEYS {
        let value = match (k.key, k.kind) {
            ("providers", _) => "[]".to_owned(),
            (_, KeyKind::Text) if k.default.is_empty() => continue,
            (_, _) if k.default.starts_with('(') => "3".to_owned(),
            _ => k.default.to_owned(),
        };
        Config::from_toml_and_env("", [(k.env(), value)])
            .unwrap_or_else(|e| panic!("{}: {e}", k.env()));
    }
}

#[test]
fn unknown_keys_are_named() {
    let err = Config::from_toml_and_env("[tokens]\nacess_ttl = \"5m\"", NO_ENV).unwrap_err();
    assert!(err.to_string().contains("acess_ttl"), "{err}");
    let err = Config::from_toml_and_env("colour = 1", NO_ENV).unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
    let err = Config::from_toml_and_env("", [("TESSERA_TOKENS__ACESS_TTL", "5m")]).unwrap_err();
    assert!(
        err.to_string().contains("TESSERA_TOKENS__ACESS_TTL"),
        "{err}"
    );
    // Test and CLI variables are not configuration.
    Config::from_toml_and_env(
        "",
        [
            ("TESSERA_TEST_DATABASE_URL", "x"),
            ("TESSERA_CONFIG", "y"),
            ("TESSERA_BENCH_LOOP", "z"),
        ],
    )
    .unwrap();
}

#[test]
fn environment_wins_and_keeps_text_as_text() {
    let config = Config::from_toml_and_env(
        "audience = \"from-file\"\n[tokens]\naccess_ttl = \"10m\"",
        [
            ("TESSERA_AUDIENCE", "123"),
            ("TESSERA_TOKENS__ACCESS_TTL", "5m"),
            ("TESSERA_HTTP__BODY_LIMIT", "1024"),
            (
                "TESSERA_HTTP__CORS_ALLOWED_ORIGINS",
                "[\"https://app.example.com\"]",
            ),
            ("TESSERA_THROTTLE__ENABLED", "false"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(config.audience, "123");
    assert_eq!(config.tokens.access_ttl, Duration::from_secs(300));
    assert_eq!(config.http.body_limit, 1024);
    assert_eq!(
        config.http.cors_allowed_origins,
        ["https://app.example.com"]
    );
    assert!(!config.throttle.enabled);
}

#[test]
fn wrong_values_name_their_key_or_variable() {
    for (toml, env, needle) in [
        ("[tokens]\naccess_ttl = \"soon\"", None, "access_ttl"),
        (
            "",
            Some(("TESSERA_TOKENS__ACCESS_TTL", "soon")),
            "TESSERA_TOKENS__ACCESS_TTL",
        ),
        ("[keys]\nalgorithm = \"HS256\"", None, "keys.algorithm"),
        ("[keys]\nalgorithm = \"none\"", None, "keys.algorithm"),
        (
            "[keys]\njwks_max_age = \"2h\"\npublish_lead = \"3h\"",
            None,
            "keys.publish_lead",
        ),
        (
            "[keys]\nrotation_period = \"1h\"",
            None,
            "keys.rotation_period",
        ),
        (
            "[tokens]\nrefresh_idle_ttl = \"60d\"",
            None,
            "tokens.refresh_idle_ttl",
        ),
        ("[tokens]\naccess_ttl = 0", None, "tokens.access_ttl"),
        ("listen = \"localhost\"", None, "listen"),
        ("issuer = \"not a url\"", None, "issuer"),
        ("issuer = \"https://a.example/?x=1\"", None, "issuer"),
        (
            "database_url = \"mysql://root:hunter2@db/x\"",
            None,
            "database_url",
        ),
        ("log_format = \"xml\"", None, "log_format"),
        ("[http]\ntls_cert = \"c.pem\"", None, "http.tls_key"),
        (
            "[http]\ntrusted_proxies = [\"10.0.0.0/33\"]",
            None,
            "http.trusted_proxies",
        ),
        (
            "[http]\ncors_allowed_origins = [\"https://a.example/path\"]",
            None,
            "cors_allowed_origins",
        ),
        ("[http]\nbody_limit = 0", None, "http.body_limit"),
        ("[passwords]\nmemory_kib = 1", None, "passwords.memory_kib"),
        (
            "[[providers]]\nname = \"g\"\nissuer = \"http://accounts.example.com\"\naudience = \"x\"",
            None,
            "providers[0].issuer",
        ),
        (
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\njwks_uri = \"http://a.example/jwks\"\naudience = \"x\"",
            None,
            "providers[0].jwks_uri",
        ),
        (
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = []",
            None,
            "providers[0].audience",
        ),
        (
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"x\"\ncolour = 1",
            None,
            "colour",
        ),
    ] {
        let err = Config::from_toml_and_env(toml, env).unwrap_err();
        assert!(err.to_string().contains(needle), "{toml:?}: {err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn providers_parse() {
    let config = Config::from_toml_and_env(
        r#"
            [[providers]]
            name = "google"
            issuer = "https://accounts.google.com"
            jwks_uri = "https://www.googleapis.com/oauth2/v3/certs"
            audience = "client.apps.googleusercontent.com"

            [[providers]]
            name = "local"
            issuer = "http://127.0.0.1:9000"
            audience = ["a", "b"]
            algorithms = ["ES256", "RS256"]
            "#,
        NO_ENV,
    )
    .unwrap();
    assert_eq!(config.providers.len(), 2);
    assert_eq!(
        config.providers[0].keys,
        ProviderKeys::JwksUri("https://www.googleapis.com/oauth2/v3/certs".into())
    );
    assert_eq!(config.providers[0].algorithms, [Algorithm::RS256]);
    assert_eq!(config.providers[1].keys, ProviderKeys::Discovery);
    assert_eq!(config.providers[1].audience, ["a", "b"]);
    assert_eq!(
        config.providers[1].algorithms,
        [Algorithm::ES256, Algorithm::RS256]
    );
    let err = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"x\"\n[[providers]]\nname = \"g\"\nissuer = \"https://b.example\"\naudience = \"x\"",
            NO_ENV,
        )
        .unwrap_err();
    assert!(err.to_string().contains("providers[1].name"), "{err}");
}

#[test]
fn provider_linking_settings() {
    let base = "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"x\"\n";
    let config = Config::from_toml_and_env(base, NO_ENV).unwrap();
    let p = &config.providers[0];
    assert_eq!(p.link_existing, LinkExisting::Never);
    assert!(p.create_users);
    assert!(p.allowed_domains.is_empty());
    assert_eq!(p.max_id_token_age, Duration::from_secs(600));
    let config = Config::from_toml_and_env(
            &format!("{base}link_existing = \"verified_email\"\nallowed_domains = [\" Corp.Example \"]\ncreate_users = false\nmax_id_token_age = \"1h\""),
            NO_ENV,
        )
        .unwrap();
    let p = &config.providers[0];
    assert_eq!(p.link_existing, LinkExisting::VerifiedEmail);
    assert!(!p.create_users);
    assert_eq!(p.allowed_domains, ["corp.example"]);
    assert_eq!(p.max_id_token_age, Duration::from_secs(3600));
    for (extra, key) in [
        // verified_email with no domain to trust is the takeover of issue 9 again.
        (
            "link_existing = \"verified_email\"",
            "providers[0].allowed_domains",
        ),
        (
            "link_existing = \"verified_email\"\nallowed_domains = []",
            "providers[0].allowed_domains",
        ),
        ("link_existing = \"always\"", "providers[0].link_existing"),
        (
            "allowed_domains = [\"a@b.example\"]",
            "providers[0].allowed_domains",
        ),
        ("allowed_domains = [\"\"]", "providers[0].allowed_domains"),
        ("max_id_token_age = 0", "providers[0].max_id_token_age"),
    ] {
        let err = Config::from_toml_and_env(&format!("{base}{extra}"), NO_ENV).unwrap_err();
        assert!(err.to_string().contains(key), "{extra}: {err}");
    }
}

#[test]
fn provider_client_settings() {
    // Defaults: the only audience is the client id; a public client; openid email profile.
    let config = Config::from_toml_and_env(
        "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"app\"",
        NO_ENV,
    )
    .unwrap();
    let p = &config.providers[0];
    assert_eq!(p.client_id.as_deref(), Some("app"));
    assert_eq!(p.client_secret, None);
    assert_eq!(p.scopes, ["openid", "email", "profile"]);

    // Several audiences and no client_id: not offered for browser sign-in.
    let config = Config::from_toml_and_env(
        "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = [\"a\", \"b\"]",
        NO_ENV,
    )
    .unwrap();
    assert_eq!(config.providers[0].client_id, None);

    // Everything given, the secret from the environment (which wins over the file).
    let config = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = [\"a\", \"b\"]\nclient_id = \"b\"",
            [(
                "TESSERA_PROVIDERS",
                r#"[{name="g", issuer="https://a.example", audience=["a", "b"], client_id=" b ", client_secret=" s3cr3t-value ", scopes=["openid", "email", "openid"]}]"#,
            )],
        )
        .unwrap();
    let p = &config.providers[0];
    assert_eq!(p.client_id.as_deref(), Some("b"));
    assert_eq!(
        p.client_secret.as_ref().map(Secret::expose),
        Some("s3cr3t-value")
    );
    assert_eq!(p.scopes, ["openid", "email"], "trimmed, duplicates dropped");
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");

    for (extra, needle) in [
        ("client_id = \"\"", "providers[0].client_id"),
        ("client_id = \"other\"", "providers[0].client_id"),
        ("client_secret = \" \"", "providers[0].client_secret"),
        ("scopes = [\"email\"]", "providers[0].scopes"),
        ("scopes = []", "providers[0].scopes"),
        (
            "scopes = [\"openid\", \"two words\"]",
            "providers[0].scopes",
        ),
        ("scopes = [\"openid\", \"\"]", "providers[0].scopes"),
        ("scopes = [\"openid\", \"q\\\"\"]", "providers[0].scopes"),
    ] {
        let toml = format!(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"app\"\n{extra}"
        );
        let err = Config::from_toml_and_env(&toml, NO_ENV).unwrap_err();
        assert!(err.to_string().contains(needle), "{extra}: {err}");
    }
    // A secret without a client id to go with it.
    let err = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = [\"a\", \"b\"]\nclient_secret = \"hunter2\"",
            NO_ENV,
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("providers[0].client_secret"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    // A secret of the wrong type is named without being repeated.
    let err = Config::from_toml_and_env(
            "[[providers]]\nname = \"g\"\nissuer = \"https://a.example\"\naudience = \"a\"\nclient_secret = 12345678",
            NO_ENV,
        )
        .unwrap_err();
    assert!(err.to_string().contains("client_secret"), "{err}");
}

#[test]
fn secrets_are_redacted() {
    let config = Config::from_toml_and_env(
        "database_url = \"postgres://u:hunter2@db/x\"\nmaster_key = \"c2VjcmV0LW1hc3Rlci1rZXk\"",
        NO_ENV,
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("c2VjcmV0"),
        "{debug}"
    );
}

#[test]
fn client_address_behind_trusted_proxies() {
    use axum::http::{HeaderMap, HeaderValue};
    let http = Config::from_toml_and_env(
        "[http]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]",
        NO_ENV,
    )
    .unwrap()
    .http;
    let peer: IpAddr = "10.1.2.3".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-forwarded-for",
        HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.9"),
    );
    // The rightmost untrusted hop is the client; what it claimed before is ignored.
    assert_eq!(
        http.client_address(peer, &headers),
        "203.0.113.7".parse::<IpAddr>().unwrap()
    );
    // An untrusted peer is the client, whatever it says.
    let stranger: IpAddr = "198.51.100.1".parse().unwrap();
    assert_eq!(http.client_address(stranger, &headers), stranger);
    // A garbled client hop: unknown, never the proxy.
    headers.insert("x-forwarded-for", HeaderValue::from_static("nonsense"));
    assert_eq!(
        http.client_address(peer, &headers),
        IpAddr::from([0, 0, 0, 0])
    );

    let http = Config::from_toml_and_env(
        "[http]\ntrusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"forwarded\"",
        NO_ENV,
    )
    .unwrap()
    .http;
    let mut headers = HeaderMap::new();
    headers.insert(
        "forwarded",
        HeaderValue::from_static("for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\""),
    );
    assert_eq!(
        http.client_address(peer, &headers),
        "2001:db8::1".parse::<IpAddr>().unwrap()
    );
}

// ---- finding 6: forwarded headers walked from the right --------------------------------

fn proxied(header: &str, trusted: &str) -> HttpSettings {
    Config::from_toml_and_env(
        &format!("[http]\ntrusted_proxies = {trusted}\nforwarded_header = \"{header}\""),
        NO_ENV,
    )
    .unwrap()
    .http
}

fn resolve(http: &HttpSettings, name: &str, values: &[&[u8]]) -> IpAddr {
    let mut headers = axum::http::HeaderMap::new();
    for v in values {
        headers.append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            axum::http::HeaderValue::from_bytes(v).unwrap(),
        );
    }
    http.client_address("10.0.0.1".parse().unwrap(), &headers)
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn x_forwarded_for_unparsable_hop_does_not_make_the_proxy_the_client() {
    let http = proxied("x-forwarded-for", "[\"10.0.0.0/8\"]");
    let xff = |values: &[&[u8]]| resolve(&http, "x-forwarded-for", values);
    let client = addr("203.0.113.7");
    // The attack: a garbage hop written by the client, left of what the proxy appended.
    assert_eq!(xff(&[b"garbage, 203.0.113.7"]), client);
    assert_eq!(xff(&[b"1.2.3.4, ??, 203.0.113.7, 10.0.0.9"]), client);
    assert_eq!(xff(&[b"garbage", b"203.0.113.7"]), client);
    // Bytes that are not UTF-8 on the line the proxy appended to.
    assert_eq!(xff(&[b"\xff\xfe, 203.0.113.7"]), client);
    // Blank hops are no hops.
    assert_eq!(xff(&[b", 203.0.113.7 ,"]), client);
    // Unparsable where the client should be (only a trusted proxy writes there):
    // unknown, never the proxy.
    for bad in [&b"unknown"[..], b"203.0.113.7, _hidden, 10.0.0.9", b"\xff"] {
        assert_eq!(xff(&[bad]), addr("0.0.0.0"), "{bad:?}");
    }
    // Every hop trusted: the leftmost; no header: the peer.
    assert_eq!(xff(&[b"10.9.9.9, 10.0.0.9"]), addr("10.9.9.9"));
    assert_eq!(xff(&[]), addr("10.0.0.1"));
    // An unspecified address is unknown too (no bucket to hide in).
    assert_eq!(xff(&[b"0.0.0.0"]), addr("0.0.0.0"));
}

#[test]
fn forwarded_unparsable_element_does_not_make_the_proxy_the_client() {
    let http = proxied("forwarded", "[\"10.0.0.0/8\"]");
    let fwd = |values: &[&[u8]]| resolve(&http, "forwarded", values);
    let client = addr("2001:db8::1");
    for value in [
        &b"for=unknown, for=\"[2001:db8::1]:4711\""[..],
        b"proto=https, for=\"[2001:db8::1]\";proto=http",
        b"for=\"unterminated, for=\"[2001:db8::1]\", for=10.0.0.9",
        b"for=\xff, for=\"[2001:db8::1]\"",
    ] {
        assert_eq!(fwd(&[value]), client, "{value:?}");
    }
    for value in [
        &b"for=_hidden"[..],
        b"proto=https",
        b"for=192.0.2.1, for=unknown",
    ] {
        assert_eq!(fwd(&[value]), addr("0.0.0.0"), "{value:?}");
    }
}

#[test]
fn x_real_ip_unparsable_does_not_make_the_proxy_the_client() {
    let http = proxied("x-real-ip", "[\"10.0.0.0/8\"]");
    let real = |values: &[&[u8]]| resolve(&http, "x-real-ip", values);
    assert_eq!(real(&[b"garbage"]), addr("0.0.0.0"));
    assert_eq!(real(&[b"\xff"]), addr("0.0.0.0"));
    assert_eq!(real(&[b" 203.0.113.7 "]), addr("203.0.113.7"));
    // Two: the proxy's (the last) counts.
    assert_eq!(real(&[b"6.6.6.6", b"203.0.113.7"]), addr("203.0.113.7"));
    assert_eq!(real(&[]), addr("10.0.0.1"));
}

#[test]
fn throttle_max_delay() {
    let config = Config::from_toml_and_env("", NO_ENV).unwrap();
    assert_eq!(config.throttle.max_delay, Duration::from_secs(20));
    let config = Config::from_toml_and_env("", [("TESSERA_THROTTLE__MAX_DELAY", "0s")]).unwrap();
    assert_eq!(config.throttle.max_delay, Duration::ZERO);
    let err = Config::from_toml_and_env("[throttle]\nmax_delay = \"6m\"", NO_ENV).unwrap_err();
    assert!(err.to_string().contains("throttle.max_delay"), "{err}");
}

#[test]
fn sqlite_paths() {
    assert_eq!(
        sqlite_file("sqlite://tessera.db"),
        Some(PathBuf::from("tessera.db"))
    );
    assert_eq!(
        sqlite_file("sqlite:data/t.db?mode=rwc"),
        Some(PathBuf::from("data/t.db"))
    );
    assert_eq!(
        sqlite_file("sqlite:///var/lib/t.db"),
        Some(PathBuf::from("/var/lib/t.db"))
    );
    assert_eq!(sqlite_file("sqlite::memory:"), None);
    assert_eq!(sqlite_file("postgres://db/x"), None);
}

#[test]
fn help_lists_every_key_and_variable() {
    let help = keys_help();
    for k in KEYS {
        assert!(help.contains(k.key) && help.contains(&k.env()), "{}", k.key);
    }
    assert!(help.contains("TESSERA_TOKENS__ACCESS_TTL"));
}

#[test]
fn session_cap_and_purge_settings() {
    let config = Config::defaults();
    assert_eq!(config.sessions.max_per_user, 100);
    assert_eq!(config.storage.purge_interval, Duration::from_secs(3600));
    assert_eq!(config.storage.purge_retention, Duration::from_secs(86_400));
    let config = Config::from_toml_and_env(
        "[sessions]\nmax_per_user = 3\n[storage]\npurge_retention = 0",
        [("TESSERA_STORAGE__PURGE_INTERVAL", "5m")],
    )
    .unwrap();
    assert_eq!(config.sessions.max_per_user, 3);
    assert_eq!(config.storage.purge_interval, Duration::from_secs(300));
    assert_eq!(config.storage.purge_retention, Duration::ZERO);
    for (toml, key) in [
        ("[sessions]\nmax_per_user = 0", "sessions.max_per_user"),
        ("[sessions]\nmax_per_user = 100001", "sessions.max_per_user"),
        ("[storage]\npurge_interval = 0", "storage.purge_interval"),
        (
            "[storage]\npurge_interval = \"1ms\"",
            "storage.purge_interval",
        ),
    ] {
        let err = Config::from_toml_and_env(toml, NO_ENV).unwrap_err();
        assert!(err.to_string().contains(key), "{toml}: {err}");
    }
}
