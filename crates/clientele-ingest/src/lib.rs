//! Ingestion: reads a folder of exported tables (CSV, JSON, Parquet) or a single file, maps
//! their names to the canonical model, validates every value and reference, and stores them
//! as Parquet in a workspace — all or nothing.
//!
//! Following rust-analyzer's "parsing never fails" habit, reading collects *every* problem
//! into an [`IssueLog`] instead of stopping at the first; the ingest is then committed
//! (warnings only) or rejected (any error) as a whole.

mod coerce;
mod issues;
mod mapping;
mod source;
pub mod workspace;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{ArrayRef, RecordBatch};
use clientele_schema::TableDef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

pub use coerce::{KeyHash, KeySet, ParentKeys, key_hash};
pub use issues::{Issue, IssueLog, KEEP_PER_KIND, Severity};
pub use mapping::{Mapping, TableMapping, known_tables};
pub use source::{CsvOptions, FileFormat, SourceFile};
pub use workspace::{AnalysisRun, MANIFEST, Manifest, TableEntry, save_analysis};

use coerce::TableCoercer;
use workspace::Staging;

/// What can stop an ingest before or instead of a validation report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A file or folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The mapping file is wrong.
    #[error("mapping file {}: {message}", path.display())]
    Mapping {
        /// The mapping file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A source file is not readable in its format at all.
    #[error("{file}: {message}")]
    Unreadable {
        /// File name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The workspace is not usable.
    #[error("workspace {}: {message}", path.display())]
    Workspace {
        /// The path involved.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The request itself is wrong (no data files, two files for one table …).
    #[error("{0}")]
    Usage(String),
    /// Validation found errors; nothing was written. The report lists them.
    #[error("{} error(s) in the input; the workspace was left unchanged", .0.errors)]
    Rejected(Box<IngestReport>),
    /// Writing Parquet failed.
    #[error("writing {table}: {message}")]
    Write {
        /// Table being written.
        table: String,
        /// The writer's message.
        message: String,
    },
}

impl IngestError {
    /// Whether the error lies in the user's input or request (exit code 2) rather than in
    /// the environment (exit code 1).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, IngestError::Io { .. } | IngestError::Write { .. })
    }
}

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Renames of tables and columns.
    pub mapping: Mapping,
    /// CSV delimiter and header; detected when `None`.
    pub csv: CsvOptions,
    /// Add rows to the stored tables instead of replacing them; duplicate keys are errors.
    pub append: bool,
    /// Rows per batch read and written.
    pub batch_size: usize,
    /// Money values larger in magnitude than this are stored but reported as warnings
    /// (default [`MONEY_CEILING`]): a typo or a unit mix-up, such as cents read as units,
    /// is worth a look before it dominates every revenue figure.
    pub money_ceiling: f64,
}

/// The default sanity ceiling on a money value: one billion in the workspace's currency
/// (no single order, line, deal or spend of a CRM's data is expected to reach it).
pub const MONEY_CEILING: f64 = 1e9;

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            mapping: Mapping::default(),
            csv: CsvOptions::default(),
            append: false,
            batch_size: 64 * 1024,
            money_ceiling: MONEY_CEILING,
        }
    }
}

/// Rows stored for one table by an ingest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReport {
    /// Canonical table.
    pub table: String,
    /// Source file.
    pub file: String,
    /// Rows read from the file.
    pub rows: u64,
    /// Rows in the table after the ingest (differs from `rows` with `--append`).
    pub total_rows: u64,
}

/// The outcome of an ingest.
#[derive(Debug, serde::Serialize)]
pub struct IngestReport {
    /// Tables read, in canonical order.
    pub tables: Vec<TableReport>,
    /// Problems found (capped per kind, see [`KEEP_PER_KIND`]).
    pub issues: Vec<Issue>,
    /// One line per kind of problem that occurred more often than was kept.
    pub omitted: Vec<String>,
    /// Total errors found.
    pub errors: u64,
    /// Total warnings found.
    pub warnings: u64,
    /// Stored analysis results removed because the data they came from changed.
    pub dropped_analyses: Vec<String>,
}

/// Progress of an ingest: bytes of source read so far out of the total.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Table being read.
    pub table: &'a str,
    /// Bytes read over all files.
    pub done: u64,
    /// Bytes of all files.
    pub total: u64,
}

