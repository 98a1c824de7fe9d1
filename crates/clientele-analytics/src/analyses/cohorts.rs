//! Acquisition cohorts: customers grouped by the month or quarter of their first purchase,
//! followed period by period.
//!
//! Definitions (also in docs/analyses.md):
//! - **cohort**: the calendar month (or quarter) of a customer's first sale;
//! - **period**: calendar periods since the cohort's own (0 = the acquisition period);
//! - **active customers**: cohort members with at least one sale in that period;
//! - **retention %**: active customers / cohort size (period 0 is 100 % by construction);
//! - **revenue per customer**: the period's sales revenue from the cohort / cohort size;
//! - **cumulative revenue per customer**: the sum of that over periods 0..=p.
//!
//! Periods after the last sale in the data are not observed: they are left out rather than
//! shown as zero, and the last period is flagged as partial when the data ends before it does.

use std::collections::BTreeMap;

use arrow::array::Array;

use crate::analyses::analysis::Analysis;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Columns, f64_col};
use crate::{AnalyticsError, Engine};

/// The width of a cohort and of a period.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CohortBy {
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
}

/// Parameters of the cohort analysis.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct CohortOptions {
    /// Cohort and period width.
    #[arg(long, default_value = "month", value_parser = params::choice::<CohortBy>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub by: CohortBy,
}

impl Default for CohortOptions {
    fn default() -> Self {
        CohortOptions {
            by: CohortBy::Month,
        }
    }
}

impl Params for CohortOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        Ok(())
    }
}

/// `clientele cohorts`, `GET /api/v1/cohorts`.
pub struct Cohorts;

impl Spec for Cohorts {
    type Params = CohortOptions;
    const DEF: Def = Def {
        name: "cohorts",
        command: &["cohorts"],
        aliases: &[],
        path: "/cohorts",
        about: "Acquisition cohorts: retention and revenue per customer by periods since first purchase.",
        long_about: "Groups customers by the month or quarter of their first purchase and follows \
                     each cohort period by period: active customers, retention, revenue per \
                     customer and its running total.",
        area: Area::Segments,
        stores: None,
        progress: "following the cohorts",
    };
    async fn run(engine: &Engine, p: &CohortOptions) -> Result<Analysis, AnalyticsError> {
        cohorts(engine, p.by).await
    }
}

impl CohortBy {
    /// SQL giving a period number (months or quarters since year 0) of a date expression.
    fn index_sql(self, col: &str) -> String {
        match self {
            CohortBy::Month => format!(
                "(CAST(date_part('year', {col}) AS BIGINT) * 12 + CAST(date_part('month', {col}) AS BIGINT) - 1)"
            ),
            CohortBy::Quarter => format!(
                "(CAST(date_part('year', {col}) AS BIGINT) * 4 + (CAST(date_part('month', {col}) AS BIGINT) - 1) / 3)"
            ),
        }
    }

    fn index_of(self, d: chrono::NaiveDate) -> i64 {
        use chrono::Datelike;
        let (y, m) = (d.year() as i64, d.month0() as i64);
        match self {
            CohortBy::Month => y * 12 + m,
            CohortBy::Quarter => y * 4 + m / 3,
        }
    }

    fn label(self, index: i64) -> String {
        match self {
            CohortBy::Month => format!("{}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1),
            CohortBy::Quarter => format!("{}-Q{}", index.div_euclid(4), index.rem_euclid(4) + 1),
        }
    }

    fn name(self) -> &'static str {
        match self {
            CohortBy::Month => "month",
            CohortBy::Quarter => "quarter",
        }
    }
}

