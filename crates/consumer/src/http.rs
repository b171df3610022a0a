//! The consumer's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (partitions are
//! assigned and the target database answered the last write) and `/metrics` (Prometheus).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// What `/readyz` reports.
#[derive(Debug, Default)]
pub struct Health {
    /// The consumer has partitions assigned (it joined its group and the broker answers).
    pub assigned: AtomicBool,
    /// The last write to the target database succeeded (or none failed yet).
    pub target_ok: AtomicBool,
}

impl Health {
    fn ready(&self) -> bool {
        self.assigned.load(Ordering::Relaxed) && self.target_ok.load(Ordering::Relaxed)
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub(crate) fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (a library user's): then our metrics go
            // there, and /metrics renders what this recorder saw.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Serves the endpoints on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(health): State<Arc<Health>>| async move {
                if health.ready() {
                    (StatusCode::OK, "ready\n".to_string())
                } else {
                    let why = format!(
                        "not ready: partitions assigned: {}, target database answering: {}\n",
                        health.assigned.load(Ordering::Relaxed),
                        health.target_ok.load(Ordering::Relaxed)
                    );
                    (StatusCode::SERVICE_UNAVAILABLE, why)
                }
            }),
        )
        .route("/metrics", get(|| async { prometheus().render() }))
        .with_state(health);
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        tracing::warn!(error = %e, "the HTTP endpoints stopped");
    }
}
