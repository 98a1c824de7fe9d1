//! Multi-touch attribution: credit for conversions and revenue per channel (or campaign)
//! under the heuristic models, the Markov chain removal effect and Shapley values, from the
//! workspace's touchpoints or from a path file in ChannelAttribution's format.
//!
//! Definitions (also in docs/analyses.md):
//! - a **conversion** is a sale (an order neither cancelled nor returned), worth its
//!   `total_amount`; with `--goal leads` it is a lead's conversion (`leads.converted_at` with
//!   its `customer_id`), worth nothing (the value columns are then 0);
//! - a sale happens at the end of its day (orders are dated by day), so that day's touches
//!   are on its path;
//! - a conversion's **path** is the customer's touchpoints, in time order, after their
//!   previous conversion and within `lookback_days` before it; a conversion with no touch in
//!   that window has no path and is counted as unattributed (in the facts), not credited;
//! - a **null path** is a customer's touchpoints after their last conversion (all of them for
//!   a customer who never converted), within `lookback_days` before the last of them;
//! - with `--from`/`--to`, only the conversions dated in that period are credited (their
//!   paths may start before it), and only the null paths whose last touch falls in it;
//! - touches of kind `email_sent` (a send is not seen) and `unsubscribe` are not touches;
//! - the models' definitions are in `clientele_models::attribution`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::Array;
use chrono::NaiveDate;
use clientele_models::attribution::{self as attr, Options, Path as Journey};
use serde_json::json;

use crate::analyses::analysis::Analysis;
use crate::analyses::input::read_csv;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Columns, f64_col, str_col};
use crate::{AnalyticsError, Engine};

/// What gets the credit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum CreditTo {
    /// The touchpoint's channel.
    Channel,
    /// The touchpoint's campaign (`(none)` for touches outside campaigns).
    Campaign,
}

impl CreditTo {
    /// The parameter's value, and the name of the first column.
    fn name(self) -> &'static str {
        match self {
            CreditTo::Channel => "channel",
            CreditTo::Campaign => "campaign",
        }
    }
}

/// What counts as a conversion.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    /// A sale.
    Orders,
    /// A lead's conversion.
    Leads,
}

/// Parameters of `attribution`.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct AttributionOptions {
    /// Credit channels or campaigns.
    #[arg(long, default_value = "channel", value_parser = params::choice::<CreditTo>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub by: CreditTo,
    /// The conversion: a sale or a lead's conversion.
    #[arg(long, default_value = "orders", value_parser = params::choice::<Goal>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub goal: Goal,
    /// Days before a conversion whose touches are on its path.
    #[arg(long, default_value_t = 30)]
    pub lookback_days: u32,
    /// Order of the Markov chain (1 to 3): how many past touches a state remembers.
    #[arg(long, default_value_t = 1)]
    pub order: usize,
    /// Half-life of the time-decay model, in days (steps along the path for a path file).
    #[arg(long, default_value_t = 7.0)]
    pub half_life_days: f64,
    /// Only conversions on or after this day (YYYY-MM-DD); their paths may start before it.
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Only conversions on or before this day (YYYY-MM-DD).
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
    /// A CSV file of paths in ChannelAttribution's format (path "a > b > c",
    /// total_conversions, total_conversion_value, total_null) instead of the workspace
    /// (terminal only).
    #[arg(long, value_name = "FILE.csv")]
    #[serde(skip)]
    #[param(ignore)]
    pub paths: Option<PathBuf>,
}

impl Default for AttributionOptions {
    fn default() -> Self {
        AttributionOptions {
            by: CreditTo::Channel,
            goal: Goal::Orders,
            lookback_days: 30,
            order: 1,
            half_life_days: 7.0,
            from: None,
            to: None,
            paths: None,
        }
    }
}

impl Params for AttributionOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        params::in_range("lookback_days", self.lookback_days, 1, 3650, "days")?;
        params::in_range("order", self.order, 1, 3, "a Markov order")?;
        params::in_range("half_life_days", self.half_life_days, 0.01, 3650.0, "days")?;
        if let (Some(f), Some(t)) = (self.from, self.to)
            && f > t
        {
            return Err(AnalyticsError::Usage(format!(
                "from {f} is after to {t}: expected a period that runs forward"
            )));
        }
        if self.paths.is_some() && (self.from.is_some() || self.to.is_some()) {
            return Err(AnalyticsError::Usage(
                "--from and --to select the workspace's conversions; a path file has no dates"
                    .into(),
            ));
        }
        Ok(())
    }

    fn input_file(&self) -> Option<&Path> {
        self.paths.as_deref()
    }
}

