//! The watcher's HTTP endpoints on `--listen` — `/hooks/*`, `/healthz`, `/metrics` and
//! `/status` — and the server that answers them, with the limits that keep a hostile or
//! broken client from costing memory or time: at most `MAX_CONNECTIONS` connections at
//! once (the rest wait in the kernel's queue), request heads of at most
//! `MAX_HEAD_BYTES` and `MAX_HEADERS` headers (431), heads that arrive within
//! `HEAD_TIMEOUT` (else the connection is closed: hyper answers nothing mid-head), and
//! bodies of at most `webhook::MAX_BODY` (413) that arrive within `BODY_TIMEOUT` (408).
//! The endpoints only read and poke `Shared`: a reconcile never waits for them.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tracing::{info, warn};

use super::status::Shared;
use super::webhook::{Forge, MAX_BODY, verify};

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a client may take to send a request's head (and how long a kept-alive
/// connection may idle before its next one).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head (request line and headers) read; hyper's smallest buffer.
pub const MAX_HEAD_BYTES: usize = 8192;
/// The most headers a request may have.
pub const MAX_HEADERS: usize = 64;

/// Serves the endpoints on `listener` until `stopped` turns true; connections in
/// flight finish on their own tasks.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let router = router(shared);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let Ok(permit) = permit else { return };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.wait_for(|s| *s) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let router = router.clone();
        tokio::spawn(async move {
            let _permit = permit;
            connection(stream, router).await;
        });
    }
}

/// Serves one connection (a socket, or any byte stream) with the limits above.
pub async fn connection<S>(stream: S, router: Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
        .await;
}

/// The endpoints, for `serve` and for tests and fuzzing without a socket.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/hooks/{endpoint}", post(hook))
        .with_state(shared)
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.text(),
    )
}

async fn status(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let body = shared.status(|s| serde_json::to_string_pretty(s).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body + "\n")
}

/// `POST /hooks/{github,gitea,gitlab,generic,local}`: authenticated, then answered at
/// once; the delivery only wakes the loop, which fetches the configured branch.
async fn hook(
    State(shared): State<Arc<Shared>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> (StatusCode, String) {
    let (forge, name) = match Forge::ALL.into_iter().find(|f| f.name() == endpoint) {
        Some(forge) => (forge, forge.name()),
        // The post-receive hook's endpoint: a bearer token derived from the state key.
        None if endpoint == "local" => (Forge::Generic, "local"),
        None => return (StatusCode::NOT_FOUND, format!("no endpoint /hooks/{endpoint}\n")),
    };
    let metrics = &shared.metrics;
    let too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY);
    if too_large {
        return too_large_body(&shared, name);
    }
    let body = match tokio::time::timeout(
        BODY_TIMEOUT,
        http_body_util::Limited::new(body, MAX_BODY).collect(),
    )
    .await
    {
        Ok(Ok(body)) => body.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large_body(&shared, name),
        Ok(Err(_)) => {
            metrics.webhook(name, "cut_off");
            return (StatusCode::BAD_REQUEST, "the body was cut off\n".into());
        }
        Err(_) => {
            metrics.webhook(name, "timeout");
            warn!(
                endpoint = name,
                "webhook refused: the body did not arrive within 10 s"
            );
            return (
                StatusCode::REQUEST_TIMEOUT,
                "body not received within 10 s\n".into(),
            );
        }
    };
    let secret = if name == "local" {
        Ok(shared.local_token.expose().clone())
    } else {
        let hooks = shared.hooks.lock().unwrap_or_else(|e| e.into_inner());
        match hooks.as_ref().map(|h| h.get(name)) {
            None => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: berth.yaml not read yet\n".to_string(),
            )),
            Some(None) => Err((
                StatusCode::NOT_FOUND,
                format!("/hooks/{name} is not configured: set webhooks.{name} in berth.yaml\n"),
            )),
            Some(Some(Err(why))) => Err((StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))),
            Some(Some(Ok(secret))) => Ok(secret.expose().clone()),
        }
    };
    let secret = match secret {
        Ok(secret) => secret,
        Err(answer) => {
            metrics.webhook(name, "not_configured");
            return answer;
        }
    };
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    match verify(forge, header, &body, secret.as_bytes()) {
        Ok(()) => {
            metrics.webhook(name, "accepted");
            info!(endpoint = name, "webhook accepted");
            shared.wake.notify_one();
            (
                StatusCode::ACCEPTED,
                "accepted: berth will fetch and reconcile\n".into(),
            )
        }
        Err(refused) => {
            metrics.webhook(name, "unauthorized");
            warn!(endpoint = name, "webhook refused: {refused}");
            (StatusCode::UNAUTHORIZED, format!("{refused}\n"))
        }
    }
}

fn too_large_body(shared: &Shared, name: &str) -> (StatusCode, String) {
    shared.metrics.webhook(name, "too_large");
    warn!(endpoint = name, "webhook refused: body over 1 MiB");
    (StatusCode::PAYLOAD_TOO_LARGE, "body over 1 MiB\n".into())
}
