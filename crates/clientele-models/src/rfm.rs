//! RFM analysis: recency, frequency and monetary value scored 1–5 by quintile of rank, and
//! the eleven named segments of the usual R × FM grid.
//!
//! Scores are relative to the customers scored together: a 5 means "in the best fifth of
//! these customers", not a fixed threshold. The rules below are deterministic — the same
//! values always give the same scores whatever their order — so segment counts can be
//! reproduced and compared between runs.

use serde::{Deserialize, Serialize};

/// Quintile scores 1..=5 of `values`, 5 being the best fifth.
///
/// **Rule (mid-rank quintiles).** With `n` the number of non-NaN values, a value `v` has
/// `below` values strictly smaller and `equal` values equal to it (itself included); its
/// mid-rank fraction is `F = (below + equal / 2) / n`, the share of values below the middle
/// of its run of ties. Its score is `1 + floor(5 · F)` (at most 5).
///
/// - Equal values always get the same score (ties take the score of the middle of their run).
/// - Distinct values split as evenly as possible: with `n = 10`, two customers per score.
/// - A constant column scores 3 for everyone (`F = 1/2`), as does a single value.
/// - `n < 5` spreads out symmetrically: 2 values score 2 and 4; 3 values score 1, 3, 5;
///   4 values score 1, 2, 4, 5.
/// - `higher_is_better = false` (recency in days: fewer days is better) applies the same rule
///   to `−v`, so the most recent fifth scores 5.
/// - NaN (missing) values score 1 and do not count in `n`.
/// - No values give an empty result.
pub fn quintile_scores(values: &[f64], higher_is_better: bool) -> Vec<u8> {
    let key = |v: f64| if higher_is_better { v } else { -v };
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| !values[i].is_nan()).collect();
    order.sort_by(|&a, &b| key(values[a]).total_cmp(&key(values[b])));
    let n = order.len() as u128;
    let mut scores = vec![1u8; values.len()];
    let mut start = 0;
    while start < order.len() {
        // `==` rather than total_cmp so that 0.0 and -0.0 count as one tie.
        let v = values[order[start]];
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| values[i] == v)
                .count();
        // floor(5 · (below + equal/2) / n) in integers: F often lands exactly on a
        // boundary (0.2, 0.4, …) where floating point could round either way.
        let (below, equal) = (start as u128, (end - start) as u128);
        let score = (1 + 5 * (2 * below + equal) / (2 * n)).min(5) as u8;
        for &i in &order[start..end] {
            scores[i] = score;
        }
        start = end;
    }
    scores
}

/// A customer's RFM scores, each 1..=5 with 5 the best: `r` recency (most recent purchase),
/// `f` frequency (number of orders), `m` monetary value (revenue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RfmScore {
    /// Recency score: 5 for the fifth of customers who bought most recently.
    pub r: u8,
    /// Frequency score: 5 for the fifth with the most orders.
    pub f: u8,
    /// Monetary score: 5 for the fifth with the most revenue.
    pub m: u8,
}

impl RfmScore {
    /// The combined frequency–monetary score `FM = round((F + M) / 2)` with halves rounded
    /// up, i.e. `(F + M + 1) / 2` in integer division: F 5, M 4 gives FM 5; F 1, M 2 gives 2.
    pub fn fm(&self) -> u8 {
        (self.f + self.m).div_ceil(2)
    }

    /// The three scores as the usual code, e.g. `"545"` for R 5, F 4, M 5.
    pub fn code(&self) -> String {
        format!("{}{}{}", self.r, self.f, self.m)
    }
}

/// RFM scores per customer: recency by [`quintile_scores`] with fewer days better,
/// frequency and monetary value with more better. The three slices hold one value per
/// customer in the same order.
///
/// # Panics
///
/// If the slices differ in length.
pub fn rfm_scores(recency_days: &[f64], frequency: &[f64], monetary: &[f64]) -> Vec<RfmScore> {
    assert!(
        recency_days.len() == frequency.len() && frequency.len() == monetary.len(),
        "rfm_scores: recency, frequency and monetary must have one value per customer"
    );
    let r = quintile_scores(recency_days, false);
    let f = quintile_scores(frequency, true);
    let m = quintile_scores(monetary, true);
    (0..r.len())
        .map(|i| RfmScore {
            r: r[i],
            f: f[i],
            m: m[i],
        })
        .collect()
}

