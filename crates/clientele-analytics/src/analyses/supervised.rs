//! What churn, lead scoring and `predict` share: fitting logistic regression and boosted
//! trees on the same encoded features, the evaluation tables, and per-row reasons in words.

use std::collections::HashMap;

use arrow::array::RecordBatch;
use clientele_models::classify::{self, Evaluation, FitOptions, Metrics, ModelKind, Scorer, Split};
use clientele_models::tabular::{Column, Encoder, EncoderOptions, Labels};
use ndarray::Array2;

use crate::AnalyticsError;
use crate::util::Columns;

/// Most training rows used by the logistic (ridge) regression.
pub(crate) const MAX_TRAINING_ROWS: usize = 200_000;
/// Most training rows used by the boosted trees (perpetual grows deep trees; its fit time
/// grows with the rows).
pub(crate) const MAX_BOOSTING_ROWS: usize = 20_000;

/// Both models fitted on the training rows and evaluated on the test rows.
pub(crate) struct Fitted {
    pub encoder: Encoder,
    pub evaluation: Evaluation,
    /// Index into `evaluation.models` of the model used for scoring: the better test AUC
    /// (binary) or R² (numeric); the linear model on a tie.
    pub chosen: usize,
}

impl Fitted {
    pub fn model(&self) -> &dyn Scorer {
        self.evaluation.models[self.chosen].model.as_ref()
    }

    pub fn chosen_name(&self) -> &'static str {
        let m = &self.evaluation.models[self.chosen];
        m.kind.label(m.model.task())
    }
}

/// Encodes `columns` (learning the encoding on the training rows only), fits both model
/// families on the training rows and evaluates them on the test rows.
pub(crate) fn fit_both(
    columns: &[Column],
    labels: &Labels,
    split: &Split,
    what: &str,
) -> Result<(Fitted, Array2<f64>), AnalyticsError> {
    // Past a few hundred thousand rows more training data barely moves either model, while
    // fitting time keeps growing: train on an evenly spaced subset (deterministic), and
    // evaluate on every test row.
    let mut split = split.clone();
    if split.train.len() > MAX_TRAINING_ROWS {
        let step = split.train.len() as f64 / MAX_TRAINING_ROWS as f64;
        split.train = (0..MAX_TRAINING_ROWS)
            .map(|k| split.train[(k as f64 * step) as usize])
            .collect();
    }
    let encoder = Encoder::fit_rows(columns, &split.train, &EncoderOptions::default())
        .map_err(AnalyticsError::model(what))?;
    let x = encoder
        .transform(columns)
        .map_err(AnalyticsError::model(what))?;
    let mut options = FitOptions::default();
    options.boosting.max_training_rows = Some(MAX_BOOSTING_ROWS);
    let evaluation = classify::fit_and_evaluate(
        x.view(),
        labels,
        &split,
        &[ModelKind::Linear, ModelKind::Boosted],
        &options,
    )
    .map_err(AnalyticsError::model(what))?;
    let score = |m: &Metrics| match m {
        Metrics::Binary(b) => b.auc,
        Metrics::Regression(r) => r.r2,
    };
    let mut chosen = 0;
    for (i, m) in evaluation.models.iter().enumerate() {
        if score(&m.metrics).unwrap_or(f64::NEG_INFINITY)
            > score(&evaluation.models[chosen].metrics).unwrap_or(f64::NEG_INFINITY)
        {
            chosen = i;
        }
    }
    Ok((
        Fitted {
            encoder,
            evaluation,
            chosen,
        },
        x,
    ))
}

/// The test-set metrics of every model, one row each.
pub(crate) fn metrics_table(fitted: &Fitted) -> RecordBatch {
    let ev = &fitted.evaluation;
    let names: Vec<Option<String>> = ev
        .models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = m.kind.label(m.model.task()).to_string();
            Some(if i == fitted.chosen {
                format!("{name} (used)")
            } else {
                name
            })
        })
        .collect();
    let binary = ev
        .models
        .iter()
        .all(|m| matches!(m.metrics, Metrics::Binary(_)));
    let pick = |f: &dyn Fn(&Metrics) -> Option<f64>| -> Vec<Option<f64>> {
        ev.models.iter().map(|m| f(&m.metrics)).collect()
    };
    let c = Columns::default().text("model", names);
    let c = if binary {
        let b = |f: fn(&classify::BinaryMetrics) -> Option<f64>| {
            pick(&|m| match m {
                Metrics::Binary(x) => f(x),
                _ => None,
            })
        };
        c.num("roc_auc", b(|x| x.auc))
            .num("pr_auc", b(|x| x.pr_auc))
            .num("brier", b(|x| x.brier))
            .num("log_loss", b(|x| x.log_loss))
            .num("lift_top_decile", b(|x| x.lift))
            .pct("positive_rate", b(|x| x.positive_rate))
    } else {
        let r = |f: fn(&classify::RegressionMetrics) -> Option<f64>| {
            pick(&|m| match m {
                Metrics::Regression(x) => f(x),
                _ => None,
            })
        };
        c.num("r2", r(|x| x.r2))
            .num("mae", r(|x| x.mae))
            .num("rmse", r(|x| x.rmse))
    };
    c.num(
        "fit_seconds",
        ev.models.iter().map(|m| Some(m.fit_seconds)).collect(),
    )
    .batch()
}

