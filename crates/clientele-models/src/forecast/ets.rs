//! The ETS state-space recursion, its likelihood, its initial states and its fit.
//!
//! The recursion, the likelihood criterion, the initial states and the parameter constraints
//! follow Hyndman, Koehler, Ord & Snyder, *Forecasting with Exponential Smoothing* (2008), as
//! implemented in R's `forecast::ets` and Nixtla's `statsforecast` (`ets.py`), so that a model
//! fitted here and there with the same parameters gives the same fitted values, likelihood and
//! forecasts (checked in the tests against statsforecast on AirPassengers).

use super::neldermead;
use super::{ErrorKind, EtsSpec, SeasonKind, TrendKind};
use crate::ModelError;

/// Bounds on (α, β, γ, φ): the "usual" region of R's `ets` (with β < α and γ < 1 − α on top).
pub(super) const LOWER: [f64; 4] = [1e-4, 1e-4, 1e-4, 0.8];
pub(super) const UPPER: [f64; 4] = [0.9999, 0.9999, 0.9999, 0.98];

/// Longest season an ETS model takes: beyond it the m − 1 free initial seasonal states make
/// the likelihood surface too flat to optimise (R's `ets` and statsforecast refuse too).
pub const MAX_SEASON: usize = 24;

/// Smoothing parameters. `beta` is 0 without a trend, `gamma` 0 without a season and `phi` 1
/// without damping, which makes one recursion serve every model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Smoothing {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    pub phi: f64,
}

/// The state after an observation: level, trend and the last `m` seasonal terms, in a ring
/// held inline (at most [`MAX_SEASON`] terms), so that copying a state allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct StateVec {
    pub level: f64,
    pub trend: f64,
    /// `seasons[(head + j) % m]` is the seasonal term of `j` periods ago (0 = the latest).
    seasons: [f64; MAX_SEASON],
    m: usize,
    head: usize,
}

impl StateVec {
    /// A state from a level, a trend and seasonal terms listed latest first (R's order); one
    /// term (0) for a model without a season.
    pub fn new(level: f64, trend: f64, seasons_latest_first: Vec<f64>) -> StateVec {
        let m = seasons_latest_first.len();
        assert!(
            (1..=MAX_SEASON).contains(&m),
            "{m} seasonal terms: a state holds 1 to {MAX_SEASON}"
        );
        let mut seasons = [0.0; MAX_SEASON];
        seasons[..m].copy_from_slice(&seasons_latest_first);
        StateVec {
            level,
            trend,
            seasons,
            m,
            head: 0,
        }
    }

    fn m(&self) -> usize {
        self.m
    }

    /// The seasonal term of `j` periods ago (`j < m`).
    #[inline]
    pub fn season(&self, j: usize) -> f64 {
        debug_assert!(j < self.m);
        // head + j < 2m: one subtraction instead of a division.
        let i = self.head + j;
        self.seasons[if i >= self.m { i - self.m } else { i }]
    }

    /// The term used `h` steps ahead (1-based): the one of `m − h` periods ago, cycling.
    fn season_ahead(&self, h: usize) -> f64 {
        let m = self.m();
        self.season((m - 1 + m * h - (h - 1)) % m)
    }

    #[inline]
    fn push_season(&mut self, s: f64) {
        self.head = if self.head == 0 {
            self.m - 1
        } else {
            self.head - 1
        };
        self.seasons[self.head] = s;
    }
}

/// The one-step mean μ from a state.
#[inline(always)]
pub(super) fn one_step(spec: &EtsSpec, x: &StateVec, p: &Smoothing) -> f64 {
    let q = match spec.trend {
        TrendKind::None => x.level,
        TrendKind::Additive | TrendKind::AdditiveDamped => x.level + p.phi * x.trend,
    };
    match spec.season {
        SeasonKind::None => q,
        SeasonKind::Additive => q + x.season(x.m() - 1),
        SeasonKind::Multiplicative => q * x.season(x.m() - 1),
    }
}

/// Updates the state with observation `y` (the same equations for both error types: they are
/// written in `y`, Hyndman et al. 2008, Table 2.3).
#[inline(always)]
pub(super) fn update(spec: &EtsSpec, x: &mut StateVec, p: &Smoothing, y: f64) {
    let phib = match spec.trend {
        TrendKind::None => 0.0,
        _ => p.phi * x.trend,
    };
    let q = x.level + phib;
    let seasonal = matches!(
        spec.season,
        SeasonKind::Additive | SeasonKind::Multiplicative
    );
    let old_s = if seasonal { x.season(x.m() - 1) } else { 0.0 };
    let deseason = match spec.season {
        SeasonKind::None => y,
        SeasonKind::Additive => y - old_s,
        SeasonKind::Multiplicative => y / old_s,
    };
    let level = q + p.alpha * (deseason - q);
    if spec.trend != TrendKind::None {
        let r = level - x.level;
        x.trend = phib + (p.beta / p.alpha) * (r - phib);
    }
    x.level = level;
    if seasonal {
        let t = match spec.season {
            SeasonKind::Additive => y - q,
            _ => y / q,
        };
        x.push_season(old_s + p.gamma * (t - old_s));
    }
}

