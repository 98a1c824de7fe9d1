//! Tests of the market basket analysis: itemsets and rules by hand on five baskets, the 0/0
//! and infinite cases, every itemset against brute-force counting, a planted rule recovered
//! from simulated baskets, the error cases, and mlxtend's itemsets and rules on the
//! reference data (`tests/data/basket/`).

use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn opts(min_support: f64, max_len: Option<usize>) -> Options {
    Options {
        min_support,
        max_len,
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Every itemset as (ids, count), in the itemsets' order.
fn listed(sets: &Itemsets) -> Vec<(Vec<u32>, u64)> {
    (0..sets.len())
        .map(|i| (sets.items(i).to_vec(), sets.count(i)))
        .collect()
}

/// The (antecedent, consequent) ids of every rule, in order.
fn sides(sets: &Itemsets, rules: &[Rule]) -> Vec<(Vec<u32>, Vec<u32>)> {
    rules
        .iter()
        .map(|r| {
            (
                sets.items(r.antecedent as usize).to_vec(),
                sets.items(r.consequent as usize).to_vec(),
            )
        })
        .collect()
}

/// Five baskets: 1 bread, 2 milk, 3 butter, 4 eggs.
fn five() -> Vec<Vec<u32>> {
    vec![
        vec![1, 2, 3],
        vec![2, 1],
        vec![3, 1, 1],
        vec![4, 2],
        vec![1, 2, 3, 4],
    ]
}

#[test]
fn itemsets_by_hand() {
    // Counts: 1:4 2:4 3:3 4:2; {1,2}:3 {1,3}:3 {2,3}:2 {2,4}:2 {1,4}:1 {3,4}:1; {1,2,3}:2.
    // At 40 % (two baskets) the itemsets are, by length then ids:
    let sets = frequent_itemsets(&five(), &opts(0.4, None)).unwrap();
    let expect: Vec<(Vec<u32>, u64)> = vec![
        (vec![1], 4),
        (vec![2], 4),
        (vec![3], 3),
        (vec![4], 2),
        (vec![1, 2], 3),
        (vec![1, 3], 3),
        (vec![2, 3], 2),
        (vec![2, 4], 2),
        (vec![1, 2, 3], 2),
    ];
    assert_eq!(listed(&sets), expect);
    assert_eq!(sets.n_baskets(), 5);
    assert_eq!(sets.max_len(), 3);
    assert_eq!(sets.support(4), 3.0 / 5.0);
    assert_eq!(sets.index_of(&[2, 3]), Some(6));
    assert_eq!(sets.index_of(&[1, 4]), None);
    assert_eq!(sets.index_of(&[1, 2, 3, 4]), None);
    assert_eq!(sets.index_of(&[]), None);

    let short = frequent_itemsets(&five(), &opts(0.4, Some(2))).unwrap();
    assert_eq!(listed(&short), expect[..8].to_vec());
    let singles = frequent_itemsets(&five(), &opts(0.4, Some(1))).unwrap();
    assert_eq!(listed(&singles), expect[..4].to_vec());
    // At 100 % nothing is in every basket.
    assert!(
        frequent_itemsets(&five(), &opts(1.0, None))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn rules_by_hand() {
    let sets = frequent_itemsets(&five(), &opts(0.4, None)).unwrap();
    let rules = association_rules(&sets, &RuleFilter::default()).unwrap();
    // Four pairs give two rules each, the triple six.
    assert_eq!(rules.len(), 14);
    let s = sides(&sets, &rules);
    assert_eq!(s[0], (vec![1], vec![2]));
    assert_eq!(s[1], (vec![2], vec![1]));
    // The triple: antecedents of two items first, in combination order, then of one.
    assert_eq!(
        s[8..].to_vec(),
        vec![
            (vec![1, 2], vec![3]),
            (vec![1, 3], vec![2]),
            (vec![2, 3], vec![1]),
            (vec![1], vec![2, 3]),
            (vec![2], vec![1, 3]),
            (vec![3], vec![1, 2]),
        ]
    );
    let find = |a: &[u32], c: &[u32]| {
        let i = s.iter().position(|(x, y)| x == a && y == c).unwrap();
        rules[i].metrics
    };
    let tol = 1e-12;
    // 1 ⇒ 2: sAC .6, sA .8, sC .8.
    let m = find(&[1], &[2]);
    assert!(close(m.support, 0.6, tol) && close(m.antecedent_support, 0.8, tol));
    assert!(close(m.consequent_support, 0.8, tol));
    assert!(close(m.confidence, 0.75, tol));
    assert!(close(m.lift, 0.9375, tol));
    assert!(close(m.leverage, -0.04, tol));
    assert!(close(m.conviction, 0.2 / 0.25, tol));
    // Zhang: max(.6 · .2, .8 · (.8 − .6)) = .16.
    assert!(close(m.zhangs_metric, -0.04 / 0.16, tol));
    assert!(close(m.jaccard, 0.6 / 1.0, tol));
    assert!(close(m.certainty, (0.75 - 0.8) / 0.2, tol));
    assert!(close(m.kulczynski, 0.75, tol));
    // 3 ⇒ 1: every basket with butter has bread: confidence 1, conviction ∞.
    let m = find(&[3], &[1]);
    assert_eq!(m.confidence, 1.0);
    assert_eq!(m.conviction, f64::INFINITY);
    assert!(close(m.lift, 1.25, tol));
    assert!(close(m.leverage, 0.6 - 0.48, tol));
    assert!(close(m.zhangs_metric, 0.12 / 0.24, tol));
    assert!(close(m.certainty, 1.0, tol));
    // 4 ⇒ 2: sAC .4, sA .4, sC .8.
    let m = find(&[4], &[2]);
    assert_eq!(m.conviction, f64::INFINITY);
    assert!(close(m.zhangs_metric, 0.08 / 0.24, tol));
    // {1, 2} ⇒ 3: sAC .4, sA .6, sC .6.
    let m = find(&[1, 2], &[3]);
    assert!(close(m.confidence, 2.0 / 3.0, tol));
    assert!(close(m.lift, 10.0 / 9.0, tol));
    assert!(close(m.leverage, 0.04, tol));
    assert!(close(m.conviction, 0.4 / (1.0 / 3.0), tol));
    assert!(close(m.zhangs_metric, 0.04 / 0.16, tol));
    assert!(close(m.kulczynski, (2.0 / 3.0 + 2.0 / 3.0) / 2.0, tol));

    // Filters: a confidence of 1 keeps 3 ⇒ 1, 4 ⇒ 2 and {2, 3} ⇒ 1.
    let sure = association_rules(
        &sets,
        &RuleFilter {
            min_confidence: 1.0,
            min_lift: 0.0,
        },
    )
    .unwrap();
    assert_eq!(
        sides(&sets, &sure),
        vec![
            (vec![3], vec![1]),
            (vec![4], vec![2]),
            (vec![2, 3], vec![1])
        ]
    );
    let lifted = association_rules(
        &sets,
        &RuleFilter {
            min_confidence: 0.0,
            min_lift: 1.2,
        },
    )
    .unwrap();
    assert!(lifted.iter().all(|r| r.metrics.lift >= 1.2));
    // Lift 1.25: both rules of {1, 3} and of {2, 4}, {2, 3} ⇒ 1 and 1 ⇒ {2, 3}.
    assert_eq!(lifted.len(), 6);
}

/// mlxtend's zero cases: an item in every basket makes Zhang's denominator 0 (0/0 → 0) and
/// the certainty's denominator 0 (→ 0).
#[test]
fn zero_denominators() {
    let baskets = vec![vec![9, 1], vec![9], vec![9, 1], vec![9]];
    let sets = frequent_itemsets(&baskets, &opts(0.5, None)).unwrap();
    let rules = association_rules(&sets, &RuleFilter::default()).unwrap();
    assert_eq!(
        sides(&sets, &rules),
        vec![(vec![1], vec![9]), (vec![9], vec![1])]
    );
    // 1 ⇒ 9: sAC .5 sA .5 sC 1: confidence 1, conviction ∞, leverage 0, certainty 0/0 → 0.
    let m = rules[0].metrics;
    assert_eq!((m.confidence, m.lift, m.leverage), (1.0, 1.0, 0.0));
    assert_eq!(m.conviction, f64::INFINITY);
    assert_eq!(m.certainty, 0.0);
    assert_eq!(m.zhangs_metric, 0.0); // 0 / max(.25, .25)
    // 9 ⇒ 1: sA = 1 and sC = sAC: Zhang's denominator max(0, 0) = 0 → 0.
    let m = rules[1].metrics;
    assert_eq!((m.confidence, m.lift, m.leverage), (0.5, 1.0, 0.0));
    assert_eq!(m.zhangs_metric, 0.0);
    assert_eq!(m.conviction, 1.0);
}

/// Every itemset's count against counting all subsets of 10 items by brute force, at
/// several supports and length limits, on random baskets (repeats included).
#[test]
fn matches_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for trial in 0..6 {
        let n_items = 10u32;
        let n = 150 + 50 * trial;
        // Skewed item probabilities so that some itemsets of 4+ items are frequent.
        let p: Vec<f64> = (0..n_items).map(|i| 0.7 / (1.0 + i as f64 * 0.4)).collect();
        let baskets: Vec<Vec<u32>> = (0..n)
            .map(|_| {
                let mut b: Vec<u32> = (0..n_items)
                    .filter(|&i| rng.random::<f64>() < p[i as usize])
                    .collect();
                if !b.is_empty() && rng.random::<f64>() < 0.3 {
                    b.push(b[0]); // a repeat counts once
                }
                b.reverse();
                b.iter_mut().for_each(|i| *i = *i * 3 + 5); // ids need not be dense
                b
            })
            .collect();
        let mut count = vec![0u64; 1 << n_items];
        for b in &baskets {
            let mask: usize = b
                .iter()
                .map(|&id| 1usize << ((id - 5) / 3))
                .fold(0, |a, m| a | m);
            // Every subset of the basket's mask.
            let mut s = mask;
            loop {
                count[s] += 1;
                if s == 0 {
                    break;
                }
                s = (s - 1) & mask;
            }
        }
        for &(ms, max_len) in &[
            (0.02, None),
            (0.05, None),
            (0.1, Some(2)),
            (0.2, Some(3)),
            (0.5, None),
        ] {
            let sets = frequent_itemsets(&baskets, &opts(ms, max_len)).unwrap();
            let mut expect: Vec<(Vec<u32>, u64)> = (1usize..1 << n_items)
                .filter(|&s| (count[s] as f64 / n as f64) >= ms)
                .filter(|&s| max_len.is_none_or(|m| s.count_ones() as usize <= m))
                .map(|s| {
                    let ids = (0..n_items)
                        .filter(|&i| s >> i & 1 == 1)
                        .map(|i| i * 3 + 5)
                        .collect();
                    (ids, count[s])
                })
                .collect();
            expect.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
            assert_eq!(
                listed(&sets),
                expect,
                "trial {trial}, support {ms}, max_len {max_len:?}"
            );
            for i in 0..sets.len() {
                assert_eq!(sets.support(i), sets.count(i) as f64 / n as f64);
                assert_eq!(sets.index_of(sets.items(i)), Some(i));
            }
            // Rules: every split, once, with the supports of its parts.
            let rules = association_rules(&sets, &RuleFilter::default()).unwrap();
            let splits: usize = (0..sets.len())
                .map(|i| (1usize << sets.items(i).len()) - 2)
                .sum();
            assert_eq!(rules.len(), splits);
            for r in &rules {
                let (x, a, c) = (
                    r.itemset as usize,
                    r.antecedent as usize,
                    r.consequent as usize,
                );
                let mut union = [sets.items(a), sets.items(c)].concat();
                union.sort_unstable();
                assert_eq!(union, sets.items(x));
                assert_eq!(
                    r.metrics,
                    Metrics::of(sets.support(x), sets.support(a), sets.support(c))
                );
            }
        }
    }
}

/// More than 64 frequent items (the tree then orders its paths lexicographically instead of
/// as bit masks): every itemset of up to three items against counting each basket's subsets.
#[test]
fn many_items_match_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let baskets: Vec<Vec<u32>> = (0..400)
        .map(|_| {
            (0..90u32)
                .filter(|&i| rng.random::<f64>() < 0.12 + 0.2 * f64::from(i % 3))
                .collect()
        })
        .collect();
    let mut count: std::collections::BTreeMap<Vec<u32>, u64> = Default::default();
    for b in &baskets {
        for (x, &i) in b.iter().enumerate() {
            *count.entry(vec![i]).or_default() += 1;
            for (y, &j) in b.iter().enumerate().skip(x + 1) {
                *count.entry(vec![i, j]).or_default() += 1;
                for &k in &b[y + 1..] {
                    *count.entry(vec![i, j, k]).or_default() += 1;
                }
            }
        }
    }
    for ms in [0.05, 0.1] {
        let sets = frequent_itemsets(&baskets, &opts(ms, Some(3))).unwrap();
        let singles = (0..sets.len())
            .filter(|&i| sets.items(i).len() == 1)
            .count();
        assert!(singles > 64, "{singles} frequent items");
        let mut expect: Vec<(Vec<u32>, u64)> = count
            .iter()
            .filter(|(_, c)| **c as f64 / 400.0 >= ms)
            .map(|(k, &c)| (k.clone(), c))
            .collect();
        expect.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
        assert_eq!(listed(&sets), expect, "support {ms}");
    }
}

/// The flat input, huge ids (counted through the hash map) and a one-path tree give the
/// same itemsets as the plain input.
#[test]
fn flat_input_sparse_ids_and_one_path() {
    let baskets = five();
    let items: Vec<u32> = baskets.iter().flatten().copied().collect();
    let mut offsets = vec![0];
    for b in &baskets {
        offsets.push(offsets.last().unwrap() + b.len());
    }
    let plain = frequent_itemsets(&baskets, &opts(0.2, None)).unwrap();
    let flat = frequent_itemsets_flat(&items, &offsets, &opts(0.2, None)).unwrap();
    assert_eq!(plain, flat);
    assert!(frequent_itemsets_flat(&items, &[0, 3, 2, items.len()], &opts(0.2, None)).is_err());
    assert!(frequent_itemsets_flat(&items, &[1, items.len()], &opts(0.2, None)).is_err());

    let big = |x: u32| 4_000_000_000 + x;
    let sparse: Vec<Vec<u32>> = baskets
        .iter()
        .map(|b| b.iter().map(|&i| big(i)).collect())
        .collect();
    let s = frequent_itemsets(&sparse, &opts(0.2, None)).unwrap();
    assert_eq!(s.len(), plain.len());
    for i in 0..s.len() {
        let ids: Vec<u32> = plain.items(i).iter().map(|&x| big(x)).collect();
        assert_eq!((s.items(i), s.count(i)), (&ids[..], plain.count(i)));
    }

    // Nested baskets make the FP-tree one chain: every combination, counted at its deepest.
    let chain = vec![vec![1, 2, 3], vec![1, 2], vec![1], vec![1, 2, 3], vec![]];
    let c = frequent_itemsets(&chain, &opts(0.2, None)).unwrap();
    let expect: Vec<(Vec<u32>, u64)> = vec![
        (vec![1], 4),
        (vec![2], 3),
        (vec![3], 2),
        (vec![1, 2], 3),
        (vec![1, 3], 2),
        (vec![2, 3], 2),
        (vec![1, 2, 3], 2),
    ];
    assert_eq!(listed(&c), expect);
    let c2 = frequent_itemsets(&chain, &opts(0.2, Some(2))).unwrap();
    assert_eq!(listed(&c2), expect[..6].to_vec());
    assert_eq!(c.support(0), 0.8); // the empty basket counts in n
}

/// Baskets with a planted rule A ⇒ B (P(B | A) = 0.8, P(B | not A) = 0.1, P(A) = 0.3) among
/// independent noise items: the rule's confidence and lift come out within sampling error,
/// and noise pairs have a lift near 1.
#[test]
fn recovers_a_planted_rule() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 40_000;
    let (a, b) = (100u32, 200u32);
    let baskets: Vec<Vec<u32>> = (0..n)
        .map(|_| {
            let mut basket = Vec::new();
            let has_a = rng.random::<f64>() < 0.3;
            if has_a {
                basket.push(a);
            }
            if rng.random::<f64>() < if has_a { 0.8 } else { 0.1 } {
                basket.push(b);
            }
            for noise in 0..8u32 {
                if rng.random::<f64>() < 0.2 {
                    basket.push(noise);
                }
            }
            basket
        })
        .collect();
    let sets = frequent_itemsets(&baskets, &opts(0.02, Some(2))).unwrap();
    let rules = association_rules(&sets, &RuleFilter::default()).unwrap();
    let find = |x: u32, y: u32| {
        rules
            .iter()
            .find(|r| {
                sets.items(r.antecedent as usize) == [x] && sets.items(r.consequent as usize) == [y]
            })
            .unwrap()
            .metrics
    };
    let m = find(a, b);
    // sd of a proportion 0.8 over ~12,000 baskets with A: 0.0037.
    assert!((m.confidence - 0.8).abs() < 0.015, "{}", m.confidence);
    let s_b = 0.3 * 0.8 + 0.7 * 0.1;
    assert!((m.lift - 0.8 / s_b).abs() < 0.08, "{}", m.lift);
    assert!((m.support - 0.24).abs() < 0.01);
    assert!(m.leverage > 0.1 && m.zhangs_metric > 0.5);
    let filtered = association_rules(
        &sets,
        &RuleFilter {
            min_confidence: 0.5,
            min_lift: 1.5,
        },
    )
    .unwrap();
    // Only the planted pair passes, both ways (P(A | B) = 0.24 / 0.31 ≈ 0.77).
    assert_eq!(
        sides(&sets, &filtered),
        vec![(vec![a], vec![b]), (vec![b], vec![a])]
    );
    let noise = find(0, 1);
    assert!((noise.lift - 1.0).abs() < 0.08, "{}", noise.lift);
}

#[test]
fn bad_input_and_parameters() {
    let b = five();
    for ms in [0.0, -0.1, 1.5, f64::NAN] {
        assert!(matches!(
            frequent_itemsets(&b, &opts(ms, None)),
            Err(ModelError::BadParameter(_))
        ));
    }
    assert!(matches!(
        frequent_itemsets(&b, &opts(0.5, Some(0))),
        Err(ModelError::BadParameter(_))
    ));
    assert!(matches!(
        frequent_itemsets(&[], &opts(0.5, None)),
        Err(ModelError::InsufficientData(_))
    ));
    assert!(matches!(
        frequent_itemsets_flat(&[], &[], &opts(0.5, None)),
        Err(ModelError::InsufficientData(_))
    ));
    // Empty baskets: no itemsets, no rules.
    let empty = frequent_itemsets(&[vec![], vec![]], &opts(0.5, None)).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.max_len(), 0);
    assert!(
        association_rules(&empty, &RuleFilter::default())
            .unwrap()
            .is_empty()
    );
    let sets = frequent_itemsets(&b, &opts(0.4, None)).unwrap();
    let nan = RuleFilter {
        min_confidence: f64::NAN,
        min_lift: 0.0,
    };
    assert!(matches!(
        association_rules(&sets, &nan),
        Err(ModelError::BadParameter(_))
    ));
}

