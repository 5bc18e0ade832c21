//! Storage stays bounded (issue 9, finding 5), on SQLite and PostgreSQL: the scheduled purge
//! under its database lock, the cap of live sessions per user, keyset pages of the lists, and
//! deleting a user with everything that hangs on it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tessera_jwt::FixedClock;
use tessera_server::metrics::Metrics;
use tessera_server::purge::{self, PurgeOutcome};
use tessera_server::store::{
    self, LinkTarget, NewClient, NewExternalIdentity, NewRefreshFamily, NewUser, PageAfter,
    RefreshFamily, Rotation, Store, StoreError, TokenHash, User, revocation_reason,
};

use crate::harness::Ctx;

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

on_both_backends!(
    cases::a_purge_run_deletes_expired_rows_and_counts_them,
    cases::the_purge_runs_under_its_lock_one_instance_at_a_time,
    cases::the_scheduled_purge_runs_in_the_background,
    cases::sessions_beyond_the_cap_are_revoked_least_recently_used_first,
    cases::concurrent_logins_keep_the_session_cap,
    cases::pages_walk_every_row_once_in_a_stable_order,
    cases::deleting_a_user_takes_its_sessions_and_identities,
);

mod cases {
    use super::*;

    async fn user(store: &dyn Store, name: &str) -> User {
        store
            .create_user(
                NewUser {
                    username: name,
                    password_hash: None,
                    roles: &[],
                },
                NOW,
            )
            .await
            .unwrap()
    }

    fn token(label: &str) -> TokenHash {
        TokenHash::of(format!("upkeep-token-{label}"))
    }

    async fn login(store: &dyn Store, user: &User, label: &str, now: i64) -> RefreshFamily {
        store
            .create_refresh_family(
                NewRefreshFamily {
                    user_id: &user.id,
                    client_id: None,
                    scopes: &[],
                    expires_at: now + 30 * DAY,
                    idle_ttl: 7 * DAY,
                    user_agent: None,
                    client_address: None,
                },
                &token(label),
                now,
            )
            .await
            .unwrap()
            .0
    }

    /// Two dead families (one revoked, one idle-expired) and one live one.
    async fn dead_and_alive(s: &dyn Store) -> (RefreshFamily, RefreshFamily, RefreshFamily) {
        let rose = user(s, "rose").await;
        let revoked = login(s, &rose, "revoked", NOW).await;
        s.revoke_refresh_family(&revoked.id, revocation_reason::LOGOUT, NOW + 1)
            .await
            .unwrap();
        let idle = s
            .create_refresh_family(
                NewRefreshFamily {
                    user_id: &rose.id,
                    client_id: None,
                    scopes: &[],
                    expires_at: NOW + 30 * DAY,
                    idle_ttl: 60,
                    user_agent: None,
                    client_address: None,
                },
                &token("idle"),
                NOW,
            )
            .await
            .unwrap()
            .0;
        let alive = login(s, &rose, "alive", NOW + 2 * DAY).await;
        (revoked, idle, alive)
    }

