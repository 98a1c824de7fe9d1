//! Market basket analysis: frequent itemsets by FP-growth and the association rules between
//! them, defined as mlxtend 0.25's `fpgrowth` and `association_rules` define them.
//!
//! Definitions (a **basket** is one set of item ids; an id repeated inside a basket counts
//! once; `n` is the number of baskets, empty ones included):
//! - the **count** of an itemset X is the number of baskets containing every item of X; its
//!   **support** is `s(X) = count / n`, computed as `count as f64 / n as f64` once per
//!   itemset, as mlxtend does (`sup / float(num_itemsets)`), so equal counts give bit-equal
//!   supports;
//! - X is **frequent** when `s(X) ≥ min_support` (compared in floating point, as mlxtend's
//!   `apriori` and the final filter of its `fpgrowth` do). Mining uses the equivalent integer
//!   threshold: the smallest count c with `c / n ≥ min_support`. (mlxtend's `fpgrowth` also
//!   prunes its conditional trees at `ceil(min_support · n)`; when `min_support · n` rounds
//!   just above an integer — `0.07 · 100 = 7.000000000000001` — it drops itemsets of two or
//!   more items whose support equals `min_support` exactly (7 of 100 baskets), while keeping
//!   such single items; checked with mlxtend 0.25. We keep them all, as its `apriori` does.);
//! - with `max_len = Some(m)` only itemsets of at most m items are found;
//! - a **rule** A ⇒ C is every split of a frequent itemset X of two or more items into a
//!   non-empty antecedent A and the non-empty consequent C = X \ A (both are frequent, being
//!   subsets of X). With `sA = s(A)`, `sC = s(C)`, `sAC = s(X)`:
//!   - `support = sAC`, `antecedent_support = sA`, `consequent_support = sC`;
//!   - `confidence = sAC / sA`;
//!   - `lift = confidence / sC`;
//!   - `leverage = sAC − sA · sC`;
//!   - `conviction = (1 − sC) / (1 − confidence)` when `confidence < 1`, and `+∞` when
//!     `confidence ≥ 1` (mlxtend's `conviction_helper`; equal counts give a confidence of
//!     exactly 1);
//!   - Zhang's metric `leverage / max(sAC · (1 − sA), sA · (sC − sAC))`, and 0 when that
//!     denominator is 0 (mlxtend's `np.where(denominator == 0, 0, …)`; it is 0 only when
//!     `sA = 1` and `sC = sAC`, where the leverage is 0 too: 0/0 is taken as 0);
//!   - `jaccard = sAC / (sA + sC − sAC)`;
//!   - `certainty = (confidence − sC) / (1 − sC)`, and 0 when `sC = 1`;
//!   - `kulczynski = (sAC / sA + sAC / sC) / 2`.
//!
//!   Each is computed with mlxtend's operations in mlxtend's order (its `num_itemsets`
//!   factor is 1, the default), so values agree to the last bit or within an ulp.
//! - rules are kept when `confidence ≥ min_confidence` and `lift ≥ min_lift` (mlxtend's
//!   `metric(rule) >= min_threshold`, for either metric).
//!
//! Order (deterministic): itemsets by number of items, then lexicographically by their item
//! ids, each itemset's ids ascending. Rules follow their itemset's order; within one itemset
//! of k items, antecedents of k − 1 items come first, then k − 2, … down to 1 (mlxtend's
//! `range(len(k) - 1, 0, -1)`), and antecedents of one size in the order of
//! `itertools.combinations` over the itemset's ascending ids.
//!
//! Empty and zero cases: no baskets is an error ([`ModelError::InsufficientData`]); baskets
//! that are all empty, or a `min_support` no itemset reaches, give no itemsets and no rules;
//! itemsets of one item give no rules. `min_support` must lie in (0, 1] and `max_len`, if
//! given, be at least 1 ([`ModelError::BadParameter`]), as in mlxtend; NaN thresholds are
//! errors.
//!
//! The algorithm is FP-growth (Han, Pei & Yin, "Mining frequent patterns without candidate
//! generation", SIGMOD 2000), exact: baskets are re-coded by descending item frequency,
//! sorted, and inserted into the FP-tree by shared prefixes; each item's conditional tree
//! is built from its prefix paths and mined recursively (a tree that is a single path yields
//! every combination of its items directly). Counts are integers throughout; the top-level
//! items are mined in parallel (rayon). Reference: mlxtend 0.25.0
//! (`mlxtend.frequent_patterns.fpgrowth`, `association_rules`), checked against it on the
//! Groceries-sized fixtures in `tests/data/basket/` (see its README).

