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

use std::str::FromStr;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{Float64Type, Int32Type};
use chrono::NaiveDate;
use clientele_models::btyd::{self, PurchaseModelKind, Summary};

use rayon::prelude::*;

use crate::analysis::{Analysis, report};
use crate::util::{Columns, f64_col};
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

/// Per-customer transaction summary read from the orders, ordered by customer id.
struct History {
    ids: arrow::array::StringArray,
    summaries: Vec<Summary>,
    /// Mean value of repeat transactions (0 when none).
    spend: Vec<f64>,
    holdout_x: Vec<f64>,
    holdout_value: Vec<f64>,
}

/// One customer's calibration and holdout figures, from their orders.
#[derive(Clone, Copy, Default)]
struct Tally {
    first: i32,
    last: i32,
    x: u32,
    repeat_value: f64,
    holdout_x: u32,
    holdout_value: f64,
}

/// Summarises one customer's orders `(day, amount)` (any order; sorted here so that the sums
/// do not depend on the order the rows arrived in): days with orders are transactions, their
/// amounts added. `None` when the customer's first order is after `end`.
fn tally(orders: &mut [(i32, f64)], end: i32) -> Option<Tally> {
    orders.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let first = orders.first()?.0;
    if first > end {
        return None;
    }
    let mut t = Tally {
        first,
        last: first,
        ..Tally::default()
    };
    let mut day = first;
    let mut value = 0.0;
    let close = |t: &mut Tally, day: i32, value: f64| {
        if day > end {
            t.holdout_x += 1;
            t.holdout_value += value;
        } else if day > first {
            t.x += 1;
            t.last = day;
            t.repeat_value += value;
        }
    };
    for &(d, v) in orders.iter() {
        if d != day {
            close(&mut t, day, value);
            day = d;
            value = 0.0;
        }
        value += v;
    }
    close(&mut t, day, value);
    Some(t)
}

/// Partitions of the orders by customer-id range, so that each partition's customers fit in
/// cache while they are grouped and sorted.
const PARTITIONS: usize = 256;

/// Ids sampled per partition to choose the range boundaries.
const SAMPLES_PER_PARTITION: usize = 64;

/// One order in a partition: its customer id's hash and where the id's bytes end in the
/// partition's `bytes`, its day and amount.
#[derive(Clone, Copy)]
struct Order {
    hash: u64,
    end: u32,
    day: i32,
    amount: f64,
}

/// One thread's share of the orders that fell into one partition.
#[derive(Default)]
struct Part {
    orders: Vec<Order>,
    bytes: Vec<u8>,
}

/// The first 16 bytes of an id as a number (zero-padded): ids in this order are in byte order,
/// and ids with equal prefixes are told apart by their full bytes.
fn prefix(id: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = id.len().min(16);
    b[..n].copy_from_slice(&id[..n]);
    u128::from_be_bytes(b)
}

/// The customers of one partition, in id order: ids and their tallies.
type Grouped<'a> = (Vec<&'a [u8]>, Vec<Tally>);

/// Reads the orders and summarises them per customer, ordered by customer id.
///
/// DataFusion reads the three columns; the grouping is done by [`summarise`] rather than in
/// SQL, where a per-(customer, day) GROUP BY, a join back to each customer's first day and a
/// second GROUP BY cost seconds at a million customers.
async fn history(engine: &Engine, end: i32, unit: f64) -> Result<History, AnalyticsError> {
    use arrow::datatypes::DataType;
    let batches = engine
        .query("SELECT customer_id, order_date, total_amount FROM orders")
        .await?;
    let cast = |a: &ArrayRef, t: &DataType| {
        arrow::compute::cast(a, t).map_err(|e| AnalyticsError::Model(e.to_string()))
    };
    let mut columns = Vec::with_capacity(batches.len());
    for b in &batches {
        columns.push((
            cast(b.column(0), &DataType::Utf8View)?,
            cast(b.column(1), &DataType::Int32)?,
            cast(b.column(2), &DataType::Float64)?,
        ));
    }
    drop(batches);
    summarise(&columns, end, unit)
}

/// One batch of orders: customer id (Utf8View), day (Int32) and amount (Float64).
type OrderColumns = (ArrayRef, ArrayRef, ArrayRef);

