//! The canonical data model of clientele: every table and column of the workspace as an Arrow
//! schema, defined once, and the coercion of text values to those types.
//!
//! Everything downstream (ingest, engine, reports, models) names tables and columns through
//! this crate, so a rename happens in one place. No IO lives here.

mod coerce;
mod tables;

pub use coerce::{
    MAX_DATE, MIN_DATE, Value, date_to_days, days_to_date, overflows, parse_bool, parse_date,
    parse_money, parse_timestamp, parse_value,
};
pub use tables::{Check, ColumnDef, ColumnType, ForeignKey, Severity, TABLES, TableDef, table};

/// Version of the canonical model written into every workspace manifest. Bump it when a
/// table or column changes meaning, so an old workspace is recognised as such.
pub const SCHEMA_VERSION: u32 = 1;

/// Turns a column header as found in a source file into the snake_case form the canonical
/// model uses: `"Customer ID"` → `customer_id`, `"orderDate"` → `order_date`.
pub fn normalize_column_name(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 4);
    let mut prev_lower = false;
    for ch in raw.trim().trim_start_matches('\u{feff}').chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
            prev_lower = ch.is_lowercase() || ch.is_ascii_digit();
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_normalise_to_snake_case() {
        for (raw, want) in [
            ("Customer ID", "customer_id"),
            ("orderDate", "order_date"),
            ("  total-amount ", "total_amount"),
            ("\u{feff}order_id", "order_id"),
            ("CSAT", "csat"),
            ("unit_price", "unit_price"),
        ] {
            assert_eq!(normalize_column_name(raw), want, "{raw}");
        }
    }
}
