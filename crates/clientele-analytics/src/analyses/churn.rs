//! Churn prediction: who will stop buying (transactional churn) or not renew (subscription
//! churn), with logistic regression and gradient-boosted trees checked on a later period.
//!
//! Definitions (also in docs/analyses.md):
//! - **snapshot**: a day S; a customer's features use only data dated before S;
//! - **transactional churn at S**: a customer who bought in the `active_days` before S makes
//!   no purchase in [S, S + window);
//! - **subscription churn at S**: a subscription term due for renewal in [S, S + window) is
//!   not renewed (`renewed = false`); terms whose renewal is unknown are left out; every
//!   subscriber counts, with or without orders;
//! - **as-of day**: at most the day after the last order (subscription churn: or
//!   subscription start); a later day is refused, since the days without data would count
//!   as churn;
//! - **time-based split**: the models learn on the snapshot S = as-of − 2·window and are
//!   judged on S = as-of − window (whose outcomes are fully known by the as-of day); the
//!   better of the two by validation ROC AUC then scores the customers at the as-of day;
//! - **reasons**: the three features that push a customer's score up most (additive
//!   contributions on the log-odds scale), with the customer's value;
//! - **fairness**: on the validation snapshot, ROC AUC and mean score per gender and age band;
//!   the largest ratio between groups (of at least 30 customers) is flagged above the threshold.

use std::collections::{HashMap, HashSet};

use arrow::array::Array;
use chrono::NaiveDate;
use clientele_models::classify::split_by_key;
use clientele_models::metrics::group_report;
use clientele_models::tabular::{Column, Labels};

use crate::analyses::analysis::{Analysis, report};
use crate::analyses::features::{CustomerFeatures, FeatureSet, customer_features};
use crate::analyses::supervised::{self, fit_both};
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Columns, str_col};
use crate::{AnalyticsError, Engine};

/// What counts as churn.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ChurnKind {
    /// No purchase within the window.
    #[value(alias = "purchase")]
    #[serde(alias = "purchase")]
    Transactional,
    /// A subscription not renewed.
    Subscription,
}

impl ChurnKind {
    /// Its name as the parameter takes it.
    pub fn name(self) -> &'static str {
        match self {
            ChurnKind::Transactional => "transactional",
            ChurnKind::Subscription => "subscription",
        }
    }

    /// The per-customer column named for what the model predicts: `p_no_purchase`
    /// (transactional) or `p_not_renewed` (subscription). `churn_probability` holds the same
    /// value under its old name.
    pub fn column(self) -> &'static str {
        match self {
            ChurnKind::Transactional => "p_no_purchase",
            ChurnKind::Subscription => "p_not_renewed",
        }
    }

    /// What the probability is, for labels: "P(no purchase in the next 90 days)".
    pub fn label(self, window: i32) -> String {
        match self {
            ChurnKind::Transactional => format!("P(no purchase in the next {window} days)"),
            ChurnKind::Subscription => {
                format!("P(not renewed, renewal due in the next {window} days)")
            }
        }
    }

    /// What it means and what it does not, in one sentence.
    pub fn meaning(self, window: i32) -> String {
        match self {
            ChurnKind::Transactional => format!(
                "churn model: the probability that the customer buys nothing in the {window} days after the as-of day. \
                 A slow buyer who is still a customer often goes {window} days without buying, so this is not the \
                 probability of having left: for that, read P(alive) from clv"
            ),
            ChurnKind::Subscription => format!(
                "churn model: the probability that the subscription term due for renewal in the {window} days after \
                 the as-of day is not renewed"
            ),
        }
    }
}

/// The longest window, and the longest activity period, in days (ten years).
pub const MAX_DAYS: i32 = 3650;