/// Point forecasts 1..=h from a state: `ℓ + (φ + … + φʰ) b`, times or plus the season.
pub(super) fn point_forecasts(spec: &EtsSpec, x: &StateVec, p: &Smoothing, h: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(h);
    let mut phistar = p.phi;
    for step in 1..=h {
        let mut f = match spec.trend {
            TrendKind::None => x.level,
            _ => x.level + phistar * x.trend,
        };
        match spec.season {
            SeasonKind::None => {}
            SeasonKind::Additive => f += x.season_ahead(step),
            SeasonKind::Multiplicative => f *= x.season_ahead(step),
        }
        out.push(f);
        phistar += p.phi.powi(step as i32 + 1);
    }
    out
}

/// What running the recursion over a series gives.
#[derive(Debug, Clone)]
pub(super) struct Pass {
    /// One-step means μₜ.
    pub fitted: Vec<f64>,
    /// Errors: `y − μ` (additive) or `(y − μ)/μ` (multiplicative).
    pub errors: Vec<f64>,
    /// `n·ln(Σe²) + 2·Σ ln|μ|` (the last term for multiplicative errors only): −2 log L up to
    /// a constant that is the same for every model of the same series, as in R and
    /// statsforecast. Infinite where the model cannot be evaluated.
    pub lik: f64,
    /// State after the last observation.
    pub last: StateVec,
}

/// Runs the recursion from initial state `x0` over `y`.
pub(super) fn pass(spec: &EtsSpec, x0: &StateVec, p: &Smoothing, y: &[f64]) -> Pass {
    let mut fitted = Vec::with_capacity(y.len());
    let mut errors = Vec::with_capacity(y.len());
    let (lik, last) = run(spec, x0, p, y, |f, e| {
        fitted.push(f);
        errors.push(e);
    });
    Pass {
        fitted,
        errors,
        lik,
        last,
    }
}

/// The criterion of [`pass`] alone, without keeping fitted values or errors, for the
/// optimiser: the same recursion (see [`run_bounded`] for its two shortcuts), equal to
/// [`pass`]'s criterion but for the last bits, or any value above `bound` when it is above.
pub(super) fn likelihood(
    spec: &EtsSpec,
    x0: &StateVec,
    p: &Smoothing,
    y: &[f64],
    bound: f64,
) -> f64 {
    // One copy of the loop per model, its kind a constant: the branches on the kind fold away.
    macro_rules! by_kind {
        ($(($e:ident, $t:ident, $s:ident)),* $(,)?) => {
            match (spec.error, spec.trend, spec.season) {
                $(
                    (ErrorKind::$e, TrendKind::$t, SeasonKind::$s) => {
                        const SPEC: EtsSpec = EtsSpec {
                            error: ErrorKind::$e,
                            trend: TrendKind::$t,
                            season: SeasonKind::$s,
                        };
                        run_bounded(&SPEC, x0, p, y, bound)
                    }
                )*
            }
        };
    }
    by_kind!(
        (Additive, None, None),
        (Additive, None, Additive),
        (Additive, None, Multiplicative),
        (Additive, Additive, None),
        (Additive, Additive, Additive),
        (Additive, Additive, Multiplicative),
        (Additive, AdditiveDamped, None),
        (Additive, AdditiveDamped, Additive),
        (Additive, AdditiveDamped, Multiplicative),
        (Multiplicative, None, None),
        (Multiplicative, None, Additive),
        (Multiplicative, None, Multiplicative),
        (Multiplicative, Additive, None),
        (Multiplicative, Additive, Additive),
        (Multiplicative, Additive, Multiplicative),
        (Multiplicative, AdditiveDamped, None),
        (Multiplicative, AdditiveDamped, Additive),
        (Multiplicative, AdditiveDamped, Multiplicative),
    )
}

/// The recursion over `y` from `x0`, handing each one-step mean and error to `record`;
/// returns the criterion (see [`Pass::lik`]) and the last state.
#[inline(always)]
fn run(
    spec: &EtsSpec,
    x0: &StateVec,
    p: &Smoothing,
    y: &[f64],
    mut record: impl FnMut(f64, f64),
) -> (f64, StateVec) {
    let mut x = *x0;
    let (mut sse, mut logs) = (0.0, 0.0);
    let mut ok = true;
    for &v in y {
        let f = one_step(spec, &x, p);
        let e = match spec.error {
            ErrorKind::Additive => v - f,
            ErrorKind::Multiplicative => {
                if f.abs() < 1e-10 {
                    ok = false;
                }
                logs += f.abs().ln();
                (v - f) / f
            }
        };
        sse += e * e;
        record(f, e);
        update(spec, &mut x, p, v);
    }
    (criterion(spec, y.len(), sse, logs, ok), x)
}

/// `n·ln(Σe²) + 2·Σ ln|μ|` from its sums; infinite where it cannot be evaluated.
#[inline(always)]
fn criterion(spec: &EtsSpec, n: usize, sse: f64, logs: f64, ok: bool) -> f64 {
    let n = n as f64;
    let mut lik = n * sse.ln();
    if spec.error == ErrorKind::Multiplicative {
        lik += 2.0 * logs;
    }
    if !ok || !lik.is_finite() {
        lik = f64::INFINITY;
    }
    lik
}

