//! A deterministic generator of a realistic synthetic company with known ground truth, for
//! `clientele demo`, for tests, and for checking that every model recovers what generated
//! its data. [`generate`] writes one CSV file per canonical table (see
//! [`clientele_schema::TABLES`]) for *Larkspur Supply Co.*, a retailer that sells to
//! consumers online, in stores, by phone and through partners, and to businesses through a
//! sales team. Purchases follow a BG/NBD process in calendar time (exactly, as observed by
//! day: the seasons and campaigns move purchases in time without adding or removing any),
//! order values a Gamma-Gamma model, campaigns pull the purchases of the customers they touch
//! into their window by a known lift, leads convert by a known logistic model, deals move
//! through stages with known
//! probabilities. Every generating parameter is written to `ground_truth.json` and every
//! customer's hidden state (λ, p, alive, mean spend, segment) to `customers_truth.csv`.
//!
//! The same configuration and seed always give byte-identical files: the generator never
//! reads the clock, iterates no hash map into its output, and draws from ChaCha8 streams.
//! `docs/demo.md` describes the company and the generating process in prose.
//!
//! Modules depend on each other in one direction only, in the order [`generate`] runs them:
//! the vocabulary and tools (`world`, `calendar`, `sample`, `out`, `catalog`), the running
//! totals (`tally`), `marketing`, `mix` (how the spend drives guest revenue), `sales`, `customers` (which runs before the sales side but
//! imports the customer facts and rep numbering it defines), and `kpi` last. A module may use
//! only those before it in this list, as the `//!` paragraph of each says; values that flow
//! backwards (the customers handed to the sales side, the spend counted for the KPIs) are
//! passed in by `build`, or added to `tally`, never imported. Any module may return the
//! crate's [`DemoError`].

mod calendar;
mod catalog;
mod customers;
mod kpi;
mod marketing;
mod mix;
mod out;
mod sales;
pub use sales::LEAD_CONVERSION_WINDOW_DAYS;
mod sample;
mod tally;
mod world;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::calendar::Calendar;
use crate::out::{Ix, Sinks, TRUTH_COLUMNS};
use crate::sample::{Stream, stream};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConfig {
    /// Number of customers (default 10,000). Leads, deals, campaign budgets and marketing
    /// spend scale with it, so KPIs such as CAC stay comparable across sizes.
    pub customers: usize,
    /// Seed of every random draw (default 42).
    pub seed: u64,
    /// First day of the company's history (default 2023-01-01).
    pub start: NaiveDate,
    /// Last day of the history, the "as of" date of the data (default 2025-12-31). Nothing
    /// happens after it; the clock is never read.
    pub end: NaiveDate,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            customers: 10_000,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default(),
            end: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
        }
    }
}

/// Largest number of customers accepted (memory stays around 1 KB per customer).
pub const MAX_CUSTOMERS: usize = 10_000_000;

impl DemoConfig {
    fn validate(&self) -> Result<(), DemoError> {
        let bad = |m: String| Err(DemoError::InvalidConfig(m));
        if self.customers == 0 {
            return bad("the number of customers must be at least 1".into());
        }
        if self.customers > MAX_CUSTOMERS {
            return bad(format!(
                "{} customers is more than the generator's limit of {MAX_CUSTOMERS}",
                self.customers
            ));
        }
        if self.start >= self.end {
            return bad(format!(
                "the start date {} must be before the end date {}",
                self.start, self.end
            ));
        }
        if (self.end - self.start).num_days() < 27 {
            return bad(format!(
                "the period {}..{} is shorter than 28 days",
                self.start, self.end
            ));
        }
        let earliest = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap_or_default();
        if self.start < earliest || self.end > clientele_schema::MAX_DATE {
            return bad(format!(
                "the period must lie between {earliest} and {} (customers are born up to 80 years before the start)",
                clientele_schema::MAX_DATE
            ));
        }
        Ok(())
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Canonical table name and number of data rows written, in canonical order.
    pub tables: Vec<(String, usize)>,
}

/// Why [`generate`] failed. Nothing is left half-written: temporary files are removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A file or folder could not be created, written or renamed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configuration cannot describe a company (no customers, start not before end …).
    #[error("invalid demo configuration: {0}")]
    InvalidConfig(String),
    /// The CSV writer failed on a file.
    #[error("{}: {source}", path.display())]
    Csv {
        /// The file being written.
        path: PathBuf,
        /// The CSV (or underlying IO) error.
        source: csv::Error,
    },
}

