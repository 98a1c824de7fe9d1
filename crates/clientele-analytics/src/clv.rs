//! Customer lifetime value: a purchase-process model (BG/NBD or Pareto/NBD) and a spend model
//! (Gamma-Gamma) fitted to the orders, then each customer's P(alive), expected purchases,
//! expected spend and discounted value over a horizon.
//!
//! Definitions (also in docs/analyses.md):
//! - a **transaction** is a (customer, day) with at least one order of any status: orders on
//!   the same day count as one purchase and their amounts are added;
//! - **x** is the number of repeat transactions (after the first) up to and including the
//!   calibration end, **t_x** the time from the first to the last of them, **T** the time from
//!   the first transaction to the calibration end, in the chosen time unit (a week = 7 days, a
//!   month = 365.25/12 days);
//! - the **spend** of a customer is the mean value of their repeat transactions (the first
//!   purchase is left out, as in Fader, Hardie & Lee's Gamma-Gamma);
//! - **CLV** is margin × expected spend × expected purchases per time unit, discounted at the
//!   annual rate, summed over the horizon (see `clientele_models::btyd::clv`);
//! - with a calibration end before the last order, the orders after it form the **holdout**:
//!   predicted purchases over the holdout length are compared with the actual ones.

use std::collections::HashMap;
use std::str::FromStr;

use arrow::array::Array;
use chrono::NaiveDate;
use clientele_models::btyd::{self, PurchaseModelKind, Summary};

use rayon::prelude::*;

use crate::analysis::{Analysis, report};
use crate::util::{Columns, f64_col, str_col};
use crate::{AnalyticsError, Engine};

/// The unit of model time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeUnit {
    /// Days.
    Day,
    /// Weeks of 7 days (the default, as in the literature).
    Week,
    /// Months of 365.25/12 days.
    Month,
}

impl FromStr for TimeUnit {
    type Err = AnalyticsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" | "days" => Ok(TimeUnit::Day),
            "week" | "weeks" => Ok(TimeUnit::Week),
            "month" | "months" => Ok(TimeUnit::Month),
            other => Err(AnalyticsError::Usage(format!(
                "unknown time unit '{other}': expected day, week or month"
            ))),
        }
    }
}

impl TimeUnit {
    /// Days in one unit.
    pub fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => 365.25 / 12.0,
        }
    }

    /// Units in a year.
    pub fn per_year(self) -> f64 {
        365.25 / self.days()
    }

    fn name(self) -> &'static str {
        match self {
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
        }
    }
}

/// Which purchase model to fit.
pub fn parse_model(s: &str) -> Result<PurchaseModelKind, AnalyticsError> {
    match s
        .trim()
        .to_ascii_lowercase()
        .replace(['/', '-', '_'], "")
        .as_str()
    {
        "bgnbd" => Ok(PurchaseModelKind::BgNbd),
        "pnbd" | "paretonbd" => Ok(PurchaseModelKind::ParetoNbd),
        other => Err(AnalyticsError::Usage(format!(
            "unknown model '{other}': expected bgnbd or pnbd"
        ))),
    }
}

/// Parameters of the CLV analysis.
#[derive(Debug, Clone)]
pub struct ClvOptions {
    /// Purchase model.
    pub model: PurchaseModelKind,
    /// Last day of the calibration period; default the last order's day (no holdout).
    pub calibration_end: Option<NaiveDate>,
    /// Model time unit.
    pub time_unit: TimeUnit,
    /// Horizon of the predictions and CLV, in time units; default one year.
    pub horizon: Option<f64>,
    /// Annual discount rate (0.10 = 10 %).
    pub discount_rate: f64,
    /// Share of revenue that is profit (1 = value in revenue).
    pub margin: f64,
}

impl Default for ClvOptions {
    fn default() -> Self {
        ClvOptions {
            model: PurchaseModelKind::BgNbd,
            calibration_end: None,
            time_unit: TimeUnit::Week,
            horizon: None,
            discount_rate: 0.10,
            margin: 1.0,
        }
    }
}

/// Per-customer transaction summary read from the orders.
struct History {
    ids: Vec<String>,
    summaries: Vec<Summary>,
    /// Mean value of repeat transactions (0 when none).
    spend: Vec<f64>,
    holdout_x: Vec<f64>,
    holdout_value: Vec<f64>,
}

