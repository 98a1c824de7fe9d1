//! Health, login and logout, the caller, and the audit log.

use super::*;

/// Whether the server is up; needs no credentials.
#[utoipa::path(get, path = "/health", tag = "access",
    responses((status = 200, body = Health)))]
pub(super) async fn health(State(state): St) -> Result<Json<Health>, ApiError> {
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
pub(super) async fn me(State(state): St, ctx: Ctx) -> Json<Me> {
    let role = ctx.caller.role;
    Json(Me {
        user: ctx.caller.name.clone(),
        role,
        home: role.home().into(),
        areas: Area::ALL.into_iter().filter(|a| role.may(*a)).collect(),
        personal_data: role.sees_personal_data(),
        auth: state.auth,
    })
}

/// Exchanges an API token for a dashboard session cookie (HttpOnly, SameSite=Strict).
#[utoipa::path(post, path = "/login", tag = "access", request_body = LoginBody,
    responses((status = 200, body = Me), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn login(
    State(state): St,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body: LoginBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the body must be JSON {{\"token\": \"…\"}}: {e}"))
    })?;
    // A failed login is a 401, which the refusal audit records.
    let caller = state
        .by_token(&body.token)?
        .ok_or_else(ApiError::unauthorized)?;
    state.audit.record_event(
        &caller.name,
        caller.role.name(),
        "POST /api/v1/login",
        "login",
        request_id(&headers),
    )?;
    let id = state
        .sessions
        .start(&crate::access::sha256_hex(body.token.trim()));
    let role = caller.role;
    let mut res = Json(json!({
        "user": caller.name, "role": role, "home": role.home(),
        "personal_data": role.sees_personal_data(), "auth": state.auth,
    }))
    .into_response();
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        crate::access::SESSION_LIFETIME.as_secs(),
        if state.secure_cookie(&headers) {
            "; Secure"
        } else {
            ""
        }
    );
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(res)
}

/// Ends the dashboard session.
#[utoipa::path(post, path = "/logout", tag = "access", responses((status = 204)))]
pub(super) async fn logout(State(state): St, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        if let Ok(Some(caller)) = state.caller(None, Some(id)) {
            let recorded = state.audit.record_event(
                &caller.name,
                caller.role.name(),
                "POST /api/v1/logout",
                "logout",
                request_id(&headers),
            );
            if let Err(e) = recorded {
                tracing::error!(error = %e, "cannot write the audit log");
            }
        }
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
pub(super) struct AuditParams {
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
pub(super) async fn audit(
    State(state): St,
    ctx: Ctx,
    P(p): P<AuditParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Admin, "the audit log")?;
    let (page, size) = paging(p.page, p.page_size, 100)?;
    let log = Arc::clone(&state);
    let (total, entries) = tokio::task::spawn_blocking(move || {
        log.audit
            .page(p.user.as_deref(), p.customer.as_deref(), page, size)
    })
    .await
    .map_err(ApiError::internal)??;
    let rows: Vec<Value> = entries
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(Json(json!({"list": "audit", "title": "Audit log", "page": page, "page_size": size, "total": total, "notes": [], "rows": rows})).into_response())
}
