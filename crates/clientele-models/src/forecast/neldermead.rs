//! A small Nelder–Mead minimiser for the ETS fit: the standard coefficients of Lagarias, Reeds,
//! Wright & Wright (1998) — reflection 1, expansion 2, contraction ½, shrink ½ — and R's
//! `nmmin` stopping rule on the spread of the simplex's values. The simplex lives in one flat
//! buffer, so an iteration allocates nothing (argmin's allocated an `ndarray` per vertex).

/// Where a run ended.
#[derive(Debug, Clone)]
pub(super) struct Minimum {
    /// The best vertex.
    pub x: Vec<f64>,
    /// Its value.
    pub value: f64,
    /// Objective evaluations made.
    #[cfg(test)]
    pub evaluations: usize,
}

/// Minimises `f` from the simplex `vertices` (n + 1 points of n coordinates): stops when the
/// worst and best values differ by at most `rel · (|best| + rel)`, or after `max_evals`
/// evaluations. Infinite values mark infeasible points; ties keep the earlier vertex, so a run
/// is deterministic.
///
/// `f(x, bound)` is the value at x, or may be any value above `bound` when the value is above
/// it: every bound passed is such that a point valued above it is rejected whatever its value
/// (the reflection against the worst vertex, the expansion and the outside contraction
/// against the reflection, the inside contraction against the worst), so the path is the one
/// the exact values give.
pub(super) fn minimise(
    mut f: impl FnMut(&[f64], f64) -> f64,
    vertices: &[Vec<f64>],
    rel: f64,
    max_evals: usize,
) -> Minimum {
    let n = vertices[0].len();
    let mut pts: Vec<f64> = vertices.iter().flatten().copied().collect();
    let mut vals: Vec<f64> = vertices.iter().map(|v| f(v, f64::INFINITY)).collect();
    let mut evaluations = vertices.len();
    let mut centre = vec![0.0; n];
    let mut xr = vec![0.0; n];
    let mut xe = vec![0.0; n];
    let mut sum = vec![0.0; n];
    let mut since_sum = usize::MAX;
    // Replaces the worst vertex, keeping the running sum.
    let replace = |pts: &mut [f64], sum: &mut [f64], hi: usize, by: &[f64]| {
        let v = &mut pts[hi * n..(hi + 1) * n];
        for ((t, old), new) in sum.iter_mut().zip(v.iter()).zip(by) {
            *t += new - old;
        }
        v.copy_from_slice(by);
    };
    loop {
        // Best, worst and second worst, by value then index.
        let (mut lo, mut hi) = (0, 0);
        for i in 1..=n {
            if vals[i] < vals[lo] {
                lo = i;
            }
            if vals[i] >= vals[hi] {
                hi = i;
            }
        }
        let mut second = if hi == 0 { 1 } else { 0 };
        for i in 0..=n {
            if i != hi && vals[i] >= vals[second] {
                second = i;
            }
        }
        let (fl, fh, fs) = (vals[lo], vals[hi], vals[second]);
        if fh - fl <= rel * (fl.abs() + rel) || evaluations >= max_evals {
            return Minimum {
                x: pts[lo * n..(lo + 1) * n].to_vec(),
                value: fl,
                #[cfg(test)]
                evaluations,
            };
        }
        // The centroid of all but the worst from the running sum of the vertices, summed
        // afresh every 64 replacements (and after a shrink) so rounding cannot drift.
        if since_sum >= 64 {
            sum_vertices(&pts, n, &mut sum);
            since_sum = 0;
        }
        since_sum += 1;
        let worst = hi * n..(hi + 1) * n;
        for ((c, t), w) in centre.iter_mut().zip(&sum).zip(&pts[worst.clone()]) {
            *c = (t - w) / n as f64;
        }
        for ((r, c), w) in xr.iter_mut().zip(&centre).zip(&pts[worst.clone()]) {
            *r = c + (c - w);
        }
        let fr = f(&xr, fh);
        evaluations += 1;
        if fr < fl {
            for ((e, c), r) in xe.iter_mut().zip(&centre).zip(&xr) {
                *e = c + 2.0 * (r - c);
            }
            let fe = f(&xe, fr);
            evaluations += 1;
            if fe < fr {
                replace(&mut pts, &mut sum, hi, &xe);
                vals[hi] = fe;
            } else {
                replace(&mut pts, &mut sum, hi, &xr);
                vals[hi] = fr;
            }
            continue;
        }
        if fr < fs {
            replace(&mut pts, &mut sum, hi, &xr);
            vals[hi] = fr;
            continue;
        }
        // Contraction: outside the simplex if the reflection beat the worst, inside otherwise.
        let outside = fr < fh;
        for ((e, c), (r, w)) in xe
            .iter_mut()
            .zip(&centre)
            .zip(xr.iter().zip(&pts[worst.clone()]))
        {
            let toward = if outside { *r } else { *w };
            *e = c + 0.5 * (toward - c);
        }
        let fc = f(&xe, if outside { fr } else { fh });
        evaluations += 1;
        if (outside && fc <= fr) || (!outside && fc < fh) {
            replace(&mut pts, &mut sum, hi, &xe);
            vals[hi] = fc;
            continue;
        }
        // Shrink every vertex halfway toward the best.
        xr.copy_from_slice(&pts[lo * n..(lo + 1) * n]);
        for i in (0..=n).filter(|i| *i != lo) {
            let v = &mut pts[i * n..(i + 1) * n];
            for (p, b) in v.iter_mut().zip(&xr) {
                *p = b + 0.5 * (*p - b);
            }
            vals[i] = f(v, f64::INFINITY);
            evaluations += 1;
        }
        since_sum = usize::MAX;
    }
}