/// Writes one CSV per canonical table into `data_dir` (created if missing) named `<table>.csv`,
/// and the ground truth into `truth_dir` (created if missing): `ground_truth.json` (all
/// generating parameters, drawn campaign lifts and rep multipliers, KPI target factors and
/// row counts) and `customers_truth.csv` (per customer: customer_id, lambda, p,
/// alive_at_end, dropout_date, mean_spend, true_segment, n_orders, n_purchases). Every file is written to
/// `<name>.tmp` and renamed into place at the end. `progress(stage, done, total)` is called
/// now and then with stages such as `customers` and `orders`.
pub fn generate(
    config: &DemoConfig,
    data_dir: &Path,
    truth_dir: &Path,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<DemoSummary, DemoError> {
    config.validate()?;
    let ix = Ix::new()?;
    for dir in [data_dir, truth_dir] {
        std::fs::create_dir_all(dir).map_err(|source| DemoError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut sinks = Sinks::open(data_dir, truth_dir)?;
    match build(config, &mut sinks, &ix, progress) {
        Ok(truth) => {
            let tables = sinks.counts();
            progress("write", 0, 1);
            sinks.commit(&truth)?;
            progress("write", 1, 1);
            Ok(DemoSummary { tables })
        }
        Err(e) => {
            sinks.abandon();
            Err(e)
        }
    }
}

fn merge(into: &mut serde_json::Map<String, Value>, part: Value) {
    if let Value::Object(m) = part {
        into.extend(m);
    }
}

/// Generates everything into the open sinks and returns the ground truth document.
fn build(
    config: &DemoConfig,
    sinks: &mut Sinks,
    ix: &Ix,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Value, DemoError> {
    let cal = Calendar::new(config.start, config.end);
    // Budgets, spend and B2B volume are given for 10,000 customers and scale linearly.
    let scale = config.customers as f64 / 10_000.0;
    let mut tally = tally::Tally::new(&cal);

    progress("catalogue", 0, 1);
    let catalog = catalog::Catalog::new(&mut stream(config.seed, Stream::Products));
    catalog.write(sinks.at(ix.products))?;
    let mut reps = sales::reps(&mut stream(config.seed, Stream::Reps));
    let mut campaigns =
        marketing::campaigns(&cal, scale, &mut stream(config.seed, Stream::Campaigns));
    marketing::write_campaigns(&cal, &campaigns, sinks.at(ix.campaigns))?;
    let spend = marketing::write_spend(
        &cal,
        &campaigns,
        scale,
        &mut stream(config.seed, Stream::Spend),
        sinks.at(ix.marketing_spend),
        &mut tally,
    )?;
    progress("catalogue", 1, 1);

    let consumers = customers::Ctx::new(&cal, &catalog, ix);
    let mut pass = customers::simulate(
        &consumers,
        config.customers,
        &mut campaigns,
        config.seed,
        sinks,
        &mut tally,
        progress,
    )?;
    let mut mix = mix::response(&cal, &spend);
    customers::guest_orders(
        &consumers,
        &mut pass,
        &mut mix,
        &mut stream(config.seed, Stream::Guests),
        &mut tally,
    );
    customers::write_orders(&consumers, &mut pass, sinks, progress)?;
    progress("tickets", 0, 1);
    customers::write_tickets(&consumers, &mut pass, sinks, &mut tally)?;
    progress("tickets", 1, 1);

    progress("sales", 0, 1);
    let mut sales_tally = tally::SalesTally::default();
    let touches = {
        let [leads, deals, history] = sinks.several([ix.leads, ix.deals, ix.deal_stage_history])?;
        sales::simulate(
            &sales::SalesInputs {
                cal: &cal,
                customers: &pass.facts,
                campaigns: &campaigns,
                growth: customers::SIGNUP_GROWTH,
                report: tally.report_days(),
            },
            &mut reps,
            &mut stream(config.seed, Stream::Leads),
            sales::SalesOut {
                leads,
                deals,
                history,
            },
            &mut sales_tally,
        )?
    };
    let tp = sinks.at(ix.touchpoints);
    for (customer, at, kind) in touches {
        tp.id("C", customer + 1, 6)
            .ts(&cal, at)
            .s("sales")
            .empty()
            .s(kind)
            .end()?;
    }
    sales::write_reps(&reps, sinks.at(ix.sales_reps))?;
    progress("sales", 1, 1);

    let targets = kpi::write_targets(
        &tally,
        &sales_tally,
        &mut stream(config.seed, Stream::Kpi),
        sinks.at(ix.kpi_targets),
    )?;

    let mut truth = truth_header(config, &cal, scale);
    truth.insert("catalog".into(), catalog.truth());
    merge(&mut truth, customers::truth(&pass, config.customers));
    truth.insert(
        "marketing".into(),
        marketing::truth(&campaigns, scale, &spend),
    );
    truth.insert("marketing_mix".into(), mix.truth(&cal, &campaigns));
    merge(&mut truth, sales::truth(&reps, &sales_tally));
    truth.insert("kpi_targets".into(), targets);
    truth.insert("customers_truth_csv".into(), customers_truth_csv());
    let counts: serde_json::Map<String, Value> = sinks
        .counts()
        .into_iter()
        .map(|(t, n)| (t, json!(n)))
        .collect();
    truth.insert("counts".into(), Value::Object(counts));
    Ok(Value::Object(truth))
}

/// The parts of `ground_truth.json` that describe the run rather than a part of the company:
/// generator, configuration, company and calendar.
fn truth_header(config: &DemoConfig, cal: &Calendar, scale: f64) -> serde_json::Map<String, Value> {
    let mut truth = serde_json::Map::new();
    truth.insert(
        "generator".into(),
        json!({
            "crate": "clientele-demo",
            "version": env!("CARGO_PKG_VERSION"),
            "rng": "ChaCha8 (rand_chacha), one stream per part of the company",
        }),
    );
    truth.insert(
        "config".into(),
        json!({
            "customers": config.customers,
            "seed": config.seed,
            "start": config.start.to_string(),
            "end": config.end.to_string(),
        }),
    );
    truth.insert(
        "company".into(),
        json!({
            "name": world::COMPANY,
            "country": world::COUNTRY,
            "money": "one currency, two decimals",
            "scale": scale,
            "scale_note": "campaign budgets, always-on spend and per-customer rates are given for 10,000 customers; budgets and spend are multiplied by scale",
        }),
    );
    truth.insert(
        "calendar".into(),
        json!({
            "days": cal.days(),
            "day_index": "day_index 0 is the start date",
            "timestamps": "UTC, written YYYY-MM-DDTHH:MM:SSZ",
        }),
    );
    truth
}

/// What the columns of `customers_truth.csv` mean.
fn customers_truth_csv() -> Value {
    json!({
        "columns": TRUTH_COLUMNS,
        "lambda": "true purchase rate per week while active",
        "p": "true dropout probability after each purchase",
        "alive_at_end": "not yet dropped out at the end date",
        "dropout_date": "day of the repeat purchase after which the customer dropped out (inactive from the next day); empty if alive",
        "mean_spend": "currency_scale · p / ν: the customer's expected order value",
        "true_segment": customers::SEGMENT_RULE,
        "n_orders": "orders generated, any status, including the first",
        "n_purchases": "purchases (purchase days), including the first: the completed orders; n_orders − n_purchases are cancelled or returned",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn invalid_configurations_are_refused() {
        let dir = std::env::temp_dir().join("clientele-demo-never-created");
        let mut quiet = |_: &str, _: u64, _: u64| {};
        let base = DemoConfig::default();
        for c in [
            DemoConfig {
                customers: 0,
                ..base.clone()
            },
            DemoConfig {
                start: base.end,
                ..base.clone()
            },
            DemoConfig {
                start: ymd(2025, 12, 31),
                end: ymd(2025, 1, 1),
                ..base.clone()
            },
            DemoConfig {
                start: ymd(2025, 12, 1),
                end: ymd(2025, 12, 10),
                ..base.clone()
            },
            DemoConfig {
                start: ymd(1950, 1, 1),
                ..base.clone()
            },
            DemoConfig {
                customers: MAX_CUSTOMERS + 1,
                ..base.clone()
            },
        ] {
            let err = generate(&c, &dir, &dir, &mut quiet).unwrap_err();
            assert!(matches!(err, DemoError::InvalidConfig(_)), "{c:?}: {err}");
        }
        assert!(!dir.exists());
    }

    #[test]
    fn default_config_is_the_documented_one() {
        let c = DemoConfig::default();
        assert_eq!((c.customers, c.seed), (10_000, 42));
        assert_eq!((c.start, c.end), (ymd(2023, 1, 1), ymd(2025, 12, 31)));
    }
}
