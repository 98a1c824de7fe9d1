//! A customer's hidden behaviour and when they buy: the purchase rate λ and dropout
//! probability p of BG/NBD, the mean spend ν of Gamma-Gamma, the favourite category and
//! preferred order channel; and [`purchase_days`], which turns λ and p into purchase days
//! that are BG/NBD in calendar time while the seasons and campaign lifts move them.

use rand::Rng;

use super::Ctx;
use crate::calendar::Calendar;
use crate::sample::{self, DemoRng};

// --- Purchase process (BG/NBD) and spend (Gamma-Gamma) ------------------------------------

/// BG/NBD: λ ~ Gamma(shape R, rate ALPHA) purchases per week; p ~ Beta(A, B).
pub(super) const R: f64 = 0.75;
pub(super) const ALPHA: f64 = 6.0;
pub(super) const A: f64 = 0.8;
pub(super) const B: f64 = 2.5;
/// Gamma-Gamma: ν ~ Gamma(shape Q, rate GAMMA); order value ~ Gamma(shape P, rate ν), in
/// model units, multiplied by CURRENCY_SCALE to give currency.
pub(super) const P: f64 = 6.0;
pub(super) const Q: f64 = 3.5;
pub(super) const GAMMA: f64 = 15.0;
pub(super) const CURRENCY_SCALE: f64 = 2.5;

/// What the company never sees of a customer but every model tries to recover.
pub(super) struct Behaviour {
    /// Purchases per week while active.
    pub lambda: f64,
    /// Dropout probability after each repeat purchase.
    pub p: f64,
    /// Rate of the Gamma-Gamma order value (mean value CURRENCY_SCALE · P / ν).
    pub nu: f64,
    /// Category most of their baskets come from.
    pub favourite: usize,
    /// Order channel used with probability `CHANNEL_LOYALTY`.
    pub preferred_channel: usize,
}

/// Draws the hidden behaviour. It is independent of the profile: the company cannot tell a
/// good customer by who they are.
pub(super) fn behaviour(ctx: &Ctx<'_>, rng: &mut DemoRng) -> Behaviour {
    let lambda = sample::gamma(rng, R, ALPHA);
    let p = sample::beta(rng, A, B);
    let nu = sample::gamma(rng, Q, GAMMA).max(1e-6);
    let favourite = sample::pick(rng, &ctx.catalog.category_weights);
    let preferred_channel = sample::pick(rng, &ctx.channel_w);
    Behaviour {
        lambda,
        p,
        nu,
        favourite,
        preferred_channel,
    }
}

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
pub(super) fn purchase_days(
    cal: &Calendar,
    rng: &mut DemoRng,
    signup: i32,
    (lambda, p): (f64, f64),
    windows: &[(i32, i32, f64)],
    days: &mut Vec<i32>,
    pull: &mut [f64],
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
        expected_pull(cal, (signup + 1, last - 1), repeats - 1, windows, pull);
    }
    if repeats > 0 {
        days.push(last);
    }
    dropout
}

/// lift(day): the product of the lifts of the windows `(from, to, lift)` open on `d`.
fn lift_on(windows: &[(i32, i32, f64)], d: i32) -> f64 {
    windows
        .iter()
        .filter(|w| w.0 <= d && d <= w.1)
        .map(|w| w.2)
        .product()
}

/// Adds to `pull[j]` the purchases that window `j` pulled into itself, in expectation: of
/// `k` purchases placed on `lo..=hi` with probability ∝ m·L (see [`place_between`]), the
/// expected number on day d is `k·m(d)L(d)/Σ mL`, against `k·m(d)/Σ m` without the campaigns;
/// the difference, summed over the days where it is positive (inside windows), is the
/// short-term revenue a campaign adds to its window (the same number is missing, spread
/// thinly, elsewhere in the customer's history). A day in several windows splits its
/// difference by their log-lifts. With replacement, so for dense placements (k close to the
/// number of days) it slightly overstates the pull.
fn expected_pull(
    cal: &Calendar,
    (lo, hi): (i32, i32),
    k: usize,
    windows: &[(i32, i32, f64)],
    pull: &mut [f64],
) {
    if windows.is_empty() || hi < lo {
        return;
    }
    let plain = cal.season_sum(lo, hi);
    let lift_at = |d: i32| lift_on(windows, d);
    // The days inside at least one window, each once.
    let (from, to) = windows
        .iter()
        .fold((i32::MAX, i32::MIN), |(a, b), w| (a.min(w.0), b.max(w.1)));
    let (from, to) = (from.max(lo), to.min(hi));
    let mut extra = 0.0;
    for d in from..=to {
        extra += cal.season(d) * (lift_at(d) - 1.0);
    }
    let lifted = plain + extra;
    if plain <= 0.0 || lifted <= 0.0 {
        return;
    }
    for d in from..=to {
        let l = lift_at(d);
        let delta = k as f64 * cal.season(d) * (l / lifted - 1.0 / plain);
        if delta <= 0.0 || l <= 1.0 {
            continue;
        }
        let logs = l.ln();
        for (j, w) in windows.iter().enumerate() {
            if w.0 <= d && d <= w.1 && w.2 > 1.0 {
                pull[j] += delta * w.2.ln() / logs;
            }
        }
    }
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
    let lift_at = |d: i32| lift_on(windows, d);
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
            let dropout = purchase_days(&cal, &mut rng, 10, (0.5, 1.0), &[], &mut days, &mut []);
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
        let (mut unlifted, mut pulled) = (0.0, 0.0);
        let runs = 400;
        for _ in 0..runs {
            days.clear();
            assert_eq!(
                purchase_days(&cal, &mut rng, 0, (0.5, 0.0), &[], &mut days, &mut []),
                None
            );
            plain += days.len() - 1;
            days.clear();
            // A lift of 2 over the whole second year.
            let mut pull = [0.0];
            let window = [(365, 730, 2.0)];
            purchase_days(&cal, &mut rng, 0, (0.5, 0.0), &window, &mut days, &mut pull);
            assert!(days.windows(2).all(|w| w[0] < w[1]), "{days:?}");
            lifted += days.len() - 1;
            let mid = &days[1..days.len().saturating_sub(1).max(1)];
            between += mid.len();
            inside += mid.iter().filter(|d| **d >= 365).count();
            // What the window would have held without its lift.
            if let (Some(&first), Some(&last)) = (days.first(), days.last()) {
                let (lo, hi) = (first + 1, last - 1);
                let plain = cal.season_sum(lo, hi);
                if plain > 0.0 {
                    unlifted += mid.len() as f64 * cal.season_sum(365.max(lo), hi) / plain;
                }
            }
            pulled += pull[0];
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
        // The expected pull is what the window gained over its unlifted share: about a third
        // of the purchases in between (2/3 − 1/3 of about 51).
        let gained = inside as f64 - unlifted;
        assert!(
            (pulled - gained).abs() < 0.03 * gained,
            "expected pull {pulled:.0}, gained {gained:.0}"
        );
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
                (3.5, 0.0),
                &[(signup + 20, signup + 30, 1.5)],
                &mut days,
                &mut [0.0],
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
