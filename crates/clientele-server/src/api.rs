//! The JSON API under `/api/v1/`. Every handler declares its route once, in its
//! `#[utoipa::path]`, and `utoipa-axum` builds both the router and the OpenAPI document from
//! those declarations, so the document cannot drift from the routes.
//!
//! Reports and analyses answer in the JSON shape of the CLI's `--format json`
//! (`clientele_analytics::report_json` / `analysis_json`), or as CSV with `format=csv`.
//! Personal columns are masked for roles that do not see personal data, and every response
//! that holds customer-level rows (a `customer_id` column) is written to the audit log.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
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

use crate::access::{Area, Caller, PERSONAL_COLUMNS, Role, mask};
use crate::error::ApiError;
use crate::state::AppState;

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
    components(schemas(ErrorBody, ErrorDetail, ReportBody, AnalysisBody, ListBody, Me, Health, LoginBody, SegmentKind)),
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
    OpenApiRouter::with_openapi(ApiDoc::openapi())
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
        .routes(routes!(transactions))
        .routes(routes!(segments))
        .routes(routes!(clv))
        .routes(routes!(churn))
        .routes(routes!(leads))
        .routes(routes!(cohorts))
        .routes(routes!(customers))
        .routes(routes!(at_risk))
        .routes(routes!(customer_360))
        .routes(routes!(audit))
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
    .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
    .layer(tower_http::catch_panic::CatchPanicLayer::custom(
        |_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("a request handler panicked").into_response()
        },
    ))
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
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("{method} is not allowed on {}", uri.path()),
    }
}

// ---------------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------------
// Extractors.

/// Query parameters, with a JSON 400 when they do not parse.
pub struct Q<T>(pub T);

impl<T, S> FromRequestParts<S> for Q<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Q(q.0))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// The caller of a request, its id, what it asked for (for the audit log) and whether it
/// wants CSV.
pub struct Ctx {
    caller: Caller,
    request_id: String,
    action: String,
    csv: bool,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl FromRequestParts<Arc<AppState>> for Ctx {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let bearer = match parts.headers.get(header::AUTHORIZATION) {
            None => None,
            Some(v) => {
                let v = v.to_str().map_err(|_| ApiError::unauthorized())?;
                match v
                    .strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
                {
                    Some(t) => Some(t),
                    None => return Err(ApiError::unauthorized()),
                }
            }
        };
        let session = cookie(&parts.headers, SESSION_COOKIE);
        let caller = state
            .caller(bearer, session)?
            .ok_or_else(ApiError::unauthorized)?;
        let query = parts.uri.query().unwrap_or("");
        let csv = query.split('&').any(|kv| kv == "format=csv")
            || parts
                .headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/csv"));
        Ok(Ctx {
            caller,
            request_id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            // Nested routers see the path without its /api/v1 prefix; log the one requested.
            action: format!(
                "{} {}",
                parts.method,
                parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or(&parts.uri, |o| &o.0)
            ),
            csv,
        })
    }
}

impl Ctx {
    fn require(&self, area: Area, what: &str) -> Result<(), ApiError> {
        if self.caller.role.may(area) {
            Ok(())
        } else {
            Err(ApiError::forbidden(self.caller.role.name(), what))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Responses: masking, auditing, JSON or CSV.

/// Replaces personal columns by their masked text for roles that do not see personal data.
fn protect(batches: &[RecordBatch], caller: &Caller) -> Result<Vec<RecordBatch>, ApiError> {
    if caller.role.sees_personal_data() {
        return Ok(batches.to_vec());
    }
    batches
        .iter()
        .map(|b| {
            let schema = b.schema();
            if !schema
                .fields()
                .iter()
                .any(|f| PERSONAL_COLUMNS.contains(&f.name().as_str()))
            {
                return Ok(b.clone());
            }
            let mut fields = Vec::new();
            let mut columns: Vec<ArrayRef> = Vec::new();
            for (f, c) in schema.fields().iter().zip(b.columns()) {
                if PERSONAL_COLUMNS.contains(&f.name().as_str()) {
                    let text =
                        arrow::compute::cast(c, &DataType::Utf8).map_err(ApiError::internal)?;
                    let text = text
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .ok_or_else(|| ApiError::internal("a personal column is not text"))?;
                    let masked: StringArray = (0..text.len())
                        .map(|i| (!text.is_null(i)).then(|| mask(f.name(), text.value(i))))
                        .collect();
                    fields.push(Field::new(f.name(), DataType::Utf8, true));
                    columns.push(Arc::new(masked));
                } else {
                    fields.push(f.as_ref().clone());
                    columns.push(Arc::clone(c));
                }
            }
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(ApiError::internal)
        })
        .collect()
}

/// The customer ids in batches (their `customer_id` column), in order, without repeats.
fn customer_ids(batches: &[&RecordBatch]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for b in batches {
        let Ok(i) = b.schema().index_of("customer_id") else {
            continue;
        };
        let Ok(text) = arrow::compute::cast(b.column(i), &DataType::Utf8) else {
            continue;
        };
        if let Some(s) = text.as_any().downcast_ref::<StringArray>() {
            for v in s.iter().flatten() {
                if seen.insert(v.to_string()) {
                    out.push(v.to_string());
                }
            }
        }
    }
    out
}

/// Writes an audit entry when the batches hold customer-level rows.
fn audit_rows(state: &AppState, ctx: &Ctx, batches: &[&RecordBatch]) -> Result<(), ApiError> {
    let has_customers = batches
        .iter()
        .any(|b| b.schema().index_of("customer_id").is_ok());
    if has_customers {
        state.audit.record(
            &ctx.caller,
            &ctx.action,
            customer_ids(batches),
            &ctx.request_id,
        )?;
    }
    Ok(())
}

fn csv_response(batches: &[RecordBatch], name: &str) -> Result<Response, ApiError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut buf);
        for b in batches {
            w.write(b).map_err(ApiError::internal)?;
        }
    }
    let mut res = buf.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

fn masked_report(report: &Report, caller: &Caller) -> Result<Report, ApiError> {
    let batches = protect(&report.batches, caller)?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::clone(&report.schema));
    Ok(Report {
        batches,
        schema,
        ..report.clone()
    })
}