/// The coordinate sums of the n + 1 vertices.
fn sum_vertices(pts: &[f64], n: usize, sum: &mut [f64]) {
    sum.iter_mut().for_each(|t| *t = 0.0);
    for v in pts.chunks_exact(n) {
        for (t, p) in sum.iter_mut().zip(v) {
            *t += p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64]) -> f64 {
        x.windows(2)
            .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
            .sum()
    }

    fn simplex(start: &[f64], step: f64) -> Vec<Vec<f64>> {
        let mut out = vec![start.to_vec()];
        for i in 0..start.len() {
            let mut v = start.to_vec();
            v[i] += step;
            out.push(v);
        }
        out
    }

    #[test]
    fn finds_the_minimum_of_rosenbrock() {
        let m = minimise(
            |x, _| rosenbrock(x),
            &simplex(&[-1.2, 1.0], 0.1),
            1e-14,
            10_000,
        );
        assert!(m.value < 1e-10, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4,
            "{m:?}"
        );
        // A handful of restarts reaches the minimum in four dimensions too.
        let mut x = vec![-1.0, 0.5, -0.5, 1.5];
        let mut value = f64::INFINITY;
        for _ in 0..10 {
            let m = minimise(|x, _| rosenbrock(x), &simplex(&x, 0.1), 1e-14, 20_000);
            x = m.x;
            value = m.value;
        }
        assert!(value < 1e-8, "{value} at {x:?}");
        assert!(x.iter().all(|v| (v - 1.0).abs() < 1e-3), "{x:?}");
    }

    #[test]
    fn respects_infeasible_points_and_the_evaluation_cap() {
        // x ≥ 1 is infeasible: the minimum of (x − 2)² on x < 1 is approached from inside.
        let f = |x: &[f64]| {
            if x[0] >= 1.0 {
                f64::INFINITY
            } else {
                (x[0] - 2.0).powi(2)
            }
        };
        let m = minimise(|x, _| f(x), &[vec![0.0], vec![0.5]], 1e-12, 5_000);
        assert!(m.x[0] < 1.0 && m.x[0] > 0.999, "{m:?}");
        let capped = minimise(|x, _| rosenbrock(x), &simplex(&[-1.2, 1.0], 0.1), 0.0, 50);
        assert!(capped.evaluations <= 53, "{}", capped.evaluations);
        // Deterministic: the same run twice gives the same bits.
        let again = minimise(|x, _| rosenbrock(x), &simplex(&[-1.2, 1.0], 0.1), 0.0, 50);
        assert_eq!(capped.x, again.x);
    }
}
