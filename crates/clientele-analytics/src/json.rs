//! Reports and analyses as JSON: the one shape the CLI's `--format json` and the server's
//! API both print, so a script can move from one to the other unchanged.

use arrow::array::RecordBatch;
use serde_json::{Map, Value, json};

use crate::{Analysis, AnalyticsError, Period, Report};

/// Rows as a JSON array of objects (column name → value; nulls left out, as Arrow writes them).
pub fn rows_json(batches: &[RecordBatch]) -> Result<Value, AnalyticsError> {
    let mut buf = Vec::new();
    {
        let mut writer = arrow::json::ArrayWriter::new(&mut buf);
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        writer.write_batches(&refs)?;
        writer.finish()?;
    }
    if buf.is_empty() {
        return Ok(Value::Array(vec![]));
    }
    serde_json::from_slice(&buf)
        .map_err(|e| AnalyticsError::internal("reading back rows as JSON", e))
}

/// A period as `{"from", "to", "label"}`.
pub fn period_json(p: &Period) -> Value {
    json!({"from": p.from.to_string(), "to": p.to.to_string(), "label": p.label})
}

/// A report as `{"report", "title", "period", "previous_period", "notes", "rows"}`.
pub fn report_json(report: &Report) -> Result<Value, AnalyticsError> {
    Ok(json!({
        "report": report.name,
        "title": report.title,
        "period": report.period.as_ref().map(period_json),
        "previous_period": report.previous.as_ref().map(period_json),
        "notes": report.notes,
        "rows": rows_json(&report.batches)?,
    }))
}

/// An analysis as one object: `"analysis"`, `"title"`, every headline fact at the top level,
/// `"tables"` (name → rows) and `"notes"`.
pub fn analysis_json(analysis: &Analysis) -> Result<Value, AnalyticsError> {
    let mut v = Map::new();
    v.insert("analysis".into(), analysis.name.clone().into());
    v.insert("title".into(), analysis.title.clone().into());
    for (k, x) in &analysis.facts {
        v.insert(k.clone(), x.clone());
    }
    let mut tables = Map::new();
    for t in &analysis.tables {
        tables.insert(t.name.clone(), rows_json(&t.batches)?);
    }
    v.insert("tables".into(), tables.into());
    v.insert("notes".into(), analysis.notes.clone().into());
    Ok(Value::Object(v))
}
