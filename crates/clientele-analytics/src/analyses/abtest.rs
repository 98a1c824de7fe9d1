//! A/B tests and holdouts from the `experiments` table: each variant's conversion and revenue
//! against the control's, with intervals, p-values corrected for several variants, an
//! always-valid p-value for those who looked before the end, the sample-ratio check and the
//! sample size the test needed.
//!
//! Definitions (also in docs/analyses.md; the statistics in `clientele_models::abtest`):
//! - an **assignment** is a row of `experiments`: a customer put in a variant at
//!   `assigned_at`. Its **window** is the `window_days` calendar days starting on the
//!   assignment day; a **conversion** is at least one sale (an order neither cancelled nor
//!   returned) dated in the window (orders are dated by day, so a sale on the assignment day
//!   counts), and the assignment's **revenue** is the sales' `total_amount` in it (0 without);
//! - an assignment whose window ends after the last sale in the data is not complete: it is
//!   left out (and counted), because it has had less time to convert;
//! - the **control** is the variant named `--control` (default `control`); an experiment
//!   without one takes its first variant in alphabetical order, and says so;
//! - **conversion**: difference of rates (variant − control) with its unpooled Wald interval,
//!   the relative lift (variant/control − 1), the pooled two-sided z-test p-value, and that
//!   p-value Holm-adjusted over the experiment's variants; **always-valid p** is the mixture
//!   SPRT's (normal mixing distribution with variance (mde × control rate)²), valid however
//!   often the test was looked at;
//! - **revenue per customer**: the difference of means with Welch's p-value and a percentile
//!   bootstrap interval (revenue is heavy-tailed: the bootstrap does not assume normality);
//! - **sample-ratio mismatch**: the χ² test of the variants' sizes against the design's split
//!   (even, or `--control-share` for the control and the rest evenly); a
//!   p-value below 0.001 means the assignment itself is suspect, and the results should not
//!   be read;
//! - **needed per arm**: customers per arm to detect a relative lift of `--mde` at the
//!   control's rate with two-sided level 1 − `--level` and power `--power`.

use std::collections::BTreeMap;

use arrow::array::Array;
use clientele_models::abtest::{self, Proportion};
use serde_json::json;

use crate::analyses::analysis::Analysis;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Columns, f64_col, sql_str, str_col};
use crate::{AnalyticsError, Engine};

/// Parameters of `abtest`.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct AbtestOptions {
    /// Only this experiment (default: every experiment in the table).
    #[arg(long)]
    pub experiment: Option<String>,
    /// Days after the assignment in which a sale counts as a conversion.
    #[arg(long, default_value_t = 30)]
    pub window_days: u32,
    /// The variant every other one is compared with.
    #[arg(long, default_value = "control")]
    pub control: String,
    /// Confidence level of the intervals (and 1 − the significance level).
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// The smallest relative lift worth detecting, for the sample size (0.1 = 10 %).
    #[arg(long, default_value_t = 0.1)]
    pub mde: f64,
    /// Power for the sample size.
    #[arg(long, default_value_t = 0.8)]
    pub power: f64,
    /// Bootstrap resamples for the revenue interval.
    #[arg(long, default_value_t = 2000)]
    pub bootstrap: usize,
    /// The share of customers the design puts in the control (a holdout: 0.1), the other
    /// variants sharing the rest evenly; by default every variant gets an even share. The
    /// sample-ratio check compares the sizes with this split.
    #[arg(long)]
    pub control_share: Option<f64>,
}

impl Default for AbtestOptions {
    fn default() -> Self {
        AbtestOptions {
            experiment: None,
            window_days: 30,
            control: "control".into(),
            level: 0.95,
            mde: 0.1,
            power: 0.8,
            bootstrap: 2000,
            control_share: None,
        }
    }
}

impl Params for AbtestOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        params::in_range("window_days", self.window_days, 1, 3650, "days")?;
        params::in_range("level", self.level, 0.5, 0.999, "a confidence level")?;
        params::in_range("mde", self.mde, 0.001, 10.0, "a relative lift")?;
        params::in_range("power", self.power, 0.5, 0.999, "a power")?;
        params::in_range("bootstrap", self.bootstrap, 100, 100_000, "resamples")?;
        if let Some(s) = self.control_share {
            params::in_range("control_share", s, 0.001, 0.999, "a share")?;
        }
        Ok(())
    }
}

/// `clientele abtest`, `GET /api/v1/abtest`.
pub struct Abtest;

