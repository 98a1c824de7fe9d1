//! Lead scoring: the probability that a lead converts, from its source, campaign, industry
//! and company size, as a 0–100 score and an A–D grade.
//!
//! Definitions (also in docs/analyses.md):
//! - the **conversion window** is `--maturity-days` days, by default [`CONVERSION_WINDOW_DAYS`]
//!   (90), the window of the Lead conversion rate KPI too;
//! - the leads' **as-of day** is the latest day the leads table records anything (a
//!   `created_at` or a `converted_at`, by UTC date): [`leads_as_of`];
//! - a lead **converted** when its `converted_at` is at most the window after its `created_at`
//!   (by UTC date); a later conversion counts as none, so every label covers the same span of
//!   time;
//! - a lead is **mature** when its window has closed by the as-of day (created at least the
//!   window before it); younger leads may still convert: they are scored but not learnt from;
//! - **time-based split**: the oldest 75 % of the mature leads train the models, the newest
//!   25 % check them. With window labels the newest mature leads have had exactly as long to
//!   convert as the oldest, so validation is not biased against them;
//! - **score** = round(100 × probability of the better model by validation ROC AUC);
//!   **grade** by the quartiles of the validation leads' scores (type 7, interpolated): A at
//!   or above the upper quartile (the top quarter), B at or above the median, C at or above
//!   the lower quartile, D below; a lead exactly on a cut point takes the higher grade, so
//!   tied leads share a grade and a grade may hold more or fewer than a quarter;
//! - engagement (touchpoints, web sessions) is not used: those tables link to customers, and
//!   a lead gets its customer only when it converts, so they would leak the outcome.

use std::collections::HashMap;

use arrow::array::Array;
use clientele_models::classify::split_by_key;
use clientele_models::tabular::{Column, Labels, TextColumn};

use crate::analyses::analysis::{Analysis, report};
use crate::analyses::supervised::{self, fit_both};
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Columns, f64_col, str_col};
use crate::{AnalyticsError, Engine};

/// Days after its creation within which a lead must convert to count as converted: the one
/// window of the Lead conversion rate KPI and of lead scoring's labels (`--maturity-days`,
/// `maturity_days=`), documented in docs/metrics.md and docs/analyses.md.
pub const CONVERSION_WINDOW_DAYS: i32 = 90;

/// Parameters of lead scoring.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct LeadOptions {
    /// Conversion window in days, 0 to 3650: a lead counts as converted when it converted
    /// within this many days of its creation, and only leads whose window has closed by the
    /// latest date in the leads table are learnt from (younger ones are scored). Default 90,
    /// the window of the Lead conversion rate KPI.
    #[arg(long, default_value_t = CONVERSION_WINDOW_DAYS)]
    pub maturity_days: i32,
}

impl Default for LeadOptions {
    fn default() -> Self {
        LeadOptions {
            maturity_days: CONVERSION_WINDOW_DAYS,
        }
    }
}

/// The leads' as-of day (a day number): the latest `created_at` or `converted_at` of the
/// leads table, by UTC date; `None` without leads. Conversions are known up to this day, so a
/// lead's conversion window has closed when it was created at least the window before it.
pub(crate) async fn leads_as_of(engine: &Engine) -> Result<Option<i64>, AnalyticsError> {
    let day = |c: &str| format!("MAX(CAST(CAST({c} AS DATE) AS INT))");
    let converted = if engine.has_column("leads", "converted_at") {
        day("converted_at")
    } else {
        "CAST(NULL AS INT)".into()
    };
    let sql = format!(
        "SELECT CAST(GREATEST({}, COALESCE({converted}, {})) AS DOUBLE) FROM leads",
        day("created_at"),
        day("created_at")
    );
    Ok(engine.scalar(&sql).await?.map(|d| d as i64))
}

impl Params for LeadOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        params::in_range(
            "maturity_days",
            self.maturity_days,
            0,
            3650,
            "a number of days",
        )
    }
}

/// `clientele leads`, `GET /api/v1/leads`.
pub struct Leads;

impl Spec for Leads {
    type Params = LeadOptions;
    const DEF: Def = Def {
        name: "leads",
        command: &["leads"],
        aliases: &[],
        path: "/leads",
        about: "Lead scoring: conversion probability of every lead as a 0-100 score and A-D grade.",
        long_about: "Learns conversion within the conversion window (--maturity-days, default 90 \
                     days) from the leads whose window has closed (time-based split), scores every \
                     lead and grades it A-D by the validation quartiles; stores lead_score and \
                     lead_grade (table lead_scores).",
        area: Area::Leads,
        stores: Some("lead_scores"),
        progress: "fitting the lead-conversion models",
    };
    async fn run(engine: &Engine, p: &LeadOptions) -> Result<Analysis, AnalyticsError> {
        leads(engine, p).await
    }
}

