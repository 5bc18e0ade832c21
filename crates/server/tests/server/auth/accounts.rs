//! Accounts at login: usernames in their RFC 8265 form (a case or width variant of a name
//! signs in as that user; look-alikes do not), and the background rehash after a login that
//! must never overwrite a password changed meanwhile.

use std::time::Duration;

use sqlx::Connection;
use tessera_server::store::Backend;

use crate::harness::Ctx;
use crate::harness::issuer::{Issuer, PASSWORD, claims};

on_both_backends!(
    login_with_a_case_or_width_variant,
    rehash_cannot_overwrite_a_concurrent_passwd,
);

pub(crate) async fn login_with_a_case_or_width_variant(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store, &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    for typed in ["alice", "ALICE", "Alice", "ａｌｉｃｅ", "ＡＬＩＣＥ"] {
        let (access, _) = issuer.login(typed, PASSWORD).await.pair();
        assert_eq!(claims(&access)["sub"], alice.id.as_str(), "{typed}");
    }
    // Look-alikes are not alice, and not an error either: 401 like any unknown name.
    for typed in [
        "\u{202e}alice",
        "alice\u{200b}",
        "al\u{200d}ice",
        " alice",
        "alice ",
    ] {
        issuer
            .login(typed, PASSWORD)
            .await
            .assert_error(401, "invalid_grant");
    }
    issuer.stop().await;
}

/// Regression (issue 9, hardening): the rehash after a login read the user, then wrote its
/// hash; a `tessera user passwd` that committed in between was overwritten, and the old
/// password worked again. Here the `passwd` holds its write (an open transaction) while the
/// rehash reaches its own, then commits: the new password must stay.
pub(crate) async fn rehash_cannot_overwrite_a_concurrent_passwd(ctx: Ctx) {
    let issuer = Issuer::start(ctx.store.clone(), &[]).await;
    let alice = issuer.user("alice", PASSWORD, &[]).await;
    let changed = issuer
        .state
        .auth
        .passwords()
        .hash(tessera_jwt::SecretString::new("a new password".to_owned()))
        .await
        .unwrap();
    issuer.stop().await;

    // Stronger parameters: the next login asks for a rehash, which takes a while to compute.
    let issuer = Issuer::start(
        ctx.store.clone(),
        &[
            ("TESSERA_PASSWORDS__MEMORY_KIB", "8192"),
            ("TESSERA_PASSWORDS__ITERATIONS", "2"),
        ],
    )
    .await;
    issuer.login("alice", PASSWORD).await.pair();

    // `passwd` from another connection, its write held open while the rehash computes.
    let update = "UPDATE users SET password_hash = $1 WHERE id = $2";
    match ctx.store.backend() {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&ctx.url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(update)
                .bind(&changed)
                .bind(&alice.id)
                .execute(&mut conn)
                .await
                .unwrap();
            // SQLite does not show a waiting writer: leave the rehash ample time to reach its
            // write (it then waits on this transaction's lock).
            tokio::time::sleep(Duration::from_secs(3)).await;
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            let mut probe = sqlx::PgConnection::connect(&ctx.url).await.unwrap();
            let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
            sqlx::query(update)
                .bind(&changed)
                .bind(&alice.id)
                .execute(&mut conn)
                .await
                .unwrap();
            // Wait (bounded) until the rehash's write waits on this transaction's row lock.
            let mut blocked = false;
            for _ in 0..600 {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                )
                .bind(pid)
                .fetch_one(&mut probe)
                .await
                .unwrap();
                if waiting > 0 {
                    blocked = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(blocked, "the rehash reached its write within 30 s");
            sqlx::query("COMMIT").execute(&mut conn).await.unwrap();
        }
    }
    // Let the rehash finish, then check the password is the one `passwd` set.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = ctx.store.user_by_id(&alice.id).await.unwrap().unwrap();
    assert_eq!(
        stored.password_hash.as_deref(),
        Some(changed.as_str()),
        "the rehash overwrote the password set meanwhile"
    );
    issuer
        .login("alice", PASSWORD)
        .await
        .assert_error(401, "invalid_grant");
    issuer.login("alice", "a new password").await.pair();
    issuer.stop().await;
}
