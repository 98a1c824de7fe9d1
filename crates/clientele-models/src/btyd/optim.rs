//! Maximum-likelihood machinery shared by the BTYD fits: an objective over log-parameters,
//! a Nelder–Mead warm-up and BFGS from argmin, a Newton polish, and standard errors from the
//! numerical Hessian.
//!
//! Objectives are *mean* negative log-likelihoods per customer, so tolerances mean the same
//! thing for 2,000 and for 2,000,000 customers; the total is `weight()` times larger and the
//! Hessian is scaled accordingly for standard errors.

use argmin::core::{CostFunction, Error as ArgminError, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::neldermead::NelderMead;
use argmin::solver::quasinewton::BFGS;
use std::sync::Mutex;

use ndarray::{Array1, Array2};

use crate::ModelError;

/// A mean negative log-likelihood over log-parameters.
pub(crate) trait Objective: Sync {
    /// Mean negative log-likelihood per customer at log-parameters `theta`; `+∞` where the
    /// model cannot be evaluated (so that the optimisers step back from there).
    fn value(&self, theta: &[f64]) -> f64;

    /// Value and gradient. The default uses central differences; objectives with an analytic
    /// gradient override it and [`Objective::analytic_gradient`].
    fn value_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let f = self.value(theta);
        let mut p = theta.to_vec();
        for i in 0..theta.len() {
            let h = FD_STEP;
            p[i] = theta[i] + h;
            let up = self.value(&p);
            p[i] = theta[i] - h;
            let down = self.value(&p);
            p[i] = theta[i];
            grad[i] = (up - down) / (2.0 * h);
        }
        f
    }

    /// Value, gradient and Hessian (row-major) in one pass, for objectives with an analytic
    /// Hessian; `None` (the default) makes the callers difference gradients instead.
    fn value_grad_hess(&self, _theta: &[f64], _grad: &mut [f64], _hess: &mut [f64]) -> Option<f64> {
        None
    }

    /// Whether [`Objective::value_grad`] is analytic (then the Hessian is built from gradients).
    fn analytic_gradient(&self) -> bool {
        false
    }

    /// Number of customers the mean is over.
    fn weight(&self) -> f64;
}

/// Step for central-difference gradients of the mean log-likelihood in log-parameter space:
/// truncation error ~h² ≈ 1e-10, rounding ~1e-16/h ≈ 1e-11.
const FD_STEP: f64 = 1e-5;
/// Step for the numerical Hessian.
const HESS_STEP: f64 = 1e-4;
/// Largest `|log θ|` an optimiser may visit: beyond this a parameter is at the boundary
/// anyway and `exp` would overflow the model's arithmetic.
const LOG_BOUND: f64 = 40.0;

/// Result of [`minimise`].
pub(crate) struct Optimum {
    /// Log-parameters at the optimum.
    pub(crate) theta: Vec<f64>,
    /// Standard errors of the original parameters (NaN when the Hessian is not positive
    /// definite).
    pub(crate) std_errors: Vec<f64>,
    /// Total optimiser iterations.
    pub(crate) iterations: u64,
    /// Whether the Newton decrement at the end is negligible.
    converged: bool,
}

/// argmin's view of an objective. Line searches ask for the cost and then the gradient at the
/// same point; for analytic objectives one pass gives both, so the gradient is kept.
struct Problem<'a>(&'a dyn Objective, Mutex<Option<(Vec<f64>, Vec<f64>)>>);

impl<'a> Problem<'a> {
    fn new(obj: &'a dyn Objective) -> Self {
        Problem(obj, Mutex::new(None))
    }
}

fn guarded(obj: &dyn Objective, theta: &[f64]) -> f64 {
    if theta.iter().any(|t| !t.is_finite() || t.abs() > LOG_BOUND) {
        return f64::INFINITY;
    }
    let f = obj.value(theta);
    if f.is_finite() { f } else { f64::INFINITY }
}