/// Fits the conversion models on the mature leads (window closed), labelled converted within
/// the window, and scores every lead.
pub async fn leads(engine: &Engine, options: &LeadOptions) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("leads") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no leads table: lead scoring learns from past leads".into(),
        ));
    }
    if !engine.has_column("leads", "converted_at") {
        return Err(AnalyticsError::MissingData(
            "leads have no converted_at column: there is no outcome to learn".into(),
        ));
    }
    let mut a = Analysis::of(&Leads::DEF, "Lead scoring");
    let (select, used) = lead_columns(engine, &mut a.notes)?;
    a.notes.push(
        "engagement (touchpoints, web sessions) is not used: it links to a lead only after conversion".into(),
    );
    let leads = read_leads(engine, &select, used).await?;
    let window = i64::from(options.maturity_days);
    let newest = leads.created.iter().copied().max().unwrap_or(0);
    let as_of = leads_as_of(engine).await?.unwrap_or(newest);
    let day = |d: i64| clientele_schema::days_to_date(d as i32);
    let mature: Vec<usize> = (0..leads.ids.len())
        .filter(|&i| leads.created[i] + window <= as_of)
        .collect();
    let y: Vec<bool> = mature
        .iter()
        .map(|&i| leads.converted_within(i, window))
        .collect();
    let pos = y.iter().filter(|v| **v).count();
    if mature.len() < 40 || pos < 5 || mature.len() - pos < 5 {
        return Err(AnalyticsError::MissingData(format!(
            "{} leads whose {window}-day conversion window has closed by {} (created by {}), {pos} converted within it: too few to learn from",
            mature.len(),
            day(as_of),
            day(as_of - window)
        )));
    }
    let late = mature
        .iter()
        .zip(&y)
        .filter(|(i, y)| !**y && leads.converted_day[**i].is_some())
        .count();
    a.notes.push(format!(
        "converted means converted within {window} days of creation; leads created after {} (whose window is still open on {}, the latest date in the leads table) are scored, not learnt from",
        day(as_of - window),
        day(as_of)
    ));
    if late > 0 {
        a.notes.push(format!(
            "{late} of the mature leads converted more than {window} days after creation: they count as not converted"
        ));
    }
    // Mature leads are in creation order: the newest quarter validates.
    let cut = mature.len() - mature.len() / 4;
    let keys: Vec<i64> = (0..mature.len()).map(|i| (i >= cut) as i64).collect();
    let split = split_by_key(&keys, 1);
    let cols = leads.columns(&mature);
    let (fitted, x_mature) = fit_both(&cols, &Labels::Binary(y.clone()), &split, "lead model")?;
    let chosen = &fitted.evaluation.models[fitted.chosen];
    let grades = Grades::of(chosen.test_predictions.clone());
    // Conversion by grade on the validation leads.
    let mut by_grade: Vec<(f64, f64)> = vec![(0.0, 0.0); 4];
    for (k, &row) in split.test.iter().enumerate() {
        let g = grades.grade(chosen.test_predictions[k]).as_bytes()[0] - b'A';
        by_grade[g as usize].0 += 1.0;
        by_grade[g as usize].1 += y[row] as u8 as f64;
    }
    let rest = by_grade[1..]
        .iter()
        .fold((0.0, 0.0), |acc, v| (acc.0 + v.0, acc.1 + v.1));
    let a_vs_rest = match (rate(by_grade[0]), rate(rest)) {
        (Some(x), Some(r)) if r > 0.0 => Some(x / r),
        _ => None,
    };

    a.param("maturity_days", options.maturity_days);
    a.fact("leads", leads.ids.len());
    a.fact("conversion_window_days", options.maturity_days);
    a.fact("as_of", day(as_of).to_string());
    a.fact("mature_leads", mature.len());
    a.fact("mature_converted", pos);
    a.fact("evaluation", supervised::metrics_json(&fitted));
    a.fact("model_used", fitted.chosen_name());
    let conversion: Vec<serde_json::Value> = GRADES
        .iter()
        .zip(&by_grade)
        .map(|(g, v)| serde_json::json!({"grade": g, "leads": v.0, "conversion_rate": rate(*v)}))
        .collect();
    let (qa, qb, qc) = (grades.a, grades.b, grades.c);
    a.fact(
        "grades",
        serde_json::json!({
            "cutoffs": {"A": (qa * 100.0).round(), "B": (qb * 100.0).round(), "C": (qc * 100.0).round()},
            "validation_conversion": conversion,
            "grade_a_vs_rest": a_vs_rest,
        }),
    );
    a.table(
        "models",
        &format!(
            "Lead conversion models: trained on the {} oldest mature leads, checked on the {} newest",
            split.train.len(),
            split.test.len()
        ),
        supervised::metrics_table(&fitted),
    );
    a.table(
        "grades",
        "Conversion by grade on the validation leads",
        grade_table(&by_grade),
    );
    if let Some(r) = a_vs_rest {
        a.notes.push(format!(
            "grade A leads converted {r:.1}x as often as the rest in validation"
        ));
    }
    let labels = driver_labels();
    a.table(
        "drivers",
        "What drives conversion (mean absolute contribution to the log-odds)",
        supervised::drivers_table(&fitted, &x_mature, &split.test, &labels),
    );
    a.rows = Some(score_rows(&leads, &fitted, &grades, &labels)?);
    for d in fitted.encoder.dropped() {
        a.notes.push(format!("{} not used: {}", d.column, d.reason));
    }
    Ok(a)
}