/// The optimiser's recursion: [`run`]'s criterion, without recording, and two shortcuts
/// that change nothing the optimiser can see. Multiplicative errors: Σ ln|μ| as the logarithm
/// of the product of the |μ|, kept in range by moving its binary exponent aside every 16
/// steps (one logarithm instead of n; the sum differs in the last bits only, ~n·10⁻¹⁶
/// relative, and where the product leaves the normal range the sum of logarithms is taken
/// instead). Additive errors: n·ln(Σe²) only grows, so the pass stops as soon as Σe²
/// exceeds what `bound` allows and returns infinity (any value above `bound` will do).
#[inline(always)]
fn run_bounded(spec: &EtsSpec, x0: &StateVec, p: &Smoothing, y: &[f64], bound: f64) -> f64 {
    const EXPONENT: u64 = 0x7ff << 52;
    let mut x = *x0;
    let mut sse = 0.0;
    let mut ok = true;
    // ∏|μ| = prod · 2^exponent.
    let (mut prod, mut exponent, mut steps, mut in_range) = (1.0f64, 0i64, 0u32, true);
    // Σe² above this gives n·ln(Σe²) above `bound` (with a margin for rounding).
    let sse_bound = if spec.error == ErrorKind::Additive && bound.is_finite() {
        (bound / y.len() as f64).exp() * (1.0 + 1e-9)
    } else {
        f64::INFINITY
    };
    for &v in y {
        let f = one_step(spec, &x, p);
        let e = match spec.error {
            ErrorKind::Additive => v - f,
            ErrorKind::Multiplicative => {
                if f.abs() < 1e-10 {
                    ok = false;
                }
                prod *= f.abs();
                steps += 1;
                if steps == 16 {
                    steps = 0;
                    let bits = prod.to_bits();
                    let biased = (bits & EXPONENT) >> 52;
                    if biased == 0 || biased == 0x7ff {
                        in_range = false;
                    }
                    exponent += biased as i64 - 1023;
                    prod = f64::from_bits((bits & !EXPONENT) | (1023 << 52));
                }
                (v - f) / f
            }
        };
        sse += e * e;
        if sse > sse_bound {
            return f64::INFINITY;
        }
        update(spec, &mut x, p, v);
    }
    let logs = if spec.error == ErrorKind::Additive {
        0.0
    } else if in_range && prod.is_normal() {
        prod.ln() + exponent as f64 * std::f64::consts::LN_2
    } else {
        return run(spec, x0, p, y, |_, _| {}).0;
    };
    criterion(spec, y.len(), sse, logs, ok)
}

/// Initial states by the heuristics of R's `ets` (`initstate`): seasonal terms from a classical
/// decomposition (a Fourier regression when there are fewer than three seasons), level and
/// trend from a regression on the first `max(10, 2m)` seasonally adjusted observations.
pub(super) fn initial_state(y: &[f64], spec: &EtsSpec, m: usize) -> Result<StateVec, ModelError> {
    let n = y.len();
    let (seasons, adjusted) = match spec.season {
        SeasonKind::None => (vec![0.0], y.to_vec()),
        kind => {
            let multiplicative = kind == SeasonKind::Multiplicative;
            if n < 4 {
                return Err(ModelError::InsufficientData(format!(
                    "{n} observations: a seasonal model needs at least 4"
                )));
            }
            let seasonal = if n < 3 * m {
                fourier_seasonal(y, m, multiplicative)?
            } else {
                decompose_seasonal(y, m, multiplicative)
            };
            // Latest first: the term of period m−1 first, that of period 0 last.
            let mut init: Vec<f64> = (0..m).rev().map(|j| seasonal[j]).collect();
            let adjusted: Vec<f64> = if multiplicative {
                for s in init.iter_mut() {
                    *s = s.max(1e-2);
                }
                let sum: f64 = init[..m - 1].iter().sum();
                if sum > m as f64 {
                    let total: f64 = init[..m - 1].iter().map(|s| s + 1e-2).sum();
                    for s in init[..m - 1].iter_mut() {
                        *s /= total;
                    }
                }
                y.iter()
                    .zip(&seasonal)
                    .map(|(v, s)| v / s.max(1e-2))
                    .collect()
            } else {
                y.iter().zip(&seasonal).map(|(v, s)| v - s).collect()
            };
            (init, adjusted)
        }
    };
    let maxn = (10.max(2 * m)).min(n);
    let (level, trend) = match spec.trend {
        TrendKind::None => (adjusted[..maxn].iter().sum::<f64>() / maxn as f64, 0.0),
        _ => {
            let (a, b) = line_fit(&adjusted[..maxn]);
            let (mut l, mut b) = (a, b);
            if (l + b).abs() < 1e-8 {
                l *= 1.0 + 1e-3;
                b *= 1.0 - 1e-3;
            }
            (l, b)
        }
    };
    let mut x = StateVec::new(level, trend, seasons);
    if spec.season != SeasonKind::None {
        // The last (oldest) term is not free: the terms sum to 0 (additive) or m.
        close_seasons(&mut x, spec.season, m);
    }
    Ok(x)
}

/// Sets the oldest seasonal term so that the m terms sum to 0 or m.
pub(super) fn close_seasons(x: &mut StateVec, kind: SeasonKind, m: usize) {
    let target = if kind == SeasonKind::Multiplicative {
        m as f64
    } else {
        0.0
    };
    let sum: f64 = (0..m - 1).map(|j| x.season(j)).sum();
    let idx = (x.head + m - 1) % m;
    x.seasons[idx] = target - sum;
}

/// Intercept and slope of `v` on 1..=len.
fn line_fit(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.len() < 2 {
        return (v.first().copied().unwrap_or(0.0), 0.0);
    }
    let tbar = (n + 1.0) / 2.0;
    let vbar = v.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, y) in v.iter().enumerate() {
        let t = i as f64 + 1.0 - tbar;
        sxy += t * (y - vbar);
        sxx += t * t;
    }
    let b = sxy / sxx;
    (vbar - b * tbar, b)
}

