//! Signing keys: encryption at rest, the first key, rotation on a schedule and on demand (with
//! a `FixedClock`: no sleeping for expiry rules), and two instances on one database. Each case
//! runs on SQLite (a real file) and PostgreSQL (a schema of its own), through the store
//! contract's harness.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::Ctx;
use serde_json::json;
use tessera_jwt::{Algorithm, FixedClock, Header, Jwk, JwkSet, KeySet, SigningKey, Validation};
use tessera_server::config::Config;
use tessera_server::keys::{
    KeyError, KeyManager, MasterKey, MasterKeyRing, RotateMode, RotationPolicy,
};
use tessera_server::metrics::Metrics;
use tessera_server::store::{self, KeyState, Store};

const T0: i64 = 1_800_000_000;
const NO_ENV: [(&str, &str); 0] = [];

on_both_backends!(
    first_run_creates_one_active_key,
    private_keys_at_rest_are_not_plaintext,
    scheduled_rotation_publishes_before_signing_and_keeps_keys_until_tokens_expire,
    jwks_always_holds_the_key_of_every_unexpired_token,
    rotate_on_demand,
    wrong_master_key_is_refused_and_old_master_keys_read,
    two_instances_agree_and_one_concurrent_rotation_wins,
    a_rotation_at_one_instance_is_served_by_the_other_within_the_refresh_interval,
    master_key_rotation_with_two_instances_serving_throughout,
);

/// Short periods, so that a simulated timeline has many rotations.
const FAST: &str = r#"
[tokens]
access_ttl = "15m"
[keys]
algorithm = "ES256"
rotation_period = "3h"
jwks_max_age = "30m"
publish_lead = "1h"
refresh_interval = "10s"
retire_leeway = "5m"
"#;

struct Instance {
    keys: Arc<KeyManager>,
    policy: RotationPolicy,
}

fn manager(
    store: Arc<dyn Store>,
    master: Arc<MasterKeyRing>,
    clock: Arc<FixedClock>,
    toml: &str,
) -> Instance {
    let config = Config::from_toml_and_env(toml, NO_ENV).unwrap();
    let policy = RotationPolicy::from_config(&config);
    let keys = Arc::new(KeyManager::new(
        store,
        clock.clone(),
        master,
        policy,
        Metrics::new(),
    ));
    Instance { keys, policy }
}

fn new_ring() -> Arc<MasterKeyRing> {
    Arc::new(MasterKeyRing::new(MasterKey::generate().unwrap().0, vec![]))
}

fn kid(key: &SigningKey) -> String {
    key.kid().unwrap().to_owned()
}

fn jwks_kids(keys: &KeyManager) -> BTreeSet<String> {
    let set = JwkSet::from_json(&keys.jwks().body).unwrap();
    set.keys.iter().map(|k| k.kid.clone().unwrap()).collect()
}

fn state_of(keys: &[tessera_server::keys::KeyInfo], kid: &str) -> Option<KeyState> {
    keys.iter().find(|k| k.kid == kid).map(|k| k.state)
}

fn access_token(key: &SigningKey, now: i64, ttl: i64) -> String {
    tessera_jwt::encode(
        key,
        &Header::for_key(key).with_typ("at+jwt"),
        &json!({"iss": "https://issuer.test", "sub": "u1", "aud": "tessera", "iat": now, "exp": now + ttl}),
    )
    .unwrap()
}

/// Verifies `token` at `now` against a JWKS document, as an outside verifier would.
fn verifies_with_jwks(token: &str, jwks: &[u8], now: i64) -> Result<(), tessera_jwt::Error> {
    let set = KeySet::from_jwks(
        &JwkSet::from_json(jwks).unwrap(),
        &[Algorithm::ES256, Algorithm::RS256],
    );
    let validation = Validation::new([Algorithm::ES256, Algorithm::RS256])
        .issuer("https://issuer.test")
        .audience("tessera")
        .leeway(0)
        .clock(Arc::new(FixedClock::new(now)));
    tessera_jwt::verify::<serde_json::Value>(token, &set, &validation).map(|_| ())
}

