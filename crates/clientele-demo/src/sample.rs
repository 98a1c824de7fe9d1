//! Random draws used by the generator: thin wrappers over `rand_distr` that take the
//! parameterisation used in the marketing literature (Gamma by shape and *rate*), never fail
//! on degenerate parameters (they return the limit instead), and name each random stream.
//!
//! May use: nothing of the crate.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp1, Gamma, Poisson, StandardNormal};

/// The generator's random number generator: ChaCha8, whose output for a seed is fixed
/// across platforms and releases of `rand_chacha`.
pub(crate) type DemoRng = ChaCha8Rng;

/// Independent random streams, one per part of the company, so that changing how one part
/// is drawn does not reshuffle the others.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Products = 1,
    Reps = 2,
    Campaigns = 3,
    Spend = 4,
    Customers = 5,
    Leads = 6,
    Kpi = 7,
    /// Reactions, shares and downloads: drawn from a stream of their own so that adding them
    /// left every other table of a seed as it was.
    Engagement = 8,
    /// Guest orders brought by the marketing spend (`mix`), on their own stream too.
    Guests = 9,
}

/// The generator of one stream for a seed.
pub(crate) fn stream(seed: u64, which: Stream) -> DemoRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(which as u64);
    rng
}

/// Gamma with shape `shape` and rate `rate` (mean shape/rate). Degenerate parameters give 0.
pub(crate) fn gamma<R: Rng>(rng: &mut R, shape: f64, rate: f64) -> f64 {
    match Gamma::new(shape, 1.0 / rate) {
        Ok(g) => g.sample(rng),
        Err(_) => 0.0,
    }
}

/// Beta(a, b). Degenerate parameters give the mean a/(a+b), or 0.5.
pub(crate) fn beta<R: Rng>(rng: &mut R, a: f64, b: f64) -> f64 {
    match Beta::new(a, b) {
        Ok(d) => d.sample(rng),
        Err(_) if a + b > 0.0 => a / (a + b),
        Err(_) => 0.5,
    }
}

/// Poisson count with mean `mean` (0 for a non-positive or non-finite mean).
pub(crate) fn poisson<R: Rng>(rng: &mut R, mean: f64) -> u32 {
    if mean.is_nan() || mean <= 0.0 || mean.is_infinite() {
        return 0;
    }
    match Poisson::new(mean) {
        Ok(d) => {
            let x: f64 = d.sample(rng);
            x.min(f64::from(u32::MAX)) as u32
        }
        Err(_) => 0,
    }
}

/// Standard normal.
pub(crate) fn normal<R: Rng>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

