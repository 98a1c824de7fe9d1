//! Supervised models for any outcome (churn, lead conversion, a number to predict), their
//! evaluation on held-out rows, and per-customer explanations.
//!
//! Two model families sit behind one [`Scorer`] trait so reports treat them alike and either
//! can be swapped: a linear model (logistic regression from linfa-logistic for a binary
//! outcome, ridge regression for a number) on standardised features, and gradient-boosted
//! trees from perpetual. Both explain a score as additive per-feature contributions on the
//! log-odds (or value) scale, which [`top_reasons`] and [`top_drivers`] sum back to the
//! user's original columns.

use crate::ModelError;
use crate::metrics::{self, CalibrationBin};
use crate::tabular::{Feature, Labels};
use linfa::Dataset;
use linfa::traits::Fit;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ArrayView2, Axis, Slice};
use perpetual::booster::config::{ContributionsMethod, ImportanceMethod};
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::time::Instant;

#[cfg(test)]
mod tests;

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

/// Options for the linear models.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearOptions {
    /// L2 penalty on the standardised coefficients, added as `alpha/2 · ‖w‖²` to the *summed*
    /// (not averaged) log-loss or squared error; the intercept is not penalised. `1.0` equals
    /// scikit-learn's defaults (`LogisticRegression(C=1)`, `Ridge(alpha=1)`), which is mild:
    /// its weight relative to the data falls as rows grow.
    pub alpha: f64,
    /// L-BFGS iteration limit for logistic regression.
    pub max_iterations: u64,
}

impl Default for LinearOptions {
    fn default() -> Self {
        LinearOptions {
            alpha: 1.0,
            max_iterations: 500,
        }
    }
}

/// Logistic or ridge regression on standardised features.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearModel {
    task: Task,
    means: Vec<f64>,
    scales: Vec<f64>,
    /// Coefficients per standard deviation of each feature.
    coef: Vec<f64>,
    /// Link-scale score of a row at the training means.
    intercept: f64,
}

/// Column means and population standard deviations (scikit-learn's `StandardScaler`);
/// constant columns get scale 1 so they standardise to zero instead of NaN.
fn moments(x: &ArrayView2<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = x.nrows() as f64;
    let means: Vec<f64> = x.columns().into_iter().map(|c| c.sum() / n).collect();
    let scales = x
        .columns()
        .into_iter()
        .zip(&means)
        .map(|(c, m)| {
            let sd = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
            if sd > 1e-12 { sd } else { 1.0 }
        })
        .collect();
    (means, scales)
}

fn cholesky_solve(mut a: Array2<f64>, b: &Array1<f64>) -> Option<Array1<f64>> {
    let p = a.nrows();
    for j in 0..p {
        let d = a[[j, j]] - (0..j).map(|k| a[[j, k]].powi(2)).sum::<f64>();
        if d <= 1e-12 * (1.0 + a[[j, j]].abs()) {
            return None;
        }
        let d = d.sqrt();
        a[[j, j]] = d;
        for i in j + 1..p {
            let v = a[[i, j]] - (0..j).map(|k| a[[i, k]] * a[[j, k]]).sum::<f64>();
            a[[i, j]] = v / d;
        }
    }
    let mut z = b.clone();
    for i in 0..p {
        z[i] = (z[i] - (0..i).map(|k| a[[i, k]] * z[k]).sum::<f64>()) / a[[i, i]];
    }
    for i in (0..p).rev() {
        z[i] = (z[i] - (i + 1..p).map(|k| a[[k, i]] * z[k]).sum::<f64>()) / a[[i, i]];
    }
    Some(z)
}

impl LinearModel {
    fn standardise(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut z = x.to_owned();
        for (j, mut col) in z.columns_mut().into_iter().enumerate() {
            let (m, s) = (self.means[j], self.scales[j]);
            col.mapv_inplace(|v| (v - m) / s);
        }
        z
    }

