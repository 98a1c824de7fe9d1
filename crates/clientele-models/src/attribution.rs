//! Multi-touch attribution: how many conversions (and how much conversion value) each channel
//! is credited with, from customer journeys that did or did not end in a conversion.
//!
//! Definitions (a **path** is one journey, or an aggregate of identical journeys: its touched
//! channels in time order, its `conversions` C ≥ 0, their total `value` V ≥ 0 and its `nulls`
//! N ≥ 0, the times it ended without converting):
//! - **first touch** credits C and V of each path to its first channel; **last touch** to its
//!   last channel;
//! - **linear** splits C and V of a path equally among its n touches (a channel touched twice
//!   gets two shares), as ChannelAttribution's `linear_touch`;
//! - **time decay** gives touch k the weight `2^(−age_k / half_life_days)`, normalised over
//!   the path, where `age_k` is the touch's age in days at the conversion (or at the path's
//!   end); with no ages, touch k of n is `n − 1 − k` days old (one step a day);
//! - **position based** gives `position_first` of the path to its first touch,
//!   `position_last` to its last and splits the rest evenly among the touches between; a
//!   one-touch path gives everything to its touch; a two-touch path splits between first and
//!   last in the proportion `position_first : position_last` (half each by default, and
//!   half each if both are 0);
//! - the **Markov chain** of order k (1 to 3) follows ChannelAttribution's `markov_model`. A
//!   path's **states** are the windows of k consecutive touches (a path shorter than k is one
//!   state of all its touches); consecutive equal states are merged into one (so at order 1,
//!   `a > a > b` is `a, b`: repeated touches of a channel are one visit). The chain goes from
//!   the start state through the path's states into the **conversion** state (weight C) or
//!   the **null** state (weight N); every other step has weight C + N, and a transition's
//!   probability is its weight over the total weight leaving its state. Paths with C + N = 0
//!   carry no weight and are left out of the chain;
//! - the **conversion probability** is the probability that the chain, from the start,
//!   is absorbed in the conversion state. It is computed exactly, by solving the absorbing
//!   chain's linear system (Gauss elimination for up to [`DENSE_STATES`] states, Gauss–Seidel
//!   to a relative change below 1e-13 above);
//! - **removing** channel c sends every transition into a state containing c to null
//!   instead; the **removal effect** of c is `RE_c = 1 − P(conversion | c removed) /
//!   P(conversion)`, equal to the probability that a converting journey of the chain visits c
//!   (ChannelAttribution estimates that probability by simulation; here it is exact);
//! - the **value removal effect** is the same with each conversion weighted by its value:
//!   a conversion entered from state s is worth the mean value per conversion of the paths
//!   whose last state is s (ChannelAttribution simulates a value from those paths' values per
//!   conversion, whose mean is this); `VRE_c = 1 − E[value | c removed] / E[value]`;
//! - **Markov credit**: channel c gets `total conversions × RE_c / Σ RE` and
//!   `total value × VRE_c / Σ VRE` (ChannelAttribution's `total_conversions` and
//!   `total_conversion_value`); if a sum of removal effects is 0 every credit of it is 0;
//! - **Shapley** values per Zhao, Mahboobi & Bagheri (2018): the worth of a set S of channels
//!   is `v(S)`, the conversions (resp. value) of the paths whose set of channels is a subset
//!   of S; the Shapley value of channel j reduces to `φ_j = Σ_{S ∋ j} R(S) / |S|`, where
//!   `R(S)` is the conversions (value) of the paths whose channel set is exactly S: each
//!   path's C and V are split equally among its distinct channels. The credits sum to the
//!   total conversions (value) — efficiency.
//!
//! Every credit sums, over channels, to the total conversions (resp. value), except the Markov
//! credit when every removal effect is 0.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::ModelError;

/// A hash map with a fixed-seed fast hasher (the keys are small and not adversarial).
type Map<K, V> = HashMap<K, V, ahash::RandomState>;

fn map<K, V>() -> Map<K, V> {
    HashMap::with_hasher(ahash::RandomState::with_seeds(11, 12, 13, 14))
}

/// Above this many transient states the absorbing chain is solved by Gauss–Seidel iteration
/// instead of dense Gauss elimination (whose cost grows as the cube of the states).
pub const DENSE_STATES: usize = 300;

/// The relative change between Gauss–Seidel sweeps under which the solution is taken.
const GS_TOLERANCE: f64 = 1e-13;

/// Gauss–Seidel sweeps before giving up.
const GS_MAX_SWEEPS: usize = 200_000;

/// One distinct customer journey (or an aggregate of identical journeys).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The touched channels in time order, ids `0..n_channels`.
    pub channels: Vec<u32>,
    /// Per touch: its age in days at the conversion (or at the path's end), finite and ≥ 0;
    /// `None`: touch k of n is `n − 1 − k` days old.
    pub ages_days: Option<Vec<f64>>,
    /// Conversions ending this path (≥ 0; may be fractional for aggregates).
    pub conversions: f64,
    /// The total conversion value of those conversions (≥ 0; 0 if there are no conversions).
    pub value: f64,
    /// Times this path ended without converting (≥ 0).
    pub nulls: f64,
}

/// The models' settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Order of the Markov chain, 1 to 3: how many past touches a state remembers.
    pub order: usize,
    /// Half-life of the time-decay weights, in days (> 0).
    pub half_life_days: f64,
    /// Share of a path the position-based model gives its first touch, in [0, 1].
    pub position_first: f64,
    /// Share of a path the position-based model gives its last touch, in [0, 1]; with
    /// `position_first` at most 1 in all.
    pub position_last: f64,
}

impl Default for Options {
    /// Order 1, a half-life of 7 days, and 40 / 20 / 40 position shares.
    fn default() -> Self {
        Options {
            order: 1,
            half_life_days: 7.0,
            position_first: 0.4,
            position_last: 0.4,
        }
    }
}

