//! One contract for every `Store`: each case below runs against SQLite (a real file in a temp
//! dir) and PostgreSQL (the server at 127.0.0.1:5432, or `TESSERA_TEST_DATABASE_URL`, each
//! test in a fresh schema that it drops afterwards). If PostgreSQL is not reachable the
//! PostgreSQL tests fail, saying how to start it; they are never skipped.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tessera_server::store::{
    self, EncryptedPrivateKey, KeyState, KeyTransition, LinkOutcome, LinkTarget, NewClient,
    NewExternalIdentity, NewRefreshFamily, NewSigningKey, NewUser, RefreshFamily, Rotation, Store,
    StoreError, StoreOptions, TokenHash, Unlink, User, revocation_reason,
};

use crate::harness::Ctx;

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

on_both_backends!(
    ping_and_close,
    ping_reads_the_schema,
    reopening_keeps_data,
    users_are_created_and_found,
    username_is_unique,
    user_updates,
    external_identities_find_or_link,
    concurrent_first_external_sign_ins_make_one_user,
    a_user_removes_own_identities_but_keeps_a_way_to_sign_in,
    automatic_links_join_only_bare_accounts,
    concurrent_removals_leave_one_identity,
    clients,
    refresh_family_creation,
    rotation_moves_the_chain,
    reuse_after_grace_revokes_the_family,
    reuse_within_grace_keeps_one_chain,
    zero_grace_means_any_reuse_is_theft,
    rejected_rotations_change_nothing,
    disabled_user_cannot_rotate,
    fifty_concurrent_rotations_leave_one_chain,
    fifty_concurrent_rotations_without_grace_revoke,
    revocation_and_sessions,
    purge_expired,
    cancelled_writes_leave_no_transaction_open,
    signing_keys_insert_and_list,
    signing_key_transitions_are_compare_and_set,
    signing_key_deletion,
    rotation_lock_has_one_holder,
    rotation_lock_lapses_and_fences,
    concurrent_rotation_lock_attempts_one_winner,
    with_rotation_lock_releases,
);

// ---- helpers ---------------------------------------------------------------------------------

fn roles(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn token(label: &str) -> TokenHash {
    TokenHash::of(format!("opaque-refresh-token-{label}"))
}

async fn user(store: &dyn Store, name: &str) -> User {
    store
        .create_user(
            NewUser {
                username: name,
                password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
                roles: &roles(&["user"]),
            },
            NOW,
        )
        .await
        .unwrap()
}

fn login<'a>(user: &'a User) -> NewRefreshFamily<'a> {
    NewRefreshFamily {
        user_id: &user.id,
        client_id: None,
        scopes: &[],
        expires_at: NOW + 30 * DAY,
        idle_ttl: 7 * DAY,
        user_agent: Some("curl/8.5"),
        client_address: Some("127.0.0.1"),
    }
}

async fn family(store: &dyn Store, user: &User, first: &TokenHash) -> RefreshFamily {
    store
        .create_refresh_family(login(user), first, NOW)
        .await
        .unwrap()
        .0
}

/// Live (unused) tokens among `hashes`, as the store reports them.
async fn live_tokens(store: &dyn Store, hashes: &[TokenHash]) -> Vec<TokenHash> {
    let mut live = Vec::new();
    for h in hashes {
        if let Some(record) = store.refresh_token(h).await.unwrap()
            && record.token.used_at.is_none()
        {
            live.push(*h);
        }
    }
    live
}

fn encrypted(tag: u8) -> EncryptedPrivateKey {
    EncryptedPrivateKey {
        ciphertext: vec![tag; 48],
        nonce: vec![tag ^ 0xff; 12],
        master_key_id: "mk-1".to_owned(),
    }
}

async fn insert_key(store: &dyn Store, kid: &str, state: KeyState, now: i64) {
    store
        .insert_signing_key(
            &NewSigningKey {
                kid,
                alg: "ES256",
                state,
                private_key: &encrypted(kid.len() as u8),
                public_jwk: &format!(r#"{{"kty":"EC","crv":"P-256","kid":"{kid}"}}"#),
            },
            now,
        )
        .await
        .unwrap();
}

async fn key_states(store: &dyn Store) -> Vec<(String, KeyState)> {
    store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.state))
        .collect()
}

// ---- basics ------------------------------------------------------------------------------------

async fn ping_and_close(ctx: Ctx) {
    ctx.store.ping().await.unwrap();
    ctx.store.close().await;
    let err = ctx.store.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = ctx.store.user_by_id("x").await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

async fn reopening_keeps_data(ctx: Ctx) {
    let alice = user(&*ctx.store, "alice").await;
    ctx.store.close().await;
    // A second start on the same database: migrations are already applied, data is there.
    let again = store::connect(&ctx.url).await.unwrap();
    assert_eq!(again.user_by_username("alice").await.unwrap(), Some(alice));
    again.close().await;
}

// ---- users ---------------------------------------------------------------------------------------

async fn users_are_created_and_found(ctx: Ctx) {
    let s = &*ctx.store;
    let bob = user(s, "bob").await;
    let alice = s
        .create_user(
            NewUser {
                username: "alice",
                password_hash: None,
                roles: &roles(&["admin", "auditor"]),
            },
            NOW + 5,
        )
        .await
        .unwrap();

    // Ids are random UUIDs, not the username, not sequential.
    assert_ne!(alice.id, bob.id);
    assert_eq!(alice.id.len(), 36, "{}", alice.id);
    assert!(!alice.id.contains("alice"));
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.password_hash, None);
    assert_eq!(alice.roles, roles(&["admin", "auditor"]));
    assert!(!alice.disabled);
    assert_eq!((alice.created_at, alice.updated_at), (NOW + 5, NOW + 5));

    assert_eq!(s.user_by_id(&alice.id).await.unwrap(), Some(alice.clone()));
    assert_eq!(s.user_by_username("bob").await.unwrap(), Some(bob.clone()));
    assert_eq!(
        s.user_by_username("Bob").await.unwrap(),
        None,
        "exact match"
    );
    assert_eq!(s.user_by_id("no-such-id").await.unwrap(), None);
    assert_eq!(s.list_users().await.unwrap(), vec![alice, bob]);

    // The password hash never shows in Debug output.
    let debug = format!("{:?}", s.user_by_username("bob").await.unwrap());
    assert!(!debug.contains("argon2"), "{debug}");
}

async fn username_is_unique(ctx: Ctx) {
    let s = &*ctx.store;
    let first = user(s, "carol").await;
    let err = s
        .create_user(
            NewUser {
                username: "carol",
                password_hash: None,
                roles: &[],
            },
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { what: "user", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("carol"), "{err}");
    assert_eq!(s.list_users().await.unwrap(), vec![first]);
}

async fn user_updates(ctx: Ctx) {
    let s = &*ctx.store;
    let dave = user(s, "dave").await;
    s.set_user_roles(&dave.id, &roles(&["admin"]), NOW + 1)
        .await
        .unwrap();
    s.set_user_disabled(&dave.id, true, NOW + 2).await.unwrap();
    s.set_user_password_hash(&dave.id, Some("$argon2id$new"), NOW + 3)
        .await
        .unwrap();
    let now = s.user_by_id(&dave.id).await.unwrap().unwrap();
    assert_eq!(now.roles, roles(&["admin"]));
    assert!(now.disabled);
    assert_eq!(now.password_hash.as_deref(), Some("$argon2id$new"));
    assert_eq!((now.created_at, now.updated_at), (NOW, NOW + 3));
    assert_eq!((now.id, now.username), (dave.id.clone(), dave.username));

    s.set_user_disabled(&dave.id, false, NOW + 4).await.unwrap();
    s.set_user_password_hash(&dave.id, None, NOW + 4)
        .await
        .unwrap();
    s.set_user_roles(&dave.id, &[], NOW + 4).await.unwrap();
    let now = s.user_by_id(&dave.id).await.unwrap().unwrap();
    assert!(!now.disabled);
    assert_eq!(now.password_hash, None);
    assert!(now.roles.is_empty());

    for err in [
        s.set_user_roles("missing", &[], NOW).await.unwrap_err(),
        s.set_user_disabled("missing", true, NOW).await.unwrap_err(),
        s.set_user_password_hash("missing", None, NOW)
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(&err, StoreError::NotFound { what: "user", id } if id == "missing"),
            "{err:?}"
        );
    }
}

