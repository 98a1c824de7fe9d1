//! Campaigns and marketing spend: when each campaign runs, what it costs, whom it reaches and
//! how strongly it pulls the purchases of the customers it touched into its window; and the
//! daily spend per channel (campaign budgets spread over their days, plus always-on spend).
//!
//! May use: `calendar`, `out`, `sample`, and `tally` to count the spend. It is drawn before
//! the customers and the sales side, which read its campaigns; it must not import them (nor
//! `kpi`, which reads what they all counted).

use chrono::Datelike;
use serde_json::{Value, json};

use crate::DemoError;
use crate::calendar::{Calendar, yearly_wave};
use crate::out::Out;
use crate::sample::{self, DemoRng};
use crate::tally::Tally;

/// Campaigns per year of history (24 over the default three years).
pub(crate) const CAMPAIGNS_PER_YEAR: f64 = 8.0;

/// How campaigns of one channel behave.
pub(crate) struct ChannelSpec {
    pub name: &'static str,
    /// Duration in days, uniform in this range.
    pub days: (i32, i32),
    /// Cost at 10,000 customers, uniform in this range (scaled with the customer count).
    pub cost: (f64, f64),
    /// Lift: how many times more densely a touched customer's in-between purchases land in
    /// the campaign window than outside it, uniform in this range.
    pub lift: (f64, f64),
    /// Share of eligible customers (signed up before the start) the campaign reaches.
    pub reach: f64,
    /// Probability that a reached customer who is still active engages (email: opens;
    /// others: clicks). Customers who have silently churned engage at `DEAD_ENGAGEMENT` of it.
    pub engage: f64,
    /// Email only: probability of a click after an open.
    pub click_after_open: f64,
}

/// Engagement of churned customers relative to active ones.
pub(crate) const DEAD_ENGAGEMENT: f64 = 0.3;
/// Probability that an email recipient unsubscribes (they are never emailed again).
pub(crate) const UNSUBSCRIBE: f64 = 0.012;
/// Probability that a customer who signs up through a channel while a campaign of that
/// channel runs was acquired by it (touchpoints before sign-up, first order attributed).
pub(crate) const ACQUISITION_ATTRIBUTION: f64 = 0.7;
/// Mean number of extra impressions (Poisson) after the first, social and display.
pub(crate) const EXTRA_IMPRESSIONS: [f64; 2] = [1.0, 1.5];

/// The four campaign channels.
pub(crate) const CHANNELS: [ChannelSpec; 4] = [
    ChannelSpec {
        name: "email",
        days: (7, 14),
        cost: (1_000.0, 3_000.0),
        lift: (1.2, 1.6),
        reach: 0.45,
        engage: 0.40,
        click_after_open: 0.30,
    },
    ChannelSpec {
        name: "social",
        days: (14, 30),
        cost: (3_000.0, 8_000.0),
        lift: (1.05, 1.3),
        reach: 0.20,
        engage: 0.08,
        click_after_open: 0.0,
    },
    ChannelSpec {
        name: "paid_search",
        days: (14, 45),
        cost: (4_000.0, 10_000.0),
        lift: (1.3, 1.8),
        reach: 0.06,
        engage: 0.35,
        click_after_open: 0.0,
    },
    ChannelSpec {
        name: "display",
        days: (21, 45),
        cost: (2_500.0, 6_000.0),
        lift: (1.02, 1.15),
        reach: 0.30,
        engage: 0.025,
        click_after_open: 0.0,
    },
];

pub(crate) const EMAIL: usize = 0;
pub(crate) const SOCIAL: usize = 1;
pub(crate) const PAID_SEARCH: usize = 2;
pub(crate) const DISPLAY: usize = 3;

/// Channel of the i-th campaign, repeating: email is the workhorse.
const CYCLE: [usize; 8] = [
    EMAIL,
    SOCIAL,
    EMAIL,
    PAID_SEARCH,
    DISPLAY,
    EMAIL,
    SOCIAL,
    PAID_SEARCH,
];

