//! Turning a source batch into a canonical one: each canonical column is cast from whatever
//! the source holds (text from CSV, typed values from Parquet/JSON) to its canonical type,
//! every value that does not parse or breaks a rule is recorded with its file, row, column
//! and value, and unknown extra columns are carried along unchanged.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Array, Date32Builder, Float64Builder, Int64Array,
    Int64Builder, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use clientele_schema::{Check, ColumnDef, ColumnType, TableDef, Value, parse_value};

use crate::{Issue, IssueLog, Severity};

/// 128-bit hashes of key values: collisions are negligible (≈10⁻²⁵ at 10 million rows), so
/// key sets cost 16 bytes a row instead of a copy of every id.
pub type KeyHash = u128;

/// Hasher for maps keyed by [`KeyHash`]: the key already is a high-quality hash, so hashing
/// it again (SipHash by default) only costs time on ten million rows.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// Build-hasher of [`KeyHasher`].
pub type KeyHashBuilder = std::hash::BuildHasherDefault<KeyHasher>;

/// A set of key hashes.
pub type KeySet = HashSet<KeyHash, KeyHashBuilder>;

/// Hashes of the single-column primary keys of parent tables, by table name.
pub type ParentKeys = HashMap<&'static str, KeySet>;

/// The hash [`key_hash`] gives a one-column text key, without its per-row type dispatch:
/// the hot path of key checks on large files.
pub fn text_key_hash(value: &str, buf: &mut Vec<u8>) -> KeyHash {
    buf.clear();
    buf.extend_from_slice(value.as_bytes());
    buf.push(0x1f);
    xxhash_rust::xxh3::xxh3_128(buf)
}

/// Hashes row `row` of the key columns.
pub fn key_hash(cols: &[&ArrayRef], row: usize, buf: &mut Vec<u8>) -> KeyHash {
    buf.clear();
    for c in cols {
        if c.is_null(row) {
            buf.push(0);
        } else if let Some(s) = c.as_any().downcast_ref::<StringArray>() {
            buf.extend_from_slice(s.value(row).as_bytes());
        } else if let Some(t) = c.as_any().downcast_ref::<TimestampMicrosecondArray>() {
            buf.extend_from_slice(&t.value(row).to_le_bytes());
        } else if let Some(d) = c.as_any().downcast_ref::<Date32Array>() {
            buf.extend_from_slice(&d.value(row).to_le_bytes());
        } else if let Some(i) = c.as_any().downcast_ref::<Int64Array>() {
            buf.extend_from_slice(&i.value(row).to_le_bytes());
        }
        buf.push(0x1f);
    }
    xxhash_rust::xxh3::xxh3_128(buf)
}

/// Coerces the batches of one source file into its canonical table.
pub struct TableCoercer {
    def: &'static TableDef,
    file: String,
    /// For each canonical column, the index of the source column feeding it.
    sources: Vec<Option<usize>>,
    /// Source columns that are not canonical: (index, snake_case name).
    extras: Vec<(usize, String)>,
    schema: SchemaRef,
    /// Primary-key hash → first row it was seen on (`u64::MAX` for keys already stored).
    seen: HashMap<KeyHash, u64, KeyHashBuilder>,
    buf: Vec<u8>,
    /// Money values beyond ± this are kept but warned about (see [`crate::MONEY_CEILING`]).
    money_ceiling: f64,
}

