//! Marketing mix: how much revenue each channel's spend brings, with carry-over and
//! saturation, and the split of a budget that the fitted curves say brings the most.
//!
//! Definitions (also in docs/analyses.md; the model in `clientele_models::mmm`):
//! - **the series** are weekly: revenue = `SUM(total_amount)` of the sales per Monday-to-Sunday
//!   week, spend = `SUM(marketing_spend.amount)` per channel and week (rows without a channel
//!   are left out, and counted); the weeks run from the first week both cover to the last, the
//!   first and last weeks of the sales left out as partial; a week without spend on a channel
//!   is 0;
//! - **the model**: revenue = base + trend + yearly Fourier season (its swing may grow with
//!   the trend) + Σ channels β · Hill(adstock(spend)), adstock geometric (decay θ), Hill with
//!   half-saturation K and shape S, β ≥ 0 by least squares, θ, K, S by maximum a posteriori
//!   with weakly informative priors (`Options::priors`); intervals by a moving-block
//!   bootstrap of the residuals;
//! - **contribution**: the revenue the fitted curve credits to the channel over the weeks;
//!   **ROI** = contribution / spend; **marginal ROI**: revenue per extra unit of spend at the
//!   current level (spend scaled up by 1 %);
//! - **response curves**: per channel, the steady-state weekly revenue `β · Hill(x / (1 − θ))`
//!   of spending `x` every week, at `CURVE_POINTS` even steps from 0 to `CURVE_REACH` times the
//!   larger of the current and the allocated weekly spend, plus the current spend itself
//!   (`current` = 1 on that row);
//! - **the allocation**: the split of the same weekly total (or `--budget`) that maximises the
//!   modelled revenue in steady state, each channel kept between `--min-change` and
//!   `--max-change` times its current weekly spend.
//!
//! A mix model sees correlation: spend that rises with the business is credited with its
//! growth. Check its ROI against holdout experiments (`clientele abtest`) before moving budget.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::Array;
use chrono::NaiveDate;
use clientele_models::mmm::{self, Options};
use serde_json::json;

use crate::analyses::analysis::Analysis;
use crate::analyses::forecast::Step;
use crate::analyses::input::read_csv;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Columns, f64_col, settle, str_col};
use crate::{AnalyticsError, Engine};

/// Parameters of `mmm`.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct MmmOptions {
    /// Bootstrap replicates for the 90 % intervals (0: none).
    #[arg(long, default_value_t = 100)]
    pub bootstrap: usize,
    /// Weekly budget to split (default: the current mean weekly spend).
    #[arg(long)]
    pub budget: Option<f64>,
    /// Least multiple of its current weekly spend a channel may get in the allocation.
    #[arg(long, default_value_t = 0.5)]
    pub min_change: f64,
    /// Largest multiple of its current weekly spend a channel may get in the allocation.
    #[arg(long, default_value_t = 2.0)]
    pub max_change: f64,
    /// A CSV file with one row per period (terminal only): a date column, a revenue column
    /// and one spend column per channel.
    #[arg(long, value_name = "FILE.csv")]
    #[serde(skip)]
    #[param(ignore)]
    pub file: Option<PathBuf>,
    /// With --file: the period column.
    #[arg(long, default_value = "week")]
    #[serde(skip)]
    #[param(ignore)]
    pub date_column: String,
    /// With --file: the revenue column.
    #[arg(long, default_value = "revenue")]
    #[serde(skip)]
    #[param(ignore)]
    pub revenue_column: String,
    /// With --file: the spend columns, comma-separated (default: every other column).
    #[arg(long, value_delimiter = ',')]
    #[serde(skip)]
    #[param(ignore)]
    pub spend_columns: Vec<String>,
}

impl Default for MmmOptions {
    fn default() -> Self {
        MmmOptions {
            bootstrap: 100,
            budget: None,
            min_change: 0.5,
            max_change: 2.0,
            file: None,
            date_column: "week".into(),
            revenue_column: "revenue".into(),
            spend_columns: Vec::new(),
        }
    }
}

impl Params for MmmOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        params::in_range("bootstrap", self.bootstrap, 0, 2000, "replicates")?;
        params::in_range(
            "min_change",
            self.min_change,
            0.0,
            1.0,
            "a multiple of current spend",
        )?;
        params::in_range(
            "max_change",
            self.max_change,
            1.0,
            100.0,
            "a multiple of current spend",
        )?;
        if let Some(b) = self.budget {
            params::in_range("budget", b, 0.0, 1e15, "an amount per week")?;
        }
        Ok(())
    }

    fn input_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// `clientele mmm`, `GET /api/v1/mmm`.