    /// Fits a logistic regression of `y` on `x` with linfa-logistic (L-BFGS) on standardised
    /// features.
    ///
    /// Errors: `InsufficientData` for one outcome only; `NoConvergence` when the optimiser
    /// stops with a mean gradient above 1e-3 (checked here, because linfa returns its last
    /// iterate silently when it runs out of iterations).
    pub fn fit_logistic(
        x: ArrayView2<f64>,
        y: &[bool],
        options: &LinearOptions,
    ) -> Result<LinearModel, ModelError> {
        check_shape(&x, y.len())?;
        check_binary(y)?;
        if !(options.alpha.is_finite() && options.alpha >= 0.0) {
            return Err(ModelError::BadParameter(format!(
                "alpha must be ≥ 0, got {}",
                options.alpha
            )));
        }
        let (means, scales) = moments(&x);
        let mut model = LinearModel {
            task: Task::Binary,
            means,
            scales,
            coef: Vec::new(),
            intercept: 0.0,
        };
        let z = model.standardise(x);
        let n = y.len() as f64;
        let dataset = Dataset::new(z, Array1::from(y.to_vec()));
        // linfa's tolerance is on the norm of the summed gradient; scale it with the rows so
        // the stopping rule means the same at 1,000 and 1,000,000 rows.
        let fitted = LogisticRegression::default()
            .alpha(options.alpha)
            .max_iterations(options.max_iterations)
            .gradient_tolerance(1e-6 * n)
            .fit(&dataset)
            .map_err(|e| ModelError::NoConvergence(format!("logistic regression: {e}")))?;
        // linfa labels the more frequent class as its "positive" one: flip to make `true`
        // the positive outcome whatever the class balance.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        model.coef = fitted.params().iter().map(|w| sign * w).collect();
        model.intercept = sign * fitted.intercept();
        let z = dataset.records();
        let w = Array1::from(model.coef.clone());
        let residual: Array1<f64> = (z.dot(&w) + model.intercept).mapv(sigmoid)
            - Array1::from_iter(y.iter().map(|&t| f64::from(u8::from(t))));
        let mut grad = z.t().dot(&residual) + &(&w * options.alpha);
        grad /= n;
        let g0 = residual.sum() / n;
        let norm = (grad.iter().map(|g| g * g).sum::<f64>() + g0 * g0).sqrt();
        if !norm.is_finite() || norm > 1e-3 {
            return Err(ModelError::NoConvergence(format!(
                "logistic regression did not converge in {} iterations (mean gradient norm {norm:.2e}); \
                 the features may be nearly collinear or perfectly separate the outcome: try a larger alpha",
                options.max_iterations
            )));
        }
        Ok(model)
    }

    /// Fits a ridge regression of `y` on `x` (standardised features, centred target,
    /// unpenalised intercept), solving the normal equations by Cholesky.
    ///
    /// Errors: `InsufficientData` for fewer than two rows; `NoConvergence` when the system is
    /// singular (only possible with `alpha = 0` and collinear features).
    pub fn fit_ridge(
        x: ArrayView2<f64>,
        y: &[f64],
        options: &LinearOptions,
    ) -> Result<LinearModel, ModelError> {
        check_shape(&x, y.len())?;
        if y.len() < 2 {
            return Err(ModelError::InsufficientData(
                "ridge regression needs at least two rows".into(),
            ));
        }
        if y.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::BadParameter(
                "the target holds non-finite values".into(),
            ));
        }
        let (means, scales) = moments(&x);
        let mut model = LinearModel {
            task: Task::Regression,
            means,
            scales,
            coef: Vec::new(),
            intercept: y.iter().sum::<f64>() / y.len() as f64,
        };
        let z = model.standardise(x);
        let yc = Array1::from_iter(y.iter().map(|v| v - model.intercept));
        let mut a = z.t().dot(&z);
        a.diag_mut().mapv_inplace(|d| d + options.alpha);
        let b = z.t().dot(&yc);
        let w = cholesky_solve(a, &b).ok_or_else(|| {
            ModelError::NoConvergence(
                "ridge regression: the features are collinear; use alpha > 0".into(),
            )
        })?;
        model.coef = w.to_vec();
        Ok(model)
    }

    /// Coefficients per unit of each original feature (log-odds or target units).
    pub fn coefficients(&self) -> Vec<f64> {
        self.coef
            .iter()
            .zip(&self.scales)
            .map(|(w, s)| w / s)
            .collect()
    }

    /// Coefficients per standard deviation of each feature (comparable across features).
    pub fn standardized_coefficients(&self) -> &[f64] {
        &self.coef
    }

    /// Intercept on the original feature scale (the link-scale score at all features zero).
    pub fn intercept(&self) -> f64 {
        self.intercept
            - self
                .coefficients()
                .iter()
                .zip(&self.means)
                .map(|(c, m)| c * m)
                .sum::<f64>()
    }

    fn link(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let w: Vec<f64> = self.coefficients();
        let b = self.intercept();
        x.rows()
            .into_iter()
            .map(|r| b + r.iter().zip(&w).map(|(v, c)| v * c).sum::<f64>())
            .collect()
    }
}

