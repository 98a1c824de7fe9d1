//! Regular calendar periods (days, ISO weeks, months, quarters) as integer indexes, so a
//! series can be zero-filled, checked for gaps and labelled the same way everywhere.

use chrono::{Datelike, NaiveDate};

/// The width of one period of a series.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Calendar days.
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
}

impl Step {
    /// Its name, as the flag takes it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Day => "day",
            Step::Week => "week",
            Step::Month => "month",
            Step::Quarter => "quarter",
        }
    }

    /// The season length a series of this step has by default: a week of days, a year of
    /// weeks, months or quarters.
    pub fn season(self) -> usize {
        match self {
            Step::Day => 7,
            Step::Week => 52,
            Step::Month => 12,
            Step::Quarter => 4,
        }
    }

    /// The default horizon: a year of months or quarters, a quarter of weeks, four weeks of days.
    pub fn default_horizon(self) -> usize {
        match self {
            Step::Day => 28,
            Step::Week => 13,
            Step::Month => 12,
            Step::Quarter => 4,
        }
    }

    /// The index of the period holding `d` (consecutive periods have consecutive indexes).
    pub fn index_of(self, d: NaiveDate) -> i64 {
        let days = i64::from(d.num_days_from_ce());
        match self {
            Step::Day => days,
            // Day 1 of the common era was a Monday, so weeks start on Mondays.
            Step::Week => (days - 1).div_euclid(7),
            Step::Month => i64::from(d.year()) * 12 + i64::from(d.month0()),
            Step::Quarter => i64::from(d.year()) * 4 + i64::from(d.month0() / 3),
        }
    }

    /// The first day of period `index`.
    pub fn start(self, index: i64) -> Option<NaiveDate> {
        match self {
            Step::Day => NaiveDate::from_num_days_from_ce_opt(i32::try_from(index).ok()?),
            Step::Week => NaiveDate::from_num_days_from_ce_opt(i32::try_from(index * 7 + 1).ok()?),
            Step::Month => NaiveDate::from_ymd_opt(
                i32::try_from(index.div_euclid(12)).ok()?,
                u32::try_from(index.rem_euclid(12)).ok()? + 1,
                1,
            ),
            Step::Quarter => NaiveDate::from_ymd_opt(
                i32::try_from(index.div_euclid(4)).ok()?,
                u32::try_from(index.rem_euclid(4)).ok()? * 3 + 1,
                1,
            ),
        }
    }

    /// The last day of period `index`.
    pub fn end(self, index: i64) -> Option<NaiveDate> {
        self.start(index + 1)?.pred_opt()
    }

    /// How the period is written: `2024-03-01` (a day, or the Monday of a week), `2024-03`,
    /// `2024-Q1`.
    pub fn label(self, index: i64) -> String {
        match self {
            Step::Day | Step::Week => self
                .start(index)
                .map_or_else(|| index.to_string(), |d| d.to_string()),
            Step::Month => format!("{}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1),
            Step::Quarter => format!("{}-Q{}", index.div_euclid(4), index.rem_euclid(4) + 1),
        }
    }
}

/// Reads a period as a series file writes one: a date the data model reads (`2024-03-01`,
/// an ISO timestamp, `20240301`), a month `2024-03` or `2024/03`, or a quarter `2024-Q1` /
/// `2024Q1`. Months and quarters are their first day.
pub fn parse_period(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if let Some(d) = clientele_schema::parse_date(t) {
        return Some(d);
    }
    let upper = t.to_ascii_uppercase();
    if let Some((y, q)) = upper
        .split_once("-Q")
        .or_else(|| upper.split_once('Q'))
        .or_else(|| upper.split_once(" Q"))
    {
        let (y, q): (i32, u32) = (y.trim().parse().ok()?, q.trim().parse().ok()?);
        return (1..=4)
            .contains(&q)
            .then(|| NaiveDate::from_ymd_opt(y, (q - 1) * 3 + 1, 1))
            .flatten();
    }
    let (y, m) = t.split_once('-').or_else(|| t.split_once('/'))?;
    if y.len() != 4 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

/// The step of a series of sorted, distinct days: the step whose consecutive periods they
/// all are, trying the finest first. `None` when no step fits (gaps, mixed spacing).
pub fn infer_step(days: &[NaiveDate]) -> Option<Step> {
    [Step::Day, Step::Week, Step::Month, Step::Quarter]
        .into_iter()
        .find(|&s| {
            days.windows(2)
                .all(|w| s.index_of(w[1]) == s.index_of(w[0]) + 1)
                && (s != Step::Week || days.iter().all(|d| d.weekday() == days[0].weekday()))
                // Quarters are dated at one place in the quarter: months two apart (a
                // monthly series with a gap) are not consecutive quarters.
                && (s != Step::Quarter
                    || days.iter().all(|d| d.month0() % 3 == days[0].month0() % 3))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Indexes are consecutive across year ends and weeks start on Mondays, by the calendar.
    #[test]
    fn periods_by_the_calendar() {
        assert_eq!(
            Step::Month.index_of(d("2025-01-31")),
            Step::Month.index_of(d("2024-12-01")) + 1
        );
        assert_eq!(
            Step::Quarter.label(Step::Quarter.index_of(d("2024-08-15"))),
            "2024-Q3"
        );
        // 2024-12-30 is a Monday, 2024-12-29 a Sunday.
        let w = Step::Week.index_of(d("2024-12-29"));
        assert_eq!(Step::Week.index_of(d("2024-12-30")), w + 1);
        assert_eq!(Step::Week.start(w + 1), Some(d("2024-12-30")));
        assert_eq!(Step::Week.end(w), Some(d("2024-12-29")));
        assert_eq!(
            Step::Month.end(Step::Month.index_of(d("2024-02-10"))),
            Some(d("2024-02-29"))
        );
        assert_eq!(
            Step::Day.label(Step::Day.index_of(d("2024-02-10"))),
            "2024-02-10"
        );
    }

    #[test]
    fn period_texts_and_steps() {
        assert_eq!(parse_period("1949-01"), Some(d("1949-01-01")));
        assert_eq!(parse_period("1960-Q3"), Some(d("1960-07-01")));
        assert_eq!(parse_period("1960Q4"), Some(d("1960-10-01")));
        assert_eq!(parse_period("2024-03-05"), Some(d("2024-03-05")));
        assert_eq!(parse_period("1960-Q5"), None);
        assert_eq!(parse_period("sometime"), None);
        let months = [d("2024-11-01"), d("2024-12-01"), d("2025-01-01")];
        assert_eq!(infer_step(&months), Some(Step::Month));
        let weeks = [d("2024-12-23"), d("2024-12-30"), d("2025-01-06")];
        assert_eq!(infer_step(&weeks), Some(Step::Week));
        let gap = [d("2024-11-01"), d("2025-01-01")];
        assert_eq!(infer_step(&gap), None);
    }
}
