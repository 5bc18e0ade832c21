// The `Store` implementation shared by the SQLite and PostgreSQL backends. Not a module: it is
// `include!`d by `sqlite.rs` and `postgres.rs`, which define beforehand
//
// - `This`: the store type (a struct with a `pool: sqlx::Pool<Db>` field);
// - `Db`: the sqlx database type;
// - `BACKEND`: the `Backend` value;
// - `BEGIN`: the statement that opens a write transaction (SQLite takes the write lock at once
//   with `BEGIN IMMEDIATE`, so that two transactions never both read and then both try to write);
// - `for_update!()`: a macro giving the row-locking suffix of a SELECT in a write transaction
//   (`" FOR UPDATE"` on PostgreSQL, `""` on SQLite, where the transaction already excludes
//   every other writer);
// - `is_unavailable`: which driver errors mean the database is away or busy.
//
// Both schemas have the same tables and column names, and sqlx's SQLite driver accepts `$N`
// parameters, so one text of each query serves both. (Generic code over `sqlx::Database` would
// need a bound for every type of every query; including the file twice is simpler and keeps
// the code ordinary Rust.)

use async_trait::async_trait;
use sqlx::Transaction;

use crate::store::EncryptedPrivateKey;
use crate::store::error::{DbFailure, classify};
use crate::store::sql::{
    ClientRow, FamilyRow, IdentityRow, KeyRow, LockRow, PURGE_LOCK, ROTATION_LOCK, TokenRow, UserRow,
    check_transition, client_columns, encode_list, family_columns, identity_columns, key_columns,
    lock_columns, new_id, parse_state, token_columns, token_expiry, user_columns,
};
use crate::store::types::{
    Client, ExternalIdentity, ExternalLogin, KeyTransition, LinkOutcome, LinkTarget, NewClient,
    NewExternalIdentity, NewRefreshFamily, NewSigningKey, NewUser, PurgeReport, RefreshFamily,
    RefreshToken, RefreshTokenRecord, Rotation, RotationLock, SigningKeyRecord, TokenHash, User,
};
use crate::store::{Backend, KeyState, Store, StoreError, revocation_reason};
use crate::store::{BucketKey, BucketOutcome, BucketTake};
use crate::store::{PageAfter, Unlink, UserDeletion};

type Tx = Transaction<'static, Db>;

impl This {
    /// Maps a driver error that no operation-specific context applies to.
    fn fail(err: sqlx::Error) -> StoreError {
        Self::fail_as(
            err,
            || StoreError::conflict("record", "a unique value is taken"),
            || StoreError::not_found("referenced record", "(unknown)"),
        )
    }

    /// Maps a driver error, with what a unique or foreign-key violation means here.
    fn fail_as(
        err: sqlx::Error,
        unique: impl FnOnce() -> StoreError,
        foreign_key: impl FnOnce() -> StoreError,
    ) -> StoreError {
        match classify(err, is_unavailable) {
            DbFailure::Unique => unique(),
            DbFailure::ForeignKey => foreign_key(),
            DbFailure::Other(e) => e,
        }
    }

