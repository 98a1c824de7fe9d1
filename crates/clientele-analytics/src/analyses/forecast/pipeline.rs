//! `clientele forecast pipeline`: the expected won amount per future month from the open
//! deals, learned from how past deals moved, and checked on a snapshot a quarter back.
//!
//! Definitions (also in docs/analyses.md):
//! - **as of** is the latest date in the deal data (created, closed or stage entered);
//! - a deal is **open** at a date when it was created by then and not closed by then; its
//!   **stage** then is the last stage it entered by then (`deal_stage_history`), else its
//!   current stage;
//! - the **win probability from a stage** is, over the deals closed by that date that ever
//!   entered the stage, the share won; a stage entered by fewer than
//!   [`MIN_STAGE_DEALS`] closed deals uses the win rate of all closed deals;
//! - the **time to close from a stage** is the empirical distribution of days from entering
//!   the stage to closing, over the won deals that entered it; an open deal that has been in
//!   its stage for `a` days closes after `d − a` more days, `d` drawn from the durations
//!   longer than `a` (a deal older than all of them is taken to close in the first month);
//! - the **forecast** of a month is `Σ amount × win probability × P(closes in the month)`,
//!   with 80 % and 95 % bands from simulating every deal (`clientele_models::pipeline`);
//! - the **check**: the same forecast made from a snapshot a quarter before the as-of date,
//!   using only what was known then, beside the amount those deals were actually won for in
//!   each of the three months.

use std::collections::HashMap;

use arrow::array::Array;
use chrono::{Months, NaiveDate};
use clientele_models::pipeline::{self as pm, OpenDeal};
use serde_json::json;

use super::{Forecast, ForecastOptions, Step};
use crate::analyses::Spec;
use crate::analyses::analysis::Analysis;
use crate::util::{Rows, f64_col, str_col};
use crate::{AnalyticsError, Engine};

/// Closed deals a stage needs before its own win rate is used.
pub const MIN_STAGE_DEALS: usize = 5;
/// Simulated outcomes behind the bands.
const DRAWS: usize = 4_000;

#[derive(Debug, Clone)]
struct Deal {
    id: String,
    created: NaiveDate,
    stage: String,
    amount: f64,
    closed: Option<NaiveDate>,
    won: Option<bool>,
}

/// Deals and their stage visits (sorted by date per deal).
struct Book {
    deals: Vec<Deal>,
    visits: HashMap<String, Vec<(NaiveDate, String)>>,
}

impl Book {
    /// The stage a deal was in on `at`, and since when.
    fn stage_at(&self, d: &Deal, at: NaiveDate) -> (String, NaiveDate) {
        match self
            .visits
            .get(&d.id)
            .and_then(|v| v.iter().rev().find(|(when, _)| *when <= at))
        {
            Some((when, stage)) => (stage.clone(), *when),
            None => (d.stage.clone(), d.created),
        }
    }

    fn open_at(d: &Deal, at: NaiveDate) -> bool {
        d.created <= at && d.closed.is_none_or(|c| c > at)
    }

    /// What was learnt from the deals closed by `at`: win probability and won durations per
    /// stage, and the overall win rate.
    fn learn(&self, at: NaiveDate) -> Learnt {
        let mut stages: HashMap<String, (usize, usize, Vec<i64>)> = HashMap::new();
        let (mut won, mut closed) = (0usize, 0usize);
        for d in &self.deals {
            let (Some(c), Some(w)) = (d.closed, d.won) else {
                continue;
            };
            if c > at {
                continue;
            }
            closed += 1;
            won += usize::from(w);
            let mut seen: Vec<(&str, NaiveDate)> = Vec::new();
            match self.visits.get(&d.id) {
                Some(v) => {
                    for (when, stage) in v.iter().filter(|(when, _)| *when <= c) {
                        if !seen.iter().any(|(s, _)| s == stage) {
                            seen.push((stage, *when));
                        }
                    }
                }
                None => seen.push((&d.stage, d.created)),
            }
            for (stage, entered) in seen {
                let e = stages.entry(stage.to_string()).or_default();
                e.1 += 1;
                if w {
                    e.0 += 1;
                    e.2.push((c - entered).num_days().max(0));
                }
            }
        }
        for e in stages.values_mut() {
            e.2.sort_unstable();
        }
        Learnt {
            stages,
            overall: (closed > 0).then(|| won as f64 / closed as f64),
            closed,
        }
    }
}

struct Learnt {
    /// stage → (won, closed, sorted won durations in days).
    stages: HashMap<String, (usize, usize, Vec<i64>)>,
    overall: Option<f64>,
    closed: usize,
}