async fn history(engine: &Engine, end: i32, unit: f64) -> Result<History, AnalyticsError> {
    let sql = format!(
        "WITH d AS (SELECT customer_id, CAST(order_date AS INT) AS day, SUM(total_amount) AS v
                    FROM orders GROUP BY customer_id, CAST(order_date AS INT)),
         f AS (SELECT customer_id, MIN(day) AS first FROM d GROUP BY customer_id)
         SELECT d.customer_id, f.first,
                SUM(CASE WHEN d.day <= {end} THEN 1 ELSE 0 END) - 1 AS x,
                MAX(CASE WHEN d.day <= {end} THEN d.day END) AS last,
                SUM(CASE WHEN d.day <= {end} AND d.day > f.first THEN d.v ELSE 0 END) AS repeat_value,
                SUM(CASE WHEN d.day > {end} THEN 1 ELSE 0 END) AS holdout_x,
                SUM(CASE WHEN d.day > {end} THEN d.v ELSE 0 END) AS holdout_value
         FROM d JOIN f ON d.customer_id = f.customer_id
         WHERE f.first <= {end}
         GROUP BY d.customer_id, f.first ORDER BY d.customer_id"
    );
    let batches = engine.query(&sql).await?;
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut h = History {
        ids: Vec::with_capacity(n),
        summaries: Vec::with_capacity(n),
        spend: Vec::with_capacity(n),
        holdout_x: Vec::with_capacity(n),
        holdout_value: Vec::with_capacity(n),
    };
    for b in &batches {
        let id = str_col(b, "customer_id");
        let (first, x, last, rv, hx, hv) = (
            f64_col(b, "first"),
            f64_col(b, "x"),
            f64_col(b, "last"),
            f64_col(b, "repeat_value"),
            f64_col(b, "holdout_x"),
            f64_col(b, "holdout_value"),
        );
        for i in 0..b.num_rows() {
            h.ids.push(id.value(i).to_string());
            let xi = x.value(i);
            h.summaries.push(Summary {
                x: xi,
                t_x: (last.value(i) - first.value(i)) / unit,
                t: (end as f64 - first.value(i)) / unit,
            });
            h.spend.push(if xi > 0.0 && !rv.is_null(i) {
                rv.value(i) / xi
            } else {
                0.0
            });
            h.holdout_x.push(hx.value(i));
            h.holdout_value.push(hv.value(i));
        }
    }
    Ok(h)
}

