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
//!   the relative lift has the log (Katz) interval of the ratio of rates, minus one (empty
//!   when either arm has no conversion);
//! - **revenue per customer**: the difference of means with Welch's p-value and a percentile
//!   bootstrap interval (revenue is heavy-tailed: the bootstrap does not assume normality);
//! - **orders per customer**: the sales in the window per assignment, the difference of means
//!   with Welch's interval and p-value;
//! - **sample-ratio mismatch**: the χ² test of the variants' sizes against the design's split
//!   (even, or `--control-share` for the control and the rest evenly); a
//!   p-value below 0.001 means the assignment itself is suspect, and the results should not
//!   be read;
//! - **needed per arm**: customers per arm to detect a relative lift of `--mde` at the
//!   control's rate with two-sided level 1 − `--level` and power `--power`.

use std::collections::BTreeMap;

use arrow::array::Array;
use clientele_models::abtest::{self, MeanTest, Proportion, ProportionTest};
use serde_json::json;

use crate::analyses::analysis::Analysis;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Rows, f64_col, sql_str, str_col};
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
                     (a sale within --window-days), revenue and orders per customer: difference, lift, \
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
    orders: f64,
}

/// A variant against the control (all empty for the control itself, and each empty where
/// its test cannot be computed).
#[derive(Default)]
struct Comparison {
    /// Two-proportion test of the conversion rates.
    conversion: Option<ProportionTest>,
    /// Always-valid (mSPRT) p-value of the conversion difference.
    always_valid_p: Option<f64>,
    /// Welch test of revenue per customer, and the bootstrap interval of its difference.
    revenue: Option<MeanTest>,
    revenue_band: Option<(f64, f64)>,
    /// Welch test of orders per customer.
    orders: Option<MeanTest>,
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
                    orders: n.value(i),
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

