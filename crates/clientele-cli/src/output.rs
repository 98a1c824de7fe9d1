//! Printing results: a readable table on a terminal, CSV for spreadsheets, JSON for scripts.
//! Files given with `--out` are written to a temporary name and renamed, so a failed run
//! never leaves half a file.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use clientele_analytics::Report;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};

/// Output format chosen with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table for reading.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// JSON: an object with the report's metadata and its rows.
    Json,
}

/// Where output goes: stdout or a file written atomically.
pub struct Sink {
    out: Box<dyn Write>,
    finish: Option<(tempfile::NamedTempFile, std::path::PathBuf)>,
}

impl Sink {
    pub fn open(path: Option<&Path>) -> Result<Sink> {
        match path {
            None => Ok(Sink {
                out: Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                finish: None,
            }),
            Some(p) => {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tmp = tempfile::NamedTempFile::new_in(dir)
                    .with_context(|| format!("cannot write {}", p.display()))?;
                let file = tmp.reopen()?;
                Ok(Sink {
                    out: Box::new(std::io::BufWriter::new(file)),
                    finish: Some((tmp, p.to_path_buf())),
                })
            }
        }
    }

    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.out
    }

    pub fn commit(mut self) -> Result<()> {
        self.out.flush()?;
        drop(self.out);
        if let Some((tmp, path)) = self.finish.take() {
            tmp.persist(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        Ok(())
    }
}

/// Columns shown as percentages in tables.
fn is_percent(col: &str) -> bool {
    matches!(
        col,
        "share"
            | "growth"
            | "change"
            | "win_rate"
            | "win_probability"
            | "conversion_to_next"
            | "attainment"
            | "deviation"
            | "retention"
    ) || col.starts_with("share_of_")
        || col.ends_with("_rate")
        || col.ends_with("_share")
}

fn fmt_num(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// The units of a KPI row: its `unit` and its `change_unit`.
#[derive(Clone, Copy, Default)]
struct RowUnits<'a> {
    unit: Option<&'a str>,
    change: Option<&'a str>,
}

/// Formats one value for a table, by column name and, for KPI rows, by the row's units: a
/// `change` with a `change_unit` is signed and read × 100 in that unit (`+25.0%`, `-3.2 pp`).
fn cell_text(col: &str, array: &ArrayRef, row: usize, units: RowUnits, percent: bool) -> String {
    if array.is_null(row) {
        return String::new();
    }
    let unit = units.unit;
    if let Some(f) = array.as_any().downcast_ref::<Float64Array>() {
        let v = f.value(row);
        if let (Some(cu), "change") = (units.change, col) {
            let s = fmt_num(v * 100.0, 1);
            let sign = if v > 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
                "+"
            } else {
                ""
            };
            return if cu == "pp" {
                format!("{sign}{s} pp")
            } else {
                format!("{sign}{s}%")
            };
        }
        let numeric_col = matches!(col, "value" | "previous" | "target" | "expected");
        if let (Some(u), true) = (unit, numeric_col) {
            return match u {
                "percent" => format!("{}%", fmt_num(v * 100.0, 1)),
                "count" => fmt_num(v, 0),
                "days" => format!("{} d", fmt_num(v, 1)),
                "number" => fmt_num(v, 2),
                _ => fmt_num(v, 2),
            };
        }
        if percent || is_percent(col) {
            return format!("{}%", fmt_num(v * 100.0, 1));
        }
        if v.fract() == 0.0 && v.abs() < 1e15 {
            return fmt_num(v, 0);
        }
        return fmt_num(v, 2);
    }
    match array.data_type() {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt64
        | DataType::UInt32 => {
            let s = arrow::util::display::array_value_to_string(array, row).unwrap_or_default();
            s.parse::<f64>().map(|v| fmt_num(v, 0)).unwrap_or(s)
        }
        _ => arrow::util::display::array_value_to_string(array, row).unwrap_or_default(),
    }
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric()
}