/// The named RFM segments. [`segment`] assigns each customer to exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RfmSegment {
    /// Bought recently, buy often and spend the most (R 5, FM 4–5).
    Champions,
    /// Buy often and spend well, and still recently (R 3–4, FM 4–5).
    Loyal,
    /// Recent customers with average frequency and spend (R 4–5, FM 2–3).
    PotentialLoyalists,
    /// Bought very recently, but little so far (R 5, FM 1).
    New,
    /// Recent buyers who have not bought much yet (R 4, FM 1).
    Promising,
    /// Average on recency, frequency and spend (R 3, FM 3).
    NeedAttention,
    /// Below-average recency, frequency and spend (R 3, FM 1–2).
    AboutToSleep,
    /// Used to buy often and spend well, but not for a long time (R 1–2, FM 3–4).
    AtRisk,
    /// Were among the best customers, and have not come back for a long time (R 1–2, FM 5).
    CantLoseThem,
    /// Last purchase long ago, few orders, low spend (R 2, FM 1–2).
    Hibernating,
    /// Lowest recency, frequency and spend (R 1, FM 1–2).
    Lost,
}

impl RfmSegment {
    /// Every segment, from best to worst as listed in the grid of [`segment`].
    pub const ALL: [RfmSegment; 11] = [
        RfmSegment::Champions,
        RfmSegment::Loyal,
        RfmSegment::PotentialLoyalists,
        RfmSegment::New,
        RfmSegment::Promising,
        RfmSegment::NeedAttention,
        RfmSegment::AboutToSleep,
        RfmSegment::AtRisk,
        RfmSegment::CantLoseThem,
        RfmSegment::Hibernating,
        RfmSegment::Lost,
    ];

    /// The segment's display name, e.g. `"Potential loyalists"`.
    pub fn name(self) -> &'static str {
        match self {
            RfmSegment::Champions => "Champions",
            RfmSegment::Loyal => "Loyal",
            RfmSegment::PotentialLoyalists => "Potential loyalists",
            RfmSegment::New => "New",
            RfmSegment::Promising => "Promising",
            RfmSegment::NeedAttention => "Need attention",
            RfmSegment::AboutToSleep => "About to sleep",
            RfmSegment::AtRisk => "At risk",
            RfmSegment::CantLoseThem => "Can't lose them",
            RfmSegment::Hibernating => "Hibernating",
            RfmSegment::Lost => "Lost",
        }
    }

    /// One sentence on who is in the segment and what is usually done about them.
    pub fn description(self) -> &'static str {
        match self {
            RfmSegment::Champions => {
                "Bought recently, buy often and spend the most. Reward them; they adopt new products early and promote the brand."
            }
            RfmSegment::Loyal => {
                "Buy often and spend well, and bought not long ago. Upsell higher-value products; ask for reviews."
            }
            RfmSegment::PotentialLoyalists => {
                "Recent customers with average frequency and spend. Offer membership or loyalty programmes and recommendations."
            }
            RfmSegment::New => {
                "Bought very recently but have bought little so far. Provide on-boarding support and build the relationship early."
            }
            RfmSegment::Promising => {
                "Recent buyers who have not bought much yet. Create brand awareness; offer free trials."
            }
            RfmSegment::NeedAttention => {
                "Average recency, frequency and spend. Make limited-time offers and recommend based on past purchases."
            }
            RfmSegment::AboutToSleep => {
                "Below-average recency, frequency and spend; will be lost if not reactivated. Share valuable resources and popular products."
            }
            RfmSegment::AtRisk => {
                "Used to buy often and spend well, but not for a long time. Send personalised emails to reconnect; offer renewals."
            }
            RfmSegment::CantLoseThem => {
                "Were among the best customers and have not come back for a long time. Win them back with new products; talk to them."
            }
            RfmSegment::Hibernating => {
                "Last purchase long ago, few orders and low spend. Offer other relevant products and special discounts."
            }
            RfmSegment::Lost => {
                "Lowest recency, frequency and spend. Try to revive interest with an outreach campaign, otherwise ignore."
            }
        }
    }
}