/// Fits the CLV models and scores every customer.
pub async fn clv(engine: &Engine, options: &ClvOptions) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no orders table; lifetime value is estimated from orders".into(),
        ));
    }
    if !(options.margin > 0.0 && options.margin <= 1.0) {
        return Err(AnalyticsError::Usage(format!(
            "--margin must be in (0, 1], got {}",
            options.margin
        )));
    }
    if !(0.0..=1.0).contains(&options.discount_rate) {
        return Err(AnalyticsError::Usage(format!(
            "--discount-rate is an annual rate in [0, 1], got {}",
            options.discount_rate
        )));
    }
    let bounds = engine
        .query("SELECT CAST(MIN(order_date) AS INT) AS lo, CAST(MAX(order_date) AS INT) AS hi FROM orders")
        .await?;
    let (lo, hi) = match bounds.iter().find(|b| b.num_rows() > 0) {
        Some(b) if !b.column(0).is_null(0) => (
            f64_col(b, "lo").value(0) as i32,
            f64_col(b, "hi").value(0) as i32,
        ),
        _ => {
            return Err(AnalyticsError::MissingData(
                "the orders table is empty: there is nothing to fit".into(),
            ));
        }
    };
    let end = match options.calibration_end {
        Some(d) => clientele_schema::date_to_days(d),
        None => hi,
    };
    let day = clientele_schema::days_to_date;
    if end < lo {
        return Err(AnalyticsError::Usage(format!(
            "--calibration-end {} is before the first order ({})",
            day(end),
            day(lo)
        )));
    }
    let unit = options.time_unit;
    let horizon = options.horizon.unwrap_or(unit.per_year().round());
    if !(horizon > 0.0 && horizon.is_finite()) {
        return Err(AnalyticsError::Usage(format!(
            "--horizon must be a positive number of {}s, got {horizon}",
            unit.name()
        )));
    }
    let h = history(engine, end, unit.days()).await?;
    let mut a = Analysis::new("clv", "Customer lifetime value");
    let kind_name = match options.model {
        PurchaseModelKind::BgNbd => "bgnbd",
        PurchaseModelKind::ParetoNbd => "pnbd",
    };
    a.param("model", kind_name);
    a.param("calibration_end", day(end));
    a.param("time_unit", unit.name());
    a.param("horizon", horizon);
    a.param("discount_rate", options.discount_rate);
    a.param("margin", options.margin);

    let fit = btyd::fit_purchase(options.model, &h.summaries)
        .map_err(|e| AnalyticsError::Model(format!("cannot fit the purchase model: {e}")))?;
    let repeat: Vec<usize> = (0..h.ids.len())
        .filter(|&i| h.summaries[i].x > 0.0)
        .collect();
    let spend_fit = btyd::fit_gamma_gamma(
        &repeat.iter().map(|&i| h.summaries[i].x).collect::<Vec<_>>(),
        &repeat.iter().map(|&i| h.spend[i]).collect::<Vec<_>>(),
    );
    let spend_fit = match spend_fit {
        Ok(s) => Some(s),
        Err(e) => {
            a.notes.push(format!(
                "the spend model could not be fitted ({e}): CLV is left empty"
            ));
            None
        }
    };

    // Per purchase pattern, in parallel: customers with the same (x, t_x, T) share P(alive),
    // expected purchases and the discounted purchase sum (CLV is that sum × spend × margin),
    // and the sum evaluates the model once per time step.
    let mut pattern_of: HashMap<[u64; 3], usize> = HashMap::new();
    let mut patterns: Vec<Summary> = Vec::new();
    let index: Vec<usize> = h
        .summaries
        .iter()
        .map(|c| {
            *pattern_of
                .entry([c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits()])
                .or_insert_with(|| {
                    patterns.push(*c);
                    patterns.len() - 1
                })
        })
        .collect();
    drop(pattern_of);
    let per_pattern: Vec<(f64, f64, f64)> = patterns
        .par_iter()
        .map(|c| -> Result<(f64, f64, f64), AnalyticsError> {
            let unit_value = btyd::clv(
                &fit.model,
                c,
                1.0,
                horizon,
                unit.per_year(),
                options.discount_rate,
                1.0,
            )
            .map_err(|e| AnalyticsError::Usage(e.to_string()))?;
            Ok((
                fit.model.p_alive(c),
                fit.model.expected_purchases(c, horizon),
                unit_value,
            ))
        })
        .collect::<Result<_, _>>()?;
    let n = h.ids.len();
    type Scores = (Option<f64>, Option<f64>, Option<f64>, Option<f64>);
    let scored: Vec<Scores> = (0..n)
        .map(|i| {
            let (alive, purchases, unit_value) = per_pattern[index[i]];
            let s = spend_fit
                .as_ref()
                .map(|g| g.model.expected_spend(h.summaries[i].x, h.spend[i]));
            (
                Some(alive),
                Some(purchases),
                s,
                s.map(|s| options.margin * s * unit_value),
            )
        })
        .collect();
    let p_alive: Vec<Option<f64>> = scored.iter().map(|s| s.0).collect();
    let expected: Vec<Option<f64>> = scored.iter().map(|s| s.1).collect();
    let spend: Vec<Option<f64>> = scored.iter().map(|s| s.2).collect();
    let value: Vec<Option<f64>> = scored.iter().map(|s| s.3).collect();
    drop(scored);

    // Facts and the parameter table.
    a.fact("model", kind_name);
    let params: serde_json::Map<String, serde_json::Value> = fit
        .model
        .params()
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    a.fact("params", &params);
    a.fact(
        "std_errors",
        fit.std_errors
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(finite(*v))))
            .collect::<serde_json::Map<_, _>>(),
    );
    a.fact("log_likelihood", fit.log_likelihood);
    a.fact("n_customers", n);
    a.fact("n_repeat_buyers", repeat.len());
    a.fact("n_patterns", fit.n_patterns);
    a.fact("time_unit", unit.name());
    a.fact("calibration_end", day(end).to_string());
    a.fact("horizon", horizon);
    a.fact("discount_rate", options.discount_rate);
    a.fact("margin", options.margin);
    let mut pname = Vec::new();
    let mut pval = Vec::new();
    let mut pse = Vec::new();
    for ((k, v), (_, se)) in fit.model.params().into_iter().zip(&fit.std_errors) {
        pname.push(Some(k.to_string()));
        pval.push(Some(v));
        pse.push(finite(*se));
    }
    if let Some(g) = &spend_fit {
        a.fact(
            "spend",
            serde_json::json!({"model": "gamma-gamma", "p": g.model.p, "q": g.model.q, "gamma": g.model.gamma,
                "log_likelihood": g.log_likelihood, "n_customers": g.n_customers,
                "std_errors": g.std_errors.iter().map(|(k, v)| (k.to_string(), serde_json::json!(finite(*v)))).collect::<serde_json::Map<_, _>>()}),
        );
        for ((k, v), (_, se)) in [("p", g.model.p), ("q", g.model.q), ("gamma", g.model.gamma)]
            .into_iter()
            .zip(&g.std_errors)
        {
            pname.push(Some(format!("spend {k}")));
            pval.push(Some(v));
            pse.push(finite(*se));
        }
    }
    a.table(
        "parameters",
        &format!(
            "{} fitted on {n} customers (calibration to {}, {}s), log-likelihood {:.1}",
            match options.model {
                PurchaseModelKind::BgNbd => "BG/NBD",
                PurchaseModelKind::ParetoNbd => "Pareto/NBD",
            },
            day(end),
            unit.name(),
            fit.log_likelihood
        ),
        Columns::default()
            .text("parameter", pname)
            .num("estimate", pval)
            .num("std_error", pse)
            .batch(),
    );
    let total_clv: f64 = value.iter().flatten().sum();
    let mean_p_alive = p_alive.iter().flatten().sum::<f64>() / n.max(1) as f64;
    a.fact("total_clv", spend_fit.as_ref().map(|_| total_clv));
    a.fact("mean_p_alive", mean_p_alive);

    // Holdout.
    let holdout_len = (hi - end) as f64 / unit.days();
    let mut holdout_pred = vec![None; n];
    if hi > end {
        let pred: Vec<f64> = h
            .summaries
            .par_iter()
            .map(|c| fit.model.expected_purchases(c, holdout_len))
            .collect();
        let actual_total: f64 = h.holdout_x.iter().sum();
        let pred_total: f64 = pred.iter().sum();
        let mae = pred
            .iter()
            .zip(&h.holdout_x)
            .map(|(p, a)| (p - a).abs())
            .sum::<f64>()
            / n.max(1) as f64;
        let mut buckets = [(0usize, 0.0, 0.0); 8];
        for ((c, actual), predicted) in h.summaries.iter().zip(&h.holdout_x).zip(&pred) {
            let b = (c.x as usize).min(7);
            buckets[b].0 += 1;
            buckets[b].1 += actual;
            buckets[b].2 += predicted;
        }
        let rows: Vec<_> = buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.0 > 0)
            .collect();
        a.table(
            "holdout_by_frequency",
            &format!(
                "Holdout {} to {} ({holdout_len:.1} {}s): mean purchases per customer by calibration repeat purchases",
                day(end + 1),
                day(hi),
                unit.name()
            ),
            Columns::default()
                .text(
                    "repeat_purchases",
                    rows.iter()
                        .map(|(k, _)| Some(if *k == 7 { "7+".into() } else { k.to_string() }))
                        .collect(),
                )
                .num("customers", rows.iter().map(|(_, b)| Some(b.0 as f64)).collect())
                .num("actual", rows.iter().map(|(_, b)| Some(b.1 / b.0 as f64)).collect())
                .num("predicted", rows.iter().map(|(_, b)| Some(b.2 / b.0 as f64)).collect())
                .batch(),
        );
        a.fact(
            "holdout",
            serde_json::json!({
                "start": day(end + 1).to_string(), "end": day(hi).to_string(), "length": holdout_len,
                "actual_purchases": actual_total, "predicted_purchases": pred_total,
                "error_pct": if actual_total > 0.0 { Some(100.0 * (pred_total - actual_total) / actual_total) } else { None },
                "mae_per_customer": mae,
                "by_frequency": rows.iter().map(|(k, b)| serde_json::json!({
                    "repeat_purchases": if *k == 7 { "7+".to_string() } else { k.to_string() },
                    "customers": b.0, "actual": b.1 / b.0 as f64, "predicted": b.2 / b.0 as f64})).collect::<Vec<_>>(),
            }),
        );
        for (slot, p) in holdout_pred.iter_mut().zip(pred) {
            *slot = Some(p);
        }
    } else {
        a.notes.push(
            "no holdout: the calibration period ends at the last order (give --calibration-end to test the model on later orders)".into(),
        );
    }

    let mut cols = Columns::default()
        .text(
            "customer_id",
            h.ids.iter().map(|s| Some(s.clone())).collect(),
        )
        .num(
            "clv_repeat_purchases",
            h.summaries.iter().map(|c| Some(c.x)).collect(),
        )
        .num(
            "clv_recency",
            h.summaries.iter().map(|c| Some(c.t_x)).collect(),
        )
        .num("clv_age", h.summaries.iter().map(|c| Some(c.t)).collect())
        .num("p_alive", p_alive)
        .num("expected_purchases", expected)
        .num("expected_spend", spend)
        .num("clv", value);
    if hi > end {
        cols = cols
            .num(
                "holdout_purchases",
                h.holdout_x.iter().map(|v| Some(*v)).collect(),
            )
            .num("holdout_predicted", holdout_pred)
            .num(
                "holdout_revenue",
                h.holdout_value.iter().map(|v| Some(*v)).collect(),
            );
    }
    let rows = report("clv_customers", "Lifetime value per customer", cols.batch());
    a.tables.push(crate::analysis::top_by(
        &rows,
        "clv",
        10,
        "Most valuable customers",
    )?);
    a.rows = Some(rows);
    Ok(a)
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
