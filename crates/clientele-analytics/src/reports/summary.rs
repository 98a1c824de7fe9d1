//! The summary report: one page of headline numbers for a period — the main KPIs, the best
//! region, category, product and rep, and the open pipeline.

use arrow::array::Array;

use crate::util::{Columns, change, f64_col, opt, str_col};
use crate::{AnalyticsError, Engine, Period, Report, SalesBy, kpis, sales};

/// Headline KPIs shown on the summary, by key.
const HEADLINES: &[&str] = &[
    "sales_revenue",
    "orders",
    "active_customers",
    "new_customers",
    "average_purchase_value",
    "churn_rate",
    "win_rate",
    "nps",
    "csat",
];

/// One page of headline numbers for `period`: rows of (metric, unit, value, previous,
/// change, change_unit, detail). "Top" rows name the leader in `detail` and give its revenue.
/// A KPI's change is measured as the KPI report measures it (percentage points for rates,
/// [`crate::Change`]); revenue and the pipeline change relatively.
pub async fn summary(engine: &Engine, period: &Period) -> Result<Report, AnalyticsError> {
    let k = kpis(engine, period).await?;
    let batch = k.to_batch();
    let key = str_col(&batch, "kpi");
    let status = str_col(&batch, "status");
    let value = f64_col(&batch, "value");
    let prev = f64_col(&batch, "previous");
    let mut metric = Vec::new();
    let mut unit = Vec::new();
    let mut values = Vec::new();
    let mut previous = Vec::new();
    let mut changes: Vec<Option<f64>> = Vec::new();
    let mut change_unit: Vec<Option<String>> = Vec::new();
    let mut detail = Vec::new();
    for h in HEADLINES {
        let Some(i) = (0..key.len()).find(|i| key.value(*i) == *h) else {
            continue;
        };
        if status.value(i) == "unavailable" {
            continue;
        }
        let def = crate::KPIS.iter().find(|d| d.key == *h).expect("kpi");
        metric.push(Some(def.name.to_string()));
        unit.push(Some(def.unit.as_str().to_string()));
        values.push(opt(&value, i));
        previous.push(opt(&prev, i));
        changes.push(def.change_between(opt(&value, i), opt(&prev, i)));
        change_unit.push(Some(def.change.symbol().into()));
        detail.push(None);
    }
    let mut notes = Vec::new();
    // (label, dimension, key column, column naming the leader when present)
    for (label, by, key_col, name_col) in [
        ("Top region", SalesBy::Region, "region", "region"),
        ("Top category", SalesBy::Category, "category", "category"),
        (
            "Top product",
            SalesBy::Product,
            "product_id",
            "product_name",
        ),
        ("Top sales rep", SalesBy::Rep, "sales_rep_id", "rep_name"),
    ] {
        let r = match sales(engine, period, by).await {
            Ok(r) => r,
            Err(AnalyticsError::MissingData(why)) => {
                notes.push(format!("{label}: {why}"));
                continue;
            }
            Err(e) => return Err(e),
        };
        let b = r.to_batch();
        if b.num_rows() == 0 {
            continue;
        }
        // The leader is the first group with a name: orders without a rep or region form
        // a "(none)" group that may well be the largest.
        let keys = str_col(&b, key_col);
        let named =
            |i: usize| !keys.is_null(i) && !keys.value(i).is_empty() && keys.value(i) != "(none)";
        let Some(row) = (0..b.num_rows()).find(|i| named(*i)) else {
            continue;
        };
        let names = if b.schema().index_of(name_col).is_ok() {
            str_col(&b, name_col)
        } else {
            keys.clone()
        };
        let name = if names.is_null(row) {
            keys.value(row)
        } else {
            names.value(row)
        }
        .to_string();
        let rev = f64_col(&b, "revenue");
        let p = f64_col(&b, "previous_revenue");
        metric.push(Some(label.to_string()));
        unit.push(Some("money".into()));
        values.push(opt(&rev, row));
        previous.push(opt(&p, row));
        detail.push(Some(name));
    }
    if engine.has_table("deals") {
        let open = "FROM deals WHERE COALESCE(outcome, 'open') = 'open' AND closed_at IS NULL";
        let b = engine
            .query(&format!(
                "SELECT CAST(COUNT(*) AS DOUBLE) AS n, COALESCE(SUM(amount), 0) AS amount {open}"
            ))
            .await?;
        let b = b.iter().find(|b| b.num_rows() > 0);
        let n = b.and_then(|b| opt(&f64_col(b, "n"), 0));
        let amount = b.and_then(|b| opt(&f64_col(b, "amount"), 0));
        metric.push(Some("Open pipeline".into()));
        unit.push(Some("money".into()));
        values.push(amount);
        previous.push(None);
        detail.push(n.map(|n| format!("{n:.0} open deals (current snapshot)")));
    }
    // The rows after the KPIs are amounts: their change is relative.
    let kpi_rows = changes.len();
    for (v, p) in values.iter().zip(&previous).skip(kpi_rows) {
        changes.push(change(*v, *p));
        change_unit.push(Some(crate::Change::Relative.symbol().into()));
    }
    let batch = Columns::default()
        .text("metric", metric)
        .text("unit", unit)
        .num("value", values)
        .num("previous", previous)
        .num("change", changes)
        .text("change_unit", change_unit)
        .text("detail", detail)
        .batch();
    Ok(Report {
        name: "summary".into(),
        title: "Summary".into(),
        schema: batch.schema(),
        batches: vec![batch],
        period: Some(period.clone()),
        previous: Some(period.previous()),
        notes,
    })
}