// ---- cases ---------------------------------------------------------------------------------------

async fn first_run_creates_one_active_key(ctx: Ctx) {
    let master = new_ring();
    let a = manager(
        ctx.store.clone(),
        master.clone(),
        Arc::new(FixedClock::new(T0)),
        "[keys]\nalgorithm = \"RS256\"",
    );
    // Before init nothing signs, and the error maps to 503.
    assert!(matches!(a.keys.signer(), Err(KeyError::NoActiveKey)));
    assert!(a.keys.readiness().is_err());

    let report = a.keys.init().await.unwrap();
    let created = report.created.expect("the first key is created");
    assert_eq!(created.state, KeyState::Active);
    assert_eq!(created.alg, "RS256");
    let signer = a.keys.signer().unwrap();
    assert_eq!(kid(&signer), created.kid);
    assert_eq!(signer.algorithm(), Algorithm::RS256);
    assert_eq!(jwks_kids(&a.keys), BTreeSet::from([created.kid.clone()]));
    a.keys.readiness().unwrap();

    // A second start on the same database creates nothing and signs with the same key.
    let b = manager(
        ctx.store.clone(),
        master,
        Arc::new(FixedClock::new(T0 + 60)),
        "[keys]\nalgorithm = \"RS256\"",
    );
    let report = b.keys.init().await.unwrap();
    assert!(report.created.is_none(), "{report:?}");
    assert_eq!(kid(&b.keys.signer().unwrap()), created.kid);
    assert_eq!(ctx.store.signing_keys().await.unwrap().len(), 1);

    // Its tokens verify with the published JWKS and with the manager's verification keys.
    let token = access_token(&signer, T0, 900);
    verifies_with_jwks(&token, &a.keys.jwks().body, T0 + 1).unwrap();
    let validation = Validation::new([Algorithm::RS256])
        .issuer("https://issuer.test")
        .audience("tessera")
        .clock(Arc::new(FixedClock::new(T0 + 1)));
    tessera_jwt::verify::<serde_json::Value>(&token, &*b.keys.verification_keys(), &validation)
        .unwrap();
}

async fn private_keys_at_rest_are_not_plaintext(ctx: Ctx) {
    let a = manager(
        ctx.store.clone(),
        new_ring(),
        Arc::new(FixedClock::new(T0)),
        FAST,
    );
    a.keys.init().await.unwrap();
    a.keys.rotate(RotateMode::Advance).await.unwrap(); // a `next` key too
    let private = a.keys.signer().unwrap().to_jwk().unwrap();
    let d_text = private.d.as_ref().unwrap().expose().to_owned();
    let d_bytes = base64_decode(&d_text);

    // The raw rows, read with SQL (not through the store).
    let rows = raw_signing_key_rows(&ctx.url).await;
    assert_eq!(rows.len(), 2);
    for (kid, columns) in &rows {
        for column in columns {
            assert!(
                !contains(column, d_text.as_bytes()),
                "{kid}: the private key is in a column as text"
            );
            assert!(
                !contains(column, &d_bytes),
                "{kid}: the private key is in a column as bytes"
            );
            // No column reads as a key.
            assert!(
                Jwk::from_json(column)
                    .map(|j| j.is_private())
                    .map_or(true, |p| !p),
                "{kid}"
            );
            assert!(SigningKey::from_der(column, None).is_err(), "{kid}");
            if let Ok(text) = std::str::from_utf8(column) {
                assert!(SigningKey::from_pem(text, None).is_err(), "{kid}");
                assert!(!text.contains("\"d\""), "{kid}: {text}");
            }
        }
    }
    // SQLite: not in the database file (or its WAL) either.
    if let Some(path) = ctx.url.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !contains(&bytes, d_text.as_bytes()) && !contains(&bytes, &d_bytes),
                    "{file}"
                );
            }
        }
    }
}

