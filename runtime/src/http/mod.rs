//! The node's HTTP face (`--http ADDR`): `/` a status page a person reads in a
//! browser, `/status` the same as JSON (what `ringleader status --json`
//! prints), `/metrics` for Prometheus.
//!
//! Read-only, like the status query on the node's TCP port: nothing sent here
//! changes the node. Every request asks the node's event loop for a fresh
//! [`Status`] (at most one per [`FRESH`]: a flood of requests costs the node
//! no more than a few answers a second).

pub mod conn;
pub mod page;

use crate::listener::Input;
use crate::metrics::Metrics;
use crate::status::Status;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// A status this young is served again instead of asking the node.
pub const FRESH: Duration = Duration::from_millis(250);
/// How long a request waits for the node's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share.
struct Served {
    inbox: mpsc::Sender<Input>,
    metrics: Arc<Metrics>,
    /// Client names are left out when the page is open beyond this machine
    /// and the cluster has a key (see [`serve`]).
    hide_clients: bool,
    last: Mutex<Option<(tokio::time::Instant, Status)>>,
}

impl Served {
    async fn status(&self) -> Option<Status> {
        let now = tokio::time::Instant::now();
        if let Ok(last) = self.last.lock() {
            if let Some((_, s)) = last.as_ref().filter(|(at, _)| now - *at < FRESH) {
                return Some(s.clone());
            }
        }
        let (tx, rx) = oneshot::channel();
        self.inbox.send(Input::Status(tx)).await.ok()?;
        let mut status = tokio::time::timeout(ANSWER_TIMEOUT, rx).await.ok()?.ok()?;
        if self.hide_clients {
            status.clients.clear();
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some((now, status.clone()));
        }
        Some(status)
    }
}

/// The node did not answer: it is stopping, or stuck.
fn unavailable() -> Response {
    let why = "the node did not answer (stopping, or its event loop is stuck)\n";
    (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
}

async fn page(State(s): State<Arc<Served>>) -> Response {
    match s.status().await {
        Some(status) => Html(page::render(&status)).into_response(),
        None => unavailable(),
    }
}

async fn status_json(State(s): State<Arc<Served>>) -> Response {
    match s.status().await {
        Some(status) => axum::Json(status).into_response(),
        None => unavailable(),
    }
}

async fn metrics_text(State(s): State<Arc<Served>>) -> Response {
    match s.status().await {
        Some(status) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            s.metrics.encode(&status),
        )
            .into_response(),
        None => unavailable(),
    }
}

async fn not_found() -> Response {
    let known = "not found: this node serves / (status page), /status (JSON) and /metrics\n";
    (StatusCode::NOT_FOUND, known).into_response()
}

/// Serves the node's status page on `listener` until the task is aborted.
/// Client names are left out of what it serves when `hide_clients` (the
/// node runs with a cluster key and the page is reachable from other
/// machines: names are the users' business, not every scraper's).
pub fn serve(
    listener: tokio::net::TcpListener,
    inbox: mpsc::Sender<Input>,
    metrics: Arc<Metrics>,
    hide_clients: bool,
) -> JoinHandle<()> {
    let served = Arc::new(Served {
        inbox,
        metrics,
        hide_clients,
        last: Mutex::new(None),
    });
    let app = Router::new()
        .route("/", get(page))
        .route("/status", get(status_json))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .with_state(served);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(conn::Capped::new(listener), app).await {
            tracing::warn!("the status page stopped: {e}");
        }
    })
}

/// Serves the page on `listener` (see [`serve`]), warning when other
/// machines can read it; `keyed` says whether the cluster has a key. The
/// address served, and the server's task.
pub fn start(
    listener: tokio::net::TcpListener,
    inbox: mpsc::Sender<Input>,
    metrics: Arc<Metrics>,
    keyed: bool,
) -> (Option<SocketAddr>, JoinHandle<()>) {
    let addr = listener.local_addr().ok();
    // Reachable from other machines: anything but loopback.
    let open = addr.is_some_and(|a| !a.ip().is_loopback());
    let hide_clients = open && keyed;
    if open {
        tracing::warn!(
            http = ?addr,
            "the status page and metrics are open to other machines (read-only, no key: \
             they show members' addresses{})",
            if hide_clients { "; client names are left out" } else { " and client names" }
        );
    }
    (addr, serve(listener, inbox, metrics, hide_clients))
}
