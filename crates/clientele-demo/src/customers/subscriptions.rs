//! A customer's subscription, if they take one: yearly terms from a start soon after sign-up,
//! each renewed with a probability that drops once the customer has churned, sometimes with
//! an upgrade to the next plan.

use chrono::Months;

use super::{Ctx, Customer, Run};
use crate::DemoError;
use crate::sample;

pub(super) const PLANS: &[(&str, f64, i64)] = &[
    ("basic", 0.6, 999),
    ("pro", 0.3, 2900),
    ("enterprise", 0.1, 9900),
];
/// P(subscribe) = min(base + per_lambda·λ, cap).
pub(super) const SUBSCRIBE: (f64, f64, f64) = (0.10, 1.2, 0.7);
pub(super) const SUBSCRIBE_DELAY_DAYS: f64 = 30.0;
/// Renewal probability when the customer is still active / has churned at the renewal date.
pub(super) const RENEW: (f64, f64) = (0.90, 0.40);
pub(super) const UPGRADE: f64 = 0.10;

/// Draws and writes the customer's subscription terms, one row per term, counting the
/// renewals due in the report quarter.
pub(super) fn subscribe(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &Customer) -> Result<(), DemoError> {
    let rng = &mut *run.rng;
    let (cal, days_total) = (ctx.cal, ctx.days_total);
    let p_subscribe = (SUBSCRIBE.0 + SUBSCRIBE.1 * c.behaviour.lambda).min(SUBSCRIBE.2);
    if !sample::chance(rng, p_subscribe) {
        return Ok(());
    }
    let start = c.signup + (sample::exp1(rng) * SUBSCRIBE_DELAY_DAYS) as i32;
    if start >= days_total {
        return Ok(());
    }
    run.pass.subscribers += 1;
    let mut plan = sample::pick(rng, &ctx.plan_w);
    let mut term = start;
    loop {
        let renewal = cal
            .date(term)
            .checked_add_months(Months::new(12))
            .map(|d| cal.day_of(d))
            .unwrap_or(i32::MAX);
        run.subscription_no += 1;
        let out = run.sinks.at(ctx.ix.subscriptions);
        out.id("S", run.subscription_no, 6)
            .id("C", c.id(), 6)
            .day(cal, term)
            .s(PLANS[plan].0)
            .cents(PLANS[plan].2);
        if renewal >= days_total {
            // Still running: the renewal date is the scheduled one, after `end`.
            return out
                .empty()
                .date(cal.date(renewal.min(days_total + 400)))
                .empty()
                .end();
        }
        let p_renew = if c.alive_on(renewal) {
            RENEW.0
        } else {
            RENEW.1
        };
        let renewed = sample::chance(rng, p_renew);
        let tally = &mut *run.tally;
        if tally.in_report(renewal) {
            tally.renewals_decided += 1;
            tally.renewed += u64::from(renewed);
        }
        out.opt_day(cal, (!renewed).then_some(renewal))
            .day(cal, renewal)
            .bool(renewed)
            .end()?;
        if !renewed {
            return Ok(());
        }
        term = renewal;
        if plan + 1 < PLANS.len() && sample::chance(rng, UPGRADE) {
            plan += 1;
        }
    }
}