    fn counted(metrics: &Metrics, kind: &str) -> u64 {
        let prefix = format!("tessera_purged_rows_total{{kind=\"{kind}\"}} ");
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(|v| v.parse().unwrap()))
            .unwrap_or_else(|| panic!("no {prefix} in\n{}", metrics.render()))
    }

    pub(crate) async fn a_purge_run_deletes_expired_rows_and_counts_them(ctx: Ctx) {
        let s = &*ctx.store;
        let (revoked, idle, alive) = dead_and_alive(s).await;
        let metrics = Metrics::new();
        assert_eq!(counted(&metrics, "families"), 0);

        // Within the retention nothing goes: the revoked family still says why it died.
        let now = NOW + 2 * DAY;
        let outcome = purge::purge_once(s, &metrics, "a", now, Duration::from_secs(3 * 86_400))
            .await
            .unwrap();
        assert!(
            matches!(outcome, PurgeOutcome::Purged(r) if r.families == 0),
            "{outcome:?}"
        );
        assert!(s.refresh_family(&revoked.id).await.unwrap().is_some());

        let outcome = purge::purge_once(s, &metrics, "a", now, Duration::from_secs(86_400))
            .await
            .unwrap();
        let PurgeOutcome::Purged(report) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(report.families, 2, "{report:?}");
        for gone in [&revoked.id, &idle.id] {
            assert_eq!(s.refresh_family(gone).await.unwrap(), None);
        }
        assert_eq!(s.refresh_token(&token("idle")).await.unwrap(), None);
        assert!(s.refresh_family(&alive.id).await.unwrap().is_some());
        assert_eq!(counted(&metrics, "families"), 2);
        assert_eq!(counted(&metrics, "tokens"), 0);
        // The lease was released: the next round runs.
        assert!(matches!(
            purge::purge_once(s, &metrics, "b", now + 1, Duration::ZERO)
                .await
                .unwrap(),
            PurgeOutcome::Purged(_)
        ));
    }

    pub(crate) async fn the_purge_runs_under_its_lock_one_instance_at_a_time(ctx: Ctx) {
        // Two instances on one database.
        let a = &*ctx.store;
        let b = store::connect(&ctx.url).await.unwrap();
        let (revoked, _, _) = dead_and_alive(a).await;
        let now = NOW + 2 * DAY;
        let (metrics_a, metrics_b) = (Metrics::new(), Metrics::new());

        // A is purging (holds the lease): B skips its round and deletes nothing.
        let lease = a
            .try_purge_lock("instance-a", now, 60)
            .await
            .unwrap()
            .unwrap();
        let outcome = purge::purge_once(&*b, &metrics_b, "instance-b", now, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(outcome, PurgeOutcome::Skipped);
        assert!(b.refresh_family(&revoked.id).await.unwrap().is_some());
        assert_eq!(counted(&metrics_b, "families"), 0);
        // The purge lock is not the key-rotation lock: neither blocks the other.
        let rotation = b.try_rotation_lock("instance-b", now, 60).await.unwrap();
        assert!(rotation.is_some());
        assert!(b.release_rotation_lock(&rotation.unwrap()).await.unwrap());

        assert!(a.release_purge_lock(&lease).await.unwrap());
        let outcome = purge::purge_once(&*b, &metrics_b, "instance-b", now, Duration::ZERO)
            .await
            .unwrap();
        assert!(
            matches!(outcome, PurgeOutcome::Purged(r) if r.families == 2),
            "{outcome:?}"
        );
        assert_eq!(a.refresh_family(&revoked.id).await.unwrap(), None);
        assert_eq!(counted(&metrics_b, "families"), 2);
        assert_eq!(counted(&metrics_a, "families"), 0);

        // A lease left by an instance that died lapses.
        let _dead = a
            .try_purge_lock("crashed", now + 10, 30)
            .await
            .unwrap()
            .unwrap();
        let skipped = purge::purge_once(&*b, &metrics_b, "instance-b", now + 39, Duration::ZERO);
        assert_eq!(skipped.await.unwrap(), PurgeOutcome::Skipped);
        let ran = purge::purge_once(&*b, &metrics_b, "instance-b", now + 40, Duration::ZERO);
        assert!(matches!(ran.await.unwrap(), PurgeOutcome::Purged(_)));

        // Two instances racing for one round: exactly one purges.
        let (x, y) = tokio::join!(
            purge::purge_once(a, &metrics_a, "instance-a", now + 100, Duration::ZERO),
            purge::purge_once(&*b, &metrics_b, "instance-b", now + 100, Duration::ZERO),
        );
        let outcomes = [x.unwrap(), y.unwrap()];
        // The winner may release before the other one asks: then both run, one after the
        // other, never at once — which the lease below pins down.
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, PurgeOutcome::Purged(_)))
        );
        let held = a
            .try_purge_lock("instance-a", now + 200, 60)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            b.try_purge_lock("instance-b", now + 200, 60).await.unwrap(),
            None
        );
        assert!(a.release_purge_lock(&held).await.unwrap());
        b.close().await;
    }

    pub(crate) async fn the_scheduled_purge_runs_in_the_background(ctx: Ctx) {
        let (revoked, idle, alive) = dead_and_alive(&*ctx.store).await;
        let metrics = Metrics::new();
        let clock = Arc::new(FixedClock::new(NOW + 2 * DAY));
        let task = purge::spawn(
            ctx.store.clone(),
            clock,
            metrics.clone(),
            Duration::from_millis(50),
            Duration::ZERO,
        );
        // The counter moves once a round has committed its deletions.
        let mut purged = false;
        for _ in 0..400 {
            if counted(&metrics, "families") >= 2 {
                purged = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        task.abort();
        assert!(purged, "the background purge ran");
        assert_eq!(ctx.store.refresh_family(&revoked.id).await.unwrap(), None);
        assert_eq!(ctx.store.refresh_family(&idle.id).await.unwrap(), None);
        assert!(ctx.store.refresh_family(&alive.id).await.unwrap().is_some());
    }

    pub(crate) async fn sessions_beyond_the_cap_are_revoked_least_recently_used_first(ctx: Ctx) {
        let s = &*ctx.store;
        let ann = user(s, "ann").await;
        let other = user(s, "other").await;
        let first = login(s, &ann, "first", NOW).await;
        let second = login(s, &ann, "second", NOW + 1).await;
        let third = login(s, &ann, "third", NOW + 2).await;
        let theirs = login(s, &other, "theirs", NOW).await;
        // Using the first session makes the second the least recently used.
        assert!(matches!(
            s.rotate_refresh_token(&token("first"), &token("first-2"), NOW + 3, 0)
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        let fourth = login(s, &ann, "fourth", NOW + 4).await;

        let revoked = s
            .revoke_families_beyond(
                &ann.id,
                &fourth.id,
                3,
                revocation_reason::SESSION_LIMIT,
                NOW + 4,
            )
            .await
            .unwrap();
        assert_eq!(revoked, 1);
        let second = s.refresh_family(&second.id).await.unwrap().unwrap();
        assert_eq!(second.revoked_reason.as_deref(), Some("session_limit"));
        let live: HashSet<String> = s
            .active_refresh_families(&ann.id, NOW + 4)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(
            live,
            HashSet::from([first.id.clone(), third.id.clone(), fourth.id.clone()])
        );
        // Another user's sessions are not counted nor touched.
        assert!(
            s.refresh_family(&theirs.id)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_none()
        );
        // Within the cap: nothing to do.
        let none = s
            .revoke_families_beyond(
                &ann.id,
                &fourth.id,
                3,
                revocation_reason::SESSION_LIMIT,
                NOW + 4,
            )
            .await
            .unwrap();
        assert_eq!(none, 0);
        // The new session is kept even when it is not the most recently used.
        let kept = s
            .revoke_families_beyond(
                &ann.id,
                &third.id,
                1,
                revocation_reason::SESSION_LIMIT,
                NOW + 5,
            )
            .await
            .unwrap();
        assert_eq!(kept, 2);
        let live = s.active_refresh_families(&ann.id, NOW + 5).await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id, third.id);
        // A cap of zero would end every session, the new one too.
        assert!(matches!(
            s.revoke_families_beyond(&ann.id, &third.id, 0, "x", NOW + 5)
                .await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub(crate) async fn concurrent_logins_keep_the_session_cap(ctx: Ctx) {
        const CAP: u32 = 5;
        let s = ctx.store.clone();
        let bea = user(&*s, "bea").await;
        let mut tasks = Vec::new();
        for i in 0..24 {
            let s = s.clone();
            let bea = bea.clone();
            tasks.push(tokio::spawn(async move {
                let family = login(&*s, &bea, &format!("c{i}"), NOW).await;
                s.revoke_families_beyond(
                    &bea.id,
                    &family.id,
                    CAP,
                    revocation_reason::SESSION_LIMIT,
                    NOW,
                )
                .await
                .unwrap();
                family.id
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let live = s.active_refresh_families(&bea.id, NOW).await.unwrap();
        assert_eq!(live.len(), CAP as usize, "{live:?}");
    }

    pub(crate) async fn pages_walk_every_row_once_in_a_stable_order(ctx: Ctx) {
        let s = &*ctx.store;
        // Users by username.
        let mut names: Vec<String> = (0..7).map(|i| format!("user-{i}")).collect();
        for name in names.iter().rev() {
            user(s, name).await;
        }
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = s
                .users_page(after.as_deref().map(PageAfter::User), 3)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 3);
            after = page.last().map(|u| u.username.clone());
            seen.extend(page.into_iter().map(|u| u.username));
        }
        names.sort();
        assert_eq!(seen, names);

        // Clients by name then id: equal names do not lose anyone at a page boundary.
        for name in ["web", "web", "web", "api", "zeta"] {
            s.create_client(
                NewClient {
                    name,
                    secret_hash: None,
                    scopes: &[],
                },
                NOW,
            )
            .await
            .unwrap();
        }
        let mut seen = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = s
                .clients_page(
                    after
                        .as_ref()
                        .map(|(name, client_id)| PageAfter::Client { name, client_id }),
                    2,
                )
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|c| (c.name.clone(), c.client_id.clone()));
            seen.extend(page.into_iter().map(|c| (c.name, c.client_id)));
        }
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["api", "web", "web", "web", "zeta"]);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);

        // Sessions newest sign-in first, several in one second; a refresh between pages
        // moves nothing; dead ones are not listed.
        let cid = user(s, "cid").await;
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(login(s, &cid, &format!("s{i}"), NOW + i / 2).await.id);
        }
        let dead = login(s, &cid, "dead", NOW + 9).await;
        s.revoke_refresh_family(&dead.id, revocation_reason::LOGOUT, NOW + 9)
            .await
            .unwrap();
        let now = NOW + 10;
        let first = s
            .active_refresh_families_page(&cid.id, now, None, 2)
            .await
            .unwrap();
        assert_eq!(first.len(), 2);
        assert!(matches!(
            s.rotate_refresh_token(&token("s0"), &token("s0-next"), now, 0)
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        let mut seen: Vec<RefreshFamily> = first;
        loop {
            let last = seen.last().unwrap();
            let page = s
                .active_refresh_families_page(
                    &cid.id,
                    now,
                    Some(PageAfter::Session {
                        created_at: last.created_at,
                        id: &last.id,
                    }),
                    2,
                )
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            seen.extend(page);
        }
        let order: Vec<(i64, &str)> = seen.iter().map(|f| (f.created_at, f.id.as_str())).collect();
        let mut sorted = order.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(order, sorted, "newest first");
        let listed: HashSet<&str> = seen.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            listed,
            ids.iter().map(String::as_str).collect::<HashSet<_>>()
        );

        // Another list's position is refused, not misread.
        assert!(matches!(
            s.users_page(
                Some(PageAfter::Client {
                    name: "a",
                    client_id: "b"
                }),
                2
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub(crate) async fn deleting_a_user_takes_its_sessions_and_identities(ctx: Ctx) {
        let s = &*ctx.store;
        // Dan signed up through an outside provider: one linked identity.
        let dan = s
            .find_or_link_external_identity(
                NewExternalIdentity {
                    issuer: "https://accounts.example",
                    subject: "dan-sub",
                    email: Some("dan@example.com"),
                    email_verified: true,
                },
                LinkTarget::NewUser(NewUser {
                    username: "dan",
                    password_hash: None,
                    roles: &[],
                }),
                NOW,
            )
            .await
            .unwrap()
            .user;
        let eve = user(s, "eve").await;
        let one = login(s, &dan, "one", NOW).await;
        let two = login(s, &dan, "two", NOW).await;
        assert!(matches!(
            s.rotate_refresh_token(&token("two"), &token("two-next"), NOW + 1, 0)
                .await
                .unwrap(),
            Rotation::Rotated { .. }
        ));
        let ended = login(s, &dan, "ended", NOW).await;
        s.revoke_refresh_family(&ended.id, revocation_reason::LOGOUT, NOW)
            .await
            .unwrap();
        let evening = login(s, &eve, "eve", NOW).await;

        let deleted = s.delete_user(&dan.id, NOW + 2).await.unwrap();
        assert_eq!(
            (deleted.sessions, deleted.identities),
            (2, 1),
            "{deleted:?}"
        );
        assert_eq!(s.user_by_id(&dan.id).await.unwrap(), None);
        for family in [&one.id, &two.id, &ended.id] {
            assert_eq!(s.refresh_family(family).await.unwrap(), None);
        }
        // The refresh tokens are refused: unknown now.
        for presented in ["one", "two-next", "two"] {
            assert_eq!(
                s.rotate_refresh_token(&token(presented), &token("after"), NOW + 3, 5)
                    .await
                    .unwrap(),
                Rotation::Unknown,
                "{presented}"
            );
        }
        assert_eq!(
            s.external_identity("https://accounts.example", "dan-sub")
                .await
                .unwrap(),
            None
        );
        // Eve is untouched; deleting again is NotFound; the name is free.
        assert!(s.refresh_family(&evening.id).await.unwrap().is_some());
        assert!(s.user_by_id(&eve.id).await.unwrap().is_some());
        assert!(matches!(
            s.delete_user(&dan.id, NOW + 3).await,
            Err(StoreError::NotFound { .. })
        ));
        user(s, "dan").await;
    }
}
