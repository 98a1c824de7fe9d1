//! The exceptions report: what deviates and needs a look — KPIs off target, reps below
//! their (prorated) quota, regions and products whose revenue fell by more than a threshold
//! against the previous period, and customers whose purchase frequency dropped sharply.

use crate::util::{Columns, f64_col, str_col};
use crate::{AnalyticsError, Engine, Period, Report, SalesBy, kpis, sales};

/// Thresholds of the exceptions report.
#[derive(Debug, Clone, Copy)]
pub struct ExceptionOptions {
    /// A region or product is an exception when its revenue fell by more than this fraction
    /// (0.2 = 20 %) against the previous period.
    pub revenue_drop: f64,
    /// A customer is an exception when they made at least this many completed orders in the
    /// previous period …
    pub min_previous_orders: u32,
    /// … and at most this fraction of that number in this period.
    pub frequency_ratio: f64,
    /// At most this many customer rows (the largest drops first).
    pub max_customers: usize,
}

impl Default for ExceptionOptions {
    fn default() -> Self {
        ExceptionOptions {
            revenue_drop: 0.2,
            min_previous_orders: 3,
            frequency_ratio: 0.5,
            max_customers: 100,
        }
    }
}

#[derive(Default)]
struct Rows {
    kind: Vec<Option<String>>,
    subject: Vec<Option<String>>,
    metric: Vec<Option<String>>,
    unit: Vec<Option<String>>,
    value: Vec<Option<f64>>,
    expected: Vec<Option<f64>>,
    deviation: Vec<Option<f64>>,
    deviation_unit: Vec<Option<String>>,
    note: Vec<Option<String>>,
}

impl Rows {
    fn push(
        &mut self,
        kind: &str,
        subject: String,
        metric: &str,
        value: Option<f64>,
        expected: Option<f64>,
        note: String,
    ) {
        let kpi = crate::KPIS.iter().find(|k| k.key == metric);
        let unit = kpi.map_or(if metric == "orders" { "count" } else { "money" }, |k| {
            k.unit.as_str()
        });
        // A rate's distance from its target is in percentage points, as its change is.
        let (deviation, deviation_unit) = match kpi {
            Some(k) => (k.change_between(value, expected), k.change.symbol()),
            None => (crate::util::change(value, expected), "%"),
        };
        self.deviation.push(deviation);
        self.deviation_unit.push(Some(deviation_unit.into()));
        self.unit.push(Some(unit.into()));
        self.kind.push(Some(kind.into()));
        self.subject.push(Some(subject));
        self.metric.push(Some(metric.into()));
        self.value.push(value);
        self.expected.push(expected);
        self.note.push((!note.is_empty()).then_some(note));
    }
}

/// The exception rows found so far and the notes that go with them.
struct Found {
    rows: Rows,
    notes: Vec<String>,
}

/// Lists the exceptions of `period` (compared with `period.previous()`). `deviation` is
/// value / expected − 1 (`deviation_unit` `%`) for amounts and counts, and value − expected in
/// percentage points (`pp`, as a fraction) for rates, like a KPI's change.
pub async fn exceptions(
    engine: &Engine,
    period: &Period,
    opts: ExceptionOptions,
) -> Result<Report, AnalyticsError> {
    if !(opts.revenue_drop > 0.0 && opts.revenue_drop < 1.0) {
        // A usage error (as tested), worded without naming a surface's flag.
        return Err(AnalyticsError::Usage(format!(
            "threshold {} must be a fraction between 0 and 1 (0.2 means a 20% fall)",
            opts.revenue_drop
        )));
    }
    let mut found = Found {
        rows: Rows::default(),
        notes: Vec::new(),
    };
    found.notes.push(format!(
        "revenue falls of more than {:.0}% against {}; customers with at least {} orders before and at most {:.0}% as many now",
        opts.revenue_drop * 100.0,
        period.previous().label,
        opts.min_previous_orders,
        opts.frequency_ratio * 100.0
    ));

    kpis_off_target(engine, period, &mut found.rows).await?;
    reps_below_quota(engine, period, &mut found).await?;
    revenue_drops(engine, period, &opts, &mut found).await?;
    frequency_drops(engine, period, &opts, &mut found).await?;

    let Found { rows, notes } = found;
    let batch = Columns::default()
        .text("kind", rows.kind)
        .text("subject", rows.subject)
        .text("metric", rows.metric)
        .text("unit", rows.unit)
        .num("value", rows.value)
        .num("expected", rows.expected)
        .num("deviation", rows.deviation)
        .text("deviation_unit", rows.deviation_unit)
        .text("note", rows.note)
        .batch();
    Ok(Report {
        name: "exceptions".into(),
        title: "Exceptions".into(),
        schema: batch.schema(),
        batches: vec![batch],
        period: Some(period.clone()),
        previous: Some(period.previous()),
        notes,
    })
}