pub struct Mmm;

impl Spec for Mmm {
    type Params = MmmOptions;
    const DEF: Def = Def {
        name: "mmm",
        command: &["mmm"],
        aliases: &[],
        path: "/mmm",
        about: "Marketing mix model: revenue per channel's spend with carry-over and saturation, ROI, marginal ROI and a budget split.",
        long_about: "Fits weekly revenue on each channel's spend through geometric adstock and \
                     a Hill saturation curve, beside base, trend and season, and reports each \
                     channel's contribution, ROI and marginal ROI with bootstrap intervals, and \
                     the split of the weekly budget the curves say brings the most. A mix model \
                     sees correlation: check it against holdouts (clientele abtest).",
        area: Area::Campaigns,
        stores: None,
        progress: "fitting the marketing mix model",
    };
    async fn run(engine: &Engine, p: &MmmOptions) -> Result<Analysis, AnalyticsError> {
        let mut notes = Vec::new();
        let (periods, revenue, names, spend) = match &p.file {
            Some(f) => read_file(f, p)?,
            None => workspace(engine, &mut notes).await?,
        };
        run_model(periods, revenue, names, spend, p, notes)
    }
}

/// Steps of each response curve (table `response_curves`).
const CURVE_POINTS: usize = 40;
/// How far each response curve reaches, as a multiple of the larger of the channel's current
/// and allocated weekly spend.
const CURVE_REACH: f64 = 2.0;

/// Each channel's steady-state response curve, from 0 to past its current and allocated
/// spend, with the current spend as a row of its own (see the module's definitions).
fn response_curves(
    names: &[String],
    fit: &mmm::MmmFit,
    current: &[f64],
    allocated: Option<&[f64]>,
) -> Columns {
    let (mut channel, mut spend, mut revenue, mut now) = (vec![], vec![], vec![], vec![]);
    for (c, ch) in fit.channels.iter().enumerate() {
        let top = current[c].max(allocated.map_or(0.0, |a| a[c])) * CURVE_REACH;
        let mut xs: Vec<(f64, bool)> = (0..=CURVE_POINTS)
            .map(|i| (top * i as f64 / CURVE_POINTS as f64, false))
            .collect();
        xs.push((current[c], true));
        xs.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (x, is_current) in xs {
            channel.push(Some(names[c].clone()));
            spend.push(settle(x));
            revenue.push(settle(ch.response(x)));
            now.push(if is_current { 1.0 } else { 0.0 });
        }
    }
    Columns::default()
        .text("channel", channel)
        .num_values("weekly_spend", spend)
        .num_values("weekly_revenue", revenue)
        .num_values("current", now)
}

type Series = (Vec<String>, Vec<f64>, Vec<String>, Vec<Vec<f64>>);

