//! The JSON API under `/api/v1/`. Every handler declares its route once, in its
//! `#[utoipa::path]`, and `utoipa-axum` builds both the router and the OpenAPI document from
//! those declarations, so the document cannot drift from the routes.
//!
//! Reports and analyses answer in the JSON shape of the CLI's `--format json`
//! (`clientele_analytics::report_json` / `analysis_json`), or as CSV with `format=csv`.
//! Personal columns are masked for roles that do not see personal data, and every response
//! that names customers (a `customer_id` column, or any text cell that is a customer id) is
//! written to the audit log, as are logins, logouts and refused requests.
//!
//! The analyses' routes are not written here: `analyses.rs` walks the library's registry
//! (`clientele_analytics::analyses::visit`) and adds one route per declaration, with its
//! query parameters and role check taken from it.

mod analyses;
mod customers;
mod extract;
mod reports;
mod respond;
mod session;

use customers::*;
use extract::*;
use reports::*;
use respond::*;
use session::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray};
use arrow::datatypes::DataType;
use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use clientele_analytics::{Analysis, Engine, Report, ReportRequest, SalesBy, SalesFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::{Area, Caller, Role};
use crate::error::ApiError;
use crate::privacy::Privacy;
use crate::state::{AppState, CustomerIds};

type St = State<Arc<AppState>>;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "clientele_session";

/// Largest page of a customer or transaction list.
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "clientele API",
        description = "Reports, analyses and customer data of a clientele workspace. Authenticate with `Authorization: Bearer TOKEN` (tokens from `clientele users add`) or the dashboard's session cookie. Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    components(schemas(ErrorBody, ErrorDetail, ReportBody, AnalysisBody, ListBody, Me, Health, LoginBody)),
    tags(
        (name = "reports", description = "KPIs, sales, pipeline, summary, exceptions, transactions"),
        (name = "analyses", description = "Segments, CLV, churn, leads, cohorts"),
        (name = "customers", description = "Customer lists and the customer 360 (audited)"),
        (name = "access", description = "Health, login, the caller, the audit log")
    )
)]
struct ApiDoc;

/// The routes and the OpenAPI document, built together.
fn api_router() -> OpenApiRouter<Arc<AppState>> {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(me))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(kpis))
        .routes(routes!(sales))
        .routes(routes!(pipeline))
        .routes(routes!(summary))
        .routes(routes!(exceptions))
        .routes(routes!(campaigns))
        .routes(routes!(channels))
        .routes(routes!(transactions))
        .routes(routes!(customers))
        .routes(routes!(at_risk))
        .routes(routes!(customer_360))
        .routes(routes!(audit));
    analyses::routes(router)
}

/// The OpenAPI document with the `/api/v1` prefix on every path.
pub fn openapi() -> utoipa::openapi::OpenApi {
    OpenApiRouter::<Arc<AppState>>::new()
        .nest("/api/v1", api_router())
        .into_openapi()
}

/// The whole application: API, OpenAPI document, dashboard, middleware.
pub fn router(state: Arc<AppState>) -> axum::Router {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let (api, doc) = OpenApiRouter::new()
        .nest("/api/v1", api_router())
        .split_for_parts();
    let doc = Arc::new(doc);
    let timeout = state.request_timeout;
    let refusals = axum::middleware::from_fn_with_state(Arc::clone(&state), audit_refusals);
    let trace = tower_http::trace::TraceLayer::new_for_http().make_span_with(
        |req: &axum::http::Request<axum::body::Body>| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
        },
    )
    .on_response(
        tower_http::trace::DefaultOnResponse::new()
            .level(tracing::Level::INFO)
            .latency_unit(tower_http::LatencyUnit::Millis),
    );
    api.route(
        "/api/v1/openapi.json",
        axum::routing::get(move || {
            let doc = Arc::clone(&doc);
            async move { Json(doc.as_ref().clone()) }
        }),
    )
    .merge(crate::dashboard::routes())
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .with_state(state)
    .layer(refusals)
    // Dropping the handler's future on timeout also aborts its work on the query runtime.
    .layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| async move {
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "timeout",
                    format!(
                        "the request took longer than {} s and was stopped (serve --request-timeout sets the limit)",
                        timeout.as_secs()
                    ),
                )
                .into_response(),
            }
        },
    ))
    .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
    .layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("a request handler panicked").into_response()
        },
    ))
    // Inside the trace span (so the log line carries the request id), outside the panic
    // catcher (so a panic's 500 is logged too).
    .layer(axum::middleware::map_response(crate::error::log_errors))
    .layer(PropagateRequestIdLayer::x_request_id())
    .layer(trace)
    .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::not_found(format!(
            "no endpoint {}; the list is at /api/v1/openapi.json",
            uri.path()
        ))
        .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            axum::response::Html("<h1>Not found</h1><p><a href=\"/\">clientele</a></p>"),
        )
            .into_response()
    }
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

// Documentation schemas (the bodies are built as JSON values; these describe them).

/// An error.
#[derive(Serialize, ToSchema)]
struct ErrorBody {
    error: ErrorDetail,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
struct ErrorDetail {
    /// Stable code: bad_request, unauthorized, forbidden, not_found, missing_data, model,
    /// method_not_allowed, payload_too_large, internal.
    code: String,
    /// For a person.
    message: String,
}

/// A report, as `clientele report NAME --format json` prints it.
#[derive(Serialize, ToSchema)]
struct ReportBody {
    report: String,
    title: String,
    #[schema(value_type = Object)]
    period: Option<Value>,
    #[schema(value_type = Object)]
    previous_period: Option<Value>,
    notes: Vec<String>,
    /// The stored measures of whether a customer is being lost (`column`, `label`,
    /// `meaning`), the one that fits the business first.
    #[schema(value_type = Vec<Object>)]
    measures: Vec<Value>,
    /// Column → what it is, for the probability and value-at-risk columns.
    #[schema(value_type = Object)]
    labels: Value,
    /// The at-risk list's value-at-risk column; null for the plain list.
    value_at_risk: Option<String>,
    #[schema(value_type = Vec<Object>)]
    rows: Vec<Value>,
}

/// An analysis, as the CLI's `--format json` prints it: headline facts at the top level
/// (model parameters, metrics …), then `tables` and `notes`.
#[derive(Serialize, ToSchema)]
struct AnalysisBody {
    analysis: String,
    title: String,
    #[schema(value_type = Object)]
    tables: BTreeMap<String, Value>,
    notes: Vec<String>,
}

/// A page of a list.
#[derive(Serialize, ToSchema)]
struct ListBody {
    list: String,
    title: String,
    page: usize,
    page_size: usize,
    total: usize,
    notes: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    rows: Vec<Value>,
}

/// The caller.
#[derive(Serialize, ToSchema)]
struct Me {
    user: String,
    role: Role,
    /// The dashboard page this role lands on.
    home: String,
    /// The areas this role may use.
    areas: Vec<Area>,
    /// Whether names, emails and phones are shown unmasked.
    personal_data: bool,
    /// Whether the server checks credentials.
    auth: bool,
}

/// Liveness and what is served.
#[derive(Serialize, ToSchema)]
struct Health {
    status: String,
    version: String,
    tables: usize,
}

/// Login with an API token.
#[derive(Deserialize, ToSchema)]
struct LoginBody {
    token: String,
}
