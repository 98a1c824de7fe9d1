//! What is personal data, for the roles that do not see it ([`Role::sees_personal_data`]).
//!
//! Masked by default: the known personal columns ([`PERSONAL_COLUMNS`]) and every column that
//! ingest kept from a source beyond the canonical ones (a `mobile` or `street` column is
//! nobody's guess to call safe). Free text ([`FREE_TEXT_COLUMNS`]) is shown with the e-mail
//! addresses and phone numbers in it redacted. `<workspace>/access/policy.json` can mark more
//! columns personal, or mark columns safe (shown as they are):
//!
//! ```json
//! {"personal": ["nickname"], "safe": ["loyalty_tier", "city"]}
//! ```
//!
//! Columns are named as in responses, whatever their table: a name masked in one table is
//! masked in all (the safe direction).
//!
//! [`Role::sees_personal_data`]: crate::access::Role::sees_personal_data

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use clientele_ingest::Manifest;
use regex::Regex;
use serde::Deserialize;

use crate::ServerError;
use crate::access::{PERSONAL_COLUMNS, mask};

/// Canonical free-text columns: shown to every role, with e-mail addresses and phone numbers
/// in them redacted for roles that do not see personal data.
pub const FREE_TEXT_COLUMNS: &[&str] = &["description", "comment"];

/// The workspace's own choices, from `access/policy.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// More columns to mask.
    #[serde(default)]
    pub personal: Vec<String>,
    /// Columns to show as they are, even when they are personal or extra by default.
    #[serde(default)]
    pub safe: Vec<String>,
}

/// Where a workspace's privacy policy is.
pub fn policy_path(workspace: &Path) -> PathBuf {
    workspace.join("access").join("policy.json")
}

