//! "Buy till you die" customer-lifetime-value models: BG/NBD and Pareto/NBD for the purchase
//! process, Gamma-Gamma for spend per purchase, and a discounted CLV built from them.
//!
//! Everything works on per-customer summaries `(x, t_x, T)` in model time units (weeks unless
//! the caller chooses otherwise). Fitting is maximum likelihood on log-parameters: customers with
//! identical summaries are first compressed into weighted patterns (the likelihood only depends
//! on the summary), a Nelder–Mead search and BFGS on a subsample get close, and Newton steps on
//! the full data finish; standard errors come from the Hessian (analytic for BG/NBD and
//! Gamma-Gamma, numerical for Pareto/NBD). See [`fit_purchase`] and [`fit_gamma_gamma`] for the
//! error conditions, and [`score`] for scoring a whole customer base.

mod bgnbd;
mod clv;
mod gamma_gamma;
mod optim;
mod pnbd;
mod score;
mod special;
#[cfg(test)]
mod tests;

use rayon::prelude::*;
use serde::Serialize;

use crate::ModelError;

pub use bgnbd::BgNbd;
pub use clv::clv;
pub use gamma_gamma::{GammaGamma, SpendFit, fit_gamma_gamma};
pub use pnbd::ParetoNbd;
pub use score::{ScoreRequest, Scores, score};

/// One customer's purchase history in model time units (weeks by default).
///
/// `x` is the number of repeat purchases (distinct purchase days after the first, within the
/// calibration period), `t_x` the time of the last purchase since the first (0 when `x = 0`),
/// and `t` the time from the first purchase to the end of calibration (often written `T`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of repeat purchases.
    pub x: f64,
    /// Time of the last purchase, measured from the first purchase (recency).
    pub t_x: f64,
    /// Time from the first purchase to the end of calibration (age, `T`).
    pub t: f64,
}

impl Summary {
    /// Builds a summary from one customer's purchase days (ascending; duplicates allowed, since
    /// several purchases on one day count as one). Days after `calibration_end` are ignored; `T`
    /// is `calibration_end − first day` (the end day itself is not counted, which reproduces the
    /// published CDNOW summary). Returns `None` when the customer has no purchase up to
    /// `calibration_end`.
    pub fn from_days(days: &[i64], calibration_end: i64, days_per_unit: f64) -> Option<Summary> {
        debug_assert!(days.windows(2).all(|w| w[0] <= w[1]), "days must be sorted");
        let first = *days.first()?;
        if first > calibration_end {
            return None;
        }
        let mut last = first;
        let mut repeats = 0u32;
        for &d in days.iter().skip(1) {
            if d > calibration_end {
                break;
            }
            if d != last {
                repeats += 1;
                last = d;
            }
        }
        Some(Summary {
            x: f64::from(repeats),
            t_x: (last - first) as f64 / days_per_unit,
            t: (calibration_end - first) as f64 / days_per_unit,
        })
    }
}

/// Which purchase model to fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PurchaseModelKind {
    /// Beta-geometric/NBD (Fader, Hardie & Lee 2005): customers may drop out after each purchase.
    BgNbd,
    /// Pareto/NBD (Schmittlein, Morrison & Colombo 1987): customers drop out at any time.
    ParetoNbd,
}

/// A fitted purchase model, either kind, with the scoring functions both share.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum PurchaseModel {
    /// BG/NBD parameters.
    BgNbd(BgNbd),
    /// Pareto/NBD parameters.
    ParetoNbd(ParetoNbd),
}

impl PurchaseModel {
    /// The parameters by name, in the order `r, alpha, a, b` or `r, alpha, s, beta`.
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        match self {
            PurchaseModel::BgNbd(m) => vec![("r", m.r), ("alpha", m.alpha), ("a", m.a), ("b", m.b)],
            PurchaseModel::ParetoNbd(m) => {
                vec![("r", m.r), ("alpha", m.alpha), ("s", m.s), ("beta", m.beta)]
            }
        }
    }

    /// Log-likelihood of one customer's summary.
    pub fn log_likelihood(&self, c: &Summary) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.log_likelihood(c),
            PurchaseModel::ParetoNbd(m) => m.log_likelihood(c),
        }
    }

    /// Probability that the customer is still active at the end of calibration.
    pub fn p_alive(&self, c: &Summary) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.p_alive(c),
            PurchaseModel::ParetoNbd(m) => m.p_alive(c),
        }
    }

    /// Expected number of purchases in `(T, T + horizon]` given the customer's history.
    pub fn expected_purchases(&self, c: &Summary, horizon: f64) -> f64 {
        self.conditional(c).expected(horizon)
    }

    /// Expected number of repeat purchases in `(0, t]` for a newly acquired customer.
    pub fn expected_purchases_new(&self, t: f64) -> f64 {
        match self {
            PurchaseModel::BgNbd(m) => m.expected_purchases_new(t),
            PurchaseModel::ParetoNbd(m) => m.expected_purchases_new(t),
        }
    }

    /// Per-customer constants of the conditional expectation, so that evaluating it at many
    /// horizons (as [`clv`] does) repeats only the part that depends on the horizon.
    pub(crate) fn conditional(&self, c: &Summary) -> Conditional {
        match self {
            PurchaseModel::BgNbd(m) => m.conditional(c),
            PurchaseModel::ParetoNbd(m) => m.conditional(c),
        }
    }
}

