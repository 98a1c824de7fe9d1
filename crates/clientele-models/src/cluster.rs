//! Behavioural segmentation: k-means on standardised customer features, the number of
//! clusters chosen by silhouette, and plain-words profiles of the clusters found.
//!
//! The usual flow is: build one row per customer (recency, frequency, monetary value,
//! engagement…), [`log1p_columns`] on the skewed money and count columns, [`standardize`],
//! [`choose_k`], then [`describe`] the clusters on the raw (unscaled) features.
//!
//! Everything is seeded: the same data, `k` and seed give the same clusters, numbered by
//! size (cluster 0 is the largest). Lloyd's iterations are linfa-clustering's; the
//! k-means++ starting centroids are drawn here with our own seeded generator, because
//! linfa's generator comes from an older `rand` than this crate uses.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use linfa::DatasetBase;
use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array2, ArrayBase, ArrayView2, Axis, Data, Ix2};
use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::ModelError;

/// Independent random streams of one seed, so that sampling rows for the fit and for the
/// silhouette do not reuse the numbers that place the starting centroids.
const STREAM_INIT: u64 = 0;
const STREAM_FIT_SAMPLE: u64 = 1;
const STREAM_SILHOUETTE: u64 = 2;

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// Column-wise standardisation to mean 0 and standard deviation 1: `z = (x − mean) / sd`
/// with the population standard deviation (divisor `n`, as scikit-learn's
/// `StandardScaler`). Returns the scaled matrix, the column means and the column standard
/// deviations. A constant column (sd 0) becomes all zeros and reports sd 0, so it takes no
/// part in distances instead of dividing by zero. With no rows, means and sds are 0.
pub fn standardize<S: Data<Elem = f64>>(
    x: &ArrayBase<S, Ix2>,
) -> (Array2<f64>, Vec<f64>, Vec<f64>) {
    let (means, sds) = column_stats(x);
    let mut z = x.to_owned();
    for ((mut col, &mean), &sd) in z.columns_mut().into_iter().zip(&means).zip(&sds) {
        col.mapv_inplace(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 });
    }
    (z, means, sds)
}

/// Column means and population standard deviations (0 when not positive and finite).
fn column_stats<S: Data<Elem = f64>>(x: &ArrayBase<S, Ix2>) -> (Vec<f64>, Vec<f64>) {
    let n = x.nrows() as f64;
    if x.nrows() == 0 {
        return (vec![0.0; x.ncols()], vec![0.0; x.ncols()]);
    }
    x.columns()
        .into_iter()
        .map(|col| {
            let mean = col.sum() / n;
            let sd = (col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
            (mean, if sd > 0.0 && sd.is_finite() { sd } else { 0.0 })
        })
        .unzip()
}

/// A copy of `x` with the given columns transformed by the signed `log1p`,
/// `sign(v) · ln(1 + |v|)`: `ln(1 + v)` for the usual non-negative counts and amounts, and
/// still defined and order-preserving for refunds and other negative values. Use it on
/// skewed money and count features before [`standardize`], so that a few very large
/// customers do not decide the clusters alone.
///
/// # Panics
///
/// If a column index is out of range.
pub fn log1p_columns<S: Data<Elem = f64>>(x: &ArrayBase<S, Ix2>, columns: &[usize]) -> Array2<f64> {
    let mut out = x.to_owned();
    for &j in columns {
        out.column_mut(j)
            .mapv_inplace(|v| v.signum() * v.abs().ln_1p());
    }
    out
}

/// Settings of [`kmeans_with`] and [`choose_k_with`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KMeansConfig {
    /// Independent greedy k-means++ starts; the run with the lowest inertia is kept
    /// (default 4).
    pub n_runs: usize,
    /// Lloyd iterations per run at most (default 100).
    pub max_iterations: u64,
    /// A run stops when the centroids move less than this, in Euclidean distance over all
    /// centroid coordinates of the standardised space (default 1e-4).
    pub tolerance: f64,
    /// Rows sampled for the silhouette (default 3,000): its cost grows with the square of
    /// this number, not with the number of customers.
    pub silhouette_sample: usize,
    /// [`choose_k_with`] fits each candidate `k` on a random sample of at most this many rows
    /// (default 50,000) and only the chosen `k` on all rows.
    pub fit_sample: usize,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        KMeansConfig {
            n_runs: 4,
            max_iterations: 100,
            tolerance: 1e-4,
            silhouette_sample: 3_000,
            fit_sample: 50_000,
        }
    }
}

