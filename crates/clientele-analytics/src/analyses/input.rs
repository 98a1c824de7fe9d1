//! Files a user gives an analysis instead of the workspace (`predict --train`, `forecast
//! --series`, `attribution --paths`): CSV read with the csv crate into text columns, the
//! delimiter taken from the header line, every error naming the file and the row.

use std::path::{Path, PathBuf};

use crate::AnalyticsError;

/// A CSV file read as text columns; blank cells are `None`.
pub(crate) struct Table {
    pub path: PathBuf,
    pub names: Vec<String>,
    pub columns: Vec<Vec<Option<String>>>,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    pub fn column(&self, name: &str) -> Option<&Vec<Option<String>>> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.columns[i])
    }
}

/// A CSV reader over a whole file held in memory.
pub(crate) type CsvReader = csv::Reader<std::io::Cursor<Vec<u8>>>;

/// An input file opened for reading: its CSV reader (the delimiter taken from the header
/// line: the most frequent of `,` `;` tab `|`) and its header's names, trimmed.
pub(crate) fn open_csv(path: &Path) -> Result<(CsvReader, Vec<String>), AnalyticsError> {
    let bad = |msg: String| AnalyticsError::Usage(format!("{}: {msg}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read the file ({e})")))?;
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| first.iter().filter(|b| *b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .from_reader(std::io::Cursor::new(bytes));
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| bad(format!("cannot read the header ({e})")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    Ok((reader, names))
}

pub(crate) fn read_csv(path: &Path) -> Result<Table, AnalyticsError> {
    let bad = |msg: String| AnalyticsError::Usage(format!("{}: {msg}", path.display()));
    let (mut reader, names) = open_csv(path)?;
    if names.is_empty() || names.iter().all(String::is_empty) {
        return Err(bad("the file has no header row".into()));
    }
    let mut columns = vec![Vec::new(); names.len()];
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        if rec.len() != names.len() {
            return Err(bad(format!(
                "row {}: {} fields where the header has {}",
                i + 2,
                rec.len(),
                names.len()
            )));
        }
        for (c, v) in columns.iter_mut().zip(rec.iter()) {
            let v = v.trim();
            c.push((!v.is_empty()).then(|| v.to_string()));
        }
    }
    Ok(Table {
        path: path.to_path_buf(),
        names,
        columns,
    })
}

impl Table {
    /// The column `name`, or an error naming the file, the column and the columns it has.
    pub fn require(&self, name: &str, what: &str) -> Result<&Vec<Option<String>>, AnalyticsError> {
        self.column(name).ok_or_else(|| {
            AnalyticsError::Usage(format!(
                "{}: no column '{name}' ({what}); the file has {}",
                self.path.display(),
                self.names.join(", ")
            ))
        })
    }

    /// The error for a cell that is not what its column holds: file, row as a spreadsheet
    /// numbers it (the header is row 1; `row` counts data rows from 0), column, value.
    pub fn cell_error(
        &self,
        row: usize,
        column: &str,
        value: &str,
        expected: &str,
    ) -> AnalyticsError {
        AnalyticsError::Usage(format!(
            "{}: row {}, column {column}: '{value}' is not {expected}",
            self.path.display(),
            row + 2
        ))
    }

    /// A cell read as a finite number of at least 0 (a blank cell is an error).
    pub fn non_negative(
        &self,
        row: usize,
        column: &str,
        cell: &Option<String>,
    ) -> Result<f64, AnalyticsError> {
        let s = cell.as_deref().unwrap_or("");
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| self.cell_error(row, column, s, "a number of at least 0"))
    }
}
