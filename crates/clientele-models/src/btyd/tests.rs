//! Tests of the BTYD models, one file per kind of check: `cdnow` (the reference fits of
//! Fader, Hardie & Lee 2005), `numerics` (special functions and analytic derivatives),
//! `recovery` (simulated parameters recovered within their standard errors), `errors` (error
//! cases and hand-checked values) and `score` (the whole-base scorer, and timing at scale).
//! This file holds what several of them share: the CDNOW sample and its published fits.

mod cdnow;
mod errors;
mod numerics;
mod recovery;
mod score;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::*;

const CDNOW: &str = include_str!("../../tests/data/CDNOW_sample.txt");
const CDNOW_SUMMARY: &str =
    include_str!("../../tests/data/cdnow_customers_summary_with_transactions.csv");

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Per customer (sample id): summary and mean value of repeat purchase days (`zbar`).
struct Cdnow {
    summaries: Vec<Summary>,
    zbar: Vec<f64>,
}

fn cdnow() -> &'static Cdnow {
    static DATA: OnceLock<Cdnow> = OnceLock::new();
    DATA.get_or_init(|| {
        // Sample id → (day → summed value).
        let mut by_customer: BTreeMap<u32, BTreeMap<i64, f64>> = BTreeMap::new();
        for line in CDNOW.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let id: u32 = f[1].parse().unwrap();
            let date: i64 = f[2].parse().unwrap();
            let day = days_from_civil(date / 10_000, date / 100 % 100, date % 100);
            let value: f64 = f[4].parse().unwrap();
            *by_customer.entry(id).or_default().entry(day).or_default() += value;
        }
        let end = days_from_civil(1997, 9, 30);
        let mut summaries = Vec::new();
        let mut zbar = Vec::new();
        for days in by_customer.values() {
            let d: Vec<i64> = days.keys().copied().collect();
            let s = Summary::from_days(&d, end, 7.0).expect("every customer starts in 1997 Q1");
            let repeat: Vec<f64> = days
                .iter()
                .skip(1)
                .filter(|(day, _)| **day <= end)
                .map(|(_, v)| *v)
                .collect();
            let z = if repeat.is_empty() {
                0.0
            } else {
                repeat.iter().sum::<f64>() / repeat.len() as f64
            };
            summaries.push(s);
            zbar.push(z);
        }
        Cdnow { summaries, zbar }
    })
}

fn cdnow_models() -> [PurchaseModel; 2] {
    [
        PurchaseModel::BgNbd(BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        }),
        PurchaseModel::ParetoNbd(ParetoNbd {
            r: 0.553,
            alpha: 10.578,
            s: 0.606,
            beta: 11.669,
        }),
    ]
}