/// The result of k-means.
#[derive(Clone, Debug, PartialEq)]
pub struct Clustering {
    /// The cluster of each row, `0..k`, numbered by size: 0 is the largest cluster (ties by
    /// the order found).
    pub labels: Vec<usize>,
    /// The cluster centres, one row per cluster, in the space of the data given (the
    /// standardised space when the data was standardised).
    pub centroids: Array2<f64>,
    /// Rows per cluster.
    pub sizes: Vec<usize>,
    /// The within-cluster sum of squared Euclidean distances from each row to its centre
    /// (scikit-learn's `inertia_`).
    pub inertia: f64,
}

impl Clustering {
    /// The number of clusters.
    pub fn k(&self) -> usize {
        self.centroids.nrows()
    }

    /// The nearest centre (squared Euclidean distance, first on ties) of each row of `x`,
    /// which must have the columns the clustering was fitted on, scaled the same way.
    ///
    /// # Panics
    ///
    /// If `x` has a different number of columns than the centroids.
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<usize> {
        assert_eq!(x.ncols(), self.centroids.ncols(), "predict: column count");
        let x = x.as_standard_layout();
        let c = self.centroids.as_standard_layout();
        let (xs, cs) = (
            x.as_slice().expect("standard layout"),
            c.as_slice().expect("standard layout"),
        );
        nearest_all(xs, cs, self.centroids.ncols())
            .into_iter()
            .map(|(j, _)| j)
            .collect()
    }
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(row: &[f64], centroids: &[f64], d: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centroids.chunks_exact(d).enumerate() {
        let e = dist2(row, c);
        if e < best.1 {
            best = (j, e);
        }
    }
    best
}

/// Nearest centroid and squared distance for every row, in parallel.
fn nearest_all(x: &[f64], centroids: &[f64], d: usize) -> Vec<(usize, f64)> {
    if d == 0 {
        return Vec::new();
    }
    x.par_chunks_exact(d)
        .map(|row| nearest(row, centroids, d))
        .collect()
}

/// Greedy k-means++ starting centroids (Arthur & Vassilvitskii 2007; scikit-learn's
/// default): the first a uniformly random row; for each next one, `2 + ⌊ln k⌋` candidate
/// rows are drawn with probability proportional to their squared distance to the nearest
/// centroid chosen so far, and the candidate that most lowers the total of those squared
/// distances is kept. The extra candidates make starts that need a hundred Lloyd
/// iterations to untangle (two centres in one group, one between two groups) rare.
fn kmeans_plus_plus(x: &[f64], n: usize, d: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centroids = Vec::with_capacity(k * d);
    let first = rng.random_range(0..n);
    centroids.extend_from_slice(&x[first * d..(first + 1) * d]);
    let mut d2: Vec<f64> = x
        .par_chunks_exact(d)
        .map(|row| dist2(row, &centroids[..d]))
        .collect();
    for _ in 1..k {
        let total = det_sum(&d2);
        // (potential, candidate row, distances with it added)
        let mut best: Option<(f64, Vec<f64>, Vec<f64>)> = None;
        for _ in 0..trials {
            let pick = if total > 0.0 && total.is_finite() {
                let target = rng.random::<f64>() * total;
                let mut acc = 0.0;
                d2.iter()
                    .position(|&w| {
                        acc += w;
                        acc > target
                    })
                    // Rounding can leave `acc` a hair below `target` at the end.
                    .unwrap_or_else(|| d2.iter().rposition(|&w| w > 0.0).unwrap_or(n - 1))
            } else {
                rng.random_range(0..n)
            };
            let c = x[pick * d..(pick + 1) * d].to_vec();
            let updated: Vec<f64> = d2
                .par_iter()
                .zip(x.par_chunks_exact(d))
                .map(|(m, row)| m.min(dist2(row, &c)))
                .collect();
            let potential = det_sum(&updated);
            if best.as_ref().is_none_or(|(b, _, _)| potential < *b) {
                best = Some((potential, c, updated));
            }
        }
        let (_, c, updated) = best.expect("at least two trials");
        centroids.extend_from_slice(&c);
        d2 = updated;
    }
    centroids
}

/// A sum that does not depend on how rayon splits the work: fixed chunks summed in
/// parallel, then the chunk sums in order, so the same data always picks the same start.
fn det_sum(v: &[f64]) -> f64 {
    let parts: Vec<f64> = v.par_chunks(1 << 16).map(|c| c.iter().sum()).collect();
    parts.iter().sum()
}

fn check_matrix(x: &ArrayView2<f64>, what: &str) -> Result<(), ModelError> {
    if x.ncols() == 0 {
        return Err(ModelError::InsufficientData(format!("{what}: no features")));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::BadParameter(format!(
            "{what}: features must be finite numbers (impute or drop missing values first)"
        )));
    }
    Ok(())
}