/// Ingests `source` (a folder of table files, or one file) into `workspace`. On success the
/// workspace holds the new tables plus every table it had that the source did not replace;
/// on any error it is left exactly as it was.
pub fn ingest(
    source: &Path,
    workspace: &Path,
    options: &IngestOptions,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<IngestReport, IngestError> {
    let mut log = IssueLog::default();
    let files = discover_in_order(source, &options.mapping, &mut log)?;
    let (staging, previous) = Staging::begin(workspace)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let run = Run {
        workspace,
        options,
        files: &files,
        previous: previous.as_ref(),
        staging: &staging,
        total_bytes: files.iter().map(|f| f.bytes).sum(),
        counter: Arc::new(AtomicU64::new(0)),
        now: &now,
    };
    let mut state = State {
        log,
        parents: ParentKeys::new(),
        reports: Vec::new(),
        entries: BTreeMap::new(),
        progress,
    };
    for file in &files {
        read_table(&run, file, &mut state)?;
    }
    finish(workspace, staging, previous.as_ref(), now, state)
}

/// What every table of one ingest reads: the request, the files, the workspace as it was and
/// the generation being staged.
struct Run<'a> {
    workspace: &'a Path,
    options: &'a IngestOptions,
    /// Every file of the source, in canonical table order.
    files: &'a [SourceFile],
    /// The manifest before this ingest, if the workspace had one.
    previous: Option<&'a Manifest>,
    staging: &'a Staging,
    /// Bytes of all files, for progress.
    total_bytes: u64,
    /// Bytes read so far, counted by the readers.
    counter: Arc<AtomicU64>,
    /// When the ingest started, stamped on every table it writes.
    now: &'a str,
}

/// What the tables read so far leave behind for the next ones and for the report.
struct State<'p> {
    log: IssueLog,
    /// Keys of tables that a later file references.
    parents: ParentKeys,
    reports: Vec<TableReport>,
    entries: BTreeMap<String, TableEntry>,
    progress: &'p mut dyn FnMut(Progress<'_>),
}

/// The source's data files, in the canonical model's table order; none at all is a usage error.
fn discover_in_order(
    source: &Path,
    mapping: &Mapping,
    log: &mut IssueLog,
) -> Result<Vec<SourceFile>, IngestError> {
    let mut files = source::discover(source, mapping, log)?;
    if files.is_empty() {
        return Err(IngestError::Usage(format!(
            "no data files found in {}: expected files named after tables ({}) ending in .csv, .json or .parquet",
            source.display(),
            known_tables()
        )));
    }
    let order = |t: &str| clientele_schema::TABLES.iter().position(|d| d.name == t);
    files.sort_by_key(|f| order(f.table));
    Ok(files)
}

