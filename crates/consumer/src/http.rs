//! The consumer's HTTP endpoints: `/healthz` (the process is alive), `/readyz` (partitions are
//! assigned, the target database answered the last write and no setup error waits for a fix) and `/metrics` (Prometheus).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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
    /// The setup error the consumer is waiting on an operator to fix (a missing table, column,
    /// key or privilege), with what to do.
    setup_error: Mutex<Option<String>>,
}

impl Health {
    fn ready(&self) -> bool {
        self.assigned.load(Ordering::Relaxed) && self.target_ok.load(Ordering::Relaxed) && self.setup_error().is_none()
    }

    /// Records the setup error the consumer waits on, or (`None`) that writes pass again.
    pub fn set_setup_error(&self, error: Option<String>) {
        *self.setup_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// The setup error the consumer waits on, if any.
    pub fn setup_error(&self) -> Option<String> {
        self.setup_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
                    let mut why = format!(
                        "not ready: partitions assigned: {}, target database answering: {}\n",
                        health.assigned.load(Ordering::Relaxed),
                        health.target_ok.load(Ordering::Relaxed)
                    );
                    if let Some(error) = health.setup_error() {
                        why.push_str(&format!(
                            "waiting for the target to be fixed: {error}\n(nothing is applied or dead-lettered meanwhile; the consumer retries and resumes by itself)\n"
                        ));
                    }
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
