//! Where the routing table comes from: a `--routing-file`, or the config service
//! (`--config-endpoints`), long-polled for newer tables and sent a heartbeat every
//! `heartbeat_ms` (DESIGN.md, "Roles, leases and failover", point 7).
//!
//! Any configured endpoint may be asked; on errors the next one is, and a 421 answer's
//! `leader` is followed only when it is one of the configured endpoints
//! ([`protocol::heartbeat::Endpoints`]). While none answers, the proxy keeps serving with the
//! table it has.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use protocol::error_body::ErrorBody;
use protocol::heartbeat::{Endpoints, ProxyHeartbeat, ProxyHeartbeatReply, PROXY_PATH};
use protocol::routing::RoutingTable;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::server::Shared;

/// How long one routing long-poll waits on the config service.
const POLL_WAIT_MS: u64 = 30_000;
/// Pause after a failed poll before asking the next endpoint.
const POLL_BACKOFF: Duration = Duration::from_millis(200);

/// Reads and checks a routing file.
pub fn load_routing_file(path: &Path) -> Result<RoutingTable> {
    let fail = |cause: String| Error::RoutingFile { path: path.display().to_string(), cause };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let table: RoutingTable = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    table.validate().map_err(|e| fail(e.to_string()))?;
    Ok(table)
}

/// The HTTP client of the config service (no proxy from the environment, no TLS).
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| Error::Http(e.to_string()))
}

/// What one request to an endpoint came to.
enum Outcome<T> {
    Ok(T),
    /// 421 naming the leader.
    Redirect(String),
    Failed(String),
}

async fn outcome<T: serde::de::DeserializeOwned>(
    sent: reqwest::Result<reqwest::Response>,
) -> Outcome<T> {
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let status = resp.status();
    if status.is_success() {
        return match resp.json::<T>().await {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Failed(format!("bad answer: {e}")),
        };
    }
    let body = resp.json::<ErrorBody>().await.ok();
    if status.as_u16() == 421 {
        if let Some(leader) = body.as_ref().and_then(|b| b.leader.clone()) {
            return Outcome::Redirect(leader);
        }
    }
    Outcome::Failed(format!("{status}: {}", body.map(|b| b.error).unwrap_or_default()))
}

/// Long-polls `GET /v1/routing` for ever, installing every newer table.
pub async fn poll_routing(shared: Arc<Shared>, http: reqwest::Client, endpoints: Vec<String>) {
    let mut endpoints = Endpoints::new(endpoints);
    let router = &shared.router;
    loop {
        let after = router.epoch();
        let url = format!(
            "{}{}?after={after}&wait_ms={POLL_WAIT_MS}",
            endpoints.current(),
            protocol::routing::PATH
        );
        let request = http.get(&url).timeout(Duration::from_millis(POLL_WAIT_MS + 5000)).send();
        let answer = tokio::select! {
            sent = request => outcome::<RoutingTable>(sent).await,
            // A sign the table is stale while this endpoint sits on an old one: ask again,
            // elsewhere.
            _ = router.refresh_requested() => {
                endpoints.rotate();
                continue;
            }
        };
        match answer {
            Outcome::Ok(table) => {
                let epoch = table.epoch;
                match router.install(table) {
                    Ok(true) if epoch > after => info!(epoch, "routing table installed"),
                    Ok(_) => {}
                    Err(e) => {
                        warn!(endpoint = endpoints.current(), cause = %e, "invalid routing table");
                        endpoints.rotate();
                        backoff(&shared).await;
                    }
                }
            }
            Outcome::Redirect(leader) => endpoints.redirect(&leader),
            Outcome::Failed(why) => {
                debug!(endpoint = endpoints.current(), cause = %why, "routing poll failed");
                endpoints.rotate();
                backoff(&shared).await;
            }
        }
    }
}

/// Waits a little before the next attempt, less if a refresh is asked for.
async fn backoff(shared: &Shared) {
    tokio::select! {
        _ = tokio::time::sleep(POLL_BACKOFF) => {}
        _ = shared.router.refresh_requested() => {}
    }
}

/// Sends `POST /v1/heartbeat/proxy` every `heartbeat_ms`; a reply with a newer epoch than
/// the table in force asks for a refresh.
pub async fn heartbeat(shared: Arc<Shared>, http: reqwest::Client, endpoints: Vec<String>) {
    let mut endpoints = Endpoints::new(endpoints);
    let period = Duration::from_millis(shared.config.heartbeat_ms);
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let report = ProxyHeartbeat {
            addr: shared.announce.clone(),
            epoch: shared.router.epoch(),
            clients: shared.clients.load(Ordering::Relaxed) as u64,
        };
        let url = format!("{}{PROXY_PATH}", endpoints.current());
        let sent = http.post(&url).json(&report).timeout(period.max(Duration::from_secs(1))).send();
        match outcome::<ProxyHeartbeatReply>(sent.await).await {
            Outcome::Ok(reply) => {
                if reply.epoch > shared.router.epoch() {
                    shared.router.request_refresh();
                }
            }
            Outcome::Redirect(leader) => endpoints.redirect(&leader),
            Outcome::Failed(why) => {
                debug!(endpoint = endpoints.current(), cause = %why, "proxy heartbeat failed");
                endpoints.rotate();
            }
        }
    }
}
