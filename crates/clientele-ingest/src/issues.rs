//! Problems found while ingesting, collected rather than thrown: an ingest reports every
//! problem (up to a limit per kind) so a user fixes a file once, not once per error.

use std::collections::HashMap;
use std::fmt;

pub use clientele_schema::Severity;

/// One problem with the input, located as precisely as the source allows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Issue {
    /// Whether it stops the ingest.
    #[serde(serialize_with = "ser_severity")]
    pub severity: Severity,
    /// Source file name as given by the user (or the table name when no file is involved).
    pub file: String,
    /// 1-based row: for CSV the row as a spreadsheet numbers it (the header is row 1), for
    /// JSON Lines the line, for Parquet the record.
    pub row: Option<u64>,
    /// Column name in the canonical model (or as found in the source when unknown).
    pub column: Option<String>,
    /// The offending value, as text.
    pub value: Option<String>,
    /// What was wrong or expected, as a sentence fragment.
    pub message: String,
}

impl Issue {
    /// A problem with a whole file rather than with one of its cells.
    pub fn whole_file(
        severity: Severity,
        file: impl Into<String>,
        message: impl Into<String>,
    ) -> Issue {
        Issue {
            severity,
            file: file.into(),
            row: None,
            column: None,
            value: None,
            message: message.into(),
        }
    }
}

fn ser_severity<S: serde::Serializer>(s: &Severity, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    })
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{kind}: {}", self.file)?;
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        if let Some(v) = &self.value {
            write!(f, ": value '{v}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// How many issues of one kind (same file, column and message) are kept verbatim; the rest
/// are only counted, so a file with a million bad dates does not produce a million lines.
pub const KEEP_PER_KIND: usize = 20;

/// The issues of one ingest, capped per kind.
#[derive(Debug, Default)]
pub struct IssueLog {
    kept: Vec<Issue>,
    per_kind: HashMap<(String, Option<String>, String), u64>,
    errors: u64,
    warnings: u64,
}

impl IssueLog {
    /// Records an issue; beyond [`KEEP_PER_KIND`] of its kind only the count grows.
    pub fn push(&mut self, issue: Issue) {
        match issue.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
        }
        let key = (
            issue.file.clone(),
            issue.column.clone(),
            issue.message.clone(),
        );
        let n = self.per_kind.entry(key).or_insert(0);
        *n += 1;
        if *n as usize <= KEEP_PER_KIND {
            self.kept.push(issue);
        }
    }

    /// Number of errors seen, including those not kept.
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Number of warnings seen, including those not kept.
    pub fn warnings(&self) -> u64 {
        self.warnings
    }

    /// The kept issues in the order found, and one summary line per kind that was cut.
    pub fn into_report(self) -> (Vec<Issue>, Vec<String>) {
        let mut omitted: Vec<String> = self
            .per_kind
            .into_iter()
            .filter(|(_, n)| *n as usize > KEEP_PER_KIND)
            .map(|((file, col, msg), n)| {
                let col = col.map(|c| format!(", column {c}")).unwrap_or_default();
                format!(
                    "{file}{col}: {} more rows with the same problem ({msg})",
                    n - KEEP_PER_KIND as u64
                )
            })
            .collect();
        omitted.sort();
        (self.kept, omitted)
    }
}