/// The horizon-independent part of `E[X(T, T + t) | x, t_x, T]` for one customer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Conditional {
    Bg(bgnbd::BgConditional),
    Pareto(pnbd::ParetoConditional),
}

impl Conditional {
    /// Expected purchases in `(T, T + t]`.
    pub(crate) fn expected(&self, t: f64) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        match self {
            Conditional::Bg(c) => c.expected(t),
            Conditional::Pareto(c) => c.expected(t),
        }
    }
}

/// A fitted purchase model with its diagnostics.
///
/// `std_errors` are asymptotic standard errors of the parameters (same order as
/// [`PurchaseModel::params`]), from the inverse Hessian of the negative log-likelihood in
/// log-parameter space, mapped to the original parameters by the delta method
/// (`se(θ) = θ · se(log θ)`). When that Hessian is not positive definite at the optimum (the
/// data barely identify a parameter) the fit is still returned, with every standard error NaN.
#[derive(Clone, Debug, Serialize)]
pub struct PurchaseFit {
    /// The fitted model.
    pub model: PurchaseModel,
    /// Standard error per parameter (NaN when the Hessian is not positive definite).
    pub std_errors: Vec<(&'static str, f64)>,
    /// Total log-likelihood over all customers.
    pub log_likelihood: f64,
    /// Number of customers fitted.
    pub n_customers: usize,
    /// Number of distinct `(x, t_x, T)` patterns the customers compressed to.
    pub n_patterns: usize,
    /// Optimiser iterations (Nelder–Mead, BFGS and Newton polish together).
    pub iterations: u64,
}

/// Fits a purchase model by maximum likelihood.
///
/// Errors: [`ModelError::BadParameter`] for an invalid summary (negative or non-finite values,
/// fractional `x`, `t_x > T`); [`ModelError::InsufficientData`] with no customers or fewer than
/// 10 repeat buyers; [`ModelError::NoConvergence`] when the optimiser fails or a parameter runs
/// off to the boundary (above 1e6 or below 1e-8, which means the data do not identify it).
pub fn fit_purchase(kind: PurchaseModelKind, data: &[Summary]) -> Result<PurchaseFit, ModelError> {
    validate(data)?;
    if data.is_empty() {
        return Err(ModelError::InsufficientData(
            "no customers to fit a purchase model to".into(),
        ));
    }
    let repeat = data.iter().filter(|c| c.x > 0.0).count();
    if repeat < MIN_REPEAT_BUYERS {
        return Err(ModelError::InsufficientData(format!(
            "only {repeat} of {} customers made a repeat purchase; a purchase model needs at \
             least {MIN_REPEAT_BUYERS}",
            data.len()
        )));
    }
    let patterns = Patterns::new(data);
    let sub = subsample(data).map(|s| Patterns::new(&s));
    let max_t = data.iter().map(|c| c.t).fold(0.0, f64::max);
    // Time-scale-aware start: alpha and beta are time scales, so start them at a tenth of the
    // longest observation (as lifetimes does by rescaling time) rather than at 1.
    let scale = (max_t / 10.0).max(1e-3);
    let (names, opt) = match kind {
        PurchaseModelKind::BgNbd => {
            let full = bgnbd::Objective { p: &patterns };
            let sub_obj = sub.as_ref().map(|p| bgnbd::Objective { p });
            let start = [1.0, scale, 1.0, 1.0].map(f64::ln);
            let opt = optim::minimise(
                &full,
                sub_obj.as_ref().map(|o| o as &dyn optim::Objective),
                &start,
            )?;
            (bgnbd::NAMES, opt)
        }
        PurchaseModelKind::ParetoNbd => {
            let full = pnbd::Objective { p: &patterns };
            let sub_obj = sub.as_ref().map(|p| pnbd::Objective { p });
            let start = [1.0, scale, 1.0, scale].map(f64::ln);
            let opt = optim::minimise(
                &full,
                sub_obj.as_ref().map(|o| o as &dyn optim::Objective),
                &start,
            )?;
            (pnbd::NAMES, opt)
        }
    };
    let values = optim::finish(&names, &opt)?;
    let model = match kind {
        PurchaseModelKind::BgNbd => PurchaseModel::BgNbd(BgNbd {
            r: values[0],
            alpha: values[1],
            a: values[2],
            b: values[3],
        }),
        PurchaseModelKind::ParetoNbd => PurchaseModel::ParetoNbd(ParetoNbd {
            r: values[0],
            alpha: values[1],
            s: values[2],
            beta: values[3],
        }),
    };
    // The objectives are mean negative log-likelihoods at the same parameters.
    let log_likelihood = -patterns.total_weight
        * match kind {
            PurchaseModelKind::BgNbd => {
                optim::Objective::value(&bgnbd::Objective { p: &patterns }, &opt.theta)
            }
            PurchaseModelKind::ParetoNbd => {
                optim::Objective::value(&pnbd::Objective { p: &patterns }, &opt.theta)
            }
        };
    if !log_likelihood.is_finite() {
        return Err(ModelError::NoConvergence(
            "the fitted purchase model has a non-finite log-likelihood".into(),
        ));
    }
    Ok(PurchaseFit {
        model,
        std_errors: names.iter().copied().zip(opt.std_errors).collect(),
        log_likelihood,
        n_customers: data.len(),
        n_patterns: patterns.len(),
        iterations: opt.iterations,
    })
}

/// Fewer repeat buyers than this cannot pin down the dropout process.
const MIN_REPEAT_BUYERS: usize = 10;

/// Customers used by the Nelder–Mead warm-up on large data; the exact fit runs on all of them.
const SUBSAMPLE: usize = 5_000;

fn validate(data: &[Summary]) -> Result<(), ModelError> {
    for (i, c) in data.iter().enumerate() {
        let ok = c.x.is_finite()
            && c.t_x.is_finite()
            && c.t.is_finite()
            && c.x >= 0.0
            && c.x.fract() == 0.0
            && c.t_x >= 0.0
            && c.t >= 0.0
            && c.t_x <= c.t * (1.0 + 1e-9) + 1e-12;
        if !ok {
            return Err(ModelError::BadParameter(format!(
                "customer summary #{i} is invalid (x={}, t_x={}, T={}): x must be a whole \
                 number ≥ 0 and 0 ≤ t_x ≤ T",
                c.x, c.t_x, c.t
            )));
        }
    }
    Ok(())
}

/// Every k-th customer, so the warm-up sees the whole range of the data; `None` when the data
/// are small enough to use as they are.
fn subsample<T: Copy>(data: &[T]) -> Option<Vec<T>> {
    (data.len() > 2 * SUBSAMPLE).then(|| {
        let step = data.len().div_ceil(SUBSAMPLE);
        data.iter().step_by(step).copied().collect()
    })
}

/// Customers compressed to distinct `(x, t_x, T)` with weights, sorted by `x` so that the
/// constants that depend only on `x` (log-gamma terms) are computed once per group.
pub(crate) struct Patterns {
    pub(crate) x: Vec<f64>,
    pub(crate) t_x: Vec<f64>,
    pub(crate) t: Vec<f64>,
    pub(crate) w: Vec<f64>,
    /// Index into `groups` for each pattern.
    pub(crate) group: Vec<u32>,
    /// Distinct values of `x`, ascending.
    pub(crate) groups: Vec<f64>,
    /// Customers per distinct `x`.
    pub(crate) group_weight: Vec<f64>,
    pub(crate) total_weight: f64,
}

impl Patterns {
    pub(crate) fn new(data: &[Summary]) -> Patterns {
        // Values are finite and non-negative, so their bit patterns sort like the numbers.
        let mut keys: Vec<[u64; 3]> = data
            .iter()
            .map(|c| [c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits()])
            .collect();
        keys.par_sort_unstable();
        let mut p = Patterns {
            x: Vec::new(),
            t_x: Vec::new(),
            t: Vec::new(),
            w: Vec::new(),
            group: Vec::new(),
            groups: Vec::new(),
            group_weight: Vec::new(),
            total_weight: data.len() as f64,
        };
        let mut prev: Option<[u64; 3]> = None;
        for k in keys {
            if prev == Some(k) {
                *p.w.last_mut().expect("a previous pattern exists") += 1.0;
                *p.group_weight.last_mut().expect("a previous group exists") += 1.0;
                continue;
            }
            let x = f64::from_bits(k[0]);
            if p.groups.last() != Some(&x) {
                p.groups.push(x);
                p.group_weight.push(0.0);
            }
            *p.group_weight.last_mut().expect("a group exists") += 1.0;
            p.x.push(x);
            p.t_x.push(f64::from_bits(k[1]));
            p.t.push(f64::from_bits(k[2]));
            p.w.push(1.0);
            p.group.push((p.groups.len() - 1) as u32);
            prev = Some(k);
        }
        p
    }

    pub(crate) fn len(&self) -> usize {
        self.x.len()
    }
}