impl Spec for Abtest {
    type Params = AbtestOptions;
    const DEF: Def = Def {
        name: "abtest",
        command: &["abtest"],
        aliases: &[],
        path: "/abtest",
        about: "A/B tests and holdouts: conversion and revenue per variant against the control, with intervals and corrected p-values.",
        long_about: "Reads the experiments table (customer, variant, assignment time) and, for \
                     each experiment, compares every variant with the control on conversion \
                     (a sale within --window-days) and revenue per customer: difference, lift, \
                     interval, p-value (Holm-adjusted over the variants), an always-valid \
                     p-value for tests looked at early, the sample-ratio check and the sample \
                     size needed to detect --mde.",
        area: Area::Campaigns,
        stores: None,
        progress: "comparing the variants",
    };
    async fn run(engine: &Engine, p: &AbtestOptions) -> Result<Analysis, AnalyticsError> {
        abtest(engine, p).await
    }
}

/// One complete assignment.
struct Unit {
    converted: bool,
    revenue: f64,
}

async fn abtest(engine: &Engine, p: &AbtestOptions) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("experiments") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no experiments table (experiment_id, customer_id, variant, \
             assigned_at): ingest one to analyse A/B tests and holdouts"
                .into(),
        ));
    }
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no orders table to take conversions from".into(),
        ));
    }
    let w = p.window_days;
    let filter = p
        .experiment
        .as_deref()
        .map(|e| format!("WHERE experiment_id = {}", sql_str(e)))
        .unwrap_or_default();
    let sql = format!(
        "WITH a AS (SELECT experiment_id, customer_id, variant, CAST(assigned_at AS DATE) AS d FROM experiments {filter}),
         last AS (SELECT MAX(order_date) AS m FROM sales),
         o AS (SELECT a.experiment_id, a.customer_id, a.variant, a.d,
                      COUNT(s.order_id) AS n, COALESCE(SUM(s.total_amount), 0) AS revenue
               FROM a LEFT JOIN sales s ON s.customer_id = a.customer_id
                    AND s.order_date >= a.d AND s.order_date < a.d + INTERVAL '{w} days'
               GROUP BY a.experiment_id, a.customer_id, a.variant, a.d)
         SELECT o.experiment_id, o.variant, o.customer_id, CAST(o.n AS DOUBLE) AS n, CAST(o.revenue AS DOUBLE) AS revenue,
                CAST(CASE WHEN last.m IS NOT NULL AND o.d + INTERVAL '{w} days' <= last.m + INTERVAL '1 day' THEN 1 ELSE 0 END AS DOUBLE) AS complete
         FROM o CROSS JOIN last
         ORDER BY o.experiment_id, o.variant, o.customer_id"
    );
    let batches = engine.query(&sql).await?;
    // experiment → variant → units (in customer order, so that the seeded bootstrap draws the
    // same resamples on every run); incomplete assignments counted per experiment.
    let mut data: BTreeMap<String, BTreeMap<String, Vec<Unit>>> = BTreeMap::new();
    let mut incomplete: BTreeMap<String, usize> = BTreeMap::new();
    let mut unnamed = 0usize;
    for b in &batches {
        let (e, v) = (str_col(b, "experiment_id"), str_col(b, "variant"));
        let (n, rev, done) = (
            f64_col(b, "n"),
            f64_col(b, "revenue"),
            f64_col(b, "complete"),
        );
        for i in 0..b.num_rows() {
            if e.is_null(i) || v.is_null(i) {
                unnamed += 1;
                continue;
            }
            let exp = e.value(i).to_string();
            if done.value(i) < 0.5 {
                *incomplete.entry(exp).or_default() += 1;
                continue;
            }
            data.entry(exp)
                .or_default()
                .entry(v.value(i).to_string())
                .or_default()
                .push(Unit {
                    converted: n.value(i) > 0.0,
                    revenue: rev.value(i),
                });
        }
    }
    let mut a = Analysis::of(&Abtest::DEF, "A/B tests");
    a.param("window_days", w);
    a.param("control", &p.control);
    a.param("level", p.level);
    a.param("mde", p.mde);
    a.param("power", p.power);
    if let Some(s) = p.control_share {
        a.param("control_share", s);
    }
    if let Some(e) = &p.experiment {
        a.param("experiment", e);
        if data.is_empty() && !incomplete.contains_key(e) {
            return Err(AnalyticsError::Usage(format!(
                "no experiment '{e}' in the experiments table"
            )));
        }
    }
    if unnamed > 0 {
        a.notes.push(format!(
            "{unnamed} assignments without an experiment or a variant were left out"
        ));
    }
    for (e, k) in &incomplete {
        a.notes.push(format!(
            "{e}: {k} assignments were left out: their {w}-day window had not ended by the last \
             sale in the data"
        ));
    }
    if data.is_empty() {
        return Err(AnalyticsError::MissingData(format!(
            "no assignment has a complete {w}-day window before the last sale in the data"
        )));
    }

    let mut v = VariantRows::default();
    let mut x = ExperimentRows::default();
    let alpha = 1.0 - p.level;
    for (exp, variants) in &data {
        let control = if variants.contains_key(&p.control) {
            p.control.clone()
        } else {
            let first = variants.keys().next().cloned().unwrap_or_default();
            a.notes.push(format!(
                "{exp}: no variant is named '{}': '{first}' is the control",
                p.control
            ));
            first
        };
        let arm = |units: &[Unit]| Proportion {
            successes: units.iter().filter(|u| u.converted).count() as f64,
            trials: units.len() as f64,
        };
        let revenue = |units: &[Unit]| units.iter().map(|u| u.revenue).collect::<Vec<f64>>();
        let base = &variants[&control];
        let base_arm = arm(base);
        let base_rev = revenue(base);
        let base_rate = base_arm.successes / base_arm.trials;
        // Conversion p-values of the variants, Holm-adjusted together below.
        let mut raw = Vec::new();
        for (name, units) in variants {
            let is_control = *name == control;
            let this = arm(units);
            let rev = revenue(units);
            v.experiment.push(Some(exp.clone()));
            v.variant.push(Some(name.clone()));
            v.role
                .push(Some(if is_control { "control" } else { "variant" }.into()));
            v.customers.push(Some(this.trials));
            v.conversions.push(Some(this.successes));
            v.rate.push(Some(this.successes / this.trials));
            v.revenue_per_customer
                .push(Some(rev.iter().sum::<f64>() / rev.len() as f64));
            if is_control {
                v.push_none();
                raw.push(None);
                continue;
            }
            let t = abtest::two_proportions(base_arm, this, p.level).ok();
            raw.push(t.as_ref().map(|t| t.p_value));
            v.difference.push(t.as_ref().map(|t| t.difference));
            v.lift
                .push(t.as_ref().map(|t| t.lift).filter(|l| l.is_finite()));
            v.lower.push(t.as_ref().map(|t| t.lower));
            v.upper.push(t.as_ref().map(|t| t.upper));
            v.p_value.push(t.as_ref().map(|t| t.p_value));
            let tau2 = (p.mde * base_rate.max(1e-6)).powi(2);
            let s = abtest::msprt_proportions(base_arm, this, tau2, p.level).ok();
            v.always_valid_p.push(s.map(|s| s.always_valid_p));
            let m = abtest::welch(&base_rev, &rev, p.level).ok();
            v.revenue_difference.push(m.as_ref().map(|m| m.difference));
            v.revenue_lift
                .push(m.as_ref().map(|m| m.lift).filter(|l| l.is_finite()));
            v.revenue_p_value.push(m.as_ref().map(|m| m.p_value));
            let seed = 0x00ab_7e57 ^ (v.len() as u64);
            let bands =
                abtest::bootstrap_difference(&base_rev, &rev, p.level, p.bootstrap, seed).ok();
            v.revenue_lower.push(bands.map(|b| b.0));
            v.revenue_upper.push(bands.map(|b| b.1));
        }
        let present: Vec<f64> = raw.iter().flatten().copied().collect();
        let adjusted = abtest::holm(&present);
        let mut next = adjusted.into_iter();
        for r in &raw {
            let adj = r.and_then(|_| next.next());
            v.p_holm.push(adj);
            v.significant.push(Some(
                match adj {
                    Some(q) if q < alpha => "yes",
                    Some(_) => "no",
                    None => "",
                }
                .into(),
            ));
        }
        let sizes: Vec<f64> = variants.values().map(|u| u.len() as f64).collect();
        let others = (variants.len() as f64 - 1.0).max(1.0);
        let shares: Vec<f64> = variants
            .keys()
            .map(|name| match p.control_share {
                None => 1.0,
                Some(s) if *name == control => s,
                Some(s) => (1.0 - s) / others,
            })
            .collect();
        let srm = abtest::sample_ratio_mismatch(&sizes, &shares)
            .ok()
            .map(|s| s.1);
        if srm.is_some_and(|q| q < 0.001) {
            a.notes.push(format!(
                "{exp}: the variants' sizes are far from the {} split (sample-ratio p = {:.2e}): \
                 check the assignment before reading the results",
                match p.control_share {
                    None => "even".to_string(),
                    Some(s) => format!("{:.0} % control", s * 100.0),
                },
                srm.unwrap_or(0.0)
            ));
        }
        let needed = abtest::sample_size_proportions(base_rate, p.mde, alpha, p.power)
            .ok()
            .map(f64::ceil);
        let smallest = sizes.iter().copied().fold(f64::INFINITY, f64::min);
        x.experiment.push(Some(exp.clone()));
        x.control.push(Some(control.clone()));
        x.variants.push(Some(variants.len() as f64));
        x.customers.push(Some(sizes.iter().sum()));
        x.smallest_arm.push(Some(smallest));
        x.needed.push(needed);
        x.srm.push(srm);
        x.incomplete
            .push(Some(incomplete.get(exp).copied().unwrap_or(0) as f64));
        if variants.len() < 2 {
            a.notes
                .push(format!("{exp}: only one variant, nothing to compare"));
        }
    }
    a.title = format!("A/B tests: conversion within {w} days and revenue per customer");
    a.table(
        "variants",
        "Each variant against its experiment's control",
        v.batch(),
    );
    a.table(
        "experiments",
        "Experiments: sizes, sample-ratio check and sample needed",
        x.batch(),
    );
    a.fact("experiments", data.len());
    a.fact("window_days", w);
    a.fact("level", p.level);
    a.fact(
        "definitions",
        json!({
            "conversion": format!("a sale dated within {w} days from the assignment day"),
            "p_value": "pooled two-sided z-test of the conversion rates",
            "p_value_holm": "Holm-adjusted over the experiment's variants",
            "always_valid_p": "mixture SPRT, normal mixing variance (mde × control rate)²",
            "revenue_p_value": "Welch's t-test of revenue per customer",
            "revenue_lower/upper": "percentile bootstrap of the difference in revenue per customer",
            "srm_p_value": "χ² test of the variant sizes against the design's split (even, or --control-share)",
        }),
    );
    Ok(a)
}

