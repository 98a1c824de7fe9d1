//! Forecasts of a regular series: exponential smoothing (ETS) in the taxonomy of Hyndman et
//! al., with seasonal naive and drift as baselines, automatic model choice by AICc and a
//! rolling-origin backtest.
//!
//! # Models
//!
//! An ETS model is named `ETS(error, trend, season)`:
//! - error `A` (additive, `yₜ = μₜ + εₜ`) or `M` (multiplicative, `yₜ = μₜ(1 + εₜ)`), with
//!   `εₜ` independent normal with variance σ²;
//! - trend `N` (none), `A` (additive: `ℓ + hb` after h steps) or `Ad` (additive damped:
//!   `ℓ + (φ + φ² + … + φʰ)b`, 0.8 ≤ φ ≤ 0.98);
//! - season `N`, `A` (added) or `M` (multiplied), of length m.
//!
//! The states are updated by the equations of Hyndman, Koehler, Ord & Snyder (2008, Table
//! 2.3), with smoothing parameters α (level), β (trend) and γ (season) constrained as R's
//! `ets` does by default: 10⁻⁴ ≤ α ≤ 0.9999, 10⁻⁴ ≤ β ≤ α, 10⁻⁴ ≤ γ ≤ 1 − α, and inside the
//! forecastable region (every root of the characteristic polynomial in the unit circle).
//!
//! # Fit and choice
//!
//! - **Maximum likelihood**: the smoothing parameters and the initial states (level, trend and
//!   the first m − 1 seasonal terms; the last makes them sum to 0 or m) minimise
//!   `n·ln(Σεₜ²) + 2·Σln|μₜ|` (the second term for multiplicative errors), which is −2 log L
//!   with σ² profiled out, up to a constant common to all models of a series. Reported as
//!   `loglik` = −½ of it, as R's `forecast` and statsforecast do.
//! - **Information criteria** with k = estimated parameters + 1 (σ): AIC = −2 log L + 2k,
//!   BIC = −2 log L + k·ln n, AICc = AIC + 2k(k + 1)/(n − k − 1).
//! - σ² = Σεₜ²/(n − k − 1) (statsforecast's estimate).
//! - [`auto_ets`] fits every admissible model — additive error with a multiplicative season is
//!   left out (numerically unstable, as R's `restrict`), as are multiplicative error and season
//!   for series with a value ≤ 0, seasonal models when m < 2, m > 24 or n ≤ m, and models with
//!   n ≤ parameters + 4 — and keeps the lowest AICc.
//!
//! # Prediction intervals
//!
//! - additive-error models without multiplicative season (class 1): the analytic variances of
//!   Hyndman et al. (2008, Table 6.1), normal quantiles;
//! - multiplicative error without multiplicative season (class 2): the exact recursion
//!   `θ₁ = μ₁²`, `θₕ = μₕ² + σ² Σⱼ cⱼ² θₕ₋ⱼ`, variance `(1 + σ²)θₕ − μₕ²` (ch. 6.3);
//! - multiplicative season (class 3): 5,000 simulated sample paths from the fitted model
//!   (a fixed seed, so the same data give the same bands), empirical quantiles.
//!
//! Seasonal naive forecasts `yₙ₋ₘ₊₁₊₍ₕ₋₁₎ ₘₒ𝒹 ₘ` with σₕ = σ̂√(⌊(h − 1)/m⌋ + 1), σ̂² the mean
//! squared seasonal difference; drift forecasts `yₙ + h(yₙ − y₁)/(n − 1)` with
//! σₕ = σ̂√(h(1 + h/(n − 1))), σ̂² the residual variance of the differences (n − 2 degrees of
//! freedom) — Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, §5.5.
//!
//! # Backtest
//!
//! [`backtest`] fits on the first three quarters of the series (at least all but one
//! observation for baselines), keeps the parameters, and forecasts 1..h steps ahead from every
//! later origin, rolling the state forward with each actual. Over all (origin, step) points:
//! MAPE = mean |y − ŷ|/|y| over y ≠ 0; sMAPE = mean 2|y − ŷ|/(|y| + |ŷ|) over points where the
//! denominator is not 0; MASE = mean |y − ŷ| divided by the in-sample mean absolute seasonal
//! difference of the training part (lag m, or 1 without a season); coverage = the share of
//! actuals inside the 95 % interval. Shares are fractions (0.05 = 5 %); an undefined measure
//! (all actuals 0 for MAPE, a constant training part for MASE) is NaN.