fn report_response(state: &AppState, ctx: &Ctx, report: &Report) -> Result<Response, ApiError> {
    let report = masked_report(report, &ctx.caller)?;
    audit_rows(state, ctx, &report.batches.iter().collect::<Vec<_>>())?;
    if ctx.csv {
        return csv_response(&report.batches, &report.name);
    }
    Ok(Json(clientele_analytics::report_json(&report)?).into_response())
}

fn analysis_response(
    state: &AppState,
    ctx: &Ctx,
    analysis: &Analysis,
    table: Option<&str>,
) -> Result<Response, ApiError> {
    // The per-customer rows are not part of the answer; only the tables are copied (masked).
    let shown = Analysis {
        name: analysis.name.clone(),
        title: analysis.title.clone(),
        notes: analysis.notes.clone(),
        facts: analysis.facts.clone(),
        tables: analysis
            .tables
            .iter()
            .map(|t| masked_report(t, &ctx.caller))
            .collect::<Result<_, _>>()?,
        rows: None,
        parameters: analysis.parameters.clone(),
    };
    let all: Vec<&RecordBatch> = shown.tables.iter().flat_map(|t| t.batches.iter()).collect();
    audit_rows(state, ctx, &all)?;
    if ctx.csv {
        let t = match table {
            None => shown.tables.first(),
            Some(name) => shown.tables.iter().find(|t| t.name == name),
        }
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "no table '{}' in this analysis: it has {}",
                table.unwrap_or(""),
                shown
                    .tables
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        return csv_response(&t.batches, &format!("{}-{}", shown.name, t.name));
    }
    Ok(Json(clientele_analytics::analysis_json(&shown)?).into_response())
}

// ---------------------------------------------------------------------------------------------
// Parameters.

fn date(name: &str, v: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => clientele_analytics::parse_date(s).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("{name} '{s}' is not a date: expected YYYY-MM-DD"))
        }),
    }
}

/// Period, grouping and drill-down filters of a report.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
struct ReportParams {
    /// First day (YYYY-MM-DD). Default: start of the latest order's quarter.
    from: Option<String>,
    /// Last day (YYYY-MM-DD). Default: the latest order's date.
    to: Option<String>,
    /// A calendar period instead of from/to: 2025, 2025-Q4 or 2025-11.
    period: Option<String>,
    /// Grouping. Sales: product, category, region, rep, channel, customer, day, week, month,
    /// quarter. Pipeline: rep, region.
    by: Option<String>,
    /// Sales filter: only this region.
    region: Option<String>,
    /// Sales filter: only this sales rep id.
    rep: Option<String>,
    /// Sales filter: only this channel.
    channel: Option<String>,
    /// Sales filter: only this category.
    category: Option<String>,
    /// Sales filter: only this product id.
    product: Option<String>,
    /// Sales filter: only this customer id.
    customer: Option<String>,
    /// Exceptions: relative revenue fall that counts (default 0.2).
    threshold: Option<f64>,
    /// json (default) or csv.
    format: Option<String>,
}

impl ReportParams {
    fn request(&self, name: &str) -> Result<ReportRequest, ApiError> {
        check_format(&self.format)?;
        let mut filters = Vec::new();
        for (dim, v) in [
            (SalesBy::Region, &self.region),
            (SalesBy::Rep, &self.rep),
            (SalesBy::Channel, &self.channel),
            (SalesBy::Category, &self.category),
            (SalesBy::Product, &self.product),
            (SalesBy::Customer, &self.customer),
        ] {
            if let Some(value) = v {
                filters.push(SalesFilter {
                    dimension: dim,
                    value: value.clone(),
                });
            }
        }
        if let Some(t) = self.threshold
            && !(t > 0.0 && t < 1.0)
        {
            return Err(ApiError::bad_request(format!(
                "threshold {t} must be a fraction between 0 and 1"
            )));
        }
        Ok(ReportRequest {
            name: name.into(),
            by: self.by.clone().filter(|s| !s.trim().is_empty()),
            from: date("from", &self.from)?,
            to: date("to", &self.to)?,
            period: self.period.clone().filter(|s| !s.trim().is_empty()),
            threshold: self.threshold,
            limit: None,
            offset: 0,
            filters,
        })
    }
}

fn check_format(f: &Option<String>) -> Result<(), ApiError> {
    match f.as_deref() {
        None | Some("json") | Some("csv") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "format '{other}' is not known: expected json or csv"
        ))),
    }
}

async fn run_report(
    state: &Arc<AppState>,
    ctx: &Ctx,
    req: ReportRequest,
) -> Result<Response, ApiError> {
    let report = state.report(req).await?;
    report_response(state, ctx, &report)
}

// ---------------------------------------------------------------------------------------------
// Access.

/// Whether the server is up; needs no credentials.
#[utoipa::path(get, path = "/health", tag = "access",
    responses((status = 200, body = Health)))]