/// The pipeline forecast and its check a quarter back.
pub async fn forecast(engine: &Engine, p: &ForecastOptions) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("deals") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no deals table; the pipeline forecast is built from deals".into(),
        ));
    }
    if p.by != Step::Month {
        return Err(AnalyticsError::Usage(
            "the pipeline forecast is by month (leave out --by)".into(),
        ));
    }
    let horizon = p.horizon.unwrap_or(6);
    let book = read(engine).await?;
    let mut analysis = Analysis::of(
        &Forecast::DEF,
        "Pipeline forecast: expected won amount by month",
    );
    analysis.param("measure", "pipeline");
    analysis.param("horizon", horizon);
    if !engine.has_table("deal_stage_history") {
        analysis.notes.push(
            "no deal_stage_history table: stages are the deals' current stages, and time in \
             stage counts from the deal's creation"
                .into(),
        );
    }
    let Some(as_of) = book
        .deals
        .iter()
        .flat_map(|d| [Some(d.created), d.closed])
        .flatten()
        .chain(book.visits.values().flatten().map(|v| v.0))
        .max()
    else {
        return Err(AnalyticsError::MissingData(
            "the deals table is empty".into(),
        ));
    };
    let now = project(&book, as_of, horizon, &mut analysis.notes)?;
    let mut f = Rows::default();
    for (k, label) in now.periods.iter().enumerate() {
        f.text("period", Some(label.clone()));
        f.num("forecast", Some(now.result.expected[k]));
        for (level, lo, hi) in &now.result.intervals {
            let pct = (level * 100.0).round();
            f.num(&format!("lower_{pct}"), Some(lo[k]));
            f.num(&format!("upper_{pct}"), Some(hi[k]));
        }
    }
    analysis.table(
        "forecast",
        &format!(
            "Expected won amount from the {} open deals as of {as_of}",
            now.open
        ),
        f.batch(),
    );
    analysis.fact("measure", "pipeline");
    analysis.fact("as_of", as_of.to_string());
    analysis.fact("open_deals", now.open);
    analysis.fact("open_amount", now.open_amount);
    analysis.fact("closed_deals_learnt_from", now.learnt_from);
    analysis.fact("expected_after_horizon", now.result.later);
    analysis.fact(
        "model",
        "stage win probability × time to close from the stage (empirical)",
    );

    // The check: a snapshot a quarter back, against what its open deals did.
    let snapshot = as_of.checked_sub_months(Months::new(3));
    match snapshot.map(|s| (s, project(&book, s, 3, &mut Vec::new()))) {
        Some((s, Ok(back))) if back.open > 0 && back.learnt_from > 0 => {
            let mut actual = [0.0; 3];
            for d in book.deals.iter().filter(|d| Book::open_at(d, s)) {
                if let (Some(c), Some(true)) = (d.closed, d.won) {
                    let k = months_between(s, c);
                    if (0..3).contains(&k) {
                        actual[k as usize] += d.amount;
                    }
                }
            }
            let mut b = Rows::default();
            for (k, label) in back.periods.iter().enumerate() {
                b.text("period", Some(label.clone()));
                b.num("forecast", Some(back.result.expected[k]));
                b.num("actual", Some(actual[k]));
                for (level, lo, hi) in &back.result.intervals {
                    let pct = (level * 100.0).round();
                    b.num(&format!("lower_{pct}"), Some(lo[k]));
                    b.num(&format!("upper_{pct}"), Some(hi[k]));
                }
            }
            // The last month may not be complete by the as-of date.
            let (fsum, asum): (f64, f64) = (back.result.expected.iter().sum(), actual.iter().sum());
            let inside = (0..3)
                .filter(|&k| {
                    let (_, lo, hi) = &back.result.intervals[1];
                    actual[k] >= lo[k] && actual[k] <= hi[k]
                })
                .count();
            analysis.table(
                "check",
                &format!("Check: the forecast from the {} deals open on {s}, against what they were won for", back.open),
                b.batch(),
            );
            analysis.fact(
                "check",
                json!({
                    "snapshot": s.to_string(),
                    "open_deals": back.open,
                    "forecast": fsum,
                    "actual": asum,
                    "error_percent": if asum > 0.0 { Some((fsum - asum) / asum * 100.0) } else { None },
                    "months_inside_95": inside,
                }),
            );
        }
        _ => analysis.notes.push(
            "no check: a quarter before the as-of date there were no open deals or no closed \
             deals to learn from"
                .into(),
        ),
    }
    Ok(analysis)
}

struct Projection {
    periods: Vec<String>,
    result: pm::PipelineForecast,
    open: usize,
    open_amount: f64,
    learnt_from: usize,
}

/// Calendar months between the month after `from`'s day and `day`: 0 for a day in the
/// month of `from + 1 day`.
fn months_between(from: NaiveDate, day: NaiveDate) -> i64 {
    let start = from.succ_opt().unwrap_or(from);
    Step::Month.index_of(day) - Step::Month.index_of(start)
}

