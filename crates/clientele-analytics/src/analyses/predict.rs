//! Any-outcome prediction on a table the user brings: a CSV file with a target column. Column
//! kinds (numbers, yes/no, dates, categories) and missing values are handled automatically;
//! logistic (or ridge) regression and boosted trees are fitted on 80 % of the rows and
//! checked on the other 20 %; the better model scores a second file.
//!
//! Definitions (also in docs/analyses.md):
//! - the **target** is binary when it has exactly two distinct values; the positive class is
//!   `yes`/`true`/`1`/`y` when the values are of that kind, else the second value in sorted
//!   order, unless `--positive` names it; otherwise it must be numeric;
//! - rows whose target is blank are not used (and counted in the notes);
//! - the **id column** is never a feature;
//! - the **split** is random with a fixed seed (stratified by class for a binary target);
//! - the **score** is the probability of the positive class (binary) or the predicted value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clientele_models::classify::{Split, random_split, stratified_split};
use clientele_models::tabular::{Column, Labels, Target, TextColumn};
use ndarray::Array2;

use crate::AnalyticsError;
use crate::analyses::analysis::{Analysis, report};
use crate::analyses::input::{Table, read_csv};
use crate::analyses::supervised::{self, Fitted, fit_both};
use crate::util::Columns;

/// Parameters of `predict`.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// CSV file with the outcome known.
    pub train: PathBuf,
    /// Column to predict.
    pub target: String,
    /// CSV file to score (same columns, target optional).
    pub score: Option<PathBuf>,
    /// Column identifying rows (never a feature; printed with the scores).
    pub id_column: Option<String>,
    /// The positive class of a binary target.
    pub positive: Option<String>,
    /// Share of rows held out for the evaluation.
    pub test_fraction: f64,
    /// Seed of the split.
    pub seed: u64,
}

fn features_of(
    t: &Table,
    names: &[String],
    rows: Option<&[usize]>,
) -> Result<Vec<Column>, AnalyticsError> {
    names
        .iter()
        .map(|n| {
            let values = t.column(n).ok_or_else(|| {
                AnalyticsError::Usage(format!(
                    "{}: no column '{n}', which the model was trained on",
                    t.path.display()
                ))
            })?;
            Ok(Column::Text(TextColumn {
                name: n.clone(),
                values: match rows {
                    Some(r) => r.iter().map(|&i| values[i].clone()).collect(),
                    None => values.clone(),
                },
            }))
        })
        .collect()
}

/// Fits, evaluates and (with a score file) scores.
pub fn predict(options: &PredictOptions) -> Result<Analysis, AnalyticsError> {
    if !(options.test_fraction > 0.0 && options.test_fraction < 1.0) {
        return Err(AnalyticsError::parameter(
            "test_fraction",
            options.test_fraction,
            "expected a share above 0 and below 1",
        ));
    }
    let train = read_csv(&options.train)?;
    let target = read_target(&train, options)?;
    let observed = target.observed_rows();
    let labels = target.labels(&observed);
    let feature_names = feature_names(&train, options)?;
    let min_rows = 20;
    if observed.len() < min_rows {
        return Err(AnalyticsError::MissingData(format!(
            "{}: {} rows with a known '{}': at least {min_rows} are needed",
            train.path.display(),
            observed.len(),
            options.target
        )));
    }
    let split = match &labels {
        Labels::Binary(y) => stratified_split(y, options.test_fraction, options.seed),
        Labels::Numeric(_) => random_split(observed.len(), options.test_fraction, options.seed),
    };
    let cols = features_of(&train, &feature_names, Some(&observed))?;
    let (fitted, x) = fit_both(&cols, &labels, &split, "predict")?;

    let mut a = Analysis::new("predict", &format!("Predicting '{}'", options.target));
    describe_target(&mut a, options, &target, train.rows());
    describe_models(&mut a, &fitted, &x, &split, options.seed);

    if let Some(path) = &options.score {
        score_file(&mut a, options, &fitted, &feature_names, path)?;
    }
    Ok(a)
}

/// The target column of the training file, read as a [`Target`]; the id column, when named,
/// must exist too.
fn read_target(train: &Table, options: &PredictOptions) -> Result<Target, AnalyticsError> {
    let target_values = train.column(&options.target).ok_or_else(|| {
        AnalyticsError::Usage(format!(
            "{}: no column '{}' to predict; the columns are {}",
            train.path.display(),
            options.target,
            train.names.join(", ")
        ))
    })?;
    if let Some(id) = options
        .id_column
        .as_ref()
        .filter(|id| train.column(id).is_none())
    {
        return Err(AnalyticsError::Usage(format!(
            "{}: no id column '{id}'; the columns are {}",
            train.path.display(),
            train.names.join(", ")
        )));
    }
    Target::from_text(target_values, options.positive.as_deref())
        .map_err(|e| AnalyticsError::Usage(format!("target column '{}': {e}", options.target)))
}