impl TableCoercer {
    /// Prepares coercion of a source with these column names (already mapped to canonical
    /// snake_case names). Returns `None`, after recording why, when the file cannot be used:
    /// required columns missing or two source columns naming the same canonical one.
    pub fn new(
        def: &'static TableDef,
        file: &str,
        canonical_names: &[String],
        extra_types: &[DataType],
        log: &mut IssueLog,
    ) -> Option<TableCoercer> {
        let issue = |column: Option<String>, message: String| Issue {
            severity: Severity::Error,
            file: file.to_string(),
            row: None,
            column,
            value: None,
            message,
        };
        let mut ok = true;
        for (i, n) in canonical_names.iter().enumerate() {
            if n.is_empty() {
                log.push(issue(None, format!("column {} has no name", i + 1)));
                ok = false;
            } else if canonical_names[..i].contains(n) {
                log.push(issue(Some(n.clone()), "appears twice in the header".into()));
                ok = false;
            }
        }
        let sources: Vec<Option<usize>> = def
            .columns
            .iter()
            .map(|c| canonical_names.iter().position(|n| n == c.name))
            .collect();
        for (c, s) in def.columns.iter().zip(&sources) {
            if c.required && s.is_none() {
                log.push(issue(
                    Some(c.name.to_string()),
                    format!(
                        "required column is missing (found columns: {}); rename it in the file or map it in a mapping file",
                        canonical_names.join(", ")
                    ),
                ));
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let extras: Vec<(usize, String)> = canonical_names
            .iter()
            .enumerate()
            .filter(|(_, n)| def.column(n).is_none())
            .map(|(i, n)| (i, n.clone()))
            .collect();
        let mut fields: Vec<Field> = def
            .columns
            .iter()
            .map(|c| Field::new(c.name, c.ty.arrow_type(), true))
            .collect();
        for (i, n) in &extras {
            fields.push(Field::new(n, extra_types[*i].clone(), true));
        }
        Some(TableCoercer {
            def,
            file: file.to_string(),
            sources,
            extras,
            schema: Arc::new(Schema::new(fields)),
            seen: HashMap::default(),
            buf: Vec::new(),
            money_ceiling: crate::MONEY_CEILING,
        })
    }

    /// Sets the magnitude beyond which a money value is warned about.
    pub fn with_money_ceiling(mut self, ceiling: f64) -> TableCoercer {
        self.money_ceiling = ceiling;
        self
    }

    /// The canonical output schema: every canonical column, then the extras.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The canonical columns the source actually had.
    pub fn present_columns(&self) -> Vec<String> {
        self.def
            .columns
            .iter()
            .zip(&self.sources)
            .filter(|(_, s)| s.is_some())
            .map(|(c, _)| c.name.to_string())
            .collect()
    }

    /// The extra (non-canonical) columns kept.
    pub fn extra_columns(&self) -> Vec<String> {
        self.extras.iter().map(|(_, n)| n.clone()).collect()
    }

    /// Reserves room for about `rows` keys, so that a large file's key map is not rehashed
    /// again and again as it grows.
    pub fn reserve(&mut self, rows: usize) {
        if !self.def.primary_key.is_empty() {
            self.seen.reserve(rows.saturating_sub(self.seen.len()));
        }
    }

    /// Registers keys already stored in the workspace (for `--append`), so that repeating one
    /// is reported as a duplicate.
    pub fn add_existing_keys(&mut self, keys: impl IntoIterator<Item = KeyHash>) {
        self.seen.extend(keys.into_iter().map(|k| (k, u64::MAX)));
    }

    /// The primary-key hashes seen so far (for children's reference checks).
    pub fn into_keys(self) -> KeySet {
        self.seen.into_keys().collect()
    }

    /// Coerces one batch whose first record is row `first_row` of the file.
    pub fn coerce(
        &mut self,
        batch: &RecordBatch,
        first_row: u64,
        parents: &ParentKeys,
        log: &mut IssueLog,
    ) -> RecordBatch {
        let n = batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (def, src) in self.def.columns.iter().zip(&self.sources) {
            let col = match src {
                Some(i) => self.coerce_column(def, batch.column(*i), first_row, log),
                None => arrow::array::new_null_array(&def.ty.arrow_type(), n),
            };
            columns.push(col);
        }
        for (i, _) in &self.extras {
            columns.push(batch.column(*i).clone());
        }
        self.check_keys(&columns, first_row, parents, log);
        RecordBatch::try_new(self.schema.clone(), columns).expect("coerced columns match schema")
    }

    fn check_keys(
        &mut self,
        columns: &[ArrayRef],
        first_row: u64,
        parents: &ParentKeys,
        log: &mut IssueLog,
    ) {
        let col_of = |name: &str| {
            let i = self
                .def
                .columns
                .iter()
                .position(|c| c.name == name)
                .expect("key column");
            &columns[i]
        };
        let n = columns.first().map_or(0, |c| c.len());
        if !self.def.primary_key.is_empty() {
            let keys: Vec<&ArrayRef> = self.def.primary_key.iter().map(|k| col_of(k)).collect();
            let required_nulls =
                |row| {
                    self.def.primary_key.iter().zip(&keys).any(|(k, c)| {
                        c.is_null(row) && self.def.column(k).is_some_and(|d| d.required)
                    })
                };
            let single_text = match keys.as_slice() {
                [k] => k.as_any().downcast_ref::<StringArray>(),
                _ => None,
            };
            for row in 0..n {
                if required_nulls(row) {
                    continue; // already reported as a missing required value
                }
                let h = match single_text {
                    Some(t) => text_key_hash(t.value(row), &mut self.buf),
                    None => key_hash(&keys, row, &mut self.buf),
                };
                let at = first_row + row as u64;
                // One probe of the key map per row: insert, or find the earlier occurrence.
                let first = match self.seen.entry(h) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(at);
                        continue;
                    }
                    std::collections::hash_map::Entry::Occupied(o) => *o.get(),
                };
                let message = if first == u64::MAX {
                    "duplicate key: already in the workspace".to_string()
                } else {
                    format!("duplicate key: first seen at row {first}")
                };
                log.push(Issue {
                    severity: Severity::Error,
                    file: self.file.clone(),
                    row: Some(at),
                    column: Some(self.def.primary_key.join(", ")),
                    value: Some(display_key(&keys, row)),
                    message,
                });
            }
        }
        for fk in self.def.references {
            let Some(parent) = parents.get(fk.table) else {
                continue;
            };
            let col = col_of(fk.column);
            let Some(s) = col.as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            let pk = clientele_schema::table(fk.table)
                .expect("parent table")
                .primary_key[0];
            for row in 0..n {
                if s.is_null(row) {
                    continue;
                }
                if !parent.contains(&text_key_hash(s.value(row), &mut self.buf)) {
                    log.push(Issue {
                        severity: fk.severity,
                        file: self.file.clone(),
                        row: Some(first_row + row as u64),
                        column: Some(fk.column.to_string()),
                        value: Some(s.value(row).to_string()),
                        message: format!("no row of {} has this {pk}", fk.table),
                    });
                }
            }
        }
    }