mod ets;
mod neldermead;
#[cfg(test)]
mod tests;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::ModelError;
pub use ets::MAX_SEASON;
use ets::{Smoothing, StateVec};

/// How errors enter the observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorKind {
    /// `y = μ + ε`.
    Additive,
    /// `y = μ(1 + ε)`.
    Multiplicative,
}

/// The trend component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TrendKind {
    /// No trend.
    None,
    /// A linear trend.
    Additive,
    /// A linear trend damped by φ.
    AdditiveDamped,
}

/// The seasonal component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SeasonKind {
    /// No season.
    None,
    /// Seasonal terms added to the level.
    Additive,
    /// Seasonal factors multiplying the level.
    Multiplicative,
}

/// One ETS model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct EtsSpec {
    /// Error type.
    pub error: ErrorKind,
    /// Trend type.
    pub trend: TrendKind,
    /// Season type.
    pub season: SeasonKind,
}

impl EtsSpec {
    /// The usual name, e.g. `ETS(M,Ad,M)`.
    pub fn name(&self) -> String {
        let e = match self.error {
            ErrorKind::Additive => "A",
            ErrorKind::Multiplicative => "M",
        };
        let t = match self.trend {
            TrendKind::None => "N",
            TrendKind::Additive => "A",
            TrendKind::AdditiveDamped => "Ad",
        };
        let s = match self.season {
            SeasonKind::None => "N",
            SeasonKind::Additive => "A",
            SeasonKind::Multiplicative => "M",
        };
        format!("ETS({e},{t},{s})")
    }

    fn seasonal(&self) -> bool {
        self.season != SeasonKind::None
    }

    /// Smoothing parameters plus initial states, σ excluded, as R counts for its minimum.
    fn base_params(&self) -> usize {
        2 + 2 * usize::from(self.trend != TrendKind::None)
            + 2 * usize::from(self.seasonal())
            + usize::from(self.trend == TrendKind::AdditiveDamped)
    }
}

impl std::str::FromStr for EtsSpec {
    type Err = ModelError;

    /// `ETS(A,Ad,M)` as R prints it, or the compact `AAdM`, in either case.
    fn from_str(text: &str) -> Result<EtsSpec, ModelError> {
        let t = text.trim();
        let bad = || {
            ModelError::BadParameter(format!(
                "'{t}' is not an ETS model such as ETS(A,Ad,M) or AAdM (error A or M; trend N, \
                 A or Ad; season N, A or M)"
            ))
        };
        let inner = t
            .strip_prefix("ETS(")
            .or_else(|| t.strip_prefix("ets("))
            .and_then(|r| r.strip_suffix(')'))
            .map(|r| r.replace([',', ' '], ""))
            .unwrap_or_else(|| t.to_string())
            .to_ascii_uppercase();
        let (error, rest) = match inner.split_at_checked(1) {
            Some(("A", r)) => (ErrorKind::Additive, r),
            Some(("M", r)) => (ErrorKind::Multiplicative, r),
            _ => return Err(bad()),
        };
        let (trend, rest) = if let Some(r) = rest.strip_prefix("AD") {
            (TrendKind::AdditiveDamped, r)
        } else if let Some(r) = rest.strip_prefix('A') {
            (TrendKind::Additive, r)
        } else if let Some(r) = rest.strip_prefix('N') {
            (TrendKind::None, r)
        } else {
            return Err(bad());
        };
        let season = match rest {
            "N" => SeasonKind::None,
            "A" => SeasonKind::Additive,
            "M" => SeasonKind::Multiplicative,
            _ => return Err(bad()),
        };
        Ok(EtsSpec {
            error,
            trend,
            season,
        })
    }
}

/// A forecasting method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Method {
    /// An ETS model.
    Ets(EtsSpec),
    /// The value of the same period one season earlier (the last value without a season).
    SeasonalNaive,
    /// The last value plus the mean change so far.
    Drift,
}

