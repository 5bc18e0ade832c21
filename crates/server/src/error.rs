//! The HTTP error of the issuer: every failure a handler can meet becomes an [`ApiError`] here,
//! in one place, with its status and a JSON body `{"error": CODE, "error_description": TEXT}`.
//!
//! Rules: a client's mistake is a 4xx, never a 500; the database being away is a 503
//! (`temporarily_unavailable`, RFC 6749 §5.2 style); anything else is a 500 whose details go to
//! the log, never to the client.

use std::borrow::Cow;
use std::time::Duration;

use axum::extract::FromRequest;
use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::issuance::GrantError;
use crate::issuance::grants::BAD_CREDENTIALS;
use crate::keys::KeyError;
use crate::password::PasswordError;
use crate::store::StoreError;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    description: Cow<'static, str>,
    /// Extra response headers, boxed: most errors have none, and a `Result` carrying an
    /// `ApiError` stays small.
    headers: Option<Box<HeaderMap>>,
}

impl ApiError {
    /// An error with this status, `error` code and description (shown to the client: say what
    /// to fix, never an internal detail). Private: the named constructors below are the only
    /// places that choose a status.
    fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            description: description.into(),
            headers: None,
        }
    }

    /// 400 `invalid_request`: malformed or missing parameters.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 400 `unsupported_grant_type` (RFC 6749 §5.2).
    pub fn unsupported_grant_type(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    /// 400 `unauthorized_client` (RFC 6749 §5.2): the client may not use this grant or token.
    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    /// 400 `invalid_scope` (RFC 6749 §5.2).
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// 415 `invalid_request`: the body is not of the type the endpoint reads.
    pub fn unsupported_media_type(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            description,
        )
    }

    /// 403 with this code: the caller is known but may not do this (`csrf_failed`,
    /// `insufficient_scope`, `reauthentication_required`, `account_disabled`).
    pub fn refused(
        code: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, description)
    }

    /// 404 `not_found`, saying what was not found.
    pub fn not_found_because(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    /// 409 with this code: the request is sound but the state of things forbids it.
    pub fn conflict(
        code: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::CONFLICT, code, description)
    }

    /// 503 with this code (`not_ready`, `provider_unavailable`): not the client's fault.
    pub fn unavailable_as(
        code: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, description)
    }

    /// 400 `invalid_grant` (RFC 6749 §5.2): a bad, expired or revoked grant or refresh token.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// 401 `invalid_client` (RFC 6749 §5.2): client authentication failed.
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// 401 with this code (e.g. `invalid_credentials`, `invalid_token`).
    pub fn unauthorized(
        code: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, description)
    }

    /// 403 `access_denied`.
    pub fn forbidden(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "access_denied", description)
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 429 `too_many_requests` with `Retry-After` (whole seconds, at least 1).
    pub fn too_many_requests(retry_after: Duration) -> Self {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many attempts; retry later",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(secs.max(1)))
    }

    /// 503 `temporarily_unavailable`.
    pub fn unavailable(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            description,
        )
    }

    /// 500 `server_error`. `detail` is logged, never sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal server error",
        )
    }

    /// The default error of a bare status (what a layer or the router answered).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, description) = match status {
            StatusCode::BAD_REQUEST => ("invalid_request", "bad request"),
            StatusCode::UNAUTHORIZED => ("unauthorized", "authentication required"),
            StatusCode::FORBIDDEN => ("access_denied", "forbidden"),
            StatusCode::NOT_FOUND => ("not_found", "no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "method not allowed here"),
            StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "unsupported content type")
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                ("invalid_request", "the request body cannot be processed")
            }
            StatusCode::TOO_MANY_REQUESTS => {
                ("too_many_requests", "too many requests; retry later")
            }
            StatusCode::SERVICE_UNAVAILABLE => (
                "temporarily_unavailable",
                "the service is unavailable; retry later",
            ),
            StatusCode::GATEWAY_TIMEOUT => ("temporarily_unavailable", "the request took too long"),
            s if s.is_client_error() => ("invalid_request", "the request cannot be served"),
            _ => ("server_error", "internal server error"),
        };
        Self::new(status, code, description)
    }

    /// Adds a response header (`WWW-Authenticate`, `Retry-After`…).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.get_or_insert_default().insert(name, value);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `error` code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The `error_description`.
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.description
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code,
            "error_description": self.description,
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(headers) = self.headers {
            response.headers_mut().extend(*headers);
        }
        // Errors are about one request: never cached.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A password hashing failure as an answer: busy is 503 with `Retry-After: 1`.
impl From<PasswordError> for ApiError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => Self::passwords_busy(),
            other => Self::internal(&other),
        }
    }
}

impl ApiError {
    fn passwords_busy() -> Self {
        Self::unavailable("too many logins at once; retry in a moment")
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }
}