use rayon::prelude::*;

use crate::ModelError;

/// How frequent itemsets are searched.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The least support of a frequent itemset, a fraction of the baskets in (0, 1].
    pub min_support: f64,
    /// The most items in an itemset (at least 1); `None`: no limit.
    pub max_len: Option<usize>,
}

impl Default for Options {
    /// A support of 1 % and no length limit.
    fn default() -> Self {
        Options {
            min_support: 0.01,
            max_len: None,
        }
    }
}

/// Which rules are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFilter {
    /// Keep rules whose confidence is at least this.
    pub min_confidence: f64,
    /// Keep rules whose lift is at least this.
    pub min_lift: f64,
}

impl Default for RuleFilter {
    /// Every rule (both thresholds 0).
    fn default() -> Self {
        RuleFilter {
            min_confidence: 0.0,
            min_lift: 0.0,
        }
    }
}

/// The frequent itemsets, in the order of the module doc (by length, then by ids).
#[derive(Debug, Clone, PartialEq)]
pub struct Itemsets {
    n_baskets: u64,
    /// The item ids of every itemset, one after the other, each itemset ascending.
    items: Vec<u32>,
    /// Where itemset i's ids start in `items`; one more entry than itemsets.
    offsets: Vec<usize>,
    counts: Vec<u64>,
    supports: Vec<f64>,
    /// `by_len[k]`: the first itemset of k items (itemsets of k items are
    /// `by_len[k]..by_len[k + 1]`); `by_len[0] = by_len[1] = 0`.
    by_len: Vec<usize>,
}

impl Itemsets {
    /// The number of frequent itemsets.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether no itemset is frequent.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The number of baskets they were counted in.
    pub fn n_baskets(&self) -> u64 {
        self.n_baskets
    }