fn run_model(
    periods: Vec<String>,
    revenue: Vec<f64>,
    names: Vec<String>,
    spend: Vec<Vec<f64>>,
    p: &MmmOptions,
    mut notes: Vec<String>,
) -> Result<Analysis, AnalyticsError> {
    let opts = Options {
        season: if revenue.len() >= 104 { 52 } else { 0 },
        seasonal_growth: true,
        priors: true,
        bootstrap: p.bootstrap,
        seed: 7,
        ..Options::default()
    };
    if opts.season == 0 {
        notes.push(format!(
            "{} weeks are fewer than two years: no yearly season is fitted",
            revenue.len()
        ));
    }
    let fit = mmm::fit(&revenue, &spend, &opts)
        .map_err(AnalyticsError::model("the marketing mix model"))?;
    let n = revenue.len() as f64;
    let current: Vec<f64> = spend.iter().map(|s| s.iter().sum::<f64>() / n).collect();
    let total = p.budget.unwrap_or_else(|| current.iter().sum());
    let alloc = mmm::optimise_budget(&fit, &current, total, Some((p.min_change, p.max_change)));
    let mut a = Analysis::of(&Mmm::DEF, "Marketing mix");
    a.notes = notes;
    a.param("bootstrap", p.bootstrap);
    a.param("min_change", p.min_change);
    a.param("max_change", p.max_change);
    if let Some(b) = p.budget {
        a.param("budget", b);
    }
    let total_revenue: f64 = revenue.iter().sum();
    let ch = &fit.channels;
    let col = |f: &dyn Fn(&mmm::ChannelFit) -> f64| -> Vec<Option<f64>> {
        ch.iter()
            .map(|c| Some(f(c)).filter(|v| v.is_finite()))
            .collect()
    };
    a.table(
        "channels",
        "Revenue credited to each channel's spend (90 % bootstrap intervals)",
        Columns::default()
            .text("channel", names.iter().cloned().map(Some).collect())
            .num("spend", col(&|c| c.spend))
            .num("contribution", col(&|c| c.contribution))
            .num("contribution_lower", col(&|c| c.contribution_lower))
            .num("contribution_upper", col(&|c| c.contribution_upper))
            .num("share_of_revenue", col(&|c| c.contribution / total_revenue))
            .num("roi", col(&|c| c.roi))
            .num("roi_lower", col(&|c| c.roi_lower))
            .num("roi_upper", col(&|c| c.roi_upper))
            .num("marginal_roi", col(&|c| c.marginal_roi))
            .num("decay", col(&|c| c.decay))
            .num("half_saturation", col(&|c| c.half_saturation))
            .num("shape", col(&|c| c.shape))
            .batch(),
    );
    match &alloc {
        Ok(al) => {
            a.table(
                "allocation",
                &format!("A weekly budget of {total:.2} split for the most modelled revenue"),
                Columns::default()
                    .text("channel", names.iter().cloned().map(Some).collect())
                    .num_values("current_weekly_spend", current.clone())
                    .num_values("optimal_weekly_spend", al.spend.clone())
                    .num_values(
                        "reallocated",
                        al.spend.iter().zip(&current).map(|(o, c)| o - c).collect(),
                    )
                    .batch(),
            );
            a.fact("allocation_weekly_media_revenue", al.revenue);
            a.fact("current_weekly_media_revenue", al.current_revenue);
        }
        Err(e) => a.notes.push(format!("no budget allocation: {e}")),
    }
    a.table(
        "response_curves",
        "Weekly revenue of a steady weekly spend, per channel (current = today's spend)",
        response_curves(
            &names,
            &fit,
            &current,
            alloc.as_ref().ok().map(|al| al.spend.as_slice()),
        )
        .batch(),
    );
    a.table(
        "fit",
        "Weekly revenue and the model's fit",
        Columns::default()
            .text("week", periods.into_iter().map(Some).collect())
            .num_values("revenue", revenue.clone())
            .num_values("fitted", fit.fitted.clone())
            .batch(),
    );
    a.fact("r_squared", fit.r_squared);
    a.fact("mape", fit.mape);
    a.fact("weeks", fit.n_obs);
    a.fact("base", fit.base);
    a.fact("trend_per_week", fit.trend);
    a.fact(
        "spend_correlation",
        json!({"channels": names, "matrix": mmm::spend_correlation(&spend)}),
    );
    a.fact(
        "caution",
        "a mix model credits spend with whatever moves with it; check ROI against holdout experiments before moving budget",
    );
    Ok(a)
}