// ---- outside identities ------------------------------------------------------------------------

const GOOGLE: &str = "https://accounts.google.com";

fn google<'a>(sub: &'a str, email: &'a str, verified: bool) -> NewExternalIdentity<'a> {
    NewExternalIdentity {
        issuer: GOOGLE,
        subject: sub,
        email: Some(email),
        email_verified: verified,
    }
}

async fn external_identities_find_or_link(ctx: Ctx) {
    let s = &*ctx.store;
    let new_user = NewUser {
        username: "google:1001",
        password_hash: None,
        roles: &[],
    };

    // First sign-in creates the user and the link.
    let first = s
        .find_or_link_external_identity(
            google("1001", "e@example.com", false),
            LinkTarget::NewUser(new_user),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(first.outcome, LinkOutcome::Created);
    assert_eq!(first.user.username, "google:1001");
    assert_eq!(first.identity.user_id, first.user.id);
    assert_eq!(first.identity.email.as_deref(), Some("e@example.com"));
    assert!(!first.identity.email_verified);

    // The next sign-in finds it and records what the provider says now.
    let again = s
        .find_or_link_external_identity(
            google("1001", "new@example.com", true),
            LinkTarget::NewUser(new_user),
            NOW + 60,
        )
        .await
        .unwrap();
    assert_eq!(again.outcome, LinkOutcome::Existing);
    assert_eq!(again.user, first.user);
    assert_eq!(again.identity.email.as_deref(), Some("new@example.com"));
    assert!(again.identity.email_verified);
    assert_eq!(
        (again.identity.created_at, again.identity.last_login_at),
        (NOW, NOW + 60)
    );
    assert_eq!(s.list_users().await.unwrap().len(), 1);

    // Linking to an existing account.
    let erin = user(s, "erin").await;
    let linked = s
        .find_or_link_external_identity(
            google("2002", "erin@example.com", true),
            LinkTarget::User(&erin.id),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(linked.outcome, LinkOutcome::Linked);
    assert_eq!(linked.user, erin);
    assert_eq!(
        s.external_identity(GOOGLE, "2002").await.unwrap(),
        Some(linked.identity.clone())
    );
    assert_eq!(
        s.external_identities_of(&erin.id).await.unwrap(),
        vec![linked.identity]
    );
    // An identity already linked stays with its user, whatever the target.
    let other = s
        .find_or_link_external_identity(
            google("1001", "new@example.com", true),
            LinkTarget::User(&erin.id),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        (other.outcome, other.user.id),
        (LinkOutcome::Existing, first.user.id.clone())
    );

    // Errors: missing target user, taken username; neither leaves a link behind.
    let err = s
        .find_or_link_external_identity(
            google("3003", "x@example.com", true),
            LinkTarget::User("missing"),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
    let err = s
        .find_or_link_external_identity(
            google("3003", "x@example.com", true),
            LinkTarget::NewUser(NewUser {
                username: "erin",
                password_hash: None,
                roles: &[],
            }),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { what: "user", .. }),
        "{err:?}"
    );
    assert_eq!(s.external_identity(GOOGLE, "3003").await.unwrap(), None);
    assert_eq!(
        s.external_identity("https://other", "1001").await.unwrap(),
        None
    );

    s.unlink_external_identity(GOOGLE, "2002").await.unwrap();
    assert_eq!(s.external_identity(GOOGLE, "2002").await.unwrap(), None);
    let err = s
        .unlink_external_identity(GOOGLE, "2002")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
}

async fn concurrent_first_external_sign_ins_make_one_user(ctx: Ctx) {
    let mut tasks = Vec::new();
    let barrier = Arc::new(tokio::sync::Barrier::new(10));
    for _ in 0..10 {
        let store = Arc::clone(&ctx.store);
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .find_or_link_external_identity(
                    google("4004", "f@example.com", true),
                    LinkTarget::NewUser(NewUser {
                        username: "google:4004",
                        password_hash: None,
                        roles: &[],
                    }),
                    NOW,
                )
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    let mut users = HashSet::new();
    for t in tasks {
        let login = t.await.unwrap();
        outcomes.push(login.outcome);
        users.insert(login.user.id);
    }
    assert_eq!(users.len(), 1, "one user for one identity");
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == LinkOutcome::Created)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(ctx.store.list_users().await.unwrap().len(), 1);
}

/// A user without a password, made by signing in with Google as `sub` (two identities when
/// `second` is given).
async fn federated_user(store: &dyn Store, sub: &str, second: Option<&str>) -> User {
    let name = format!("google:{sub}");
    let login = store
        .find_or_link_external_identity(
            google(sub, "g@example.com", true),
            LinkTarget::NewUser(NewUser {
                username: &name,
                password_hash: None,
                roles: &[],
            }),
            NOW,
        )
        .await
        .unwrap();
    if let Some(second) = second {
        store
            .find_or_link_external_identity(
                google(second, "g2@example.com", true),
                LinkTarget::User(&login.user.id),
                NOW,
            )
            .await
            .unwrap();
    }
    login.user
}

async fn a_user_removes_own_identities_but_keeps_a_way_to_sign_in(ctx: Ctx) {
    let s = &*ctx.store;
    let fed = federated_user(s, "5001", Some("5002")).await;
    let other = federated_user(s, "6001", None).await;

    // Another user's identity, or one nobody has: not found, nothing removed.
    assert_eq!(
        s.unlink_identity_of(&fed.id, GOOGLE, "6001").await.unwrap(),
        Unlink::NotFound
    );
    assert_eq!(
        s.unlink_identity_of(&fed.id, GOOGLE, "nobody")
            .await
            .unwrap(),
        Unlink::NotFound
    );
    assert_eq!(
        s.unlink_identity_of("no-such-user", GOOGLE, "6001")
            .await
            .unwrap(),
        Unlink::NotFound
    );
    assert!(s.external_identity(GOOGLE, "6001").await.unwrap().is_some());

    // Two identities, no password: one may go, the last may not.
    assert_eq!(
        s.unlink_identity_of(&fed.id, GOOGLE, "5001").await.unwrap(),
        Unlink::Removed
    );
    assert_eq!(
        s.unlink_identity_of(&fed.id, GOOGLE, "5002").await.unwrap(),
        Unlink::LastSignInMethod
    );
    let left: Vec<String> = s
        .external_identities_of(&fed.id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.subject)
        .collect();
    assert_eq!(left, ["5002"]);
    assert_eq!(
        s.unlink_identity_of(&other.id, GOOGLE, "6001")
            .await
            .unwrap(),
        Unlink::LastSignInMethod
    );

    // With a password, the only identity may go.
    let pat = user(s, "pat").await;
    s.find_or_link_external_identity(
        google("7001", "pat@example.com", true),
        LinkTarget::User(&pat.id),
        NOW,
    )
    .await
    .unwrap();
    assert_eq!(
        s.unlink_identity_of(&pat.id, GOOGLE, "7001").await.unwrap(),
        Unlink::Removed
    );
    assert!(s.external_identities_of(&pat.id).await.unwrap().is_empty());
}

async fn automatic_links_join_only_bare_accounts(ctx: Ctx) {
    let s = &*ctx.store;
    let bare = s
        .create_user(
            NewUser {
                username: "bare@example.com",
                password_hash: None,
                roles: &[],
            },
            NOW,
        )
        .await
        .unwrap();
    let login = s
        .find_or_link_external_identity(
            google("9001", "bare@example.com", true),
            LinkTarget::BareUser(&bare.id),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(login.outcome, LinkOutcome::Linked);
    assert_eq!(login.user.id, bare.id);

    // A password, or a role, set before the link's transaction: refused, nothing linked.
    let with_password = user(s, "pw@example.com").await;
    let with_role = s
        .create_user(
            NewUser {
                username: "role@example.com",
                password_hash: None,
                roles: &roles(&["admin"]),
            },
            NOW,
        )
        .await
        .unwrap();
    for (sub, target) in [("9002", &with_password), ("9003", &with_role)] {
        let err = s
            .find_or_link_external_identity(
                google(sub, &target.username, true),
                LinkTarget::BareUser(&target.id),
                NOW,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
        assert_eq!(s.external_identity(GOOGLE, sub).await.unwrap(), None);
    }
}

async fn concurrent_removals_leave_one_identity(ctx: Ctx) {
    // Two identities, no password, both removed at once: exactly one removal wins.
    let fed = federated_user(&*ctx.store, "8001", Some("8002")).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for sub in ["8001", "8002"] {
        let store = Arc::clone(&ctx.store);
        let barrier = Arc::clone(&barrier);
        let id = fed.id.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.unlink_identity_of(&id, GOOGLE, sub).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Unlink::LastSignInMethod, Unlink::Removed]);
    assert_eq!(
        ctx.store
            .external_identities_of(&fed.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

// ---- clients -------------------------------------------------------------------------------------

async fn clients(ctx: Ctx) {
    let s = &*ctx.store;
    let scopes = roles(&["orders:read", "orders:write"]);
    let web = s
        .create_client(
            NewClient {
                name: "web",
                secret_hash: Some("$argon2id$client"),
                scopes: &scopes,
            },
            NOW,
        )
        .await
        .unwrap();
    let cli = s
        .create_client(
            NewClient {
                name: "cli",
                secret_hash: None,
                scopes: &[],
            },
            NOW,
        )
        .await
        .unwrap();
    assert_ne!(web.client_id, cli.client_id);
    assert_eq!(web.client_id.len(), 36);
    assert_eq!(web.scopes, scopes);
    assert_eq!(web.secret_hash.as_deref(), Some("$argon2id$client"));
    assert_eq!(cli.secret_hash, None);
    assert!(!format!("{web:?}").contains("argon2"));
    assert_eq!(s.client(&web.client_id).await.unwrap(), Some(web.clone()));
    assert_eq!(s.client("missing").await.unwrap(), None);
    assert_eq!(s.list_clients().await.unwrap(), vec![cli, web.clone()]);

    // Deleting a client deletes the refresh families issued to it.
    let gina = user(s, "gina").await;
    let first = token("client-family");
    let scope = roles(&["orders:read"]);
    let (fam, _) = s
        .create_refresh_family(
            NewRefreshFamily {
                client_id: Some(&web.client_id),
                scopes: &scope,
                ..login(&gina)
            },
            &first,
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(fam.client_id.as_deref(), Some(web.client_id.as_str()));
    assert_eq!(fam.scopes, scope);
    s.delete_client(&web.client_id).await.unwrap();
    assert_eq!(s.client(&web.client_id).await.unwrap(), None);
    assert_eq!(s.refresh_family(&fam.id).await.unwrap(), None);
    assert_eq!(s.refresh_token(&first).await.unwrap(), None);
    let err = s.delete_client(&web.client_id).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "client", .. }),
        "{err:?}"
    );
}

// ---- refresh families ------------------------------------------------------------------------------

async fn refresh_family_creation(ctx: Ctx) {
    let s = &*ctx.store;
    let hank = user(s, "hank").await;
    let first = token("first");
    let (fam, tok) = s
        .create_refresh_family(login(&hank), &first, NOW)
        .await
        .unwrap();
    assert_eq!(fam.user_id, hank.id);
    assert_eq!(fam.id.len(), 36);
    assert_eq!((fam.created_at, fam.last_used_at), (NOW, NOW));
    assert_eq!(fam.expires_at, NOW + 30 * DAY);
    assert_eq!(
        (fam.idle_ttl, fam.idle_expires_at),
        (7 * DAY, NOW + 7 * DAY)
    );
    assert_eq!(fam.revoked_at, None);
    assert_eq!(fam.user_agent.as_deref(), Some("curl/8.5"));
    assert_eq!(fam.client_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(tok.hash, first);
    assert_eq!(tok.family_id, fam.id);
    assert_eq!((tok.created_at, tok.expires_at), (NOW, NOW + 7 * DAY));
    assert_eq!((tok.used_at, tok.replaced_by), (None, None));

    let record = s.refresh_token(&first).await.unwrap().unwrap();
    assert_eq!((&record.token, &record.family), (&tok, &fam));
    assert!(record.is_active(NOW));
    assert!(!record.is_active(NOW + 7 * DAY));
    assert_eq!(s.refresh_family(&fam.id).await.unwrap(), Some(fam));
    assert_eq!(s.refresh_token(&token("never")).await.unwrap(), None);

    // The first token's expiry is capped by the absolute expiry.
    let (short, tok) = s
        .create_refresh_family(
            NewRefreshFamily {
                expires_at: NOW + DAY,
                ..login(&hank)
            },
            &token("short"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        (short.idle_expires_at, tok.expires_at),
        (NOW + DAY, NOW + DAY)
    );

    // Errors.
    let err = s
        .create_refresh_family(login(&hank), &first, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                what: "refresh token",
                ..
            }
        ),
        "{err:?}"
    );
    let err = s
        .create_refresh_family(
            NewRefreshFamily {
                user_id: "missing",
                ..login(&hank)
            },
            &token("x1"),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "user", .. }),
        "{err:?}"
    );
    let err = s
        .create_refresh_family(
            NewRefreshFamily {
                client_id: Some("missing"),
                ..login(&hank)
            },
            &token("x2"),
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: "client", .. }),
        "{err:?}"
    );
    for bad in [
        NewRefreshFamily {
            expires_at: NOW,
            ..login(&hank)
        },
        NewRefreshFamily {
            idle_ttl: 0,
            ..login(&hank)
        },
    ] {
        let err = s
            .create_refresh_family(bad, &token("x3"), NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(s.refresh_token(&token("x1")).await.unwrap(), None);
    assert_eq!(s.refresh_token(&token("x3")).await.unwrap(), None);
}

async fn rotation_moves_the_chain(ctx: Ctx) {
    let s = &*ctx.store;
    let ivy = user(s, "ivy").await;
    let (t0, t1, t2) = (token("t0"), token("t1"), token("t2"));
    let fam = family(s, &ivy, &t0).await;

    let Rotation::Rotated {
        family: f1,
        user: u1,
        successor,
    } = s
        .rotate_refresh_token(&t0, &t1, NOW + 100, 5)
        .await
        .unwrap()
    else {
        panic!("expected Rotated");
    };
    assert_eq!(f1.id, fam.id);
    assert_eq!(u1, ivy);
    assert_eq!(
        (f1.last_used_at, f1.idle_expires_at),
        (NOW + 100, NOW + 100 + 7 * DAY)
    );
    assert_eq!(successor.hash, t1);
    assert_eq!(
        (successor.created_at, successor.expires_at),
        (NOW + 100, NOW + 100 + 7 * DAY)
    );
    let old = s.refresh_token(&t0).await.unwrap().unwrap();
    assert_eq!(
        (old.token.used_at, old.token.replaced_by),
        (Some(NOW + 100), Some(t1))
    );
    assert!(!old.is_active(NOW + 100));
    assert!(
        s.refresh_token(&t1)
            .await
            .unwrap()
            .unwrap()
            .is_active(NOW + 100)
    );

    // And again, from the successor, six days later: idle expiry slides, absolute does not.
    let later = NOW + 6 * DAY;
    let Rotation::Rotated { family: f2, .. } =
        s.rotate_refresh_token(&t1, &t2, later, 5).await.unwrap()
    else {
        panic!("expected Rotated");
    };
    assert_eq!(f2.idle_expires_at, later + 7 * DAY);
    assert_eq!(f2.expires_at, NOW + 30 * DAY);
    assert_eq!(live_tokens(s, &[t0, t1, t2]).await, vec![t2]);

    // Rotating every six days keeps the family alive until its absolute expiry, which caps
    // the last successors' expiry.
    let mut current = t2;
    for day in [12, 18, 24] {
        let next = token(&format!("day-{day}"));
        let outcome = s
            .rotate_refresh_token(&current, &next, NOW + day * DAY, 5)
            .await
            .unwrap();
        let Rotation::Rotated {
            family, successor, ..
        } = outcome
        else {
            panic!("expected Rotated on day {day}, got {outcome:?}");
        };
        let expected = (NOW + (day + 7) * DAY).min(NOW + 30 * DAY);
        assert_eq!(
            (successor.expires_at, family.idle_expires_at),
            (expected, expected)
        );
        current = next;
    }
    assert_eq!(
        s.rotate_refresh_token(&current, &token("day-30"), NOW + 30 * DAY, 5)
            .await
            .unwrap(),
        Rotation::Expired { family_id: fam.id }
    );
    let (t3, near_end) = (current, NOW + 29 * DAY);
    let err = s
        .rotate_refresh_token(&t3, &t3, near_end, 5)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

async fn reuse_after_grace_revokes_the_family(ctx: Ctx) {
    let s = &*ctx.store;
    let jack = user(s, "jack").await;
    let (t0, t1) = (token("t0"), token("t1"));
    let fam = family(s, &jack, &t0).await;
    assert!(matches!(
        s.rotate_refresh_token(&t0, &t1, NOW + 10, 5).await.unwrap(),
        Rotation::Rotated { .. }
    ));

    // The stolen t0 comes back 5 s after its use: the grace window (5 s) is over.
    let outcome = s
        .rotate_refresh_token(&t0, &token("thief"), NOW + 15, 5)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Rotation::ReuseDetected {
            family_id: fam.id.clone(),
            user_id: jack.id.clone()
        }
    );
    let revoked = s.refresh_family(&fam.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 15));
    assert_eq!(
        revoked.revoked_reason.as_deref(),
        Some(revocation_reason::REUSE_DETECTED)
    );
    assert_eq!(s.refresh_token(&token("thief")).await.unwrap(), None);

    // The legitimate holder's t1 is dead too: the whole family is.
    let outcome = s
        .rotate_refresh_token(&t1, &token("t2"), NOW + 20, 5)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Rotation::Revoked {
            family_id: fam.id.clone(),
            reason: Some(revocation_reason::REUSE_DETECTED.to_owned())
        }
    );
    assert!(
        !s.refresh_token(&t1)
            .await
            .unwrap()
            .unwrap()
            .is_active(NOW + 20)
    );
    assert!(
        s.active_refresh_families(&jack.id, NOW + 20)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn reuse_within_grace_keeps_one_chain(ctx: Ctx) {
    let s = &*ctx.store;
    let kate = user(s, "kate").await;
    let (t0, a, b, c, d) = (token("t0"), token("a"), token("b"), token("c"), token("d"));
    let fam = family(s, &kate, &t0).await;
    assert!(matches!(
        s.rotate_refresh_token(&t0, &a, NOW, 5).await.unwrap(),
        Rotation::Rotated { .. }
    ));

    // The response was lost; the client retries with t0 four seconds later.
    let Rotation::Grace {
        family: f,
        user: u,
        successor,
    } = s.rotate_refresh_token(&t0, &b, NOW + 4, 5).await.unwrap()
    else {
        panic!("expected Grace");
    };
    assert_eq!(
        (f.id.as_str(), u.id.as_str()),
        (fam.id.as_str(), kate.id.as_str())
    );
    assert_eq!(f.last_used_at, NOW + 4);
    assert_eq!((successor.hash, successor.created_at), (b, NOW + 4));
    // `a` (handed out in the lost response) is superseded by `b`; one live token: `b`.
    let a_now = s.refresh_token(&a).await.unwrap().unwrap().token;
    assert_eq!((a_now.used_at, a_now.replaced_by), (Some(NOW + 4), Some(b)));
    assert_eq!(live_tokens(s, &[t0, a, b]).await, vec![b]);
    // t0 still records its first use.
    assert_eq!(
        s.refresh_token(&t0).await.unwrap().unwrap().token.used_at,
        Some(NOW)
    );

    // The chain goes on from `b`.
    assert!(matches!(
        s.rotate_refresh_token(&b, &c, NOW + 60, 5).await.unwrap(),
        Rotation::Rotated { .. }
    ));
    // `a` comes back long after it was superseded: reuse.
    assert!(matches!(
        s.rotate_refresh_token(&a, &d, NOW + 61, 5).await.unwrap(),
        Rotation::ReuseDetected { .. }
    ));
    assert_eq!(s.refresh_token(&d).await.unwrap(), None);
    assert!(
        s.refresh_family(&fam.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
}

async fn zero_grace_means_any_reuse_is_theft(ctx: Ctx) {
    let s = &*ctx.store;
    let leo = user(s, "leo").await;
    let t0 = token("t0");
    let fam = family(s, &leo, &t0).await;
    assert!(matches!(
        s.rotate_refresh_token(&t0, &token("a"), NOW, 0)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    // Same second, no grace window: reuse.
    assert!(matches!(
        s.rotate_refresh_token(&t0, &token("b"), NOW, 0).await.unwrap(),
        Rotation::ReuseDetected { family_id, .. } if family_id == fam.id
    ));
}

async fn rejected_rotations_change_nothing(ctx: Ctx) {
    let s = &*ctx.store;
    let mia = user(s, "mia").await;

    // Unknown token.
    assert_eq!(
        s.rotate_refresh_token(&token("nobody"), &token("n1"), NOW, 5)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert_eq!(s.refresh_token(&token("n1")).await.unwrap(), None);

    // Idle expiry passed (7 days without a rotation).
    let idle = token("idle");
    let fam = family(s, &mia, &idle).await;
    let expired = Rotation::Expired {
        family_id: fam.id.clone(),
    };
    assert_eq!(
        s.rotate_refresh_token(&idle, &token("i1"), NOW + 7 * DAY, 5)
            .await
            .unwrap(),
        expired
    );
    assert_eq!(live_tokens(s, &[idle, token("i1")]).await, vec![idle]);
    // One second before, it still rotates.
    assert!(matches!(
        s.rotate_refresh_token(&idle, &token("i2"), NOW + 7 * DAY - 1, 5)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));

    // Absolute expiry passed, even though the family was used recently.
    let abs = token("abs");
    let fam = s
        .create_refresh_family(
            NewRefreshFamily {
                expires_at: NOW + 100,
                idle_ttl: 1000,
                ..login(&mia)
            },
            &abs,
            NOW,
        )
        .await
        .unwrap()
        .0;
    let abs2 = token("abs2");
    assert!(matches!(
        s.rotate_refresh_token(&abs, &abs2, NOW + 99, 5)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    assert_eq!(
        s.rotate_refresh_token(&abs2, &token("abs3"), NOW + 100, 5)
            .await
            .unwrap(),
        Rotation::Expired {
            family_id: fam.id.clone()
        }
    );
    // An expired family is not revoked by a replay of its old token.
    assert_eq!(
        s.rotate_refresh_token(&abs, &token("abs4"), NOW + 200, 5)
            .await
            .unwrap(),
        Rotation::Expired { family_id: fam.id }
    );

    // Revoked by logout.
    let out = token("out");
    let fam = family(s, &mia, &out).await;
    assert!(
        s.revoke_refresh_family(&fam.id, revocation_reason::LOGOUT, NOW + 1)
            .await
            .unwrap()
    );
    assert_eq!(
        s.rotate_refresh_token(&out, &token("o1"), NOW + 2, 5)
            .await
            .unwrap(),
        Rotation::Revoked {
            family_id: fam.id.clone(),
            reason: Some("logout".to_owned())
        }
    );
    assert_eq!(s.refresh_token(&token("o1")).await.unwrap(), None);
    assert_eq!(live_tokens(s, &[out]).await, vec![out], "left as it was");
}

async fn disabled_user_cannot_rotate(ctx: Ctx) {
    let s = &*ctx.store;
    let ned = user(s, "ned").await;
    let (t0, t1) = (token("t0"), token("t1"));
    let fam = family(s, &ned, &t0).await;
    s.set_user_disabled(&ned.id, true, NOW).await.unwrap();
    assert_eq!(
        s.rotate_refresh_token(&t0, &t1, NOW + 1, 5).await.unwrap(),
        Rotation::UserDisabled {
            family_id: fam.id.clone(),
            user_id: ned.id.clone()
        }
    );
    assert_eq!(live_tokens(s, &[t0, t1]).await, vec![t0]);
    // Nothing was consumed: once enabled again, the token rotates.
    s.set_user_disabled(&ned.id, false, NOW + 2).await.unwrap();
    let Rotation::Rotated { user, .. } =
        s.rotate_refresh_token(&t0, &t1, NOW + 3, 5).await.unwrap()
    else {
        panic!("expected Rotated");
    };
    assert!(!user.disabled);
    // A disabled user's retry inside the grace window is refused too.
    s.set_user_disabled(&ned.id, true, NOW + 4).await.unwrap();
    assert!(matches!(
        s.rotate_refresh_token(&t0, &token("t2"), NOW + 4, 5)
            .await
            .unwrap(),
        Rotation::UserDisabled { .. }
    ));
    assert_eq!(live_tokens(s, &[t0, t1, token("t2")]).await, vec![t1]);
}

/// Fifty requests present the same token at once, through two store instances (as two issuer
/// processes would): one rotates, the others are retries inside the grace window, and the
/// family ends with exactly one live token.
async fn fifty_concurrent_rotations_leave_one_chain(ctx: Ctx) {
    let second = store::connect(&ctx.url).await.unwrap();
    let olga = user(&*ctx.store, "olga").await;
    let t0 = token("t0");
    let fam = family(&*ctx.store, &olga, &t0).await;

    let outcomes = race_rotations(&ctx.store, &second, t0, 5).await;
    let rotated = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Rotation::Rotated { .. }))
        .count();
    let grace = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Rotation::Grace { .. }))
        .count();
    assert_eq!((rotated, grace), (1, 49), "{outcomes:?}");

    let mut all: Vec<TokenHash> = outcomes.iter().map(|(h, _)| *h).collect();
    all.push(t0);
    let live = live_tokens(&*ctx.store, &all).await;
    assert_eq!(live.len(), 1, "exactly one live token: {live:?}");
    // Every other successor was superseded by the next one: a single chain of 50 links.
    let mut successors = HashSet::new();
    for h in &all {
        if let Some(record) = ctx.store.refresh_token(h).await.unwrap()
            && let Some(next) = record.token.replaced_by
        {
            assert!(
                successors.insert(next),
                "two tokens replaced by the same one"
            );
        }
    }
    assert_eq!(successors.len(), 50);
    let fam = ctx.store.refresh_family(&fam.id).await.unwrap().unwrap();
    assert!(fam.is_active(NOW + 1));
    // The live token is the one that rotates next.
    assert!(matches!(
        ctx.store
            .rotate_refresh_token(&live[0], &token("after"), NOW + 60, 5)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    second.close().await;
}

/// Without a grace window, fifty simultaneous uses of one token are one rotation and
/// forty-nine replays: the family is revoked and no token is live.
async fn fifty_concurrent_rotations_without_grace_revoke(ctx: Ctx) {
    let second = store::connect(&ctx.url).await.unwrap();
    let pat = user(&*ctx.store, "pat").await;
    let t0 = token("t0");
    let fam = family(&*ctx.store, &pat, &t0).await;

    let outcomes = race_rotations(&ctx.store, &second, t0, 0).await;
    let rotated = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Rotation::Rotated { .. }))
        .count();
    // The first replay revokes the family; later ones find it revoked.
    let rejected = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Rotation::ReuseDetected { .. } | Rotation::Revoked { .. }))
        .count();
    let detected = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Rotation::ReuseDetected { .. }))
        .count();
    assert_eq!((rotated, rejected), (1, 49), "{outcomes:?}");
    assert!(detected >= 1);
    let fam = ctx.store.refresh_family(&fam.id).await.unwrap().unwrap();
    assert_eq!(
        fam.revoked_reason.as_deref(),
        Some(revocation_reason::REUSE_DETECTED)
    );
    second.close().await;
}

async fn race_rotations(
    first: &Arc<dyn Store>,
    second: &Arc<dyn Store>,
    presented: TokenHash,
    grace: i64,
) -> Vec<(TokenHash, Rotation)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = Arc::clone(if i % 2 == 0 { first } else { second });
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let successor = token(&format!("racer-{i}"));
            barrier.wait().await;
            let outcome = store
                .rotate_refresh_token(&presented, &successor, NOW + 1, grace)
                .await
                .unwrap();
            (successor, outcome)
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    outcomes
}

