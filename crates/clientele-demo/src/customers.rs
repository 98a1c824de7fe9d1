//! The consumer side, one customer at a time: who they are, when they signed up, their
//! hidden purchase rate λ and dropout probability p (BG/NBD), their hidden mean spend
//! (Gamma-Gamma), the campaigns that reached them, their orders, web sessions, tickets,
//! survey answers and subscription terms.
//!
//! Rows without an id (touchpoints, sessions, surveys) are written as each customer is
//! finished; orders and tickets are kept compactly and written afterwards in date order so
//! their ids increase with time, as a real system's would.

use std::collections::HashMap;

use chrono::Months;
use rand::Rng;
use serde_json::{Value, json};

use crate::DemoError;
use crate::calendar::{Calendar, DaySampler};
use crate::catalog::{Catalog, Line};
use crate::kpi::Tally;
use crate::marketing::{
    ACQUISITION_ATTRIBUTION, CHANNELS, Campaign, DEAD_ENGAGEMENT, DISPLAY, EMAIL,
    EXTRA_IMPRESSIONS, SOCIAL, UNSUBSCRIBE,
};
use crate::out::{Ix, Sinks};
use crate::sales::{CustomerFacts, rep_index};
use crate::sample::{self, DemoRng};
use crate::world::{
    ACQUISITION_CHANNELS, COUNTRY, EMAIL_DOMAINS, FIRST_F, FIRST_M, FIRST_X, GENDERS, HOUR_WEIGHTS,
    LAST, REGIONS, SESSION_SOURCES, SURVEY_DETRACTOR, SURVEY_PASSIVE, SURVEY_PROMOTER,
    TICKET_CATEGORIES, TICKET_CHANNELS,
};

// --- Acquisition -------------------------------------------------------------------------

/// Sign-ups grow by this fraction per year.
pub(crate) const SIGNUP_GROWTH: f64 = 0.30;
/// Yearly wave of sign-ups (amplitude, peak day of year: late November).
pub(crate) const SIGNUP_AMPLITUDE: f64 = 0.20;
pub(crate) const SIGNUP_PEAK_DAY: f64 = 330.0;

// --- Demographics -------------------------------------------------------------------------

pub(crate) const AGE_MEAN: f64 = 41.0;
pub(crate) const AGE_SD: f64 = 14.0;
pub(crate) const CONSENT_EMAIL: f64 = 0.70;
pub(crate) const CONSENT_SMS: f64 = 0.40;
/// Shares of missing values, as in a real export.
pub(crate) const MISSING_PHONE: f64 = 0.12;
pub(crate) const MISSING_BIRTH_DATE: f64 = 0.07;
pub(crate) const MISSING_GENDER: f64 = 0.05;
pub(crate) const MISSING_POSTAL_CODE: f64 = 0.02;

// --- Purchase process (BG/NBD) and spend (Gamma-Gamma) ------------------------------------

/// BG/NBD: λ ~ Gamma(shape R, rate ALPHA) purchases per week; p ~ Beta(A, B).
pub(crate) const R: f64 = 0.75;
pub(crate) const ALPHA: f64 = 6.0;
pub(crate) const A: f64 = 0.8;
pub(crate) const B: f64 = 2.5;
/// Gamma-Gamma: ν ~ Gamma(shape Q, rate GAMMA); order value ~ Gamma(shape P, rate ν), in
/// model units, multiplied by CURRENCY_SCALE to give currency.
pub(crate) const P: f64 = 6.0;
pub(crate) const Q: f64 = 3.5;
pub(crate) const GAMMA: f64 = 15.0;
pub(crate) const CURRENCY_SCALE: f64 = 2.5;

// --- Orders --------------------------------------------------------------------------------

pub(crate) const CANCELLED: f64 = 0.03;
pub(crate) const RETURNED: f64 = 0.04;
pub(crate) const ORDER_CHANNELS: &[(&str, f64)] = &[
    ("web", 0.60),
    ("store", 0.25),
    ("phone", 0.08),
    ("partner", 0.07),
];
/// Probability that an order uses the customer's preferred channel rather than a fresh draw.
pub(crate) const CHANNEL_LOYALTY: f64 = 0.7;
/// Probability of a promotional discount on an order, with and without a campaign.
pub(crate) const DISCOUNT_WITH_CAMPAIGN: f64 = 0.40;
pub(crate) const DISCOUNT_WITHOUT: f64 = 0.10;
pub(crate) const DISCOUNTS: &[(u8, f64)] = &[(5, 0.30), (10, 0.35), (15, 0.20), (20, 0.15)];

// --- Web sessions ---------------------------------------------------------------------------

/// Browsing rate while active: SESSIONS_PER_PURCHASE·λ + SESSIONS_BASE per week.
pub(crate) const SESSIONS_PER_PURCHASE: f64 = 1.5;
pub(crate) const SESSIONS_BASE: f64 = 0.04;
/// After dropout the browsing rate decays with this time constant (days).
pub(crate) const SESSIONS_DECAY_DAYS: f64 = 45.0;

// --- Tickets -------------------------------------------------------------------------------

/// Tickets per customer ~ Poisson(base + per_order·orders + per_p·p).
pub(crate) const TICKETS_BASE: f64 = 0.10;
pub(crate) const TICKETS_PER_ORDER: f64 = 0.06;
pub(crate) const TICKETS_PER_P: f64 = 0.6;
pub(crate) const FIRST_CONTACT: f64 = 0.70;
pub(crate) const ESCALATE: (f64, f64) = (0.03, 0.30);
pub(crate) const CSAT_RESPONSE: f64 = 0.55;
/// csat = round(base − multi·[contacts>1] − esc·[escalated] − extra·min(contacts−1, 3) + N(0, sd)).
pub(crate) const CSAT_MODEL: [f64; 5] = [4.5, 0.9, 0.8, 0.15, 0.7];

// --- Surveys --------------------------------------------------------------------------------

pub(crate) const SURVEY_SHARE: f64 = 0.20;
/// nps = round(base + freq·ln(1 + orders per year so far) − dead·[churned] − bad·[bad ticket]
/// + N(0, sd)), clamped to 0..10.
pub(crate) const NPS_MODEL: [f64; 5] = [7.0, 1.0, 1.2, 0.8, 1.6];
pub(crate) const SURVEY_COMMENT: f64 = 0.55;

// --- Subscriptions --------------------------------------------------------------------------