async fn health(State(state): St) -> Result<Json<Health>, ApiError> {
    let tables = clientele_ingest::Manifest::read(&state.workspace)
        .ok()
        .flatten()
        .map_or(0, |m| m.tables.len());
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        tables,
    }))
}

/// Who is calling, with which role, and what that role may see.
#[utoipa::path(get, path = "/me", tag = "access",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): St, ctx: Ctx) -> Json<Me> {
    use Area::*;
    let role = ctx.caller.role;
    Json(Me {
        user: ctx.caller.name.clone(),
        role,
        home: role.home().into(),
        areas: [
            Overview, Sales, Pipeline, Customers, Segments, Campaigns, Leads, Admin,
        ]
        .into_iter()
        .filter(|a| role.may(*a))
        .collect(),
        personal_data: role.sees_personal_data(),
        auth: state.auth,
    })
}

/// Exchanges an API token for a dashboard session cookie (HttpOnly, SameSite=Strict).
#[utoipa::path(post, path = "/login", tag = "access", request_body = LoginBody,
    responses((status = 200, body = Me), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn login(State(state): St, body: axum::body::Bytes) -> Result<Response, ApiError> {
    let body: LoginBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the body must be JSON {{\"token\": \"…\"}}: {e}"))
    })?;
    let caller = state
        .by_token(&body.token)?
        .ok_or_else(ApiError::unauthorized)?;
    let id = state.sessions.start(caller.clone());
    let role = caller.role;
    let mut res = Json(json!({
        "user": caller.name, "role": role, "home": role.home(),
        "personal_data": role.sees_personal_data(), "auth": state.auth,
    }))
    .into_response();
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        crate::access::SESSION_IDLE.as_secs()
    );
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(res)
}

/// Ends the dashboard session.
#[utoipa::path(post, path = "/logout", tag = "access", responses((status = 204)))]
async fn logout(State(state): St, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.end(id);
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "clientele_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        ),
    );
    res
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditParams {
    /// Only this user's accesses.
    user: Option<String>,
    /// Only accesses to this customer.
    customer: Option<String>,
    /// Page number, from 1.
    page: Option<usize>,
    /// Entries per page (default 100, at most 1000); newest first.
    page_size: Option<usize>,
}

/// The audit log (admins only), newest first.
#[utoipa::path(get, path = "/audit", tag = "access", params(AuditParams),
    responses((status = 200, body = ListBody), (status = 403, body = ErrorBody)))]
async fn audit(State(state): St, ctx: Ctx, Q(p): Q<AuditParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Admin, "the audit log")?;
    let (page, size) = paging(p.page, p.page_size, 100)?;
    let workspace = state.workspace.clone();
    let mut entries = tokio::task::spawn_blocking(move || {
        crate::audit::read_audit(&workspace, p.user.as_deref(), p.customer.as_deref())
    })
    .await
    .map_err(ApiError::internal)??;
    entries.reverse();
    let total = entries.len();
    let rows: Vec<Value> = entries
        .into_iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(Json(json!({"list": "audit", "title": "Audit log", "page": page, "page_size": size, "total": total, "notes": [], "rows": rows})).into_response())
}

fn paging(
    page: Option<usize>,
    size: Option<usize>,
    default: usize,
) -> Result<(usize, usize), ApiError> {
    let page = page.unwrap_or(1);
    let size = size.unwrap_or(default);
    if page == 0 {
        return Err(ApiError::bad_request("page starts at 1"));
    }
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(ApiError::bad_request(format!(
            "page_size {size} must be between 1 and {MAX_PAGE_SIZE}; use format=csv to export every row"
        )));
    }
    if page.checked_mul(size).is_none_or(|n| n > 1_000_000_000) {
        return Err(ApiError::bad_request("page is too large"));
    }
    Ok((page, size))
}

// ---------------------------------------------------------------------------------------------
// Reports.

/// The KPIs of a period against the previous period and their targets.
#[utoipa::path(get, path = "/kpis", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn kpis(State(state): St, ctx: Ctx, Q(p): Q<ReportParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Overview, "KPIs")?;
    run_report(&state, &ctx, p.request("kpis")?).await
}

/// Sales by a dimension, with share and growth; filters drill down (region → rep → customer,
/// category → product).
#[utoipa::path(get, path = "/sales", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 400, body = ErrorBody)))]
async fn sales(State(state): St, ctx: Ctx, Q(p): Q<ReportParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Sales, "sales")?;
    run_report(&state, &ctx, p.request("sales")?).await
}

/// The deal pipeline: funnel by stage with conversion and days in stage, or by rep/region.
#[utoipa::path(get, path = "/pipeline", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 403, body = ErrorBody)))]
async fn pipeline(State(state): St, ctx: Ctx, Q(p): Q<ReportParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Pipeline, "the pipeline")?;
    run_report(&state, &ctx, p.request("pipeline")?).await
}

/// The one-page summary of a period.
#[utoipa::path(get, path = "/summary", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody)))]
async fn summary(State(state): St, ctx: Ctx, Q(p): Q<ReportParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Overview, "the summary")?;
    run_report(&state, &ctx, p.request("summary")?).await
}

/// Exceptions: KPIs off target, reps under quota, regions and products whose revenue fell.
#[utoipa::path(get, path = "/exceptions", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody)))]
async fn exceptions(
    State(state): St,
    ctx: Ctx,
    Q(p): Q<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Overview, "exceptions")?;
    run_report(&state, &ctx, p.request("exceptions")?).await
}

