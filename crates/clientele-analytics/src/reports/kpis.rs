//! The KPI report: each key performance indicator with its definition, its value in the
//! period and the previous period, the change between them (relative for amounts and counts,
//! in percentage points for rates: [`Change`]), its target from `kpi_targets` and whether it
//! is met.
//!
//! Figures are gathered with one query per source table covering both periods, then every
//! KPI is a formula over them, so a definition lives in exactly one place (`KPIS`).

use std::collections::HashMap;

use crate::analyses::leads::{CONVERSION_WINDOW_DAYS, leads_as_of};
use crate::util::{Columns, change, f64_col, opt, ratio, str_col};
use crate::{AnalyticsError, Engine, Period, Report};

/// How a KPI's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Money in the workspace currency.
    Money,
    /// A count.
    Count,
    /// A fraction shown as a percentage (0.25 = 25 %).
    Percent,
    /// A plain number (ratio, score).
    Number,
    /// Days.
    Days,
}

impl Unit {
    /// Lower-case name, as written in the report's `unit` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Money => "money",
            Unit::Count => "count",
            Unit::Percent => "percent",
            Unit::Number => "number",
            Unit::Days => "days",
        }
    }
}

/// How a KPI's change from the previous period is measured. The report's `change` column is
/// always a fraction, so that × 100 it reads in the unit of `change_unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Relative change (value − previous) / |previous|, `%` (0.25 = +25 %): for amounts,
    /// counts and other quantities. Undefined when the previous value is 0 or missing.
    Relative,
    /// Difference in percentage points, `pp`: for rates and percentages, whose relative change
    /// means nothing (an ROI from 1.8 % to −70.5 % is −72.3 pp, not −4,055 %). Stored as a
    /// fraction (0.032 = +3.2 pp): value − previous for a rate, (value − previous) / 100 for a
    /// score already in points (NPS). Undefined when either value is missing.
    Points,
}

impl Change {
    /// The unit of `change` × 100, as written in the report's `change_unit` column.
    pub fn symbol(self) -> &'static str {
        match self {
            Change::Relative => "%",
            Change::Points => "pp",
        }
    }
}

/// How a KPI's value grows with the length of its period, which says how a target set for
/// one period applies to another (docs/metrics.md, "Targets").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Accrual {
    /// A sum or count over the period's days (revenue, orders, new customers): a target is
    /// prorated by days to a part of its period, and a target without a period is per
    /// calendar quarter.
    Sum,
    /// A rate, an average or a ratio of two sums, which does not grow with the period's
    /// length: a target applies as set to any part of its period, and one without a period
    /// to any period.
    Level,
    /// Grows with the period's length but not in proportion (distinct customers, and what
    /// is divided by them): a target applies to whole periods only, one without a period to
    /// whole calendar quarters only; shown to date without a target.
    Distinct,
    /// Compares the customers of the period with those of the period before (churn,
    /// retention): targets apply as for [`Accrual::Distinct`], and the KPI is not measured
    /// over a quarter to date, whose first days say little about who stayed.
    Retention,
}

/// Mean length of a calendar quarter in days (365.25 / 4): a target without a period of an
/// [`Accrual::Sum`] KPI is scaled by a custom period's days over this.
pub const QUARTER_DAYS: f64 = 91.3125;

/// Period figures every KPI formula reads, by name.
type Figures = HashMap<&'static str, Option<f64>>;

/// A KPI: key (as used in `kpi_targets.kpi`), label, unit, direction, definition and the
/// tables/columns it needs.
pub struct KpiDef {
    /// Key, as written in `kpi_targets.kpi`.
    pub key: &'static str,
    /// Label.
    pub name: &'static str,
    /// Unit.
    pub unit: Unit,
    /// Whether a higher value is better (a target is a floor) or worse (a ceiling).
    pub higher_is_better: bool,
    /// How the change from the previous period is measured.
    pub change: Change,
    /// How the value grows with the period's length, so how targets are prorated.
    pub accrual: Accrual,
    /// Definition in words (also in docs/metrics.md).
    pub definition: &'static str,
    /// `table` or `table.column` entries that must be present.
    pub needs: &'static [&'static str],
    formula: fn(&Figures) -> Option<f64>,
}

