//! A customer's orders: for each purchase day, a completed order and sometimes, before it, a
//! cancelled or returned one; for each order its channel (and the rep of phone and partner
//! orders), the campaign it is attributed to, its discount, its value from the Gamma-Gamma
//! model and the basket that makes it up; the web session of a web order; and, after the
//! pass, [`write_orders`], which writes every order and line in date order.
//!
//! **Purchases are the completed orders.** The purchase process (`purchases`) makes exactly
//! one completed order per purchase day, so the completed orders — what `clientele clv`, the
//! KPIs and every report count as sales — are BG/NBD and Gamma-Gamma with the truth's
//! parameters. A cancelled or returned order is an extra order on a purchase day (the
//! customer cancelled and ordered again, or sent back an order and kept the next), drawn
//! like any order but no purchase: its value is its own Gamma-Gamma draw and it adds no
//! purchase, so counting it would bias the fits.

use rand::Rng;

use super::purchases::{CURRENCY_SCALE, P, purchase_days};
use super::sessions::{Session, session_seconds};
use super::{Ctx, Customer, CustomerPass, DAY, Run};
use crate::DemoError;
use crate::marketing::CHANNELS;
use crate::mix::{GUEST_MEAN_VALUE, GUEST_SHAPE, GUEST_WEB, Mix};
use crate::out::Sinks;
use crate::sales::rep_index;
use crate::sample;
use crate::sample::DemoRng;
use crate::tally::Tally;
use crate::world::{HOUR_WEIGHTS, REGIONS, SESSION_SOURCES};

/// Shares of all orders that are cancelled and returned: a purchase day gets an extra
/// cancelled order with probability CANCELLED / (1 − CANCELLED − RETURNED), a returned one
/// with RETURNED / (1 − CANCELLED − RETURNED) (at most one of the two).
pub(super) const CANCELLED: f64 = 0.03;
pub(super) const RETURNED: f64 = 0.04;
pub(super) const ORDER_CHANNELS: &[(&str, f64)] = &[
    ("web", 0.60),
    ("store", 0.25),
    ("phone", 0.08),
    ("partner", 0.07),
];
/// Probability that an order uses the customer's preferred channel rather than a fresh draw.
pub(super) const CHANNEL_LOYALTY: f64 = 0.7;
/// Probability of a promotional discount on an order, with and without a campaign.
pub(super) const DISCOUNT_WITH_CAMPAIGN: f64 = 0.40;
pub(super) const DISCOUNT_WITHOUT: f64 = 0.10;
pub(super) const DISCOUNTS: &[(u8, f64)] = &[(5, 0.30), (10, 0.35), (15, 0.20), (20, 0.15)];

/// Order statuses.
const STATUSES: [&str; 3] = ["completed", "cancelled", "returned"];

/// `OrderRec::customer` of a guest checkout: no customer_id.
const GUEST: u32 = u32::MAX;

