//! Sales forecasts: revenue, orders, units or new customers per day, week, month or quarter,
//! optionally one forecast per region, category, channel or rep, from the workspace or from
//! any regular series in a file; and the pipeline forecast from open deals (`pipeline.rs`).
//!
//! Definitions (also in docs/analyses.md):
//! - **the series** is the measure per calendar period over the sales (orders neither
//!   cancelled nor returned) from the first complete period of the data to the last complete
//!   one; periods without sales are zero. A period the data starts or ends inside is left out
//!   (and said so), because a partial month would read as a collapse;
//! - **revenue** is `SUM(total_amount)` (with `--split category`, the order lines' revenue);
//!   **orders** a count of sales; **units** `SUM(quantity)` of their lines; **new customers**
//!   the customers whose first sale falls in the period;
//! - **the model** is chosen among the ETS models (Hyndman et al. 2008) by AICc, fitted by
//!   maximum likelihood (`clientele_models::forecast`), unless `--model` names one; a series
//!   too short for ETS falls back to seasonal naive, then drift, with a note;
//! - **prediction intervals** at 80 % and 95 %; for a measure that cannot be negative the
//!   lower bounds are cut at 0 (which changes no coverage: actuals are never below 0);
//! - **the backtest** is rolling-origin over the last quarter of the history with the
//!   model's parameters fitted on the first three quarters only: MAPE, sMAPE (fractions: 0.05 is 5 %),
//!   MASE (scaled by the in-sample seasonal-naive error) and the share of actuals inside the
//!   95 % interval, for the model and for seasonal naive beside it.

mod calendar;
mod pipeline;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::Array;
use chrono::NaiveDate;
use clientele_models::forecast::{self as fc, Accuracy, EtsSpec, Method};
use rayon::prelude::*;
use serde_json::{Value, json};

pub use calendar::Step;

use crate::analyses::analysis::Analysis;
use crate::analyses::input::read_csv;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Rows, f64_col, settle, str_col};
use crate::{AnalyticsError, Engine};

/// What is forecast.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Sales revenue.
    Revenue,
    /// Number of sales.
    Orders,
    /// Units sold.
    Units,
    /// Customers making their first purchase (`new-customers`; `new_customers`, the API's
    /// and the KPI's spelling, is accepted too).
    #[value(alias = "new_customers")]
    NewCustomers,
    /// Expected won amount from the open deals (the pipeline forecast).
    Pipeline,
}

impl Measure {
    fn name(self) -> &'static str {
        match self {
            Measure::Revenue => "revenue",
            Measure::Orders => "orders",
            Measure::Units => "units",
            Measure::NewCustomers => "new_customers",
            Measure::Pipeline => "pipeline",
        }
    }
}

/// One forecast per member of this dimension.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The order's region, else the customer's.
    Region,
    /// The product category (order lines).
    Category,
    /// The order's sales channel.
    Channel,
    /// The order's sales rep.
    Rep,
}

impl Split {
    fn name(self) -> &'static str {
        match self {
            Split::Region => "region",
            Split::Category => "category",
            Split::Channel => "channel",
            Split::Rep => "rep",
        }
    }
}

/// Parameters of `forecast`.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ForecastOptions {
    /// What to forecast (ignored with --series).
    #[arg(default_value = "revenue", value_parser = params::choice::<Measure>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub measure: Measure,
    /// Period of the series (with --series it is read from the dates).
    #[arg(long, default_value = "month", value_parser = params::choice::<Step>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub by: Step,
    /// Periods to forecast [default: 12 months, 4 quarters, 13 weeks or 28 days].
    #[arg(long)]
    pub horizon: Option<usize>,
    /// Season length in periods [default: 12 for months, 4 for quarters, 52 for weeks, 7 for
    /// days; 1 means no season].
    #[arg(long)]
    pub season: Option<usize>,
    /// One forecast per member of this dimension.
    #[arg(long, value_parser = params::choice::<Split>())]
    #[serde(default, deserialize_with = "de_opt_split")]
    #[param(inline)]
    pub split: Option<Split>,
    /// The model: auto (the ETS model with the lowest AICc), an ETS model such as ETS(A,Ad,M)
    /// or AAdM, snaive (seasonal naive) or drift.
    #[arg(long, default_value = "auto")]
    pub model: String,
    /// A CSV file holding one regular series to forecast instead of the workspace's
    /// (terminal only).
    #[arg(long, value_name = "FILE.csv")]
    #[serde(skip)]
    #[param(ignore)]
    pub series: Option<PathBuf>,
    /// With --series: the column of periods (dates, 2024-03 months or 2024-Q1 quarters).
    #[arg(long, default_value = "date")]
    #[serde(skip)]
    #[param(ignore)]
    pub date_column: String,
    /// With --series: the column of values.
    #[arg(long, default_value = "value")]
    #[serde(skip)]
    #[param(ignore)]
    pub value_column: String,
}

