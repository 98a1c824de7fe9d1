//! Turning a user's table into a numeric design matrix, the same way for training and scoring.
//!
//! Columns arrive as text (what a CSV export gives) or as numbers (features computed in SQL).
//! [`Encoder::fit`] learns, from the training rows only, what each column is and how to turn
//! it into numbers — medians for imputation, which categorical levels get their own column,
//! which columns carry no signal and are dropped — and [`Encoder::transform`] applies exactly
//! that to any rows later, so a model scored next month sees the features it was trained on.
//! [`Target`] (in `tabular/target.rs`) decides which outcome is "positive" by a fixed,
//! documented rule.

use crate::ModelError;
use ndarray::Array2;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

mod target;

pub use target::{Labels, Target};

/// A column of text values as read from a file; `None` or blank means missing.
#[derive(Debug, Clone, PartialEq)]
pub struct TextColumn {
    /// Column name (used in feature names and to match columns at transform time).
    pub name: String,
    /// One value per row.
    pub values: Vec<Option<String>>,
}

/// An input column: text to be interpreted, or numbers already computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers (missing as `None`; NaN is treated as missing too).
    Numeric {
        /// Column name.
        name: String,
        /// One value per row.
        values: Vec<Option<f64>>,
    },
    /// Text whose kind is inferred by [`infer_kind`].
    Text(TextColumn),
}

impl Column {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            Column::Numeric { name, .. } => name,
            Column::Text(t) => &t.name,
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric { values, .. } => values.len(),
            Column::Text(t) => t.values.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a text column holds, as decided by [`infer_kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ColumnKind {
    /// Numbers.
    Numeric,
    /// Two-valued yes/no answers.
    Boolean,
    /// Calendar dates.
    Date,
    /// Anything else: labels.
    Categorical,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Parses a boolean token: yes/no, true/false, y/n, 1/0, any case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "y" | "1" => Some(true),
        "no" | "false" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Parses a number: anything Rust's `f64` parser takes (after trimming) that is finite, or
/// digits with comma thousands separators in groups of three (`1,234,567.5`). A lone comma
/// as decimal separator (`1,5`) is not a number — it is ambiguous with a thousands separator,
/// and guessing wrong would scale values by 1000.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let groups: Vec<&str> = int.split(',').collect();
    let grouped = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !grouped {
        return None;
    }
    let mut plain = groups.concat();
    if let Some(f) = frac {
        plain.push('.');
        plain.push_str(f);
    }
    plain.parse::<f64>().ok().map(|v| sign * v)
}

/// Parses an ISO date `YYYY-MM-DD`, optionally followed by `T` or a space and a time (which
/// is ignored), into days since 1970-01-01.
pub fn parse_date_days(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if b.len() > 10 && b[10] != b'T' && b[10] != b' ' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Decides what a text column holds, looking at its non-missing values:
/// - **Boolean** when every value is a yes/no token (yes/no, true/false, y/n, 1/0, any case)
///   and there are at most two distinct tokens (so `0`/`1` is boolean but `0`/`1`/`2` is
///   numeric);
/// - **Date** when every value is an ISO date `YYYY-MM-DD` (optionally with a time);
/// - **Numeric** when every value parses as a number ([`parse_number`]: thousands separators
///   in groups of three are accepted, decimal commas are not);
/// - **Categorical** otherwise, and for a column with no values at all.
pub fn infer_kind(values: &[Option<String>]) -> ColumnKind {
    let mut vals = values.iter().filter_map(present).peekable();
    if vals.peek().is_none() {
        return ColumnKind::Categorical;
    }
    let (mut boolean, mut date, mut numeric) = (true, true, true);
    let mut tokens: BTreeSet<String> = BTreeSet::new();
    for v in vals {
        if boolean {
            if parse_bool(v).is_some() {
                if tokens.len() <= 2 {
                    tokens.insert(v.to_ascii_lowercase());
                }
                boolean = tokens.len() <= 2;
            } else {
                boolean = false;
            }
        }
        date = date && parse_date_days(v).is_some();
        numeric = numeric && parse_number(v).is_some();
        if !(boolean || date || numeric) {
            return ColumnKind::Categorical;
        }
    }
    if boolean {
        ColumnKind::Boolean
    } else if date {
        ColumnKind::Date
    } else if numeric {
        ColumnKind::Numeric
    } else {
        ColumnKind::Categorical
    }
}

/// Options for [`Encoder::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderOptions {
    /// Most categorical levels given their own column; rarer levels share `<name>=other`.
    pub max_levels: usize,
    /// A level needs at least this share of the training rows for its own column…
    pub min_level_share: f64,
    /// …and at least this many training rows.
    pub min_level_count: usize,
    /// A categorical column with more distinct values than this share of its non-missing
    /// training values looks like an identifier (names, e-mails, ids) and is dropped.
    pub max_unique_share: f64,
    /// The identifier rule applies only from this many non-missing values on, so a tiny
    /// table's categorical columns are not all mistaken for ids.
    pub min_rows_for_id_rule: usize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        EncoderOptions {
            max_levels: 20,
            min_level_share: 0.01,
            min_level_count: 5,
            max_unique_share: 0.5,
            min_rows_for_id_rule: 20,
        }
    }
}

/// A column the encoder left out, and why (for the caller to print).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DroppedColumn {
    /// The column's name.
    pub column: String,
    /// A sentence saying why, e.g. "has a single value (\"EUR\")".
    pub reason: String,
}

