//! Finding source files in a folder and reading each as Arrow record batches with Arrow's own
//! CSV, JSON and Parquet readers. Nothing is typed here: CSV columns arrive as text and are
//! coerced (with every problem located) by the `coerce` module.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::csv::reader::Format;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;

use crate::mapping::{Mapping, known_tables};
use crate::{IngestError, Issue, IssueLog, Severity};

/// File formats clientele reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Delimited text with or without a header.
    Csv,
    /// JSON Lines (one object per line) or a single JSON array of objects.
    Json,
    /// Apache Parquet.
    Parquet,
}

/// How CSV files are read; `None` means detect.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsvOptions {
    /// Field delimiter; detected among `,` `;` tab `|` when not given.
    pub delimiter: Option<u8>,
    /// Whether the first row holds column names; detected when not given.
    pub header: Option<bool>,
}

/// A file found in the source folder and the canonical table it feeds.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Full path.
    pub path: PathBuf,
    /// File name as shown in messages.
    pub name: String,
    /// Canonical table.
    pub table: &'static str,
    /// Format, from the extension.
    pub format: FileFormat,
    /// Size in bytes, for progress.
    pub bytes: u64,
}

fn format_of(path: &Path) -> Option<FileFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" | "tsv" | "txt" => Some(FileFormat::Csv),
        "json" | "jsonl" | "ndjson" => Some(FileFormat::Json),
        "parquet" | "pq" => Some(FileFormat::Parquet),
        _ => None,
    }
}

/// Lists the data files of a folder (or the single file given) with their tables. Files whose
/// name is no canonical table are reported as warnings naming the known tables and skipped;
/// two files for one table are an error.
pub fn discover(
    source: &Path,
    mapping: &Mapping,
    log: &mut IssueLog,
) -> Result<Vec<SourceFile>, IngestError> {
    let io = |e| IngestError::Io {
        path: source.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(source).map_err(io)?;
    let paths: Vec<PathBuf> = if meta.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(source)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        v.sort();
        v
    } else {
        vec![source.to_path_buf()]
    };
    let mut out: Vec<SourceFile> = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(format) = format_of(&path) else {
            if path.is_file() {
                log.push(Issue::whole_file(
                    Severity::Warning,
                    name,
                    "skipped: not a .csv, .tsv, .json, .jsonl or .parquet file",
                ));
            }
            continue;
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(table) = mapping.table_for_stem(&stem) else {
            log.push(Issue::whole_file(Severity::Warning, name, format!(
                    "skipped: '{stem}' is not a known table (known tables: {}); rename the file or map it with `source = \"{stem}\"` in a mapping file",
                    known_tables()
                )));
            continue;
        };
        if let Some(prev) = out.iter().find(|f| f.table == table) {
            return Err(IngestError::Usage(format!(
                "both {} and {name} hold table {table}; keep one of them in the folder",
                prev.name
            )));
        }
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        out.push(SourceFile {
            path,
            name,
            table,
            format,
            bytes,
        });
    }
    Ok(out)
}

/// An open source file: its column headers and its batches.
pub struct Opened {
    /// Column names as written in the file.
    pub headers: Vec<String>,
    /// Arrow types of the columns (all `Utf8` for CSV).
    pub types: Vec<DataType>,
    /// Row number (as reported to users) of the first data record.
    pub first_row: u64,
    /// Record batches; a malformed record ends the stream with an error.
    pub batches: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>,
}