pub(crate) const PLANS: &[(&str, f64, i64)] = &[
    ("basic", 0.6, 999),
    ("pro", 0.3, 2900),
    ("enterprise", 0.1, 9900),
];
/// P(subscribe) = min(base + per_lambda·λ, cap).
pub(crate) const SUBSCRIBE: (f64, f64, f64) = (0.10, 1.2, 0.7);
pub(crate) const SUBSCRIBE_DELAY_DAYS: f64 = 30.0;
/// Renewal probability when the customer is still active / has churned at the renewal date.
pub(crate) const RENEW: (f64, f64) = (0.90, 0.40);
pub(crate) const UPGRADE: f64 = 0.10;

/// Segment labels of `customers_truth.csv`.
pub(crate) const SEGMENT_RULE: &str = "churned: not alive at the end; one_time: alive but never bought again after the first order (n_orders = 1; under BG/NBD such a customer cannot have dropped out); otherwise by the true yearly purchase rate 52·λ: champion ≥ 10, loyal ≥ 4, occasional below";

/// Order statuses.
pub(crate) const STATUSES: [&str; 3] = ["completed", "cancelled", "returned"];

/// One order as stored until written.
pub(crate) struct OrderRec {
    pub customer: u32,
    pub day: i32,
    pub total_cents: i64,
    pub status: u8,
    pub channel: u8,
    /// Sales rep index + 1, or 0.
    pub rep: u16,
    /// Campaign index + 1, or 0.
    pub campaign: u16,
    pub first_line: u32,
    pub lines: u8,
}

/// One ticket as stored until written.
pub(crate) struct TicketRec {
    pub customer: u32,
    pub opened: i64,
    pub resolved: Option<i64>,
    pub channel: &'static str,
    pub category: usize,
    pub template: usize,
    pub product: u16,
    pub contacts: u32,
    pub csat: Option<u8>,
    pub escalated: bool,
}

/// What the customer pass produces for the later passes.
pub(crate) struct CustomerPass {
    pub facts: Vec<CustomerFacts>,
    pub orders: Vec<OrderRec>,
    pub lines: Vec<Line>,
    pub tickets: Vec<TicketRec>,
    pub segments: [u64; 5],
    pub alive_at_end: u64,
    pub lambda_sum: f64,
    pub p_sum: f64,
    pub subscribers: u64,
    pub acquired_by_campaign: u64,
}

pub(crate) const SEGMENTS: [&str; 5] = ["champion", "loyal", "occasional", "one_time", "churned"];

/// A campaign exposure: lift applies from `from` to `to` (days, inclusive).
struct Exposure {
    campaign: usize,
    from: i32,
    to: i32,
    /// When the first touch happened (seconds).
    at: i64,
    lift: f64,
}

struct Tp {
    at: i64,
    channel: &'static str,
    campaign: Option<usize>,
    kind: &'static str,
}

struct Session {
    at: i64,
    pages: u32,
    seconds: u32,
    source: &'static str,
}

const DAY: i64 = 86_400;

/// Simulates one customer's purchase days from sign-up (pushed to `days` in ascending order,
/// one per day); returns the dropout day (the day of the repeat purchase after which the
/// customer became inactive) or `None` if still active at the end.
///
/// **The counts are BG/NBD in calendar time, observed by day.** The first purchase is on the
/// sign-up day, at a uniformly random moment `u` of it (BG/NBD's time zero), and the customer
/// is observed for exactly T = last day − sign-up day days, to the same moment of the last
/// day. While active, purchases are a Poisson process with rate λ per week (7 days) and a
/// purchase at time t lands on day ⌊sign-up + u + t⌋, so the recorded T is the true one and
/// the recorded time of each purchase is the true one rounded without bias. As in BG/NBD
/// (Fader, Hardie & Lee 2005), dropout can only follow a *repeat* purchase: after each one
/// the customer becomes inactive for good with probability p; a customer who never buys again
/// stays active. (Flipping the coin after the first purchase too would be the MBG/NBD variant,
/// and a BG/NBD fit would not recover the parameters.) One order per day: a purchase that
/// falls on a day that already has one moves to the next day (it still counts and still has
/// its dropout draw); only a purchase pushed past the last day is lost.
///
/// **Season and campaigns move purchases, they do not add or remove any.** BG/NBD's likelihood
/// depends on a history only through x (repeat purchases), t_x (time of the last one) and T,
/// and given those the x − 1 purchases in between are uniform on (0, t_x). So the process
/// above decides x, the last purchase day and the dropout, and the x − 1 in-between purchases
/// are then placed on distinct days strictly between the first and the last purchase, each
/// day drawn with probability ∝ m(day)·lift(day): m the calendar's seasonal multiplier,
/// lift(day) the product of the lifts of the `windows` `(from, to, lift)` open that day. The
/// statistics (x, t_x, T) of the whole history are therefore exactly BG/NBD with the truth's
/// parameters, while the days of the in-between purchases carry the seasonal wave and the
/// campaign lifts (a campaign pulls the customer's purchases into its window).
pub(crate) fn purchase_days(
    cal: &Calendar,
    rng: &mut DemoRng,
    signup: i32,
    lambda: f64,
    p: f64,
    windows: &[(i32, i32, f64)],
    days: &mut Vec<i32>,
) -> Option<i32> {
    days.push(signup);
    let last_day = cal.days() - 1;
    let moment = f64::from(signup) + rng.random::<f64>();
    let horizon = f64::from(last_day - signup);
    let (mut t, mut last, mut repeats) = (0.0, signup, 0usize);
    let dropout = loop {
        t += 7.0 * sample::exp1(rng) / lambda;
        // λ = 0 gives t = ∞, which ends the loop too.
        if t.is_nan() || t >= horizon {
            break None;
        }
        let day = ((moment + t).floor() as i32).max(last + 1);
        if day > last_day {
            break None;
        }
        last = day;
        repeats += 1;
        if sample::chance(rng, p) {
            break Some(day);
        }
    };
    if repeats > 1 {
        place_between(cal, rng, (signup + 1, last - 1), repeats - 1, windows, days);
    }
    if repeats > 0 {
        days.push(last);
    }
    dropout
}

