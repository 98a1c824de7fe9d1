//! Who a customer is: the day they signed up (drawn for all customers at once, since ids
//! follow sign-up order), where they live, their name, unique email, phone, birth date,
//! gender, postal code, acquisition channel and consents, with the missing values a real
//! export has. Nothing here depends on the customer's hidden behaviour.

use chrono::NaiveDate;

use super::{Ctx, Run};
use crate::calendar::{Calendar, DaySampler};
use crate::sample::{self, DemoRng};
use crate::world::{
    ACQUISITION_CHANNELS, City, EMAIL_DOMAINS, FIRST_F, FIRST_M, FIRST_X, GENDERS, LAST, REGIONS,
};

// --- Acquisition -------------------------------------------------------------------------

/// Sign-ups grow by this fraction per year.
pub(crate) const SIGNUP_GROWTH: f64 = 0.30;
/// Yearly wave of sign-ups (amplitude, peak day of year: late November).
pub(super) const SIGNUP_AMPLITUDE: f64 = 0.20;
pub(super) const SIGNUP_PEAK_DAY: f64 = 330.0;

// --- Demographics -------------------------------------------------------------------------

pub(super) const AGE_MEAN: f64 = 41.0;
pub(super) const AGE_SD: f64 = 14.0;
pub(super) const CONSENT_EMAIL: f64 = 0.70;
pub(super) const CONSENT_SMS: f64 = 0.40;
/// Shares of missing values, as in a real export.
pub(super) const MISSING_PHONE: f64 = 0.12;
pub(super) const MISSING_BIRTH_DATE: f64 = 0.07;
pub(super) const MISSING_GENDER: f64 = 0.05;
pub(super) const MISSING_POSTAL_CODE: f64 = 0.02;

/// What the customers table says about a customer (their email is in the pass's scratch).
pub(super) struct Profile {
    pub region: usize,
    pub city: &'static City,
    pub first: &'static str,
    pub last: &'static str,
    pub phone: Option<String>,
    pub birth: Option<NaiveDate>,
    pub gender: Option<&'static str>,
    pub postal: Option<String>,
    pub acquisition: &'static str,
    /// The state at the end: a campaign email may unsubscribe the customer later.
    pub consent_email: bool,
    pub consent_sms: bool,
}

/// Every customer's sign-up day, ascending: the customers' ids follow it.
pub(super) fn signups(cal: &Calendar, n: usize, rng: &mut DemoRng) -> Vec<i32> {
    let sampler = DaySampler::new(cal, SIGNUP_GROWTH, SIGNUP_AMPLITUDE, SIGNUP_PEAK_DAY);
    let mut signups: Vec<i32> = (0..n).map(|_| sampler.sample(rng)).collect();
    signups.sort_unstable();
    signups
}

/// Draws the profile of the customer who signs up on `signup`, and writes their email into
/// `run.sc.email`.
pub(super) fn draw(ctx: &Ctx<'_>, run: &mut Run<'_>, signup: i32) -> Profile {
    let rng = &mut *run.rng;
    let region = sample::pick(rng, &ctx.region_w);
    let city = &REGIONS[region].cities[sample::below(rng, REGIONS[region].cities.len())];
    let gender = sample::pick(rng, &ctx.gender_w);
    let firsts = [FIRST_F, FIRST_M, FIRST_X][gender];
    let first = firsts[sample::below(rng, firsts.len())];
    let last = LAST[sample::below(rng, LAST.len())];
    let domain = sample::below(rng, EMAIL_DOMAINS.len());
    // A number after a repeated name keeps emails unique, as the customers table requires.
    let seen = run.email_seen.entry((first, last, domain)).or_insert(0);
    *seen += 1;
    let email = &mut run.sc.email;
    email.push_str(&first.to_ascii_lowercase());
    email.push('.');
    email.push_str(&last.to_ascii_lowercase());
    if *seen > 1 {
        email.push_str(&seen.to_string());
    }
    email.push('@');
    email.push_str(EMAIL_DOMAINS[domain]);
    let phone = (!sample::chance(rng, MISSING_PHONE))
        .then(|| format!("+1-{}-555-01{:02}", city.area, sample::below(rng, 100)));
    // Nobody is older than 79 on the last day.
    let years_to_end = f64::from(ctx.days_total - signup) / 365.25;
    let max_age = (80.0 - years_to_end - 1.0).max(18.0);
    let age = (AGE_MEAN + AGE_SD * sample::normal(rng)).clamp(18.0, max_age);
    let birth_offset = (age * 365.25) as i64 + sample::below(rng, 365) as i64;
    let birth = ctx
        .cal
        .date(signup)
        .checked_sub_days(chrono::Days::new(birth_offset as u64))
        .filter(|_| !sample::chance(rng, MISSING_BIRTH_DATE));
    let gender = (!sample::chance(rng, MISSING_GENDER)).then_some(GENDERS[gender].0);
    let postal = (!sample::chance(rng, MISSING_POSTAL_CODE))
        .then(|| format!("{}{:02}", city.zip3, sample::below(rng, 100)));
    let acquisition = sample::pick_pair(rng, ACQUISITION_CHANNELS);
    let consent_email = sample::chance(rng, CONSENT_EMAIL);
    // Drawn among customers with a phone, so CONSENT_SMS is the share of all customers.
    let consent_sms = phone.is_some() && sample::chance(rng, CONSENT_SMS / (1.0 - MISSING_PHONE));
    Profile {
        region,
        city,
        first,
        last,
        phone,
        birth,
        gender,
        postal,
        acquisition,
        consent_email,
        consent_sms,
    }
}
