//! The campaigns in a customer's life: the one that acquired them (touchpoints just before
//! sign-up), those that reached them later (sent, impressions, unsubscribes) and opened a
//! lift window on their purchases, and, once their purchases are known, whether they engaged
//! (opens and clicks, fewer once they have silently churned). Whom a campaign reaches does
//! not depend on the customer's behaviour: the company cannot see it.

use super::sessions::{Session, session_seconds};
use super::{Ctx, Customer, DAY, Run};
use crate::marketing::{
    ACQUISITION_ATTRIBUTION, CHANNELS, DEAD_ENGAGEMENT, DISPLAY, DOWNLOAD, EMAIL,
    EXTRA_IMPRESSIONS, HOLDOUT, REACTION, SHARE, SOCIAL, UNSUBSCRIBE,
};
use crate::sample;
use crate::world::HOUR_WEIGHTS;

/// A campaign exposure: lift applies from `from` to `to` (days, inclusive).
pub(super) struct Exposure {
    pub campaign: usize,
    pub from: i32,
    pub to: i32,
    /// When the first touch happened (seconds).
    pub at: i64,
    pub lift: f64,
}

/// A customer's place in the holdout experiment of an email campaign.
pub(super) struct Assignment {
    pub campaign: usize,
    /// When the email was (or, held out, would have been) sent, in seconds.
    pub at: i64,
    pub treated: bool,
}

/// A marketing touchpoint, kept until the customer's are written in time order.
pub(super) struct Tp {
    pub at: i64,
    pub channel: &'static str,
    pub campaign: Option<usize>,
    pub kind: &'static str,
}

/// Whether a campaign of the customer's acquisition channel running on the sign-up day
/// acquired them: then it gets the touchpoints just before the sign-up, and the first order
/// (see `orders`).
pub(super) fn acquire(run: &mut Run<'_>, c: &mut Customer) {
    let rng = &mut *run.rng;
    let (acquisition, signup) = (c.profile.acquisition, c.signup);
    if matches!(acquisition, "email" | "social" | "paid_search")
        && let Some(k) = run.campaigns.iter().position(|cmp| {
            CHANNELS[cmp.channel].name == acquisition && cmp.start <= signup && signup <= cmp.end
        })
        && sample::chance(rng, ACQUISITION_ATTRIBUTION)
    {
        c.acquired_by = Some(k);
        run.campaigns[k].acquired += 1;
        run.pass.acquired_by_campaign += 1;
        let click = i64::from(signup) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
        let before = (click - sample::below(rng, 3 * DAY as usize) as i64 - 600).max(0);
        let (first_kind, channel) = match acquisition {
            "email" => ("email_open", "email"),
            "social" => ("impression", "social"),
            _ => ("impression", "paid_search"),
        };
        run.sc.tps.push(Tp {
            at: before,
            channel,
            campaign: Some(k),
            kind: first_kind,
        });
        run.sc.tps.push(Tp {
            at: click,
            channel,
            campaign: Some(k),
            kind: "click",
        });
    }
}