impl KpiDef {
    /// The change from `previous` to `value` as a fraction, by [`Change`]: relative for
    /// amounts and counts, percentage points / 100 for rates (and for NPS, whose values are
    /// points already, (value − previous) / 100); `None` when it is undefined.
    pub fn change_between(&self, value: Option<f64>, previous: Option<f64>) -> Option<f64> {
        match self.change {
            Change::Relative => change(value, previous),
            Change::Points => {
                let per_point = if self.unit == Unit::Percent {
                    1.0
                } else {
                    100.0
                };
                value.zip(previous).map(|(v, p)| (v - p) / per_point)
            }
        }
    }
}

fn f(fig: &Figures, k: &str) -> Option<f64> {
    fig.get(k).copied().flatten()
}

/// Every KPI, in report order.
pub const KPIS: &[KpiDef] = &[
    KpiDef {
        key: "sales_revenue",
        name: "Sales revenue",
        unit: Unit::Money,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Sum,
        definition: "Sum of total_amount of completed orders (status completed or empty) dated in the period.",
        needs: &["orders"],
        formula: |x| f(x, "revenue"),
    },
    KpiDef {
        key: "orders",
        name: "Orders",
        unit: Unit::Count,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Sum,
        definition: "Number of completed orders dated in the period.",
        needs: &["orders"],
        formula: |x| f(x, "orders"),
    },
    KpiDef {
        key: "average_purchase_value",
        name: "Average purchase value",
        unit: Unit::Money,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Level,
        definition: "Sales revenue / orders; undefined when there are no orders.",
        needs: &["orders"],
        formula: |x| ratio(f(x, "revenue"), f(x, "orders")),
    },
    KpiDef {
        key: "purchase_frequency",
        name: "Purchase frequency",
        unit: Unit::Number,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Distinct,
        definition: "Orders of customers / active customers: completed orders per purchasing customer in the period (guest orders, without a customer_id, left out).",
        needs: &["orders"],
        formula: |x| ratio(f(x, "customer_orders"), f(x, "active")),
    },
    KpiDef {
        key: "active_customers",
        name: "Active customers",
        unit: Unit::Count,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Distinct,
        definition: "Distinct customers with at least one completed order in the period (guest orders, without a customer_id, are no customer).",
        needs: &["orders"],
        formula: |x| f(x, "active"),
    },
    KpiDef {
        key: "new_customers",
        name: "New customers",
        unit: Unit::Count,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Sum,
        definition: "Customers whose first completed order ever is dated in the period (guest orders, without a customer_id, are no customer).",
        needs: &["orders"],
        formula: |x| f(x, "new"),
    },
    KpiDef {
        key: "churn_rate",
        name: "Customer churn rate",
        unit: Unit::Percent,
        higher_is_better: false,
        change: Change::Points,
        accrual: Accrual::Retention,
        definition: "Share of the customers active in the period before who made no completed order in this period (1 − retention rate); undefined when nobody was active before.",
        needs: &["orders"],
        formula: |x| ratio(f(x, "retained"), f(x, "base")).map(|r| 1.0 - r),
    },
    KpiDef {
        key: "retention_rate",
        name: "Retention rate",
        unit: Unit::Percent,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Retention,
        definition: "Share of the customers active in the period before who made a completed order in this period.",
        needs: &["orders"],
        formula: |x| ratio(f(x, "retained"), f(x, "base")),
    },
    KpiDef {
        key: "arpu",
        name: "ARPU",
        unit: Unit::Money,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Distinct,
        definition: "Average revenue per user: sales revenue of customers (guest orders, without a customer_id, left out) / active customers.",
        needs: &["orders"],
        formula: |x| ratio(f(x, "customer_revenue"), f(x, "active")),
    },
    KpiDef {
        key: "historical_cltv",
        name: "Historical CLTV",
        unit: Unit::Money,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Level,
        definition: "Revenue of customers' completed orders up to the period's end / customers with a completed order by then (average revenue per customer to date; guest orders left out).",
        needs: &["orders"],
        formula: |x| ratio(f(x, "customer_revenue_to_date"), f(x, "customers_to_date")),
    },
    KpiDef {
        key: "cac",
        name: "Customer acquisition cost",
        unit: Unit::Money,
        higher_is_better: false,
        change: Change::Relative,
        accrual: Accrual::Level,
        definition: "Marketing spend dated in the period / new customers; undefined when there are no new customers.",
        needs: &["orders", "marketing_spend"],
        formula: |x| ratio(f(x, "spend"), f(x, "new")),
    },
    KpiDef {
        key: "marketing_roi",
        name: "Marketing ROI",
        unit: Unit::Percent,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Level,
        definition: "(Revenue of completed orders in the period that carry a campaign_id − marketing spend in the period) / marketing spend; undefined without spend.",
        needs: &["orders", "marketing_spend", "orders.campaign_id"],
        formula: |x| {
            ratio(
                f(x, "campaign_revenue")
                    .zip(f(x, "spend"))
                    .map(|(r, s)| r - s),
                f(x, "spend"),
            )
        },
    },
    KpiDef {
        key: "lead_conversion_rate",
        name: "Lead conversion rate",
        unit: Unit::Percent,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Level,
        definition: "Share of the leads created in the period that converted within 90 days of creation (converted_at at most 90 days after created_at), among those whose 90-day window has closed by the leads' as-of day (the latest created_at or converted_at); leads still inside their window are left out and the note says so; undefined when no lead of the period has a closed window.",
        needs: &["leads", "leads.converted_at"],
        formula: |x| f(x, "lead_conversion"),
    },
    KpiDef {
        key: "win_rate",
        name: "Win rate",
        unit: Unit::Percent,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Level,
        definition: "Deals won / deals won or lost, among deals closed (closed_at) in the period.",
        needs: &["deals", "deals.outcome", "deals.closed_at"],
        formula: |x| f(x, "win_rate"),
    },
    KpiDef {
        key: "average_deal_size",
        name: "Average deal size",
        unit: Unit::Money,
        higher_is_better: true,
        change: Change::Relative,
        accrual: Accrual::Level,
        definition: "Mean amount of the deals won that closed in the period.",
        needs: &["deals", "deals.amount", "deals.outcome", "deals.closed_at"],
        formula: |x| f(x, "deal_size"),
    },
    KpiDef {
        key: "sales_cycle_days",
        name: "Sales cycle length",
        unit: Unit::Days,
        higher_is_better: false,
        change: Change::Relative,
        accrual: Accrual::Level,
        definition: "Mean days from created_at to closed_at of the deals won that closed in the period.",
        needs: &["deals", "deals.outcome", "deals.closed_at"],
        formula: |x| f(x, "cycle_days"),
    },
    KpiDef {
        key: "csat",
        name: "CSAT",
        unit: Unit::Percent,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Level,
        definition: "Share of satisfied ratings (csat 4 or 5 on the 1–5 scale) among tickets opened in the period that have a rating.",
        needs: &["tickets", "tickets.csat"],
        formula: |x| f(x, "csat"),
    },
    KpiDef {
        key: "nps",
        name: "NPS",
        unit: Unit::Number,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Level,
        definition: "Net promoter score of the surveys answered in the period: % promoters (9–10) − % detractors (0–6), from −100 to 100.",
        needs: &["surveys", "surveys.nps"],
        formula: |x| f(x, "nps"),
    },
    KpiDef {
        key: "first_contact_resolution",
        name: "First-contact resolution",
        unit: Unit::Percent,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Level,
        definition: "Share of the resolved tickets opened in the period that took a single contact.",
        needs: &["tickets", "tickets.contacts", "tickets.resolved_at"],
        formula: |x| f(x, "fcr"),
    },
    KpiDef {
        key: "renewal_rate",
        name: "Renewal rate",
        unit: Unit::Percent,
        higher_is_better: true,
        change: Change::Points,
        accrual: Accrual::Level,
        definition: "Share of the subscriptions due for renewal (renewal_date) in the period with a known outcome that renewed.",
        needs: &[
            "subscriptions",
            "subscriptions.renewed",
            "subscriptions.renewal_date",
        ],
        formula: |x| f(x, "renewal"),
    },
];

