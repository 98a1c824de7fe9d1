//! The business-to-business side: sales reps with a hidden performance multiplier, leads whose
//! conversion follows a known logistic model, and deals that move through the pipeline stages
//! with known advance probabilities and durations.
//!
//! May use: `calendar`, `out`, `sample`, `world`, the campaigns of `marketing`, and `tally`
//! to count what it wrote. It runs after the customers but reads them only as the
//! [`CustomerFacts`] it defines here, so it must not import `customers` (nor `kpi`).

use serde_json::{Value, json};

use crate::DemoError;
use crate::calendar::{Calendar, DaySampler};
use crate::marketing::{CHANNELS, Campaign};
use crate::out::Out;
use crate::sample::{self, DemoRng};
use crate::tally::SalesTally;
use crate::world::{
    COMPANY_FORM, COMPANY_PREFIX, COMPANY_SUFFIX, FIRST_F, FIRST_M, INDUSTRIES, LAST, LEAD_SOURCES,
    REGIONS, TEAMS,
};

/// Spread of the reps' performance multipliers (sd of log), and its clamp.
pub(crate) const REP_SIGMA: f64 = 0.35;
pub(crate) const REP_CLAMP: (f64, f64) = (0.5, 2.0);
/// Rep teams' shares of new deals in a region.
pub(crate) const TEAM_DEAL_SHARES: [f64; 3] = [0.5, 0.3, 0.2];

/// Leads per customer.
pub(crate) const LEADS_PER_CUSTOMER: f64 = 0.15;
/// Logistic conversion model of leads.
pub(crate) const LEAD_INTERCEPT: f64 = -1.7;
pub(crate) const LEAD_SOURCE_COEF: &[(&str, f64)] = &[
    ("web_form", 0.0),
    ("paid_search", -0.2),
    ("social", -0.5),
    ("email", 0.2),
    ("referral", 1.0),
    ("event", 0.6),
    ("partner", 0.5),
];
pub(crate) const LEAD_INDUSTRY_COEF: &[(&str, f64)] = &[
    ("technology", 0.4),
    ("finance", 0.3),
    ("healthcare", 0.2),
    ("manufacturing", 0.0),
    ("retail", -0.1),
    ("education", -0.3),
    ("hospitality", -0.4),
    ("construction", -0.2),
];
pub(crate) const LEAD_LOG10_EMPLOYEES_COEF: f64 = 0.35;
pub(crate) const LEAD_CAMPAIGN_COEF: f64 = 0.3;
/// Employees: log-normal median and sd of log, clamped.
pub(crate) const EMPLOYEES_MEDIAN: f64 = 35.0;
pub(crate) const EMPLOYEES_SIGMA: f64 = 1.3;
/// Probability that a lead from a campaign channel is tied to a running campaign.
pub(crate) const LEAD_CAMPAIGN_SHARE: f64 = 0.8;
/// Days from lead creation to conversion: Gamma(shape, mean).
pub(crate) const CONVERSION_DELAY: (f64, f64) = (2.0, 21.0);
/// The conversion window of the Lead conversion rate KPI (docs/metrics.md; the library's
/// `CONVERSION_WINDOW_DAYS`, which this crate may not import): a lead converted when it did
/// within this many days of its creation.
pub const LEAD_CONVERSION_WINDOW_DAYS: i64 = 90;
/// Share of converted leads that become a new customer (the rest buy as an existing one).
pub(crate) const CONVERT_TO_NEW: f64 = 0.75;
/// A new customer for a converted lead is sought within this many days of the conversion.
pub(crate) const NEW_CUSTOMER_WINDOW: i32 = 30;

