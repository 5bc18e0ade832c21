//! The scheduled purge: what keeps storage bounded (issue 9). Every login adds a refresh
//! family and every refresh a token row; this deletes the dead ones — families expired or
//! revoked, with their tokens, and used tokens past their expiry — once they are older than
//! `storage.purge_retention`, every `storage.purge_interval`.
//!
//! Instances sharing one database take turns through the purge lease (the `locks` table, the
//! protocol of the key-rotation lock under its own name): one purges, the others skip that
//! round. The deletions themselves are idempotent, so a holder whose lease lapsed mid-way
//! does no harm. Rows deleted are counted in `/metrics` (`tessera_purged_rows_total`).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_jwt::Clock;

use crate::metrics::Metrics;
use crate::store::{PurgeReport, Store, StoreError};

/// How long a purge lease lasts: far longer than one purge transaction takes, short enough
/// that an instance dying while it purges delays nobody for long.
pub const PURGE_LEASE_SECS: i64 = 300;

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PurgeOutcome {
    /// This instance held the lease and deleted these rows.
    Purged(PurgeReport),
    /// Another instance holds the lease: nothing done this round.
    Skipped,
}

/// Runs one purge round at `now` under the purge lease held as `holder`: deletes what died at
/// or before `now - retention` and counts the rows in `metrics`.
pub async fn purge_once(
    store: &dyn Store,
    metrics: &Metrics,
    holder: &str,
    now: i64,
    retention: Duration,
) -> Result<PurgeOutcome, StoreError> {
    let Some(lease) = store.try_purge_lock(holder, now, PURGE_LEASE_SECS).await? else {
        return Ok(PurgeOutcome::Skipped);
    };
    let retention = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let purged = store.purge_expired(now.saturating_sub(retention)).await;
    let released = store.release_purge_lock(&lease).await;
    let report = purged?;
    released?;
    metrics.purged(&report);
    Ok(PurgeOutcome::Purged(report))
}

/// A holder name for this process: its id and a random suffix (diagnostics only).
pub fn holder_name() -> String {
    let mut suffix = [0u8; 6];
    // An all-zero suffix is still a usable holder name.
    let _ = aws_lc_rs::rand::fill(&mut suffix);
    format!(
        "pid {} #{}",
        std::process::id(),
        URL_SAFE_NO_PAD.encode(suffix)
    )
}

/// Starts the background purge: a round every `interval`, the first one right away (a server
/// that restarts often still purges). Abort the handle to stop it.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    interval: Duration,
    retention: Duration,
) -> tokio::task::JoinHandle<()> {
    let holder = holder_name();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match purge_once(&*store, &metrics, &holder, clock.now(), retention).await {
                Ok(PurgeOutcome::Purged(report)) => tracing::info!(
                    families = report.families,
                    tokens = report.tokens,
                    "purged dead sessions and used refresh tokens"
                ),
                Ok(PurgeOutcome::Skipped) => {
                    tracing::debug!("another instance holds the purge lock; skipped")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the scheduled purge failed; retrying next round")
                }
            }
        }
    })
}
