//! Operations endpoints: `/healthz` (the process answers), `/readyz` (the database answers
//! and a signing key is loaded: 200, else 503 with a terse reason — the details, which name
//! key ids, go to the log), `/metrics` (Prometheus).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::error::ApiError;
use crate::metrics;
use crate::state::AppState;

/// How long `/readyz` waits for the database (probes have short timeouts of their own).
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The operations routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

async fn healthz() -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        axum::Json(json!({"status": "ok"})),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    let mut problems = Vec::new();
    match tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            problems.push("database unreachable".to_owned());
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer in time");
            problems.push(format!(
                "database did not answer within {} s",
                PING_TIMEOUT.as_secs()
            ));
        }
    }
    if let Err(why) = state.keys.readiness() {
        // The details name key ids and the master key's id: for the operator's log, not for an
        // anonymous caller.
        tracing::warn!(problem = %tessera_jwt::Untrusted(&why), "readiness: no usable signing key");
        problems.push("no active signing key".to_owned());
    }
    if problems.is_empty() {
        return (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            axum::Json(json!({"status": "ready"})),
        )
            .into_response();
    }
    ApiError::unavailable_as("not_ready", problems.join("; ")).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(metrics::CONTENT_TYPE),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        state.metrics.render(),
    )
        .into_response()
}