async fn scheduled_rotation_publishes_before_signing_and_keeps_keys_until_tokens_expire(ctx: Ctx) {
    let clock = Arc::new(FixedClock::new(T0));
    let a = manager(ctx.store.clone(), new_ring(), clock.clone(), FAST);
    a.keys.init().await.unwrap();
    let p = a.policy;
    let first = kid(&a.keys.signer().unwrap());

    // Not due yet: nothing happens.
    clock.set(p.next_due_at(T0) - 1);
    assert!(!a.keys.tick().await.unwrap().changed());
    assert_eq!(jwks_kids(&a.keys).len(), 1);

    // Due: a `next` key is published, but the old key still signs.
    clock.set(p.next_due_at(T0));
    let report = a.keys.tick().await.unwrap();
    let next = report.created.expect("next key created").kid;
    assert_eq!(
        state_of(&a.keys.list().await.unwrap(), &next),
        Some(KeyState::Next)
    );
    assert_eq!(
        jwks_kids(&a.keys),
        BTreeSet::from([first.clone(), next.clone()])
    );
    assert_eq!(kid(&a.keys.signer().unwrap()), first);
    assert!(
        p.promotable_at(p.next_due_at(T0)) - p.next_due_at(T0) >= 2 * 30 * 60,
        "published ≥ 2 cache lifetimes"
    );

    // One second before the rotation: still the old key. Its last token:
    clock.set(p.rotation_due_at(T0) - 1);
    assert!(!a.keys.tick().await.unwrap().changed());
    let last_old = access_token(&a.keys.signer().unwrap(), clock_now(&clock), p.access_ttl);
    assert_eq!(kid(&a.keys.signer().unwrap()), first);

    // The rotation: the next key signs, the old one is retired and still published.
    clock.set(p.rotation_due_at(T0));
    let report = a.keys.tick().await.unwrap();
    assert_eq!(report.activated.as_deref(), Some(next.as_str()));
    assert_eq!(report.retired.as_deref(), Some(first.as_str()));
    assert_eq!(kid(&a.keys.signer().unwrap()), next);
    let listed = a.keys.list().await.unwrap();
    assert_eq!(state_of(&listed, &first), Some(KeyState::Retired));
    let delete_after = listed
        .iter()
        .find(|k| k.kid == first)
        .unwrap()
        .delete_after
        .unwrap();
    assert_eq!(delete_after, p.delete_after(p.rotation_due_at(T0)));
    // The token signed just before still verifies, until it expires.
    verifies_with_jwks(
        &last_old,
        &a.keys.jwks().body,
        clock_now(&clock) + p.access_ttl - 2,
    )
    .unwrap();
    assert!(
        delete_after > p.rotation_due_at(T0) - 1 + p.access_ttl,
        "kept past its last token's expiry"
    );

    // Just before delete_after the retired key is still there; at delete_after it goes.
    clock.set(delete_after - 1);
    assert!(a.keys.tick().await.unwrap().deleted.is_empty());
    assert!(jwks_kids(&a.keys).contains(&first));
    clock.set(delete_after);
    let report = a.keys.tick().await.unwrap();
    assert_eq!(report.deleted, std::slice::from_ref(&first));
    assert_eq!(jwks_kids(&a.keys), BTreeSet::from([next.clone()]));
    assert!(state_of(&a.keys.list().await.unwrap(), &first).is_none());
    // By then every token of the old key had expired.
    assert!(verifies_with_jwks(&last_old, &a.keys.jwks().body, delete_after).is_err());
}

fn clock_now(clock: &FixedClock) -> i64 {
    tessera_jwt::Clock::now(clock)
}

