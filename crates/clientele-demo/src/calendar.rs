//! The simulated calendar: days are numbered from the first day of the company's history
//! (day 0 = `start`), each day has a seasonal multiplier that weights when purchases land, and
//! dates and timestamps are formatted here once so the writers never call chrono per row.
//!
//! May use: nothing of the crate (it is at the bottom of the module order in `lib`).

use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;

/// Amplitude of the yearly wave of purchase timing (±15 %).
pub(crate) const YEARLY_AMPLITUDE: f64 = 0.15;
/// Day of year (1-based) where the yearly wave peaks: 1 December, the holiday season.
pub(crate) const YEARLY_PEAK_DAY: f64 = 335.0;
/// Relative purchase intensity by weekday, Monday first. Mean exactly 1, range ±10 %.
pub(crate) const WEEKLY_FACTORS: [f64; 7] = [1.00, 0.95, 0.93, 0.97, 1.02, 1.10, 1.03];

const DAY_SECS: i64 = 86_400;

/// Yearly wave with mean 1 over a 365.25-day cycle.
pub(crate) fn yearly_wave(ordinal: u32, amplitude: f64, peak: f64) -> f64 {
    1.0 + amplitude * (std::f64::consts::TAU * (f64::from(ordinal) - peak) / 365.25).cos()
}

/// Day indexing, formatting and the seasonal multiplier for one simulated period.
pub(crate) struct Calendar {
    start: NaiveDate,
    days: i32,
    /// `YYYY-MM-DD` of every day in the period.
    text: Vec<[u8; 10]>,
    /// Seasonal multiplier m(t) of each day.
    season: Vec<f64>,
    /// `cum[d]` = Σ_{k<d} m(k)/7: cumulative multiplier, in weeks, at the start of day d.
    cum: Vec<f64>,
}

impl Calendar {
    /// The calendar of `start..=end` (the caller has checked start < end).
    pub(crate) fn new(start: NaiveDate, end: NaiveDate) -> Self {
        let days = (end - start).num_days() as i32 + 1;
        let mut text = Vec::with_capacity(days as usize);
        let mut season = Vec::with_capacity(days as usize);
        let mut cum = Vec::with_capacity(days as usize + 1);
        cum.push(0.0);
        let mut date = start;
        for _ in 0..days {
            let mut t = [0u8; 10];
            t.copy_from_slice(date.format("%Y-%m-%d").to_string().as_bytes());
            text.push(t);
            let m = yearly_wave(date.ordinal(), YEARLY_AMPLITUDE, YEARLY_PEAK_DAY)
                * WEEKLY_FACTORS[date.weekday().num_days_from_monday() as usize];
            season.push(m);
            cum.push(cum.last().copied().unwrap_or(0.0) + m / 7.0);
            date = date.succ_opt().unwrap_or(date);
        }
        Calendar {
            start,
            days,
            text,
            season,
            cum,
        }
    }

    /// Number of days in the period.
    pub(crate) fn days(&self) -> i32 {
        self.days
    }

    /// Length of the period in years.
    pub(crate) fn years(&self) -> f64 {
        f64::from(self.days) / 365.25
    }

    /// The calendar date of a day index (may lie outside the period).
    pub(crate) fn date(&self, day: i32) -> NaiveDate {
        if day >= 0 {
            self.start.checked_add_days(Days::new(day as u64))
        } else {
            self.start
                .checked_sub_days(Days::new(u64::from(day.unsigned_abs())))
        }
        .unwrap_or(self.start)
    }

    /// The day index of a date.
    pub(crate) fn day_of(&self, date: NaiveDate) -> i32 {
        (date - self.start).num_days() as i32
    }

