//! Customer lifetime value: a purchase-process model (BG/NBD or Pareto/NBD) and a spend model
//! (Gamma-Gamma) fitted to the orders, then each customer's P(alive), expected purchases,
//! expected spend and discounted value over a horizon.
//!
//! Definitions (also in docs/analyses.md):
//! - a **transaction** is a (customer, day) with at least one completed order (the engine's
//!   `sales` view: status `completed` or empty, as the KPIs count sales; cancelled and returned
//!   orders are not purchases): orders on the same day count as one purchase and their amounts
//!   are added. The first and last day of the history, and so the default calibration end,
//!   are those of completed orders too;
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
//!
//! The completed orders are grouped per customer and their transactions counted by
//! [`crate::history::tallies`] ([`Orders::Completed`]); what is BTYD-specific stays here: the tallies turned into
//! `(x, t_x, T)` in the chosen time unit and the mean repeat spend (`btyd_inputs`), the
//! fits, the scores, and the facts and tables made of them.

use arrow::array::Array;
use chrono::NaiveDate;
use clientele_models::btyd::{self, PurchaseModelKind, Summary};

use rayon::prelude::*;

use crate::analyses::analysis::{Analysis, report};
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::history::{Orders, PerCustomer, Tally};
use crate::util::{Columns, f64_col};
use crate::{AnalyticsError, Engine};

/// The unit of model time.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Days.
    #[value(alias = "days")]
    #[serde(alias = "days")]
    Day,
    /// Weeks of 7 days (the default, as in the literature).
    #[value(alias = "weeks")]
    #[serde(alias = "weeks")]
    Week,
    /// Months of 365.25/12 days.
    #[value(alias = "months")]
    #[serde(alias = "months")]
    Month,
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PurchaseModel {
    /// BG/NBD (Fader, Hardie & Lee 2005).
    Bgnbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987).
    #[value(alias = "paretonbd")]
    #[serde(alias = "paretonbd")]
    Pnbd,
}

impl PurchaseModel {
    fn kind(self) -> PurchaseModelKind {
        match self {
            PurchaseModel::Bgnbd => PurchaseModelKind::BgNbd,
            PurchaseModel::Pnbd => PurchaseModelKind::ParetoNbd,
        }
    }

    /// As the parameters and facts spell it.
    fn name(self) -> &'static str {
        match self {
            PurchaseModel::Bgnbd => "bgnbd",
            PurchaseModel::Pnbd => "pnbd",
        }
    }

    /// As a table title spells it.
    fn label(self) -> &'static str {
        match self {
            PurchaseModel::Bgnbd => "BG/NBD",
            PurchaseModel::Pnbd => "Pareto/NBD",
        }
    }
}

/// Parameters of the CLV analysis.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ClvOptions {
    /// Purchase model: BG/NBD or Pareto/NBD.
    #[arg(long, default_value = "bgnbd", value_parser = params::choice::<PurchaseModel>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub model: PurchaseModel,
    /// Last day of the calibration period (YYYY-MM-DD); later orders form the holdout.
    /// Default: the last completed order's day (no holdout).
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub calibration_end: Option<NaiveDate>,
    /// Model time unit.
    #[arg(long, default_value = "week", value_parser = params::choice::<TimeUnit>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub time_unit: TimeUnit,
    /// Horizon of predictions and CLV, in time units, above 0 and at most 10000 (default: one
    /// year).
    #[arg(long)]
    pub horizon: Option<f64>,
    /// Annual discount rate of future value, 0 to 1 (0.1 = 10 %).
    #[arg(long, default_value_t = 0.10)]
    pub discount_rate: f64,
    /// Profit margin applied to spend, above 0 and at most 1 (1 = CLV in revenue).
    #[arg(long, default_value_t = 1.0)]
    pub margin: f64,
}

impl Default for ClvOptions {
    fn default() -> Self {
        ClvOptions {
            model: PurchaseModel::Bgnbd,
            calibration_end: None,
            time_unit: TimeUnit::Week,
            horizon: None,
            discount_rate: 0.10,
            margin: 1.0,
        }
    }
}