/// Campaigns: revenue of the orders carrying each, spend booked to it and ROI; the rows add up
/// to the Marketing ROI KPI.
#[utoipa::path(get, path = "/campaigns", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn campaigns(
    State(state): St,
    ctx: Ctx,
    Q(p): Q<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Campaigns, "campaigns")?;
    run_report(&state, &ctx, p.request("campaigns")?).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct TransactionParams {
    /// First day (YYYY-MM-DD).
    from: Option<String>,
    /// Last day (YYYY-MM-DD).
    to: Option<String>,
    /// A calendar period instead of from/to.
    period: Option<String>,
    /// Only this customer's transactions.
    customer: Option<String>,
    /// Page number, from 1.
    page: Option<usize>,
    /// Rows per page (default 50, at most 1000).
    page_size: Option<usize>,
    /// json (default) or csv (all rows of the period, not a page).
    format: Option<String>,
}

/// Transaction lines of a period (the detailed report), paged; audited.
#[utoipa::path(get, path = "/transactions", tag = "reports", params(TransactionParams),
    responses((status = 200, body = ListBody), (status = 400, body = ErrorBody)))]
async fn transactions(
    State(state): St,
    ctx: Ctx,
    Q(p): Q<TransactionParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Sales, "transactions")?;
    check_format(&p.format)?;
    let (page, size) = paging(p.page, p.page_size, 50)?;
    let from = date("from", &p.from)?;
    let to = date("to", &p.to)?;
    let customer = p.customer.clone();
    let period_label = p.period.clone();
    let csv = ctx.csv;
    let (batches, total, period) = state
        .query(move |engine: Arc<Engine>| async move {
            use datafusion::prelude::{col, lit};
            let explicit = from.is_some() || to.is_some() || period_label.is_some();
            // A customer's history defaults to all time, not the latest quarter.
            let period = if customer.is_some() && !explicit {
                clientele_analytics::Period::custom(
                    NaiveDate::from_ymd_opt(1900, 1, 1).expect("date"),
                    NaiveDate::from_ymd_opt(2999, 12, 31).expect("date"),
                )?
            } else {
                clientele_analytics::resolve_period(&engine, from, to, period_label.as_deref())
                    .await?
            };
            let mut df = clientele_analytics::detailed_frame(&engine, &period).await?;
            if let Some(c) = customer {
                df = df
                    .filter(col("customer_id").eq(lit(c)))
                    .map_err(ApiError::internal)?;
            }
            let total = df.clone().count().await.map_err(ApiError::internal)?;
            if !csv {
                df = df
                    .limit((page - 1) * size, Some(size))
                    .map_err(ApiError::internal)?;
            }
            let batches = df.collect().await.map_err(ApiError::internal)?;
            Ok((batches, total, period))
        })
        .await?;
    let batches = protect(&batches, &ctx.caller)?;
    audit_rows(&state, &ctx, &batches.iter().collect::<Vec<_>>())?;
    if ctx.csv {
        return csv_response(&batches, "transactions");
    }
    Ok(Json(json!({
        "list": "transactions", "title": "Transactions",
        "period": clientele_analytics::period_json(&period),
        "page": page, "page_size": size, "total": total, "notes": [],
        "rows": clientele_analytics::rows_json(&batches)?,
    }))
    .into_response())
}

// ---------------------------------------------------------------------------------------------
// Analyses (computed on request, cached per workspace version; not stored).

