//! Evaluation metrics for scores and predictions: ranking (ROC AUC, average precision, lift),
//! probability quality (Brier, log-loss, calibration table), regression error (R², MAE, RMSE)
//! and a per-group fairness report.
//!
//! Every function takes plain slices and returns `None` (or an empty table) when the metric
//! is undefined for the data — no rows, one class only, mismatched lengths — instead of a NaN
//! that would print as a number. Definitions follow scikit-learn where it has the metric, so
//! figures can be checked side by side (`bench/sklearn_reference.py`).

use serde::Serialize;
use std::collections::BTreeMap;

/// Indices of `score` sorted by score, descending; NaN scores sort last so they never rank
/// as the riskiest customers.
fn order_desc(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (score[a], score[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) => y.total_cmp(&x),
        }
    });
    idx
}

/// Runs of equal scores in an order produced by [`order_desc`], as `start..end` ranges.
fn tie_runs(order: &[usize], score: &[f64]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=order.len() {
        if i == order.len() || score[order[i]] != score[order[start]] {
            runs.push(start..i);
            start = i;
        }
    }
    runs
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (the Mann–Whitney U statistic divided by P·N).
///
/// `None` when the lengths differ, or when either class is absent (the curve is undefined).
pub fn roc_auc(y: &[bool], score: &[f64]) -> Option<f64> {
    if y.len() != score.len() {
        return None;
    }
    let order = order_desc(score);
    let (mut pos_seen, mut u) = (0.0_f64, 0.0_f64);
    let n_pos = y.iter().filter(|&&v| v).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    // Walking from the top score down: every negative is beaten by the positives already
    // seen above it, and ties with positives in its own run for half.
    for run in tie_runs(&order, score) {
        let rows = &order[run];
        let p = rows.iter().filter(|&&i| y[i]).count() as f64;
        let n = rows.len() as f64 - p;
        u += n * (pos_seen + 0.5 * p);
        pos_seen += p;
    }
    Some(u / (n_pos * n_neg))
}

/// Average precision, exactly as scikit-learn's `average_precision_score`:
/// `AP = Σₖ (Rₖ − Rₖ₋₁) · Pₖ` over the distinct score thresholds taken from the highest
/// down, where Pₖ and Rₖ are the precision and recall of flagging every row scoring at least
/// the k-th threshold (tied rows enter together; no interpolation).
///
/// `None` when the lengths differ or there is no positive (recall is undefined; scikit-learn
/// warns and returns 0 there).
pub fn pr_auc(y: &[bool], score: &[f64]) -> Option<f64> {
    if y.len() != score.len() {
        return None;
    }
    let n_pos = y.iter().filter(|&&v| v).count() as f64;
    if n_pos == 0.0 {
        return None;
    }
    let order = order_desc(score);
    let (mut tp, mut flagged, mut prev_recall, mut ap) = (0.0, 0.0, 0.0, 0.0);
    for run in tie_runs(&order, score) {
        let rows = &order[run];
        tp += rows.iter().filter(|&&i| y[i]).count() as f64;
        flagged += rows.len() as f64;
        let recall = tp / n_pos;
        ap += (recall - prev_recall) * (tp / flagged);
        prev_recall = recall;
    }
    Some(ap)
}

/// Brier score: the mean of `(p − y)²` with `y` as 0/1; 0 is perfect, 0.25 is a coin toss.
///
/// `None` for no rows or mismatched lengths.
pub fn brier(y: &[bool], p: &[f64]) -> Option<f64> {
    if y.is_empty() || y.len() != p.len() {
        return None;
    }
    let s: f64 = y
        .iter()
        .zip(p)
        .map(|(&t, &q)| (q - f64::from(u8::from(t))).powi(2))
        .sum();
    Some(s / y.len() as f64)
}

/// Mean negative log-likelihood of the outcomes under probabilities `p`, natural log, with
/// `p` clipped to `[1e-15, 1 − 1e-15]` (scikit-learn's clipping) so one confident mistake
/// gives a large but finite value.
///
/// `None` for no rows or mismatched lengths.
pub fn log_loss(y: &[bool], p: &[f64]) -> Option<f64> {
    if y.is_empty() || y.len() != p.len() {
        return None;
    }
    let eps = 1e-15;
    let s: f64 = y
        .iter()
        .zip(p)
        .map(|(&t, &q)| {
            let q = q.clamp(eps, 1.0 - eps);
            if t { -q.ln() } else { -(1.0 - q).ln() }
        })
        .sum();
    Some(s / y.len() as f64)
}

/// One row of a calibration table: the rows whose predicted probability falls in one bin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBin {
    /// 1-based bin number, 1 = lowest predicted probabilities.
    pub bin: usize,
    /// Rows in the bin.
    pub n: usize,
    /// Mean predicted probability of the bin's rows.
    pub mean_predicted: f64,
    /// Share of the bin's rows whose outcome is positive.
    pub observed_rate: f64,
    /// Lowest predicted probability in the bin.
    pub min_score: f64,
    /// Highest predicted probability in the bin.
    pub max_score: f64,
}