/// Cohort retention and revenue: a long table (cohort × period) and a retention matrix.
pub async fn cohorts(engine: &Engine, by: CohortBy) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no orders table; cohorts are built from orders".into(),
        ));
    }
    let idx = by.index_sql("order_date");
    let sql = format!(
        "WITH s AS (SELECT customer_id, {idx} AS p, total_amount FROM sales WHERE customer_id IS NOT NULL),
         f AS (SELECT customer_id, MIN(p) AS c FROM s GROUP BY customer_id),
         size AS (SELECT c, COUNT(*) AS n FROM f GROUP BY c),
         act AS (SELECT f.c, s.p - f.c AS k, COUNT(DISTINCT s.customer_id) AS active, SUM(s.total_amount) AS revenue
                 FROM s JOIN f ON s.customer_id = f.customer_id GROUP BY f.c, s.p - f.c)
         SELECT act.c, act.k, size.n, act.active, act.revenue FROM act JOIN size ON act.c = size.c
         ORDER BY act.c, act.k"
    );
    let batches = engine.query(&sql).await?;
    let last = engine
        .scalar(&format!("SELECT MAX({idx}) FROM sales"))
        .await?
        .map(|v| v as i64);
    let last_day = crate::util::latest_order_date(engine).await?;
    let mut analysis = Analysis::of(&Cohorts::DEF, &format!("Cohorts by {}", by.name()));
    analysis.param("by", by.name());
    let Some(last) = last else {
        analysis
            .notes
            .push("there are no sales to build cohorts from".into());
        analysis.table(
            "cohorts",
            "Cohorts",
            Columns::default().text("cohort", vec![]).batch(),
        );
        return Ok(analysis);
    };
    // cohort → (size, period → (active, revenue)), all cells observed.
    type Periods = BTreeMap<i64, (f64, f64)>;
    let mut cells: BTreeMap<i64, (f64, Periods)> = BTreeMap::new();
    for b in &batches {
        let (c, k, n, a, r) = (
            f64_col(b, "c"),
            f64_col(b, "k"),
            f64_col(b, "n"),
            f64_col(b, "active"),
            f64_col(b, "revenue"),
        );
        for i in 0..b.num_rows() {
            let e = cells
                .entry(c.value(i) as i64)
                .or_insert((n.value(i), BTreeMap::new()));
            e.1.insert(
                k.value(i) as i64,
                (a.value(i), if r.is_null(i) { 0.0 } else { r.value(i) }),
            );
        }
    }
    let mut long = LongRows::default();
    let max_k = cells.keys().next().map_or(0, |first| last - first);
    let mut matrix: Vec<(String, f64, Vec<Option<f64>>)> = Vec::new();
    for (&c, (size, periods)) in &cells {
        let mut cumulative = 0.0;
        let mut row = vec![None; max_k as usize + 1];
        for k in 0..=(last - c) {
            let (active, revenue) = periods.get(&k).copied().unwrap_or((0.0, 0.0));
            cumulative += revenue;
            long.push(
                by.label(c),
                k,
                by.label(c + k),
                *size,
                active,
                revenue,
                cumulative / size,
            );
            row[k as usize] = Some(active / size);
        }
        matrix.push((by.label(c), *size, row));
    }
    let mut m = Columns::default()
        .text("cohort", matrix.iter().map(|r| Some(r.0.clone())).collect())
        .num("customers", matrix.iter().map(|r| Some(r.1)).collect());
    for k in 0..=max_k as usize {
        m = m.pct(
            &format!("{}{k}", &by.name()[..1]),
            matrix.iter().map(|r| r.2[k]).collect(),
        );
    }
    analysis.table(
        "retention",
        &format!(
            "Retention by {} since first purchase (share of the cohort)",
            by.name()
        ),
        m.batch(),
    );
    analysis.table(
        "cohorts",
        &format!("Cohorts by {} of first purchase", by.name()),
        long.batch(),
    );
    analysis.fact("by", by.name());
    analysis.fact("cohorts", cells.len());
    if let Some(d) = last_day {
        let ends = d
            .succ_opt()
            .is_none_or(|n| by.index_of(n) != by.index_of(d));
        if !ends {
            analysis.notes.push(format!(
                "the data ends on {d}, inside {}: its figures are partial",
                by.label(last)
            ));
        }
    }
    Ok(analysis)
}

#[derive(Default)]
struct LongRows {
    cohort: Vec<Option<String>>,
    k: Vec<Option<f64>>,
    period: Vec<Option<String>>,
    size: Vec<Option<f64>>,
    active: Vec<Option<f64>>,
    retention: Vec<Option<f64>>,
    revenue: Vec<Option<f64>>,
    rpc: Vec<Option<f64>>,
    cumulative: Vec<Option<f64>>,
}

impl LongRows {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        cohort: String,
        k: i64,
        period: String,
        size: f64,
        active: f64,
        revenue: f64,
        cumulative_per_customer: f64,
    ) {
        self.cohort.push(Some(cohort));
        self.k.push(Some(k as f64));
        self.period.push(Some(period));
        self.size.push(Some(size));
        self.active.push(Some(active));
        self.retention.push(Some(active / size));
        self.revenue.push(Some(revenue));
        self.rpc.push(Some(revenue / size));
        self.cumulative.push(Some(cumulative_per_customer));
    }

    fn batch(self) -> arrow::array::RecordBatch {
        Columns::default()
            .text("cohort", self.cohort)
            .num("periods_since_first", self.k)
            .text("period", self.period)
            .num("cohort_customers", self.size)
            .num("active_customers", self.active)
            .num("retention", self.retention)
            .num("revenue", self.revenue)
            .num("revenue_per_customer", self.rpc)
            .num("cumulative_revenue_per_customer", self.cumulative)
            .batch()
    }
}