impl Params for ClvOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        if !(self.margin > 0.0 && self.margin <= 1.0) {
            return Err(AnalyticsError::parameter(
                "margin",
                self.margin,
                "expected a share above 0 and at most 1",
            ));
        }
        params::in_range(
            "discount_rate",
            self.discount_rate,
            0.0,
            1.0,
            "an annual rate",
        )?;
        if let Some(h) = self.horizon
            && !(h > 0.0 && h <= 10_000.0)
        {
            return Err(AnalyticsError::parameter(
                "horizon",
                h,
                format!(
                    "expected a positive number of {}s (at most 10000)",
                    self.time_unit.name()
                ),
            ));
        }
        Ok(())
    }
}

/// `clientele clv`, `GET /api/v1/clv`.
pub struct Clv;

impl Spec for Clv {
    type Params = ClvOptions;
    const DEF: Def = Def {
        name: "clv",
        command: &["clv"],
        aliases: &[],
        path: "/clv",
        about: "Customer lifetime value: BG/NBD or Pareto/NBD purchases with Gamma-Gamma spend.",
        long_about: "Prints the fitted parameters (with standard errors), the holdout check when \
                     the calibration ends before the last order, and the most valuable customers; \
                     stores each customer's P(alive), expected purchases, expected spend and CLV \
                     (table scores_clv).",
        area: Area::Segments,
        stores: Some("scores_clv"),
        progress: "fitting the lifetime-value models",
    };
    async fn run(engine: &Engine, p: &ClvOptions) -> Result<Analysis, AnalyticsError> {
        clv(engine, p).await
    }
}

/// Every customer's BTYD inputs in the model's time unit, ordered by customer id.
struct History {
    ids: arrow::array::StringArray,
    summaries: Vec<Summary>,
    /// Mean value of repeat transactions (0 when none).
    spend: Vec<f64>,
    holdout_x: Vec<f64>,
    holdout_value: Vec<f64>,
}

/// Reads the completed orders and summarises them per customer
/// ([`crate::history::tallies`]), ordered by customer id, in units of `unit` days.
async fn history(engine: &Engine, end: i32, unit: f64) -> Result<History, AnalyticsError> {
    Ok(btyd_inputs(
        crate::history::tallies(engine, Orders::Completed, end).await?,
        end,
        unit,
    ))
}

/// Tallies as the models read them: `x`, `t_x` and `T` (to the calibration end `end`) in units
/// of `unit` days, the mean repeat spend, and the holdout as numbers.
fn btyd_inputs(per_customer: PerCustomer<Tally>, end: i32, unit: f64) -> History {
    let tallies: Vec<&Tally> = per_customer.iter().collect();
    let column = |f: &(dyn Fn(&Tally) -> f64 + Sync)| -> Vec<f64> {
        tallies.par_iter().map(|t| f(t)).collect()
    };
    let summaries = tallies
        .par_iter()
        .map(|t| Summary {
            x: f64::from(t.x),
            t_x: f64::from(t.last - t.first) / unit,
            t: f64::from(end - t.first) / unit,
        })
        .collect();
    let spend = column(&|t| {
        if t.x > 0 {
            t.repeat_value / f64::from(t.x)
        } else {
            0.0
        }
    });
    let holdout_x = column(&|t| f64::from(t.holdout_x));
    let holdout_value = column(&|t| t.holdout_value);
    History {
        ids: per_customer.ids,
        summaries,
        spend,
        holdout_x,
        holdout_value,
    }
}

/// The days and horizon of a run, resolved against the orders (days are day numbers).
struct Calibration {
    /// Day of the last completed order.
    last: i32,
    /// Last day of the calibration period.
    end: i32,
    /// Horizon of predictions and CLV, in time units.
    horizon: f64,
    /// Length of the holdout (the days after `end`), in time units.
    holdout_len: f64,
}