fn de_opt_split<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Split>, D::Error> {
    params::de_choice::<D, Split>(d).map(Some)
}

impl Default for ForecastOptions {
    fn default() -> Self {
        ForecastOptions {
            measure: Measure::Revenue,
            by: Step::Month,
            horizon: None,
            season: None,
            split: None,
            model: "auto".into(),
            series: None,
            date_column: "date".into(),
            value_column: "value".into(),
        }
    }
}

/// The most periods one forecast may look ahead.
pub const MAX_HORIZON: usize = 1_000;

impl Params for ForecastOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        if let Some(h) = self.horizon {
            params::in_range("horizon", h, 1, MAX_HORIZON, "a number of periods")?;
        }
        if let Some(m) = self.season {
            params::in_range("season", m, 1, 400, "a number of periods")?;
        }
        ModelChoice::parse(&self.model)?;
        if self.series.is_some() && self.split.is_some() {
            return Err(AnalyticsError::Usage(
                "--split splits the workspace's sales; a --series file is one series".into(),
            ));
        }
        Ok(())
    }

    fn input_file(&self) -> Option<&Path> {
        self.series.as_deref()
    }
}

/// `clientele forecast`, `GET /api/v1/forecast`.
pub struct Forecast;

impl Spec for Forecast {
    type Params = ForecastOptions;
    const DEF: Def = Def {
        name: "forecast",
        command: &["forecast"],
        aliases: &[],
        path: "/forecast",
        about: "Forecast revenue, orders, units, new customers or the pipeline, with 80 % and 95 % prediction intervals.",
        long_about: "Forecasts a measure per period (ETS chosen by AICc, seasonal naive and drift as \
                     baselines), prints the forecast with its intervals, the model and why it was \
                     chosen, and its backtested accuracy beside seasonal naive. `forecast \
                     pipeline` gives the expected won amount per month from the open deals. \
                     --series FILE.csv forecasts any regular series from a file.",
        area: Area::Sales,
        stores: None,
        progress: "fitting the forecast models",
    };
    async fn run(engine: &Engine, p: &ForecastOptions) -> Result<Analysis, AnalyticsError> {
        if p.measure == Measure::Pipeline && p.series.is_none() {
            return pipeline::forecast(engine, p).await;
        }
        forecast(engine, p).await
    }
}

/// How the model is picked.
#[derive(Debug, Clone)]
enum ModelChoice {
    Auto,
    Fixed(Method),
}

impl ModelChoice {
    fn parse(text: &str) -> Result<ModelChoice, AnalyticsError> {
        let t = text.trim();
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "auto" | "ets" | "" => return Ok(ModelChoice::Auto),
            "snaive" | "seasonal_naive" | "seasonal-naive" => {
                return Ok(ModelChoice::Fixed(Method::SeasonalNaive));
            }
            "drift" => return Ok(ModelChoice::Fixed(Method::Drift)),
            _ => {}
        }
        let bad = || {
            AnalyticsError::parameter(
                "model",
                t,
                "expected auto, snaive, drift or an ETS model such as ETS(A,Ad,M) or AAdM \
                 (error A or M; trend N, A or Ad; season N, A or M)",
            )
        };
        t.parse::<EtsSpec>()
            .map(|spec| ModelChoice::Fixed(Method::Ets(spec)))
            .map_err(|_| bad())
    }
}