/// One column of the design matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feature {
    /// The feature's name: `tenure`, `tenure (missing)`, `plan=gold`, `plan=other`.
    pub name: String,
    /// The input column it was made from, so explanations can be summed per column.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Encoding {
    /// Numbers (also booleans as 0/1 and dates as days): impute the median, maybe flag.
    Number {
        kind: ColumnKind,
        median: f64,
        indicator: bool,
    },
    /// One-hot over `levels` (`None` = the missing level), the rest into "other" if `other`.
    OneHot {
        levels: Vec<Option<String>>,
        other: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Encoded {
    column: String,
    encoding: Encoding,
}

/// The learned encoding of a table: which columns become which features.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoder {
    columns: Vec<Encoded>,
    features: Vec<Feature>,
    dropped: Vec<DroppedColumn>,
}

/// Reads one value of a column as a number under `kind`; `None` is missing (or unparsable,
/// which at transform time counts as missing rather than failing the whole scoring run).
fn number_at(col: &Column, kind: ColumnKind, row: usize) -> Option<f64> {
    match col {
        Column::Numeric { values, .. } => values[row].filter(|v| !v.is_nan()),
        Column::Text(t) => {
            let s = present(&t.values[row])?;
            match kind {
                ColumnKind::Boolean => parse_bool(s).map(|b| f64::from(u8::from(b))),
                ColumnKind::Date => parse_date_days(s).map(|d| d as f64),
                _ => parse_number(s),
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn fmt_value(v: f64) -> String {
    format!("{v}")
}

/// Columns of one length, distinct names, and `rows` within that length.
fn check_columns(columns: &[Column], rows: &[usize]) -> Result<(), ModelError> {
    let n = columns.first().map_or(0, Column::len);
    let mut seen = BTreeSet::new();
    for c in columns {
        if c.len() != n {
            return Err(ModelError::BadParameter(format!(
                "column \"{}\" has {} rows, expected {n}",
                c.name(),
                c.len()
            )));
        }
        if !seen.insert(c.name()) {
            return Err(ModelError::BadParameter(format!(
                "column \"{}\" appears twice",
                c.name()
            )));
        }
    }
    if let Some(&r) = rows.iter().find(|&&r| r >= n) {
        return Err(ModelError::BadParameter(format!(
            "row {r} is out of range for {n} rows"
        )));
    }
    Ok(())
}

impl Encoder {
    /// Learns the encoding from all rows of `columns`.
    pub fn fit(columns: &[Column], options: &EncoderOptions) -> Result<Encoder, ModelError> {
        let n = columns.first().map_or(0, Column::len);
        let rows: Vec<usize> = (0..n).collect();
        Self::fit_rows(columns, &rows, options)
    }

    /// Learns the encoding from the given rows only (the training rows), so nothing about
    /// the test rows — not even their median — leaks into the features.
    ///
    /// Per column: numbers (and text that [`infer_kind`] calls numeric, boolean or date —
    /// booleans become 0/1, dates days since 1970-01-01) keep their value with missing values
    /// imputed by the training median, plus a `<name> (missing)` 0/1 feature when any
    /// training value is missing. Categorical text becomes one-hot columns `<name>=<level>`
    /// for the most frequent levels (at most `max_levels`, each with at least
    /// `min_level_share` of the rows and `min_level_count` rows), missing values as the level
    /// `<name>=(missing)`, and the remaining levels together as `<name>=other`. Columns with
    /// one value only, no values, or identifier-like text are dropped and listed in
    /// [`Encoder::dropped`].
    ///
    /// Errors: columns of different lengths, a row index out of range, duplicate column
    /// names, or no usable column left.
    pub fn fit_rows(
        columns: &[Column],
        rows: &[usize],
        options: &EncoderOptions,
    ) -> Result<Encoder, ModelError> {
        check_columns(columns, rows)?;
        let mut enc = Encoder {
            columns: Vec::new(),
            features: Vec::new(),
            dropped: Vec::new(),
        };
        for col in columns {
            let kind = match col {
                Column::Numeric { .. } => ColumnKind::Numeric,
                Column::Text(t) => {
                    let vals: Vec<Option<String>> =
                        rows.iter().map(|&r| t.values[r].clone()).collect();
                    infer_kind(&vals)
                }
            };
            if kind == ColumnKind::Categorical {
                let Column::Text(t) = col else { unreachable!() };
                enc.fit_one_hot(t, rows, options);
            } else {
                enc.fit_number(col, kind, rows);
            }
        }
        if enc.features.is_empty() {
            return Err(ModelError::InsufficientData(
                "no usable feature column: every column was dropped".into(),
            ));
        }
        Ok(enc)
    }

    fn drop_column(&mut self, column: &str, reason: String) {
        self.dropped.push(DroppedColumn {
            column: column.to_string(),
            reason,
        })
    }

    /// Learns the one-hot encoding of a categorical column from `rows`, or drops the column
    /// (no values, a single value, identifier-like).
    fn fit_one_hot(&mut self, t: &TextColumn, rows: &[usize], options: &EncoderOptions) {
        let name = t.name.clone();
        let mut counts: HashMap<Option<&str>, usize> = HashMap::new();
        for &r in rows {
            *counts.entry(present(&t.values[r])).or_default() += 1;
        }
        let missing = counts.get(&None).copied().unwrap_or(0);
        let distinct = counts.len() - usize::from(missing > 0);
        let non_missing = rows.len() - missing;
        if distinct == 0 {
            self.drop_column(&name, "has no values".into());
            return;
        }
        if counts.len() == 1 {
            let v = counts.keys().next().copied().flatten().unwrap_or_default();
            self.drop_column(&name, format!("has a single value (\"{v}\")"));
            return;
        }
        if non_missing >= options.min_rows_for_id_rule
            && distinct as f64 > options.max_unique_share * non_missing as f64
        {
            self.drop_column(
                &name,
                format!(
                    "looks like an identifier ({distinct} distinct values in {non_missing} rows)"
                ),
            );
            return;
        }
        let mut levels: Vec<(Option<&str>, usize)> = counts.into_iter().collect();
        // Most frequent first; ties by name so the encoding is reproducible.
        levels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let min_count = options
            .min_level_count
            .max((options.min_level_share * rows.len() as f64).ceil() as usize);
        let mut kept: Vec<Option<String>> = Vec::new();
        let mut other = false;
        for (level, count) in &levels {
            // The missing level always keeps its own column: "no answer" is often
            // the signal, and folding it into "other" would hide that.
            if level.is_none() || (kept.len() < options.max_levels && *count >= min_count) {
                kept.push(level.map(str::to_string));
            } else {
                other = true;
            }
        }
        for level in &kept {
            let label = level.as_deref().unwrap_or("(missing)");
            self.features.push(Feature {
                name: format!("{name}={label}"),
                source: name.clone(),
            });
        }
        if other {
            self.features.push(Feature {
                name: format!("{name}=other"),
                source: name.clone(),
            });
        }
        self.columns.push(Encoded {
            column: name.clone(),
            encoding: Encoding::OneHot {
                levels: kept,
                other,
            },
        });
    }

    /// Learns the imputation of a numeric (boolean, date) column from `rows`, or drops the
    /// column (no values, a single value).
    fn fit_number(&mut self, col: &Column, kind: ColumnKind, rows: &[usize]) {
        let name = col.name().to_string();
        let values: Vec<Option<f64>> = rows.iter().map(|&r| number_at(col, kind, r)).collect();
        let present_vals: Vec<f64> = values.iter().flatten().copied().collect();
        let any_missing = present_vals.len() < values.len();
        if present_vals.is_empty() {
            self.drop_column(&name, "has no values".into());
            return;
        }
        let first = present_vals[0];
        if !any_missing && present_vals.iter().all(|&v| v == first) {
            self.drop_column(&name, format!("has a single value ({})", fmt_value(first)));
            return;
        }
        self.features.push(Feature {
            name: name.clone(),
            source: name.clone(),
        });
        if any_missing {
            self.features.push(Feature {
                name: format!("{name} (missing)"),
                source: name.clone(),
            });
        }
        self.columns.push(Encoded {
            column: name.clone(),
            encoding: Encoding::Number {
                kind,
                median: median(present_vals),
                indicator: any_missing,
            },
        });
    }

    /// The features (design-matrix columns) in order.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The feature names in design-matrix order.
    pub fn feature_names(&self) -> Vec<String> {
        self.features.iter().map(|f| f.name.clone()).collect()
    }

    /// Columns left out, with the reason.
    pub fn dropped(&self) -> &[DroppedColumn] {
        &self.dropped
    }

    /// The kind each kept input column was read as, by column name, in input order.
    pub fn column_kinds(&self) -> Vec<(String, ColumnKind)> {
        self.columns
            .iter()
            .map(|c| {
                let kind = match &c.encoding {
                    Encoding::Number { kind, .. } => *kind,
                    Encoding::OneHot { .. } => ColumnKind::Categorical,
                };
                (c.column.clone(), kind)
            })
            .collect()
    }

    /// Encodes every row of `columns` (matched by name; extra columns are ignored).
    pub fn transform(&self, columns: &[Column]) -> Result<Array2<f64>, ModelError> {
        let n = columns.first().map_or(0, Column::len);
        let rows: Vec<usize> = (0..n).collect();
        self.transform_rows(columns, &rows)
    }

    /// Encodes the given rows of `columns` with the learned encoding: missing numbers get the
    /// training median (and their indicator 1), unparsable values count as missing, a
    /// categorical level not seen in training goes to `<name>=other` (all zeros when training
    /// had no "other" column), as does a missing value when training had none.
    ///
    /// Errors when a column the encoder uses is absent or columns differ in length.
    pub fn transform_rows(
        &self,
        columns: &[Column],
        rows: &[usize],
    ) -> Result<Array2<f64>, ModelError> {
        let by_name: HashMap<&str, &Column> = columns.iter().map(|c| (c.name(), c)).collect();
        let mut out = Array2::<f64>::zeros((rows.len(), self.features.len()));
        let mut j = 0;
        for enc in &self.columns {
            let col = by_name.get(enc.column.as_str()).ok_or_else(|| {
                ModelError::BadParameter(format!("column \"{}\" is missing", enc.column))
            })?;
            if let Some(&r) = rows.iter().find(|&&r| r >= col.len()) {
                return Err(ModelError::BadParameter(format!(
                    "row {r} is out of range for column \"{}\" ({} rows)",
                    enc.column,
                    col.len()
                )));
            }
            match &enc.encoding {
                Encoding::Number {
                    kind,
                    median,
                    indicator,
                } => {
                    for (i, &r) in rows.iter().enumerate() {
                        let v = number_at(col, *kind, r);
                        out[[i, j]] = v.unwrap_or(*median);
                        if *indicator {
                            out[[i, j + 1]] = f64::from(u8::from(v.is_none()));
                        }
                    }
                    j += 1 + usize::from(*indicator);
                }
                Encoding::OneHot { levels, other } => {
                    let index: HashMap<Option<&str>, usize> = levels
                        .iter()
                        .enumerate()
                        .map(|(k, l)| (l.as_deref(), k))
                        .collect();
                    let width = levels.len() + usize::from(*other);
                    for (i, &r) in rows.iter().enumerate() {
                        let v = match col {
                            Column::Text(t) => present(&t.values[r]).map(str::to_string),
                            Column::Numeric { values, .. } => {
                                values[r].filter(|v| !v.is_nan()).map(fmt_value)
                            }
                        };
                        match index.get(&v.as_deref()) {
                            Some(&k) => out[[i, j + k]] = 1.0,
                            None if *other => out[[i, j + levels.len()]] = 1.0,
                            None => {}
                        }
                    }
                    j += width;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
