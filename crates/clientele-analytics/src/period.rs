//! Report periods: which dates a report covers and which earlier period it compares with.

use chrono::{Datelike, Months, NaiveDate};

use crate::{AnalyticsError, Engine};

/// A closed range of calendar dates a report covers, and how to find the period before it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Period {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// `2025-Q4`, `2025-11`, `2025` for whole calendar periods (the key KPI targets are
    /// matched on); otherwise a description such as `2025-10-01..2025-11-15`.
    pub label: String,
    #[serde(skip)]
    unit_months: Option<u32>,
    #[serde(skip)]
    cut: bool,
}

impl Period {
    /// A period of arbitrary dates. The previous period is the same number of days right
    /// before it.
    pub fn custom(from: NaiveDate, to: NaiveDate) -> Result<Period, AnalyticsError> {
        if to < from {
            return Err(AnalyticsError::parameter(
                "from",
                from,
                format!("is after the last day ({to}): the period must start before it ends"),
            ));
        }
        Ok(Period {
            from,
            to,
            label: format!("{from}..{to}"),
            unit_months: None,
            cut: false,
        })
    }

    /// The calendar quarter holding `day`, cut at `day` when `day` is before its end.
    pub fn quarter_to(day: NaiveDate) -> Period {
        let q0 = (day.month0() / 3) * 3 + 1;
        let start = NaiveDate::from_ymd_opt(day.year(), q0, 1).expect("quarter start");
        Period::calendar(start, 3, Some(day))
    }

    fn calendar(start: NaiveDate, months: u32, cut: Option<NaiveDate>) -> Period {
        let end = start + Months::new(months) - chrono::Days::new(1);
        let label = match months {
            12 => format!("{}", start.year()),
            3 => format!("{}-Q{}", start.year(), start.month0() / 3 + 1),
            _ => format!("{}-{:02}", start.year(), start.month()),
        };
        match cut.filter(|c| *c < end) {
            Some(c) => Period {
                from: start,
                to: c,
                label: format!("{label} to {c}"),
                unit_months: Some(months),
                cut: true,
            },
            None => Period {
                from: start,
                to: end,
                label,
                unit_months: Some(months),
                cut: false,
            },
        }
    }

    /// Parses `YYYY`, `YYYY-Qn` or `YYYY-MM`.
    pub fn parse_calendar(text: &str) -> Result<Period, AnalyticsError> {
        let bad = || {
            AnalyticsError::parameter(
                "period",
                format!("'{text}'"),
                "is not a calendar period: expected YYYY, YYYY-Qn or YYYY-MM (e.g. 2025, 2025-Q4, 2025-11)",
            )
        };
        let t = text.trim();
        let (y, rest) = t.split_once('-').map_or((t, None), |(y, r)| (y, Some(r)));
        let year: i32 = y.parse().map_err(|_| bad())?;
        if !(1900..=2100).contains(&year) {
            return Err(bad());
        }
        let (month, months) = match rest {
            None => (1, 12),
            Some(r) if r.starts_with(['Q', 'q']) => {
                let q: u32 = r[1..].parse().map_err(|_| bad())?;
                if !(1..=4).contains(&q) {
                    return Err(bad());
                }
                ((q - 1) * 3 + 1, 3)
            }
            Some(r) => {
                let m: u32 = r.parse().map_err(|_| bad())?;
                if !(1..=12).contains(&m) {
                    return Err(bad());
                }
                (m, 1)
            }
        };
        let start = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        Ok(Period::calendar(start, months, None))
    }

    /// Number of days covered.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Whether this is a calendar period cut short at a day before its end
    /// (`2025-Q4 to 2025-11-15`).
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// Months of a calendar period (12, 3 or 1; also for a cut one); `None` for a custom one.
    pub fn months(&self) -> Option<u32> {
        self.unit_months
    }

    /// The whole calendar period a cut one is the start of (itself when it is not cut);
    /// `None` for a custom period. Its label is the one KPI targets are matched on.
    pub fn whole(&self) -> Option<Period> {
        self.unit_months
            .map(|m| Period::calendar(self.from, m, None))
    }

    /// The last calendar quarter that is complete on `day`: the quarter holding `day` when
    /// `day` is its last day, else the quarter before it.
    pub fn last_complete_quarter(day: NaiveDate) -> Period {
        let q = Period::quarter_to(day);
        if q.cut {
            Period::calendar(q.from - Months::new(3), 3, None)
        } else {
            q
        }
    }

    /// The period compared against: the previous calendar period of the same kind (cut to
    /// the same number of days when this one is cut), or the same number of days right
    /// before a custom period.
    pub fn previous(&self) -> Period {
        match self.unit_months {
            Some(m) => {
                let start = self.from - Months::new(m);
                let full = Period::calendar(start, m, None);
                let cut = start + chrono::Days::new(self.days() as u64 - 1);
                if self.cut && cut < full.to {
                    Period::calendar(start, m, Some(cut))
                } else {
                    full
                }
            }
            None => {
                let to = self.from - chrono::Days::new(1);
                let from = self.from - chrono::Days::new(self.days() as u64);
                Period {
                    from,
                    to,
                    label: format!("{from}..{to}"),
                    unit_months: None,
                    cut: false,
                }
            }
        }
    }

    /// SQL predicate that a DATE expression lies in the period.
    pub fn contains_date(&self, expr: &str) -> String {
        format!(
            "({expr} BETWEEN DATE '{}' AND DATE '{}')",
            self.from, self.to
        )
    }

    /// SQL predicate that a TIMESTAMP expression falls on a day of the period (UTC).
    pub fn contains_ts(&self, expr: &str) -> String {
        self.contains_date(&format!("CAST({expr} AS DATE)"))
    }
}