impl Method {
    /// `ETS(A,N,N)`, `seasonal naive` or `drift`.
    pub fn name(&self) -> String {
        match self {
            Method::Ets(s) => s.name(),
            Method::SeasonalNaive => "seasonal naive".into(),
            Method::Drift => "drift".into(),
        }
    }
}

/// What a fit keeps to forecast.
#[derive(Debug, Clone)]
enum Engine {
    Ets {
        spec: EtsSpec,
        smoothing: Smoothing,
        m: usize,
        /// Boxed: a state holds room for 24 seasons, the other variants a few numbers.
        last: Box<StateVec>,
    },
    SeasonalNaive {
        /// The last m values.
        tail: Vec<f64>,
    },
    Drift {
        last: f64,
        slope: f64,
        n: usize,
    },
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The method.
    pub method: Method,
    /// Season length used (1 for models without a season).
    pub season: usize,
    /// Estimates by name: `alpha`, `beta`, `gamma`, `phi`, `initial_level`, `initial_trend`,
    /// `initial_season_k` (k-th period of the first cycle); `slope` for drift.
    pub params: Vec<(String, f64)>,
    /// Log-likelihood up to a constant (see the module docs); NaN for baselines.
    pub loglik: f64,
    /// AIC; NaN for baselines.
    pub aic: f64,
    /// AICc (infinite when n ≤ k + 1); NaN for baselines.
    pub aicc: f64,
    /// BIC; NaN for baselines.
    pub bic: f64,
    /// Error variance (of εₜ: relative errors for multiplicative models).
    pub sigma2: f64,
    /// Observations fitted.
    pub n_obs: usize,
    /// One-step in-sample forecasts, one per observation (NaN where a baseline has none).
    pub fitted: Vec<f64>,
    engine: Engine,
}

/// A prediction interval per forecast step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// Coverage, e.g. 0.95.
    pub level: f64,
    /// Lower bounds, one per step.
    pub lower: Vec<f64>,
    /// Upper bounds, one per step.
    pub upper: Vec<f64>,
}

/// Point forecasts and intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// Point forecasts, steps 1..=h.
    pub mean: Vec<f64>,
    /// One interval per level asked for, in that order.
    pub intervals: Vec<Interval>,
}

/// One model [`auto_ets`] tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The model.
    pub spec: EtsSpec,
    /// Its AICc (infinite when it could not be fitted).
    pub aicc: f64,
}

/// The model [`auto_ets`] chose and what it compared.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The lowest-AICc model.
    pub best: Fitted,
    /// Every model tried.
    pub candidates: Vec<Candidate>,
    /// Why some kinds of model were not tried (a season too long, values ≤ 0…).
    pub notes: Vec<String>,
}

/// Backtest accuracy (definitions in the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accuracy {
    /// Mean absolute percentage error, a fraction.
    pub mape: f64,
    /// Symmetric MAPE, a fraction between 0 and 2.
    pub smape: f64,
    /// Mean absolute scaled error.
    pub mase: f64,
    /// Share of actuals inside the 95 % interval.
    pub coverage_95: f64,
    /// (origin, step) points scored.
    pub points: usize,
}

/// Simulated paths for class-3 intervals.
const SIMULATIONS: usize = 5_000;
/// Fewer paths per origin in a backtest, where only the 95 % band is scored.
const BACKTEST_SIMULATIONS: usize = 1_000;

fn check_series(y: &[f64]) -> Result<(), ModelError> {
    if y.len() < 2 {
        return Err(ModelError::InsufficientData(format!(
            "{} observations: a forecast needs at least 2",
            y.len()
        )));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(ModelError::BadParameter(format!(
            "observation {} is {}: a series must be finite numbers",
            i + 1,
            y[i]
        )));
    }
    Ok(())
}

/// Fits `method` to `y` with season length `season` (ignored by non-seasonal models).
pub fn fit(y: &[f64], season: usize, method: &Method) -> Result<Fitted, ModelError> {
    check_series(y)?;
    match method {
        Method::Ets(spec) => fit_ets(y, season, spec),
        Method::SeasonalNaive => Ok(seasonal_naive(y, season)),
        Method::Drift => Ok(drift(y)),
    }
}

