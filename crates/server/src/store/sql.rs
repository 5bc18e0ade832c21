//! What both SQL backends share outside the queries: the row shapes (identical column names and
//! compatible types in both schemas), their conversion into the public records, column lists,
//! and id generation.

use crate::store::types::{
    Client, EncryptedPrivateKey, ExternalIdentity, RefreshFamily, RefreshToken, RotationLock,
    SigningKeyRecord, TokenHash, User,
};
use crate::store::{KeyState, StoreError};

/// The name of the key-rotation lease in the `locks` table.
pub(super) const ROTATION_LOCK: &str = "key-rotation";
/// The name of the purge lease in the `locks` table.
pub(super) const PURGE_LOCK: &str = "purge";

macro_rules! user_columns {
    () => {
        "id, username, password_hash, roles, disabled, created_at, updated_at"
    };
}
macro_rules! identity_columns {
    () => {
        "issuer, subject, user_id, email, email_verified, created_at, last_login_at"
    };
}
macro_rules! client_columns {
    () => {
        "client_id, secret_hash, name, scopes, created_at"
    };
}
macro_rules! family_columns {
    () => {
        "id, user_id, client_id, scopes, created_at, last_used_at, expires_at, idle_ttl, \
         idle_expires_at, revoked_at, revoked_reason, user_agent, client_address"
    };
}
macro_rules! token_columns {
    () => {
        "token_hash, family_id, created_at, expires_at, used_at, replaced_by"
    };
}
macro_rules! key_columns {
    () => {
        "kid, alg, state, private_key_ciphertext, private_key_nonce, master_key_id, public_jwk, \
         created_at, activated_at, retired_at, delete_after"
    };
}
macro_rules! lock_columns {
    () => {
        "holder, fence, acquired_at, expires_at"
    };
}
pub(super) use {
    client_columns, family_columns, identity_columns, key_columns, lock_columns, token_columns,
    user_columns,
};

/// A new random id: a version 4 UUID from aws-lc-rs's generator.
pub(super) fn new_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Database {
        source: "the system random generator failed".into(),
    })?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

/// Lists of strings are stored as JSON arrays.
pub(super) fn encode_list(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|e| StoreError::Invalid(format!("list of strings: {e}")))
}

fn decode_list(json: &str, column: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("{column} is not a JSON list of strings: {e}")))
}

fn decode_hash(bytes: &[u8], column: &str) -> Result<TokenHash, StoreError> {
    TokenHash::try_from(bytes)
        .map_err(|_| StoreError::Corrupt(format!("{column} holds {} bytes, not 32", bytes.len())))
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: String,
    username: String,
    password_hash: Option<String>,
    roles: String,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        Ok(Self {
            roles: decode_list(&row.roles, "users.roles")?,
            id: row.id,
            username: row.username,
            password_hash: row.password_hash,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct IdentityRow {
    issuer: String,
    subject: String,
    user_id: String,
    email: Option<String>,
    email_verified: bool,
    created_at: i64,
    last_login_at: i64,
}

impl From<IdentityRow> for ExternalIdentity {
    fn from(row: IdentityRow) -> Self {
        Self {
            issuer: row.issuer,
            subject: row.subject,
            user_id: row.user_id,
            email: row.email,
            email_verified: row.email_verified,
            created_at: row.created_at,
            last_login_at: row.last_login_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ClientRow {
    client_id: String,
    secret_hash: Option<String>,
    name: String,
    scopes: String,
    created_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        Ok(Self {
            scopes: decode_list(&row.scopes, "clients.scopes")?,
            client_id: row.client_id,
            secret_hash: row.secret_hash,
            name: row.name,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct FamilyRow {
    id: String,
    user_id: String,
    client_id: Option<String>,
    scopes: String,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    idle_ttl: i64,
    idle_expires_at: i64,
    revoked_at: Option<i64>,
    revoked_reason: Option<String>,
    user_agent: Option<String>,
    client_address: Option<String>,
}

impl TryFrom<FamilyRow> for RefreshFamily {
    type Error = StoreError;

    fn try_from(row: FamilyRow) -> Result<Self, StoreError> {
        Ok(Self {
            scopes: decode_list(&row.scopes, "refresh_families.scopes")?,
            id: row.id,
            user_id: row.user_id,
            client_id: row.client_id,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            idle_ttl: row.idle_ttl,
            idle_expires_at: row.idle_expires_at,
            revoked_at: row.revoked_at,
            revoked_reason: row.revoked_reason,
            user_agent: row.user_agent,
            client_address: row.client_address,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TokenRow {
    token_hash: Vec<u8>,
    family_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    replaced_by: Option<Vec<u8>>,
}

impl TryFrom<TokenRow> for RefreshToken {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(Self {
            hash: decode_hash(&row.token_hash, "refresh_tokens.token_hash")?,
            replaced_by: row
                .replaced_by
                .as_deref()
                .map(|b| decode_hash(b, "refresh_tokens.replaced_by"))
                .transpose()?,
            family_id: row.family_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct KeyRow {
    kid: String,
    alg: String,
    state: String,
    private_key_ciphertext: Vec<u8>,
    private_key_nonce: Vec<u8>,
    master_key_id: String,
    public_jwk: String,
    created_at: i64,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    delete_after: Option<i64>,
}

impl TryFrom<KeyRow> for SigningKeyRecord {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            state: parse_state(&row.state)?,
            kid: row.kid,
            alg: row.alg,
            private_key: EncryptedPrivateKey {
                ciphertext: row.private_key_ciphertext,
                nonce: row.private_key_nonce,
                master_key_id: row.master_key_id,
            },
            public_jwk: row.public_jwk,
            created_at: row.created_at,
            activated_at: row.activated_at,
            retired_at: row.retired_at,
            delete_after: row.delete_after,
        })
    }
}

pub(super) fn parse_state(state: &str) -> Result<KeyState, StoreError> {
    state
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("signing_keys.state is {state:?}")))
}

#[derive(sqlx::FromRow)]
pub(super) struct LockRow {
    holder: Option<String>,
    fence: i64,
    acquired_at: i64,
    expires_at: i64,
}

impl From<LockRow> for RotationLock {
    fn from(row: LockRow) -> Self {
        Self {
            holder: row.holder.unwrap_or_default(),
            fence: row.fence,
            acquired_at: row.acquired_at,
            expires_at: row.expires_at,
        }
    }
}

/// Which transitions of a signing key's state are allowed.
pub(super) fn check_transition(
    from: KeyState,
    to: KeyState,
    delete_after: Option<i64>,
) -> Result<(), StoreError> {
    use KeyState::{Active, Next, Retired, Revoked};
    match (from, to) {
        (Next, Active) | (Next, Retired) | (Active, Retired) => {}
        (Next | Active | Retired, Revoked) => {}
        _ => {
            return Err(StoreError::Invalid(format!(
                "a signing key cannot go from {from} to {to}"
            )));
        }
    }
    if to != Retired && delete_after.is_some() {
        return Err(StoreError::Invalid(
            "delete_after is only set when a key is retired".to_owned(),
        ));
    }
    Ok(())
}

/// The expiry of a token issued at `now` in a family: its idle lifetime, capped by the
/// family's absolute expiry.
pub(super) fn token_expiry(now: i64, idle_ttl: i64, family_expires_at: i64) -> i64 {
    now.saturating_add(idle_ttl).min(family_expires_at)
}
