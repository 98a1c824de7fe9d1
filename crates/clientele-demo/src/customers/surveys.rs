//! A customer's survey answer, if they give one: an NPS score that rises with how often they
//! buy and falls if they have churned by then or had a bad ticket, and maybe a comment.

use super::{Ctx, Customer, DAY, Run};
use crate::DemoError;
use crate::sample;
use crate::world::{HOUR_WEIGHTS, SURVEY_DETRACTOR, SURVEY_PASSIVE, SURVEY_PROMOTER};

pub(super) const SURVEY_SHARE: f64 = 0.20;
/// nps = round(base + freq·ln(1 + orders per year so far) − dead·\[churned\] −
/// bad·\[bad ticket\] + N(0, sd)), clamped to 0..10.
pub(super) const NPS_MODEL: [f64; 5] = [7.0, 1.0, 1.2, 0.8, 1.6];
pub(super) const SURVEY_COMMENT: f64 = 0.55;

/// Draws and writes the customer's answer (at least 14 days after sign-up), counting it in
/// the report quarter's NPS.
pub(super) fn answer(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &Customer) -> Result<(), DemoError> {
    let rng = &mut *run.rng;
    let (days_total, signup) = (ctx.days_total, c.signup);
    if !(sample::chance(rng, SURVEY_SHARE) && signup + 14 < days_total) {
        return Ok(());
    }
    let day = signup + 14 + sample::below(rng, (days_total - signup - 14) as usize) as i32;
    let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
    let so_far = run.sc.days.iter().filter(|d| **d <= day).count() as f64;
    let tenure = (f64::from(day - signup) / 365.25).max(0.25);
    let bad = run.pass.tickets[c.first_ticket..]
        .iter()
        .any(|t| t.opened < at && (t.contacts > 1 || t.escalated));
    let [base, freq, dead, badc, sd] = NPS_MODEL;
    let x = base + freq * (1.0 + so_far / tenure).ln()
        - dead * f64::from(u8::from(!c.alive_on(day)))
        - badc * f64::from(u8::from(bad))
        + sd * sample::normal(rng);
    let nps = x.round().clamp(0.0, 10.0) as i64;
    let list = match nps {
        9..=10 => SURVEY_PROMOTER,
        7..=8 => SURVEY_PASSIVE,
        _ => SURVEY_DETRACTOR,
    };
    let comment = sample::chance(rng, SURVEY_COMMENT).then(|| list[sample::below(rng, list.len())]);
    let tally = &mut *run.tally;
    if tally.in_report(day) {
        tally.surveys += 1;
        tally.promoters += u64::from(nps >= 9);
        tally.detractors += u64::from(nps <= 6);
    }
    run.sinks
        .at(ctx.ix.surveys)
        .id("C", c.id(), 6)
        .ts(ctx.cal, at)
        .int(nps)
        .opt(comment)
        .end()
}
