use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, RandomizedNonceKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::flow::*;
use super::provider::*;
use super::*;

#[test]
fn pkce_challenge_matches_rfc_7636_appendix_b() {
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn random_tokens_are_43_base64url_characters_and_differ() {
    let a = random_token().unwrap();
    let b = random_token().unwrap();
    assert_eq!(a.len(), 43);
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert_ne!(a, b);
}

fn flow() -> Flow {
    Flow {
        provider: "google".into(),
        state: "s".repeat(43),
        nonce: "n".repeat(43),
        verifier: "v".repeat(43),
        return_to: "/inspect?x=1".into(),
        created_at: 1_800_000_000,
        link: None,
    }
}

#[test]
fn link_flows_keep_whom_they_link_and_sign_in_flows_stay_short() {
    let key = test_key();
    let plain = open(&key, &seal(&key, &flow()).unwrap()).unwrap();
    assert!(plain.link.is_none());
    assert_eq!(Ending::of(Some(&plain)), Ending::Login);
    assert_eq!(Ending::of(None), Ending::Login);
    let mut linking = flow();
    linking.link = Some(FlowLink {
        user_id: "user-1".into(),
        sid: "family-1".into(),
    });
    let opened = open(&key, &seal(&key, &linking).unwrap()).unwrap();
    let link = opened.link.as_ref().unwrap();
    assert_eq!(
        (link.user_id.as_str(), link.sid.as_str()),
        ("user-1", "family-1")
    );
    assert_eq!(Ending::of(Some(&opened)), Ending::Account);
    // A sign-in flow's JSON has no link member at all.
    let json = serde_json::to_string(&flow()).unwrap();
    assert!(!json.contains("\"l\""), "{json}");
}

fn test_key() -> RandomizedNonceKey {
    RandomizedNonceKey::new(&AES_256_GCM, &[3u8; 32]).unwrap()
}

#[test]
fn sealed_flows_open_and_hide_their_content() {
    let key = test_key();
    let sealed = seal(&key, &flow()).unwrap();
    assert!(!sealed.contains("inspect") && !sealed.contains("google"));
    let opened = open(&key, &sealed).unwrap();
    assert_eq!(opened.provider, "google");
    assert_eq!(opened.state, "s".repeat(43));
    assert_eq!(opened.nonce, "n".repeat(43));
    assert_eq!(opened.verifier, "v".repeat(43));
    assert_eq!(opened.return_to, "/inspect?x=1");
    assert_eq!(opened.created_at, 1_800_000_000);
    // Two seals of one flow differ (random nonce).
    assert_ne!(sealed, seal(&key, &flow()).unwrap());
    // Debug shows no secret.
    let debug = format!("{opened:?}");
    assert!(!debug.contains("sss") && !debug.contains("nnn") && !debug.contains("vvv"));
}

#[test]
fn tampered_or_foreign_cookies_do_not_open() {
    let key = test_key();
    let sealed = seal(&key, &flow()).unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    for i in [0, NONCE_LEN, bytes.len() - 1] {
        bytes[i] ^= 1;
        assert!(
            open(&key, &URL_SAFE_NO_PAD.encode(&bytes)).is_none(),
            "byte {i}"
        );
        bytes[i] ^= 1;
    }
    assert!(open(&key, &URL_SAFE_NO_PAD.encode(&bytes)).is_some());
    assert!(open(&key, &sealed[..sealed.len() - 2]).is_none());
    assert!(open(&key, "").is_none());
    assert!(open(&key, "not base64!").is_none());
    assert!(open(&key, &"A".repeat(MAX_SEALED_LEN + 1)).is_none());
    // Sealed under another key (another process): refused.
    let other = RandomizedNonceKey::new(&AES_256_GCM, &[9u8; 32]).unwrap();
    let mut in_out = serde_json::to_vec(&flow()).unwrap();
    let nonce = other
        .seal_in_place_append_tag(Aad::from(SEAL_AAD), &mut in_out)
        .unwrap();
    let mut foreign = nonce.as_ref().to_vec();
    foreign.extend_from_slice(&in_out);
    assert!(open(&key, &URL_SAFE_NO_PAD.encode(foreign)).is_none());
}

#[test]
fn provider_names_are_encoded_in_paths() {
    assert_eq!(flow_path("google", "start"), "/login/oidc/google/start");
    assert_eq!(
        flow_path("my idp/é", "callback"),
        "/login/oidc/my%20idp%2F%C3%A9/callback"
    );
}

#[test]
fn callback_parameters_and_repeats() {
    let p = CallbackParams::parse(Some("code=a%2Bb&state=s&iss=https%3A%2F%2Fi&x=1"));
    assert_eq!(p.code.as_ref().map(SecretString::expose), Some("a+b"));
    assert_eq!(p.state.as_deref(), Some("s"));
    assert_eq!(p.iss.as_deref(), Some("https://i"));
    assert!(p.error.is_none() && !p.repeated);
    assert!(CallbackParams::parse(Some("state=a&state=b")).repeated);
    assert!(CallbackParams::parse(Some("code=a&code=b")).repeated);
    let none = CallbackParams::parse(None);
    assert!(none.code.is_none() && none.state.is_none() && !none.repeated);
}

#[test]
fn only_paths_of_this_origin_are_returned_to() {
    let good = ["/", "/account", "/inspect?t=1#x", "/a/b//c", "/%2F%2Fevil"];
    let bad = [
        "",
        "account",
        "//evil.example",
        "///evil.example",
        "/\\evil",
        "/\\/evil.example",
        "https://evil.example",
        "http://127.0.0.1:7070/account",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        "/a b",
        "/\r\nSet-Cookie: x=1",
        "/é",
    ];
    for issuer in ["http://127.0.0.1:7070", "https://auth.example.com/base"] {
        for ok in good {
            assert!(is_safe_return_to(issuer, ok), "{ok}");
        }
        for bad in bad {
            assert!(!is_safe_return_to(issuer, bad), "{bad:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_RETURN_TO));
        assert!(!is_safe_return_to(issuer, &long));
    }
    // Each check holds on its own.
    for ok in good {
        assert!(is_local_path(ok), "{ok}");
    }
    for bad in bad {
        assert!(!is_local_path(bad), "{bad:?}");
    }
    for escape in [
        "//evil.example",
        "/\\evil",
        "/\\/evil.example",
        "https://evil.example",
        "/\t/evil.example",
    ] {
        assert!(
            !stays_on_origin("http://127.0.0.1:7070", escape),
            "{escape:?}"
        );
    }
    assert!(stays_on_origin("http://127.0.0.1:7070", "/account"));
    assert!(!stays_on_origin("not a url", "/account"));
}

#[test]
fn basic_credentials_are_form_urlencoded() {
    let value = client_secret_basic("id:1", "s e/c+r%t");
    assert!(value.is_sensitive());
    let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
    assert_eq!(decoded, "id%3A1:s+e%2Fc%2Br%25t");
}