    /// `YYYY-MM-DD` of a day inside the period.
    pub(crate) fn date_text(&self, day: i32) -> &str {
        let d = day.clamp(0, self.days - 1) as usize;
        // The bytes come from chrono's formatting of a date: always ASCII.
        std::str::from_utf8(&self.text[d]).unwrap_or("1970-01-01")
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` of a moment given in seconds since the start of day 0.
    pub(crate) fn timestamp_text(&self, secs: i64) -> [u8; 20] {
        let secs = secs.clamp(0, i64::from(self.days) * DAY_SECS - 1);
        let day = (secs / DAY_SECS) as usize;
        let s = (secs % DAY_SECS) as u32;
        let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
        let mut out = [0u8; 20];
        out[..10].copy_from_slice(&self.text[day]);
        out[10] = b'T';
        for (i, v) in [(11, h), (14, m), (17, sec)] {
            out[i] = b'0' + (v / 10) as u8;
            out[i + 1] = b'0' + (v % 10) as u8;
        }
        out[13] = b':';
        out[16] = b':';
        out[19] = b'Z';
        out
    }

    /// Seasonal multiplier m of a day inside the period.
    pub(crate) fn season(&self, day: i32) -> f64 {
        self.season[day.clamp(0, self.days - 1) as usize]
    }

    /// Σ m(day) over `lo..=hi` (clamped to the period; 0 when empty).
    pub(crate) fn season_sum(&self, lo: i32, hi: i32) -> f64 {
        let lo = lo.clamp(0, self.days) as usize;
        let hi = (hi.clamp(-1, self.days - 1) + 1) as usize;
        if hi <= lo {
            0.0
        } else {
            7.0 * (self.cum[hi] - self.cum[lo])
        }
    }

    /// A day of `lo..=hi` (clamped to the period) drawn with probability ∝ its seasonal
    /// multiplier m, by inverting the cumulative multiplier.
    pub(crate) fn seasonal_day<R: Rng>(&self, rng: &mut R, lo: i32, hi: i32) -> i32 {
        let lo = lo.clamp(0, self.days - 1) as usize;
        let hi = (hi.clamp(0, self.days - 1) as usize).max(lo);
        let (a, b) = (self.cum[lo], self.cum[hi + 1]);
        let u = a + (b - a) * rng.random::<f64>();
        let d = self.cum.partition_point(|&c| c <= u).saturating_sub(1);
        d.clamp(lo, hi) as i32
    }

    /// The calendar year and quarter (1–4) of a day.
    pub(crate) fn quarter(&self, day: i32) -> (i32, u32) {
        let d = self.date(day);
        (d.year(), (d.month() - 1) / 3 + 1)
    }
}

/// Draws days of the period with a yearly growth trend, a yearly wave and the weekday
/// pattern: used for sign-ups and lead creation.
pub(crate) struct DaySampler {
    cum: Vec<f64>,
}

impl DaySampler {
    /// Intensity ∝ (1+growth)^(t/365.25) · (1 + amplitude·cos(2π(doy−peak)/365.25)) · weekday.
    pub(crate) fn new(cal: &Calendar, growth: f64, amplitude: f64, peak: f64) -> Self {
        let mut cum = Vec::with_capacity(cal.days as usize);
        let mut acc = 0.0;
        for day in 0..cal.days {
            let date = cal.date(day);
            let w = (1.0 + growth).powf(f64::from(day) / 365.25)
                * yearly_wave(date.ordinal(), amplitude, peak)
                * WEEKLY_FACTORS[date.weekday().num_days_from_monday() as usize];
            acc += w;
            cum.push(acc);
        }
        DaySampler { cum }
    }

    /// One day index.
    pub(crate) fn sample<R: Rng>(&self, rng: &mut R) -> i32 {
        let total = self.cum.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        let i = self.cum.partition_point(|&c| c <= u);
        i.min(self.cum.len().saturating_sub(1)) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn formats_dates_and_timestamps() {
        let cal = Calendar::new(ymd(2023, 1, 1), ymd(2025, 12, 31));
        assert_eq!(cal.days(), 1096);
        assert_eq!(cal.date_text(0), "2023-01-01");
        assert_eq!(cal.date_text(1095), "2025-12-31");
        let ts = cal.timestamp_text(59 * 86_400 + 13 * 3600 + 5 * 60 + 9);
        assert_eq!(std::str::from_utf8(&ts).unwrap(), "2023-03-01T13:05:09Z");
        assert_eq!(cal.day_of(ymd(2024, 1, 1)), 365);
        assert_eq!(cal.date(365), ymd(2024, 1, 1));
        assert_eq!(cal.date(-1), ymd(2022, 12, 31));
        assert_eq!(cal.quarter(365 + 200), (2024, 3));
    }

    #[test]
    fn seasonal_multiplier_averages_one_over_a_year() {
        let cal = Calendar::new(ymd(2023, 1, 1), ymd(2025, 12, 31));
        let mean: f64 = (0..365).map(|d| cal.season(d)).sum::<f64>() / 365.0;
        assert!((mean - 1.0).abs() < 0.003, "{mean}");
        // The peak is in late autumn, the trough in early summer.
        assert!(cal.season(cal.day_of(ymd(2023, 12, 1))) > cal.season(cal.day_of(ymd(2023, 6, 1))));
    }

    #[test]
    fn seasonal_days_follow_the_multiplier() {
        let cal = Calendar::new(ymd(2023, 1, 1), ymd(2023, 12, 31));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Two weeks around the peak and two around the trough, Monday to Sunday each.
        let (peak, trough) = (cal.day_of(ymd(2023, 11, 27)), cal.day_of(ymd(2023, 5, 29)));
        let mut counts = [0u32; 2];
        for _ in 0..100_000 {
            let d = cal.seasonal_day(&mut rng, trough, peak + 13);
            assert!((trough..=peak + 13).contains(&d));
            if (peak..peak + 14).contains(&d) {
                counts[0] += 1;
            } else if (trough..trough + 14).contains(&d) {
                counts[1] += 1;
            }
        }
        let ratio = f64::from(counts[0]) / f64::from(counts[1]);
        let want: f64 = (peak..peak + 14).map(|d| cal.season(d)).sum::<f64>()
            / (trough..trough + 14).map(|d| cal.season(d)).sum::<f64>();
        assert!((ratio / want - 1.0).abs() < 0.08, "{ratio} vs {want}");
        assert_eq!(cal.seasonal_day(&mut rng, 40, 40), 40);
    }

    #[test]
    fn day_sampler_follows_the_growth_trend() {
        let cal = Calendar::new(ymd(2023, 1, 1), ymd(2025, 12, 31));
        let s = DaySampler::new(&cal, 0.3, 0.0, 0.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut per_year = [0u32; 3];
        for _ in 0..30_000 {
            let d = s.sample(&mut rng);
            assert!((0..cal.days()).contains(&d));
            per_year[(d / 366).min(2) as usize] += 1;
        }
        // Each year should have about 30 % more sign-ups than the one before.
        let g1 = f64::from(per_year[1]) / f64::from(per_year[0]);
        let g2 = f64::from(per_year[2]) / f64::from(per_year[1]);
        assert!((1.2..1.4).contains(&g1), "{g1}");
        assert!((1.2..1.4).contains(&g2), "{g2}");
    }
}