/// Counts bytes pulled through a reader, for progress.
pub struct Counting<R> {
    inner: R,
    /// Shared counter of bytes read.
    pub count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

const SNIFF_BYTES: usize = 64 * 1024;

/// Remembers the last byte of a stream that is not a line break.
struct LastByte<R> {
    inner: R,
    last: Arc<std::sync::atomic::AtomicU8>,
}

impl<R: Read> Read for LastByte<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(&b) = buf[..n].iter().rev().find(|&&b| b != b'\n' && b != b'\r') {
            self.last.store(b, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(n)
    }
}

/// Ends a CSV stream with an error when its last field is a quoted one that is never closed:
/// the CSV reader then takes everything up to the end of the file, line breaks and later rows
/// included, as that one field, and rows would be lost without a word. Such a field is the
/// last of the last record, holds a line break, and the file does not end with a quote.
struct UnclosedQuote<I> {
    inner: I,
    last_byte: Arc<std::sync::atomic::AtomicU8>,
    last_field_has_break: bool,
    done: bool,
}

impl<I: Iterator<Item = Result<RecordBatch, ArrowError>>> Iterator for UnclosedQuote<I> {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.inner.next() {
            Some(Ok(batch)) => {
                if let Some(last) = batch.num_rows().checked_sub(1)
                    && batch.num_columns() > 0
                {
                    let column = batch.column(batch.num_columns() - 1);
                    self.last_field_has_break = column
                        .as_any()
                        .downcast_ref::<arrow::array::StringArray>()
                        .is_some_and(|c| {
                            !arrow::array::Array::is_null(c, last)
                                && c.value(last).contains(['\n', '\r'])
                        });
                }
                Some(Ok(batch))
            }
            None => {
                self.done = true;
                let last = self.last_byte.load(std::sync::atomic::Ordering::Relaxed);
                (self.last_field_has_break && last != b'"').then(|| {
                    Err(ArrowError::CsvError(
                        "a quoted field is never closed: a \" opens the last record's last field and nothing closes it, so every line after it was read into that field; close the quote or remove it".into(),
                    ))
                })
            }
            other => other,
        }
    }
}

/// Opens a source file for reading in batches of `batch_size` rows. The canonical columns of
/// its table, in order, name the columns of a header-less CSV and (with `mapping`) help
/// recognise a header.
pub fn open(
    file: &SourceFile,
    csv: CsvOptions,
    mapping: &Mapping,
    batch_size: usize,
    counter: Arc<std::sync::atomic::AtomicU64>,
) -> Result<Opened, IngestError> {
    let io = |e| IngestError::Io {
        path: file.path.clone(),
        source: e,
    };
    let raw = File::open(&file.path).map_err(io)?;
    match file.format {
        FileFormat::Parquet => open_parquet(file, raw, batch_size, &counter),
        FileFormat::Json => open_json(
            file,
            Counting {
                inner: raw,
                count: counter,
            },
            batch_size,
        ),
        FileFormat::Csv => open_csv(
            file,
            Counting {
                inner: raw,
                count: counter,
            },
            csv,
            mapping,
            batch_size,
        ),
    }
}

/// Parquet carries its own column types; its bytes count as read once the reader is built,
/// since the reader does not go through [`Counting`].
fn open_parquet(
    file: &SourceFile,
    raw: File,
    batch_size: usize,
    counter: &Arc<std::sync::atomic::AtomicU64>,
) -> Result<Opened, IngestError> {
    let counted = counter.clone();
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(raw)
        .map_err(|e| IngestError::Unreadable {
            file: file.name.clone(),
            message: format!("not a readable Parquet file ({e})"),
        })?;
    let headers = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let types = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let reader =
        builder
            .with_batch_size(batch_size)
            .build()
            .map_err(|e| IngestError::Unreadable {
                file: file.name.clone(),
                message: e.to_string(),
            })?;
    counted.fetch_add(file.bytes, std::sync::atomic::Ordering::Relaxed);
    Ok(Opened {
        headers,
        types,
        first_row: 1,
        batches: Box::new(reader),
    })
}

