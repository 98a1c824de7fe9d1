//! A/B test statistics: comparing two arms of an experiment on a conversion rate or a mean
//! outcome (revenue per customer), planning how many customers an experiment needs, checking
//! the split, correcting for several comparisons, and monitoring a test continuously.
//!
//! Arm `a` is the control and arm `b` the treatment; every difference is `b − a`. `level` is
//! the confidence level of an interval (0.95 for 95 %), `α = 1 − level`, and `z_q`, `t_{ν,q}`
//! are the `q` quantiles of the standard normal and of Student's t with `ν` degrees of freedom.
//!
//! Definitions:
//! - **two proportions** ([`two_proportions`]): arm `i` has `x_i` successes in `n_i` trials and
//!   rate `p_i = x_i / n_i`; the difference is `d = p_b − p_a` and the lift `p_b / p_a − 1`
//!   (NaN when `p_a = 0`: no relative change is defined from a zero base);
//!   - the interval of the lift is the log (Katz) interval of the ratio `r = p_b / p_a`,
//!     `exp(ln r ± z_{1−α/2} · √(1/x_b − 1/n_b + 1/x_a − 1/n_a)) − 1` (statsmodels'
//!     `confint_proportions_2indep(method='log', compare='ratio')`), NaN when either arm has
//!     no successes (the ratio or its logarithm is undefined);
//!   - the interval of `d` is the unpooled Wald interval `d ± z_{1−α/2} · se_u`,
//!     `se_u = √(p_a(1 − p_a)/n_a + p_b(1 − p_b)/n_b)`;
//!   - the test of `p_a = p_b` is the pooled z-test: `p̄ = (x_a + x_b)/(n_a + n_b)`,
//!     `se_p = √(p̄(1 − p̄)(1/n_a + 1/n_b))`, `z = d / se_p`, two-sided `p = 2(1 − Φ(|z|))`;
//!     when `p̄` is 0 or 1 both arms are identical (`d = 0`) and `z = 0`, `p = 1`;
//! - **Welch's t-test** ([`welch`]): arm `i` has `n_i ≥ 2` outcomes with mean `m_i` and sample
//!   variance `s_i²` (divisor `n_i − 1`); `d = m_b − m_a`, lift `m_b / m_a − 1` (NaN when
//!   `m_a = 0`), `se = √(s_a²/n_a + s_b²/n_b)`, `t = d / se`, Welch–Satterthwaite degrees of
//!   freedom `ν = se⁴ / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1))`, two-sided
//!   `p = 2(1 − F_ν(|t|))` and interval `d ± t_{ν,1−α/2} · se`;
//! - **bootstrap** ([`bootstrap_difference`]): each of `draws` replicates resamples each arm
//!   with replacement to its own size and takes `mean(b*) − mean(a*)`; the interval is the
//!   `α/2` and `1 − α/2` quantiles of the replicates (linear interpolation between order
//!   statistics, numpy's default): the percentile bootstrap, which needs no normality and
//!   suits heavy-tailed revenue;
//! - **sample size** ([`sample_size_proportions`], [`sample_size_means`]): for a standardised
//!   effect `h` and `n` customers per arm (equal arms), the two-sided z-test at level `α` has
//!   power `π(n) = Φ(|h|√(n/2) − z_{1−α/2}) + Φ(−|h|√(n/2) − z_{1−α/2})`; the sample size is
//!   the real `n` with `π(n)` equal to the target power (round it up to recruit). For rates,
//!   `h` is Cohen's `h = 2 asin√p₂ − 2 asin√p₁` with `p₁` the base rate and
//!   `p₂ = p₁(1 + relative lift)`; for means `h = difference / sd`;
//! - **sample ratio mismatch** ([`sample_ratio_mismatch`]): with `o_k` customers observed in
//!   arm `k`, `N = Σ o_k` and intended shares `s_k` (normalised to sum to 1), the expected
//!   counts are `e_k = N s_k`, Pearson's `χ² = Σ (o_k − e_k)² / e_k` and `p = 1 − F(χ²)` under
//!   the chi-square distribution with `K − 1` degrees of freedom; a small `p` means the
//!   assignment is broken and the experiment's comparisons cannot be trusted;
//! - **Holm–Bonferroni** ([`holm`]): with `m` p-values sorted ascending `p_(1) ≤ … ≤ p_(m)`,
//!   the adjusted value of `p_(j)` is `min(1, max_{i ≤ j} (m − i + 1) p_(i))`; rejecting the
//!   adjusted values below `α` controls the family-wise error rate at `α`;
//! - **mixture sequential test** ([`msprt_proportions`], Johari, Pekelis & Walsh 2017, "Always
//!   valid inference", the basis of Optimizely's Stats Engine): with the difference of rates
//!   `d` estimated with variance `V = p_a(1 − p_a)/n_a + p_b(1 − p_b)/n_b` (normal
//!   approximation) and a normal mixing distribution `N(0, τ²)` over the true difference, the
//!   mixture likelihood ratio against `d = 0` is
//!   `Λ = √(V/(V + τ²)) · exp(τ² d² / (2V(V + τ²)))` and the p-value at this look is
//!   `min(1, 1/Λ)`. The always-valid p-value of a test monitored over many looks is the running
//!   minimum of these values (the caller keeps it); rejecting whenever it drops below `α`
//!   keeps the type I error at most `α` however often one peeks. The always-valid interval is
//!   the set of differences `θ` not rejected at this look,
//!   `d ± √((2V(V + τ²)/τ²) · (ln(1/α) + ½ ln((V + τ²)/V)))`; intersecting the intervals of
//!   successive looks is again the caller's job. `τ²` should be of the order of the squared
//!   differences one expects (e.g. `(0.01)²` for a one-point lift on a 10 % rate); when
//!   `V = 0` (both arms all successes or all failures) `p` is 1 if `d = 0` and 0 otherwise,
//!   and the interval is the point `d`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use crate::{ModelError, quantile};