fn fit_ets(y: &[f64], season: usize, spec: &EtsSpec) -> Result<Fitted, ModelError> {
    let n = y.len();
    let positive = y.iter().all(|v| *v > 0.0);
    if !positive
        && (spec.error == ErrorKind::Multiplicative || spec.season == SeasonKind::Multiplicative)
    {
        return Err(ModelError::BadParameter(format!(
            "{} needs every value above 0: use an additive model",
            spec.name()
        )));
    }
    if spec.seasonal() {
        if season < 2 {
            return Err(ModelError::BadParameter(format!(
                "{} is seasonal: it needs a season length of at least 2, not {season}",
                spec.name()
            )));
        }
        if season > MAX_SEASON {
            return Err(ModelError::BadParameter(format!(
                "a season of {season} periods is too long for a seasonal ETS model (at most \
                 {MAX_SEASON}): use a non-seasonal model, seasonal naive, or coarser periods"
            )));
        }
        if n <= season {
            return Err(ModelError::InsufficientData(format!(
                "{n} observations: a season of {season} needs more than one full season"
            )));
        }
    }
    if n <= spec.base_params() + 4 {
        return Err(ModelError::InsufficientData(format!(
            "{n} observations: {} needs more than {}",
            spec.name(),
            spec.base_params() + 4
        )));
    }
    let m = if spec.seasonal() { season } else { 1 };
    let est = ets::fit(y, spec, m)?;
    let k = est.n_params as f64;
    let nf = n as f64;
    let lik = est.pass.lik;
    let aic = lik + 2.0 * k;
    let aicc = if nf - k - 1.0 > 0.0 {
        aic + 2.0 * k * (k + 1.0) / (nf - k - 1.0)
    } else {
        f64::INFINITY
    };
    let sse: f64 = est.pass.errors.iter().map(|e| e * e).sum();
    let sigma2 = sse / (nf - k - 1.0).max(1.0);
    let p = est.smoothing;
    let mut params = vec![("alpha".to_string(), p.alpha)];
    if spec.trend != TrendKind::None {
        params.push(("beta".into(), p.beta));
    }
    if spec.seasonal() {
        params.push(("gamma".into(), p.gamma));
    }
    if spec.trend == TrendKind::AdditiveDamped {
        params.push(("phi".into(), p.phi));
    }
    params.push(("initial_level".into(), est.initial.level));
    if spec.trend != TrendKind::None {
        params.push(("initial_trend".into(), est.initial.trend));
    }
    if spec.seasonal() {
        for k in 1..=m {
            params.push((format!("initial_season_{k}"), est.initial.season(m - k)));
        }
    }
    Ok(Fitted {
        method: Method::Ets(*spec),
        season: m,
        params,
        loglik: -0.5 * lik,
        aic,
        aicc,
        bic: lik + nf.ln() * k,
        sigma2,
        n_obs: n,
        fitted: est.pass.fitted,
        engine: Engine::Ets {
            spec: *spec,
            smoothing: p,
            m,
            last: Box::new(est.pass.last),
        },
    })
}

fn baseline(
    method: Method,
    season: usize,
    y: &[f64],
    fitted: Vec<f64>,
    sigma2: f64,
    params: Vec<(String, f64)>,
    engine: Engine,
) -> Fitted {
    Fitted {
        method,
        season,
        params,
        loglik: f64::NAN,
        aic: f64::NAN,
        aicc: f64::NAN,
        bic: f64::NAN,
        sigma2,
        n_obs: y.len(),
        fitted,
        engine,
    }
}

/// Seasonal naive; with a season of 1, or fewer than m + 1 values, naive (m = 1).
fn seasonal_naive(y: &[f64], season: usize) -> Fitted {
    let n = y.len();
    let m = if season >= 2 && n > season { season } else { 1 };
    let fitted: Vec<f64> = (0..n)
        .map(|t| if t >= m { y[t - m] } else { f64::NAN })
        .collect();
    let sse: f64 = (m..n).map(|t| (y[t] - y[t - m]).powi(2)).sum();
    let sigma2 = sse / (n - m) as f64;
    baseline(
        Method::SeasonalNaive,
        m,
        y,
        fitted,
        sigma2,
        vec![("season".into(), m as f64)],
        Engine::SeasonalNaive {
            tail: y[n - m..].to_vec(),
        },
    )
}