/// KPIs off their target, from the KPI report.
async fn kpis_off_target(
    engine: &Engine,
    period: &Period,
    rows: &mut Rows,
) -> Result<(), AnalyticsError> {
    let k = kpis(engine, period).await?.to_batch();
    let (name, status) = (str_col(&k, "name"), str_col(&k, "status"));
    let (value, target) = (f64_col(&k, "value"), f64_col(&k, "target"));
    for i in 0..k.num_rows() {
        if status.value(i) == "off target" {
            let def = crate::KPIS
                .iter()
                .find(|d| d.name == name.value(i))
                .expect("kpi");
            let dir = if def.higher_is_better {
                "below"
            } else {
                "above"
            };
            rows.push(
                "kpi_off_target",
                name.value(i).to_string(),
                def.key,
                Some(value.value(i)),
                Some(target.value(i)),
                format!("{dir} target"),
            );
        }
    }
    Ok(())
}

/// Reps whose revenue is below their quota prorated to the period, when the data has quotas
/// and order reps; otherwise a note says what is missing.
async fn reps_below_quota(
    engine: &Engine,
    period: &Period,
    found: &mut Found,
) -> Result<(), AnalyticsError> {
    if engine.has_table("sales_reps")
        && engine.has_column("sales_reps", "quota")
        && engine.has_column("orders", "sales_rep_id")
    {
        // Quotas are annual: the period's share is quota × days / 365.
        let sql = format!(
            "SELECT r.sales_rep_id, COALESCE(r.name, r.sales_rep_id) AS name, COALESCE(SUM(s.total_amount), 0) AS revenue,
                    r.quota * {days} / 365.0 AS expected
             FROM sales_reps r LEFT JOIN sales s ON s.sales_rep_id = r.sales_rep_id AND {in_p}
             WHERE r.quota > 0 GROUP BY r.sales_rep_id, r.name, r.quota
             HAVING COALESCE(SUM(s.total_amount), 0) < r.quota * {days} / 365.0
             ORDER BY COALESCE(SUM(s.total_amount), 0) / (r.quota * {days} / 365.0), 1",
            days = period.days(),
            in_p = period.contains_date("s.order_date"),
        );
        for b in engine.query(&sql).await? {
            let (name, rev, exp) = (
                str_col(&b, "name"),
                f64_col(&b, "revenue"),
                f64_col(&b, "expected"),
            );
            for i in 0..b.num_rows() {
                found.rows.push(
                    "rep_below_quota",
                    name.value(i).to_string(),
                    "revenue",
                    Some(rev.value(i)),
                    Some(exp.value(i)),
                    format!("annual quota prorated to {} days", period.days()),
                );
            }
        }
    } else {
        found
            .notes
            .push("reps below quota: needs sales_reps with quota and orders.sales_rep_id".into());
    }
    Ok(())
}

/// Regions and products whose revenue fell by more than `opts.revenue_drop` against the
/// previous period; a breakdown the data cannot give becomes a note.
async fn revenue_drops(
    engine: &Engine,
    period: &Period,
    opts: &ExceptionOptions,
    found: &mut Found,
) -> Result<(), AnalyticsError> {
    for (by, kind, id_col, label_col) in [
        (SalesBy::Region, "region_revenue_drop", "region", None),
        (
            SalesBy::Product,
            "product_revenue_drop",
            "product_id",
            Some("product_name"),
        ),
    ] {
        let r = match sales(engine, period, by).await {
            Ok(r) => r.to_batch(),
            Err(AnalyticsError::MissingData(why)) => {
                found.notes.push(why);
                continue;
            }
            Err(e) => return Err(e),
        };
        let id = str_col(&r, id_col);
        let label = label_col
            .filter(|c| r.schema().index_of(c).is_ok())
            .map(|c| str_col(&r, c));
        let (rev, prev) = (f64_col(&r, "revenue"), f64_col(&r, "previous_revenue"));
        for i in 0..r.num_rows() {
            if arrow::array::Array::is_null(&prev, i) || prev.value(i) <= 0.0 {
                continue;
            }
            let fall = 1.0 - rev.value(i) / prev.value(i);
            if fall > opts.revenue_drop {
                let mut subject = id.value(i).to_string();
                if let Some(l) = label
                    .as_ref()
                    .filter(|l| !arrow::array::Array::is_null(l, i))
                {
                    subject = format!("{subject} ({})", l.value(i));
                }
                found.rows.push(
                    kind,
                    subject,
                    "revenue",
                    Some(rev.value(i)),
                    Some(prev.value(i)),
                    "vs previous period".into(),
                );
            }
        }
    }
    Ok(())
}