/// One regular series to forecast: its first period's index and its values.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// The member of the split (`None` without a split).
    pub split: Option<String>,
    /// Index of the first period (`Step::index_of`).
    pub first: i64,
    pub values: Vec<f64>,
}

/// What one series' forecast came to.
struct Outcome {
    split: Option<String>,
    first: i64,
    values: Vec<f64>,
    fitted: Option<Vec<f64>>,
    method: String,
    reason: String,
    detail: Value,
    forecast: Option<fc::Forecast>,
    accuracy: Option<Accuracy>,
    naive: Option<Accuracy>,
    error: Option<String>,
    /// What the model choice left out and why (the same for every split, said once).
    notes: Vec<String>,
}

/// The forecast of a measure from the workspace, or of a series file.
async fn forecast(engine: &Engine, p: &ForecastOptions) -> Result<Analysis, AnalyticsError> {
    let mut analysis = Analysis::of(&Forecast::DEF, "Forecast");
    let (step, series, nonnegative, what) = match &p.series {
        Some(path) => {
            let (step, s) = read_series(path, &p.date_column, &p.value_column)?;
            if step != p.by && p.by != Step::Month {
                analysis.notes.push(format!(
                    "the file's periods are {}s: --by {} is not used",
                    step.name(),
                    p.by.name()
                ));
            }
            let nonnegative = s.values.iter().all(|v| *v >= 0.0);
            let what = format!("{} of {}", p.value_column, path.display());
            (step, vec![s], nonnegative, what)
        }
        None => {
            let s = workspace_series(engine, p, &mut analysis.notes).await?;
            (p.by, s, true, p.measure.name().replace('_', " "))
        }
    };
    let season = p.season.unwrap_or_else(|| step.season());
    let horizon = p.horizon.unwrap_or_else(|| step.default_horizon());
    let choice = ModelChoice::parse(&p.model)?;
    analysis.title = format!("Forecast of {what} by {}", step.name());
    analysis.param("measure", p.measure.name());
    analysis.param("by", step.name());
    analysis.param("horizon", horizon);
    analysis.param("season", season);
    analysis.param("model", &p.model);
    if let Some(s) = p.split {
        analysis.param("split", s.name());
    }

    // One fit per series; series are independent, so they run side by side.
    let outcomes: Vec<Outcome> = series
        .into_par_iter()
        .map(|s| forecast_one(s, season, horizon, &choice))
        .collect();
    if p.split.is_none()
        && let Some(err) = outcomes.first().and_then(|o| o.error.clone())
    {
        return Err(AnalyticsError::Usage(err));
    }

    let with_split = p.split.is_some();
    let (text, num) = (true, false);
    let mut f = Rows::new(&[
        ("split", text),
        ("period", text),
        ("forecast", num),
        ("lower_80", num),
        ("upper_80", num),
        ("lower_95", num),
        ("upper_95", num),
    ]);
    let mut m = Rows::new(&[
        ("split", text),
        ("model", text),
        ("reason", text),
        ("periods", num),
        ("mape", num),
        ("smape", num),
        ("mase", num),
        ("coverage_95", num),
        ("naive_mape", num),
        ("naive_smape", num),
        ("naive_mase", num),
        ("naive_coverage_95", num),
    ]);
    let mut h = Rows::new(&[
        ("split", text),
        ("period", text),
        ("actual", num),
        ("fitted", num),
    ]);
    let mut models = Vec::new();
    for o in &outcomes {
        for n in &o.notes {
            if !analysis.notes.contains(n) {
                analysis.notes.push(n.clone());
            }
        }
        if let Some(err) = &o.error {
            analysis.notes.push(format!(
                "{}: no forecast ({err})",
                o.split.as_deref().unwrap_or("the series")
            ));
        }
        for (i, v) in o.values.iter().enumerate() {
            h.text("split", o.split.clone());
            h.text("period", Some(step.label(o.first + i as i64)));
            h.num("actual", Some(*v));
            h.num(
                "fitted",
                o.fitted
                    .as_ref()
                    .and_then(|f| f.get(i).copied())
                    .filter(|v| v.is_finite()),
            );
        }
        if let Some(fcst) = &o.forecast {
            let start = o.first + o.values.len() as i64;
            for (i, mean) in fcst.mean.iter().enumerate() {
                f.text("split", o.split.clone());
                f.text("period", Some(step.label(start + i as i64)));
                f.num("forecast", Some(*mean));
                for level in [0.8, 0.95] {
                    let band = fcst
                        .intervals
                        .iter()
                        .find(|b| (b.level - level).abs() < 1e-9);
                    let cut = |v: f64| if nonnegative { v.max(0.0) } else { v };
                    let pct = (level * 100.0).round();
                    f.num(
                        &format!("lower_{pct}"),
                        band.and_then(|b| b.lower.get(i)).map(|v| cut(*v)),
                    );
                    f.num(
                        &format!("upper_{pct}"),
                        band.and_then(|b| b.upper.get(i)).copied(),
                    );
                }
            }
        }
        m.text("split", o.split.clone());
        m.text("model", Some(o.method.clone()));
        m.text("reason", Some(o.reason.clone()));
        m.num("periods", Some(o.values.len() as f64));
        for (prefix, acc) in [("", &o.accuracy), ("naive_", &o.naive)] {
            m.num(&format!("{prefix}mape"), acc.as_ref().map(|a| a.mape));
            m.num(&format!("{prefix}smape"), acc.as_ref().map(|a| a.smape));
            m.num(&format!("{prefix}mase"), acc.as_ref().map(|a| a.mase));
            m.num(
                &format!("{prefix}coverage_95"),
                acc.as_ref().map(|a| a.coverage_95),
            );
        }
        let mut detail = o.detail.clone();
        if let Value::Object(map) = &mut detail {
            if let Some(s) = &o.split {
                map.insert("split".into(), json!(s));
            }
            map.insert("reason".into(), json!(o.reason));
            map.insert("backtest".into(), accuracy_json(&o.accuracy));
            map.insert("seasonal_naive_backtest".into(), accuracy_json(&o.naive));
            if let Some(e) = &o.error {
                map.insert("error".into(), json!(e));
            }
        }
        models.push(detail);
    }
    if nonnegative {
        analysis
            .notes
            .push("lower bounds are cut at 0: the measure cannot be negative".into());
    }
    let keep_split = |r: Rows| if with_split { r } else { r.without("split") };
    analysis.table(
        "forecast",
        &format!("Forecast, {horizon} {}s ahead", step.name()),
        keep_split(f).batch(),
    );
    analysis.table(
        "models",
        "Model and backtest (rolling origin over the last quarter of the history)",
        keep_split(m).batch(),
    );
    analysis.table(
        "history",
        "History and in-sample fit",
        keep_split(h).batch(),
    );
    analysis.fact("measure", p.measure.name());
    analysis.fact("by", step.name());
    analysis.fact("season", season);
    analysis.fact("horizon", horizon);
    if with_split {
        analysis.fact("split", p.split.map(Split::name));
        analysis.fact("models", models);
    } else if let Some(Value::Object(map)) = models.into_iter().next() {
        for (k, v) in map {
            analysis.facts.insert(k, v);
        }
    }
    Ok(analysis)
}