fn drift(y: &[f64]) -> Fitted {
    let n = y.len();
    let slope = (y[n - 1] - y[0]) / (n - 1) as f64;
    let fitted: Vec<f64> = (0..n)
        .map(|t| if t >= 1 { y[t - 1] + slope } else { f64::NAN })
        .collect();
    let sse: f64 = (1..n).map(|t| (y[t] - y[t - 1] - slope).powi(2)).sum();
    let sigma2 = if n > 2 { sse / (n - 2) as f64 } else { 0.0 };
    baseline(
        Method::Drift,
        1,
        y,
        fitted,
        sigma2,
        vec![("slope".into(), slope)],
        Engine::Drift {
            last: y[n - 1],
            slope,
            n,
        },
    )
}

fn check_levels(levels: &[f64]) -> Result<(), ModelError> {
    match levels
        .iter()
        .find(|l| l.is_nan() || **l <= 0.0 || **l >= 1.0)
    {
        Some(l) => Err(ModelError::BadParameter(format!(
            "interval level {l}: expected a share above 0 and below 1, such as 0.95"
        ))),
        None => Ok(()),
    }
}

impl Fitted {
    /// Forecasts `h` steps ahead with intervals at each of `levels` (shares, e.g. 0.95).
    pub fn forecast(&self, h: usize, levels: &[f64]) -> Result<Forecast, ModelError> {
        if h == 0 {
            return Err(ModelError::BadParameter(
                "the horizon must be at least 1 period".into(),
            ));
        }
        check_levels(levels)?;
        Ok(forecast_from(
            &self.engine,
            self.sigma2,
            h,
            levels,
            &NormalDraws::new(SIMULATIONS),
        ))
    }
}

/// Normal-quantile bands around `mean` with per-step variances `var`.
fn normal_bands(mean: &[f64], var: &[f64], levels: &[f64]) -> Vec<Interval> {
    let normal = Normal::standard();
    levels
        .iter()
        .map(|&level| {
            let z = normal.inverse_cdf(0.5 + level / 2.0);
            let (lower, upper) = mean
                .iter()
                .zip(var)
                .map(|(m, v)| {
                    let sd = v.max(0.0).sqrt();
                    (m - z * sd, m + z * sd)
                })
                .unzip();
            Interval {
                level,
                lower,
                upper,
            }
        })
        .collect()
}

fn forecast_from(
    engine: &Engine,
    sigma2: f64,
    h: usize,
    levels: &[f64],
    draws: &NormalDraws,
) -> Forecast {
    match engine {
        Engine::SeasonalNaive { tail } => {
            let m = tail.len();
            let mean: Vec<f64> = (0..h).map(|i| tail[i % m]).collect();
            let var: Vec<f64> = (0..h).map(|i| sigma2 * ((i / m) as f64 + 1.0)).collect();
            Forecast {
                intervals: normal_bands(&mean, &var, levels),
                mean,
            }
        }
        Engine::Drift { last, slope, n } => {
            let mean: Vec<f64> = (1..=h).map(|k| last + k as f64 * slope).collect();
            let var: Vec<f64> = (1..=h)
                .map(|k| {
                    let k = k as f64;
                    sigma2 * k * (1.0 + k / (*n as f64 - 1.0))
                })
                .collect();
            Forecast {
                intervals: normal_bands(&mean, &var, levels),
                mean,
            }
        }
        Engine::Ets {
            spec,
            smoothing,
            m,
            last,
        } => {
            let mean = ets::point_forecasts(spec, last, smoothing, h);
            let intervals = match analytic_variance(spec, smoothing, *m, sigma2, &mean) {
                Some(var) => normal_bands(&mean, &var, levels),
                None => simulated_bands(spec, smoothing, last, sigma2, h, levels, draws),
            };
            Forecast { mean, intervals }
        }
    }
}

