//! Turning a user's table into a numeric design matrix, the same way for training and scoring.
//!
//! Columns arrive as text (what a CSV export gives) or as numbers (features computed in SQL).
//! [`Encoder::fit`] learns, from the training rows only, what each column is and how to turn
//! it into numbers — medians for imputation, which categorical levels get their own column,
//! which columns carry no signal and are dropped — and [`Encoder::transform`] applies exactly
//! that to any rows later, so a model scored next month sees the features it was trained on.
//! [`Target`] decides which outcome is "positive" by a fixed, documented rule.

use crate::ModelError;
use ndarray::Array2;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

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
        let mut enc = Encoder {
            columns: Vec::new(),
            features: Vec::new(),
            dropped: Vec::new(),
        };
        for col in columns {
            let name = col.name().to_string();
            let drop = |enc: &mut Encoder, reason: String| {
                enc.dropped.push(DroppedColumn {
                    column: name.clone(),
                    reason,
                })
            };
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
                let mut counts: HashMap<Option<&str>, usize> = HashMap::new();
                for &r in rows {
                    *counts.entry(present(&t.values[r])).or_default() += 1;
                }
                let missing = counts.get(&None).copied().unwrap_or(0);
                let distinct = counts.len() - usize::from(missing > 0);
                let non_missing = rows.len() - missing;
                if distinct == 0 {
                    drop(&mut enc, "has no values".into());
                    continue;
                }
                if counts.len() == 1 {
                    let v = counts.keys().next().copied().flatten().unwrap_or_default();
                    drop(&mut enc, format!("has a single value (\"{v}\")"));
                    continue;
                }
                if non_missing >= options.min_rows_for_id_rule
                    && distinct as f64 > options.max_unique_share * non_missing as f64
                {
                    drop(
                        &mut enc,
                        format!(
                            "looks like an identifier ({distinct} distinct values in {non_missing} rows)"
                        ),
                    );
                    continue;
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
                    enc.features.push(Feature {
                        name: format!("{name}={label}"),
                        source: name.clone(),
                    });
                }
                if other {
                    enc.features.push(Feature {
                        name: format!("{name}=other"),
                        source: name.clone(),
                    });
                }
                enc.columns.push(Encoded {
                    column: name.clone(),
                    encoding: Encoding::OneHot {
                        levels: kept,
                        other,
                    },
                });
                continue;
            }
            let values: Vec<Option<f64>> = rows.iter().map(|&r| number_at(col, kind, r)).collect();
            let present_vals: Vec<f64> = values.iter().flatten().copied().collect();
            let any_missing = present_vals.len() < values.len();
            if present_vals.is_empty() {
                drop(&mut enc, "has no values".into());
                continue;
            }
            let first = present_vals[0];
            if !any_missing && present_vals.iter().all(|&v| v == first) {
                drop(
                    &mut enc,
                    format!("has a single value ({})", fmt_value(first)),
                );
                continue;
            }
            enc.features.push(Feature {
                name: name.clone(),
                source: name.clone(),
            });
            if any_missing {
                enc.features.push(Feature {
                    name: format!("{name} (missing)"),
                    source: name.clone(),
                });
            }
            enc.columns.push(Encoded {
                column: name.clone(),
                encoding: Encoding::Number {
                    kind,
                    median: median(present_vals),
                    indicator: any_missing,
                },
            });
        }
        if enc.features.is_empty() {
            return Err(ModelError::InsufficientData(
                "no usable feature column: every column was dropped".into(),
            ));
        }
        Ok(enc)
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

/// The outcome to predict, read from a column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Target {
    /// Two outcomes; `true` is the positive one.
    Binary {
        /// One value per row; `None` where the outcome is missing.
        values: Vec<Option<bool>>,
        /// The text of the positive outcome as it appears in the data.
        positive: String,
        /// The text of the negative outcome.
        negative: String,
    },
    /// A number to predict (revenue, days to close…).
    Numeric {
        /// One value per row; `None` where missing.
        values: Vec<Option<f64>>,
    },
}

/// Target values of the rows a model uses (missing ones removed).
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Binary outcomes, `true` = positive.
    Binary(Vec<bool>),
    /// Numeric outcomes.
    Numeric(Vec<f64>),
}

impl Labels {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Labels::Binary(v) => v.len(),
            Labels::Numeric(v) => v.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The labels of the given rows.
    pub fn select(&self, rows: &[usize]) -> Labels {
        match self {
            Labels::Binary(v) => Labels::Binary(rows.iter().map(|&r| v[r]).collect()),
            Labels::Numeric(v) => Labels::Numeric(rows.iter().map(|&r| v[r]).collect()),
        }
    }
}

