//! Pareto/NBD (Schmittlein, Morrison & Colombo 1987), in the formulation of Fader, Hardie &
//! Lee, "A note on deriving the Pareto/NBD model and related expressions" (2005): purchases at
//! a Gamma(r, α) Poisson rate λ, exponential lifetimes with a Gamma(s, β) death rate μ.
//!
//! The likelihood (eq. 18) needs `A₀` (eqs. 19–20), a difference of two hypergeometric terms
//! whose form depends on whether `α ≥ β`, exactly as lifetimes' `ParetoNBDFitter._log_A_0`; it
//! is computed in log space (the difference by `ln(−expm1)`), with the series after an Euler
//! transformation so that it converges geometrically for any purchase count. The gradient is by
//! central differences: the data compress to few patterns, and the series' derivatives in the
//! parameters would cost as much.

use serde::Serialize;
use statrs::function::gamma::ln_gamma;

use super::special::{ln_hyp2f1_one, log_add_exp, one_minus_pow_over, par_sum};
use super::{Conditional, Patterns, Summary};

/// Parameter names in fitting order.
pub(crate) const NAMES: [&str; 4] = ["r", "alpha", "s", "beta"];

/// Pareto/NBD parameters: purchase rates λ ~ Gamma(shape `r`, rate `alpha`), death rates
/// μ ~ Gamma(shape `s`, rate `beta`); `alpha` and `beta` are in model time units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ParetoNbd {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Rate (time scale) of the purchase-rate distribution.
    pub alpha: f64,
    /// Shape of the death-rate distribution.
    pub s: f64,
    /// Rate (time scale) of the death-rate distribution.
    pub beta: f64,
}

impl ParetoNbd {
    /// `ln A₀` (FHL note eqs. 19–20) for one customer; `−∞` when `t_x = T` (no time in which
    /// the customer could have died unobserved).
    pub(super) fn ln_a0(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        let (lo, hi, b1) = if alpha >= beta {
            (beta, alpha, s + 1.0)
        } else {
            (alpha, beta, r + x)
        };
        let a1 = r + s + x;
        if (hi - lo) / (hi + t_x) > QUADRATURE_FROM {
            let (p_lo, p_hi) = if alpha >= beta {
                (s + 1.0, r + x)
            } else {
                (r + x, s + 1.0)
            };
            return a1.ln() + ln_integral(lo, hi, p_lo, p_hi, t_x, t);
        }
        // ₂F₁(a1, b1; a1+1; z) / (hi+y)^a1 with z = (hi−lo)/(hi+y), via the Euler form
        // (1−z)^{1−b1} ₂F₁(1, a1+1−b1; a1+1; z), where 1−z = (lo+y)/(hi+y).
        let term = |y: f64| {
            let z = (hi - lo) / (hi + y);
            let ln_hi = (hi + y).ln();
            (1.0 - b1) * ((lo + y).ln() - ln_hi) + ln_hyp2f1_one(a1 + 1.0 - b1, a1 + 1.0, z)
                - a1 * ln_hi
        };
        let l1 = term(t_x);
        let l2 = term(t);
        if l2 >= l1 {
            return f64::NEG_INFINITY;
        }
        l1 + (-(l2 - l1).exp_m1()).ln()
    }

    /// `ln` of the "still alive" term `e^{-(r+x) ln(α+T) − s ln(β+T)}`, the other part of eq. 18.
    fn ln_alive_term(&self, c: &Summary) -> f64 {
        -(self.r + c.x) * (self.alpha + c.t).ln() - self.s * (self.beta + c.t).ln()
    }

    /// `ln(s/(r+s+x)) + ln A₀`, the "died unobserved" term of eq. 18.
    fn ln_dead_term(&self, c: &Summary) -> f64 {
        (self.s / (self.r + self.s + c.x)).ln() + self.ln_a0(c.x, c.t_x, c.t)
    }

    /// Log-likelihood of one customer (FHL note eq. 18).
    pub fn log_likelihood(&self, c: &Summary) -> f64 {
        let ParetoNbd { r, alpha, s, beta } = *self;
        ln_gamma(r + c.x) - ln_gamma(r)
            + r * alpha.ln()
            + s * beta.ln()
            + log_add_exp(self.ln_alive_term(c), self.ln_dead_term(c))
    }

    /// Probability the customer is still active at `T` (FHL note eq. 37).
    pub fn p_alive(&self, c: &Summary) -> f64 {
        1.0 / (1.0 + (self.ln_dead_term(c) - self.ln_alive_term(c)).exp())
    }

    /// Expected repeat purchases in `(0, t]` for a new customer (FHL note eq. 27).
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let l = -(t / self.beta).ln_1p();
        self.r * self.beta / self.alpha * one_minus_pow_over(self.s - 1.0, l)
    }

    pub(crate) fn conditional(&self, c: &Summary) -> Conditional {
        let k = self.beta + c.t;
        Conditional::Pareto(ParetoConditional {
            coef: self.p_alive(c) * (self.r + c.x) * k / (self.alpha + c.t),
            s1: self.s - 1.0,
            k,
        })
    }
}