/// Customers whose completed orders dropped to at most `opts.frequency_ratio` of the previous
/// period's, largest drops first, at most `opts.max_customers` of them (a note counts the rest).
async fn frequency_drops(
    engine: &Engine,
    period: &Period,
    opts: &ExceptionOptions,
    found: &mut Found,
) -> Result<(), AnalyticsError> {
    if engine.has_table("orders") {
        let prev = period.previous();
        let sql = format!(
            "SELECT customer_id, CAST(SUM(CASE WHEN {cur} THEN 1 ELSE 0 END) AS DOUBLE) AS now,
                    CAST(SUM(CASE WHEN {before} THEN 1 ELSE 0 END) AS DOUBLE) AS before
             FROM sales WHERE customer_id IS NOT NULL AND order_date BETWEEN DATE '{from}' AND DATE '{to}'
             GROUP BY customer_id
             HAVING SUM(CASE WHEN {before} THEN 1 ELSE 0 END) >= {min}
                AND SUM(CASE WHEN {cur} THEN 1 ELSE 0 END) <= {ratio} * SUM(CASE WHEN {before} THEN 1 ELSE 0 END)
             ORDER BY before - now DESC, customer_id",
            cur = period.contains_date("order_date"),
            before = prev.contains_date("order_date"),
            from = prev.from,
            to = period.to,
            min = opts.min_previous_orders,
            ratio = opts.frequency_ratio,
        );
        let batches = engine.query(&sql).await?;
        let total: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut shown = 0;
        'outer: for b in batches {
            let (id, now, before) = (
                str_col(&b, "customer_id"),
                f64_col(&b, "now"),
                f64_col(&b, "before"),
            );
            for i in 0..b.num_rows() {
                if shown == opts.max_customers {
                    break 'outer;
                }
                found.rows.push(
                    "customer_frequency_drop",
                    id.value(i).to_string(),
                    "orders",
                    Some(now.value(i)),
                    Some(before.value(i)),
                    "vs previous period".into(),
                );
                shown += 1;
            }
        }
        if total > shown {
            found.notes.push(format!("{total} customers' purchase frequency dropped; the {shown} largest drops are listed"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exceptions report showed a rate's distance from its target as a relative change
    /// (a churn rate of 6 % against a 4 % target read "+50 %"); like a KPI's change it is in
    /// percentage points for rates, and relative for amounts and counts.
    #[test]
    fn a_rate_off_target_deviates_in_percentage_points() {
        let mut rows = Rows::default();
        rows.push(
            "kpi_off_target",
            "Churn rate".into(),
            "churn_rate",
            Some(0.06),
            Some(0.04),
            String::new(),
        );
        rows.push(
            "kpi_off_target",
            "Sales revenue".into(),
            "revenue",
            Some(130.0),
            Some(150.0),
            String::new(),
        );
        rows.push(
            "rep_below_quota",
            "Ann".into(),
            "revenue",
            Some(50.0),
            Some(0.0),
            String::new(),
        );
        assert!(
            (rows.deviation[0].unwrap() - 0.02).abs() < 1e-12,
            "{:?}",
            rows.deviation
        );
        assert!((rows.deviation[1].unwrap() - (130.0 / 150.0 - 1.0)).abs() < 1e-12);
        assert_eq!(
            rows.deviation[2], None,
            "no relative deviation from a zero target"
        );
        let units: Vec<Option<&str>> = rows.deviation_unit.iter().map(Option::as_deref).collect();
        assert_eq!(units, [Some("pp"), Some("%"), Some("%")]);
    }
}
