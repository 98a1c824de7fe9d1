//! `clientele customer ID`: the customer 360 in the terminal — the same parts as the
//! dashboard's page and the API's `/customers/{id}`, from `clientele_analytics::customers`.

use anyhow::Result;
use clientele_analytics::{AnalyticsError, customers};
use serde_json::Value;

use crate::args::Globals;
use crate::error::usage;
use crate::output::{self, Format, Sink};

/// Prints the 360: as JSON the API's object; as a table each part in turn; as CSV one row
/// with the profile, consent, scores and purchase summary side by side (for a spreadsheet).
/// The terminal is the workspace owner's: nothing is masked, and nothing goes to the
/// server's audit log.
pub async fn run(g: &Globals, id: &str) -> Result<()> {
    let engine = g.engine().await?;
    let Some(c360) = customers::customer_360(&engine, id).await? else {
        return Err(usage(format!("there is no customer '{id}'")));
    };
    let json = c360.to_json(|b| Ok::<_, AnalyticsError>(b.to_vec()))?;
    let mut sink = Sink::open(g.out.as_deref())?;
    match g.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *sink.writer(), &json)?;
            writeln!(sink.writer())?;
        }
        Format::Csv => {
            let mut row = serde_json::Map::new();
            row.insert("customer_id".into(), id.into());
            for part in ["profile", "consent", "scores", "summary"] {
                if let Some(Value::Object(fields)) = json.get(part) {
                    for (k, v) in fields {
                        row.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            output::write_json_rows(&mut sink, &[Value::Object(row)], Format::Csv)?;
        }
        Format::Table => {
            writeln!(sink.writer(), "Customer {id}")?;
            // The measures of whether the customer is being lost, the one that fits the
            // business first (P(alive) for purchases, the churn model for subscriptions).
            if let Some(Value::Array(measures)) = json.pointer("/outlook/measures")
                && !measures.is_empty()
            {
                writeln!(sink.writer(), "\nOutlook (the first measure leads)")?;
                let rows: Vec<Value> = measures
                    .iter()
                    .map(|m| {
                        serde_json::json!({
                            "measure": m["label"],
                            "value": match m["value"].as_f64() {
                                Some(v) => format!("{:.1} %", v * 100.0),
                                None => String::new(),
                            },
                            "column": m["column"],
                            "meaning": m["meaning"],
                        })
                    })
                    .collect();
                output::write_json_rows(&mut sink, &rows, Format::Table)?;
            }
            for (part, title) in [
                ("profile", "Profile"),
                ("consent", "Consent"),
                ("scores", "Scores"),
                ("summary", "Purchases"),
            ] {
                let Some(Value::Object(fields)) = json.get(part) else {
                    continue;
                };
                if fields.is_empty() {
                    continue;
                }
                writeln!(sink.writer(), "\n{title}")?;
                let rows: Vec<Value> = fields
                    .iter()
                    .filter(|(k, _)| part == "profile" || *k != "customer_id")
                    .map(|(k, v)| serde_json::json!({"field": k, "value": cell(v)}))
                    .collect();
                output::write_json_rows(&mut sink, &rows, Format::Table)?;
            }
            let items = c360
                .order_items
                .iter()
                .map(|b| ("order_items".to_string(), b));
            for (name, batches) in c360
                .sections
                .iter()
                .map(|(n, b)| (n.clone(), b))
                .chain(items)
            {
                if batches.iter().all(|b| b.num_rows() == 0) {
                    continue;
                }
                writeln!(
                    sink.writer(),
                    "\n{name} (newest first, at most {})",
                    customers::SECTION_ROWS
                )?;
                output::write_table(sink.writer(), batches, &["customer_id"])?;
            }
        }
    }
    sink.commit()
}

/// A value for reading: text as it is, fractions rounded as the report tables round them
/// (two decimals, four below 1); JSON keeps every digit.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
            Some(x) if x.abs() < 1.0 => format!("{x:.4}"),
            Some(x) => format!("{x:.2}"),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}
