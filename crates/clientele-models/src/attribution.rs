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
        Options { order: 1, half_life_days: 7.0, position_first: 0.4, position_last: 0.4 }
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
        Credit { conversions: vec![0.0; n], value: vec![0.0; n] }
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
    let (markov, markov_detail) = markov(paths, n_channels, opts.order)?;
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
        for (name, x) in [("conversions", p.conversions), ("value", p.value), ("nulls", p.nulls)] {
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
        weights.clear();
        weights.extend((0..len).map(|k| {
            let age = p.ages_days.as_ref().map_or((len - 1 - k) as f64, |a| a[k]);
            (-age / opts.half_life_days).exp2()
        }));
        // Every touch may be so old that its weight underflows; then the ages are all far
        // beyond the half-life and, relative to one another, the youngest ones count.
        let mut sum: f64 = weights.iter().sum();
        if !(sum > 0.0) {
            let youngest = p
                .ages_days
                .as_ref()
                .map_or(0.0, |a| a.iter().copied().fold(f64::INFINITY, f64::min));
            for (k, w) in weights.iter_mut().enumerate() {
                let age = p.ages_days.as_ref().map_or((len - 1 - k) as f64, |a| a[k]);
                *w = (-(age - youngest) / opts.half_life_days).exp2();
            }
            sum = weights.iter().sum();
        }
        for (c, w) in p.channels.iter().zip(&weights) {
            add(&mut h.decay, *c, w / sum, p);
        }
        match len {
            1 => add(&mut h.position, first, 1.0, p),
            2 => {
                let both = opts.position_first + opts.position_last;
                let f = if both > 0.0 { opts.position_first / both } else { 0.5 };
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

fn markov(paths: &[Path], n: usize, order: usize) -> Result<(Credit, Markov), ModelError> {
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
    transitions.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

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
    let value_rhs: Vec<f64> =
        chain.to_conversion.iter().zip(&chain.mean_value).map(|(p, v)| p * v).collect();
    let full = absorb(&chain, &[], &[&chain.to_conversion, &value_rhs])?;
    let (p_conv, e_value) = (full[0][0], full[1][0]);
    let removed: Vec<(f64, f64)> = containing
        .par_iter()
        .map(|st| {
            if st.is_empty() {
                return Ok((0.0, 0.0));
            }
            let x = absorb(&chain, st, &[&chain.to_conversion, &value_rhs])?;
            let re = if p_conv > 0.0 { 1.0 - x[0][0] / p_conv } else { 0.0 };
            let vre = if e_value > 0.0 { 1.0 - x[1][0] / e_value } else { 0.0 };
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
/// with `x_s = 0` for the `removed` states (they lead to null).
fn absorb(chain: &Chain, removed: &[usize], rhs: &[&[f64]]) -> Result<Vec<Vec<f64>>, ModelError> {
    let m = chain.rows.len();
    let mut gone = vec![false; m];
    for s in removed {
        gone[*s] = true;
    }
    if m <= DENSE_STATES {
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
            .max_by(|x, y| a[x * width + col].abs().total_cmp(&a[y * width + col].abs()))
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