/// Parameters of the churn analysis.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ChurnOptions {
    /// transactional (no purchase within the window) or subscription (not renewed).
    #[arg(long, default_value = "transactional", value_parser = params::choice::<ChurnKind>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub kind: ChurnKind,
    /// Day to score on (YYYY-MM-DD). Default: the day after the last sale.
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<NaiveDate>,
    /// Days after a snapshot in which a purchase (renewal) must happen: 7 to 3650.
    #[arg(long, default_value_t = 90)]
    pub window: i32,
    /// Transactional churn: only customers who bought within this many days count; at least
    /// the window, at most 3650.
    #[arg(long, default_value_t = 365)]
    pub active_days: i32,
    /// Flag the fairness check when the ratio between groups exceeds this (at least 1).
    #[arg(long, default_value_t = 1.25)]
    pub fairness_threshold: f64,
}

impl Default for ChurnOptions {
    fn default() -> Self {
        ChurnOptions {
            kind: ChurnKind::Transactional,
            as_of: None,
            window: 90,
            active_days: 365,
            fairness_threshold: 1.25,
        }
    }
}

impl Params for ChurnOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        params::in_range("window", self.window, 7, MAX_DAYS, "a number of days")?;
        if self.active_days < self.window || self.active_days > MAX_DAYS {
            return Err(AnalyticsError::parameter(
                "active_days",
                self.active_days,
                format!(
                    "expected a number of days between the window ({}) and {MAX_DAYS}",
                    self.window
                ),
            ));
        }
        if !(self.fairness_threshold >= 1.0 && self.fairness_threshold.is_finite()) {
            return Err(AnalyticsError::parameter(
                "fairness_threshold",
                self.fairness_threshold,
                "expected a ratio of at least 1",
            ));
        }
        Ok(())
    }
}

/// `clientele churn`, `GET /api/v1/churn`.
pub struct Churn;

impl Spec for Churn {
    type Params = ChurnOptions;
    const DEF: Def = Def {
        name: "churn",
        command: &["churn"],
        aliases: &[],
        path: "/churn",
        about: "Churn model: P(no purchase in the next window), or P(not renewed) for subscriptions, by logistic regression and boosted trees.",
        long_about: "Predicts, per active customer, the probability of no purchase in the --window days \
                     after the as-of day (--kind subscription: that the term due in them is not renewed). \
                     That is not the probability of having left: a slow buyer who is still a customer is \
                     often --window days without buying; P(alive) from clv says whether a customer is \
                     still one. Trains on the snapshot as-of - 2 windows, checks on as-of - 1 window \
                     (ROC AUC, PR AUC, Brier score, calibration by decile, lift, fairness by gender and \
                     age band) and scores at the as-of day with the better model, giving the top three \
                     reasons; stores p_no_purchase (or p_not_renewed), churn_probability (the same \
                     value, its old name) and churn_reasons (table scores_churn).",
        area: Area::Segments,
        stores: Some("scores_churn"),
        progress: "building features and fitting the churn models",
    };
    async fn run(engine: &Engine, p: &ChurnOptions) -> Result<Analysis, AnalyticsError> {
        churn(engine, p).await
    }
}

/// One snapshot's rows: features, and outcome where known.
struct Snapshot {
    features: CustomerFeatures,
    /// Row indices of `features` in the population.
    rows: Vec<usize>,
    /// Outcome per population row (`None` at the scoring snapshot).
    churned: Vec<Option<bool>>,
}