fn check_config(cfg: &KMeansConfig) -> Result<(), ModelError> {
    if cfg.n_runs == 0 || cfg.max_iterations == 0 || cfg.tolerance.is_nan() || cfg.tolerance <= 0.0
    {
        return Err(ModelError::BadParameter(
            "k-means: n_runs and max_iterations must be at least 1 and tolerance positive".into(),
        ));
    }
    if cfg.silhouette_sample < 2 || cfg.fit_sample < 2 {
        return Err(ModelError::BadParameter(
            "k-means: silhouette_sample and fit_sample must be at least 2".into(),
        ));
    }
    Ok(())
}

/// k-means with [`KMeansConfig::default`]: see [`kmeans_with`].
pub fn kmeans(x: ArrayView2<f64>, k: usize, seed: u64) -> Result<Clustering, ModelError> {
    kmeans_with(x, k, seed, &KMeansConfig::default())
}

/// k-means clustering of the rows of `x` into `k` clusters: `cfg.n_runs` runs, each from
/// greedy k-means++ starting centroids followed by Lloyd's iterations (linfa-clustering,
/// which counts each old centre as one more member when averaging) until the centroids
/// move less than `cfg.tolerance` or `cfg.max_iterations` is reached; the run with the
/// lowest inertia is kept. Rows are clustered as given: standardise first (see
/// [`standardize`]) so that no feature dominates by its unit.
///
/// Cost is about `n_runs · iterations · n · k · features`: 1 million rows × 12 features
/// with k = 6 took about 2 s in a release build on 2 cores; when clusters are not well
/// separated, iterations (at most `cfg.max_iterations`, about 0.15 s each at that size)
/// dominate. Errors: `k` is 0 or larger than the number of rows, a value is not finite,
/// or the rows have fewer than `k` distinct points (a cluster would be empty).
pub fn kmeans_with(
    x: ArrayView2<f64>,
    k: usize,
    seed: u64,
    cfg: &KMeansConfig,
) -> Result<Clustering, ModelError> {
    check_config(cfg)?;
    check_matrix(&x, "k-means")?;
    let (n, d) = x.dim();
    if k == 0 || k > n {
        return Err(ModelError::BadParameter(format!(
            "k-means: k = {k} must be between 1 and the number of rows ({n})"
        )));
    }
    let xs = x.as_standard_layout();
    let flat = xs.as_slice().expect("standard layout");
    let mut r = rng(seed, STREAM_INIT);
    let mut best: Option<(f64, Array2<f64>)> = None;
    for _ in 0..cfg.n_runs {
        let init = Array2::from_shape_vec((k, d), kmeans_plus_plus(flat, n, d, k, &mut r))
            .expect("k × d centroids");
        let (inertia, centroids) = lloyd(xs.view(), init, cfg)?;
        if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
            best = Some((inertia, centroids));
        }
    }
    let (_, centroids) = best.expect("n_runs >= 1");
    finish(flat, centroids)
}