/// `clientele attribution`, `GET /api/v1/attribution`.
pub struct Attribution;

impl Spec for Attribution {
    type Params = AttributionOptions;
    const DEF: Def = Def {
        name: "attribution",
        command: &["attribution"],
        aliases: &[],
        path: "/attribution",
        about: "Multi-touch attribution: conversions and revenue credited per channel or campaign under seven models.",
        long_about: "Builds each conversion's path from the touchpoints before it (within \
                     --lookback-days) and the paths that did not convert, and credits channels \
                     (or campaigns) under first touch, last touch, linear, time decay, position \
                     based (40/20/40), the Markov chain removal effect (order 1 to 3, exact) and \
                     Shapley values. --paths FILE.csv takes paths in ChannelAttribution's format.",
        area: Area::Campaigns,
        stores: None,
        progress: "attributing the conversions",
    };
    async fn run(engine: &Engine, p: &AttributionOptions) -> Result<Analysis, AnalyticsError> {
        let (names, journeys, mut notes, facts) = match &p.paths {
            Some(file) => {
                let (n, j) = read_paths(file)?;
                (n, j, Vec::new(), serde_json::Map::new())
            }
            None => workspace_paths(engine, p).await?,
        };
        let options = Options {
            order: p.order,
            half_life_days: p.half_life_days,
            ..Options::default()
        };
        let result = attr::attribute(&journeys, names.len(), &options)
            .map_err(AnalyticsError::model("the attribution models"))?;
        let mut a = Analysis::of(&Attribution::DEF, "Attribution");
        a.title = format!(
            "Attribution of {} by {}",
            match (p.paths.is_some(), p.goal) {
                (true, _) => "conversions",
                (false, Goal::Orders) => "sales",
                (false, Goal::Leads) => "lead conversions",
            },
            p.by.name()
        );
        a.notes.append(&mut notes);
        a.facts.extend(facts);
        a.param("by", p.by.name());
        a.param("goal", format!("{:?}", p.goal).to_lowercase());
        a.param("lookback_days", p.lookback_days);
        a.param("order", p.order);
        a.param("half_life_days", p.half_life_days);
        if let Some(f) = p.from {
            a.param("from", f);
        }
        if let Some(t) = p.to {
            a.param("to", t);
        }
        let models: [(&str, &attr::Credit); 7] = [
            ("first_touch", &result.first_touch),
            ("last_touch", &result.last_touch),
            ("linear", &result.linear),
            ("time_decay", &result.time_decay),
            ("position_based", &result.position_based),
            ("markov", &result.markov),
            ("shapley", &result.shapley),
        ];
        let key = p.by.name();
        let mut cols = Columns::default().text(key, names.iter().cloned().map(Some).collect());
        for (name, credit) in &models {
            cols = cols.num_values(name, credit.conversions.clone());
        }
        for (name, credit) in &models {
            cols = cols.num_values(&format!("{name}_value"), credit.value.clone());
        }
        a.table(
            "attribution",
            "Credit per model (conversions, then value)",
            cols.batch(),
        );
        let m = &result.markov_detail;
        let state = |s: &[u32]| -> String {
            s.iter()
                .map(|c| names.get(*c as usize).cloned().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" > ")
        };
        a.table(
            "removal_effects",
            &format!("Markov removal effects (order {})", m.order),
            Columns::default()
                .text(key, names.iter().cloned().map(Some).collect())
                .num_values("removal_effect", m.removal_effects.clone())
                .num_values("value_removal_effect", m.value_removal_effects.clone())
                .batch(),
        );
        let conversions: f64 = journeys.iter().map(|j| j.conversions).sum();
        let value: f64 = journeys.iter().map(|j| j.value).sum();
        let nulls: f64 = journeys.iter().map(|j| j.nulls).sum();
        a.fact("conversions", conversions);
        a.fact("conversion_value", value);
        a.fact("null_paths", nulls);
        a.fact("paths", journeys.len());
        a.fact("markov_order", m.order);
        a.fact("conversion_probability", m.conversion_probability);
        a.fact(
            "removal_effects",
            names
                .iter()
                .zip(&m.removal_effects)
                .map(|(n, r)| (n.clone(), json!(r)))
                .collect::<serde_json::Map<_, _>>(),
        );
        a.fact(
            "transition_matrix",
            json!({
                "states": m.states.iter().map(|s| state(s)).collect::<Vec<_>>(),
                "conversion_state": m.states.len(),
                "null_state": m.states.len() + 1,
                "note": "transitions are [from, to, probability] between indices of states; state 0 is the start, conversion and null are the two indices after the last state",
                "transitions": m.transitions.iter().map(|(f, t, p)| json!([f, t, p])).collect::<Vec<_>>(),
            }),
        );
        Ok(a)
    }
}