impl GrantError {
    /// The answer of `/login`, `/token/refresh` and `/login/oidc`: a refused grant is 401.
    pub(crate) fn for_json_api(self) -> ApiError {
        match self {
            Self::InvalidGrant(why) => ApiError::unauthorized("invalid_grant", why),
            Self::AccountDisabled => ApiError::unauthorized("invalid_grant", BAD_CREDENTIALS),
            Self::InvalidScope(why) => ApiError::invalid_scope(why),
            Self::InvalidRequest(why) => ApiError::invalid_request(why),
            Self::WrongClient => {
                ApiError::unauthorized_client("the token was not issued to this client")
            }
            Self::Throttled(wait) => ApiError::too_many_requests(wait),
            Self::PasswordsBusy => ApiError::passwords_busy(),
            Self::Unavailable(why) => ApiError::unavailable(why),
            Self::AccountConflict(why) => ApiError::conflict("account_conflict", why),
            Self::Store(e) => e.into(),
            Self::Keys(e) => e.into(),
            Self::Token(e) => ApiError::internal(&e),
            Self::Password(e) => ApiError::internal(&e),
        }
    }

    /// The answer of `/oauth2/token` (RFC 6749 §5.2): a refused grant is 400.
    pub(crate) fn for_oauth(self) -> ApiError {
        match self {
            Self::InvalidGrant(why) => ApiError::invalid_grant(why),
            Self::AccountDisabled => ApiError::invalid_grant(BAD_CREDENTIALS),
            other => other.for_json_api(),
        }
    }

    /// The answer of the browser session, shown to a person: a disabled account is told
    /// (403 `account_disabled`: the password was right), the throttle says how long to wait.
    pub(crate) fn for_browser(self) -> ApiError {
        match self {
            Self::AccountDisabled => {
                ApiError::refused("account_disabled", "this account is disabled")
            }
            Self::Throttled(wait) => {
                let secs = wait.as_secs().max(1);
                ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    format!("too many attempts; try again in {secs} seconds"),
                )
                .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
            }
            other => other.for_json_api(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            return Self::unavailable("the database is unavailable; retry later");
        }
        match e {
            // A record the request named does not exist, or collides: the request's doing.
            StoreError::NotFound { what, .. } => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            StoreError::Conflict { what, .. } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{what} already exists"),
            ),
            other => Self::internal(&other),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Store(e) => e.into(),
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "no signing key available");
                Self::unavailable("no signing key is available; retry later")
            }
            other => Self::internal(&other),
        }
    }
}

impl From<tessera_jwt::Error> for ApiError {
    /// Signing or encoding failed on the server's side (a token the client sent is rejected
    /// by the handler with its own 401, never through this).
    fn from(e: tessera_jwt::Error) -> Self {
        Self::internal(&e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::from_status(status),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                "invalid_request",
                "expected a JSON body (Content-Type: application/json)",
            ),
            _ if status.is_client_error() => {
                Self::invalid_request(format!("invalid JSON body: {}", rejection.body_text()))
            }
            _ => Self::internal(&rejection.body_text()),
        }
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        let status = rejection.status();
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::from_status(status),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                status,
                "invalid_request",
                "expected a form body (Content-Type: application/x-www-form-urlencoded)",
            ),
            _ if status.is_client_error() => {
                Self::invalid_request(format!("invalid form body: {}", rejection.body_text()))
            }
            _ => Self::internal(&rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid_request(format!("invalid query: {}", rejection.body_text()))
    }
}

impl From<crate::accounts::AdminError> for ApiError {
    fn from(e: crate::accounts::AdminError) -> Self {
        use crate::accounts::AdminError;
        match e {
            AdminError::Invalid(_) | AdminError::OwnAccount(_) => {
                Self::invalid_request(e.to_string())
            }
            AdminError::NoSuchUser => {
                Self::new(StatusCode::NOT_FOUND, "not_found", "no user has this id")
            }
            AdminError::Taken(_) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            AdminError::Password(crate::password::PasswordError::Unacceptable(why)) => {
                Self::invalid_request(why)
            }
            AdminError::Password(crate::password::PasswordError::Busy) => {
                Self::too_many_requests(Duration::from_secs(1))
            }
            AdminError::Password(other) => Self::internal(&other),
            AdminError::Store(e) => e.into(),
        }
    }
}

/// `axum::Json`, whose rejections are [`ApiError`]s (400/413/415 in the JSON error format).
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::Form`, whose rejections are [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Form), rejection(ApiError))]
pub struct Form<T>(pub T);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    async fn body(e: ApiError) -> (StatusCode, HeaderMap, serde_json::Value) {
        let response = e.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn store_errors_map_to_statuses_without_detail() {
        let unavailable = StoreError::Unavailable {
            source: "connection refused to 10.0.0.5:5432 password=hunter2".into(),
        };
        let (status, _, json) = body(unavailable.into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(json["error"], "temporarily_unavailable");
        assert!(!json.to_string().contains("hunter2"));

        let corrupt = StoreError::Corrupt("roles column of user 42 is not JSON".into());
        let (status, _, json) = body(corrupt.into()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            json,
            serde_json::json!({"error": "server_error", "error_description": "internal server error"})
        );

        let (status, _, _) = body(ApiError::from(KeyError::NoActiveKey)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn throttling_carries_retry_after() {
        let (status, headers, json) =
            body(ApiError::too_many_requests(Duration::from_millis(1500))).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "2");
        assert_eq!(json["error"], "too_many_requests");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn client_statuses_never_become_server_errors() {
        for code in 400..500u16 {
            let status = StatusCode::from_u16(code).unwrap();
            let e = ApiError::from_status(status);
            assert_eq!(e.status(), status);
            assert_ne!(e.code(), "server_error", "{code}");
        }
    }
}