/// The successes and trials of one arm (conversions and customers exposed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Proportion {
    /// Number of successes, in `[0, trials]`.
    pub successes: f64,
    /// Number of trials (> 0).
    pub trials: f64,
}

/// Comparison of two conversion rates (see the module's definitions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProportionTest {
    /// Rate of arm `a` (control).
    pub rate_a: f64,
    /// Rate of arm `b` (treatment).
    pub rate_b: f64,
    /// `rate_b − rate_a`.
    pub difference: f64,
    /// `rate_b / rate_a − 1`; NaN when `rate_a` is 0.
    pub lift: f64,
    /// Lower bound of the unpooled Wald interval of the difference.
    pub lower: f64,
    /// Upper bound of the unpooled Wald interval of the difference.
    pub upper: f64,
    /// Lower bound of the log interval of the lift; NaN when either arm has no successes.
    pub lift_lower: f64,
    /// Upper bound of the log interval of the lift; NaN when either arm has no successes.
    pub lift_upper: f64,
    /// Pooled z statistic.
    pub z: f64,
    /// Two-sided p-value of the pooled z-test.
    pub p_value: f64,
}

/// Comparison of two means by Welch's t-test (see the module's definitions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeanTest {
    /// Mean of arm `a` (control).
    pub mean_a: f64,
    /// Mean of arm `b` (treatment).
    pub mean_b: f64,
    /// `mean_b − mean_a`.
    pub difference: f64,
    /// `mean_b / mean_a − 1`; NaN when `mean_a` is 0.
    pub lift: f64,
    /// Lower bound of the Welch interval of the difference.
    pub lower: f64,
    /// Upper bound of the Welch interval of the difference.
    pub upper: f64,
    /// Welch t statistic.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// The state of a mixture sequential test at one look (see the module's definitions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sequential {
    /// `min(1, 1/Λ)` at this look; its running minimum over looks is the always-valid p-value.
    pub always_valid_p: f64,
    /// Lower bound of the always-valid interval of the difference at this look.
    pub lower: f64,
    /// Upper bound of the always-valid interval of the difference at this look.
    pub upper: f64,
}

fn check_level(level: f64) -> Result<(), ModelError> {
    if level.is_nan() || level <= 0.0 || level >= 1.0 {
        return Err(ModelError::BadParameter(format!(
            "level {level}: expected a confidence level above 0 and below 1"
        )));
    }
    Ok(())
}

/// Checks one arm and returns its rate.
fn rate(arm: &Proportion, name: &str) -> Result<f64, ModelError> {
    let Proportion { successes, trials } = *arm;
    if !trials.is_finite() || trials < 0.0 {
        return Err(ModelError::BadParameter(format!(
            "arm {name}: {trials} trials: expected a finite non-negative count"
        )));
    }
    if trials == 0.0 {
        return Err(ModelError::InsufficientData(format!(
            "arm {name} has no trials"
        )));
    }
    if !successes.is_finite() || successes < 0.0 || successes > trials {
        return Err(ModelError::BadParameter(format!(
            "arm {name}: {successes} successes out of {trials} trials: expected between 0 and \
             the number of trials"
        )));
    }
    Ok(successes / trials)
}

/// The standard normal.
fn std_normal() -> Normal {
    // Mean 0 and standard deviation 1 are always valid parameters.
    Normal::standard()
}

/// `b / a − 1`, NaN when `a` is 0 (no relative change from a zero base).
fn relative(b: f64, a: f64) -> f64 {
    if a == 0.0 { f64::NAN } else { b / a - 1.0 }
}