/// The seasonal component of a classical decomposition (statsmodels' `seasonal_decompose`):
/// a centred moving average of order m (2×m for even m), the mean detrended value per season
/// position, normalised to sum 0 (additive) or average 1 (multiplicative).
fn decompose_seasonal(y: &[f64], m: usize, multiplicative: bool) -> Vec<f64> {
    let n = y.len();
    let weights: Vec<f64> = if m.is_multiple_of(2) {
        let mut w = vec![1.0 / m as f64; m + 1];
        w[0] = 0.5 / m as f64;
        w[m] = 0.5 / m as f64;
        w
    } else {
        vec![1.0 / m as f64; m]
    };
    let half = weights.len() / 2;
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for t in half..n.saturating_sub(half) {
        let trend: f64 = weights
            .iter()
            .enumerate()
            .map(|(k, w)| w * y[t + k - half])
            .sum();
        let d = if multiplicative {
            y[t] / trend
        } else {
            y[t] - trend
        };
        sums[t % m] += d;
        counts[t % m] += 1;
    }
    let mut avg: Vec<f64> = sums
        .iter()
        .zip(&counts)
        .map(|(s, c)| if *c > 0 { s / *c as f64 } else { 0.0 })
        .collect();
    let mean = avg.iter().sum::<f64>() / m as f64;
    for a in avg.iter_mut() {
        if multiplicative {
            *a /= mean;
        } else {
            *a -= mean;
        }
    }
    (0..n).map(|t| avg[t % m]).collect()
}

/// The seasonal component when the series is too short to decompose: the residual of a
/// regression on a line and one Fourier pair (R's `ets` for fewer than three seasons).
fn fourier_seasonal(y: &[f64], m: usize, multiplicative: bool) -> Result<Vec<f64>, ModelError> {
    let n = y.len();
    if multiplicative && y.iter().any(|v| *v <= 0.0) {
        return Err(ModelError::InsufficientData(
            "multiplicative seasonality needs values above 0".into(),
        ));
    }
    let w = 2.0 * std::f64::consts::PI / m as f64;
    // sin(πt) vanishes for m = 2: leave it out then.
    let with_sin = m > 2;
    let row = |t: f64| -> Vec<f64> {
        let mut r = vec![1.0, t];
        if with_sin {
            r.push((w * t).sin());
        }
        r.push((w * t).cos());
        r
    };
    let k = if with_sin { 4 } else { 3 };
    let mut xtx = vec![vec![0.0; k]; k];
    let mut xty = vec![0.0; k];
    for (i, v) in y.iter().enumerate() {
        let r = row(i as f64 + 1.0);
        for a in 0..k {
            xty[a] += r[a] * v;
            for b in 0..k {
                xtx[a][b] += r[a] * r[b];
            }
        }
    }
    let coef = solve(xtx, xty).ok_or_else(|| {
        ModelError::InsufficientData("the series is too short to estimate a season".into())
    })?;
    Ok((0..n)
        .map(|i| {
            let line = coef[0] + coef[1] * (i as f64 + 1.0);
            if multiplicative {
                y[i] / line
            } else {
                y[i] - line
            }
        })
        .collect())
}

