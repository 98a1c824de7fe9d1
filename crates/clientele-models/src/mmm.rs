//! Marketing mix model: how much of a period's revenue each advertising channel drives, what
//! it returns per unit of spend, and how a budget should be split across the channels.
//!
//! Data: `n` periods (weeks, say) of revenue `y_t` and of spend `x_{c,t}` on each of `C`
//! channels, `t = 0 … n−1`.
//!
//! Definitions:
//! - **geometric adstock** ([`adstock`]): advertising keeps working after the period it was
//!   bought in, fading by a factor `θ ∈ [0, 1)` (the decay) each period:
//!   `a_0 = x_0`, `a_t = x_t + θ a_{t−1}`. A unit of spend contributes `1/(1 − θ)` units of
//!   adstock over its lifetime;
//! - **Hill saturation** ([`hill`]): returns diminish as the adstocked level grows,
//!   `h(a; K, S) = a^S / (a^S + K^S)`, `0` at `a = 0`, `½` at the half-saturation point `K > 0`
//!   and tending to `1`; the shape `S > 0` bends it (concave for `S ≤ 1`, S-shaped for
//!   `S > 1`);
//! - **the model** ([`fit`]):
//!   `y_t = base + trend·t + Σ_k (α_k sin + γ_k cos)(2πkt/season) + Σ_c β_c h(a_{c,t}; K_c, S_c) + ε_t`
//!   with `k = 1 … fourier_terms` (with `seasonal_growth` each seasonal term also enters
//!   multiplied by `t/n`, so the swing can grow with the trend), coefficients `β_c ≥ 0` (advertising does not destroy
//!   revenue), and base, trend and seasonal terms unconstrained. Given the nonlinear
//!   parameters `(θ_c, K_c, S_c)` the linear ones are the least-squares solution under those
//!   sign constraints ([`nnls`], Lawson–Hanson active set); the nonlinear ones minimise the sum
//!   of squared errors `SSE = Σ_t (y_t − ŷ_t)²` over the box `θ_c ∈ [0, 0.9]`,
//!   `K_c = κ_c · mean_t(a_{c,t})` with `κ_c ∈ [0.1, 3]` (so `K_c` is on the scale of the
//!   channel's own adstock), `S_c ∈ [0.5, 3]`, by Nelder–Mead (argmin) from several fixed
//!   starting points and a restart from the best optimum (deterministic);
//! - **contribution** of channel `c`: `Σ_t β_c h(a_{c,t}; K_c, S_c)`, the revenue the model
//!   credits to the channel over the sample; its **ROI** is contribution / `Σ_t x_{c,t}` (NaN
//!   when the channel spent nothing; [`fit`] rejects such channels anyway);
//! - **marginal ROI**: the revenue the next unit of spend would bring at the current level:
//!   the channel's contribution with every period's spend scaled by 1.01 (same `θ`, `K`, `S`,
//!   `β`), minus the contribution, divided by the extra spend `0.01 · Σ_t x_{c,t}`. Below the
//!   ROI means the channel is past its efficient level;
//! - **bootstrap intervals**: a moving-block bootstrap of the residuals `e_t = y_t − ŷ_t`:
//!   each replicate concatenates blocks of `L = max(4, season/4)` consecutive residuals
//!   starting at uniformly drawn periods (blocks keep the residuals' autocorrelation) until it
//!   has `n`, adds them to the fitted values, and refits the model (one Nelder–Mead run from
//!   the point estimate). The 90 % interval of a contribution or ROI is the 5 % and 95 %
//!   quantiles of the replicates (linear interpolation between order statistics). Each
//!   replicate has its own ChaCha8 stream of the seed, so the intervals depend only on the
//!   seed, not on the number of threads;
//! - **budget allocation** ([`optimise_budget`]): in steady state a channel spending `x` per
//!   period has adstock `x/(1 − θ)` and brings `r_c(x) = β_c h(x/(1 − θ_c); K_c, S_c)` per
//!   period. The allocation maximises `Σ_c r_c(x_c)` subject to `Σ_c x_c = total` and, when
//!   bounds `(lo, hi)` are given, `lo·current_c ≤ x_c ≤ hi·current_c`. At the optimum every
//!   channel strictly inside its bounds has the same marginal return `r_c'(x_c) = λ`, a channel
//!   at its lower bound has `r_c' ≤ λ` and one at its upper bound `r_c' ≥ λ` (the KKT
//!   conditions); it is found by bisection on `λ`. Base, trend and season do not depend on
//!   the split and are left out of the reported revenues.
//!
//! Limitations: the model reads correlation, not causation. Channels whose spend moves
//! together (campaigns launched at once, budgets set as a share of sales) cannot be told
//! apart, and their coefficients, contributions and ROIs become unstable: check
//! [`spend_correlation`] before trusting a split, and validate the model against holdout
//! experiments (geo tests, switch-offs) before moving budget on its advice. Spend driven by
//! expected demand (more advertising before the season) is credited to the advertising. The
//! bootstrap takes the nonlinear fit as given and refits around it: it shows the noise in the
//! estimates, not the model's misspecification. With S-shaped curves (`S > 1`) the allocation
//! is a KKT point of a non-concave problem and may not be the global optimum.

use argmin::core::{CostFunction, Error as ArgminError, Executor, State as _};
use argmin::solver::neldermead::NelderMead;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::{ModelError, quantile};

/// Upper bound of the decay `θ`.
const DECAY_MAX: f64 = 0.9;
/// Bounds of the half-saturation point as a share of the channel's mean adstock.
const KAPPA_RANGE: (f64, f64) = (0.1, 3.0);
/// Bounds of the Hill shape.
const SHAPE_RANGE: (f64, f64) = (0.5, 3.0);
/// Nelder–Mead iterations per run.
const MAX_ITERS: u64 = 3_000;

/// Geometric adstock: `a_t = x_t + decay · a_{t−1}`, `a_0 = x_0` (`decay` in `[0, 1)`; the
/// caller checks it). Empty input gives an empty output.
pub fn adstock(x: &[f64], decay: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut level = 0.0;
    for &v in x {
        level = v + decay * level;
        out.push(level);
    }
    out
}

/// Hill saturation `x^s / (x^s + k^s)` (`k > 0` half-saturation point, `s > 0` shape); 0 at
/// `x ≤ 0`.
pub fn hill(x: f64, k: f64, s: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    // (k/x)^s instead of the ratio of powers: no overflow for large x or s.
    1.0 / (1.0 + (k / x).powf(s))
}

/// Derivative of [`hill`] in `x`.
fn hill_derivative(x: f64, k: f64, s: f64) -> f64 {
    if x <= 0.0 {
        return if s < 1.0 {
            f64::INFINITY
        } else if s == 1.0 {
            1.0 / k
        } else {
            0.0
        };
    }
    let r = (k / x).powf(s);
    // d/dx 1/(1 + (k/x)^s) = s r / (x (1 + r)²)
    s * r / (x * (1.0 + r) * (1.0 + r))
}

/// Settings of [`fit`].
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Length of the seasonal cycle in periods (52 for weekly data with a yearly cycle); 0 for
    /// no seasonal terms.
    pub season: usize,
    /// Number of Fourier harmonics of the season (each adds a sine and a cosine); ignored
    /// when `season` is 0.
    pub fourier_terms: usize,
    /// Whether a linear trend in `t` is fitted.
    pub trend: bool,
    /// Whether the seasonal swing grows with the trend (multiplicative seasonality, as when
    /// revenue is a growing customer base times a seasonal rate): each Fourier column also
    /// enters multiplied by `t/n`. Needs `trend`. Without it a growing seasonal swing is left
    /// in the residuals, and spend that grows and swings with the business takes its credit.
    pub seasonal_growth: bool,
    /// Whether the curves are fitted with weakly informative priors (maximum a posteriori:
    /// `n/2 · ln SSE` plus minus the log prior, see [`prior_penalty`]) rather than by least
    /// squares alone. With few periods and noisy revenue the least-squares optimum runs to
    /// the edges of the box (decay 0.9, fully saturated or S-shaped curves) where a channel
    /// stands in for the trend or the intercept; the priors keep it near ordinary curves
    /// unless the data insist (after Jin et al. 2017, "Bayesian methods for media mix
    /// modeling with carryover and shape effects").
    pub priors: bool,
    /// Number of bootstrap replicates for the intervals; 0 leaves the intervals NaN.
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            season: 52,
            fourier_terms: 2,
            trend: true,
            seasonal_growth: false,
            priors: false,
            bootstrap: 200,
            seed: 0,
        }
    }
}