/// Always-on daily spend per channel at 10,000 customers, before trend and season.
pub(crate) const ALWAYS_ON: &[(&str, f64)] = &[
    ("paid_search", 180.0),
    ("social", 80.0),
    ("display", 50.0),
    ("email", 10.0),
    ("affiliate", 40.0),
];
/// Yearly growth of always-on spend (it follows the business).
pub(crate) const ALWAYS_ON_GROWTH: f64 = 0.30;
/// Yearly wave of always-on spend, peaking with the holiday season.
pub(crate) const ALWAYS_ON_AMPLITUDE: f64 = 0.25;
/// Day-to-day noise of always-on spend (sd of log).
pub(crate) const ALWAYS_ON_NOISE: f64 = 0.15;
/// Weekly flighting of always-on spend: each channel's budget for a Monday-to-Sunday week is
/// multiplied by a log-normal factor (median 1, this sd of log), and the week goes dark
/// (factor [`DARK_FACTOR`]) with probability [`DARK_WEEK`]. Budgets that move week by week
/// on their own, not with the season, are what lets a mix model tell the channels' effects
/// from the base.
pub(crate) const FLIGHTING_SD: f64 = 0.8;
pub(crate) const DARK_WEEK: f64 = 0.1;
pub(crate) const DARK_FACTOR: f64 = 0.1;

/// Probability that a social impression gets a `reaction` touchpoint (a like), and a `share`,
/// each drawn on its own; engagement rate = (reactions + shares) / impressions.
pub(crate) const REACTION: f64 = 0.03;
pub(crate) const SHARE: f64 = 0.008;
/// Probability that a click lands on content the visitor downloads (a `download` touchpoint
/// of the click's channel and campaign): downloads / clicks.
pub(crate) const DOWNLOAD: f64 = 0.12;

/// Share of the customers an email campaign would reach that it holds out (sends nothing to)
/// as the control group of its experiment: the treatment group is lifted by the campaign's
/// lift, the control is not, so `clientele abtest` measures the lift.
pub(crate) const HOLDOUT: f64 = 0.2;

/// `HO-CMP001`-style id of the holdout experiment of campaign index `k`.
pub(crate) fn experiment_id(k: usize) -> String {
    format!("HO-{}", campaign_id(k))
}

/// One campaign and what happened in it.
pub(crate) struct Campaign {
    pub name: String,
    pub channel: usize,
    pub start: i32,
    pub end: i32,
    pub cost_cents: i64,
    pub lift: f64,
    /// Customers reached.
    pub reached: u64,
    /// Customers held out of an email campaign (its control group, see [`HOLDOUT`]).
    pub held_out: u64,
    /// Customers acquired (signed up through it).
    pub acquired: u64,
    /// Orders attributed (campaign_id set) and their completed revenue.
    pub orders: u64,
    pub revenue_cents: i64,
    /// Expected revenue the campaign pulled into its windows from the reached customers'
    /// other days (see `customers::purchases::expected_pull`): what a mix model sees as the
    /// campaign's short-term effect on top of the guest revenue.
    pub pull_revenue: f64,
}

fn season_name(month: u32) -> &'static str {
    match month {
        1 | 2 => "Winter Clearance",
        3..=5 => "Spring Refresh",
        6 | 7 => "Summer Outdoors",
        8 | 9 => "Back to School",
        10 => "Autumn Essentials",
        11 => "Black Friday",
        _ => "Holiday Gifts",
    }
}

fn channel_label(c: usize) -> &'static str {
    ["Email", "Social", "Search", "Display"][c]
}

/// Draws the campaigns: one per equal slot of the period, starting in the first half of
/// its slot, so they are in start order and spread over the whole history.
pub(crate) fn campaigns(cal: &Calendar, scale: f64, rng: &mut DemoRng) -> Vec<Campaign> {
    let n = ((CAMPAIGNS_PER_YEAR * cal.years()).round() as usize).max(4);
    let slot = f64::from(cal.days()) / n as f64;
    (0..n)
        .map(|i| {
            let channel = CYCLE[i % CYCLE.len()];
            let spec = &CHANNELS[channel];
            let start = (i as f64 * slot + sample::uniform(rng, 0.0, slot * 0.5)) as i32;
            let start = start.clamp(0, cal.days() - 1);
            let len =
                spec.days.0 + sample::below(rng, (spec.days.1 - spec.days.0 + 1) as usize) as i32;
            let end = (start + len - 1).min(cal.days() - 1);
            let cost = sample::uniform(rng, spec.cost.0, spec.cost.1) * scale;
            let cost_cents = ((cost / 10.0).round() * 1000.0) as i64;
            let lift = sample::uniform(rng, spec.lift.0, spec.lift.1);
            let date = cal.date(start);
            Campaign {
                name: format!(
                    "{} {} - {}",
                    season_name(date.month()),
                    date.year(),
                    channel_label(channel)
                ),
                channel,
                start,
                end,
                cost_cents,
                lift: (lift * 1000.0).round() / 1000.0,
                reached: 0,
                held_out: 0,
                acquired: 0,
                orders: 0,
                revenue_cents: 0,
                pull_revenue: 0.0,
            }
        })
        .collect()
}

/// `CMP001`-style id of campaign index `k`.
pub(crate) fn campaign_id(k: usize) -> String {
    format!("CMP{:03}", k + 1)
}