async fn revocation_and_sessions(ctx: Ctx) {
    let s = &*ctx.store;
    let quinn = user(s, "quinn").await;
    let other = user(s, "other").await;
    let (a, b, c) = (token("a"), token("b"), token("c"));
    let fa = family(s, &quinn, &a).await;
    let fb = family(s, &quinn, &b).await;
    let fo = family(s, &other, &c).await;
    // b's family is used later: listed first.
    assert!(matches!(
        s.rotate_refresh_token(&b, &token("b2"), NOW + 50, 5)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    let ids = |v: Vec<RefreshFamily>| v.into_iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s
            .active_refresh_families(&quinn.id, NOW + 60)
            .await
            .unwrap()),
        vec![fb.id.clone(), fa.id.clone()]
    );
    // An idle-expired family is not a session any more.
    assert_eq!(
        ids(s
            .active_refresh_families(&quinn.id, NOW + 7 * DAY)
            .await
            .unwrap()),
        vec![fb.id.clone()]
    );

    // Logout.
    assert!(
        s.revoke_refresh_family(&fa.id, revocation_reason::LOGOUT, NOW + 70)
            .await
            .unwrap()
    );
    assert!(
        !s.revoke_refresh_family(&fa.id, revocation_reason::ADMIN, NOW + 80)
            .await
            .unwrap(),
        "already revoked"
    );
    let revoked = s.refresh_family(&fa.id).await.unwrap().unwrap();
    assert_eq!(
        (revoked.revoked_at, revoked.revoked_reason.as_deref()),
        (Some(NOW + 70), Some("logout")),
        "the first revocation stays"
    );
    let err = s
        .revoke_refresh_family("missing", "logout", NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "refresh family",
                ..
            }
        ),
        "{err:?}"
    );
    // Introspection by hash sees it.
    let record = s.refresh_token(&a).await.unwrap().unwrap();
    assert_eq!(record.family.id, fa.id);
    assert!(!record.is_active(NOW + 70));

    // Everything of a user at once; other users untouched.
    assert_eq!(
        s.revoke_user_refresh_families(&quinn.id, revocation_reason::PASSWORD_CHANGED, NOW + 90)
            .await
            .unwrap(),
        1
    );
    assert!(
        s.active_refresh_families(&quinn.id, NOW + 90)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s
            .active_refresh_families(&other.id, NOW + 90)
            .await
            .unwrap()),
        vec![fo.id]
    );
    assert_eq!(
        s.revoke_user_refresh_families(&quinn.id, "again", NOW + 91)
            .await
            .unwrap(),
        0
    );
}

