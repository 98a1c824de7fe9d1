//! Gradient-boosted trees from perpetual for a binary or numeric outcome, optionally trained
//! on a seeded subsample and scored in row blocks; a score is explained by exact tree SHAP or
//! a faster path attribution (see [`Attribution`]).

use super::{ModelKind, Scorer, Task, check_binary, check_shape, from_link, normalise, rows_view};
use crate::ModelError;
use ndarray::{Array2, ArrayView2, Axis};
use perpetual::booster::config::{ContributionsMethod, ImportanceMethod};
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

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
