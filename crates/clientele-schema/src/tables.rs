//! The table catalogue: columns, types, keys, references and value checks of every canonical
//! table, in the order of DESIGN.md.

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// The type a canonical column is stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Identifiers and free text: Arrow `Utf8`.
    Text,
    /// Calendar dates: Arrow `Date32`.
    Date,
    /// Instants: Arrow `Timestamp(Microsecond, "UTC")`.
    Timestamp,
    /// Money in the workspace's one currency, parsed from decimal text, stored as `Float64`.
    Money,
    /// Other real numbers (discount fraction, MRR …): `Float64`.
    Float,
    /// Whole numbers (counts, scores): `Int64`.
    Integer,
    /// true/false/1/0/yes/no: `Boolean`.
    Bool,
}

impl ColumnType {
    /// The Arrow type a column of this kind has in the workspace.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Text => DataType::Utf8,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::Money | ColumnType::Float => DataType::Float64,
            ColumnType::Integer => DataType::Int64,
            ColumnType::Bool => DataType::Boolean,
        }
    }

    /// What a user must write, for error messages: "a date (YYYY-MM-DD or YYYYMMDD)".
    pub fn expected(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Date => "a date (YYYY-MM-DD, an ISO 8601 timestamp, or YYYYMMDD)",
            ColumnType::Timestamp => {
                "a date or timestamp (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[Z|±HH:MM], or YYYYMMDD)"
            }
            ColumnType::Money => "a decimal amount such as 1234.50",
            ColumnType::Float => "a decimal number",
            ColumnType::Integer => "a whole number",
            ColumnType::Bool => "a boolean (true/false, 1/0, yes/no)",
        }
    }
}

/// A rule a column's values must follow beyond their type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// No check beyond the type.
    None,
    /// The value must be ≥ 0 (amounts, costs, counts).
    NonNegative,
    /// The value must be > 0 (quantities).
    Positive,
    /// The value must lie in `[lo, hi]`.
    Range(f64, f64),
    /// The value, lower-cased and trimmed, must be one of these; it is stored lower-cased.
    OneOf(&'static [&'static str]),
}

/// One column of a canonical table.
#[derive(Debug, Clone, Copy)]
pub struct ColumnDef {
    /// snake_case name.
    pub name: &'static str,
    /// Storage type.
    pub ty: ColumnType,
    /// A required column must be present and every value non-empty.
    pub required: bool,
    /// Value rule beyond the type.
    pub check: Check,
}

/// Whether a broken rule stops the ingest (error) or is only reported (warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Reported; the data is stored anyway.
    Warning,
    /// The ingest stops and the workspace is left as it was.
    Error,
}

/// A reference from a column to the primary key of another table. Checked only when the
/// referenced table is present (in the same ingest or already in the workspace).
#[derive(Debug, Clone, Copy)]
pub struct ForeignKey {
    /// Column of this table holding the reference; empty values are not references.
    pub column: &'static str,
    /// Referenced table; its single-column primary key is the target.
    pub table: &'static str,
    /// What a dangling reference is.
    pub severity: Severity,
}

/// A canonical table.
#[derive(Debug, Clone, Copy)]
pub struct TableDef {
    /// snake_case table name, also the source file stem.
    pub name: &'static str,
    /// Columns in canonical order (the order used for header-less CSV files).
    pub columns: &'static [ColumnDef],
    /// Columns whose combination must be unique; empty when rows have no key.
    pub primary_key: &'static [&'static str],
    /// References to other tables.
    pub references: &'static [ForeignKey],
}

impl TableDef {
    /// The column of this name, if canonical.
    pub fn column(&self, name: &str) -> Option<&'static ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The Arrow schema of the canonical columns (extra source columns are appended as Utf8
    /// at ingest time and are not part of this).
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.ty.arrow_type(), true))
                .collect::<Vec<_>>(),
        )
    }
}

/// Looks a canonical table up by name.
pub fn table(name: &str) -> Option<&'static TableDef> {
    TABLES.iter().find(|t| t.name == name)
}

use ColumnType::*;