async fn snapshot(
    engine: &Engine,
    s: NaiveDate,
    options: &ChurnOptions,
    labelled: bool,
) -> Result<Snapshot, AnalyticsError> {
    let set = FeatureSet {
        category_mix: true,
        // Subscription churn is about subscribers, whether or not they also bought.
        subscribers: options.kind == ChurnKind::Subscription,
    };
    let features = customer_features(engine, s, set).await?;
    let day = clientele_schema::date_to_days(s);
    let end = day + options.window;
    let mut rows = Vec::new();
    let mut churned = Vec::new();
    match options.kind {
        ChurnKind::Transactional => {
            let bought: HashSet<String> = if labelled {
                ids(engine, &format!(
                    "SELECT DISTINCT customer_id FROM sales WHERE customer_id IS NOT NULL AND CAST(order_date AS INT) >= {day} AND CAST(order_date AS INT) < {end}"
                ))
                .await?
                .into_iter()
                .collect()
            } else {
                HashSet::new()
            };
            let recency = features.values("recency_days", f64::INFINITY);
            for (i, id) in features.ids.iter().enumerate() {
                if recency[i] <= options.active_days as f64 {
                    rows.push(i);
                    churned.push(labelled.then(|| !bought.contains(id)));
                }
            }
        }
        ChurnKind::Subscription => {
            let renewed = if engine.has_column("subscriptions", "renewed") {
                "renewed"
            } else {
                "CAST(NULL AS BOOLEAN)"
            };
            let sql = format!(
                "SELECT customer_id, bool_and({renewed}) AS renewed FROM subscriptions
                 WHERE CAST(renewal_date AS INT) >= {day} AND CAST(renewal_date AS INT) < {end}
                   AND CAST(started_at AS INT) < {day}
                 GROUP BY customer_id"
            );
            let batches = engine.query(&sql).await?;
            let mut due: HashMap<String, Option<bool>> = HashMap::new();
            for b in &batches {
                let id = str_col(b, "customer_id");
                let r = b.column(1);
                let r = r
                    .as_any()
                    .downcast_ref::<arrow::array::BooleanArray>()
                    .ok_or_else(|| AnalyticsError::Internal {
                        what: "the renewed column is not boolean".into(),
                        source: None,
                    })?;
                for i in 0..b.num_rows() {
                    due.insert(id.value(i).to_string(), (!r.is_null(i)).then(|| r.value(i)));
                }
            }
            for (i, id) in features.ids.iter().enumerate() {
                if let Some(renewed) = due.get(id) {
                    if labelled && renewed.is_none() {
                        continue;
                    }
                    rows.push(i);
                    churned.push(if labelled { renewed.map(|r| !r) } else { None });
                }
            }
        }
    }
    Ok(Snapshot {
        features,
        rows,
        churned,
    })
}

async fn ids(engine: &Engine, sql: &str) -> Result<Vec<String>, AnalyticsError> {
    let mut out = Vec::new();
    for b in engine.query(sql).await? {
        let c = str_col(&b, b.schema().field(0).name());
        for i in 0..c.len() {
            out.push(c.value(i).to_string());
        }
    }
    Ok(out)
}

/// Gender and age band of each customer as of `s`, for the fairness check.
async fn demographics(
    engine: &Engine,
    s: NaiveDate,
) -> Result<HashMap<String, (Option<String>, Option<String>)>, AnalyticsError> {
    let mut out = HashMap::new();
    if !engine.has_table("customers") {
        return Ok(out);
    }
    let day = clientele_schema::date_to_days(s);
    let gender = if engine.has_column("customers", "gender") {
        "CAST(gender AS VARCHAR)"
    } else {
        "CAST(NULL AS VARCHAR)"
    };
    let band = if engine.has_column("customers", "birth_date") {
        crate::analyses::segment::age_band_sql("birth_date", day)
    } else {
        "CAST(NULL AS VARCHAR)".into()
    };
    let batches = engine
        .query(&format!(
            "SELECT customer_id, {gender} AS gender, {band} AS age_band FROM customers"
        ))
        .await?;
    for b in &batches {
        let (id, g, a) = (
            str_col(b, "customer_id"),
            str_col(b, "gender"),
            str_col(b, "age_band"),
        );
        for i in 0..b.num_rows() {
            let band = (!a.is_null(i)).then(|| a.value(i).to_string());
            let gender = (!g.is_null(i)).then(|| g.value(i).to_string());
            out.insert(id.value(i).to_string(), (gender, band));
        }
    }
    Ok(out)
}

fn columns(f: &CustomerFeatures, rows: &[usize]) -> Vec<Column> {
    f.features
        .iter()
        .zip(&f.columns)
        .map(|(feat, values)| Column::Numeric {
            name: feat.key.clone(),
            values: rows.iter().map(|&i| values[i]).collect(),
        })
        .collect()
}