/// A simulated timeline: every 5 minutes over several rotation periods, the instance ticks
/// (and now and then an operator asks for a rotation) and signs a token; every token not yet expired must verify with the JWKS served at that
/// moment, and every key must have been in the JWKS for `publish_lead` before it signs.
async fn jwks_always_holds_the_key_of_every_unexpired_token(ctx: Ctx) {
    let clock = Arc::new(FixedClock::new(T0));
    let a = manager(ctx.store.clone(), new_ring(), clock.clone(), FAST);
    a.keys.init().await.unwrap();
    let p = a.policy;
    let mut first_published: BTreeMap<String, i64> = BTreeMap::new();
    let mut tokens: Vec<(i64, String)> = Vec::new();
    let mut signers = BTreeSet::new();
    let step = 5 * 60;
    let end = T0 + 4 * p.rotation_period;
    let mut now = T0;
    let mut step_no = 0;
    while now <= end {
        clock.set(now);
        a.keys.tick().await.unwrap();
        // Now and then an operator runs `tessera key rotate` too: it makes a next key, or
        // promotes one, but only once it has been published long enough.
        step_no += 1;
        if step_no % 7 == 0 {
            a.keys.rotate(RotateMode::Advance).await.unwrap();
        }
        let jwks = a.keys.jwks();
        for kid in jwks_kids(&a.keys) {
            first_published.entry(kid).or_insert(now);
        }
        let signer = a.keys.signer().unwrap();
        let signer_kid = kid(&signer);
        if signers.insert(signer_kid.clone()) && signers.len() > 1 {
            let since = first_published[&signer_kid];
            assert!(
                now - since >= p.publish_lead,
                "{signer_kid} signs {}s after it was published",
                now - since
            );
        }
        tokens.push((now + p.access_ttl, access_token(&signer, now, p.access_ttl)));
        for (exp, token) in &tokens {
            if *exp > now {
                verifies_with_jwks(token, &jwks.body, now).unwrap_or_else(|e| {
                    panic!("at {now}: a token expiring at {exp} no longer verifies: {e}")
                });
            }
        }
        now += step;
    }
    assert!(
        signers.len() >= 4,
        "several rotations happened: {signers:?}"
    );
    // Retired keys were deleted along the way: the JWKS did not grow without end.
    assert!(jwks_kids(&a.keys).len() <= 3, "{:?}", jwks_kids(&a.keys));
}

async fn rotate_on_demand(ctx: Ctx) {
    let clock = Arc::new(FixedClock::new(T0));
    let a = manager(ctx.store.clone(), new_ring(), clock.clone(), FAST);
    a.keys.init().await.unwrap();
    let p = a.policy;
    let first = kid(&a.keys.signer().unwrap());

    // `key rotate`: a next key now, published; it may sign after publish_lead (+ refresh).
    let report = a.keys.rotate(RotateMode::Advance).await.unwrap();
    let next = report.created.clone().unwrap().kid;
    assert_eq!(report.next_signs_at, Some(p.promotable_at(T0)));
    assert!(report.activated.is_none());
    // Again, too early: nothing changes, it says when.
    clock.advance(60);
    let report = a.keys.rotate(RotateMode::Advance).await.unwrap();
    assert!(!report.changed());
    assert_eq!(report.next_signs_at, Some(p.promotable_at(T0)));
    // Once published long enough: promoted, although the rotation period is far away.
    clock.set(p.promotable_at(T0));
    let report = a.keys.rotate(RotateMode::Advance).await.unwrap();
    assert_eq!(report.activated.as_deref(), Some(next.as_str()));
    assert_eq!(report.retired.as_deref(), Some(first.as_str()));
    assert_eq!(kid(&a.keys.signer().unwrap()), next);

    // `key rotate --now` without a next key: one is made and signs at once.
    let report = a.keys.rotate(RotateMode::Now).await.unwrap();
    let third = report.created.unwrap().kid;
    assert_eq!(report.activated.as_deref(), Some(third.as_str()));
    assert_eq!(report.retired.as_deref(), Some(next.as_str()));
    assert_eq!(kid(&a.keys.signer().unwrap()), third);
    let listed = a.keys.list().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|k| k.state == KeyState::Active)
            .count(),
        1
    );
    assert_eq!(
        listed
            .iter()
            .filter(|k| k.state == KeyState::Retired)
            .count(),
        2
    );
    assert_eq!(jwks_kids(&a.keys).len(), 3);

    // `--now` with a next key: that one is promoted.
    let report = a.keys.rotate(RotateMode::Advance).await.unwrap();
    let fourth = report.created.unwrap().kid;
    let report = a.keys.rotate(RotateMode::Now).await.unwrap();
    assert!(report.created.is_none());
    assert_eq!(report.activated.as_deref(), Some(fourth.as_str()));
}