/// Summarises orders per customer, ordered by customer id.
///
/// Each thread scatters its share of the orders into up to [`PARTITIONS`] ranges of ids
/// ([`range_splitters`]); each partition is then grouped by exact id with a hash table small
/// enough to stay in cache, its customers sorted, and each customer's orders summarised by
/// [`tally`] ([`group`]). The partitions in order are the customers in order.
fn summarise(columns: &[OrderColumns], end: i32, unit: f64) -> Result<History, AnalyticsError> {
    let splitters = range_splitters(columns);
    let threads = rayon::current_num_threads().max(1);
    let per_thread = columns.len().div_ceil(threads).max(1);
    let scattered: Vec<Vec<Part>> = columns
        .par_chunks(per_thread)
        .map(|chunk| scatter(chunk, &splitters))
        .collect::<Result<_, _>>()?;
    let grouped: Vec<Grouped> = (0..=splitters.len())
        .into_par_iter()
        .map(|p| {
            let shares: Vec<&Part> = scattered.iter().map(|parts| &parts[p]).collect();
            group(&shares, end)
        })
        .collect();
    // The id column: each partition's ids copied in parallel, the text checked once as a whole.
    let mut offsets: Vec<i32> = vec![0];
    let mut at = 0usize;
    for id in grouped.iter().flat_map(|g| g.0.iter()) {
        at += id.len();
        offsets.push(
            i32::try_from(at)
                .map_err(|_| AnalyticsError::Model("customer ids too long to summarise".into()))?,
        );
    }
    let values: Vec<Vec<u8>> = grouped.par_iter().map(|g| g.0.concat()).collect();
    let ids = arrow::array::StringArray::try_new(
        arrow::buffer::OffsetBuffer::new(offsets.into()),
        arrow::buffer::Buffer::from_vec(values.concat()),
        None,
    )
    .map_err(|e| AnalyticsError::Model(format!("customer ids: {e}")))?;
    let tallies: Vec<&Tally> = grouped.iter().flat_map(|g| g.1.iter()).collect();
    let column = |f: &(dyn Fn(&Tally) -> f64 + Sync)| -> Vec<f64> {
        tallies.par_iter().map(|t| f(t)).collect()
    };
    Ok(History {
        ids,
        summaries: tallies
            .par_iter()
            .map(|t| Summary {
                x: f64::from(t.x),
                t_x: f64::from(t.last - t.first) / unit,
                t: f64::from(end - t.first) / unit,
            })
            .collect(),
        spend: column(&|t| {
            if t.x > 0 {
                t.repeat_value / f64::from(t.x)
            } else {
                0.0
            }
        }),
        holdout_x: column(&|t| f64::from(t.holdout_x)),
        holdout_value: column(&|t| t.holdout_value),
    })
}

/// Range boundaries: up to `PARTITIONS − 1` evenly spaced id prefixes from an evenly spaced
/// sample of the orders (so the partitions hold about equal numbers of orders). An id goes to
/// the partition of the number of boundaries at or below its prefix.
fn range_splitters(columns: &[OrderColumns]) -> Vec<u128> {
    let rows: usize = columns.iter().map(|c| c.0.len()).sum();
    let step = (rows / (PARTITIONS * SAMPLES_PER_PARTITION)).max(1);
    let mut sample: Vec<u128> = Vec::new();
    let mut skip = 0;
    for (id, _, _) in columns {
        let id = id.as_string_view();
        let mut i = skip;
        while i < id.len() {
            if !id.is_null(i) {
                sample.push(prefix(id.value(i).as_bytes()));
            }
            i += step;
        }
        skip = i - id.len();
    }
    sample.sort_unstable();
    sample.dedup();
    let mut splitters: Vec<u128> = (1..PARTITIONS)
        .filter_map(|k| sample.get(k * sample.len() / PARTITIONS).copied())
        .collect();
    splitters.dedup();
    splitters
}

/// Pass 1: one thread's run of batches scattered into one [`Part`] per range of ids.
fn scatter(chunk: &[OrderColumns], splitters: &[u128]) -> Result<Vec<Part>, AnalyticsError> {
    let hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
    let parts = splitters.len() + 1;
    let rows: usize = chunk.iter().map(|c| c.0.len()).sum();
    let guess = rows / parts + rows / parts / 4 + 16;
    let mut out: Vec<Part> = (0..parts)
        .map(|_| Part {
            orders: Vec::with_capacity(guess),
            bytes: Vec::with_capacity(guess * 8),
        })
        .collect();
    for (id, day, amount) in chunk {
        let id = id.as_string_view();
        let day = day.as_primitive::<Int32Type>();
        let amount = amount.as_primitive::<Float64Type>();
        for i in 0..id.len() {
            // Orders without a customer or a date say nothing about anyone's purchases.
            if id.is_null(i) || day.is_null(i) {
                continue;
            }
            let name = id.value(i).as_bytes();
            let key = prefix(name);
            let part = &mut out[splitters.partition_point(|s| *s <= key)];
            part.bytes.extend_from_slice(name);
            let end = u32::try_from(part.bytes.len())
                .map_err(|_| AnalyticsError::Model("customer ids too long to summarise".into()))?;
            part.orders.push(Order {
                hash: hasher.hash_one(name),
                end,
                day: day.value(i),
                amount: if amount.is_null(i) {
                    0.0
                } else {
                    amount.value(i)
                },
            });
        }
    }
    Ok(out)
}

