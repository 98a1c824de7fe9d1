//! KPI targets: what the company's management set as goals. Each target is the value the
//! generated data actually reaches (by the simple definitions below) times a random factor a
//! little above or below 1, so a KPI report shows some goals met and some missed.

use chrono::Datelike;
use serde_json::{Value, json};

use crate::DemoError;
use crate::calendar::Calendar;
use crate::out::Out;
use crate::sales::SalesTally;
use crate::sample::{self, DemoRng};

/// Targets differ from the actual value by a factor 1 ± U(0.02, 0.12), above with this
/// probability.
pub(crate) const ABOVE_SHARE: f64 = 0.6;
pub(crate) const FACTOR_RANGE: (f64, f64) = (0.02, 0.12);

/// One quarter of the last calendar year of the history.
pub(crate) struct Quarter {
    pub label: String,
    pub revenue_cents: i64,
    pub orders: u64,
    pub active: u64,
    pub new_customers: u64,
}

/// Running totals of the generated data, filled in while it is written.
pub(crate) struct Tally {
    /// Day index → quarter of the last year (index into `quarters`), or none.
    quarter_of_day: Vec<Option<u8>>,
    pub quarters: Vec<Quarter>,
    /// Last calendar year (as far as it lies in the period) and the year before.
    pub last_year: (i32, i32),
    pub prev_year: (i32, i32),
    pub customers: u64,
    pub revenue_cents: i64,
    pub completed_orders: u64,
    pub ly_revenue_cents: i64,
    pub ly_orders: u64,
    pub ly_active: u64,
    pub py_active: u64,
    pub retained: u64,
    pub tickets: u64,
    pub tickets_first_contact: u64,
    pub csat_responses: u64,
    pub csat_satisfied: u64,
    pub surveys: u64,
    pub promoters: u64,
    pub detractors: u64,
    pub renewals_decided: u64,
    pub renewed: u64,
    pub marketing_cents: i64,
    pub campaign_cost_cents: i64,
    pub campaign_revenue_cents: i64,
}

impl Tally {
    pub(crate) fn new(cal: &Calendar) -> Tally {
        let end = cal.date(cal.days() - 1);
        let year = end.year();
        let clamp = |d: i32| d.clamp(0, cal.days() - 1);
        let jan1 = |y: i32| {
            chrono::NaiveDate::from_ymd_opt(y, 1, 1)
                .map(|d| cal.day_of(d))
                .unwrap_or(0)
        };
        let last_year = (clamp(jan1(year)), cal.days() - 1);
        let prev_year = if jan1(year) > 0 {
            (clamp(jan1(year - 1)), jan1(year) - 1)
        } else {
            (1, 0) // empty
        };
        let mut quarter_of_day = vec![None; cal.days() as usize];
        let mut quarters: Vec<Quarter> = Vec::new();
        for day in last_year.0..=last_year.1 {
            let (y, q) = cal.quarter(day);
            let label = format!("{y}-Q{q}");
            if quarters.last().map(|l| l.label != label).unwrap_or(true) {
                quarters.push(Quarter {
                    label,
                    revenue_cents: 0,
                    orders: 0,
                    active: 0,
                    new_customers: 0,
                });
            }
            quarter_of_day[day as usize] = Some((quarters.len() - 1) as u8);
        }
        Tally {
            quarter_of_day,
            quarters,
            last_year,
            prev_year,
            customers: 0,
            revenue_cents: 0,
            completed_orders: 0,
            ly_revenue_cents: 0,
            ly_orders: 0,
            ly_active: 0,
            py_active: 0,
            retained: 0,
            tickets: 0,
            tickets_first_contact: 0,
            csat_responses: 0,
            csat_satisfied: 0,
            surveys: 0,
            promoters: 0,
            detractors: 0,
            renewals_decided: 0,
            renewed: 0,
            marketing_cents: 0,
            campaign_cost_cents: 0,
            campaign_revenue_cents: 0,
        }
    }

    /// Quarter of the last year a day falls in.
    pub(crate) fn quarter(&self, day: i32) -> Option<usize> {
        self.quarter_of_day
            .get(day as usize)
            .copied()
            .flatten()
            .map(usize::from)
    }

    pub(crate) fn in_last_year(&self, day: i32) -> bool {
        (self.last_year.0..=self.last_year.1).contains(&day)
    }

    pub(crate) fn in_prev_year(&self, day: i32) -> bool {
        (self.prev_year.0..=self.prev_year.1).contains(&day)
    }
}

fn ratio(a: f64, b: f64, fallback: f64) -> f64 {
    if b > 0.0 { a / b } else { fallback }
}

/// How a target is rounded and bounded.
#[derive(Clone, Copy)]
enum Kind {
    Money,
    Count,
    Rate,
    Score,
    Days,
}