/// Log-normal given by its median and the standard deviation of its logarithm.
pub(crate) fn lognormal<R: Rng>(rng: &mut R, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// Exponential with mean 1.
pub(crate) fn exp1<R: Rng>(rng: &mut R) -> f64 {
    Exp1.sample(rng)
}

/// True with probability `p`.
pub(crate) fn chance<R: Rng>(rng: &mut R, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Uniform on [lo, hi).
pub(crate) fn uniform<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Uniform integer in `0..n` (0 when n is 0).
pub(crate) fn below<R: Rng>(rng: &mut R, n: usize) -> usize {
    if n == 0 { 0 } else { rng.random_range(0..n) }
}

/// Index drawn with probability proportional to `weights` (short lists: a linear scan).
pub(crate) fn pick<R: Rng>(rng: &mut R, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len().saturating_sub(1)
}

/// Like [`pick`], over the weights of a list of `(item, weight)` pairs; returns the item.
pub(crate) fn pick_pair<R: Rng, T: Copy>(rng: &mut R, pairs: &[(T, f64)]) -> T {
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let mut u = rng.random::<f64>() * total;
    for (item, w) in pairs {
        if u < *w {
            return *item;
        }
        u -= w;
    }
    pairs[pairs.len() - 1].0
}

/// Seconds into a day, with the hour drawn from `hour_weights`.
pub(crate) fn time_of_day<R: Rng>(rng: &mut R, hour_weights: &[f64; 24]) -> i64 {
    let h = pick(rng, hour_weights) as i64;
    h * 3600 + rng.random_range(0..3600)
}

/// Seconds into a working day (08:00–18:00).
pub(crate) fn business_time<R: Rng>(rng: &mut R) -> i64 {
    8 * 3600 + rng.random_range(0..10 * 3600)
}

/// The logistic function.
pub(crate) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
        (m, v)
    }

    #[test]
    fn streams_are_deterministic_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map(|_| stream(7, Stream::Customers).random())
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| stream(7, Stream::Customers).random())
            .collect();
        assert_eq!(a, b);
        let mut c = stream(7, Stream::Leads);
        let mut d = stream(7, Stream::Customers);
        assert_ne!(c.random::<u64>(), d.random::<u64>());
    }

    #[test]
    fn gamma_uses_shape_and_rate() {
        let mut rng = stream(1, Stream::Customers);
        let xs: Vec<f64> = (0..200_000).map(|_| gamma(&mut rng, 0.75, 6.0)).collect();
        let (m, v) = mean_var(&xs);
        // Mean r/α = 0.125, variance r/α² ≈ 0.0208.
        assert!((m - 0.125).abs() < 0.002, "{m}");
        assert!((v - 0.75 / 36.0).abs() < 0.001, "{v}");
        assert!(xs.iter().all(|x| *x >= 0.0));
        assert_eq!(gamma(&mut rng, -1.0, 1.0), 0.0);
    }

    #[test]
    fn beta_mean_and_degenerate_parameters() {
        let mut rng = stream(2, Stream::Customers);
        let xs: Vec<f64> = (0..200_000).map(|_| beta(&mut rng, 0.8, 2.5)).collect();
        let (m, v) = mean_var(&xs);
        let (a, b) = (0.8, 2.5);
        assert!((m - a / (a + b)).abs() < 0.003, "{m}");
        let want_v = a * b / ((a + b) * (a + b) * (a + b + 1.0));
        assert!((v - want_v).abs() < 0.002, "{v}");
        assert!(xs.iter().all(|x| (0.0..=1.0).contains(x)));
        assert_eq!(beta(&mut rng, 0.0, 0.0), 0.5);
    }

    #[test]
    fn poisson_mean_and_edges() {
        let mut rng = stream(3, Stream::Customers);
        let xs: Vec<f64> = (0..100_000)
            .map(|_| f64::from(poisson(&mut rng, 2.5)))
            .collect();
        let (m, v) = mean_var(&xs);
        assert!((m - 2.5).abs() < 0.03, "{m}");
        assert!((v - 2.5).abs() < 0.08, "{v}");
        assert_eq!(poisson(&mut rng, 0.0), 0);
        assert_eq!(poisson(&mut rng, f64::NAN), 0);
        assert_eq!(poisson(&mut rng, -1.0), 0);
    }

    #[test]
    fn lognormal_median_and_pick_frequencies() {
        let mut rng = stream(4, Stream::Customers);
        let mut xs: Vec<f64> = (0..50_001)
            .map(|_| lognormal(&mut rng, 40.0, 0.6))
            .collect();
        xs.sort_by(f64::total_cmp);
        assert!((xs[25_000] - 40.0).abs() < 1.0, "{}", xs[25_000]);

        let mut counts = [0u32; 3];
        for _ in 0..60_000 {
            counts[pick(&mut rng, &[1.0, 2.0, 3.0])] += 1;
        }
        for (c, w) in counts.iter().zip([1.0, 2.0, 3.0]) {
            let share = f64::from(*c) / 60_000.0;
            assert!((share - w / 6.0).abs() < 0.01, "{share}");
        }
        assert_eq!(pick(&mut rng, &[0.0, 0.0, 5.0]), 2);
        assert_eq!(pick_pair(&mut rng, &[("a", 0.0), ("b", 1.0)]), "b");
    }

    #[test]
    fn times_of_day_stay_inside_the_day() {
        let mut rng = stream(5, Stream::Customers);
        let mut w = [0.0; 24];
        w[23] = 1.0;
        for _ in 0..1000 {
            let t = time_of_day(&mut rng, &w);
            assert!((23 * 3600..86_400).contains(&t));
            let b = business_time(&mut rng);
            assert!((8 * 3600..18 * 3600).contains(&b));
        }
        assert!((logistic(0.0) - 0.5).abs() < 1e-12);
    }
}
