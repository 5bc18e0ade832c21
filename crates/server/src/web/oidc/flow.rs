//! The flow of a sign-in (or a link) in progress: `state`, `nonce` and the PKCE verifier,
//! sealed in the `tessera_oidc` cookie under a key derived from the master key; and which
//! `return_to` paths are safe.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::digest::{SHA256, digest};
use axum::http::HeaderValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::super::cookies;
use crate::state::AppState;

/// Name of the cookie that carries a sign-in in progress, on an issuer that is `http` on
/// loopback (see [`cookies`]).
pub(super) const OIDC_COOKIE: &str = "tessera_oidc";
/// Its name everywhere else: `__Secure-` (it needs a narrower path than `__Host-` allows), so
/// that a sibling subdomain cannot plant a flow of its own.
pub(super) const SECURE_OIDC_COOKIE: &str = "__Secure-tessera_oidc";
/// The path it is sent to: the start and callback of every provider.
pub(super) const OIDC_COOKIE_PATH: &str = "/login/oidc";
/// How long a started sign-in may take, in seconds.
pub(super) const FLOW_LIFETIME: i64 = 600;
/// A cookie made up to this many seconds "in the future" is still accepted (the wall clock
/// may step back a little between start and callback).
pub(super) const CLOCK_SKEW: i64 = 60;
/// Longest `return_to` kept (it travels in the cookie).
pub(super) const MAX_RETURN_TO: usize = 1024;
/// Longest sealed cookie value opened.
pub(super) const MAX_SEALED_LEN: usize = 4096;
/// Random bytes of `state`, `nonce` and the PKCE verifier.
pub(super) const RANDOM_BYTES: usize = 32;
/// Associated data of the sealed cookie: what it is, and its format version.
pub(super) const SEAL_AAD: &[u8] = b"tessera_oidc v1";

/// Whether `return_to` is a path of this origin: it has the shape of a local path, and
/// resolved against the issuer it stays on the issuer's origin (either alone would do; both
/// are checked, so that a mistake in one is caught by the other).
pub(super) fn is_safe_return_to(issuer: &str, candidate: &str) -> bool {
    is_local_path(candidate) && stays_on_origin(issuer, candidate)
}

/// A single leading `/` (not `//`, which is another host), printable ASCII (browsers drop
/// tabs and newlines from URLs, so `/\t/host` would be `//host`), no backslash (browsers
/// read `/\host` as `//host`), not too long.
pub(super) fn is_local_path(candidate: &str) -> bool {
    candidate.len() <= MAX_RETURN_TO
        && candidate.starts_with('/')
        && !candidate[1..].starts_with('/')
        && candidate
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
}

/// Whether `candidate`, resolved against the issuer, has the issuer's origin.
pub(super) fn stays_on_origin(issuer: &str, candidate: &str) -> bool {
    Url::parse(issuer)
        .ok()
        .and_then(|base| Some((base.join(candidate).ok()?.origin(), base.origin())))
        .is_some_and(|(target, base)| target == base)
}

/// 32 random bytes, base64url without padding (43 characters).
pub(super) fn random_token() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = Zeroizing::new([0u8; RANDOM_BYTES]);
    aws_lc_rs::rand::fill(&mut *bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(*bytes))
}

/// RFC 7636 §4.2: `S256` challenge of a verifier.
pub(super) fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

// ---- the sealed cookie ------------------------------------------------------------------------------

/// A sign-in in progress, as sealed in the `tessera_oidc` cookie.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(super) struct Flow {
    #[serde(rename = "p")]
    pub(super) provider: String,
    #[serde(rename = "s")]
    pub(super) state: String,
    #[serde(rename = "n")]
    pub(super) nonce: String,
    #[serde(rename = "v")]
    pub(super) verifier: String,
    #[serde(rename = "r")]
    pub(super) return_to: String,
    #[serde(rename = "t")]
    pub(super) created_at: i64,
    /// Set when a signed-in user links the provider from the account page.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub(super) link: Option<FlowLink>,
}

/// Whom a linking flow links to: the user, and the session that started it.
#[derive(Serialize, Deserialize, Zeroize)]
pub(super) struct FlowLink {
    #[serde(rename = "u")]
    pub(super) user_id: String,
    #[serde(rename = "s")]
    pub(super) sid: String,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .field("links", &self.link.as_ref().map(|l| &l.user_id))
            .finish_non_exhaustive()
    }
}

/// The label of the cookie key derived from the master key.
pub(super) const SEALING_KEY_LABEL: &str = "tessera oidc flow cookie v1";

/// The key of the flow cookie: derived from the master key, so that every instance sharing
/// the master key opens what another sealed (a callback may reach another instance).
pub(super) fn sealing_key(
    state: &AppState,
) -> Result<RandomizedNonceKey, aws_lc_rs::error::Unspecified> {
    let secret = state
        .keys
        .derived_secret(SEALING_KEY_LABEL)
        .map_err(|_| aws_lc_rs::error::Unspecified)?;
    RandomizedNonceKey::new(&AES_256_GCM, &*secret)
}

/// base64url(nonce ‖ AES-256-GCM(flow as JSON) ‖ tag).
pub(super) fn seal(
    key: &RandomizedNonceKey,
    flow: &Flow,
) -> Result<String, aws_lc_rs::error::Unspecified> {
    let json = Zeroizing::new(serde_json::to_vec(flow).map_err(|_| aws_lc_rs::error::Unspecified)?);
    let mut in_out = Zeroizing::new(Vec::with_capacity(json.len() + AES_256_GCM.tag_len()));
    in_out.extend_from_slice(&json);
    let nonce = key.seal_in_place_append_tag(Aad::from(SEAL_AAD), &mut *in_out)?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + in_out.len());
    sealed.extend_from_slice(nonce.as_ref());
    sealed.extend_from_slice(&in_out);
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// The flow of a sealed cookie value, if it was sealed under `key` and nobody changed it.
pub(super) fn open(key: &RandomizedNonceKey, value: &str) -> Option<Flow> {
    if value.len() > MAX_SEALED_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut in_out = Zeroizing::new(ciphertext.to_vec());
    let plain = key
        .open_in_place(nonce, Aad::from(SEAL_AAD), &mut in_out)
        .ok()?;
    serde_json::from_slice(plain).ok()
}

/// The flow cookie's name for this issuer: only this name is read.
pub(super) fn flow_cookie_name(state: &AppState) -> &'static str {
    if cookies::secure(state) {
        SECURE_OIDC_COOKIE
    } else {
        OIDC_COOKIE
    }
}

/// The `Set-Cookie` value of the flow cookie (`max_age` 0 and an empty value: deleted).
pub(super) fn flow_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let cookie = Cookie::build((flow_cookie_name(state), value))
        .http_only(true)
        .secure(cookies::secure(state))
        .same_site(SameSite::Lax)
        .path(OIDC_COOKIE_PATH)
        .max_age(cookie::time::Duration::seconds(max_age.max(0)))
        .build();
    cookies::header_value(&cookie)
}