/// One model's credit: one entry per channel id.
#[derive(Debug, Clone, PartialEq)]
pub struct Credit {
    /// Conversions credited to each channel.
    pub conversions: Vec<f64>,
    /// Conversion value credited to each channel.
    pub value: Vec<f64>,
}

impl Credit {
    fn zeros(n: usize) -> Credit {
        Credit {
            conversions: vec![0.0; n],
            value: vec![0.0; n],
        }
    }
}

/// The fitted Markov chain and its removal effects.
///
/// State indices: `states[0]` is the start state (an empty channel list), then the transient
/// states in order of first appearance; the conversion state is index `states.len()` and the
/// null state `states.len() + 1` (the two indices after the last state).
#[derive(Debug, Clone, PartialEq)]
pub struct Markov {
    /// The chain's order.
    pub order: usize,
    /// State i: the last `order` channels (fewer for paths shorter than the order; none for
    /// the start state 0).
    pub states: Vec<Vec<u32>>,
    /// `(from, to, probability)` of every transition of non-zero probability, sorted by
    /// `from` then `to`.
    pub transitions: Vec<(usize, usize, f64)>,
    /// The probability of absorption in the conversion state from the start.
    pub conversion_probability: f64,
    /// Per channel: `1 − P(conversion | channel removed) / P(conversion)` (0 for a channel on
    /// no path of the chain).
    pub removal_effects: Vec<f64>,
    /// Per channel: the same with conversions weighted by their value (see the module's
    /// definitions); 0 everywhere if no conversion has value.
    pub value_removal_effects: Vec<f64>,
}

/// Every model's credit, and the Markov chain behind the Markov credit.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// First touch.
    pub first_touch: Credit,
    /// Last touch.
    pub last_touch: Credit,
    /// Linear (equal shares per touch).
    pub linear: Credit,
    /// Time decay.
    pub time_decay: Credit,
    /// Position based.
    pub position_based: Credit,
    /// Markov chain removal effects.
    pub markov: Credit,
    /// Shapley values.
    pub shapley: Credit,
    /// The Markov chain and its removal effects.
    pub markov_detail: Markov,
}

/// Credits the conversions and value of `paths` to `n_channels` channels under every model
/// (see the module's definitions).
///
/// Errors: [`ModelError::BadParameter`] for an out-of-range option or a malformed path (named
/// by its index), [`ModelError::InsufficientData`] if no path has a conversion,
/// [`ModelError::NoConvergence`] if the Gauss–Seidel solve of a large chain does not settle.
pub fn attribute(
    paths: &[Path],
    n_channels: usize,
    opts: &Options,
) -> Result<Attribution, ModelError> {
    check_options(opts)?;
    check_paths(paths, n_channels)?;
    let total: f64 = paths.iter().map(|p| p.conversions).sum();
    if total <= 0.0 {
        return Err(ModelError::InsufficientData(format!(
            "none of the {} paths has a conversion: there is nothing to attribute",
            paths.len()
        )));
    }
    let h = heuristics(paths, n_channels, opts);
    let shapley = shapley(paths, n_channels);
    let (markov, markov_detail) = markov_with(paths, n_channels, opts.order, None)?;
    Ok(Attribution {
        first_touch: h.first,
        last_touch: h.last,
        linear: h.linear,
        time_decay: h.decay,
        position_based: h.position,
        markov,
        shapley,
        markov_detail,
    })
}

fn check_options(opts: &Options) -> Result<(), ModelError> {
    if !(1..=3).contains(&opts.order) {
        return Err(ModelError::BadParameter(format!(
            "Markov order {}: expected 1, 2 or 3",
            opts.order
        )));
    }
    if !(opts.half_life_days.is_finite() && opts.half_life_days > 0.0) {
        return Err(ModelError::BadParameter(format!(
            "half-life {} days: expected a positive number of days",
            opts.half_life_days
        )));
    }
    let share = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
    if !share(opts.position_first)
        || !share(opts.position_last)
        || opts.position_first + opts.position_last > 1.0 + 1e-12
    {
        return Err(ModelError::BadParameter(format!(
            "position shares {} (first) and {} (last): expected shares in [0, 1] summing to at most 1",
            opts.position_first, opts.position_last
        )));
    }
    Ok(())
}

fn check_paths(paths: &[Path], n_channels: usize) -> Result<(), ModelError> {
    let count = |x: f64| x.is_finite() && x >= 0.0;
    for (i, p) in paths.iter().enumerate() {
        if p.channels.is_empty() {
            return Err(ModelError::BadParameter(format!("path {i} has no touches")));
        }
        if let Some(c) = p.channels.iter().find(|c| **c as usize >= n_channels) {
            return Err(ModelError::BadParameter(format!(
                "path {i}: channel id {c} is not below the number of channels, {n_channels}"
            )));
        }
        for (name, x) in [
            ("conversions", p.conversions),
            ("value", p.value),
            ("nulls", p.nulls),
        ] {
            if !count(x) {
                return Err(ModelError::BadParameter(format!(
                    "path {i}: {name} {x}: expected a finite number of at least 0"
                )));
            }
        }
        if p.conversions == 0.0 && p.value > 0.0 {
            return Err(ModelError::BadParameter(format!(
                "path {i}: a value of {} without conversions",
                p.value
            )));
        }
        if let Some(ages) = &p.ages_days {
            if ages.len() != p.channels.len() {
                return Err(ModelError::BadParameter(format!(
                    "path {i}: {} ages for {} touches",
                    ages.len(),
                    p.channels.len()
                )));
            }
            if let Some(a) = ages.iter().find(|a| !count(**a)) {
                return Err(ModelError::BadParameter(format!(
                    "path {i}: a touch aged {a} days: expected a finite age of at least 0"
                )));
            }
        }
    }
    Ok(())
}

struct Heuristics {
    first: Credit,
    last: Credit,
    linear: Credit,
    decay: Credit,
    position: Credit,
}