/// One channel's fitted response and what it implies (see the module's definitions).
#[derive(Debug, Clone, Serialize)]
pub struct ChannelFit {
    /// Adstock decay `θ` in `[0, 0.9]`.
    pub decay: f64,
    /// Half-saturation point `K` in units of adstocked spend (not as a share).
    pub half_saturation: f64,
    /// Hill shape `S` in `[0.5, 3]`.
    pub shape: f64,
    /// Coefficient `β ≥ 0`: the revenue per period at full saturation.
    pub coefficient: f64,
    /// Revenue credited to the channel over the sample.
    pub contribution: f64,
    /// Total spend over the sample.
    pub spend: f64,
    /// `contribution / spend`; NaN when spend is 0.
    pub roi: f64,
    /// Revenue per extra unit of spend when all of the channel's spend is scaled up by 1 %.
    pub marginal_roi: f64,
    /// 5 % bootstrap quantile of the contribution (NaN without bootstrap).
    pub contribution_lower: f64,
    /// 95 % bootstrap quantile of the contribution (NaN without bootstrap).
    pub contribution_upper: f64,
    /// 5 % bootstrap quantile of the ROI (NaN without bootstrap).
    pub roi_lower: f64,
    /// 95 % bootstrap quantile of the ROI (NaN without bootstrap).
    pub roi_upper: f64,
}

impl ChannelFit {
    /// The channel's steady-state response curve: modelled revenue per period when `x` is
    /// spent every period, `β · Hill(x / (1 − θ))` (the adstock of a constant spend `x`
    /// converges to `x / (1 − θ)`); 0 at `x ≤ 0`.
    pub fn response(&self, x: f64) -> f64 {
        Response::of(self).value(x)
    }
}

/// A fitted marketing mix model.
#[derive(Debug, Clone, Serialize)]
pub struct MmmFit {
    /// Intercept: revenue at `t = 0` without advertising, season aside.
    pub base: f64,
    /// Revenue change per period (0 when the trend is not fitted).
    pub trend: f64,
    /// The channels, in the order of the input.
    pub channels: Vec<ChannelFit>,
    /// Fitted revenue `ŷ_t` of each period.
    pub fitted: Vec<f64>,
    /// `1 − SSE / Σ (y_t − ȳ)²` (NaN when revenue is constant).
    pub r_squared: f64,
    /// Mean absolute percentage error `mean |y_t − ŷ_t| / y_t` over the periods with
    /// `y_t > 0` (NaN when there is none).
    pub mape: f64,
    /// Number of periods.
    pub n_obs: usize,
}

/// Least squares `min ‖A b − y‖²` with `b_j ≥ 0` for the constrained columns and `b_j` free
/// for the columns with `free[j]` (Lawson–Hanson active set, the free columns always in the
/// passive set). `columns[j]` is column `j` of `A` (all of length `y.len()`).
///
/// Errors when the lengths disagree or the free columns alone are collinear.
pub fn nnls(columns: &[Vec<f64>], y: &[f64], free: &[bool]) -> Result<Vec<f64>, ModelError> {
    let p = columns.len();
    if free.len() != p {
        return Err(ModelError::BadParameter(format!(
            "{} columns but {} free flags",
            p,
            free.len()
        )));
    }
    if let Some(j) = columns.iter().position(|c| c.len() != y.len()) {
        return Err(ModelError::BadParameter(format!(
            "column {j} has {} rows, y has {}",
            columns[j].len(),
            y.len()
        )));
    }
    // Columns scaled to unit norm: the normal equations then have a unit diagonal, which
    // keeps their conditioning as good as the columns allow. A zero column gets scale 1
    // (its coefficient stays 0).
    let scale: Vec<f64> = columns
        .iter()
        .map(|c| {
            let n = c.iter().map(|v| v * v).sum::<f64>().sqrt();
            if n > 0.0 { n } else { 1.0 }
        })
        .collect();
    let mut gram = vec![0.0; p * p];
    let mut rhs = vec![0.0; p];
    for i in 0..p {
        rhs[i] = dot(&columns[i], y) / scale[i];
        for j in 0..=i {
            let g = dot(&columns[i], &columns[j]) / (scale[i] * scale[j]);
            gram[i * p + j] = g;
            gram[j * p + i] = g;
        }
    }
    let b = nnls_gram(&gram, &rhs, free)?;
    Ok(b.iter().zip(&scale).map(|(v, s)| v / s).collect())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Lawson–Hanson on the normal equations `G b = h` (`G` row-major `p × p`).
fn nnls_gram(gram: &[f64], rhs: &[f64], free: &[bool]) -> Result<Vec<f64>, ModelError> {
    let p = rhs.len();
    let max_diag = (0..p).map(|i| gram[i * p + i]).fold(0.0_f64, f64::max);
    // A column may enter when the gradient of ½‖Ab − y‖² pushes its coefficient up by more
    // than rounding: relative to the size of the problem.
    let tol = 1e-12 * max_diag.max(1e-300) * rhs.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
    let mut passive: Vec<bool> = free.to_vec();
    let mut x = vec![0.0; p];
    if passive.iter().any(|&f| f) {
        x = solve_subset(gram, rhs, &passive)?;
    }
    let max_outer = 3 * p + 10;
    for _ in 0..max_outer {
        // Gradient w = h − G x; the most promising constrained column enters.
        let w: Vec<f64> = (0..p)
            .map(|i| rhs[i] - (0..p).map(|j| gram[i * p + j] * x[j]).sum::<f64>())
            .collect();
        let enter = (0..p)
            .filter(|&j| !passive[j] && w[j] > tol)
            .max_by(|&a, &b| w[a].total_cmp(&w[b]));
        let Some(j) = enter else {
            return Ok(x);
        };
        passive[j] = true;
        // Inner loop: step toward the unconstrained solution on the passive set and drop
        // the constrained coefficients that hit zero on the way.
        for _ in 0..=p {
            let z = match solve_subset(gram, rhs, &passive) {
                Ok(z) => z,
                Err(_) => {
                    // The entering column is collinear with the passive ones: it cannot
                    // lower the SSE, so it stays out.
                    passive[j] = false;
                    return Ok(x);
                }
            };
            let blocking: Vec<usize> = (0..p)
                .filter(|&i| passive[i] && !free[i] && z[i] <= 0.0)
                .collect();
            if blocking.is_empty() {
                x = z;
                break;
            }
            let alpha = blocking
                .iter()
                .map(|&i| {
                    let d = x[i] - z[i];
                    if d > 0.0 { x[i] / d } else { 0.0 }
                })
                .fold(f64::INFINITY, f64::min);
            for i in 0..p {
                if passive[i] {
                    x[i] += alpha * (z[i] - x[i]);
                }
            }
            for i in 0..p {
                if passive[i] && !free[i] && x[i] <= 1e-15 * (1.0 + x[i].abs()) {
                    passive[i] = false;
                    x[i] = 0.0;
                }
            }
        }
    }
    Ok(x)
}

/// Solves `G_PP z_P = h_P` by Cholesky, `z` zero outside the passive set `P`.
fn solve_subset(gram: &[f64], rhs: &[f64], passive: &[bool]) -> Result<Vec<f64>, ModelError> {
    let p = rhs.len();
    let idx: Vec<usize> = (0..p).filter(|&i| passive[i]).collect();
    let m = idx.len();
    let mut l = vec![0.0; m * m];
    for a in 0..m {
        for b in 0..=a {
            let mut s = gram[idx[a] * p + idx[b]];
            for k in 0..b {
                s -= l[a * m + k] * l[b * m + k];
            }
            if a == b {
                // Pivot relative to the (unit-scaled) diagonal: below it the columns are
                // collinear to rounding.
                if s <= 1e-12 * gram[idx[a] * p + idx[a]].max(1e-300) {
                    return Err(ModelError::InsufficientData(
                        "collinear columns in the least-squares design".into(),
                    ));
                }
                l[a * m + a] = s.sqrt();
            } else {
                l[a * m + b] = s / l[b * m + b];
            }
        }
    }
    let mut v = vec![0.0; m];
    for a in 0..m {
        let mut s = rhs[idx[a]];
        for k in 0..a {
            s -= l[a * m + k] * v[k];
        }
        v[a] = s / l[a * m + a];
    }
    for a in (0..m).rev() {
        let mut s = v[a];
        for k in a + 1..m {
            s -= l[k * m + a] * v[k];
        }
        v[a] = s / l[a * m + a];
    }
    let mut z = vec![0.0; p];
    for (a, &i) in idx.iter().enumerate() {
        z[i] = v[a];
    }
    Ok(z)
}

/// Pearson correlation between the channels' spend series (`spend[c][t]`): entry `[i][j]`.
/// A channel with constant spend has NaN in its row and column (diagonal included): its
/// correlation is undefined. Pairs of channels above ~0.8 cannot be told apart by [`fit`].
pub fn spend_correlation(spend: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let centred: Vec<(Vec<f64>, f64)> = spend
        .iter()
        .map(|s| {
            let n = s.len().max(1) as f64;
            let m = s.iter().sum::<f64>() / n;
            let d: Vec<f64> = s.iter().map(|v| v - m).collect();
            let ss = d.iter().map(|v| v * v).sum::<f64>();
            (d, ss)
        })
        .collect();
    let c = spend.len();
    let mut out = vec![vec![f64::NAN; c]; c];
    for i in 0..c {
        for j in 0..c {
            let (di, si) = &centred[i];
            let (dj, sj) = &centred[j];
            if *si > 0.0 && *sj > 0.0 && di.len() == dj.len() {
                out[i][j] = if i == j {
                    1.0
                } else {
                    dot(di, dj) / (si * sj).sqrt()
                };
            }
        }
    }
    out
}

/// The fixed part of the problem: data and the columns that do not depend on the nonlinear
/// parameters.
struct Problem<'a> {
    y: Vec<f64>,
    spend: &'a [Vec<f64>],
    /// Intercept, trend (as `t/n`, for conditioning) and Fourier columns.
    fixed: Vec<Vec<f64>>,
    /// Orthonormal basis of the fixed columns' span.
    basis: Vec<Vec<f64>>,
    /// `y` less its projection on the fixed columns, and its squared norm.
    y_res: Vec<f64>,
    yy: f64,
    /// Whether the weakly informative priors ([`prior_penalty`]) are added.
    priors: bool,
}