/// Reads, validates and stages one source file as its table. A file that cannot be read or
/// cannot be appended to the stored table is logged as an error and skipped, so that every
/// other file is still checked.
fn read_table(run: &Run<'_>, file: &SourceFile, state: &mut State<'_>) -> Result<(), IngestError> {
    let def = clientele_schema::table(file.table).expect("discovered table");
    load_parent_keys(run, def, &mut state.parents)?;
    let opened = match source::open(
        file,
        run.options.csv,
        &run.options.mapping,
        run.options.batch_size,
        run.counter.clone(),
    ) {
        Ok(o) => o,
        Err(IngestError::Unreadable { file, message }) => {
            state.log.push(Issue {
                severity: Severity::Error,
                file,
                row: None,
                column: None,
                value: None,
                message,
            });
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let names: Vec<String> = opened
        .headers
        .iter()
        .map(|h| run.options.mapping.canonical_column(file.table, h))
        .collect();
    let Some(mut coercer) =
        TableCoercer::new(def, &file.name, &names, &opened.types, &mut state.log)
            .map(|c| c.with_money_ceiling(run.options.money_ceiling))
    else {
        return Ok(());
    };
    let prev_entry = run
        .previous
        .and_then(|m| m.tables.get(file.table))
        .filter(|_| run.options.append);
    let Some((part, prior_rows)) =
        continue_stored(run, file, def, prev_entry, &mut coercer, &mut state.log)?
    else {
        return Ok(());
    };
    let part_name = format!("part-{part:05}.parquet");
    let path = run.staging.table_dir(file.table)?.join(&part_name);
    let writer = new_writer(&path, coercer.schema(), file.table)?;
    let rows = validate_and_write(run, file, opened, writer, &mut coercer, state)?;
    let mut files_list = prev_entry.map(|e| e.files.clone()).unwrap_or_default();
    files_list.push(part_name);
    let mut sources = prev_entry.map(|e| e.sources.clone()).unwrap_or_default();
    sources.push(file.path.display().to_string());
    let mut columns = coercer.present_columns();
    if let Some(e) = prev_entry {
        columns.retain(|c| e.columns.contains(c));
    }
    state.entries.insert(
        file.table.to_string(),
        TableEntry {
            dir: String::new(),
            files: files_list,
            rows: prior_rows + rows,
            columns,
            extra_columns: coercer.extra_columns(),
            sources,
            ingested_at: run.now.to_string(),
        },
    );
    state.reports.push(TableReport {
        table: file.table.into(),
        file: file.name.clone(),
        rows,
        total_rows: prior_rows + rows,
    });
    // Keep the keys only when a later file of this ingest references the table.
    if run.files.iter().any(|f| {
        clientele_schema::table(f.table)
            .is_some_and(|t| t.references.iter().any(|r| r.table == file.table))
    }) {
        state.parents.insert(file.table, coercer.into_keys());
    }
    Ok(())
}

/// Loads the stored keys of every table `def` references that neither this ingest's files
/// nor an earlier table of it provide, so references into the kept tables are checked too.
fn load_parent_keys(
    run: &Run<'_>,
    def: &TableDef,
    parents: &mut ParentKeys,
) -> Result<(), IngestError> {
    for r in def.references {
        let needed =
            !parents.contains_key(r.table) && !run.files.iter().any(|f| f.table == r.table);
        if let Some(prev) = run
            .previous
            .filter(|p| needed && p.tables.contains_key(r.table))
        {
            parents.insert(r.table, stored_keys(run.workspace, prev, r.table)?);
        }
    }
    Ok(())
}

/// With `--append`, readies the stored table `entry` for more rows: its extra columns must
/// be the file's, its keys join the duplicate check, and its files carry over. Returns the
/// number of the new part file and the rows stored before it, or `None` (logged) when the
/// file cannot be appended.
fn continue_stored(
    run: &Run<'_>,
    file: &SourceFile,
    def: &TableDef,
    entry: Option<&TableEntry>,
    coercer: &mut TableCoercer,
    log: &mut IssueLog,
) -> Result<Option<(usize, u64)>, IngestError> {
    let mut part = 0usize;
    let mut prior_rows = 0u64;
    if let Some(entry) = entry {
        if entry.extra_columns != coercer.extra_columns() {
            log.push(Issue::whole_file(
                Severity::Error,
                file.name.clone(),
                format!(
                    "cannot append: the stored table has extra columns [{}] but this file has [{}]",
                    entry.extra_columns.join(", "),
                    coercer.extra_columns().join(", ")
                ),
            ));
            return Ok(None);
        }
        if !def.primary_key.is_empty() {
            coercer.add_existing_keys(stored_keys(
                run.workspace,
                run.previous.expect("append"),
                file.table,
            )?);
        }
        run.staging.carry_over(run.workspace, file.table, entry)?;
        part = entry.files.len();
        prior_rows = entry.rows;
    }
    Ok(Some((part, prior_rows)))
}

/// Streams the batches of `opened` through the coercer into `writer` and returns the rows
/// read. Reading, checking and writing run on three threads, so that on two cores the CSV
/// decoder and the Parquet encoder overlap with validation. Channels are bounded to keep at
/// most a few batches in memory.
fn validate_and_write(
    run: &Run<'_>,
    file: &SourceFile,
    opened: source::Opened,
    writer: ArrowWriter<File>,
    coercer: &mut TableCoercer,
    state: &mut State<'_>,
) -> Result<u64, IngestError> {
    let first_row = opened.first_row;
    let batches = opened.batches;
    let write_error = |e: parquet::errors::ParquetError| IngestError::Write {
        table: file.table.into(),
        message: e.to_string(),
    };
    std::thread::scope(|scope| -> Result<u64, IngestError> {
        let (read_tx, read_rx) = std::sync::mpsc::sync_channel(2);
        scope.spawn(move || {
            for b in batches {
                let last = b.is_err();
                if read_tx.send(b).is_err() || last {
                    break;
                }
            }
        });
        let (write_tx, write_rx) = std::sync::mpsc::sync_channel::<RecordBatch>(2);
        let written = scope.spawn(move || -> Result<(), parquet::errors::ParquetError> {
            let mut writer = writer;
            for b in write_rx {
                writer.write(&b)?;
            }
            writer.close().map(|_| ())
        });
        let mut rows = 0u64;
        for batch in read_rx {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    state.log.push(Issue::whole_file(
                        Severity::Error,
                        file.name.clone(),
                        format!("unreadable at or after row {}: {e}", first_row + rows),
                    ));
                    break;
                }
            };
            if rows == 0 && file.format == FileFormat::Csv {
                coercer.reserve(estimate_csv_rows(&batch, file.bytes));
            }
            let out = coercer.coerce(&batch, first_row + rows, &state.parents, &mut state.log);
            rows += batch.num_rows() as u64;
            // Once the ingest is doomed, keep validating but stop paying for writes.
            if state.log.errors() == 0 && write_tx.send(out).is_err() {
                break; // the writer failed; its error is reported below
            }
            (state.progress)(Progress {
                table: file.table,
                done: run.counter.load(Ordering::Relaxed),
                total: run.total_bytes,
            });
        }
        drop(write_tx);
        written
            .join()
            .expect("the Parquet writer thread does not panic")
            .map_err(write_error)?;
        Ok(rows)
    })
}