/// Checks that there are completed orders and that the options fit them: the calibration end
/// defaults to the last completed order's day and may not be before the first.
async fn calibration(engine: &Engine, options: &ClvOptions) -> Result<Calibration, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no orders table; lifetime value is estimated from orders".into(),
        ));
    }
    options.check()?;
    let bounds = engine
        .query(&format!(
            "SELECT CAST(MIN(order_date) AS INT) AS lo, CAST(MAX(order_date) AS INT) AS hi FROM {}",
            Orders::Completed.source()
        ))
        .await?;
    let (lo, hi) = match bounds.iter().find(|b| b.num_rows() > 0) {
        Some(b) if !b.column(0).is_null(0) => (
            f64_col(b, "lo").value(0) as i32,
            f64_col(b, "hi").value(0) as i32,
        ),
        _ => {
            return Err(AnalyticsError::MissingData(
                "the orders table has no completed orders: there is nothing to fit".into(),
            ));
        }
    };
    let end = match options.calibration_end {
        Some(d) => clientele_schema::date_to_days(d),
        None => hi,
    };
    let day = clientele_schema::days_to_date;
    if end < lo {
        return Err(AnalyticsError::parameter(
            "calibration_end",
            day(end),
            format!("is before the first completed order ({})", day(lo)),
        ));
    }
    let unit = options.time_unit;
    let horizon = options.horizon.unwrap_or(unit.per_year().round());
    if !(horizon > 0.0 && horizon.is_finite()) {
        return Err(AnalyticsError::parameter(
            "horizon",
            horizon,
            format!("expected a positive number of {}s", unit.name()),
        ));
    }
    Ok(Calibration {
        last: hi,
        end,
        horizon,
        holdout_len: (hi - end) as f64 / unit.days(),
    })
}

/// Fits the CLV models and scores every customer.
pub async fn clv(engine: &Engine, options: &ClvOptions) -> Result<Analysis, AnalyticsError> {
    let cal = calibration(engine, options).await?;
    let h = history(engine, cal.end, options.time_unit.days()).await?;
    let mut a = Analysis::of(&Clv::DEF, "Customer lifetime value");
    let day = clientele_schema::days_to_date;
    a.param("model", options.model.name());
    a.param("calibration_end", day(cal.end));
    a.param("time_unit", options.time_unit.name());
    a.param("horizon", cal.horizon);
    a.param("discount_rate", options.discount_rate);
    a.param("margin", options.margin);

    let fit = btyd::fit_purchase(options.model.kind(), &h.summaries)
        .map_err(AnalyticsError::model("cannot fit the purchase model"))?;
    let (n_repeat, spend_fit) = fit_spend(&h, &mut a.notes);
    let scored = score(&h, &fit, spend_fit.as_ref(), options, &cal)?;
    let n = h.summaries.len();
    model_facts(
        &mut a,
        &Fits {
            options,
            cal: &cal,
            fit: &fit,
            spend_fit: spend_fit.as_ref(),
            n_customers: n,
            n_repeat,
        },
    );
    let total_clv: f64 = scored.value.iter().flatten().sum();
    let mean_p_alive = scored.scores.p_alive.iter().sum::<f64>() / n.max(1) as f64;
    a.fact("total_clv", spend_fit.as_ref().map(|_| total_clv));
    a.fact("mean_p_alive", mean_p_alive);
    match &scored.scores.expected_also {
        Some(predicted) => holdout_check(&mut a, &h, predicted, options, &cal),
        None => a.notes.push(
            "no holdout: the calibration period ends at the last order (give --calibration-end to test the model on later orders)".into(),
        ),
    }

    let rows = customer_rows(h, scored);
    a.tables.push(crate::analyses::analysis::top_by(
        &rows,
        "clv",
        10,
        "Most valuable customers",
    )?);
    a.rows = Some(rows);
    Ok(a)
}

/// Fits Gamma-Gamma to the repeat buyers: their number and the fit, or `None` (with a note)
/// when it fails, since CLV is then left empty rather than the whole analysis failing.
fn fit_spend(h: &History, notes: &mut Vec<String>) -> (usize, Option<btyd::SpendFit>) {
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
            notes.push(format!(
                "the spend model could not be fitted ({e}): CLV is left empty"
            ));
            None
        }
    };
    (repeat.len(), spend_fit)
}

/// Every customer's scores, and their expected spend and CLV when the spend model was fitted.
struct Scored {
    scores: btyd::Scores,
    spend: Option<Vec<f64>>,
    value: Option<Vec<f64>>,
}