/// Polls `fut` at most `polls` times, then drops it (as a server drops the future of a
/// request whose client went away, or a background task it stops).
async fn cancel_after<F: Future>(polls: usize, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut polled = 0;
    std::future::poll_fn(|cx| {
        if polled == polls {
            return Poll::Ready(None);
        }
        polled += 1;
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Regression: sqlx's SQLite driver runs `BEGIN IMMEDIATE`, then checks it in a second step;
/// a caller dropped in between left the transaction open on a pooled connection, holding the
/// database's write lock, and every later write failed with "database is locked" (a stopping
/// server's purge did it to the next login). A write dropped at any point leaves nothing open.
async fn cancelled_writes_leave_no_transaction_open(ctx: Ctx) {
    // A short busy timeout, so that a lock left behind shows as an error quickly.
    let options = StoreOptions::default().busy_timeout(Duration::from_secs(2));
    let s = store::connect_with(&ctx.url, &options).await.unwrap();
    let rose = user(&*s, "rose").await;
    for polls in 0..40 {
        let _ = cancel_after(polls, s.purge_expired(NOW)).await;
        let _ = cancel_after(
            polls,
            s.create_refresh_family(login(&rose), &token(&format!("c{polls}")), NOW),
        )
        .await;
        // Every write of the pool's connections still goes through.
        for round in 0..3 {
            s.purge_expired(NOW)
                .await
                .unwrap_or_else(|e| panic!("after a write dropped at poll {polls} ({round}): {e}"));
        }
    }
    s.close().await;
}

async fn purge_expired(ctx: Ctx) {
    let s = &*ctx.store;
    let rose = user(s, "rose").await;
    // Alive, with one used token that expired (a rotation long ago) and one that did not.
    let (t0, t1, t2) = (token("t0"), token("t1"), token("t2"));
    let alive = s
        .create_refresh_family(
            NewRefreshFamily {
                idle_ttl: DAY,
                ..login(&rose)
            },
            &t0,
            NOW,
        )
        .await
        .unwrap()
        .0;
    assert!(matches!(
        s.rotate_refresh_token(&t0, &t1, NOW + 10, 5).await.unwrap(),
        Rotation::Rotated { .. }
    ));
    assert!(matches!(
        s.rotate_refresh_token(&t1, &t2, NOW + DAY / 2 + 20, 5)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    // Idle-expired, revoked, and absolutely expired families.
    let idle = s
        .create_refresh_family(
            NewRefreshFamily {
                idle_ttl: 100,
                ..login(&rose)
            },
            &token("idle"),
            NOW,
        )
        .await
        .unwrap()
        .0;
    let revoked = family(s, &rose, &token("revoked")).await;
    s.revoke_refresh_family(&revoked.id, "logout", NOW + 5)
        .await
        .unwrap();
    let ended = s
        .create_refresh_family(
            NewRefreshFamily {
                expires_at: NOW + 50,
                ..login(&rose)
            },
            &token("ended"),
            NOW,
        )
        .await
        .unwrap()
        .0;

    let before = NOW + DAY;
    let report = s.purge_expired(before).await.unwrap();
    assert_eq!((report.families, report.tokens), (3, 1), "{report:?}");
    for gone in [&idle.id, &revoked.id, &ended.id] {
        assert_eq!(s.refresh_family(gone).await.unwrap(), None);
    }
    assert_eq!(s.refresh_token(&token("idle")).await.unwrap(), None);
    assert!(s.refresh_family(&alive.id).await.unwrap().is_some());
    // t0 (used, expired at NOW + DAY) is gone; t1 (used, expires later) and t2 (live) stay.
    assert_eq!(s.refresh_token(&t0).await.unwrap(), None);
    assert!(s.refresh_token(&t1).await.unwrap().is_some());
    assert_eq!(live_tokens(s, &[t1, t2]).await, vec![t2]);
    // A purged token is unknown, no longer reuse.
    assert_eq!(
        s.rotate_refresh_token(&t0, &token("late"), before + 1, 5)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert_eq!(s.purge_expired(before).await.unwrap(), Default::default());
}

// ---- signing keys ------------------------------------------------------------------------------

async fn signing_keys_insert_and_list(ctx: Ctx) {
    let s = &*ctx.store;
    assert!(s.signing_keys().await.unwrap().is_empty());
    insert_key(s, "k1", KeyState::Active, NOW).await;
    insert_key(s, "k2", KeyState::Next, NOW + 10).await;

    let keys = s.signing_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    let (k1, k2) = (&keys[0], &keys[1]);
    assert_eq!((k1.kid.as_str(), k1.state), ("k1", KeyState::Active));
    assert_eq!((k1.created_at, k1.activated_at), (NOW, Some(NOW)));
    assert_eq!((k2.kid.as_str(), k2.state), ("k2", KeyState::Next));
    assert_eq!((k2.created_at, k2.activated_at), (NOW + 10, None));
    assert_eq!((k2.retired_at, k2.delete_after), (None, None));
    assert_eq!(k1.alg, "ES256");
    assert_eq!(k1.private_key, encrypted(2));
    assert_eq!(k1.public_jwk, r#"{"kty":"EC","crv":"P-256","kid":"k1"}"#);
    // Debug shows sizes, not bytes.
    assert!(format!("{:?}", k1.private_key).contains("[48 bytes]"));

    // Unique kid; at most one next and one active key; never inserted as retired.
    let other = encrypted(9);
    let new = |kid, state| NewSigningKey {
        kid,
        alg: "ES256",
        state,
        private_key: &other,
        public_jwk: "{}",
    };
    for (key, what) in [
        (new("k1", KeyState::Next), "kid"),
        (new("k3", KeyState::Next), "next"),
        (new("k3", KeyState::Active), "active"),
    ] {
        let err = s.insert_signing_key(&key, NOW).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Conflict { what: "signing key", detail } if detail.contains(what)),
            "{err:?}"
        );
    }
    let err = s
        .insert_signing_key(&new("k3", KeyState::Retired), NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(s.signing_keys().await.unwrap(), keys);
}

async fn signing_key_transitions_are_compare_and_set(ctx: Ctx) {
    let s = &*ctx.store;
    insert_key(s, "k1", KeyState::Active, NOW).await;
    insert_key(s, "k2", KeyState::Next, NOW).await;

    // Rotation in one step: the active key retires, the next one activates.
    let rotate = [
        KeyTransition {
            kid: "k2",
            from: KeyState::Next,
            to: KeyState::Active,
            delete_after: None,
        },
        KeyTransition {
            kid: "k1",
            from: KeyState::Active,
            to: KeyState::Retired,
            delete_after: Some(NOW + 100 + DAY),
        },
    ];
    let changed = s.transition_signing_keys(&rotate, NOW + 100).await.unwrap();
    assert_eq!(changed.len(), 2);
    let keys = s.signing_keys().await.unwrap();
    assert_eq!(
        (keys[0].kid.as_str(), keys[0].state),
        ("k1", KeyState::Retired)
    );
    assert_eq!(
        (
            keys[0].activated_at,
            keys[0].retired_at,
            keys[0].delete_after
        ),
        (Some(NOW), Some(NOW + 100), Some(NOW + 100 + DAY))
    );
    assert_eq!(
        (keys[1].kid.as_str(), keys[1].state),
        ("k2", KeyState::Active)
    );
    assert_eq!(keys[1].activated_at, Some(NOW + 100));

    // A second instance replaying the same rotation loses the compare-and-set, and nothing of
    // its batch applies.
    let err = s
        .transition_signing_keys(&rotate, NOW + 101)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::KeyStateMismatch { kid, expected: KeyState::Active, actual: KeyState::Retired }
                if kid == "k1"
        ),
        "{err:?}"
    );
    assert_eq!(s.signing_keys().await.unwrap(), keys);

    // A batch whose second step fails leaves the first undone.
    insert_key(s, "k3", KeyState::Next, NOW + 200).await;
    let err = s
        .transition_signing_keys(
            &[
                KeyTransition {
                    kid: "k3",
                    from: KeyState::Next,
                    to: KeyState::Retired,
                    delete_after: None,
                },
                KeyTransition {
                    kid: "k2",
                    from: KeyState::Next,
                    to: KeyState::Retired,
                    delete_after: None,
                },
            ],
            NOW + 201,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::KeyStateMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(
        key_states(s).await,
        vec![
            ("k1".to_owned(), KeyState::Retired),
            ("k2".to_owned(), KeyState::Active),
            ("k3".to_owned(), KeyState::Next)
        ]
    );

    // Activating without retiring the active key breaks the one-active rule.
    let err = s
        .transition_signing_keys(
            &[KeyTransition {
                kid: "k3",
                from: KeyState::Next,
                to: KeyState::Active,
                delete_after: None,
            }],
            NOW + 300,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    // Unknown key; transitions that go backwards or carry a stray delete_after.
    let err = s
        .transition_signing_keys(
            &[KeyTransition {
                kid: "nope",
                from: KeyState::Next,
                to: KeyState::Active,
                delete_after: None,
            }],
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "signing key",
                ..
            }
        ),
        "{err:?}"
    );
    for (from, to, delete_after) in [
        (KeyState::Retired, KeyState::Active, None),
        (KeyState::Active, KeyState::Next, None),
        (KeyState::Next, KeyState::Next, None),
        (KeyState::Next, KeyState::Active, Some(NOW)),
    ] {
        let err = s
            .transition_signing_keys(
                &[KeyTransition {
                    kid: "k3",
                    from,
                    to,
                    delete_after,
                }],
                NOW,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(_)),
            "{from}->{to}: {err:?}"
        );
    }
    assert_eq!(key_states(s).await.len(), 3);
}

async fn signing_key_deletion(ctx: Ctx) {
    let s = &*ctx.store;
    insert_key(s, "k1", KeyState::Active, NOW).await;
    let err = s.delete_signing_key("k1").await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::KeyStateMismatch {
                expected: KeyState::Retired,
                actual: KeyState::Active,
                ..
            }
        ),
        "{err:?}"
    );
    s.transition_signing_keys(
        &[KeyTransition {
            kid: "k1",
            from: KeyState::Active,
            to: KeyState::Retired,
            delete_after: Some(NOW + 10),
        }],
        NOW + 1,
    )
    .await
    .unwrap();
    s.delete_signing_key("k1").await.unwrap();
    assert!(s.signing_keys().await.unwrap().is_empty());
    let err = s.delete_signing_key("k1").await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "signing key",
                ..
            }
        ),
        "{err:?}"
    );
}