/// Concatenates the columns of two snapshots (same features, in the same order).
fn stack(a: Vec<Column>, b: Vec<Column>) -> Vec<Column> {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| match (x, y) {
            (Column::Numeric { name, mut values }, Column::Numeric { values: v2, .. }) => {
                values.extend(v2);
                Column::Numeric { name, values }
            }
            (x, _) => x,
        })
        .collect()
}

/// Trains and checks both churn models and scores every current customer.
pub async fn churn(engine: &Engine, options: &ChurnOptions) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no orders table: churn features start from orders".into(),
        ));
    }
    if options.kind == ChurnKind::Subscription && !engine.has_table("subscriptions") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no subscriptions table: use the transactional kind of churn".into(),
        ));
    }
    options.check()?;
    let as_of = match options.as_of {
        Some(d) => within_data(engine, options.kind, d).await?,
        None => crate::analyses::segment::default_as_of(engine).await?,
    };
    let w = chrono::Duration::days(options.window as i64);
    let (s_val, s_train) = (as_of - w, as_of - w - w);
    let train = snapshot(engine, s_train, options, true).await?;
    let val = snapshot(engine, s_val, options, true).await?;
    let score = snapshot(engine, as_of, options, false).await?;
    let kind_name = options.kind.name();
    let outcome = options.kind.label(options.window);
    enough_outcomes(&[("training", &train, s_train), ("validation", &val, s_val)])?;
    let n_train = train.rows.len();
    let cols = stack(
        columns(&train.features, &train.rows),
        columns(&val.features, &val.rows),
    );
    let y: Vec<bool> = train
        .churned
        .iter()
        .chain(&val.churned)
        .map(|c| c.expect("labelled"))
        .collect();
    let keys: Vec<i64> = (0..y.len()).map(|i| (i >= n_train) as i64).collect();
    let split = split_by_key(&keys, 1);
    let (fitted, x_all) = fit_both(&cols, &Labels::Binary(y.clone()), &split, "churn model")?;

    let mut a = Analysis::of(
        &Churn::DEF,
        &format!("Churn ({kind_name}): {outcome} as of {as_of}"),
    );
    a.param("kind", kind_name);
    a.param("as_of", as_of);
    a.param("window", options.window);
    a.param("active_days", options.active_days);
    a.fact("kind", kind_name);
    a.fact("as_of", as_of.to_string());
    a.fact("window_days", options.window);
    a.fact(
        "outcome",
        serde_json::json!({
            "column": options.kind.column(),
            "label": outcome,
            "meaning": options.kind.meaning(options.window),
            "same_value_as": "churn_probability",
        }),
    );
    a.fact(
        "snapshots",
        serde_json::json!({"training": s_train.to_string(), "validation": s_val.to_string(), "scoring": as_of.to_string()}),
    );
    a.fact("evaluation", supervised::metrics_json(&fitted));
    a.table(
        "models",
        &format!(
            "Churn models of {outcome}: trained on {n_train} customers at {s_train}, checked on {} at {s_val}",
            val.rows.len(),
        ),
        supervised::metrics_table(&fitted),
    );
    if let Some(cal) = supervised::calibration_table(&fitted) {
        a.table(
            "calibration",
            &format!("Calibration on the validation snapshot, by decile of predicted {outcome}"),
            cal,
        );
    }
    let labels: HashMap<String, String> = train
        .features
        .features
        .iter()
        .map(|f| (f.key.clone(), f.label.clone()))
        .collect();
    a.table(
        "drivers",
        &format!("What drives {outcome} (mean absolute contribution to the log-odds)"),
        supervised::drivers_table(&fitted, &x_all, &split.test, &labels),
    );

    let demo = demographics(engine, s_val).await?;
    let validation = Validation {
        ids: val.rows.iter().map(|&i| &val.features.ids[i]).collect(),
        churned: split.test.iter().map(|&i| y[i]).collect(),
        predictions: &fitted.evaluation.models[fitted.chosen].test_predictions,
    };
    fairness(&mut a, &demo, &validation, options.fairness_threshold);

    if options.kind == ChurnKind::Subscription {
        let frequency = score.features.values("frequency", 0.0);
        let without = score.rows.iter().filter(|&&i| frequency[i] == 0.0).count();
        a.fact("scored_without_orders", without);
        if without > 0 {
            a.notes.push(format!(
                "{without} of the {} subscribers scored have no order before {as_of}: they are scored too, with no purchases (frequency and spend 0, recency and tenure missing)",
                score.rows.len()
            ));
        }
    }
    let rows = score_rows(&mut a, &score, &fitted, &labels, options.kind)?;
    a.tables.push(crate::analyses::analysis::top_by(
        &rows,
        "churn_probability",
        10,
        &format!(
            "Highest {outcome} (= churn_probability; {})",
            match options.kind {
                ChurnKind::Transactional =>
                    "not the probability of having left: see P(alive) from clv",
                ChurnKind::Subscription => "the subscriptions most likely to lapse",
            }
        ),
    )?);
    a.rows = Some(rows);
    a.notes.extend(train.features.notes.iter().cloned());
    if engine.has_column("orders", "status") {
        a.notes.push(
            "orders have no date for their status: the sales counted at the training and validation snapshots leave out orders cancelled or returned since, as today's status says"
                .into(),
        );
    }
    for d in fitted.encoder.dropped() {
        a.notes
            .push(format!("feature {} not used: {}", d.column, d.reason));
    }
    Ok(a)
}