/// Runs (or finds in the cache) the analysis `work` computes under `key`, and answers it.
async fn answer_analysis<F, Fut>(
    state: &Arc<AppState>,
    ctx: &Ctx,
    key: String,
    table: Option<&str>,
    work: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Arc<Engine>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Analysis, ApiError>> + Send + 'static,
{
    let analysis = state.analysis(key, work).await?;
    analysis_response(state, ctx, &analysis, table)
}

/// The segmentations (documentation of the `{kind}` path parameter).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum SegmentKind {
    Rfm,
    Demographic,
    Behavioral,
    Lifecycle,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SegmentParams {
    /// Day customers are judged on (YYYY-MM-DD). Default: the day after the last sale.
    as_of: Option<String>,
    /// demographic: dimensions, comma-separated (age_band, gender, region, country,
    /// acquisition_channel). Default: region.
    by: Option<String>,
    /// behavioral: number of clusters (2–50; default chosen by silhouette).
    k: Option<usize>,
    /// json (default) or csv.
    format: Option<String>,
    /// With format=csv: which table.
    table: Option<String>,
}

/// Segments: rfm, demographic, behavioral (k-means) or lifecycle.
#[utoipa::path(get, path = "/segments/{kind}", tag = "analyses",
    params(("kind" = SegmentKind, Path, description = "rfm, demographic, behavioral or lifecycle"), SegmentParams),
    responses((status = 200, body = AnalysisBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn segments(
    State(state): St,
    ctx: Ctx,
    Path(kind): Path<String>,
    Q(p): Q<SegmentParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Segments, "segments")?;
    check_format(&p.format)?;
    let as_of = date("as_of", &p.as_of)?;
    let kind = kind.to_ascii_lowercase();
    let by: Vec<String> =
        p.by.as_deref()
            .unwrap_or("region")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    if p.k.is_some_and(|k| !(2..=50).contains(&k)) {
        return Err(ApiError::bad_request("k must be between 2 and 50"));
    }
    if !matches!(
        kind.as_str(),
        "rfm" | "demographic" | "behavioral" | "behavioural" | "lifecycle"
    ) {
        return Err(ApiError::bad_request(format!(
            "unknown segmentation '{kind}': expected rfm, demographic, behavioral or lifecycle"
        )));
    }
    let key = format!("segments/{kind}?{as_of:?}&{by:?}&{:?}", p.k);
    let k = p.k;
    answer_analysis(
        &state,
        &ctx,
        key,
        p.table.as_deref(),
        move |engine: Arc<Engine>| async move {
            Ok(match kind.as_str() {
                "rfm" => clientele_analytics::segment_rfm(&engine, as_of).await?,
                "demographic" => {
                    clientele_analytics::segment_demographic(&engine, &by, as_of).await?
                }
                "lifecycle" => {
                    clientele_analytics::segment_lifecycle(&engine, as_of, &Default::default())
                        .await?
                }
                _ => {
                    let opts = clientele_analytics::BehaviouralOptions { as_of, k, seed: 42 };
                    clientele_analytics::segment_behavioural(&engine, &opts).await?
                }
            })
        },
    )
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ClvParams {
    /// bgnbd (default) or pnbd.
    model: Option<String>,
    /// Last day of calibration (YYYY-MM-DD); later orders form the holdout.
    calibration_end: Option<String>,
    /// day, week (default) or month.
    time_unit: Option<String>,
    /// Horizon in time units (default one year).
    horizon: Option<f64>,
    /// Annual discount rate (default 0.1).
    discount_rate: Option<f64>,
    /// Profit margin (default 1).
    margin: Option<f64>,
    /// json (default) or csv.
    format: Option<String>,
    /// With format=csv: which table.
    table: Option<String>,
}

/// Customer lifetime value: BG/NBD or Pareto/NBD with Gamma-Gamma.
#[utoipa::path(get, path = "/clv", tag = "analyses", params(ClvParams),
    responses((status = 200, body = AnalysisBody), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn clv(State(state): St, ctx: Ctx, Q(p): Q<ClvParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Segments, "lifetime value")?;
    check_format(&p.format)?;
    let mut options = clientele_analytics::ClvOptions::default();
    if let Some(m) = &p.model {
        options.model = clientele_analytics::parse_clv_model(m)?;
    }
    options.calibration_end = date("calibration_end", &p.calibration_end)?;
    if let Some(u) = &p.time_unit {
        options.time_unit = u.parse()?;
    }
    if let Some(h) = p.horizon {
        if !(h > 0.0 && h <= 10_000.0) {
            return Err(ApiError::bad_request(
                "horizon must be a positive number of time units",
            ));
        }
        options.horizon = Some(h);
    }
    if let Some(d) = p.discount_rate {
        if !(0.0..=1.0).contains(&d) {
            return Err(ApiError::bad_request(
                "discount_rate must be between 0 and 1",
            ));
        }
        options.discount_rate = d;
    }
    if let Some(m) = p.margin {
        if !(m > 0.0 && m <= 1.0) {
            return Err(ApiError::bad_request(
                "margin must be above 0 and at most 1",
            ));
        }
        options.margin = m;
    }
    let key = format!("clv?{options:?}");
    answer_analysis(&state, &ctx, key, p.table.as_deref(), move |engine: Arc<Engine>| async move {
        Ok(clientele_analytics::clv(&engine, &options).await?)
    })
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChurnParams {
    /// transactional (default) or subscription.
    kind: Option<String>,
    /// Day to score on (YYYY-MM-DD).
    as_of: Option<String>,
    /// Days after a snapshot in which a purchase must happen (default 90).
    window: Option<i32>,
    /// json (default) or csv.
    format: Option<String>,
    /// With format=csv: which table.
    table: Option<String>,
}

/// Churn models (logistic regression and boosted trees), their evaluation and fairness.
#[utoipa::path(get, path = "/churn", tag = "analyses", params(ChurnParams),
    responses((status = 200, body = AnalysisBody), (status = 400, body = ErrorBody)))]
async fn churn(State(state): St, ctx: Ctx, Q(p): Q<ChurnParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Segments, "churn")?;
    check_format(&p.format)?;
    let mut options = clientele_analytics::ChurnOptions::default();
    if let Some(k) = &p.kind {
        options.kind = k.parse()?;
    }
    options.as_of = date("as_of", &p.as_of)?;
    if let Some(w) = p.window {
        if !(1..=3650).contains(&w) {
            return Err(ApiError::bad_request(
                "window must be between 1 and 3650 days",
            ));
        }
        options.window = w;
    }
    let key = format!(
        "churn?{:?}&{:?}&{}",
        options.kind, options.as_of, options.window
    );
    answer_analysis(
        &state,
        &ctx,
        key,
        p.table.as_deref(),
        move |engine: Arc<Engine>| async move {
            Ok(clientele_analytics::churn(&engine, &options).await?)
        },
    )
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LeadParams {
    /// Leads younger than this many days are not learned from (default 90).
    maturity_days: Option<i32>,
    /// json (default) or csv.
    format: Option<String>,
    /// With format=csv: which table.
    table: Option<String>,
}

/// Lead scoring: conversion model, grades A–D and how grade A converts.
#[utoipa::path(get, path = "/leads", tag = "analyses", params(LeadParams),
    responses((status = 200, body = AnalysisBody), (status = 400, body = ErrorBody)))]
