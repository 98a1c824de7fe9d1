//! The pipeline forecast: the won amount per future period from a set of open deals, each
//! with its amount, its probability of being won and the distribution of when it closes.
//!
//! Definitions:
//! - a deal is won with probability `p_win`, independently of the others; when won, it closes
//!   in period `k` (0-based, after the as-of date) with probability `close[k]`, and after the
//!   horizon with the rest, `1 − Σ close`;
//! - the **expected** won amount of period `k` is `Σ amount × p_win × close[k]` (exact);
//! - the **intervals** are equal-tailed quantiles of the won amount per period over `draws`
//!   simulated outcomes of every deal (seeded ChaCha8: the same inputs give the same bands).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{ModelError, quantile};

/// One open deal.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenDeal {
    /// The amount won if it is won (≥ 0).
    pub amount: f64,
    /// The probability that it is won, in [0, 1].
    pub p_win: f64,
    /// The probability, given that it is won, that it closes in each period of the horizon
    /// (non-negative, summing to at most 1: the rest closes later).
    pub close: Vec<f64>,
}

/// The won amount per period.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineForecast {
    /// Expected won amount per period.
    pub expected: Vec<f64>,
    /// Expected won amount of deals closing after the horizon.
    pub later: f64,
    /// Per level (as given): the lower and upper bounds per period.
    pub intervals: Vec<(f64, Vec<f64>, Vec<f64>)>,
}