/// Above this `z` the `A₀` series would need thousands of terms (or never converge, when the
/// death and purchase time scales differ by many orders of magnitude), so `A₀` is integrated
/// numerically instead.
const QUADRATURE_FROM: f64 = 0.95;

/// Gauss–Legendre nodes and weights on [−1, 1] (8 points, positive half).
const GL_NODES: [f64; 4] = [
    0.183_434_642_495_649_8,
    0.525_532_409_916_329,
    0.796_666_477_413_626_7,
    0.960_289_856_497_536_3,
];
const GL_WEIGHTS: [f64; 4] = [
    0.362_683_783_378_362,
    0.313_706_645_877_887_3,
    0.222_381_034_453_374_5,
    0.101_228_536_290_376_3,
];

/// `ln ∫_{t_x}^{T} (lo+τ)^{−p_lo} (hi+τ)^{−p_hi} dτ`, which is `A₀/(r+s+x)` (the integral the
/// hypergeometric terms come from). With `τ = (lo+t_x)e^v − lo` the integrand is smooth in `v`
/// and roughly exponential, so composite Gauss–Legendre on panels over which its log changes by
/// at most about one is accurate to ~1e-13; panels stop once the integrand is e^−45 below its
/// maximum, since it only decreases after its peak.
pub(super) fn ln_integral(lo: f64, hi: f64, p_lo: f64, p_hi: f64, t_x: f64, t: f64) -> f64 {
    let base = lo + t_x;
    let span = ((lo + t) / base).ln();
    if span <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let ln_base = base.ln();
    let gap = hi - lo;
    let phi = |v: f64| (1.0 - p_lo) * (v + ln_base) - p_hi * (gap + base * v.exp()).ln();
    let width = (1.0 / ((1.0 - p_lo).abs() + p_hi)).min(0.25);
    let panels = (span / width).ceil().max(1.0) as usize;
    let width = span / panels as f64;
    let mut peak = f64::NEG_INFINITY;
    // Σ exp(φ − shift) with the shift raised as larger values appear.
    let mut shift = phi(0.0);
    let mut sum = 0.0;
    for k in 0..panels {
        let mid = (k as f64 + 0.5) * width;
        let mut panel_max = f64::NEG_INFINITY;
        for (node, weight) in GL_NODES.iter().zip(GL_WEIGHTS) {
            for v in [mid - node * 0.5 * width, mid + node * 0.5 * width] {
                let f = phi(v);
                panel_max = panel_max.max(f);
                if f > shift {
                    sum *= (shift - f).exp();
                    shift = f;
                }
                sum += weight * 0.5 * width * (f - shift).exp();
            }
        }
        peak = peak.max(panel_max);
        if panel_max < peak - 45.0 {
            break;
        }
    }
    shift + sum.ln()
}

/// One customer's constants for the conditional expectation (FHL note eq. 41):
/// `P(alive)·(r+x)(β+T)/(α+T) · (1 − ((β+T)/(β+T+t))^{s−1})/(s−1)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParetoConditional {
    coef: f64,
    s1: f64,
    k: f64,
}

impl ParetoConditional {
    pub(crate) fn expected(&self, t: f64) -> f64 {
        self.coef * one_minus_pow_over(self.s1, -(t / self.k).ln_1p())
    }
}

/// Mean negative log-likelihood over compressed patterns, in log-parameters.
pub(crate) struct Objective<'a> {
    pub(crate) p: &'a Patterns,
}

impl super::optim::Objective for Objective<'_> {
    fn value(&self, theta: &[f64]) -> f64 {
        let m = ParetoNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            s: theta[2].exp(),
            beta: theta[3].exp(),
        };
        let common = -ln_gamma(m.r) + m.r * m.alpha.ln() + m.s * m.beta.ln();
        let lg: Vec<f64> = self.p.groups.iter().map(|&x| ln_gamma(m.r + x)).collect();
        let p = self.p;
        let [sum] = par_sum::<1, _>(p.len(), |range| {
            let mut acc = 0.0;
            for i in range {
                let c = Summary {
                    x: p.x[i],
                    t_x: p.t_x[i],
                    t: p.t[i],
                };
                let ll =
                    lg[p.group[i] as usize] + log_add_exp(m.ln_alive_term(&c), m.ln_dead_term(&c));
                acc += p.w[i] * ll;
            }
            [acc]
        });
        let v = -(sum / p.total_weight + common);
        if v.is_finite() { v } else { f64::INFINITY }
    }

    fn weight(&self) -> f64 {
        self.p.total_weight
    }
}