async fn wrong_master_key_is_refused_and_old_master_keys_read(ctx: Ctx) {
    let (old, old_text) = MasterKey::generate().unwrap();
    let old_id = old.id().to_owned();
    let a = manager(
        ctx.store.clone(),
        Arc::new(MasterKeyRing::new(old, vec![])),
        Arc::new(FixedClock::new(T0)),
        FAST,
    );
    a.keys.init().await.unwrap();
    let first = kid(&a.keys.signer().unwrap());

    // Another master key alone: the active key cannot be read; nothing signs, and the error
    // names the master key that is missing. No new key is made over it.
    let other = manager(
        ctx.store.clone(),
        new_ring(),
        Arc::new(FixedClock::new(T0)),
        FAST,
    );
    let err = other.keys.init().await.unwrap_err();
    assert!(err.to_string().contains(&old_id), "{err}");
    assert!(other.keys.signer().is_err());
    let why = other.keys.readiness().unwrap_err();
    assert!(why.contains(&old_id), "{why}");
    assert_eq!(ctx.store.signing_keys().await.unwrap().len(), 1);
    // It still publishes the public keys.
    assert_eq!(jwks_kids(&other.keys), BTreeSet::from([first.clone()]));

    // A new master key with the old one in the ring: reads the old key, encrypts new ones
    // under the new master key.
    let (new, _) = MasterKey::generate().unwrap();
    let new_id = new.id().to_owned();
    let ring = MasterKeyRing::new(new, vec![MasterKey::from_base64url(&old_text).unwrap()]);
    let b = manager(
        ctx.store.clone(),
        Arc::new(ring),
        Arc::new(FixedClock::new(T0)),
        FAST,
    );
    b.keys.init().await.unwrap();
    assert_eq!(kid(&b.keys.signer().unwrap()), first);
    b.keys.rotate(RotateMode::Now).await.unwrap();
    let stored = ctx.store.signing_keys().await.unwrap();
    let ids: BTreeSet<_> = stored
        .iter()
        .map(|k| k.private_key.master_key_id.clone())
        .collect();
    assert_eq!(ids, BTreeSet::from([old_id, new_id]));
}

