//! The consumer side, one customer at a time: who they are, when they signed up, their
//! hidden purchase rate λ and dropout probability p (BG/NBD), their hidden mean spend
//! (Gamma-Gamma), the campaigns that reached them, their orders, web sessions, tickets,
//! survey answers and subscription terms.
//!
//! [`simulate`] runs the stages of each customer's life, one file each, over a [`Customer`]
//! that the stages fill in: `profile`, `purchases` (hidden behaviour and purchase days),
//! `campaigns` (acquisition and reach before the purchases, engagement after them), `orders`,
//! `sessions`, `tickets`, `surveys`, `subscriptions`; `truth` describes them all for
//! `ground_truth.json`. Every stage draws from the one customer stream in turn, so the order
//! of the stages in [`live`], and of the draws within each, is what makes a seed name the
//! same company: moving one draw changes every customer after it.
//!
//! Rows without an id (touchpoints, sessions, surveys) are written as each customer is
//! finished; orders and tickets are kept compactly and written afterwards in date order so
//! their ids increase with time, as a real system's would.
//!
//! May use: `calendar`, `catalog`, `out`, `sample`, `world`, the campaigns of `marketing`,
//! the customer facts and rep numbering of `sales`, and `tally` to count what it wrote.
//! Only `lib` imports it.

mod campaigns;
mod orders;
mod profile;
mod purchases;
mod sessions;
mod subscriptions;
mod surveys;
mod tickets;
mod truth;

use std::collections::HashMap;

use crate::DemoError;
use crate::calendar::Calendar;
use crate::catalog::{Catalog, Line};
use crate::marketing::{Campaign, experiment_id};
use crate::out::{Ix, Sinks};
use crate::sales::CustomerFacts;
use crate::sample::{DemoRng, Stream, stream};
use crate::tally::Tally;
use crate::world::{COUNTRY, GENDERS, REGIONS, TICKET_CATEGORIES};

pub(crate) use orders::{guest_orders, write_orders};
pub(crate) use profile::SIGNUP_GROWTH;
pub(crate) use tickets::write_tickets;
pub(crate) use truth::truth;

use campaigns::{Assignment, Exposure, Tp};
use orders::{ORDER_CHANNELS, OrderRec};
use profile::Profile;
use purchases::{Behaviour, CURRENCY_SCALE, P};
use sessions::Session;
use subscriptions::PLANS;
use tickets::TicketRec;

const DAY: i64 = 86_400;

/// Segment labels of `customers_truth.csv`.
pub(crate) const SEGMENT_RULE: &str = "churned: not alive at the end; one_time: alive but never bought again after the first purchase (n_purchases = 1; under BG/NBD such a customer cannot have dropped out); otherwise by the true yearly purchase rate 52·λ: champion ≥ 10, loyal ≥ 4, occasional below";

const SEGMENTS: [&str; 5] = ["champion", "loyal", "occasional", "one_time", "churned"];

/// What the customer pass produces for the later passes.
pub(crate) struct CustomerPass {
    /// What the sales side needs of each customer, in customer order.
    pub facts: Vec<CustomerFacts>,
    orders: Vec<OrderRec>,
    lines: Vec<Line>,
    tickets: Vec<TicketRec>,
    segments: [u64; 5],
    alive_at_end: u64,
    lambda_sum: f64,
    p_sum: f64,
    subscribers: u64,
    acquired_by_campaign: u64,
}

/// What the consumer side reads and never changes: the calendar, the catalogue, where each
/// table is written, and the weights of the categorical draws (built once, not per customer).
pub(crate) struct Ctx<'a> {
    cal: &'a Calendar,
    catalog: &'a Catalog,
    ix: &'a Ix,
    days_total: i32,
    /// The last second of the period: no event may fall after it.
    last_sec: i64,
    region_w: Vec<f64>,
    gender_w: Vec<f64>,
    channel_w: Vec<f64>,
    ticket_cat_w: Vec<f64>,
    plan_w: Vec<f64>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(cal: &'a Calendar, catalog: &'a Catalog, ix: &'a Ix) -> Ctx<'a> {
        Ctx {
            cal,
            catalog,
            ix,
            days_total: cal.days(),
            last_sec: i64::from(cal.days()) * DAY - 1,
            region_w: REGIONS.iter().map(|r| r.share).collect(),
            gender_w: GENDERS.iter().map(|g| g.1).collect(),
            channel_w: ORDER_CHANNELS.iter().map(|c| c.1).collect(),
            ticket_cat_w: TICKET_CATEGORIES.iter().map(|c| c.1).collect(),
            plan_w: PLANS.iter().map(|p| p.1).collect(),
        }
    }
}