/// Lloyd's iterations from the given centroids; returns the final inertia and centroids.
fn lloyd(
    x: ArrayView2<f64>,
    init: Array2<f64>,
    cfg: &KMeansConfig,
) -> Result<(f64, Array2<f64>), ModelError> {
    let k = init.nrows();
    let model = KMeans::params(k)
        .init_method(KMeansInit::Precomputed(init))
        .n_runs(1)
        .max_n_iterations(cfg.max_iterations)
        .tolerance(cfg.tolerance)
        .fit(&DatasetBase::from(x))
        .map_err(|e| ModelError::NoConvergence(format!("k-means: {e}")))?;
    let centroids = model.centroids().to_owned();
    let c = centroids.as_standard_layout();
    let xs = x.as_standard_layout();
    let inertia = nearest_all(
        xs.as_slice().expect("standard layout"),
        c.as_slice().expect("standard layout"),
        x.ncols(),
    )
    .iter()
    .map(|&(_, e)| e)
    .sum();
    Ok((inertia, centroids))
}

/// Assigns rows to the final centroids, renumbers clusters by size and checks none is empty.
fn finish(x: &[f64], centroids: Array2<f64>) -> Result<Clustering, ModelError> {
    let (k, d) = centroids.dim();
    let c = centroids.as_standard_layout();
    let near = nearest_all(x, c.as_slice().expect("standard layout"), d);
    let mut sizes = vec![0usize; k];
    for &(j, _) in &near {
        sizes[j] += 1;
    }
    if let Some(empty) = sizes.iter().position(|&s| s == 0) {
        return Err(ModelError::InsufficientData(format!(
            "k-means: cluster {empty} of k = {k} is empty; the data has fewer than {k} distinct rows"
        )));
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut rank = vec![0usize; k];
    for (new, &old) in order.iter().enumerate() {
        rank[old] = new;
    }
    Ok(Clustering {
        labels: near.iter().map(|&(j, _)| rank[j]).collect(),
        centroids: centroids.select(Axis(0), &order),
        sizes: order.iter().map(|&j| sizes[j]).collect(),
        inertia: near.iter().map(|&(_, e)| e).sum(),
    })
}

/// The mean silhouette coefficient of a clustering, between −1 and 1 (higher: tighter,
/// better separated clusters). For row `i` with `a` the mean Euclidean distance to the
/// other rows of its cluster and `b` the smallest mean distance to the rows of another
/// cluster, `s(i) = (b − a) / max(a, b)`, and 0 for a row alone in its cluster
/// (Rousseeuw 1987; scikit-learn's `silhouette_score`).
///
/// Because it compares every pair of rows, it is computed on a random sample of at most
/// `sample` rows (all rows when there are fewer) drawn with `seed`, distances and clusters
/// both taken within the sample — scikit-learn's `sample_size`. 3,000 rows take about
/// 0.1 s; the sampling error of the mean is around 0.01. Returns NaN when the sample holds
/// fewer than two clusters, where the coefficient is undefined.
///
/// # Panics
///
/// If `labels` does not have one entry per row of `x`.
pub fn silhouette(x: ArrayView2<f64>, labels: &[usize], sample: usize, seed: u64) -> f64 {
    assert_eq!(x.nrows(), labels.len(), "silhouette: one label per row");
    let (n, d) = x.dim();
    let rows: Vec<usize> = if n <= sample {
        (0..n).collect()
    } else {
        let mut v = index::sample(&mut rng(seed, STREAM_SILHOUETTE), n, sample).into_vec();
        v.sort_unstable();
        v
    };
    let mut ids: HashMap<usize, usize> = HashMap::new();
    let lab: Vec<usize> = rows
        .iter()
        .map(|&i| {
            let next = ids.len();
            *ids.entry(labels[i]).or_insert(next)
        })
        .collect();
    let nc = ids.len();
    if nc < 2 || d == 0 {
        return f64::NAN;
    }
    let mut counts = vec![0usize; nc];
    for &c in &lab {
        counts[c] += 1;
    }
    let pts: Vec<f64> = rows.iter().flat_map(|&i| x.row(i).to_vec()).collect();
    let s: Vec<f64> = (0..rows.len())
        .into_par_iter()
        .map(|i| {
            let own = lab[i];
            if counts[own] < 2 {
                return 0.0;
            }
            let pi = &pts[i * d..(i + 1) * d];
            let mut sums = vec![0.0; nc];
            for (j, pj) in pts.chunks_exact(d).enumerate() {
                sums[lab[j]] += dist2(pi, pj).sqrt();
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..nc)
                .filter(|&c| c != own)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let m = a.max(b);
            if m > 0.0 { (b - a) / m } else { 0.0 }
        })
        .collect();
    s.iter().sum::<f64>() / s.len() as f64
}

/// The result of [`choose_k`].
#[derive(Clone, Debug, PartialEq)]
pub struct KChoice {
    /// The chosen number of clusters.
    pub k: usize,
    /// The mean silhouette of each candidate `k` tried, in order (NaN where undefined).
    pub scores: Vec<(usize, f64)>,
    /// The clustering of all rows with the chosen `k`.
    pub clustering: Clustering,
}

/// [`choose_k_with`] with [`KMeansConfig::default`].
pub fn choose_k(
    x: ArrayView2<f64>,
    k_range: RangeInclusive<usize>,
    seed: u64,
) -> Result<KChoice, ModelError> {
    choose_k_with(x, k_range, seed, &KMeansConfig::default())
}

/// The number of clusters with the highest mean [`silhouette`] among `k_range` (at least
/// 2; ties go to the smaller `k`), and the clustering of all rows with it.
///
/// Each candidate `k` is fitted by [`kmeans_with`] on a random sample of at most
/// `cfg.fit_sample` rows (all rows when there are fewer) and scored by the silhouette of
/// at most `cfg.silhouette_sample` of those rows, the same rows for every `k`. The chosen
/// `k`'s centroids are then refined by Lloyd's iterations on all rows (one run, since the
/// sample already chose the best of `cfg.n_runs` starts), so the cost on a million rows is
/// that of the candidate fits on the sample plus one full-size fit, never quadratic in the
/// rows. Candidates whose fit fails (fewer distinct rows than `k`) score NaN; it is an
/// error only if every candidate fails.
pub fn choose_k_with(
    x: ArrayView2<f64>,
    k_range: RangeInclusive<usize>,
    seed: u64,
    cfg: &KMeansConfig,
) -> Result<KChoice, ModelError> {
    check_config(cfg)?;
    check_matrix(&x, "choose k")?;
    let (lo, hi) = (*k_range.start(), *k_range.end());
    if lo < 2 || hi < lo {
        return Err(ModelError::BadParameter(format!(
            "choose k: the range {lo}..={hi} must be non-empty and start at 2 or more (the silhouette needs two clusters)"
        )));
    }
    let n = x.nrows();
    let sampled = n > cfg.fit_sample;
    let fit_x = if sampled {
        let mut rows =
            index::sample(&mut rng(seed, STREAM_FIT_SAMPLE), n, cfg.fit_sample).into_vec();
        rows.sort_unstable();
        x.select(Axis(0), &rows)
    } else {
        x.to_owned()
    };
    let mut scores = Vec::new();
    let mut best: Option<(usize, f64, Clustering)> = None;
    let mut first_err = None;
    for k in k_range {
        let fitted = if k < fit_x.nrows() {
            kmeans_with(fit_x.view(), k, seed, cfg)
        } else {
            Err(ModelError::InsufficientData(format!(
                "choose k: k = {k} needs more than {k} rows"
            )))
        };
        match fitted {
            Ok(c) => {
                let s = silhouette(fit_x.view(), &c.labels, cfg.silhouette_sample, seed);
                scores.push((k, s));
                if !s.is_nan() && best.as_ref().is_none_or(|(_, b, _)| s > *b) {
                    best = Some((k, s, c));
                }
            }
            Err(e) => {
                scores.push((k, f64::NAN));
                first_err.get_or_insert(e);
            }
        }
    }
    let Some((k, _, c)) = best else {
        return Err(first_err.unwrap_or_else(|| {
            ModelError::InsufficientData(
                "choose k: no candidate k gave a defined silhouette".into(),
            )
        }));
    };
    let clustering = if sampled {
        let one_run = KMeansConfig { n_runs: 1, ..*cfg };
        let (_, centroids) = lloyd(x, c.centroids, &one_run)?;
        let xs = x.as_standard_layout();
        finish(xs.as_slice().expect("standard layout"), centroids)?
    } else {
        c
    };
    Ok(KChoice {
        k,
        scores,
        clustering,
    })
}

/// How one cluster differs from all customers, feature by feature.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterProfile {
    /// The cluster number (the label).
    pub cluster: usize,
    /// Rows in the cluster.
    pub size: usize,
    /// `size` over all rows.
    pub share: f64,
    /// The cluster's mean of each feature, in the raw units given.
    pub means: Vec<f64>,
    /// The cluster mean over the overall mean of each feature; NaN where the overall mean
    /// is 0 (the summary then states the difference instead).
    pub ratios: Vec<f64>,
    /// The two or three most distinctive features in plain words, e.g. `"Orders: 3.0x the
    /// average, Average order value: 40% below average"`.
    pub summary: String,
}

