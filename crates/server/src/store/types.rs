//! The records the store keeps and the arguments its operations take.
//!
//! Times are UNIX seconds (`i64`) that the caller passes in; the store never reads a clock.
//! Ids (`User::id`, `RefreshFamily::id`, `Client::client_id`) are random UUIDs made by the store.

use std::fmt;
use std::str::FromStr;

use crate::store::StoreError;

/// A user account. `id` is stable and random: it is the `sub` of access tokens, never the
/// username (which may change).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// Stable random id (a UUID).
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// The password hash (a PHC string made by the server), `None` when the account cannot log
    /// in with a password (e.g. it signs in only through an outside provider).
    pub password_hash: Option<String>,
    /// Roles, in the order they were set.
    pub roles: Vec<String>,
    /// A disabled user cannot log in or refresh.
    pub disabled: bool,
    /// When the user was created.
    pub created_at: i64,
    /// When the user was last changed.
    pub updated_at: i64,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// What [`Store::create_user`](crate::store::Store::create_user) needs.
#[derive(Clone, Copy)]
pub struct NewUser<'a> {
    /// Unique login name. The store compares it exactly: normalize it (case, Unicode) before.
    pub username: &'a str,
    /// The password hash, or `None` for an account without password login.
    pub password_hash: Option<&'a str>,
    /// Roles.
    pub roles: &'a [String],
}

impl fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("password_hash", &self.password_hash.map(|_| "[redacted]"))
            .field("roles", &self.roles)
            .finish()
    }
}

/// An identity at an outside provider (`iss`, `sub` of its ID tokens) linked to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExternalIdentity {
    /// The provider's issuer (`iss`).
    pub issuer: String,
    /// The user's id at the provider (`sub`).
    pub subject: String,
    /// The linked user.
    pub user_id: String,
    /// The e-mail address the provider last reported.
    pub email: Option<String>,
    /// Whether the provider said the e-mail address was verified.
    pub email_verified: bool,
    /// When the link was made.
    pub created_at: i64,
    /// When the identity was last used to sign in.
    pub last_login_at: i64,
}

/// What the provider's ID token says, for
/// [`Store::find_or_link_external_identity`](crate::store::Store::find_or_link_external_identity).
#[derive(Debug, Clone, Copy)]
pub struct NewExternalIdentity<'a> {
    /// The provider's issuer (`iss`).
    pub issuer: &'a str,
    /// The user's id at the provider (`sub`).
    pub subject: &'a str,
    /// The `email` claim.
    pub email: Option<&'a str>,
    /// The `email_verified` claim.
    pub email_verified: bool,
}

/// Whom an outside identity that is not linked yet gets linked to.
#[derive(Debug, Clone, Copy)]
pub enum LinkTarget<'a> {
    /// An existing user, by id.
    User(&'a str),
    /// An existing user, by id, only if — in the linking transaction, under the user's row
    /// lock — the account still has no password and no role (automatic linking by e-mail:
    /// a password or role set meanwhile makes it [`StoreError::Conflict`](crate::store::StoreError::Conflict)).
    BareUser(&'a str),
    /// A user created in the same transaction.
    NewUser(NewUser<'a>),
}

/// What [`Store::unlink_identity_of`](crate::store::Store::unlink_identity_of) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlink {
    /// The link is gone.
    Removed,
    /// The user has no such identity (another user's is "no such identity" too).
    NotFound,
    /// Nothing was removed: it is the user's only identity and the user has no password, so
    /// the account would be left with no way to sign in.
    LastSignInMethod,
}

/// What [`Store::find_or_link_external_identity`](crate::store::Store::find_or_link_external_identity)
/// did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The identity was already linked (possibly to another user than the requested target:
    /// check `user.id`); its e-mail and last login were updated.
    Existing,
    /// The identity was linked to the existing user given as target.
    Linked,
    /// A new user was created and the identity linked to it.
    Created,
}

/// The result of [`Store::find_or_link_external_identity`](crate::store::Store::find_or_link_external_identity).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExternalLogin {
    /// The user the identity is linked to.
    pub user: User,
    /// The identity, as stored now.
    pub identity: ExternalIdentity,
    /// Whether it was found, linked or created.
    pub outcome: LinkOutcome,
}

/// An OAuth 2.0 client.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Client {
    /// Random client id (a UUID).
    pub client_id: String,
    /// Hash of the client secret (made by the server); `None` for a public client.
    pub secret_hash: Option<String>,
    /// Display name.
    pub name: String,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// When the client was registered.
    pub created_at: i64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field(
                "secret_hash",
                &self.secret_hash.as_ref().map(|_| "[redacted]"),
            )
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// What [`Store::create_client`](crate::store::Store::create_client) needs.
#[derive(Clone, Copy)]
pub struct NewClient<'a> {
    /// Display name.
    pub name: &'a str,
    /// Hash of the client secret, `None` for a public client.
    pub secret_hash: Option<&'a str>,
    /// Scopes the client may request.
    pub scopes: &'a [String],
}

