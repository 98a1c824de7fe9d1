//! Supervised models for any outcome (churn, lead conversion, a number to predict), their
//! evaluation on held-out rows, and per-customer explanations.
//!
//! Two model families sit behind one [`Scorer`] trait so reports treat them alike and either
//! can be swapped: a linear model (`linear.rs`: logistic regression from linfa-logistic for a
//! binary outcome, ridge regression for a number) on standardised features, and
//! gradient-boosted trees from perpetual (`boosted.rs`). Both explain a score as additive per-feature contributions on the
//! log-odds (or value) scale, which [`top_reasons`] and [`top_drivers`] sum back to the
//! user's original columns.

use crate::ModelError;
use crate::metrics::{self, CalibrationBin};
use crate::tabular::{Feature, Labels};
use ndarray::{Array2, ArrayView2, Axis, Slice};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

mod boosted;
mod linear;
#[cfg(test)]
mod tests;

pub use boosted::{Attribution, BoostedTrees, BoostingOptions};
pub use linear::{LinearModel, LinearOptions};

/// What kind of outcome a model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Task {
    /// Two outcomes; scores are probabilities of the positive one.
    Binary,
    /// A number; scores are predicted values.
    Regression,
}

/// Which model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ModelKind {
    /// Logistic regression (binary) or ridge regression (numeric), on standardised features.
    Linear,
    /// Gradient-boosted decision trees (perpetual).
    Boosted,
}

impl ModelKind {
    /// A short name for reports: "logistic regression", "ridge regression", "gradient boosting".
    pub fn label(self, task: Task) -> &'static str {
        match (self, task) {
            (ModelKind::Linear, Task::Binary) => "logistic regression",
            (ModelKind::Linear, Task::Regression) => "ridge regression",
            (ModelKind::Boosted, _) => "gradient boosting",
        }
    }
}

/// A fitted model that scores rows of a design matrix and explains its scores.
pub trait Scorer: Send + Sync {
    /// Binary or regression.
    fn task(&self) -> Task;
    /// The model family.
    fn kind(&self) -> ModelKind;
    /// Number of features (design-matrix columns) the model expects.
    fn n_features(&self) -> usize;
    /// One score per row: the probability of the positive outcome, or the predicted value.
    fn predict(&self, x: ArrayView2<f64>) -> Vec<f64>;
    /// Per-row, per-feature additive contributions on the link scale (log-odds for binary,
    /// the value itself for regression): `baseline() + Σⱼ contributions[i, j]` is row `i`'s
    /// log-odds (or value). Positive contributions push the score up.
    fn contributions(&self, x: ArrayView2<f64>) -> Array2<f64>;
    /// The link-scale score when every contribution is zero.
    fn baseline(&self) -> f64;
    /// Global importance per feature, non-negative and summing to 1 (all zeros for a model
    /// that uses no feature).
    fn feature_importance(&self) -> Vec<f64>;
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn normalise(mut v: Vec<f64>) -> Vec<f64> {
    let total: f64 = v.iter().sum();
    if total > 0.0 {
        v.iter_mut().for_each(|x| *x /= total);
    }
    v
}

fn check_shape(x: &ArrayView2<f64>, n_labels: usize) -> Result<(), ModelError> {
    if x.nrows() != n_labels {
        return Err(ModelError::BadParameter(format!(
            "{} rows of features but {n_labels} labels",
            x.nrows()
        )));
    }
    if x.ncols() == 0 {
        return Err(ModelError::InsufficientData("no feature columns".into()));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::BadParameter(
            "the design matrix holds missing or infinite values (encode it first)".into(),
        ));
    }
    Ok(())
}

fn check_binary(y: &[bool]) -> Result<(), ModelError> {
    let pos = y.iter().filter(|&&v| v).count();
    if pos == 0 || pos == y.len() {
        return Err(ModelError::InsufficientData(format!(
            "the training rows hold one outcome only ({pos} positive of {})",
            y.len()
        )));
    }
    Ok(())
}

/// Rows `range` of `x` (ndarray's `s![]` macro expands to `allow(unsafe_code)`, which the
/// workspace forbids).
fn rows_view<'a>(x: ArrayView2<'a, f64>, range: std::ops::Range<usize>) -> ArrayView2<'a, f64> {
    x.slice_axis_move(Axis(0), Slice::from(range))
}

/// Predictions from link-scale values: probabilities (logistic of the log-odds) for a binary
/// task, the values themselves for a regression.
fn from_link(task: Task, link: Vec<f64>) -> Vec<f64> {
    match task {
        Task::Binary => link.into_iter().map(sigmoid).collect(),
        Task::Regression => link,
    }
}