/// Solves a small dense system by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let k = b.len();
    for c in 0..k {
        let p = (c..k).max_by(|i, j| a[*i][c].abs().total_cmp(&a[*j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..k {
            let f = a[r][c] / a[c][c];
            let (top, bottom) = a.split_at_mut(r);
            for (x, p) in bottom[0][c..].iter_mut().zip(&top[c][c..]) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; k];
    for r in (0..k).rev() {
        let s: f64 = (r + 1..k).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Whether the parameters lie in the forecastable (admissible) region of Hyndman et al.
/// (2008, ch. 10): for seasonal models, every root of the characteristic polynomial inside the
/// unit circle.
pub(super) fn admissible(spec: &EtsSpec, p: &Smoothing, m: usize) -> bool {
    let (alpha, phi) = (p.alpha, p.phi);
    let has_trend = spec.trend != TrendKind::None;
    let beta = if has_trend { p.beta } else { 0.0 };
    if !(0.0..=1.0 + 1e-8).contains(&phi) {
        return false;
    }
    if spec.season == SeasonKind::None || m <= 1 {
        if alpha < 1.0 - 1.0 / phi || alpha > 1.0 + 1.0 / phi {
            return false;
        }
        if has_trend && (beta < alpha * (phi - 1.0) || beta > (1.0 + phi) * (2.0 - alpha)) {
            return false;
        }
        return true;
    }
    let gamma = p.gamma;
    let mf = m as f64;
    if gamma < (1.0 - 1.0 / phi - alpha).max(0.0) || gamma > 1.0 + 1.0 / phi - alpha {
        return false;
    }
    if alpha < 1.0 - 1.0 / phi - gamma * (1.0 - mf + phi + phi * mf) / (2.0 * phi * mf) {
        return false;
    }
    if beta < -(1.0 - phi) * (gamma / mf + alpha) {
        return false;
    }
    // Coefficients in ascending powers, as statsforecast's `admissible`.
    let mut poly = [0.0; MAX_SEASON + 2];
    poly[0] = phi * (1.0 - alpha - gamma);
    poly[1] = alpha + beta - alpha * phi + gamma - 1.0;
    poly[2..m].fill(alpha + beta - alpha * phi);
    poly[m] = alpha + beta - phi;
    poly[m + 1] = 1.0;
    // p(radius·w): the powers of the radius are the same on every call.
    let powers = radius_powers();
    for (c, r) in poly[..m + 2].iter_mut().zip(powers) {
        *c *= r;
    }
    unit_roots_within(&mut poly[..m + 2])
}

/// Whether every root of a real polynomial (ascending coefficients) has modulus below
/// `radius`, by the Schur–Cohn recursion on p(radius·w): O(n²) arithmetic and no iteration,
/// where root finding on every likelihood evaluation made seasonal fits fifty times slower.
/// A root exactly on the circle of `radius` counts as outside.
#[cfg(test)]
fn roots_within(coef: &[f64], radius: f64) -> bool {
    const CAP: usize = MAX_SEASON + 2;
    assert!(
        coef.len() <= CAP,
        "degree {} above {}",
        coef.len() - 1,
        CAP - 1
    );
    let mut a = [0.0f64; CAP];
    for (j, (a, c)) in a.iter_mut().zip(coef).enumerate() {
        *a = c * radius.powi(j as i32);
    }
    unit_roots_within(&mut a[..coef.len()])
}

/// The radius of [`admissible`]: a root exactly on the unit circle counts as outside.
const ADMISSIBLE_RADIUS: f64 = 1.0 + 1e-10;

/// `ADMISSIBLE_RADIUS^j` for j = 0..=MAX_SEASON + 1, computed once (by `powi`, as
/// [`roots_within`] does).
fn radius_powers() -> &'static [f64; MAX_SEASON + 2] {
    static POWERS: std::sync::OnceLock<[f64; MAX_SEASON + 2]> = std::sync::OnceLock::new();
    POWERS.get_or_init(|| std::array::from_fn(|j| ADMISSIBLE_RADIUS.powi(j as i32)))
}

/// Whether every root of the polynomial `a` (ascending coefficients, modified in place) lies
/// strictly inside the unit circle, by the Schur–Cohn recursion.
fn unit_roots_within(a: &mut [f64]) -> bool {
    // Two buffers on the stack, swapped each step: no allocation per likelihood evaluation.
    const CAP: usize = MAX_SEASON + 2;
    let mut next = [0.0f64; CAP];
    let mut len = a.len();
    let cur = a;
    while len > 1 {
        let k = len - 1;
        let (lead, constant) = (cur[k], cur[0]);
        if constant.abs() >= lead.abs() {
            return false;
        }
        // (a_k·p(w) − a_0·p*(w)) / w, p* the reversed polynomial: degree k − 1, the same
        // roots inside the circle.
        // next[j] = a_k·a_{j+1} − a_0·a_{k−1−j}.
        for (n, (up, down)) in next[..k]
            .iter_mut()
            .zip(cur[1..=k].iter().zip(cur[..k].iter().rev()))
        {
            *n = lead * up - constant * down;
        }
        len = k;
        // The coefficients square at each step: rescale so that 13 steps neither overflow
        // nor underflow. By a power of two, which is exact (a division by the largest
        // coefficient rounded every one, and cost a division each): the signs and ratios
        // the recursion tests are unchanged by it.
        let scale = max_abs(&next[..len]);
        if scale == 0.0 || !scale.is_finite() {
            return false;
        }
        let factor = inverse_power_of_two(scale);
        for (c, n) in cur[..len].iter_mut().zip(&next[..len]) {
            *c = n * factor;
        }
    }
    true
}

/// The largest |x| (0 for none), in four lanes: the maximum does not depend on the order.
#[inline(always)]
fn max_abs(v: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l = l.max(x.abs());
        }
    }
    for (l, x) in lanes.iter_mut().zip(rest) {
        *l = l.max(x.abs());
    }
    lanes[0].max(lanes[1]).max(lanes[2].max(lanes[3]))
}

/// 2^−e for the exponent e of a positive normal or subnormal `x` (so that x·2^−e is in
/// [1, 2) for normal x), exact; clamped to the normal range.
fn inverse_power_of_two(x: f64) -> f64 {
    let e = ((x.to_bits() >> 52) & 0x7ff) as i64 - 1023;
    // 2^−e for −1022 ≤ −e ≤ 1023; a subnormal x has e = −1023: use 2^1022, then it is ≥ 2^−52.
    let minus = (-e).clamp(-1022, 1022);
    f64::from_bits(((minus + 1023) as u64) << 52)
}

/// The Schur–Cohn test as it was before issue 12's speed work (dividing by the largest
/// coefficient at each step), kept to check that the power-of-two rescaling decides the same.
#[cfg(test)]
pub(super) fn roots_within_by_division(coef: &[f64], radius: f64) -> bool {
    let mut a: Vec<f64> = coef
        .iter()
        .enumerate()
        .map(|(j, c)| c * radius.powi(j as i32))
        .collect();
    while a.len() > 1 {
        let k = a.len() - 1;
        let (lead, constant) = (a[k], a[0]);
        if constant.abs() >= lead.abs() {
            return false;
        }
        a = (1..=k).map(|j| lead * a[j] - constant * a[k - j]).collect();
        let scale = a.iter().fold(0.0f64, |m, c| m.max(c.abs()));
        if scale == 0.0 || !scale.is_finite() {
            return false;
        }
        for c in a.iter_mut() {
            *c /= scale;
        }
    }
    true
}

#[cfg(test)]
pub(super) fn admissible_for_tests(spec: &EtsSpec, p: &Smoothing, m: usize) -> bool {
    admissible(spec, p, m)
}

#[cfg(test)]
pub(super) fn roots_within_for_tests(coef: &[f64], radius: f64) -> bool {
    roots_within(coef, radius)
}

#[cfg(test)]
pub(super) fn max_root_modulus_for_tests(coef: &[f64]) -> f64 {
    max_root_modulus(coef)
}

/// Largest modulus among the roots of a polynomial (ascending coefficients, leading 1), by
/// Aberth–Ehrlich iteration.
#[cfg(test)]
fn max_root_modulus(coef: &[f64]) -> f64 {
    #[derive(Clone, Copy)]
    struct C(f64, f64);
    impl C {
        fn add(self, o: C) -> C {
            C(self.0 + o.0, self.1 + o.1)
        }
        fn sub(self, o: C) -> C {
            C(self.0 - o.0, self.1 - o.1)
        }
        fn mul(self, o: C) -> C {
            C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
        }
        fn div(self, o: C) -> C {
            let d = o.0 * o.0 + o.1 * o.1;
            C(
                (self.0 * o.0 + self.1 * o.1) / d,
                (self.1 * o.0 - self.0 * o.1) / d,
            )
        }
        fn abs(self) -> f64 {
            self.0.hypot(self.1)
        }
    }
    let deg = coef.len() - 1;
    if deg == 0 {
        return 0.0;
    }
    // Value and derivative by Horner.
    let eval = |z: C| -> (C, C) {
        let mut p = C(coef[deg], 0.0);
        let mut d = C(0.0, 0.0);
        for k in (0..deg).rev() {
            d = d.mul(z).add(p);
            p = p.mul(z).add(C(coef[k], 0.0));
        }
        (p, d)
    };
    // Start on a circle of the Cauchy bound's radius, off the axes.
    let radius = 1.0 + coef[..deg].iter().map(|c| c.abs()).fold(0.0, f64::max);
    let mut z: Vec<C> = (0..deg)
        .map(|k| {
            let a = 2.0 * std::f64::consts::PI * k as f64 / deg as f64 + 0.4;
            C(0.5 * radius * a.cos(), 0.5 * radius * a.sin())
        })
        .collect();
    for _ in 0..500 {
        let mut moved = 0.0f64;
        for i in 0..deg {
            let (p, d) = eval(z[i]);
            if p.abs() == 0.0 {
                continue;
            }
            let ratio = p.div(d);
            let zi = z[i];
            let s = z
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, zj)| zi.sub(*zj))
                .filter(|diff| diff.abs() > 0.0)
                .fold(C(0.0, 0.0), |acc, diff| acc.add(C(1.0, 0.0).div(diff)));
            let step = ratio.div(C(1.0, 0.0).sub(ratio.mul(s)));
            if step.0.is_finite() && step.1.is_finite() {
                z[i] = z[i].sub(step);
                moved = moved.max(step.abs());
            }
        }
        if moved < 1e-14 {
            break;
        }
    }
    z.iter().map(|c| c.abs()).fold(0.0, f64::max)
}

