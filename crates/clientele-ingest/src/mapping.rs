//! The mapping file: how a source's tables and columns are named in the canonical model.
//!
//! ```toml
//! [orders]
//! source = "Transactions"      # file stem to read for this table (default: the table name)
//! customer_id = "CustID"       # canonical column = source column
//! order_date = "Date"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use crate::IngestError;

/// Renames for one canonical table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableMapping {
    /// File stem holding this table, when it is not the table's own name.
    pub source: Option<String>,
    /// canonical column → source column.
    pub columns: BTreeMap<String, String>,
}

/// The whole mapping file: canonical table → its renames.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    /// Per canonical table.
    pub tables: BTreeMap<String, TableMapping>,
}

impl Mapping {
    /// Reads and checks a mapping file: unknown tables and unknown canonical columns are
    /// errors, since a typo there would silently drop data.
    pub fn load(path: &Path) -> Result<Mapping, IngestError> {
        let text = std::fs::read_to_string(path).map_err(|e| IngestError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        Mapping::parse(&text).map_err(|message| IngestError::Mapping {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses mapping TOML; the error is a sentence naming the table or key at fault.
    pub fn parse(text: &str) -> Result<Mapping, String> {
        let value: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let mut tables = BTreeMap::new();
        for (name, body) in value {
            let def = clientele_schema::table(&name).ok_or_else(|| {
                format!(
                    "[{name}] is not a canonical table; known tables: {}",
                    known_tables()
                )
            })?;
            let body = body
                .as_table()
                .ok_or_else(|| format!("[{name}] must be a table of column = \"source column\""))?;
            let mut m = TableMapping::default();
            for (key, v) in body {
                let v = v
                    .as_str()
                    .ok_or_else(|| format!("[{name}] {key} must be a string"))?
                    .to_string();
                if key == "source" {
                    m.source = Some(v);
                } else if def.column(key).is_some() {
                    m.columns.insert(key.clone(), v);
                } else {
                    let cols: Vec<_> = def.columns.iter().map(|c| c.name).collect();
                    return Err(format!(
                        "[{name}] {key} is not a column of {name}; its columns are {}",
                        cols.join(", ")
                    ));
                }
            }
            tables.insert(name, m);
        }
        Ok(Mapping { tables })
    }

    /// The canonical table a file stem holds, if any.
    pub fn table_for_stem(&self, stem: &str) -> Option<&'static str> {
        for (name, m) in &self.tables {
            if m.source
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case(stem))
            {
                return clientele_schema::table(name).map(|t| t.name);
            }
        }
        let norm = clientele_schema::normalize_column_name(stem);
        clientele_schema::table(&norm)
            .filter(|t| {
                // A table mapped to another file is not read from its own name.
                self.tables.get(t.name).is_none_or(|m| m.source.is_none())
            })
            .map(|t| t.name)
    }

    /// The canonical column a source header names in `table`: an explicit rename first, then
    /// the header in snake_case.
    pub fn canonical_column(&self, table: &str, header: &str) -> String {
        if let Some(m) = self.tables.get(table) {
            for (canon, src) in &m.columns {
                if src == header || src.eq_ignore_ascii_case(header.trim()) {
                    return canon.clone();
                }
            }
        }
        clientele_schema::normalize_column_name(header)
    }
}

/// The canonical table names, comma-separated, for error messages.
pub fn known_tables() -> String {
    clientele_schema::TABLES
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_tables_and_columns() {
        let m = Mapping::parse("[orders]\nsource = \"Transactions\"\ncustomer_id = \"CustID\"\n")
            .unwrap();
        assert_eq!(m.table_for_stem("Transactions"), Some("orders"));
        assert_eq!(m.table_for_stem("transactions"), Some("orders"));
        assert_eq!(m.table_for_stem("orders"), None);
        assert_eq!(m.table_for_stem("Customers"), Some("customers"));
        assert_eq!(m.canonical_column("orders", "CustID"), "customer_id");
        assert_eq!(m.canonical_column("orders", "Order Date"), "order_date");
    }

    #[test]
    fn typos_are_errors_that_list_the_alternatives() {
        let e = Mapping::parse("[order]\nx = \"y\"\n").unwrap_err();
        assert!(
            e.contains("[order] is not a canonical table") && e.contains("orders"),
            "{e}"
        );
        let e = Mapping::parse("[orders]\ncustomer = \"CustID\"\n").unwrap_err();
        assert!(e.contains("customer is not a column of orders") && e.contains("customer_id"));
        let e = Mapping::parse("[orders]\ncustomer_id = 3\n").unwrap_err();
        assert!(e.contains("must be a string"), "{e}");
    }
}