/// Compares the rates of two arms: unpooled Wald interval of the difference at `level` and
/// two-sided pooled z-test (see the module's definitions).
pub fn two_proportions(
    a: Proportion,
    b: Proportion,
    level: f64,
) -> Result<ProportionTest, ModelError> {
    check_level(level)?;
    let rate_a = rate(&a, "a")?;
    let rate_b = rate(&b, "b")?;
    let normal = std_normal();
    let difference = rate_b - rate_a;
    let se_u = (rate_a * (1.0 - rate_a) / a.trials + rate_b * (1.0 - rate_b) / b.trials).sqrt();
    let zq = normal.inverse_cdf(1.0 - (1.0 - level) / 2.0);
    let half = zq * se_u;
    let (lift_lower, lift_upper) = if a.successes > 0.0 && b.successes > 0.0 {
        let log_ratio = (rate_b / rate_a).ln();
        let se = (1.0 / b.successes - 1.0 / b.trials + 1.0 / a.successes - 1.0 / a.trials).sqrt();
        (
            (log_ratio - zq * se).exp() - 1.0,
            (log_ratio + zq * se).exp() - 1.0,
        )
    } else {
        (f64::NAN, f64::NAN)
    };
    let pooled = (a.successes + b.successes) / (a.trials + b.trials);
    let se_p = (pooled * (1.0 - pooled) * (1.0 / a.trials + 1.0 / b.trials)).sqrt();
    // se_p = 0 only when every trial of both arms succeeded or every one failed: the arms are
    // identical, so there is no evidence of a difference.
    let (z, p_value) = if se_p > 0.0 {
        let z = difference / se_p;
        (z, (2.0 * normal.sf(z.abs())).min(1.0))
    } else {
        (0.0, 1.0)
    };
    Ok(ProportionTest {
        rate_a,
        rate_b,
        difference,
        lift: relative(rate_b, rate_a),
        lower: difference - half,
        upper: difference + half,
        lift_lower,
        lift_upper,
        z,
        p_value,
    })
}

/// Mean and sample variance (divisor n − 1) of at least two values, two-pass for accuracy.
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let ss: f64 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, ss / (n - 1.0))
}

fn check_sample(x: &[f64], name: &str, min: usize) -> Result<(), ModelError> {
    if x.len() < min {
        return Err(ModelError::InsufficientData(format!(
            "arm {name} has {} observations: at least {min} are needed",
            x.len()
        )));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(ModelError::BadParameter(format!(
            "arm {name}: observation {i} is {}: expected finite values",
            x[i]
        )));
    }
    Ok(())
}

/// Compares the means of two arms by Welch's unequal-variance t-test, with the interval of
/// the difference at `level` (see the module's definitions). Each arm needs at least two
/// finite observations, and at least one arm a non-zero variance.
pub fn welch(a: &[f64], b: &[f64], level: f64) -> Result<MeanTest, ModelError> {
    check_level(level)?;
    check_sample(a, "a", 2)?;
    check_sample(b, "b", 2)?;
    let (mean_a, var_a) = mean_var(a);
    let (mean_b, var_b) = mean_var(b);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (wa, wb) = (var_a / na, var_b / nb);
    let se2 = wa + wb;
    if se2 <= 0.0 {
        return Err(ModelError::InsufficientData(
            "both arms have zero variance: the t statistic is undefined".into(),
        ));
    }
    let se = se2.sqrt();
    let difference = mean_b - mean_a;
    let t = difference / se;
    let df = se2 * se2 / (wa * wa / (na - 1.0) + wb * wb / (nb - 1.0));
    let student = StudentsT::new(0.0, 1.0, df).map_err(|e| {
        ModelError::BadParameter(format!("Student's t with {df} degrees of freedom: {e}"))
    })?;
    let p_value = (2.0 * student.sf(t.abs())).min(1.0);
    let half = student.inverse_cdf(1.0 - (1.0 - level) / 2.0) * se;
    Ok(MeanTest {
        mean_a,
        mean_b,
        difference,
        lift: relative(mean_b, mean_a),
        lower: difference - half,
        upper: difference + half,
        t,
        df,
        p_value,
    })
}

/// Percentile bootstrap interval at `level` of `mean(b) − mean(a)` from `draws` replicates
/// (each arm resampled independently with replacement; seeded ChaCha8, so the same inputs
/// give the same interval, whatever the number of threads). Each arm needs at least two finite
/// observations. The cost is `draws × (n_a + n_b)` random draws, spread over rayon's threads.
pub fn bootstrap_difference(
    a: &[f64],
    b: &[f64],
    level: f64,
    draws: usize,
    seed: u64,
) -> Result<(f64, f64), ModelError> {
    check_level(level)?;
    check_sample(a, "a", 2)?;
    check_sample(b, "b", 2)?;
    if draws < 2 {
        return Err(ModelError::BadParameter(format!(
            "draws {draws}: at least 2 bootstrap replicates are needed"
        )));
    }
    let resampled_mean = |x: &[f64], rng: &mut ChaCha8Rng| {
        let n = x.len();
        (0..n).map(|_| x[rng.random_range(0..n)]).sum::<f64>() / n as f64
    };
    // One ChaCha stream per replicate: the replicates run in parallel and still depend only
    // on the seed, not on the number of threads or how rayon splits the work.
    let mut replicates: Vec<f64> = (0..draws as u64)
        .into_par_iter()
        .map(|draw| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(draw);
            let ma = resampled_mean(a, &mut rng);
            resampled_mean(b, &mut rng) - ma
        })
        .collect();
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Ok((
        quantile(&replicates, tail),
        quantile(&replicates, 1.0 - tail),
    ))
}

