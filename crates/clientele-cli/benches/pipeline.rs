//! Benchmarks of the pipeline a user runs first: ingest an orders CSV into a workspace, then
//! the KPI report for a quarter and the sales report by month over the Parquet it wrote.
//!
//! The orders are generated with a fixed seed (100k and 1M rows, ~rows/10 customers, dates
//! over 2023–2025, ~3 % cancelled and ~4 % returned), written to a temporary folder.
//! Run with `cargo bench -p clientele-cli --bench pipeline`; the side-by-side comparison with
//! DuckDB at 10M rows is `bench/run.sh` (see bench/README.md).

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use clientele_analytics::{Engine, Period, SalesBy};
use clientele_ingest::IngestOptions;
use criterion::{BenchmarkId, Criterion, Throughput};

/// Rows of the generated orders files.
const SIZES: &[usize] = &[100_000, 1_000_000];
/// Seed of the generator: the same seed gives the same file.
const SEED: u64 = 42;
/// Days from 2023-01-01 to 2025-12-31 inclusive.
const DAYS: u64 = 1096;

const CHANNELS: &[&str] = &["web", "store", "phone", "partner", "marketplace"];
const REGIONS: &[&str] = &["north", "south", "east", "west", "central", "online"];

/// SplitMix64: a tiny deterministic generator, enough for benchmark data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Writes `rows` orders to `path`. Dates are uniform over 2023–2025; an order on day d goes
/// to one of the customers acquired by then (customer k arrives on day ~k/customers·1096), so
/// every quarter has new and returning customers.
fn write_orders(path: &Path, rows: usize) -> std::io::Result<()> {
    let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid date");
    let dates: Vec<String> = (0..DAYS)
        .map(|d| (start + chrono::Days::new(d)).to_string())
        .collect();
    let customers = (rows as u64 / 10).max(1);
    let mut rng = SplitMix(SEED);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(
        w,
        "order_id,customer_id,order_date,total_amount,status,channel,region,sales_rep_id,campaign_id"
    )?;
    for i in 0..rows {
        let day = rng.below(DAYS);
        let customer = rng.below((customers * (day + 1) / DAYS).max(1));
        let cents = 500 + rng.below(49_501);
        let status = match rng.below(100) {
            0..3 => "cancelled",
            3..7 => "returned",
            7..55 => "completed",
            _ => "",
        };
        let channel = CHANNELS[rng.below(CHANNELS.len() as u64) as usize];
        let region = REGIONS[rng.below(REGIONS.len() as u64) as usize];
        let rep = rng.below(60);
        let campaign = rng.below(24);
        write!(
            w,
            "O{i:010},C{customer:08},{},{}.{:02},{status},{channel},{region},R{rep:03},",
            dates[day as usize],
            cents / 100,
            cents % 100
        )?;
        if rng.below(10) >= 4 {
            write!(w, "CMP{campaign:02}")?;
        }
        writeln!(w)?;
    }
    w.flush()
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let options = IngestOptions::default();
    let period = Period::parse_calendar("2025-Q4").expect("valid period");
    let year = Period::parse_calendar("2025").expect("valid period");

    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));

    for &rows in SIZES {
        let dir = tempfile::tempdir().expect("temporary folder");
        let src = dir.path().join("source");
        std::fs::create_dir(&src).expect("source folder");
        write_orders(&src.join("orders.csv"), rows).expect("orders written");
        let ws = dir.path().join("workspace");

        group.throughput(Throughput::Elements(rows as u64));
        group.bench_with_input(BenchmarkId::new("ingest", rows), &rows, |b, _| {
            // Each run replaces the orders table of the same workspace, as a re-ingest does.
            b.iter(|| {
                let report =
                    clientele_ingest::ingest(&src, &ws, &options, &mut |_| {}).expect("ingest");
                assert_eq!(report.errors, 0, "generated data must be valid");
                black_box(report)
            });
        });

        let engine = rt.block_on(Engine::open(&ws)).expect("workspace opens");
        group.bench_with_input(BenchmarkId::new("kpis", rows), &rows, |b, _| {
            b.iter(|| {
                rt.block_on(clientele_analytics::kpis(&engine, &period))
                    .expect("kpis")
            });
        });
        group.bench_with_input(BenchmarkId::new("sales_by_month", rows), &rows, |b, _| {
            b.iter(|| {
                rt.block_on(clientele_analytics::sales(&engine, &year, SalesBy::Month))
                    .expect("sales")
            });
        });
    }
    group.finish();
}

// What `criterion_group!`/`criterion_main!` expand to, written out: the macros generate an
// undocumented `pub fn`, which the workspace's `missing_docs` lint rejects.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    pipeline(&mut c);
    c.final_summary();
}