// ---- the key-rotation lock ---------------------------------------------------------------------

async fn rotation_lock_has_one_holder(ctx: Ctx) {
    // Two instances on one database.
    let a = &*ctx.store;
    let b_store = store::connect(&ctx.url).await.unwrap();
    let b = &*b_store;

    let lock = a
        .try_rotation_lock("instance-a", NOW, 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lock.holder, "instance-a");
    assert_eq!((lock.acquired_at, lock.expires_at), (NOW, NOW + 60));
    assert_eq!(
        b.try_rotation_lock("instance-b", NOW + 1, 60)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        a.try_rotation_lock("instance-a", NOW + 1, 60)
            .await
            .unwrap(),
        None,
        "not reentrant"
    );

    // Renewing extends the lease; the other instance still cannot take it.
    let renewed = a
        .renew_rotation_lock(&lock, NOW + 50, 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((renewed.fence, renewed.expires_at), (lock.fence, NOW + 110));
    assert_eq!(
        b.try_rotation_lock("instance-b", NOW + 100, 60)
            .await
            .unwrap(),
        None
    );

    // Released: the other instance gets it at once, with a new fence.
    assert!(a.release_rotation_lock(&renewed).await.unwrap());
    assert!(
        !a.release_rotation_lock(&renewed).await.unwrap(),
        "released twice"
    );
    let taken = b
        .try_rotation_lock("instance-b", NOW + 101, 60)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.holder, "instance-b");
    assert!(taken.fence > lock.fence);
    // The old lease can neither renew nor release the new holder's lock.
    assert_eq!(
        a.renew_rotation_lock(&lock, NOW + 102, 60).await.unwrap(),
        None
    );
    assert!(!a.release_rotation_lock(&lock).await.unwrap());
    assert_eq!(
        a.try_rotation_lock("instance-a", NOW + 102, 60)
            .await
            .unwrap(),
        None
    );

    let err = a.try_rotation_lock("instance-a", NOW, 0).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    b_store.close().await;
}

