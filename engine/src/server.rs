//! The HTTP endpoint of a running instance: `/metrics` (Prometheus text format), `/healthz`
//! (200 while the process serves) and `/readyz` (200 once connected to the brokers and started,
//! else 503).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::{Error, Result};

/// Binds `listen` and serves until `shutdown` turns true. Returns the bound address (useful with
/// port 0) and the server's task.
pub async fn serve(
    listen: &str,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(listen).await.map_err(|error| Error::Config {
        file: None,
        problems: vec![format!("`server.listen`: cannot listen on `{listen}`: {error}")],
    })?;
    let address = listener.local_addr().map_err(|error| Error::Io { path: listen.into(), source: error })?;
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(metrics);
    let task = tokio::spawn(async move {
        let stop = async move {
            while !*shutdown.borrow() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(error) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!(%error, "HTTP endpoint stopped");
        }
    });
    Ok((address, task))
}

async fn metrics_text(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], metrics.render())
}

async fn ready(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    if metrics.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting, or no broker connection\n")
    }
}
