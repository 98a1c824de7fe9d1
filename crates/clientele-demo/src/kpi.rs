//! KPI targets: what the company's management set as goals. Each target is the value the
//! generated data actually reaches, by the definitions of `docs/metrics.md`, times a random
//! factor a little above or below 1, so a KPI report shows some goals met and some missed.
//!
//! Quarterly KPIs (revenue, orders, active and new customers) get one target per quarter of
//! the report quarter's calendar year up to it. The others get one target with an empty
//! period, set from the *report quarter*: the last complete quarter of the history, the
//! period a KPI report shows by default (see `tally`). When the history ends inside a later
//! quarter, the KPI report shows that quarter "to date" with its targets prorated by days,
//! so the sums (revenue, orders, new customers) also get a target for it: the value reached
//! to date extrapolated to the whole quarter (× its days / the days in the history), times
//! the factor, so that prorated back it is the value to date times the factor.
//!
//! May use: `tally` (the totals every other part counted), `out`, `sample`. It runs last and
//! reads no other part of the company, so nothing may import it.

use serde_json::{Value, json};

use crate::DemoError;
use crate::out::Out;
use crate::sample::{self, DemoRng};
use crate::tally::{SalesTally, Tally};

/// Targets differ from the actual value by a factor 1 ± U(0.02, 0.12), above with this
/// probability.
pub(crate) const ABOVE_SHARE: f64 = 0.6;
pub(crate) const FACTOR_RANGE: (f64, f64) = (0.02, 0.12);
/// Used for churn when no customer was active in the quarter before the report quarter.
pub(crate) const DEFAULT_CHURN: f64 = 0.3;

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