/// Reads the policy of a workspace (the defaults when there is none).
pub fn load_policy(workspace: &Path) -> Result<Policy, ServerError> {
    let path = policy_path(workspace);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ServerError::Usage(format!(
                "{} is not a valid policy: {e} (expected {{\"personal\": [columns], \"safe\": [columns]}})",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Policy::default()),
        Err(e) => Err(ServerError::Io(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Which columns are masked and which redacted, for one workspace version and policy.
#[derive(Debug, Default)]
pub struct Privacy {
    masked: HashSet<String>,
    redacted: HashSet<String>,
}

impl Privacy {
    /// The columns to protect: the personal ones, every extra source column of the
    /// manifest's tables and the policy's personal ones are masked; free text is redacted;
    /// the policy's safe columns are neither.
    pub fn new(manifest: Option<&Manifest>, policy: &Policy) -> Privacy {
        let safe: HashSet<&str> = policy.safe.iter().map(String::as_str).collect();
        let extras = manifest
            .into_iter()
            .flat_map(|m| m.tables.values())
            .flat_map(|t| t.extra_columns.iter().map(String::as_str));
        let masked = PERSONAL_COLUMNS
            .iter()
            .copied()
            .chain(extras)
            .chain(policy.personal.iter().map(String::as_str))
            .filter(|c| !safe.contains(c))
            .map(str::to_string)
            .collect::<HashSet<_>>();
        let redacted = FREE_TEXT_COLUMNS
            .iter()
            .filter(|c| !safe.contains(*c) && !masked.contains(**c))
            .map(|c| c.to_string())
            .collect();
        Privacy { masked, redacted }
    }

    /// Whether a column is hidden, masked or redacted, from roles without personal data: such
    /// a column may not be filtered or sorted on by them either (the order would tell).
    pub fn protects(&self, column: &str) -> bool {
        self.masked.contains(column) || self.redacted.contains(column)
    }

    fn shown(&self, column: &str, value: &str) -> Option<String> {
        if self.masked.contains(column) {
            Some(if PERSONAL_COLUMNS.contains(&column) {
                mask(column, value)
            } else if value.is_empty() {
                String::new()
            } else {
                "***".to_string()
            })
        } else if self.redacted.contains(column) {
            Some(redact(value))
        } else {
            None
        }
    }

    /// The batches as a role without personal data sees them: protected columns become text
    /// with masked or redacted values.
    pub fn protect(
        &self,
        batches: &[RecordBatch],
    ) -> Result<Vec<RecordBatch>, arrow::error::ArrowError> {
        batches.iter().map(|b| self.protect_batch(b)).collect()
    }

    fn protect_batch(&self, b: &RecordBatch) -> Result<RecordBatch, arrow::error::ArrowError> {
        let schema = b.schema();
        if !schema.fields().iter().any(|f| self.protects(f.name())) {
            return Ok(b.clone());
        }
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (f, c) in schema.fields().iter().zip(b.columns()) {
            if !self.protects(f.name()) {
                fields.push(f.as_ref().clone());
                columns.push(Arc::clone(c));
                continue;
            }
            let text = arrow::compute::cast(c, &DataType::Utf8)?;
            let text = text.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
                arrow::error::ArrowError::CastError(format!("{} is not text", f.name()))
            })?;
            let shown: StringArray = (0..text.len())
                .map(|i| {
                    (!text.is_null(i)).then(|| {
                        self.shown(f.name(), text.value(i))
                            .unwrap_or_else(|| text.value(i).to_string())
                    })
                })
                .collect();
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            columns.push(Arc::new(shown));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
    }
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+").expect("e-mail pattern")
});

/// A run of digits with the separators phone numbers are written with.
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d[\d ().-]{5,}\d").expect("phone pattern"));

static ISO_DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\d{4}-\d{2}-\d{2}$").expect("date pattern"));

/// Free text with e-mail addresses replaced by `[email]` and phone numbers (7 digits or more,
/// written with spaces, dots, dashes or brackets; ISO dates excepted) by `[phone]`.
pub fn redact(text: &str) -> String {
    let text = EMAIL.replace_all(text, "[email]");
    PHONE
        .replace_all(&text, |c: &regex::Captures| {
            let m = &c[0];
            let digits = m.chars().filter(char::is_ascii_digit).count();
            if digits >= 7 && !ISO_DATE.is_match(m.trim()) {
                "[phone]".to_string()
            } else {
                m.to_string()
            }
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Float64Array;

    fn batch(columns: &[(&str, ArrayRef)]) -> RecordBatch {
        RecordBatch::try_from_iter(columns.iter().map(|(n, c)| (*n, Arc::clone(c)))).unwrap()
    }

    fn text(values: &[&str]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    fn column<'a>(b: &'a RecordBatch, name: &str) -> &'a StringArray {
        b.column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap()
    }

    fn manifest_with_extras(extras: &[&str]) -> Manifest {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "generation": 1, "ingested_at": "2026-01-01T00:00:00Z",
            "tables": {}
        }))
        .unwrap();
        let entry: clientele_ingest::TableEntry = serde_json::from_value(serde_json::json!({
            "dir": "customers", "files": [], "rows": 1, "columns": [],
            "extra_columns": extras, "sources": [], "ingested_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        m.tables.insert("customers".into(), entry);
        m
    }

    #[test]
    fn extra_source_columns_and_city_are_masked_by_default() {
        let m = manifest_with_extras(&["mobile", "street", "loyalty_tier"]);
        let p = Privacy::new(Some(&m), &Policy::default());
        let b = batch(&[
            ("customer_id", text(&["C1"])),
            ("mobile", text(&["+44 7700 900123"])),
            ("street", text(&["12 Baker Street"])),
            ("city", text(&["London"])),
            ("region", text(&["South"])),
            ("clv", Arc::new(Float64Array::from(vec![12.5]))),
        ]);
        let out = p.protect(&[b]).unwrap().remove(0);
        assert_eq!(column(&out, "mobile").value(0), "***");
        assert_eq!(column(&out, "street").value(0), "***");
        assert_eq!(column(&out, "city").value(0), "L***");
        assert_eq!(
            column(&out, "region").value(0),
            "South",
            "canonical, not personal"
        );
        assert_eq!(column(&out, "customer_id").value(0), "C1");
        assert!(
            out.column_by_name("clv")
                .unwrap()
                .as_any()
                .is::<Float64Array>()
        );
        assert!(p.protects("mobile") && p.protects("city") && !p.protects("region"));
    }

    #[test]
    fn the_policy_marks_columns_personal_or_safe() {
        let m = manifest_with_extras(&["loyalty_tier"]);
        let policy: Policy =
            serde_json::from_str(r#"{"personal": ["gender"], "safe": ["loyalty_tier", "city"]}"#)
                .unwrap();
        let p = Privacy::new(Some(&m), &policy);
        assert!(!p.protects("loyalty_tier") && !p.protects("city"));
        assert!(p.protects("gender") && p.protects("email"));
        assert!(serde_json::from_str::<Policy>(r#"{"secret": []}"#).is_err());
    }

    #[test]
    fn emails_and_phones_in_free_text_are_redacted() {
        assert_eq!(
            redact("call me on +1 (555) 010-2034 or mail ada.l@example.co.uk, order 42"),
            "call me on [phone] or mail [email], order 42"
        );
        assert_eq!(
            redact("since 2025-01-15, ticket 123456"),
            "since 2025-01-15, ticket 123456"
        );
        assert_eq!(redact("07700 900123"), "[phone]");
        let p = Privacy::new(None, &Policy::default());
        let b = batch(&[("description", text(&["reach me at bob@x.org"]))]);
        let out = p.protect(&[b]).unwrap().remove(0);
        assert_eq!(column(&out, "description").value(0), "reach me at [email]");
        assert!(p.protects("comment"), "free text may not be filtered on");
    }
}
