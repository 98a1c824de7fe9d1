//! The result of an analysis (segments, CLV, churn …): headline facts for machines, tables for
//! people, and optionally one row per customer that can be stored back in the workspace.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};

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
    /// The workspace table [`save`] stores `rows` in: its declaration's [`Def::stores`]
    /// (see [`Analysis::of`]).
    ///
    /// [`Def::stores`]: crate::analyses::Def::stores
    pub stores: Option<String>,
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
            stores: None,
        }
    }

    /// An empty analysis of a declared kind: named, and stored where its declaration says.
    pub fn of(def: &crate::analyses::Def, title: &str) -> Analysis {
        Analysis {
            stores: def.stores.map(str::to_string),
            ..Analysis::new(def.name, title)
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
    let idx = batch.schema().index_of(column)?;
    let by = batch.column(idx);
    let sorted = match by.as_primitive_opt::<arrow::datatypes::Float64Type>() {
        // One pass that keeps the k largest values (equal values in row order, then nulls in
        // row order, as the sort below gives), instead of sorting a million rows for ten.
        Some(values) => {
            let mut best: Vec<(f64, u32)> = Vec::with_capacity(k + 1);
            let mut nulls: Vec<u32> = Vec::new();
            for (i, v) in values.iter().enumerate() {
                let Some(v) = v else {
                    if nulls.len() < k {
                        nulls.push(i as u32);
                    }
                    continue;
                };
                if best.len() == k
                    && best
                        .last()
                        .is_none_or(|b| v.total_cmp(&b.0) != std::cmp::Ordering::Greater)
                {
                    continue;
                }
                let at = best.partition_point(|b| b.0.total_cmp(&v) != std::cmp::Ordering::Less);
                best.insert(at, (v, i as u32));
                best.truncate(k);
            }
            let rows: Vec<u32> = best.into_iter().map(|b| b.1).chain(nulls).take(k).collect();
            arrow::array::UInt32Array::from(rows)
        }
        None => arrow::compute::sort_to_indices(
            by,
            Some(arrow::compute::SortOptions {
                descending: true,
                nulls_first: false,
            }),
            Some(k),
        )?,
    };
    let top = arrow::compute::take_record_batch(&batch, &sorted)?;
    Ok(report(&format!("top_{column}"), title, top))
}

/// Stores the analysis's per-row results in the workspace, in the table its declaration
/// names ([`Analysis::stores`]; a `scores_*` table is joined into the `customer_scores` view),
/// and records the run. Returns the table name, or `None` when the analysis has no per-row
/// results or stores none.
pub fn save(engine: &Engine, analysis: &Analysis) -> Result<Option<String>, AnalyticsError> {
    let (Some(rows), Some(table)) = (&analysis.rows, &analysis.stores) else {
        return Ok(None);
    };
    let table = table.clone();
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
    .map_err(AnalyticsError::Store)?;
    Ok(Some(table))
}

#[cfg(test)]
mod top_tests {
    use super::*;
    use arrow::array::{Float64Array, Int64Array};
    use arrow::datatypes::{DataType, Field, Schema};

    /// The largest values first, equal values in row order, nulls last — for a float column
    /// (one pass) and any other column (arrow's sort), by hand.
    #[test]
    fn top_rows_by_hand() {
        let floats = Float64Array::from(vec![Some(1.0), Some(3.0), None, Some(3.0), Some(2.0)]);
        let ints = Int64Array::from(vec![Some(1), Some(3), None, Some(3), Some(2)]);
        let schema = Arc::new(Schema::new(vec![
            Field::new("f", DataType::Float64, true),
            Field::new("i", DataType::Int64, true),
            Field::new("row", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(floats),
                Arc::new(ints),
                Arc::new(Int64Array::from(vec![0, 1, 2, 3, 4])),
            ],
        )
        .unwrap();
        let rows = report("r", "r", batch);
        for column in ["f", "i"] {
            for (k, want) in [
                (0, vec![]),
                (2, vec![1, 3]),
                (3, vec![1, 3, 4]),
                (5, vec![1, 3, 4, 0, 2]),
                (9, vec![1, 3, 4, 0, 2]),
            ] {
                let top = top_by(&rows, column, k, "top").unwrap().to_batch();
                let got: Vec<i64> = top
                    .column(2)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .values()
                    .to_vec();
                assert_eq!(got, want, "column {column}, k = {k}");
            }
        }
    }
}