/// Figures from orders for the period `cur`, with `prev` its previous period and `base` the
/// one before that (needed for the previous period's retention).
async fn order_figures(
    engine: &Engine,
    periods: [&Period; 3],
) -> Result<[Figures; 2], AnalyticsError> {
    let [cur, prev, base] = periods;
    let flag = |p: &Period| {
        format!(
            "MAX(CASE WHEN {} THEN 1 ELSE 0 END)",
            p.contains_date("order_date")
        )
    };
    let sum_in = |p: &Period, e: &str| {
        format!(
            "SUM(CASE WHEN {} THEN {e} ELSE 0 END)",
            p.contains_date("order_date")
        )
    };
    let campaign = if engine.has_column("orders", "campaign_id") {
        "CASE WHEN campaign_id IS NOT NULL THEN total_amount ELSE 0 END"
    } else {
        "0"
    };
    // Guest orders (no customer_id) form one group of their own: their revenue and orders
    // count in the totals, but the group is no customer (k = 0).
    let sql = format!(
        "WITH c AS (
           SELECT customer_id, MIN(order_date) AS first_date,
                  CASE WHEN customer_id IS NULL THEN 0 ELSE 1 END AS k,
                  {f0} AS a0, {f1} AS a1, {f2} AS a2,
                  {r1} AS r1, {r2} AS r2, {n1} AS n1, {n2} AS n2, {c1} AS c1, {c2} AS c2,
                  SUM(CASE WHEN order_date <= DATE '{pt}' THEN total_amount ELSE 0 END) AS td1,
                  SUM(CASE WHEN order_date <= DATE '{ct}' THEN total_amount ELSE 0 END) AS td2
           FROM sales WHERE order_date <= DATE '{ct}' GROUP BY customer_id)
         SELECT {}
         FROM c",
        // v0..v11 of the current period, then v12..v23 of the previous one (`names` below).
        [("2", "1", cur), ("1", "0", prev)]
            .iter()
            .flat_map(|&(i, j, p)| {
                let new = p.contains_date("first_date");
                let to = p.to;
                [
                    format!("SUM(r{i})"),
                    format!("SUM(n{i})"),
                    format!("SUM(k * a{i})"),
                    format!("SUM(CASE WHEN k = 1 AND {new} THEN 1 ELSE 0 END)"),
                    format!("SUM(k * a{j} * a{i})"),
                    format!("SUM(k * a{j})"),
                    format!("SUM(td{i})"),
                    format!("SUM(CASE WHEN k = 1 AND first_date <= DATE '{to}' THEN 1 ELSE 0 END)"),
                    format!("SUM(c{i})"),
                    format!("SUM(k * r{i})"),
                    format!("SUM(k * n{i})"),
                    format!("SUM(k * td{i})"),
                ]
            })
            .enumerate()
            .map(|(n, e)| format!("CAST({e} AS DOUBLE) AS v{n}"))
            .collect::<Vec<_>>()
            .join(", "),
        f0 = flag(base),
        f1 = flag(prev),
        f2 = flag(cur),
        r1 = sum_in(prev, "total_amount"),
        r2 = sum_in(cur, "total_amount"),
        n1 = sum_in(prev, "1"),
        n2 = sum_in(cur, "1"),
        c1 = sum_in(prev, campaign),
        c2 = sum_in(cur, campaign),
        pt = prev.to,
        ct = cur.to,
    );
    let row = row_values(engine, &sql).await?;
    let names = [
        "revenue",
        "orders",
        "active",
        "new",
        "retained",
        "base",
        "revenue_to_date",
        "customers_to_date",
        "campaign_revenue",
        "customer_revenue",
        "customer_orders",
        "customer_revenue_to_date",
    ];
    let zero = |v: Option<f64>| Some(v.unwrap_or(0.0));
    let mut out = [Figures::new(), Figures::new()];
    for (i, n) in names.iter().enumerate() {
        out[0].insert(n, zero(row.get(i).copied().flatten()));
        out[1].insert(n, zero(row.get(i + names.len()).copied().flatten()));
    }
    Ok(out)
}

