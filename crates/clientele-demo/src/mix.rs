//! How marketing spend drives revenue: the marketing-mix truth. Each channel's weekly spend
//! brings guest-checkout orders (orders without a customer) through the same geometric
//! adstock and Hill saturation that `clientele mmm` fits, with known decay, half-saturation,
//! shape and ROI, so the mix model's estimates can be checked against the truth.
//!
//! Why guests: a BG/NBD customer's purchases must stay exactly BG/NBD for the CLV truth, so
//! the spend cannot add purchases to the customers; one-off buyers added as customers would
//! bend the BG/NBD population. Guest checkouts are revenue, but no one's history: every
//! per-customer analysis leaves them out, every revenue figure counts them.
//!
//! May use: `calendar`, `sample` and `marketing` (for the spend). It is drawn after the spend
//! and before the customers, whose pass writes the guest orders.

use chrono::Datelike;
use serde_json::{Value, json};

use crate::calendar::Calendar;
use crate::marketing::{Campaign, SPEND_CHANNELS, Spend};

/// One channel's response: weekly incremental revenue `β · h(a_t; K, S)` with
/// `a_t = x_t + θ a_{t−1}` (x the week's spend, a_0 = x_0), `h(a; K, S) = a^S / (a^S + K^S)`,
/// `K = κ · mean_t(a_t)`, and `β` set so that the channel's expected revenue over the
/// history is `roi` times its spend.
pub(crate) struct ResponseSpec {
    pub decay: f64,
    pub kappa: f64,
    pub shape: f64,
    pub roi: f64,
}

/// The response of each of [`SPEND_CHANNELS`], in that order. Decays, half-saturation points
/// (as a share of the mean adstock) and shapes lie inside the box `clientele mmm` searches.
pub(crate) const RESPONSE: [ResponseSpec; 5] = [
    // email: a campaign's mails work for a week or two.
    ResponseSpec {
        decay: 0.3,
        kappa: 1.0,
        shape: 1.0,
        roi: 3.0,
    },
    // social: builds up and fades over weeks, S-shaped.
    ResponseSpec {
        decay: 0.5,
        kappa: 1.0,
        shape: 1.5,
        roi: 1.5,
    },
    // paid search: immediate, concave.
    ResponseSpec {
        decay: 0.1,
        kappa: 1.0,
        shape: 1.0,
        roi: 2.5,
    },
    // display: slow and weak.
    ResponseSpec {
        decay: 0.6,
        kappa: 1.2,
        shape: 2.0,
        roi: 1.2,
    },
    // affiliate: paid per sale, immediate.
    ResponseSpec {
        decay: 0.0,
        kappa: 1.0,
        shape: 1.0,
        roi: 2.0,
    },
];

/// Mean value of a guest order (currency); values are Gamma with shape [`GUEST_SHAPE`].
pub(crate) const GUEST_MEAN_VALUE: f64 = 80.0;
pub(crate) const GUEST_SHAPE: f64 = 6.0;
/// Share of guest orders placed on the web (the others in a store).
pub(crate) const GUEST_WEB: f64 = 0.85;

/// One Monday-to-Sunday week of the history (the first and last may be partial).
pub(crate) struct Week {
    /// Day index of the week's Monday (negative for a first week that starts before day 0).
    pub monday: i32,
    /// Days of the week inside the history: `first..=last`.
    pub first: i32,
    pub last: i32,
    /// Spend per channel (currency), its adstock, and the expected incremental revenue.
    pub spend: [f64; 5],
    pub adstock: [f64; 5],
    pub expected: [f64; 5],
    /// What the guest orders of the week actually came to, per channel (cents; filled by the
    /// customers' pass).
    pub realized_cents: [i64; 5],
    pub orders: [u64; 5],
}

/// The weekly response of the whole history.
pub(crate) struct Mix {
    pub weeks: Vec<Week>,
    /// Half-saturation point K and saturation level β per channel.
    pub half_saturation: [f64; 5],
    pub beta: [f64; 5],
}

/// Hill saturation (0 at a ≤ 0).
fn hill(a: f64, k: f64, s: f64) -> f64 {
    if a <= 0.0 {
        0.0
    } else {
        1.0 / (1.0 + (k / a).powf(s))
    }
}

/// The weeks of the history with their spend, adstock and expected response.
pub(crate) fn response(cal: &Calendar, spend: &Spend) -> Mix {
    let offset = cal.date(0).weekday().num_days_from_monday() as i32;
    let mut weeks: Vec<Week> = Vec::new();
    for day in 0..cal.days() {
        let monday = day - (day + offset) % 7;
        if weeks.last().is_none_or(|w| w.monday != monday) {
            weeks.push(Week {
                monday,
                first: day,
                last: day,
                spend: [0.0; 5],
                adstock: [0.0; 5],
                expected: [0.0; 5],
                realized_cents: [0; 5],
                orders: [0; 5],
            });
        }
        if let Some(w) = weeks.last_mut() {
            w.last = day;
            for (c, cents) in spend.daily[day as usize].iter().enumerate() {
                w.spend[c] += *cents as f64 / 100.0;
            }
        }
    }
    let mut half_saturation = [0.0; 5];
    let mut beta = [0.0; 5];
    for (c, spec) in RESPONSE.iter().enumerate() {
        let mut level = 0.0;
        for w in &mut weeks {
            level = w.spend[c] + spec.decay * level;
            w.adstock[c] = level;
        }
        let n = weeks.len().max(1) as f64;
        let k = spec.kappa * weeks.iter().map(|w| w.adstock[c]).sum::<f64>() / n;
        let saturation: f64 = weeks
            .iter()
            .map(|w| hill(w.adstock[c], k, spec.shape))
            .sum();
        let total: f64 = weeks.iter().map(|w| w.spend[c]).sum();
        // β = roi · spend / Σ h: the expected revenue over the history is roi × spend.
        let b = if saturation > 0.0 {
            spec.roi * total / saturation
        } else {
            0.0
        };
        for w in &mut weeks {
            w.expected[c] = b * hill(w.adstock[c], k, spec.shape);
        }
        half_saturation[c] = k;
        beta[c] = b;
    }
    Mix {
        weeks,
        half_saturation,
        beta,
    }
}

