//! Gamma-Gamma spend model (Fader, Hardie & Lee, "RFM and CLV: using iso-value curves", 2005;
//! Fader & Hardie, "The Gamma-Gamma model of monetary value", 2013): each purchase's value is
//! Gamma(p, ν) with a customer-specific rate ν ~ Gamma(q, γ), independent of the purchase
//! process.
//!
//! The likelihood is that of the mean value `m̄` of a customer's `x` repeat purchases. Its
//! log-gamma terms depend only on `x`, and `Σ (p x − 1) ln m̄` only on sums fixed before the
//! search, so an evaluation costs one logarithm per customer, and the gradient and Hessian are
//! analytic.

use serde::Serialize;
use statrs::function::gamma::{digamma, ln_gamma};

use super::special::{par_sum, trigamma};
use crate::ModelError;

/// Parameter names in fitting order.
const NAMES: [&str; 3] = ["p", "q", "gamma"];

/// Fewer repeat buyers than this cannot pin down three parameters.
const MIN_REPEAT_BUYERS: usize = 10;

/// Gamma-Gamma parameters: purchase values ~ Gamma(shape `p`, rate ν), ν ~ Gamma(shape `q`,
/// rate `gamma`). The population mean purchase value is `p·gamma/(q−1)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GammaGamma {
    /// Shape of the purchase-value distribution.
    pub p: f64,
    /// Shape of the customers' rate distribution.
    pub q: f64,
    /// Rate (value scale) of the customers' rate distribution.
    pub gamma: f64,
}

impl GammaGamma {
    /// Expected value of a customer's future purchases given `frequency` repeat purchases with
    /// mean value `mean_value`: `p(γ + x·m̄)/(p·x + q − 1)`, a weighted average of the
    /// population mean and the customer's own mean. For `frequency = 0` (or a non-positive
    /// mean value, which the fit ignores as well) this is the population mean `p·γ/(q−1)`.
    pub fn expected_spend(&self, frequency: f64, mean_value: f64) -> f64 {
        let (x, m) = if frequency > 0.0 && mean_value > 0.0 {
            (frequency, mean_value)
        } else {
            (0.0, 0.0)
        };
        self.p * (self.gamma + x * m) / (self.p * x + self.q - 1.0)
    }

    /// Log-likelihood of one repeat buyer's mean value (`frequency > 0`, `mean_value > 0`).
    pub fn log_likelihood(&self, frequency: f64, mean_value: f64) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let (x, m) = (frequency, mean_value);
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * gamma.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (gamma + x * m).ln()
    }
}

