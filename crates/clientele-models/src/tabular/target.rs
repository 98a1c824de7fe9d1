//! The outcome a model predicts, read from a text column: binary (with the documented rule
//! for which value is positive) or numeric, and the labels of the rows a model uses.

use super::{parse_bool, parse_number, present};
use crate::ModelError;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

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