/// Paths from a ChannelAttribution-style CSV file: `path` (channels joined by `>`),
/// `total_conversions`, and optionally `total_conversion_value` and `total_null`.
fn read_paths(file: &Path) -> Result<(Vec<String>, Vec<Journey>), AnalyticsError> {
    let t = read_csv(file)?;
    let paths = t.require("path", "channels joined by ' > '")?;
    let conv = t.require("total_conversions", "conversions per path")?;
    let value = t.column("total_conversion_value");
    let null = t.column("total_null");
    // A blank count or value is 0 (ChannelAttribution's files leave them out).
    let number = |row: usize, column: &str, v: &Option<String>| match v {
        None => Ok(0.0),
        Some(_) => t.non_negative(row, column, v),
    };
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut journeys = Vec::with_capacity(t.rows());
    for i in 0..t.rows() {
        let text = paths[i].as_deref().unwrap_or("");
        let mut channels = Vec::new();
        for part in text.split('>') {
            let name = part.trim();
            if name.is_empty() {
                return Err(t.cell_error(
                    i,
                    "path",
                    text,
                    "channels joined by ' > ' (an empty step)",
                ));
            }
            let next = names.len() as u32;
            let id = *index.entry(name.to_string()).or_insert_with(|| {
                names.push(name.to_string());
                next
            });
            channels.push(id);
        }
        journeys.push(Journey {
            channels,
            ages_days: None,
            conversions: number(i, "total_conversions", &conv[i])?,
            value: value.map_or(Ok(0.0), |v| number(i, "total_conversion_value", &v[i]))?,
            nulls: null.map_or(Ok(0.0), |v| number(i, "total_null", &v[i]))?,
        });
    }
    if journeys.is_empty() {
        return Err(AnalyticsError::Usage(format!(
            "{}: the file has no paths",
            file.display()
        )));
    }
    Ok((names, journeys))
}

type Built = (
    Vec<String>,
    Vec<Journey>,
    Vec<String>,
    serde_json::Map<String, serde_json::Value>,
);