/// What the pass changes as it goes: the customer stream, the campaigns' counts, the open
/// files, the KPI totals, what it keeps for the later passes, and its scratch buffers.
struct Run<'a> {
    rng: &'a mut DemoRng,
    /// Reactions, shares and downloads only (see `campaigns::react`).
    engagement_rng: &'a mut DemoRng,
    campaigns: &'a mut [Campaign],
    sinks: &'a mut Sinks,
    tally: &'a mut Tally,
    pass: CustomerPass,
    sc: Scratch,
    /// Customers so far per (first name, last name, email domain), to keep emails unique.
    email_seen: HashMap<(&'static str, &'static str, usize), u32>,
    /// Subscription terms written so far: the last subscription id.
    subscription_no: usize,
}

/// Reusable per-customer buffers, so the pass allocates almost nothing per customer.
#[derive(Default)]
struct Scratch {
    /// Purchase days, ascending.
    days: Vec<i32>,
    exposures: Vec<Exposure>,
    /// Lift windows `(from, to, lift)` of the exposures.
    windows: Vec<(i32, i32, f64)>,
    /// Expected purchases each window pulled into itself (see `purchases::expected_pull`).
    pull: Vec<f64>,
    tps: Vec<Tp>,
    assignments: Vec<Assignment>,
    sessions: Vec<Session>,
    email: String,
    /// Quarters in which the customer has a completed order, ascending.
    active_quarters: Vec<usize>,
}

impl Scratch {
    fn clear(&mut self) {
        self.days.clear();
        self.exposures.clear();
        self.windows.clear();
        self.pull.clear();
        self.tps.clear();
        self.assignments.clear();
        self.sessions.clear();
        self.email.clear();
        self.active_quarters.clear();
    }
}

/// One customer while they are simulated, filled in stage by stage (see [`live`]); their
/// lists (purchase days, touchpoints, sessions) are in the pass's [`Scratch`].
struct Customer {
    /// Position in sign-up order.
    index: usize,
    signup: i32,
    profile: Profile,
    behaviour: Behaviour,
    /// The campaign that acquired them (`campaigns::acquire`).
    acquired_by: Option<usize>,
    /// The day of the repeat purchase after which they dropped out, `None` while alive at the
    /// end (`orders::place`).
    dropout: Option<i32>,
    /// Their orders are `pass.orders[first_order..first_order + n_orders]`, any status.
    first_order: usize,
    n_orders: usize,
    /// Their purchases: the purchase days, each with one completed order.
    n_purchases: usize,
    /// Their tickets are `pass.tickets[first_ticket..]` until the next customer's.
    first_ticket: usize,
}

impl Customer {
    /// The number of `customer_id` (`C000001` for the first).
    fn id(&self) -> usize {
        self.index + 1
    }

    /// Whether the customer is still active on `day` (they buy on their dropout day).
    fn alive_on(&self, day: i32) -> bool {
        self.dropout.is_none_or(|d| day <= d)
    }

    /// Their label in `customers_truth.csv`, an index into [`SEGMENTS`] (see [`SEGMENT_RULE`]).
    fn segment(&self) -> usize {
        let yearly = 52.0 * self.behaviour.lambda;
        match self.dropout {
            Some(_) => 4,
            None if self.n_purchases == 1 => 3,
            None if yearly >= 10.0 => 0,
            None if yearly >= 4.0 => 1,
            None => 2,
        }
    }
}