impl CostFunction for Problem<'_> {
    type Param = Array1<f64>;
    type Output = f64;
    fn cost(&self, p: &Array1<f64>) -> Result<f64, ArgminError> {
        let theta = p.as_slice().expect("contiguous");
        if !self.0.analytic_gradient() || theta.iter().any(|t| t.abs() > LOG_BOUND) {
            return Ok(guarded(self.0, theta));
        }
        let mut g = vec![0.0; theta.len()];
        let f = self.0.value_grad(theta, &mut g);
        *self.1.lock().expect("not poisoned") = Some((theta.to_vec(), g));
        Ok(if f.is_finite() { f } else { f64::INFINITY })
    }
}

impl Gradient for Problem<'_> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;
    fn gradient(&self, p: &Array1<f64>) -> Result<Array1<f64>, ArgminError> {
        let theta = p.as_slice().expect("contiguous");
        if let Some((at, g)) = self.1.lock().expect("not poisoned").take()
            && at == theta
            && g.iter().all(|v| v.is_finite())
        {
            return Ok(Array1::from(g));
        }
        let mut g = vec![0.0; theta.len()];
        let f = if theta.iter().any(|t| t.abs() > LOG_BOUND) {
            f64::INFINITY
        } else {
            self.0.value_grad(theta, &mut g)
        };
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return Err(ArgminError::msg("log-likelihood not finite"));
        }
        Ok(Array1::from(g))
    }
}

/// Minimises `full` from `start`: Nelder–Mead and then BFGS (seeded with the inverse numerical
/// Hessian, so that it takes near-Newton steps from the first iteration) on `warm` (a
/// subsample for large data, else the full objective), then Newton steps with backtracking on
/// `full` until the Newton decrement (the predicted gain in total log-likelihood) is below 1e-6.
pub(crate) fn minimise(
    full: &dyn Objective,
    warm: Option<&dyn Objective>,
    start: &[f64],
) -> Result<Optimum, ModelError> {
    let n = start.len();
    let total = full.weight();
    // NM and BFGS run on the warm-up objective; on large data that is a subsample, and the
    // full data only see the Newton polish (a few gradients and Hessians), which is what
    // keeps a million-customer fit under a second.
    let search = warm.unwrap_or(full);
    // A subsample's optimum only has to be near the full data's for Newton to take over, so
    // its simplex may stop well before a tight tolerance.
    let tolerance = if warm.is_some() { 1e-6 } else { 1e-10 };
    let (mut theta, mut iterations) = nelder_mead(search, start, tolerance)?;
    if guarded(search, &theta) < f64::INFINITY {
        let inv = cholesky(&hessian(search, &theta), n)
            .map(|l| chol_inverse(&l, n))
            .unwrap_or_else(|| identity(n));
        if let Ok((t, it)) = bfgs(search, &theta, inv)
            && guarded(search, &t) <= guarded(search, &theta)
        {
            theta = t;
            iterations += it;
        }
    }
    let in_bounds = |t: &[f64]| t.iter().all(|v| v.is_finite() && v.abs() <= LOG_BOUND);
    let mut at = if in_bounds(&theta) {
        value_grad_hessian(full, &theta)
    } else {
        (f64::INFINITY, vec![], vec![])
    };
    if !at.0.is_finite() {
        // The subsample's optimum can be where the full data are not defined; search the full
        // data from the original start instead.
        let (t, it) = nelder_mead(full, start, 1e-10)?;
        theta = t;
        iterations += it;
        if guarded(full, &theta) == f64::INFINITY {
            return Err(ModelError::NoConvergence(
                "no starting point with a finite log-likelihood was found".into(),
            ));
        }
        at = value_grad_hessian(full, &theta);
    }
    // Newton polish; also verifies convergence and leaves the Hessian at the final point.
    let mut used_nm_rescue = false;
    let mut converged = false;
    let mut final_h: Option<Vec<f64>> = None;
    // The full step is tried with value, gradient and Hessian at once (it is nearly always
    // taken, and they are then the next iteration's); shorter steps need only values.
    for _ in 0..20 {
        let (f, g, h) = (at.0, &at.1, &at.2);
        let Some(l) = cholesky(h, n) else {
            if used_nm_rescue {
                // Without curvature the decrement is undefined; accept a flat gradient instead.
                converged = g.iter().all(|v| v.abs() * total < 1e-3);
                break;
            }
            used_nm_rescue = true;
            let (t, it) = nelder_mead(full, &theta, 1e-10)?;
            theta = t;
            iterations += it;
            at = value_grad_hessian(full, &theta);
            continue;
        };
        let step: Vec<f64> = chol_solve(&l, n, g).iter().map(|v| -v).collect();
        let decrement: f64 = -g.iter().zip(&step).map(|(a, b)| a * b).sum::<f64>();
        if decrement * total < 1e-6 {
            converged = true;
            final_h = Some(at.2);
            break;
        }
        let mut moved = false;
        let mut lambda = 1.0;
        for _ in 0..40 {
            let cand: Vec<f64> = theta
                .iter()
                .zip(&step)
                .map(|(t, s)| t + lambda * s)
                .collect();
            if lambda == 1.0 && in_bounds(&cand) {
                let next = value_grad_hessian(full, &cand);
                if next.0.is_finite() && next.0 < f {
                    theta = cand;
                    at = next;
                    moved = true;
                    break;
                }
            } else if guarded(full, &cand) < f {
                theta = cand;
                at = value_grad_hessian(full, &theta);
                moved = true;
                break;
            }
            lambda *= 0.5;
        }
        iterations += 1;
        if !moved {
            // No step improves on f in floating point: as close as the arithmetic allows.
            converged = decrement * total < 1e-2;
            final_h = Some(at.2);
            break;
        }
    }
    let h = final_h.unwrap_or_else(|| hessian(full, &theta));
    let std_errors = match cholesky(&h, n) {
        Some(l) => {
            let inv = chol_inverse(&l, n);
            (0..n)
                .map(|i| theta[i].exp() * (inv[i * n + i] / total).sqrt())
                .collect()
        }
        None => vec![f64::NAN; n],
    };
    Ok(Optimum {
        theta,
        std_errors,
        iterations,
        converged,
    })
}