fn accuracy_json(a: &Option<Accuracy>) -> Value {
    match a {
        None => Value::Null,
        Some(a) => json!({
            "mape": finite(a.mape), "smape": finite(a.smape), "mase": finite(a.mase),
            "coverage_95": finite(a.coverage_95), "points": a.points,
        }),
    }
}

fn finite(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

/// Fits, forecasts and backtests one series. Never fails: what went wrong is in `error`.
fn forecast_one(s: Series, season: usize, horizon: usize, choice: &ModelChoice) -> Outcome {
    let mut out = Outcome {
        split: s.split,
        first: s.first,
        values: s.values,
        fitted: None,
        method: String::new(),
        reason: String::new(),
        detail: json!({}),
        forecast: None,
        accuracy: None,
        naive: None,
        error: None,
        notes: Vec::new(),
    };
    let y = &out.values;
    let fitted = match choice {
        ModelChoice::Fixed(method) => fc::fit(y, season, method).map(|f| {
            let reason = "chosen with --model".to_string();
            (f, reason, Vec::new(), Vec::new())
        }),
        ModelChoice::Auto => match fc::auto_ets(y, season) {
            Ok(sel) => {
                let mut ranked: Vec<&fc::Candidate> = sel
                    .candidates
                    .iter()
                    .filter(|c| c.aicc.is_finite())
                    .collect();
                ranked.sort_by(|a, b| a.aicc.total_cmp(&b.aicc));
                let reason = match ranked.get(1) {
                    Some(next) => format!(
                        "lowest AICc ({:.1}) of {} ETS models fitted; next {} at {:.1}",
                        sel.best.aicc,
                        ranked.len(),
                        next.spec.name(),
                        next.aicc
                    ),
                    None => format!(
                        "the only ETS model that could be fitted (AICc {:.1})",
                        sel.best.aicc
                    ),
                };
                let candidates = ranked
                    .iter()
                    .map(|c| json!({"model": c.spec.name(), "aicc": c.aicc}))
                    .collect();
                Ok((sel.best, reason, candidates, sel.notes))
            }
            // Too short or too flat for ETS: the baselines still say something.
            Err(ets_err) => [Method::SeasonalNaive, Method::Drift]
                .iter()
                .find_map(|m| fc::fit(y, season, m).ok())
                .map(|f| {
                    let reason =
                        format!("no ETS model could be fitted ({ets_err}); a baseline is used");
                    (f, reason, Vec::new(), Vec::new())
                })
                .ok_or(ets_err),
        },
    };
    let (model, reason, candidates, notes) = match fitted {
        Ok(f) => f,
        Err(e) => {
            out.error = Some(format!("{e}"));
            return out;
        }
    };
    out.notes = notes;
    out.method = model.method.name();
    out.reason = reason;
    out.fitted = Some(model.fitted.clone());
    let params: serde_json::Map<String, Value> = model
        .params
        .iter()
        .map(|(k, v)| (k.clone(), finite(*v)))
        .collect();
    out.detail = json!({
        "model": out.method,
        "parameters": params,
        "loglik": finite(model.loglik),
        "aic": finite(model.aic),
        "aicc": finite(model.aicc),
        "bic": finite(model.bic),
        "sigma2": finite(model.sigma2),
        "observations": model.n_obs,
        "candidates": candidates,
    });
    match model.forecast(horizon, &[0.8, 0.95]) {
        Ok(f) => out.forecast = Some(f),
        Err(e) => out.error = Some(format!("{e}")),
    }
    // A backtest needs a history to hold out; a short one is reported as not available.
    out.accuracy = fc::backtest(y, season, &model.method, horizon).ok();
    out.naive = fc::backtest(y, season, &Method::SeasonalNaive, horizon).ok();
    if let (Some(a), Some(n)) = (&out.accuracy, &out.naive)
        && a.mase.is_finite()
        && n.mase.is_finite()
        && n.mase < a.mase
    {
        out.reason.push_str(&format!(
            "; note: seasonal naive did better in the backtest (MASE {:.2} against {:.2})",
            n.mase, a.mase
        ));
    }
    out
}

/// Reads one regular series from a CSV file: periods in `date_column`, values in
/// `value_column`, sorted by period. Every period must be present once.
fn read_series(
    path: &Path,
    date_column: &str,
    value_column: &str,
) -> Result<(Step, Series), AnalyticsError> {
    let t = read_csv(path)?;
    let dates = t.require(date_column, "the periods: --date-column")?;
    let values = t.require(value_column, "the values: --value-column")?;
    let mut points: Vec<(NaiveDate, f64, usize)> = Vec::with_capacity(t.rows());
    for (i, (d, v)) in dates.iter().zip(values).enumerate() {
        let d = d.as_deref().unwrap_or("");
        let day = calendar::parse_period(d).ok_or_else(|| {
            t.cell_error(i, date_column, d, "a date (YYYY-MM-DD, YYYY-MM or YYYY-Qn)")
        })?;
        let v = v.as_deref().unwrap_or("");
        let x: f64 = v
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| t.cell_error(i, value_column, v, "a number (a series has no gaps)"))?;
        points.push((day, x, i));
    }
    if points.len() < 2 {
        return Err(AnalyticsError::Usage(format!(
            "{}: {} rows; a series needs at least 2",
            path.display(),
            points.len()
        )));
    }
    points.sort_by_key(|p| p.0);
    for w in points.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(AnalyticsError::Usage(format!(
                "{}: rows {} and {} both hold period {}",
                path.display(),
                w[0].2 + 2,
                w[1].2 + 2,
                w[0].0
            )));
        }
    }
    let days: Vec<NaiveDate> = points.iter().map(|p| p.0).collect();
    let step = calendar::infer_step(&days).ok_or_else(|| {
        // Name the first place the spacing breaks, at the step the start suggests.
        let at = days
            .windows(2)
            .position(|w| Step::Month.index_of(w[1]) != Step::Month.index_of(w[0]) + 1)
            .unwrap_or(0);
        AnalyticsError::Usage(format!(
            "{}: the periods are not regular days, weeks, months or quarters without gaps \
             (for example {} is followed by {}): fill missing periods with 0 if nothing happened",
            path.display(),
            days[at],
            days[(at + 1).min(days.len() - 1)]
        ))
    })?;
    Ok((
        step,
        Series {
            split: None,
            first: step.index_of(days[0]),
            values: points.iter().map(|p| p.1).collect(),
        },
    ))
}

