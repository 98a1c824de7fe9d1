//! Checks of the classifiers: recovery of simulated models, agreement with scikit-learn on
//! the same rows of a public data set, additivity of explanations, and the split helpers.

use super::*;
use crate::tabular::{Column, Encoder, EncoderOptions, Target, TextColumn};
use ndarray::Array2;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// Reads a committed test CSV (plain commas, no quoting: true of our files) as text columns,
/// returning them with the row indices whose `test` column is 1 and 0.
fn read_csv(file: &str) -> (Vec<TextColumn>, Split) {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let mut cols: Vec<TextColumn> = header
        .iter()
        .map(|h| TextColumn {
            name: h.to_string(),
            values: Vec::new(),
        })
        .collect();
    for line in lines.filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), cols.len(), "{line}");
        for (c, f) in cols.iter_mut().zip(fields) {
            c.values.push((!f.is_empty()).then(|| f.to_string()));
        }
    }
    let flag = cols.iter().position(|c| c.name == "test").unwrap();
    let flag = cols.remove(flag);
    let (test, train): (Vec<usize>, Vec<usize>) =
        (0..flag.values.len()).partition(|&i| flag.values[i].as_deref() == Some("1"));
    (cols, Split { train, test })
}

/// Encodes a CSV's columns (all but `target`) on its training rows and returns the full
/// design matrix, the labels and the features.
fn design(file: &str, target: &str) -> (Array2<f64>, Labels, Split, Vec<Feature>) {
    let (cols, split) = read_csv(file);
    let (y, xs): (Vec<TextColumn>, Vec<TextColumn>) =
        cols.into_iter().partition(|c| c.name == target);
    let columns: Vec<Column> = xs.into_iter().map(Column::Text).collect();
    let enc = Encoder::fit_rows(&columns, &split.train, &EncoderOptions::default()).unwrap();
    let x = enc.transform(&columns).unwrap();
    let t = Target::from_text(&y[0].values, None).unwrap();
    assert_eq!(t.missing_count(), 0);
    let labels = t.labels(&t.observed_rows());
    (x, labels, split, enc.features().to_vec())
}

fn auc_of(e: &Evaluation, kind: ModelKind) -> f64 {
    let m = e.models.iter().find(|m| m.kind == kind).unwrap();
    match &m.metrics {
        Metrics::Binary(b) => b.auc.unwrap(),
        Metrics::Regression(_) => panic!("not binary"),
    }
}

/// scikit-learn 1.9.1 on the same rows, printed by
/// `bench/.venv/bin/python bench/sklearn_reference.py`:
/// LogisticRegression(C=1) on the standardised one-hot design, and
/// HistGradientBoostingClassifier(random_state=0) on the unstandardised one.
const SKLEARN_TELCO_LR_AUC: f64 = 0.8442;
const SKLEARN_TELCO_HGB_AUC: f64 = 0.8235;
/// Ridge(alpha=1) on the standardised diabetes features, same script.
const SKLEARN_DIABETES_RIDGE_R2: f64 = 0.4898;

#[test]
fn sklearn_reference_telco_churn() {
    let (x, labels, split, features) = design("telco_churn.csv", "churn");
    assert_eq!((split.train.len(), split.test.len()), (2800, 1200));
    assert_eq!(
        x.ncols(),
        41,
        "{:?}",
        features.iter().map(|f| &f.name).collect::<Vec<_>>()
    );
    let e = fit_and_evaluate(
        x.view(),
        &labels,
        &split,
        &[ModelKind::Linear, ModelKind::Boosted],
        &FitOptions::default(),
    )
    .unwrap();
    let (lr, gbt) = (
        auc_of(&e, ModelKind::Linear),
        auc_of(&e, ModelKind::Boosted),
    );
    eprintln!(
        "telco: LR AUC {lr:.4} (sklearn {SKLEARN_TELCO_LR_AUC}), GBT AUC {gbt:.4} (sklearn HGB {SKLEARN_TELCO_HGB_AUC})"
    );
    assert!((lr - SKLEARN_TELCO_LR_AUC).abs() <= 0.01, "LR AUC {lr}");
    assert!((gbt - SKLEARN_TELCO_HGB_AUC).abs() <= 0.01, "GBT AUC {gbt}");

    // Explanations add up to the model's log-odds and sum back to source columns.
    for m in &e.models {
        let xs = rows_view(x.view(), 0..20);
        let c = m.model.contributions(xs);
        let p = m.model.predict(xs);
        for (i, pi) in p.iter().enumerate() {
            let link = m.model.baseline() + c.row(i).sum();
            assert!((sigmoid(link) - pi).abs() < 1e-6, "{:?} row {i}", m.kind);
        }
        let drivers = top_drivers(c.view(), &features);
        let names: Vec<&str> = drivers.iter().map(|d| d.0.as_str()).collect();
        assert!(
            names.len() == 19 && names.contains(&"contract"),
            "{names:?}"
        );
        let imp = m.model.feature_importance();
        assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }
}