/// The `variants` table, column by column.
#[derive(Default)]
struct VariantRows {
    experiment: Vec<Option<String>>,
    variant: Vec<Option<String>>,
    role: Vec<Option<String>>,
    customers: Vec<Option<f64>>,
    conversions: Vec<Option<f64>>,
    rate: Vec<Option<f64>>,
    difference: Vec<Option<f64>>,
    lift: Vec<Option<f64>>,
    lower: Vec<Option<f64>>,
    upper: Vec<Option<f64>>,
    p_value: Vec<Option<f64>>,
    p_holm: Vec<Option<f64>>,
    significant: Vec<Option<String>>,
    always_valid_p: Vec<Option<f64>>,
    revenue_per_customer: Vec<Option<f64>>,
    revenue_difference: Vec<Option<f64>>,
    revenue_lift: Vec<Option<f64>>,
    revenue_lower: Vec<Option<f64>>,
    revenue_upper: Vec<Option<f64>>,
    revenue_p_value: Vec<Option<f64>>,
}

impl VariantRows {
    fn len(&self) -> usize {
        self.variant.len()
    }

    /// The comparison columns of the control's own row (the Holm and significance columns
    /// are filled per experiment afterwards).
    fn push_none(&mut self) {
        for c in [
            &mut self.difference,
            &mut self.lift,
            &mut self.lower,
            &mut self.upper,
            &mut self.p_value,
            &mut self.always_valid_p,
            &mut self.revenue_difference,
            &mut self.revenue_lift,
            &mut self.revenue_lower,
            &mut self.revenue_upper,
            &mut self.revenue_p_value,
        ] {
            c.push(None);
        }
    }