fn score(
    h: &History,
    fit: &btyd::PurchaseFit,
    spend_fit: Option<&btyd::SpendFit>,
    options: &ClvOptions,
    cal: &Calibration,
) -> Result<Scored, AnalyticsError> {
    let scores = btyd::score(
        &fit.model,
        &h.summaries,
        &btyd::ScoreRequest {
            horizon: cal.horizon,
            units_per_year: options.time_unit.per_year(),
            annual_discount: options.discount_rate,
            also_expected_over: (cal.last > cal.end).then_some(cal.holdout_len),
        },
    )
    .map_err(AnalyticsError::model("scoring the customers"))?;
    let spend: Option<Vec<f64>> = spend_fit.map(|g| {
        h.summaries
            .iter()
            .zip(&h.spend)
            .map(|(c, m)| g.model.expected_spend(c.x, *m))
            .collect()
    });
    let value: Option<Vec<f64>> = spend.as_ref().map(|s| {
        s.iter()
            .zip(&scores.discounted)
            .map(|(s, d)| options.margin * s * d)
            .collect()
    });
    Ok(Scored {
        scores,
        spend,
        value,
    })
}

/// What the facts and the parameter table are made from.
struct Fits<'a> {
    options: &'a ClvOptions,
    cal: &'a Calibration,
    fit: &'a btyd::PurchaseFit,
    spend_fit: Option<&'a btyd::SpendFit>,
    n_customers: usize,
    n_repeat: usize,
}

/// The facts about the fitted models and the run, and the parameter table.
fn model_facts(a: &mut Analysis, f: &Fits) {
    let (options, fit, n) = (f.options, f.fit, f.n_customers);
    let day = clientele_schema::days_to_date;
    a.fact("model", options.model.name());
    let params: serde_json::Map<String, serde_json::Value> = fit
        .model
        .params()
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
        .collect();
    a.fact("params", &params);
    a.fact("std_errors", std_errors(&fit.std_errors));
    a.fact("log_likelihood", fit.log_likelihood);
    a.fact("n_customers", n);
    a.fact("n_repeat_buyers", f.n_repeat);
    a.fact("n_patterns", fit.n_patterns);
    a.fact("time_unit", options.time_unit.name());
    a.fact("calibration_end", day(f.cal.end).to_string());
    a.fact("horizon", f.cal.horizon);
    a.fact("discount_rate", options.discount_rate);
    a.fact("margin", options.margin);
    if let Some(g) = f.spend_fit {
        a.fact(
            "spend",
            serde_json::json!({"model": "gamma-gamma", "p": g.model.p, "q": g.model.q, "gamma": g.model.gamma,
                "log_likelihood": g.log_likelihood, "n_customers": g.n_customers,
                "std_errors": std_errors(&g.std_errors)}),
        );
    }
    a.table(
        "parameters",
        &format!(
            "{} fitted on {n} customers (calibration to {}, {}s), log-likelihood {:.1}",
            options.model.label(),
            day(f.cal.end),
            options.time_unit.name(),
            fit.log_likelihood
        ),
        parameter_table(fit, f.spend_fit),
    );
}

/// Standard errors by parameter, `null` where not finite.
fn std_errors(se: &[(&str, f64)]) -> serde_json::Map<String, serde_json::Value> {
    se.iter()
        .map(|(k, v)| (k.to_string(), serde_json::json!(finite(*v))))
        .collect()
}

/// One row per parameter of the purchase model, then of the spend model (`spend p` …).
fn parameter_table(
    fit: &btyd::PurchaseFit,
    spend_fit: Option<&btyd::SpendFit>,
) -> arrow::array::RecordBatch {
    let mut pname = Vec::new();
    let mut pval = Vec::new();
    let mut pse = Vec::new();
    for ((k, v), (_, se)) in fit.model.params().into_iter().zip(&fit.std_errors) {
        pname.push(Some(k.to_string()));
        pval.push(Some(v));
        pse.push(finite(*se));
    }
    if let Some(g) = spend_fit {
        for ((k, v), (_, se)) in [("p", g.model.p), ("q", g.model.q), ("gamma", g.model.gamma)]
            .into_iter()
            .zip(&g.std_errors)
        {
            pname.push(Some(format!("spend {k}")));
            pval.push(Some(v));
            pse.push(finite(*se));
        }
    }
    Columns::default()
        .text("parameter", pname)
        .num("estimate", pval)
        .num("std_error", pse)
        .batch()
}