impl Target {
    /// Reads a target column given as text.
    ///
    /// With exactly two distinct non-missing values (after trimming, ignoring letter case)
    /// the target is binary,
    /// and the positive class is, in this order: `positive` when given (it must be one of
    /// the two values, compared case-insensitively); the "yes" side when both values are
    /// yes/no tokens (yes/no, true/false, y/n, 1/0); otherwise the second value in sorted
    /// order (numerically when both are numbers, else by text) — so "churned"/"stayed"
    /// makes "stayed" positive unless told otherwise, which is why callers should pass
    /// `positive` for anything but yes/no data. With more than two values the target is
    /// numeric when every value is a number ([`parse_number`]).
    ///
    /// Errors: `BadParameter` for a text target with more than two values or a `positive`
    /// that is not among the values (or given for a numeric target); `InsufficientData` when
    /// there are fewer than two distinct values.
    pub fn from_text(
        values: &[Option<String>],
        positive: Option<&str>,
    ) -> Result<Target, ModelError> {
        // Values differing only in letter case ("Yes"/"yes") are one outcome, spelled as
        // first seen.
        let mut spelled: HashMap<String, &str> = HashMap::new();
        for v in values.iter().filter_map(present) {
            spelled.entry(v.to_ascii_lowercase()).or_insert(v);
        }
        let distinct: BTreeSet<&str> = spelled.into_values().collect();
        match distinct.len() {
            0 => Err(ModelError::InsufficientData(
                "the target column has no values".into(),
            )),
            1 => Err(ModelError::InsufficientData(format!(
                "the target column has a single value (\"{}\"): nothing to predict",
                distinct.first().copied().unwrap_or_default()
            ))),
            2 => {
                let mut two: Vec<&str> = distinct.into_iter().collect();
                let numeric: Option<Vec<f64>> = two.iter().map(|s| parse_number(s)).collect();
                if let Some(nums) = numeric
                    && nums[0] > nums[1]
                {
                    two.swap(0, 1);
                }
                let pos = if let Some(p) = positive {
                    let p = p.trim();
                    two.iter()
                        .position(|v| v.eq_ignore_ascii_case(p))
                        .ok_or_else(|| {
                            ModelError::BadParameter(format!(
                                "positive value \"{p}\" is not in the target column (values: \"{}\", \"{}\")",
                                two[0], two[1]
                            ))
                        })?
                } else {
                    match (parse_bool(two[0]), parse_bool(two[1])) {
                        (Some(a), Some(b)) if a != b => usize::from(b),
                        _ => 1,
                    }
                };
                let (positive, negative) = (two[pos].to_string(), two[1 - pos].to_string());
                Ok(Target::Binary {
                    values: values
                        .iter()
                        .map(|v| present(v).map(|s| s.eq_ignore_ascii_case(&positive)))
                        .collect(),
                    positive,
                    negative,
                })
            }
            n => {
                let parsed: Option<Vec<f64>> = distinct.iter().map(|s| parse_number(s)).collect();
                if parsed.is_none() {
                    let sample: Vec<String> = distinct
                        .iter()
                        .take(5)
                        .map(|s| format!("\"{s}\""))
                        .collect();
                    return Err(ModelError::BadParameter(format!(
                        "the target column has {n} different text values ({}{}); a target must be two outcomes (like yes/no) or a number",
                        sample.join(", "),
                        if n > 5 { ", …" } else { "" }
                    )));
                }
                if let Some(p) = positive {
                    return Err(ModelError::BadParameter(format!(
                        "a positive value (\"{p}\") was given, but the target is numeric with {n} different values"
                    )));
                }
                Ok(Target::Numeric {
                    values: values
                        .iter()
                        .map(|v| present(v).and_then(parse_number))
                        .collect(),
                })
            }
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Target::Binary { values, .. } => values.len(),
            Target::Numeric { values } => values.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows whose target is present: the rows a model can train and be evaluated on.
    pub fn observed_rows(&self) -> Vec<usize> {
        match self {
            Target::Binary { values, .. } => {
                (0..values.len()).filter(|&i| values[i].is_some()).collect()
            }
            Target::Numeric { values } => {
                (0..values.len()).filter(|&i| values[i].is_some()).collect()
            }
        }
    }

    /// Rows whose target is missing (dropped from training; report this count).
    pub fn missing_count(&self) -> usize {
        self.len() - self.observed_rows().len()
    }

    /// The labels of the given rows; missing targets among them are skipped, so pass
    /// [`Target::observed_rows`] (or a subset) to keep rows aligned with a design matrix.
    pub fn labels(&self, rows: &[usize]) -> Labels {
        match self {
            Target::Binary { values, .. } => {
                Labels::Binary(rows.iter().filter_map(|&r| values[r]).collect())
            }
            Target::Numeric { values } => {
                Labels::Numeric(rows.iter().filter_map(|&r| values[r]).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str, vals: &[&str]) -> Column {
        Column::Text(TextColumn {
            name: name.into(),
            values: vals
                .iter()
                .map(|v| (!v.is_empty()).then(|| v.to_string()))
                .collect(),
        })
    }

    fn opt(vals: &[&str]) -> Vec<Option<String>> {
        vals.iter()
            .map(|v| (!v.is_empty()).then(|| v.to_string()))
            .collect()
    }

    #[test]
    fn kinds_are_inferred() {
        assert_eq!(
            infer_kind(&opt(&["yes", "No", "", "YES"])),
            ColumnKind::Boolean
        );
        assert_eq!(infer_kind(&opt(&["1", "0", "1"])), ColumnKind::Boolean);
        assert_eq!(infer_kind(&opt(&["1", "0", "2"])), ColumnKind::Numeric);
        assert_eq!(
            infer_kind(&opt(&["yes", "no", "1"])),
            ColumnKind::Categorical
        );
        assert_eq!(
            infer_kind(&opt(&["1.5", "-2", "1,234.5", " 3e2 "])),
            ColumnKind::Numeric
        );
        assert_eq!(infer_kind(&opt(&["1,5", "2"])), ColumnKind::Categorical);
        assert_eq!(
            infer_kind(&opt(&["2024-02-29", "2023-01-01T10:00:00", ""])),
            ColumnKind::Date
        );
        assert_eq!(infer_kind(&opt(&["2023-02-29"])), ColumnKind::Categorical);
        assert_eq!(
            infer_kind(&opt(&["gold", "silver"])),
            ColumnKind::Categorical
        );
        assert_eq!(infer_kind(&opt(&["", ""])), ColumnKind::Categorical);
        assert_eq!(infer_kind(&opt(&["NaN", "1"])), ColumnKind::Categorical);
    }

    #[test]
    fn dates_count_days_since_epoch() {
        assert_eq!(parse_date_days("1970-01-01"), Some(0));
        assert_eq!(parse_date_days("2000-03-01"), Some(11_017));
        assert_eq!(parse_date_days("1969-12-31 23:59"), Some(-1));
        assert_eq!(parse_date_days("2024-13-01"), None);
        assert_eq!(parse_number("-12,345"), Some(-12_345.0));
        assert_eq!(parse_number("12,34"), None);
    }

    #[test]
    fn numeric_missing_values_get_median_and_indicator() {
        let cols = vec![
            text("spend", &["10", "", "30", "20"]),
            Column::Numeric {
                name: "visits".into(),
                values: vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)],
            },
            text("active", &["yes", "no", "", "YES"]),
            text(
                "since",
                &["1970-01-02", "1970-01-04", "1970-01-03", "1970-01-03"],
            ),
        ];
        let enc = Encoder::fit(&cols, &EncoderOptions::default()).unwrap();
        assert_eq!(
            enc.feature_names(),
            vec![
                "spend",
                "spend (missing)",
                "visits",
                "active",
                "active (missing)",
                "since"
            ]
        );
        let x = enc.transform(&cols).unwrap();
        assert_eq!(x.row(1).to_vec(), vec![20.0, 1.0, 2.0, 0.0, 0.0, 3.0]);
        // Boolean median of [1, 0, 1] is 1.
        assert_eq!(x.row(2).to_vec(), vec![30.0, 0.0, 3.0, 1.0, 1.0, 2.0]);
        let kinds = enc.column_kinds();
        assert_eq!(kinds[2], ("active".to_string(), ColumnKind::Boolean));
        assert_eq!(kinds[3], ("since".to_string(), ColumnKind::Date));
    }

    #[test]
    fn training_rows_only_decide_the_encoding() {
        // Row 3 (held out) is the only missing one: no indicator, median from rows 0..3.
        let cols = vec![text("spend", &["10", "20", "40", ""])];
        let enc = Encoder::fit_rows(&cols, &[0, 1, 2], &EncoderOptions::default()).unwrap();
        assert_eq!(enc.feature_names(), vec!["spend"]);
        let x = enc.transform_rows(&cols, &[3]).unwrap();
        assert_eq!(x[[0, 0]], 20.0);
    }

    #[test]
    fn categorical_levels_other_and_unseen() {
        // 100 rows: a×50, b×30, c×15, d×4 (below min count 5 → other), missing×1.
        let mut vals = Vec::new();
        for (level, count) in [("a", 50), ("b", 30), ("c", 15), ("d", 4), ("", 1)] {
            vals.extend(std::iter::repeat_n(level, count));
        }
        let cols = vec![text("plan", &vals)];
        let enc = Encoder::fit(&cols, &EncoderOptions::default()).unwrap();
        assert_eq!(
            enc.feature_names(),
            vec!["plan=a", "plan=b", "plan=c", "plan=(missing)", "plan=other"]
        );
        assert!(enc.features().iter().all(|f| f.source == "plan"));
        let new = vec![text("plan", &["b", "d", "zzz", ""])];
        let x = enc.transform(&new).unwrap();
        assert_eq!(x.row(0).to_vec(), vec![0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(x.row(1).to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(x.row(2).to_vec(), vec![0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(x.row(3).to_vec(), vec![0.0, 0.0, 0.0, 1.0, 0.0]);
        // max_levels caps the kept levels.
        let opts = EncoderOptions {
            max_levels: 1,
            ..EncoderOptions::default()
        };
        let enc = Encoder::fit(&cols, &opts).unwrap();
        assert_eq!(
            enc.feature_names(),
            vec!["plan=a", "plan=(missing)", "plan=other"]
        );
        // Without an "other" column an unseen level encodes as all zeros.
        let enc = Encoder::fit(
            &[text(
                "t",
                &["x", "y", "x", "y", "x", "y", "x", "y", "x", "y"],
            )],
            &EncoderOptions::default(),
        )
        .unwrap();
        let x = enc.transform(&[text("t", &["z"])]).unwrap();
        assert_eq!(x.row(0).to_vec(), vec![0.0, 0.0]);
    }

    #[test]
    fn constant_and_id_like_columns_are_dropped() {
        let ids: Vec<String> = (0..30).map(|i| format!("C{i:04}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let cols = vec![
            text("customer_id", &ids),
            text("currency", &["EUR"; 30]),
            Column::Numeric {
                name: "flat".into(),
                values: vec![Some(1.0); 30],
            },
            text("blank", &[""; 30]),
            Column::Numeric {
                name: "x".into(),
                values: (0..30).map(|i| Some(i as f64)).collect(),
            },
        ];
        let enc = Encoder::fit(&cols, &EncoderOptions::default()).unwrap();
        assert_eq!(enc.feature_names(), vec!["x"]);
        let reasons: Vec<(&str, &str)> = enc
            .dropped()
            .iter()
            .map(|d| (d.column.as_str(), d.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    "customer_id",
                    "looks like an identifier (30 distinct values in 30 rows)"
                ),
                ("currency", "has a single value (\"EUR\")"),
                ("flat", "has a single value (1)"),
                ("blank", "has no values"),
            ]
        );
        // Only dropped columns → error; the numeric id-like column is kept (numbers may be
        // meaningful), which is why callers should not pass numeric ids.
        assert!(Encoder::fit(&cols[..2], &EncoderOptions::default()).is_err());
        // A column the encoder needs must be present at transform time.
        assert!(enc.transform(&cols[..2]).is_err());
    }

    #[test]
    fn target_positive_class_rule() {
        let t = Target::from_text(&opt(&["yes", "no", "", "Yes"]), None).unwrap();
        let Target::Binary {
            values, positive, ..
        } = &t
        else {
            panic!()
        };
        assert_eq!(positive, "yes");
        assert_eq!(values, &vec![Some(true), Some(false), None, Some(true)]);
        assert_eq!(t.missing_count(), 1);
        assert_eq!(t.observed_rows(), vec![0, 1, 3]);
        assert_eq!(
            t.labels(&t.observed_rows()),
            Labels::Binary(vec![true, false, true])
        );

        let t = Target::from_text(&opt(&["churned", "stayed", "stayed"]), None).unwrap();
        assert!(matches!(&t, Target::Binary { positive, .. } if positive == "stayed"));
        let t = Target::from_text(&opt(&["churned", "stayed"]), Some("Churned")).unwrap();
        assert!(
            matches!(&t, Target::Binary { positive, negative, .. } if positive == "churned" && negative == "stayed")
        );
        assert!(Target::from_text(&opt(&["churned", "stayed"]), Some("lost")).is_err());
        // 0/1 → 1 positive; 9/10 sorted numerically → 10 positive.
        assert!(
            matches!(Target::from_text(&opt(&["1", "0"]), None).unwrap(), Target::Binary { positive, .. } if positive == "1")
        );
        assert!(
            matches!(Target::from_text(&opt(&["10", "9"]), None).unwrap(), Target::Binary { positive, .. } if positive == "10")
        );
        let t = Target::from_text(&opt(&["1.5", "2", "", "7"]), None).unwrap();
        assert_eq!(
            t,
            Target::Numeric {
                values: vec![Some(1.5), Some(2.0), None, Some(7.0)]
            }
        );
        let e = Target::from_text(&opt(&["gold", "silver", "bronze"]), None).unwrap_err();
        assert!(e.to_string().contains("3 different text values"), "{e}");
        assert!(matches!(
            Target::from_text(&opt(&["a", "a"]), None),
            Err(ModelError::InsufficientData(_))
        ));
    }
}