async fn two_instances_agree_and_one_concurrent_rotation_wins(ctx: Ctx) {
    let master_bytes = MasterKey::generate().unwrap().1;
    let ring = || {
        Arc::new(MasterKeyRing::new(
            MasterKey::from_base64url(&master_bytes).unwrap(),
            vec![],
        ))
    };
    let second_store = store::connect(&ctx.url).await.unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    // RSA keys: generating one takes long enough that both attempts overlap.
    let toml = FAST.replace("ES256", "RS256");
    let a = manager(ctx.store.clone(), ring(), clock.clone(), &toml);
    let b = manager(second_store.clone(), ring(), clock.clone(), &toml);

    // Both start at once on an empty database: one first key.
    let (ra, rb) = tokio::join!(a.keys.init(), b.keys.init());
    ra.unwrap();
    rb.unwrap();
    let stored = ctx.store.signing_keys().await.unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        kid(&a.keys.signer().unwrap()),
        kid(&b.keys.signer().unwrap())
    );

    // Two concurrent `rotate --now`: one does it, the other finds the lock taken.
    for round in 0..3 {
        let (ra, rb) = tokio::join!(
            a.keys.rotate(RotateMode::Now),
            b.keys.rotate(RotateMode::Now)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(
            ra.skipped != rb.skipped,
            "round {round}: exactly one rotation runs: {ra:?} {rb:?}"
        );
        let stored = ctx.store.signing_keys().await.unwrap();
        assert_eq!(
            stored
                .iter()
                .filter(|k| k.state == KeyState::Active)
                .count(),
            1
        );
        assert_eq!(
            stored.iter().filter(|k| k.state == KeyState::Next).count(),
            0
        );
        assert_eq!(
            stored
                .iter()
                .filter(|k| k.state == KeyState::Retired)
                .count(),
            round + 1
        );
    }

    // Two scheduled ticks when a rotation is due: one next key, then one promotion.
    a.keys.reload().await.unwrap();
    let since = ctx
        .store
        .signing_keys()
        .await
        .unwrap()
        .iter()
        .find(|k| k.state == KeyState::Active)
        .unwrap()
        .activated_at
        .unwrap();
    clock.set(a.policy.next_due_at(since));
    let (ra, rb) = tokio::join!(a.keys.tick(), b.keys.tick());
    let created = [ra.unwrap(), rb.unwrap()]
        .iter()
        .filter(|r| r.created.is_some())
        .count();
    assert_eq!(created, 1);
    let stored = ctx.store.signing_keys().await.unwrap();
    assert_eq!(
        stored.iter().filter(|k| k.state == KeyState::Next).count(),
        1
    );
    clock.set(
        a.policy
            .rotation_due_at(since)
            .max(a.policy.promotable_at(a.policy.next_due_at(since))),
    );
    let (ra, rb) = tokio::join!(a.keys.tick(), b.keys.tick());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        [&ra, &rb].iter().filter(|r| r.activated.is_some()).count(),
        1,
        "{ra:?} {rb:?}"
    );
    // Whoever did it, both serve the same key after their reload.
    a.keys.reload().await.unwrap();
    b.keys.reload().await.unwrap();
    assert_eq!(
        kid(&a.keys.signer().unwrap()),
        kid(&b.keys.signer().unwrap())
    );
    assert_eq!(a.keys.jwks().etag, b.keys.jwks().etag);
    second_store.close().await;
}

