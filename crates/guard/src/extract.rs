//! axum extractors for what [`GuardLayer`](crate::GuardLayer) verified.

use std::sync::Arc;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::layer::{Challenge, Denial};
use crate::verifier::VerifiedToken;

/// A handler that takes a verified token on a route no [`GuardLayer`](crate::GuardLayer)
/// covers is a wiring mistake, not the client's: say so in the log and answer 500.
fn not_behind_guard() -> Response {
    tracing::error!("a handler takes a verified token, but no GuardLayer covers its route");
    let body = json!({
        "error": "server_error",
        "error_description": "authentication is not set up for this route",
    });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedToken>()
            .cloned()
            .ok_or_else(not_behind_guard)
    }
}

/// The verified claims in the handler's own type.
///
/// ```
/// use serde::Deserialize;
/// use tessera_guard::Claims;
///
/// #[derive(Deserialize)]
/// struct Me {
///     sub: String,
///     #[serde(default)]
///     roles: Vec<String>,
/// }
///
/// async fn me(Claims(me): Claims<Me>) -> String {
///     format!("{} ({})", me.sub, me.roles.join(", "))
/// }
/// # let _ = me;
/// ```
///
/// Claims that do not fit `T` (a missing field the type requires) answer 401
/// `invalid_token`, as any other rejected token.
#[derive(Clone, Debug)]
pub struct Claims<T>(pub T);

impl<T, S> FromRequestParts<S> for Claims<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(token) = parts.extensions.get::<VerifiedToken>() else {
            return Err(not_behind_guard());
        };
        token.claims::<T>().map(Claims).map_err(|e| {
            tracing::debug!(error = %e, "verified claims do not fit the handler's type");
            let challenge = parts
                .extensions
                .get::<Arc<Challenge>>()
                .cloned()
                .unwrap_or_default();
            challenge.respond(&Denial::InvalidToken(e))
        })
    }
}