/// One order as stored until written.
pub(super) struct OrderRec {
    /// Customer index, or [`GUEST`].
    pub customer: u32,
    pub region: u8,
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

/// Draws the customer's purchase days (lifted by the campaigns that reached them) and their
/// orders: on each day perhaps a cancelled or returned order, then the completed one; sets
/// the dropout and the customer's range of orders.
pub(super) fn place(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &mut Customer) {
    let sc = &mut run.sc;
    sc.windows
        .extend(sc.exposures.iter().map(|e| (e.from, e.to, e.lift)));
    sc.pull.resize(sc.windows.len(), 0.0);
    c.dropout = purchase_days(
        ctx.cal,
        run.rng,
        c.signup,
        (c.behaviour.lambda, c.behaviour.p),
        &sc.windows,
        &mut sc.days,
        &mut sc.pull,
    );
    // In currency: the customer's expected order value per pulled purchase.
    let value = CURRENCY_SCALE * P / c.behaviour.nu;
    for (e, pulled) in sc.exposures.iter().zip(&sc.pull) {
        run.campaigns[e.campaign].pull_revenue += pulled * value;
    }
    c.first_order = run.pass.orders.len();
    c.n_purchases = run.sc.days.len();
    for j in 0..c.n_purchases {
        // u uniform on [0, 1 − CANCELLED − RETURNED): below CANCELLED with probability
        // CANCELLED / (1 − CANCELLED − RETURNED), and so on.
        let u = run.rng.random::<f64>() * (1.0 - CANCELLED - RETURNED);
        if u < CANCELLED {
            order(ctx, run, c, j, 1);
        } else if u < CANCELLED + RETURNED {
            order(ctx, run, c, j, 2);
        }
        order(ctx, run, c, j, 0);
    }
    c.n_orders = run.pass.orders.len() - c.first_order;
    run.tally.customer_quarters(&run.sc.active_quarters);
}

/// An order of the customer on their `j`-th purchase day with `status` (an index into
/// `STATUSES`: 0 the purchase itself, 1 or 2 a cancelled or returned order before it): drawn,
/// stored, counted.
fn order(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &Customer, j: usize, status: u8) {
    let rng = &mut *run.rng;
    let day = run.sc.days[j];
    let channel = if sample::chance(rng, CHANNEL_LOYALTY) {
        c.behaviour.preferred_channel
    } else {
        sample::pick(rng, &ctx.channel_w)
    };
    let rep = match ORDER_CHANNELS[channel].0 {
        "phone" => rep_index(c.profile.region, 1) + 1,
        "partner" => rep_index(c.profile.region, 2) + 1,
        _ => 0,
    };
    // The first order belongs to the acquiring campaign; later ones to the latest campaign
    // whose window is open.
    let campaign = if j == 0 {
        c.acquired_by
    } else {
        run.sc
            .exposures
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
    let value = sample::gamma(rng, P, c.behaviour.nu) * CURRENCY_SCALE;
    let lines = &mut run.pass.lines;
    let first_line = lines.len() as u32;
    let total = ctx
        .catalog
        .fill(rng, c.behaviour.favourite, value, discount, lines);
    let n_lines = (lines.len() as u32 - first_line) as u8;
    run.pass.orders.push(OrderRec {
        customer: c.index as u32,
        region: c.profile.region as u8,
        day,
        total_cents: total,
        status,
        channel: channel as u8,
        rep: rep as u16,
        campaign: campaign.map_or(0, |k| k as u16 + 1),
        first_line,
        lines: n_lines,
    });
    count(run, day, status, total, campaign);
    if ORDER_CHANNELS[channel].0 == "web" {
        let rng = &mut *run.rng;
        let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
        let pages = 4 + sample::poisson(rng, 5.0);
        let source = match campaign {
            Some(k) => CHANNELS[run.campaigns[k].channel].name,
            None => sample::pick_pair(rng, SESSION_SOURCES),
        };
        let seconds = session_seconds(rng, pages);
        run.sc.sessions.push(Session {
            at,
            pages,
            seconds,
            source,
        });
    }
}

/// Adds an order to its campaign's and the KPIs' totals; only completed orders count as
/// revenue and make a customer active in the quarter.
fn count(run: &mut Run<'_>, day: i32, status: u8, total: i64, campaign: Option<usize>) {
    let tally = &mut *run.tally;
    if let Some(k) = campaign {
        run.campaigns[k].orders += 1;
        if status == 0 {
            run.campaigns[k].revenue_cents += total;
            let q = tally.quarter(day);
            tally.quarters[q].campaign_revenue_cents += total;
        }
    }
    if status == 0 {
        let q = tally.quarter(day);
        tally.quarters[q].revenue_cents += total;
        tally.quarters[q].orders += 1;
        let active = &mut run.sc.active_quarters;
        if active.is_empty() {
            tally.quarters[q].new_customers += 1;
        }
        if active.last() != Some(&q) {
            active.push(q);
        }
    }
}

/// Draws the guest orders that the marketing spend brings ([`crate::mix`]): per week and
/// channel Poisson(expected revenue / mean value) orders, each on a uniform day of the week,
/// web or store, in a region drawn by population, its value Gamma-distributed and filled with
/// products like any basket (no campaign, the usual chance of a discount). They are revenue
/// and orders in the tally, and no customer.
pub(crate) fn guest_orders(
    ctx: &Ctx<'_>,
    pass: &mut CustomerPass,
    mix: &mut Mix,
    rng: &mut DemoRng,
    tally: &mut Tally,
) {
    let categories = crate::world::CATEGORIES.len();
    for w in &mut mix.weeks {
        for c in 0..w.expected.len() {
            let n = sample::poisson(rng, w.expected[c] / GUEST_MEAN_VALUE);
            for _ in 0..n {
                let day = w.first + sample::below(rng, (w.last - w.first + 1) as usize) as i32;
                let channel = usize::from(!sample::chance(rng, GUEST_WEB));
                let region = sample::pick(rng, &ctx.region_w);
                let discount = if sample::chance(rng, DISCOUNT_WITHOUT) {
                    sample::pick_pair(rng, DISCOUNTS)
                } else {
                    0
                };
                let value = sample::gamma(rng, GUEST_SHAPE, GUEST_SHAPE / GUEST_MEAN_VALUE);
                let favourite = sample::below(rng, categories);
                let first_line = pass.lines.len() as u32;
                let total = ctx
                    .catalog
                    .fill(rng, favourite, value, discount, &mut pass.lines);
                let lines = (pass.lines.len() as u32 - first_line) as u8;
                pass.orders.push(OrderRec {
                    customer: GUEST,
                    region: region as u8,
                    day,
                    total_cents: total,
                    status: 0,
                    channel: channel as u8,
                    rep: 0,
                    campaign: 0,
                    first_line,
                    lines,
                });
                w.realized_cents[c] += total;
                w.orders[c] += 1;
                let qi = tally.quarter(day);
                let q = &mut tally.quarters[qi];
                q.revenue_cents += total;
                q.orders += 1;
                q.guest_revenue_cents += total;
                q.guest_orders += 1;
            }
        }
    }
}

/// Writes orders and order items in date order (ids increase with time).
pub(crate) fn write_orders(
    ctx: &Ctx<'_>,
    pass: &mut CustomerPass,
    sinks: &mut Sinks,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<(), DemoError> {
    let (cal, ix) = (ctx.cal, ctx.ix);
    // A customer has at most one completed order and one other on a day, so (day, customer,
    // completed) orders them; the cancelled or returned order comes first. Guest orders come
    // after the customers' of their day, in the order they were drawn (a stable sort).
    pass.orders
        .sort_by_key(|o| (o.day, o.customer, o.status == 0));
    let total = pass.orders.len() as u64;
    for (i, o) in pass.orders.iter().enumerate() {
        if i % 65_536 == 0 {
            progress("orders", i as u64, total);
        }
        let region = usize::from(o.region);
        sinks
            .at(ix.orders)
            .id("O", i + 1, 7)
            .opt_id(
                "C",
                (o.customer != GUEST).then_some(o.customer as usize + 1),
                6,
            )
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
