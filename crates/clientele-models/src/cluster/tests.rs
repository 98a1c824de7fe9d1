//! Tests of the clustering: standardising, the adjusted Rand index and silhouette by hand,
//! recovery of simulated clusters, the choice of k, error cases, profiles in plain words, and
//! a million-row scale run.

use super::*;
use ndarray::array;
use rand_distr::{Distribution, Normal};

#[test]
fn standardize_and_constant_column() {
    let x = array![[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [6.0, 5.0]];
    let (z, means, sds) = standardize(&x);
    // Column 0: mean 3, deviations -2 -1 0 3, variance (4+1+0+9)/4 = 3.5.
    assert_eq!(means, vec![3.0, 5.0]);
    assert!((sds[0] - 3.5f64.sqrt()).abs() < 1e-12);
    assert_eq!(sds[1], 0.0);
    assert!((z[[3, 0]] - 3.0 / 3.5f64.sqrt()).abs() < 1e-12);
    assert!(z.column(1).iter().all(|&v| v == 0.0));

    let l = log1p_columns(&x, &[0]);
    assert!((l[[0, 0]] - 2f64.ln()).abs() < 1e-12);
    assert_eq!(l[[0, 1]], 5.0);
    let neg = log1p_columns(&array![[-1.0]], &[0]);
    assert!((neg[[0, 0]] + 2f64.ln()).abs() < 1e-12);
}

#[test]
fn adjusted_rand_index_hand_examples() {
    assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[1, 1, 0, 0]), 1.0);
    // Contingency (0,0)=2 (1,1)=1 (2,1)=1: index C(2)=1; a sizes 2,1,1 -> 1;
    // b sizes 2,2 -> 2; C(4)=6; E = 1·2/6 = 1/3; max = 3/2; ARI = (2/3)/(7/6) = 4/7.
    let ari = adjusted_rand_index(&[0, 0, 1, 2], &[0, 0, 1, 1]);
    assert!((ari - 4.0 / 7.0).abs() < 1e-12);
    // (0,0)=2 (0,1)=1 (1,1)=1 (1,2)=2: index 2; a 3,3 -> 6; b 2,2,2 -> 3; C(6)=15;
    // E = 18/15 = 1.2; max = 4.5; ARI = 0.8/3.3.
    let ari = adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]);
    assert!((ari - 0.8 / 3.3).abs() < 1e-12);
    assert_eq!(adjusted_rand_index(&[0, 0, 0], &[4, 4, 4]), 1.0);
    assert_eq!(adjusted_rand_index(&[], &[]), 1.0);
}

#[test]
fn silhouette_hand_examples() {
    // Points 0, 1 | 4, 5 on a line.
    // 0: a = 1, b = (4+5)/2 = 4.5, s = 3.5/4.5 = 7/9;  1: a = 1, b = 3.5, s = 5/7;
    // 4 and 5 mirror 1 and 0. Mean = (7/9 + 5/7)/2 = 47/63.
    let x = array![[0.0], [1.0], [4.0], [5.0]];
    let s = silhouette(x.view(), &[0, 0, 1, 1], 3000, 0);
    assert!((s - 47.0 / 63.0).abs() < 1e-12, "{s}");
    // Points 0, 1 | 5: 0: a = 1, b = 5, s = 0.8; 1: a = 1, b = 4, s = 0.75;
    // 5 is alone: s = 0. Mean = 1.55/3.
    let x = array![[0.0], [1.0], [5.0]];
    let s = silhouette(x.view(), &[3, 3, 7], 3000, 0);
    assert!((s - 1.55 / 3.0).abs() < 1e-12, "{s}");
    assert!(silhouette(x.view(), &[1, 1, 1], 3000, 0).is_nan());
    // In two dimensions: (0,0),(0,2) | (3,0): 0: a = 2, b = 3, s = 1/3;
    // 1: a = 2, b = √13, s = (√13 − 2)/√13; alone: 0.
    let x = array![[0.0, 0.0], [0.0, 2.0], [3.0, 0.0]];
    let s = silhouette(x.view(), &[0, 0, 1], 3000, 0);
    let r13 = 13f64.sqrt();
    assert!((s - (1.0 / 3.0 + (r13 - 2.0) / r13) / 3.0).abs() < 1e-12);
}

