//! Notifications: berth's events POSTed as JSON (schemas/event.schema.json) to the
//! endpoints berth.yaml's `notify` names, signed with HMAC-SHA256 when the endpoint has
//! a secret, retried with backoff on tasks of their own, so that a slow or absent
//! receiver never holds up the apply or reconcile that sent the event. An edge: it
//! talks HTTP (hyper, with rustls for https).
//!
//! Chat and commit-status providers would be other `Endpoint` kinds turning the same
//! `Event` into their own body; only the generic webhook exists so far.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Serialize;
use sha2::Sha256;

use crate::failure::Failure;
use crate::secret::Secret;

/// The header that carries the body's signature: `sha256=<hex>`.
pub const SIGNATURE: &str = "X-Berth-Signature-256";

/// One event (schemas/event.schema.json).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub format_version: &'static str,
    /// Unique per event, set as it is sent: a receiver can drop a retried delivery it
    /// already has.
    pub id: String,
    /// `apply`, `rollback`, `destroy`, `drift_found`, `drift_healed`, `service_held`,
    /// `crash_loop`, `invalid_configuration`.
    pub event: &'static str,
    /// `info`, `warning` or `error`.
    pub severity: &'static str,
    /// RFC 3339, UTC.
    pub time: String,
    pub project: String,
    pub engine: String,
    pub commit: Option<String>,
    /// `user@host` of the berth that sent it.
    pub by: Option<String>,
    /// `apply`, `rollback`, `destroy` or `watch`.
    pub sender: &'static str,
    /// One line for people.
    pub message: String,
    /// An apply's, rollback's or destroy's end: `applied`, `incomplete` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::store::journal::Change>,
    /// The services a drift, hold or crash loop concerns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// A configuration that does not compile: each error with its place.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemAt>,
    /// A rollback's pin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<crate::store::journal::Pin>,
}

/// An error in the configuration, where it is.
#[derive(Debug, Clone, Serialize)]
pub struct ProblemAt {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub code: String,
    pub message: String,
}

/// Where events go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub secret: Option<Secret<String>>,
    /// Only these events; all when empty.
    pub events: Vec<String>,
}

impl Endpoint {
    /// How the endpoint is named in logs and metrics: scheme, host and port only, since
    /// a webhook's path or query often is its credential (Slack's, Discord's).
    pub fn label(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(url) => format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
            Err(_) => "(invalid URL)".into(),
        }
    }

    fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

/// How hard a delivery is tried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub tries: u32,
    /// The wait before the second try; doubled for each next one, up to `max`.
    pub first: Duration,
    pub max: Duration,
    /// How long one try may take, connection included.
    pub timeout: Duration,
}

/// `berth watch`: four tries over about 15 seconds, as Flux's notification controller.
pub const PATIENT: Retry = Retry {
    tries: 4,
    first: Duration::from_secs(2),
    max: Duration::from_secs(30),
    timeout: Duration::from_secs(10),
};

/// A command that ends once its work is done: a second try a quarter of a second after
/// the first, each within 2 s. A receiver that refuses the connection holds the command's
/// exit back by that quarter of a second (measured: an apply of one service took 0.41 s,
/// 0.68 s with such a receiver; three tries cost 0.75 s).
pub const BRIEF: Retry = Retry {
    tries: 2,
    first: Duration::from_millis(250),
    max: Duration::from_millis(250),
    timeout: Duration::from_secs(2),
};

/// What became of a delivery: the endpoint's label, and why it failed.
pub type Report = Arc<dyn Fn(&str, Result<(), String>) + Send + Sync>;

/// Sends events; clones share one HTTP client.
#[derive(Clone)]
pub struct Notifier {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    report: Report,
}

impl Notifier {
    /// A notifier that tells `report` how each delivery ended (after its last try).
    pub fn new(report: Report) -> Result<Notifier, Failure> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| {
                Failure::caused(
                    "cannot read the system's certificate authorities for https notifications",
                    e,
                )
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        Ok(Notifier { client, report })
    }