    /// The item ids of itemset `i`, ascending.
    pub fn items(&self, i: usize) -> &[u32] {
        &self.items[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The number of baskets holding itemset `i`.
    pub fn count(&self, i: usize) -> u64 {
        self.counts[i]
    }

    /// The support of itemset `i`: its count over the baskets.
    pub fn support(&self, i: usize) -> f64 {
        self.supports[i]
    }

    /// The longest itemset's number of items (0 if there are none).
    pub fn max_len(&self) -> usize {
        self.by_len.len().saturating_sub(2)
    }

    /// The index of the itemset with these ids (ascending), if it is frequent.
    pub fn index_of(&self, ids: &[u32]) -> Option<usize> {
        let k = ids.len();
        if k == 0 || k + 1 >= self.by_len.len() {
            return None;
        }
        let (lo, hi) = (self.by_len[k], self.by_len[k + 1]);
        // Itemsets of k items are sorted by their ids: binary search.
        let (mut a, mut b) = (lo, hi);
        while a < b {
            let mid = a + (b - a) / 2;
            match self.items(mid).cmp(ids) {
                std::cmp::Ordering::Less => a = mid + 1,
                std::cmp::Ordering::Greater => b = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }
}

/// One association rule A ⇒ C; its itemsets are indices into the [`Itemsets`] it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// The itemset A ∪ C.
    pub itemset: u32,
    /// The antecedent A.
    pub antecedent: u32,
    /// The consequent C.
    pub consequent: u32,
    /// The rule's measures.
    pub metrics: Metrics,
}

/// The measures of one rule, as defined in the module doc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// s(A).
    pub antecedent_support: f64,
    /// s(C).
    pub consequent_support: f64,
    /// s(A ∪ C).
    pub support: f64,
    /// s(A ∪ C) / s(A).
    pub confidence: f64,
    /// confidence / s(C).
    pub lift: f64,
    /// s(A ∪ C) − s(A) s(C).
    pub leverage: f64,
    /// (1 − s(C)) / (1 − confidence); +∞ at confidence 1.
    pub conviction: f64,
    /// Zhang's metric; 0 where its denominator is 0.
    pub zhangs_metric: f64,
    /// s(A ∪ C) / (s(A) + s(C) − s(A ∪ C)).
    pub jaccard: f64,
    /// (confidence − s(C)) / (1 − s(C)); 0 where s(C) = 1.
    pub certainty: f64,
    /// The mean of the two confidences, A ⇒ C and C ⇒ A.
    pub kulczynski: f64,
}

impl Metrics {
    /// The measures of a rule from its three supports: `s_ac = s(A ∪ C)`, `s_a = s(A)`,
    /// `s_c = s(C)`, with mlxtend's operations.
    pub fn of(s_ac: f64, s_a: f64, s_c: f64) -> Metrics {
        let confidence = s_ac / s_a;
        let lift = confidence / s_c;
        Metrics::finish(s_ac, s_a, s_c, confidence, lift)
    }

    fn finish(s_ac: f64, s_a: f64, s_c: f64, confidence: f64, lift: f64) -> Metrics {
        let leverage = s_ac - s_a * s_c;
        let conviction = if confidence < 1.0 {
            (1.0 - s_c) / (1.0 - confidence)
        } else {
            f64::INFINITY
        };
        // np.maximum: NaN if either is NaN (never, for supports in (0, 1]).
        let (d1, d2) = (s_ac * (1.0 - s_a), s_a * (s_c - s_ac));
        let denominator = if d1.is_nan() || d2.is_nan() {
            f64::NAN
        } else {
            d1.max(d2)
        };
        let zhangs_metric = if denominator == 0.0 {
            0.0
        } else {
            leverage / denominator
        };
        let jaccard = s_ac / (s_a + s_c - s_ac);
        let certainty_denominator = 1.0 - s_c;
        let certainty = if certainty_denominator == 0.0 {
            0.0
        } else {
            (confidence - s_c) / certainty_denominator
        };
        let kulczynski = (s_ac / s_a + s_ac / s_c) / 2.0;
        Metrics {
            antecedent_support: s_a,
            consequent_support: s_c,
            support: s_ac,
            confidence,
            lift,
            leverage,
            conviction,
            zhangs_metric,
            jaccard,
            certainty,
            kulczynski,
        }
    }
}

/// The frequent itemsets of `baskets` (item ids; repeats inside a basket count once).
pub fn frequent_itemsets(baskets: &[Vec<u32>], options: &Options) -> Result<Itemsets, ModelError> {
    mine(baskets.len(), |b| &baskets[b], options)
}

/// [`frequent_itemsets`] over baskets stored one after the other: basket b holds
/// `items[offsets[b]..offsets[b + 1]]` (so `offsets` has one more entry than baskets, and
/// its first entry is 0). Saves the caller a `Vec` per basket.
pub fn frequent_itemsets_flat(
    items: &[u32],
    offsets: &[usize],
    options: &Options,
) -> Result<Itemsets, ModelError> {
    if offsets.first().is_some_and(|&o| o != 0)
        || offsets.windows(2).any(|w| w[0] > w[1])
        || offsets.last().is_some_and(|&o| o != items.len())
    {
        return Err(ModelError::BadParameter(
            "basket offsets must start at 0, never decrease and end at the number of items".into(),
        ));
    }
    let n = offsets.len().saturating_sub(1);
    mine(n, |b| &items[offsets[b]..offsets[b + 1]], options)
}

/// The association rules between `itemsets` that pass `filter`, in the order of the module
/// doc.
pub fn association_rules(
    itemsets: &Itemsets,
    filter: &RuleFilter,
) -> Result<Vec<Rule>, ModelError> {
    if filter.min_confidence.is_nan() || filter.min_lift.is_nan() {
        return Err(ModelError::BadParameter(
            "the confidence and lift thresholds must be numbers".into(),
        ));
    }
    let first = itemsets.by_len.get(2).copied().unwrap_or(itemsets.len());
    let rules: Vec<Rule> = (first..itemsets.len())
        .into_par_iter()
        .fold(
            || (Vec::new(), Split::default()),
            |(mut rules, mut split), x| {
                rules_of(itemsets, x, filter, &mut split, &mut rules);
                (rules, split)
            },
        )
        .map(|(rules, _)| rules)
        .collect::<Vec<Vec<Rule>>>()
        .concat();
    Ok(rules)
}

/// Scratch space for splitting one itemset, reused across itemsets.
#[derive(Default)]
struct Split {
    positions: Vec<usize>,
    antecedent: Vec<u32>,
    consequent: Vec<u32>,
}

/// Appends the rules of itemset `x` that pass `filter` to `out`.
fn rules_of(sets: &Itemsets, x: usize, filter: &RuleFilter, s: &mut Split, out: &mut Vec<Rule>) {
    let ids = sets.items(x);
    let k = ids.len();
    let s_ac = sets.support(x);
    for r in (1..k).rev() {
        s.positions.clear();
        s.positions.extend(0..r);
        loop {
            s.antecedent.clear();
            s.consequent.clear();
            let mut p = 0;
            for (j, &id) in ids.iter().enumerate() {
                if p < r && s.positions[p] == j {
                    s.antecedent.push(id);
                    p += 1;
                } else {
                    s.consequent.push(id);
                }
            }
            // Every subset of a frequent itemset is frequent.
            let a = sets
                .index_of(&s.antecedent)
                .expect("a subset of a frequent itemset");
            let c = sets
                .index_of(&s.consequent)
                .expect("a subset of a frequent itemset");
            let (s_a, s_c) = (sets.support(a), sets.support(c));
            let confidence = s_ac / s_a;
            let lift = confidence / s_c;
            if confidence >= filter.min_confidence && lift >= filter.min_lift {
                out.push(Rule {
                    itemset: x as u32,
                    antecedent: a as u32,
                    consequent: c as u32,
                    metrics: Metrics::finish(s_ac, s_a, s_c, confidence, lift),
                });
            }
            if !next_combination(&mut s.positions, k) {
                break;
            }
        }
    }
}

/// Advances `positions` (r ascending positions out of k) to the next combination in
/// `itertools.combinations` order; false after the last.
fn next_combination(positions: &mut [usize], k: usize) -> bool {
    let r = positions.len();
    let Some(i) = (0..r).rev().find(|&i| positions[i] < k - r + i) else {
        return false;
    };
    positions[i] += 1;
    for j in i + 1..r {
        positions[j] = positions[j - 1] + 1;
    }
    true
}

/// The smallest count c with `c / n ≥ min_support` in floating point (1 ≤ c ≤ n).
fn min_count(min_support: f64, n: u64) -> u64 {
    let nf = n as f64;
    let mut c = ((min_support * nf).ceil() as u64).clamp(1, n);
    while c > 1 && (c - 1) as f64 / nf >= min_support {
        c -= 1;
    }
    while c < n && (c as f64 / nf) < min_support {
        c += 1;
    }
    c
}

fn check(n: usize, options: &Options) -> Result<(), ModelError> {
    let s = options.min_support;
    if !(s > 0.0 && s <= 1.0) {
        return Err(ModelError::BadParameter(format!(
            "the minimum support must be a fraction above 0 and at most 1, not {s}"
        )));
    }
    if options.max_len == Some(0) {
        return Err(ModelError::BadParameter(
            "the longest itemset must have at least 1 item".into(),
        ));
    }
    if n == 0 {
        return Err(ModelError::InsufficientData(
            "there are no baskets to find itemsets in".into(),
        ));
    }
    Ok(())
}

/// Item ids are counted in a dense table up to this id; above, through a hash map.
const DENSE_IDS: u32 = 1 << 24;

fn mine<'a>(
    n: usize,
    basket: impl Fn(usize) -> &'a [u32] + Sync,
    options: &Options,
) -> Result<Itemsets, ModelError> {
    check(n, options)?;
    let n_baskets = n as u64;
    let threshold = min_count(options.min_support, n_baskets);
    let max_len = options.max_len.unwrap_or(usize::MAX);

    // 1. Code the ids densely (0.. in order of first appearance) and count each item once
    //    per basket.
    let max_id = (0..n).flat_map(|b| basket(b).iter().copied()).max();
    let Some(max_id) = max_id else {
        return Ok(assemble(n_baskets, Vec::new()));
    };
    let mut dense: Vec<u32> = Vec::new(); // id → code + 1 (0: unseen), when ids are small
    let mut sparse: std::collections::HashMap<u32, u32, ahash::RandomState> =
        std::collections::HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4));
    let use_dense = max_id < DENSE_IDS;
    if use_dense {
        dense = vec![0; max_id as usize + 1];
    }
    let mut ids: Vec<u32> = Vec::new(); // code → id
    let mut counts: Vec<u64> = Vec::new(); // code → baskets
    let mut coded: Vec<u32> = Vec::new(); // every basket's distinct codes, ascending
    let mut starts: Vec<usize> = Vec::with_capacity(n + 1);
    starts.push(0);
    for b in 0..n {
        let from = coded.len();
        for &id in basket(b) {
            let code = if use_dense {
                let slot = &mut dense[id as usize];
                if *slot == 0 {
                    ids.push(id);
                    counts.push(0);
                    *slot = ids.len() as u32;
                }
                *slot - 1
            } else {
                *sparse.entry(id).or_insert_with(|| {
                    ids.push(id);
                    counts.push(0);
                    ids.len() as u32 - 1
                })
            };
            coded.push(code);
        }
        let tail = &mut coded[from..];
        tail.sort_unstable();
        let mut len = 0;
        for j in 0..tail.len() {
            if j == 0 || tail[j] != tail[j - 1] {
                tail[len] = tail[j];
                len += 1;
            }
        }
        coded.truncate(from + len);
        for &c in &coded[from..] {
            counts[c as usize] += 1;
        }
        starts.push(coded.len());
    }
    drop(dense);
    drop(sparse);

    // 2. The frequent items, ranked by descending count (ties by id): rank 0 is the most
    //    frequent, and each basket becomes its frequent ranks, ascending.
    let mut frequent: Vec<u32> = (0..ids.len() as u32)
        .filter(|&c| counts[c as usize] >= threshold)
        .collect();
    frequent.sort_unstable_by_key(|&c| (std::cmp::Reverse(counts[c as usize]), ids[c as usize]));
    let mut rank_of = vec![u32::MAX; ids.len()];
    for (r, &c) in frequent.iter().enumerate() {
        rank_of[c as usize] = r as u32;
    }
    let global: Vec<u32> = frequent.iter().map(|&c| ids[c as usize]).collect();
    let mut paths = Paths::default();
    for b in 0..n {
        let from = paths.items.len();
        paths.items.extend(
            coded[starts[b]..starts[b + 1]]
                .iter()
                .map(|&c| rank_of[c as usize])
                .filter(|&r| r != u32::MAX),
        );
        if paths.items.len() > from {
            paths.items[from..].sort_unstable();
            paths.ends.push(paths.items.len());
            paths.weights.push(1);
        }
    }
    drop(coded);
    drop(starts);

    // 3. The FP-tree, mined item by item in parallel.
    let tree = Tree::build(global.len(), &paths);
    drop(paths);
    let found: Vec<Found> = if tree.is_path() {
        let mut f = Found::default();
        tree.mine(&global, threshold, max_len, &mut Vec::new(), &mut f);
        vec![f]
    } else {
        (0..global.len())
            .into_par_iter()
            .map(|item| {
                let mut f = Found::default();
                tree.mine_item(item, &global, threshold, max_len, &mut Vec::new(), &mut f);
                f
            })
            .collect()
    };
    Ok(assemble(n_baskets, found))
}