/// Renders batches as a terminal table, leaving out long text columns named in `skip`.
pub fn write_table(w: &mut dyn Write, batches: &[RecordBatch], skip: &[&str]) -> Result<()> {
    let Some(first) = batches.first() else {
        writeln!(w, "(no rows)")?;
        return Ok(());
    };
    let schema = first.schema();
    let cols: Vec<usize> = (0..schema.fields().len())
        .filter(|i| !skip.contains(&schema.field(*i).name().as_str()))
        .collect();
    let mut table = Table::new();
    table
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(cols.iter().map(|i| Cell::new(schema.field(*i).name())));
    let unit_idx = schema.index_of("unit").ok();
    let change_idx = schema.index_of("change_unit").ok();
    let mut rows = 0;
    for b in batches {
        let text_column = |idx: Option<usize>| {
            idx.map(|i| arrow::compute::cast(b.column(i), &DataType::Utf8).expect("utf8"))
                .and_then(|u| u.as_any().downcast_ref::<StringArray>().cloned())
        };
        let (units, change_units) = (text_column(unit_idx), text_column(change_idx));
        let at = |col: &Option<StringArray>, r: usize| {
            col.as_ref()
                .filter(|u| !u.is_null(r))
                .map(|u| u.value(r).to_string())
        };
        for r in 0..b.num_rows() {
            let (unit, change_unit) = (at(&units, r), at(&change_units, r));
            let row_units = RowUnits {
                unit: unit.as_deref(),
                change: change_unit.as_deref(),
            };
            table.add_row(cols.iter().map(|&i| {
                let field = schema.field(i);
                let percent = field.metadata().get("format").map(String::as_str) == Some("percent");
                let c = Cell::new(cell_text(field.name(), b.column(i), r, row_units, percent));
                if is_numeric(schema.field(i).data_type()) {
                    c.set_alignment(CellAlignment::Right)
                } else {
                    c
                }
            }));
            rows += 1;
        }
    }
    if rows == 0 {
        writeln!(w, "(no rows)")?;
    } else {
        writeln!(w, "{table}")?;
    }
    Ok(())
}

/// Writes batches as CSV with a header row.
pub fn write_csv(w: &mut dyn Write, batches: &[RecordBatch]) -> Result<()> {
    let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(w);
    for b in batches {
        writer.write(b)?;
    }
    Ok(())
}

/// Rows as a JSON array of objects.
pub fn rows_json(batches: &[RecordBatch]) -> Result<serde_json::Value> {
    Ok(clientele_analytics::rows_json(batches)?)
}

/// Prints a report in the chosen format.
pub fn write_report(sink: &mut Sink, report: &Report, format: Format) -> Result<()> {
    let w = sink.writer();
    match format {
        Format::Table => {
            write!(w, "{}", report.title)?;
            if let Some(p) = &report.period {
                if p.label == format!("{}..{}", p.from, p.to) {
                    write!(w, " — {} to {}", p.from, p.to)?;
                } else {
                    write!(w, " — {} ({} to {})", p.label, p.from, p.to)?;
                }
            }
            if let Some(p) = &report.previous {
                write!(w, ", compared with {}", p.label)?;
            }
            writeln!(w)?;
            write_table(w, &report.batches, &["definition", "unit", "change_unit"])?;
            if report.schema.index_of("definition").is_ok() {
                writeln!(
                    w,
                    "definitions: the definition column of --format csv or json, and docs/metrics.md"
                )?;
            }
            for n in &report.notes {
                writeln!(w, "note: {n}")?;
            }
        }
        Format::Csv => write_csv(w, &report.batches)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, &clientele_analytics::report_json(report)?)?;
            writeln!(w)?;
        }
    }
    Ok(())
}