impl Scorer for LinearModel {
    fn task(&self) -> Task {
        self.task
    }
    fn kind(&self) -> ModelKind {
        ModelKind::Linear
    }
    fn n_features(&self) -> usize {
        self.coef.len()
    }
    fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        from_link(self.task, self.link(x))
    }
    /// `coefⱼ · (xⱼ − training meanⱼ)`: the baseline is a customer at the training means.
    fn contributions(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let w = self.coefficients();
        let mut c = x.to_owned();
        for (j, mut col) in c.columns_mut().into_iter().enumerate() {
            let (m, wj) = (self.means[j], w[j]);
            col.mapv_inplace(|v| wj * (v - m));
        }
        c
    }
    fn baseline(&self) -> f64 {
        self.intercept
    }
    /// |standardised coefficient|, normalised.
    fn feature_importance(&self) -> Vec<f64> {
        normalise(self.coef.iter().map(|w| w.abs()).collect())
    }
}

/// How gradient-boosted trees attribute a score to features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Attribution {
    /// Exact tree SHAP values: consistent and fair to correlated features, but a few times
    /// slower.
    Shapley,
    /// Saabas-style path attribution with internal-node averages (XGBoost's
    /// `approx_contribs`): fast, but credits features split on deeper in the trees.
    Average,
}

/// Options for gradient-boosted trees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoostingOptions {
    /// perpetual's single complexity knob: the learning rate is `10^-budget`, so higher fits
    /// more, smaller steps. 1.0, not perpetual's 0.5: with 3.0.0-rc.2, 0.5 takes steps of
    /// 0.32 and overfits small tables (telco churn test AUC 0.80 against 0.82 at 1.0).
    pub budget: f32,
    /// Histogram bins per feature; fewer bins train faster (63 is ~2.5× faster than 256 at
    /// the same AUC on our checks).
    pub max_bin: u16,
    /// Seed for perpetual's sampling and for the training-row subsample.
    pub seed: u64,
    /// Threads for training; `None` uses every core.
    pub threads: Option<usize>,
    /// Train on a seeded random sample of at most this many rows (`None`: all rows).
    /// perpetual 3.0.0-rc.2 grows deep trees (up to 10,000 nodes each) and its fit time grows
    /// with the rows: 50k rows × 30 features take on the order of a minute on 2 cores, so
    /// larger tables are subsampled to keep a 1M-customer run bounded.
    pub max_training_rows: Option<usize>,
    /// Stop adding trees after this many seconds (`None`: no limit). A time limit makes the
    /// model depend on the machine's speed, so it is off by default.
    pub timeout_seconds: Option<f32>,
    /// Attribution method for [`Scorer::contributions`]. `Average` by default: perpetual's
    /// trees are deep, and exact tree SHAP costs grow with depth squared per row.
    pub attribution: Attribution,
}

impl Default for BoostingOptions {
    fn default() -> Self {
        BoostingOptions {
            budget: 1.0,
            max_bin: 63,
            seed: 0,
            threads: None,
            max_training_rows: Some(50_000),
            timeout_seconds: None,
            attribution: Attribution::Average,
        }
    }
}

/// Gradient-boosted trees (perpetual) for a binary or numeric outcome.
pub struct BoostedTrees {
    task: Task,
    booster: PerpetualBooster,
    n_features: usize,
    attribution: Attribution,
    trained_rows: usize,
}

/// Rows per block when handing data to perpetual, which wants a column-major copy: blocks
/// keep that copy small when scoring a million customers.
const BLOCK_ROWS: usize = 65_536;

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

fn column_major(x: ArrayView2<f64>) -> Vec<f64> {
    x.t().iter().copied().collect()
}

impl BoostedTrees {
    /// Fits trees predicting the probability of `true`.
    pub fn fit_binary(
        x: ArrayView2<f64>,
        y: &[bool],
        options: &BoostingOptions,
    ) -> Result<BoostedTrees, ModelError> {
        check_shape(&x, y.len())?;
        check_binary(y)?;
        let y: Vec<f64> = y.iter().map(|&t| f64::from(u8::from(t))).collect();
        Self::fit(x, &y, Task::Binary, options)
    }