/// JSON is read whole and rewritten as JSON Lines of text values (see [`json_lines`]).
fn open_json(
    file: &SourceFile,
    mut counted: Counting<File>,
    batch_size: usize,
) -> Result<Opened, IngestError> {
    let io = |e| IngestError::Io {
        path: file.path.clone(),
        source: e,
    };
    let mut text = Vec::new();
    counted.read_to_end(&mut text).map_err(io)?;
    let (lines, keys) = json_lines(&text).map_err(|message| IngestError::Unreadable {
        file: file.name.clone(),
        message,
    })?;
    let schema = Schema::new(
        keys.iter()
            .map(|k| Field::new(k, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let headers = schema.fields().iter().map(|f| f.name().clone()).collect();
    let types = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let reader = arrow::json::ReaderBuilder::new(Arc::new(schema))
        .with_batch_size(batch_size)
        .build(Cursor::new(lines))
        .map_err(|e| IngestError::Unreadable {
            file: file.name.clone(),
            message: e.to_string(),
        })?;
    Ok(Opened {
        headers,
        types,
        first_row: 1,
        batches: Box::new(reader),
    })
}

/// CSV: the delimiter and the header are detected on the first [`SNIFF_BYTES`] unless given;
/// a header-less file's columns are named after its table's columns in order.
fn open_csv(
    file: &SourceFile,
    mut counted: Counting<File>,
    csv: CsvOptions,
    mapping: &Mapping,
    batch_size: usize,
) -> Result<Opened, IngestError> {
    let io = |e| IngestError::Io {
        path: file.path.clone(),
        source: e,
    };
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    (&mut counted)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)
        .map_err(io)?;
    let first_line = prefix.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let first_line = String::from_utf8_lossy(first_line)
        .trim_end_matches('\r')
        .to_string();
    let delimiter = csv
        .delimiter
        .unwrap_or_else(|| sniff_delimiter(&first_line, &file.name));
    let fmt = Format::default()
        .with_delimiter(delimiter)
        .with_header(true);
    // Only whole lines: a record cut at the end of the sniffed bytes (one cell can be
    // megabytes) would look like a short row.
    let whole = match prefix.iter().rposition(|&b| b == b'\n') {
        Some(end) => &prefix[..=end],
        None => &prefix[..],
    };
    let (first, _) =
        fmt.infer_schema(Cursor::new(whole), Some(1))
            .map_err(|e| IngestError::Unreadable {
                file: file.name.clone(),
                message: format!("not readable as delimited text ({e})"),
            })?;
    let first_fields: Vec<String> = first.fields().iter().map(|f| f.name().clone()).collect();
    if first_fields.is_empty() || prefix.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IngestError::Unreadable {
            file: file.name.clone(),
            message: "the file is empty".into(),
        });
    }
    let header = csv
        .header
        .unwrap_or_else(|| looks_like_header(&first_fields, file.table, mapping));
    let headers: Vec<String> = if header {
        first_fields
    } else {
        let def = clientele_schema::table(file.table).expect("discovered table");
        (0..first_fields.len())
            .map(|i| {
                def.columns
                    .get(i)
                    .map(|c| c.name.to_string())
                    .unwrap_or_else(|| format!("column_{}", i + 1))
            })
            .collect()
    };
    let schema = Schema::new(
        headers
            .iter()
            .map(|h| Field::new(h, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let last_byte = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let reader = arrow::csv::ReaderBuilder::new(Arc::new(schema))
        .with_header(header)
        .with_delimiter(delimiter)
        .with_batch_size(batch_size)
        .build(BufReader::with_capacity(
            1 << 20,
            LastByte {
                inner: Cursor::new(prefix).chain(counted),
                last: Arc::clone(&last_byte),
            },
        ))
        .map_err(|e| IngestError::Unreadable {
            file: file.name.clone(),
            message: e.to_string(),
        })?;
    let types = vec![DataType::Utf8; headers.len()];
    Ok(Opened {
        headers,
        types,
        first_row: if header { 2 } else { 1 },
        batches: Box::new(UnclosedQuote {
            inner: reader,
            last_byte,
            last_field_has_break: false,
            done: false,
        }),
    })
}

/// `.tsv` files are tab-separated; otherwise the candidate that splits the first line into
/// the most fields wins, with `,` on ties.
fn sniff_delimiter(first_line: &str, name: &str) -> u8 {
    if name.to_ascii_lowercase().ends_with(".tsv") {
        return b'\t';
    }
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let mut in_quotes = false;
        let n = first_line
            .bytes()
            .filter(|&b| {
                if b == b'"' {
                    in_quotes = !in_quotes;
                }
                !in_quotes && b == d
            })
            .count();
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

/// A first row is a header when one of its fields names a column of the table (directly or
/// through the mapping), or when none of its fields looks like data (a number, date,
/// boolean, email or id such as `C1`).
fn looks_like_header(fields: &[String], table: &str, mapping: &Mapping) -> bool {
    let def = clientele_schema::table(table).expect("discovered table");
    let names_a_column = fields
        .iter()
        .any(|f| def.column(&mapping.canonical_column(table, f)).is_some());
    // Ids such as C1 and emails mark data; column names rarely mix letters and digits.
    let has_data = fields.iter().any(|f| {
        let f = f.trim();
        f.is_empty()
            || f.parse::<f64>().is_ok()
            || clientele_schema::parse_date(f).is_some()
            || clientele_schema::parse_bool(f).is_some()
            || f.contains('@')
            || (f.chars().any(|c| c.is_ascii_digit()) && f.chars().any(|c| c.is_alphabetic()))
    });
    names_a_column || !has_data
}

/// Turns a JSON array of objects, or JSON Lines, into JSON Lines whose values are all text
/// (numbers and booleans as written, nested values as JSON), with the union of the keys in
/// order of first appearance. Typing is then the coercer's job, exactly as for CSV, so a
/// number where text was expected is not a reader error. Errors name the malformed record.
fn json_lines(text: &[u8]) -> Result<(Vec<u8>, Vec<String>), String> {
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    let records: Vec<serde_json::Value> = if start.is_some_and(|i| text[i] == b'[') {
        let values: Vec<serde_json::Value> =
            serde_json::from_slice(text).map_err(|e| format!("not valid JSON: {e}"))?;
        for (i, v) in values.iter().enumerate() {
            if !v.is_object() {
                return Err(format!(
                    "element {} of the JSON array is not an object",
                    i + 1
                ));
            }
        }
        values
    } else {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.map_err(|e| e.to_string())?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(v) if v.is_object() => out.push(v),
                Ok(_) => return Err(format!("line {} is not a JSON object", i + 1)),
                Err(e) => return Err(format!("line {} is not valid JSON: {e}", i + 1)),
            }
        }
        out
    };
    let mut keys: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(text.len());
    for r in records {
        let serde_json::Value::Object(map) = r else {
            continue;
        };
        let mut flat = serde_json::Map::new();
        for (k, v) in map {
            if !keys.contains(&k) {
                keys.push(k.clone());
            }
            let v = match v {
                serde_json::Value::Null => serde_json::Value::Null,
                serde_json::Value::String(s) => serde_json::Value::String(s),
                other => serde_json::Value::String(other.to_string()),
            };
            flat.insert(k, v);
        }
        serde_json::to_writer(&mut out, &flat).map_err(|e| e.to_string())?;
        out.push(b'\n');
    }
    Ok((out, keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_detected() {
        assert_eq!(sniff_delimiter("a,b,c", "x.csv"), b',');
        assert_eq!(sniff_delimiter("a;b;c", "x.csv"), b';');
        assert_eq!(sniff_delimiter("a\tb", "x.csv"), b'\t');
        assert_eq!(sniff_delimiter("\"a;b\",c", "x.csv"), b',');
        assert_eq!(sniff_delimiter("a", "x.tsv"), b'\t');
    }

    #[test]
    fn headers_are_told_from_data() {
        let m = Mapping::default();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(looks_like_header(
            &s(&["order_id", "Customer ID"]),
            "orders",
            &m
        ));
        assert!(looks_like_header(&s(&["Ref", "Who", "When"]), "orders", &m));
        assert!(!looks_like_header(
            &s(&["O1", "C1", "2024-01-01", "12.5"]),
            "orders",
            &m
        ));
        assert!(!looks_like_header(&s(&["C1", "a@x.com"]), "customers", &m));
    }

    #[test]
    fn json_arrays_become_lines() {
        let (out, keys) = json_lines(br#"[{"a":1},{"a":"x","b":true}]"#).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\":\"1\"}\n{\"a\":\"x\",\"b\":\"true\"}\n"
        );
        assert_eq!(keys, vec!["a", "b"]);
        assert!(
            json_lines(b"{\"a\":1}\n{oops}\n")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(json_lines(b"[1,2]").unwrap_err().contains("element 1"));
    }
}