    /// Begins a write transaction in a task of its own, which finishes even when the caller is
    /// dropped meanwhile (a client that went away, a background task being stopped): sqlx's
    /// SQLite driver runs `BEGIN IMMEDIATE` and then checks it in a second step, and a caller
    /// dropped between the two left the transaction open on a pooled connection, holding the
    /// write lock for good. Finished, the transaction is handed back, or dropped (and rolled
    /// back) with the task's output when nobody waits for it any more.
    async fn write_tx(&self) -> Result<Tx, StoreError> {
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin_with(BEGIN).await })
            .await
            .map_err(|e| StoreError::Unavailable {
                source: format!("beginning a transaction: {e}").into(),
            })?
            .map_err(Self::fail)
    }

    async fn commit(tx: Tx) -> Result<(), StoreError> {
        tx.commit().await.map_err(Self::fail)
    }

    async fn user_in(tx: &mut Tx, id: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(Self::fail)?;
        row.map(User::try_from).transpose()
    }

    async fn insert_user(tx: &mut Tx, user: NewUser<'_>, now: i64) -> Result<User, StoreError> {
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO users (id, username, password_hash, roles, disabled, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, FALSE, $5, $5) RETURNING ",
            user_columns!()
        ))
        .bind(new_id()?)
        .bind(user.username)
        .bind(user.password_hash)
        .bind(encode_list(user.roles)?)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| {
            Self::fail_as(
                e,
                || StoreError::conflict("user", format!("username {:?} is taken", user.username)),
                || StoreError::not_found("referenced record", "(unknown)"),
            )
        })?;
        User::try_from(row)
    }

    /// The answer to an update of one user by id.
    fn one_user(done: <Db as sqlx::Database>::QueryResult, id: &str) -> Result<(), StoreError> {
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("user", id));
        }
        Ok(())
    }

    async fn family_in(tx: &mut Tx, id: &str) -> Result<Option<RefreshFamily>, StoreError> {
        let row: Option<FamilyRow> = sqlx::query_as(concat!(
            "SELECT ",
            family_columns!(),
            " FROM refresh_families WHERE id = $1",
            for_update!()
        ))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(Self::fail)?;
        row.map(RefreshFamily::try_from).transpose()
    }

    async fn token_in(tx: &mut Tx, hash: &TokenHash) -> Result<Option<RefreshToken>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(concat!(
            "SELECT ",
            token_columns!(),
            " FROM refresh_tokens WHERE token_hash = $1"
        ))
        .bind(&hash.as_bytes()[..])
        .fetch_optional(&mut **tx)
        .await
        .map_err(Self::fail)?;
        row.map(RefreshToken::try_from).transpose()
    }

    async fn insert_token(
        tx: &mut Tx,
        hash: &TokenHash,
        family_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<RefreshToken, StoreError> {
        let row: TokenRow = sqlx::query_as(concat!(
            "INSERT INTO refresh_tokens (token_hash, family_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) RETURNING ",
            token_columns!()
        ))
        .bind(&hash.as_bytes()[..])
        .bind(family_id)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| {
            Self::fail_as(
                e,
                || StoreError::conflict("refresh token", "a token with this hash exists"),
                || StoreError::not_found("refresh family", family_id),
            )
        })?;
        RefreshToken::try_from(row)
    }

    /// Moves the family's idle expiry after a rotation at `now`.
    async fn touch_family(
        tx: &mut Tx,
        family: &RefreshFamily,
        now: i64,
    ) -> Result<RefreshFamily, StoreError> {
        let row: FamilyRow = sqlx::query_as(concat!(
            "UPDATE refresh_families SET last_used_at = $2, idle_expires_at = $3 WHERE id = $1 \
             RETURNING ",
            family_columns!()
        ))
        .bind(&family.id)
        .bind(now)
        .bind(token_expiry(now, family.idle_ttl, family.expires_at))
        .fetch_one(&mut **tx)
        .await
        .map_err(Self::fail)?;
        RefreshFamily::try_from(row)
    }

    /// One attempt of `find_or_link_external_identity`.
    async fn find_or_link_once(
        &self,
        identity: NewExternalIdentity<'_>,
        target: LinkTarget<'_>,
        now: i64,
    ) -> Result<ExternalLogin, StoreError> {
        let mut tx = self.write_tx().await?;
        let found: Option<IdentityRow> = sqlx::query_as(concat!(
            "UPDATE external_identities SET email = $3, email_verified = $4, last_login_at = $5 \
             WHERE issuer = $1 AND subject = $2 RETURNING ",
            identity_columns!()
        ))
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(identity.email)
        .bind(identity.email_verified)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Self::fail)?;
        if let Some(row) = found {
            let identity = ExternalIdentity::from(row);
            let user = Self::user_in(&mut tx, &identity.user_id)
                .await?
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "external identity linked to missing user {}",
                        identity.user_id
                    ))
                })?;
            Self::commit(tx).await?;
            return Ok(ExternalLogin {
                user,
                identity,
                outcome: LinkOutcome::Existing,
            });
        }
        let (user, outcome) = match target {
            LinkTarget::User(id) => (
                Self::user_in(&mut tx, id)
                    .await?
                    .ok_or_else(|| StoreError::not_found("user", id))?,
                LinkOutcome::Linked,
            ),
            LinkTarget::BareUser(id) => {
                let row: Option<UserRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE id = $1",
                    for_update!()
                ))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Self::fail)?;
                let user = row
                    .map(User::try_from)
                    .transpose()?
                    .ok_or_else(|| StoreError::not_found("user", id))?;
                if user.password_hash.is_some() || !user.roles.is_empty() {
                    return Err(StoreError::conflict(
                        "user",
                        "the account has a password or a role now",
                    ));
                }
                (user, LinkOutcome::Linked)
            }
            LinkTarget::NewUser(new) => (
                Self::insert_user(&mut tx, new, now).await?,
                LinkOutcome::Created,
            ),
        };
        let row: IdentityRow = sqlx::query_as(concat!(
            "INSERT INTO external_identities (issuer, subject, user_id, email, email_verified, \
             created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
            identity_columns!()
        ))
        .bind(identity.issuer)
        .bind(identity.subject)
        .bind(&user.id)
        .bind(identity.email)
        .bind(identity.email_verified)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            Self::fail_as(
                e,
                || {
                    StoreError::conflict(
                        "external identity",
                        format!("{} at {} is linked", identity.subject, identity.issuer),
                    )
                },
                || StoreError::not_found("user", user.id.clone()),
            )
        })?;
        Self::commit(tx).await?;
        Ok(ExternalLogin {
            user,
            identity: row.into(),
            outcome,
        })
    }

    async fn key_state_in(tx: &mut Tx, kid: &str) -> Result<Option<KeyState>, StoreError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM signing_keys WHERE kid = $1")
                .bind(kid)
                .fetch_optional(&mut **tx)
                .await
                .map_err(Self::fail)?;
        state.as_deref().map(parse_state).transpose()
    }

    /// The error for a compare-and-set on a key that did not match.
    async fn key_mismatch(tx: &mut Tx, kid: &str, expected: KeyState) -> StoreError {
        match Self::key_state_in(tx, kid).await {
            Ok(Some(actual)) => StoreError::KeyStateMismatch {
                kid: kid.to_owned(),
                expected,
                actual,
            },
            Ok(None) => StoreError::not_found("signing key", kid),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl Store for This {
    fn backend(&self) -> Backend {
        BACKEND
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // A query that reads the schema, not just the connection: on SQLite `SELECT 1` never
        // touches the database file, and a dropped PostgreSQL schema would go unnoticed.
        sqlx::query("SELECT 1 FROM signing_keys LIMIT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(Self::fail)
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    // ---- users ---------------------------------------------------------------------------

    async fn create_user(&self, user: NewUser<'_>, now: i64) -> Result<User, StoreError> {
        let mut tx = self.write_tx().await?;
        let user = Self::insert_user(&mut tx, user, now).await?;
        Self::commit(tx).await?;
        Ok(user)
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        row.map(User::try_from).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        row.map(User::try_from).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users ORDER BY username"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn set_user_roles(&self, id: &str, roles: &[String], now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET roles = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(encode_list(roles)?)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(Self::fail)?;
        Self::one_user(done, id)
    }

    async fn set_user_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET disabled = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(disabled)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(Self::fail)?;
        Self::one_user(done, id)
    }

    async fn set_user_password_hash(
        &self,
        id: &str,
        password_hash: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(password_hash)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(Self::fail)?;
        Self::one_user(done, id)
    }

    // ---- usernames and password compare-and-set (issue 9) ---------------------------------

    async fn usernames(&self) -> Result<Vec<(String, String)>, StoreError> {
        sqlx::query_as("SELECT id, username FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await
            .map_err(Self::fail)
    }

    async fn rename_user(&self, id: &str, username: &str, now: i64) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE users SET username = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(username)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                Self::fail_as(
                    e,
                    || StoreError::conflict("user", format!("username {username:?} is taken")),
                    || StoreError::not_found("referenced record", "(unknown)"),
                )
            })?;
        Self::one_user(done, id)
    }

    async fn set_password_hash_if(
        &self,
        id: &str,
        expected: &str,
        new: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        // One statement: the comparison and the write cannot be split by another writer.
        let done = sqlx::query(
            "UPDATE users SET password_hash = $3, updated_at = $4 \
             WHERE id = $1 AND password_hash = $2",
        )
        .bind(id)
        .bind(expected)
        .bind(new)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(Self::fail)?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        match self.user_by_id(id).await? {
            Some(_) => Ok(false),
            None => Err(StoreError::not_found("user", id)),
        }
    }

    // ---- outside identities ----------------------------------------------------------------

    async fn external_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<ExternalIdentity>, StoreError> {
        let row: Option<IdentityRow> = sqlx::query_as(concat!(
            "SELECT ",
            identity_columns!(),
            " FROM external_identities WHERE issuer = $1 AND subject = $2"
        ))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(row.map(ExternalIdentity::from))
    }

    async fn external_identities_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<ExternalIdentity>, StoreError> {
        let rows: Vec<IdentityRow> = sqlx::query_as(concat!(
            "SELECT ",
            identity_columns!(),
            " FROM external_identities WHERE user_id = $1 ORDER BY issuer, subject"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(rows.into_iter().map(ExternalIdentity::from).collect())
    }

    async fn find_or_link_external_identity(
        &self,
        identity: NewExternalIdentity<'_>,
        target: LinkTarget<'_>,
        now: i64,
    ) -> Result<ExternalLogin, StoreError> {
        // Two first sign-ins of one identity can race on PostgreSQL (neither sees the link
        // when it looks). The loser fails on a unique index after the winner committed; its
        // second attempt then finds the winner's link. A conflict on the second attempt is
        // real (e.g. the new user's username belongs to someone else).
        match self.find_or_link_once(identity, target, now).await {
            Err(StoreError::Conflict { .. }) => self.find_or_link_once(identity, target, now).await,
            other => other,
        }
    }

    async fn unlink_external_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<(), StoreError> {
        let done =
            sqlx::query("DELETE FROM external_identities WHERE issuer = $1 AND subject = $2")
                .bind(issuer)
                .bind(subject)
                .execute(&self.pool)
                .await
                .map_err(Self::fail)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found(
                "external identity",
                format!("{subject} at {issuer}"),
            ));
        }
        Ok(())
    }

    async fn unlink_identity_of(
        &self,
        user_id: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<Unlink, StoreError> {
        let mut tx = self.write_tx().await?;
        // The user's row, held until the end: concurrent removals of this user's identities
        // are decided one after the other.
        let password: Option<(Option<String>,)> = sqlx::query_as(concat!(
            "SELECT password_hash FROM users WHERE id = $1",
            for_update!()
        ))
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Self::fail)?;
        let Some((password,)) = password else {
            return Ok(Unlink::NotFound);
        };
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM external_identities WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(Self::fail)?;
        let (owned,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM external_identities \
             WHERE issuer = $1 AND subject = $2 AND user_id = $3",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(Self::fail)?;
        if owned == 0 {
            return Ok(Unlink::NotFound);
        }
        if password.is_none() && count <= 1 {
            return Ok(Unlink::LastSignInMethod);
        }
        sqlx::query(
            "DELETE FROM external_identities WHERE issuer = $1 AND subject = $2 AND user_id = $3",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(Self::fail)?;
        Self::commit(tx).await?;
        Ok(Unlink::Removed)
    }

    // ---- OAuth clients ---------------------------------------------------------------------

    async fn create_client(&self, client: NewClient<'_>, now: i64) -> Result<Client, StoreError> {
        let row: ClientRow = sqlx::query_as(concat!(
            "INSERT INTO clients (client_id, secret_hash, name, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING ",
            client_columns!()
        ))
        .bind(new_id()?)
        .bind(client.secret_hash)
        .bind(client.name)
        .bind(encode_list(client.scopes)?)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(Self::fail)?;
        Client::try_from(row)
    }

    async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let row: Option<ClientRow> = sqlx::query_as(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        row.map(Client::try_from).transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows: Vec<ClientRow> = sqlx::query_as(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients ORDER BY name, client_id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn delete_client(&self, client_id: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(Self::fail)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("client", client_id));
        }
        Ok(())
    }

    // ---- refresh tokens --------------------------------------------------------------------

    async fn create_refresh_family(
        &self,
        family: NewRefreshFamily<'_>,
        first_token: &TokenHash,
        now: i64,
    ) -> Result<(RefreshFamily, RefreshToken), StoreError> {
        if family.idle_ttl <= 0 {
            return Err(StoreError::Invalid(format!(
                "idle_ttl must be positive, got {}",
                family.idle_ttl
            )));
        }
        if family.expires_at <= now {
            return Err(StoreError::Invalid(format!(
                "the family would expire at {}, not after now ({now})",
                family.expires_at
            )));
        }
        let expires_at = token_expiry(now, family.idle_ttl, family.expires_at);
        let mut tx = self.write_tx().await?;
        // Checked here rather than read from a foreign-key violation, which does not say which
        // reference is missing.
        if Self::user_in(&mut tx, family.user_id).await?.is_none() {
            return Err(StoreError::not_found("user", family.user_id));
        }
        if let Some(client_id) = family.client_id {
            let exists: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(Self::fail)?;
            if exists.is_none() {
                return Err(StoreError::not_found("client", client_id));
            }
        }
        let row: FamilyRow = sqlx::query_as(concat!(
            "INSERT INTO refresh_families (id, user_id, client_id, scopes, created_at, \
             last_used_at, expires_at, idle_ttl, idle_expires_at, user_agent, client_address) \
             VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10) RETURNING ",
            family_columns!()
        ))
        .bind(new_id()?)
        .bind(family.user_id)
        .bind(family.client_id)
        .bind(encode_list(family.scopes)?)
        .bind(now)
        .bind(family.expires_at)
        .bind(family.idle_ttl)
        .bind(expires_at)
        .bind(family.user_agent)
        .bind(family.client_address)
        .fetch_one(&mut *tx)
        .await
        .map_err(Self::fail)?;
        let created = RefreshFamily::try_from(row)?;
        let token = Self::insert_token(&mut tx, first_token, &created.id, now, expires_at).await?;
        Self::commit(tx).await?;
        Ok((created, token))
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        successor: &TokenHash,
        now: i64,
        reuse_grace: i64,
    ) -> Result<Rotation, StoreError> {
        if presented == successor {
            return Err(StoreError::Invalid(
                "the successor token must differ from the presented one".to_owned(),
            ));
        }
        let mut tx = self.write_tx().await?;
        // Every change to a family's tokens happens with the family row locked (PostgreSQL:
        // FOR UPDATE; SQLite: the write transaction), so the token is read again after the
        // lock is held: what a concurrent rotation committed meanwhile is seen.
        let family_id: Option<String> =
            sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(&presented.as_bytes()[..])
                .fetch_optional(&mut *tx)
                .await
                .map_err(Self::fail)?;
        let Some(family_id) = family_id else {
            return Ok(Rotation::Unknown);
        };
        let Some(family) = Self::family_in(&mut tx, &family_id).await? else {
            return Ok(Rotation::Unknown); // purged meanwhile
        };
        let Some(token) = Self::token_in(&mut tx, presented).await? else {
            return Ok(Rotation::Unknown); // purged meanwhile
        };

        if family.revoked_at.is_some() {
            return Ok(Rotation::Revoked {
                family_id: family.id,
                reason: family.revoked_reason,
            });
        }
        if !family.is_active(now) {
            return Ok(Rotation::Expired {
                family_id: family.id,
            });
        }
        let in_grace = match token.used_at {
            None if now >= token.expires_at => {
                return Ok(Rotation::Expired {
                    family_id: family.id,
                });
            }
            None => false,
            Some(used_at) if reuse_grace > 0 && now.saturating_sub(used_at) < reuse_grace => true,
            Some(_) => {
                sqlx::query(
                    "UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3 \
                     WHERE id = $1",
                )
                .bind(&family.id)
                .bind(now)
                .bind(revocation_reason::REUSE_DETECTED)
                .execute(&mut *tx)
                .await
                .map_err(Self::fail)?;
                Self::commit(tx).await?;
                return Ok(Rotation::ReuseDetected {
                    family_id: family.id,
                    user_id: family.user_id,
                });
            }
        };

        let Some(user) = Self::user_in(&mut tx, &family.user_id).await? else {
            return Err(StoreError::Corrupt(format!(
                "refresh family {} belongs to missing user {}",
                family.id, family.user_id
            )));
        };
        if user.disabled {
            return Ok(Rotation::UserDisabled {
                family_id: family.id,
                user_id: user.id,
            });
        }

        // Rotation marks the presented token used; a retry in the grace window supersedes
        // whichever token is live now (the presented one's successor, or a later one). Either
        // way the family's live token is retired before the successor is inserted, which the
        // one-live-token-per-family index requires.
        let retired = if in_grace {
            sqlx::query(
                "UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 \
                 WHERE family_id = $1 AND used_at IS NULL",
            )
            .bind(&family.id)
        } else {
            sqlx::query(
                "UPDATE refresh_tokens SET used_at = $2, replaced_by = $3 \
                 WHERE token_hash = $1 AND used_at IS NULL",
            )
            .bind(&presented.as_bytes()[..])
        }
        .bind(now)
        .bind(&successor.as_bytes()[..])
        .execute(&mut *tx)
        .await
        .map_err(Self::fail)?;
        if !in_grace && retired.rows_affected() != 1 {
            // Cannot happen while the family lock holds; refuse rather than fork the chain.
            return Err(StoreError::Database {
                source: "refresh token changed under the family lock".into(),
            });
        }
        let expires_at = token_expiry(now, family.idle_ttl, family.expires_at);
        let successor = Self::insert_token(&mut tx, successor, &family.id, now, expires_at).await?;
        let family = Self::touch_family(&mut tx, &family, now).await?;
        Self::commit(tx).await?;
        Ok(if in_grace {
            Rotation::Grace {
                family,
                user,
                successor,
            }
        } else {
            Rotation::Rotated {
                family,
                user,
                successor,
            }
        })
    }

    async fn refresh_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<RefreshTokenRecord>, StoreError> {
        // A read transaction, so that token and family are one snapshot.
        let mut tx = self.pool.begin().await.map_err(Self::fail)?;
        let Some(token) = Self::token_in(&mut tx, hash).await? else {
            return Ok(None);
        };
        let row: Option<FamilyRow> = sqlx::query_as(concat!(
            "SELECT ",
            family_columns!(),
            " FROM refresh_families WHERE id = $1"
        ))
        .bind(&token.family_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Self::fail)?;
        let Some(family) = row.map(RefreshFamily::try_from).transpose()? else {
            return Err(StoreError::Corrupt(format!(
                "refresh token of missing family {}",
                token.family_id
            )));
        };
        Self::commit(tx).await?;
        Ok(Some(RefreshTokenRecord { token, family }))
    }

    async fn refresh_family(&self, id: &str) -> Result<Option<RefreshFamily>, StoreError> {
        let row: Option<FamilyRow> = sqlx::query_as(concat!(
            "SELECT ",
            family_columns!(),
            " FROM refresh_families WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        row.map(RefreshFamily::try_from).transpose()
    }

    async fn revoke_refresh_family(
        &self,
        id: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(Self::fail)?;
        let revoked = done.rows_affected() == 1;
        if !revoked && Self::family_in(&mut tx, id).await?.is_none() {
            return Err(StoreError::not_found("refresh family", id));
        }
        Self::commit(tx).await?;
        Ok(revoked)
    }

    async fn revoke_user_refresh_families(
        &self,
        user_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3 \
             WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(done.rows_affected())
    }

    async fn active_refresh_families(
        &self,
        user_id: &str,
        now: i64,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        let rows: Vec<FamilyRow> = sqlx::query_as(concat!(
            "SELECT ",
            family_columns!(),
            " FROM refresh_families WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND idle_expires_at > $2 ORDER BY last_used_at DESC, id"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        rows.into_iter().map(RefreshFamily::try_from).collect()
    }

    async fn purge_expired(&self, before: i64) -> Result<PurgeReport, StoreError> {
        let mut tx = self.write_tx().await?;
        let families = sqlx::query(
            "DELETE FROM refresh_families \
             WHERE expires_at <= $1 OR idle_expires_at <= $1 OR revoked_at <= $1",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(Self::fail)?
        .rows_affected();
        let tokens = sqlx::query(
            "DELETE FROM refresh_tokens WHERE used_at IS NOT NULL AND expires_at <= $1",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(Self::fail)?
        .rows_affected();
        Self::commit(tx).await?;
        Ok(PurgeReport { families, tokens })
    }

    // ---- signing keys ------------------------------------------------------------------------

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows: Vec<KeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            key_columns!(),
            " FROM signing_keys ORDER BY created_at, kid"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        rows.into_iter().map(SigningKeyRecord::try_from).collect()
    }

    async fn insert_signing_key(
        &self,
        key: &NewSigningKey<'_>,
        now: i64,
    ) -> Result<SigningKeyRecord, StoreError> {
        let activated_at = match key.state {
            KeyState::Next => None,
            KeyState::Active => Some(now),
            KeyState::Retired | KeyState::Revoked => {
                return Err(StoreError::Invalid(
                    "a new signing key is next or active, not retired or revoked".to_owned(),
                ));
            }
        };
        let mut tx = self.write_tx().await?;
        if Self::key_state_in(&mut tx, key.kid).await?.is_some() {
            return Err(StoreError::conflict(
                "signing key",
                format!("kid {:?}", key.kid),
            ));
        }
        let row: KeyRow = sqlx::query_as(concat!(
            "INSERT INTO signing_keys (kid, alg, state, private_key_ciphertext, \
             private_key_nonce, master_key_id, public_jwk, created_at, activated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
            key_columns!()
        ))
        .bind(key.kid)
        .bind(key.alg)
        .bind(key.state.as_str())
        .bind(&key.private_key.ciphertext)
        .bind(&key.private_key.nonce)
        .bind(&key.private_key.master_key_id)
        .bind(key.public_jwk)
        .bind(now)
        .bind(activated_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            Self::fail_as(
                e,
                || {
                    StoreError::conflict(
                        "signing key",
                        format!("another key is already {}", key.state),
                    )
                },
                || StoreError::not_found("referenced record", "(unknown)"),
            )
        })?;
        Self::commit(tx).await?;
        SigningKeyRecord::try_from(row)
    }

    async fn transition_signing_keys(
        &self,
        transitions: &[KeyTransition<'_>],
        now: i64,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        for t in transitions {
            check_transition(t.from, t.to, t.delete_after)?;
        }
        // Retirements (and revocations) first: the index allowing one active key is checked
        // per statement.
        let mut ordered: Vec<&KeyTransition<'_>> = transitions.iter().collect();
        ordered.sort_by_key(|t| t.to == KeyState::Active);

        let mut tx = self.write_tx().await?;
        let mut changed = Vec::with_capacity(ordered.len());
        for t in ordered {
            let query = if t.to == KeyState::Revoked {
                // A revoked key never signs again: its private key is erased, not kept.
                sqlx::query_as(concat!(
                    "UPDATE signing_keys SET state = 'revoked', \
                     retired_at = COALESCE(retired_at, $3), delete_after = NULL, \
                     private_key_ciphertext = $4, private_key_nonce = $4 \
                     WHERE kid = $1 AND state = $2 RETURNING ",
                    key_columns!()
                ))
                .bind(t.kid)
                .bind(t.from.as_str())
                .bind(now)
                .bind(Vec::<u8>::new())
            } else if t.to == KeyState::Retired {
                sqlx::query_as(concat!(
                    "UPDATE signing_keys SET state = 'retired', retired_at = $3, \
                     delete_after = $4 WHERE kid = $1 AND state = $2 RETURNING ",
                    key_columns!()
                ))
                .bind(t.kid)
                .bind(t.from.as_str())
                .bind(now)
                .bind(t.delete_after)
            } else {
                sqlx::query_as(concat!(
                    "UPDATE signing_keys SET state = 'active', activated_at = $3 \
                     WHERE kid = $1 AND state = $2 RETURNING ",
                    key_columns!()
                ))
                .bind(t.kid)
                .bind(t.from.as_str())
                .bind(now)
            };
            let row: Option<KeyRow> = query.fetch_optional(&mut *tx).await.map_err(|e| {
                Self::fail_as(
                    e,
                    || {
                        StoreError::conflict(
                            "signing key",
                            format!("another key is already {}", t.to),
                        )
                    },
                    || StoreError::not_found("referenced record", "(unknown)"),
                )
            })?;
            match row {
                Some(row) => changed.push(SigningKeyRecord::try_from(row)?),
                None => return Err(Self::key_mismatch(&mut tx, t.kid, t.from).await),
            }
        }
        Self::commit(tx).await?;
        Ok(changed)
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("DELETE FROM signing_keys WHERE kid = $1 AND state = 'retired'")
            .bind(kid)
            .execute(&mut *tx)
            .await
            .map_err(Self::fail)?;
        if done.rows_affected() == 0 {
            return Err(Self::key_mismatch(&mut tx, kid, KeyState::Retired).await);
        }
        Self::commit(tx).await
    }

    async fn reseal_signing_key(
        &self,
        kid: &str,
        current: &EncryptedPrivateKey,
        resealed: &EncryptedPrivateKey,
    ) -> Result<bool, StoreError> {
        // The nonce is random per seal: matching it (and the master key id) is the
        // compare-and-set, so a concurrent reseal of the same row is never overwritten.
        let done = sqlx::query(
            "UPDATE signing_keys SET private_key_ciphertext = $4, private_key_nonce = $5, \
             master_key_id = $6 WHERE kid = $1 AND master_key_id = $2 \
             AND private_key_nonce = $3 AND state <> 'revoked'",
        )
        .bind(kid)
        .bind(&current.master_key_id)
        .bind(&current.nonce)
        .bind(&resealed.ciphertext)
        .bind(&resealed.nonce)
        .bind(&resealed.master_key_id)
        .execute(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(done.rows_affected() == 1)
    }

    async fn try_rotation_lock(
        &self,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<Option<RotationLock>, StoreError> {
        if ttl <= 0 {
            return Err(StoreError::Invalid(format!(
                "a lock lease lasts a positive time, got {ttl} s"
            )));
        }
        // The row is taken over only if its lease has lapsed (or was released); the update
        // and its condition are one atomic statement on both databases.
        let row: Option<LockRow> = sqlx::query_as(concat!(
            "INSERT INTO locks (name, holder, fence, acquired_at, expires_at) \
             VALUES ($1, $2, 1, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             fence = locks.fence + 1, acquired_at = excluded.acquired_at, \
             expires_at = excluded.expires_at \
             WHERE locks.expires_at <= excluded.acquired_at RETURNING ",
            lock_columns!()
        ))
        .bind(ROTATION_LOCK)
        .bind(holder)
        .bind(now)
        .bind(now.saturating_add(ttl))
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(row.map(RotationLock::from))
    }

    async fn renew_rotation_lock(
        &self,
        lock: &RotationLock,
        now: i64,
        ttl: i64,
    ) -> Result<Option<RotationLock>, StoreError> {
        if ttl <= 0 {
            return Err(StoreError::Invalid(format!(
                "a lock lease lasts a positive time, got {ttl} s"
            )));
        }
        let row: Option<LockRow> = sqlx::query_as(concat!(
            "UPDATE locks SET expires_at = $4 WHERE name = $1 AND fence = $2 \
             AND holder IS NOT NULL AND expires_at > $3 RETURNING ",
            lock_columns!()
        ))
        .bind(ROTATION_LOCK)
        .bind(lock.fence)
        .bind(now)
        .bind(now.saturating_add(ttl))
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(row.map(RotationLock::from))
    }

    async fn release_rotation_lock(&self, lock: &RotationLock) -> Result<bool, StoreError> {
        // The row stays (so that the fence keeps growing); it just lapses at once.
        let done = sqlx::query(
            "UPDATE locks SET holder = NULL, expires_at = $3 \
             WHERE name = $1 AND fence = $2 AND holder IS NOT NULL",
        )
        .bind(ROTATION_LOCK)
        .bind(lock.fence)
        .bind(i64::MIN)
        .execute(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(done.rows_affected() == 1)
    }
    // ---- login-throttle buckets -------------------------------------------------------------

    async fn take_from_bucket(
        &self,
        key: &BucketKey,
        take: BucketTake,
        now: i64,
    ) -> Result<BucketOutcome, StoreError> {
        if take.period < 1 || take.limit < take.period || take.ceiling < take.period {
            return Err(StoreError::Invalid(format!(
                "a bucket take needs 1 <= period <= limit, ceiling; got {take:?}"
            )));
        }
        // One statement, atomic on both databases: concurrent takes from several instances
        // each see the other's result. The bounds are computed here (saturating), not in SQL.
        let taken: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO throttle_buckets (key, tat) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET tat = CASE \
               WHEN (CASE WHEN throttle_buckets.tat > $2 THEN throttle_buckets.tat ELSE $2 END) + $3 > $5 \
               THEN $5 \
               ELSE (CASE WHEN throttle_buckets.tat > $2 THEN throttle_buckets.tat ELSE $2 END) + $3 END \
             WHERE (CASE WHEN throttle_buckets.tat > $2 THEN throttle_buckets.tat ELSE $2 END) + $3 <= $4 \
             RETURNING tat",
        )
        .bind(&key.as_bytes()[..])
        .bind(now)
        .bind(take.period)
        .bind(now.saturating_add(take.limit))
        .bind(now.saturating_add(take.ceiling))
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        if let Some((tat,)) = taken {
            return Ok(BucketOutcome::Taken { tat });
        }
        let current: Option<(i64,)> =
            sqlx::query_as("SELECT tat FROM throttle_buckets WHERE key = $1")
                .bind(&key.as_bytes()[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(Self::fail)?;
        // Purged in between: the bucket is full again, which the next try will see.
        Ok(BucketOutcome::Refused {
            tat: current.map_or(now, |(tat,)| tat),
        })
    }

    async fn give_back_to_bucket(
        &self,
        key: &BucketKey,
        period: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE throttle_buckets \
             SET tat = CASE WHEN tat - $2 > $3 THEN tat - $2 ELSE $3 END WHERE key = $1",
        )
        .bind(&key.as_bytes()[..])
        .bind(period.max(0))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(())
    }

    async fn purge_full_buckets(&self, now: i64, max_rows: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM throttle_buckets WHERE key IN \
             (SELECT key FROM throttle_buckets WHERE tat <= $1 LIMIT $2)",
        )
        .bind(now)
        .bind(max_rows.max(0))
        .execute(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(done.rows_affected())
    }

    // ---- storage upkeep (issue 9) ------------------------------------------------------------

    async fn users_page(
        &self,
        after: Option<PageAfter<'_>>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let after = match after {
            None => None,
            Some(PageAfter::User(username)) => Some(username),
            Some(other) => return Err(StoreError::Invalid(format!("{other:?} is not a user"))),
        };
        // Usernames are never empty: "" sorts before every one of them.
        let rows: Vec<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username > $1 ORDER BY username LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn clients_page(
        &self,
        after: Option<PageAfter<'_>>,
        limit: u32,
    ) -> Result<Vec<Client>, StoreError> {
        let limit = i64::from(limit);
        let rows: Vec<ClientRow> = match after {
            None => sqlx::query_as(concat!(
                "SELECT ",
                client_columns!(),
                " FROM clients ORDER BY name, client_id LIMIT $1"
            ))
            .bind(limit),
            Some(PageAfter::Client { name, client_id }) => sqlx::query_as(concat!(
                "SELECT ",
                client_columns!(),
                " FROM clients WHERE name > $1 OR (name = $1 AND client_id > $2) \
                 ORDER BY name, client_id LIMIT $3"
            ))
            .bind(name)
            .bind(client_id)
            .bind(limit),
            Some(other) => return Err(StoreError::Invalid(format!("{other:?} is not a client"))),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    async fn active_refresh_families_page(
        &self,
        user_id: &str,
        now: i64,
        after: Option<PageAfter<'_>>,
        limit: u32,
    ) -> Result<Vec<RefreshFamily>, StoreError> {
        let (created_at, id) = match after {
            // Every family sorts before (i64::MAX, ""): the first page.
            None => (i64::MAX, ""),
            Some(PageAfter::Session { created_at, id }) => (created_at, id),
            Some(other) => return Err(StoreError::Invalid(format!("{other:?} is not a session"))),
        };
        let rows: Vec<FamilyRow> = sqlx::query_as(concat!(
            "SELECT ",
            family_columns!(),
            " FROM refresh_families WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND idle_expires_at > $2 \
             AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(user_id)
        .bind(now)
        .bind(created_at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(Self::fail)?;
        rows.into_iter().map(RefreshFamily::try_from).collect()
    }

    async fn revoke_families_beyond(
        &self,
        user_id: &str,
        keep: &str,
        max_live: u32,
        reason: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        if max_live == 0 {
            return Err(StoreError::Invalid(
                "a user keeps at least one session".to_owned(),
            ));
        }
        let mut tx = self.write_tx().await?;
        // The user's row is the queue of its logins: a concurrent cap waits here and then sees
        // every family committed before it.
        let user: Option<String> = sqlx::query_scalar(concat!(
            "SELECT id FROM users WHERE id = $1",
            for_update!()
        ))
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Self::fail)?;
        if user.is_none() {
            return Ok(0);
        }
        let done = sqlx::query(
            "UPDATE refresh_families SET revoked_at = $4, revoked_reason = $5 WHERE id IN ( \
             SELECT id FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY \
             CASE WHEN id = $2 THEN 0 ELSE 1 END, last_used_at DESC, created_at DESC, id DESC) \
             AS place FROM refresh_families WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $4 AND idle_expires_at > $4) AS live WHERE place > $3)",
        )
        .bind(user_id)
        .bind(keep)
        .bind(i64::from(max_live))
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(Self::fail)?;
        Self::commit(tx).await?;
        Ok(done.rows_affected())
    }

    async fn delete_user(&self, id: &str, now: i64) -> Result<UserDeletion, StoreError> {
        let mut tx = self.write_tx().await?;
        let user: Option<String> = sqlx::query_scalar(concat!(
            "SELECT id FROM users WHERE id = $1",
            for_update!()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(Self::fail)?;
        if user.is_none() {
            return Err(StoreError::not_found("user", id));
        }
        let sessions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM refresh_families WHERE user_id = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND idle_expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(Self::fail)?;
        // Explicit rather than left to ON DELETE CASCADE alone, so that the counts are what
        // was removed and nothing depends on SQLite's foreign_keys pragma.
        sqlx::query(
            "DELETE FROM refresh_tokens WHERE family_id IN \
             (SELECT id FROM refresh_families WHERE user_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(Self::fail)?;
        sqlx::query("DELETE FROM refresh_families WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Self::fail)?;
        let identities = sqlx::query("DELETE FROM external_identities WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Self::fail)?
            .rows_affected();
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                Self::fail_as(
                    e,
                    || StoreError::conflict("user", "a unique value is taken"),
                    || StoreError::conflict("user", "other records still refer to this user"),
                )
            })?;
        Self::commit(tx).await?;
        Ok(UserDeletion {
            sessions: u64::try_from(sessions).unwrap_or(0),
            identities,
        })
    }

    async fn try_purge_lock(
        &self,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<Option<RotationLock>, StoreError> {
        self.try_named_lock(PURGE_LOCK, holder, now, ttl).await
    }

    async fn release_purge_lock(&self, lock: &RotationLock) -> Result<bool, StoreError> {
        self.release_named_lock(PURGE_LOCK, lock).await
    }
}

// The lease protocol of the key-rotation lock, for the other leases (issue 9: the purge).
impl This {
    async fn try_named_lock(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl: i64,
    ) -> Result<Option<RotationLock>, StoreError> {
        if ttl <= 0 {
            return Err(StoreError::Invalid(format!(
                "a lock lease lasts a positive time, got {ttl} s"
            )));
        }
        let row: Option<LockRow> = sqlx::query_as(concat!(
            "INSERT INTO locks (name, holder, fence, acquired_at, expires_at) \
             VALUES ($1, $2, 1, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             fence = locks.fence + 1, acquired_at = excluded.acquired_at, \
             expires_at = excluded.expires_at \
             WHERE locks.expires_at <= excluded.acquired_at RETURNING ",
            lock_columns!()
        ))
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(now.saturating_add(ttl))
        .fetch_optional(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(row.map(RotationLock::from))
    }

    async fn release_named_lock(&self, name: &str, lock: &RotationLock) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE locks SET holder = NULL, expires_at = $3 \
             WHERE name = $1 AND fence = $2 AND holder IS NOT NULL",
        )
        .bind(name)
        .bind(lock.fence)
        .bind(i64::MIN)
        .execute(&self.pool)
        .await
        .map_err(Self::fail)?;
        Ok(done.rows_affected() == 1)
    }
}