/// A feature counts as distinctive for [`describe`] when the cluster mean is at least this
/// many overall standard deviations from the overall mean.
pub const DISTINCTIVE_SD: f64 = 0.25;

/// Profiles of the clusters `0..=max(labels)` on the raw (unscaled) features `x_raw`, one
/// column per name in `feature_names` (human names: they appear in the summary).
///
/// The summary lists at most three features, those whose cluster mean lies furthest from
/// the overall mean in overall standard deviations, keeping only those at least
/// [`DISTINCTIVE_SD`] away; each reads
/// - `"{name}: 3.0x the average"` when the cluster mean is at least twice the overall mean,
/// - `"{name}: 40% above average"` / `"{name}: 40% below average"` otherwise,
/// - `"{name}: 12.5 above average"` / `"… below average"` (the difference in the feature's
///   units) when the overall mean is 0 or negative or the cluster mean negative, where a
///   ratio would mislead.
///
/// A cluster close to the average on every feature reads `"close to the average on every
/// feature"`; an empty cluster has NaN means and the summary `"empty"`.
///
/// # Panics
///
/// If `labels` does not have one entry per row or `feature_names` one per column.
pub fn describe<S: Data<Elem = f64>>(
    x_raw: &ArrayBase<S, Ix2>,
    labels: &[usize],
    feature_names: &[&str],
) -> Vec<ClusterProfile> {
    assert_eq!(x_raw.nrows(), labels.len(), "describe: one label per row");
    assert_eq!(
        x_raw.ncols(),
        feature_names.len(),
        "describe: one name per column"
    );
    let (n, d) = x_raw.dim();
    let Some(&max_label) = labels.iter().max() else {
        return Vec::new();
    };
    let k = max_label + 1;
    let (overall_mean, overall_sd) = column_stats(x_raw);
    let mut sums = vec![vec![0.0; d]; k];
    let mut sizes = vec![0usize; k];
    for (row, &c) in x_raw.rows().into_iter().zip(labels) {
        sizes[c] += 1;
        for (s, v) in sums[c].iter_mut().zip(row) {
            *s += v;
        }
    }
    (0..k)
        .map(|c| {
            let size = sizes[c];
            let means: Vec<f64> = sums[c].iter().map(|s| s / size as f64).collect();
            let ratios: Vec<f64> = means
                .iter()
                .zip(&overall_mean)
                .map(|(m, o)| if *o != 0.0 { m / o } else { f64::NAN })
                .collect();
            let summary = if size == 0 {
                "empty".to_string()
            } else {
                summarize(&means, &overall_mean, &overall_sd, feature_names)
            };
            ClusterProfile {
                cluster: c,
                size,
                share: size as f64 / n as f64,
                means,
                ratios,
                summary,
            }
        })
        .collect()
}