/// The linear fit at given nonlinear parameters.
struct LinearFit {
    /// Coefficients: fixed columns first, then one per channel.
    coef: Vec<f64>,
    fitted: Vec<f64>,
    sse: f64,
    /// Per channel: the absolute half-saturation point and the Hill column.
    k_abs: Vec<f64>,
    hill_cols: Vec<Vec<f64>>,
}

/// Nonlinear parameters in the unit cube, per channel `(θ, κ, S)` mapped from `u ∈ [0,1]³`.
fn unpack(u: &[f64], c: usize) -> (f64, f64, f64) {
    let d = u[3 * c].clamp(0.0, 1.0) * DECAY_MAX;
    let k = KAPPA_RANGE.0 + u[3 * c + 1].clamp(0.0, 1.0) * (KAPPA_RANGE.1 - KAPPA_RANGE.0);
    let s = SHAPE_RANGE.0 + u[3 * c + 2].clamp(0.0, 1.0) * (SHAPE_RANGE.1 - SHAPE_RANGE.0);
    (d, k, s)
}

fn pack(decay: f64, kappa: f64, shape: f64) -> [f64; 3] {
    [
        decay / DECAY_MAX,
        (kappa - KAPPA_RANGE.0) / (KAPPA_RANGE.1 - KAPPA_RANGE.0),
        (shape - SHAPE_RANGE.0) / (SHAPE_RANGE.1 - SHAPE_RANGE.0),
    ]
}

/// Centre and spread of the weakly informative priors of [`Options::priors`]: the decay θ
/// normal with mean 0.4 and sd 0.3, ln κ and ln S normal with mean 0 and sd 0.5 (κ the
/// half-saturation point as a share of the channel's mean adstock).
const PRIOR_DECAY: (f64, f64) = (0.4, 0.3);
const PRIOR_LOG_SD: f64 = 0.5;

/// Minus the log prior density of the nonlinear parameters, up to a constant.
fn prior_penalty(u: &[f64]) -> f64 {
    (0..u.len() / 3)
        .map(|c| {
            let (d, k, s) = unpack(u, c);
            let z = |v: f64, (m, sd): (f64, f64)| ((v - m) / sd).powi(2) / 2.0;
            z(d, PRIOR_DECAY) + z(k.ln(), (0.0, PRIOR_LOG_SD)) + z(s.ln(), (0.0, PRIOR_LOG_SD))
        })
        .sum()
}

/// Removes from `v` its projection on the orthonormal `basis`.
fn project_out(v: &mut [f64], basis: &[Vec<f64>]) {
    for q in basis {
        let c = dot(q, v);
        for (x, b) in v.iter_mut().zip(q) {
            *x -= c * b;
        }
    }
}

impl<'a> Problem<'a> {
    fn new(y: Vec<f64>, spend: &'a [Vec<f64>], fixed: Vec<Vec<f64>>, priors: bool) -> Self {
        // Modified Gram–Schmidt, each column orthogonalised twice (enough for full accuracy);
        // a column already in the span of the others adds nothing.
        let mut basis: Vec<Vec<f64>> = Vec::with_capacity(fixed.len());
        for col in &fixed {
            let norm0 = dot(col, col).sqrt();
            let mut v = col.clone();
            project_out(&mut v, &basis);
            project_out(&mut v, &basis);
            let norm = dot(&v, &v).sqrt();
            if norm > 1e-10 * norm0 {
                v.iter_mut().for_each(|x| *x /= norm);
                basis.push(v);
            }
        }
        let mut y_res = y.clone();
        project_out(&mut y_res, &basis);
        let yy = dot(&y_res, &y_res);
        Problem {
            priors,
            y,
            spend,
            fixed,
            basis,
            y_res,
            yy,
        }
    }

    /// The channels' Hill columns and absolute half-saturation points at `u`.
    fn hill_columns(&self, u: &[f64]) -> (Vec<Vec<f64>>, Vec<f64>) {
        let n = self.y.len() as f64;
        let mut cols = Vec::with_capacity(self.spend.len());
        let mut ks = Vec::with_capacity(self.spend.len());
        for (c, x) in self.spend.iter().enumerate() {
            let (d, kappa, s) = unpack(u, c);
            let mut a = adstock(x, d);
            let k = kappa * a.iter().sum::<f64>() / n;
            a.iter_mut().for_each(|v| *v = hill(*v, k, s));
            cols.push(a);
            ks.push(k);
        }
        (cols, ks)
    }

    /// The full linear fit (every coefficient) at `u`.
    fn linear(&self, u: &[f64]) -> Result<LinearFit, ModelError> {
        let n = self.y.len();
        let (hill_cols, k_abs) = self.hill_columns(u);
        let mut cols = self.fixed.clone();
        let mut free = vec![true; cols.len()];
        cols.extend(hill_cols.iter().cloned());
        free.extend(std::iter::repeat_n(false, hill_cols.len()));
        let coef = nnls(&cols, &self.y, &free)?;
        let mut fitted = vec![0.0; n];
        for (col, b) in cols.iter().zip(&coef) {
            for (f, v) in fitted.iter_mut().zip(col) {
                *f += b * v;
            }
        }
        let sse = self
            .y
            .iter()
            .zip(&fitted)
            .map(|(y, f)| (y - f) * (y - f))
            .sum();
        Ok(LinearFit {
            coef,
            fitted,
            sse,
            k_abs,
            hill_cols,
        })
    }

