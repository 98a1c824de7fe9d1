//! `clientele ingest`: reads table files into the workspace with a progress bar, and prints
//! what was stored and every problem found.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;
use clientele_ingest::{CsvOptions, IngestOptions, Mapping};

use crate::args::Globals;
use crate::error::usage;
use crate::output::{self, Format, Sink};

/// `clientele ingest SOURCE [--mapping FILE] [--append] [--delimiter D] [--header yes|no]
/// [--money-ceiling N]`.
pub fn run(
    g: &Globals,
    source: &Path,
    mapping: Option<&Path>,
    append: bool,
    (delimiter, header): (Option<String>, Option<String>),
    money_ceiling: f64,
) -> Result<()> {
    if !(money_ceiling.is_finite() && money_ceiling > 0.0) {
        return Err(usage(format!(
            "--money-ceiling {money_ceiling} must be a positive amount"
        )));
    }
    let mapping = match mapping {
        Some(p) => Mapping::load(p)?,
        None => Mapping::default(),
    };
    let delimiter = delimiter
        .map(|d| match d.as_str() {
            "tab" | "\\t" => Ok(b'\t'),
            s if s.len() == 1 => Ok(s.as_bytes()[0]),
            s => Err(usage(format!(
                "--delimiter '{s}' must be one character (or `tab`)"
            ))),
        })
        .transpose()?;
    let options = IngestOptions {
        mapping,
        csv: CsvOptions {
            delimiter,
            header: header.map(|h| h == "yes"),
        },
        append,
        money_ceiling,
        ..IngestOptions::default()
    };
    ingest(source, &g.workspace, &options, g.format, g.out.as_deref())
}

/// A progress bar on stderr, or `None` when stderr is not a terminal.
pub fn progress_bar(len: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {percent:>3}% {elapsed}")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    Some(pb)
}

/// Prints an ingest's problems, one line each, to stderr.
pub fn print_issues(report: &clientele_ingest::IngestReport) {
    for i in &report.issues {
        eprintln!("{i}");
    }
    for o in &report.omitted {
        eprintln!("… {o}");
    }
}

fn ingest(
    source: &Path,
    ws: &Path,
    options: &IngestOptions,
    format: Format,
    out: Option<&Path>,
) -> Result<()> {
    let mut bar: Option<indicatif::ProgressBar> = None;
    let result = clientele_ingest::ingest(source, ws, options, &mut |p| {
        let b = bar.get_or_insert_with(|| {
            progress_bar(p.total, "ingesting").unwrap_or_else(indicatif::ProgressBar::hidden)
        });
        b.set_message(p.table.to_string());
        b.set_position(p.done);
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = result?;
    print_issues(&report);
    let mut sink = Sink::open(out)?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *sink.writer(), &report)?;
            writeln!(sink.writer())?;
        }
        _ => {
            let rows: Vec<serde_json::Value> = report
                .tables
                .iter()
                .map(|t| serde_json::json!({"table": t.table, "file": t.file, "rows_read": t.rows, "rows_stored": t.total_rows}))
                .collect();
            output::write_json_rows(&mut sink, &rows, format)?;
            if format == Format::Table {
                writeln!(
                    sink.writer(),
                    "ingested into {} ({} warning(s))",
                    ws.display(),
                    report.warnings
                )?;
            }
        }
    }
    sink.commit()
}