async fn rotation_lock_lapses_and_fences(ctx: Ctx) {
    let s = &*ctx.store;
    let first = s
        .try_rotation_lock("crashed", NOW, 30)
        .await
        .unwrap()
        .unwrap();
    // One second before expiry it is still held; at expiry it can be taken.
    assert_eq!(
        s.try_rotation_lock("next", NOW + 29, 30).await.unwrap(),
        None
    );
    let second = s
        .try_rotation_lock("next", NOW + 30, 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.fence, first.fence + 1);
    // The lapsed holder cannot renew (it must stop working).
    assert_eq!(
        s.renew_rotation_lock(&first, NOW + 31, 30).await.unwrap(),
        None
    );
    // Nor can a holder renew its own lapsed lease.
    assert_eq!(
        s.renew_rotation_lock(&second, NOW + 60, 30).await.unwrap(),
        None
    );
    let third = s
        .try_rotation_lock("third", NOW + 60, 30)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.fence, second.fence + 1);
}

async fn concurrent_rotation_lock_attempts_one_winner(ctx: Ctx) {
    let second = store::connect(&ctx.url).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(if i % 2 == 0 { &ctx.store } else { &second });
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .try_rotation_lock(&format!("instance-{i}"), NOW, 60)
                .await
                .unwrap()
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let Some(lock) = t.await.unwrap() {
            winners.push(lock);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    second.close().await;
}

async fn with_rotation_lock_releases(ctx: Ctx) {
    let s = &*ctx.store;
    let done = store::with_rotation_lock(s, "a", NOW, 60, |lock| async move {
        assert_eq!(lock.holder, "a");
        Ok::<_, StoreError>(42)
    })
    .await
    .unwrap();
    assert_eq!(done, Some(42));
    // Released afterwards, even when the work fails.
    let failed = store::with_rotation_lock(s, "b", NOW + 1, 60, |_| async move {
        Err::<(), _>(StoreError::Invalid("rotation failed".to_owned()))
    })
    .await
    .unwrap_err();
    assert!(matches!(failed, StoreError::Invalid(_)));
    let held = s
        .try_rotation_lock("c", NOW + 2, 60)
        .await
        .unwrap()
        .unwrap();
    // While someone holds it, the work does not run.
    let skipped = store::with_rotation_lock(s, "d", NOW + 3, 60, |_| async move {
        Err::<(), _>(StoreError::Invalid(
            "ran while another instance held the lock".into(),
        ))
    })
    .await
    .unwrap();
    assert_eq!(skipped, None);
    assert!(s.release_rotation_lock(&held).await.unwrap());
}

/// Readiness means the database answers with tessera's tables, not just that a connection
/// opens: with the tables gone, `ping` fails.
async fn ping_reads_the_schema(ctx: Ctx) {
    ctx.store.ping().await.unwrap();
    use sqlx::Connection as _;
    let drop = "DROP TABLE signing_keys";
    match ctx.store.backend() {
        tessera_server::store::Backend::Sqlite => {
            let mut raw = sqlx::SqliteConnection::connect(&ctx.url).await.unwrap();
            sqlx::query(drop).execute(&mut raw).await.unwrap();
            raw.close().await.unwrap();
        }
        _ => {
            let mut raw = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            sqlx::query(drop).execute(&mut raw).await.unwrap();
            raw.close().await.unwrap();
        }
    }
    assert!(ctx.store.ping().await.is_err());
}

// ---- what differs between the backends ----------------------------------------------------------

mod backend_specific {
    use std::time::Duration;

    use sqlx::Connection;
    use tessera_server::store::{self, Backend, StoreError, StoreOptions};

    #[tokio::test]
    async fn sqlite_file_is_created_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let url = format!("sqlite://{}", path.display());
        let store = store::connect(&url).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        assert!(path.exists());
        let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut raw)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        raw.close().await.unwrap();
        store.close().await;
    }

    /// Regression (review finding 7): the database and its `-wal`/`-shm` files were created
    /// with the umask (often 0644), readable by every local user.
    #[cfg(unix)]
    #[tokio::test]
    async fn sqlite_files_are_created_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        // Whatever the process umask, the directory lets others read what it holds.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("private.db");
        let url = format!("sqlite://{}", path.display());
        let store = store::connect(&url).await.unwrap();
        super::user(&*store, "someone").await;
        for name in ["private.db", "private.db-wal", "private.db-shm"] {
            let file = dir.path().join(name);
            let mode = std::fs::metadata(&file)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name} is {:o}", mode & 0o777);
        }
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_in_memory_is_one_database_for_every_connection() {
        let store = store::connect("sqlite::memory:").await.unwrap();
        let user = super::user(&*store, "mem").await;
        // Enough parallel reads to open several pool connections.
        let mut reads = Vec::new();
        for _ in 0..16 {
            let store = std::sync::Arc::clone(&store);
            let id = user.id.clone();
            reads.push(tokio::spawn(async move {
                store.user_by_id(&id).await.unwrap().is_some()
            }));
        }
        for r in reads {
            assert!(r.await.unwrap());
        }
    }

    #[tokio::test]
    async fn sqlite_file_that_cannot_be_created_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/missing-dir/x.db", dir.path().display());
        let err = store::connect(&url).await.unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
    }

    #[tokio::test]
    async fn database_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        store::connect(&url).await.unwrap().close().await;
        // A later tessera applied a migration this one does not know.
        let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99990101000000, 'from the future', TRUE, x'00', 0)",
        )
        .execute(&mut raw)
        .await
        .unwrap();
        raw.close().await.unwrap();
        let err = store::connect(&url).await.unwrap_err();
        assert!(matches!(err, StoreError::Migration { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn postgres_that_does_not_answer_is_unavailable() {
        // Nothing listens on port 1 of the loopback address.
        let options = StoreOptions::default().acquire_timeout(Duration::from_secs(1));
        let err = store::connect_with("postgres://postgres:hunter2@127.0.0.1:1/test", &options)
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn postgres_url_errors_do_not_repeat_the_password() {
        let err = store::connect("postgres://postgres:hunter2@127.0.0.1:notaport/test")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidUrl(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

// ---- login-throttle buckets (shared by instances: one atomic statement per take) ------------

mod throttle_buckets {
    on_both_backends!(
        super::bucket_takes_follow_gcra,
        super::concurrent_bucket_takes_take_the_burst
    );
}

fn hard(period: i64, burst: i64) -> store::BucketTake {
    store::BucketTake {
        period,
        limit: period * burst,
        ceiling: period * burst,
    }
}

async fn bucket_takes_follow_gcra(ctx: Ctx) {
    use store::{BucketKey, BucketOutcome::*, BucketTake};
    let s = &*ctx.store;
    let key = BucketKey::of("test", &[b"alice"]);
    let other = BucketKey::of("test", &[b"bob"]);
    let take = hard(10, 3);
    for tat in [NOW + 10, NOW + 20, NOW + 30] {
        assert_eq!(
            s.take_from_bucket(&key, take, NOW).await.unwrap(),
            Taken { tat }
        );
    }
    // Empty: refused, and nothing changes.
    for _ in 0..2 {
        assert_eq!(
            s.take_from_bucket(&key, take, NOW).await.unwrap(),
            Refused { tat: NOW + 30 }
        );
    }
    // Another key is another bucket.
    assert_eq!(
        s.take_from_bucket(&other, take, NOW).await.unwrap(),
        Taken { tat: NOW + 10 }
    );
    // A give-back returns one period, never before now; a missing row is no error.
    s.give_back_to_bucket(&key, 10, NOW).await.unwrap();
    assert_eq!(
        s.take_from_bucket(&key, take, NOW).await.unwrap(),
        Taken { tat: NOW + 30 }
    );
    s.give_back_to_bucket(&BucketKey::of("test", &[b"nobody"]), 10, NOW)
        .await
        .unwrap();
    // Time earns takes back.
    assert_eq!(
        s.take_from_bucket(&key, take, NOW + 15).await.unwrap(),
        Taken { tat: NOW + 40 }
    );
    // A bucket that never refuses is stored no further ahead than its ceiling.
    let soft = BucketTake {
        period: 10,
        limit: i64::MAX / 4,
        ceiling: 25,
    };
    let free = BucketKey::of("test", &[b"soft"]);
    for tat in [NOW + 10, NOW + 20, NOW + 25, NOW + 25] {
        assert_eq!(
            s.take_from_bucket(&free, soft, NOW).await.unwrap(),
            Taken { tat }
        );
    }
    // Nonsense is refused.
    let bad = BucketTake {
        period: 0,
        limit: 1,
        ceiling: 1,
    };
    assert!(matches!(
        s.take_from_bucket(&key, bad, NOW).await,
        Err(StoreError::Invalid(_))
    ));
    // Full buckets (tat <= now) are purged, in bounded batches; others stay.
    assert_eq!(s.purge_full_buckets(NOW + 20, 10).await.unwrap(), 1); // bob's
    assert_eq!(s.purge_full_buckets(NOW + 40, 1).await.unwrap(), 1);
    assert_eq!(s.purge_full_buckets(NOW + 40, 1).await.unwrap(), 1);
    assert_eq!(s.purge_full_buckets(NOW + 40, 10).await.unwrap(), 0);
    assert_eq!(
        s.take_from_bucket(&key, take, NOW + 40).await.unwrap(),
        Taken { tat: NOW + 50 }
    );
}

async fn concurrent_bucket_takes_take_the_burst(ctx: Ctx) {
    use store::{BucketKey, BucketOutcome};
    let second = store::connect(&ctx.url).await.unwrap();
    let key = BucketKey::of("test", &[b"contended"]);
    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = Arc::clone(if i % 2 == 0 { &ctx.store } else { &second });
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .take_from_bucket(&key, hard(60, 5), NOW)
                .await
                .unwrap()
        }));
    }
    let mut taken = 0;
    for t in tasks {
        if let BucketOutcome::Taken { .. } = t.await.unwrap() {
            taken += 1;
        }
    }
    assert_eq!(taken, 5);
    second.close().await;
}