fn heuristics(paths: &[Path], n: usize, opts: &Options) -> Heuristics {
    let mut h = Heuristics {
        first: Credit::zeros(n),
        last: Credit::zeros(n),
        linear: Credit::zeros(n),
        decay: Credit::zeros(n),
        position: Credit::zeros(n),
    };
    let add = |credit: &mut Credit, c: u32, share: f64, p: &Path| {
        credit.conversions[c as usize] += share * p.conversions;
        credit.value[c as usize] += share * p.value;
    };
    let mut weights = Vec::new();
    for p in paths.iter().filter(|p| p.conversions > 0.0) {
        let len = p.channels.len();
        let (first, last) = (p.channels[0], p.channels[len - 1]);
        add(&mut h.first, first, 1.0, p);
        add(&mut h.last, last, 1.0, p);
        for c in &p.channels {
            add(&mut h.linear, *c, 1.0 / len as f64, p);
        }
        // The weights are normalised, so ages count from the youngest touch: the same shares,
        // and no underflow to 0 / 0 when every touch is many half-lives old.
        let age = |k: usize| p.ages_days.as_ref().map_or((len - 1 - k) as f64, |a| a[k]);
        let youngest = (0..len).map(age).fold(f64::INFINITY, f64::min);
        weights.clear();
        weights.extend((0..len).map(|k| (-(age(k) - youngest) / opts.half_life_days).exp2()));
        let sum: f64 = weights.iter().sum();
        for (c, w) in p.channels.iter().zip(&weights) {
            add(&mut h.decay, *c, w / sum, p);
        }
        match len {
            1 => add(&mut h.position, first, 1.0, p),
            2 => {
                let both = opts.position_first + opts.position_last;
                let f = if both > 0.0 {
                    opts.position_first / both
                } else {
                    0.5
                };
                add(&mut h.position, first, f, p);
                add(&mut h.position, last, 1.0 - f, p);
            }
            _ => {
                add(&mut h.position, first, opts.position_first, p);
                add(&mut h.position, last, opts.position_last, p);
                let middle = (1.0 - opts.position_first - opts.position_last) / (len - 2) as f64;
                for c in &p.channels[1..len - 1] {
                    add(&mut h.position, *c, middle, p);
                }
            }
        }
    }
    h
}

fn shapley(paths: &[Path], n: usize) -> Credit {
    let mut credit = Credit::zeros(n);
    let mut set = Vec::new();
    for p in paths.iter().filter(|p| p.conversions > 0.0) {
        set.clear();
        set.extend_from_slice(&p.channels);
        set.sort_unstable();
        set.dedup();
        let share = 1.0 / set.len() as f64;
        for c in &set {
            credit.conversions[*c as usize] += share * p.conversions;
            credit.value[*c as usize] += share * p.value;
        }
    }
    credit
}

/// A state's key: up to three channels and how many there are.
type Key = ([u32; 3], u8);

/// The absorbing chain over the transient states (0 = start).
struct Chain {
    /// Per transient state: transitions to transient states, with probabilities.
    rows: Vec<Vec<(usize, f64)>>,
    /// Per transient state: the probability of stepping into the conversion state.
    to_conversion: Vec<f64>,
    /// Per transient state: the probability of stepping into the null state.
    to_null: Vec<f64>,
    /// Per transient state: the mean value of a conversion entered from it.
    mean_value: Vec<f64>,
}