/// Writes the KPI targets and returns their ground truth (actual, factor, target).
pub(crate) fn write_targets(
    t: &Tally,
    s: &SalesTally,
    rng: &mut DemoRng,
    out: &mut Out,
) -> Result<Value, DemoError> {
    let money = |c: i64| c as f64 / 100.0;
    let mut rows: Vec<(&str, String, f64, Kind)> = Vec::new();
    for q in &t.quarters {
        rows.push((
            "sales_revenue",
            q.label.clone(),
            money(q.revenue_cents),
            Kind::Money,
        ));
        rows.push(("orders", q.label.clone(), q.orders as f64, Kind::Count));
        rows.push((
            "active_customers",
            q.label.clone(),
            q.active as f64,
            Kind::Count,
        ));
        rows.push((
            "new_customers",
            q.label.clone(),
            q.new_customers as f64,
            Kind::Count,
        ));
    }
    let ly_rev = money(t.ly_revenue_cents);
    let churn = 1.0 - ratio(t.retained as f64, t.py_active as f64, 0.7);
    let total_rev = money(t.revenue_cents);
    let marketing = money(t.marketing_cents);
    let campaign_cost = money(t.campaign_cost_cents);
    let nps = 100.0
        * ratio(
            t.promoters as f64 - t.detractors as f64,
            t.surveys as f64,
            0.0,
        );
    let overall: [(&str, f64, Kind); 16] = [
        (
            "average_purchase_value",
            ratio(ly_rev, t.ly_orders as f64, 0.0),
            Kind::Money,
        ),
        (
            "purchase_frequency",
            ratio(t.ly_orders as f64, t.ly_active as f64, 0.0),
            Kind::Score,
        ),
        ("churn_rate", churn, Kind::Rate),
        ("retention_rate", 1.0 - churn, Kind::Rate),
        ("arpu", ratio(ly_rev, t.customers as f64, 0.0), Kind::Money),
        (
            "historical_cltv",
            ratio(total_rev, t.customers as f64, 0.0),
            Kind::Money,
        ),
        (
            "cac",
            ratio(marketing, t.customers as f64, 0.0),
            Kind::Money,
        ),
        (
            "marketing_roi",
            ratio(
                money(t.campaign_revenue_cents) - campaign_cost,
                campaign_cost,
                0.0,
            ),
            Kind::Score,
        ),
        (
            "lead_conversion_rate",
            ratio(s.leads_converted as f64, s.leads as f64, 0.0),
            Kind::Rate,
        ),
        (
            "win_rate",
            ratio(s.won as f64, (s.won + s.lost) as f64, 0.0),
            Kind::Rate,
        ),
        (
            "average_deal_size",
            ratio(money(s.won_cents), s.won as f64, 0.0),
            Kind::Money,
        ),
        (
            "sales_cycle_days",
            ratio(s.won_cycle_days, s.won as f64, 0.0),
            Kind::Days,
        ),
        (
            "csat",
            ratio(t.csat_satisfied as f64, t.csat_responses as f64, 0.0),
            Kind::Rate,
        ),
        ("nps", nps, Kind::Score),
        (
            "first_contact_resolution",
            ratio(t.tickets_first_contact as f64, t.tickets as f64, 0.0),
            Kind::Rate,
        ),
        (
            "renewal_rate",
            ratio(t.renewed as f64, t.renewals_decided as f64, 0.0),
            Kind::Rate,
        ),
    ];
    for (kpi, actual, kind) in overall {
        rows.push((kpi, String::new(), actual, kind));
    }

    let mut truth = Vec::with_capacity(rows.len());
    let mut churn_target = None;
    for (kpi, period, actual, kind) in rows {
        let size = sample::uniform(rng, FACTOR_RANGE.0, FACTOR_RANGE.1);
        let mut factor = if sample::chance(rng, ABOVE_SHARE) {
            1.0 + size
        } else {
            1.0 - size
        };
        // Retention is the complement of churn: its target is too, or the two would disagree.
        if let ("retention_rate", Some(c)) = (kpi, churn_target)
            && actual > 0.0
        {
            factor = (1.0 - c) / actual;
        }
        let (target, decimals) = match kind {
            Kind::Money => ((actual * factor * 100.0).round() / 100.0, 2),
            Kind::Count => ((actual * factor).round(), 0),
            Kind::Rate => (
                ((actual * factor).clamp(0.0, 1.0) * 1000.0).round() / 1000.0,
                3,
            ),
            Kind::Score if kpi == "nps" => (
                ((actual * factor).clamp(-100.0, 100.0) * 10.0).round() / 10.0,
                1,
            ),
            Kind::Score => ((actual * factor * 1000.0).round() / 1000.0, 3),
            Kind::Days => ((actual * factor * 10.0).round() / 10.0, 1),
        };
        if kpi == "churn_rate" {
            churn_target = Some(target);
        }
        out.s(kpi).fixed(target, decimals).s(&period).end()?;
        truth.push(json!({
            "kpi": kpi,
            "period": period,
            "actual": actual,
            "factor": factor,
            "target": target,
        }));
    }
    Ok(json!({
        "targets": truth,
        "rule": format!("target = actual × (1 ± U({}, {})), above with probability {ABOVE_SHARE}; rates clamped to [0, 1]; the retention_rate target is 1 − the churn_rate target", FACTOR_RANGE.0, FACTOR_RANGE.1),
        "actual_definitions": {
            "sales_revenue": "Σ total_amount of completed orders in the quarter",
            "orders": "completed orders in the quarter",
            "active_customers": "customers with a completed order in the quarter",
            "new_customers": "customers whose signup_date is in the quarter",
            "average_purchase_value": "last calendar year: revenue / completed orders",
            "purchase_frequency": "last calendar year: completed orders / customers with one",
            "churn_rate": "share of customers with a completed order in the year before the last who have none in the last",
            "retention_rate": "1 − churn_rate",
            "arpu": "last calendar year's revenue / all customers",
            "historical_cltv": "all-time completed revenue / all customers",
            "cac": "all marketing spend / all customers",
            "marketing_roi": "(completed revenue of orders with a campaign_id − campaign costs) / campaign costs",
            "lead_conversion_rate": "leads with converted_at / leads",
            "win_rate": "won / (won + lost) deals",
            "average_deal_size": "mean amount of won deals",
            "sales_cycle_days": "mean days from created_at to closed_at of won deals",
            "csat": "share of ticket csat answers that are 4 or 5",
            "nps": "100 × (promoters (9–10) − detractors (0–6)) / responses",
            "first_contact_resolution": "share of tickets with contacts = 1",
            "renewal_rate": "renewed / subscription terms whose renewal date has passed",
        },
    }))
}