/// A fitted ETS model's estimates.
#[derive(Debug, Clone)]
pub(super) struct Estimate {
    pub smoothing: Smoothing,
    pub initial: StateVec,
    pub pass: Pass,
    /// Number of estimated parameters, σ included (as in R and statsforecast).
    pub n_params: usize,
}

/// Which smoothing parameters a model estimates.
fn free_smoothing(spec: &EtsSpec) -> (bool, bool, bool) {
    (
        spec.trend != TrendKind::None,
        spec.season != SeasonKind::None,
        spec.trend == TrendKind::AdditiveDamped,
    )
}

#[cfg(test)]
thread_local! {
    /// Likelihood evaluations on this thread (the timing test counts them per model).
    pub(super) static EVALUATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Makes the objective ignore its bound (the test that the bound changes no path).
    pub(super) static EAGER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The objective over the free parameters: α, β, γ, φ (those the model has), then the
/// initial level, trend and the first m − 1 seasonal terms.
#[derive(Clone)]
struct Objective<'a> {
    y: &'a [f64],
    spec: EtsSpec,
    m: usize,
    scale: Vec<f64>,
    /// How many leading entries are smoothing parameters.
    n_smooth: usize,
}

impl Objective<'_> {
    /// Parameters from the optimiser's scaled vector.
    fn unpack(&self, z: &[f64]) -> (Smoothing, StateVec) {
        let (has_b, has_g, has_phi) = free_smoothing(&self.spec);
        let mut i = 0;
        let mut take = || {
            let x = z[i] * self.scale[i];
            i += 1;
            x
        };
        let alpha = take();
        let beta = if has_b { take() } else { 0.0 };
        let gamma = if has_g { take() } else { 0.0 };
        let phi = if has_phi { take() } else { 1.0 };
        let level = take();
        let trend = if has_b { take() } else { 0.0 };
        let m = if has_g { self.m } else { 1 };
        let mut seasons = [0.0; MAX_SEASON];
        if has_g {
            for s in seasons.iter_mut().take(m - 1) {
                *s = take();
            }
        }
        let mut x = StateVec {
            level,
            trend,
            seasons,
            m,
            head: 0,
        };
        if has_g {
            close_seasons(&mut x, self.spec.season, m);
        }
        (
            Smoothing {
                alpha,
                beta,
                gamma,
                phi,
            },
            x,
        )
    }

    fn feasible(&self, p: &Smoothing, x: &StateVec) -> bool {
        let (has_b, has_g, has_phi) = free_smoothing(&self.spec);
        let inside = |v: f64, k: usize| v >= LOWER[k] && v <= UPPER[k];
        if !inside(p.alpha, 0) {
            return false;
        }
        if has_b && (!inside(p.beta, 1) || p.beta > p.alpha) {
            return false;
        }
        if has_g && (!inside(p.gamma, 2) || p.gamma > 1.0 - p.alpha) {
            return false;
        }
        if has_phi && !inside(p.phi, 3) {
            return false;
        }
        if self.spec.season == SeasonKind::Multiplicative
            && x.seasons[..x.m].iter().any(|s| *s <= 0.0)
        {
            return false;
        }
        true
    }

    /// The objective at `z`: infinite outside the bounds or the admissible region.
    fn value(&self, z: &[f64]) -> f64 {
        self.value_below(z, f64::INFINITY)
    }

    /// The objective at `z`, or any value above `bound` when it is above: then the point is
    /// rejected whether admissible or not, so the Schur–Cohn test (as costly as a pass over
    /// 48 observations) is only run for values at or below `bound`. Gives the Nelder–Mead run
    /// the same path as [`Objective::value`] (see `neldermead::minimise`).
    fn value_below(&self, z: &[f64], bound: f64) -> f64 {
        #[cfg(test)]
        EVALUATIONS.with(|c| c.set(c.get() + 1));
        #[cfg(test)]
        let bound = if EAGER.with(|c| c.get()) {
            f64::INFINITY
        } else {
            bound
        };
        if z.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        let (p, x) = self.unpack(z);
        if !self.feasible(&p, &x) {
            return f64::INFINITY;
        }
        let lik = likelihood(&self.spec, &x, &p, self.y, bound);
        // A perfect fit has Σe² = 0 and ln 0 = −∞: floor it as R does (−1e10).
        let value = if lik.is_nan() {
            f64::INFINITY
        } else {
            lik.max(-1e10)
        };
        if value > bound {
            return value;
        }
        let m = if self.spec.season == SeasonKind::None {
            1
        } else {
            self.m
        };
        if admissible(&self.spec, &p, m) {
            value
        } else {
            f64::INFINITY
        }
    }
}