    /// Sends `event` to every endpoint that wants it, each on a task of its own on the
    /// current runtime; the tasks, for a caller that waits for them.
    pub fn send(
        &self,
        endpoints: &[Endpoint],
        event: &Event,
        retry: Retry,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut event = event.clone();
        event.id = unique(&event);
        // Serialising plain data with string keys cannot fail.
        let body = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
        endpoints
            .iter()
            .filter(|e| e.wants(event.event))
            .map(|endpoint| {
                let (this, endpoint, body) = (self.clone(), endpoint.clone(), body.clone());
                let (id, kind) = (event.id.clone(), event.event);
                tokio::spawn(async move {
                    let result = this.deliver(&endpoint, body, &id, kind, retry).await;
                    (this.report)(&endpoint.label(), result);
                })
            })
            .collect()
    }

    async fn deliver(
        &self,
        endpoint: &Endpoint,
        body: Bytes,
        id: &str,
        kind: &str,
        retry: Retry,
    ) -> Result<(), String> {
        let signature = endpoint
            .secret
            .as_ref()
            .map(|secret| sign(secret.expose().as_bytes(), &body));
        let mut wait = retry.first;
        let mut last = String::new();
        for attempt in 1..=retry.tries.max(1) {
            let mut request = hyper::Request::post(&endpoint.url)
                .header("content-type", "application/json")
                .header("user-agent", concat!("berth/", env!("CARGO_PKG_VERSION")))
                .header("x-berth-event", kind)
                .header("x-berth-delivery", id);
            if let Some(signature) = &signature {
                request = request.header(SIGNATURE, signature);
            }
            let request = request
                .body(Full::new(body.clone()))
                .map_err(|e| format!("cannot make the request: {e}"))?;
            last = match tokio::time::timeout(retry.timeout, self.client.request(request)).await {
                Ok(Ok(response)) if response.status().is_success() => return Ok(()),
                // A receiver that says the request is wrong will say so again.
                Ok(Ok(response)) if response.status().is_client_error() && response.status() != 429 => {
                    return Err(format!("answered {}", response.status()));
                }
                Ok(Ok(response)) => format!("answered {}", response.status()),
                Ok(Err(e)) => chain(&e),
                Err(_) => format!("no answer within {}", humantime::format_duration(retry.timeout)),
            };
            if attempt < retry.tries {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(retry.max);
            }
        }
        Err(format!("{last} ({} tries)", retry.tries))
    }
}

/// An id no other event has: a digest of the event, the time to the nanosecond, this
/// process and how many ids it made before (two events alike in the same second still
/// differ). Every retry of one event carries its id.
fn unique(event: &Event) -> String {
    use sha2::Digest;
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut digest = Sha256::new();
    digest.update(serde_json::to_vec(event).unwrap_or_default());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    digest.update(now.as_nanos().to_le_bytes());
    digest.update(std::process::id().to_le_bytes());
    digest.update(
        MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_le_bytes(),
    );
    hex::encode(&digest.finalize()[..16])
}

/// An error and its causes, `client error (Connect): tcp connect error: Connection
/// refused`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text += &format!(": {next}");
        cause = next.source();
    }
    text
}

/// `sha256=<hex>` of the body under the key, as GitHub signs its webhooks.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_githubs() {
        // GitHub's documented example: secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn events_alike_get_ids_of_their_own() {
        let event = Event {
            format_version: "1",
            id: String::new(),
            event: "apply",
            severity: "info",
            time: "t".into(),
            project: "p".into(),
            engine: "e".into(),
            commit: None,
            by: None,
            sender: "apply",
            message: "m".into(),
            outcome: None,
            changes: Vec::new(),
            services: Vec::new(),
            problems: Vec::new(),
            pin: None,
        };
        let (a, b) = (unique(&event), unique(&event));
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }

    #[test]
    fn an_endpoint_is_named_without_its_path_or_credentials() {
        let endpoint = Endpoint {
            url: "https://user:pw@hooks.example.com:8443/services/T0/B0/XXXX?token=1".into(),
            secret: None,
            events: Vec::new(),
        };
        assert_eq!(endpoint.label(), "https://hooks.example.com:8443");
        assert!(endpoint.wants("apply"));
        let some = Endpoint {
            events: vec!["apply".into()],
            ..endpoint
        };
        assert!(some.wants("apply") && !some.wants("drift_found"));
    }
}