/// First row of a query as optional f64s.
async fn row_values(engine: &Engine, sql: &str) -> Result<Vec<Option<f64>>, AnalyticsError> {
    let batches = engine.query(sql).await?;
    let b = batches.iter().find(|b| b.num_rows() > 0);
    let Some(b) = b else { return Ok(vec![]) };
    Ok(b.schema()
        .fields()
        .iter()
        .map(|f| opt(&f64_col(b, f.name()), 0))
        .collect())
}

/// Per-period figures from one table: `(figure name, SQL with {in} for the period predicate)`.
async fn simple_figures(
    engine: &Engine,
    periods: [&Period; 2],
    out: &mut [Figures; 2],
    items: &[(&'static str, &str, &str)],
) -> Result<(), AnalyticsError> {
    for (i, p) in periods.iter().enumerate() {
        for (name, table, sql) in items {
            if !engine.has_table(table) {
                continue;
            }
            let q = sql
                .replace("{in_date}", &p.contains_date("x_date"))
                .replace("{in_ts}", &p.contains_ts("x_ts"));
            out[i].insert(name, engine.scalar(&q).await?);
        }
    }
    Ok(())
}

/// The Lead conversion rate's figures per period: `lead_conversion` (converted within
/// [`CONVERSION_WINDOW_DAYS`] of creation, over the leads of the period whose window has
/// closed by the leads' as-of day), `leads` (created in the period), `leads_open` (of those,
/// still inside their window) and `leads_as_of` (the as-of day number).
async fn lead_figures(
    engine: &Engine,
    periods: [&Period; 2],
    out: &mut [Figures; 2],
) -> Result<(), AnalyticsError> {
    let Some(as_of) = leads_as_of(engine).await? else {
        return Ok(());
    };
    let w = CONVERSION_WINDOW_DAYS;
    for (i, p) in periods.iter().enumerate() {
        let sql = format!(
            "SELECT AVG(CASE WHEN d + {w} <= {as_of} THEN CASE WHEN c IS NOT NULL AND c - d <= {w} THEN 1.0 ELSE 0.0 END END) AS rate,
                    CAST(COUNT(*) AS DOUBLE) AS leads,
                    CAST(COALESCE(SUM(CASE WHEN d + {w} > {as_of} THEN 1 ELSE 0 END), 0) AS DOUBLE) AS open
             FROM (SELECT CAST(CAST(created_at AS DATE) AS INT) AS d, CAST(CAST(converted_at AS DATE) AS INT) AS c,
                          created_at AS x_ts FROM leads)
             WHERE {}",
            p.contains_ts("x_ts")
        );
        let row = row_values(engine, &sql).await?;
        let get = |k: usize| row.get(k).copied().flatten();
        out[i].insert("lead_conversion", get(0));
        out[i].insert("leads", get(1));
        out[i].insert("leads_open", get(2));
        out[i].insert("leads_as_of", Some(as_of as f64));
    }
    Ok(())
}

/// What the note of a KPI computed over part of its period says: for the Lead conversion rate,
/// how many of the period's leads (and of the previous period's) are still inside their
/// conversion window and left out (the value is provisional), or that none of the period's has
/// a closed window yet. `None` when the value covers the whole period.
fn partial_note(key: &str, figs: &[Figures; 2]) -> Option<String> {
    if key != "lead_conversion_rate" {
        return None;
    }
    let w = CONVERSION_WINDOW_DAYS;
    let counts = |fig: &Figures| Some((f(fig, "leads")?, f(fig, "leads_open")?));
    let as_of = clientele_schema::days_to_date(f(&figs[0], "leads_as_of")? as i32);
    let mut parts = Vec::new();
    match counts(&figs[0]) {
        Some((leads, open)) if open > 0.0 && open == leads => parts.push(format!(
            "undefined for now: none of the {leads:.0} leads created in the period has had its {w}-day conversion window close by {as_of}"
        )),
        Some((leads, open)) if open > 0.0 => parts.push(format!(
            "provisional: {open:.0} of the {leads:.0} leads created in the period are still inside their {w}-day conversion window on {as_of} and are not counted"
        )),
        _ => {}
    }
    if let Some((leads, open)) = counts(&figs[1])
        && open > 0.0
    {
        parts.push(format!(
            "the previous period's value leaves out {open:.0} of its {leads:.0} leads, still inside their window"
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Every figure of `period` (`[0]`) and of its previous period (`[1]`).
async fn figures(engine: &Engine, period: &Period) -> Result<[Figures; 2], AnalyticsError> {
    let prev = period.previous();
    let base = prev.previous();
    let mut figs = if engine.has_table("orders") {
        order_figures(engine, [period, &prev, &base]).await?
    } else {
        [Figures::new(), Figures::new()]
    };
    let items: &[(&'static str, &str, &str)] = &[
        (
            "spend",
            "marketing_spend",
            "SELECT COALESCE(SUM(amount), 0) FROM (SELECT amount, date AS x_date FROM marketing_spend) WHERE {in_date}",
        ),
        (
            "win_rate",
            "deals",
            "SELECT AVG(CASE WHEN outcome = 'won' THEN 1.0 ELSE 0.0 END) FROM (SELECT *, closed_at AS x_ts FROM deals) WHERE outcome IN ('won', 'lost') AND {in_ts}",
        ),
        (
            "deal_size",
            "deals",
            "SELECT AVG(amount) FROM (SELECT *, closed_at AS x_ts FROM deals) WHERE outcome = 'won' AND {in_ts}",
        ),
        (
            "cycle_days",
            "deals",
            "SELECT AVG((date_part('epoch', closed_at) - date_part('epoch', created_at)) / 86400.0) FROM (SELECT *, closed_at AS x_ts FROM deals) WHERE outcome = 'won' AND {in_ts}",
        ),
        (
            "csat",
            "tickets",
            "SELECT AVG(CASE WHEN csat >= 4 THEN 1.0 ELSE 0.0 END) FROM (SELECT *, opened_at AS x_ts FROM tickets) WHERE csat IS NOT NULL AND {in_ts}",
        ),
        (
            "fcr",
            "tickets",
            "SELECT AVG(CASE WHEN contacts = 1 THEN 1.0 ELSE 0.0 END) FROM (SELECT *, opened_at AS x_ts FROM tickets) WHERE resolved_at IS NOT NULL AND contacts IS NOT NULL AND {in_ts}",
        ),
        (
            "nps",
            "surveys",
            "SELECT 100.0 * AVG(CASE WHEN nps >= 9 THEN 1.0 WHEN nps <= 6 THEN -1.0 ELSE 0.0 END) FROM (SELECT *, responded_at AS x_ts FROM surveys) WHERE nps IS NOT NULL AND {in_ts}",
        ),
        (
            "renewal",
            "subscriptions",
            "SELECT AVG(CASE WHEN renewed THEN 1.0 ELSE 0.0 END) FROM (SELECT *, renewal_date AS x_date FROM subscriptions) WHERE renewed IS NOT NULL AND {in_date}",
        ),
    ];
    simple_figures(engine, [period, &prev], &mut figs, items).await?;
    if engine.has_column("leads", "converted_at") {
        lead_figures(engine, [period, &prev], &mut figs).await?;
    }
    Ok(figs)
}

/// A KPI's status against its target, in its better direction.
fn status_of(def: &KpiDef, value: Option<f64>, target: Option<f64>) -> &'static str {
    match (value, target) {
        (None, _) => "undefined",
        (Some(_), None) => "no target",
        (Some(v), Some(t)) if (v >= t) == def.higher_is_better || v == t => "on target",
        _ => "off target",
    }
}

/// Computes the KPI report for `period` (compared with `period.previous()`).
pub async fn kpis(engine: &Engine, period: &Period) -> Result<Report, AnalyticsError> {
    kpis_to_date(engine, period, None).await
}

/// The KPI report for `period`, and with `to_date` (the partial current quarter of
/// [`crate::default_periods`]) three more columns: `to_date` (each KPI over it),
/// `to_date_target` (the target that applies to it, prorated by [`Accrual`]) and
/// `to_date_status`. The existing columns are the same with or without it.
pub async fn kpis_to_date(
    engine: &Engine,
    period: &Period,
    to_date: Option<&Period>,
) -> Result<Report, AnalyticsError> {
    let prev = period.previous();
    let figs = figures(engine, period).await?;
    let figs_to_date = match to_date {
        Some(t) => Some(figures(engine, t).await?),
        None => None,
    };
    let targets = Targets::load(engine).await?;

    let mut cols: [Vec<Option<String>>; 7] = Default::default();
    let mut nums: [Vec<Option<f64>>; 4] = Default::default();
    let (mut td_value, mut td_target, mut td_status) = (Vec::new(), Vec::new(), Vec::new());
    let mut notes = Vec::new();
    for k in KPIS {
        let missing: Vec<&str> = k
            .needs
            .iter()
            .copied()
            .filter(|n| match n.split_once('.') {
                Some((t, c)) => !engine.has_column(t, c),
                None => !engine.has_table(n),
            })
            .collect();
        let (value, previous, target, status, note) = if missing.is_empty() {
            let v = (k.formula)(&figs[0]);
            let p = (k.formula)(&figs[1]);
            let t = targets.for_period(k, period);
            let status = status_of(k, v, t);
            let note = match partial_note(k.key, &figs) {
                Some(n) => n,
                None if v.is_none() => "no data in the period to compute it from".to_string(),
                None => String::new(),
            };
            (v, p, t, status, note)
        } else {
            let why = format!(
                "unavailable: needs {}",
                missing
                    .iter()
                    .map(|m| if m.contains('.') {
                        format!("column {m}")
                    } else {
                        format!("table {m}")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            (None, None, None, "unavailable", why)
        };
        if let (Some(t), Some(f)) = (to_date, &figs_to_date) {
            let (v, target, st) = if !missing.is_empty() {
                (None, None, "unavailable")
            } else if k.accrual == Accrual::Retention {
                (None, None, "not measured to date")
            } else {
                let v = (k.formula)(&f[0]);
                let target = targets.for_period(k, t);
                (v, target, status_of(k, v, target))
            };
            td_value.push(v);
            td_target.push(target);
            td_status.push(Some(st.to_string()));
        }
        cols[0].push(Some(k.key.into()));
        cols[1].push(Some(k.name.into()));
        cols[2].push(Some(k.unit.as_str().into()));
        cols[3].push(Some(status.into()));
        cols[4].push(Some(k.definition.into()));
        cols[5].push((!note.is_empty()).then_some(note));
        nums[0].push(value);
        nums[1].push(previous);
        nums[2].push(k.change_between(value, previous));
        cols[6].push(Some(k.change.symbol().into()));
        nums[3].push(target);
    }
    let unavailable = cols[3]
        .iter()
        .filter(|s| s.as_deref() == Some("unavailable"))
        .count();
    if unavailable > 0 {
        notes.push(format!("{unavailable} KPI(s) unavailable: the workspace lacks the tables or columns they need (see the note column)"));
    }
    if !targets.present {
        notes.push("no kpi_targets table: targets are not shown".into());
    } else if let Some(w) = period.whole().filter(|_| period.is_cut()) {
        notes.push(prorated_note(period, &w));
    }
    if let Some(t) = to_date {
        let w = t.whole().unwrap_or_else(|| t.clone());
        notes.push(format!(
            "{} is the last complete quarter; the data runs on to {}: the to_date columns show {} ({} of {} days)",
            period.label, t.to, t.label, t.days(), w.days()
        ));
        if targets.present {
            notes.push(prorated_note(t, &w));
        }
    }
    let [key, name, unit, status, definition, note, change_unit] = cols;
    let [value, previous, chg, target] = nums;
    let mut columns = Columns::default()
        .text("kpi", key)
        .text("name", name)
        .text("unit", unit)
        .num("value", value)
        .num("previous", previous)
        .num("change", chg)
        .text("change_unit", change_unit)
        .num("target", target)
        .text("status", status)
        .text("definition", definition)
        .text("note", note);
    if to_date.is_some() {
        columns = columns
            .num("to_date", td_value)
            .num("to_date_target", td_target)
            .text("to_date_status", td_status);
    }
    let batch = columns.batch();
    Ok(Report {
        name: "kpis".into(),
        title: "Key performance indicators".into(),
        schema: batch.schema(),
        batches: vec![batch],
        period: Some(period.clone()),
        previous: Some(prev),
        notes,
    })
}

/// How the targets of a whole calendar period `whole` apply to its start `part`.
fn prorated_note(part: &Period, whole: &Period) -> String {
    format!(
        "targets of {w} for {p}: sums (sales revenue, orders, new customers) prorated × {d}/{n} days; rates and averages as set; none for active customers, purchase frequency, ARPU, churn and retention, which do not grow in proportion to the days",
        w = whole.label,
        p = part.label,
        d = part.days(),
        n = whole.days()
    )
}

/// The rows of `kpi_targets`: by KPI and period label, and by KPI for the rows without one.
struct Targets {
    present: bool,
    labelled: HashMap<(String, String), f64>,
    blank: HashMap<String, f64>,
}

impl Targets {
    async fn load(engine: &Engine) -> Result<Targets, AnalyticsError> {
        let mut t = Targets {
            present: engine.has_table("kpi_targets"),
            labelled: HashMap::new(),
            blank: HashMap::new(),
        };
        if !t.present {
            return Ok(t);
        }
        let period = if engine.has_column("kpi_targets", "period") {
            "TRIM(period)"
        } else {
            "CAST(NULL AS VARCHAR)"
        };
        let sql = format!("SELECT TRIM(kpi) AS kpi, target, {period} AS period FROM kpi_targets");
        for b in engine.query(&sql).await? {
            let (kpi, target, label) = (
                str_col(&b, "kpi"),
                f64_col(&b, "target"),
                str_col(&b, "period"),
            );
            for i in 0..b.num_rows() {
                let Some(v) = opt(&target, i) else { continue };
                let k = kpi.value(i).to_string();
                if arrow::array::Array::is_null(&label, i) || label.value(i).is_empty() {
                    t.blank.insert(k, v);
                } else {
                    t.labelled.insert((k, label.value(i).to_string()), v);
                }
            }
        }
        Ok(t)
    }

    /// The target of `def` over `p` (docs/metrics.md, "Targets"): a row labelled with `p`'s
    /// own label as set; otherwise, by [`Accrual`], the row of the whole calendar period `p`
    /// is the start of, or the row without a period (per calendar quarter for sums).
    fn for_period(&self, def: &KpiDef, p: &Period) -> Option<f64> {
        let labelled = |label: &str| {
            self.labelled
                .get(&(def.key.to_string(), label.to_string()))
                .copied()
        };
        if let Some(t) = labelled(&p.label) {
            return Some(t);
        }
        let blank = self.blank.get(def.key).copied();
        let whole = p.whole();
        match (def.accrual, whole) {
            (Accrual::Level, Some(w)) => labelled(&w.label).or(blank),
            (Accrual::Level, None) => blank,
            (Accrual::Sum, Some(w)) => {
                let quarters = f64::from(w.months().unwrap_or(3)) / 3.0;
                labelled(&w.label)
                    .or(blank.map(|b| b * quarters))
                    .map(|t| t * p.days() as f64 / w.days() as f64)
            }
            (Accrual::Sum, None) => blank.map(|b| b * p.days() as f64 / QUARTER_DAYS),
            (Accrual::Distinct | Accrual::Retention, Some(w))
                if !p.is_cut() && w.months() == Some(3) =>
            {
                blank
            }
            (Accrual::Distinct | Accrual::Retention, _) => None,
        }
    }
}