fn summarize(means: &[f64], overall: &[f64], sd: &[f64], names: &[&str]) -> String {
    let mut effect: Vec<(usize, f64)> = (0..means.len())
        .map(|j| {
            let z = if sd[j] > 0.0 {
                (means[j] - overall[j]) / sd[j]
            } else {
                0.0
            };
            (j, z.abs())
        })
        .filter(|&(_, z)| z >= DISTINCTIVE_SD)
        .collect();
    effect.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if effect.is_empty() {
        return "close to the average on every feature".to_string();
    }
    effect
        .iter()
        .take(3)
        .map(|&(j, _)| phrase(names[j], means[j], overall[j]))
        .collect::<Vec<_>>()
        .join(", ")
}

fn phrase(name: &str, mean: f64, overall: f64) -> String {
    if overall > 0.0 && mean >= 0.0 {
        let r = mean / overall;
        if r >= 2.0 {
            format!("{name}: {r:.1}x the average")
        } else if r >= 1.0 {
            format!("{name}: {:.0}% above average", (r - 1.0) * 100.0)
        } else {
            format!("{name}: {:.0}% below average", (1.0 - r) * 100.0)
        }
    } else {
        let diff = mean - overall;
        let side = if diff >= 0.0 { "above" } else { "below" };
        format!("{name}: {} {side} average", number(diff.abs()))
    }
}