async fn workspace(engine: &Engine, notes: &mut Vec<String>) -> Result<Series, AnalyticsError> {
    for t in ["orders", "marketing_spend"] {
        if !engine.has_table(t) {
            return Err(AnalyticsError::MissingData(format!(
                "the marketing mix model needs the {t} table"
            )));
        }
    }
    let rev = engine
        .query(
            "SELECT CAST(MIN(order_date) AS VARCHAR) AS lo, CAST(MAX(order_date) AS VARCHAR) AS hi FROM sales",
        )
        .await?;
    let day = |s: &str| s.parse::<NaiveDate>().ok();
    let no_sales = || AnalyticsError::MissingData("there are no sales".into());
    let b = rev
        .first()
        .filter(|b| b.num_rows() > 0)
        .ok_or_else(no_sales)?;
    let (l, h) = (str_col(b, "lo"), str_col(b, "hi"));
    let (Some(lo), Some(hi)) = (
        l.is_valid(0).then(|| day(l.value(0))).flatten(),
        h.is_valid(0).then(|| day(h.value(0))).flatten(),
    ) else {
        return Err(no_sales());
    };
    // Whole weeks only: the first and last weeks of the sales are partial unless they start
    // on a Monday and end on a Sunday.
    let week = Step::Week;
    let first = week.index_of(lo) + i64::from(week.start(week.index_of(lo)) != Some(lo));
    let last = week.index_of(hi) - i64::from(week.end(week.index_of(hi)) != Some(hi));
    let (Some(from), Some(to)) = (week.start(first), week.end(last)) else {
        return Err(no_sales());
    };
    if last < first {
        return Err(AnalyticsError::MissingData(
            "the sales cover no whole week".into(),
        ));
    }
    let n = (last - first + 1) as usize;
    let r = engine
        .query(&format!(
            "SELECT CAST(order_date AS VARCHAR) AS d, CAST(SUM(total_amount) AS DOUBLE) AS v
             FROM sales WHERE order_date BETWEEN DATE '{from}' AND DATE '{to}' GROUP BY 1"
        ))
        .await?;
    let s = engine
        .query(&format!(
            "SELECT CAST(date AS VARCHAR) AS d, channel AS c, CAST(SUM(amount) AS DOUBLE) AS v
             FROM marketing_spend WHERE date BETWEEN DATE '{from}' AND DATE '{to}' GROUP BY 1, 2"
        ))
        .await?;
    // The week of a day, as a position in the series.
    let slot = |text: &str| {
        day(text)
            .map(|d| week.index_of(d) - first)
            .filter(|k| (0..n as i64).contains(k))
            .map(|k| k as usize)
    };
    let mut revenue = vec![0.0; n];
    for b in &r {
        let (d, v) = (str_col(b, "d"), f64_col(b, "v"));
        for i in 0..b.num_rows() {
            if let Some(k) = slot(d.value(i)) {
                revenue[k] += v.value(i);
            }
        }
    }
    let mut by_channel: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut unnamed = 0.0;
    for b in &s {
        let (d, c, v) = (str_col(b, "d"), str_col(b, "c"), f64_col(b, "v"));
        for i in 0..b.num_rows() {
            let amount = if v.is_null(i) { 0.0 } else { v.value(i) };
            if c.is_null(i) {
                unnamed += amount;
                continue;
            }
            if let Some(k) = slot(d.value(i)) {
                by_channel
                    .entry(c.value(i).to_string())
                    .or_insert_with(|| vec![0.0; n])[k] += amount;
            }
        }
    }
    if unnamed > 0.0 {
        notes.push(format!(
            "{unnamed:.2} of spend without a channel was left out"
        ));
    }
    by_channel.retain(|name, v| {
        let keep = v.iter().sum::<f64>() > 0.0;
        if !keep {
            notes.push(format!("{name}: no spend in these weeks, left out"));
        }
        keep
    });
    if by_channel.is_empty() {
        return Err(AnalyticsError::MissingData(
            "no channel has spend in the weeks of the sales".into(),
        ));
    }
    notes.push(format!(
        "weeks {from} to {} (Monday to Sunday); partial first and last weeks of the sales left out",
        week.start(last).unwrap_or(to)
    ));
    let (names, spend): (Vec<String>, Vec<Vec<f64>>) = by_channel
        .into_iter()
        .map(|(name, v)| (name, v.into_iter().map(settle).collect()))
        .unzip();
    Ok((
        (first..=last).map(|i| week.label(i)).collect(),
        revenue.into_iter().map(settle).collect(),
        names,
        spend,
    ))
}

fn read_file(file: &Path, p: &MmmOptions) -> Result<Series, AnalyticsError> {
    let t = read_csv(file)?;
    let dates = t.require(&p.date_column, "the periods: --date-column")?;
    let rev = t.require(&p.revenue_column, "the revenue: --revenue-column")?;
    let spend_names: Vec<String> = if p.spend_columns.is_empty() {
        t.names
            .iter()
            .filter(|n| **n != p.date_column && **n != p.revenue_column)
            .cloned()
            .collect()
    } else {
        p.spend_columns.clone()
    };
    if spend_names.is_empty() {
        return Err(AnalyticsError::Usage(format!(
            "{}: no spend columns besides {} and {}",
            file.display(),
            p.date_column,
            p.revenue_column
        )));
    }
    let mut spend = Vec::new();
    for name in &spend_names {
        let col = t.require(name, "a spend column: --spend-columns")?;
        spend.push(
            col.iter()
                .enumerate()
                .map(|(i, v)| t.non_negative(i, name, v))
                .collect::<Result<Vec<f64>, _>>()?,
        );
    }
    let revenue = rev
        .iter()
        .enumerate()
        .map(|(i, v)| t.non_negative(i, &p.revenue_column, v))
        .collect::<Result<Vec<f64>, _>>()?;
    let periods = dates
        .iter()
        .map(|d| d.clone().unwrap_or_default())
        .collect();
    Ok((periods, revenue, spend_names, spend))
}
