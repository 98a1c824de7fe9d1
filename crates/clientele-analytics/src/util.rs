//! Small helpers shared by the reports: building result batches and reading scalars.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::NaiveDate;

use crate::{AnalyticsError, Engine};

/// The date of the latest sale, if there are orders.
pub async fn latest_order_date(engine: &Engine) -> Result<Option<NaiveDate>, AnalyticsError> {
    if !engine.has_table("orders") {
        return Ok(None);
    }
    let days = engine
        .scalar("SELECT CAST(MAX(order_date) AS INT) FROM sales")
        .await?;
    Ok(days.map(|d| clientele_schema::days_to_date(d as i32)))
}

/// Column builder for result tables assembled in Rust rather than SQL.
#[derive(Default)]
pub struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    pub fn text(mut self, name: &str, v: Vec<Option<String>>) -> Self {
        self.fields.push(Field::new(name, DataType::Utf8, true));
        self.arrays.push(Arc::new(StringArray::from(v)));
        self
    }
    /// A column from an array built elsewhere.
    pub fn array(mut self, name: &str, v: ArrayRef) -> Self {
        self.fields
            .push(Field::new(name, v.data_type().clone(), true));
        self.arrays.push(v);
        self
    }
    /// A numeric column without nulls.
    pub fn num_values(mut self, name: &str, v: Vec<f64>) -> Self {
        self.fields.push(Field::new(name, DataType::Float64, true));
        self.arrays.push(Arc::new(Float64Array::from(v)));
        self
    }
    pub fn num(mut self, name: &str, v: Vec<Option<f64>>) -> Self {
        self.fields.push(Field::new(name, DataType::Float64, true));
        self.arrays.push(Arc::new(Float64Array::from(v)));
        self
    }
    /// A numeric column shown as a percentage (field metadata `format = percent`).
    pub fn pct(mut self, name: &str, v: Vec<Option<f64>>) -> Self {
        let meta = std::collections::HashMap::from([("format".to_string(), "percent".to_string())]);
        self.fields
            .push(Field::new(name, DataType::Float64, true).with_metadata(meta));
        self.arrays.push(Arc::new(Float64Array::from(v)));
        self
    }
    pub fn batch(self) -> RecordBatch {
        RecordBatch::try_new(Arc::new(Schema::new(self.fields)), self.arrays)
            .expect("columns of equal length")
    }
}

/// `a / b`, or `None` when either is missing or `b` is zero: a ratio over nothing is
/// undefined, not zero.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

/// Relative change from `prev` to `cur`; `None` when `prev` is missing or zero.
pub fn change(cur: Option<f64>, prev: Option<f64>) -> Option<f64> {
    match (cur, prev) {
        (Some(c), Some(p)) if p != 0.0 => Some((c - p) / p.abs()),
        _ => None,
    }
}

/// A sum from the engine settled to a millionth of a unit (far below a cent). The engine adds
/// floats in whatever order its partitions finish, which moves the last bits, and a fitted
/// model's optimum moves with them: settled, the same data give the same series on every run.
pub fn settle(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Quotes a string for SQL.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A column of a result batch as text (casting Utf8View, numbers … to Utf8).
pub fn str_col(batch: &RecordBatch, name: &str) -> StringArray {
    let a = batch.column(
        batch
            .schema()
            .index_of(name)
            .expect("column of a report query"),
    );
    let a = arrow::compute::cast(a, &DataType::Utf8).expect("any column casts to text");
    a.as_any()
        .downcast_ref::<StringArray>()
        .expect("utf8")
        .clone()
}

/// A column of a result batch as f64.
pub fn f64_col(batch: &RecordBatch, name: &str) -> Float64Array {
    let a = batch.column(
        batch
            .schema()
            .index_of(name)
            .expect("column of a report query"),
    );
    let a = arrow::compute::cast(a, &DataType::Float64).expect("numeric column");
    a.as_any()
        .downcast_ref::<Float64Array>()
        .expect("f64")
        .clone()
}

/// Value `i` of an f64 column, `None` when null.
pub fn opt(a: &Float64Array, i: usize) -> Option<f64> {
    use arrow::array::Array;
    (!a.is_null(i)).then(|| a.value(i))
}

/// Result rows assembled column by column, columns in the order first pushed.
#[derive(Default)]
pub struct Rows {
    order: Vec<String>,
    text: BTreeMap<String, Vec<Option<String>>>,
    num: BTreeMap<String, Vec<Option<f64>>>,
}

impl Rows {
    /// A table whose columns exist (in this order) even when no row comes: `true` marks a
    /// text column.
    pub fn new(columns: &[(&str, bool)]) -> Rows {
        let mut r = Rows::default();
        for (name, text) in columns {
            r.order.push((*name).into());
            if *text {
                r.text.insert((*name).into(), Vec::new());
            } else {
                r.num.insert((*name).into(), Vec::new());
            }
        }
        r
    }

    pub fn text(&mut self, name: &str, v: Option<String>) {
        if !self.text.contains_key(name) {
            self.order.push(name.into());
        }
        self.text.entry(name.into()).or_default().push(v);
    }

    pub fn num(&mut self, name: &str, v: Option<f64>) {
        if !self.num.contains_key(name) {
            self.order.push(name.into());
        }
        self.num.entry(name.into()).or_default().push(v);
    }

    pub fn without(mut self, name: &str) -> Rows {
        self.order.retain(|n| n != name);
        self.text.remove(name);
        self.num.remove(name);
        self
    }

    pub fn batch(mut self) -> arrow::array::RecordBatch {
        let mut c = Columns::default();
        for name in &self.order {
            if let Some(v) = self.text.remove(name) {
                c = c.text(name, v);
            } else if let Some(v) = self.num.remove(name) {
                c = c.num(name, v);
            }
        }
        c.batch()
    }
}