/// Weighted paths (baskets or prefix paths), each ascending in its tree's item codes.
#[derive(Default)]
struct Paths {
    items: Vec<u32>,
    /// Where path p ends in `items` (it starts where p − 1 ends).
    ends: Vec<usize>,
    weights: Vec<u64>,
}

impl Paths {
    fn get(&self, p: usize) -> &[u32] {
        let from = if p == 0 { 0 } else { self.ends[p - 1] };
        &self.items[from..self.ends[p]]
    }
}

/// No node (the root's children have this parent).
const NONE: u32 = u32::MAX;

/// An FP-tree: nodes in creation order, each with its item code (0 = the tree's most
/// frequent item), count and parent; `nodes_of[i]` lists item i's nodes.
struct Tree {
    item: Vec<u32>,
    count: Vec<u64>,
    parent: Vec<u32>,
    nodes_of: Vec<Vec<u32>>,
}

impl Tree {
    /// Builds the tree of `paths` over `n_items` codes. The paths are put in an order where
    /// all paths with one prefix are consecutive, so a path shares its prefix nodes with the
    /// path just before it only: up to 64 items, the numeric order of the paths as bit masks
    /// (code c is bit 63 − c; a prefix's paths are one range of masks), equal paths merged;
    /// above, the lexicographic order of the paths.
    fn build(n_items: usize, paths: &Paths) -> Tree {
        let mut t = Tree {
            item: Vec::new(),
            count: Vec::new(),
            parent: Vec::new(),
            nodes_of: vec![Vec::new(); n_items],
        };
        let mut stack: Vec<u32> = Vec::new(); // the nodes of the previous path, root first
        let n = paths.weights.len();
        if n_items <= 64 {
            let mut keyed: Vec<(u64, u64)> = (0..n)
                .map(|p| {
                    let mask = paths.get(p).iter().fold(0u64, |m, &c| m | 1u64 << (63 - c));
                    (mask, paths.weights[p])
                })
                .collect();
            if n > 4096 {
                keyed.par_sort_unstable_by_key(|k| k.0);
            } else {
                keyed.sort_unstable_by_key(|k| k.0);
            }
            let (mut previous, mut path) = (Vec::new(), Vec::new());
            let mut j = 0;
            while j < keyed.len() {
                let mask = keyed[j].0;
                let mut w = 0;
                while j < keyed.len() && keyed[j].0 == mask {
                    w += keyed[j].1;
                    j += 1;
                }
                path.clear();
                let mut m = mask;
                while m != 0 {
                    let code = m.leading_zeros();
                    path.push(code);
                    m &= !(1u64 << (63 - code));
                }
                t.insert(&mut stack, &previous, &path, w);
                std::mem::swap(&mut previous, &mut path);
            }
            return t;
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        if n > 4096 {
            order.par_sort_unstable_by(|&a, &b| paths.get(a as usize).cmp(paths.get(b as usize)));
        } else {
            order.sort_unstable_by(|&a, &b| paths.get(a as usize).cmp(paths.get(b as usize)));
        }
        let mut previous: &[u32] = &[];
        for &p in &order {
            let path = paths.get(p as usize);
            t.insert(&mut stack, previous, path, paths.weights[p as usize]);
            previous = path;
        }
        t
    }

    /// Adds `path` with weight `w`, sharing the nodes of its common prefix with `previous`
    /// (whose nodes are `stack`).
    fn insert(&mut self, stack: &mut Vec<u32>, previous: &[u32], path: &[u32], w: u64) {
        let shared = path
            .iter()
            .zip(previous)
            .take_while(|(a, b)| a == b)
            .count();
        stack.truncate(shared);
        for &node in stack.iter() {
            self.count[node as usize] += w;
        }
        for &code in &path[shared..] {
            let node = self.item.len() as u32;
            self.item.push(code);
            self.count.push(w);
            self.parent.push(stack.last().copied().unwrap_or(NONE));
            self.nodes_of[code as usize].push(node);
            stack.push(node);
        }
    }

    /// Whether the tree is one chain (each node the parent of the next).
    fn is_path(&self) -> bool {
        self.parent
            .iter()
            .enumerate()
            .all(|(j, &p)| if j == 0 { p == NONE } else { p == j as u32 - 1 })
    }

    /// Emits every frequent itemset of the tree, each extended by `suffix` (global ids);
    /// `global[code]` is the id of the tree's item `code`.
    fn mine(
        &self,
        global: &[u32],
        threshold: u64,
        max_len: usize,
        suffix: &mut Vec<u32>,
        out: &mut Found,
    ) {
        if self.is_path() {
            // Every combination of the chain's items, with the count of its deepest node.
            let m = self.item.len();
            let most = max_len.saturating_sub(suffix.len()).min(m);
            let mut positions = Vec::with_capacity(most);
            for r in 1..=most {
                positions.clear();
                positions.extend(0..r);
                loop {
                    let deepest = positions[r - 1];
                    out.push(
                        suffix,
                        positions.iter().map(|&j| global[self.item[j] as usize]),
                        self.count[deepest],
                    );
                    if !next_combination(&mut positions, m) {
                        break;
                    }
                }
            }
            return;
        }
        for item in 0..self.nodes_of.len() {
            self.mine_item(item, global, threshold, max_len, suffix, out);
        }
    }

    /// Emits the itemset {item} ∪ suffix and, recursively, its frequent extensions by the
    /// items above `item`'s nodes.
    fn mine_item(
        &self,
        item: usize,
        global: &[u32],
        threshold: u64,
        max_len: usize,
        suffix: &mut Vec<u32>,
        out: &mut Found,
    ) {
        if suffix.len() >= max_len {
            return;
        }
        let nodes = &self.nodes_of[item];
        let support: u64 = nodes.iter().map(|&v| self.count[v as usize]).sum();
        if support < threshold {
            return;
        }
        out.push(suffix, std::iter::once(global[item]), support);
        if suffix.len() + 1 >= max_len || item == 0 {
            return;
        }
        // The conditional pattern base: each node's path to the root, weighted by its count.
        let mut counts = vec![0u64; item];
        for &v in nodes {
            let w = self.count[v as usize];
            let mut u = self.parent[v as usize];
            while u != NONE {
                counts[self.item[u as usize] as usize] += w;
                u = self.parent[u as usize];
            }
        }
        let mut kept: Vec<u32> = (0..item as u32)
            .filter(|&c| counts[c as usize] >= threshold)
            .collect();
        if kept.is_empty() {
            return;
        }
        kept.sort_by_key(|&c| std::cmp::Reverse(counts[c as usize])); // stable: ties by code
        let mut code_of = vec![NONE; item];
        for (new, &old) in kept.iter().enumerate() {
            code_of[old as usize] = new as u32;
        }
        let mut paths = Paths::default();
        for &v in nodes {
            let from = paths.items.len();
            let mut u = self.parent[v as usize];
            while u != NONE {
                let c = code_of[self.item[u as usize] as usize];
                if c != NONE {
                    paths.items.push(c);
                }
                u = self.parent[u as usize];
            }
            if paths.items.len() > from {
                paths.items[from..].sort_unstable();
                paths.ends.push(paths.items.len());
                paths.weights.push(self.count[v as usize]);
            }
        }
        let conditional = Tree::build(kept.len(), &paths);
        drop(paths);
        let sub_global: Vec<u32> = kept.iter().map(|&c| global[c as usize]).collect();
        suffix.push(global[item]);
        conditional.mine(&sub_global, threshold, max_len, suffix, out);
        suffix.pop();
    }
}

/// Itemsets found by one worker: ids one itemset after the other (each ascending), counts.
#[derive(Default)]
struct Found {
    items: Vec<u32>,
    ends: Vec<usize>,
    counts: Vec<u64>,
}

impl Found {
    fn push(&mut self, suffix: &[u32], more: impl Iterator<Item = u32>, count: u64) {
        let from = self.items.len();
        self.items.extend_from_slice(suffix);
        self.items.extend(more);
        self.items[from..].sort_unstable();
        self.ends.push(self.items.len());
        self.counts.push(count);
    }

