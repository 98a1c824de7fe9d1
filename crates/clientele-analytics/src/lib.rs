//! The library's front door: every report and analysis of clientele as a function from an
//! [`Engine`] and plain parameters to a [`Report`] — a titled Arrow table with its period and
//! notes. The CLI and the server only format what this crate returns.
//!
//! **API boundary:** callers outside the workspace use this crate, not the engine's SQL.
//! Every metric is defined once, in the module that computes it, and in `docs/metrics.md`.

mod analysis;
mod campaigns;
mod churn;
mod clv;
mod cohorts;
mod detailed;
mod exceptions;
mod features;
mod json;
mod kpis;
mod leads;
mod period;
mod pipeline;
mod predict;
mod request;
mod sales;
mod segment;
mod summary;
mod supervised;
mod util;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
pub use clientele_engine::{Engine, EngineError};
pub use clientele_schema::parse_date;

pub use analysis::{Analysis, report, save};
pub use campaigns::{NO_CAMPAIGN, campaigns};
pub use churn::{ChurnKind, ChurnOptions, churn};
pub use clientele_models::lifecycle::LifecycleThresholds;
pub use clv::{ClvOptions, TimeUnit, clv, parse_model as parse_clv_model};
pub use cohorts::{CohortBy, cohorts};
pub use detailed::{DetailedOptions, detailed, detailed_frame};
pub use exceptions::{ExceptionOptions, exceptions};
pub use features::{CustomerFeatures, Feature, FeatureSet, customer_features};
pub use json::{analysis_json, period_json, report_json, rows_json};
pub use kpis::{KPIS, KpiDef, Unit, kpis};
pub use leads::{LeadOptions, leads};
pub use period::Period;
pub use pipeline::{PipelineBy, pipeline};
pub use predict::{PredictOptions, predict};
pub use request::{REPORTS, ReportRequest, run_report};
pub use sales::{SALES_DIMENSIONS, SalesBy, SalesFilter, sales, sales_filtered, trailing_year};
pub use segment::{
    BehaviouralOptions, DEMOGRAPHIC_DIMENSIONS, segment_behavioural, segment_demographic,
    segment_lifecycle, segment_rfm,
};
pub use summary::summary;

/// Errors of reports and analyses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyticsError {
    /// The request is wrong (bad dates, unknown dimension) — the user's to fix.
    #[error("{0}")]
    Usage(String),
    /// The workspace lacks what the report needs, e.g. the orders table.
    #[error("{0}")]
    MissingData(String),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A model could not be fitted to this data (too little data, no convergence).
    #[error("{0}")]
    Model(String),
    /// Results could not be stored in the workspace.
    #[error("cannot store the results: {0}")]
    Store(String),
}

impl AnalyticsError {
    /// Whether the user can fix it by changing the request or the data (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            AnalyticsError::Usage(_)
            | AnalyticsError::MissingData(_)
            | AnalyticsError::Model(_) => true,
            AnalyticsError::Store(_) => false,
            AnalyticsError::Engine(e) => e.is_bad_input(),
        }
    }
}

/// A report: one table of rows plus what it covers and what it could not use.
#[derive(Debug, Clone)]
pub struct Report {
    /// Machine name (`kpis`, `sales` …).
    pub name: String,
    /// Human title.
    pub title: String,
    /// The period covered, when the report has one.
    pub period: Option<Period>,
    /// The period compared against.
    pub previous: Option<Period>,
    /// Remarks a reader needs: tables missing, thresholds used.
    pub notes: Vec<String>,
    /// Rows (all batches share `schema`).
    pub batches: Vec<RecordBatch>,
    /// Column layout.
    pub schema: SchemaRef,
}

impl Report {
    /// Total rows.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// All rows as one batch.
    pub fn to_batch(&self) -> RecordBatch {
        arrow::compute::concat_batches(&self.schema, &self.batches)
            .unwrap_or_else(|_| RecordBatch::new_empty(Arc::clone(&self.schema)))
    }
}

/// The period a report covers when the user gave `from`/`to`/`period` or nothing: explicit
/// dates win; a calendar label (`2025-Q4`) next; by default the calendar quarter holding the
/// latest order, cut at that order's date.
pub async fn resolve_period(
    engine: &Engine,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    calendar: Option<&str>,
) -> Result<Period, AnalyticsError> {
    if let Some(label) = calendar {
        if from.is_some() || to.is_some() {
            return Err(AnalyticsError::Usage(
                "give either --period or --from/--to, not both".into(),
            ));
        }
        return Period::parse_calendar(label);
    }
    let latest = util::latest_order_date(engine).await?;
    match (from, to) {
        (Some(f), Some(t)) => Period::custom(f, t),
        (Some(f), None) => Period::custom(f, latest.unwrap_or(f).max(f)),
        (None, Some(t)) => Ok(Period::quarter_to(t)),
        (None, None) => latest.map(Period::quarter_to).ok_or_else(|| {
            AnalyticsError::MissingData(
                "there are no orders to choose a default period from; give --from and --to".into(),
            )
        }),
    }
}

#[cfg(test)]
mod tests;