/// Calibration table by quantile of predicted probability: rows are sorted by `p` and cut
/// into `bins` equal-count bins (deciles for 10), each reporting its mean prediction and
/// observed positive rate; a well-calibrated model has the two close in every bin.
///
/// Ties: a run of equal predictions is never split across bins — the whole run goes to the
/// bin where it starts — so bins can hold unequal counts and a bin that ends up empty is left
/// out (a model predicting one constant gives a single bin). NaN predictions are ignored.
/// Empty for no rows, `bins == 0` or mismatched lengths.
pub fn calibration_table(y: &[bool], p: &[f64], bins: usize) -> Vec<CalibrationBin> {
    if bins == 0 || y.len() != p.len() {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let n = order.len();
    let mut out = Vec::new();
    let mut start = 0;
    for b in 0..bins {
        let target_end = ((b + 1) * n).div_ceil(bins).min(n);
        if start >= target_end && b + 1 < bins {
            continue;
        }
        let mut end = target_end.max(start);
        // Extend to the end of the tied run straddling the boundary.
        while end < n && end > 0 && p[order[end]] == p[order[end - 1]] {
            end += 1;
        }
        if end > start {
            let rows = &order[start..end];
            let k = rows.len() as f64;
            out.push(CalibrationBin {
                bin: b + 1,
                n: rows.len(),
                mean_predicted: rows.iter().map(|&i| p[i]).sum::<f64>() / k,
                observed_rate: rows.iter().filter(|&&i| y[i]).count() as f64 / k,
                min_score: p[rows[0]],
                max_score: p[rows[rows.len() - 1]],
            });
        }
        start = end;
    }
    out
}

/// Lift in the top `fraction` of rows by score: the positive rate among the
/// `ceil(fraction · n)` highest-scored rows divided by the overall positive rate (2.0 = the
/// targeted group converts twice as often as average).
///
/// Ties at the cut-off are credited proportionally: of a tied run that straddles it, the rows
/// taken count the run's average positive rate, which is the expected value of a random
/// tie-break and does not depend on row order. `None` for no rows, no positives, mismatched
/// lengths or a fraction outside `(0, 1]`.
pub fn lift_at(y: &[bool], score: &[f64], fraction: f64) -> Option<f64> {
    if y.is_empty() || y.len() != score.len() || !(fraction > 0.0 && fraction <= 1.0) {
        return None;
    }
    let n_pos = y.iter().filter(|&&v| v).count() as f64;
    if n_pos == 0.0 {
        return None;
    }
    let n = y.len();
    let k = ((fraction * n as f64).ceil() as usize).clamp(1, n);
    let order = order_desc(score);
    let mut positives = 0.0;
    for run in tie_runs(&order, score) {
        if run.start >= k {
            break;
        }
        let rows = &order[run.clone()];
        let p = rows.iter().filter(|&&i| y[i]).count() as f64;
        let taken = (run.end.min(k) - run.start) as f64;
        positives += p * taken / rows.len() as f64;
    }
    Some((positives / k as f64) / (n_pos / n as f64))
}

/// Coefficient of determination `1 − SS_res / SS_tot` (can be negative for a model worse
/// than predicting the mean).
///
/// `None` for no rows, mismatched lengths, or a constant `y` (SS_tot = 0, where scikit-learn
/// returns an arbitrary 0 or 1).
pub fn r2(y: &[f64], pred: &[f64]) -> Option<f64> {
    if y.is_empty() || y.len() != pred.len() {
        return None;
    }
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if ss_tot == 0.0 {
        return None;
    }
    let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b).powi(2)).sum();
    Some(1.0 - ss_res / ss_tot)
}