async fn leads(State(state): St, ctx: Ctx, Q(p): Q<LeadParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Leads, "leads")?;
    check_format(&p.format)?;
    let mut options = clientele_analytics::LeadOptions::default();
    if let Some(d) = p.maturity_days {
        if !(0..=3650).contains(&d) {
            return Err(ApiError::bad_request(
                "maturity_days must be between 0 and 3650",
            ));
        }
        options.maturity_days = d;
    }
    let key = format!("leads?{}", options.maturity_days);
    answer_analysis(
        &state,
        &ctx,
        key,
        p.table.as_deref(),
        move |engine: Arc<Engine>| async move {
            Ok(clientele_analytics::leads(&engine, &options).await?)
        },
    )
    .await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CohortParams {
    /// month (default) or quarter.
    by: Option<String>,
    /// json (default) or csv.
    format: Option<String>,
    /// With format=csv: which table.
    table: Option<String>,
}

/// Acquisition cohorts: retention, revenue per customer, cumulative revenue.
#[utoipa::path(get, path = "/cohorts", tag = "analyses", params(CohortParams),
    responses((status = 200, body = AnalysisBody), (status = 400, body = ErrorBody)))]
async fn cohorts(State(state): St, ctx: Ctx, Q(p): Q<CohortParams>) -> Result<Response, ApiError> {
    ctx.require(Area::Segments, "cohorts")?;
    check_format(&p.format)?;
    let by: clientele_analytics::CohortBy = p.by.as_deref().unwrap_or("month").parse()?;
    let key = format!("cohorts?{by:?}");
    answer_analysis(&state, &ctx, key, p.table.as_deref(), move |engine: Arc<Engine>| async move {
        Ok(clientele_analytics::cohorts(&engine, by).await?)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Customers.

/// Filters of the customer list: any column of the list (`rfm_segment=Champions`,
/// `lifecycle_stage=at-risk`, `cluster=2`, `region=North` …) plus the controls below.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CustomerParams {
    /// Page number, from 1.
    page: Option<usize>,
    /// Rows per page (default 50, at most 1000).
    page_size: Option<usize>,
    /// Column to sort by; a leading '-' sorts descending. Default: revenue, descending.
    sort: Option<String>,
    /// Search in customer id (and, for roles that see personal data, name and email).
    q: Option<String>,
    /// json (default) or csv (every matching row, not a page).
    format: Option<String>,
}

/// The customer list: profile columns, purchase summary and every stored score.
async fn customer_frame(engine: &Engine) -> Result<datafusion::dataframe::DataFrame, ApiError> {
    if !engine.has_table("customers") {
        return Err(clientele_analytics::AnalyticsError::MissingData(
            "the customer list needs the customers table, and the workspace has none".into(),
        )
        .into());
    }
    let mut cols = vec!["c.customer_id".to_string()];
    let has = |c: &str| engine.has_column("customers", c);
    if has("first_name") || has("last_name") {
        cols.push("concat_ws(' ', c.first_name, c.last_name) AS customer_name".into());
    }
    for c in [
        "email",
        "phone",
        "region",
        "country",
        "segment",
        "acquisition_channel",
        "signup_date",
    ] {
        if has(c) {
            cols.push(format!("c.{c}"));
        }
    }
    let mut joins = String::new();
    if engine.has_table("orders") {
        cols.extend(["orders", "revenue", "last_order_date"].map(|c| format!("cs.{c}")));
        joins.push_str(" LEFT JOIN customer_summary cs ON cs.customer_id = c.customer_id");
    }
    let score_cols: Vec<String> = match engine.sql("SELECT * FROM customer_scores LIMIT 0").await {
        Ok(df) => df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != "customer_id" && !n.ends_with("_reasons"))
            .collect(),
        Err(_) => Vec::new(),
    };
    if !score_cols.is_empty() {
        for c in &score_cols {
            cols.push(format!("s.\"{c}\""));
        }
        joins.push_str(" LEFT JOIN customer_scores s ON s.customer_id = c.customer_id");
        if score_cols.iter().any(|c| c == "churn_probability")
            && score_cols.iter().any(|c| c == "clv")
        {
            cols.push("s.churn_probability * s.clv AS value_at_risk".into());
        }
    }
    let sql = format!("SELECT {} FROM customers c{joins}", cols.join(", "));
    Ok(engine.sql(&sql).await?)
}

async fn customer_list(
    state: &Arc<AppState>,
    ctx: &Ctx,
    params: CustomerParams,
    filters: HashMap<String, String>,
    at_risk: bool,
) -> Result<Response, ApiError> {
    ctx.require(Area::Customers, "customers")?;
    check_format(&params.format)?;
    let (page, size) = paging(params.page, params.page_size, 50)?;
    let csv = ctx.csv;
    let pii = ctx.caller.role.sees_personal_data();
    let (batches, total, notes) = state
        .query(move |engine: Arc<Engine>| async move {
            use datafusion::prelude::{col, lit};
            let mut df = customer_frame(&engine).await?;
            let columns: Vec<String> = df
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let mut notes: Vec<String> = Vec::new();
            for (k, v) in &filters {
                if !columns.contains(k) {
                    return Err(ApiError::bad_request(format!(
                        "unknown filter '{k}': filter on a column of the list ({})",
                        columns.join(", ")
                    )));
                }
                if !pii && PERSONAL_COLUMNS.contains(&k.as_str()) {
                    return Err(ApiError::forbidden("current", "personal data"));
                }
                let c = datafusion::prelude::cast(col(format!("\"{k}\"")), arrow::datatypes::DataType::Utf8);
                df = df.filter(c.eq(lit(v.clone()))).map_err(ApiError::internal)?;
                notes.push(format!("only customers with {k} = {v}"));
            }
            if let Some(q) = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                let pattern = format!("%{}%", q.to_lowercase().replace('%', "\\%").replace('_', "\\_"));
                let mut cond = datafusion::functions::expr_fn::lower(col("customer_id")).like(lit(pattern.clone()));
                if pii {
                    for c in ["customer_name", "email"] {
                        if columns.iter().any(|x| x == c) {
                            cond = cond.or(datafusion::functions::expr_fn::lower(col(c)).like(lit(pattern.clone())));
                        }
                    }
                }
                df = df.filter(cond).map_err(ApiError::internal)?;
            }
            if at_risk {
                if !columns.iter().any(|c| c == "value_at_risk") {
                    return Err(clientele_analytics::AnalyticsError::MissingData(
                        "the at-risk list needs stored CLV and churn scores: run `clientele clv` and `clientele churn` (the demo stores both)".into(),
                    )
                    .into());
                }
                df = df
                    .filter(col("value_at_risk").is_not_null())
                    .map_err(ApiError::internal)?;
            }
            let default_sort = if at_risk { "-value_at_risk" } else if columns.iter().any(|c| c == "revenue") { "-revenue" } else { "customer_id" };
            let sort = params.sort.as_deref().unwrap_or(default_sort);
            let (name, desc) = match sort.strip_prefix('-') {
                Some(n) => (n, true),
                None => (sort, false),
            };
            if !columns.iter().any(|c| c == name) {
                return Err(ApiError::bad_request(format!(
                    "cannot sort by '{name}': sort by a column of the list ({})",
                    columns.join(", ")
                )));
            }
            df = df
                .sort(vec![
                    col(format!("\"{name}\"")).sort(!desc, false),
                    col("customer_id").sort(true, false),
                ])
                .map_err(ApiError::internal)?;
            let total = df.clone().count().await.map_err(ApiError::internal)?;
            if !csv {
                df = df.limit((page - 1) * size, Some(size)).map_err(ApiError::internal)?;
            }
            let batches = df.collect().await.map_err(ApiError::internal)?;
            Ok((batches, total, notes))
        })
        .await?;
    let batches = protect(&batches, &ctx.caller)?;
    audit_rows(state, ctx, &batches.iter().collect::<Vec<_>>())?;
    let name = if at_risk { "at_risk" } else { "customers" };
    if csv {
        return csv_response(&batches, name);
    }
    Ok(Json(json!({
        "list": name,
        "title": if at_risk { "Customers at risk (churn probability × CLV)" } else { "Customers" },
        "page": page, "page_size": size, "total": total, "notes": notes,
        "rows": clientele_analytics::rows_json(&batches)?,
    }))
    .into_response())
}

