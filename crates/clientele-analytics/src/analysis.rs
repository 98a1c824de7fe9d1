//! The result of an analysis (segments, CLV, churn …): headline facts for machines, tables for
//! people, and optionally one row per customer that can be stored back in the workspace.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;

use crate::{AnalyticsError, Engine, Report};

/// What an analysis returns.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Machine name (`clv`, `churn`, `segment_rfm` …).
    pub name: String,
    /// Human title.
    pub title: String,
    /// Remarks a reader needs: tables not used, defaults taken, caveats.
    pub notes: Vec<String>,
    /// Headline results as a JSON object (model parameters, metrics …): what `--format json`
    /// prints at the top level.
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// Tables to show, in order; the first is the main one (what `--format csv` prints).
    pub tables: Vec<Report>,
    /// One row per customer (or lead), keyed by its id in the first column.
    pub rows: Option<Report>,
    /// The parameters the analysis ran with, as text, recorded with stored results.
    pub parameters: BTreeMap<String, String>,
}

impl Analysis {
    /// An analysis with nothing in it yet.
    pub fn new(name: &str, title: &str) -> Analysis {
        Analysis {
            name: name.into(),
            title: title.into(),
            notes: Vec::new(),
            facts: serde_json::Map::new(),
            tables: Vec::new(),
            rows: None,
            parameters: BTreeMap::new(),
        }
    }

    /// Records a parameter.
    pub fn param(&mut self, key: &str, value: impl ToString) {
        self.parameters.insert(key.into(), value.to_string());
    }

    /// Records a headline fact.
    pub fn fact(&mut self, key: &str, value: impl serde::Serialize) {
        self.facts.insert(
            key.into(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
    }

    /// Adds a table made from one batch.
    pub fn table(&mut self, name: &str, title: &str, batch: RecordBatch) {
        self.tables.push(report(name, title, batch));
    }

    /// The name of the workspace table the per-row results are stored in.
    pub fn scores_table(&self) -> String {
        if self.name == "leads" {
            "lead_scores".into()
        } else {
            format!("scores_{}", self.name)
        }
    }
}

/// A report from a single batch.
pub fn report(name: &str, title: &str, batch: RecordBatch) -> Report {
    Report {
        name: name.into(),
        title: title.into(),
        period: None,
        previous: None,
        notes: Vec::new(),
        schema: batch.schema(),
        batches: vec![batch],
    }
}

/// The `k` rows with the largest `column`, as a report (for the terminal view).
pub(crate) fn top_by(
    rows: &Report,
    column: &str,
    k: usize,
    title: &str,
) -> Result<Report, AnalyticsError> {
    let batch = rows.to_batch();
    let idx = batch
        .schema()
        .index_of(column)
        .map_err(|e| AnalyticsError::Model(e.to_string()))?;
    let sorted = arrow::compute::sort_to_indices(
        batch.column(idx),
        Some(arrow::compute::SortOptions {
            descending: true,
            nulls_first: false,
        }),
        Some(k),
    )
    .map_err(|e| AnalyticsError::Model(e.to_string()))?;
    let top = arrow::compute::take_record_batch(&batch, &sorted)
        .map_err(|e| AnalyticsError::Model(e.to_string()))?;
    Ok(report(&format!("top_{column}"), title, top))
}

/// Stores the analysis's per-row results in the workspace as its scores table (`scores_<name>`,
/// joined into the `customer_scores` view; `lead_scores` for leads) and records the run.
/// Returns the table name, or `None` when the analysis has no per-row results.
pub fn save(engine: &Engine, analysis: &Analysis) -> Result<Option<String>, AnalyticsError> {
    let Some(rows) = &analysis.rows else {
        return Ok(None);
    };
    let table = analysis.scores_table();
    let run = clientele_ingest::AnalysisRun {
        analysis: analysis.name.clone(),
        table: table.clone(),
        ran_at: String::new(),
        parameters: analysis.parameters.clone(),
        rows: 0,
    };
    clientele_ingest::save_analysis(
        engine.workspace(),
        &rows.batches,
        Arc::clone(&rows.schema),
        run,
    )
    .map_err(|e| AnalyticsError::Store(e.to_string()))?;
    Ok(Some(table))
}