async fn a_rotation_at_one_instance_is_served_by_the_other_within_the_refresh_interval(ctx: Ctx) {
    let master_bytes = MasterKey::generate().unwrap().1;
    let ring = || {
        Arc::new(MasterKeyRing::new(
            MasterKey::from_base64url(&master_bytes).unwrap(),
            vec![],
        ))
    };
    let second_store = store::connect(&ctx.url).await.unwrap();
    let clock = Arc::new(FixedClock::new(T0));
    let toml = FAST.replace("refresh_interval = \"10s\"", "refresh_interval = \"1s\"");
    let a = manager(ctx.store.clone(), ring(), clock.clone(), &toml);
    let b = manager(second_store.clone(), ring(), clock.clone(), &toml);
    a.keys.init().await.unwrap();
    b.keys.init().await.unwrap();
    let refresh = b.keys.spawn_refresh();
    let interval = Duration::from_secs(u64::try_from(b.policy.refresh_interval).unwrap());

    for _ in 0..2 {
        let report = a.keys.rotate(RotateMode::Now).await.unwrap();
        let new = report.activated.unwrap();
        let rotated_at = std::time::Instant::now();
        loop {
            if kid(&b.keys.signer().unwrap()) == new && jwks_kids(&b.keys).contains(&new) {
                break;
            }
            assert!(
                rotated_at.elapsed() < interval + Duration::from_millis(500),
                "B did not pick up A's rotation within the refresh interval"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(a.keys.jwks().etag, b.keys.jwks().etag);
    }
    refresh.abort();
    second_store.close().await;
}

// ---- raw database access -------------------------------------------------------------------------

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// Every column of every row of `signing_keys`, as bytes, read with plain SQL.
async fn raw_signing_key_rows(url: &str) -> Vec<(String, Vec<Vec<u8>>)> {
    use sqlx::{Connection, Row};
    const SQL: &str = "SELECT kid, alg, state, private_key_ciphertext, private_key_nonce, \
                       master_key_id, public_jwk FROM signing_keys";
    let mut out = Vec::new();
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        for row in sqlx::query(SQL).fetch_all(&mut conn).await.unwrap() {
            out.push(row_bytes(
                row.get::<String, _>(0),
                [1, 2, 5, 6].map(|i| row.get::<String, _>(i).into_bytes()),
                [3, 4].map(|i| row.get::<Vec<u8>, _>(i)),
            ));
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        for row in sqlx::query(SQL).fetch_all(&mut conn).await.unwrap() {
            out.push(row_bytes(
                row.get::<String, _>(0),
                [1, 2, 5, 6].map(|i| row.get::<String, _>(i).into_bytes()),
                [3, 4].map(|i| row.get::<Vec<u8>, _>(i)),
            ));
        }
    }
    out
}

fn row_bytes(kid: String, text: [Vec<u8>; 4], blobs: [Vec<u8>; 2]) -> (String, Vec<Vec<u8>>) {
    let mut columns = vec![kid.clone().into_bytes()];
    columns.extend(text);
    columns.extend(blobs);
    (kid, columns)
}

/// Each instance signs a token, and both verify both tokens through their JWKS.
fn both_serve(x: &Instance, y: &Instance) {
    let tokens = [
        access_token(&x.keys.signer().unwrap(), T0, 900),
        access_token(&y.keys.signer().unwrap(), T0, 900),
    ];
    for token in &tokens {
        for verifier in [x, y] {
            verifies_with_jwks(token, &verifier.keys.jwks().body, T0).unwrap();
        }
    }
}

fn sealed_under(records: &[store::SigningKeyRecord]) -> BTreeMap<String, String> {
    records
        .iter()
        .map(|r| (r.kid.clone(), r.private_key.master_key_id.clone()))
        .collect()
}

/// README's steps for `tessera master-key rotate` with two instances on one database: both
/// sign and verify at every step, two concurrent reseals lose nothing and reseal each key once,
/// and once the previous master key is dropped everything still loads.
async fn master_key_rotation_with_two_instances_serving_throughout(ctx: Ctx) {
    let clock = Arc::new(FixedClock::new(T0));
    let (old_key, old_text) = MasterKey::generate().unwrap();
    let (new_key, new_text) = MasterKey::generate().unwrap();
    let (old_id, new_id) = (old_key.id().to_owned(), new_key.id().to_owned());
    let key = |text: &str| MasterKey::from_base64url(text).unwrap();
    let old_only = || Arc::new(MasterKeyRing::new(key(&old_text), vec![]));
    let switched = || Arc::new(MasterKeyRing::new(key(&new_text), vec![key(&old_text)]));
    let new_only = || Arc::new(MasterKeyRing::new(key(&new_text), vec![]));
    let store_b = store::connect(&ctx.url).await.unwrap();

    // Two instances under the old master key, with a retired, an active and a next key.
    let a = manager(ctx.store.clone(), old_only(), clock.clone(), FAST);
    let b = manager(store_b.clone(), old_only(), clock.clone(), FAST);
    a.keys.init().await.unwrap();
    b.keys.init().await.unwrap();
    a.keys.rotate(RotateMode::Now).await.unwrap();
    a.keys.rotate(RotateMode::Advance).await.unwrap();
    b.keys.reload().await.unwrap();
    both_serve(&a, &b);
    let before = ctx.store.signing_keys().await.unwrap();
    assert_eq!(before.len(), 3);

    // A reseal that cannot read the keys (the previous master key not configured) changes
    // nothing and says which keys it left.
    let lacking = manager(ctx.store.clone(), new_only(), clock.clone(), FAST);
    let report = lacking.keys.reseal_all().await.unwrap();
    assert!(report.resealed.is_empty());
    assert_eq!(report.unreadable.len(), 3, "{report:?}");
    assert_eq!(report.remaining.len(), 3);
    assert_eq!(ctx.store.signing_keys().await.unwrap(), before);

    // 1–2: every instance gets the new master key, the old one as a previous key, restarted
    // one at a time. Meanwhile a rotation promotes an old-sealed key and seals a new one
    // under the new master key.
    let a = manager(ctx.store.clone(), switched(), clock.clone(), FAST);
    a.keys.init().await.unwrap();
    both_serve(&a, &b);
    a.keys.rotate(RotateMode::Now).await.unwrap();
    a.keys.rotate(RotateMode::Advance).await.unwrap();
    b.keys.reload().await.unwrap();
    both_serve(&a, &b);
    let b = manager(store_b.clone(), switched(), clock.clone(), FAST);
    b.keys.init().await.unwrap();
    both_serve(&a, &b);
    let mixed = ctx.store.signing_keys().await.unwrap();
    let ids: BTreeSet<String> = sealed_under(&mixed).into_values().collect();
    assert_eq!(ids, BTreeSet::from([old_id.clone(), new_id.clone()]));
    let old_sealed: BTreeSet<String> = mixed
        .iter()
        .filter(|r| r.private_key.master_key_id == old_id)
        .map(|r| r.kid.clone())
        .collect();

    // 3: `tessera master-key rotate`, run at both instances at once: every key under the new
    // master key, each resealed exactly once (compare-and-set per row), nothing lost.
    let (ra, rb) = tokio::join!(a.keys.reseal_all(), b.keys.reseal_all());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    for report in [&ra, &rb] {
        assert!(report.remaining.is_empty(), "{report:?}");
        assert!(report.unreadable.is_empty(), "{report:?}");
        assert_eq!(report.master_key_id, new_id);
    }
    let mut resealed: Vec<String> = ra.resealed.iter().chain(&rb.resealed).cloned().collect();
    resealed.sort();
    assert_eq!(resealed, old_sealed.iter().cloned().collect::<Vec<_>>());
    let after = ctx.store.signing_keys().await.unwrap();
    assert!(sealed_under(&after).values().all(|id| *id == new_id));
    assert_eq!(after.len(), mixed.len());
    for (was, is) in mixed.iter().zip(&after) {
        assert_eq!(
            (&was.kid, was.state, &was.public_jwk),
            (&is.kid, is.state, &is.public_jwk)
        );
    }
    a.keys.reload().await.unwrap();
    b.keys.reload().await.unwrap();
    both_serve(&a, &b);
    // A stale compare-and-set (the row was resealed meanwhile) writes nothing.
    let stale = &mixed.iter().find(|r| old_sealed.contains(&r.kid)).unwrap();
    let bogus = switched().seal(&stale.kid, &stale.alg, b"x").unwrap();
    assert!(
        !ctx.store
            .reseal_signing_key(&stale.kid, &stale.private_key, &bogus)
            .await
            .unwrap()
    );
    assert_eq!(ctx.store.signing_keys().await.unwrap(), after);
    // Run again: nothing to do.
    let again = a.keys.reseal_all().await.unwrap();
    assert!(
        again.resealed.is_empty() && again.remaining.is_empty(),
        "{again:?}"
    );

    // 4: the previous master key dropped everywhere: every key still loads and signs,
    // including the next one once it is promoted.
    let active = kid(&a.keys.signer().unwrap());
    let a = manager(ctx.store.clone(), new_only(), clock.clone(), FAST);
    let b = manager(store_b.clone(), new_only(), clock.clone(), FAST);
    a.keys.init().await.unwrap();
    b.keys.init().await.unwrap();
    assert_eq!(kid(&a.keys.signer().unwrap()), active);
    both_serve(&a, &b);
    a.keys.rotate(RotateMode::Now).await.unwrap();
    b.keys.reload().await.unwrap();
    assert_ne!(kid(&b.keys.signer().unwrap()), active);
    both_serve(&a, &b);
    store_b.close().await;
}