/// The Markov chain model; `dense` forces the solver (`None`: by the number of states).
fn markov_with(
    paths: &[Path],
    n: usize,
    order: usize,
    dense: Option<bool>,
) -> Result<(Credit, Markov), ModelError> {
    let mut index: Map<Key, usize> = map();
    let mut states: Vec<Vec<u32>> = vec![Vec::new()];
    let mut weights: Map<(usize, usize), f64> = map();
    let mut conv_in: Vec<f64> = vec![0.0];
    let mut value_in: Vec<f64> = vec![0.0];
    let mut null_in: Vec<f64> = vec![0.0];
    for p in paths {
        let w = p.conversions + p.nulls;
        if w <= 0.0 {
            continue;
        }
        let windows = p.channels.len().saturating_sub(order) + 1;
        let mut from = 0usize;
        for s in 0..windows {
            let window = &p.channels[s..(s + order).min(p.channels.len())];
            let mut key: Key = ([0; 3], window.len() as u8);
            key.0[..window.len()].copy_from_slice(window);
            let next = states.len();
            let to = *index.entry(key).or_insert(next);
            if to == next {
                states.push(window.to_vec());
                conv_in.push(0.0);
                value_in.push(0.0);
                null_in.push(0.0);
            }
            // Consecutive equal states are one visit, as in ChannelAttribution.
            if to != from {
                *weights.entry((from, to)).or_insert(0.0) += w;
                from = to;
            }
        }
        conv_in[from] += p.conversions;
        value_in[from] += p.value;
        null_in[from] += p.nulls;
    }
    let m = states.len();
    let (conversion, null) = (m, m + 1);
    let mut out = vec![0.0; m];
    for ((f, _), w) in &weights {
        out[*f] += w;
    }
    for s in 0..m {
        out[s] += conv_in[s] + null_in[s];
    }
    let mut chain = Chain {
        rows: vec![Vec::new(); m],
        to_conversion: vec![0.0; m],
        to_null: vec![0.0; m],
        mean_value: vec![0.0; m],
    };
    let mut transitions: Vec<(usize, usize, f64)> = Vec::with_capacity(weights.len() + 2 * m);
    for ((f, t), w) in &weights {
        let p = w / out[*f];
        chain.rows[*f].push((*t, p));
        transitions.push((*f, *t, p));
    }
    for s in 0..m {
        chain.rows[s].sort_unstable_by_key(|e| e.0);
        if out[s] > 0.0 {
            chain.to_conversion[s] = conv_in[s] / out[s];
            chain.to_null[s] = null_in[s] / out[s];
        }
        if conv_in[s] > 0.0 {
            chain.mean_value[s] = value_in[s] / conv_in[s];
            transitions.push((s, conversion, chain.to_conversion[s]));
        }
        if null_in[s] > 0.0 {
            transitions.push((s, null, chain.to_null[s]));
        }
    }
    transitions.sort_unstable_by_key(|t| (t.0, t.1));

    // The states each channel is part of: removing the channel makes them null.
    let mut containing: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (s, st) in states.iter().enumerate() {
        let mut seen: Vec<u32> = st.clone();
        seen.sort_unstable();
        seen.dedup();
        for c in seen {
            containing[c as usize].push(s);
        }
    }
    let value_rhs: Vec<f64> = chain
        .to_conversion
        .iter()
        .zip(&chain.mean_value)
        .map(|(p, v)| p * v)
        .collect();
    let dense = dense.unwrap_or(m <= DENSE_STATES);
    let full = absorb(&chain, &[], &[&chain.to_conversion, &value_rhs], dense)?;
    let (p_conv, e_value) = (full[0][0], full[1][0]);
    let removed: Vec<(f64, f64)> = containing
        .par_iter()
        .map(|st| {
            if st.is_empty() {
                return Ok((0.0, 0.0));
            }
            let x = absorb(&chain, st, &[&chain.to_conversion, &value_rhs], dense)?;
            let re = if p_conv > 0.0 {
                1.0 - x[0][0] / p_conv
            } else {
                0.0
            };
            let vre = if e_value > 0.0 {
                1.0 - x[1][0] / e_value
            } else {
                0.0
            };
            // Round-off can leave a removal effect a hair below 0 (or above 1).
            Ok((re.clamp(0.0, 1.0), vre.clamp(0.0, 1.0)))
        })
        .collect::<Result<_, ModelError>>()?;
    let removal_effects: Vec<f64> = removed.iter().map(|r| r.0).collect();
    let value_removal_effects: Vec<f64> = removed.iter().map(|r| r.1).collect();
    let total_conv: f64 = paths.iter().map(|p| p.conversions).sum();
    let total_value: f64 = paths.iter().map(|p| p.value).sum();
    let share = |effects: &[f64], total: f64| -> Vec<f64> {
        let sum: f64 = effects.iter().sum();
        if sum > 0.0 {
            effects.iter().map(|e| total * e / sum).collect()
        } else {
            vec![0.0; effects.len()]
        }
    };
    let credit = Credit {
        conversions: share(&removal_effects, total_conv),
        value: share(&value_removal_effects, total_value),
    };
    Ok((
        credit,
        Markov {
            order,
            states,
            transitions,
            conversion_probability: p_conv,
            removal_effects,
            value_removal_effects,
        },
    ))
}

/// Solves `x_s = Σ_t P(s, t) x_t + b_s` over the transient states for each right-hand side b,
/// with `x_s = 0` for the `removed` states (they lead to null), by dense elimination or
/// Gauss–Seidel.
fn absorb(
    chain: &Chain,
    removed: &[usize],
    rhs: &[&[f64]],
    dense: bool,
) -> Result<Vec<Vec<f64>>, ModelError> {
    let m = chain.rows.len();
    let mut gone = vec![false; m];
    for s in removed {
        gone[*s] = true;
    }
    if dense {
        return Ok(dense_absorb(chain, &gone, rhs));
    }
    let mut xs: Vec<Vec<f64>> = vec![vec![0.0; m]; rhs.len()];
    for (x, b) in xs.iter_mut().zip(rhs) {
        let mut settled = false;
        for _ in 0..GS_MAX_SWEEPS {
            let (mut change, mut size) = (0.0f64, 0.0f64);
            for s in 0..m {
                if gone[s] {
                    continue;
                }
                let (mut acc, mut stay) = (b[s], 0.0);
                for (t, p) in &chain.rows[s] {
                    if *t == s {
                        stay += p;
                    } else if !gone[*t] {
                        acc += p * x[*t];
                    }
                }
                let new = acc / (1.0 - stay);
                change = change.max((new - x[s]).abs());
                size = size.max(new.abs());
                x[s] = new;
            }
            if change <= GS_TOLERANCE * size || size == 0.0 {
                settled = true;
                break;
            }
        }
        if !settled {
            return Err(ModelError::NoConvergence(format!(
                "the absorption probabilities of the {m}-state Markov chain did not settle in \
                 {GS_MAX_SWEEPS} Gauss–Seidel sweeps"
            )));
        }
    }
    Ok(xs)
}

