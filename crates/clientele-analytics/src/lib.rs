//! The library's front door: every report and analysis of clientele as a function from an
//! [`Engine`] and typed parameters to a [`Report`] (a titled Arrow table with its period and
//! notes) or an [`Analysis`]. The CLI and the server only format what this crate returns.
//!
//! - [`reports`]: KPIs, sales, pipeline, summary, detailed, exceptions, campaigns — run by
//!   name through [`run_report`].
//! - [`analyses`]: segments, CLV, churn, leads, cohorts …, each declared once
//!   ([`analyses::Spec`]) and listed in [`analyses::visit`], from which the CLI subcommands,
//!   the API routes, the OpenAPI document and the role checks are derived.
//! - [`customers`]: the customer list and the customer 360.
//!
//! **API boundary:** callers outside the workspace use this crate, not the engine's SQL.
//! Every metric is defined once, in the module that computes it, and in `docs/metrics.md`.
//! This file only declares modules and re-exports.

pub mod analyses;
pub mod customers;
mod error;
pub mod history;
mod json;
mod period;
mod report;
pub mod reports;
mod util;

pub use clientele_engine::{Engine, EngineError, EngineOptions, engine_error, parse_memory_limit};
pub use clientele_models::lifecycle::LifecycleThresholds;
pub use clientele_schema::parse_date;

pub use analyses::analysis::{Analysis, report, save};
pub use analyses::churn::{ChurnKind, ChurnOptions, churn};
pub use analyses::clv::{ClvOptions, PurchaseModel, TimeUnit, clv};
pub use analyses::cohorts::{CohortBy, CohortOptions, cohorts};
pub use analyses::features::{CustomerFeatures, Feature, FeatureSet, customer_features};
pub use analyses::leads::{LeadOptions, leads};
pub use analyses::predict::{PredictOptions, predict};
pub use analyses::segment::{
    BehaviouralOptions, DEMOGRAPHIC_DIMENSIONS, DemographicDimension, DemographicOptions,
    LifecycleOptions, RfmOptions, segment_behavioural, segment_demographic, segment_lifecycle,
    segment_rfm,
};
pub use analyses::{Area, Spec};
pub use error::{AnalyticsError, BoxError};
pub use json::{analysis_json, period_json, report_json, rows_json};
pub use period::{Period, default_periods, resolve_period};
pub use report::Report;
pub use reports::campaigns::{NO_CAMPAIGN, campaigns};
pub use reports::channels::channels;
pub use reports::detailed::{DetailedOptions, detailed, detailed_frame};
pub use reports::exceptions::{ExceptionOptions, exceptions};
pub use reports::kpis::{Accrual, Change, KPIS, KpiDef, QUARTER_DAYS, Unit, kpis, kpis_to_date};
pub use reports::pipeline::{PipelineBy, pipeline};
pub use reports::sales::{
    SALES_DIMENSIONS, SalesBy, SalesFilter, sales, sales_filtered, trailing_year,
};
pub use reports::summary::summary;
pub use reports::{REPORTS, ReportRequest, run_report};

#[cfg(test)]
mod tests;