/// Appends `k` distinct days of `lo..=hi` (which has at least `k` days) to `days`, in
/// ascending order, drawn one after another without replacement with probability ∝
/// m(day)·lift(day) (see [`purchase_days`]). Sparse draws propose a day with probability ∝
/// m, accept it with probability lift/L (L the largest lift) and redraw a day already taken;
/// dense ones use the equivalent one-pass method of Efraimidis & Spirakis (2006): each day
/// gets the key Exp(1)/weight and the `k` smallest keys win.
fn place_between(
    cal: &Calendar,
    rng: &mut DemoRng,
    (lo, hi): (i32, i32),
    k: usize,
    windows: &[(i32, i32, f64)],
    days: &mut Vec<i32>,
) {
    let lift_at = |d: i32| -> f64 {
        windows
            .iter()
            .filter(|w| w.0 <= d && d <= w.1)
            .map(|w| w.2)
            .product()
    };
    let from = days.len();
    let slots = (hi - lo + 1).max(0) as usize;
    debug_assert!(k <= slots, "{k} purchases on {slots} days");
    if 4 * k <= slots {
        // Bound on the lift: the largest product over the window starts (where overlaps peak).
        let lmax = windows.iter().map(|w| lift_at(w.0)).fold(1.0f64, f64::max);
        while days.len() - from < k {
            let d = cal.seasonal_day(rng, lo, hi);
            if (lmax > 1.0 && !sample::chance(rng, lift_at(d) / lmax)) || days[from..].contains(&d)
            {
                continue;
            }
            days.push(d);
        }
    } else {
        let mut keys: Vec<(f64, i32)> = (lo..=hi)
            .map(|d| (sample::exp1(rng) / (cal.season(d) * lift_at(d)), d))
            .collect();
        let k = k.min(keys.len());
        if k < keys.len() {
            keys.select_nth_unstable_by(k, |a, b| a.0.total_cmp(&b.0));
        }
        days.extend(keys[..k].iter().map(|&(_, d)| d));
    }
    days[from..].sort_unstable();
}

/// Reusable per-customer buffers, so the pass allocates almost nothing per customer.
#[derive(Default)]
struct Scratch {
    days: Vec<i32>,
    exposures: Vec<Exposure>,
    windows: Vec<(i32, i32, f64)>,
    tps: Vec<Tp>,
    sessions: Vec<Session>,
    email: String,
    /// Quarters in which the customer has a completed order, ascending.
    active_quarters: Vec<usize>,
}