/// One target to set: KPI, period label (empty for the report quarter), actual value, kind.
type Actual = (&'static str, String, f64, Kind);

/// The actual value of every KPI with a target, by the definitions of `docs/metrics.md`, in
/// the order the targets are written (and their factors drawn).
fn actuals(t: &Tally, s: &SalesTally) -> Vec<Actual> {
    let money = |c: i64| c as f64 / 100.0;
    let mut rows: Vec<Actual> = Vec::new();
    let last = &t.quarters[t.report_quarter()];
    for q in t.quarters[..=t.report_quarter()]
        .iter()
        .filter(|q| q.year == last.year)
    {
        let label = &q.label;
        rows.push((
            "sales_revenue",
            label.clone(),
            money(q.revenue_cents),
            Kind::Money,
        ));
        rows.push(("orders", label.clone(), q.orders as f64, Kind::Count));
        rows.push((
            "active_customers",
            label.clone(),
            q.active as f64,
            Kind::Count,
        ));
        rows.push((
            "new_customers",
            label.clone(),
            q.new_customers as f64,
            Kind::Count,
        ));
    }
    if let (Some((days, whole)), Some(q)) = (t.to_date_days, t.quarters.last()) {
        let scale = f64::from(whole) / f64::from(days);
        for (kpi, actual, kind) in [
            ("sales_revenue", money(q.revenue_cents), Kind::Money),
            ("orders", q.orders as f64, Kind::Count),
            ("new_customers", q.new_customers as f64, Kind::Count),
        ] {
            rows.push((kpi, q.label.clone(), actual * scale, kind));
        }
    }
    let rev = money(last.revenue_cents);
    // Revenue and buyers up to the report quarter's end, for the historical CLTV.
    let upto = &t.quarters[..=t.report_quarter()];
    // Guest orders are revenue and orders but no customer's: left out of the per-customer
    // figures, as the KPI definitions say.
    let revenue_to_date: i64 = upto
        .iter()
        .map(|q| q.revenue_cents - q.guest_revenue_cents)
        .sum();
    let customer_rev = money(last.revenue_cents - last.guest_revenue_cents);
    let customer_orders = (last.orders - last.guest_orders) as f64;
    let buyers_to_date: u64 = upto.iter().map(|q| q.new_customers).sum();
    let spend = money(last.spend_cents);
    let churn = 1.0 - ratio(t.retained as f64, t.prev_active as f64, 1.0 - DEFAULT_CHURN);
    let nps = 100.0
        * ratio(
            t.promoters as f64 - t.detractors as f64,
            t.surveys as f64,
            0.0,
        );
    let overall: [(&str, f64, Kind); 16] = [
        (
            "average_purchase_value",
            ratio(rev, last.orders as f64, 0.0),
            Kind::Money,
        ),
        (
            "purchase_frequency",
            ratio(customer_orders, last.active as f64, 0.0),
            Kind::Score,
        ),
        ("churn_rate", churn, Kind::Rate),
        ("retention_rate", 1.0 - churn, Kind::Rate),
        (
            "arpu",
            ratio(customer_rev, last.active as f64, 0.0),
            Kind::Money,
        ),
        (
            "historical_cltv",
            ratio(money(revenue_to_date), buyers_to_date as f64, 0.0),
            Kind::Money,
        ),
        (
            "cac",
            ratio(spend, last.new_customers as f64, 0.0),
            Kind::Money,
        ),
        (
            "marketing_roi",
            ratio(money(last.campaign_revenue_cents) - spend, spend, 0.0),
            Kind::Score,
        ),
        (
            "lead_conversion_rate",
            // The report quarter's leads whose 90-day window has closed; when none has (the
            // quarter is younger than the window), the KPI is undefined and the target is set
            // from every lead with a closed window instead.
            if s.report_leads_closed > 0 {
                ratio(
                    s.report_leads_converted as f64,
                    s.report_leads_closed as f64,
                    0.0,
                )
            } else {
                ratio(
                    s.leads_converted_in_window as f64,
                    s.leads_closed as f64,
                    0.0,
                )
            },
            Kind::Rate,
        ),
        (
            "win_rate",
            ratio(
                s.report_won as f64,
                (s.report_won + s.report_lost) as f64,
                0.0,
            ),
            Kind::Rate,
        ),
        (
            "average_deal_size",
            ratio(money(s.report_won_cents), s.report_won as f64, 0.0),
            Kind::Money,
        ),
        (
            "sales_cycle_days",
            ratio(s.report_won_cycle_days, s.report_won as f64, 0.0),
            Kind::Days,
        ),
        (
            "csat",
            ratio(t.tickets_satisfied as f64, t.tickets_rated as f64, 0.0),
            Kind::Rate,
        ),
        ("nps", nps, Kind::Score),
        (
            "first_contact_resolution",
            ratio(
                t.tickets_first_contact as f64,
                t.tickets_resolved as f64,
                0.0,
            ),
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
    rows
}

/// Writes the KPI targets and returns their ground truth (actual, factor, target).
pub(crate) fn write_targets(
    t: &Tally,
    s: &SalesTally,
    rng: &mut DemoRng,
    out: &mut Out,
) -> Result<Value, DemoError> {
    let rows = actuals(t, s);
    let last = &t.quarters[t.report_quarter()];
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
    let to_date = t.to_date_days.zip(t.quarters.last()).map(|((days, whole), q)| {
        json!({
            "quarter": q.label,
            "days": days,
            "of_days": whole,
            "rule": "the sums (sales_revenue, orders, new_customers) of this quarter have a target for the whole quarter: the value to date × of_days / days × the factor, which a KPI report prorates back × days / of_days",
        })
    });
    let guests: Vec<Value> = t
        .quarters
        .iter()
        .map(|q| {
            json!({
                "quarter": q.label,
                "orders": q.guest_orders,
                "revenue": q.guest_revenue_cents as f64 / 100.0,
            })
        })
        .collect();
    Ok(json!({
        "targets": truth,
        "guest_orders_per_quarter": guests,
        "guest_rule": "sales_revenue and orders count the guest orders (no customer_id) of guest_orders_per_quarter; purchase_frequency, arpu and historical_cltv leave them out",
        "report_quarter": last.label,
        "to_date_quarter": to_date,
        "rule": format!("target = actual × (1 ± U({}, {})), above with probability {ABOVE_SHARE}; rates clamped to [0, 1]; the retention_rate target is 1 − the churn_rate target", FACTOR_RANGE.0, FACTOR_RANGE.1),
        "actual_definitions": "as in docs/metrics.md; quarterly KPIs (sales_revenue, orders, active_customers, new_customers) per quarter of the report quarter's calendar year up to it, the others over the report quarter (the last complete quarter of the history: the last one when the end date is a quarter's last day, else the one before; its previous period is the quarter before)",
        "default_churn_when_undefined": DEFAULT_CHURN,
    }))
}