/// The as-of day if the data reaches it: at most the day after the last order (or, for
/// subscription churn, the last subscription start). A later day is refused: the days
/// between the data's end and it hold no purchase or renewal, and would count as churn in
/// the validation window.
async fn within_data(
    engine: &Engine,
    kind: ChurnKind,
    as_of: NaiveDate,
) -> Result<NaiveDate, AnalyticsError> {
    let mut sql = "SELECT MAX(CAST(order_date AS INT)) AS d FROM orders".to_string();
    if kind == ChurnKind::Subscription {
        sql = format!(
            "SELECT MAX(d) FROM ({sql} UNION ALL SELECT MAX(CAST(started_at AS INT)) AS d FROM subscriptions)"
        );
    }
    let Some(last) = engine.scalar(&sql).await? else {
        return Ok(as_of);
    };
    let last = clientele_schema::days_to_date(last as i32);
    match last.succ_opt() {
        Some(limit) if as_of > limit => Err(AnalyticsError::parameter(
            "as_of",
            as_of,
            format!(
                "the data ends on {last} (the last {}): expected a day up to {limit}, the day after it; \
                 later days have no data and would count as churn",
                match kind {
                    ChurnKind::Transactional => "order",
                    ChurnKind::Subscription => "order or subscription start",
                }
            ),
        )),
        _ => Ok(as_of),
    }
}

/// Fails unless each labelled snapshot has enough customers, churned and not, to learn from.
fn enough_outcomes(snapshots: &[(&str, &Snapshot, NaiveDate)]) -> Result<(), AnalyticsError> {
    for &(what, s, day) in snapshots {
        let pos = s.churned.iter().filter(|c| **c == Some(true)).count();
        if s.rows.len() < 50 || pos < 5 || s.rows.len() - pos < 5 {
            return Err(AnalyticsError::MissingData(format!(
                "the {what} snapshot ({day}) has {} customers of whom {pos} churned: too few to learn from; \
                 give an earlier as-of day or a shorter window, or bring more history",
                s.rows.len()
            )));
        }
    }
    Ok(())
}

/// The validation rows as the fairness check reads them: customer, outcome and the chosen
/// model's score, row by row. Crate-visible so that a test can give it rows of known ratios.
pub(crate) struct Validation<'a> {
    pub(crate) ids: Vec<&'a String>,
    pub(crate) churned: Vec<bool>,
    pub(crate) predictions: &'a [f64],
}