/// Every column of the training file but the target and the id.
fn feature_names(train: &Table, options: &PredictOptions) -> Result<Vec<String>, AnalyticsError> {
    let feature_names: Vec<String> = train
        .names
        .iter()
        .filter(|n| **n != options.target && Some(*n) != options.id_column.as_ref())
        .cloned()
        .collect();
    if feature_names.is_empty() {
        return Err(AnalyticsError::Usage(
            "the file has no column besides the target and the id".into(),
        ));
    }
    Ok(feature_names)
}

/// The parameters, what the target is, and the rows left out for lack of one.
fn describe_target(a: &mut Analysis, options: &PredictOptions, target: &Target, rows: usize) {
    a.param("train", options.train.display());
    a.param("target", &options.target);
    a.param("seed", options.seed);
    a.fact("target", &options.target);
    match target {
        Target::Binary {
            positive, negative, ..
        } => {
            a.fact("task", "binary");
            a.fact("positive", positive);
            a.fact("negative", negative);
            a.notes.push(format!(
                "the score is the probability that {} is '{positive}' (not '{negative}')",
                options.target
            ));
        }
        Target::Numeric { .. } => {
            a.fact("task", "numeric");
        }
    }
    a.fact("rows", rows);
    if target.missing_count() > 0 {
        a.notes.push(format!(
            "{} rows have no {} and were not used",
            target.missing_count(),
            options.target
        ));
    }
}

/// How the models did on the held-out rows, what drives their scores, and the columns the
/// encoder left out.
fn describe_models(a: &mut Analysis, fitted: &Fitted, x: &Array2<f64>, split: &Split, seed: u64) {
    a.fact("evaluation", supervised::metrics_json(fitted));
    a.fact("model_used", fitted.chosen_name());
    a.table(
        "models",
        &format!(
            "Models trained on {} rows, checked on {} held-out rows (seed {})",
            split.train.len(),
            split.test.len(),
            seed
        ),
        supervised::metrics_table(fitted),
    );
    let kinds = fitted.encoder.column_kinds();
    let kind_of: HashMap<String, String> = kinds
        .iter()
        .map(|(n, k)| (n.clone(), format!("{k:?}").to_lowercase()))
        .collect();
    let drivers = supervised::drivers(fitted, x, &split.test);
    a.fact(
        "drivers",
        drivers
            .iter()
            .map(|(k, v)| serde_json::json!({"column": k, "importance": v}))
            .collect::<Vec<_>>(),
    );
    a.table(
        "drivers",
        "Top drivers (mean absolute contribution to the score's link scale)",
        Columns::default()
            .text(
                "column",
                drivers.iter().map(|(k, _)| Some(k.clone())).collect(),
            )
            .text(
                "kind",
                drivers
                    .iter()
                    .map(|(k, _)| kind_of.get(k).cloned())
                    .collect(),
            )
            .num(
                "importance",
                drivers.iter().map(|(_, v)| Some(*v)).collect(),
            )
            .batch(),
    );
    if let Some(cal) = supervised::calibration_table(fitted) {
        a.table("calibration", "Calibration on the held-out rows", cal);
    }
    for d in fitted.encoder.dropped() {
        a.notes
            .push(format!("column {} not used: {}", d.column, d.reason));
    }
}

/// Scores the rows of the file at `path` with the chosen model, by id (or row number).
fn score_file(
    a: &mut Analysis,
    options: &PredictOptions,
    fitted: &Fitted,
    feature_names: &[String],
    path: &Path,
) -> Result<(), AnalyticsError> {
    let t = read_csv(path)?;
    let cols = features_of(&t, feature_names, None)?;
    let x = fitted
        .encoder
        .transform(&cols)
        .map_err(AnalyticsError::model("scoring"))?;
    let p = fitted.model().predict(x.view());
    let ids: Vec<Option<String>> = match &options.id_column {
        Some(id) => t
            .column(id)
            .ok_or_else(|| {
                AnalyticsError::Usage(format!("{}: no id column '{id}'", t.path.display()))
            })?
            .clone(),
        None => (1..=t.rows()).map(|i| Some(i.to_string())).collect(),
    };
    let id_name = options.id_column.clone().unwrap_or_else(|| "row".into());
    a.fact("scored_rows", p.len());
    a.rows = Some(report(
        "scores",
        "Scores",
        Columns::default()
            .text(&id_name, ids)
            .num("score", p.iter().map(|v| Some(*v)).collect())
            .batch(),
    ));
    Ok(())
}
