//! An API protected by tessera: a public route, a route for any valid access token and a
//! route for administrators, verifying the issuer's tokens through its JWKS.
//!
//! The binary (`cargo run -p protected-api`) points a [`Verifier`] at a running
//! `tessera serve`; tests build the same [`app`] around a verifier of their own.

use std::sync::Arc;

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use tessera_guard::{GuardLayer, IssuerConfig, VerifiedToken, Verifier};
use tessera_jwt::Algorithm;

/// The asymmetric algorithms an issuer may sign with; the JWKS binds each key to one.
pub const ALGORITHMS: [Algorithm; 10] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
];

/// How the API trusts its issuer: tessera's access tokens (`typ` `at+jwt`) for `audience`,
/// signed by a key of the issuer's JWKS (found through its discovery document unless a
/// JWKS URL is given).
pub fn issuer(issuer: &str, audience: &str, jwks_url: Option<&str>) -> IssuerConfig {
    let config = IssuerConfig::new(issuer)
        .audience(audience)
        .algorithms(ALGORITHMS)
        .typ("at+jwt")
        .require("sub");
    match jwks_url {
        Some(url) => config.jwks_url(url),
        None => config.discovery(),
    }
}

/// The routes: `GET /public` for anyone, `GET /me` for any valid token, `GET /admin` for
/// tokens whose `roles` include `admin`.
pub fn app(verifier: Arc<Verifier>) -> Router {
    let signed_in = Router::new()
        .route("/me", get(me))
        .route_layer(GuardLayer::new(verifier.clone()).realm("protected-api"));
    let admins = Router::new().route("/admin", get(admin)).route_layer(
        GuardLayer::new(verifier)
            .realm("protected-api")
            .require_role("admin"),
    );
    Router::new()
        .route("/public", get(public))
        .merge(signed_in)
        .merge(admins)
}

async fn public() -> Json<Value> {
    Json(json!({"message": "hello, anyone"}))
}

async fn me(token: VerifiedToken) -> Json<Value> {
    Json(json!({
        "sub": token.subject(),
        "roles": token.roles(),
        "expires_at": token.registered().exp.map(|d| d.as_secs()),
    }))
}

async fn admin(token: VerifiedToken) -> Json<Value> {
    Json(json!({"message": format!("hello, administrator {}", token.subject().unwrap_or("?"))}))
}