/// The integer threshold is the least count whose support reaches `min_support` in floating
/// point, also where `min_support · n` rounds above an integer.
#[test]
fn threshold_in_floating_point() {
    assert_eq!(min_count(0.07, 100), 7); // 0.07 · 100 = 7.000000000000001
    assert_eq!(min_count(0.28, 25), 7); // 7.000000000000001
    assert_eq!(min_count(0.1, 30), 3);
    assert_eq!(min_count(0.01, 9835), 99);
    assert_eq!(min_count(1.0, 7), 7);
    assert_eq!(min_count(1e-9, 7), 1);
    for n in 1..300u64 {
        for ms in [0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.7] {
            let c = min_count(ms, n);
            assert!(c as f64 / n as f64 >= ms || c == n);
            assert!(c == 1 || ((c - 1) as f64 / n as f64) < ms);
        }
    }
    // Seven of a hundred baskets is exactly 7 %: the pair is frequent, as in mlxtend's
    // apriori (its fpgrowth prunes at ceil(7.000000000000001) = 8 and leaves the pair out).
    let mut baskets = vec![vec![1, 2]; 7];
    baskets.extend(vec![vec![3]; 93]);
    let sets = frequent_itemsets(&baskets, &opts(0.07, None)).unwrap();
    assert_eq!(sets.index_of(&[1, 2]).map(|i| sets.count(i)), Some(7));
    assert_eq!(sets.len(), 4);
}