/// Fits an ETS model by maximum likelihood: Nelder–Mead over the smoothing parameters and the
/// initial states (as R's `ets`) from three starts, restarted from the best optimum until it
/// stops improving, with the effort of the model's kind ([`SEASONAL_EFFORT`],
/// [`NONSEASONAL_EFFORT`]).
pub(super) fn fit(y: &[f64], spec: &EtsSpec, m: usize) -> Result<Estimate, ModelError> {
    let effort = if spec.season == SeasonKind::None {
        &NONSEASONAL_EFFORT
    } else {
        &SEASONAL_EFFORT
    };
    fit_with(y, spec, m, effort)
}

/// [`fit`] with a given effort.
pub(super) fn fit_with(
    y: &[f64],
    spec: &EtsSpec,
    m: usize,
    effort: &Effort,
) -> Result<Estimate, ModelError> {
    let (has_b, has_g, has_phi) = free_smoothing(spec);
    let m_used = if has_g { m } else { 1 };
    let x0 = initial_state(y, spec, m_used)?;
    let level_scale = y.iter().map(|v| v.abs()).sum::<f64>() / y.len() as f64;
    let level_scale = if level_scale > 0.0 { level_scale } else { 1.0 };
    // The starting smoothing parameters of R's `initparam`, then two more spread over the
    // region: the likelihood of seasonal models without trend often has a second optimum
    // (a slow level with a fast season) that a single Nelder–Mead start misses.
    let alpha0 = LOWER[0] + 0.2 * (UPPER[0] - LOWER[0]) / m_used as f64;
    let starts = [
        Smoothing {
            alpha: alpha0,
            beta: LOWER[1] + 0.1 * (UPPER[1].min(alpha0) - LOWER[1]),
            gamma: LOWER[2] + 0.05 * (UPPER[2].min(1.0 - alpha0) - LOWER[2]),
            phi: LOWER[3] + 0.99 * (UPPER[3] - LOWER[3]),
        },
        Smoothing {
            alpha: 0.5,
            beta: 0.05,
            gamma: 0.2,
            phi: 0.9,
        },
        Smoothing {
            alpha: 0.1,
            beta: 0.01,
            gamma: 0.8,
            phi: 0.95,
        },
    ];
    let n_smooth = 1 + usize::from(has_b) + usize::from(has_g) + usize::from(has_phi);
    let mut scale = vec![1.0; n_smooth];
    scale.push(level_scale);
    if has_b {
        scale.push(level_scale / y.len() as f64);
    }
    if has_g {
        let s = if spec.season == SeasonKind::Additive {
            level_scale
        } else {
            1.0
        };
        scale.extend(std::iter::repeat_n(s, m_used - 1));
    }
    let n_params = scale.len() + 1;
    if n_params >= y.len() {
        return Err(ModelError::InsufficientData(format!(
            "{} observations for {} parameters",
            y.len(),
            n_params
        )));
    }
    let obj = Objective {
        y,
        spec: *spec,
        m,
        scale: scale.clone(),
        n_smooth,
    };
    // Every start: one run (restarted as a whole when `effort.polish_every`).
    let mut found: Vec<(Vec<f64>, f64)> = Vec::new();
    for p in &starts {
        let mut start = vec![p.alpha];
        if has_b {
            start.push(p.beta);
        }
        if has_g {
            start.push(p.gamma);
        }
        if has_phi {
            start.push(p.phi);
        }
        start.push(x0.level);
        if has_b {
            start.push(x0.trend);
        }
        if has_g {
            start.extend((0..m_used - 1).map(|j| x0.season(j)));
        }
        let z: Vec<f64> = start.iter().zip(&scale).map(|(v, s)| v / s).collect();
        let value = obj.value(&z);
        if !value.is_finite() {
            continue;
        }
        let (next, v) = nelder_mead(&obj, &z, 0.1, effort.first_rel, effort.first_evals);
        let (mut z, mut value) = if v < value { (next, v) } else { (z, value) };
        if effort.polish_every {
            (z, value) = polish(&obj, z, value, effort);
        }
        found.push((z, value));
    }
    // The best start (the first of equals), then restarts from it until they stop paying.
    let mut best = found
        .into_iter()
        .reduce(|b, c| if c.1 < b.1 { c } else { b });
    if !effort.polish_every {
        best = best.map(|(z, v)| polish(&obj, z, v, effort));
    }
    let Some((z, _)) = best else {
        return Err(ModelError::NoConvergence(format!(
            "{}: no starting values give a finite likelihood",
            spec.name()
        )));
    };
    let (p, x) = obj.unpack(&z);
    Ok(Estimate {
        pass: pass(spec, &x, &p, y),
        smoothing: p,
        initial: x,
        n_params,
    })
}

