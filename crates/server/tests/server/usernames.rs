//! Usernames under RFC 8265 in the store, on SQLite and PostgreSQL: the store operations
//! behind them (`usernames`, `rename_user`, `set_password_hash_if`), the startup check that
//! finds stored names colliding once normalised (and stops `tessera serve`), the rewrite of
//! the others to their normal form, and `rename` that resolves a collision.

use std::sync::Arc;

use crate::harness::Ctx;
use tessera_server::accounts::{self, UsernameError};
use tessera_server::admin::StartupError;
use tessera_server::config::Config;
use tessera_server::serve;
use tessera_server::store::{NewUser, Store, StoreError, User};

const NOW: i64 = 1_800_000_000;

/// A row as an older tessera (or a careless script) could have stored it: no rules applied.
async fn raw_user(store: &dyn Store, name: &str) -> User {
    store
        .create_user(
            NewUser {
                username: name,
                password_hash: Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
                roles: &[],
            },
            NOW,
        )
        .await
        .unwrap()
}

on_both_backends!(
    cases::rename_and_list_usernames,
    cases::password_hash_compare_and_set,
    cases::colliding_usernames_are_listed_and_nothing_changes,
    cases::rename_resolves_a_collision,
    cases::names_not_in_normal_form_are_rewritten_ids_kept,
);

mod cases {
    use super::*;

    pub(crate) async fn rename_and_list_usernames(ctx: Ctx) {
        let store = &*ctx.store;
        let alice = raw_user(store, "alice").await;
        let bob = raw_user(store, "bob").await;
        assert_eq!(
            store.usernames().await.unwrap(),
            [
                (alice.id.clone(), "alice".to_owned()),
                (bob.id.clone(), "bob".to_owned())
            ]
        );
        store
            .rename_user(&alice.id, "carol", NOW + 1)
            .await
            .unwrap();
        let renamed = store.user_by_id(&alice.id).await.unwrap().unwrap();
        assert_eq!(renamed.username, "carol");
        assert_eq!(renamed.updated_at, NOW + 1);
        assert!(store.user_by_username("alice").await.unwrap().is_none());
        // Taken, or no such user.
        let err = store.rename_user(&alice.id, "bob", NOW).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
        let err = store.rename_user("nobody", "dave", NOW).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }

    pub(crate) async fn password_hash_compare_and_set(ctx: Ctx) {
        let store = &*ctx.store;
        let alice = raw_user(store, "alice").await;
        let first = alice.password_hash.clone().unwrap();
        // The expected hash is stored: replaced.
        assert!(
            store
                .set_password_hash_if(&alice.id, &first, "$second", NOW + 1)
                .await
                .unwrap()
        );
        // It is no longer: kept.
        assert!(
            !store
                .set_password_hash_if(&alice.id, &first, "$third", NOW + 2)
                .await
                .unwrap()
        );
        let user = store.user_by_id(&alice.id).await.unwrap().unwrap();
        assert_eq!(user.password_hash.as_deref(), Some("$second"));
        assert_eq!(user.updated_at, NOW + 1);
        // No password at all: nothing to compare with, kept.
        store
            .set_user_password_hash(&alice.id, None, NOW)
            .await
            .unwrap();
        assert!(
            !store
                .set_password_hash_if(&alice.id, "$second", "$x", NOW)
                .await
                .unwrap()
        );
        let err = store
            .set_password_hash_if("nobody", "$a", "$b", NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }

    /// The review's look-alikes, stored before the rules: `ＡＤＭＩＮ` and `Admin` are `admin`.
    /// The check lists every name of the group (with ids) and the command that resolves it,
    /// and changes nothing — not even the rows that could be rewritten alone.
    pub(crate) async fn colliding_usernames_are_listed_and_nothing_changes(ctx: Ctx) {
        let store = &*ctx.store;
        let admin = raw_user(store, "admin").await;
        let wide = raw_user(store, "ＡＤＭＩＮ").await;
        let upper = raw_user(store, "Admin").await;
        let other = raw_user(store, "Bob").await;
        let err = accounts::reconcile_usernames(store, NOW).await.unwrap_err();
        let UsernameError::Collisions(groups) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(groups.len(), 1, "{groups:?}");
        let mut ids: Vec<&str> = groups[0].iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        let mut expected = vec![admin.id.as_str(), wide.id.as_str(), upper.id.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected);
        let message = err.to_string();
        for shown in [
            "\"admin\"",
            "\"ＡＤＭＩＮ\"",
            "\"Admin\"",
            &admin.id,
            &wide.id,
        ] {
            assert!(message.contains(shown), "{shown} in {message}");
        }
        assert!(message.contains("tessera user rename OLD NEW"), "{message}");
        assert!(!message.contains("Bob"), "{message}");
        // Nothing was rewritten or merged.
        let names: Vec<String> = store
            .usernames()
            .await
            .unwrap()
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(names.len(), 4);
        assert!(names.contains(&"Bob".to_owned()), "{names:?}");
        assert_eq!(
            store.user_by_id(&other.id).await.unwrap().unwrap().username,
            "Bob"
        );
    }

    pub(crate) async fn rename_resolves_a_collision(ctx: Ctx) {
        let store = &*ctx.store;
        let admin = raw_user(store, "admin").await;
        let wide = raw_user(store, "ＡＤＭＩＮ").await;
        assert!(accounts::reconcile_usernames(store, NOW).await.is_err());

        // The new name is normalised and must be free, in any spelling.
        for taken in ["admin", "ADMIN", "ａｄｍｉｎ"] {
            let err = accounts::rename_user(store, "ＡＤＭＩＮ", taken, NOW)
                .await
                .unwrap_err();
            assert!(matches!(err, UsernameError::Taken(_)), "{taken}: {err:?}");
        }
        let err = accounts::rename_user(store, "ＡＤＭＩＮ", "admin\u{200b}", NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, UsernameError::Invalid(_)), "{err:?}");
        let err = accounts::rename_user(store, "nobody", "x", NOW)
            .await
            .unwrap_err();
        assert!(matches!(err, UsernameError::NotFound(_)), "{err:?}");

        // OLD is the stored name exactly (a look-alike can be addressed).
        let renamed = accounts::rename_user(store, "ＡＤＭＩＮ", "Admin-Old", NOW + 5)
            .await
            .unwrap();
        assert_eq!(renamed.id, wide.id, "the id (the sub of tokens) stays");
        assert_eq!(renamed.username, "admin-old");
        let report = accounts::reconcile_usernames(store, NOW).await.unwrap();
        assert!(report.rewritten.is_empty() && report.unusable.is_empty());
        assert_eq!(
            accounts::find_user(store, "ADMIN")
                .await
                .unwrap()
                .unwrap()
                .id,
            admin.id
        );
        // A user can take another spelling of their own name.
        let same = accounts::rename_user(store, "admin-old", "ADMIN-OLD", NOW)
            .await
            .unwrap();
        assert_eq!(same.username, "admin-old");
    }

