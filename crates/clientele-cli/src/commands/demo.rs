//! `clientele demo`: the synthetic company end to end — generate, ingest, report, analyse.

use std::path::Path;

use anyhow::{Context, Result};
use clientele_analytics::analyses::churn::Churn;
use clientele_analytics::analyses::clv::Clv;
use clientele_analytics::analyses::leads::Leads;
use clientele_analytics::analyses::run;
use clientele_analytics::analyses::segment::{Lifecycle, Rfm};
use clientele_analytics::{Engine, EngineOptions};
use clientele_ingest::IngestOptions;

use super::ingest::{print_issues, progress_bar};
use crate::output::{self, Format, Sink};

/// `clientele demo`: generates the demo company, ingests it, prints the dashboard's reports
/// and runs and stores the customer analyses.
pub async fn demo(
    ws: &Path,
    format: Format,
    out: Option<&Path>,
    (customers, seed, end): (usize, u64, chrono::NaiveDate),
    options: EngineOptions,
) -> Result<()> {
    let data_dir = ws.join("demo").join("source");
    let truth_dir = ws.join("demo").join("truth");
    let config = clientele_demo::DemoConfig {
        customers,
        seed,
        end,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let summary =
        clientele_demo::generate(&config, &data_dir, &truth_dir, &mut |stage, done, total| {
            let b = bar.get_or_insert_with(|| {
                progress_bar(total, "generating").unwrap_or_else(indicatif::ProgressBar::hidden)
            });
            b.set_length(total.max(1));
            b.set_message(stage.to_string());
            b.set_position(done);
        })
        .context("generating the demo company")?;
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    let rows: usize = summary.tables.iter().map(|(_, n)| n).sum();
    eprintln!(
        "generated {} tables, {rows} rows for {customers} customers in {:.1}s ({})",
        summary.tables.len(),
        started.elapsed().as_secs_f64(),
        data_dir.display()
    );
    let started = std::time::Instant::now();
    let report = clientele_ingest::ingest(&data_dir, ws, &IngestOptions::default(), &mut |_| {})
        .context("ingesting the demo company")?;
    print_issues(&report);
    eprintln!(
        "ingested into {} in {:.1}s",
        ws.display(),
        started.elapsed().as_secs_f64()
    );
    let engine = Engine::open_with(ws, options).await?;
    let mut sink = Sink::open(out)?;
    let (period, to_date) = clientele_analytics::default_periods(&engine).await?;
    let reports = [
        clientele_analytics::kpis_to_date(&engine, &period, to_date.as_ref()).await?,
        clientele_analytics::sales(
            &engine,
            &clientele_analytics::trailing_year(&engine).await?,
            clientele_analytics::SalesBy::Month,
        )
        .await?,
        clientele_analytics::sales(&engine, &period, clientele_analytics::SalesBy::Region).await?,
        clientele_analytics::sales(&engine, &period, clientele_analytics::SalesBy::Category)
            .await?,
    ];
    for r in &reports {
        output::write_report(&mut sink, r, format)?;
        if format == Format::Table {
            writeln!(sink.writer())?;
        }
    }
    // The customer-intelligence analyses, stored so that customer_scores is filled.
    let started = std::time::Instant::now();
    let mut names = Vec::new();
    for step in 0..5 {
        // Reopened each time: every save makes a new generation, and later analyses use
        // earlier results (lifecycle and segments read the stored CLV).
        let engine = Engine::open_with(ws, options).await?;
        let a = match step {
            0 => run::<Clv>(&engine, &Default::default()).await?,
            1 => run::<Rfm>(&engine, &Default::default()).await?,
            2 => run::<Lifecycle>(&engine, &Default::default()).await?,
            3 => run::<Churn>(&engine, &Default::default()).await?,
            _ => run::<Leads>(&engine, &Default::default()).await?,
        };
        clientele_analytics::save(&engine, &a)?;
        names.push(a.name);
    }
    eprintln!(
        "ran and stored {} in {:.1}s",
        names.join(", "),
        started.elapsed().as_secs_f64()
    );
    if format == Format::Table {
        writeln!(
            sink.writer(),
            "workspace: {}  ground truth: {}\nnext: clientele report sales --by product, clientele segment rfm, clientele churn,\n      clientele sql \"SELECT * FROM customer_scores ORDER BY clv DESC LIMIT 10\"",
            ws.display(),
            truth_dir.display()
        )?;
    }
    sink.commit()
}
