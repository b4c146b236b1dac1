//! The operators' HTTP endpoint on `--metrics-port`: `GET /metrics` (Prometheus text) and
//! `GET /healthz`. It stops with the proxy.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use serde::Serialize;
use tokio::net::TcpListener;
use tracing::warn;

use crate::metrics::ConnectionStates;
use crate::server::Shared;

/// The routes, without a socket (handlers are testable with `oneshot`).
pub fn app(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(shared)
}

/// Serves [`app`] on `listener` until the proxy's shutdown signal.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let mut stop = shared.shutdown_signal();
    let served = axum::serve(listener, app(shared))
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = served {
        warn!(cause = %e, "metrics endpoint failed");
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let mut states = ConnectionStates::default();
    let pools = shared.router.pool_stats();
    for (_, p) in &pools {
        states.connected += p.connected;
        states.connecting += p.connecting;
        states.down += p.down;
    }
    shared.metrics.sample(
        shared.clients.load(Ordering::Relaxed),
        states,
        pools.into_iter().map(|(addr, p)| (addr, p.in_flight)),
        shared.router.epoch(),
        shared.router.age(),
    );
    shared.metrics.sample_pubsub(crate::pubsub::sample(&shared));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], shared.metrics.render())
}

/// The body of `/healthz`.
#[derive(Debug, Serialize)]
struct Healthz {
    status: &'static str,
    /// The routing table's epoch (0: none).
    epoch: u64,
    /// Since the table was loaded or last received; absent without one.
    routing_age_seconds: Option<f64>,
    clients: usize,
}

/// 200 while the proxy has a routing table (it can route), else 503.
async fn healthz(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let age = shared.router.age();
    let body = Healthz {
        status: if age.is_some() { "ok" } else { "no routing table" },
        epoch: shared.router.epoch(),
        routing_age_seconds: age.map(|a| a.as_secs_f64()),
        clients: shared.clients.load(Ordering::Relaxed),
    };
    let status = if age.is_some() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body))
}