/// Per-arm sample size of a two-sided z-test with standardised effect `h` (see the module's
/// definitions): solves `π(n) = power` for `x = |h|√(n/2)` by bisection (π is increasing in
/// `x`), to machine precision.
fn solve_sample_size(h: f64, alpha: f64, power: f64) -> Result<f64, ModelError> {
    if alpha.is_nan() || alpha <= 0.0 || alpha >= 1.0 {
        return Err(ModelError::BadParameter(format!(
            "alpha {alpha}: expected a significance level above 0 and below 1"
        )));
    }
    // At n = 0 the test rejects with probability alpha whatever the effect: a power at or
    // below it needs no customers, and is not what anyone plans for.
    if power.is_nan() || power <= alpha || power >= 1.0 {
        return Err(ModelError::BadParameter(format!(
            "power {power}: expected a probability above alpha ({alpha}) and below 1"
        )));
    }
    let normal = std_normal();
    let crit = normal.inverse_cdf(1.0 - alpha / 2.0);
    let pi = |x: f64| normal.cdf(x - crit) + normal.cdf(-x - crit);
    // pi(crit + z_power) ≥ power already from its first term, so the root is below it.
    let (mut lo, mut hi) = (0.0_f64, crit + normal.inverse_cdf(power) + 1.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if pi(mid) < power {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let x = 0.5 * (lo + hi);
    Ok(2.0 * (x / h) * (x / h))
}

/// Customers needed per arm to detect a change of the conversion rate from `base_rate` to
/// `base_rate × (1 + relative_lift)` with a two-sided test at level `alpha` and the given
/// `power`, using Cohen's arcsine effect size (see the module's definitions). Real-valued:
/// round up to recruit.
pub fn sample_size_proportions(
    base_rate: f64,
    relative_lift: f64,
    alpha: f64,
    power: f64,
) -> Result<f64, ModelError> {
    if base_rate.is_nan() || base_rate <= 0.0 || base_rate >= 1.0 {
        return Err(ModelError::BadParameter(format!(
            "base_rate {base_rate}: expected a rate above 0 and below 1"
        )));
    }
    let target = base_rate * (1.0 + relative_lift);
    if !relative_lift.is_finite() || relative_lift == 0.0 || !(0.0..=1.0).contains(&target) {
        return Err(ModelError::BadParameter(format!(
            "relative_lift {relative_lift}: expected a non-zero change that keeps the rate \
             ({target}) between 0 and 1"
        )));
    }
    let h = 2.0 * target.sqrt().asin() - 2.0 * base_rate.sqrt().asin();
    solve_sample_size(h, alpha, power)
}

/// Customers needed per arm to detect a difference of means `difference` between arms whose
/// outcome has standard deviation `sd`, with a two-sided test at level `alpha` and the given
/// `power` (normal approximation, see the module's definitions). Real-valued: round up.
pub fn sample_size_means(
    sd: f64,
    difference: f64,
    alpha: f64,
    power: f64,
) -> Result<f64, ModelError> {
    if !sd.is_finite() || sd <= 0.0 {
        return Err(ModelError::BadParameter(format!(
            "sd {sd}: expected a positive standard deviation"
        )));
    }
    if !difference.is_finite() || difference == 0.0 {
        return Err(ModelError::BadParameter(format!(
            "difference {difference}: expected a finite non-zero difference to detect"
        )));
    }
    solve_sample_size(difference / sd, alpha, power)
}

/// Pearson's chi-square test that the observed arm sizes follow the intended shares:
/// `(χ², p-value)` (see the module's definitions). The shares are normalised to sum to 1, so
/// `[1.0, 1.0]` means an even split.
pub fn sample_ratio_mismatch(
    observed: &[f64],
    expected_shares: &[f64],
) -> Result<(f64, f64), ModelError> {
    if observed.len() != expected_shares.len() {
        return Err(ModelError::BadParameter(format!(
            "{} observed counts but {} expected shares: expected one share per arm",
            observed.len(),
            expected_shares.len()
        )));
    }
    if observed.len() < 2 {
        return Err(ModelError::InsufficientData(format!(
            "{} arms: a split needs at least 2",
            observed.len()
        )));
    }
    if let Some(i) = observed.iter().position(|o| !o.is_finite() || *o < 0.0) {
        return Err(ModelError::BadParameter(format!(
            "observed count {i} is {}: expected a finite non-negative count",
            observed[i]
        )));
    }
    if let Some(i) = expected_shares
        .iter()
        .position(|s| !s.is_finite() || *s <= 0.0)
    {
        return Err(ModelError::BadParameter(format!(
            "expected share {i} is {}: expected a positive share",
            expected_shares[i]
        )));
    }
    let total: f64 = observed.iter().sum();
    if total == 0.0 {
        return Err(ModelError::InsufficientData(
            "no customers observed in any arm".into(),
        ));
    }
    let share_sum: f64 = expected_shares.iter().sum();
    let chi2: f64 = observed
        .iter()
        .zip(expected_shares)
        .map(|(o, s)| {
            let e = total * s / share_sum;
            (o - e) * (o - e) / e
        })
        .sum();
    let dist = ChiSquared::new((observed.len() - 1) as f64).map_err(|e| {
        ModelError::BadParameter(format!(
            "chi-square with {} degrees: {e}",
            observed.len() - 1
        ))
    })?;
    Ok((chi2, dist.sf(chi2)))
}

/// Holm–Bonferroni adjusted p-values, in the order given (see the module's definitions).
/// Inputs are expected in [0, 1]; NaN entries stay NaN and do not count in `m`, as in R's
/// `p.adjust`; an empty input gives an empty output.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p_values.len())
        .filter(|&i| !p_values[i].is_nan())
        .collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    let m = order.len();
    let mut adjusted = vec![f64::NAN; p_values.len()];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max((m - rank) as f64 * p_values[i]);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}

/// One look of the mixture sequential probability ratio test of `rate_b − rate_a = 0` with
/// mixing distribution `N(0, tau2)`: the p-value at this look and the always-valid interval
/// of the difference at `level` (see the module's definitions for the formulas, and for what
/// the caller keeps across looks).
pub fn msprt_proportions(
    a: Proportion,
    b: Proportion,
    tau2: f64,
    level: f64,
) -> Result<Sequential, ModelError> {
    check_level(level)?;
    if !tau2.is_finite() || tau2 <= 0.0 {
        return Err(ModelError::BadParameter(format!(
            "tau2 {tau2}: expected a positive mixing variance"
        )));
    }
    let rate_a = rate(&a, "a")?;
    let rate_b = rate(&b, "b")?;
    let d = rate_b - rate_a;
    let v = rate_a * (1.0 - rate_a) / a.trials + rate_b * (1.0 - rate_b) / b.trials;
    if v <= 0.0 {
        // Both arms are all successes or all failures: the normal approximation has no
        // spread, and Λ tends to 0 (no difference) or to infinity (a sure one).
        let p = if d == 0.0 { 1.0 } else { 0.0 };
        return Ok(Sequential {
            always_valid_p: p,
            lower: d,
            upper: d,
        });
    }
    // In logarithms: the exponent overflows for large effects long before the p-value stops
    // being representable as 0.
    let log_lambda = 0.5 * (v / (v + tau2)).ln() + tau2 * d * d / (2.0 * v * (v + tau2));
    let always_valid_p = (-log_lambda).exp().min(1.0);
    let alpha = 1.0 - level;
    let radius2 = 2.0 * v * (v + tau2) / tau2 * ((1.0 / alpha).ln() + 0.5 * ((v + tau2) / v).ln());
    let radius = radius2.max(0.0).sqrt();
    Ok(Sequential {
        always_valid_p,
        lower: d - radius,
        upper: d + radius,
    })
}

#[cfg(test)]
mod tests {
    use rand_distr::{Binomial, Distribution, LogNormal};

    use super::*;

    const PROPORTIONS: &str = include_str!("../tests/data/abtest/proportions.csv");
    const SAMPLES: &str = include_str!("../tests/data/abtest/samples.csv");
    const WELCH: &str = include_str!("../tests/data/abtest/welch.csv");
    const BOOTSTRAP: &str = include_str!("../tests/data/abtest/bootstrap.csv");
    const SAMPLE_SIZE: &str = include_str!("../tests/data/abtest/sample_size.csv");
    const SRM: &str = include_str!("../tests/data/abtest/srm.csv");
    const HOLM: &str = include_str!("../tests/data/abtest/holm.csv");
    const MSPRT: &str = include_str!("../tests/data/abtest/msprt.csv");

    /// The data rows of a fixture (header skipped), split on commas.
    fn rows(csv: &str) -> Vec<Vec<&str>> {
        csv.lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').collect())
            .collect()
    }

    fn num(s: &str) -> f64 {
        s.parse()
            .unwrap_or_else(|_| panic!("not a number in a fixture: {s:?}"))
    }

    fn list(s: &str) -> Vec<f64> {
        s.split(';').map(num).collect()
    }

    /// `got` equals the peer's `want` to `rel` relative error (absolute below 1e-300, so an
    /// exact zero is matched by an exact zero); NaN matches NaN only.
    fn close(got: f64, want: f64, rel: f64, what: &str) {
        if want.is_nan() {
            assert!(got.is_nan(), "{what}: {got}, peer NaN");
            return;
        }
        let err = (got - want).abs();
        assert!(
            err <= rel * want.abs().max(1e-300),
            "{what}: {got}, peer {want} (error {err:e})"
        );
    }

    /// The samples of one fixture case, arm by arm.
    fn sample(case: &str) -> (Vec<f64>, Vec<f64>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for r in rows(SAMPLES).into_iter().filter(|r| r[0] == case) {
            match r[1] {
                "a" => a.push(num(r[2])),
                _ => b.push(num(r[2])),
            }
        }
        assert!(!a.is_empty() && !b.is_empty(), "no samples for {case}");
        (a, b)
    }

    /// statsmodels `proportions_ztest` (pooled), `confint_proportions_2indep(method='wald')`
    /// and, for the lift, `confint_proportions_2indep(method='log', compare='ratio')`, on six
    /// cases: small and large arms, zero successes in either arm, all successes.
    #[test]
    fn two_proportions_match_statsmodels() {
        let cases = rows(PROPORTIONS);
        assert_eq!(cases.len(), 6);
        for r in cases {
            let v: Vec<f64> = r.iter().map(|s| num(s)).collect();
            let a = Proportion {
                successes: v[0],
                trials: v[1],
            };
            let b = Proportion {
                successes: v[2],
                trials: v[3],
            };
            let t = two_proportions(a, b, v[4]).unwrap();
            let what = format!("{}/{} vs {}/{}", v[0], v[1], v[2], v[3]);
            close(t.rate_a, v[5], 1e-12, &format!("{what} rate_a"));
            close(t.rate_b, v[6], 1e-12, &format!("{what} rate_b"));
            close(t.difference, v[7], 1e-12, &format!("{what} difference"));
            close(t.lift, v[8], 1e-12, &format!("{what} lift"));
            close(t.lower, v[9], 1e-9, &format!("{what} lower"));
            close(t.upper, v[10], 1e-9, &format!("{what} upper"));
            close(t.z, v[11], 1e-9, &format!("{what} z"));
            close(t.p_value, v[12], 1e-9, &format!("{what} p"));
            close(t.lift_lower, v[13], 1e-9, &format!("{what} lift_lower"));
            close(t.lift_upper, v[14], 1e-9, &format!("{what} lift_upper"));
        }
    }

    /// scipy `ttest_ind(b, a, equal_var=False)` and its `confidence_interval(level)`, on
    /// samples drawn by the reference script: small arms, unequal variances, lognormal
    /// revenue, no effect, one constant arm and a p-value of order 1e-25.
    #[test]
    fn welch_matches_scipy() {
        let cases = rows(WELCH);
        assert_eq!(cases.len(), 6);
        for r in cases {
            let (a, b) = sample(r[0]);
            let v: Vec<f64> = r[1..].iter().map(|s| num(s)).collect();
            let t = welch(&a, &b, v[0]).unwrap();
            let what = r[0];
            close(t.mean_a, v[1], 1e-12, &format!("{what} mean_a"));
            close(t.mean_b, v[2], 1e-12, &format!("{what} mean_b"));
            close(t.difference, v[3], 1e-10, &format!("{what} difference"));
            close(t.lift, v[4], 1e-10, &format!("{what} lift"));
            close(t.lower, v[5], 1e-9, &format!("{what} lower"));
            close(t.upper, v[6], 1e-9, &format!("{what} upper"));
            close(t.t, v[7], 1e-9, &format!("{what} t"));
            close(t.df, v[8], 1e-9, &format!("{what} df"));
            close(t.p_value, v[9], 1e-9, &format!("{what} p"));
        }
    }

    /// The percentile interval agrees with scipy's `bootstrap(method='percentile')` (200,000
    /// resamples) within Monte Carlo error: with B replicates the sd of an end point is about
    /// `√(q(1−q)/B) / φ(z_q)` bootstrap standard errors, 0.019 for B = 20,000 at q = 0.025;
    /// the tolerance is 0.1 standard errors, above 4 such sds.
    #[test]
    fn bootstrap_matches_scipy_within_monte_carlo_error() {
        for r in rows(BOOTSTRAP) {
            let (a, b) = sample(r[0]);
            let (level, lower, upper, se) = (num(r[1]), num(r[3]), num(r[4]), num(r[5]));
            let (lo, hi) = bootstrap_difference(&a, &b, level, 20_000, 11).unwrap();
            let tol = 0.1 * se;
            assert!(
                (lo - lower).abs() < tol,
                "{}: lower {lo}, scipy {lower} (tol {tol})",
                r[0]
            );
            assert!(
                (hi - upper).abs() < tol,
                "{}: upper {hi}, scipy {upper} (tol {tol})",
                r[0]
            );
        }
        // Seeded: the same inputs give the same interval.
        let (a, b) = sample("small");
        assert_eq!(
            bootstrap_difference(&a, &b, 0.9, 500, 3).unwrap(),
            bootstrap_difference(&a, &b, 0.9, 500, 3).unwrap()
        );
    }

    /// On lognormal revenue (σ = 1, 80 customers per arm) the 90 % percentile interval
    /// covers the true difference of means in about 90 % of 300 simulated experiments; the
    /// percentile bootstrap under-covers a little on skewed data, and the Monte Carlo sd of
    /// the rate is 0.017, so the band is [0.83, 0.95].
    #[test]
    fn bootstrap_covers_the_true_difference_on_lognormal_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(2017);
        let (da, db) = (
            LogNormal::new(3.0, 1.0).unwrap(),
            LogNormal::new(3.2, 1.0).unwrap(),
        );
        let truth = (3.2_f64 + 0.5).exp() - (3.0_f64 + 0.5).exp();
        let reps = 300;
        let mut covered = 0;
        for rep in 0..reps {
            let a: Vec<f64> = (0..80).map(|_| da.sample(&mut rng)).collect();
            let b: Vec<f64> = (0..80).map(|_| db.sample(&mut rng)).collect();
            let (lo, hi) = bootstrap_difference(&a, &b, 0.9, 400, rep).unwrap();
            covered += usize::from(lo <= truth && truth <= hi);
        }
        let rate = covered as f64 / reps as f64;
        assert!((0.83..=0.95).contains(&rate), "coverage {rate}");
    }

    /// statsmodels `NormalIndPower().solve_power(...)`, with `proportion_effectsize(p2, p1)`
    /// for rates and `difference / sd` for means, and the exact root of its power function.
    #[test]
    fn sample_sizes_match_statsmodels() {
        let cases = rows(SAMPLE_SIZE);
        assert_eq!(cases.len(), 9);
        for r in cases {
            let v: Vec<f64> = r[1..].iter().map(|s| num(s)).collect();
            let n = match r[0] {
                "proportions" => sample_size_proportions(v[0], v[1], v[2], v[3]).unwrap(),
                _ => sample_size_means(v[0], v[1], v[2], v[3]).unwrap(),
            };
            let what = format!("{} {:?}", r[0], &v[..4]);
            // solve_power's own root search stops near 1e-7 absolute (1.5e-9 relative on the
            // 57-customer case); the root of its power function solved to 1e-14 is `n_exact`.
            close(n, v[4], 1e-8, &what);
            close(n, v[5], 1e-10, &format!("{what} exact"));
        }
        // The textbook case by hand: d = 0.2, α = 0.05, power 0.8 gives 2(1.95996 + 0.84162)²
        // / 0.04 = 392.4 per arm (the far tail adds a negligible 1e-6 to the power).
        let n = sample_size_means(1.0, 0.2, 0.05, 0.8).unwrap();
        assert!((n - 392.443).abs() < 1e-2, "{n}");
    }

    /// scipy `chisquare(observed, f_exp=shares * total)`: even and uneven splits, three arms,
    /// an empty arm and a p-value of order 1e-21.
    #[test]
    fn sample_ratio_mismatch_matches_scipy() {
        for r in rows(SRM) {
            let (obs, shares) = (list(r[0]), list(r[1]));
            let (chi2, p) = sample_ratio_mismatch(&obs, &shares).unwrap();
            close(chi2, num(r[2]), 1e-12, &format!("{obs:?} chi2"));
            close(p, num(r[3]), 1e-9, &format!("{obs:?} p"));
        }
        // Shares are normalised: weights 1:1 are an even split.
        let even = sample_ratio_mismatch(&[10321.0, 9679.0], &[1.0, 1.0]).unwrap();
        close(even.0, 20.6082, 1e-12, "normalised shares");
    }

    /// statsmodels `multipletests(method='holm')[1]`, ties and a single p-value included.
    #[test]
    fn holm_matches_statsmodels() {
        for r in rows(HOLM) {
            let (ps, want) = (list(r[0]), list(r[1]));
            let got = holm(&ps);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                close(*g, *w, 1e-12, &format!("holm {ps:?}"));
            }
        }
        assert!(holm(&[]).is_empty());
        // NaN stays NaN and does not count: as if only the two others were given.
        let got = holm(&[0.02, f64::NAN, 0.01]);
        assert!(got[1].is_nan());
        assert_eq!((got[0], got[2]), (0.02, 0.02));
    }

    /// The closed form evaluated by hand in the reference script (no peer library has it),
    /// and one case worked here: 100/1000 against 130/1000, τ² = 1e-4: d = 0.03,
    /// V = 0.09/1000 + 0.1131/1000 = 2.031e-4, Λ = √(2.031/3.031) · exp(1e-4 · 9e-4 /
    /// (2 · 2.031e-4 · 3.031e-4)) = 0.818586 · exp(0.731078) = 1.70032, p = 0.58812.
    #[test]
    fn msprt_matches_the_hand_computed_closed_form() {
        for r in rows(MSPRT) {
            let v: Vec<f64> = r.iter().map(|s| num(s)).collect();
            let a = Proportion {
                successes: v[0],
                trials: v[1],
            };
            let b = Proportion {
                successes: v[2],
                trials: v[3],
            };
            let s = msprt_proportions(a, b, v[4], v[5]).unwrap();
            close(s.always_valid_p, v[6], 1e-12, "mSPRT p");
            close(s.lower, v[7], 1e-12, "mSPRT lower");
            close(s.upper, v[8], 1e-12, "mSPRT upper");
            // The interval excludes 0 exactly when the p-value is below α.
            assert_eq!(
                s.lower > 0.0 || s.upper < 0.0,
                s.always_valid_p < 1.0 - v[5]
            );
        }
        let a = Proportion {
            successes: 100.0,
            trials: 1000.0,
        };
        let b = Proportion {
            successes: 130.0,
            trials: 1000.0,
        };
        let s = msprt_proportions(a, b, 1e-4, 0.95).unwrap();
        assert!((s.always_valid_p - 0.58812).abs() < 1e-5, "{s:?}");
        // Identical degenerate arms: no evidence, a point interval.
        let none = Proportion {
            successes: 0.0,
            trials: 50.0,
        };
        let s = msprt_proportions(none, none, 1e-4, 0.95).unwrap();
        assert_eq!((s.always_valid_p, s.lower, s.upper), (1.0, 0.0, 0.0));
    }

    /// Peeking after every 100 customers per arm up to 20,000, under the null (10 % in both
    /// arms), over 400 seeded experiments: the always-valid p ever drops below 0.05 in at most
    /// 5 % (+ 2 Monte Carlo sds of 0.011) of them, while the fixed-horizon z-test peeked the
    /// same way rejects in far more. With a real effect (10 % → 11 %) the mSPRT still rejects
    /// in most experiments.
    #[test]
    fn msprt_keeps_its_error_rate_under_continuous_peeking() {
        let (tau2, looks, step, reps) = (1e-4, 200, 100_u64, 400);
        let run = |rate_b: f64, seed: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (da, db) = (
                Binomial::new(step, 0.1).unwrap(),
                Binomial::new(step, rate_b).unwrap(),
            );
            let (mut msprt_hits, mut z_hits) = (0, 0);
            for _ in 0..reps {
                let (mut xa, mut xb, mut n) = (0.0, 0.0, 0.0);
                let (mut msprt_rejected, mut z_rejected) = (false, false);
                for _ in 0..looks {
                    xa += da.sample(&mut rng) as f64;
                    xb += db.sample(&mut rng) as f64;
                    n += step as f64;
                    let a = Proportion {
                        successes: xa,
                        trials: n,
                    };
                    let b = Proportion {
                        successes: xb,
                        trials: n,
                    };
                    msprt_rejected |=
                        msprt_proportions(a, b, tau2, 0.95).unwrap().always_valid_p < 0.05;
                    z_rejected |= two_proportions(a, b, 0.95).unwrap().p_value < 0.05;
                }
                msprt_hits += usize::from(msprt_rejected);
                z_hits += usize::from(z_rejected);
            }
            (msprt_hits as f64 / reps as f64, z_hits as f64 / reps as f64)
        };
        let (msprt_null, z_null) = run(0.1, 42);
        assert!(
            msprt_null <= 0.05 + 2.0 * 0.011,
            "mSPRT type I error {msprt_null}"
        );
        assert!(
            z_null > 0.2 && z_null > 3.0 * msprt_null,
            "peeked z-test {z_null}"
        );
        let (msprt_power, _) = run(0.11, 43);
        assert!(msprt_power > 0.6, "mSPRT power {msprt_power}");
    }

    #[test]
    fn bad_inputs_are_refused_with_the_argument_named() {
        let ok = Proportion {
            successes: 5.0,
            trials: 50.0,
        };
        let err = |r: Result<ProportionTest, ModelError>| r.unwrap_err().to_string();
        let none = Proportion {
            successes: 0.0,
            trials: 0.0,
        };
        assert!(matches!(
            two_proportions(none, ok, 0.95),
            Err(ModelError::InsufficientData(_))
        ));
        assert!(err(two_proportions(none, ok, 0.95)).contains("arm a"));
        let over = Proportion {
            successes: 6.0,
            trials: 5.0,
        };
        assert!(matches!(
            two_proportions(ok, over, 0.95),
            Err(ModelError::BadParameter(_))
        ));
        assert!(err(two_proportions(ok, over, 0.95)).contains("arm b"));
        for level in [0.0, 1.0, -0.5, f64::NAN] {
            assert!(err(two_proportions(ok, ok, level)).contains("level"));
            assert!(msprt_proportions(ok, ok, 1e-4, level).is_err());
            assert!(welch(&[1.0, 2.0], &[1.0, 3.0], level).is_err());
        }
        assert!(
            msprt_proportions(ok, ok, 0.0, 0.95)
                .unwrap_err()
                .to_string()
                .contains("tau2")
        );

        let short = welch(&[1.0], &[1.0, 2.0], 0.95);
        assert!(matches!(&short, Err(ModelError::InsufficientData(m)) if m.contains("arm a")));
        let flat = welch(&[2.0, 2.0], &[3.0, 3.0, 3.0], 0.95);
        assert!(matches!(&flat, Err(ModelError::InsufficientData(m)) if m.contains("variance")));
        assert!(welch(&[1.0, f64::NAN], &[1.0, 2.0], 0.95).is_err());
        assert!(bootstrap_difference(&[1.0, 2.0], &[], 0.95, 100, 1).is_err());
        assert!(bootstrap_difference(&[1.0, 2.0], &[1.0, 2.0], 0.95, 1, 1).is_err());

        assert!(
            sample_size_proportions(0.0, 0.1, 0.05, 0.8)
                .unwrap_err()
                .to_string()
                .contains("base_rate")
        );
        assert!(
            sample_size_proportions(0.6, 1.0, 0.05, 0.8)
                .unwrap_err()
                .to_string()
                .contains("relative_lift")
        );
        assert!(sample_size_proportions(0.1, 0.0, 0.05, 0.8).is_err());
        assert!(
            sample_size_means(0.0, 1.0, 0.05, 0.8)
                .unwrap_err()
                .to_string()
                .contains("sd")
        );
        assert!(
            sample_size_means(1.0, 0.0, 0.05, 0.8)
                .unwrap_err()
                .to_string()
                .contains("difference")
        );
        assert!(
            sample_size_means(1.0, 1.0, 1.0, 0.8)
                .unwrap_err()
                .to_string()
                .contains("alpha")
        );
        assert!(
            sample_size_means(1.0, 1.0, 0.05, 0.01)
                .unwrap_err()
                .to_string()
                .contains("power")
        );

        assert!(sample_ratio_mismatch(&[1.0, 2.0], &[0.5]).is_err());
        assert!(sample_ratio_mismatch(&[1.0], &[1.0]).is_err());
        assert!(matches!(
            sample_ratio_mismatch(&[0.0, 0.0], &[0.5, 0.5]),
            Err(ModelError::InsufficientData(_))
        ));
        assert!(sample_ratio_mismatch(&[-1.0, 2.0], &[0.5, 0.5]).is_err());
        assert!(sample_ratio_mismatch(&[1.0, 2.0], &[0.0, 1.0]).is_err());
    }
}