/// Mean absolute error. `None` for no rows or mismatched lengths.
pub fn mae(y: &[f64], pred: &[f64]) -> Option<f64> {
    if y.is_empty() || y.len() != pred.len() {
        return None;
    }
    Some(y.iter().zip(pred).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64)
}

/// Root mean squared error. `None` for no rows or mismatched lengths.
pub fn rmse(y: &[f64], pred: &[f64]) -> Option<f64> {
    if y.is_empty() || y.len() != pred.len() {
        return None;
    }
    Some(
        (y.iter()
            .zip(pred)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / y.len() as f64)
            .sqrt(),
    )
}

/// Groups smaller than this many rows are listed but left out of the fairness ratios: their
/// AUC and mean score are too noisy to call a disparity (a 10-row group's AUC moves by 0.1
/// with one customer).
pub const MIN_GROUP_ROWS: usize = 30;

/// The label used for rows whose group is missing.
pub const UNKNOWN_GROUP: &str = "unknown";

/// How the model performs and scores within one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMetrics {
    /// The group's value (`"unknown"` for rows without one).
    pub group: String,
    /// Rows in the group.
    pub n: usize,
    /// Positive outcomes in the group.
    pub positives: usize,
    /// ROC AUC within the group; `None` when it holds only one class.
    pub auc: Option<f64>,
    /// Mean score of the group's rows.
    pub mean_score: f64,
}

/// Per-group metrics and the largest disparities between groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    /// One entry per group, largest group first (ties by name).
    pub groups: Vec<GroupMetrics>,
    /// Largest AUC divided by smallest AUC over groups with at least [`MIN_GROUP_ROWS`] rows
    /// and both classes; `None` when fewer than two groups qualify.
    pub max_auc_ratio: Option<f64>,
    /// Largest mean score divided by smallest over groups with at least [`MIN_GROUP_ROWS`]
    /// rows; `None` when fewer than two qualify or the smallest mean is not positive.
    pub max_mean_score_ratio: Option<f64>,
}

