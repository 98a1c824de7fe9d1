//! [`Report`]: what every report returns — one titled Arrow table with the period it covers
//! and the notes a reader needs.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::Period;

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