/// Forecast variances of classes 1 and 2 (Hyndman et al. 2008, ch. 6); `None` for class 3.
fn analytic_variance(
    spec: &EtsSpec,
    p: &Smoothing,
    m: usize,
    sigma2: f64,
    mean: &[f64],
) -> Option<Vec<f64>> {
    if spec.season == SeasonKind::Multiplicative {
        return None;
    }
    let (a, b, g, phi) = (p.alpha, p.beta, p.gamma, p.phi);
    let seasonal = spec.season == SeasonKind::Additive;
    let mf = m as f64;
    let h = mean.len();
    match spec.error {
        ErrorKind::Additive => Some(
            (1..=h)
                .map(|step| {
                    let hh = step as f64;
                    let k = ((step - 1) / m.max(1)) as f64;
                    let season_term = if seasonal { g * k * (2.0 * a + g) } else { 0.0 };
                    let v = match spec.trend {
                        TrendKind::None => 1.0 + a * a * (hh - 1.0) + season_term,
                        TrendKind::Additive => {
                            let e1 = a * a + a * b * hh + b * b * hh * (2.0 * hh - 1.0) / 6.0;
                            let extra = if seasonal { g * k * b * mf } else { 0.0 };
                            1.0 + (hh - 1.0) * e1 + season_term + extra
                        }
                        TrendKind::AdditiveDamped => {
                            let e2 = b * phi * hh / (1.0 - phi).powi(2);
                            let e3 = 2.0 * a * (1.0 - phi) + b * phi;
                            let e4 = b * phi * (1.0 - phi.powf(hh))
                                / ((1.0 - phi).powi(2) * (1.0 - phi * phi));
                            let e5 = 2.0 * a * (1.0 - phi * phi)
                                + b * phi * (1.0 + 2.0 * phi - phi.powf(hh));
                            let mut v = 1.0 + a * a * (hh - 1.0) + e2 * e3 - e4 * e5 + season_term;
                            if seasonal {
                                let pm = phi.powf(mf);
                                let e7 = 2.0 * b * g * phi / ((1.0 - phi) * (1.0 - pm));
                                let e8 = k * (1.0 - pm) - pm * (1.0 - phi.powf(mf * k));
                                v += e7 * e8;
                            }
                            v
                        }
                    };
                    sigma2 * v
                })
                .collect(),
        ),
        ErrorKind::Multiplicative => {
            let c: Vec<f64> = (1..=h)
                .map(|j| {
                    let trend = match spec.trend {
                        TrendKind::None => 0.0,
                        TrendKind::Additive => b * j as f64,
                        TrendKind::AdditiveDamped => {
                            b * (1..=j).map(|i| phi.powi(i as i32)).sum::<f64>()
                        }
                    };
                    let d = if seasonal && j % m == 0 { 1.0 } else { 0.0 };
                    a + trend + g * d
                })
                .collect();
            let mut theta = vec![0.0; h];
            for k in 0..h {
                let s: f64 = (0..k).map(|j| c[j] * c[j] * theta[k - 1 - j]).sum();
                theta[k] = mean[k] * mean[k] + sigma2 * s;
            }
            Some(
                theta
                    .iter()
                    .zip(mean)
                    .map(|(t, mu)| (1.0 + sigma2) * t - mu * mu)
                    .collect(),
            )
        }
    }
}

/// The standard normal draws of the simulated bands: `sims` paths, drawn from one seed path
/// after path (so the same model gives the same bands), drawn once and kept, since a backtest
/// simulates from every origin with the same draws.
struct NormalDraws {
    sims: usize,
    /// The sequence so far; path i of an h-step simulation uses `values[i·h..(i + 1)·h]`.
    values: std::cell::RefCell<(ChaCha8Rng, Vec<f64>)>,
}

impl NormalDraws {
    fn new(sims: usize) -> NormalDraws {
        NormalDraws {
            sims,
            values: std::cell::RefCell::new((ChaCha8Rng::seed_from_u64(20_081), Vec::new())),
        }
    }

    /// Runs `f` over the first `len` draws of the sequence, drawing those not drawn yet.
    fn with<R>(&self, len: usize, f: impl FnOnce(&[f64]) -> R) -> R {
        let mut cell = self.values.borrow_mut();
        let (rng, values) = &mut *cell;
        while values.len() < len {
            values.push(standard_normal(rng));
        }
        f(&values[..len])
    }
}