/// Gauss elimination with partial pivoting on `(I − P) x = b` over the kept states.
fn dense_absorb(chain: &Chain, gone: &[bool], rhs: &[&[f64]]) -> Vec<Vec<f64>> {
    let kept: Vec<usize> = (0..gone.len()).filter(|s| !gone[*s]).collect();
    let mut at = vec![usize::MAX; gone.len()];
    for (i, s) in kept.iter().enumerate() {
        at[*s] = i;
    }
    let k = kept.len();
    let r = rhs.len();
    // Row i: k coefficients then r right-hand sides.
    let width = k + r;
    let mut a = vec![0.0; k * width];
    for (i, s) in kept.iter().enumerate() {
        a[i * width + i] = 1.0;
        for (t, p) in &chain.rows[*s] {
            if !gone[*t] {
                a[i * width + at[*t]] -= p;
            }
        }
        for (j, b) in rhs.iter().enumerate() {
            a[i * width + k + j] = b[*s];
        }
    }
    for col in 0..k {
        let pivot = (col..k)
            .max_by(|x, y| {
                a[x * width + col]
                    .abs()
                    .total_cmp(&a[y * width + col].abs())
            })
            .unwrap_or(col);
        if pivot != col {
            for j in 0..width {
                a.swap(col * width + j, pivot * width + j);
            }
        }
        let d = a[col * width + col];
        // I − P of an absorbing chain is non-singular; a zero pivot cannot happen.
        if d == 0.0 {
            continue;
        }
        for row in col + 1..k {
            let f = a[row * width + col] / d;
            if f != 0.0 {
                for j in col..width {
                    a[row * width + j] -= f * a[col * width + j];
                }
            }
        }
    }
    let mut xs = vec![vec![0.0; gone.len()]; r];
    for (j, x) in xs.iter_mut().enumerate() {
        let mut sol = vec![0.0; k];
        for i in (0..k).rev() {
            let mut acc = a[i * width + k + j];
            for c in i + 1..k {
                acc -= a[i * width + c] * sol[c];
            }
            let d = a[i * width + i];
            sol[i] = if d != 0.0 { acc / d } else { 0.0 };
        }
        for (i, s) in kept.iter().enumerate() {
            x[*s] = sol[i];
        }
    }
    xs
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn path(channels: &[u32], conversions: f64, value: f64, nulls: f64) -> Path {
        Path {
            channels: channels.to_vec(),
            ages_days: None,
            conversions,
            value,
            nulls,
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    /// Each heuristic on a few paths, by hand.
    #[test]
    fn heuristics_by_hand() {
        let paths = [
            path(&[0], 1.0, 10.0, 0.0),
            path(&[0, 1], 2.0, 20.0, 5.0),
            Path {
                ages_days: Some(vec![14.0, 7.0, 0.0, 0.0]),
                ..path(&[1, 2, 0, 2], 1.0, 8.0, 0.0)
            },
            path(&[2, 1], 0.0, 0.0, 3.0),
        ];
        let a = attribute(&paths, 3, &Options::default()).unwrap();
        assert_eq!(a.first_touch.conversions, vec![3.0, 1.0, 0.0]);
        assert_eq!(a.first_touch.value, vec![30.0, 8.0, 0.0]);
        assert_eq!(a.last_touch.conversions, vec![1.0, 2.0, 1.0]);
        assert_eq!(a.last_touch.value, vec![10.0, 20.0, 8.0]);
        let lin = [1.0 + 1.0 + 0.25, 1.0 + 0.25, 0.5];
        let lin_v = [10.0 + 10.0 + 2.0, 10.0 + 2.0, 4.0];
        for c in 0..3 {
            assert!(close(a.linear.conversions[c], lin[c], 1e-12));
            assert!(close(a.linear.value[c], lin_v[c], 1e-12));
        }
        // Time decay, half-life 7: path 2 (no ages) is aged 1, 0 days; path 3 is aged
        // 14, 7, 0, 0 days: weights 1/4, 1/2, 1, 1 over 2.75.
        let (w1, w0) = (0.5f64.powf(1.0 / 7.0), 1.0);
        let d2 = [w1 / (w1 + w0), w0 / (w1 + w0)];
        let d3 = [0.25 / 2.75, 0.5 / 2.75, 1.0 / 2.75, 1.0 / 2.75];
        let decay = [
            1.0 + 2.0 * d2[0] + d3[2],
            2.0 * d2[1] + d3[0],
            d3[1] + d3[3],
        ];
        for (c, want) in decay.iter().enumerate() {
            assert!(close(a.time_decay.conversions[c], *want, 1e-12), "{c}");
        }
        // Touches far older than the half-life still share by their relative ages.
        let old = Path {
            ages_days: Some(vec![10_007.0, 10_000.0]),
            ..path(&[0, 1], 3.0, 0.0, 0.0)
        };
        let o = attribute(&[old], 2, &Options::default()).unwrap();
        assert!(close(o.time_decay.conversions[0], 1.0, 1e-12));
        assert!(close(o.time_decay.conversions[1], 2.0, 1e-12));
        // Position based: 1 touch all, 2 touches half each, 4 touches 0.4 / 0.1 / 0.1 / 0.4.
        let pos = [1.0 + 1.0 + 0.1, 1.0 + 0.4, 0.1 + 0.4];
        let pos_v = [10.0 + 10.0 + 0.8, 10.0 + 3.2, 0.8 + 3.2];
        for c in 0..3 {
            assert!(close(a.position_based.conversions[c], pos[c], 1e-12), "{c}");
            assert!(close(a.position_based.value[c], pos_v[c], 1e-12), "{c}");
        }
        for credit in [
            &a.first_touch,
            &a.last_touch,
            &a.linear,
            &a.time_decay,
            &a.position_based,
        ] {
            assert!(close(credit.conversions.iter().sum(), 4.0, 1e-12));
            assert!(close(credit.value.iter().sum(), 38.0, 1e-12));
        }
        // Uneven position shares: a two-touch path splits in their proportion.
        let opts = Options {
            position_first: 0.6,
            position_last: 0.2,
            ..Options::default()
        };
        let b = attribute(&paths[1..2], 3, &opts).unwrap();
        assert!(close(b.position_based.conversions[0], 1.5, 1e-12));
        assert!(close(b.position_based.conversions[1], 0.5, 1e-12));
    }

    /// A three-state chain with a loop, solved by hand (see the comments for the numbers).
    #[test]
    fn markov_matches_a_hand_solved_chain() {
        let paths = [
            path(&[0, 1, 0], 1.0, 6.0, 0.0),
            path(&[1], 0.0, 0.0, 1.0),
            path(&[0, 1], 1.0, 2.0, 1.0),
        ];
        // start → a 3/4, → b 1/4; a → b 3/4, → conv 1/4; b → a 1/4, → conv 1/4, → null 1/2.
        // x_a = 3/4 x_b + 1/4, x_b = 1/4 x_a + 1/4: x_a = 7/13, x_b = 5/13, P(conv) = 1/2.
        // Without a: x_b = 1/4, P = 1/16, RE_a = 7/8. Without b: x_a = 1/4, P = 3/16, RE_b = 5/8.
        // Values: a conversion from a is worth 6, from b 2: E = 2; without a 1/8 (VRE 15/16),
        // without b 9/8 (VRE 7/16).
        for dense in [true, false] {
            let (credit, d) = markov_with(&paths, 2, 1, Some(dense)).unwrap();
            assert_eq!(d.states, vec![vec![], vec![0], vec![1]]);
            let expect = [
                (0, 1, 0.75),
                (0, 2, 0.25),
                (1, 2, 0.75),
                (1, 3, 0.25),
                (2, 1, 0.25),
                (2, 3, 0.25),
                (2, 4, 0.5),
            ];
            assert_eq!(d.transitions.len(), expect.len());
            for (got, want) in d.transitions.iter().zip(&expect) {
                assert_eq!((got.0, got.1), (want.0, want.1));
                assert!((got.2 - want.2).abs() < 1e-15);
            }
            let tol = 1e-12;
            assert!((d.conversion_probability - 0.5).abs() < tol);
            assert!((d.removal_effects[0] - 7.0 / 8.0).abs() < tol);
            assert!((d.removal_effects[1] - 5.0 / 8.0).abs() < tol);
            assert!((d.value_removal_effects[0] - 15.0 / 16.0).abs() < tol);
            assert!((d.value_removal_effects[1] - 7.0 / 16.0).abs() < tol);
            assert!((credit.conversions[0] - 7.0 / 6.0).abs() < tol);
            assert!((credit.conversions[1] - 5.0 / 6.0).abs() < tol);
            assert!((credit.value[0] - 60.0 / 11.0).abs() < tol);
            assert!((credit.value[1] - 28.0 / 11.0).abs() < tol);
        }
    }

    /// Higher-order states: windows of `order` touches, repeats merged, short paths whole.
    #[test]
    fn higher_order_states_follow_channel_attribution() {
        let paths = [
            path(&[0, 0, 0, 1], 1.0, 0.0, 0.0),
            path(&[2], 0.0, 0.0, 1.0),
        ];
        let opts = Options {
            order: 2,
            ..Options::default()
        };
        let d = attribute(&paths, 3, &opts).unwrap().markov_detail;
        assert_eq!(d.states, vec![vec![], vec![0, 0], vec![0, 1], vec![2]]);
        assert_eq!(
            d.transitions,
            vec![
                (0, 1, 0.5),
                (0, 3, 0.5),
                (1, 2, 1.0),
                (2, 4, 1.0),
                (3, 5, 1.0)
            ]
        );
        assert!((d.conversion_probability - 0.5).abs() < 1e-15);
        assert_eq!(d.removal_effects, vec![1.0, 1.0, 0.0]);
        // Order 1 merges the repeated touches into one visit.
        let d1 = attribute(&paths, 3, &Options::default())
            .unwrap()
            .markov_detail;
        assert_eq!(d1.states, vec![vec![], vec![0], vec![1], vec![2]]);
        assert!(d1.transitions.contains(&(1, 2, 1.0)));
    }

    /// Brute-force Shapley value of the game v(S) = conversions of paths within S.
    fn brute_shapley(paths: &[Path], n: usize, value: bool) -> Vec<f64> {
        let worth = |set: u32| -> f64 {
            paths
                .iter()
                .filter(|p| p.channels.iter().all(|c| set & (1 << c) != 0))
                .map(|p| if value { p.value } else { p.conversions })
                .sum()
        };
        let fact = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
        (0..n)
            .map(|j| {
                (0..1u32 << n)
                    .filter(|s| s & (1 << j) == 0)
                    .map(|s| {
                        let k = s.count_ones() as usize;
                        fact(k) * fact(n - k - 1) / fact(n) * (worth(s | 1 << j) - worth(s))
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn shapley_simplified_formula_equals_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let n = 6;
        let paths: Vec<Path> = (0..40)
            .map(|_| {
                let len = rng.random_range(1..8);
                let channels: Vec<u32> = (0..len).map(|_| rng.random_range(0..n as u32)).collect();
                let conversions = rng.random_range(0..4) as f64;
                let value = if conversions > 0.0 {
                    rng.random_range(0.0..50.0)
                } else {
                    0.0
                };
                path(&channels, conversions, value, rng.random_range(0..3) as f64)
            })
            .collect();
        let a = attribute(&paths, n, &Options::default()).unwrap();
        let (bc, bv) = (
            brute_shapley(&paths, n, false),
            brute_shapley(&paths, n, true),
        );
        for j in 0..n {
            assert!((a.shapley.conversions[j] - bc[j]).abs() < 1e-9, "{j}");
            assert!((a.shapley.value[j] - bv[j]).abs() < 1e-9, "{j}");
        }
        let total: f64 = paths.iter().map(|p| p.conversions).sum();
        assert!((a.shapley.conversions.iter().sum::<f64>() - total).abs() < 1e-9);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let ok = path(&[0, 1], 1.0, 1.0, 1.0);
        let bad_param =
            |paths: &[Path], opts: &Options, needle: &str| match attribute(paths, 2, opts) {
                Err(ModelError::BadParameter(m)) => assert!(m.contains(needle), "{m}"),
                other => panic!("expected BadParameter({needle}), got {other:?}"),
            };
        let d = Options::default();
        bad_param(
            &[ok.clone(), path(&[0, 2], 1.0, 0.0, 0.0)],
            &d,
            "path 1: channel id 2",
        );
        bad_param(
            &[ok.clone(), path(&[], 1.0, 0.0, 0.0)],
            &d,
            "path 1 has no touches",
        );
        bad_param(
            &[ok.clone(), path(&[0], -1.0, 0.0, 0.0)],
            &d,
            "path 1: conversions",
        );
        bad_param(
            &[ok.clone(), path(&[0], 1.0, f64::NAN, 0.0)],
            &d,
            "path 1: value",
        );
        bad_param(
            &[ok.clone(), path(&[0], 1.0, 0.0, f64::INFINITY)],
            &d,
            "path 1: nulls",
        );
        bad_param(
            &[ok.clone(), path(&[0], 0.0, 3.0, 1.0)],
            &d,
            "path 1: a value",
        );
        let ages = Path {
            ages_days: Some(vec![1.0]),
            ..ok.clone()
        };
        bad_param(&[ok.clone(), ages], &d, "path 1: 1 ages for 2 touches");
        let ages = Path {
            ages_days: Some(vec![1.0, -1.0]),
            ..ok.clone()
        };
        bad_param(&[ages], &d, "path 0: a touch aged -1");
        let one = std::slice::from_ref(&ok);
        bad_param(
            one,
            &Options {
                order: 0,
                ..d.clone()
            },
            "order 0",
        );
        bad_param(
            one,
            &Options {
                order: 4,
                ..d.clone()
            },
            "order 4",
        );
        bad_param(
            one,
            &Options {
                half_life_days: 0.0,
                ..d.clone()
            },
            "half-life",
        );
        bad_param(
            one,
            &Options {
                position_first: 0.7,
                ..d.clone()
            },
            "position",
        );
        assert!(matches!(
            attribute(&[path(&[0], 0.0, 0.0, 4.0)], 2, &d),
            Err(ModelError::InsufficientData(_))
        ));
        assert!(matches!(
            attribute(&[], 2, &d),
            Err(ModelError::InsufficientData(_))
        ));
    }

    /// ChannelAttribution's example data (`Data.csv`): channel names, paths.
    fn example_data() -> (Vec<String>, Vec<Path>) {
        let text = include_str!("../tests/data/attribution/Data.csv");
        let mut names: Vec<String> = Vec::new();
        let mut paths = Vec::new();
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split(';').collect();
            let channels = f[0]
                .split('>')
                .map(|n| {
                    let n = n.trim();
                    match names.iter().position(|x| x == n) {
                        Some(i) => i as u32,
                        None => {
                            names.push(n.to_string());
                            (names.len() - 1) as u32
                        }
                    }
                })
                .collect();
            let num = |s: &str| s.trim().parse::<f64>().unwrap();
            paths.push(path_of(channels, num(f[1]), num(f[2]), num(f[3])));
        }
        (names, paths)
    }

    fn path_of(channels: Vec<u32>, conversions: f64, value: f64, nulls: f64) -> Path {
        Path {
            channels,
            ages_days: None,
            conversions,
            value,
            nulls,
        }
    }

    /// A reference CSV: header, then rows of a name and numbers.
    fn reference(text: &str) -> (Vec<String>, Vec<(String, Vec<f64>)>) {
        let mut lines = text.lines();
        let header = lines
            .next()
            .unwrap()
            .split(',')
            .map(str::to_string)
            .collect();
        let rows = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].to_string(),
                    f[1..].iter().map(|x| x.parse().unwrap()).collect(),
                )
            })
            .collect();
        (header, rows)
    }

    #[test]
    fn heuristics_match_channel_attribution() {
        let (names, paths) = example_data();
        let a = attribute(&paths, names.len(), &Options::default()).unwrap();
        let (header, rows) = reference(include_str!("../tests/data/attribution/heuristic.csv"));
        assert_eq!(header[1], "first_touch_conversions");
        assert_eq!(rows.len(), names.len());
        for (name, r) in &rows {
            let c = names.iter().position(|n| n == name).unwrap();
            let ours = [
                a.first_touch.conversions[c],
                a.first_touch.value[c],
                a.last_touch.conversions[c],
                a.last_touch.value[c],
                a.linear.conversions[c],
                a.linear.value[c],
            ];
            for (k, (o, t)) in ours.iter().zip(r).enumerate() {
                assert!(
                    (o - t).abs() <= 1e-9 * t.abs().max(1.0),
                    "{name} {}: {o} vs {t}",
                    header[k + 1]
                );
            }
        }
    }

    /// Markov credits and removal effects against ChannelAttribution's simulation (5·10⁷
    /// simulated journeys): within 2 % relative, or 2·10⁻⁴ of a removal effect (its Monte
    /// Carlo error on the rarest channels).
    fn markov_matches(order: usize, text: &str) {
        let (names, paths) = example_data();
        let opts = Options {
            order,
            ..Options::default()
        };
        let a = attribute(&paths, names.len(), &opts).unwrap();
        let (header, rows) = reference(text);
        assert_eq!(header[3], "removal_effects_conversion");
        let total: f64 = paths.iter().map(|p| p.conversions).sum();
        let total_value: f64 = paths.iter().map(|p| p.value).sum();
        let d = &a.markov_detail;
        for (name, r) in &rows {
            let c = names.iter().position(|n| n == name).unwrap();
            let ours = [
                (a.markov.conversions[c], 2e-4 * total),
                (a.markov.value[c], 2e-4 * total_value),
                (d.removal_effects[c], 2e-4),
                (d.value_removal_effects[c], 2e-4),
            ];
            for (k, ((o, floor), t)) in ours.iter().zip(r).enumerate() {
                let tol = (0.02 * t.abs()).max(*floor);
                assert!(
                    (o - t).abs() <= tol,
                    "order {order}, {name} {}: {o} vs {t}",
                    header[k + 1]
                );
            }
        }
    }

    #[test]
    fn markov_order_1_matches_channel_attribution() {
        markov_matches(
            1,
            include_str!("../tests/data/attribution/markov_order1.csv"),
        );
    }

    #[test]
    fn markov_order_2_matches_channel_attribution() {
        markov_matches(
            2,
            include_str!("../tests/data/attribution/markov_order2.csv"),
        );
    }

    /// The dense and the iterative solver agree on a chain of a few hundred states.
    #[test]
    fn gauss_seidel_agrees_with_elimination() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let n = 8;
        let paths: Vec<Path> = (0..3000)
            .map(|_| {
                let len = rng.random_range(1..7);
                let ch: Vec<u32> = (0..len).map(|_| rng.random_range(0..n as u32)).collect();
                let conv = if rng.random_bool(0.3) { 1.0 } else { 0.0 };
                path(&ch, conv, conv * rng.random_range(1.0..9.0), 1.0 - conv)
            })
            .collect();
        let dense = markov_with(&paths, n, 3, Some(true)).unwrap();
        let iter = markov_with(&paths, n, 3, Some(false)).unwrap();
        assert!(
            dense.1.states.len() > DENSE_STATES,
            "{}",
            dense.1.states.len()
        );
        assert!((dense.1.conversion_probability - iter.1.conversion_probability).abs() < 1e-11);
        for c in 0..n {
            assert!((dense.1.removal_effects[c] - iter.1.removal_effects[c]).abs() < 1e-10);
            assert!(
                (dense.1.value_removal_effects[c] - iter.1.value_removal_effects[c]).abs() < 1e-10
            );
        }
    }

    /// Journeys simulated from a known first-order chain: the estimated transitions are within
    /// sampling error of the true ones, and the exact removal effects of the estimate are close
    /// to those of the true chain.
    #[test]
    fn recovers_a_known_chain() {
        // States 1..=4 are channels 0..=3; rows: start, then each channel; columns: channels
        // 0..=3, conversion, null. No channel follows itself (repeats would be merged).
        let truth: [[f64; 6]; 5] = [
            [0.4, 0.3, 0.2, 0.1, 0.0, 0.0],
            [0.0, 0.3, 0.2, 0.1, 0.1, 0.3],
            [0.2, 0.0, 0.2, 0.1, 0.2, 0.3],
            [0.1, 0.1, 0.0, 0.3, 0.05, 0.45],
            [0.2, 0.2, 0.1, 0.0, 0.3, 0.2],
        ];
        let mut rng = ChaCha8Rng::seed_from_u64(2018);
        let draw = |rng: &mut ChaCha8Rng, row: &[f64; 6]| {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            for (k, p) in row.iter().enumerate() {
                acc += p;
                if u < acc {
                    return k;
                }
            }
            5
        };
        let mut paths = Vec::new();
        let mut visits = [0.0f64; 5];
        for _ in 0..40_000 {
            let mut state = 0usize;
            let mut channels = Vec::new();
            loop {
                visits[state] += 1.0;
                let next = draw(&mut rng, &truth[state]);
                if next >= 4 {
                    let conv = if next == 4 { 1.0 } else { 0.0 };
                    paths.push(path(&channels, conv, conv * 10.0, 1.0 - conv));
                    break;
                }
                channels.push(next as u32);
                state = next + 1;
            }
        }
        let a = attribute(&paths, 4, &Options::default()).unwrap();
        let d = &a.markov_detail;
        // The estimate's state i is channel d.states[i][0]; map to the true row.
        let row_of = |s: usize| {
            if s == 0 {
                0
            } else {
                d.states[s][0] as usize + 1
            }
        };
        let col_of = |s: usize| {
            if s == d.states.len() {
                4
            } else if s == d.states.len() + 1 {
                5
            } else {
                d.states[s][0] as usize
            }
        };
        for (f, t, p) in &d.transitions {
            let (r, c) = (row_of(*f), col_of(*t));
            let q = truth[r][c];
            let se = (q * (1.0 - q) / visits[r]).sqrt();
            assert!(
                (p - q).abs() < 4.0 * se + 1e-12,
                "{r}->{c}: {p} vs {q} (se {se})"
            );
        }
        // Exact removal effects of the true chain.
        let chain = Chain {
            rows: (0..5)
                .map(|r| {
                    (0..4)
                        .filter(|c| truth[r][*c] > 0.0)
                        .map(|c| (c + 1, truth[r][c]))
                        .collect()
                })
                .collect(),
            to_conversion: (0..5).map(|r| truth[r][4]).collect(),
            to_null: (0..5).map(|r| truth[r][5]).collect(),
            mean_value: vec![10.0; 5],
        };
        let p = absorb(&chain, &[], &[&chain.to_conversion], true).unwrap()[0][0];
        assert!(
            (d.conversion_probability - p).abs() < 0.01,
            "{} vs {p}",
            d.conversion_probability
        );
        for c in 0..4 {
            let x = absorb(&chain, &[c + 1], &[&chain.to_conversion], true).unwrap()[0][0];
            let re = 1.0 - x / p;
            assert!(
                (d.removal_effects[c] - re).abs() < 0.015,
                "{c}: {} vs {re}",
                d.removal_effects[c]
            );
            // Every conversion is worth 10: value removal effects equal the plain ones.
            assert!((d.value_removal_effects[c] - d.removal_effects[c]).abs() < 1e-9);
        }
    }

    /// 10⁵ distinct paths over 10 channels, in release (see `crate::scale_tests`).
    #[test]
    fn scale_hundred_thousand_paths() {
        if !crate::scale_tests() {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let paths: Vec<Path> = (0..100_000)
            .map(|_| {
                let len = rng.random_range(1..12);
                let ch: Vec<u32> = (0..len).map(|_| rng.random_range(0..10)).collect();
                let conv = rng.random_range(0..3) as f64;
                path(&ch, conv, conv * 5.0, rng.random_range(0..3) as f64)
            })
            .collect();
        for order in 1..=3 {
            let start = std::time::Instant::now();
            let a = attribute(
                &paths,
                10,
                &Options {
                    order,
                    ..Options::default()
                },
            )
            .unwrap();
            let took = start.elapsed().as_secs_f64();
            eprintln!(
                "order {order}: {} states, {took:.3} s",
                a.markov_detail.states.len()
            );
            assert!(took < 1.0, "order {order} took {took} s");
        }
    }
}