/// Fairness report: the model's AUC and mean score within each group (say, gender or region),
/// and the largest ratio between groups, so a model that ranks one group much worse, or
/// scores it much higher, is visible. Rows with no group count as `"unknown"`. Groups below
/// [`MIN_GROUP_ROWS`] rows are reported but not used in the ratios. Mismatched lengths give
/// an empty report.
pub fn group_report(y: &[bool], score: &[f64], groups: &[Option<String>]) -> GroupReport {
    let empty = GroupReport {
        groups: Vec::new(),
        max_auc_ratio: None,
        max_mean_score_ratio: None,
    };
    if y.len() != score.len() || y.len() != groups.len() {
        return empty;
    }
    let mut rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        rows.entry(g.as_deref().unwrap_or(UNKNOWN_GROUP))
            .or_default()
            .push(i);
    }
    let mut out: Vec<GroupMetrics> = rows
        .into_iter()
        .map(|(name, idx)| {
            let gy: Vec<bool> = idx.iter().map(|&i| y[i]).collect();
            let gs: Vec<f64> = idx.iter().map(|&i| score[i]).collect();
            GroupMetrics {
                group: name.to_string(),
                n: idx.len(),
                positives: gy.iter().filter(|&&v| v).count(),
                auc: roc_auc(&gy, &gs),
                mean_score: gs.iter().sum::<f64>() / gs.len() as f64,
            }
        })
        .collect();
    out.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.group.cmp(&b.group)));
    let ratio = |vals: Vec<f64>| -> Option<f64> {
        if vals.len() < 2 {
            return None;
        }
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo > 0.0).then(|| hi / lo)
    };
    let big = || out.iter().filter(|g| g.n >= MIN_GROUP_ROWS);
    GroupReport {
        max_auc_ratio: ratio(big().filter_map(|g| g.auc).collect()),
        max_mean_score_ratio: ratio(big().map(|g| g.mean_score).collect()),
        groups: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn auc_counts_ties_as_half() {
        // Positives 0.8, 0.5; negatives 0.5, 0.2. Pairs: (0.8>0.5)=1, (0.8>0.2)=1,
        // (0.5=0.5)=½, (0.5>0.2)=1 → 3.5 / 4.
        let y = [true, true, false, false];
        let s = [0.8, 0.5, 0.5, 0.2];
        assert!(close(roc_auc(&y, &s).unwrap(), 0.875));
        // All scores tied: every pair is half a win.
        assert!(close(roc_auc(&y, &[0.3; 4]).unwrap(), 0.5));
        assert!(close(roc_auc(&[false, true], &[0.9, 0.1]).unwrap(), 0.0));
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert_eq!(roc_auc(&[], &[]), None);
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
        assert_eq!(roc_auc(&[true], &[0.1, 0.2]), None);
        assert_eq!(pr_auc(&[false, false], &[0.1, 0.2]), None);
        assert_eq!(brier(&[], &[]), None);
        assert_eq!(log_loss(&[], &[]), None);
        assert_eq!(lift_at(&[false], &[0.1], 0.1), None);
        assert_eq!(lift_at(&[true], &[0.1], 0.0), None);
        assert_eq!(r2(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(mae(&[], &[]), None);
        assert_eq!(rmse(&[1.0], &[]), None);
        assert!(calibration_table(&[], &[], 10).is_empty());
    }

    #[test]
    fn average_precision_matches_sklearn_definition() {
        // sklearn's own docstring example: y = [0, 0, 1, 1], scores [0.1, 0.4, 0.35, 0.8]
        // gives 0.8333…: thresholds 0.8 (P=1, R=½), 0.4 (P=½, R=½), 0.35 (P=⅔, R=1),
        // AP = ½·1 + 0·½ + ½·⅔ = 0.8333.
        let ap = pr_auc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!(close(ap, 0.5 + 0.5 * 2.0 / 3.0));
        // With a tie: scores [0.9, 0.5, 0.5, 0.1], y = [1, 0, 1, 0]. Threshold 0.9: P=1,
        // R=½; threshold 0.5 takes both tied rows: P=⅔, R=1; 0.1 adds no recall.
        // AP = ½·1 + ½·⅔ = 0.8333, whatever order the tied rows come in.
        let ap = pr_auc(&[true, false, true, false], &[0.9, 0.5, 0.5, 0.1]).unwrap();
        assert!(close(ap, 0.5 + 0.5 * 2.0 / 3.0));
        // Tie at the top between a negative and a positive: P = ½ at R = 1 → AP = ½.
        assert!(close(pr_auc(&[false, true], &[0.7, 0.7]).unwrap(), 0.5));
    }

    #[test]
    fn brier_and_log_loss() {
        // (0.9−1)² + (0.2−0)² + (0.6−1)² = 0.01 + 0.04 + 0.16 = 0.21 → /3 = 0.07
        let y = [true, false, true];
        let p = [0.9, 0.2, 0.6];
        assert!(close(brier(&y, &p).unwrap(), 0.07));
        let ll = -(0.9_f64.ln() + 0.8_f64.ln() + 0.6_f64.ln()) / 3.0;
        assert!(close(log_loss(&y, &p).unwrap(), ll));
        // Clipped, not infinite.
        assert!(log_loss(&[true], &[0.0]).unwrap() < 35.0);
    }

    #[test]
    fn calibration_bins_are_equal_count_and_keep_ties_together() {
        let p: Vec<f64> = (0..10).map(|i| i as f64 / 10.0).collect();
        let y: Vec<bool> = (0..10).map(|i| i >= 5).collect();
        let t = calibration_table(&y, &p, 5);
        assert_eq!(t.len(), 5);
        assert!(t.iter().all(|b| b.n == 2));
        assert!(close(t[0].mean_predicted, 0.05));
        assert!(close(t[0].observed_rate, 0.0));
        assert!(close(t[4].observed_rate, 1.0));
        assert!(close(t[2].min_score, 0.4) && close(t[2].max_score, 0.5));
        assert!(close(t[2].observed_rate, 0.5));
        // Scores [0.1, 0.2, 0.2, 0.2, 0.3, 0.4] in 3 bins: the tie run 0.2 straddles the
        // first boundary (after 2 rows) and moves whole into bin 1, which takes 4 rows;
        // bin 2 would have ended at row 4 already, so it is empty and left out.
        let p = [0.1, 0.2, 0.2, 0.2, 0.3, 0.4];
        let t = calibration_table(&[false; 6], &p, 3);
        let shape: Vec<(usize, usize)> = t.iter().map(|b| (b.bin, b.n)).collect();
        assert_eq!(shape, vec![(1, 4), (3, 2)]);
        // Constant predictions: one bin.
        assert_eq!(calibration_table(&[true, false], &[0.5, 0.5], 10).len(), 1);
    }

    #[test]
    fn lift_in_the_top_fraction() {
        // 10 rows, 2 positives (rate 0.2), both in the top 2 (top 20 %): rate 1.0 → lift 5.
        let y: Vec<bool> = (0..10).map(|i| i < 2).collect();
        let s: Vec<f64> = (0..10).map(|i| 1.0 - i as f64 / 10.0).collect();
        assert!(close(lift_at(&y, &s, 0.2).unwrap(), 5.0));
        assert!(close(lift_at(&y, &s, 1.0).unwrap(), 1.0));
        // Everything tied: top 20 % gets the average rate → lift 1.
        assert!(close(lift_at(&y, &[0.5; 10], 0.2).unwrap(), 1.0));
    }

    #[test]
    fn regression_errors() {
        let y = [1.0, 2.0, 3.0, 4.0];
        let p = [1.5, 2.0, 2.0, 4.0];
        // SS_res = 0.25 + 0 + 1 + 0 = 1.25; SS_tot = 2.25+0.25+0.25+2.25 = 5 → R² = 0.75
        assert!(close(r2(&y, &p).unwrap(), 0.75));
        assert!(close(mae(&y, &p).unwrap(), 1.5 / 4.0));
        assert!(close(rmse(&y, &p).unwrap(), (1.25_f64 / 4.0).sqrt()));
    }

    #[test]
    fn group_report_ratios() {
        // Group "a": 40 rows, perfectly ranked (AUC 1), mean score 0.2.
        // Group "b": 40 rows, half the pairs inverted (AUC 0.5: all tied), mean score 0.4.
        // Group "c": 5 rows (too small for the ratios), and 3 rows with no group → unknown.
        let mut y = Vec::new();
        let mut s = Vec::new();
        let mut g = Vec::new();
        for i in 0..40 {
            y.push(i < 20);
            s.push(if i < 20 { 0.3 } else { 0.1 });
            g.push(Some("a".to_string()));
        }
        for i in 0..40 {
            y.push(i % 2 == 0);
            s.push(0.4);
            g.push(Some("b".to_string()));
        }
        for i in 0..5 {
            y.push(i == 0);
            s.push(0.9 - i as f64 / 10.0);
            g.push(Some("c".to_string()));
        }
        for _ in 0..3 {
            y.push(false);
            s.push(0.05);
            g.push(None);
        }
        let r = group_report(&y, &s, &g);
        let names: Vec<&str> = r.groups.iter().map(|m| m.group.as_str()).collect();
        assert_eq!(names, vec!["a", "b", "c", "unknown"]);
        assert_eq!(r.groups[0].positives, 20);
        assert!(close(r.groups[0].auc.unwrap(), 1.0));
        assert!(close(r.groups[1].auc.unwrap(), 0.5));
        assert_eq!(r.groups[3].auc, None);
        assert!(close(r.max_auc_ratio.unwrap(), 2.0));
        assert!(close(r.max_mean_score_ratio.unwrap(), 0.4 / 0.2));
    }
}