impl fmt::Debug for NewClient<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewClient")
            .field("name", &self.name)
            .field("secret_hash", &self.secret_hash.map(|_| "[redacted]"))
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The SHA-256 hash of an opaque refresh token: the only form in which the store knows a
/// refresh token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// SHA-256 of the token as presented (its exact bytes, e.g. the base64url text).
    pub fn of(token: impl AsRef<[u8]>) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_ref());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Self(bytes)
    }

    /// A hash computed elsewhere.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl TryFrom<&[u8]> for TokenHash {
    type Error = StoreError;

    fn try_from(bytes: &[u8]) -> Result<Self, StoreError> {
        <[u8; 32]>::try_from(bytes).map(Self).map_err(|_| {
            StoreError::Invalid(format!("a token hash is 32 bytes, got {}", bytes.len()))
        })
    }
}

impl fmt::Debug for TokenHash {
    /// The first four bytes, in hex: enough to tell hashes apart in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// A refresh family: one login and every refresh token rotated from it. Its `id` is the `sid`
/// claim of the access tokens issued in it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshFamily {
    /// Random id (a UUID).
    pub id: String,
    /// The user who logged in.
    pub user_id: String,
    /// The OAuth client the tokens were issued to, if any.
    pub client_id: Option<String>,
    /// Scopes granted at login, kept for the refreshed access tokens.
    pub scopes: Vec<String>,
    /// When the login happened.
    pub created_at: i64,
    /// When a token of the family was last rotated.
    pub last_used_at: i64,
    /// Absolute expiry: no rotation after this, however active the family is.
    pub expires_at: i64,
    /// Idle lifetime in seconds: each rotation moves `idle_expires_at` to `now + idle_ttl`
    /// (capped at `expires_at`).
    pub idle_ttl: i64,
    /// Idle expiry: the family dies if no token is rotated before this.
    pub idle_expires_at: i64,
    /// When the family was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// Why it was revoked (see [`revocation_reason`](crate::store::revocation_reason)).
    pub revoked_reason: Option<String>,
    /// `User-Agent` of the login request, for listing sessions.
    pub user_agent: Option<String>,
    /// Client address of the login request, for listing sessions.
    pub client_address: Option<String>,
}

impl RefreshFamily {
    /// Not revoked, and neither expiry has passed at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && now < self.idle_expires_at
    }
}

/// What [`Store::create_refresh_family`](crate::store::Store::create_refresh_family) needs.
#[derive(Debug, Clone, Copy)]
pub struct NewRefreshFamily<'a> {
    /// The user who logged in.
    pub user_id: &'a str,
    /// The OAuth client, if any.
    pub client_id: Option<&'a str>,
    /// Scopes granted.
    pub scopes: &'a [String],
    /// Absolute expiry (UNIX seconds), after `now`.
    pub expires_at: i64,
    /// Idle lifetime in seconds (> 0).
    pub idle_ttl: i64,
    /// `User-Agent` of the login request.
    pub user_agent: Option<&'a str>,
    /// Client address of the login request.
    pub client_address: Option<&'a str>,
}

/// One refresh token, known by its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshToken {
    /// SHA-256 of the opaque token.
    pub hash: TokenHash,
    /// Its family.
    pub family_id: String,
    /// When it was issued.
    pub created_at: i64,
    /// When it expires on its own: `min(created_at + idle_ttl, family.expires_at)`.
    pub expires_at: i64,
    /// When it was used (rotated), or superseded by a retry within the grace window.
    pub used_at: Option<i64>,
    /// Its successor, set together with `used_at`.
    pub replaced_by: Option<TokenHash>,
}

/// A refresh token with its family, as found by
/// [`Store::refresh_token`](crate::store::Store::refresh_token).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshTokenRecord {
    /// The token.
    pub token: RefreshToken,
    /// Its family.
    pub family: RefreshFamily,
}

impl RefreshTokenRecord {
    /// Whether presenting the token at `now` could rotate it: unused, unexpired, and its
    /// family active (what introspection reports as `active`).
    pub fn is_active(&self, now: i64) -> bool {
        self.token.used_at.is_none() && now < self.token.expires_at && self.family.is_active(now)
    }
}