/// Sums a row's contributions per source column, in the features' order of first appearance.
fn per_column(contrib: &[f64], features: &[Feature]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for (c, f) in contrib.iter().zip(features) {
        match out.iter_mut().find(|(name, _)| *name == f.source) {
            Some((_, total)) => *total += c,
            None => out.push((f.source.clone(), *c)),
        }
    }
    out
}

/// The `k` input columns that push one row's score up the most: the row's contributions
/// (one [`Scorer::contributions`] row) summed per source column — the one-hot features of a
/// categorical column and a number's missing indicator count together — keeping only
/// positive totals, largest first.
pub fn top_reasons(contrib: &[f64], features: &[Feature], k: usize) -> Vec<(String, f64)> {
    let mut cols: Vec<(String, f64)> = per_column(contrib, features)
        .into_iter()
        .filter(|(_, c)| *c > 0.0)
        .collect();
    cols.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    cols.truncate(k);
    cols
}

/// The model's drivers: for each input column, the mean over rows of the absolute value of
/// its summed contributions (how far, on average, that column moves a score on the link
/// scale), largest first.
pub fn top_drivers(contributions: ArrayView2<f64>, features: &[Feature]) -> Vec<(String, f64)> {
    let n = contributions.nrows().max(1) as f64;
    let mut totals: Vec<(String, f64)> = Vec::new();
    for row in contributions.rows() {
        let row: Vec<f64> = row.to_vec();
        for (k, (name, c)) in per_column(&row, features).into_iter().enumerate() {
            if totals.len() <= k {
                totals.push((name, 0.0));
            }
            totals[k].1 += c.abs() / n;
        }
    }
    totals.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    totals
}

/// Training and test rows, as indices into the rows of a design matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Split {
    /// Rows to fit on, ascending.
    pub train: Vec<usize>,
    /// Rows to evaluate on, ascending.
    pub test: Vec<usize>,
}

fn test_count(n: usize, test_fraction: f64) -> usize {
    ((n as f64 * test_fraction.clamp(0.0, 1.0)).round() as usize).min(n)
}

/// A seeded random split with `round(n · test_fraction)` test rows (`test_fraction` is
/// clamped to [0, 1]); the same seed gives the same split.
pub fn random_split(n: usize, test_fraction: f64, seed: u64) -> Split {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut test = idx.split_off(n - test_count(n, test_fraction));
    idx.sort_unstable();
    test.sort_unstable();
    Split { train: idx, test }
}

/// A seeded random split that keeps each class's share: `round(count · test_fraction)` of
/// the positives and of the negatives go to the test rows, so a rare outcome (2 % churn) is
/// not left out of a small test set by chance.
pub fn stratified_split(y: &[bool], test_fraction: f64, seed: u64) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        idx.shuffle(&mut rng);
        let k = test_count(idx.len(), test_fraction);
        test.extend(idx.split_off(idx.len() - k));
        train.extend(idx);
    }
    train.sort_unstable();
    test.sort_unstable();
    Split { train, test }
}

/// A time-based split: rows with `key < cutoff` train, the rest test (keys are e.g. days or
/// timestamps of each customer's snapshot), so the model is judged on a later period as it
/// will be used.
pub fn split_by_key(keys: &[i64], cutoff: i64) -> Split {
    let (train, test) = (0..keys.len()).partition(|&i| keys[i] < cutoff);
    Split { train, test }
}

/// Options for [`fit_and_evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitOptions {
    /// Linear-model options.
    pub linear: LinearOptions,
    /// Gradient-boosting options.
    pub boosting: BoostingOptions,
    /// Bins of the calibration table (10 = deciles).
    pub calibration_bins: usize,
    /// Top share of customers for the lift figure (0.1 = top 10 %).
    pub lift_fraction: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            linear: LinearOptions::default(),
            boosting: BoostingOptions::default(),
            calibration_bins: 10,
            lift_fraction: 0.1,
        }
    }
}

/// Test-set quality of a binary model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinaryMetrics {
    /// ROC AUC ([`metrics::roc_auc`]).
    pub auc: Option<f64>,
    /// Average precision ([`metrics::pr_auc`]).
    pub pr_auc: Option<f64>,
    /// Brier score.
    pub brier: Option<f64>,
    /// Log-loss.
    pub log_loss: Option<f64>,
    /// Calibration table by quantile of predicted probability.
    pub calibration: Vec<CalibrationBin>,
    /// Lift in the top `lift_fraction` of test rows.
    pub lift: Option<f64>,
    /// The `lift_fraction` used.
    pub lift_fraction: f64,
    /// Positive share among the test rows.
    pub positive_rate: Option<f64>,
}

/// Test-set quality of a numeric model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionMetrics {
    /// R².
    pub r2: Option<f64>,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Root mean squared error.
    pub rmse: Option<f64>,
}

/// Test-set quality of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Metrics {
    /// For a binary outcome.
    Binary(BinaryMetrics),
    /// For a numeric outcome.
    Regression(RegressionMetrics),
}

