//! Logistic and ridge regression on standardised features: logistic from linfa-logistic,
//! ridge solved in closed form (Cholesky). A score is explained as each coefficient times the
//! feature's distance from its training mean.

use super::{ModelKind, Scorer, Task, check_binary, check_shape, from_link, normalise, sigmoid};
use crate::ModelError;
use linfa::Dataset;
use linfa::traits::Fit;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ArrayView2};
use serde::Serialize;

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