/// Pass 2: one partition (the threads' shares in order) grouped by exact id, its customers
/// sorted by id and tallied.
fn group<'a>(shares: &[&'a Part], end: i32) -> Grouped<'a> {
    let rows: usize = shares.iter().map(|s| s.orders.len()).sum();
    // Customers by first appearance: id and hash; the table holds their positions.
    let mut table = hashbrown::HashTable::<u32>::with_capacity(rows / 2);
    let mut names: Vec<(&[u8], u64)> = Vec::new();
    let mut customer: Vec<u32> = Vec::with_capacity(rows);
    for s in shares {
        let mut from = 0usize;
        for o in &s.orders {
            let id = &s.bytes[from..o.end as usize];
            from = o.end as usize;
            let found = table.find(o.hash, |&c| names[c as usize].0 == id).copied();
            let c = found.unwrap_or_else(|| {
                let c = names.len() as u32;
                names.push((id, o.hash));
                table.insert_unique(o.hash, c, |&c| names[c as usize].1);
                c
            });
            customer.push(c);
        }
    }
    drop(table);
    // Counting sort of the partition's orders by customer.
    let mut start = vec![0usize; names.len() + 1];
    for &c in &customer {
        start[c as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut next = start.clone();
    let mut orders = vec![(0i32, 0.0f64); rows];
    for (&c, o) in customer
        .iter()
        .zip(shares.iter().flat_map(|s| s.orders.iter()))
    {
        orders[next[c as usize]] = (o.day, o.amount);
        next[c as usize] += 1;
    }
    let mut sorted: Vec<(u128, u32)> = names
        .iter()
        .enumerate()
        .map(|(c, n)| (prefix(n.0), c as u32))
        .collect();
    sorted.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| names[a.1 as usize].0.cmp(names[b.1 as usize].0))
    });
    sorted
        .iter()
        .filter_map(|&(_, c)| {
            let c = c as usize;
            tally(&mut orders[start[c]..start[c + 1]], end).map(|t| (names[c].0, t))
        })
        .unzip()
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

    let n = h.summaries.len();
    let holdout_len = (hi - end) as f64 / unit.days();
    let scores = btyd::score(
        &fit.model,
        &h.summaries,
        &btyd::ScoreRequest {
            horizon,
            units_per_year: unit.per_year(),
            annual_discount: options.discount_rate,
            also_expected_over: (hi > end).then_some(holdout_len),
        },
    )
    .map_err(|e| AnalyticsError::Usage(e.to_string()))?;
    let spend: Option<Vec<f64>> = spend_fit.as_ref().map(|g| {
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
    let mean_p_alive = scores.p_alive.iter().sum::<f64>() / n.max(1) as f64;
    a.fact("total_clv", spend_fit.as_ref().map(|_| total_clv));
    a.fact("mean_p_alive", mean_p_alive);

    // Holdout.
    if let Some(pred) = &scores.expected_also {
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
    } else {
        a.notes.push(
            "no holdout: the calibration period ends at the last order (give --calibration-end to test the model on later orders)".into(),
        );
    }

    let optional = |v: Option<Vec<f64>>| -> arrow::array::ArrayRef {
        std::sync::Arc::new(match v {
            Some(v) => arrow::array::Float64Array::from(v),
            None => arrow::array::Float64Array::new_null(n),
        })
    };
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
        .array("expected_spend", optional(spend))
        .array("clv", optional(value));
    if let Some(pred) = scores.expected_also {
        cols = cols
            .num_values("holdout_purchases", h.holdout_x)
            .num_values("holdout_predicted", pred)
            .num_values("holdout_revenue", h.holdout_value);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int32Array, StringViewArray};

    use super::*;

    /// Calibration ends on day 100. Orders out of order, two on day 10 (one purchase of 15),
    /// repeats on days 30 and 100 (the end itself counts), the holdout days 101 (two orders,
    /// one purchase) and 140.
    #[test]
    fn one_customer_tallied_by_hand() {
        let mut orders = [
            (140, 1.0),
            (30, 20.0),
            (10, 10.0),
            (101, 4.0),
            (100, 30.0),
            (10, 5.0),
            (101, 6.0),
        ];
        let t = tally(&mut orders, 100).unwrap();
        assert_eq!((t.first, t.last, t.x), (10, 100, 2));
        assert_eq!(t.repeat_value, 50.0);
        assert_eq!((t.holdout_x, t.holdout_value), (2, 11.0));
        // One purchase day only: no repeat, recency 0.
        let t = tally(&mut [(7, 3.0), (7, 4.0)], 100).unwrap();
        assert_eq!((t.first, t.last, t.x, t.repeat_value), (7, 7, 0, 0.0));
        // First order after the calibration end: not a customer of the calibration period.
        assert!(tally(&mut [(101, 1.0), (150, 2.0)], 100).is_none());
    }

    /// `summarise` against a plain per-customer map on 40,000 orders in three batches: ids of
    /// 1 to 40 bytes (long ones sharing 30-byte prefixes, so the 16-byte prefix keys tie),
    /// orders in scrambled order, same-day orders, null ids and dates skipped, many range
    /// partitions. Amounts are multiples of 1/4, so every sum is exact in any order.
    #[test]
    fn summaries_match_a_plain_per_customer_map() {
        let end = 500;
        let mut state = 7u64;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let id_of = |c: u64| match c % 3 {
            0 => format!("{c}"),
            1 => format!("customer-with-a-long-prefix---{c:06}"),
            _ => format!("C{c:05}"),
        };
        let mut rows: Vec<(Option<String>, Option<i32>, f64)> = (0..40_000)
            .map(|_| {
                let c = next(6_000);
                let id = (next(500) != 0).then(|| id_of(c));
                let day = (next(500) != 0).then(|| next(700) as i32);
                (id, day, next(400) as f64 / 4.0)
            })
            .collect();
        rows.push((Some(id_of(1)), Some(3), 1.0));
        rows.push((Some(id_of(1)), Some(3), 2.0));
        let mut want: BTreeMap<String, BTreeMap<i32, f64>> = BTreeMap::new();
        for (id, day, v) in &rows {
            if let (Some(id), Some(day)) = (id, day) {
                *want.entry(id.clone()).or_default().entry(*day).or_default() += v;
            }
        }
        let columns: Vec<OrderColumns> = rows
            .chunks(15_000)
            .map(|chunk| -> OrderColumns {
                (
                    Arc::new(StringViewArray::from_iter(
                        chunk.iter().map(|r| r.0.clone()),
                    )),
                    Arc::new(Int32Array::from_iter(chunk.iter().map(|r| r.1))),
                    Arc::new(Float64Array::from_iter_values(chunk.iter().map(|r| r.2))),
                )
            })
            .collect();
        assert!(range_splitters(&columns).len() > 100);
        let h = summarise(&columns, end, 7.0).unwrap();
        let kept: Vec<(&String, &BTreeMap<i32, f64>)> = want
            .iter()
            .filter(|(_, days)| *days.keys().next().unwrap() <= end)
            .collect();
        assert_eq!(h.ids.len(), kept.len());
        for (i, (id, days)) in kept.iter().enumerate() {
            assert_eq!(h.ids.value(i), id.as_str());
            let first = *days.keys().next().unwrap();
            let calibration: Vec<(&i32, &f64)> = days.range(first + 1..=end).collect();
            let x = calibration.len() as f64;
            let last = calibration.last().map_or(first, |d| *d.0);
            let repeat: f64 = calibration.iter().map(|d| d.1).sum();
            let c = h.summaries[i];
            assert_eq!(c.x, x, "{id}");
            assert_eq!(c.t_x, f64::from(last - first) / 7.0, "{id}");
            assert_eq!(c.t, f64::from(end - first) / 7.0, "{id}");
            assert_eq!(h.spend[i], if x > 0.0 { repeat / x } else { 0.0 }, "{id}");
            let holdout: Vec<&f64> = days.range(end + 1..).map(|d| d.1).collect();
            assert_eq!(h.holdout_x[i], holdout.len() as f64, "{id}");
            assert_eq!(h.holdout_value[i], holdout.into_iter().sum::<f64>(), "{id}");
        }
    }
}