    fn coerce_column(
        &self,
        def: &ColumnDef,
        src: &ArrayRef,
        first_row: u64,
        log: &mut IssueLog,
    ) -> ArrayRef {
        let target = def.ty.arrow_type();
        let text: ArrayRef = if src.data_type() == &DataType::Utf8 {
            src.clone()
        } else if src.data_type() == &target
            && def.check == Check::None
            && !def.required
            && all_finite(src)
        {
            if def.ty == ColumnType::Money
                && let Some(f) = src.as_any().downcast_ref::<arrow::array::Float64Array>()
            {
                for (row, x) in f.iter().enumerate() {
                    if let Some(x) = x {
                        self.check_ceiling(log, def, first_row + row as u64, x, &x.to_string());
                    }
                }
            }
            return src.clone();
        } else {
            match cast(src, &DataType::Utf8) {
                Ok(a) => a,
                Err(_) => {
                    log.push(Issue {
                        severity: Severity::Error,
                        file: self.file.clone(),
                        row: None,
                        column: Some(def.name.to_string()),
                        value: None,
                        message: format!(
                            "holds {} values, which cannot be read as {}",
                            src.data_type(),
                            def.ty.expected()
                        ),
                    });
                    return arrow::array::new_null_array(&target, src.len());
                }
            }
        };
        let text = text.as_any().downcast_ref::<StringArray>().expect("utf8");
        if def.ty == ColumnType::Text && def.check == Check::None {
            return self.coerce_text(def, text, first_row, log);
        }
        let mut out = Builder::new(def.ty, text.len());
        for row in 0..text.len() {
            let raw = if text.is_null(row) {
                ""
            } else {
                text.value(row)
            };
            let at = first_row + row as u64;
            if raw.trim().is_empty() {
                if def.required {
                    self.bad(log, def, at, raw, "required value is empty".into());
                }
                out.append_null();
                continue;
            }
            let Some(mut v) = parse_value(def.ty, raw) else {
                let why = match def.ty {
                    ColumnType::Date | ColumnType::Timestamp
                        if clientele_schema::parse_timestamp(raw).is_some() =>
                    {
                        format!(
                            "date out of range: expected a date between {} and {}",
                            clientele_schema::MIN_DATE,
                            clientele_schema::MAX_DATE
                        )
                    }
                    ColumnType::Money | ColumnType::Float | ColumnType::Integer
                        if clientele_schema::overflows(raw) =>
                    {
                        format!(
                            "number too large to store (beyond ±1.8e308): expected {}",
                            def.ty.expected()
                        )
                    }
                    _ => format!("expected {}", def.ty.expected()),
                };
                self.bad(log, def, at, raw, why);
                out.append_null();
                continue;
            };
            if let Err(why) = check(def.check, &mut v) {
                self.bad(log, def, at, raw, why);
                out.append_null();
                continue;
            }
            if let (ColumnType::Money, Value::Float(x)) = (def.ty, &v) {
                self.check_ceiling(log, def, at, *x, raw);
            }
            out.append(v);
        }
        out.finish()
    }