/// ROC AUC and mean score per gender and per age band on the validation rows: the table, a
/// note when a ratio between groups exceeds `threshold`, and the fact.
pub(crate) fn fairness(
    a: &mut Analysis,
    demo: &HashMap<String, (Option<String>, Option<String>)>,
    v: &Validation,
    threshold: f64,
) {
    let mut fairness = Vec::new();
    let mut frows = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut flagged = Vec::new();
    if demo.is_empty() {
        a.notes.push(
            "no customers table: the fairness check by gender and age band was skipped".into(),
        );
    } else {
        for (dim, pick) in [("gender", 0usize), ("age_band", 1usize)] {
            let groups: Vec<Option<String>> = v
                .ids
                .iter()
                .map(|id| {
                    demo.get(*id)
                        .and_then(|(g, b)| if pick == 0 { g.clone() } else { b.clone() })
                })
                .collect();
            let r = group_report(&v.churned, v.predictions, &groups);
            for g in &r.groups {
                frows.0.push(Some(dim.to_string()));
                frows.1.push(Some(g.group.clone()));
                frows.2.push(Some(g.n as f64));
                frows.3.push(g.auc);
                frows.4.push(Some(g.mean_score));
            }
            let over = |v: Option<f64>| v.is_some_and(|v| v > threshold);
            if over(r.max_auc_ratio) || over(r.max_mean_score_ratio) {
                flagged.push(dim);
            }
            fairness.push(serde_json::json!({
                "dimension": dim, "groups": r.groups, "max_auc_ratio": r.max_auc_ratio,
                "max_mean_score_ratio": r.max_mean_score_ratio,
                "flagged": over(r.max_auc_ratio) || over(r.max_mean_score_ratio),
            }));
        }
        a.table(
            "fairness",
            &format!(
                "Fairness on the validation snapshot (flag when the largest ratio between groups exceeds {})",
                threshold
            ),
            Columns::default()
                .text("dimension", frows.0)
                .text("group", frows.1)
                .num("customers", frows.2)
                .num("roc_auc", frows.3)
                .pct("mean_score", frows.4)
                .batch(),
        );
        if !flagged.is_empty() {
            a.notes.push(format!(
                "fairness: the scores differ between groups of {} by more than a ratio of {}: review before acting on them",
                flagged.join(" and "),
                threshold
            ));
        }
    }
    a.fact(
        "fairness",
        serde_json::json!({"threshold": threshold, "dimensions": fairness, "flagged": flagged}),
    );
}

/// Today's customers scored by the chosen model, with their reasons (stored as
/// scores_churn), and the facts about the scoring. The probability is in two columns: the
/// one named for what it is (`p_no_purchase` or `p_not_renewed`), last so that scripts
/// reading columns by position keep working, and `churn_probability`, its old name.
fn score_rows(
    a: &mut Analysis,
    score: &Snapshot,
    fitted: &supervised::Fitted,
    labels: &HashMap<String, String>,
    kind: ChurnKind,
) -> Result<crate::Report, AnalyticsError> {
    let score_cols = columns(&score.features, &score.rows);
    let x = fitted
        .encoder
        .transform(&score_cols)
        .map_err(AnalyticsError::model("churn scoring"))?;
    let p = fitted.model().predict(x.view());
    let why = supervised::reasons(fitted, &x, &score_cols, labels);
    let ids: Vec<Option<String>> = score
        .rows
        .iter()
        .map(|&i| Some(score.features.ids[i].clone()))
        .collect();
    a.fact("scored_customers", ids.len());
    a.fact("model_used", fitted.chosen_name());
    let mean = (!p.is_empty()).then(|| p.iter().sum::<f64>() / p.len() as f64);
    a.fact("mean_churn_probability", mean);
    a.fact(&format!("mean_{}", kind.column()), mean);
    let values: Vec<Option<f64>> = p.iter().map(|v| Some(*v)).collect();
    Ok(report(
        "churn_customers",
        "Churn model per customer: churn_probability and its plain name, the same value",
        Columns::default()
            .text("customer_id", ids)
            .num("churn_probability", values.clone())
            .text("churn_reasons", why)
            .num(kind.column(), values)
            .batch(),
    ))
}