/// Forecasts the won amount per period for `horizon` periods (see the module's definitions).
/// No deals give zeros with zero-width bands.
pub fn forecast(
    deals: &[OpenDeal],
    horizon: usize,
    levels: &[f64],
    draws: usize,
    seed: u64,
) -> Result<PipelineForecast, ModelError> {
    if horizon == 0 {
        return Err(ModelError::BadParameter(
            "the horizon must be at least 1 period".into(),
        ));
    }
    if draws == 0 {
        return Err(ModelError::BadParameter(
            "at least one draw is needed".into(),
        ));
    }
    if let Some(l) = levels
        .iter()
        .find(|l| l.is_nan() || **l <= 0.0 || **l >= 1.0)
    {
        return Err(ModelError::BadParameter(format!(
            "interval level {l}: expected a share above 0 and below 1"
        )));
    }
    for (i, d) in deals.iter().enumerate() {
        let total: f64 = d.close.iter().sum();
        let share = |x: f64| x.is_finite() && x >= 0.0;
        if !share(d.amount)
            || !(0.0..=1.0).contains(&d.p_win)
            || !d.close.iter().all(|c| share(*c))
            || total > 1.0 + 1e-9
        {
            return Err(ModelError::BadParameter(format!(
                "deal {i}: amount {}, win probability {}, close probabilities summing to {total}: \
                 expected a non-negative amount, a probability and shares summing to at most 1",
                d.amount, d.p_win
            )));
        }
    }
    let mut expected = vec![0.0; horizon];
    let mut later = 0.0;
    for d in deals {
        let mut inside = 0.0;
        for (k, c) in d.close.iter().take(horizon).enumerate() {
            expected[k] += d.amount * d.p_win * c;
            inside += c;
        }
        later += d.amount * d.p_win * (1.0 - inside).max(0.0);
    }
    // sims[k][j]: won amount of period k in draw j (filled draw by draw, read period by
    // period for the quantiles).
    let mut sims = vec![Vec::with_capacity(draws); horizon];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cumulative: Vec<Vec<f64>> = deals
        .iter()
        .map(|d| {
            d.close
                .iter()
                .take(horizon)
                .scan(0.0, |acc, c| {
                    *acc += c;
                    Some(*acc)
                })
                .collect()
        })
        .collect();
    let mut draw = vec![0.0; horizon];
    for _ in 0..draws {
        draw.fill(0.0);
        for (d, cum) in deals.iter().zip(&cumulative) {
            if d.amount == 0.0 || rng.random::<f64>() >= d.p_win {
                continue;
            }
            let u: f64 = rng.random();
            if let Some(k) = cum.iter().position(|c| u < *c) {
                draw[k] += d.amount;
            }
        }
        for (s, v) in sims.iter_mut().zip(&draw) {
            s.push(*v);
        }
    }
    let intervals = levels
        .iter()
        .map(|&level| {
            let (mut lower, mut upper) = (Vec::with_capacity(horizon), Vec::with_capacity(horizon));
            for s in &mut sims {
                s.sort_by(f64::total_cmp);
                lower.push(quantile(s, (1.0 - level) / 2.0));
                upper.push(quantile(s, 1.0 - (1.0 - level) / 2.0));
            }
            (level, lower, upper)
        })
        .collect();
    Ok(PipelineForecast {
        expected,
        later,
        intervals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values by hand; a sure deal has a band of zero width at its amount.
    #[test]
    fn expected_amounts_by_hand_and_sure_deals() {
        let deals = [
            OpenDeal {
                amount: 100.0,
                p_win: 0.5,
                close: vec![0.2, 0.8],
            },
            OpenDeal {
                amount: 40.0,
                p_win: 1.0,
                close: vec![0.0, 0.5],
            },
        ];
        let f = forecast(&deals, 2, &[0.8], 2000, 7).unwrap();
        assert!((f.expected[0] - 10.0).abs() < 1e-12);
        assert!((f.expected[1] - (40.0 + 20.0)).abs() < 1e-12);
        assert!((f.later - 20.0).abs() < 1e-12);
        let sure = [OpenDeal {
            amount: 40.0,
            p_win: 1.0,
            close: vec![1.0],
        }];
        let f = forecast(&sure, 1, &[0.95], 100, 1).unwrap();
        assert_eq!((f.intervals[0].1[0], f.intervals[0].2[0]), (40.0, 40.0));
        assert!(
            forecast(&[], 3, &[0.8], 10, 1)
                .unwrap()
                .expected
                .iter()
                .all(|v| *v == 0.0)
        );
    }

    /// Many small independent deals: the simulated 95 % band matches the normal
    /// approximation of a sum of Bernoulli amounts.
    #[test]
    fn simulated_band_matches_the_normal_approximation() {
        let deals: Vec<OpenDeal> = (0..400)
            .map(|i| OpenDeal {
                amount: 10.0 + (i % 7) as f64,
                p_win: 0.3,
                close: vec![1.0],
            })
            .collect();
        let f = forecast(&deals, 1, &[0.95], 20_000, 3).unwrap();
        let var: f64 = deals.iter().map(|d| d.amount * d.amount * 0.3 * 0.7).sum();
        let (lo, hi) = (f.intervals[0].1[0], f.intervals[0].2[0]);
        let half = 1.959964 * var.sqrt();
        assert!(
            ((hi - lo) / 2.0 - half).abs() / half < 0.05,
            "{lo}..{hi} against ±{half}"
        );
    }

    #[test]
    fn bad_inputs_are_refused() {
        let ok = OpenDeal {
            amount: 1.0,
            p_win: 0.5,
            close: vec![0.5],
        };
        assert!(forecast(std::slice::from_ref(&ok), 0, &[0.8], 10, 1).is_err());
        assert!(forecast(std::slice::from_ref(&ok), 1, &[1.2], 10, 1).is_err());
        assert!(forecast(std::slice::from_ref(&ok), 1, &[0.8], 0, 1).is_err());
        for bad in [
            OpenDeal {
                amount: -1.0,
                ..ok.clone()
            },
            OpenDeal {
                p_win: f64::NAN,
                ..ok.clone()
            },
            OpenDeal {
                close: vec![0.7, 0.7],
                ..ok.clone()
            },
        ] {
            assert!(forecast(&[bad], 2, &[0.8], 10, 1).is_err());
        }
    }
}