/// The supermarket baskets of `tests/data/basket/` (one line each, ids space-separated).
fn supermarket() -> Vec<Vec<u32>> {
    include_str!("../../tests/data/basket/supermarket_baskets.txt")
        .lines()
        .map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect())
        .collect()
}

fn parse_ids(s: &str) -> Vec<u32> {
    s.split_whitespace().map(|x| x.parse().unwrap()).collect()
}

fn parse_f64(s: &str) -> f64 {
    match s {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        "nan" => f64::NAN,
        _ => s.parse().unwrap(),
    }
}

/// The measures in the fixtures' column order.
fn measures(m: &Metrics) -> [f64; 11] {
    [
        m.antecedent_support,
        m.consequent_support,
        m.support,
        m.confidence,
        m.lift,
        m.leverage,
        m.conviction,
        m.zhangs_metric,
        m.jaccard,
        m.certainty,
        m.kulczynski,
    ]
}

type RuleRows = std::collections::BTreeMap<(Vec<u32>, Vec<u32>), Vec<f64>>;

/// mlxtend's rules of one fixture (rows of `case`, if given), keyed by their two sides.
fn mlxtend_rules(text: &str, case: Option<&str>) -> RuleRows {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let skip = usize::from(case.is_some());
    assert_eq!(header.len(), 13 + skip);
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| case.is_none_or(|c| f[0] == c))
        .map(|f| {
            let f = &f[skip..];
            (
                (parse_ids(f[0]), parse_ids(f[1])),
                f[2..].iter().map(|x| parse_f64(x)).collect(),
            )
        })
        .collect()
}