/// The forecast as seen on `at`.
fn project(
    book: &Book,
    at: NaiveDate,
    horizon: usize,
    notes: &mut Vec<String>,
) -> Result<Projection, AnalyticsError> {
    let learnt = book.learn(at);
    let Some(overall) = learnt.overall else {
        return Err(AnalyticsError::MissingData(format!(
            "no deal had closed by {at}: there is nothing to learn win probabilities from"
        )));
    };
    let start = at.succ_opt().unwrap_or(at);
    let first = Step::Month.index_of(start);
    let periods: Vec<String> = (0..horizon as i64)
        .map(|k| Step::Month.label(first + k))
        .collect();
    let mut deals = Vec::new();
    let (mut thin, mut overdue, mut amount) = (0usize, 0usize, 0.0);
    let mut thin_stages: Vec<String> = Vec::new();
    for d in book.deals.iter().filter(|d| Book::open_at(d, at)) {
        let (stage, since) = book.stage_at(d, at);
        let age = (at - since).num_days().max(0);
        let (p_win, durations) = match learnt.stages.get(&stage) {
            Some((won, closed, durs)) if *closed >= MIN_STAGE_DEALS => {
                (*won as f64 / *closed as f64, durs.as_slice())
            }
            other => {
                thin += 1;
                if !thin_stages.contains(&stage) {
                    thin_stages.push(stage.clone());
                }
                (overall, other.map_or(&[][..], |o| o.2.as_slice()))
            }
        };
        let later: Vec<i64> = durations
            .iter()
            .filter(|d| **d > age)
            .map(|d| d - age)
            .collect();
        let mut close = vec![0.0; horizon];
        if later.is_empty() {
            overdue += 1;
            close[0] = 1.0;
        } else {
            let w = 1.0 / later.len() as f64;
            for rem in later {
                let k = months_between(at, at + chrono::Duration::days(rem));
                if (0..horizon as i64).contains(&k) {
                    close[k as usize] += w;
                }
            }
        }
        amount += d.amount;
        deals.push(OpenDeal {
            amount: d.amount,
            p_win,
            close,
        });
    }
    if thin > 0 {
        notes.push(format!(
            "{thin} open deals are in stages with fewer than {MIN_STAGE_DEALS} closed deals \
             behind them ({}): they use the overall win rate, {:.1} %",
            thin_stages.join(", "),
            overall * 100.0
        ));
    }
    if overdue > 0 {
        notes.push(format!(
            "{overdue} open deals have been in their stage longer than any won deal took to \
             close from it: they are expected in the first month"
        ));
    }
    let result = pm::forecast(&deals, horizon, &[0.8, 0.95], DRAWS, 42)
        .map_err(AnalyticsError::model("the pipeline forecast"))?;
    Ok(Projection {
        periods,
        result,
        open: deals.len(),
        open_amount: amount,
        learnt_from: learnt.closed,
    })
}

async fn read(engine: &Engine) -> Result<Book, AnalyticsError> {
    let day = |s: &str| s.get(..10).and_then(|d| d.parse::<NaiveDate>().ok());
    let mut deals = Vec::new();
    for b in engine
        .query(
            "SELECT deal_id, CAST(created_at AS VARCHAR) AS created, stage, COALESCE(amount, 0) AS amount,
                    CAST(closed_at AS VARCHAR) AS closed, lower(outcome) AS outcome FROM deals
             ORDER BY deal_id",
        )
        .await?
    {
        let (id, cr, st, am, cl, oc) = (
            str_col(&b, "deal_id"),
            str_col(&b, "created"),
            str_col(&b, "stage"),
            f64_col(&b, "amount"),
            str_col(&b, "closed"),
            str_col(&b, "outcome"),
        );
        for i in 0..b.num_rows() {
            let Some(created) = cr.is_valid(i).then(|| day(cr.value(i))).flatten() else {
                continue;
            };
            let won = match oc.is_valid(i).then(|| oc.value(i)) {
                Some("won") => Some(true),
                Some("lost") => Some(false),
                _ => None,
            };
            deals.push(Deal {
                id: id.value(i).to_string(),
                created,
                stage: st.value(i).to_string(),
                amount: am.value(i),
                closed: if won.is_some() {
                    cl.is_valid(i).then(|| day(cl.value(i))).flatten()
                } else {
                    None
                },
                won,
            });
        }
    }
    let mut visits: HashMap<String, Vec<(NaiveDate, String)>> = HashMap::new();
    if engine.has_table("deal_stage_history") {
        for b in engine
            .query("SELECT deal_id, stage, CAST(entered_at AS VARCHAR) AS entered FROM deal_stage_history ORDER BY deal_id, entered_at")
            .await?
        {
            let (id, st, en) = (str_col(&b, "deal_id"), str_col(&b, "stage"), str_col(&b, "entered"));
            for i in 0..b.num_rows() {
                if let Some(when) = en.is_valid(i).then(|| day(en.value(i))).flatten() {
                    visits
                        .entry(id.value(i).to_string())
                        .or_default()
                        .push((when, st.value(i).to_string()));
                }
            }
        }
        for v in visits.values_mut() {
            v.sort();
        }
    }
    // A closed deal with no close date cannot be placed in time; it teaches nothing.
    deals.retain(|d| d.won.is_none() || d.closed.is_some());
    Ok(Book { deals, visits })
}