/// Writes the campaigns table.
pub(crate) fn write_campaigns(
    cal: &Calendar,
    campaigns: &[Campaign],
    out: &mut Out,
) -> Result<(), DemoError> {
    for (k, c) in campaigns.iter().enumerate() {
        out.id("CMP", k + 1, 3)
            .s(&c.name)
            .s(CHANNELS[c.channel].name)
            .day(cal, c.start)
            .day(cal, c.end)
            .cents(c.cost_cents)
            .end()?;
    }
    Ok(())
}

/// The channels that spend, in the order of [`Spend::daily`]: the campaign channels of
/// [`CHANNELS`], then affiliate (always-on only).
pub(crate) const SPEND_CHANNELS: [&str; 5] =
    ["email", "social", "paid_search", "display", "affiliate"];

/// What [`write_spend`] wrote.
pub(crate) struct Spend {
    /// Always-on and campaign totals in cents.
    pub always_on_cents: i64,
    pub campaign_cents: i64,
    /// Per day, the spend of each of [`SPEND_CHANNELS`] in cents.
    pub daily: Vec<[i64; 5]>,
}

/// Writes the daily spend: per day, the always-on rows then one row per running campaign
/// (its cost spread evenly to the cent), adding each day's spend to its quarter in `tally`.
/// Always-on spend follows the business (growth, yearly wave), is flighted week by week
/// ([`FLIGHTING_SD`], [`DARK_WEEK`]) and varies day to day.
pub(crate) fn write_spend(
    cal: &Calendar,
    campaigns: &[Campaign],
    scale: f64,
    rng: &mut DemoRng,
    out: &mut Out,
    tally: &mut Tally,
) -> Result<Spend, DemoError> {
    let mut always_on = 0i64;
    let mut campaign_total = 0i64;
    let mut daily = vec![[0i64; 5]; cal.days() as usize];
    let mut flight = [1.0f64; 5];
    for day in 0..cal.days() {
        let date = cal.date(day);
        if day == 0 || date.weekday() == chrono::Weekday::Mon {
            for f in &mut flight {
                *f = if sample::chance(rng, DARK_WEEK) {
                    DARK_FACTOR
                } else {
                    sample::lognormal(rng, 1.0, FLIGHTING_SD)
                };
            }
        }
        let trend = (1.0 + ALWAYS_ON_GROWTH).powf(f64::from(day) / 365.25)
            * yearly_wave(
                date.ordinal(),
                ALWAYS_ON_AMPLITUDE,
                crate::calendar::YEARLY_PEAK_DAY,
            );
        for (channel, base) in ALWAYS_ON {
            let c = spend_channel(channel);
            let amount =
                base * scale * trend * flight[c] * sample::lognormal(rng, 1.0, ALWAYS_ON_NOISE);
            let cents = (amount * 100.0).round().max(0.0) as i64;
            always_on += cents;
            daily[day as usize][c] += cents;
            let q = tally.quarter(day);
            tally.quarters[q].spend_cents += cents;
            out.day(cal, day).s(channel).cents(cents).empty().end()?;
        }
        for (k, c) in campaigns.iter().enumerate() {
            if day < c.start || day > c.end {
                continue;
            }
            let n = i64::from(c.end - c.start + 1);
            let i = i64::from(day - c.start);
            let cents = c.cost_cents / n + i64::from(i < c.cost_cents % n);
            campaign_total += cents;
            daily[day as usize][c.channel] += cents;
            let q = tally.quarter(day);
            tally.quarters[q].spend_cents += cents;
            out.day(cal, day)
                .s(CHANNELS[c.channel].name)
                .cents(cents)
                .id("CMP", k + 1, 3)
                .end()?;
        }
    }
    Ok(Spend {
        always_on_cents: always_on,
        campaign_cents: campaign_total,
        daily,
    })
}

/// Index of a channel name in [`SPEND_CHANNELS`] (the names of [`ALWAYS_ON`] are all there).
fn spend_channel(name: &str) -> usize {
    SPEND_CHANNELS
        .iter()
        .position(|c| *c == name)
        .unwrap_or(SPEND_CHANNELS.len() - 1)
}