/// Three significant figures or so, without a long tail of decimals.
fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The adjusted Rand index of two labelings of the same rows (Hubert & Arabie 1985): the
/// share of row pairs on which they agree (same cluster in both, or different in both),
/// corrected for chance so that random labelings score about 0 and identical ones
/// (up to renaming of the clusters) 1. From the contingency table `n_ij` with row sums
/// `a_i`, column sums `b_j` and `C(m) = m(m − 1)/2`:
/// `ARI = (Σ C(n_ij) − E) / ((Σ C(a_i) + Σ C(b_j)) / 2 − E)` with
/// `E = Σ C(a_i) · Σ C(b_j) / C(n)`. As in scikit-learn, it is 1 when the denominator is 0
/// (both labelings put everything in one cluster, or every row alone, or fewer than two
/// rows).
///
/// # Panics
///
/// If the labelings differ in length.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    assert_eq!(
        a.len(),
        b.len(),
        "adjusted_rand_index: labelings differ in length"
    );
    let c2 = |m: u64| (m as f64) * (m as f64 - 1.0) / 2.0;
    let mut cells: HashMap<(usize, usize), u64> = HashMap::new();
    let mut rows: HashMap<usize, u64> = HashMap::new();
    let mut cols: HashMap<usize, u64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *cells.entry((x, y)).or_default() += 1;
        *rows.entry(x).or_default() += 1;
        *cols.entry(y).or_default() += 1;
    }
    let index: f64 = cells.values().map(|&m| c2(m)).sum();
    let sa: f64 = rows.values().map(|&m| c2(m)).sum();
    let sb: f64 = cols.values().map(|&m| c2(m)).sum();
    let total = c2(a.len() as u64);
    if total == 0.0 {
        return 1.0;
    }
    let expected = sa * sb / total;
    let max = (sa + sb) / 2.0;
    if max == expected {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests;