/// What [`Store::rotate_refresh_token`](crate::store::Store::rotate_refresh_token) did.
///
/// Only [`Rotated`](Self::Rotated) and [`Grace`](Self::Grace) make the successor live; the
/// caller then hands out the opaque token whose hash it passed as `successor`. Every other
/// outcome is a rejection (`invalid_grant`) and leaves the successor unknown to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// The presented token was live: it is now used, and the successor is the family's live
    /// token.
    Rotated {
        /// The family, as updated (`last_used_at`, `idle_expires_at`).
        family: RefreshFamily,
        /// Its user (for the roles of the new access token).
        user: User,
        /// The successor, now live.
        successor: RefreshToken,
    },
    /// The presented token had already been used, but less than `reuse_grace` seconds ago (a
    /// retry after a lost response, or two racing requests). The family's live token at that
    /// moment is superseded (marked used, replaced by the successor) and the successor becomes
    /// the live token, so there is still exactly one live chain: the answer to the latest
    /// request wins, and a token handed out to the earlier one is dead (presenting it after
    /// the grace window is reuse).
    Grace {
        /// The family, as updated.
        family: RefreshFamily,
        /// Its user.
        user: User,
        /// The successor, now live.
        successor: RefreshToken,
    },
    /// The presented token had been used longer than `reuse_grace` ago: someone replayed it.
    /// The whole family is now revoked (reason
    /// [`REUSE_DETECTED`](crate::store::revocation_reason::REUSE_DETECTED)).
    ReuseDetected {
        /// The revoked family.
        family_id: String,
        /// Its user, to alert or log.
        user_id: String,
    },
    /// The family had been revoked before (logout, reuse, administrator). Nothing changed.
    Revoked {
        /// The family.
        family_id: String,
        /// Why it was revoked.
        reason: Option<String>,
    },
    /// The family's absolute or idle expiry, or the token's own expiry, has passed. Nothing
    /// changed.
    Expired {
        /// The family.
        family_id: String,
    },
    /// The user is disabled. Nothing changed (the caller may revoke the family).
    UserDisabled {
        /// The family.
        family_id: String,
        /// The disabled user.
        user_id: String,
    },
    /// No token has this hash (never issued, or purged). Nothing changed.
    Unknown,
}

/// The life cycle state of a signing key: `next` → `active` → `retired` → deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Published in the JWKS, not signing yet.
    Next,
    /// Signs new tokens (at most one key at a time).
    Active,
    /// Signs nothing, stays published until the tokens it signed have expired.
    Retired,
    /// Withdrawn (a compromised key): never published, signs and verifies nothing, its
    /// private key erased. The row stays, for `tessera key list`.
    Revoked,
}

impl KeyState {
    /// The stored name: `next`, `active` or `retired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Revoked => "revoked",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "next" => Ok(Self::Next),
            "active" => Ok(Self::Active),
            "retired" => Ok(Self::Retired),
            "revoked" => Ok(Self::Revoked),
            other => Err(StoreError::Invalid(format!(
                "unknown key state {other:?} (expected next, active, retired or revoked)"
            ))),
        }
    }
}

/// A private key as the server encrypted it: the store keeps these bytes and never sees the
/// key.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedPrivateKey {
    /// The ciphertext (with its authentication tag).
    pub ciphertext: Vec<u8>,
    /// The nonce it was encrypted with.
    pub nonce: Vec<u8>,
    /// Which master key encrypted it, so that master keys can be rotated too.
    pub master_key_id: String,
}

impl fmt::Debug for EncryptedPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedPrivateKey")
            .field(
                "ciphertext",
                &format_args!("[{} bytes]", self.ciphertext.len()),
            )
            .field("nonce", &format_args!("[{} bytes]", self.nonce.len()))
            .field("master_key_id", &self.master_key_id)
            .finish()
    }
}

/// A signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigningKeyRecord {
    /// Key id (the `kid` header and JWK member).
    pub kid: String,
    /// JWS algorithm name (`RS256`, `ES256`, `EdDSA`…).
    pub alg: String,
    /// Life cycle state.
    pub state: KeyState,
    /// The private key, encrypted.
    pub private_key: EncryptedPrivateKey,
    /// The public JWK, as JSON text.
    pub public_jwk: String,
    /// When the key was made.
    pub created_at: i64,
    /// When it became active.
    pub activated_at: Option<i64>,
    /// When it was retired.
    pub retired_at: Option<i64>,
    /// When a retired key may be deleted (after every token it signed has expired).
    pub delete_after: Option<i64>,
}