impl Mix {
    /// Ground truth of the response and of the guest orders it brought.
    pub(crate) fn truth(&self, cal: &Calendar, campaigns: &[Campaign]) -> Value {
        let channels: Vec<Value> = SPEND_CHANNELS
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let spend: f64 = self.weeks.iter().map(|w| w.spend[c]).sum();
                let expected: f64 = self.weeks.iter().map(|w| w.expected[c]).sum();
                let realized: i64 = self.weeks.iter().map(|w| w.realized_cents[c]).sum();
                let orders: u64 = self.weeks.iter().map(|w| w.orders[c]).sum();
                let r = &RESPONSE[c];
                let pull: f64 = campaigns
                    .iter()
                    .filter(|k| k.channel == c)
                    .map(|k| k.pull_revenue)
                    .sum();
                let realized = realized as f64 / 100.0;
                let per_spend = |v: f64| if spend > 0.0 { v / spend } else { 0.0 };
                json!({
                    "channel": name,
                    "decay": r.decay,
                    "half_saturation_share_of_mean_adstock": r.kappa,
                    "half_saturation": self.half_saturation[c],
                    "shape": r.shape,
                    "beta": self.beta[c],
                    "spend": spend,
                    "roi": r.roi,
                    "expected_revenue": expected,
                    "guest_orders": orders,
                    "guest_revenue": realized,
                    "realized_roi": per_spend(realized),
                    "campaign_pull_revenue": pull,
                    "roi_with_pull": per_spend(realized + pull),
                })
            })
            .collect();
        let weeks: Vec<Value> = self
            .weeks
            .iter()
            .map(|w| {
                json!({
                    "monday": cal.date(w.monday).to_string(),
                    "days": w.last - w.first + 1,
                    "spend": w.spend,
                    "expected_revenue": w.expected,
                    "guest_revenue": w.realized_cents.map(|c| c as f64 / 100.0),
                })
            })
            .collect();
        json!({
            "channels": channels,
            "channel_order": SPEND_CHANNELS,
            "guest_order_mean_value": GUEST_MEAN_VALUE,
            "guest_order_value_shape": GUEST_SHAPE,
            "guest_web_share": GUEST_WEB,
            "weeks": weeks,
            "rule": "weeks run Monday to Sunday (the first and last may be partial). Per channel, x_t = the week's spend (always-on and campaign), a_t = x_t + decay·a_{t−1}, expected incremental revenue β·a_t^S/(a_t^S + K^S) with K = half_saturation_share_of_mean_adstock × the mean of a_t over the weeks and β = roi × Σ x_t / Σ_t h(a_t). It arrives as guest orders (no customer_id, status completed): Poisson(expected / guest_order_mean_value) orders per week and channel, each on a uniformly drawn day of the week inside the history, its value Gamma(shape, mean guest_order_mean_value) filled with products like any basket; guest_revenue is what those orders came to (the realized incremental revenue; realized_roi = guest_revenue / spend). Campaigns also pull the purchases of the customers they reach into their windows (marketing.targeting), which a mix model credits to the campaign channels on top: campaign_pull_revenue is the expected revenue the channel's campaigns pulled into their windows (marketing.campaigns[].expected_pull_revenue), roi_with_pull = (guest_revenue + campaign_pull_revenue) / spend",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_revenue_is_roi_times_spend() {
        let cal = Calendar::new(
            chrono::NaiveDate::from_ymd_opt(2024, 1, 3).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
        );
        let daily: Vec<[i64; 5]> = (0..cal.days())
            .map(|d| [100 * i64::from(d % 5), 5000, 0, 700, 1])
            .collect();
        let spend = Spend {
            always_on_cents: 0,
            campaign_cents: 0,
            daily,
        };
        let mix = response(&cal, &spend);
        // 2024-01-03 is a Wednesday: the first week has 5 days, then 12 whole weeks.
        assert_eq!(mix.weeks[0].monday, -2);
        assert_eq!(mix.weeks[0].last - mix.weeks[0].first + 1, 5);
        assert_eq!(mix.weeks.len(), 13);
        for (c, spec) in RESPONSE.iter().enumerate() {
            let spend: f64 = mix.weeks.iter().map(|w| w.spend[c]).sum();
            let expected: f64 = mix.weeks.iter().map(|w| w.expected[c]).sum();
            if spend > 0.0 {
                assert!((expected - spec.roi * spend).abs() < 1e-9 * spend, "{c}");
            } else {
                assert_eq!(expected, 0.0);
            }
        }
        // Adstock by hand for social (50 a day): 250 in the first week, then 350 + 0.5·a.
        assert!((mix.weeks[0].adstock[1] - 250.0).abs() < 1e-9);
        assert!((mix.weeks[1].adstock[1] - (350.0 + 0.5 * 250.0)).abs() < 1e-9);
    }
}
