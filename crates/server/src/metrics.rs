//! The issuer's metrics, exported as Prometheus (OpenMetrics) text at `/metrics`.
//!
//! One registry per [`Metrics`] value (per process in production, per test in tests): no global
//! state. Counters are cheap to bump from any task; cloning `Metrics` shares them.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

/// The methods that get a series of their own (RFC 9110's, and PATCH); anything else a client
/// sends is counted as `other`, so that the number of series stays bounded.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// The label value for an HTTP method: itself when it is a known method (matched exactly, as
/// methods are case-sensitive), else `other`.
pub fn method_label(method: &str) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or("other")
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    logins: Family<Outcome, Counter>,
    refreshes: Family<Outcome, Counter>,
    reuse_detections: Counter,
    tokens_issued: Family<Kind, Counter>,
    key_rotations: Family<Kind, Counter>,
    jwks_requests: Counter,
    http_requests: Family<HttpLabels, Histogram, fn() -> Histogram>,
    purged: Family<Kind, Counter>,
}

/// The issuer's counters and histograms. Cheap to clone (shared).
///
/// Label values are short words the caller chooses from a fixed set (never a username, an
/// address or anything a client sends), so that the number of series stays bounded.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tessera");
        let logins = Family::<Outcome, Counter>::default();
        registry.register(
            "logins",
            "Login attempts by outcome (success, invalid_credentials, throttled, disabled, error…)",
            logins.clone(),
        );
        let refreshes = Family::<Outcome, Counter>::default();
        registry.register(
            "refreshes",
            "Refresh token uses by outcome (success, grace, reuse_detected, revoked, expired, unknown…)",
            refreshes.clone(),
        );
        let reuse_detections = Counter::default();
        registry.register(
            "refresh_reuse_detections",
            "Refresh tokens presented again after use: their family was revoked",
            reuse_detections.clone(),
        );
        let tokens_issued = Family::<Kind, Counter>::default();
        registry.register(
            "tokens_issued",
            "Tokens issued by kind (access, refresh)",
            tokens_issued.clone(),
        );
        let key_rotations = Family::<Kind, Counter>::default();
        registry.register(
            "key_rotations",
            "Signing key life cycle steps by kind (created, activated, retired, deleted)",
            key_rotations.clone(),
        );
        let jwks_requests = Counter::default();
        registry.register(
            "jwks_requests",
            "Requests for the JWKS document",
            jwks_requests.clone(),
        );
        let http_requests =
            Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            http_requests.clone(),
        );
        let purged = register_purged(&mut registry);
        Self(Arc::new(Inner {
            registry,
            logins,
            refreshes,
            reuse_detections,
            tokens_issued,
            key_rotations,
            jwks_requests,
            http_requests,
            purged,
        }))
    }

    /// A login attempt ended with `outcome` (`success`, `invalid_credentials`, `throttled`,
    /// `disabled`, `error`…).
    pub fn login(&self, outcome: &str) {
        self.0
            .logins
            .get_or_create(&Outcome {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// A refresh ended with `outcome` (`success`, `grace`, `reuse_detected`, `revoked`,
    /// `expired`, `unknown`, `disabled`, `error`…).
    pub fn refresh(&self, outcome: &str) {
        self.0
            .refreshes
            .get_or_create(&Outcome {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// A used refresh token was presented again: its family was revoked.
    pub fn reuse_detected(&self) {
        self.0.reuse_detections.inc();
    }

    /// A token of `kind` (`access`, `refresh`, `id`…) was issued.
    pub fn token_issued(&self, kind: &str) {
        self.0
            .tokens_issued
            .get_or_create(&Kind {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// A signing key step: `created`, `activated`, `retired` or `deleted`.
    pub fn key_rotation(&self, kind: &str) {
        self.0
            .key_rotations
            .get_or_create(&Kind {
                kind: kind.to_owned(),
            })
            .inc();
    }

    /// The JWKS was requested.
    pub fn jwks_request(&self) {
        self.0.jwks_requests.inc();
    }

    /// An HTTP request was answered. `method` is the request's method as sent: it is reduced to
    /// [`method_label`]'s fixed set here, since a client may send any token as a method. `route`
    /// is the matched route template (`/login`), or `unmatched`: never the raw path, which a
    /// client chooses.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.0
            .http_requests
            .get_or_create(&HttpLabels {
                method: method_label(method).to_owned(),
                route: route.to_owned(),
                status,
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The scheduled purge deleted these rows: `kind` is `families` or `tokens`, nothing else.
    pub fn purged(&self, report: &crate::store::PurgeReport) {
        for (kind, rows) in [("families", report.families), ("tokens", report.tokens)] {
            self.0
                .purged
                .get_or_create(&Kind {
                    kind: kind.to_owned(),
                })
                .inc_by(rows);
        }
    }

    /// Everything, as OpenMetrics text ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.0.registry);
        out
    }
}

// The purge counter (issue 9): both series exist from the start, at 0.
fn register_purged(registry: &mut Registry) -> Family<Kind, Counter> {
    let purged = Family::<Kind, Counter>::default();
    for kind in ["families", "tokens"] {
        let _zero = purged.get_or_create(&Kind {
            kind: kind.to_owned(),
        });
    }
    registry.register(
        "purged_rows",
        "Rows deleted by the scheduled purge, by kind (families: dead sessions with their tokens; tokens: used refresh tokens)",
        purged.clone(),
    );
    purged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_and_registries_are_separate() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.login("success");
        a.login("success");
        a.login("invalid_credentials");
        a.refresh("reuse_detected");
        a.reuse_detected();
        a.token_issued("access");
        a.key_rotation("created");
        a.jwks_request();
        a.http_request("GET", "/healthz", 200, Duration::from_millis(3));
        let text = a.render();
        for line in [
            "tessera_logins_total{outcome=\"success\"} 2",
            "tessera_logins_total{outcome=\"invalid_credentials\"} 1",
            "tessera_refreshes_total{outcome=\"reuse_detected\"} 1",
            "tessera_refresh_reuse_detections_total 1",
            "tessera_tokens_issued_total{kind=\"access\"} 1",
            "tessera_key_rotations_total{kind=\"created\"} 1",
            "tessera_jwks_requests_total 1",
            "tessera_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\",status=\"200\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(!b.render().contains("outcome=\"success\""));
        assert!(b.render().contains("tessera_jwks_requests_total 0"));
    }

    #[test]
    fn methods_outside_the_known_set_share_one_other_series() {
        let m = Metrics::new();
        for i in 0..300 {
            m.http_request(
                &format!("M{i}AAAAAAAAAAAAAAAA"),
                "unmatched",
                405,
                Duration::from_millis(1),
            );
        }
        m.http_request("get", "unmatched", 405, Duration::from_millis(1));
        m.http_request("GET", "/healthz", 200, Duration::from_millis(1));
        let text = m.render();
        assert!(
            text.contains(
                "tessera_http_request_duration_seconds_count{method=\"other\",route=\"unmatched\",status=\"405\"} 301"
            ),
            "{text}"
        );
        assert!(!text.contains("AAAA"), "a client's method became a label");
        assert_eq!(text.matches("_count{").count(), 2, "{text}");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("patch"), "other");
    }
}