/// Maps log-parameters back, refusing ones that ran off to the boundary, and refuses a fit
/// whose optimiser did not converge.
pub(crate) fn finish(names: &[&'static str], opt: &Optimum) -> Result<Vec<f64>, ModelError> {
    let values: Vec<f64> = opt.theta.iter().map(|t| t.exp()).collect();
    for (name, v) in names.iter().zip(&values) {
        if !(1e-8..=1e6).contains(v) {
            return Err(ModelError::NoConvergence(format!(
                "parameter {name} ran off to {v:.3e}: the data do not identify the model (too \
                 few customers, or purchase patterns the model cannot describe)"
            )));
        }
    }
    if !opt.converged {
        return Err(ModelError::NoConvergence(
            "the optimiser stopped before reaching a maximum of the likelihood".into(),
        ));
    }
    Ok(values)
}

/// Nelder–Mead from `start` until the standard deviation of the simplex's values is below
/// `tolerance`.
fn nelder_mead(
    obj: &dyn Objective,
    start: &[f64],
    tolerance: f64,
) -> Result<(Vec<f64>, u64), ModelError> {
    let step = 0.5;
    let mut simplex = vec![Array1::from(start.to_vec())];
    for i in 0..start.len() {
        let mut v = start.to_vec();
        v[i] += step;
        simplex.push(Array1::from(v));
    }
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(tolerance)
        .map_err(optimiser_error)?;
    let res = Executor::new(Problem::new(obj), solver)
        .configure(|s| s.max_iters(3_000))
        .ctrlc(false)
        .run()
        .map_err(optimiser_error)?;
    let state = res.state();
    let best = state
        .get_best_param()
        .ok_or_else(|| ModelError::NoConvergence("Nelder–Mead returned no parameters".into()))?;
    Ok((best.to_vec(), state.get_iter()))
}

fn bfgs(
    obj: &dyn Objective,
    start: &[f64],
    inv_hessian: Vec<f64>,
) -> Result<(Vec<f64>, u64), ModelError> {
    let n = start.len();
    let inv = Array2::from_shape_vec((n, n), inv_hessian).expect("square matrix");
    let solver = BFGS::new(MoreThuenteLineSearch::new())
        .with_tolerance_grad(1e-10)
        .and_then(|s| s.with_tolerance_cost(1e-15))
        .map_err(optimiser_error)?;
    let res = Executor::new(Problem::new(obj), solver)
        .configure(|s| {
            s.param(Array1::from(start.to_vec()))
                .inv_hessian(inv)
                .max_iters(200)
        })
        .ctrlc(false)
        .run()
        .map_err(optimiser_error)?;
    let state = res.state();
    let best = state
        .get_best_param()
        .ok_or_else(|| ModelError::NoConvergence("BFGS returned no parameters".into()))?;
    Ok((best.to_vec(), state.get_iter()))
}

fn optimiser_error(e: ArgminError) -> ModelError {
    ModelError::NoConvergence(format!("optimiser failed: {e}"))
}

/// Value, gradient and Hessian at `theta`: in one pass when the objective has an analytic
/// Hessian, else from [`Objective::value_grad`] and [`hessian`].
fn value_grad_hessian(obj: &dyn Objective, theta: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let n = theta.len();
    let mut g = vec![0.0; n];
    let mut h = vec![0.0; n * n];
    if let Some(f) = obj.value_grad_hess(theta, &mut g, &mut h) {
        return (f, g, h);
    }
    let f = obj.value_grad(theta, &mut g);
    (f, g, hessian(obj, theta))
}

/// Hessian of the mean objective (row-major, symmetric): the analytic one when the objective
/// has it, else central differences of the analytic gradient when there is one, else the
/// standard second differences of values.
fn hessian(obj: &dyn Objective, theta: &[f64]) -> Vec<f64> {
    let n = theta.len();
    let mut g = vec![0.0; n];
    let mut analytic = vec![0.0; n * n];
    if obj.value_grad_hess(theta, &mut g, &mut analytic).is_some() {
        return analytic;
    }
    let h = HESS_STEP;
    let mut out = vec![0.0; n * n];
    let mut p = theta.to_vec();
    if obj.analytic_gradient() {
        let mut gp = vec![0.0; n];
        let mut gm = vec![0.0; n];
        for i in 0..n {
            p[i] = theta[i] + h;
            obj.value_grad(&p, &mut gp);
            p[i] = theta[i] - h;
            obj.value_grad(&p, &mut gm);
            p[i] = theta[i];
            for j in 0..n {
                out[i * n + j] = (gp[j] - gm[j]) / (2.0 * h);
            }
        }
        for i in 0..n {
            for j in 0..i {
                let m = 0.5 * (out[i * n + j] + out[j * n + i]);
                out[i * n + j] = m;
                out[j * n + i] = m;
            }
        }
        return out;
    }
    let f0 = obj.value(theta);
    let mut eval = |moves: &[(usize, f64)]| {
        for &(i, d) in moves {
            p[i] += d;
        }
        let v = obj.value(&p);
        for &(i, d) in moves {
            p[i] -= d;
        }
        v
    };
    for i in 0..n {
        let up = eval(&[(i, h)]);
        let down = eval(&[(i, -h)]);
        out[i * n + i] = (up - 2.0 * f0 + down) / (h * h);
        for j in 0..i {
            let pp = eval(&[(i, h), (j, h)]);
            let pm = eval(&[(i, h), (j, -h)]);
            let mp = eval(&[(i, -h), (j, h)]);
            let mm = eval(&[(i, -h), (j, -h)]);
            let v = (pp - pm - mp + mm) / (4.0 * h * h);
            out[i * n + j] = v;
            out[j * n + i] = v;
        }
    }
    out
}

fn identity(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for i in 0..n {
        m[i * n + i] = 1.0;
    }
    m
}

/// Lower Cholesky factor of a symmetric matrix, `None` unless it is (numerically) positive
/// definite.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    if a.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - s;
                if d <= 1e-12 * a[i * n + i].abs().max(1e-300) {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}

fn chol_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    x
}

fn chol_inverse(l: &[f64], n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        let col = chol_solve(l, n, &e);
        for i in 0..n {
            inv[i * n + j] = col[i];
        }
    }
    inv
}