/// Our rules, keyed the same way.
fn our_rules(sets: &Itemsets, rules: &[Rule]) -> RuleRows {
    rules
        .iter()
        .map(|r| {
            let key = (
                sets.items(r.antecedent as usize).to_vec(),
                sets.items(r.consequent as usize).to_vec(),
            );
            (key, measures(&r.metrics).to_vec())
        })
        .collect()
}

/// The same rules, every measure within `tol` relative (inf = inf, NaN = NaN); returns the
/// largest relative difference seen.
fn compare_rules(ours: &RuleRows, theirs: &RuleRows, tol: f64, what: &str) -> f64 {
    assert_eq!(ours.len(), theirs.len(), "{what}: number of rules");
    let mut worst = 0.0f64;
    for (key, want) in theirs {
        let got = ours
            .get(key)
            .unwrap_or_else(|| panic!("{what}: rule {key:?} missing"));
        for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                close(g, w, tol),
                "{what}: rule {key:?}, measure {j}: {g} against mlxtend's {w}"
            );
            if g != w && g.is_finite() {
                worst = worst.max((g - w).abs() / w.abs().max(1e-300));
            }
        }
    }
    worst
}

/// mlxtend 0.25's fpgrowth and association_rules on the supermarket baskets: the same
/// itemsets with the same counts and supports, the same rules with every measure.
#[test]
fn same_as_mlxtend_on_the_supermarket() {
    let baskets = supermarket();
    assert_eq!(baskets.len(), 4627);
    let fixtures = [
        (
            0.2,
            include_str!("../../tests/data/basket/itemsets_s020.csv"),
            None,
        ),
        (
            0.25,
            include_str!("../../tests/data/basket/itemsets_s025.csv"),
            Some(include_str!("../../tests/data/basket/rules_s025.csv")),
        ),
        (
            0.3,
            include_str!("../../tests/data/basket/itemsets_s030.csv"),
            Some(include_str!("../../tests/data/basket/rules_s030.csv")),
        ),
    ];
    for (ms, itemsets, rules) in fixtures {
        let sets = frequent_itemsets(&baskets, &opts(ms, None)).unwrap();
        let theirs: std::collections::BTreeMap<Vec<u32>, (u64, f64)> = itemsets
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (parse_ids(f[0]), (f[1].parse().unwrap(), parse_f64(f[2])))
            })
            .collect();
        assert_eq!(sets.len(), theirs.len(), "support {ms}: number of itemsets");
        for i in 0..sets.len() {
            let (count, support) = theirs
                .get(sets.items(i))
                .unwrap_or_else(|| panic!("support {ms}: {:?} is not in mlxtend's", sets.items(i)));
            assert_eq!(sets.count(i), *count);
            assert_eq!(
                sets.support(i),
                *support,
                "support {ms}: {:?}",
                sets.items(i)
            );
        }
        if let Some(text) = rules {
            let ours = association_rules(&sets, &RuleFilter::default()).unwrap();
            let worst = compare_rules(
                &our_rules(&sets, &ours),
                &mlxtend_rules(text, None),
                1e-9,
                "supermarket",
            );
            eprintln!(
                "support {ms}: {} rules, largest relative difference {worst:e}",
                ours.len()
            );
        }
    }
}