#[test]
fn silhouette_sample_is_deterministic() {
    let x = Array2::from_shape_fn((500, 2), |(i, j)| ((i * 7 + j * 3) % 50) as f64);
    let labels: Vec<usize> = (0..500).map(|i| i % 3).collect();
    let a = silhouette(x.view(), &labels, 100, 9);
    assert_eq!(a, silhouette(x.view(), &labels, 100, 9));
    assert_ne!(a, silhouette(x.view(), &labels, 100, 10));
}

/// `n` points around each of `centres`, standard deviation 1 in every dimension.
fn blobs(centres: &[Vec<f64>], n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0, 1.0).unwrap();
    let d = centres[0].len();
    let mut x = Array2::zeros((centres.len() * n, d));
    let mut truth = Vec::new();
    for (c, centre) in centres.iter().enumerate() {
        for i in 0..n {
            for j in 0..d {
                x[[c * n + i, j]] = centre[j] + noise.sample(&mut r);
            }
            truth.push(c);
        }
    }
    (x, truth)
}

#[test]
fn recovers_four_simulated_clusters() {
    // Four blobs of 500 in 5 dimensions, centres 8 sd apart or more.
    let centres = vec![
        vec![0.0, 0.0, 0.0, 0.0, 0.0],
        vec![8.0, 0.0, 0.0, 0.0, 0.0],
        vec![0.0, 8.0, 0.0, 4.0, 0.0],
        vec![0.0, 0.0, 8.0, 0.0, -4.0],
    ];
    let (x, truth) = blobs(&centres, 500, 1);
    let (z, _, _) = standardize(&x);
    // A 1,000-row silhouette sample keeps the test quick in a debug build.
    let cfg = KMeansConfig {
        silhouette_sample: 1_000,
        ..KMeansConfig::default()
    };
    let choice = choose_k_with(z.view(), 2..=6, 42, &cfg).unwrap();
    assert_eq!(choice.k, 4, "scores {:?}", choice.scores);
    assert_eq!(choice.scores.len(), 5);
    let c = &choice.clustering;
    assert_eq!(c.k(), 4);
    assert_eq!(c.sizes.iter().sum::<usize>(), 2000);
    assert!(c.sizes.windows(2).all(|w| w[0] >= w[1]));
    let ari = adjusted_rand_index(&c.labels, &truth);
    assert!(ari >= 0.95, "ARI {ari}");
    assert_eq!(c.predict(z.view()), c.labels);

    // Same seed, same answer: choose_k fitted all rows (fewer than fit_sample) this way.
    assert_eq!(&kmeans_with(z.view(), 4, 42, &cfg).unwrap(), c);
}

#[test]
fn choose_k_on_a_sample_then_all_rows() {
    let centres = vec![vec![0.0, 0.0], vec![10.0, 0.0], vec![0.0, 10.0]];
    let (x, truth) = blobs(&centres, 400, 2);
    let cfg = KMeansConfig {
        fit_sample: 300,
        silhouette_sample: 200,
        ..KMeansConfig::default()
    };
    let choice = choose_k_with(x.view(), 2..=5, 7, &cfg).unwrap();
    assert_eq!(choice.k, 3, "scores {:?}", choice.scores);
    assert_eq!(choice.clustering.labels.len(), 1200);
    assert!(adjusted_rand_index(&choice.clustering.labels, &truth) >= 0.99);
}

#[test]
fn kmeans_errors() {
    let x = array![[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]];
    assert!(matches!(
        kmeans(x.view(), 0, 1),
        Err(ModelError::BadParameter(_))
    ));
    assert!(matches!(
        kmeans(x.view(), 4, 1),
        Err(ModelError::BadParameter(_))
    ));
    assert!(matches!(
        kmeans(x.view(), 2, 1),
        Err(ModelError::InsufficientData(_))
    ));
    let nan = array![[1.0], [f64::NAN]];
    assert!(matches!(
        kmeans(nan.view(), 1, 1),
        Err(ModelError::BadParameter(_))
    ));
    assert!(matches!(
        choose_k(x.view(), 1..=3, 1),
        Err(ModelError::BadParameter(_))
    ));
    assert!(choose_k(x.view(), 2..=2, 1).is_err());
    let one = kmeans(x.view(), 1, 1).unwrap();
    assert_eq!(one.labels, vec![0, 0, 0]);
    assert_eq!(one.inertia, 0.0);
}