/// The campaigns starting after the sign-up that reach the customer: their first touches
/// (email: sent, maybe unsubscribe; social and display: impressions; search: one impression)
/// and the exposure windows that lift the customer's purchases.
pub(super) fn reach(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &mut Customer) {
    let rng = &mut *run.rng;
    let mut unsubscribed = false;
    for (k, campaign) in run.campaigns.iter_mut().enumerate() {
        if campaign.start <= c.signup {
            continue;
        }
        let spec = &CHANNELS[campaign.channel];
        if campaign.channel == EMAIL && (!c.profile.consent_email || unsubscribed) {
            continue;
        }
        if !sample::chance(rng, spec.reach) {
            continue;
        }
        if campaign.channel == EMAIL && sample::chance(rng, HOLDOUT) {
            let day = (campaign.start + sample::below(rng, 2) as i32).min(campaign.end);
            let at = i64::from(day) * DAY + 9 * 3600 + sample::below(rng, 7200) as i64;
            campaign.held_out += 1;
            run.sc.assignments.push(Assignment {
                campaign: k,
                at,
                treated: false,
            });
            continue;
        }
        campaign.reached += 1;
        let len = (campaign.end - campaign.start + 1) as usize;
        let channel = spec.name;
        let tps = &mut run.sc.tps;
        let first_at = match campaign.channel {
            EMAIL => {
                let day = (campaign.start + sample::below(rng, 2) as i32).min(campaign.end);
                let at = i64::from(day) * DAY + 9 * 3600 + sample::below(rng, 7200) as i64;
                tps.push(Tp {
                    at,
                    channel,
                    campaign: Some(k),
                    kind: "email_sent",
                });
                run.sc.assignments.push(Assignment {
                    campaign: k,
                    at,
                    treated: true,
                });
                if sample::chance(rng, UNSUBSCRIBE) {
                    let un =
                        (at + 3600 + sample::below(rng, 3 * DAY as usize) as i64).min(ctx.last_sec);
                    tps.push(Tp {
                        at: un,
                        channel,
                        campaign: Some(k),
                        kind: "unsubscribe",
                    });
                    unsubscribed = true;
                    c.profile.consent_email = false;
                }
                at
            }
            SOCIAL | DISPLAY => {
                let extra = EXTRA_IMPRESSIONS[usize::from(campaign.channel == DISPLAY)];
                let count = 1 + sample::poisson(rng, extra);
                let mut first = i64::MAX;
                for _ in 0..count {
                    let day = campaign.start + sample::below(rng, len) as i32;
                    let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
                    first = first.min(at);
                    tps.push(Tp {
                        at,
                        channel,
                        campaign: Some(k),
                        kind: "impression",
                    });
                }
                first
            }
            _ => {
                let day = campaign.start + sample::below(rng, len) as i32;
                let at = i64::from(day) * DAY + sample::time_of_day(rng, &HOUR_WEIGHTS);
                tps.push(Tp {
                    at,
                    channel,
                    campaign: Some(k),
                    kind: "impression",
                });
                at
            }
        };
        run.sc.exposures.push(Exposure {
            campaign: k,
            from: (first_at / DAY) as i32,
            to: campaign.end,
            at: first_at,
            lift: campaign.lift,
        });
    }
}

/// Reactions and shares of the customer's social impressions and downloads after their
/// clicks, from the engagement stream (see `marketing::REACTION`): they follow the
/// touchpoints already drawn and change no other draw.
pub(super) fn react(ctx: &Ctx<'_>, run: &mut Run<'_>) {
    let rng = &mut *run.engagement_rng;
    let tps = &mut run.sc.tps;
    for i in 0..tps.len() {
        let (at, channel, campaign, kind) =
            (tps[i].at, tps[i].channel, tps[i].campaign, tps[i].kind);
        let after = |kind: &'static str, within: usize, rng: &mut crate::sample::DemoRng| Tp {
            at: (at + 5 + sample::below(rng, within) as i64).min(ctx.last_sec),
            channel,
            campaign,
            kind,
        };
        if kind == "impression" && channel == CHANNELS[SOCIAL].name {
            if sample::chance(rng, REACTION) {
                let t = after("reaction", 600, rng);
                tps.push(t);
            }
            if sample::chance(rng, SHARE) {
                let t = after("share", 600, rng);
                tps.push(t);
            }
        } else if kind == "click" && sample::chance(rng, DOWNLOAD) {
            let t = after("download", 1200, rng);
            tps.push(t);
        }
    }
}

/// Engagement with the campaigns that reached the customer: drawn after the purchases
/// because it depends on whether the customer was still active at the first touch.
pub(super) fn engage(ctx: &Ctx<'_>, run: &mut Run<'_>, c: &Customer) {
    let rng = &mut *run.rng;
    let sc = &mut run.sc;
    for e in &sc.exposures {
        let campaign = &run.campaigns[e.campaign];
        let spec = &CHANNELS[campaign.channel];
        let mult = if c.alive_on(e.from) {
            1.0
        } else {
            DEAD_ENGAGEMENT
        };
        let channel = spec.name;
        let mut click_at = None;
        if campaign.channel == EMAIL {
            if sample::chance(rng, spec.engage * mult) {
                let open =
                    (e.at + 600 + sample::below(rng, 3 * DAY as usize) as i64).min(ctx.last_sec);
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
            let at = at.min(ctx.last_sec);
            sc.tps.push(Tp {
                at,
                channel,
                campaign: Some(e.campaign),
                kind: "click",
            });
            // Every click lands on the web site.
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
}