    /// Text needs no parsing: trim, and turn blanks into nulls.
    fn coerce_text(
        &self,
        def: &ColumnDef,
        text: &StringArray,
        first_row: u64,
        log: &mut IssueLog,
    ) -> ArrayRef {
        let clean = text
            .iter()
            .all(|v| v.is_none_or(|s| !s.is_empty() && s.trim().len() == s.len()));
        if clean && (!def.required || text.null_count() == 0) {
            return Arc::new(text.clone());
        }
        let mut b = StringBuilder::with_capacity(text.len(), text.value_data().len());
        for (row, v) in text.iter().enumerate() {
            match v.map(str::trim).filter(|t| !t.is_empty()) {
                Some(t) => b.append_value(t),
                None => {
                    if def.required {
                        let at = first_row + row as u64;
                        self.bad(log, def, at, "", "required value is empty".into());
                    }
                    b.append_null();
                }
            }
        }
        Arc::new(b.finish())
    }

    /// Warns about a money value beyond the sanity ceiling; the value is kept.
    fn check_ceiling(&self, log: &mut IssueLog, def: &ColumnDef, row: u64, x: f64, raw: &str) {
        if x.abs() > self.money_ceiling {
            log.push(Issue {
                severity: Severity::Warning,
                file: self.file.clone(),
                row: Some(row),
                column: Some(def.name.to_string()),
                value: Some(shown(raw)),
                message: format!(
                    "amount beyond the sanity ceiling of {}: kept, but check it (ingest --money-ceiling sets the ceiling)",
                    self.money_ceiling
                ),
            });
        }
    }

    fn bad(&self, log: &mut IssueLog, def: &ColumnDef, row: u64, raw: &str, message: String) {
        log.push(Issue {
            severity: Severity::Error,
            file: self.file.clone(),
            row: Some(row),
            column: Some(def.name.to_string()),
            value: (!raw.is_empty()).then(|| shown(raw)),
            message,
        });
    }
}