    let (text, num) = (true, false);
    let mut v = Rows::new(&[
        ("experiment_id", text),
        ("variant", text),
        ("role", text),
        ("customers", num),
        ("conversions", num),
        ("conversion_rate", num),
        ("difference", num),
        ("lift", num),
        ("ci_lower", num),
        ("ci_upper", num),
        ("p_value", num),
        ("p_value_holm", num),
        ("significant", text),
        ("always_valid_p", num),
        ("revenue_per_customer", num),
        ("revenue_difference", num),
        ("revenue_lift", num),
        ("revenue_ci_lower", num),
        ("revenue_ci_upper", num),
        ("revenue_p_value", num),
        ("lift_ci_lower", num),
        ("lift_ci_upper", num),
        ("orders_per_customer", num),
        ("orders_difference", num),
        ("orders_lift", num),
        ("orders_ci_lower", num),
        ("orders_ci_upper", num),
        ("orders_p_value", num),
    ]);
    let mut x = Rows::new(&[
        ("experiment_id", text),
        ("control", text),
        ("variants", num),
        ("customers", num),
        ("smallest_arm", num),
        ("needed_per_arm", num),
        ("srm_p_value", num),
        ("incomplete", num),
    ]);
    let alpha = 1.0 - p.level;
    // Rows written so far: the bootstrap of each comparison has a seed of its own.
    let mut written = 0u64;
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
        let orders = |units: &[Unit]| units.iter().map(|u| u.orders).collect::<Vec<f64>>();
        let base = &variants[&control];
        let base_arm = arm(base);
        let base_rev = revenue(base);
        let base_orders = orders(base);
        let base_rate = base_arm.successes / base_arm.trials;
        // Each variant against the control (none for the control itself); the conversion
        // p-values are Holm-adjusted together before the rows are written.
        let compared: Vec<Comparison> = variants
            .iter()
            .map(|(name, units)| {
                written += 1;
                if *name == control {
                    return Comparison::default();
                }
                let this = arm(units);
                let rev = revenue(units);
                let tau2 = (p.mde * base_rate.max(1e-6)).powi(2);
                let seed = 0x00ab_7e57 ^ written;
                Comparison {
                    conversion: abtest::two_proportions(base_arm, this, p.level).ok(),
                    always_valid_p: abtest::msprt_proportions(base_arm, this, tau2, p.level)
                        .ok()
                        .map(|s| s.always_valid_p),
                    revenue: abtest::welch(&base_rev, &rev, p.level).ok(),
                    revenue_band: abtest::bootstrap_difference(
                        &base_rev,
                        &rev,
                        p.level,
                        p.bootstrap,
                        seed,
                    )
                    .ok(),
                    orders: abtest::welch(&base_orders, &orders(units), p.level).ok(),
                }
            })
            .collect();
        let raw: Vec<f64> = compared
            .iter()
            .filter_map(|c| c.conversion.as_ref().map(|t| t.p_value))
            .collect();
        let mut adjusted = abtest::holm(&raw).into_iter();
        for ((name, units), c) in variants.iter().zip(&compared) {
            let this = arm(units);
            v.text("experiment_id", Some(exp.clone()));
            v.text("variant", Some(name.clone()));
            let role = if *name == control {
                "control"
            } else {
                "variant"
            };
            v.text("role", Some(role.into()));
            v.num("customers", Some(this.trials));
            v.num("conversions", Some(this.successes));
            v.num("conversion_rate", Some(this.successes / this.trials));
            let (t, s, m, bands, o) = (
                c.conversion.as_ref(),
                c.always_valid_p,
                c.revenue.as_ref(),
                c.revenue_band,
                c.orders.as_ref(),
            );
            let finite = |x: f64| Some(x).filter(|x| x.is_finite());
            v.num("difference", t.map(|t| t.difference));
            v.num("lift", t.and_then(|t| finite(t.lift)));
            v.num("ci_lower", t.map(|t| t.lower));
            v.num("ci_upper", t.map(|t| t.upper));
            v.num("p_value", t.map(|t| t.p_value));
            let holm = t.and_then(|_| adjusted.next());
            v.num("p_value_holm", holm);
            let significant = match holm {
                Some(q) if q < alpha => "yes",
                Some(_) => "no",
                None => "",
            };
            v.text("significant", Some(significant.into()));
            v.num("always_valid_p", s);
            v.num(
                "revenue_per_customer",
                Some(units.iter().map(|u| u.revenue).sum::<f64>() / units.len() as f64),
            );
            v.num("revenue_difference", m.map(|m| m.difference));
            v.num("revenue_lift", m.and_then(|m| finite(m.lift)));
            v.num("revenue_ci_lower", bands.map(|b| b.0));
            v.num("revenue_ci_upper", bands.map(|b| b.1));
            v.num("revenue_p_value", m.map(|m| m.p_value));
            v.num("lift_ci_lower", t.and_then(|t| finite(t.lift_lower)));
            v.num("lift_ci_upper", t.and_then(|t| finite(t.lift_upper)));
            v.num(
                "orders_per_customer",
                Some(units.iter().map(|u| u.orders).sum::<f64>() / units.len() as f64),
            );
            v.num("orders_difference", o.map(|o| o.difference));
            v.num("orders_lift", o.and_then(|o| finite(o.lift)));
            v.num("orders_ci_lower", o.map(|o| o.lower));
            v.num("orders_ci_upper", o.map(|o| o.upper));
            v.num("orders_p_value", o.map(|o| o.p_value));
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
        x.text("experiment_id", Some(exp.clone()));
        x.text("control", Some(control.clone()));
        x.num("variants", Some(variants.len() as f64));
        x.num("customers", Some(sizes.iter().sum()));
        x.num("smallest_arm", Some(smallest));
        x.num("needed_per_arm", needed);
        x.num("srm_p_value", srm);
        x.num(
            "incomplete",
            Some(incomplete.get(exp).copied().unwrap_or(0) as f64),
        );
        if variants.len() < 2 {
            a.notes
                .push(format!("{exp}: only one variant, nothing to compare"));
        }
    }
    a.title = format!("A/B tests: conversion, revenue and orders per customer within {w} days");
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
            "lift_ci_lower/upper": "log (Katz) interval of the ratio of conversion rates, minus one",
            "orders_p_value": "Welch's t-test of sales per customer in the window, with its interval",
            "srm_p_value": "χ² test of the variant sizes against the design's split (even, or --control-share)",
        }),
    );
    Ok(a)
}