/// Runs the customer pass.
#[allow(clippy::too_many_arguments)]
pub(crate) fn simulate(
    cal: &Calendar,
    n: usize,
    catalog: &Catalog,
    campaigns: &mut [Campaign],
    rng: &mut DemoRng,
    sinks: &mut Sinks,
    ix: &Ix,
    tally: &mut Tally,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<CustomerPass, DemoError> {
    let days_total = cal.days();
    let last_sec = i64::from(days_total) * DAY - 1;
    let sampler = DaySampler::new(cal, SIGNUP_GROWTH, SIGNUP_AMPLITUDE, SIGNUP_PEAK_DAY);
    let mut signups: Vec<i32> = (0..n).map(|_| sampler.sample(rng)).collect();
    signups.sort_unstable();

    let region_w: Vec<f64> = REGIONS.iter().map(|r| r.share).collect();
    let gender_w: Vec<f64> = GENDERS.iter().map(|g| g.1).collect();
    let channel_w: Vec<f64> = ORDER_CHANNELS.iter().map(|c| c.1).collect();
    let ticket_cat_w: Vec<f64> = TICKET_CATEGORIES.iter().map(|c| c.1).collect();
    let plan_w: Vec<f64> = PLANS.iter().map(|p| p.1).collect();

    let mut pass = CustomerPass {
        facts: Vec::with_capacity(n),
        orders: Vec::with_capacity(n * 6),
        lines: Vec::with_capacity(n * 12),
        tickets: Vec::new(),
        segments: [0; 5],
        alive_at_end: 0,
        lambda_sum: 0.0,
        p_sum: 0.0,
        subscribers: 0,
        acquired_by_campaign: 0,
    };
    let mut email_seen: HashMap<(&str, &str, usize), u32> = HashMap::new();
    let mut sc = Scratch::default();
    let mut subscription_no = 0usize;

    for (i, &signup) in signups.iter().enumerate() {
        if i % 1024 == 0 {
            progress("customers", i as u64, n as u64);
        }
        // --- who they are
        let region = sample::pick(rng, &region_w);
        let city = &REGIONS[region].cities[sample::below(rng, REGIONS[region].cities.len())];
        let gender = sample::pick(rng, &gender_w);
        let firsts = [FIRST_F, FIRST_M, FIRST_X][gender];
        let first = firsts[sample::below(rng, firsts.len())];
        let last = LAST[sample::below(rng, LAST.len())];
        let domain = sample::below(rng, EMAIL_DOMAINS.len());
        let seen = email_seen.entry((first, last, domain)).or_insert(0);
        *seen += 1;
        sc.email.clear();
        sc.email.push_str(&first.to_ascii_lowercase());
        sc.email.push('.');
        sc.email.push_str(&last.to_ascii_lowercase());
        if *seen > 1 {
            sc.email.push_str(&seen.to_string());
        }
        sc.email.push('@');
        sc.email.push_str(EMAIL_DOMAINS[domain]);
        let phone = (!sample::chance(rng, MISSING_PHONE))
            .then(|| format!("+1-{}-555-01{:02}", city.area, sample::below(rng, 100)));
        let years_to_end = f64::from(days_total - signup) / 365.25;
        let max_age = (80.0 - years_to_end - 1.0).max(18.0);
        let age = (AGE_MEAN + AGE_SD * sample::normal(rng)).clamp(18.0, max_age);
        let birth_offset = (age * 365.25) as i64 + sample::below(rng, 365) as i64;
        let birth = cal
            .date(signup)
            .checked_sub_days(chrono::Days::new(birth_offset as u64))
            .filter(|_| !sample::chance(rng, MISSING_BIRTH_DATE));
        let gender_text = (!sample::chance(rng, MISSING_GENDER)).then_some(GENDERS[gender].0);
        let postal = (!sample::chance(rng, MISSING_POSTAL_CODE))
            .then(|| format!("{}{:02}", city.zip3, sample::below(rng, 100)));
        let acquisition = sample::pick_pair(rng, ACQUISITION_CHANNELS);
        let mut consent_email = sample::chance(rng, CONSENT_EMAIL);
        let consent_sms =
            phone.is_some() && sample::chance(rng, CONSENT_SMS / (1.0 - MISSING_PHONE));

        // --- hidden behaviour
        let lambda = sample::gamma(rng, R, ALPHA);
        let p = sample::beta(rng, A, B);
        let nu = sample::gamma(rng, Q, GAMMA).max(1e-6);
        let favourite = sample::pick(rng, &catalog.category_weights);
        let preferred_channel = sample::pick(rng, &channel_w);

        // --- campaign exposure (independent of behaviour: the company cannot see it)
        sc.exposures.clear();
        sc.tps.clear();
        sc.sessions.clear();
        let mut acquired_by = None;
        if matches!(acquisition, "email" | "social" | "paid_search")
            && let Some(k) = campaigns.iter().position(|c| {
                CHANNELS[c.channel].name == acquisition && c.start <= signup && signup <= c.end
            })
            && sample::chance(rng, ACQUISITION_ATTRIBUTION)
        {
            acquired_by = Some(k);
            campaigns[k].acquired += 1;
            pass.acquired_by_campaign += 1;
            let click = i64::from(signup) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
            let before = (click - sample::below(rng, 3 * DAY as usize) as i64 - 600).max(0);
            let (first_kind, channel) = match acquisition {
                "email" => ("email_open", "email"),
                "social" => ("impression", "social"),
                _ => ("impression", "paid_search"),
            };
            sc.tps.push(Tp {
                at: before,
                channel,
                campaign: Some(k),
                kind: first_kind,
            });
            sc.tps.push(Tp {
                at: click,
                channel,
                campaign: Some(k),
                kind: "click",
            });
        }
        let mut unsubscribed = false;
        for (k, c) in campaigns.iter_mut().enumerate() {
            if c.start <= signup {
                continue;
            }
            let spec = &CHANNELS[c.channel];
            if c.channel == EMAIL && (!consent_email || unsubscribed) {
                continue;
            }
            if !sample::chance(rng, spec.reach) {
                continue;
            }
            c.reached += 1;
            let len = (c.end - c.start + 1) as usize;
            let channel = spec.name;
            let first_at = match c.channel {
                EMAIL => {
                    let day = (c.start + sample::below(rng, 2) as i32).min(c.end);
                    let at = i64::from(day) * DAY + 9 * 3600 + sample::below(rng, 7200) as i64;
                    sc.tps.push(Tp {
                        at,
                        channel,
                        campaign: Some(k),
                        kind: "email_sent",
                    });
                    if sample::chance(rng, UNSUBSCRIBE) {
                        let un =
                            (at + 3600 + sample::below(rng, 3 * DAY as usize) as i64).min(last_sec);
                        sc.tps.push(Tp {
                            at: un,
                            channel,
                            campaign: Some(k),
                            kind: "unsubscribe",
                        });
                        unsubscribed = true;
                        consent_email = false;
                    }
                    at
                }
                SOCIAL | DISPLAY => {
                    let extra = EXTRA_IMPRESSIONS[usize::from(c.channel == DISPLAY)];
                    let count = 1 + sample::poisson(rng, extra);
                    let mut first = i64::MAX;
                    for _ in 0..count {
                        let day = c.start + sample::below(rng, len) as i32;
                        let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
                        first = first.min(at);
                        sc.tps.push(Tp {
                            at,
                            channel,
                            campaign: Some(k),
                            kind: "impression",
                        });
                    }
                    first
                }
                _ => {
                    let day = c.start + sample::below(rng, len) as i32;
                    let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
                    sc.tps.push(Tp {
                        at,
                        channel,
                        campaign: Some(k),
                        kind: "impression",
                    });
                    at
                }
            };
            sc.exposures.push(Exposure {
                campaign: k,
                from: (first_at / DAY) as i32,
                to: c.end,
                at: first_at,
                lift: c.lift,
            });
        }

        // --- purchases
        sc.windows.clear();
        sc.windows
            .extend(sc.exposures.iter().map(|e| (e.from, e.to, e.lift)));
        sc.days.clear();
        let dropout = purchase_days(cal, rng, signup, lambda, p, &sc.windows, &mut sc.days);
        let alive_on = |day: i32| dropout.is_none_or(|d| day <= d);
        let first_order = pass.orders.len();
        sc.active_quarters.clear();
        for (j, &day) in sc.days.iter().enumerate() {
            let u = rng.random::<f64>();
            let status = if u < CANCELLED {
                1
            } else if u < CANCELLED + RETURNED {
                2
            } else {
                0
            };
            let channel = if sample::chance(rng, CHANNEL_LOYALTY) {
                preferred_channel
            } else {
                sample::pick(rng, &channel_w)
            };
            let rep = match ORDER_CHANNELS[channel].0 {
                "phone" => rep_index(region, 1) + 1,
                "partner" => rep_index(region, 2) + 1,
                _ => 0,
            };
            let campaign = if j == 0 {
                acquired_by
            } else {
                sc.exposures
                    .iter()
                    .filter(|e| e.from <= day && day <= e.to)
                    .max_by_key(|e| e.at)
                    .map(|e| e.campaign)
            };
            let promo = if campaign.is_some() {
                DISCOUNT_WITH_CAMPAIGN
            } else {
                DISCOUNT_WITHOUT
            };
            let discount = if sample::chance(rng, promo) {
                sample::pick_pair(rng, DISCOUNTS)
            } else {
                0
            };
            let value = sample::gamma(rng, P, nu) * CURRENCY_SCALE;
            let first_line = pass.lines.len() as u32;
            let total = catalog.fill(rng, favourite, value, discount, &mut pass.lines);
            let n_lines = (pass.lines.len() as u32 - first_line) as u8;
            pass.orders.push(OrderRec {
                customer: i as u32,
                day,
                total_cents: total,
                status,
                channel: channel as u8,
                rep: rep as u16,
                campaign: campaign.map_or(0, |k| k as u16 + 1),
                first_line,
                lines: n_lines,
            });
            if let Some(k) = campaign {
                campaigns[k].orders += 1;
                if status == 0 {
                    campaigns[k].revenue_cents += total;
                    let q = tally.quarter(day);
                    tally.quarters[q].campaign_revenue_cents += total;
                }
            }
            if status == 0 {
                let q = tally.quarter(day);
                tally.revenue_cents += total;
                tally.quarters[q].revenue_cents += total;
                tally.quarters[q].orders += 1;
                if sc.active_quarters.is_empty() {
                    tally.quarters[q].new_customers += 1;
                }
                if sc.active_quarters.last() != Some(&q) {
                    sc.active_quarters.push(q);
                }
            }
            if ORDER_CHANNELS[channel].0 == "web" {
                let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
                let pages = 4 + sample::poisson(rng, 5.0);
                let source = match campaign {
                    Some(k) => CHANNELS[campaigns[k].channel].name,
                    None => sample::pick_pair(rng, SESSION_SOURCES),
                };
                let seconds = session_seconds(rng, pages);
                sc.sessions.push(Session {
                    at,
                    pages,
                    seconds,
                    source,
                });
            }
        }
        let n_orders = sc.days.len();
        tally.customer_quarters(&sc.active_quarters);

        // --- engagement with the campaigns (depends on whether they are still active)
        for e in &sc.exposures {
            let c = &campaigns[e.campaign];
            let spec = &CHANNELS[c.channel];
            let mult = if alive_on(e.from) {
                1.0
            } else {
                DEAD_ENGAGEMENT
            };
            let channel = spec.name;
            let mut click_at = None;
            if c.channel == EMAIL {
                if sample::chance(rng, spec.engage * mult) {
                    let open =
                        (e.at + 600 + sample::below(rng, 3 * DAY as usize) as i64).min(last_sec);
                    sc.tps.push(Tp {
                        at: open,
                        channel,
                        campaign: Some(e.campaign),
                        kind: "email_open",
                    });
                    if sample::chance(rng, spec.click_after_open) {
                        click_at = Some(open + 30 + sample::below(rng, 1800) as i64);
                    }
                }
            } else if sample::chance(rng, spec.engage * mult) {
                click_at = Some(e.at + 5 + sample::below(rng, 600) as i64);
            }
            if let Some(at) = click_at {
                let at = at.min(last_sec);
                sc.tps.push(Tp {
                    at,
                    channel,
                    campaign: Some(e.campaign),
                    kind: "click",
                });
                let pages = 2 + sample::poisson(rng, 3.0);
                let seconds = session_seconds(rng, pages);
                sc.sessions.push(Session {
                    at,
                    pages,
                    seconds,
                    source: channel,
                });
            }
        }

        // --- background browsing: tied to the purchase rate while active, fading after
        let rate = (SESSIONS_PER_PURCHASE * lambda + SESSIONS_BASE) / 7.0;
        let active_end = dropout.map_or(days_total, |d| d + 1);
        let active_days = f64::from(active_end - signup);
        let count = sample::poisson(rng, rate * active_days);
        for _ in 0..count {
            let at =
                i64::from(signup) * DAY + (rng.random::<f64>() * active_days * DAY as f64) as i64;
            push_browse(rng, &mut sc.sessions, at.min(last_sec));
        }
        if dropout.is_some() {
            let rest = f64::from(days_total - active_end);
            let tail = 1.0 - (-rest / SESSIONS_DECAY_DAYS).exp();
            let count = sample::poisson(rng, rate * SESSIONS_DECAY_DAYS * tail);
            for _ in 0..count {
                let u = rng.random::<f64>();
                let after = -SESSIONS_DECAY_DAYS * (1.0 - u * tail).ln();
                let at = i64::from(active_end) * DAY + (after * DAY as f64) as i64;
                push_browse(rng, &mut sc.sessions, at.min(last_sec));
            }
        }

        // --- tickets, about one of their orders
        let first_ticket = pass.tickets.len();
        let mu = TICKETS_BASE + TICKETS_PER_ORDER * n_orders as f64 + TICKETS_PER_P * p;
        for _ in 0..sample::poisson(rng, mu) {
            let o = &pass.orders[first_order + sample::below(rng, n_orders)];
            let gap = sample::gamma(rng, 1.5, 1.5 / 5.0);
            let day = o.day + gap as i32;
            if day >= days_total {
                continue;
            }
            let opened = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
            let category = if o.status == 2 && sample::chance(rng, 0.7) {
                2
            } else {
                sample::pick(rng, &ticket_cat_w)
            };
            let line = pass.lines[o.first_line as usize + sample::below(rng, usize::from(o.lines))];
            let contacts = if sample::chance(rng, FIRST_CONTACT) {
                1
            } else {
                2 + sample::poisson(rng, 0.7)
            };
            let escalated = sample::chance(
                rng,
                if contacts == 1 {
                    ESCALATE.0
                } else {
                    ESCALATE.1
                },
            );
            let hours = if contacts == 1 {
                sample::lognormal(rng, 6.0, 1.0)
            } else {
                sample::lognormal(rng, 30.0 * f64::from(contacts - 1), 0.8)
            } * if escalated { 2.0 } else { 1.0 };
            let resolved_at = opened + (hours * 3600.0) as i64 + 60;
            let resolved = (resolved_at <= last_sec).then_some(resolved_at);
            let csat = (resolved.is_some() && sample::chance(rng, CSAT_RESPONSE)).then(|| {
                let [base, multi, esc, extra, sd] = CSAT_MODEL;
                let x = base
                    - multi * f64::from(u8::from(contacts > 1))
                    - esc * f64::from(u8::from(escalated))
                    - extra * f64::from((contacts - 1).min(3))
                    + sd * sample::normal(rng);
                x.round().clamp(1.0, 5.0) as u8
            });
            let template = sample::below(rng, TICKET_CATEGORIES[category].2.len());
            pass.tickets.push(TicketRec {
                customer: i as u32,
                opened,
                resolved,
                channel: sample::pick_pair(rng, TICKET_CHANNELS),
                category,
                template,
                product: line.product,
                contacts,
                csat,
                escalated,
            });
        }

        // --- survey
        if sample::chance(rng, SURVEY_SHARE) && signup + 14 < days_total {
            let day = signup + 14 + sample::below(rng, (days_total - signup - 14) as usize) as i32;
            let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
            let so_far = sc.days.iter().filter(|d| **d <= day).count() as f64;
            let tenure = (f64::from(day - signup) / 365.25).max(0.25);
            let bad = pass.tickets[first_ticket..]
                .iter()
                .any(|t| t.opened < at && (t.contacts > 1 || t.escalated));
            let [base, freq, dead, badc, sd] = NPS_MODEL;
            let x = base + freq * (1.0 + so_far / tenure).ln()
                - dead * f64::from(u8::from(!alive_on(day)))
                - badc * f64::from(u8::from(bad))
                + sd * sample::normal(rng);
            let nps = x.round().clamp(0.0, 10.0) as i64;
            let list = match nps {
                9..=10 => SURVEY_PROMOTER,
                7..=8 => SURVEY_PASSIVE,
                _ => SURVEY_DETRACTOR,
            };
            let comment =
                sample::chance(rng, SURVEY_COMMENT).then(|| list[sample::below(rng, list.len())]);
            if tally.in_report(day) {
                tally.surveys += 1;
                tally.promoters += u64::from(nps >= 9);
                tally.detractors += u64::from(nps <= 6);
            }
            sinks
                .at(ix.surveys)
                .id("C", i + 1, 6)
                .ts(cal, at)
                .int(nps)
                .opt(comment)
                .end()?;
        }

        // --- subscription terms
        if sample::chance(rng, (SUBSCRIBE.0 + SUBSCRIBE.1 * lambda).min(SUBSCRIBE.2)) {
            let start = signup + (sample::exp1(rng) * SUBSCRIBE_DELAY_DAYS) as i32;
            if start < days_total {
                pass.subscribers += 1;
                let mut plan = sample::pick(rng, &plan_w);
                let mut term = start;
                loop {
                    let renewal = cal
                        .date(term)
                        .checked_add_months(Months::new(12))
                        .map(|d| cal.day_of(d))
                        .unwrap_or(i32::MAX);
                    subscription_no += 1;
                    let out = sinks.at(ix.subscriptions);
                    out.id("S", subscription_no, 6)
                        .id("C", i + 1, 6)
                        .day(cal, term)
                        .s(PLANS[plan].0)
                        .cents(PLANS[plan].2);
                    if renewal >= days_total {
                        // Still running: the renewal date is the scheduled one, after `end`.
                        out.empty()
                            .date(cal.date(renewal.min(days_total + 400)))
                            .empty()
                            .end()?;
                        break;
                    }
                    let p_renew = if alive_on(renewal) { RENEW.0 } else { RENEW.1 };
                    let renewed = sample::chance(rng, p_renew);
                    if tally.in_report(renewal) {
                        tally.renewals_decided += 1;
                        tally.renewed += u64::from(renewed);
                    }
                    out.opt_day(cal, (!renewed).then_some(renewal))
                        .day(cal, renewal)
                        .bool(renewed)
                        .end()?;
                    if !renewed {
                        break;
                    }
                    term = renewal;
                    if plan + 1 < PLANS.len() && sample::chance(rng, UPGRADE) {
                        plan += 1;
                    }
                }
            }
        }

        // --- touchpoints and sessions of this customer, in time order
        sc.tps.sort_by_key(|t| t.at);
        for t in &sc.tps {
            sinks
                .at(ix.touchpoints)
                .id("C", i + 1, 6)
                .ts(cal, t.at)
                .s(t.channel)
                .opt_id("CMP", t.campaign.map(|k| k + 1), 3)
                .s(t.kind)
                .end()?;
        }
        sc.sessions.sort_by_key(|s| s.at);
        for s in &sc.sessions {
            sinks
                .at(ix.web_sessions)
                .id("C", i + 1, 6)
                .ts(cal, s.at)
                .int(i64::from(s.pages))
                .int(i64::from(s.seconds))
                .s(s.source)
                .end()?;
        }

        // --- the customer row and the truth row
        sinks
            .at(ix.customers)
            .id("C", i + 1, 6)
            .s(&sc.email)
            .opt(phone.as_deref())
            .s(first)
            .s(last)
            .opt_date(birth)
            .opt(gender_text)
            .s(city.name)
            .s(REGIONS[region].name)
            .s(COUNTRY)
            .opt(postal.as_deref())
            .day(cal, signup)
            .s(acquisition)
            .bool(consent_email)
            .bool(consent_sms)
            .end()?;

        let yearly = 52.0 * lambda;
        let segment = match dropout {
            Some(_) => 4,
            None if n_orders == 1 => 3,
            None if yearly >= 10.0 => 0,
            None if yearly >= 4.0 => 1,
            None => 2,
        };
        pass.segments[segment] += 1;
        pass.alive_at_end += u64::from(dropout.is_none());
        pass.lambda_sum += lambda;
        pass.p_sum += p;
        sinks
            .truth
            .id("C", i + 1, 6)
            .fixed(lambda, 6)
            .fixed(p, 6)
            .bool(dropout.is_none())
            .opt_day(cal, dropout)
            .fixed(CURRENCY_SCALE * P / nu, 2)
            .s(SEGMENTS[segment])
            .int(n_orders as i64)
            .end()?;
        pass.facts.push(CustomerFacts {
            signup,
            region: region as u8,
        });
    }
    progress("customers", n as u64, n as u64);
    Ok(pass)
}

fn session_seconds(rng: &mut DemoRng, pages: u32) -> u32 {
    (f64::from(pages) * sample::lognormal(rng, 40.0, 0.6))
        .round()
        .max(1.0) as u32
}

fn push_browse(rng: &mut DemoRng, sessions: &mut Vec<Session>, at: i64) {
    let pages = 1 + sample::poisson(rng, 2.0);
    let seconds = session_seconds(rng, pages);
    let source = sample::pick_pair(rng, SESSION_SOURCES);
    sessions.push(Session {
        at,
        pages,
        seconds,
        source,
    });
}

/// Writes orders and order items in date order (ids increase with time).
pub(crate) fn write_orders(
    cal: &Calendar,
    pass: &mut CustomerPass,
    sinks: &mut Sinks,
    ix: &Ix,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<(), DemoError> {
    // One order per customer per day, so (day, customer) is a total order.
    pass.orders.sort_unstable_by_key(|o| (o.day, o.customer));
    let total = pass.orders.len() as u64;
    for (i, o) in pass.orders.iter().enumerate() {
        if i % 65_536 == 0 {
            progress("orders", i as u64, total);
        }
        let region = usize::from(pass.facts[o.customer as usize].region);
        sinks
            .at(ix.orders)
            .id("O", i + 1, 7)
            .id("C", o.customer as usize + 1, 6)
            .day(cal, o.day)
            .cents(o.total_cents)
            .s(STATUSES[usize::from(o.status)])
            .s(ORDER_CHANNELS[usize::from(o.channel)].0)
            .s(REGIONS[region].name)
            .opt_id("R", (o.rep > 0).then_some(usize::from(o.rep)), 3)
            .opt_id(
                "CMP",
                (o.campaign > 0).then_some(usize::from(o.campaign)),
                3,
            )
            .end()?;
        let from = o.first_line as usize;
        for l in &pass.lines[from..from + usize::from(o.lines)] {
            sinks
                .at(ix.order_items)
                .id("O", i + 1, 7)
                .id("P", usize::from(l.product) + 1, 4)
                .int(i64::from(l.quantity))
                .cents(l.unit_cents)
                .fixed(f64::from(l.discount_pct) / 100.0, 2)
                .end()?;
        }
    }
    progress("orders", total, total);
    Ok(())
}

/// Writes tickets in opening order.
pub(crate) fn write_tickets(
    cal: &Calendar,
    pass: &mut CustomerPass,
    catalog: &Catalog,
    sinks: &mut Sinks,
    ix: &Ix,
    tally: &mut Tally,
) -> Result<(), DemoError> {
    pass.tickets.sort_by_key(|t| (t.opened, t.customer));
    let mut text = String::new();
    for (i, t) in pass.tickets.iter().enumerate() {
        let (category, _, templates) = TICKET_CATEGORIES[t.category];
        text.clear();
        text.push_str(
            &templates[t.template].replace("{p}", catalog.products[usize::from(t.product)].name),
        );
        if tally.in_report((t.opened / DAY) as i32) {
            if t.resolved.is_some() {
                tally.tickets_resolved += 1;
                tally.tickets_first_contact += u64::from(t.contacts == 1);
            }
            if let Some(c) = t.csat {
                tally.tickets_rated += 1;
                tally.tickets_satisfied += u64::from(c >= 4);
            }
        }
        sinks
            .at(ix.tickets)
            .id("T", i + 1, 6)
            .id("C", t.customer as usize + 1, 6)
            .ts(cal, t.opened)
            .opt_ts(cal, t.resolved)
            .s(t.channel)
            .s(category)
            .int(i64::from(t.contacts))
            .opt_int(t.csat.map(i64::from))
            .bool(t.escalated)
            .s(&text)
            .end()?;
    }
    Ok(())
}

/// Ground truth of the consumer side.
pub(crate) fn truth(pass: &CustomerPass, n: usize) -> Value {
    let segments: serde_json::Map<String, Value> = SEGMENTS
        .iter()
        .zip(pass.segments)
        .map(|(s, c)| (s.to_string(), json!(c)))
        .collect();
    let nf = n.max(1) as f64;
    json!({
        "acquisition": {
            "signup_growth_per_year": SIGNUP_GROWTH,
            "signup_yearly_amplitude": SIGNUP_AMPLITUDE,
            "signup_peak_day_of_year": SIGNUP_PEAK_DAY,
            "signup_weekday_factors": crate::calendar::WEEKLY_FACTORS,
            "channel_shares": ACQUISITION_CHANNELS.iter().map(|(c, s)| json!({"channel": c, "share": s})).collect::<Vec<_>>(),
            "note": "sign-up days are drawn with intensity ∝ (1+growth)^(t/365.25)·(1+amplitude·cos(2π(doy−peak)/365.25))·weekday factor; customer ids follow sign-up order; acquisition channel is independent of behaviour",
        },
        "demographics": {
            "regions": REGIONS.iter().map(|r| json!({"region": r.name, "share": r.share, "country": COUNTRY, "cities": r.cities.iter().map(|c| c.name).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "gender_shares": GENDERS.iter().map(|(g, s)| json!({"gender": g, "share": s})).collect::<Vec<_>>(),
            "age_at_signup": format!("normal({AGE_MEAN}, {AGE_SD}) clamped to 18 and to at most 79 at the last day"),
            "consent_email": CONSENT_EMAIL,
            "consent_sms": CONSENT_SMS,
            "consent_note": "consent_email is the state at the end: customers who unsubscribed from a campaign email have false",
            "missing_shares": {"phone": MISSING_PHONE, "birth_date": MISSING_BIRTH_DATE, "gender": MISSING_GENDER, "postal_code": MISSING_POSTAL_CODE},
            "emails": "first.last[n]@domain on RFC 2606 example domains, unique",
            "phones": "+1-<city area code>-555-01xx (fictional numbers)",
        },
        "purchase_process": {
            "model": "BG/NBD",
            "time_unit": "week",
            "r": R,
            "alpha": ALPHA,
            "a": A,
            "b": B,
            "lambda_distribution": "gamma(shape r, rate alpha), purchases per week",
            "p_distribution": "beta(a, b)",
            "first_purchase": "on the sign-up day, at a uniformly random moment u of it: BG/NBD's time zero (repeat purchases are the counted transactions)",
            "dropout": "after every repeat purchase the customer becomes inactive for good with probability p; there is no dropout draw after the first purchase (BG/NBD, not MBG/NBD), so a customer with a single order is always alive",
            "clock": "calendar time, a week = 7 days; while active, purchases are Poisson with rate λ; a purchase at time t after time zero is on day ⌊sign-up day + u + t⌋; the customer is observed for exactly T = last day − sign-up day days (to the moment u of the last day), so x, t_x and T measured in whole days from the orders are the process's own, t_x rounded without bias",
            "same_day_rule": "at most one order per customer per day: a purchase that falls on a day that already has one moves to the next day (it still counts and still has its dropout draw); only one pushed past the last day is lost",
            "timing_of_purchases_in_between": "the process decides each customer's number of repeat purchases x, the day of the last one and the dropout; the x − 1 purchases in between (uniform on (0, t_x) given x and t_x under BG/NBD) are placed on distinct days strictly between the first and the last purchase, drawn with probability ∝ m(day)·lift(day). The statistics x, t_x, T of the whole history are therefore exactly BG/NBD with r, alpha, a, b; the seasons and campaigns move purchases in time without adding or removing any. With a calibration end before the last day the in-between purchases make the split approximately, not exactly, BG/NBD",
            "seasonality": {
                "yearly_amplitude": crate::calendar::YEARLY_AMPLITUDE,
                "yearly_peak_day_of_year": crate::calendar::YEARLY_PEAK_DAY,
                "weekday_factors_monday_first": crate::calendar::WEEKLY_FACTORS,
                "multiplier": "m(day) = (1 + A·cos(2π(doy − peak)/365.25)) · weekday factor; it averages 1 over a year",
                "note": "m weights the days of the purchases in between (timing_of_purchases_in_between); first purchases follow the sign-up wave (acquisition)",
            },
            "campaign_lift": "lift(day) is the product of the lifts of the campaigns whose window is open for the customer that day (first touch to campaign end, see marketing.campaigns): inside the window the customer's in-between purchases land lift times as densely as outside it; campaigns move purchases into their window, they do not add purchases",
            "statuses": "every generated order counts as a purchase event whatever its status",
            "observed_mean_lambda": pass.lambda_sum / nf,
            "observed_mean_p": pass.p_sum / nf,
        },
        "spend_process": {
            "model": "Gamma-Gamma",
            "p": P,
            "q": Q,
            "gamma": GAMMA,
            "currency_scale": CURRENCY_SCALE,
            "gamma_in_currency": GAMMA * CURRENCY_SCALE,
            "note": "ν ~ gamma(shape q, rate gamma); each order's value ~ gamma(shape p, rate ν) × currency_scale. In currency the model is Gamma-Gamma with p, q and gamma × currency_scale. The written total is the sum of cent-rounded lines, within a few cents of the drawn value. mean_spend in customers_truth.csv is currency_scale·p/ν",
        },
        "orders": {
            "status_probabilities": {"cancelled": CANCELLED, "returned": RETURNED, "completed": 1.0 - CANCELLED - RETURNED},
            "channel_shares": ORDER_CHANNELS.iter().map(|(c, s)| json!({"channel": c, "share": s})).collect::<Vec<_>>(),
            "channel_loyalty": CHANNEL_LOYALTY,
            "channel_rule": "each customer has a preferred channel drawn from the shares; an order uses it with probability channel_loyalty, else a fresh draw",
            "discount_probability": {"with_campaign": DISCOUNT_WITH_CAMPAIGN, "without": DISCOUNT_WITHOUT},
            "discount_levels": DISCOUNTS.iter().map(|(d, s)| json!({"discount": f64::from(*d) / 100.0, "share": s})).collect::<Vec<_>>(),
            "region": "the customer's region",
        },
        "web_sessions": {
            "rate_per_week_while_active": format!("{SESSIONS_PER_PURCHASE}·λ + {SESSIONS_BASE}"),
            "after_dropout": format!("the same rate decaying as exp(−days/{SESSIONS_DECAY_DAYS})"),
            "purchase_sessions": "every web order adds a session that day (4 + Poisson(5) pages)",
            "click_sessions": "every campaign click adds a session with the campaign's channel as source",
            "pages": "browsing: 1 + Poisson(2)",
            "duration_seconds": "pages × log-normal(median 40, sd of log 0.6)",
        },
        "tickets": {
            "count": format!("Poisson({TICKETS_BASE} + {TICKETS_PER_ORDER}·orders + {TICKETS_PER_P}·p) per customer"),
            "opened": "a random order of the customer plus gamma(1.5, mean 5) days",
            "first_contact_resolution": FIRST_CONTACT,
            "contacts_otherwise": "2 + Poisson(0.7)",
            "escalation_probability": {"first_contact": ESCALATE.0, "more_contacts": ESCALATE.1},
            "resolution_hours": "log-normal(median 6, sd 1.0) at first contact, else (median 30·(contacts−1), sd 0.8); doubled when escalated; unresolved if after the last day",
            "csat_response_rate": CSAT_RESPONSE,
            "csat_model": format!("round({} − {}·[contacts>1] − {}·[escalated] − {}·min(contacts−1, 3) + N(0, {})) clamped to 1..5", CSAT_MODEL[0], CSAT_MODEL[1], CSAT_MODEL[2], CSAT_MODEL[3], CSAT_MODEL[4]),
            "category_shares": TICKET_CATEGORIES.iter().map(|(c, s, _)| json!({"category": c, "share": s})).collect::<Vec<_>>(),
            "returns_rule": "a ticket about a returned order is a returns ticket with probability 0.7",
        },
        "surveys": {
            "share_of_customers": SURVEY_SHARE,
            "responded": "uniform from 14 days after sign-up to the last day",
            "nps_model": format!("round({} + {}·ln(1 + orders so far per year of tenure) − {}·[churned by then] − {}·[had a ticket with >1 contact or escalation] + N(0, {})) clamped to 0..10", NPS_MODEL[0], NPS_MODEL[1], NPS_MODEL[2], NPS_MODEL[3], NPS_MODEL[4]),
            "comment_share": SURVEY_COMMENT,
        },
        "subscriptions": {
            "plans": PLANS.iter().map(|(n, s, mrr)| json!({"plan": n, "share": s, "mrr": *mrr as f64 / 100.0})).collect::<Vec<_>>(),
            "subscribe_probability": format!("min({} + {}·λ, {})", SUBSCRIBE.0, SUBSCRIBE.1, SUBSCRIBE.2),
            "start": format!("sign-up + exponential(mean {SUBSCRIBE_DELAY_DAYS}) days"),
            "rows": "one row per yearly term; renewal_date = start + 12 months; renewed says whether the term was renewed into the next row; ended_at = renewal_date when not renewed; a term still running at the end has empty renewed and ended_at and its scheduled renewal_date, which lies after the last day",
            "renewal_probability": {"active_customer": RENEW.0, "churned_customer": RENEW.1},
            "upgrade_probability_at_renewal": UPGRADE,
            "subscribers": pass.subscribers,
        },
        "segments": {
            "rule": SEGMENT_RULE,
            "counts": segments,
        },
        "customers_alive_at_end": pass.alive_at_end,
        "customers_acquired_by_campaign": pass.acquired_by_campaign,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Stream, stream};
    use chrono::NaiveDate;

    fn cal() -> Calendar {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        Calendar::new(d(2023, 1, 1), d(2024, 12, 31))
    }

    #[test]
    fn dropout_only_follows_a_repeat_purchase() {
        let cal = cal();
        let mut rng = stream(1, Stream::Customers);
        let mut days = Vec::new();
        for _ in 0..500 {
            days.clear();
            let dropout = purchase_days(&cal, &mut rng, 10, 0.5, 1.0, &[], &mut days);
            // p = 1: inactive right after the first repeat purchase, never before it.
            match dropout {
                Some(d) => assert_eq!(days, vec![10, d]),
                None => assert_eq!(days, vec![10]),
            }
            assert!(days.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn campaigns_move_purchases_without_changing_their_number() {
        let cal = cal();
        let mut rng = stream(2, Stream::Customers);
        let mut days = Vec::new();
        let (mut plain, mut lifted, mut between, mut inside) = (0usize, 0usize, 0usize, 0usize);
        let runs = 400;
        for _ in 0..runs {
            days.clear();
            assert_eq!(
                purchase_days(&cal, &mut rng, 0, 0.5, 0.0, &[], &mut days),
                None
            );
            plain += days.len() - 1;
            days.clear();
            // A lift of 2 over the whole second year.
            purchase_days(&cal, &mut rng, 0, 0.5, 0.0, &[(365, 730, 2.0)], &mut days);
            assert!(days.windows(2).all(|w| w[0] < w[1]), "{days:?}");
            lifted += days.len() - 1;
            let mid = &days[1..days.len().saturating_sub(1).max(1)];
            between += mid.len();
            inside += mid.iter().filter(|d| **d >= 365).count();
        }
        // 730 days at 0.5 a week: 52.1 repeat purchases on average (Poisson, sd 0.36 over 400
        // runs), with or without the campaign.
        let plain = plain as f64 / f64::from(runs);
        let lifted = lifted as f64 / f64::from(runs);
        assert!((50.7..53.6).contains(&plain), "{plain}");
        assert!((50.7..53.6).contains(&lifted), "{lifted}");
        // The purchases in between land twice as densely in the second year: 2/3 of them.
        let share = inside as f64 / between as f64;
        assert!((0.64..0.69).contains(&share), "{share}");
    }

    #[test]
    fn fast_buyers_keep_every_purchase_on_distinct_days() {
        let cal = cal();
        let mut rng = stream(3, Stream::Customers);
        let mut days = Vec::new();
        let mut total = 0usize;
        let runs = 200;
        for _ in 0..runs {
            days.clear();
            // 3.5 a week (one every other day) over the last 70 days: many same-day draws,
            // and dense in-between placement.
            let signup = cal.days() - 71;
            purchase_days(
                &cal,
                &mut rng,
                signup,
                3.5,
                0.0,
                &[(signup + 20, signup + 30, 1.5)],
                &mut days,
            );
            assert!(days.windows(2).all(|w| w[0] < w[1]), "{days:?}");
            assert!(*days.last().unwrap() < cal.days());
            total += days.len() - 1;
        }
        // 70 days at 0.5 a day: 35 repeat purchases on average; only the few pushed past the
        // last day are lost.
        let mean = total as f64 / f64::from(runs);
        assert!((33.5..35.8).contains(&mean), "{mean}");
    }
}