    /// The SSE at `u`. The free (fixed) columns are profiled out by projection: with `P` the
    /// projector on their span, `min_b ‖y − F b − H β‖² = ‖(I − P)(y − H β)‖²`, so only the
    /// channels' small non-negative problem is solved per evaluation.
    fn sse(&self, u: &[f64]) -> f64 {
        let (cols, _) = self.hill_columns(u);
        let nc = cols.len();
        // With C = QᵀH: H̃ᵀH̃ = HᵀH − CᵀC and H̃ᵀỹ = Hᵀỹ (ỹ is orthogonal to Q); cheaper than
        // projecting every column.
        let proj: Vec<Vec<f64>> = cols
            .iter()
            .map(|h| self.basis.iter().map(|q| dot(q, h)).collect())
            .collect();
        let mut gram = vec![0.0; nc * nc];
        for i in 0..nc {
            for j in 0..=i {
                let g = dot(&cols[i], &cols[j]) - dot(&proj[i], &proj[j]);
                gram[i * nc + j] = g;
                gram[j * nc + i] = g;
            }
        }
        let scale: Vec<f64> = (0..nc)
            .map(|i| {
                let d = gram[i * nc + i];
                if d > 0.0 { d.sqrt() } else { 1.0 }
            })
            .collect();
        let mut rhs = vec![0.0; nc];
        for i in 0..nc {
            rhs[i] = dot(&cols[i], &self.y_res) / scale[i];
            for j in 0..nc {
                gram[i * nc + j] /= scale[i] * scale[j];
            }
        }
        let Ok(beta) = nnls_gram(&gram, &rhs, &vec![false; nc]) else {
            return f64::INFINITY;
        };
        // ‖ỹ − H̃β‖² = ‖ỹ‖² − 2βᵀH̃ᵀỹ + βᵀH̃ᵀH̃β (in the scaled coordinates).
        let mut sse = self.yy;
        for i in 0..nc {
            sse -= 2.0 * beta[i] * rhs[i];
            for j in 0..nc {
                sse += beta[i] * gram[i * nc + j] * beta[j];
            }
        }
        sse.max(0.0)
    }

    /// The SSE at `u`, with a penalty outside the unit cube so that Nelder–Mead stays in the
    /// box without the objective becoming flat there.
    fn objective(&self, u: &[f64]) -> f64 {
        let outside: f64 = u
            .iter()
            .map(|&v| {
                let d = v - v.clamp(0.0, 1.0);
                d * d
            })
            .sum();
        let sse = self.sse(u) * (1.0 + outside);
        if self.priors {
            // n/2·ln SSE + penalty is minimised by SSE·exp(2·penalty/n): the same optimum
            // on the scale of the sum of squares (the optimiser's tolerances stay valid).
            sse * (2.0 * prior_penalty(u) / self.y.len().max(1) as f64).exp()
        } else {
            sse
        }
    }
}

/// argmin's view of the objective.
struct Cost<'a, 'b>(&'a Problem<'b>);

impl CostFunction for Cost<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, u: &Vec<f64>) -> Result<f64, ArgminError> {
        Ok(self.0.objective(u))
    }
}

/// One Nelder–Mead run from `start` (unit-cube coordinates) with simplex steps `step`.
fn nelder_mead(
    problem: &Problem,
    start: &[f64],
    step: f64,
    iters: u64,
) -> Result<(Vec<f64>, f64), ModelError> {
    let mut simplex = vec![start.to_vec()];
    for i in 0..start.len() {
        let mut v = start.to_vec();
        // Step toward the middle of the box, so the first simplex lies inside it.
        v[i] += if v[i] > 0.5 { -step } else { step };
        simplex.push(v);
    }
    // Stop when the simplex's SSEs agree to a small share of the scale of the problem (an
    // absolute tolerance would never be met on revenue in the millions).
    let solver = NelderMead::new(simplex)
        .with_sd_tolerance(1e-8 * problem.yy.max(f64::MIN_POSITIVE))
        .map_err(|e| ModelError::NoConvergence(format!("optimiser failed: {e}")))?;
    let res = Executor::new(Cost(problem), solver)
        .configure(|s| s.max_iters(iters))
        .ctrlc(false)
        .run()
        .map_err(|e| ModelError::NoConvergence(format!("optimiser failed: {e}")))?;
    let best = res
        .state()
        .get_best_param()
        .ok_or_else(|| ModelError::NoConvergence("Nelder–Mead returned no parameters".into()))?
        .iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect::<Vec<f64>>();
    let value = problem.objective(&best);
    Ok((best, value))
}

/// Minimises the SSE from several starting points; `warm` (a previous optimum) replaces
/// them with a single run from there.
fn optimise(problem: &Problem, warm: Option<&[f64]>) -> Result<Vec<f64>, ModelError> {
    let nc = problem.spend.len();
    let starts: Vec<Vec<f64>> = match warm {
        Some(w) => vec![w.to_vec()],
        None => {
            // Fixed (θ, κ, S) triples spread over the box, shared by all channels, and two
            // where the channels differ (so no start ties them together).
            let triples = [
                (0.2, 1.0, 1.0),
                (0.5, 1.0, 1.5),
                (0.7, 0.6, 2.0),
                (0.3, 2.0, 1.0),
                (0.6, 1.5, 2.5),
            ];
            let mut s: Vec<Vec<f64>> = triples
                .iter()
                .map(|&(d, k, sh)| (0..nc).flat_map(|_| pack(d, k, sh)).collect())
                .collect();
            for shift in 1..=2 {
                s.push(
                    (0..nc)
                        .flat_map(|c| {
                            let (d, k, sh) = triples[(c + shift) % triples.len()];
                            pack(d, k, sh)
                        })
                        .collect(),
                );
            }
            s
        }
    };
    let mut best: Option<(Vec<f64>, f64)> = None;
    for start in &starts {
        let step = if warm.is_some() { 0.1 } else { 0.25 };
        let Ok(run) = nelder_mead(problem, start, step, MAX_ITERS) else {
            continue;
        };
        if best.as_ref().is_none_or(|b| run.1 < b.1) {
            best = Some(run);
        }
    }
    let (mut u, mut value) =
        best.ok_or_else(|| ModelError::NoConvergence("no Nelder–Mead run succeeded".into()))?;
    // Nelder–Mead can stall on a collapsed simplex: restart from its optimum with a fresh
    // one until the SSE stops improving.
    // A bootstrap refit starts at the optimum already: one restart is enough there.
    let restarts = if warm.is_some() { 1 } else { 4 };
    for _ in 0..restarts {
        let (u2, v2) = nelder_mead(problem, &u, 0.05, MAX_ITERS)?;
        let improved = v2 < value * (1.0 - 1e-9);
        if v2 < value {
            u = u2;
            value = v2;
        }
        if !improved {
            break;
        }
    }
    if !value.is_finite() {
        return Err(ModelError::NoConvergence(
            "the sum of squared errors is not finite at the optimum".into(),
        ));
    }
    Ok(u)
}

/// Number of fixed (base, trend, Fourier) columns.
fn fixed_columns(n: usize, opts: &Options) -> (Vec<Vec<f64>>, bool) {
    let mut cols = vec![vec![1.0; n]];
    if opts.trend {
        cols.push((0..n).map(|t| t as f64 / n as f64).collect());
    }
    if opts.season > 0 {
        for k in 1..=opts.fourier_terms {
            let w = 2.0 * std::f64::consts::PI * k as f64 / opts.season as f64;
            // At the Nyquist harmonic (2k = season) the sine is zero at every integer t.
            if 2 * k != opts.season {
                cols.push((0..n).map(|t| (w * t as f64).sin()).collect());
            }
            cols.push((0..n).map(|t| (w * t as f64).cos()).collect());
        }
        if opts.trend && opts.seasonal_growth {
            let seasonal = cols.len() - 2;
            for j in 2..2 + seasonal {
                let grown: Vec<f64> = cols[j]
                    .iter()
                    .enumerate()
                    .map(|(t, v)| v * t as f64 / n as f64)
                    .collect();
                cols.push(grown);
            }
        }
    }
    (cols, opts.trend)
}

/// The summary of one channel at a linear fit.
fn channel_summary(problem: &Problem, u: &[f64], lin: &LinearFit, c: usize) -> ChannelFit {
    let nf = problem.fixed.len();
    let (decay, _, shape) = unpack(u, c);
    let beta = lin.coef[nf + c];
    let k = lin.k_abs[c];
    let contribution: f64 = beta * lin.hill_cols[c].iter().sum::<f64>();
    let spend: f64 = problem.spend[c].iter().sum();
    let roi = if spend > 0.0 {
        contribution / spend
    } else {
        f64::NAN
    };
    let scaled: Vec<f64> = problem.spend[c].iter().map(|v| v * 1.01).collect();
    let bumped: f64 = beta
        * adstock(&scaled, decay)
            .iter()
            .map(|&a| hill(a, k, shape))
            .sum::<f64>();
    let marginal_roi = if spend > 0.0 {
        (bumped - contribution) / (0.01 * spend)
    } else {
        f64::NAN
    };
    ChannelFit {
        decay,
        half_saturation: k,
        shape,
        coefficient: beta,
        contribution,
        spend,
        roi,
        marginal_roi,
        contribution_lower: f64::NAN,
        contribution_upper: f64::NAN,
        roi_lower: f64::NAN,
        roi_upper: f64::NAN,
    }
}