/// Deals.
pub(crate) const DEAL_PER_LEAD: f64 = 0.40;
pub(crate) const DEAL_DELAY: (f64, f64) = (2.0, 4.0);
pub(crate) const DEAL_PER_CUSTOMER: f64 = 0.03;
pub(crate) const STAGES: [&str; 4] = ["prospecting", "qualification", "proposal", "negotiation"];
pub(crate) const CLOSED: &str = "closed";
/// Probability of moving on from each stage (from negotiation: of winning), before the rep's
/// multiplier.
pub(crate) const ADVANCE: [f64; 4] = [0.75, 0.70, 0.65, 0.60];
/// Mean days spent in each stage; durations are Gamma with this shape.
pub(crate) const STAGE_DAYS: [f64; 4] = [6.0, 9.0, 12.0, 10.0];
pub(crate) const STAGE_SHAPE: f64 = 2.0;
/// Deal amounts: log-normal (median, sd of log); lead deals scale with (employees/50)^0.25.
pub(crate) const LEAD_DEAL_AMOUNT: (f64, f64) = (12_000.0, 0.7);
pub(crate) const CUSTOMER_DEAL_AMOUNT: (f64, f64) = (3_000.0, 0.6);
pub(crate) const EMPLOYEE_ELASTICITY: f64 = 0.25;

const DAY: f64 = 86_400.0;

/// A sales rep.
pub(crate) struct Rep {
    pub name: String,
    pub region: usize,
    pub team: usize,
    pub multiplier: f64,
    pub quota_cents: i64,
    pub won: u64,
    pub lost: u64,
}

/// Index of the rep of `region` in `team`.
pub(crate) fn rep_index(region: usize, team: usize) -> usize {
    region * TEAMS.len() + team
}

/// One rep per team and region.
pub(crate) fn reps(rng: &mut DemoRng) -> Vec<Rep> {
    let mut reps = Vec::new();
    for region in 0..REGIONS.len() {
        for team in 0..TEAMS.len() {
            let first = if sample::chance(rng, 0.5) {
                FIRST_F
            } else {
                FIRST_M
            };
            let name = format!(
                "{} {}",
                first[sample::below(rng, first.len())],
                LAST[sample::below(rng, LAST.len())]
            );
            let m = sample::lognormal(rng, 1.0, REP_SIGMA).clamp(REP_CLAMP.0, REP_CLAMP.1);
            reps.push(Rep {
                name,
                region,
                team,
                multiplier: (m * 1000.0).round() / 1000.0,
                quota_cents: 0,
                won: 0,
                lost: 0,
            });
        }
    }
    reps
}

/// What the customer simulation tells the sales side about each customer.
#[derive(Clone, Copy)]
pub(crate) struct CustomerFacts {
    pub signup: i32,
    pub region: u8,
}

struct Lead {
    created: i64,
    source: usize,
    industry: usize,
    employees: u32,
    company: String,
    campaign: Option<usize>,
    converted: Option<i64>,
    customer: Option<usize>,
    region: usize,
}

struct Deal {
    created: i64,
    amount_cents: i64,
    customer: Option<usize>,
    lead: Option<usize>,
    rep: usize,
    /// (stage name, entered at).
    history: Vec<(&'static str, i64)>,
    closed: Option<i64>,
    outcome: &'static str,
}

fn odds_scaled(p: f64, m: f64) -> f64 {
    let o = p / (1.0 - p) * m;
    o / (1.0 + o)
}

/// Runs one deal through the stages from `created`; `last` is the last second of the period.
fn run_deal(rng: &mut DemoRng, created: i64, m: f64, last: i64, deal: &mut Deal) {
    let mut t = created;
    for (k, stage) in STAGES.iter().enumerate() {
        deal.history.push((stage, t));
        let days = sample::gamma(rng, STAGE_SHAPE, STAGE_SHAPE / STAGE_DAYS[k]);
        let next = t + (days * DAY).round().max(60.0) as i64;
        if next > last {
            deal.outcome = "open";
            return;
        }
        t = next;
        if !sample::chance(rng, odds_scaled(ADVANCE[k], m)) {
            deal.outcome = "lost";
            break;
        }
        if k == STAGES.len() - 1 {
            deal.outcome = "won";
        }
    }
    deal.history.push((CLOSED, t));
    deal.closed = Some(t);
}

/// What the sales side reads from the rest of the company.
pub(crate) struct SalesInputs<'a> {
    pub cal: &'a Calendar,
    /// Every customer, in sign-up order (customer index = position).
    pub customers: &'a [CustomerFacts],
    pub campaigns: &'a [Campaign],
    /// Yearly growth of lead creation: the business grows as its sign-ups do.
    pub growth: f64,
    /// First and last day of the report quarter.
    pub report: (i32, i32),
}