#[test]
fn sklearn_reference_diabetes_ridge() {
    let (cols, split) = read_csv("diabetes.csv");
    let (y, xs): (Vec<TextColumn>, Vec<TextColumn>) =
        cols.into_iter().partition(|c| c.name == "target");
    let columns: Vec<Column> = xs.into_iter().map(Column::Text).collect();
    let enc = Encoder::fit_rows(&columns, &split.train, &EncoderOptions::default()).unwrap();
    let x = enc.transform(&columns).unwrap();
    let t = Target::from_text(&y[0].values, None).unwrap();
    assert!(matches!(t, Target::Numeric { .. }));
    let labels = t.labels(&t.observed_rows());
    let e = fit_and_evaluate(
        x.view(),
        &labels,
        &split,
        &[ModelKind::Linear, ModelKind::Boosted],
        &FitOptions::default(),
    )
    .unwrap();
    let r2 = |k: ModelKind| match &e.models.iter().find(|m| m.kind == k).unwrap().metrics {
        Metrics::Regression(r) => r.r2.unwrap(),
        Metrics::Binary(_) => panic!(),
    };
    eprintln!(
        "diabetes: ridge R² {:.4} (sklearn {SKLEARN_DIABETES_RIDGE_R2}), GBT R² {:.4}",
        r2(ModelKind::Linear),
        r2(ModelKind::Boosted)
    );
    assert!((r2(ModelKind::Linear) - SKLEARN_DIABETES_RIDGE_R2).abs() < 1e-3);
    assert!(r2(ModelKind::Boosted) > 0.25);
    // Regression contributions add up to the prediction, linear head included.
    for m in &e.models {
        let xs = rows_view(x.view(), 0..10);
        let c = m.model.contributions(xs);
        let p = m.model.predict(xs);
        for (i, pi) in p.iter().enumerate() {
            assert!((m.model.baseline() + c.row(i).sum() - pi).abs() < 1e-6 * pi.abs().max(1.0));
        }
    }
}

/// 10,000 rows from a known logistic model with correlated-free normal features.
fn simulate(n: usize, seed: u64) -> (Array2<f64>, Vec<bool>, Vec<f64>) {
    let beta = [1.0, -0.5, 0.25, 0.0];
    let intercept = -1.0;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 4), |_| StandardNormal.sample(&mut rng));
    let p: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| sigmoid(intercept + r.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>()))
        .collect();
    let y: Vec<bool> = p.iter().map(|&q| rng.random::<f64>() < q).collect();
    (x, y, p)
}

