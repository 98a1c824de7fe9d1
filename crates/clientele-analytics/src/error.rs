//! The error type of reports and analyses. Each variant says whose fault it is: the user's
//! (a bad parameter, data that cannot answer), the system's (storing failed), or ours (an
//! internal fault — a bug, never blamed on the user). Causes are kept as `source`, not
//! flattened to text, so the CLI and the server can print or log the whole chain.

use clientele_engine::EngineError;

/// A boxed cause of an internal fault.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of reports and analyses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// The request is wrong (bad dates, unknown dimension) — the user's to fix.
    #[error("{0}")]
    Usage(String),
    /// One parameter is out of its range or not understood. `name` is the parameter's neutral
    /// (snake_case) name; the CLI shows it as `--flag`, the server as `name=`
    /// ([`AnalyticsError::describe`]).
    #[error("{name} {value}: {expected}")]
    Parameter {
        /// The parameter's snake_case name (`window`, `k` …).
        name: &'static str,
        /// The value given, as text.
        value: String,
        /// What is allowed, as a phrase ("expected a whole number between 2 and 50").
        expected: String,
    },
    /// The workspace lacks what the report needs, e.g. the orders table.
    #[error("{0}")]
    MissingData(String),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A model could not be fitted to this data (too little data, no convergence).
    #[error("{what}")]
    Model {
        /// Which model or step.
        what: String,
        /// Why.
        #[source]
        source: clientele_models::ModelError,
    },
    /// Results could not be stored in the workspace.
    #[error("cannot store the results")]
    Store(#[source] clientele_ingest::IngestError),
    /// A fault of clientele's own (an Arrow kernel failing on data we built, a broken
    /// invariant): a bug, reported as such (exit code 1, HTTP 500).
    #[error("internal error: {what}")]
    Internal {
        /// What was being done.
        what: String,
        /// The underlying failure, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl AnalyticsError {
    /// Whether the user can fix it by changing the request or the data (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            AnalyticsError::Usage(_)
            | AnalyticsError::Parameter { .. }
            | AnalyticsError::MissingData(_)
            | AnalyticsError::Model { .. } => true,
            AnalyticsError::Store(_) | AnalyticsError::Internal { .. } => false,
            AnalyticsError::Engine(e) => e.is_bad_input(),
        }
    }

    /// Whether this is a fault of clientele's own rather than of the request or the system.
    pub fn is_internal(&self) -> bool {
        matches!(self, AnalyticsError::Internal { .. })
    }

    /// A parameter error: `name` is the neutral parameter name.
    pub fn parameter(
        name: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> AnalyticsError {
        AnalyticsError::Parameter {
            name,
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// An internal fault with its cause.
    pub fn internal(what: impl Into<String>, source: impl Into<BoxError>) -> AnalyticsError {
        AnalyticsError::Internal {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// A model failure, with what was being fitted.
    pub fn model(what: impl Into<String>) -> impl FnOnce(clientele_models::ModelError) -> Self {
        let what = what.into();
        move |source| AnalyticsError::Model { what, source }
    }

    /// The whole chain as one sentence, with a parameter named as the caller's surface names
    /// it: `param("window")` gives `--window` for the CLI, `window=` for the server.
    pub fn describe(&self, param: impl Fn(&str) -> String) -> String {
        let head = match self {
            AnalyticsError::Parameter {
                name,
                value,
                expected,
            } => format!("{}{value}: {expected}", param(name)),
            other => other.to_string(),
        };
        let mut out = head;
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            out.push_str(": ");
            out.push_str(&c.to_string());
            cause = c.source();
        }
        out
    }
}

impl From<arrow::error::ArrowError> for AnalyticsError {
    fn from(e: arrow::error::ArrowError) -> Self {
        AnalyticsError::internal("an Arrow operation failed", e)
    }
}