/// A value as an issue quotes it: in full up to 60 characters, else its start and its length,
/// so that a 5-million-digit cell does not become a 5-megabyte error message.
fn shown(raw: &str) -> String {
    const MAX: usize = 60;
    if raw.chars().count() <= MAX {
        return raw.to_string();
    }
    let head: String = raw.chars().take(40).collect();
    format!("{head}… ({} characters)", raw.chars().count())
}

/// Whether a float column holds only finite values (other types: true), so that infinity or
/// NaN in a typed source (Parquet, JSON) never passes through uncoerced.
fn all_finite(a: &ArrayRef) -> bool {
    match a.as_any().downcast_ref::<arrow::array::Float64Array>() {
        Some(f) => f.iter().flatten().all(f64::is_finite),
        None => true,
    }
}

fn display_key(keys: &[&ArrayRef], row: usize) -> String {
    keys.iter()
        .map(|c| arrow::util::display::array_value_to_string(c, row).unwrap_or_else(|_| "?".into()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check(rule: Check, v: &mut Value) -> Result<(), String> {
    let num = match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    };
    match (rule, num) {
        (Check::NonNegative, Some(x)) if x < 0.0 => Err("must not be negative".into()),
        (Check::Positive, Some(x)) if x <= 0.0 => Err("must be greater than zero".into()),
        (Check::Range(lo, hi), Some(x)) if !(lo..=hi).contains(&x) => {
            Err(format!("must be between {lo} and {hi}"))
        }
        (Check::OneOf(allowed), _) => {
            let Value::Text(t) = v else { return Ok(()) };
            let lower = t.to_ascii_lowercase();
            if allowed.contains(&lower.as_str()) {
                *t = lower;
                Ok(())
            } else {
                Err(format!("expected one of {}", allowed.join(", ")))
            }
        }
        _ => Ok(()),
    }
}

enum Builder {
    Text(StringBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
}

impl Builder {
    fn new(ty: ColumnType, n: usize) -> Builder {
        match ty {
            ColumnType::Text => Builder::Text(StringBuilder::with_capacity(n, n * 8)),
            ColumnType::Date => Builder::Date(Date32Builder::with_capacity(n)),
            ColumnType::Timestamp => {
                Builder::Ts(TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC"))
            }
            ColumnType::Money | ColumnType::Float => {
                Builder::Float(Float64Builder::with_capacity(n))
            }
            ColumnType::Integer => Builder::Int(Int64Builder::with_capacity(n)),
            ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(n)),
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::Text(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Ts(b) => b.append_null(),
            Builder::Float(b) => b.append_null(),
            Builder::Int(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
        }
    }

    fn append(&mut self, v: Value) {
        match (self, v) {
            (Builder::Text(b), Value::Text(t)) => b.append_value(t),
            (Builder::Date(b), Value::Date(d)) => b.append_value(d),
            (Builder::Ts(b), Value::Timestamp(t)) => b.append_value(t),
            (Builder::Float(b), Value::Float(f)) => b.append_value(f),
            (Builder::Int(b), Value::Integer(i)) => b.append_value(i),
            (Builder::Bool(b), Value::Bool(x)) => b.append_value(x),
            (b, _) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Date(mut b) => Arc::new(b.finish()),
            Builder::Ts(mut b) => Arc::new(b.finish()),
            Builder::Float(mut b) => Arc::new(b.finish()),
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
        }
    }
}

#[cfg(test)]
mod hash_tests {
    use super::*;

    #[test]
    fn the_text_fast_path_hashes_like_the_general_one() {
        // Stored keys (read back through key_hash) and fresh keys (text_key_hash) must agree,
        // or appended duplicates and references would go unnoticed.
        let a: ArrayRef = Arc::new(StringArray::from(vec!["O1", "", "Ünïcode-42"]));
        let mut buf = Vec::new();
        for row in 0..a.len() {
            let s = a.as_any().downcast_ref::<StringArray>().unwrap().value(row);
            assert_eq!(text_key_hash(s, &mut buf), key_hash(&[&a], row, &mut buf));
        }
    }
}
