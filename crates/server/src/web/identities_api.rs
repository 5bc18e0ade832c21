//! The account page's sign-in methods: a signed-in user lists the outside identities
//! ("Sign in with Google") linked to their account, connects another, and disconnects one.
//! `Authorization: Bearer <access token>`, checked as `/sessions` checks it.
//!
//! | method, path | answers |
//! |---|---|
//! | `GET /account/identities` | 200 `{"identities":[{"id","provider","issuer","email","created_at","last_login_at","removable"}],"providers":[{"name"}]}` |
//! | `POST /account/identities` `{"provider"}` | 200 `{"authorization_url"}` + the flow cookie · 400 unknown provider · 403 `reauthentication_required` · 409 `too_many_identities` · 503 |
//! | `DELETE /account/identities/{id}` | 204 · 404 `not_found` · 409 `last_sign_in_method` |
//!
//! - **Listing**: `provider` is the name of the configured provider of the identity's issuer
//!   (`null` when none is configured any more); `removable` is false for the only identity of
//!   an account without a password. `providers` are those that can be connected in a browser
//!   (with a `client_id`). An identity's `id` is derived from its issuer and subject (neither
//!   is shown in full to the page: the subject is the provider's id of the person).
//! - **Connecting** starts the authorization code flow of [`oidc`](super::oidc) (PKCE, `state`,
//!   `nonce`), whose sealed cookie names this user and this session: the page sends the
//!   browser to `authorization_url`, and the provider sends it back to the same callback as a
//!   sign-in, which links the identity to this user — never to anyone else, and never one
//!   linked to another account — and ends at `/account?link=linked` or `/account?link=CODE`
//!   (`identity_in_use`, `session_ended`, `too_many_identities`, and the sign-in codes). No new
//!   session is started. The token must come from a sign-in (it has a `sid` naming an active
//!   session of this user) made within the last [`RECENT_SIGN_IN`] seconds: a stolen access
//!   token alone cannot add the thief's account as a way in.
//! - **Disconnecting** never removes the last way to sign in: an account without a password
//!   keeps its only identity ([`Store::unlink_identity_of`](crate::store::Store::unlink_identity_of)
//!   decides under the user's row lock, so two concurrent removals cannot both pass).
//!
//! Every answer: `Cache-Control: no-store`. Another user's identity id is answered exactly as
//! an unknown one (404).

use aws_lc_rs::digest::{SHA256, digest};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::Response;
use axum::routing::{delete, get};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::oidc::{self, LinkStartError};
use super::sessions_api::{SignedIn, json_no_store, no_content};
use crate::auth::federation::MAX_IDENTITIES_PER_USER;
use crate::error::{ApiError, Json};
use crate::http::bearer;
use crate::state::AppState;
use crate::store::{ExternalIdentity, Unlink};

/// How recent (seconds) the sign-in of the session must be to connect a provider.
pub(crate) const RECENT_SIGN_IN: i64 = 600;

/// `GET|POST /account/identities`, `DELETE /account/identities/{id}`.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/account/identities", get(list).post(connect))
        .route("/account/identities/{id}", delete(disconnect));
    bearer::protect(routes, state, None)
}

/// The id the page uses for an identity: base64url of the first 16 bytes of
/// SHA-256(issuer ‖ NUL ‖ subject).
fn identity_id(identity: &ExternalIdentity) -> String {
    let mut input = Vec::with_capacity(identity.issuer.len() + 1 + identity.subject.len());
    input.extend_from_slice(identity.issuer.as_bytes());
    input.push(0);
    input.extend_from_slice(identity.subject.as_bytes());
    let hash = digest(&SHA256, &input);
    URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16])
}