fn split_filters(
    mut all: HashMap<String, String>,
) -> Result<(CustomerParams, HashMap<String, String>), ApiError> {
    let number = |all: &mut HashMap<String, String>, k: &str| -> Result<Option<usize>, ApiError> {
        all.remove(k)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| ApiError::bad_request(format!("{k} '{v}' is not a whole number")))
            })
            .transpose()
    };
    let params = CustomerParams {
        page: number(&mut all, "page")?,
        page_size: number(&mut all, "page_size")?,
        sort: all.remove("sort"),
        q: all.remove("q"),
        format: all.remove("format"),
    };
    Ok((params, all))
}

/// A page of customers with their purchase summary and stored scores; any column is a
/// filter. Personal data masked per role; audited.
#[utoipa::path(get, path = "/customers", tag = "customers", params(CustomerParams),
    responses((status = 200, body = ListBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn customers(
    State(state): St,
    ctx: Ctx,
    Q(all): Q<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (params, filters) = split_filters(all)?;
    customer_list(&state, &ctx, params, filters, false).await
}

/// Customers sorted by value at risk: churn probability × CLV (needs both stored).
#[utoipa::path(get, path = "/at-risk", tag = "customers", params(CustomerParams),
    responses((status = 200, body = ListBody), (status = 422, body = ErrorBody)))]
async fn at_risk(
    State(state): St,
    ctx: Ctx,
    Q(all): Q<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (params, filters) = split_filters(all)?;
    customer_list(&state, &ctx, params, filters, true).await
}

/// Tables shown in the customer 360, with the column that orders them (newest first).
const CUSTOMER_TABLES: &[(&str, &str)] = &[
    ("orders", "order_date"),
    ("subscriptions", "started_at"),
    ("tickets", "opened_at"),
    ("surveys", "responded_at"),
    ("touchpoints", "occurred_at"),
    ("web_sessions", "started_at"),
    ("leads", "created_at"),
    ("deals", "created_at"),
];

/// Rows of each section of the 360.
const SECTION_ROWS: usize = 200;

/// Everything about one customer: profile, consent, scores with reasons, orders and their
/// items, subscriptions, tickets, surveys, touchpoints, web sessions. Audited.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "customer id")),
    responses((status = 200, description = "profile, consent, scores and one section per table", body = Object), (status = 404, body = ErrorBody)))]