/// The measure per complete period of the workspace's sales, one series per split member.
async fn workspace_series(
    engine: &Engine,
    p: &ForecastOptions,
    notes: &mut Vec<String>,
) -> Result<Vec<Series>, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no orders table; forecasts are built from sales".into(),
        ));
    }
    let lines = p.measure == Measure::Units || p.split == Some(Split::Category);
    if lines && !engine.has_table("order_items") {
        return Err(AnalyticsError::MissingData(format!(
            "the workspace has no order_items table, which {} needs",
            if p.measure == Measure::Units {
                "forecasting units"
            } else {
                "--split category"
            }
        )));
    }
    if p.split == Some(Split::Category) && !engine.has_table("products") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no products table, which --split category needs".into(),
        ));
    }
    let has_customers = engine.has_table("customers");
    let a = if lines { "l" } else { "s" };
    let region = if lines { "l.order_region" } else { "s.region" };
    let key = match p.split {
        None => "CAST(NULL AS VARCHAR)".to_string(),
        Some(Split::Region) if has_customers => format!("COALESCE({region}, c.region)"),
        Some(Split::Region) => region.to_string(),
        Some(Split::Category) => "p.category".into(),
        Some(Split::Channel) => format!("{a}.channel"),
        Some(Split::Rep) => format!("{a}.sales_rep_id"),
    };
    let mut joins = String::new();
    if p.split == Some(Split::Category) {
        joins.push_str(" LEFT JOIN products p ON l.product_id = p.product_id");
    }
    if p.split == Some(Split::Region) && has_customers {
        joins.push_str(&format!(
            " LEFT JOIN customers c ON {a}.customer_id = c.customer_id"
        ));
    }
    let from = if lines { "sales_lines l" } else { "sales s" };
    let value = match (p.measure, lines) {
        (Measure::Revenue, true) => "SUM(l.line_amount)",
        (Measure::Revenue, false) => "SUM(s.total_amount)",
        (Measure::Orders, true) => "CAST(COUNT(DISTINCT l.order_id) AS DOUBLE)",
        (Measure::Orders, false) => "CAST(COUNT(*) AS DOUBLE)",
        (Measure::Units, _) => "CAST(SUM(l.quantity) AS DOUBLE)",
        (Measure::NewCustomers, _) | (Measure::Pipeline, _) => "",
    };
    let sql = if p.measure == Measure::NewCustomers {
        // A customer is new on the day of their first sale, in the split member of that sale.
        format!(
            "WITH r AS (SELECT {a}.customer_id, CAST({a}.order_date AS DATE) AS d, {key} AS g,
                        ROW_NUMBER() OVER (PARTITION BY {a}.customer_id ORDER BY {a}.order_date, {a}.order_id) AS n
                        FROM {from}{joins})
             SELECT CAST(d AS VARCHAR) AS d, g, CAST(COUNT(*) AS DOUBLE) AS v FROM r
             WHERE n = 1 AND customer_id IS NOT NULL GROUP BY d, g"
        )
    } else {
        format!(
            "SELECT CAST(CAST({a}.order_date AS DATE) AS VARCHAR) AS d, {key} AS g, {value} AS v
             FROM {from}{joins} GROUP BY CAST({a}.order_date AS DATE), {key}"
        )
    };
    let bounds = engine
        .query("SELECT CAST(MIN(CAST(order_date AS DATE)) AS VARCHAR) AS lo, CAST(MAX(CAST(order_date AS DATE)) AS VARCHAR) AS hi FROM sales")
        .await?;
    let day = |s: Option<&str>| s.and_then(|s| s.parse::<NaiveDate>().ok());
    let (lo, hi) = match bounds.iter().find(|b| b.num_rows() > 0) {
        Some(b) => {
            let (lo, hi) = (str_col(b, "lo"), str_col(b, "hi"));
            (
                day(lo.iter().next().flatten()),
                day(hi.iter().next().flatten()),
            )
        }
        None => (None, None),
    };
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Err(AnalyticsError::MissingData(
            "there are no sales to forecast from".into(),
        ));
    };
    let step = p.by;
    let mut first = step.index_of(lo);
    let mut last = step.index_of(hi);
    if step.start(first) != Some(lo) {
        notes.push(format!(
            "the data starts on {lo}, inside {}: that period is left out",
            step.label(first)
        ));
        first += 1;
    }
    if step.end(last) != Some(hi) {
        notes.push(format!(
            "the data ends on {hi}, inside {}: that period is left out and the forecast starts there",
            step.label(last)
        ));
        last -= 1;
    }
    if last < first {
        return Err(AnalyticsError::MissingData(format!(
            "the sales span {lo} to {hi}: not one complete {}",
            step.name()
        )));
    }
    let n = (last - first + 1) as usize;
    let mut by_member: BTreeMap<Option<String>, Vec<f64>> = BTreeMap::new();
    if p.split.is_none() {
        by_member.insert(None, vec![0.0; n]);
    }
    let mut unassigned = 0.0;
    for b in engine.query(&sql).await? {
        let (d, g, v) = (str_col(&b, "d"), str_col(&b, "g"), f64_col(&b, "v"));
        for i in 0..b.num_rows() {
            let Some(date) = day(d.is_valid(i).then(|| d.value(i))) else {
                continue;
            };
            let k = step.index_of(date);
            if k < first || k > last {
                continue;
            }
            let member = if p.split.is_some() {
                if g.is_null(i) {
                    unassigned += if v.is_null(i) { 0.0 } else { v.value(i) };
                    continue;
                }
                Some(g.value(i).to_string())
            } else {
                None
            };
            let series = by_member.entry(member).or_insert_with(|| vec![0.0; n]);
            if v.is_valid(i) {
                series[(k - first) as usize] += v.value(i);
            }
        }
    }
    if let Some(s) = p.split
        && unassigned > 0.0
    {
        notes.push(format!(
            "{unassigned} of the {} have no {}: they are in no split's forecast",
            p.measure.name().replace('_', " "),
            s.name()
        ));
    }
    Ok(by_member
        .into_iter()
        .map(|(split, values)| Series {
            split,
            first,
            values: values.into_iter().map(settle).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_are_read_as_r_prints_them() {
        for (text, want) in [
            ("ETS(A,Ad,M)", "ETS(A,Ad,M)"),
            ("AAdM", "ETS(A,Ad,M)"),
            ("mnn", "ETS(M,N,N)"),
            ("ets(M, A, A)", "ETS(M,A,A)"),
        ] {
            match ModelChoice::parse(text).unwrap() {
                ModelChoice::Fixed(m) => assert_eq!(m.name(), want, "{text}"),
                ModelChoice::Auto => panic!("{text} read as auto"),
            }
        }
        assert!(matches!(
            ModelChoice::parse("auto").unwrap(),
            ModelChoice::Auto
        ));
        for bad in ["ETS(A,M,N)", "AX", "ETS(A,Ad)", "holt"] {
            assert!(ModelChoice::parse(bad).is_err(), "{bad}");
        }
    }
}