/// Empirical bands from simulated sample paths (seeded: the same model gives the same bands).
fn simulated_bands(
    spec: &EtsSpec,
    p: &Smoothing,
    last: &StateVec,
    sigma2: f64,
    h: usize,
    levels: &[f64],
    draws: &NormalDraws,
) -> Vec<Interval> {
    let sd = sigma2.max(0.0).sqrt();
    let sims = draws.sims;
    let mut paths = vec![Vec::with_capacity(sims); h];
    draws.with(sims * h, |z| {
        for path in z.chunks_exact(h) {
            let mut x = *last;
            for (step, draw) in paths.iter_mut().zip(path) {
                let mu = ets::one_step(spec, &x, p);
                let e = sd * draw;
                let y = match spec.error {
                    ErrorKind::Additive => mu + e,
                    ErrorKind::Multiplicative => mu * (1.0 + e),
                };
                step.push(y);
                ets::update(spec, &mut x, p, y);
            }
        }
    });
    // Each quantile needs two order statistics: selections instead of a sort, the same values.
    levels
        .iter()
        .map(|&level| Interval {
            level,
            lower: paths
                .iter_mut()
                .map(|s| quantile_unsorted(s, 0.5 - level / 2.0))
                .collect(),
            upper: paths
                .iter_mut()
                .map(|s| quantile_unsorted(s, 0.5 + level / 2.0))
                .collect(),
        })
        .collect()
}