    /// Rows that collide with nobody are rewritten to their normal form (their id stays);
    /// names that have none are left alone and reported.
    pub(crate) async fn names_not_in_normal_form_are_rewritten_ids_kept(ctx: Ctx) {
        let store = &*ctx.store;
        let alice = raw_user(store, "Alice@Example.COM").await;
        let bob = raw_user(store, "ｂｏｂ").await;
        let fine = raw_user(store, "carol").await;
        let odd = raw_user(store, "\u{202e}nimda").await;
        let report = accounts::reconcile_usernames(store, NOW + 9).await.unwrap();
        let mut rewritten = report.rewritten.clone();
        rewritten.sort();
        let mut expected = vec![
            (
                alice.id.clone(),
                "Alice@Example.COM".to_owned(),
                "alice@example.com".to_owned(),
            ),
            (bob.id.clone(), "ｂｏｂ".to_owned(), "bob".to_owned()),
        ];
        expected.sort();
        assert_eq!(rewritten, expected);
        assert_eq!(
            report.unusable,
            [(odd.id.clone(), "\u{202e}nimda".to_owned())]
        );
        let alice_now = store.user_by_id(&alice.id).await.unwrap().unwrap();
        assert_eq!(alice_now.username, "alice@example.com");
        assert_eq!(alice_now.updated_at, NOW + 9);
        assert_eq!(
            store
                .user_by_id(&fine.id)
                .await
                .unwrap()
                .unwrap()
                .updated_at,
            NOW
        );
        assert_eq!(
            store.user_by_username("bob").await.unwrap().unwrap().id,
            bob.id
        );
        // A second start has nothing to do.
        let again = accounts::reconcile_usernames(store, NOW).await.unwrap();
        assert!(again.rewritten.is_empty());
    }
}

/// `tessera serve` stops before it listens while stored usernames collide, with the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_on_colliding_usernames() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let store = tessera_server::store::connect(&url).await.unwrap();
    raw_user(&*store, "admin").await;
    raw_user(&*store, "ａｄｍｉｎ").await;
    store.close().await;
    let config = Config::load_with_env(
        None,
        [
            ("TESSERA_DATABASE_URL", url.as_str()),
            ("TESSERA_LISTEN", "127.0.0.1:0"),
        ],
    )
    .unwrap();
    let listened = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen = listened.clone();
    let err = serve::run(config, std::future::pending(), move |_| {
        seen.store(true, std::sync::atomic::Ordering::SeqCst);
    })
    .await
    .unwrap_err();
    assert!(matches!(err, StartupError::Usernames(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("\"ａｄｍｉｎ\""), "{message}");
    assert!(message.contains("tessera user rename"), "{message}");
    assert!(!listened.load(std::sync::atomic::Ordering::SeqCst));
}
