//! The actual values the generated data reaches, counted while it is written: per quarter
//! (revenue, orders, active and new customers, campaign revenue, spend), over the report
//! quarter (tickets, surveys, renewals), and on the sales side (leads, deals). The report
//! quarter is the period a KPI report shows by default: the last complete calendar quarter
//! of the history (the last one when the end date is a quarter's last day, else the one
//! before; the only one when the history holds no complete quarter). The KPI targets
//! are set from them, so a target is never computed by reading the CSV files back.
//!
//! May use: `calendar` only. Every part that writes data (`marketing`, `customers`, `sales`)
//! adds to these totals and `kpi` reads them; keeping the totals here, apart from both, is
//! what keeps the modules from importing each other in a circle.

use chrono::Datelike;

use crate::calendar::Calendar;

/// One calendar quarter of the history.
pub(crate) struct Quarter {
    pub label: String,
    pub year: i32,
    /// Completed orders: revenue and count.
    pub revenue_cents: i64,
    pub orders: u64,
    /// Customers with a completed order in the quarter.
    pub active: u64,
    /// Customers whose first completed order ever is in the quarter.
    pub new_customers: u64,
    /// Completed guest orders (no customer): their revenue and count, included above.
    pub guest_revenue_cents: i64,
    pub guest_orders: u64,
    /// Completed revenue of orders that carry a campaign_id.
    pub campaign_revenue_cents: i64,
    /// All marketing spend dated in the quarter.
    pub spend_cents: i64,
}

/// Running totals of the consumer side and the marketing spend.
pub(crate) struct Tally {
    /// Day index → index into `quarters`.
    quarter_of_day: Vec<u16>,
    pub quarters: Vec<Quarter>,
    /// Index of the report quarter in `quarters`.
    report: usize,
    /// When the history ends inside a quarter after the report quarter: its days in the
    /// history and its days in all (the quarter "to date" of the KPI report).
    pub to_date_days: Option<(u32, u32)>,
    /// Customers active in the quarter before the report quarter, and those of them also
    /// active in the report quarter.
    pub prev_active: u64,
    pub retained: u64,
    /// Report quarter: tickets opened (rated, satisfied, resolved, resolved at first contact).
    pub tickets_rated: u64,
    pub tickets_satisfied: u64,
    pub tickets_resolved: u64,
    pub tickets_first_contact: u64,
    /// Report quarter: survey answers.
    pub surveys: u64,
    pub promoters: u64,
    pub detractors: u64,
    /// Report quarter: subscription terms due with a known outcome, and renewed.
    pub renewals_decided: u64,
    pub renewed: u64,
}

impl Tally {
    pub(crate) fn new(cal: &Calendar) -> Tally {
        let mut quarter_of_day = Vec::with_capacity(cal.days() as usize);
        let mut quarters: Vec<Quarter> = Vec::new();
        for day in 0..cal.days() {
            let (year, q) = cal.quarter(day);
            let label = format!("{year}-Q{q}");
            if quarters.last().is_none_or(|l| l.label != label) {
                quarters.push(Quarter {
                    label,
                    year,
                    revenue_cents: 0,
                    orders: 0,
                    active: 0,
                    new_customers: 0,
                    campaign_revenue_cents: 0,
                    guest_revenue_cents: 0,
                    guest_orders: 0,
                    spend_cents: 0,
                });
            }
            quarter_of_day.push((quarters.len() - 1) as u16);
        }
        // The end date is a quarter's last day when the next day starts a quarter.
        let end = cal.date(cal.days() - 1);
        let next = end.succ_opt().unwrap_or(end);
        let complete = next.day() == 1 && next.month0().is_multiple_of(3);
        let last = quarters.len() - 1;
        let (report, to_date_days) = if complete || last == 0 {
            (last, None)
        } else {
            let first = end.with_day(1).unwrap_or(end) - chrono::Months::new(end.month0() % 3);
            let whole = (first + chrono::Months::new(3) - first).num_days() as u32;
            (last - 1, Some(((end - first).num_days() as u32 + 1, whole)))
        };
        Tally {
            quarter_of_day,
            quarters,
            report,
            to_date_days,
            prev_active: 0,
            retained: 0,
            tickets_rated: 0,
            tickets_satisfied: 0,
            tickets_resolved: 0,
            tickets_first_contact: 0,
            surveys: 0,
            promoters: 0,
            detractors: 0,
            renewals_decided: 0,
            renewed: 0,
        }
    }

    /// Quarter index of a day of the period.
    pub(crate) fn quarter(&self, day: i32) -> usize {
        let d = day.clamp(0, self.quarter_of_day.len() as i32 - 1) as usize;
        usize::from(self.quarter_of_day[d])
    }

    /// Index of the report quarter (the last complete one).
    pub(crate) fn report_quarter(&self) -> usize {
        self.report
    }

    /// Whether a day lies in the report quarter.
    pub(crate) fn in_report(&self, day: i32) -> bool {
        (0..self.quarter_of_day.len() as i32).contains(&day)
            && self.quarter(day) == self.report_quarter()
    }

    /// First and last day of the report quarter.
    pub(crate) fn report_days(&self) -> (i32, i32) {
        let q = self.report_quarter() as u16;
        let first = self
            .quarter_of_day
            .iter()
            .position(|x| *x == q)
            .unwrap_or(0);
        let last = self
            .quarter_of_day
            .iter()
            .rposition(|x| *x == q)
            .unwrap_or(0);
        (first as i32, last as i32)
    }

    /// Records one customer's quarters with a completed order (ascending, deduplicated).
    pub(crate) fn customer_quarters(&mut self, active: &[usize]) {
        for q in active {
            self.quarters[*q].active += 1;
        }
        let report = self.report_quarter();
        if report > 0 && active.contains(&(report - 1)) {
            self.prev_active += 1;
            self.retained += u64::from(active.contains(&report));
        }
    }
}

/// Running totals of the sales side.
#[derive(Default)]
pub(crate) struct SalesTally {
    pub leads: u64,
    pub leads_converted: u64,
    pub leads_would_convert: u64,
    pub deals: u64,
    pub won: u64,
    pub lost: u64,
    pub open: u64,
    pub won_cents: i64,
    pub won_cycle_days: f64,
    /// Leads whose conversion window has closed by the leads' as-of day, and those of them
    /// that converted within it (the KPI's definition).
    pub leads_closed: u64,
    pub leads_converted_in_window: u64,
    /// Report quarter: leads created in it, those whose window has closed, those of them that
    /// converted within it; deals closed in it.
    pub report_leads: u64,
    pub report_leads_closed: u64,
    pub report_leads_converted: u64,
    pub report_won: u64,
    pub report_lost: u64,
    pub report_won_cents: i64,
    pub report_won_cycle_days: f64,
}
