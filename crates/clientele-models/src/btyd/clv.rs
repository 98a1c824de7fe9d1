//! Discounted customer lifetime value from a purchase model and an expected spend per purchase.
//!
//! Purchases are discounted per model time step rather than continuously so that the figure is
//! easy to explain ("next week's expected purchases, discounted by one week of interest, plus
//! …") and matches what spreadsheets and lifetimes do with monthly steps.

use super::score::{check_request, discount_steps};
use super::{PurchaseModel, Summary};
use crate::ModelError;

/// Discounted CLV of one customer over `horizon` model time units.
///
/// Definition, with `n = ⌈horizon⌉`, `tᵢ = min(i, horizon)` and `E(t) = E[X(T, T+t) | x, t_x, T]`
/// the model's conditional expected purchases:
///
/// `CLV = margin × expected_spend × Σ_{i=1..n} (E(tᵢ) − E(tᵢ₋₁)) / (1 + annual_discount)^(i / units_per_year)`
///
/// i.e. the purchases expected in each unit step, valued at `expected_spend` (typically
/// [`super::GammaGamma::expected_spend`]) times `margin`, discounted at the end of their step;
/// the last step is truncated to the horizon. With `annual_discount = 0` this is
/// `margin × expected_spend × E(horizon)`. `units_per_year` is 52.18 for weeks, 365.25 for days.
///
/// Errors with [`ModelError::BadParameter`] when `horizon < 0`, `units_per_year ≤ 0`,
/// `annual_discount ≤ −1`, or any input is not finite. [`super::score`] gives the same sum
/// (with spend and margin 1) for a whole customer base at once.
pub fn clv(
    model: &PurchaseModel,
    c: &Summary,
    expected_spend: f64,
    horizon: f64,
    units_per_year: f64,
    annual_discount: f64,
    margin: f64,
) -> Result<f64, ModelError> {
    let finite = [c.x, c.t_x, c.t, expected_spend, margin]
        .iter()
        .all(|v| v.is_finite());
    if !finite {
        return Err(ModelError::BadParameter(format!(
            "CLV needs finite inputs (got x {}, t_x {}, T {}, spend {expected_spend}, margin \
             {margin})",
            c.x, c.t_x, c.t
        )));
    }
    check_request(horizon, units_per_year, annual_discount)?;
    let cond = model.conditional(c);
    let mut prev = 0.0;
    let mut total = 0.0;
    for (t, factor) in discount_steps(horizon, units_per_year, annual_discount) {
        let e = cond.expected(t);
        total += (e - prev) * factor;
        prev = e;
    }
    Ok(margin * expected_spend * total)
}