/// What [`Store::insert_signing_key`](crate::store::Store::insert_signing_key) needs.
#[derive(Debug, Clone, Copy)]
pub struct NewSigningKey<'a> {
    /// Key id, unique.
    pub kid: &'a str,
    /// JWS algorithm name.
    pub alg: &'a str,
    /// `Next` (the normal case) or `Active` (the very first key). Not `Retired`.
    pub state: KeyState,
    /// The private key, encrypted.
    pub private_key: &'a EncryptedPrivateKey,
    /// The public JWK, as JSON text.
    pub public_jwk: &'a str,
}

/// One compare-and-set step of
/// [`Store::transition_signing_keys`](crate::store::Store::transition_signing_keys).
///
/// Allowed: `Next → Active`, `Next → Retired`, `Active → Retired`, and any of `Next`,
/// `Active`, `Retired` → `Revoked` (which also erases the private key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTransition<'a> {
    /// The key.
    pub kid: &'a str,
    /// The state the key must be in now.
    pub from: KeyState,
    /// The state it moves to.
    pub to: KeyState,
    /// For `to == Retired`: when the key may be deleted. Must be `None` otherwise.
    pub delete_after: Option<i64>,
}

/// A held lease on the key-rotation lock (see
/// [`Store::try_rotation_lock`](crate::store::Store::try_rotation_lock)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationLock {
    /// Who holds it (free text for diagnostics, e.g. host name and process id).
    pub holder: String,
    /// Grows by one at every acquisition, never repeats: identifies this lease.
    pub fence: i64,
    /// When this lease was acquired.
    pub acquired_at: i64,
    /// When it lapses unless renewed. After this, another instance may take the lock.
    pub expires_at: i64,
}

/// What [`Store::purge_expired`](crate::store::Store::purge_expired) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Refresh families deleted (with all their tokens).
    pub families: u64,
    /// Used refresh tokens of surviving families deleted.
    pub tokens: u64,
}

// ---- storage upkeep (issue 9): paging, the session cap, deleting a user ----------------------

/// Where a page of a list starts: after this key of the list's order (the last row of the
/// previous page). Keys are the row's own immutable columns, so a row is never skipped or
/// shown twice when others are added or removed between pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAfter<'a> {
    /// Users by username: after this username.
    User(&'a str),
    /// Clients by name, then `client_id`.
    Client {
        /// The name of the last client shown.
        name: &'a str,
        /// Its `client_id`.
        client_id: &'a str,
    },
    /// Sessions newest sign-in first: after this (`created_at`, `id`).
    Session {
        /// When the last family shown was created.
        created_at: i64,
        /// Its id.
        id: &'a str,
    },
}

/// What [`Store::delete_user`](crate::store::Store::delete_user) removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserDeletion {
    /// Sessions (refresh families) that were live and are gone now, with all their tokens.
    pub sessions: u64,
    /// Outside identities that were linked to the user.
    pub identities: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_sha256_of_the_token() {
        // FIPS 180-2, appendix B.1.
        let hash = TokenHash::of("abc");
        let hex: String = hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(TokenHash::from_bytes(*hash.as_bytes()), hash);
        assert_eq!(TokenHash::try_from(&hash.as_bytes()[..]).unwrap(), hash);
        // Debug names a prefix only.
        assert_eq!(format!("{hash:?}"), "TokenHash(ba7816bf…)");
    }

    #[test]
    fn token_hash_from_wrong_length_is_an_error() {
        for len in [0, 31, 33] {
            let err = TokenHash::try_from(&vec![0u8; len][..]).unwrap_err();
            assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
            assert!(err.to_string().contains(&format!("got {len}")), "{err}");
        }
    }

    #[test]
    fn key_state_names_round_trip() {
        for state in [
            KeyState::Next,
            KeyState::Active,
            KeyState::Retired,
            KeyState::Revoked,
        ] {
            assert_eq!(state.as_str().parse::<KeyState>().unwrap(), state);
            assert_eq!(state.to_string(), state.as_str());
        }
        assert!(matches!(
            "Active".parse::<KeyState>(),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let new = NewUser {
            username: "u",
            password_hash: Some("$argon2id$SENSITIVE"),
            roles: &[],
        };
        let client = NewClient {
            name: "c",
            secret_hash: Some("$argon2id$SENSITIVE"),
            scopes: &[],
        };
        let key = EncryptedPrivateKey {
            ciphertext: vec![0xab; 40],
            nonce: vec![0xcd; 12],
            master_key_id: "mk".to_owned(),
        };
        for debug in [
            format!("{new:?}"),
            format!("{client:?}"),
            format!("{key:?}"),
        ] {
            assert!(!debug.contains("SENSITIVE"), "{debug}");
            assert!(!debug.contains("171"), "{debug}"); // 0xab as a number
        }
        assert!(format!("{key:?}").contains("[40 bytes]"));
    }
}