/// `GET /account/identities`: the user's identities and the providers they can connect.
async fn list(State(state): State<AppState>, who: SignedIn) -> Result<Response, ApiError> {
    let identities = state.store.external_identities_of(&who.user.id).await?;
    let removable = who.user.password_hash.is_some() || identities.len() > 1;
    let identities: Vec<Value> = identities
        .iter()
        .map(|identity| {
            let provider = state
                .config
                .providers
                .iter()
                .find(|p| p.issuer == identity.issuer)
                .map(|p| p.name.as_str());
            json!({
                "id": identity_id(identity),
                "provider": provider,
                "issuer": identity.issuer,
                "email": identity.email,
                "created_at": identity.created_at,
                "last_login_at": identity.last_login_at,
                "removable": removable,
            })
        })
        .collect();
    let providers: Vec<Value> = oidc::browser_providers(&state)
        .map(|p| json!({ "name": p.name }))
        .collect();
    Ok(json_no_store(
        StatusCode::OK,
        json!({ "identities": identities, "providers": providers }),
    ))
}

#[derive(Deserialize)]
struct ConnectRequest {
    provider: String,
}

/// `POST /account/identities` `{"provider"}`: starts linking that provider to this account.
async fn connect(
    State(state): State<AppState>,
    who: SignedIn,
    Json(request): Json<ConnectRequest>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    // The session the token was issued in, which must be live, and recent.
    let Some(family) = who.live_session(&state).await? else {
        return Err(reauthenticate());
    };
    if now.saturating_sub(family.created_at) > RECENT_SIGN_IN {
        return Err(reauthenticate());
    }
    if state
        .store
        .external_identities_of(&who.user.id)
        .await?
        .len()
        >= MAX_IDENTITIES_PER_USER
    {
        return Err(ApiError::conflict(
            "too_many_identities",
            format!(
                "an account can have at most {MAX_IDENTITIES_PER_USER} connected identities: disconnect one first"
            ),
        ));
    }
    let (authorization_url, cookie) =
        match oidc::begin_link(&state, &request.provider, &who.user.id, &family.id).await {
            Ok(begun) => begun,
            Err(LinkStartError::UnknownProvider) => {
                return Err(ApiError::invalid_request(
                    "no provider of this name can be connected",
                ));
            }
            Err(LinkStartError::Unavailable) => {
                return Err(ApiError::unavailable_as(
                    "provider_unavailable",
                    "the provider cannot be reached now; try again later",
                ));
            }
        };
    let mut answer = json_no_store(
        StatusCode::OK,
        json!({ "authorization_url": authorization_url.as_str() }),
    );
    answer.headers_mut().append(SET_COOKIE, cookie);
    Ok(answer)
}

fn reauthenticate() -> ApiError {
    ApiError::refused(
        "reauthentication_required",
        format!(
            "connecting a provider needs a sign-in within the last {} minutes: sign in again",
            RECENT_SIGN_IN / 60
        ),
    )
}

/// `DELETE /account/identities/{id}`: disconnects one of the user's identities.
async fn disconnect(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found_because("no identity of yours has this id");
    let identities = state.store.external_identities_of(&who.user.id).await?;
    let Some(identity) = identities.iter().find(|i| identity_id(i) == id) else {
        return Err(not_found());
    };
    match state
        .store
        .unlink_identity_of(&who.user.id, &identity.issuer, &identity.subject)
        .await?
    {
        Unlink::Removed => {
            tracing::info!(user = %who.user.id, "outside identity disconnected by its user");
            Ok(no_content())
        }
        Unlink::NotFound => Err(not_found()),
        Unlink::LastSignInMethod => Err(ApiError::conflict(
            "last_sign_in_method",
            "this is the only way to sign in to this account: it cannot be disconnected",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(issuer: &str, subject: &str) -> ExternalIdentity {
        ExternalIdentity {
            issuer: issuer.into(),
            subject: subject.into(),
            user_id: "u".into(),
            email: None,
            email_verified: false,
            created_at: 0,
            last_login_at: 0,
        }
    }

    #[test]
    fn identity_ids_are_short_and_separate_issuer_from_subject() {
        let a = identity_id(&identity("https://a.example", "1"));
        assert_eq!(a.len(), 22);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, identity_id(&identity("https://a.example1", "")));
        assert_ne!(a, identity_id(&identity("https://a.example", "2")));
        assert_eq!(a, identity_id(&identity("https://a.example", "1")));
    }
}