    fn get(&self, i: usize) -> &[u32] {
        let from = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.items[from..self.ends[i]]
    }
}

/// Sorts the found itemsets into the documented order and computes their supports.
fn assemble(n_baskets: u64, found: Vec<Found>) -> Itemsets {
    // (worker, index) of every itemset, sorted by (length, ids).
    let mut all: Vec<(u32, u32)> = found
        .iter()
        .enumerate()
        .flat_map(|(w, f)| (0..f.counts.len() as u32).map(move |i| (w as u32, i)))
        .collect();
    let key = |&(w, i): &(u32, u32)| found[w as usize].get(i as usize);
    all.par_sort_unstable_by(|a, b| {
        let (x, y) = (key(a), key(b));
        x.len().cmp(&y.len()).then_with(|| x.cmp(y))
    });
    let total: usize = found.iter().map(|f| f.items.len()).sum();
    let mut sets = Itemsets {
        n_baskets,
        items: Vec::with_capacity(total),
        offsets: Vec::with_capacity(all.len() + 1),
        counts: Vec::with_capacity(all.len()),
        supports: Vec::with_capacity(all.len()),
        by_len: vec![0],
    };
    sets.offsets.push(0);
    let nf = n_baskets as f64;
    for (j, p) in all.iter().enumerate() {
        let ids = key(p);
        while sets.by_len.len() <= ids.len() {
            sets.by_len.push(j);
        }
        let count = found[p.0 as usize].counts[p.1 as usize];
        sets.items.extend_from_slice(ids);
        sets.offsets.push(sets.items.len());
        sets.counts.push(count);
        sets.supports.push(count as f64 / nf);
    }
    sets.by_len.push(all.len());
    if sets.by_len.len() < 2 {
        sets.by_len.push(0);
    }
    sets
}

#[cfg(test)]
mod tests;
