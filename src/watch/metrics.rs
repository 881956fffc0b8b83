//! The watcher's Prometheus metrics (`GET /metrics`, OpenMetrics text): reconciles by
//! outcome and their durations, the time of the last success, drift found, Docker events
//! seen and webhook deliveries by result. Counting only: nothing here does I/O.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, String)>;

/// Every metric, registered once; clones share the counts.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<Labels, Counter>,
    duration: Histogram,
    last_success: Gauge<f64, AtomicU64>,
    drift: Family<Labels, Counter>,
    events: Family<Labels, Counter>,
    webhooks: Family<Labels, Counter>,
    pulls: Family<Labels, Counter>,
    pinned: Gauge,
    pin_ahead: Gauge,
    notifications: Family<Labels, Counter>,
    engine_up: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("berth");
        let reconciles = Family::<Labels, Counter>::default();
        // 10 ms … ~80 s.
        let duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        let last_success = Gauge::<f64, AtomicU64>::default();
        let drift = Family::<Labels, Counter>::default();
        let events = Family::<Labels, Counter>::default();
        let webhooks = Family::<Labels, Counter>::default();
        let pulls = Family::<Labels, Counter>::default();
        let notifications = Family::<Labels, Counter>::default();
        registry.register(
            "notifications",
            "Events sent to berth.yaml's notify endpoints, by endpoint (scheme, host and port) and result: delivered, or failed after every try",
            notifications.clone(),
        );
        let engine_up = Gauge::default();
        registry.register(
            "engine_up",
            "1 when the engine answered at the last reconcile, 0 when it did not (then the watcher retries with backoff and converges once it answers)",
            engine_up.clone(),
        );
        let pinned = Gauge::default();
        let pin_ahead = Gauge::default();
        registry.register(
            "pinned",
            "1 while `berth rollback` pins the project or some of its services (no newer commit is applied to them until `berth unpin`), else 0",
            pinned.clone(),
        );
        registry.register(
            "pin_commits_behind",
            "While pinned: how many commits the branch has moved past the pinned commit",
            pin_ahead.clone(),
        );
        registry.register(
            "reconciles",
            "Reconciles by outcome: in_sync, applied, drift_reported, drift_held, drift_ignored, incomplete, invalid, failed",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "How long a reconcile took, from reading the repository to the last step",
            duration.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "When a reconcile last ended with the engine matching the repository (Unix time)",
            last_success.clone(),
        );
        registry.register(
            "drift",
            "Steps found undoing changes made behind berth's back, by action and what was done (healed, reported, held)",
            drift.clone(),
        );
        registry.register(
            "docker_events",
            "Engine events for the project's containers, by action",
            events.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by endpoint and result (accepted, unauthorized, too_large, timeout, cut_off, not_configured)",
            webhooks.clone(),
        );
        registry.register(
            "scheduled_pulls",
            "Image pulls on a service's schedule (pull_image_cron_expression), by result: new_image (the tag names a newer image, so the service is replaced), same_image, failed",
            pulls.clone(),
        );
        Metrics {
            registry,
            reconciles,
            duration,
            last_success,
            drift,
            events,
            webhooks,
            pulls,
            pinned,
            pin_ahead,
            notifications,
            engine_up,
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, outcome: &str, seconds: f64) {
        self.reconciles
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc();
        self.duration.observe(seconds);
    }

    /// The engine matches the repository as of `unix_seconds`.
    pub fn succeeded(&self, unix_seconds: f64) {
        self.last_success.set(unix_seconds);
    }

    pub fn drift(&self, action: &str, handling: &str) {
        let labels = vec![("action", action.to_string()), ("handling", handling.to_string())];
        self.drift.get_or_create(&labels).inc();
    }

    pub fn event(&self, action: &str) {
        self.events
            .get_or_create(&vec![("action", action.to_string())])
            .inc();
    }

    pub fn webhook(&self, endpoint: &str, result: &str) {
        let labels = vec![("endpoint", endpoint.to_string()), ("result", result.to_string())];
        self.webhooks.get_or_create(&labels).inc();
    }

    pub fn scheduled_pull(&self, result: &str) {
        self.pulls
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    pub fn notification(&self, endpoint: &str, delivered: bool) {
        let result = if delivered { "delivered" } else { "failed" };
        let labels = vec![("endpoint", endpoint.to_string()), ("result", result.to_string())];
        self.notifications.get_or_create(&labels).inc();
    }

    pub fn engine_up(&self, up: bool) {
        self.engine_up.set(i64::from(up));
    }

    /// Pinned or not, and how far the branch moved past the pin.
    pub fn pin(&self, ahead: Option<usize>) {
        self.pinned.set(i64::from(ahead.is_some()));
        self.pin_ahead
            .set(ahead.map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX)));
    }

    /// The OpenMetrics text exposition.
    pub fn text(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_text_exposition() {
        let m = Metrics::default();
        m.reconciled("applied", 0.3);
        m.reconciled("applied", 0.2);
        m.reconciled("invalid", 0.01);
        m.webhook("github", "unauthorized");
        m.drift("start", "healed");
        m.succeeded(1_700_000_000.0);
        let text = m.text();
        for line in [
            "berth_reconciles_total{outcome=\"applied\"} 2",
            "berth_reconciles_total{outcome=\"invalid\"} 1",
            "berth_reconcile_duration_seconds_count 3",
            "berth_webhook_deliveries_total{endpoint=\"github\",result=\"unauthorized\"} 1",
            "berth_drift_total{action=\"start\",handling=\"healed\"} 1",
            "berth_last_success_timestamp_seconds 1700000000.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