#[test]
fn logistic_regression_recovers_simulated_coefficients() {
    let (x, y, p_true) = simulate(10_000, 7);
    let split = stratified_split(&y, 0.3, 1);
    let labels = Labels::Binary(y.clone());
    let e = fit_and_evaluate(
        x.view(),
        &labels,
        &split,
        &[ModelKind::Linear, ModelKind::Boosted],
        &FitOptions::default(),
    )
    .unwrap();
    let y_test: Vec<bool> = split.test.iter().map(|&i| y[i]).collect();
    let p_test: Vec<f64> = split.test.iter().map(|&i| p_true[i]).collect();
    let true_auc = metrics::roc_auc(&y_test, &p_test).unwrap();

    let lr = LinearModel::fit_logistic(
        x.select(Axis(0), &split.train).view(),
        &split.train.iter().map(|&i| y[i]).collect::<Vec<_>>(),
        &LinearOptions::default(),
    )
    .unwrap();
    let coef = lr.coefficients();
    for (c, b) in coef.iter().zip([1.0, -0.5, 0.25, 0.0]) {
        assert!((c - b).abs() < 0.1, "{coef:?}");
    }
    assert!((lr.intercept() + 1.0).abs() < 0.1, "{}", lr.intercept());

    let (lr_auc, gbt_auc) = (
        auc_of(&e, ModelKind::Linear),
        auc_of(&e, ModelKind::Boosted),
    );
    eprintln!("simulated: true AUC {true_auc:.4}, LR {lr_auc:.4}, GBT {gbt_auc:.4}");
    assert!((lr_auc - true_auc).abs() < 0.01);
    assert!(gbt_auc > true_auc - 0.03);
    // The feature with no effect explains least, for both models.
    let features: Vec<Feature> = (0..4)
        .map(|j| Feature {
            name: format!("x{j}"),
            source: format!("x{j}"),
        })
        .collect();
    for m in &e.models {
        let drivers = top_drivers(m.model.contributions(x.view()).view(), &features);
        assert_eq!(drivers[0].0, "x0", "{:?}", m.kind);
        assert_eq!(drivers[3].0, "x3", "{:?}", m.kind);
        // Well calibrated on the test rows: Brier close to the true probabilities' Brier.
        let Metrics::Binary(b) = &m.metrics else {
            panic!()
        };
        let true_brier = metrics::brier(&y_test, &p_test).unwrap();
        assert!(b.brier.unwrap() < true_brier + 0.01, "{:?} {b:?}", m.kind);
        assert_eq!(b.calibration.len(), 10);
    }
}

#[test]
fn top_reasons_sum_one_hot_features_per_column() {
    let features: Vec<Feature> = [
        ("plan=a", "plan"),
        ("plan=b", "plan"),
        ("spend", "spend"),
        ("spend (missing)", "spend"),
        ("age", "age"),
        ("tenure", "tenure"),
    ]
    .iter()
    .map(|(n, s)| Feature {
        name: n.to_string(),
        source: s.to_string(),
    })
    .collect();
    let contrib = [0.5, 0.25, 0.125, 1.0, -0.5, 0.0];
    let r = top_reasons(&contrib, &features, 5);
    assert_eq!(
        r,
        vec![("spend".to_string(), 1.125), ("plan".to_string(), 0.75)]
    );
    assert_eq!(top_reasons(&contrib, &features, 1).len(), 1);
    let c = Array2::from_shape_vec(
        (2, 6),
        [contrib.to_vec(), vec![-1.0, 0.0, 0.0, 0.0, 0.25, 0.0]].concat(),
    )
    .unwrap();
    let d = top_drivers(c.view(), &features);
    // plan: (|0.75| + |−1|)/2 = 0.875; spend: 1.125/2; age: (0.5 + 0.25)/2; tenure 0.
    assert_eq!(
        d,
        vec![
            ("plan".to_string(), 0.875),
            ("spend".to_string(), 0.5625),
            ("age".to_string(), 0.375),
            ("tenure".to_string(), 0.0)
        ]
    );
}

#[test]
fn splits_are_reproducible_and_disjoint() {
    let s = random_split(100, 0.25, 3);
    assert_eq!((s.train.len(), s.test.len()), (75, 25));
    assert_eq!(s, random_split(100, 0.25, 3));
    assert_ne!(s, random_split(100, 0.25, 4));
    let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());

    let y: Vec<bool> = (0..100).map(|i| i % 10 == 0).collect();
    let s = stratified_split(&y, 0.3, 0);
    assert_eq!(s.test.iter().filter(|&&i| y[i]).count(), 3);
    assert_eq!(s.test.len(), 30);

    let s = split_by_key(&[5, 1, 9, 3], 4);
    assert_eq!(s.train, vec![1, 3]);
    assert_eq!(s.test, vec![0, 2]);
}

