//! Errors: [`ServerError`] for the library's callers (the CLI), [`ApiError`] for HTTP
//! responses — JSON `{"error": {"code", "message"}}` with the right status. Internal details
//! are never returned: the response carries them as an extension, and [`log_errors`] (a
//! middleware inside the request's trace span) logs them with the request id, as axum's
//! error-handling example does — constructors never log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clientele_analytics::AnalyticsError;

/// Errors of the server's library functions (users, audit, starting the server).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The request or arguments are wrong: the user's to fix.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(String),
    /// The workspace could not be opened.
    #[error(transparent)]
    Analytics(#[from] AnalyticsError),
}

impl ServerError {
    /// Whether the user can fix it (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            ServerError::Usage(_) => true,
            ServerError::Io(_) => false,
            ServerError::Analytics(e) => e.is_bad_input(),
        }
    }
}

/// An error answered to an HTTP request.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code (`bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `missing_data`, `internal` …).
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// For the log only: the whole cause of an internal error.
    pub detail: Option<String>,
    /// Seconds after which a refused request may be tried again (`Retry-After`).
    pub retry_after: Option<u64>,
}

/// The cause of an internal error, carried on its response to [`log_errors`].
#[derive(Debug, Clone)]
pub struct InternalDetail(pub String);

/// Middleware: logs the cause of every internal error answered, within the request's span.
pub async fn log_errors(response: Response) -> Response {
    if let Some(InternalDetail(detail)) = response.extensions().get::<InternalDetail>() {
        tracing::error!(error = %detail, "internal error");
    }
    response
}

/// An error's whole chain as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl ApiError {
    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "log in, or send an API token as 'Authorization: Bearer TOKEN' (create one with `clientele users add NAME --role ROLE`)".into(),
            detail: None,
            retry_after: None,
        }
    }

    /// 403: the role may not do this.
    pub fn forbidden(role: &str, what: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("the {role} role may not see {what}"),
            detail: None,
            retry_after: None,
        }
    }

    /// 500 with a generic message; the detail goes to the log (see [`log_errors`]).
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "the server failed to answer this request; the details are in its log".into(),
            detail: Some(detail.to_string()),
            retry_after: None,
        }
    }

    /// A status with a stable code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }

    /// 503 with `Retry-After`: the server is too busy with this kind of work to queue more.
    pub fn busy(message: impl Into<String>, retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(detail) = self.detail {
            response.extensions_mut().insert(InternalDetail(detail));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> ApiError {
        let message = || e.describe(|name| format!("{name}="));
        match &e {
            AnalyticsError::Usage(_) | AnalyticsError::Parameter { .. } => {
                ApiError::bad_request(message())
            }
            AnalyticsError::MissingData(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "missing_data", message())
            }
            AnalyticsError::Model { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "model", message())
            }
            AnalyticsError::Engine(clientele_analytics::EngineError::MemoryLimit(_)) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "memory_limit", message())
            }
            AnalyticsError::Engine(inner) if inner.is_bad_input() => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "missing_data", message())
            }
            _ => ApiError::internal(chain(&e)),
        }
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> ApiError {
        match e {
            ServerError::Usage(m) => ApiError::bad_request(m),
            ServerError::Analytics(a) => a.into(),
            ServerError::Io(m) => ApiError::internal(m),
        }
    }
}

impl From<clientele_analytics::EngineError> for ApiError {
    fn from(e: clientele_analytics::EngineError) -> ApiError {
        AnalyticsError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user's mistakes are 4xx with the parameter named as a query string names it; a
    /// fault of ours is a 500 whose cause reaches the log, never the caller.
    #[test]
    fn errors_answer_with_the_status_whose_fault_they_are() {
        let p: ApiError = AnalyticsError::parameter("window", 6, "expected 7 to 3650").into();
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert_eq!(p.message, "window=6: expected 7 to 3650");
        let m: ApiError = AnalyticsError::MissingData("no leads table".into()).into();
        assert_eq!(
            (m.status, m.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "missing_data")
        );
        let bug: ApiError =
            AnalyticsError::from(arrow::error::ArrowError::ComputeError("boom".into())).into();
        assert_eq!(
            (bug.status, bug.code),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        );
        assert!(!bug.message.contains("boom"));
        let response = bug.into_response();
        let detail = response.extensions().get::<InternalDetail>().unwrap();
        assert!(detail.0.contains("boom"), "{detail:?}");
    }

    /// A query over the engine's memory limit is the server's capacity, not the caller's
    /// mistake nor a bug: 503 with a code of its own and the message that says so.
    #[test]
    fn a_query_over_the_memory_limit_is_a_503_saying_so() {
        let e: ApiError = clientele_analytics::EngineError::MemoryLimit(
            "Failed to allocate 64 MB for HashJoinInput".into(),
        )
        .into();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::SERVICE_UNAVAILABLE, "memory_limit")
        );
        assert!(e.message.contains("HashJoinInput"), "{}", e.message);
    }
}