#[test]
fn describe_phrases() {
    // Features: orders, order value, balance (mean 0 overall), flat.
    // Cluster 0 (rows 0-1) vs cluster 1 (rows 2-3).
    let x = array![
        [6.0, 30.0, -10.0, 1.0],
        [6.0, 30.0, -10.0, 1.0],
        [2.0, 70.0, 10.0, 1.0],
        [2.0, 70.0, 10.0, 1.0],
    ];
    let p = describe(
        &x,
        &[0, 0, 1, 1],
        &["Orders", "Order value", "Balance", "Flat"],
    );
    assert_eq!(p.len(), 2);
    // Overall means 4, 50, 0, 1. Cluster 0: 6/4 = 1.5 (+50%), 30/50 = 0.6 (-40%),
    // balance 0 overall -> difference 10 below. All three are 1 sd away; ties keep
    // column order. Flat has sd 0: never distinctive.
    assert_eq!(p[0].size, 2);
    assert_eq!(p[0].share, 0.5);
    assert_eq!(p[0].means, vec![6.0, 30.0, -10.0, 1.0]);
    assert_eq!(p[0].ratios[..2], [1.5, 0.6]);
    assert!(p[0].ratios[2].is_nan());
    assert_eq!(p[0].ratios[3], 1.0);
    assert_eq!(
        p[0].summary,
        "Orders: 50% above average, Order value: 40% below average, Balance: 10.0 below average"
    );
    assert_eq!(
        p[1].summary,
        "Orders: 50% below average, Order value: 40% above average, Balance: 10.0 above average"
    );

    // One big spender among many: 3.0x; the rest close to average on the flat column.
    let mut rows = vec![[10.0, 1.0]; 8];
    rows.push([100.0, 1.0]);
    rows.push([100.0, 1.0]);
    let x = Array2::from_shape_vec((10, 2), rows.concat()).unwrap();
    let labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    let p = describe(&x, &labels, &["Spend", "Flat"]);
    // Overall spend mean (80 + 200)/10 = 28; cluster 1: 100/28 = 3.57.
    assert_eq!(p[1].summary, "Spend: 3.6x the average");
    assert_eq!(p[0].summary, "Spend: 64% below average"); // 10/28 = 0.357
    let p = describe(&x, &[0; 10], &["Spend", "Flat"]);
    assert_eq!(p[0].summary, "close to the average on every feature");
    // A label with no rows.
    let p = describe(&x, &[0, 0, 0, 0, 0, 2, 2, 2, 2, 2], &["Spend", "Flat"]);
    assert_eq!(p[1].size, 0);
    assert_eq!(p[1].summary, "empty");
}

/// The scale the analytics crate needs: 1 million customers × 12 features. Run in a
/// release build: `CLIENTELE_SCALE_TESTS=1 cargo test -p clientele-models --release one_million`.
#[test]
fn one_million_rows() {
    if !crate::scale_tests() {
        return;
    }
    let centres: Vec<Vec<f64>> = (0..6)
        .map(|c| {
            (0..12)
                .map(|j| if j % 6 == c { 6.0 } else { 0.0 })
                .collect()
        })
        .collect();
    let (x, truth) = blobs(&centres, 1_000_000 / 6, 3);
    let (z, _, _) = standardize(&x);
    let t = std::time::Instant::now();
    let c = kmeans(z.view(), 6, 1).unwrap();
    eprintln!("kmeans k=6 on {} rows: {:?}", z.nrows(), t.elapsed());
    assert!(adjusted_rand_index(&c.labels, &truth) >= 0.95);
    let t = std::time::Instant::now();
    let choice = choose_k(z.view(), 2..=10, 1).unwrap();
    eprintln!(
        "choose_k 2..=10: {:?}, scores {:?}",
        t.elapsed(),
        choice.scores
    );
    assert_eq!(choice.k, 6);
    assert!(adjusted_rand_index(&choice.clustering.labels, &truth) >= 0.95);
}