/// Predicted against actual purchases in the holdout, overall and by calibration repeat
/// purchases (0 … 6, 7+): the table and the fact.
fn holdout_check(
    a: &mut Analysis,
    h: &History,
    pred: &[f64],
    options: &ClvOptions,
    cal: &Calibration,
) {
    let day = clientele_schema::days_to_date;
    let (end, hi, holdout_len) = (cal.end, cal.last, cal.holdout_len);
    let n = h.summaries.len();
    let actual_total: f64 = h.holdout_x.iter().sum();
    let pred_total: f64 = pred.iter().sum();
    let mae = pred
        .iter()
        .zip(&h.holdout_x)
        .map(|(p, a)| (p - a).abs())
        .sum::<f64>()
        / n.max(1) as f64;
    let mut buckets = [(0usize, 0.0, 0.0); 8];
    for ((c, actual), predicted) in h.summaries.iter().zip(&h.holdout_x).zip(pred) {
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
            options.time_unit.name()
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
}

/// The per-customer rows (stored as scores_clv): inputs, scores, and the holdout when there
/// is one.
fn customer_rows(h: History, scored: Scored) -> crate::Report {
    let n = h.summaries.len();
    let optional = |v: Option<Vec<f64>>| -> arrow::array::ArrayRef {
        std::sync::Arc::new(match v {
            Some(v) => arrow::array::Float64Array::from(v),
            None => arrow::array::Float64Array::new_null(n),
        })
    };
    let scores = scored.scores;
    let mut cols = Columns::default()
        .array("customer_id", std::sync::Arc::new(h.ids))
        .num_values(
            "clv_repeat_purchases",
            h.summaries.iter().map(|c| c.x).collect(),
        )
        .num_values("clv_recency", h.summaries.iter().map(|c| c.t_x).collect())
        .num_values("clv_age", h.summaries.iter().map(|c| c.t).collect())
        .num_values("p_alive", scores.p_alive)
        .num_values("expected_purchases", scores.expected)
        .array("expected_spend", optional(scored.spend))
        .array("clv", optional(scored.value));
    if let Some(pred) = scores.expected_also {
        cols = cols
            .num_values("holdout_purchases", h.holdout_x)
            .num_values("holdout_predicted", pred)
            .num_values("holdout_revenue", h.holdout_value);
    }
    report("clv_customers", "Lifetime value per customer", cols.batch())
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int32Array, StringViewArray};

    use super::*;
    use crate::history::{OrderColumns, per_customer, tally};

    /// Orders of four customers from 2025-01-01 (day 0 below), in weeks. C1 buys on day 0
    /// (100), 28 (40) and 70 (20, empty status: completed), and has a cancelled order on day
    /// 14 (999) and a returned one on day 56 (500); C2's first order (day 7) was cancelled,
    /// its first purchase is on day 35 (30); C3 only has a returned order; C4 buys on days 0
    /// (10) and 84 (25) and cancels an order on day 91. By completed orders: the history ends
    /// on day 84, C3 is no customer, C1 has x = 2 repeat purchases (days 28, 70: t_x = 70/7 =
    /// 10 weeks, T = 84/7 = 12, spend (40 + 20)/2 = 30), C2 none (T = (84 − 35)/7 = 7), C4
    /// one (t_x = T = 12, spend 25). Counting every order would end the history on day 91,
    /// give C1 x = 4 with a spend of (999 + 40 + 500 + 20)/4 and C2 a first purchase on day 7.
    #[tokio::test]
    async fn clv_ignores_cancelled_and_returned_orders() {
        let dir = crate::tests::workspace(&[
            ("customers.csv", "customer_id\nC1\nC2\nC3\nC4\n"),
            (
                "orders.csv",
                "order_id,customer_id,order_date,total_amount,status\n\
                 A1,C1,2025-01-01,100,completed\n\
                 A2,C1,2025-01-15,999,cancelled\n\
                 A3,C1,2025-01-29,40,completed\n\
                 A4,C1,2025-02-26,500,returned\n\
                 A5,C1,2025-03-12,20,\n\
                 B1,C2,2025-01-08,50,cancelled\n\
                 B2,C2,2025-02-05,30,completed\n\
                 D1,C3,2025-03-19,70,returned\n\
                 E1,C4,2025-01-01,10,completed\n\
                 E2,C4,2025-03-26,25,completed\n\
                 E3,C4,2025-04-02,80,cancelled\n",
            ),
        ]);
        let engine = crate::tests::open(dir.path()).await;
        let day0 = clientele_schema::date_to_days(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap());
        let cal = calibration(&engine, &ClvOptions::default()).await.unwrap();
        assert_eq!((cal.end - day0, cal.last - day0), (84, 84));
        assert_eq!(cal.holdout_len, 0.0);
        let h = history(&engine, cal.end, 7.0).await.unwrap();
        let ids: Vec<&str> = (0..h.ids.len()).map(|i| h.ids.value(i)).collect();
        assert_eq!(ids, ["C1", "C2", "C4"]);
        let want = |x: f64, t_x: f64, t: f64| Summary { x, t_x, t };
        assert_eq!(
            h.summaries,
            [
                want(2.0, 10.0, 12.0),
                want(0.0, 0.0, 7.0),
                want(1.0, 12.0, 12.0)
            ]
        );
        assert_eq!(h.spend, [30.0, 0.0, 25.0]);

        // Calibration to day 70: C4's purchase on day 84 is the holdout's only one; its
        // cancellation on day 91 is not a purchase.
        let options = ClvOptions {
            calibration_end: NaiveDate::from_ymd_opt(2025, 3, 12),
            ..ClvOptions::default()
        };
        let cal = calibration(&engine, &options).await.unwrap();
        assert_eq!((cal.end - day0, cal.last - day0), (70, 84));
        assert_eq!(cal.holdout_len, 2.0);
        let h = history(&engine, cal.end, 7.0).await.unwrap();
        assert_eq!(
            h.summaries,
            [
                want(2.0, 10.0, 10.0),
                want(0.0, 0.0, 5.0),
                want(0.0, 0.0, 10.0)
            ]
        );
        assert_eq!(h.holdout_x, [0.0, 0.0, 1.0]);
        assert_eq!(h.holdout_value, [0.0, 0.0, 25.0]);
    }

    /// The tallies of `crate::history`'s hand-tallied customer (calibration to day 100) and of
    /// a one-day buyer, in weeks: x, t_x and T from the first purchase, the mean repeat spend,
    /// and the holdout.
    #[test]
    fn tallies_become_btyd_inputs_in_time_units() {
        let orders = [
            ("A", 140, 1.0),
            ("A", 30, 20.0),
            ("A", 10, 10.0),
            ("A", 101, 4.0),
            ("A", 100, 30.0),
            ("A", 10, 5.0),
            ("A", 101, 6.0),
            ("B", 65, 3.0),
            ("B", 65, 4.0),
        ];
        let columns: Vec<OrderColumns> = vec![(
            Arc::new(StringViewArray::from_iter_values(
                orders.iter().map(|o| o.0),
            )),
            Arc::new(Int32Array::from_iter_values(orders.iter().map(|o| o.1))),
            Arc::new(Float64Array::from_iter_values(orders.iter().map(|o| o.2))),
        )];
        let h = btyd_inputs(per_customer(columns, |o| tally(o, 100)).unwrap(), 100, 7.0);
        assert_eq!((h.ids.value(0), h.ids.value(1)), ("A", "B"));
        let want = |x: f64, t_x: f64, t: f64| Summary { x, t_x, t };
        assert_eq!(
            h.summaries,
            [want(2.0, 90.0 / 7.0, 90.0 / 7.0), want(0.0, 0.0, 5.0)]
        );
        assert_eq!(h.spend, [25.0, 0.0]);
        assert_eq!(
            (h.holdout_x, h.holdout_value),
            (vec![2.0, 0.0], vec![11.0, 0.0])
        );
    }
}