/// The named segment of a customer from the R × FM grid, with FM = [`RfmScore::fm`]
/// (the mean of F and M, halves rounded up):
///
/// | R \ FM | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|
/// | 5 | New | Potential loyalists | Potential loyalists | Champions | Champions |
/// | 4 | Promising | Potential loyalists | Potential loyalists | Loyal | Loyal |
/// | 3 | About to sleep | About to sleep | Need attention | Loyal | Loyal |
/// | 2 | Hibernating | Hibernating | At risk | At risk | Can't lose them |
/// | 1 | Lost | Lost | At risk | At risk | Can't lose them |
///
/// This is the widely used R × F segment map (Champions `5[4-5]`, Loyal `[3-4][4-5]`,
/// Potential loyalists `[4-5][2-3]`, New `51`, Promising `41`, Need attention `33`, About to
/// sleep `3[1-2]`, At risk `[1-2][3-4]`, Can't lose them `[1-2]5`, Hibernating `[1-2][1-2]`)
/// read on FM instead of F alone, so spend counts as much as frequency, with the
/// Hibernating cell split by recency: R 1 is Lost. Scores outside 1..=5 are clamped.
pub fn segment(s: RfmScore) -> RfmSegment {
    let clamped = RfmScore {
        r: s.r.clamp(1, 5),
        f: s.f.clamp(1, 5),
        m: s.m.clamp(1, 5),
    };
    GRID[usize::from(5 - clamped.r)][usize::from(clamped.fm() - 1)]
}

