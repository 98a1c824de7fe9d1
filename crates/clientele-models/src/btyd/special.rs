//! Numerical helpers shared by the BTYD models: the hypergeometric series in the forms the
//! models need, stable log-space arithmetic, and a deterministic parallel sum over patterns.
//!
//! The Gauss hypergeometric functions of BG/NBD and Pareto/NBD are evaluated after an Euler
//! transformation, `₂F₁(a,b;c;z) = (1−z)^{c−a−b} ₂F₁(c−a,c−b;c;z)`, chosen so that the series
//! terms shrink from the first one on (ratio below `z`) whatever the customer's `x`; the series in
//! the papers' form first grows like `n^x` for frequent buyers and then needs thousands of terms.

use rayon::prelude::*;

/// Relative size of the last series term at which a series counts as converged.
const SERIES_TOL: f64 = 1e-16;
/// A series that has not converged after this many terms is reported as NaN (only reached for
/// `z` within about 1e-4 of 1, i.e. absurd parameters during a search).
const MAX_TERMS: usize = 200_000;

/// The trigamma function `ψ₁(x) = d²/dx² ln Γ(x)` for `x > 0`: the recurrence
/// `ψ₁(x) = ψ₁(x+1) + 1/x²` up to `x ≥ 10`, then the asymptotic series
/// `1/x + 1/(2x²) + Σ B₂ₖ/x^{2k+1}` to `B₁₀` (error below 1e-13 there).
pub(crate) fn trigamma(x: f64) -> f64 {
    let mut x = x;
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let z = 1.0 / x;
    let z2 = z * z;
    acc + z
        + 0.5 * z2
        + z * z2
            * (1.0 / 6.0
                - z2 * (1.0 / 30.0 - z2 * (1.0 / 42.0 - z2 * (1.0 / 30.0 - z2 * 5.0 / 66.0))))
}

/// `(1 − e^{kL}) / k` for `L ≤ 0`, continuous at `k = 0` (where it is `−L`); this is
/// `(1 − q^k)/k` with `q = e^L`, which appears in both models' expectations with `k = a − 1`
/// or `k = s − 1` and would cancel catastrophically near 1 if written directly.
pub(crate) fn one_minus_pow_over(k: f64, l: f64) -> f64 {
    let kl = k * l;
    if kl.abs() < 1e-8 {
        -l * (1.0 + 0.5 * kl)
    } else {
        -(kl.exp_m1()) / k
    }
}

/// `ln(1 + e^u)` without overflow.
pub(crate) fn softplus(u: f64) -> f64 {
    if u > 0.0 {
        u + (-u).exp().ln_1p()
    } else {
        u.exp().ln_1p()
    }
}

/// `ln(e^a + e^b)`.
pub(crate) fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// `Σ_{n≥1} (A)_n (a)_{n−1} / ((c)_{n−1} n!) zⁿ`: the BG/NBD conditional expectation's
/// hypergeometric part after the Euler transformation, with the factor `(a−1)/(c−1)` taken out
/// so that the expectation stays finite at `a = 1` and for every `c = a + b + x > 0`.
pub(crate) fn bg_series(big_a: f64, a: f64, c: f64, z: f64) -> f64 {
    if z == 0.0 {
        return 0.0;
    }
    let mut term = big_a * z;
    let mut sum = term;
    let mut n = 1.0;
    for _ in 0..MAX_TERMS {
        let ratio = (big_a + n) * (a + n - 1.0) / ((c + n - 1.0) * (n + 1.0)) * z;
        term *= ratio;
        sum += term;
        if term.abs() <= SERIES_TOL * sum.abs() && ratio.abs() < 1.0 {
            return sum;
        }
        n += 1.0;
    }
    f64::NAN
}

/// `ln ₂F₁(1, b; c; z)` for `0 ≤ z < 1` and `0 < b < c`: all terms are positive and each is at
/// most `z` times the previous one. This is the Pareto/NBD `A₀` series after the Euler
/// transformation.
pub(crate) fn ln_hyp2f1_one(b: f64, c: f64, z: f64) -> f64 {
    if z == 0.0 {
        return 0.0;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut n = 0.0;
    for _ in 0..MAX_TERMS {
        term *= (b + n) / (c + n) * z;
        sum += term;
        if term <= SERIES_TOL * sum {
            return sum.ln();
        }
        n += 1.0;
    }
    f64::NAN
}

/// Patterns per work item of [`par_sum`]; below two chunks the sum runs on the caller's thread.
const CHUNK: usize = 8_192;

/// Sums `f` over `0..n` in fixed chunks, in parallel for large `n`; the chunk partial sums are
/// added in order, so the result does not depend on the number of threads.
pub(crate) fn par_sum<const K: usize, F>(n: usize, f: F) -> [f64; K]
where
    F: Fn(std::ops::Range<usize>) -> [f64; K] + Sync,
{
    let add = |mut acc: [f64; K], part: [f64; K]| {
        for (a, p) in acc.iter_mut().zip(part) {
            *a += p;
        }
        acc
    };
    if n <= 2 * CHUNK {
        return f(0..n);
    }
    let parts: Vec<[f64; K]> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|i| f(i * CHUNK..((i + 1) * CHUNK).min(n)))
        .collect();
    parts.into_iter().fold([0.0; K], add)
}

/// Plain `₂F₁(a, b; c; z)` series, used by the tests to check the transformed forms.
#[cfg(test)]
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut n = 0.0;
    for _ in 0..MAX_TERMS {
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() && n > a.abs() + b.abs() {
            return sum;
        }
        n += 1.0;
    }
    f64::NAN
}
