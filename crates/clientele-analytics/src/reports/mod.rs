//! A report asked for by name with plain parameters: what `clientele report NAME` and the
//! server's report endpoints both run, so that one set of rules picks periods and checks
//! parameters.
//!
//! Each report lives in a module of its own; this file is the dispatch by name.

pub mod campaigns;
pub mod channels;
pub mod detailed;
pub mod exceptions;
pub mod kpis;
pub mod pipeline;
pub mod sales;
pub mod summary;

use chrono::NaiveDate;

use crate::{
    AnalyticsError, DetailedOptions, Engine, ExceptionOptions, Period, PipelineBy, Report, SalesBy,
    SalesFilter,
};

/// The report names [`run_report`] knows.
pub const REPORTS: &[&str] = &[
    "kpis",
    "sales",
    "pipeline",
    "summary",
    "detailed",
    "exceptions",
    "campaigns",
    "channels",
];

/// Which report and with which parameters.
#[derive(Debug, Clone, Default)]
pub struct ReportRequest {
    /// One of [`REPORTS`].
    pub name: String,
    /// Grouping: a [`SalesBy`] for sales, a [`PipelineBy`] for pipeline.
    pub by: Option<String>,
    /// First day of the period.
    pub from: Option<NaiveDate>,
    /// Last day of the period.
    pub to: Option<NaiveDate>,
    /// A calendar period (`2025`, `2025-Q4`, `2025-11`) instead of from/to.
    pub period: Option<String>,
    /// Exceptions: relative revenue fall that counts as an exception (default 0.2).
    pub threshold: Option<f64>,
    /// Detailed: rows at most.
    pub limit: Option<usize>,
    /// Detailed: rows to skip.
    pub offset: usize,
    /// Sales: drill-down filters.
    pub filters: Vec<SalesFilter>,
    /// Channels: how revenue is attributed, one of
    /// [`channels::ATTRIBUTION_MODELS`] (default `campaign`).
    pub attribution: Option<String>,
}

/// Runs the report a request names. Periods: explicit dates win, then a calendar label, else
/// the last complete calendar quarter ([`crate::default_periods`]; the KPI report then adds
/// the current quarter to date when the data ends inside one) — except a sales trend over
/// time, which defaults to the trailing twelve months, and the pipeline, which defaults to
/// all open deals.
pub async fn run_report(engine: &Engine, req: &ReportRequest) -> Result<Report, AnalyticsError> {
    let explicit = req.from.is_some() || req.to.is_some() || req.period.is_some();
    let resolve = || crate::resolve_period(engine, req.from, req.to, req.period.as_deref());
    let no_by = |r: &str| -> Result<(), AnalyticsError> {
        if req.by.is_some() {
            return Err(AnalyticsError::Usage(format!(
                "the {r} report takes no 'by'"
            )));
        }
        Ok(())
    };
    if req.attribution.is_some() && req.name != "channels" {
        return Err(AnalyticsError::Usage(format!(
            "the {} report takes no attribution model; only channels does",
            req.name
        )));
    }
    if !req.filters.is_empty() && req.name != "sales" {
        return Err(AnalyticsError::Usage(format!(
            "the {} report takes no filters; only sales can be filtered",
            req.name
        )));
    }
    Ok(match req.name.as_str() {
        "kpis" => {
            no_by("kpis")?;
            if explicit {
                crate::kpis(engine, &resolve().await?).await?
            } else {
                let (p, to_date) = crate::default_periods(engine).await?;
                crate::kpis_to_date(engine, &p, to_date.as_ref()).await?
            }
        }
        "sales" => {
            let dim: SalesBy = req.by.as_deref().unwrap_or("region").parse()?;
            let p: Period = if dim.is_time() && !explicit {
                crate::trailing_year(engine).await?
            } else {
                resolve().await?
            };
            crate::sales_filtered(engine, &p, dim, &req.filters).await?
        }
        "pipeline" => {
            let dim = req
                .by
                .as_deref()
                .map(str::parse::<PipelineBy>)
                .transpose()?;
            let p = if explicit {
                Some(resolve().await?)
            } else {
                None
            };
            crate::pipeline(engine, p.as_ref(), dim).await?
        }
        "summary" => {
            no_by("summary")?;
            crate::summary(engine, &resolve().await?).await?
        }
        "detailed" => {
            no_by("detailed")?;
            let opts = DetailedOptions {
                limit: req.limit,
                offset: req.offset,
            };
            crate::detailed(engine, &resolve().await?, opts).await?
        }
        "campaigns" => {
            no_by("campaigns")?;
            crate::campaigns(engine, &resolve().await?).await?
        }
        "channels" => {
            no_by("channels")?;
            crate::channels(engine, &resolve().await?, req.attribution.as_deref()).await?
        }
        "exceptions" => {
            no_by("exceptions")?;
            let opts = ExceptionOptions {
                revenue_drop: req.threshold.unwrap_or(0.2),
                ..Default::default()
            };
            crate::exceptions(engine, &resolve().await?, opts).await?
        }
        other => {
            return Err(AnalyticsError::Usage(format!(
                "unknown report '{other}': expected one of {}",
                REPORTS.join(", ")
            )));
        }
    })
}