/// A fitted Gamma-Gamma model with its diagnostics; standard errors as for
/// [`super::PurchaseFit`] (NaN when the Hessian is not positive definite).
#[derive(Clone, Debug, Serialize)]
pub struct SpendFit {
    /// The fitted model.
    pub model: GammaGamma,
    /// Standard error per parameter, in the order `p, q, gamma`.
    pub std_errors: Vec<(&'static str, f64)>,
    /// Total log-likelihood over the repeat buyers used.
    pub log_likelihood: f64,
    /// Number of repeat buyers the model was fitted to.
    pub n_customers: usize,
}

/// Fits the Gamma-Gamma model by maximum likelihood.
///
/// `frequency` is `x` (repeat purchases) and `mean_value` the mean value of those repeat
/// purchases, one entry per customer. Only customers with `x > 0` and a positive mean value are
/// used (the model says nothing about the others). Errors: [`ModelError::BadParameter`] for
/// slices of different lengths or negative/non-finite values; [`ModelError::InsufficientData`]
/// with fewer than 10 usable repeat buyers, or when the estimate has `q ≤ 1` (the data then
/// imply an infinite mean spend per customer); [`ModelError::NoConvergence`] as for
/// [`super::fit_purchase`].
pub fn fit_gamma_gamma(frequency: &[f64], mean_value: &[f64]) -> Result<SpendFit, ModelError> {
    if frequency.len() != mean_value.len() {
        return Err(ModelError::BadParameter(format!(
            "{} frequencies but {} mean values",
            frequency.len(),
            mean_value.len()
        )));
    }
    let mut rows: Vec<(f64, f64)> = Vec::new();
    for (i, (&x, &m)) in frequency.iter().zip(mean_value).enumerate() {
        if !(x.is_finite() && x >= 0.0 && !m.is_nan() && m.is_finite() && m >= 0.0) {
            return Err(ModelError::BadParameter(format!(
                "customer #{i}: frequency {x} and mean value {m} must be finite and ≥ 0"
            )));
        }
        if x > 0.0 && m > 0.0 {
            rows.push((x, m));
        }
    }
    if rows.len() < MIN_REPEAT_BUYERS {
        return Err(ModelError::InsufficientData(format!(
            "only {} repeat buyers with a positive mean value; the Gamma-Gamma model needs at \
             least {MIN_REPEAT_BUYERS}",
            rows.len()
        )));
    }
    let data = SpendData::new(&rows);
    let sub = super::subsample(&rows).map(|s| SpendData::new(&s));
    let mean = rows.iter().map(|r| r.1).sum::<f64>() / rows.len() as f64;
    // p = 2, q = 3 and γ = mean make the start's population mean p·γ/(q−1) the sample mean.
    let start = [2.0f64.ln(), 3.0f64.ln(), mean.ln()];
    let opt = super::optim::minimise(
        &data,
        sub.as_ref().map(|s| s as &dyn super::optim::Objective),
        &start,
    )?;
    let v = super::optim::finish(&NAMES, &opt)?;
    let model = GammaGamma {
        p: v[0],
        q: v[1],
        gamma: v[2],
    };
    if model.q <= 1.0 {
        return Err(ModelError::InsufficientData(format!(
            "the Gamma-Gamma estimate q = {:.3} is ≤ 1, so the expected spend is infinite: \
             purchase values vary too much between customers for this model",
            model.q
        )));
    }
    // The objective is the mean negative log-likelihood at the same parameters.
    let log_likelihood = -super::optim::Objective::value(&data, &opt.theta) * data.n;
    Ok(SpendFit {
        model,
        std_errors: NAMES.iter().copied().zip(opt.std_errors).collect(),
        log_likelihood,
        n_customers: rows.len(),
    })
}

/// Repeat buyers, with the parameter-free sums of the likelihood precomputed.
pub(super) struct SpendData {
    /// `x` per customer.
    x: Vec<f64>,
    /// `x·m̄` per customer.
    xm: Vec<f64>,
    /// Distinct `x`, ascending, with their customer count and `Σ ln m̄`.
    groups: Vec<(f64, f64, f64)>,
    n: f64,
}

impl SpendData {
    pub(super) fn new(rows: &[(f64, f64)]) -> SpendData {
        let mut index: std::collections::HashMap<u64, usize, ahash::RandomState> =
            std::collections::HashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8));
        let mut groups: Vec<(f64, f64, f64)> = Vec::new();
        for &(x, m) in rows {
            let g = *index.entry(x.to_bits()).or_insert_with(|| {
                groups.push((x, 0.0, 0.0));
                groups.len() - 1
            });
            groups[g].1 += 1.0;
            groups[g].2 += m.ln();
        }
        groups.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        SpendData {
            x: rows.iter().map(|r| r.0).collect(),
            xm: rows.iter().map(|r| r.0 * r.1).collect(),
            groups,
            n: rows.len() as f64,
        }
    }

    /// Value, gradient and (when `want_hess`) Hessian of the mean negative log-likelihood in
    /// log-parameters. In `(p, q, γ)` the per-`x` log-gamma terms give
    /// `∂²/∂p² = n_x x²(ψ₁(px+q) − ψ₁(px))`, `∂²/∂p∂q = n_x x ψ₁(px+q)`,
    /// `∂²/∂q² = n_x(ψ₁(px+q) − ψ₁(q))`, `∂²/∂q∂γ = n/γ`, `∂²/∂γ² = −nq/γ²`, and each customer's
    /// `−(px+q) ln(γ+xm̄)` adds `−x/v` to `∂²/∂p∂γ`, `−1/v` to `∂²/∂q∂γ` and `(px+q)/v²` to
    /// `∂²/∂γ²` (with `v = γ + xm̄`).
    fn eval(&self, theta: &[f64], want_grad: bool, want_hess: bool) -> (f64, [f64; 3], [f64; 9]) {
        let [p, q, gamma] = [theta[0].exp(), theta[1].exp(), theta[2].exp()];
        let want_grad = want_grad || want_hess;
        let ln_gamma_rate = gamma.ln();
        let (lg_q, psi_q) = (ln_gamma(q), if want_grad { digamma(q) } else { 0.0 });
        let tri_q = if want_hess { trigamma(q) } else { 0.0 };
        // Per-x parts: n_x·(lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln γ + px ln x) + (px − 1)·Σ ln m̄.
        let mut ll = 0.0;
        let mut d = [0.0; 3];
        let mut h = [[0.0; 3]; 3];
        for &(x, nx, slm) in &self.groups {
            let px = p * x;
            ll += nx * (ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_gamma_rate + px * x.ln())
                + (px - 1.0) * slm;
            if want_grad {
                let psi_pxq = digamma(px + q);
                d[0] += nx * x * (psi_pxq - digamma(px) + x.ln()) + x * slm;
                d[1] += nx * (psi_pxq - psi_q + ln_gamma_rate);
            }
            if want_hess {
                let tri_pxq = trigamma(px + q);
                h[0][0] += nx * x * x * (tri_pxq - trigamma(px));
                h[0][1] += nx * x * tri_pxq;
                h[1][1] += nx * (tri_pxq - tri_q);
            }
        }
        // Per-customer part: −Σ (p x + q) ln(γ + x m̄).
        let (x, xm) = (&self.x, &self.xm);
        let s = par_sum::<6, _>(x.len(), |range| {
            let mut acc = [0.0; 6];
            for i in range {
                let v = gamma + xm[i];
                let l = v.ln();
                acc[0] += x[i] * l;
                acc[1] += l;
                if want_grad {
                    let inv = 1.0 / v;
                    acc[2] += x[i] * inv;
                    acc[3] += inv;
                    if want_hess {
                        acc[4] += x[i] * inv * inv;
                        acc[5] += inv * inv;
                    }
                }
            }
            acc
        });
        let n = self.n;
        ll -= p * s[0] + q * s[1];
        d[0] -= s[0];
        d[1] -= s[1];
        d[2] = n * q / gamma - (p * s[2] + q * s[3]);
        h[0][2] = -s[2];
        h[1][2] = n / gamma - s[3];
        h[2][2] = -n * q / (gamma * gamma) + p * s[4] + q * s[5];
        // To log-parameters (see the BG/NBD objective), as a mean negative log-likelihood.
        let params = [p, q, gamma];
        let mut hess = [0.0; 9];
        if want_hess {
            for i in 0..3 {
                for j in i..3 {
                    let mut v = params[i] * params[j] * h[i][j];
                    if i == j {
                        v += params[i] * d[i];
                    }
                    hess[i * 3 + j] = -v / n;
                    hess[j * 3 + i] = -v / n;
                }
            }
        }
        (
            -ll / n,
            [-d[0] * p / n, -d[1] * q / n, -d[2] * gamma / n],
            hess,
        )
    }
}

impl super::optim::Objective for SpendData {
    fn value(&self, theta: &[f64]) -> f64 {
        let v = self.eval(theta, false, false).0;
        if v.is_finite() { v } else { f64::INFINITY }
    }

    fn value_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (v, g, _) = self.eval(theta, true, false);
        grad.copy_from_slice(&g);
        v
    }

    fn value_grad_hess(&self, theta: &[f64], grad: &mut [f64], hess: &mut [f64]) -> Option<f64> {
        let (v, g, h) = self.eval(theta, true, true);
        grad.copy_from_slice(&g);
        hess.copy_from_slice(&h);
        Some(v)
    }

    fn analytic_gradient(&self) -> bool {
        true
    }

    fn weight(&self) -> f64 {
        self.n
    }
}