    /// Fits trees predicting a number.
    pub fn fit_regression(
        x: ArrayView2<f64>,
        y: &[f64],
        options: &BoostingOptions,
    ) -> Result<BoostedTrees, ModelError> {
        check_shape(&x, y.len())?;
        if y.len() < 2 || y.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::InsufficientData(
                "gradient boosting needs at least two rows with finite targets".into(),
            ));
        }
        Self::fit(x, y, Task::Regression, options)
    }

    fn fit(
        x: ArrayView2<f64>,
        y: &[f64],
        task: Task,
        options: &BoostingOptions,
    ) -> Result<BoostedTrees, ModelError> {
        if !(options.budget.is_finite() && options.budget > 0.0) {
            return Err(ModelError::BadParameter(format!(
                "budget must be > 0, got {}",
                options.budget
            )));
        }
        let (data, y, rows) = match options.max_training_rows {
            Some(max) if max >= 2 && x.nrows() > max => {
                let mut idx: Vec<usize> = (0..x.nrows()).collect();
                let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
                idx.shuffle(&mut rng);
                idx.truncate(max);
                idx.sort_unstable();
                let sub = x.select(Axis(0), &idx);
                let ys: Vec<f64> = idx.iter().map(|&i| y[i]).collect();
                (column_major(sub.view()), ys, max)
            }
            _ => (column_major(x), y.to_vec(), x.nrows()),
        };
        let objective = match task {
            Task::Binary => Objective::LogLoss,
            Task::Regression => Objective::SquaredLoss,
        };
        let mut booster = PerpetualBooster::default()
            .set_objective(objective)
            .set_budget(options.budget)
            .set_seed(options.seed)
            .set_max_bin(options.max_bin)
            .set_num_threads(options.threads)
            .set_timeout(options.timeout_seconds)
            .set_log_iterations(0);
        // perpetual reweights classes by default, which shifts every probability towards
        // 0.5; churn rates must stay calibrated, so train on the data as it is.
        booster.cfg.auto_class_weights = false;
        let matrix = Matrix::new(&data, rows, x.ncols());
        booster
            .fit(&matrix, &y, None, None)
            .map_err(|e| ModelError::NoConvergence(format!("gradient boosting: {e}")))?;
        Ok(BoostedTrees {
            task,
            booster,
            n_features: x.ncols(),
            attribution: options.attribution,
            trained_rows: rows,
        })
    }

    /// Rows the trees were trained on (after any subsampling).
    pub fn trained_rows(&self) -> usize {
        self.trained_rows
    }

    /// Number of trees in the ensemble.
    pub fn n_trees(&self) -> usize {
        self.booster.get_prediction_trees().len()
    }

    /// Raw link-scale predictions (log-odds for binary).
    fn link(&self, x: ArrayView2<f64>) -> Vec<f64> {
        let mut out = Vec::with_capacity(x.nrows());
        for start in (0..x.nrows()).step_by(BLOCK_ROWS) {
            let block = rows_view(x, start..(start + BLOCK_ROWS).min(x.nrows()));
            let data = column_major(block);
            out.extend(
                self.booster
                    .predict(&Matrix::new(&data, block.nrows(), block.ncols()), true),
            );
        }
        out
    }

    fn raw_contributions(&self, x: ArrayView2<f64>) -> (Array2<f64>, f64) {
        let p = x.ncols();
        let method = match self.attribution {
            Attribution::Shapley => ContributionsMethod::Shapley,
            Attribution::Average => ContributionsMethod::Average,
        };
        let mut out = Array2::zeros((x.nrows(), p));
        let mut bias = self.booster.base_score;
        for start in (0..x.nrows()).step_by(BLOCK_ROWS) {
            let block = rows_view(x, start..(start + BLOCK_ROWS).min(x.nrows()));
            let data = column_major(block);
            let c = self.booster.predict_contributions(
                &Matrix::new(&data, block.nrows(), p),
                method,
                true,
            );
            // perpetual returns rows of p contributions followed by the bias.
            for (i, row) in c.chunks_exact(p + 1).enumerate() {
                out.row_mut(start + i)
                    .assign(&ndarray::ArrayView1::from(&row[..p]));
                bias = row[p];
            }
        }
        // The small-data linear head perpetual may blend into regression predictions is
        // additive too: credit it per feature, relative to its training means.
        if let Some(head) = &self.booster.regression_head {
            for (i, row) in x.rows().into_iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    if v.is_finite() {
                        out[[i, j]] +=
                            head.blend_weight * head.coefficients[j] * (v - head.feature_means[j])
                                / head.feature_scales[j];
                    }
                }
            }
            bias += head.blend_weight * head.intercept;
        }
        (out, bias)
    }
}

impl Scorer for BoostedTrees {
    fn task(&self) -> Task {
        self.task
    }
    fn kind(&self) -> ModelKind {
        ModelKind::Boosted
    }
    fn n_features(&self) -> usize {
        self.n_features
    }
    fn predict(&self, x: ArrayView2<f64>) -> Vec<f64> {
        from_link(self.task, self.link(x))
    }
    fn contributions(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.raw_contributions(x).0
    }
    fn baseline(&self) -> f64 {
        // perpetual's bias column does not depend on the row: read it off any row.
        let zero = Array2::<f64>::zeros((1, self.n_features));
        self.raw_contributions(zero.view()).1
    }
    /// Total split gain per feature, normalised.
    fn feature_importance(&self) -> Vec<f64> {
        let mut v = vec![0.0; self.n_features];
        for (j, g) in self
            .booster
            .calculate_feature_importance(ImportanceMethod::TotalGain, false)
        {
            if j < v.len() {
                v[j] = f64::from(g).max(0.0);
            }
        }
        normalise(v)
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