async fn customer_360(
    State(state): St,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Customers, "customers")?;
    if id.len() > 200 {
        return Err(ApiError::bad_request("customer id is too long"));
    }
    let caller = ctx.caller.clone();
    let cid = id.clone();
    let body = state
        .query(move |engine: Arc<Engine>| async move {
            use datafusion::prelude::{col, lit};
            if !engine.has_table("customers") {
                return Err(clientele_analytics::AnalyticsError::MissingData(
                    "the customer 360 needs the customers table".into(),
                )
                .into());
            }
            let ctx = selective_context(&engine);
            let fetch = |table: String, filter_col: &'static str, order: Option<&'static str>| {
                let ctx = ctx.clone();
                let cid = cid.clone();
                async move {
                    let mut df = ctx
                        .table(table.as_str())
                        .await
                        .map_err(ApiError::internal)?
                        .filter(col(filter_col).eq(lit(cid)))
                        .map_err(ApiError::internal)?;
                    if let Some(o) = order
                        && df.schema().has_column_with_unqualified_name(o)
                    {
                        df = df.sort(vec![col(o).sort(false, true)]).map_err(ApiError::internal)?;
                    }
                    df.limit(0, Some(SECTION_ROWS))
                        .map_err(ApiError::internal)?
                        .collect()
                        .await
                        .map_err(ApiError::internal)
                }
            };
            let profile = protect(&fetch("customers".into(), "customer_id", None).await?, &caller)?;
            if profile.iter().all(|b| b.num_rows() == 0) {
                return Err(ApiError::not_found(format!("there is no customer '{cid}'")));
            }
            let mut profile_json = clientele_analytics::rows_json(&profile)?;
            let profile_obj = profile_json
                .as_array_mut()
                .and_then(|a| a.pop())
                .unwrap_or(Value::Null);
            let (consent, details): (serde_json::Map<String, Value>, serde_json::Map<String, Value>) =
                profile_obj
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .partition(|(k, _)| k.starts_with("consent_"));
            let mut out = serde_json::Map::new();
            out.insert("customer_id".into(), cid.clone().into());
            out.insert("profile".into(), Value::Object(details));
            out.insert("consent".into(), Value::Object(consent));
            // The stored scores, table by table: what the customer_scores view joins, without
            // joining every customer to find one.
            let mut scores = serde_json::Map::new();
            let score_tables: Vec<String> = engine
                .manifest()
                .tables
                .keys()
                .filter(|t| t.starts_with("scores_"))
                .cloned()
                .collect();
            for table in score_tables {
                let rows = fetch(table, "customer_id", None).await?;
                if let Some(Value::Object(row)) = clientele_analytics::rows_json(&rows)?
                    .as_array_mut()
                    .and_then(|a| a.pop())
                {
                    scores.extend(row);
                }
            }
            out.insert("scores".into(), Value::Object(scores));
            if engine.has_table("orders") {
                let summary = fetch("customer_summary".into(), "customer_id", None).await?;
                let mut s = clientele_analytics::rows_json(&summary)?;
                out.insert("summary".into(), s.as_array_mut().and_then(|a| a.pop()).unwrap_or(json!({})));
            }
            let mut sections = serde_json::Map::new();
            for (table, order) in CUSTOMER_TABLES {
                if engine.has_table(table) && engine.has_column(table, "customer_id") {
                    let rows = protect(&fetch((*table).into(), "customer_id", Some(order)).await?, &caller)?;
                    sections.insert((*table).into(), clientele_analytics::rows_json(&rows)?);
                }
            }
            // The items of the orders shown (the newest), looked up by order id.
            let order_ids: Vec<String> = sections
                .get("orders")
                .and_then(Value::as_array)
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| r["order_id"].as_str().map(sql_literal))
                        .collect()
                })
                .unwrap_or_default();
            if engine.has_table("order_items") && !order_ids.is_empty() {
                let products = engine.has_table("products");
                let ids = order_ids.join(", ");
                let sql = format!(
                    "SELECT i.order_id, o.order_date, i.product_id{}, i.quantity, i.unit_price, i.discount
                     FROM order_items i JOIN orders o ON i.order_id = o.order_id{}
                     WHERE i.order_id IN ({ids}) AND o.order_id IN ({ids})
                     ORDER BY o.order_date DESC, i.order_id, i.product_id LIMIT {SECTION_ROWS}",
                    if products { ", p.name AS product_name, p.category" } else { "" },
                    if products { " LEFT JOIN products p ON i.product_id = p.product_id" } else { "" },
                );
                let items = ctx
                    .sql(&sql)
                    .await
                    .map_err(ApiError::internal)?
                    .collect()
                    .await
                    .map_err(ApiError::internal)?;
                sections.insert("order_items".into(), clientele_analytics::rows_json(&items)?);
            }
            out.insert("sections".into(), Value::Object(sections));
            out.insert("section_rows".into(), SECTION_ROWS.into());
            Ok(Value::Object(out))
        })
        .await?;
    state
        .audit
        .record(&ctx.caller, &ctx.action, vec![id], &ctx.request_id)?;
    Ok(Json(body).into_response())
}

/// A session over the same tables that decodes the other columns of a row only when its
/// filter matches (Parquet filter pushdown). That is what a one-customer lookup wants —
/// a few rows out of millions — and not what the reports' scans of whole tables want, so it
/// is not the engine's default.
fn selective_context(engine: &Engine) -> datafusion::prelude::SessionContext {
    let mut state = engine.context().state();
    let parquet = &mut state.config_mut().options_mut().execution.parquet;
    parquet.pushdown_filters = true;
    parquet.reorder_filters = true;
    datafusion::prelude::SessionContext::new_with_state(state)
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; clientele_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn paging_refuses_silly_pages() {
        assert!(paging(Some(0), None, 50).is_err());
        assert!(paging(None, Some(MAX_PAGE_SIZE + 1), 50).is_err());
        assert!(paging(Some(usize::MAX), Some(10), 50).is_err());
        assert_eq!(paging(None, None, 50).unwrap(), (1, 50));
    }
}