/// The grades, best first.
const GRADES: [&str; 4] = ["A", "B", "C", "D"];

/// Conversion rate of `(leads, converted)`; `None` without leads.
fn rate(v: (f64, f64)) -> Option<f64> {
    (v.0 > 0.0).then(|| v.1 / v.0)
}

/// The SELECT list of the leads query and the feature columns it reads: those of source,
/// industry, campaign and company size the leads have (a note for each missing one).
fn lead_columns(
    engine: &Engine,
    notes: &mut Vec<String>,
) -> Result<(Vec<String>, Vec<&'static str>), AnalyticsError> {
    let mut used = Vec::new();
    let mut select = vec![
        "lead_id".to_string(),
        "CAST(CAST(created_at AS DATE) AS INT) AS created".into(),
        "CAST(CAST(converted_at AS DATE) AS INT) AS converted_day".into(),
    ];
    for (col, expr) in [
        ("source_channel", "CAST(source_channel AS VARCHAR)"),
        ("industry", "CAST(industry AS VARCHAR)"),
        (
            "campaign_id",
            "CASE WHEN campaign_id IS NULL THEN 'no' ELSE 'yes' END",
        ),
        (
            "employees",
            "LOG10(GREATEST(CAST(employees AS DOUBLE), 1.0))",
        ),
    ] {
        if engine.has_column("leads", col) {
            select.push(format!("{expr} AS {col}"));
            used.push(col);
        } else {
            notes.push(format!("leads have no {col}: not used"));
        }
    }
    if used.is_empty() {
        return Err(AnalyticsError::MissingData(
            "leads have none of source_channel, industry, campaign_id, employees: nothing to score by".into(),
        ));
    }
    Ok((select, used))
}

/// Every lead, in creation order: id, creation day, conversion day and the feature columns
/// used.
struct LeadRows {
    ids: Vec<String>,
    created: Vec<i64>,
    /// Day of `converted_at`, if any.
    converted_day: Vec<Option<i64>>,
    used: Vec<&'static str>,
    text: HashMap<&'static str, Vec<Option<String>>>,
    employees: Vec<Option<f64>>,
}

impl LeadRows {
    /// Whether lead `i` converted within `window` days of its creation.
    fn converted_within(&self, i: usize, window: i64) -> bool {
        self.converted_day[i].is_some_and(|c| c - self.created[i] <= window)
    }

    /// The feature columns of some leads (by row), in the order of `used`.
    fn columns(&self, rows: &[usize]) -> Vec<Column> {
        self.used
            .iter()
            .map(|col| {
                if *col == "employees" {
                    Column::Numeric {
                        name: "employees".into(),
                        values: rows.iter().map(|&i| self.employees[i]).collect(),
                    }
                } else {
                    Column::Text(TextColumn {
                        name: col.to_string(),
                        values: rows.iter().map(|&i| self.text[col][i].clone()).collect(),
                    })
                }
            })
            .collect()
    }
}