/// Conversion and null paths from the touchpoints (see the module's definitions).
async fn workspace_paths(engine: &Engine, p: &AttributionOptions) -> Result<Built, AnalyticsError> {
    if !engine.has_table("touchpoints") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no touchpoints table; attribution follows customers' touches".into(),
        ));
    }
    let conversions_sql = match p.goal {
        Goal::Orders => {
            if !engine.has_table("orders") {
                return Err(AnalyticsError::MissingData(
                    "the workspace has no orders table to take conversions from".into(),
                ));
            }
            // A sale is dated by day: it happens at the day's end, after that day's touches.
            "SELECT customer_id, CAST(to_unixtime(CAST(order_date AS TIMESTAMP)) AS DOUBLE) + 86399 AS t, total_amount AS v FROM sales WHERE customer_id IS NOT NULL"
        }
        Goal::Leads => {
            if !engine.has_table("leads") {
                return Err(AnalyticsError::MissingData(
                    "the workspace has no leads table to take lead conversions from".into(),
                ));
            }
            "SELECT customer_id, CAST(to_unixtime(converted_at) AS DOUBLE) AS t, 0.0 AS v FROM leads \
             WHERE converted_at IS NOT NULL AND customer_id IS NOT NULL"
        }
    };
    let key = match p.by {
        CreditTo::Channel => "channel",
        CreditTo::Campaign => "COALESCE(campaign_id, '(none)')",
    };
    let touches_sql = format!(
        "SELECT customer_id, CAST(to_unixtime(occurred_at) AS DOUBLE) AS t, {key} AS k FROM touchpoints \
         WHERE kind IS NULL OR kind NOT IN ('email_sent', 'unsubscribe') ORDER BY customer_id, t, k"
    );
    // Sorted, so that touches at the same second keep one order and channels are numbered
    // the same on every run.
    // customer → sorted (time, value) conversions and (time, channel) touches.
    let mut conv: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
    for b in engine.query(conversions_sql).await? {
        let (c, t, v) = (
            str_col(&b, "customer_id"),
            f64_col(&b, "t"),
            f64_col(&b, "v"),
        );
        for i in 0..b.num_rows() {
            if c.is_valid(i) && t.is_valid(i) {
                conv.entry(c.value(i).to_string())
                    .or_default()
                    .push((t.value(i), if v.is_valid(i) { v.value(i) } else { 0.0 }));
            }
        }
    }
    let mut names: Vec<String> = Vec::new();
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut touches: HashMap<String, Vec<(f64, u32)>> = HashMap::new();
    for b in engine.query(&touches_sql).await? {
        let (c, t, k) = (
            str_col(&b, "customer_id"),
            f64_col(&b, "t"),
            str_col(&b, "k"),
        );
        for i in 0..b.num_rows() {
            if !(c.is_valid(i) && t.is_valid(i) && k.is_valid(i)) {
                continue;
            }
            let next = names.len() as u32;
            let id = *index.entry(k.value(i).to_string()).or_insert_with(|| {
                names.push(k.value(i).to_string());
                next
            });
            touches
                .entry(c.value(i).to_string())
                .or_default()
                .push((t.value(i), id));
        }
    }
    let window = f64::from(p.lookback_days) * 86_400.0;
    // The period as seconds: a conversion (or a null path's last touch) counts when it falls
    // from the first day's start to the last day's end.
    let second = |d: NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map_or(0.0, |t| t.and_utc().timestamp() as f64)
    };
    let lo = p.from.map_or(f64::NEG_INFINITY, second);
    let hi = p.to.map_or(f64::INFINITY, |d| second(d) + 86_399.0);
    let in_period = |t: f64| lo <= t && t <= hi;
    let mut journeys: Vec<Journey> = Vec::new();
    let (mut unattributed, mut unattributed_value) = (0usize, 0.0);
    let customers: std::collections::BTreeSet<&String> =
        conv.keys().chain(touches.keys()).collect();
    for customer in customers {
        let mut cs = conv.get(customer).cloned().unwrap_or_default();
        cs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut ts = touches.get(customer).cloned().unwrap_or_default();
        ts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut start = 0usize;
        let mut previous = f64::NEG_INFINITY;
        for (when, value) in &cs {
            // Touches up to and including the conversion's moment, after the previous one.
            let end = start + ts[start..].partition_point(|t| t.0 <= *when);
            let path: Vec<&(f64, u32)> = ts[start..end]
                .iter()
                .filter(|t| t.0 > previous && *when - t.0 <= window)
                .collect();
            if !in_period(*when) {
                // Not credited, but it still ends the path before the next conversion.
            } else if path.is_empty() {
                unattributed += 1;
                unattributed_value += value;
            } else {
                journeys.push(Journey {
                    channels: path.iter().map(|t| t.1).collect(),
                    ages_days: Some(path.iter().map(|t| (*when - t.0) / 86_400.0).collect()),
                    conversions: 1.0,
                    value: *value,
                    nulls: 0.0,
                });
            }
            start = end;
            previous = *when;
        }
        let rest = &ts[start..];
        if let Some(last) = rest.last().filter(|l| in_period(l.0)) {
            let path: Vec<&(f64, u32)> = rest.iter().filter(|t| last.0 - t.0 <= window).collect();
            journeys.push(Journey {
                channels: path.iter().map(|t| t.1).collect(),
                ages_days: Some(path.iter().map(|t| (last.0 - t.0) / 86_400.0).collect()),
                conversions: 0.0,
                value: 0.0,
                nulls: 1.0,
            });
        }
    }
    let mut notes = Vec::new();
    let mut facts = serde_json::Map::new();
    facts.insert("unattributed_conversions".into(), json!(unattributed));
    facts.insert("unattributed_value".into(), json!(unattributed_value));
    if unattributed > 0 {
        notes.push(format!(
            "{unattributed} conversions had no touch in the {} days before them: they are not credited to any {}",
            p.lookback_days,
            p.by.name()
        ));
    }
    if p.goal == Goal::Leads {
        notes.push("lead conversions carry no value: the value columns are 0".into());
    }
    if journeys.iter().all(|j| j.conversions == 0.0) {
        return Err(AnalyticsError::MissingData(format!(
            "no conversion has a touch within {} days before it: nothing to attribute",
            p.lookback_days
        )));
    }
    Ok((names, journeys, notes, facts))
}
