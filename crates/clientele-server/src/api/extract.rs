//! Extractors: the caller of a request (token or session cookie), its id and action for the
//! audit log, and query parameters with a JSON 400 when they do not parse.

use super::*;

/// Query parameters, with a JSON 400 when they do not parse.
pub(super) struct Q<T>(pub T);

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

/// Query parameters of a documented set, with a 400 naming the known ones when the query
/// has another (a misspelt `horizon_days=-5` must not silently mean the default).
pub(super) struct P<T>(pub T);

impl<T, S> FromRequestParts<S> for P<T>
where
    T: serde::de::DeserializeOwned + IntoParams,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(&parts.uri, |o| &o.0)
            .clone();
        reject_unknown(&uri, &param_names::<T>())?;
        let Q(p) = Q::<T>::from_request_parts(parts, state).await?;
        Ok(P(p))
    }
}

/// The names of a parameter struct's query parameters, as documented.
pub(super) fn param_names<T: IntoParams>() -> Vec<String> {
    T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// A 400 when the query names a parameter that is not `known`.
pub(super) fn reject_unknown(uri: &axum::http::Uri, known: &[String]) -> Result<(), ApiError> {
    let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    match pairs.iter().find(|(k, _)| !known.contains(k)) {
        None => Ok(()),
        Some((k, _)) => Err(ApiError::bad_request(format!(
            "unknown parameter '{k}': {} takes {}",
            uri.path(),
            if known.is_empty() {
                "no parameters".to_string()
            } else {
                known.join(", ")
            }
        ))),
    }
}

/// The caller of a request, its id, what it asked for (for the audit log) and whether it
/// wants CSV.
pub(super) struct Ctx {
    pub(super) caller: Caller,
    pub(super) request_id: String,
    pub(super) action: String,
    pub(super) csv: bool,
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request id that the request-id layer set.
pub(super) fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The bearer token of a request: `None` without one, an error for another scheme.
pub(super) fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => {
            let v = v.to_str().map_err(|_| ApiError::unauthorized())?;
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(Some)
                .ok_or_else(ApiError::unauthorized)
        }
    }
}

/// Middleware: writes every refused API request (401, 403) to the audit log, with the
/// caller when one is known (a 403), so that probing and failed logins are seen.
pub(super) async fn audit_refusals(
    State(state): St,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let action = format!("{} {}", req.method(), req.uri());
    let headers = req.headers().clone();
    let response = next.run(req).await;
    let outcome = match response.status() {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        _ => return response,
    };
    if !action.contains(" /api/") {
        return response;
    }
    let caller = bearer(&headers)
        .ok()
        .and_then(|b| state.caller(b, cookie(&headers, SESSION_COOKIE)).ok())
        .flatten();
    let (user, role) = caller
        .as_ref()
        .map_or(("unknown", ""), |c| (c.name.as_str(), c.role.name()));
    if let Err(e) = state
        .audit
        .record_event(user, role, &action, outcome, request_id(&headers))
    {
        tracing::error!(error = %e, "cannot write the audit log");
    }
    response
}

impl FromRequestParts<Arc<AppState>> for Ctx {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let bearer = bearer(&parts.headers)?;
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
            request_id: request_id(&parts.headers).to_string(),
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
    pub(super) fn require(&self, area: Area, what: &str) -> Result<(), ApiError> {
        if self.caller.role.may(area) {
            Ok(())
        } else {
            Err(ApiError::forbidden(self.caller.role.name(), what))
        }
    }
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
}