/// Rejects the ingest when any error was found; otherwise carries over the stored tables the
/// source did not replace and commits the new generation.
fn finish(
    workspace: &Path,
    staging: Staging,
    previous: Option<&Manifest>,
    now: String,
    state: State<'_>,
) -> Result<IngestReport, IngestError> {
    let State {
        log,
        reports,
        mut entries,
        ..
    } = state;
    let errors = log.errors();
    let warnings = log.warnings();
    let (issues, omitted) = log.into_report();
    let report = IngestReport {
        tables: reports,
        issues,
        omitted,
        errors,
        warnings,
        dropped_analyses: Vec::new(),
    };
    let mut report = report;
    if errors > 0 {
        return Err(IngestError::Rejected(Box::new(report)));
    }
    if let Some(prev) = previous {
        // Analysis results describe the data they were computed from: once that changes they
        // are stale, so they go (the user reruns the analysis).
        report.dropped_analyses = prev.analyses.keys().cloned().collect();
        for (name, entry) in &prev.tables {
            let derived = prev.analyses.values().any(|a| &a.table == name);
            if !entries.contains_key(name) && !derived {
                staging.carry_over(workspace, name, entry)?;
                entries.insert(name.clone(), entry.clone());
            }
        }
    }
    let manifest = Manifest {
        schema_version: clientele_schema::SCHEMA_VERSION,
        generation: 0,
        ingested_at: now,
        tables: entries,
        analyses: BTreeMap::new(),
    };
    staging.commit(manifest)?;
    Ok(report)
}

fn new_writer(
    path: &Path,
    schema: arrow::datatypes::SchemaRef,
    table: &str,
) -> Result<ArrowWriter<File>, IngestError> {
    let f = File::create(path).map_err(|e| IngestError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    ArrowWriter::try_new(f, schema, Some(props)).map_err(|e| IngestError::Write {
        table: table.into(),
        message: e.to_string(),
    })
}

/// Rows a CSV file of `bytes` holds, judged from its first batch of text columns.
fn estimate_csv_rows(batch: &RecordBatch, bytes: u64) -> usize {
    let n = batch.num_rows().max(1);
    let text: usize = batch
        .columns()
        .iter()
        .filter_map(|c| c.as_any().downcast_ref::<arrow::array::StringArray>())
        .map(|c| c.value_data().len())
        .sum();
    // One delimiter or newline per field.
    let per_row = (text + n * batch.num_columns()) as f64 / n as f64;
    ((bytes as f64 / per_row.max(1.0)) as usize).min(500_000_000)
}

/// Hashes of the primary keys stored for `table`, read from its Parquet files.
fn stored_keys(workspace: &Path, manifest: &Manifest, table: &str) -> Result<KeySet, IngestError> {
    let def = clientele_schema::table(table).expect("canonical table");
    let mut keys = KeySet::default();
    let mut buf = Vec::new();
    for path in manifest.table_files(workspace, table) {
        let f = File::open(&path).map_err(|e| IngestError::Io {
            path: path.clone(),
            source: e,
        })?;
        let bad = |e: &dyn std::fmt::Display| IngestError::Workspace {
            path: path.clone(),
            message: e.to_string(),
        };
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| bad(&e))?;
        let idx: Vec<usize> = def
            .primary_key
            .iter()
            .map(|k| builder.schema().index_of(k).map_err(|e| bad(&e)))
            .collect::<Result<_, _>>()?;
        let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), idx.clone());
        let reader = builder.with_projection(mask).build().map_err(|e| bad(&e))?;
        for batch in reader {
            let batch: RecordBatch = batch.map_err(|e| bad(&e))?;
            let cols: Vec<&ArrayRef> = batch.columns().iter().collect();
            for row in 0..batch.num_rows() {
                keys.insert(key_hash(&cols, row, &mut buf));
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests;