/// mlxtend's own edge cases: conviction inf at confidence 1, 0 for Zhang's and the
/// certainty's 0 denominators.
#[test]
fn same_as_mlxtend_on_the_edge_cases() {
    let text = include_str!("../../tests/data/basket/rules_edge.csv");
    let cases = [
        ("five", five(), 0.4),
        (
            "everywhere",
            vec![vec![9, 1], vec![9], vec![9, 1], vec![9]],
            0.5,
        ),
    ];
    for (case, baskets, ms) in cases {
        let sets = frequent_itemsets(&baskets, &opts(ms, None)).unwrap();
        let ours = association_rules(&sets, &RuleFilter::default()).unwrap();
        let worst = compare_rules(
            &our_rules(&sets, &ours),
            &mlxtend_rules(text, Some(case)),
            1e-9,
            case,
        );
        eprintln!("{case}: largest relative difference {worst:e}");
    }
}

/// A million simulated baskets at category level (40 categories, about 6 a basket, planted
/// groups), at supports 0.01 and 0.1: itemsets and rules, with the time printed (the target
/// is under 5 s for the whole `clientele basket` run; see bench/basket_bench.py). Runs with
/// `CLIENTELE_SCALE_TESTS=1`.
#[test]
fn scale_a_million_category_baskets() {
    if !crate::scale_tests() {
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let weights: Vec<f64> = (0..40).map(|c| 1.0 / (1.0 + c as f64).sqrt()).collect();
    let total: f64 = weights.iter().sum();
    let groups: [&[u32]; 3] = [&[0, 3, 7], &[1, 12], &[5, 9, 20, 21]];
    let mut items = Vec::new();
    let mut offsets = vec![0usize];
    for _ in 0..1_000_000 {
        let k = (1.0 - rng.random::<f64>().ln() * 5.0).min(16.0) as usize;
        let from = items.len();
        for _ in 0..k {
            let mut u = rng.random::<f64>() * total;
            let mut c = 0;
            while c < 39 && u >= weights[c] {
                u -= weights[c];
                c += 1;
            }
            items.push(c as u32);
        }
        for g in groups {
            if items[from..].contains(&g[0]) && rng.random::<f64>() < 0.6 {
                items.extend_from_slice(g);
            }
        }
        offsets.push(items.len());
    }
    for ms in [0.01, 0.1] {
        let t = std::time::Instant::now();
        let sets = frequent_itemsets_flat(&items, &offsets, &opts(ms, None)).unwrap();
        let mined = t.elapsed();
        let rules = association_rules(&sets, &RuleFilter::default()).unwrap();
        eprintln!(
            "1M baskets, support {ms}: {} itemsets (longest {}) in {:.2?}, {} rules in {:.2?}",
            sets.len(),
            sets.max_len(),
            mined,
            rules.len(),
            t.elapsed() - mined
        );
        assert!(sets.len() > 40 && !rules.is_empty());
        for i in 0..sets.len() {
            assert!(sets.support(i) >= ms);
        }
    }
}