/// Runs the customer pass: draws every sign-up day, then each customer's life in sign-up
/// order, writing the rows that have no id of their own. The draws come from the seed's
/// customer stream, the reactions, shares and downloads from its engagement stream.
pub(crate) fn simulate(
    ctx: &Ctx<'_>,
    n: usize,
    campaigns: &mut [Campaign],
    seed: u64,
    sinks: &mut Sinks,
    tally: &mut Tally,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<CustomerPass, DemoError> {
    let (rng, engagement_rng) = (
        &mut stream(seed, Stream::Customers),
        &mut stream(seed, Stream::Engagement),
    );
    let signups = profile::signups(ctx.cal, n, rng);
    let mut run = Run {
        rng,
        engagement_rng,
        campaigns,
        sinks,
        tally,
        pass: CustomerPass {
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
        },
        sc: Scratch::default(),
        email_seen: HashMap::new(),
        subscription_no: 0,
    };
    for (index, &signup) in signups.iter().enumerate() {
        if index % 1024 == 0 {
            progress("customers", index as u64, n as u64);
        }
        live(ctx, &mut run, index, signup)?;
    }
    progress("customers", n as u64, n as u64);
    Ok(run.pass)
}

/// One customer's life. The order of these calls is the order of the draws.
fn live(ctx: &Ctx<'_>, run: &mut Run<'_>, index: usize, signup: i32) -> Result<(), DemoError> {
    run.sc.clear();
    let profile = profile::draw(ctx, run, signup);
    let behaviour = purchases::behaviour(ctx, run.rng);
    let mut c = Customer {
        index,
        signup,
        profile,
        behaviour,
        acquired_by: None,
        dropout: None,
        first_order: 0,
        n_orders: 0,
        n_purchases: 0,
        first_ticket: 0,
    };
    campaigns::acquire(run, &mut c);
    campaigns::reach(ctx, run, &mut c);
    orders::place(ctx, run, &mut c);
    campaigns::engage(ctx, run, &c);
    campaigns::react(ctx, run);
    sessions::browse(ctx, run, &c);
    tickets::open(ctx, run, &mut c);
    surveys::answer(ctx, run, &c)?;
    subscriptions::subscribe(ctx, run, &c)?;
    finish(ctx, run, &c)
}

/// Writes the customer's touchpoints and sessions in time order, their customers row and
/// truth row, and adds them to the pass's totals.
fn finish(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &Customer) -> Result<(), DemoError> {
    let (cal, ix, sinks, sc) = (ctx.cal, ctx.ix, &mut *run.sinks, &mut run.sc);
    sc.tps.sort_by_key(|t| t.at);
    for t in &sc.tps {
        sinks
            .at(ix.touchpoints)
            .id("C", c.id(), 6)
            .ts(cal, t.at)
            .s(t.channel)
            .opt_id("CMP", t.campaign.map(|k| k + 1), 3)
            .s(t.kind)
            .end()?;
    }
    for a in &sc.assignments {
        sinks
            .at(ix.experiments)
            .s(&experiment_id(a.campaign))
            .id("C", c.id(), 6)
            .s(if a.treated { "treatment" } else { "control" })
            .ts(cal, a.at)
            .end()?;
    }
    sc.sessions.sort_by_key(|s| s.at);
    for s in &sc.sessions {
        sinks
            .at(ix.web_sessions)
            .id("C", c.id(), 6)
            .ts(cal, s.at)
            .int(i64::from(s.pages))
            .int(i64::from(s.seconds))
            .s(s.source)
            .end()?;
    }

    let who = &c.profile;
    sinks
        .at(ix.customers)
        .id("C", c.id(), 6)
        .s(&sc.email)
        .opt(who.phone.as_deref())
        .s(who.first)
        .s(who.last)
        .opt_date(who.birth)
        .opt(who.gender)
        .s(who.city.name)
        .s(REGIONS[who.region].name)
        .s(COUNTRY)
        .opt(who.postal.as_deref())
        .day(cal, c.signup)
        .s(who.acquisition)
        .bool(who.consent_email)
        .bool(who.consent_sms)
        .end()?;

    let (lambda, p) = (c.behaviour.lambda, c.behaviour.p);
    let segment = c.segment();
    let pass = &mut run.pass;
    pass.segments[segment] += 1;
    pass.alive_at_end += u64::from(c.dropout.is_none());
    pass.lambda_sum += lambda;
    pass.p_sum += p;
    sinks
        .truth
        .id("C", c.id(), 6)
        .fixed(lambda, 6)
        .fixed(p, 6)
        .bool(c.dropout.is_none())
        .opt_day(cal, c.dropout)
        .fixed(CURRENCY_SCALE * P / c.behaviour.nu, 2)
        .s(SEGMENTS[segment])
        .int(c.n_orders as i64)
        .int(c.n_purchases as i64)
        .end()?;
    pass.facts.push(CustomerFacts {
        signup: c.signup,
        region: who.region as u8,
    });
    Ok(())
}