/// The period a report covers when the user gave `from`/`to`/`period` or nothing: explicit
/// dates win; a calendar label (`2025-Q4`) next; by default the last complete calendar
/// quarter of the data (see [`default_periods`]).
pub async fn resolve_period(
    engine: &Engine,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    calendar: Option<&str>,
) -> Result<Period, AnalyticsError> {
    if let Some(label) = calendar {
        if from.is_some() || to.is_some() {
            return Err(AnalyticsError::Usage(
                "give either a calendar period or from/to dates, not both".into(),
            ));
        }
        return Period::parse_calendar(label);
    }
    match (from, to) {
        (Some(f), Some(t)) => Period::custom(f, t),
        (Some(f), None) => {
            let latest = crate::util::latest_order_date(engine).await?;
            Period::custom(f, latest.unwrap_or(f).max(f))
        }
        (None, Some(t)) => Ok(Period::quarter_to(t)),
        (None, None) => Ok(default_periods(engine).await?.0),
    }
}

/// The default period of a report and the partial quarter "to date" beside it, from the
/// data's last day (the latest completed order):
///
/// - when that day is the last day of its calendar quarter, that quarter, and no partial one;
/// - otherwise the quarter before it (the last complete quarter, compared with the one
///   before, so churn and retention compare two whole quarters and quarter targets match
///   its label), and the current quarter cut at that day as the partial one (`2025-Q4 to
///   2025-11-15`), which the KPI report shows "to date" with prorated targets;
/// - but when no completed order is dated before the current quarter (the data holds no
///   complete quarter), the current quarter to date itself, and no partial one.
pub async fn default_periods(engine: &Engine) -> Result<(Period, Option<Period>), AnalyticsError> {
    let Some(latest) = crate::util::latest_order_date(engine).await? else {
        return Err(AnalyticsError::MissingData(
            "there are no orders to choose a default period from; give the first and last day (from, to)"
                .into(),
        ));
    };
    let current = Period::quarter_to(latest);
    if !current.cut {
        return Ok((current, None));
    }
    let first = engine
        .scalar("SELECT CAST(MIN(order_date) AS INT) FROM sales")
        .await?
        .map(|d| clientele_schema::days_to_date(d as i32));
    if first.is_none_or(|f| f >= current.from) {
        return Ok((current, None));
    }
    Ok((Period::last_complete_quarter(latest), Some(current)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn quarters_and_their_predecessors() {
        let p = Period::quarter_to(d("2025-12-31"));
        assert_eq!(
            (p.from, p.to, p.label.as_str()),
            (d("2025-10-01"), d("2025-12-31"), "2025-Q4")
        );
        let q = p.previous();
        assert_eq!(
            (q.from, q.to, q.label.as_str()),
            (d("2025-07-01"), d("2025-09-30"), "2025-Q3")
        );
        let cut = Period::quarter_to(d("2025-11-15"));
        assert_eq!(cut.label, "2025-Q4 to 2025-11-15");
        assert_eq!(cut.days(), 46);
        let prev = cut.previous();
        assert_eq!((prev.from, prev.to), (d("2025-07-01"), d("2025-08-15")));
        let jan = Period::parse_calendar("2025-Q1").unwrap().previous();
        assert_eq!(
            (jan.from, jan.to, jan.label.as_str()),
            (d("2024-10-01"), d("2024-12-31"), "2024-Q4")
        );
    }

    /// The default period is the last complete quarter: a quarter ending on the data's
    /// last day is complete; a day inside a quarter gives the quarter before.
    #[test]
    fn the_last_complete_quarter_of_a_day() {
        for (day, label) in [
            ("2025-12-31", "2025-Q4"),
            ("2025-12-30", "2025-Q3"),
            ("2025-11-15", "2025-Q3"),
            ("2025-10-01", "2025-Q3"),
            ("2025-02-10", "2024-Q4"),
            ("2025-03-31", "2025-Q1"),
        ] {
            let p = Period::last_complete_quarter(d(day));
            assert_eq!(p.label, label, "{day}");
            assert!(!p.is_cut() && p.months() == Some(3), "{day}");
        }
        let cut = Period::quarter_to(d("2025-11-15"));
        let whole = cut.whole().unwrap();
        assert_eq!((whole.label.as_str(), whole.days()), ("2025-Q4", 92));
        assert!(cut.is_cut() && !whole.is_cut());
        assert!(
            Period::custom(d("2025-01-01"), d("2025-01-09"))
                .unwrap()
                .whole()
                .is_none()
        );
    }

    #[test]
    fn custom_periods_compare_with_the_days_before() {
        let p = Period::custom(d("2025-03-01"), d("2025-03-10")).unwrap();
        let q = p.previous();
        assert_eq!((q.from, q.to), (d("2025-02-19"), d("2025-02-28")));
        assert!(Period::custom(d("2025-03-10"), d("2025-03-01")).is_err());
    }

    #[test]
    fn calendar_labels_parse() {
        assert_eq!(Period::parse_calendar("2024").unwrap().to, d("2024-12-31"));
        assert_eq!(
            Period::parse_calendar("2024-02").unwrap().to,
            d("2024-02-29")
        );
        let m = Period::parse_calendar("2024-03").unwrap().previous();
        assert_eq!(
            (m.from, m.to, m.label.as_str()),
            (d("2024-02-01"), d("2024-02-29"), "2024-02")
        );
        for bad in ["24", "2024-Q5", "2024-13", "Q4", "2024-Qx"] {
            assert!(Period::parse_calendar(bad).is_err(), "{bad}");
        }
    }
}