/// Number of parameters of the model (for the minimum sample size).
fn n_parameters(n_channels: usize, opts: &Options) -> usize {
    let seasonal = if opts.season > 0 {
        2 * opts.fourier_terms
    } else {
        0
    };
    let grown = if opts.trend && opts.seasonal_growth {
        seasonal
    } else {
        0
    };
    1 + usize::from(opts.trend) + seasonal + grown + 4 * n_channels
}

fn validate(revenue: &[f64], spend: &[Vec<f64>], opts: &Options) -> Result<(), ModelError> {
    if spend.is_empty() {
        return Err(ModelError::BadParameter(
            "no channels: at least one spend series is needed".into(),
        ));
    }
    if opts.season == 1 {
        return Err(ModelError::BadParameter(
            "season 1: a seasonal cycle needs at least 2 periods (0 for none)".into(),
        ));
    }
    if opts.season > 0 && 2 * opts.fourier_terms > opts.season {
        return Err(ModelError::BadParameter(format!(
            "{} Fourier terms for a season of {}: at most season/2 harmonics exist",
            opts.fourier_terms, opts.season
        )));
    }
    let n = revenue.len();
    for (c, s) in spend.iter().enumerate() {
        if s.len() != n {
            return Err(ModelError::BadParameter(format!(
                "channel {c} has {} periods of spend, revenue has {n}",
                s.len()
            )));
        }
    }
    let needed = (3 * n_parameters(spend.len(), opts)).max(20);
    if n < needed {
        return Err(ModelError::InsufficientData(format!(
            "{n} periods: the model with {} channels needs at least {needed}",
            spend.len()
        )));
    }
    if let Some(t) = revenue.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(ModelError::BadParameter(format!(
            "revenue of period {t} is {}: it must be finite and non-negative",
            revenue[t]
        )));
    }
    for (c, s) in spend.iter().enumerate() {
        if let Some(t) = s.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(ModelError::BadParameter(format!(
                "spend of channel {c} in period {t} is {}: it must be finite and non-negative",
                s[t]
            )));
        }
        if s.iter().sum::<f64>() <= 0.0 {
            return Err(ModelError::BadParameter(format!(
                "channel {c} has no spend in the sample: its response cannot be estimated \
                 (leave it out)"
            )));
        }
    }
    Ok(())
}

/// Fits the marketing mix model `revenue[t] ~ base + trend + season + Σ_c β_c h(adstock(spend[c]))`
/// (channel-major `spend[c][t]`; see the module's definitions), with moving-block bootstrap
/// intervals when `opts.bootstrap > 0`.
///
/// Errors: mismatched lengths, negative or non-finite values, a channel without spend
/// (`BadParameter`, naming the channel and period); fewer than `max(20, 3 × parameters)`
/// periods (`InsufficientData`); no usable optimum (`NoConvergence`).
pub fn fit(revenue: &[f64], spend: &[Vec<f64>], opts: &Options) -> Result<MmmFit, ModelError> {
    validate(revenue, spend, opts)?;
    let n = revenue.len();
    let (fixed, has_trend) = fixed_columns(n, opts);
    let problem = Problem::new(revenue.to_vec(), spend, fixed, opts.priors);
    let u = optimise(&problem, None)?;
    let lin = problem.linear(&u)?;
    let mut channels: Vec<ChannelFit> = (0..spend.len())
        .map(|c| channel_summary(&problem, &u, &lin, c))
        .collect();

    if opts.bootstrap > 0 {
        let residuals: Vec<f64> = revenue
            .iter()
            .zip(&lin.fitted)
            .map(|(y, f)| y - f)
            .collect();
        let block = (opts.season / 4).max(4).min(n);
        let replicates: Vec<Vec<(f64, f64)>> = (0..opts.bootstrap as u64)
            .into_par_iter()
            .filter_map(|r| {
                // One stream per replicate: deterministic whatever the thread count.
                let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
                rng.set_stream(r);
                let mut y = Vec::with_capacity(n);
                while y.len() < n {
                    let start = rng.random_range(0..=n - block);
                    for e in &residuals[start..start + block] {
                        if y.len() < n {
                            y.push(lin.fitted[y.len()] + e);
                        }
                    }
                }
                let rep = Problem::new(y, spend, problem.fixed.clone(), opts.priors);
                // A replicate whose refit fails is left out rather than failing the fit.
                let ur = optimise(&rep, Some(&u)).ok()?;
                let lr = rep.linear(&ur).ok()?;
                Some(
                    (0..spend.len())
                        .map(|c| {
                            let s = channel_summary(&rep, &ur, &lr, c);
                            (s.contribution, s.roi)
                        })
                        .collect(),
                )
            })
            .collect();
        for (c, ch) in channels.iter_mut().enumerate() {
            let mut contrib: Vec<f64> = replicates.iter().map(|r| r[c].0).collect();
            let mut roi: Vec<f64> = replicates.iter().map(|r| r[c].1).collect();
            contrib.sort_by(f64::total_cmp);
            roi.sort_by(f64::total_cmp);
            ch.contribution_lower = quantile(&contrib, 0.05);
            ch.contribution_upper = quantile(&contrib, 0.95);
            ch.roi_lower = quantile(&roi, 0.05);
            ch.roi_upper = quantile(&roi, 0.95);
        }
    }

    let base = lin.coef[0];
    let trend = if has_trend {
        // The trend column is t/n: per period its coefficient is divided by n.
        lin.coef[1] / n as f64
    } else {
        0.0
    };
    let mean = revenue.iter().sum::<f64>() / n as f64;
    let sst: f64 = revenue.iter().map(|v| (v - mean) * (v - mean)).sum();
    let r_squared = if sst > 0.0 {
        1.0 - lin.sse / sst
    } else {
        f64::NAN
    };
    let (ape_sum, ape_n) = revenue
        .iter()
        .zip(&lin.fitted)
        .filter(|(y, _)| **y > 0.0)
        .fold((0.0, 0usize), |(s, k), (y, f)| {
            (s + (y - f).abs() / y, k + 1)
        });
    let mape = if ape_n > 0 {
        ape_sum / ape_n as f64
    } else {
        f64::NAN
    };
    Ok(MmmFit {
        base,
        trend,
        channels,
        fitted: lin.fitted,
        r_squared,
        mape,
        n_obs: n,
    })
}

/// A budget split and the media revenue per period it brings in steady state.
#[derive(Debug, Clone, Serialize)]
pub struct Allocation {
    /// Spend per period of each channel, summing to the total.
    pub spend: Vec<f64>,
    /// `Σ_c r_c(spend_c)`: modelled media revenue per period at this split.
    pub revenue: f64,
    /// `Σ_c r_c(current_c)`: the same at the current split.
    pub current_revenue: f64,
}

/// Steady-state response of one channel to spend per period.
struct Response {
    beta: f64,
    k: f64,
    s: f64,
    /// `1/(1 − θ)`: adstock per unit of steady spend.
    gain: f64,
}

impl Response {
    fn of(ch: &ChannelFit) -> Response {
        Response {
            beta: ch.coefficient,
            k: ch.half_saturation,
            s: ch.shape,
            gain: 1.0 / (1.0 - ch.decay),
        }
    }
    fn value(&self, x: f64) -> f64 {
        self.beta * hill(x * self.gain, self.k, self.s)
    }
    fn derivative(&self, x: f64) -> f64 {
        if self.beta == 0.0 {
            return 0.0;
        }
        self.beta * self.gain * hill_derivative(x * self.gain, self.k, self.s)
    }
    /// Spend beyond which the marginal return decreases (the inflection of the S-curve;
    /// 0 for concave curves).
    fn inflection(&self) -> f64 {
        if self.s <= 1.0 {
            0.0
        } else {
            self.k * ((self.s - 1.0) / (self.s + 1.0)).powf(1.0 / self.s) / self.gain
        }
    }
    /// The spend in `[lo, hi]` maximising `r(x) − λ x`: `lo`, `hi`, or the point of the
    /// decreasing branch where `r'(x) = λ` (on the increasing branch `r − λx` is convex, so
    /// its maximum there is at an end).
    fn best_response(&self, lambda: f64, lo: f64, hi: f64) -> f64 {
        let gain = |x: f64| self.value(x) - lambda * x;
        let from = self.inflection().clamp(lo, hi);
        let mut cands = vec![lo, hi];
        if self.derivative(from) <= lambda {
            cands.push(from);
        } else if self.derivative(hi) >= lambda {
            cands.push(hi);
        } else {
            // r' decreases on [from, hi] from above λ to below it: bisect.
            let (mut a, mut b) = (from, hi);
            for _ in 0..200 {
                let m = 0.5 * (a + b);
                if self.derivative(m) > lambda {
                    a = m;
                } else {
                    b = m;
                }
                if b - a <= 1e-15 * b.abs() {
                    break;
                }
            }
            cands.push(0.5 * (a + b));
        }
        cands
            .into_iter()
            .max_by(|a, b| gain(*a).total_cmp(&gain(*b)))
            .unwrap_or(lo)
    }
}

