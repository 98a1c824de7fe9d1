//! A customer's support tickets: how many (more for customers who order more and for those
//! likely to drop out), which order each is about, how many contacts it took, escalation,
//! resolution time and satisfaction; and, after the pass, [`write_tickets`], which writes
//! them in opening order and counts the report quarter's.

use super::{Ctx, Customer, CustomerPass, DAY, Run};
use crate::DemoError;
use crate::out::Sinks;
use crate::sample;
use crate::tally::Tally;
use crate::world::{HOUR_WEIGHTS, TICKET_CATEGORIES, TICKET_CHANNELS};

/// Tickets per customer ~ Poisson(base + per_order·orders + per_p·p).
pub(super) const TICKETS_BASE: f64 = 0.10;
pub(super) const TICKETS_PER_ORDER: f64 = 0.06;
pub(super) const TICKETS_PER_P: f64 = 0.6;
pub(super) const FIRST_CONTACT: f64 = 0.70;
pub(super) const ESCALATE: (f64, f64) = (0.03, 0.30);
pub(super) const CSAT_RESPONSE: f64 = 0.55;
/// `csat = round(base − multi·[contacts>1] − esc·[escalated] − extra·min(contacts−1, 3) + N(0, sd))`.
pub(super) const CSAT_MODEL: [f64; 5] = [4.5, 0.9, 0.8, 0.15, 0.7];

/// One ticket as stored until written.
pub(super) struct TicketRec {
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

/// Draws the customer's tickets, each about one of their orders, and sets their range of
/// tickets.
pub(super) fn open(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &mut Customer) {
    let rng = &mut *run.rng;
    let pass = &mut run.pass;
    c.first_ticket = pass.tickets.len();
    let mu = TICKETS_BASE + TICKETS_PER_ORDER * c.n_orders as f64 + TICKETS_PER_P * c.behaviour.p;
    for _ in 0..sample::poisson(rng, mu) {
        let o = &pass.orders[c.first_order + sample::below(rng, c.n_orders)];
        let gap = sample::gamma(rng, 1.5, 1.5 / 5.0);
        let day = o.day + gap as i32;
        if day >= ctx.days_total {
            continue;
        }
        let opened = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
        let category = if o.status == 2 && sample::chance(rng, 0.7) {
            2
        } else {
            sample::pick(rng, &ctx.ticket_cat_w)
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
        let resolved = (resolved_at <= ctx.last_sec).then_some(resolved_at);
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
            customer: c.index as u32,
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
}

/// Writes tickets in opening order.
pub(crate) fn write_tickets(
    ctx: &Ctx<'_>,
    pass: &mut CustomerPass,
    sinks: &mut Sinks,
    tally: &mut Tally,
) -> Result<(), DemoError> {
    pass.tickets.sort_by_key(|t| (t.opened, t.customer));
    let mut text = String::new();
    for (i, t) in pass.tickets.iter().enumerate() {
        let (category, _, templates) = TICKET_CATEGORIES[t.category];
        text.clear();
        text.push_str(
            &templates[t.template]
                .replace("{p}", ctx.catalog.products[usize::from(t.product)].name),
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
            .at(ctx.ix.tickets)
            .id("T", i + 1, 6)
            .id("C", t.customer as usize + 1, 6)
            .ts(ctx.cal, t.opened)
            .opt_ts(ctx.cal, t.resolved)
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