/// Prints an analysis: its tables and notes (table), its main table (CSV) or its facts, notes
/// and tables as one object (JSON). With `rows_only`, prints its per-customer rows instead.
pub fn write_analysis(
    w: &mut dyn Write,
    analysis: &clientele_analytics::Analysis,
    format: Format,
    rows_only: bool,
) -> Result<()> {
    if rows_only {
        let Some(rows) = &analysis.rows else {
            anyhow::bail!("{} has no per-customer rows", analysis.name);
        };
        return match format {
            Format::Json => {
                let mut writer = arrow::json::ArrayWriter::new(&mut *w);
                for b in &rows.batches {
                    writer.write(b)?;
                }
                writer.finish()?;
                drop(writer);
                writeln!(w)?;
                Ok(())
            }
            Format::Csv => write_csv(w, &rows.batches),
            Format::Table => {
                writeln!(w, "{}", rows.title)?;
                write_table(w, &rows.batches, &[])
            }
        };
    }
    match format {
        Format::Table => {
            for (i, t) in analysis.tables.iter().enumerate() {
                if i > 0 {
                    writeln!(w)?;
                }
                writeln!(w, "{}", t.title)?;
                write_table(w, &t.batches, &[])?;
                for n in &t.notes {
                    writeln!(w, "note: {n}")?;
                }
            }
            for n in &analysis.notes {
                writeln!(w, "note: {n}")?;
            }
        }
        Format::Csv => {
            if let Some(t) = analysis.tables.first() {
                write_csv(w, &t.batches)?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, &clientele_analytics::analysis_json(analysis)?)?;
            writeln!(w)?;
        }
    }
    Ok(())
}

/// Streams a large result batch by batch as CSV or JSON, without holding it in memory.
pub async fn stream_rows(
    sink: &mut Sink,
    df: datafusion::dataframe::DataFrame,
    format: Format,
    period: &clientele_analytics::Period,
) -> Result<()> {
    use futures::StreamExt;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(clientele_engine::engine_error)?;
    let w = sink.writer();
    match format {
        Format::Json => {
            write!(
                w,
                "{{\"report\": \"detailed\", \"title\": \"Transactions\", \"period\": {}, \"rows\": ",
                clientele_analytics::period_json(period)
            )?;
            let mut writer = arrow::json::ArrayWriter::new(&mut *w);
            while let Some(b) = stream.next().await {
                writer.write(&b.map_err(clientele_engine::engine_error)?)?;
            }
            writer.finish()?;
            drop(writer);
            writeln!(w, "}}")?;
        }
        _ => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *w);
            while let Some(b) = stream.next().await {
                writer.write(&b.map_err(clientele_engine::engine_error)?)?;
            }
        }
    }
    Ok(())
}

/// Prints JSON rows (users, audit entries, tables, ingest results) in the chosen format.
pub fn write_json_rows(sink: &mut Sink, rows: &[serde_json::Value], format: Format) -> Result<()> {
    let text = serde_json::to_string(rows)?;
    let batches = if rows.is_empty() {
        vec![]
    } else {
        let schema = arrow::json::reader::infer_json_schema_from_iterator(
            rows.iter().map(|r| Ok(r.clone())),
        )?;
        let mut decoder =
            arrow::json::ReaderBuilder::new(std::sync::Arc::new(schema)).build_decoder()?;
        decoder.serialize(rows)?;
        decoder.flush()?.into_iter().collect()
    };
    match format {
        Format::Json => writeln!(sink.writer(), "{text}")?,
        Format::Csv => write_csv(sink.writer(), &batches)?,
        Format::Table => write_table(sink.writer(), &batches, &[])?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(fmt_num(1234567.891, 2), "1,234,567.89");
        assert_eq!(fmt_num(-1234.5, 0), "-1,234");
        assert_eq!(fmt_num(999.0, 0), "999");
        assert_eq!(fmt_num(-0.001, 2), "0.00");
        assert_eq!(fmt_num(0.5, 1), "0.5");
    }
}
