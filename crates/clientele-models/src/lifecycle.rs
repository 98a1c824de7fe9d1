//! Customer lifecycle stages: new, active, loyal, high-value, at-risk and churned, from a
//! customer's purchase dates, order count and value at an as-of date.
//!
//! The stages are business rules rather than a fitted model, so every threshold is a named
//! field with a default and every customer falls into exactly one stage by a fixed
//! precedence. The days are counted back from the as-of date by the caller.

use serde::{Deserialize, Serialize};

/// The thresholds of [`classify`]. Days are whole or fractional days before the as-of date.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifecycleThresholds {
    /// New: first purchase at most this many days before the as-of date (default 90).
    pub new_days: f64,
    /// Active: last purchase at most this many days before the as-of date (default 180);
    /// a customer not seen for longer, but not yet churned, is at-risk.
    pub active_days: f64,
    /// Churned: no purchase for more than this many days (default 365).
    pub churned_days: f64,
    /// Loyal: at least this many orders (default 4).
    pub loyal_orders: u32,
    /// High-value: value at or above this quantile of all customers' values (default 0.9,
    /// the top 10%); see [`high_value_cutoff`].
    pub high_value_quantile: f64,
    /// At-risk by model: when a probability of being alive (P(alive) from BG/NBD or
    /// Pareto/NBD) is given to [`classify_with_p_alive`], a value below this marks an
    /// otherwise active customer at-risk (default 0.5).
    pub at_risk_p_alive: f64,
}

impl Default for LifecycleThresholds {
    fn default() -> Self {
        LifecycleThresholds {
            new_days: 90.0,
            active_days: 180.0,
            churned_days: 365.0,
            loyal_orders: 4,
            high_value_quantile: 0.9,
            at_risk_p_alive: 0.5,
        }
    }
}

/// A customer's lifecycle stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stage {
    /// First purchase within `new_days` (and not churned).
    New,
    /// Bought within `active_days`, and neither new, high-value nor loyal.
    Active,
    /// Active with at least `loyal_orders` orders.
    Loyal,
    /// Active with value at or above the high-value cutoff.
    HighValue,
    /// Not seen for more than `active_days` but at most `churned_days` (or P(alive) below
    /// `at_risk_p_alive`).
    AtRisk,
    /// No purchase for more than `churned_days`.
    Churned,
}

impl Stage {
    /// Every stage, in the order of the lifecycle.
    pub const ALL: [Stage; 6] = [
        Stage::New,
        Stage::Active,
        Stage::Loyal,
        Stage::HighValue,
        Stage::AtRisk,
        Stage::Churned,
    ];

    /// The stage's name: `"new"`, `"active"`, `"loyal"`, `"high-value"`, `"at-risk"` or
    /// `"churned"`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::New => "new",
            Stage::Active => "active",
            Stage::Loyal => "loyal",
            Stage::HighValue => "high-value",
            Stage::AtRisk => "at-risk",
            Stage::Churned => "churned",
        }
    }
}

/// The lifecycle stage of a customer with at least one order, by this precedence (the
/// first rule that holds wins):
///
/// 1. **churned**: `days_since_last > churned_days`;
/// 2. **new**: `days_since_first <= new_days`;
/// 3. **at-risk**: `days_since_last > active_days`;
/// 4. **high-value**: `value >= high_value_cutoff` and `value > 0`;
/// 5. **loyal**: `orders >= loyal_orders`;
/// 6. **active**: everyone else (bought within `active_days`).
///
/// Churn comes first because a lapsed customer is lost whatever they were worth; a new
/// customer is not judged on recency or value until they have had time to buy again; and
/// value ranks above order count because a few large orders matter more than many small
/// ones. `value` is revenue or CLV, whichever `high_value_cutoff` was computed from; the
/// `value > 0` condition keeps customers worth nothing out of high-value when over 90% of
/// values are 0. Customers who never ordered have no stage: leave them out.
pub fn classify(
    days_since_first: f64,
    days_since_last: f64,
    orders: u32,
    value: f64,
    high_value_cutoff: f64,
    t: &LifecycleThresholds,
) -> Stage {
    classify_with_p_alive(
        days_since_first,
        days_since_last,
        orders,
        value,
        high_value_cutoff,
        None,
        t,
    )
}