/// The split of `total` spend per period over the channels that maximises the steady-state
/// media revenue of the fit (see the module's definitions), with optional bounds
/// `(min_share, max_share)` on each channel as shares of its current spend (`(0.5, 2.0)`
/// allows −50 % to +100 %).
///
/// Errors: `current_spend` not one per channel, negative or non-finite amounts, bounds not
/// `0 ≤ min ≤ max`, or a total outside what the bounds allow (`BadParameter`).
pub fn optimise_budget(
    fit: &MmmFit,
    current_spend: &[f64],
    total: f64,
    bounds: Option<(f64, f64)>,
) -> Result<Allocation, ModelError> {
    let nc = fit.channels.len();
    if nc == 0 {
        return Err(ModelError::BadParameter("the fit has no channels".into()));
    }
    if current_spend.len() != nc {
        return Err(ModelError::BadParameter(format!(
            "{} current spends for {nc} channels",
            current_spend.len()
        )));
    }
    if let Some(c) = current_spend
        .iter()
        .position(|v| !v.is_finite() || *v < 0.0)
    {
        return Err(ModelError::BadParameter(format!(
            "current spend of channel {c} is {}: it must be finite and non-negative",
            current_spend[c]
        )));
    }
    if !total.is_finite() || total < 0.0 {
        return Err(ModelError::BadParameter(format!(
            "total {total}: it must be finite and non-negative"
        )));
    }
    let (lo, hi): (Vec<f64>, Vec<f64>) = match bounds {
        None => (vec![0.0; nc], vec![total; nc]),
        Some((a, b)) => {
            if !(a.is_finite() && b.is_finite() && 0.0 <= a && a <= b) {
                return Err(ModelError::BadParameter(format!(
                    "bounds ({a}, {b}): they must satisfy 0 <= min_share <= max_share"
                )));
            }
            (
                current_spend.iter().map(|v| v * a).collect(),
                current_spend.iter().map(|v| v * b).collect(),
            )
        }
    };
    let (sum_lo, sum_hi) = (lo.iter().sum::<f64>(), hi.iter().sum::<f64>());
    let slack = 1e-12 * total.max(1.0);
    if total < sum_lo - slack || total > sum_hi + slack {
        return Err(ModelError::BadParameter(format!(
            "total {total} is outside what the bounds allow: [{sum_lo}, {sum_hi}]"
        )));
    }
    let resp: Vec<Response> = fit.channels.iter().map(Response::of).collect();
    let current_revenue: f64 = resp
        .iter()
        .zip(current_spend)
        .map(|(r, &x)| r.value(x))
        .sum();
    let split = |lambda: f64| -> Vec<f64> {
        (0..nc)
            .map(|c| resp[c].best_response(lambda, lo[c], hi[c]))
            .collect()
    };
    let spent = |x: &[f64]| x.iter().sum::<f64>();

    // Spend falls as λ rises; bracket λ so that split(λ_lo) spends at least the total and
    // split(λ_hi) at most, then bisect (in log space: λ spans orders of magnitude).
    let mut lam_hi = 1.0;
    for _ in 0..200 {
        if spent(&split(lam_hi)) <= total {
            break;
        }
        lam_hi *= 4.0;
    }
    let mut lam_lo = lam_hi;
    for _ in 0..400 {
        if spent(&split(lam_lo)) >= total {
            break;
        }
        lam_lo /= 4.0;
    }
    if spent(&split(lam_lo)) < total {
        // Even a vanishing price leaves money unspent (every curve flat): anything at the
        // bounds will do.
        lam_lo = 0.0;
    }
    for _ in 0..200 {
        let mid = if lam_lo > 0.0 {
            (lam_lo * lam_hi).sqrt()
        } else {
            0.5 * lam_hi
        };
        if spent(&split(mid)) >= total {
            lam_lo = mid;
        } else {
            lam_hi = mid;
        }
        if lam_hi - lam_lo <= 1e-15 * lam_hi {
            break;
        }
    }
    // split(λ_hi) spends at most the total; the remainder (rounding, or a jump of an
    // S-shaped channel) goes to the channels with the highest marginal return that have room.
    let mut x = split(lam_hi);
    let mut left = total - spent(&x);
    let mut order: Vec<usize> = (0..nc).collect();
    order.sort_by(|&a, &b| {
        resp[b]
            .derivative(x[b])
            .total_cmp(&resp[a].derivative(x[a]))
    });
    for c in order {
        if left <= 0.0 {
            break;
        }
        let add = (hi[c] - x[c]).min(left).max(0.0);
        x[c] += add;
        left -= add;
    }
    let revenue = resp.iter().zip(&x).map(|(r, &v)| r.value(v)).sum();
    Ok(Allocation {
        spend: x,
        revenue,
        current_revenue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_penalty_is_minus_the_log_density_by_hand() {
        // Channel 0 at the priors' centre costs nothing; channel 1 by hand.
        let u: Vec<f64> = pack(0.4, 1.0, 1.0)
            .into_iter()
            .chain(pack(0.7, 2.0, 0.5))
            .collect();
        let want = ((0.7f64 - 0.4) / 0.3).powi(2) / 2.0
            + (2f64.ln() / 0.5).powi(2) / 2.0
            + (0.5f64.ln() / 0.5).powi(2) / 2.0;
        assert!(
            (prior_penalty(&u) - want).abs() < 1e-12,
            "{}",
            prior_penalty(&u)
        );
        assert!(prior_penalty(&u[..3]).abs() < 1e-12);
    }
    use rand_distr::{Distribution, Gamma, Normal};

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn adstock_by_hand() {
        let a = adstock(&[1.0, 0.0, 2.0, 0.0], 0.5);
        let want = [1.0, 0.5, 2.25, 1.125];
        for (x, w) in a.iter().zip(want) {
            assert!((x - w).abs() < 1e-12, "{a:?}");
        }
        assert!(adstock(&[], 0.3).is_empty());
        // No decay: the adstock is the spend itself.
        assert_eq!(adstock(&[3.0, 1.0], 0.0), vec![3.0, 1.0]);
    }

    #[test]
    fn hill_by_hand() {
        assert!((hill(2.0, 2.0, 3.0) - 0.5).abs() < 1e-12);
        assert!((hill(1.0, 2.0, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((hill(3.0, 1.0, 2.0) - 0.9).abs() < 1e-12);
        assert!((hill(0.5, 1.0, 0.5) - 0.5_f64.sqrt() / (0.5_f64.sqrt() + 1.0)).abs() < 1e-12);
        assert_eq!(hill(0.0, 1.0, 2.0), 0.0);
        // The derivative against a central difference.
        for &(x, k, s) in &[(0.7, 1.3, 2.2), (2.0, 0.5, 0.7), (1.0, 1.0, 1.0)] {
            let h = 1e-6;
            let fd = (hill(x + h, k, s) - hill(x - h, k, s)) / (2.0 * h);
            assert!((hill_derivative(x, k, s) - fd).abs() < 1e-8, "{x} {k} {s}");
        }
    }

    fn floats(field: &str) -> Vec<f64> {
        field
            .split(';')
            .map(|v| v.parse::<f64>().expect("float in fixture"))
            .collect()
    }

    #[test]
    fn nnls_matches_scipy() {
        let text = include_str!("../tests/data/mmm/nnls.csv");
        let mut cases = 0;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (m, p): (usize, usize) = (f[2].parse().unwrap(), f[3].parse().unwrap());
            let free: Vec<bool> = f[4].split(';').map(|v| v == "1").collect();
            let a = floats(f[5]);
            let b = floats(f[6]);
            let want = floats(f[7]);
            let cols: Vec<Vec<f64>> = (0..p).map(|j| a[j * m..(j + 1) * m].to_vec()).collect();
            let got = nnls(&cols, &b, &free).unwrap();
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-8 * w.abs().max(1.0),
                    "case {} ({}), coefficient {j}: {g} vs scipy {w}",
                    f[0],
                    f[1]
                );
            }
            cases += 1;
        }
        assert_eq!(cases, 7);
    }

    #[test]
    fn nnls_small_by_hand() {
        // y = 2·c0 − 1·c1 exactly: the constrained c1 hits zero, and then c0 alone is the
        // projection: b0 = <c0, y>/<c0, c0>.
        let c0 = vec![1.0, 0.0, 1.0];
        let c1 = vec![0.0, 1.0, 1.0];
        let y = vec![2.0, -1.0, 1.0];
        let b = nnls(&[c0.clone(), c1.clone()], &y, &[false, false]).unwrap();
        assert!((b[0] - 1.5).abs() < 1e-12 && b[1] == 0.0, "{b:?}");
        // With c1 free the exact solution is recovered.
        let b = nnls(&[c0, c1], &y, &[false, true]).unwrap();
        assert!(
            (b[0] - 2.0).abs() < 1e-12 && (b[1] + 1.0).abs() < 1e-12,
            "{b:?}"
        );
    }

    /// Weekly data like the scipy fixture: TV flights, search on most weeks, social pulses.
    struct Sim {
        revenue: Vec<f64>,
        spend: Vec<Vec<f64>>,
        contribution: Vec<f64>,
        decay: Vec<f64>,
    }

    fn simulate(seed: u64) -> Sim {
        let n = 156;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let g_tv = Gamma::new(4.0, 250.0).unwrap();
        let g_search = Gamma::new(3.0, 120.0).unwrap();
        let g_social = Gamma::new(2.0, 300.0).unwrap();
        let tv: Vec<f64> = (0..n)
            .map(|_| {
                if rng.random::<f64>() < 0.45 {
                    g_tv.sample(&mut rng)
                } else {
                    0.0
                }
            })
            .collect();
        let search: Vec<f64> = (0..n)
            .map(|_| {
                if rng.random::<f64>() < 0.7 {
                    g_search.sample(&mut rng)
                } else {
                    20.0
                }
            })
            .collect();
        let social: Vec<f64> = (0..n)
            .map(|_| {
                if rng.random::<f64>() < 0.35 {
                    g_social.sample(&mut rng)
                } else {
                    0.0
                }
            })
            .collect();
        let spend = vec![tv, search, social];
        let decay = vec![0.2, 0.5, 0.7];
        let kappa = [0.8, 1.0, 1.2];
        let shape = [1.0, 2.0, 1.5];
        let beta = [2500.0, 2500.0, 3000.0];
        let mut mean_part: Vec<f64> = (0..n)
            .map(|t| {
                let w = 2.0 * std::f64::consts::PI * t as f64 / 52.0;
                2000.0 + 8.0 * t as f64 + 400.0 * w.sin() + 150.0 * (2.0 * w).cos()
            })
            .collect();
        let mut contribution = Vec::new();
        for c in 0..3 {
            let a = adstock(&spend[c], decay[c]);
            let k = kappa[c] * a.iter().sum::<f64>() / n as f64;
            let mut total = 0.0;
            for (m, &v) in mean_part.iter_mut().zip(&a) {
                let r = beta[c] * hill(v, k, shape[c]);
                *m += r;
                total += r;
            }
            contribution.push(total);
        }
        let mean = mean_part.iter().sum::<f64>() / n as f64;
        let noise = Normal::new(0.0, 0.05 * mean).unwrap();
        let revenue = mean_part
            .iter()
            .map(|m| m + noise.sample(&mut rng))
            .collect();
        Sim {
            revenue,
            spend,
            contribution,
            decay,
        }
    }

    #[test]
    fn recovers_simulated_channels() {
        let seeds: Vec<u64> = std::env::var("MMM_SEEDS")
            .ok()
            .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_else(|| vec![11, 13, 14]);
        let mut failures = Vec::new();
        for &seed in &seeds {
            let sim = simulate(seed);
            let opts = Options {
                bootstrap: 60,
                seed,
                ..Options::default()
            };
            let fit = fit(&sim.revenue, &sim.spend, &opts).unwrap();
            let mut covered = 0;
            for (c, ch) in fit.channels.iter().enumerate() {
                let truth = sim.contribution[c];
                eprintln!(
                    "seed {seed} channel {c}: contribution {:.0} (true {truth:.0}, error {:+.3}), \
                     90% [{:.0}, {:.0}], decay {:.3} (true {})",
                    ch.contribution,
                    ch.contribution / truth - 1.0,
                    ch.contribution_lower,
                    ch.contribution_upper,
                    ch.decay,
                    sim.decay[c]
                );
                if (ch.contribution - truth).abs() > 0.15 * truth {
                    failures.push(format!(
                        "seed {seed} channel {c}: contribution off by > 15 %"
                    ));
                }
                if (ch.decay - sim.decay[c]).abs() > 0.15 {
                    failures.push(format!("seed {seed} channel {c}: decay off by > 0.15"));
                }
                if ch.contribution_lower <= truth && truth <= ch.contribution_upper {
                    covered += 1;
                }
                assert!(ch.contribution_lower <= ch.contribution_upper);
                assert!(ch.roi_lower <= ch.roi_upper);
            }
            if covered < 2 {
                failures.push(format!(
                    "seed {seed}: {covered} of 3 intervals cover the truth"
                ));
            }
            // ROI ranking, for the pairs whose true ROIs differ by more than the 15 % the
            // contributions are allowed (a near tie has no recoverable order).
            for i in 0..3 {
                for j in 0..3 {
                    let (ti, tj) = (
                        sim.contribution[i] / sim.spend[i].iter().sum::<f64>(),
                        sim.contribution[j] / sim.spend[j].iter().sum::<f64>(),
                    );
                    let (fi, fj) = (fit.channels[i].roi, fit.channels[j].roi);
                    if ti > 1.15 * tj && fi <= fj {
                        failures.push(format!("seed {seed}: ROI of {i} vs {j}: {fi} <= {fj}"));
                    }
                }
            }
            assert!(
                fit.r_squared > 0.8 && fit.mape < 0.1,
                "{} {}",
                fit.r_squared,
                fit.mape
            );
            assert!((fit.trend - 8.0).abs() < 4.0, "trend {}", fit.trend);
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn sse_no_worse_than_scipy() {
        let data = include_str!("../tests/data/mmm/mmm_data.csv");
        let mut revenue = Vec::new();
        let mut spend = vec![Vec::new(); 3];
        for line in data.lines().skip(1) {
            let f: Vec<f64> = line.split(',').map(|v| v.parse().unwrap()).collect();
            revenue.push(f[1]);
            for c in 0..3 {
                spend[c].push(f[2 + c]);
            }
        }
        let reference = include_str!("../tests/data/mmm/mmm_scipy.csv");
        let get = |name: &str| -> f64 {
            reference
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name},")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing from the fixture"))
        };
        let opts = Options {
            bootstrap: 0,
            ..Options::default()
        };
        let fit = fit(&revenue, &spend, &opts).unwrap();
        let sse: f64 = revenue
            .iter()
            .zip(&fit.fitted)
            .map(|(y, f)| (y - f) * (y - f))
            .sum();
        let best = get("best_sse");
        eprintln!("SSE {sse} vs scipy's best {best} (ratio {})", sse / best);
        assert!(sse <= best * 1.001, "SSE {sse} vs scipy's best {best}");
        for c in 0..3 {
            let truth = get(&format!("true_contribution{c}"));
            let ch = &fit.channels[c];
            assert!(
                (ch.contribution - truth).abs() <= 0.15 * truth,
                "channel {c}"
            );
            assert!(ch.contribution_lower.is_nan(), "no bootstrap, no interval");
        }
    }

    #[test]
    fn marginal_roi_is_a_finite_difference() {
        let sim = simulate(5);
        let opts = Options {
            bootstrap: 0,
            ..Options::default()
        };
        let f = fit(&sim.revenue, &sim.spend, &opts).unwrap();
        for (c, ch) in f.channels.iter().enumerate() {
            let at = |scale: f64| -> f64 {
                let x: Vec<f64> = sim.spend[c].iter().map(|v| v * scale).collect();
                adstock(&x, ch.decay)
                    .iter()
                    .map(|&a| ch.coefficient * hill(a, ch.half_saturation, ch.shape))
                    .sum()
            };
            assert!(close(at(1.0), ch.contribution, 1e-9));
            let want = (at(1.01) - at(1.0)) / (0.01 * ch.spend);
            assert!(close(ch.marginal_roi, want, 1e-9), "channel {c}");
            assert!(close(ch.roi, ch.contribution / ch.spend, 1e-12));
        }
    }

    #[test]
    fn bootstrap_is_deterministic() {
        let sim = simulate(21);
        let opts = Options {
            bootstrap: 8,
            seed: 3,
            ..Options::default()
        };
        let a = fit(&sim.revenue, &sim.spend, &opts).unwrap();
        let b = fit(&sim.revenue, &sim.spend, &opts).unwrap();
        for (x, y) in a.channels.iter().zip(&b.channels) {
            assert_eq!(x.contribution_lower, y.contribution_lower);
            assert_eq!(x.roi_upper, y.roi_upper);
        }
    }

    #[test]
    fn rejects_bad_input_naming_the_culprit() {
        let sim = simulate(1);
        let opts = Options {
            bootstrap: 0,
            ..Options::default()
        };
        let msg = |r: Result<MmmFit, ModelError>| match r {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted bad input"),
        };
        let mut s = sim.spend.clone();
        s[1].pop();
        assert!(msg(fit(&sim.revenue, &s, &opts)).contains("channel 1"));
        let mut s = sim.spend.clone();
        s[2][7] = -1.0;
        let m = msg(fit(&sim.revenue, &s, &opts));
        assert!(m.contains("channel 2") && m.contains("period 7"), "{m}");
        let mut s = sim.spend.clone();
        s[0] = vec![0.0; 156];
        assert!(msg(fit(&sim.revenue, &s, &opts)).contains("channel 0"));
        let mut r = sim.revenue.clone();
        r[3] = f64::NAN;
        assert!(msg(fit(&r, &sim.spend, &opts)).contains("period 3"));
        // 3 channels, trend, 2 harmonics: 18 parameters, so 54 periods are needed.
        let short: Vec<Vec<f64>> = sim.spend.iter().map(|s| s[..53].to_vec()).collect();
        assert!(matches!(
            fit(&sim.revenue[..53], &short, &opts),
            Err(ModelError::InsufficientData(_))
        ));
        assert!(matches!(
            fit(&sim.revenue, &[], &opts),
            Err(ModelError::BadParameter(_))
        ));
    }

    #[test]
    fn spend_correlation_by_hand() {
        let s = vec![
            vec![1.0, 2.0, 3.0, 4.0],
            vec![2.0, 4.0, 6.0, 8.0],
            vec![4.0, 3.0, 2.0, 1.0],
            vec![5.0, 5.0, 5.0, 5.0],
        ];
        let r = spend_correlation(&s);
        assert!((r[0][1] - 1.0).abs() < 1e-12);
        assert!((r[0][2] + 1.0).abs() < 1e-12);
        assert_eq!(r[1][1], 1.0);
        assert!(r[3][3].is_nan() && r[0][3].is_nan());
        let r = spend_correlation(&[vec![1.0, 3.0, 2.0], vec![1.0, 2.0, 4.0]]);
        // Centred: (-1, 1, 0) and (-4/3, -1/3, 5/3): r = 1 / sqrt(2 · 42/9).
        assert!((r[0][1] - 1.0 / (2.0 * 42.0 / 9.0_f64).sqrt()).abs() < 1e-12);
    }

    fn hand_fit(channels: &[(f64, f64, f64, f64)]) -> MmmFit {
        MmmFit {
            base: 100.0,
            trend: 0.0,
            channels: channels
                .iter()
                .map(|&(decay, k, s, beta)| ChannelFit {
                    decay,
                    half_saturation: k,
                    shape: s,
                    coefficient: beta,
                    contribution: f64::NAN,
                    spend: f64::NAN,
                    roi: f64::NAN,
                    marginal_roi: f64::NAN,
                    contribution_lower: f64::NAN,
                    contribution_upper: f64::NAN,
                    roi_lower: f64::NAN,
                    roi_upper: f64::NAN,
                })
                .collect(),
            fitted: vec![],
            r_squared: f64::NAN,
            mape: f64::NAN,
            n_obs: 0,
        }
    }

    fn marginal(fit: &MmmFit, c: usize, x: f64) -> f64 {
        let ch = &fit.channels[c];
        let g = 1.0 / (1.0 - ch.decay);
        ch.coefficient * g * hill_derivative(x * g, ch.half_saturation, ch.shape)
    }

    #[test]
    fn budget_equalises_marginal_returns() {
        // Channel 0 concave (S = 1), channel 1 S-shaped but spent past its inflection.
        let f = hand_fit(&[(0.3, 400.0, 1.0, 1000.0), (0.6, 800.0, 2.0, 1500.0)]);
        let current = [600.0, 200.0];
        let total = 800.0;
        let a = optimise_budget(&f, &current, total, None).unwrap();
        assert!((a.spend.iter().sum::<f64>() - total).abs() < 1e-9);
        let m0 = marginal(&f, 0, a.spend[0]);
        let m1 = marginal(&f, 1, a.spend[1]);
        assert!(
            a.spend.iter().all(|&x| x > 0.0 && x < total),
            "{:?}",
            a.spend
        );
        assert!(
            (m0 - m1).abs() <= 1e-6 * m0.abs(),
            "marginal returns {m0} vs {m1}"
        );
        assert!(
            a.revenue > a.current_revenue,
            "{} vs {}",
            a.revenue,
            a.current_revenue
        );
        // Revenue by hand at the current split.
        let r = 1000.0 * hill(600.0 / 0.7, 400.0, 1.0) + 1500.0 * hill(200.0 / 0.4, 800.0, 2.0);
        assert!((a.current_revenue - r).abs() < 1e-9);
        // No nearby split does better (a local check of optimality).
        for d in [-5.0, -0.5, 0.5, 5.0] {
            let x0 = a.spend[0] + d;
            let other =
                1000.0 * hill(x0 / 0.7, 400.0, 1.0) + 1500.0 * hill((total - x0) / 0.4, 800.0, 2.0);
            assert!(other <= a.revenue + 1e-9);
        }
    }

    #[test]
    fn budget_respects_bounds() {
        // Channel 1 is far more efficient: unbounded, it would take almost everything.
        let f = hand_fit(&[
            (0.2, 500.0, 1.0, 200.0),
            (0.5, 300.0, 0.8, 3000.0),
            (0.4, 200.0, 1.2, 800.0),
        ]);
        let current = [500.0, 300.0, 200.0];
        let total = 1000.0;
        let a = optimise_budget(&f, &current, total, Some((0.5, 2.0))).unwrap();
        assert!((a.spend.iter().sum::<f64>() - total).abs() < 1e-9);
        let mut lambda = f64::NAN;
        for (c, &cur) in current.iter().enumerate() {
            let (lo, hi) = (0.5 * cur, 2.0 * cur);
            assert!(
                a.spend[c] >= lo - 1e-9 && a.spend[c] <= hi + 1e-9,
                "{:?}",
                a.spend
            );
            if a.spend[c] > lo + 1e-6 && a.spend[c] < hi - 1e-6 {
                lambda = marginal(&f, c, a.spend[c]);
            }
        }
        assert!(lambda.is_finite(), "one channel is interior: {:?}", a.spend);
        // KKT: at the lower bound the marginal return is at most λ, at the upper at least λ,
        // inside it equals λ.
        for (c, &cur) in current.iter().enumerate() {
            let (lo, hi) = (0.5 * cur, 2.0 * cur);
            let m = marginal(&f, c, a.spend[c]);
            if a.spend[c] <= lo + 1e-6 {
                assert!(m <= lambda * (1.0 + 1e-6), "channel {c}");
            } else if a.spend[c] >= hi - 1e-6 {
                assert!(m >= lambda * (1.0 - 1e-6), "channel {c}");
            } else {
                assert!(
                    (m - lambda).abs() <= 1e-6 * lambda,
                    "channel {c}: {m} vs {lambda}"
                );
            }
        }
        assert!(a.revenue >= a.current_revenue);
        // A total the bounds cannot reach is refused.
        assert!(optimise_budget(&f, &current, 2500.0, Some((0.5, 2.0))).is_err());
        assert!(optimise_budget(&f, &current, 400.0, Some((0.5, 2.0))).is_err());
        assert!(optimise_budget(&f, &current[..2], 1000.0, None).is_err());
    }
}