    fn batch(self) -> arrow::array::RecordBatch {
        Columns::default()
            .text("experiment_id", self.experiment)
            .text("variant", self.variant)
            .text("role", self.role)
            .num("customers", self.customers)
            .num("conversions", self.conversions)
            .num("conversion_rate", self.rate)
            .num("difference", self.difference)
            .num("lift", self.lift)
            .num("ci_lower", self.lower)
            .num("ci_upper", self.upper)
            .num("p_value", self.p_value)
            .num("p_value_holm", self.p_holm)
            .text("significant", self.significant)
            .num("always_valid_p", self.always_valid_p)
            .num("revenue_per_customer", self.revenue_per_customer)
            .num("revenue_difference", self.revenue_difference)
            .num("revenue_lift", self.revenue_lift)
            .num("revenue_ci_lower", self.revenue_lower)
            .num("revenue_ci_upper", self.revenue_upper)
            .num("revenue_p_value", self.revenue_p_value)
            .batch()
    }
}

/// The `experiments` table.
#[derive(Default)]
struct ExperimentRows {
    experiment: Vec<Option<String>>,
    control: Vec<Option<String>>,
    variants: Vec<Option<f64>>,
    customers: Vec<Option<f64>>,
    smallest_arm: Vec<Option<f64>>,
    needed: Vec<Option<f64>>,
    srm: Vec<Option<f64>>,
    incomplete: Vec<Option<f64>>,
}

impl ExperimentRows {
    fn batch(self) -> arrow::array::RecordBatch {
        Columns::default()
            .text("experiment_id", self.experiment)
            .text("control", self.control)
            .num("variants", self.variants)
            .num("customers", self.customers)
            .num("smallest_arm", self.smallest_arm)
            .num("needed_per_arm", self.needed)
            .num("srm_p_value", self.srm)
            .num("incomplete", self.incomplete)
            .batch()
    }
}