async fn read_leads(
    engine: &Engine,
    select: &[String],
    used: Vec<&'static str>,
) -> Result<LeadRows, AnalyticsError> {
    let batches = engine
        .query(&format!(
            "SELECT {} FROM leads ORDER BY created, lead_id",
            select.join(", ")
        ))
        .await?;
    let mut ids = Vec::new();
    let mut created = Vec::new();
    let mut converted_day = Vec::new();
    let mut text: HashMap<&str, Vec<Option<String>>> = HashMap::new();
    let mut employees = Vec::new();
    for b in &batches {
        let id = str_col(b, "lead_id");
        let c = f64_col(b, "created");
        let conv = f64_col(b, "converted_day");
        for i in 0..b.num_rows() {
            ids.push(id.value(i).to_string());
            created.push(c.value(i) as i64);
            converted_day.push((!conv.is_null(i)).then(|| conv.value(i) as i64));
        }
        for col in &used {
            if *col == "employees" {
                let e = f64_col(b, col);
                employees.extend((0..b.num_rows()).map(|i| (!e.is_null(i)).then(|| e.value(i))));
            } else {
                let t = str_col(b, col);
                text.entry(*col).or_default().extend(
                    (0..b.num_rows()).map(|i| (!t.is_null(i)).then(|| t.value(i).to_string())),
                );
            }
        }
    }
    Ok(LeadRows {
        ids,
        created,
        converted_day,
        used,
        text,
        employees,
    })
}

/// Grade cut-offs: quartiles of the validation scores (type 7: interpolated between the
/// order statistics around position f·(n − 1)), so that A is the top quarter.
struct Grades {
    a: f64,
    b: f64,
    c: f64,
}

impl Grades {
    fn of(mut val_scores: Vec<f64>) -> Grades {
        val_scores.sort_by(f64::total_cmp);
        let q = |f: f64| {
            let pos = (val_scores.len() - 1) as f64 * f;
            let (lo, hi) = (
                val_scores[pos.floor() as usize],
                val_scores[pos.ceil() as usize],
            );
            lo + (hi - lo) * pos.fract()
        };
        Grades {
            a: q(0.75),
            b: q(0.5),
            c: q(0.25),
        }
    }

    fn grade(&self, p: f64) -> &'static str {
        if p >= self.a {
            "A"
        } else if p >= self.b {
            "B"
        } else if p >= self.c {
            "C"
        } else {
            "D"
        }
    }
}

/// Leads, conversions and conversion rate per grade.
fn grade_table(by_grade: &[(f64, f64)]) -> arrow::array::RecordBatch {
    Columns::default()
        .text(
            "grade",
            GRADES.iter().map(|g| Some(g.to_string())).collect(),
        )
        .num("leads", by_grade.iter().map(|v| Some(v.0)).collect())
        .num("converted", by_grade.iter().map(|v| Some(v.1)).collect())
        .pct(
            "conversion_rate",
            by_grade.iter().map(|v| rate(*v)).collect(),
        )
        .batch()
}

/// How the drivers and reasons name the features.
fn driver_labels() -> HashMap<String, String> {
    [
        ("source_channel", "source"),
        ("industry", "industry"),
        ("campaign_id", "came from a campaign"),
        ("employees", "company size (log10 of employees)"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Every lead scored by the chosen model (stored as lead_scores).
fn score_rows(
    leads: &LeadRows,
    fitted: &supervised::Fitted,
    grades: &Grades,
    labels: &HashMap<String, String>,
) -> Result<crate::Report, AnalyticsError> {
    let all: Vec<usize> = (0..leads.ids.len()).collect();
    let all_cols = leads.columns(&all);
    let x = fitted
        .encoder
        .transform(&all_cols)
        .map_err(AnalyticsError::model("lead scoring"))?;
    let p = fitted.model().predict(x.view());
    let why = supervised::reasons(fitted, &x, &all_cols, labels);
    Ok(report(
        "lead_scores",
        "Score per lead",
        Columns::default()
            .text(
                "lead_id",
                leads.ids.iter().map(|s| Some(s.clone())).collect(),
            )
            .num(
                "lead_score",
                p.iter().map(|v| Some((v * 100.0).round())).collect(),
            )
            .text(
                "lead_grade",
                p.iter()
                    .map(|v| Some(grades.grade(*v).to_string()))
                    .collect(),
            )
            .text("lead_reasons", why)
            .num(
                "conversion_probability",
                p.iter().map(|v| Some(*v)).collect(),
            )
            .batch(),
    ))
}