/// The grid of [`segment`], rows R 5 down to R 1, columns FM 1 to 5, laid out like the
/// documented table so the two can be compared by eye (and are, by a test).
const GRID: [[RfmSegment; 5]; 5] = {
    use RfmSegment::*;
    [
        [
            New,
            PotentialLoyalists,
            PotentialLoyalists,
            Champions,
            Champions,
        ],
        [
            Promising,
            PotentialLoyalists,
            PotentialLoyalists,
            Loyal,
            Loyal,
        ],
        [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
        [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem],
        [Lost, Lost, AtRisk, AtRisk, CantLoseThem],
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_fixture_with_ties() {
        // Ten customers' order counts; sorted: 1 1 1 2 3 3 5 8 8 13 (n = 10).
        let orders = [3.0, 1.0, 8.0, 1.0, 13.0, 2.0, 3.0, 1.0, 8.0, 5.0];
        // value: below, equal -> F = (below + equal/2)/10 -> 5F -> score
        // 1:  0, 3 -> 0.15 -> 0.75 -> 1
        // 2:  3, 1 -> 0.35 -> 1.75 -> 2
        // 3:  4, 2 -> 0.50 -> 2.50 -> 3
        // 5:  6, 1 -> 0.65 -> 3.25 -> 4
        // 8:  7, 2 -> 0.80 -> 4.00 -> 5
        // 13: 9, 1 -> 0.95 -> 4.75 -> 5
        assert_eq!(
            quintile_scores(&orders, true),
            vec![3, 1, 5, 1, 5, 2, 3, 1, 5, 4]
        );

        // Days since last purchase, fewer is better; ranked on -days:
        // -days sorted: -300 -200 -200 -90 -60 -30 -30 -30 -10 -2
        let days = [30.0, 200.0, 2.0, 300.0, 30.0, 60.0, 10.0, 90.0, 200.0, 30.0];
        // 300: 0, 1 -> 0.05 -> 0.25 -> 1
        // 200: 1, 2 -> 0.20 -> 1.00 -> 2
        // 90:  3, 1 -> 0.35 -> 1.75 -> 2
        // 60:  4, 1 -> 0.45 -> 2.25 -> 3
        // 30:  5, 3 -> 0.65 -> 3.25 -> 4
        // 10:  8, 1 -> 0.85 -> 4.25 -> 5
        // 2:   9, 1 -> 0.95 -> 4.75 -> 5
        assert_eq!(
            quintile_scores(&days, false),
            vec![4, 2, 5, 1, 4, 3, 5, 2, 2, 4]
        );

        let money = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
        let s = rfm_scores(&days, &orders, &money);
        assert_eq!(s[4], RfmScore { r: 4, f: 5, m: 3 });
        assert_eq!(s[4].code(), "453");
        assert_eq!(s[4].fm(), 4);
        assert_eq!(segment(s[4]), RfmSegment::Loyal);
        assert_eq!(s[2], RfmScore { r: 5, f: 5, m: 2 });
        assert_eq!(segment(s[2]), RfmSegment::Champions); // FM = (5+2+1)/2 = 4
    }

    #[test]
    fn distinct_values_split_evenly_and_order_does_not_matter() {
        let v: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(
            quintile_scores(&v, true),
            vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
        let rev: Vec<f64> = v.iter().rev().copied().collect();
        assert_eq!(
            quintile_scores(&rev, true),
            vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        );
        assert_eq!(
            quintile_scores(&v, false),
            vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        );
    }

    #[test]
    fn constant_small_empty_and_missing() {
        assert_eq!(quintile_scores(&[7.0; 6], true), vec![3; 6]);
        assert_eq!(quintile_scores(&[7.0; 6], false), vec![3; 6]);
        assert_eq!(quintile_scores(&[], true), Vec::<u8>::new());
        assert_eq!(quintile_scores(&[4.0], true), vec![3]);
        assert_eq!(quintile_scores(&[1.0, 2.0], true), vec![2, 4]);
        assert_eq!(quintile_scores(&[1.0, 2.0, 3.0], true), vec![1, 3, 5]);
        assert_eq!(
            quintile_scores(&[1.0, 2.0, 3.0, 4.0], true),
            vec![1, 2, 4, 5]
        );
        assert_eq!(
            quintile_scores(&[1.0, 2.0, 3.0, 4.0], false),
            vec![5, 4, 2, 1]
        );
        // NaN scores 1 and the others rank among themselves (as [1, 2]).
        assert_eq!(quintile_scores(&[2.0, f64::NAN, 1.0], true), vec![4, 1, 2]);
        assert_eq!(quintile_scores(&[0.0, -0.0], true), vec![3, 3]);
    }

    #[test]
    fn every_score_combination_has_one_segment_and_every_segment_occurs() {
        let mut seen = std::collections::BTreeSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    seen.insert(segment(RfmScore { r, f, m }));
                }
            }
        }
        assert_eq!(seen.len(), RfmSegment::ALL.len());
    }

    #[test]
    fn one_example_per_segment() {
        use RfmSegment::*;
        let cases = [
            ((5, 5, 5), Champions),
            ((4, 4, 5), Loyal),
            ((3, 5, 4), Loyal),
            ((5, 2, 3), PotentialLoyalists),
            ((5, 1, 1), New),
            ((4, 1, 1), Promising),
            ((3, 3, 3), NeedAttention),
            ((3, 2, 1), AboutToSleep),
            ((2, 4, 3), AtRisk),
            ((1, 5, 5), CantLoseThem),
            ((2, 1, 2), Hibernating),
            ((1, 1, 1), Lost),
        ];
        for ((r, f, m), want) in cases {
            assert_eq!(segment(RfmScore { r, f, m }), want, "{r}{f}{m}");
        }
        let names: Vec<&str> = RfmSegment::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names[8], "Can't lose them");
        assert!(RfmSegment::ALL.iter().all(|s| !s.description().is_empty()));
    }

    /// The grid in `segment`'s doc comment is the user documentation: it must match the code.
    #[test]
    fn doc_table_matches_code() {
        let src = include_str!("rfm.rs");
        let mut rows = 0;
        for line in src.lines().map(str::trim) {
            let Some(row) = line.strip_prefix("/// | ") else {
                continue;
            };
            let cells: Vec<&str> = row.trim_end_matches(" |").split(" | ").collect();
            let Ok(r) = cells[0].parse::<u8>() else {
                continue;
            };
            rows += 1;
            assert_eq!(cells.len(), 6, "{line}");
            for fm in 1..=5u8 {
                // f = m = fm gives that FM.
                let got = segment(RfmScore { r, f: fm, m: fm }).name();
                assert_eq!(got, cells[fm as usize], "R {r}, FM {fm}");
            }
        }
        assert_eq!(rows, 5);
    }
}