#[test]
fn degenerate_training_data_is_an_error_not_a_panic() {
    let x = Array2::from_shape_fn((10, 2), |(i, j)| (i * j) as f64);
    assert!(matches!(
        LinearModel::fit_logistic(x.view(), &[true; 10], &LinearOptions::default()),
        Err(ModelError::InsufficientData(_))
    ));
    assert!(matches!(
        BoostedTrees::fit_binary(x.view(), &[false; 10], &BoostingOptions::default()),
        Err(ModelError::InsufficientData(_))
    ));
    let mut bad = x.clone();
    bad[[0, 0]] = f64::NAN;
    let y: Vec<bool> = (0..10).map(|i| i % 2 == 0).collect();
    assert!(LinearModel::fit_logistic(bad.view(), &y, &LinearOptions::default()).is_err());
    // Collinear features without a penalty cannot be solved.
    let col = Array2::from_shape_fn((10, 2), |(i, _)| i as f64);
    let yy: Vec<f64> = (0..10).map(|i| i as f64).collect();
    let opts = LinearOptions {
        alpha: 0.0,
        ..LinearOptions::default()
    };
    assert!(matches!(
        LinearModel::fit_ridge(col.view(), &yy, &opts),
        Err(ModelError::NoConvergence(_))
    ));
    // An iteration limit too small to converge is reported.
    let (x, y, _) = simulate(2_000, 1);
    let opts = LinearOptions {
        max_iterations: 1,
        ..LinearOptions::default()
    };
    assert!(matches!(
        LinearModel::fit_logistic(x.view(), &y, &opts),
        Err(ModelError::NoConvergence(_))
    ));
}

/// The scale target: 1M customers × 30 features, both models, on this machine's 2
/// cores. Run in release, where the time is meant: `CLIENTELE_SCALE_TESTS=1 cargo test --release
/// -p clientele-models --lib scale_one_million -- --nocapture`.
#[test]
fn scale_one_million_rows() {
    if !crate::scale_tests() {
        return;
    }
    let (n, p) = (1_000_000, 30);
    let started = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut x = Array2::<f64>::from_shape_fn((n, p), |_| StandardNormal.sample(&mut rng));
    // A third of the columns 0/1, like one-hot and yes/no features.
    for j in 20..p {
        x.column_mut(j)
            .mapv_inplace(|v| f64::from(u8::from(v > 0.5)));
    }
    let y: Vec<bool> = x
        .rows()
        .into_iter()
        .map(|r| {
            let z = -2.0 + r[0] - 0.5 * r[1] + 0.5 * r[2] * r[3] + 0.8 * r[20] - (r[4] * 2.0).sin();
            rng.random::<f64>() < sigmoid(z)
        })
        .collect();
    eprintln!("simulated in {:.1}s", started.elapsed().as_secs_f64());
    let split = stratified_split(&y, 0.3, 0);
    let labels = Labels::Binary(y);
    let started = Instant::now();
    let e = fit_and_evaluate(
        x.view(),
        &labels,
        &split,
        &[ModelKind::Linear, ModelKind::Boosted],
        &FitOptions::default(),
    )
    .unwrap();
    eprintln!("fit_and_evaluate: {:.1}s", started.elapsed().as_secs_f64());
    for m in &e.models {
        let Metrics::Binary(b) = &m.metrics else {
            panic!()
        };
        eprintln!(
            "  {:?}: fit {:.1}s, AUC {:.4}",
            m.kind,
            m.fit_seconds,
            b.auc.unwrap()
        );
    }
    for m in &e.models {
        let started = Instant::now();
        let s = m.model.predict(x.view());
        eprintln!(
            "  {:?}: scoring 1M rows {:.1}s",
            m.kind,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(s.len(), n);
        let started = Instant::now();
        let c = m.model.contributions(rows_view(x.view(), 0..100_000));
        eprintln!(
            "  {:?}: contributions for 100k rows {:.1}s",
            m.kind,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(c.nrows(), 100_000);
    }
}
