//! A customer's web sessions: background browsing tied to their purchase rate while active,
//! fading after they drop out (the trace a churned customer still leaves), and the length of
//! any session. The sessions of web orders and campaign clicks are added where those happen
//! (`orders`, `campaigns`).

use rand::Rng;

use super::{Ctx, Customer, DAY, Run};
use crate::sample::{self, DemoRng};
use crate::world::SESSION_SOURCES;

/// Browsing rate while active: SESSIONS_PER_PURCHASE·λ + SESSIONS_BASE per week.
pub(super) const SESSIONS_PER_PURCHASE: f64 = 1.5;
pub(super) const SESSIONS_BASE: f64 = 0.04;
/// After dropout the browsing rate decays with this time constant (days).
pub(super) const SESSIONS_DECAY_DAYS: f64 = 45.0;

/// A web session, kept until the customer's are written in time order.
pub(super) struct Session {
    pub at: i64,
    pub pages: u32,
    pub seconds: u32,
    pub source: &'static str,
}

/// Background browsing: Poisson over the active days at a rate that grows with λ, then an
/// exponentially fading tail after the dropout.
pub(super) fn browse(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &Customer) {
    let rng = &mut *run.rng;
    let sessions = &mut run.sc.sessions;
    let (days_total, last_sec, signup) = (ctx.days_total, ctx.last_sec, c.signup);
    let rate = (SESSIONS_PER_PURCHASE * c.behaviour.lambda + SESSIONS_BASE) / 7.0;
    let active_end = c.dropout.map_or(days_total, |d| d + 1);
    let active_days = f64::from(active_end - signup);
    let count = sample::poisson(rng, rate * active_days);
    for _ in 0..count {
        let at = i64::from(signup) * DAY + (rng.random::<f64>() * active_days * DAY as f64) as i64;
        push_browse(rng, sessions, at.min(last_sec));
    }
    if c.dropout.is_some() {
        let rest = f64::from(days_total - active_end);
        // The share of the decaying rate that falls before the end of the period.
        let tail = 1.0 - (-rest / SESSIONS_DECAY_DAYS).exp();
        let count = sample::poisson(rng, rate * SESSIONS_DECAY_DAYS * tail);
        for _ in 0..count {
            let u = rng.random::<f64>();
            let after = -SESSIONS_DECAY_DAYS * (1.0 - u * tail).ln();
            let at = i64::from(active_end) * DAY + (after * DAY as f64) as i64;
            push_browse(rng, sessions, at.min(last_sec));
        }
    }
}

/// Duration of a session of `pages` pages.
pub(super) fn session_seconds(rng: &mut DemoRng, pages: u32) -> u32 {
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