impl Metrics {
    /// Computes the metrics of `predictions` (probabilities or values) against `labels`.
    pub fn compute(labels: &Labels, predictions: &[f64], options: &FitOptions) -> Metrics {
        match labels {
            Labels::Binary(y) => Metrics::Binary(BinaryMetrics {
                auc: metrics::roc_auc(y, predictions),
                pr_auc: metrics::pr_auc(y, predictions),
                brier: metrics::brier(y, predictions),
                log_loss: metrics::log_loss(y, predictions),
                calibration: metrics::calibration_table(y, predictions, options.calibration_bins),
                lift: metrics::lift_at(y, predictions, options.lift_fraction),
                lift_fraction: options.lift_fraction,
                positive_rate: (!y.is_empty())
                    .then(|| y.iter().filter(|&&v| v).count() as f64 / y.len() as f64),
            }),
            Labels::Numeric(y) => Metrics::Regression(RegressionMetrics {
                r2: metrics::r2(y, predictions),
                mae: metrics::mae(y, predictions),
                rmse: metrics::rmse(y, predictions),
            }),
        }
    }
}

/// One fitted model and how it did on the test rows.
pub struct ModelEvaluation {
    /// The model family.
    pub kind: ModelKind,
    /// Test-set metrics.
    pub metrics: Metrics,
    /// The fitted model (trained on the training rows only).
    pub model: Box<dyn Scorer>,
    /// Predictions for the test rows, in `Split::test` order.
    pub test_predictions: Vec<f64>,
    /// Wall-clock seconds spent fitting.
    pub fit_seconds: f64,
}

/// The result of [`fit_and_evaluate`].
pub struct Evaluation {
    /// Training rows used.
    pub n_train: usize,
    /// Test rows evaluated.
    pub n_test: usize,
    /// One entry per requested model, in request order.
    pub models: Vec<ModelEvaluation>,
}

/// Fits one model of `kind` to all rows of `x` (binary or numeric by `labels`).
pub fn fit_model(
    kind: ModelKind,
    x: ArrayView2<f64>,
    labels: &Labels,
    options: &FitOptions,
) -> Result<Box<dyn Scorer>, ModelError> {
    Ok(match (kind, labels) {
        (ModelKind::Linear, Labels::Binary(y)) => {
            Box::new(LinearModel::fit_logistic(x, y, &options.linear)?)
        }
        (ModelKind::Linear, Labels::Numeric(y)) => {
            Box::new(LinearModel::fit_ridge(x, y, &options.linear)?)
        }
        (ModelKind::Boosted, Labels::Binary(y)) => {
            Box::new(BoostedTrees::fit_binary(x, y, &options.boosting)?)
        }
        (ModelKind::Boosted, Labels::Numeric(y)) => {
            Box::new(BoostedTrees::fit_regression(x, y, &options.boosting)?)
        }
    })
}

/// Fits each requested model on the training rows of `x`/`labels` and scores the test rows:
/// AUC, average precision, Brier, log-loss, calibration deciles and lift for a binary
/// outcome; R², MAE and RMSE for a numeric one.
///
/// `x` and `labels` hold the same rows (those with a known target). Errors when a split
/// index is out of range, the training rows are empty, or a model fails to fit.
pub fn fit_and_evaluate(
    x: ArrayView2<f64>,
    labels: &Labels,
    split: &Split,
    kinds: &[ModelKind],
    options: &FitOptions,
) -> Result<Evaluation, ModelError> {
    if x.nrows() != labels.len() {
        return Err(ModelError::BadParameter(format!(
            "{} rows of features but {} labels",
            x.nrows(),
            labels.len()
        )));
    }
    if let Some(&r) = split
        .train
        .iter()
        .chain(&split.test)
        .find(|&&r| r >= x.nrows())
    {
        return Err(ModelError::BadParameter(format!(
            "split row {r} is out of range for {} rows",
            x.nrows()
        )));
    }
    if split.train.is_empty() {
        return Err(ModelError::InsufficientData("no training rows".into()));
    }
    let x_train = x.select(Axis(0), &split.train);
    let y_train = labels.select(&split.train);
    let x_test = x.select(Axis(0), &split.test);
    let y_test = labels.select(&split.test);
    let mut models = Vec::with_capacity(kinds.len());
    for &kind in kinds {
        let started = Instant::now();
        let model = fit_model(kind, x_train.view(), &y_train, options)?;
        let fit_seconds = started.elapsed().as_secs_f64();
        let test_predictions = model.predict(x_test.view());
        models.push(ModelEvaluation {
            kind,
            metrics: Metrics::compute(&y_test, &test_predictions, options),
            model,
            test_predictions,
            fit_seconds,
        });
    }
    Ok(Evaluation {
        n_train: split.train.len(),
        n_test: split.test.len(),
        models,
    })
}
