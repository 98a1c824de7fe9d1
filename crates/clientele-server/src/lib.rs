//! The clientele web server: the JSON API under `/api/v1/` (every report and analysis of the
//! CLI, customer lists, the customer 360, CSV export, the OpenAPI document), the dashboard
//! (HTML, JavaScript and Chart.js embedded in the binary), users with roles and tokens,
//! dashboard sessions, masking of personal data and the audit log.
//!
//! **Architecture invariant:** the server reads the workspace only through
//! `clientele-analytics` (and its engine); it writes nothing there but `access/` (users and
//! the audit log). Queries and models run on a runtime of their own, so a long analysis never
//! holds up the threads that accept connections.

mod access;
mod api;
mod audit;
mod dashboard;
mod error;
mod privacy;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use access::{
    Area, Caller, PERSONAL_COLUMNS, ROLES, Role, User, add_user, load_users, mask, remove_user,
};
pub use audit::{AuditEntry, read_audit};
pub use error::ServerError;
pub use privacy::{FREE_TEXT_COLUMNS, Policy, load_policy, redact};

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The workspace to serve.
    pub workspace: PathBuf,
    /// Address to listen on (127.0.0.1:8080 by default in the CLI).
    pub bind: SocketAddr,
    /// Whether requests need a token or session. Without, every request acts as an admin
    /// called `local` (for one person on their own machine).
    pub auth: bool,
    /// Threads of the runtime that runs queries and models.
    pub query_threads: usize,
    /// Marks the session cookie `Secure` (the server is reached over HTTPS only).
    pub secure_cookie: bool,
    /// Trusts the `X-Forwarded-Proto` header of the proxy in front of the server: the session
    /// cookie is `Secure` when the proxy says the client used HTTPS.
    pub trust_proxy: bool,
    /// How long a request may take until its answer starts; longer ones get 503 and their
    /// query is stopped (at its next await point: a model fit in progress runs to its end).
    pub request_timeout: std::time::Duration,
    /// How the query engine runs: its memory limit, shared by every request (a query over
    /// it gets 503 `memory_limit`).
    pub engine: clientele_analytics::EngineOptions,
}

/// The application: routes, state and middleware, ready for `axum::serve`.
pub fn app(config: &ServerConfig) -> Result<axum::Router, ServerError> {
    let state = Arc::new(state::AppState::new(config)?);
    Ok(api::router(state))
}

/// The OpenAPI document of the API (what `/api/v1/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::openapi()
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight. `ready` is called
/// with the bound address once the server accepts connections.
pub async fn serve(
    config: ServerConfig,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let app = app(&config)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| ServerError::Usage(format!("cannot listen on {}: {e}", config.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Io(e.to_string()))?;
    ready(addr);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| ServerError::Io(format!("the server stopped: {e}")))?;
    tracing::info!("server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