/// Ground truth of the campaigns and the spend model.
pub(crate) fn truth(campaigns: &[Campaign], scale: f64, spend: &Spend) -> Value {
    let (always_on_cents, campaign_cents) = (spend.always_on_cents, spend.campaign_cents);
    let list: Vec<Value> = campaigns
        .iter()
        .enumerate()
        .map(|(k, c)| {
            json!({
                "campaign_id": campaign_id(k),
                "name": c.name,
                "channel": CHANNELS[c.channel].name,
                "start_day_index": c.start,
                "end_day_index": c.end,
                "cost": c.cost_cents as f64 / 100.0,
                "lift": c.lift,
                "customers_reached": c.reached,
                "customers_held_out": c.held_out,
                "experiment_id": (c.channel == EMAIL).then(|| experiment_id(k)),
                "customers_acquired": c.acquired,
                "orders_attributed": c.orders,
                "completed_revenue_attributed": c.revenue_cents as f64 / 100.0,
                "expected_pull_revenue": c.pull_revenue,
            })
        })
        .collect();
    let channels: Vec<Value> = CHANNELS
        .iter()
        .map(|c| {
            json!({
                "channel": c.name,
                "duration_days": [c.days.0, c.days.1],
                "cost_range_at_10k_customers": [c.cost.0, c.cost.1],
                "lift_range": [c.lift.0, c.lift.1],
                "reach_share_of_eligible": c.reach,
                "engagement_probability": c.engage,
                "click_after_open": c.click_after_open,
            })
        })
        .collect();
    json!({
        "campaigns": list,
        "channels": channels,
        "campaigns_per_year": CAMPAIGNS_PER_YEAR,
        "channel_cycle": CYCLE.iter().map(|c| CHANNELS[*c].name).collect::<Vec<_>>(),
        "cost_scale": scale,
        "cost_rule": "cost = U(cost range) × cost_scale, rounded to 10",
        "targeting": "a campaign reaches each customer who signed up before its start with probability reach (email: only customers with consent_email who have not unsubscribed); from a reached customer's first touch to the campaign's end, the days in that window weigh lift times more when the customer's in-between purchases are placed (purchase_process.timing_of_purchases_in_between): the campaign pulls purchases into its window without adding any; overlapping campaigns multiply",
        "touchpoints": "email: email_sent on one of the first two days, email_open within 3 days, click after open, unsubscribe; social/display: 1+Poisson(1.0/1.5) impressions on random days, click after the first; paid_search: impression then click. Churned customers engage at dead_engagement × the probability. Every click also opens a web session with that source.",
        "holdout": {
            "share": HOLDOUT,
            "rule": "each customer an email campaign would reach is, with this probability, held out instead: no email, no touchpoint, no lift; the experiments table has one row per reached or held-out customer (variant treatment or control, assigned_at the send time, or the time it would have been sent)",
            "truth": "in the treatment group, the purchase days of the lift window weigh lift times more (the campaign's lift); the control's purchases are not moved",
        },
        "engagement": {
            "reaction_per_social_impression": REACTION,
            "share_per_social_impression": SHARE,
            "download_per_click": DOWNLOAD,
            "rule": "each social impression gets a reaction with probability reaction_per_social_impression and, independently, a share with probability share_per_social_impression, within 10 minutes; each click (any channel) leads to a download of the click's channel and campaign with probability download_per_click, within 20 minutes; drawn from a stream of their own, whatever the customer's state",
        },
        "dead_engagement": DEAD_ENGAGEMENT,
        "unsubscribe_probability": UNSUBSCRIBE,
        "acquisition_attribution": ACQUISITION_ATTRIBUTION,
        "acquisition_rule": "a customer whose acquisition_channel is email, social or paid_search and who signs up while a campaign of that channel runs was acquired by the earliest such campaign with this probability: touchpoints on and just before the sign-up day, and the first order carries its campaign_id (no lift)",
        "order_attribution": "an order carries the campaign_id of the campaign (latest first touch) whose lift window contains the order date, or for the first order the acquiring campaign",
        "always_on_spend": {
            "daily_base_at_10k_customers": ALWAYS_ON.iter().map(|(c, v)| json!({"channel": c, "amount": v})).collect::<Vec<_>>(),
            "growth_per_year": ALWAYS_ON_GROWTH,
            "yearly_amplitude": ALWAYS_ON_AMPLITUDE,
            "log_noise_sd": ALWAYS_ON_NOISE,
            "weekly_flighting": {
                "log_sd": FLIGHTING_SD,
                "dark_week_probability": DARK_WEEK,
                "dark_factor": DARK_FACTOR,
                "rule": "each channel's always-on spend of a Monday-to-Sunday week (the first, partial week too) is multiplied by a factor drawn once per week and channel: dark_factor with probability dark_week_probability, else log-normal with median 1 and log_sd",
            },
            "total": always_on_cents as f64 / 100.0,
            "campaign_rows_total": campaign_cents as f64 / 100.0,
            "note": "rows without campaign_id; campaign rows spread each campaign's cost evenly over its days, to the cent",
        },
    })
}