const fn col(name: &'static str, ty: ColumnType) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        required: false,
        check: Check::None,
    }
}
const fn req(name: &'static str, ty: ColumnType) -> ColumnDef {
    ColumnDef {
        name,
        ty,
        required: true,
        check: Check::None,
    }
}
const fn chk(mut c: ColumnDef, check: Check) -> ColumnDef {
    c.check = check;
    c
}
const fn fk(column: &'static str, table: &'static str, severity: Severity) -> ForeignKey {
    ForeignKey {
        column,
        table,
        severity,
    }
}

const NONNEG: Check = Check::NonNegative;
const W: Severity = Severity::Warning;
const E: Severity = Severity::Error;

/// Every canonical table, parents before children (the order ingest validates them in, so
/// that references can be checked against complete parent keys).
pub const TABLES: &[TableDef] = &[
    TableDef {
        name: "customers",
        columns: &[
            req("customer_id", Text),
            col("email", Text),
            col("phone", Text),
            col("first_name", Text),
            col("last_name", Text),
            col("birth_date", Date),
            col("gender", Text),
            col("city", Text),
            col("region", Text),
            col("country", Text),
            col("postal_code", Text),
            col("signup_date", Date),
            col("acquisition_channel", Text),
            col("consent_email", Bool),
            col("consent_sms", Bool),
        ],
        primary_key: &["customer_id"],
        references: &[],
    },
    TableDef {
        name: "products",
        columns: &[
            req("product_id", Text),
            col("name", Text),
            col("category", Text),
            chk(col("unit_price", Money), NONNEG),
            chk(col("unit_cost", Money), NONNEG),
        ],
        primary_key: &["product_id"],
        references: &[],
    },
    TableDef {
        name: "campaigns",
        columns: &[
            req("campaign_id", Text),
            col("name", Text),
            col("channel", Text),
            col("start_date", Date),
            col("end_date", Date),
            chk(col("cost", Money), NONNEG),
        ],
        primary_key: &["campaign_id"],
        references: &[],
    },
    TableDef {
        name: "sales_reps",
        columns: &[
            req("sales_rep_id", Text),
            col("name", Text),
            col("region", Text),
            col("team", Text),
            chk(col("quota", Money), NONNEG),
        ],
        primary_key: &["sales_rep_id"],
        references: &[],
    },
    TableDef {
        name: "orders",
        columns: &[
            req("order_id", Text),
            // Empty for a guest checkout: the order is revenue, but no customer's history.
            col("customer_id", Text),
            req("order_date", Date),
            chk(req("total_amount", Money), NONNEG),
            chk(
                col("status", Text),
                Check::OneOf(&["completed", "cancelled", "returned"]),
            ),
            col("channel", Text),
            col("region", Text),
            col("sales_rep_id", Text),
            col("campaign_id", Text),
        ],
        primary_key: &["order_id"],
        references: &[
            fk("customer_id", "customers", W),
            fk("sales_rep_id", "sales_reps", W),
            fk("campaign_id", "campaigns", W),
        ],
    },
    TableDef {
        name: "order_items",
        columns: &[
            req("order_id", Text),
            req("product_id", Text),
            chk(req("quantity", Integer), Check::Positive),
            chk(col("unit_price", Money), NONNEG),
            chk(col("discount", Float), Check::Range(0.0, 1.0)),
        ],
        primary_key: &[],
        references: &[fk("order_id", "orders", E), fk("product_id", "products", W)],
    },
    TableDef {
        name: "touchpoints",
        columns: &[
            req("customer_id", Text),
            req("occurred_at", Timestamp),
            req("channel", Text),
            col("campaign_id", Text),
            chk(
                col("kind", Text),
                Check::OneOf(&[
                    "impression",
                    "email_sent",
                    "email_open",
                    "click",
                    "visit",
                    "call",
                    "meeting",
                    "unsubscribe",
                    "reaction",
                    "share",
                    "download",
                ]),
            ),
        ],
        primary_key: &[],
        references: &[
            fk("customer_id", "customers", W),
            fk("campaign_id", "campaigns", W),
        ],
    },
    TableDef {
        name: "leads",
        columns: &[
            req("lead_id", Text),
            req("created_at", Timestamp),
            col("source_channel", Text),
            col("campaign_id", Text),
            col("company", Text),
            col("industry", Text),
            chk(col("employees", Integer), NONNEG),
            col("converted_at", Timestamp),
            col("customer_id", Text),
        ],
        primary_key: &["lead_id"],
        references: &[
            fk("campaign_id", "campaigns", W),
            fk("customer_id", "customers", W),
        ],
    },
    TableDef {
        name: "deals",
        columns: &[
            req("deal_id", Text),
            req("created_at", Timestamp),
            req("stage", Text),
            chk(col("amount", Money), NONNEG),
            col("customer_id", Text),
            col("lead_id", Text),
            col("sales_rep_id", Text),
            col("closed_at", Timestamp),
            chk(col("outcome", Text), Check::OneOf(&["open", "won", "lost"])),
        ],
        primary_key: &["deal_id"],
        references: &[
            fk("customer_id", "customers", W),
            fk("lead_id", "leads", W),
            fk("sales_rep_id", "sales_reps", W),
        ],
    },
    TableDef {
        name: "deal_stage_history",
        columns: &[
            req("deal_id", Text),
            req("stage", Text),
            req("entered_at", Timestamp),
        ],
        primary_key: &["deal_id", "stage", "entered_at"],
        references: &[fk("deal_id", "deals", E)],
    },
    TableDef {
        name: "tickets",
        columns: &[
            req("ticket_id", Text),
            req("customer_id", Text),
            req("opened_at", Timestamp),
            col("resolved_at", Timestamp),
            col("channel", Text),
            col("category", Text),
            chk(col("contacts", Integer), NONNEG),
            chk(col("csat", Integer), Check::Range(1.0, 5.0)),
            col("escalated", Bool),
            col("description", Text),
        ],
        primary_key: &["ticket_id"],
        references: &[fk("customer_id", "customers", W)],
    },
    TableDef {
        name: "surveys",
        columns: &[
            req("customer_id", Text),
            req("responded_at", Timestamp),
            chk(col("nps", Integer), Check::Range(0.0, 10.0)),
            col("comment", Text),
        ],
        primary_key: &[],
        references: &[fk("customer_id", "customers", W)],
    },
    TableDef {
        name: "web_sessions",
        columns: &[
            req("customer_id", Text),
            req("started_at", Timestamp),
            chk(col("pages", Integer), NONNEG),
            chk(col("duration_seconds", Float), NONNEG),
            col("source", Text),
        ],
        primary_key: &[],
        references: &[fk("customer_id", "customers", W)],
    },
    TableDef {
        name: "subscriptions",
        columns: &[
            req("subscription_id", Text),
            req("customer_id", Text),
            req("started_at", Date),
            col("plan", Text),
            chk(col("mrr", Money), NONNEG),
            col("ended_at", Date),
            col("renewal_date", Date),
            col("renewed", Bool),
        ],
        primary_key: &["subscription_id"],
        references: &[fk("customer_id", "customers", W)],
    },
    TableDef {
        name: "marketing_spend",
        columns: &[
            req("date", Date),
            req("channel", Text),
            chk(req("amount", Money), NONNEG),
            col("campaign_id", Text),
        ],
        primary_key: &[],
        references: &[fk("campaign_id", "campaigns", W)],
    },
    TableDef {
        // Who was in which arm of an experiment or campaign holdout (`clientele abtest`).
        name: "experiments",
        columns: &[
            req("experiment_id", Text),
            req("customer_id", Text),
            req("variant", Text),
            req("assigned_at", Timestamp),
        ],
        primary_key: &["experiment_id", "customer_id"],
        references: &[fk("customer_id", "customers", W)],
    },
    TableDef {
        name: "kpi_targets",
        columns: &[req("kpi", Text), req("target", Float), col("period", Text)],
        primary_key: &["kpi", "period"],
        references: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_points_to_an_earlier_table_with_a_single_key() {
        for (i, t) in TABLES.iter().enumerate() {
            for r in t.references {
                let pos = TABLES
                    .iter()
                    .position(|p| p.name == r.table)
                    .expect(r.table);
                assert!(pos < i, "{} references later table {}", t.name, r.table);
                assert_eq!(TABLES[pos].primary_key.len(), 1, "{}", r.table);
                assert!(t.column(r.column).is_some());
            }
            for k in t.primary_key {
                assert!(t.column(k).is_some(), "{}.{k}", t.name);
            }
        }
    }
}