/// How hard [`fit`] works: a first run from each start, then restarts from the best point
/// with a smaller simplex until one gains less than `stop_gain` (relative) or `rounds` ran.
#[derive(Debug, Clone, Copy)]
pub(super) struct Effort {
    pub first_rel: f64,
    pub first_evals: usize,
    pub rounds: usize,
    pub polish_step: f64,
    pub polish_rel: f64,
    pub polish_evals: usize,
    pub stop_gain: f64,
    /// Restart every start, not only the best (the fit before issue 12's speed work).
    pub polish_every: bool,
}

/// The effort of the fit before issue 12's speed work: every start restarted up to five
/// times, each run to a spread of 10⁻¹² or 4,000 evaluations (about 40,000 evaluations per
/// seasonal model). The experiment in the tests compares the efforts below with it.
#[cfg(test)]
pub(super) const REFERENCE_EFFORT: Effort = Effort {
    first_rel: 1e-12,
    first_evals: 4_000,
    rounds: 5,
    polish_step: 0.02,
    polish_rel: 1e-12,
    polish_evals: 4_000,
    stop_gain: 1e-10,
    polish_every: true,
};

/// Models without a season (2 to 5 free parameters): each start to a spread of 10⁻⁸ and up
/// to two restarts of each (restarting only the best start lost up to 6.6 in the criterion
/// on some 48-month series; five restarts gained at most 0.13 over two). Their optima decide
/// many choices and are cheap to reach.
pub(super) const NONSEASONAL_EFFORT: Effort = Effort {
    first_rel: 1e-8,
    first_evals: 1_000,
    rounds: 2,
    polish_step: 0.02,
    polish_rel: 1e-8,
    polish_evals: 1_000,
    stop_gain: 1e-7,
    polish_every: true,
};

/// Seasonal models (m + 1 to m + 4 free parameters): a short run from each start (400
/// evaluations or a spread of 10⁻⁵), then two restarts of the best of 400 each — about 2,000
/// evaluations in all, as one run of R's `ets`. On the reference series they stay far below
/// statsforecast's criterion; on 48-month series the chosen model's AICc is within 2.5 of the
/// reference effort's (see the `efforts` experiment in the tests).
pub(super) const SEASONAL_EFFORT: Effort = Effort {
    first_rel: 1e-5,
    first_evals: 400,
    rounds: 2,
    polish_step: 0.02,
    polish_rel: 1e-8,
    polish_evals: 400,
    stop_gain: 1e-7,
    polish_every: false,
};

/// Restarts from `z` (value `value`) as `effort` says; the best point and its value.
fn polish(obj: &Objective, mut z: Vec<f64>, mut value: f64, effort: &Effort) -> (Vec<f64>, f64) {
    for _ in 0..effort.rounds {
        let (next, v) = nelder_mead(
            obj,
            &z,
            effort.polish_step,
            effort.polish_rel,
            effort.polish_evals,
        );
        let gain = value - v;
        if v < value {
            z = next;
            value = v;
        }
        if gain < effort.stop_gain * value.abs().max(1.0) {
            break;
        }
    }
    (z, value)
}

/// One Nelder–Mead run from `start` with a simplex of relative size `step`, stopping at a
/// relative spread `rel` of the simplex's values or after `max_evals` evaluations; returns the
/// best point and its value.
fn nelder_mead(
    obj: &Objective,
    start: &[f64],
    step: f64,
    rel: f64,
    max_evals: usize,
) -> (Vec<f64>, f64) {
    let mut simplex = vec![start.to_vec()];
    for i in 0..start.len() {
        let mut v = start.to_vec();
        // Smoothing parameters step toward the middle of their range; states by a share
        // of their own size.
        let delta = if i < obj.n_smooth {
            if v[i] > 0.5 { -step } else { step }
        } else {
            step * v[i].abs().max(0.05)
        };
        // Keep the first step feasible where possible: halve it until the value is finite.
        let mut d = delta;
        for _ in 0..30 {
            v[i] = start[i] + d;
            if obj.value(&v).is_finite() {
                break;
            }
            d /= 2.0;
        }
        simplex.push(v);
    }
    let found = neldermead::minimise(
        |z, bound| obj.value_below(z, bound),
        &simplex,
        rel,
        max_evals,
    );
    (found.x, found.value)
}