impl SalesInputs<'_> {
    /// The last second of the period: nothing the sales side draws may happen after it.
    fn last(&self) -> i64 {
        i64::from(self.cal.days()) * 86_400 - 1
    }

    fn in_report(&self, secs: i64) -> bool {
        (self.report.0..=self.report.1).contains(&((secs / 86_400) as i32))
    }
}

/// Everything the sales side writes, given the customers (signup-sorted) and reps.
pub(crate) struct SalesOut<'a> {
    pub leads: &'a mut Out,
    pub deals: &'a mut Out,
    pub history: &'a mut Out,
}

/// A sales touchpoint of a customer deal: customer index, seconds, kind (call or meeting).
pub(crate) type Touch = (usize, i64, &'static str);

/// Draws leads and deals, writes leads, deals and stage history, and sets the reps' quotas;
/// returns the sales touchpoints of customer deals.
///
/// The stages run in this order on the one `rng`, which is what makes a seed name the same
/// company: leads, their conversions, deals from leads, deals with customers, every deal's
/// path through the stages, quotas.
pub(crate) fn simulate(
    inputs: &SalesInputs<'_>,
    reps: &mut [Rep],
    rng: &mut DemoRng,
    out: SalesOut<'_>,
    tally: &mut SalesTally,
) -> Result<Vec<Touch>, DemoError> {
    let leads = draw_leads(inputs, rng, tally);
    write_leads(inputs, &leads, out.leads, tally)?;
    let deals = draw_deals(inputs, &leads, rng);
    let touches = run_deals(inputs, deals, reps, rng, out, tally)?;
    set_quotas(inputs.cal, reps, rng, tally);
    Ok(touches)
}

/// Draws the leads in creation order, each with its attributes and, by the logistic model,
/// whether and when it converted and into which customer.
fn draw_leads(inputs: &SalesInputs<'_>, rng: &mut DemoRng, tally: &mut SalesTally) -> Vec<Lead> {
    let customers = inputs.customers;
    let n_leads = (customers.len() as f64 * LEADS_PER_CUSTOMER).round() as usize;
    let sampler = DaySampler::new(inputs.cal, inputs.growth, 0.1, 60.0);
    let mut leads: Vec<Lead> = (0..n_leads)
        .map(|_| {
            let day = sampler.sample(rng);
            Lead {
                created: i64::from(day) * 86_400 + sample::business_time(rng),
                source: 0,
                industry: 0,
                employees: 0,
                company: String::new(),
                campaign: None,
                converted: None,
                customer: None,
                region: 0,
            }
        })
        .collect();
    leads.sort_by_key(|l| l.created);

    let weights = LeadWeights::new();
    // A customer is the conversion of at most one lead that brought them in as new.
    let mut linked = vec![false; customers.len()];
    for lead in &mut leads {
        describe_lead(inputs.campaigns, &weights, rng, lead);
        convert_lead(inputs, rng, &mut linked, lead, tally);
    }
    leads
}

/// Weights of a lead's categorical attributes.
struct LeadWeights {
    source: Vec<f64>,
    industry: Vec<f64>,
    region: Vec<f64>,
}

impl LeadWeights {
    fn new() -> LeadWeights {
        LeadWeights {
            source: LEAD_SOURCES.iter().map(|s| s.1).collect(),
            industry: INDUSTRIES.iter().map(|s| s.1).collect(),
            region: REGIONS.iter().map(|r| r.share).collect(),
        }
    }
}

/// Draws a lead's source, industry, region, size, company name and campaign.
fn describe_lead(campaigns: &[Campaign], w: &LeadWeights, rng: &mut DemoRng, lead: &mut Lead) {
    let day = (lead.created / 86_400) as i32;
    lead.source = sample::pick(rng, &w.source);
    lead.industry = sample::pick(rng, &w.industry);
    lead.region = sample::pick(rng, &w.region);
    lead.employees = sample::lognormal(rng, EMPLOYEES_MEDIAN, EMPLOYEES_SIGMA)
        .round()
        .clamp(1.0, 20_000.0) as u32;
    lead.company = format!(
        "{} {} {}",
        COMPANY_PREFIX[sample::below(rng, COMPANY_PREFIX.len())],
        COMPANY_SUFFIX[sample::below(rng, COMPANY_SUFFIX.len())],
        COMPANY_FORM[sample::below(rng, COMPANY_FORM.len())]
    );
    let source = LEAD_SOURCES[lead.source].0;
    if CHANNELS.iter().any(|c| c.name == source) && sample::chance(rng, LEAD_CAMPAIGN_SHARE) {
        lead.campaign = campaigns
            .iter()
            .position(|c| CHANNELS[c.channel].name == source && c.start <= day && day <= c.end);
    }
}

/// Decides by the logistic model whether the lead converts; if it does within the period,
/// links it to a customer (a new one signing up soon after, or an existing one).
fn convert_lead(
    inputs: &SalesInputs<'_>,
    rng: &mut DemoRng,
    linked: &mut [bool],
    lead: &mut Lead,
    tally: &mut SalesTally,
) {
    let customers = inputs.customers;
    let last = inputs.last();
    let logit = LEAD_INTERCEPT
        + LEAD_SOURCE_COEF[lead.source].1
        + LEAD_INDUSTRY_COEF[lead.industry].1
        + LEAD_LOG10_EMPLOYEES_COEF * f64::from(lead.employees).log10()
        + if lead.campaign.is_some() {
            LEAD_CAMPAIGN_COEF
        } else {
            0.0
        };
    if !sample::chance(rng, sample::logistic(logit)) {
        return;
    }
    tally.leads_would_convert += 1;
    let delay = sample::gamma(
        rng,
        CONVERSION_DELAY.0,
        CONVERSION_DELAY.0 / CONVERSION_DELAY.1,
    );
    let conv = lead.created + (delay * DAY) as i64;
    if conv > last {
        return; // converts after the end of the history: not visible yet
    }
    let conv_day = (conv / 86_400) as i32;
    let pos = customers.partition_point(|c| c.signup < conv_day);
    let mut target = None;
    if sample::chance(rng, CONVERT_TO_NEW) {
        let mut j = pos;
        while j < customers.len() && customers[j].signup <= conv_day + NEW_CUSTOMER_WINDOW {
            if !linked[j] {
                target = Some((j, customers[j].signup));
                break;
            }
            j += 1;
        }
    }
    if target.is_none() && pos > 0 {
        target = Some((sample::below(rng, pos), conv_day));
    }
    let Some((j, d)) = target else { return };
    linked[j] = true;
    let mut at = i64::from(d) * 86_400 + sample::business_time(rng);
    if at <= lead.created {
        at = (lead.created + 600).min(last);
    }
    lead.converted = Some(at);
    lead.customer = Some(j);
}

/// Writes the leads table and counts the leads.
fn write_leads(
    inputs: &SalesInputs<'_>,
    leads: &[Lead],
    out: &mut Out,
    tally: &mut SalesTally,
) -> Result<(), DemoError> {
    let cal = inputs.cal;
    for (i, lead) in leads.iter().enumerate() {
        out.id("L", i + 1, 6)
            .ts(cal, lead.created)
            .s(LEAD_SOURCES[lead.source].0)
            .opt_id("CMP", lead.campaign.map(|k| k + 1), 3)
            .s(&lead.company)
            .s(INDUSTRIES[lead.industry].0)
            .int(i64::from(lead.employees))
            .opt_ts(cal, lead.converted)
            .opt_id("C", lead.customer.map(|c| c + 1), 6)
            .end()?;
    }
    tally.leads = leads.len() as u64;
    tally.leads_converted = leads.iter().filter(|l| l.converted.is_some()).count() as u64;
    // The Lead conversion rate as docs/metrics.md defines it: converted within the window of
    // creation (by UTC date), over the leads whose window has closed by the leads' as-of day,
    // the latest creation or conversion in the table.
    let day = |secs: i64| secs.div_euclid(86_400);
    let as_of = leads
        .iter()
        .map(|l| day(l.created).max(l.converted.map_or(i64::MIN, day)))
        .max()
        .unwrap_or(i64::MIN);
    for lead in leads {
        let closed = day(lead.created) + LEAD_CONVERSION_WINDOW_DAYS <= as_of;
        let within = lead
            .converted
            .is_some_and(|c| day(c) - day(lead.created) <= LEAD_CONVERSION_WINDOW_DAYS);
        let report = inputs.in_report(lead.created);
        tally.report_leads += u64::from(report);
        if closed {
            tally.leads_closed += 1;
            tally.leads_converted_in_window += u64::from(within);
            if report {
                tally.report_leads_closed += 1;
                tally.report_leads_converted += u64::from(within);
            }
        }
    }
    Ok(())
}

/// Draws the deals, not yet run through the stages: qualified leads, then upsell deals with
/// existing customers; in creation order.
fn draw_deals(inputs: &SalesInputs<'_>, leads: &[Lead], rng: &mut DemoRng) -> Vec<Deal> {
    let (cal, last) = (inputs.cal, inputs.last());
    let mut deals = Vec::new();
    for (i, lead) in leads.iter().enumerate() {
        if !sample::chance(rng, DEAL_PER_LEAD) {
            continue;
        }
        let delay = sample::gamma(rng, DEAL_DELAY.0, DEAL_DELAY.0 / DEAL_DELAY.1);
        let created = lead.created + (delay * DAY) as i64;
        let team = sample::pick(rng, &TEAM_DEAL_SHARES);
        let median =
            LEAD_DEAL_AMOUNT.0 * (f64::from(lead.employees) / 50.0).powf(EMPLOYEE_ELASTICITY);
        let amount = sample::lognormal(rng, median, LEAD_DEAL_AMOUNT.1).round();
        if created > last {
            continue;
        }
        deals.push(Deal {
            created,
            amount_cents: (amount * 100.0) as i64,
            customer: lead.customer,
            lead: Some(i),
            rep: rep_index(lead.region, team),
            history: Vec::new(),
            closed: None,
            outcome: "open",
        });
    }
    for (j, c) in inputs.customers.iter().enumerate() {
        if !sample::chance(rng, DEAL_PER_CUSTOMER) {
            continue;
        }
        let first = c.signup + 30;
        if first >= cal.days() {
            continue;
        }
        let day = first + sample::below(rng, (cal.days() - first) as usize) as i32;
        let team = sample::pick(rng, &TEAM_DEAL_SHARES);
        let amount = sample::lognormal(rng, CUSTOMER_DEAL_AMOUNT.0, CUSTOMER_DEAL_AMOUNT.1).round();
        deals.push(Deal {
            created: i64::from(day) * 86_400 + sample::business_time(rng),
            amount_cents: (amount * 100.0) as i64,
            customer: Some(j),
            lead: None,
            rep: rep_index(usize::from(c.region), team),
            history: Vec::new(),
            closed: None,
            outcome: "open",
        });
    }
    // Ids in creation order; ties broken by the order drawn, which is deterministic.
    deals.sort_by_key(|d| d.created);
    deals
}

/// Runs every deal through the stages, writes it and its stage history, counts outcomes per
/// rep and in `tally`; returns the calls and meetings of customer deals.
fn run_deals(
    inputs: &SalesInputs<'_>,
    mut deals: Vec<Deal>,
    reps: &mut [Rep],
    rng: &mut DemoRng,
    out: SalesOut<'_>,
    tally: &mut SalesTally,
) -> Result<Vec<Touch>, DemoError> {
    let (cal, last) = (inputs.cal, inputs.last());
    let mut touches = Vec::new();
    for (i, deal) in deals.iter_mut().enumerate() {
        let m = reps[deal.rep].multiplier;
        run_deal(rng, deal.created, m, last, deal);
        let stage = deal.history.last().map(|h| h.0).unwrap_or(STAGES[0]);
        out.deals
            .id("D", i + 1, 6)
            .ts(cal, deal.created)
            .s(stage)
            .cents(deal.amount_cents)
            .opt_id("C", deal.customer.map(|c| c + 1), 6)
            .opt_id("L", deal.lead.map(|l| l + 1), 6)
            .id("R", deal.rep + 1, 3)
            .opt_ts(cal, deal.closed)
            .s(deal.outcome)
            .end()?;
        for (stage, at) in &deal.history {
            out.history.id("D", i + 1, 6).s(stage).ts(cal, *at).end()?;
            if let Some(c) = deal.customer {
                match *stage {
                    "qualification" | "negotiation" => touches.push((c, *at, "call")),
                    "proposal" => touches.push((c, *at, "meeting")),
                    _ => {}
                }
            }
        }
        count_deal(inputs, deal, &mut reps[deal.rep], tally);
    }
    Ok(touches)
}

/// Adds a deal that has been run to its rep's and the sales side's totals.
fn count_deal(inputs: &SalesInputs<'_>, deal: &Deal, rep: &mut Rep, tally: &mut SalesTally) {
    tally.deals += 1;
    let cycle = (deal.closed.unwrap_or(deal.created) - deal.created) as f64 / DAY;
    let closed_in_report = deal.closed.is_some_and(|at| inputs.in_report(at));
    match deal.outcome {
        "won" => {
            tally.won += 1;
            tally.won_cents += deal.amount_cents;
            tally.won_cycle_days += cycle;
            rep.won += 1;
            if closed_in_report {
                tally.report_won += 1;
                tally.report_won_cents += deal.amount_cents;
                tally.report_won_cycle_days += cycle;
            }
        }
        "lost" => {
            tally.lost += 1;
            rep.lost += 1;
            tally.report_lost += u64::from(closed_in_report);
        }
        _ => tally.open += 1,
    }
}

/// Quotas: the average rep's yearly won amount, ±, so the better reps beat theirs.
fn set_quotas(cal: &Calendar, reps: &mut [Rep], rng: &mut DemoRng, tally: &SalesTally) {
    let per_rep_year = tally.won_cents as f64 / 100.0 / reps.len().max(1) as f64 / cal.years();
    for r in reps.iter_mut() {
        let q = per_rep_year * sample::uniform(rng, 0.85, 1.25);
        r.quota_cents = ((q / 1000.0).round().max(5.0) * 1000.0 * 100.0) as i64;
    }
}

/// Writes the sales reps table.
pub(crate) fn write_reps(reps: &[Rep], out: &mut Out) -> Result<(), DemoError> {
    for (i, r) in reps.iter().enumerate() {
        out.id("R", i + 1, 3)
            .s(&r.name)
            .s(REGIONS[r.region].name)
            .s(TEAMS[r.team])
            .cents(r.quota_cents)
            .end()?;
    }
    Ok(())
}

/// Ground truth of reps, leads and deals.
pub(crate) fn truth(reps: &[Rep], tally: &SalesTally) -> Value {
    let reps: Vec<Value> = reps
        .iter()
        .enumerate()
        .map(|(i, r)| {
            json!({
                "sales_rep_id": format!("R{:03}", i + 1),
                "region": REGIONS[r.region].name,
                "team": TEAMS[r.team],
                "performance_multiplier": r.multiplier,
                "quota": r.quota_cents as f64 / 100.0,
                "deals_won": r.won,
                "deals_lost": r.lost,
            })
        })
        .collect();
    let pairs = |v: &[(&str, f64)]| -> Value {
        Value::Object(v.iter().map(|(k, c)| (k.to_string(), json!(c))).collect())
    };
    json!({
        "sales_reps": {
            "reps": reps,
            "multiplier": format!("log-normal(0, {REP_SIGMA}) clamped to [{}, {}]; multiplies the odds of every stage advance of the rep's deals", REP_CLAMP.0, REP_CLAMP.1),
            "quota": "annual; the average rep's yearly won amount × U(0.85, 1.25), rounded to 1,000",
            "team_shares_of_new_deals": TEAM_DEAL_SHARES,
            "order_rule": "phone orders carry the Inside Sales rep of the customer's region, partner orders the Partner Sales rep; web and store orders none",
        },
        "leads": {
            "per_customer": LEADS_PER_CUSTOMER,
            "created": "sign-up-like growth trend, business hours",
            "source_channel_shares": pairs(LEAD_SOURCES),
            "industry_shares": pairs(INDUSTRIES),
            "employees": format!("log-normal(median {EMPLOYEES_MEDIAN}, sd of log {EMPLOYEES_SIGMA}), rounded, clamped to 1..20000"),
            "campaign": format!("a lead whose source is a campaign channel gets the running campaign of that channel with probability {LEAD_CAMPAIGN_SHARE}"),
            "conversion_model": {
                "form": "P(convert) = logistic(intercept + source[source_channel] + industry[industry] + log10_employees·log10(employees) + has_campaign·[campaign_id set])",
                "intercept": LEAD_INTERCEPT,
                "source": pairs(LEAD_SOURCE_COEF),
                "industry": pairs(LEAD_INDUSTRY_COEF),
                "log10_employees": LEAD_LOG10_EMPLOYEES_COEF,
                "has_campaign": LEAD_CAMPAIGN_COEF,
            },
            "conversion_delay_days": {"distribution": "gamma", "shape": CONVERSION_DELAY.0, "mean": CONVERSION_DELAY.1},
            "censoring": "a lead that would convert after the last day shows as not converted",
            "customer_link": format!("with probability {CONVERT_TO_NEW} the first not-yet-linked customer signing up within {NEW_CUSTOMER_WINDOW} days from the conversion (converted_at moves to that sign-up day), otherwise a random customer who signed up before"),
            "count": tally.leads,
            "converted_visible": tally.leads_converted,
            "conversion_window_days": LEAD_CONVERSION_WINDOW_DAYS,
            "window_closed": tally.leads_closed,
            "converted_within_window": tally.leads_converted_in_window,
            "report_quarter": {"created": tally.report_leads, "window_closed": tally.report_leads_closed, "converted_within_window": tally.report_leads_converted},
            "would_convert": tally.leads_would_convert,
        },
        "deals": {
            "per_lead": DEAL_PER_LEAD,
            "lead_deal_delay_days": {"distribution": "gamma", "shape": DEAL_DELAY.0, "mean": DEAL_DELAY.1},
            "per_customer": DEAL_PER_CUSTOMER,
            "customer_deal_created": "uniform from 30 days after sign-up to the last day",
            "stages": STAGES,
            "closed_stage": CLOSED,
            "advance_probability": ADVANCE,
            "advance_rule": "at the end of each stage the deal moves on with probability p' = o/(1+o), o = p/(1−p)·rep multiplier; moving on from negotiation is winning; not moving on is losing; a deal whose next step falls after the last day stays open",
            "mean_days_in_stage": STAGE_DAYS,
            "stage_duration": format!("gamma with shape {STAGE_SHAPE} and the stage's mean"),
            "amount": {
                "lead_deals": format!("log-normal(median {} × (employees/50)^{EMPLOYEE_ELASTICITY}, sd of log {}), whole currency units", LEAD_DEAL_AMOUNT.0, LEAD_DEAL_AMOUNT.1),
                "customer_deals": format!("log-normal(median {}, sd of log {})", CUSTOMER_DEAL_AMOUNT.0, CUSTOMER_DEAL_AMOUNT.1),
            },
            "touchpoints": "deals with a customer add a call on entering qualification and negotiation and a meeting on entering proposal (channel sales)",
            "count": tally.deals,
            "won": tally.won,
            "lost": tally.lost,
            "open": tally.open,
        },
    })
}
