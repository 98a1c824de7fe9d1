//! The ground truth of the consumer side for `ground_truth.json`: every generating
//! parameter of the stages in this folder, stated in words where a formula needs them, and
//! the totals the pass counted (segments, mean λ and p, subscribers, acquisitions).

use serde_json::{Value, json};

use super::orders::{
    CANCELLED, CHANNEL_LOYALTY, DISCOUNT_WITH_CAMPAIGN, DISCOUNT_WITHOUT, DISCOUNTS,
    ORDER_CHANNELS, RETURNED,
};
use super::profile::{
    AGE_MEAN, AGE_SD, CONSENT_EMAIL, CONSENT_SMS, MISSING_BIRTH_DATE, MISSING_GENDER,
    MISSING_PHONE, MISSING_POSTAL_CODE, SIGNUP_AMPLITUDE, SIGNUP_GROWTH, SIGNUP_PEAK_DAY,
};
use super::purchases::{A, ALPHA, B, CURRENCY_SCALE, GAMMA, P, Q, R};
use super::sessions::{SESSIONS_BASE, SESSIONS_DECAY_DAYS, SESSIONS_PER_PURCHASE};
use super::subscriptions::{PLANS, RENEW, SUBSCRIBE, SUBSCRIBE_DELAY_DAYS, UPGRADE};
use super::surveys::{NPS_MODEL, SURVEY_COMMENT, SURVEY_SHARE};
use super::tickets::{
    CSAT_MODEL, CSAT_RESPONSE, ESCALATE, FIRST_CONTACT, TICKETS_BASE, TICKETS_PER_ORDER,
    TICKETS_PER_P,
};
use super::{CustomerPass, SEGMENT_RULE, SEGMENTS};
use crate::world::{ACQUISITION_CHANNELS, COUNTRY, GENDERS, REGIONS, TICKET_CATEGORIES};

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
            "statuses": "the purchases are the completed orders (one per purchase day); cancelled and returned orders are extra orders on purchase days and no purchase events",
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
            "status_rule": "status_probabilities are shares of all orders: each purchase day has one completed order and, before it, a cancelled one with probability cancelled / completed or a returned one with probability returned / completed",
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
