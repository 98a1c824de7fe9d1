//! Errors: [`ServerError`] for the library's callers (the CLI), [`ApiError`] for HTTP
//! responses — JSON `{"error": {"code", "message"}}` with the right status; internal details
//! are logged with the request id and never returned.

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
}

impl ApiError {
    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    /// 404 with a message.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// 401: no or unknown credentials.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "log in, or send an API token as 'Authorization: Bearer TOKEN' (create one with `clientele users add NAME --role ROLE`)".into(),
        }
    }

    /// 403: the role may not do this.
    pub fn forbidden(role: &str, what: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: format!("the {role} role may not see {what}"),
        }
    }

    /// 500: logs the detail, returns a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "internal error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "the server failed to answer this request; the details are in its log".into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<AnalyticsError> for ApiError {
    fn from(e: AnalyticsError) -> ApiError {
        match &e {
            AnalyticsError::Usage(m) => ApiError::bad_request(m.clone()),
            AnalyticsError::MissingData(m) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "missing_data",
                message: m.clone(),
            },
            AnalyticsError::Model(m) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "model",
                message: m.clone(),
            },
            AnalyticsError::Engine(inner) if inner.is_bad_input() => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "missing_data",
                message: inner.to_string(),
            },
            _ => ApiError::internal(&e),
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