/// Calibration by decile of predicted probability, for every binary model.
pub(crate) fn calibration_table(fitted: &Fitted) -> Option<RecordBatch> {
    let mut model = Vec::new();
    let mut bin = Vec::new();
    let mut n = Vec::new();
    let mut predicted = Vec::new();
    let mut observed = Vec::new();
    for m in &fitted.evaluation.models {
        let Metrics::Binary(b) = &m.metrics else {
            return None;
        };
        for c in &b.calibration {
            model.push(Some(m.kind.label(m.model.task()).to_string()));
            bin.push(Some(c.bin as f64));
            n.push(Some(c.n as f64));
            predicted.push(Some(c.mean_predicted));
            observed.push(Some(c.observed_rate));
        }
    }
    Some(
        Columns::default()
            .text("model", model)
            .num("decile", bin)
            .num("customers", n)
            .pct("mean_predicted", predicted)
            .pct("observed", observed)
            .batch(),
    )
}

/// The metrics as JSON (per model), for `--format json`.
pub(crate) fn metrics_json(fitted: &Fitted) -> serde_json::Value {
    let ev = &fitted.evaluation;
    serde_json::json!({
        "n_train": ev.n_train,
        "n_test": ev.n_test,
        "used": fitted.chosen_name(),
        "models": ev.models.iter().map(|m| serde_json::json!({
            "model": m.kind.label(m.model.task()),
            "metrics": m.metrics,
            "fit_seconds": m.fit_seconds,
        })).collect::<Vec<_>>(),
    })
}

/// The input columns that drive the chosen model most, with their mean absolute contribution.
pub(crate) fn drivers(fitted: &Fitted, x: &Array2<f64>, rows: &[usize]) -> Vec<(String, f64)> {
    let sample: Vec<usize> = rows.iter().copied().take(20_000).collect();
    let xs = x.select(ndarray::Axis(0), &sample);
    let contrib = fitted.model().contributions(xs.view());
    classify::top_drivers(contrib.view(), fitted.encoder.features())
}

/// [`drivers`] as a table, each input column named by its description in `labels`.
pub(crate) fn drivers_table(
    fitted: &Fitted,
    x: &Array2<f64>,
    rows: &[usize],
    labels: &HashMap<String, String>,
) -> RecordBatch {
    let drivers = drivers(fitted, x, rows);
    Columns::default()
        .text(
            "feature",
            drivers
                .iter()
                .map(|(k, _)| Some(labels.get(k).cloned().unwrap_or_else(|| k.clone())))
                .collect(),
        )
        .num(
            "importance",
            drivers.iter().map(|(_, v)| Some(*v)).collect(),
        )
        .batch()
}

/// Up to three reasons per row: the input columns pushing its score up most, in words
/// (`labels` maps a column to its description) with the row's value.
pub(crate) fn reasons(
    fitted: &Fitted,
    x: &Array2<f64>,
    columns: &[Column],
    labels: &HashMap<String, String>,
) -> Vec<Option<String>> {
    let contrib = fitted.model().contributions(x.view());
    let by_name: HashMap<&str, &Column> = columns.iter().map(|c| (c.name(), c)).collect();
    (0..x.nrows())
        .map(|i| {
            let row = contrib.row(i).to_vec();
            let top = classify::top_reasons(&row, fitted.encoder.features(), 3);
            if top.is_empty() {
                return None;
            }
            Some(
                top.iter()
                    .map(|(col, _)| {
                        let label = labels.get(col).map_or(col.as_str(), String::as_str);
                        match by_name.get(col.as_str()) {
                            Some(Column::Numeric { values, .. }) => match values[i] {
                                Some(v) => format!("{label}: {}", short(v)),
                                None => format!("{label}: unknown"),
                            },
                            Some(Column::Text(t)) => {
                                format!("{label}: {}", t.values[i].as_deref().unwrap_or("unknown"))
                            }
                            None => label.to_string(),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
        .collect()
}

/// A number for a sentence: whole numbers without decimals, others with two.
pub(crate) fn short(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