/// [`classify`] with a model's probability that the customer is still alive: when
/// `p_alive` is `Some(p)` with `p < t.at_risk_p_alive`, rule 3 (at-risk) also holds, so a
/// customer the purchase model considers likely gone is at-risk before `active_days` have
/// passed. Churned and new keep precedence; `None` is exactly [`classify`].
pub fn classify_with_p_alive(
    days_since_first: f64,
    days_since_last: f64,
    orders: u32,
    value: f64,
    high_value_cutoff: f64,
    p_alive: Option<f64>,
    t: &LifecycleThresholds,
) -> Stage {
    if days_since_last > t.churned_days {
        Stage::Churned
    } else if days_since_first <= t.new_days {
        Stage::New
    } else if days_since_last > t.active_days || p_alive.is_some_and(|p| p < t.at_risk_p_alive) {
        Stage::AtRisk
    } else if value >= high_value_cutoff && value > 0.0 {
        Stage::HighValue
    } else if orders >= t.loyal_orders {
        Stage::Loyal
    } else {
        Stage::Active
    }
}

/// The value at `quantile` (0..=1) of `values`, for [`classify`]'s `high_value_cutoff`:
/// linear interpolation between the two nearest order statistics at position
/// `quantile · (n − 1)` of the sorted values (NumPy's and R's default, type 7). NaN values
/// are ignored; with no values left the cutoff is `+∞` so that nobody is high-value.
/// `quantile` is clamped to 0..=1.
pub fn high_value_cutoff(values: &[f64], quantile: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::INFINITY;
    }
    v.sort_by(f64::total_cmp);
    let q = if quantile.is_nan() {
        1.0
    } else {
        quantile.clamp(0.0, 1.0)
    };
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_on_hand_examples() {
        let t = LifecycleThresholds::default();
        let cut = 1000.0;
        // (first, last, orders, value) -> stage
        let cases = [
            // Not seen for 400 days: churned even though high-value and loyal.
            ((800.0, 400.0, 10, 5000.0), Stage::Churned),
            // First purchase 30 days ago: new even with a high value.
            ((30.0, 30.0, 1, 5000.0), Stage::New),
            // First purchase 100 days ago, last 10: past new, so judged on value/orders.
            ((100.0, 10.0, 1, 50.0), Stage::Active),
            // Not seen for 200 days (> 180, <= 365): at-risk even though high-value.
            ((500.0, 200.0, 8, 5000.0), Stage::AtRisk),
            // Recent, value at the cutoff: high-value before loyal.
            ((500.0, 20.0, 8, 1000.0), Stage::HighValue),
            // Recent, 4 orders, below the cutoff: loyal.
            ((500.0, 20.0, 4, 999.0), Stage::Loyal),
            ((500.0, 20.0, 3, 999.0), Stage::Active),
            // Boundaries: exactly 365 days is not churned, exactly 180 is still active,
            // exactly 90 is still new.
            ((900.0, 365.0, 2, 10.0), Stage::AtRisk),
            ((900.0, 180.0, 2, 10.0), Stage::Active),
            ((90.0, 90.0, 1, 10.0), Stage::New),
        ];
        for ((first, last, orders, value), want) in cases {
            assert_eq!(
                classify(first, last, orders, value, cut, &t),
                want,
                "{first} {last} {orders} {value}"
            );
        }
        // A zero cutoff (most values 0) does not make worthless customers high-value.
        assert_eq!(classify(500.0, 20.0, 1, 0.0, 0.0, &t), Stage::Active);
    }

    #[test]
    fn p_alive_override() {
        let t = LifecycleThresholds::default();
        let c = |p| classify_with_p_alive(500.0, 20.0, 8, 5000.0, 1000.0, p, &t);
        assert_eq!(c(None), Stage::HighValue);
        assert_eq!(c(Some(0.6)), Stage::HighValue);
        assert_eq!(c(Some(0.3)), Stage::AtRisk);
        // New and churned keep precedence over the model.
        let new = classify_with_p_alive(10.0, 10.0, 1, 5.0, 1000.0, Some(0.1), &t);
        assert_eq!(new, Stage::New);
        let churned = classify_with_p_alive(900.0, 400.0, 1, 5.0, 1000.0, Some(0.9), &t);
        assert_eq!(churned, Stage::Churned);
    }

    #[test]
    fn cutoff_quantile() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect(); // 1..11, n-1 = 10
        assert_eq!(high_value_cutoff(&v, 0.9), 10.0); // position 9 -> 10
        assert_eq!(high_value_cutoff(&v, 0.95), 10.5); // position 9.5
        assert_eq!(high_value_cutoff(&v, 0.0), 1.0);
        assert_eq!(high_value_cutoff(&v, 1.0), 11.0);
        assert_eq!(high_value_cutoff(&[5.0, f64::NAN], 0.9), 5.0);
        assert_eq!(high_value_cutoff(&[], 0.9), f64::INFINITY);
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            ["new", "active", "loyal", "high-value", "at-risk", "churned"]
        );
    }
}