/// [`quantile`] of values in any order (reordered in place), by selecting the two order
/// statistics it interpolates between: the same result as sorting first.
fn quantile_unsorted(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (_, a, right) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let a = *a;
    let b = if hi == lo {
        a
    } else {
        *right
            .iter()
            .min_by(|x, y| x.total_cmp(y))
            .expect("hi is within the values")
    };
    a + (b - a) * (pos - lo as f64)
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Every ETS model worth trying on `y` with season `season`, and why others were left out.
fn candidates(y: &[f64], season: usize) -> (Vec<EtsSpec>, Vec<String>) {
    let positive = y.iter().all(|v| *v > 0.0);
    let mut notes = Vec::new();
    let seasonal_ok = if season < 2 {
        false
    } else if season > MAX_SEASON {
        notes.push(format!(
            "a season of {season} periods is too long for seasonal ETS (at most {MAX_SEASON}): \
             only non-seasonal models were tried"
        ));
        false
    } else if y.len() <= season {
        notes.push(format!(
            "{} observations do not cover more than one season of {season}: only non-seasonal \
             models were tried",
            y.len()
        ));
        false
    } else {
        true
    };
    if !positive {
        notes.push(
            "the series has values of 0 or below: multiplicative models were not tried".into(),
        );
    }
    let mut out = Vec::new();
    for error in [ErrorKind::Additive, ErrorKind::Multiplicative] {
        for trend in [
            TrendKind::None,
            TrendKind::Additive,
            TrendKind::AdditiveDamped,
        ] {
            for season in [
                SeasonKind::None,
                SeasonKind::Additive,
                SeasonKind::Multiplicative,
            ] {
                let spec = EtsSpec {
                    error,
                    trend,
                    season,
                };
                let multiplicative =
                    error == ErrorKind::Multiplicative || season == SeasonKind::Multiplicative;
                if (multiplicative && !positive)
                    || (error == ErrorKind::Additive && season == SeasonKind::Multiplicative)
                    || (spec.seasonal() && !seasonal_ok)
                    || y.len() <= spec.base_params() + 4
                {
                    continue;
                }
                out.push(spec);
            }
        }
    }
    (out, notes)
}

/// Fits every admissible ETS model (see the module docs) and keeps the lowest AICc.
pub fn auto_ets(y: &[f64], season: usize) -> Result<Selection, ModelError> {
    check_series(y)?;
    if y.iter().all(|v| *v == y[0]) {
        return Err(ModelError::InsufficientData(format!(
            "the series is constant ({}): there is nothing for ETS to estimate",
            y[0]
        )));
    }
    let (specs, notes) = candidates(y, season);
    if specs.is_empty() {
        return Err(ModelError::InsufficientData(format!(
            "{} observations are too few for any ETS model (the simplest needs 7)",
            y.len()
        )));
    }
    let fits: Vec<(EtsSpec, Result<Fitted, ModelError>)> = specs
        .par_iter()
        .map(|s| (*s, fit_ets(y, season, s)))
        .collect();
    let candidates: Vec<Candidate> = fits
        .iter()
        .map(|(spec, f)| Candidate {
            spec: *spec,
            aicc: f.as_ref().map_or(f64::INFINITY, |f| f.aicc),
        })
        .collect();
    let mut first_error = None;
    let mut best: Option<Fitted> = None;
    for (_, f) in fits {
        match f {
            Ok(f) if f.aicc.is_finite() => {
                if best.as_ref().is_none_or(|b| f.aicc < b.aicc) {
                    best = Some(f);
                }
            }
            Ok(_) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match best {
        Some(best) => Ok(Selection {
            best,
            candidates,
            notes,
        }),
        None => Err(first_error.unwrap_or_else(|| {
            ModelError::InsufficientData("no ETS model has a finite AICc on this series".into())
        })),
    }
}

/// Rolling-origin backtest of `method` (definitions in the module docs).
pub fn backtest(
    y: &[f64],
    season: usize,
    method: &Method,
    h: usize,
) -> Result<Accuracy, ModelError> {
    check_series(y)?;
    if h == 0 {
        return Err(ModelError::BadParameter(
            "the horizon must be at least 1 period".into(),
        ));
    }
    let n = y.len();
    let holdout = (n / 4).max(1);
    let n0 = n - holdout;
    if n0 < 2 {
        return Err(ModelError::InsufficientData(format!(
            "{n} observations are too few to hold out a quarter and still fit"
        )));
    }
    let train = &y[..n0];
    let mut points: Vec<(f64, f64, f64, f64)> = Vec::new(); // actual, forecast, lower, upper
    match method {
        Method::Ets(spec) => {
            let fitted = fit_ets(train, season, spec)?;
            let Engine::Ets {
                spec,
                smoothing,
                m,
                last,
            } = &fitted.engine
            else {
                unreachable!("an ETS fit keeps an ETS engine")
            };
            let mut state = **last;
            // Every origin simulates with the same draws (as it did when each reseeded).
            let draws = NormalDraws::new(BACKTEST_SIMULATIONS);
            for t in n0..n {
                let steps = h.min(n - t);
                let engine = Engine::Ets {
                    spec: *spec,
                    smoothing: *smoothing,
                    m: *m,
                    last: Box::new(state),
                };
                let f = forecast_from(&engine, fitted.sigma2, steps, &[0.95], &draws);
                for k in 0..steps {
                    points.push((
                        y[t + k],
                        f.mean[k],
                        f.intervals[0].lower[k],
                        f.intervals[0].upper[k],
                    ));
                }
                ets::update(spec, &mut state, smoothing, y[t]);
            }
        }
        baseline => {
            for t in n0..n {
                let steps = h.min(n - t);
                let fitted = fit(&y[..t], season, baseline)?;
                let f = fitted.forecast(steps, &[0.95])?;
                for k in 0..steps {
                    points.push((
                        y[t + k],
                        f.mean[k],
                        f.intervals[0].lower[k],
                        f.intervals[0].upper[k],
                    ));
                }
            }
        }
    }
    let lag = if season >= 2 && n0 > season {
        season
    } else {
        1
    };
    let scale = (lag..n0)
        .map(|t| (train[t] - train[t - lag]).abs())
        .sum::<f64>()
        / (n0 - lag) as f64;
    let mean = |v: Vec<f64>| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let ape = points
        .iter()
        .filter(|p| p.0 != 0.0)
        .map(|p| (p.0 - p.1).abs() / p.0.abs())
        .collect();
    let sape = points
        .iter()
        .filter(|p| p.0.abs() + p.1.abs() > 0.0)
        .map(|p| 2.0 * (p.0 - p.1).abs() / (p.0.abs() + p.1.abs()))
        .collect();
    let mae = mean(points.iter().map(|p| (p.0 - p.1).abs()).collect());
    let inside = points.iter().filter(|p| p.0 >= p.2 && p.0 <= p.3).count();
    Ok(Accuracy {
        mape: mean(ape),
        smape: mean(sape),
        mase: if scale > 0.0 { mae / scale } else { f64::NAN },
        coverage_95: inside as f64 / points.len() as f64,
        points: points.len(),
    })
}
