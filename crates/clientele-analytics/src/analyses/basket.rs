//! Market basket analysis: which products (or product categories) are bought together, as
//! frequent itemsets and association rules, from the workspace's order lines or from a basket
//! file.
//!
//! Definitions (also in docs/analyses.md; the measures in `clientele_models::basket`, equal
//! to mlxtend's `fpgrowth` and `association_rules`):
//! - a **basket** is a sale (an order neither cancelled nor returned, the `sales_lines` view)
//!   with at least one order line; its **items** are the distinct products on its lines, or
//!   with `--level category` the distinct categories of those products (`products.category`;
//!   lines whose product has no category add no item, and their order still counts as a
//!   basket);
//! - with `--baskets FILE.csv` a basket is a distinct `basket_id` of the file and its items
//!   the distinct `item` values on its rows (rows with a blank item add none);
//! - the **support** of an itemset is the share of baskets holding all its items; itemsets
//!   with support ≥ `--min-support` (and at most `--max-len` items) are frequent;
//! - a **rule** A ⇒ C splits a frequent itemset into two non-empty parts; its confidence,
//!   lift, leverage, conviction and Zhang's metric are mlxtend's. Rules are kept when
//!   confidence ≥ `--min-confidence` and lift ≥ `--min-lift`. The conviction of a rule of
//!   confidence 1 is infinite: it is left empty (JSON null);
//! - items inside an itemset, antecedent or consequent are sorted by name and joined by
//!   ` & `. Rows come in the model's order: itemsets by number of items, then by their
//!   items' names; each itemset's rules with the largest antecedents first.

use std::path::{Path, PathBuf};

use arrow::array::Array;
use clientele_models::basket::{self, Itemsets, Options, Rule, RuleFilter};

use crate::analyses::analysis::Analysis;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::{Columns, str_col};
use crate::{AnalyticsError, Engine};

/// What an item is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A product (`order_items.product_id`).
    Product,
    /// A product's category (`products.category`).
    Category,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Product => "product",
            Level::Category => "category",
        }
    }
}

/// Parameters of `basket`.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct BasketOptions {
    /// Items are products or product categories.
    #[arg(long, default_value = "product", value_parser = params::choice::<Level>())]
    #[serde(deserialize_with = "params::de_choice")]
    #[param(inline)]
    pub level: Level,
    /// Least share of baskets a frequent itemset is in, above 0 and at most 1.
    #[arg(long, default_value_t = 0.01)]
    pub min_support: f64,
    /// Least confidence of a rule, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub min_confidence: f64,
    /// Least lift of a rule, at least 0.
    #[arg(long, default_value_t = 0.0)]
    pub min_lift: f64,
    /// Most items in an itemset (default: no limit).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Print the frequent itemsets instead of the rules.
    #[arg(long)]
    pub itemsets: bool,
    /// A CSV file with one row per item of a basket, columns `basket_id` and `item`, instead
    /// of the workspace (terminal only).
    #[arg(long, value_name = "FILE.csv")]
    #[serde(skip)]
    #[param(ignore)]
    pub baskets: Option<PathBuf>,
}

impl Default for BasketOptions {
    fn default() -> Self {
        BasketOptions {
            level: Level::Product,
            min_support: 0.01,
            min_confidence: 0.0,
            min_lift: 0.0,
            max_len: None,
            itemsets: false,
            baskets: None,
        }
    }
}

impl Params for BasketOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        if !(self.min_support > 0.0 && self.min_support <= 1.0) {
            return Err(AnalyticsError::parameter(
                "min_support",
                self.min_support,
                "expected a share of baskets above 0 and at most 1",
            ));
        }
        params::in_range(
            "min_confidence",
            self.min_confidence,
            0.0,
            1.0,
            "a confidence",
        )?;
        params::in_range("min_lift", self.min_lift, 0.0, 1e12, "a lift")?;
        if let Some(m) = self.max_len {
            params::in_range("max_len", m, 1, 64, "a number of items")?;
        }
        if self.baskets.is_some() && self.level != Level::Product {
            return Err(AnalyticsError::Usage(
                "--level selects the workspace's items; a basket file names its items itself"
                    .into(),
            ));
        }
        Ok(())
    }

    fn input_file(&self) -> Option<&Path> {
        self.baskets.as_deref()
    }
}

/// `clientele basket`, `GET /api/v1/basket`.
pub struct Basket;

impl Spec for Basket {
    type Params = BasketOptions;
    const DEF: Def = Def {
        name: "basket",
        command: &["basket"],
        aliases: &[],
        path: "/basket",
        about: "Market basket analysis: products or categories bought together, as association rules with support, confidence and lift.",
        long_about: "Finds the itemsets of products (or, with --level category, product \
                     categories) that at least --min-support of the sales hold, by FP-growth, \
                     and prints the association rules between them with support, confidence, \
                     lift, leverage, conviction and Zhang's metric (as mlxtend defines them), \
                     or the itemsets with --itemsets. --baskets FILE.csv takes baskets as rows \
                     of basket_id and item. The workspace's rules are stored as basket_rules \
                     (with their level), for the customer 360's \"bought together\".",
        area: Area::Sales,
        stores: Some("basket_rules"),
        progress: "mining the baskets",
    };
    async fn run(engine: &Engine, p: &BasketOptions) -> Result<Analysis, AnalyticsError> {
        let mut notes = Vec::new();
        let data = match &p.baskets {
            Some(file) => read_baskets(file)?,
            None => workspace_baskets(engine, p.level, &mut notes).await?,
        };
        let options = Options {
            min_support: p.min_support,
            max_len: p.max_len,
        };
        let sets = basket::frequent_itemsets_flat(&data.items, &data.offsets, &options)
            .map_err(AnalyticsError::model("the frequent itemsets"))?;
        let filter = RuleFilter {
            min_confidence: p.min_confidence,
            min_lift: p.min_lift,
        };
        let rules = basket::association_rules(&sets, &filter)
            .map_err(AnalyticsError::model("the association rules"))?;

        let mut a = Analysis::of(&Basket::DEF, "Market basket");
        a.title = format!(
            "{} bought together",
            if p.baskets.is_some() {
                "Items"
            } else if p.level == Level::Category {
                "Product categories"
            } else {
                "Products"
            }
        );
        a.notes = notes;
        if p.baskets.is_none() {
            a.param("level", p.level.name());
        }
        a.param("min_support", p.min_support);
        a.param("min_confidence", p.min_confidence);
        a.param("min_lift", p.min_lift);
        if let Some(m) = p.max_len {
            a.param("max_len", m);
        }
        a.fact("baskets", data.offsets.len() - 1);
        a.fact("items", data.names.len());
        a.fact("itemsets", sets.len());
        a.fact("longest_itemset", sets.max_len());
        a.fact("rules", rules.len());
        if sets.is_empty() {
            a.notes.push(format!(
                "no itemset is in {} or more of the baskets: try a lower --min-support",
                p.min_support
            ));
        }
        if rules.iter().any(|r| r.metrics.conviction.is_infinite()) {
            a.notes
                .push("conviction is empty for rules of confidence 1 (it is infinite)".into());
        }
        let join = |i: u32| -> Option<String> { Some(joined(&sets, i as usize, &data.names)) };
        if p.itemsets {
            a.table(
                "itemsets",
                "Frequent itemsets",
                Columns::default()
                    .text("itemset", (0..sets.len() as u32).map(join).collect())
                    .num_values(
                        "support",
                        (0..sets.len()).map(|i| sets.support(i)).collect(),
                    )
                    .batch(),
            );
        } else {
            let m = |f: fn(&Rule) -> f64| -> Vec<f64> { rules.iter().map(f).collect() };
            a.table(
                "rules",
                "Association rules",
                Columns::default()
                    .text(
                        "antecedents",
                        rules.iter().map(|r| join(r.antecedent)).collect(),
                    )
                    .text(
                        "consequents",
                        rules.iter().map(|r| join(r.consequent)).collect(),
                    )
                    .num_values("support", m(|r| r.metrics.support))
                    .num_values("confidence", m(|r| r.metrics.confidence))
                    .num_values("lift", m(|r| r.metrics.lift))
                    .num_values("leverage", m(|r| r.metrics.leverage))
                    .num(
                        "conviction",
                        rules
                            .iter()
                            .map(|r| Some(r.metrics.conviction).filter(|c| c.is_finite()))
                            .collect(),
                    )
                    .num_values("zhangs_metric", m(|r| r.metrics.zhangs_metric))
                    .batch(),
            );
        }
        // The workspace's rules are kept (`basket_rules`, level first), so that the 360 can
        // say what the customer's purchases are bought with; a file's rules and itemsets are
        // printed only.
        match a.tables.first() {
            Some(t) if p.baskets.is_none() && !p.itemsets => {
                let rules = arrow::compute::concat_batches(&t.schema, &t.batches)?;
                let level = Columns::default()
                    .text(
                        "level",
                        vec![Some(p.level.name().to_string()); rules.num_rows()],
                    )
                    .batch();
                let stored = with_first(&level, &rules)?;
                a.rows = Some(crate::analyses::analysis::report(
                    "basket_rules",
                    "Stored association rules",
                    stored,
                ));
            }
            _ => a.stores = None,
        }
        Ok(a)
    }
}

/// `first`'s columns followed by `rest`'s (the same number of rows).
fn with_first(
    first: &arrow::array::RecordBatch,
    rest: &arrow::array::RecordBatch,
) -> Result<arrow::array::RecordBatch, AnalyticsError> {
    let schema = arrow::datatypes::Schema::new(
        first
            .schema()
            .fields()
            .iter()
            .chain(rest.schema().fields().iter())
            .cloned()
            .collect::<Vec<_>>(),
    );
    let mut columns = first.columns().to_vec();
    columns.extend(rest.columns().iter().cloned());
    Ok(arrow::array::RecordBatch::try_new(
        std::sync::Arc::new(schema),
        columns,
    )?)
}

/// An itemset's item names, joined by ` & ` (ids are given in name order, so they are
/// sorted).
fn joined(sets: &Itemsets, i: usize, names: &[String]) -> String {
    let mut s = String::new();
    for (k, &id) in sets.items(i).iter().enumerate() {
        if k > 0 {
            s.push_str(" & ");
        }
        s.push_str(&names[id as usize]);
    }
    s
}

/// Baskets one after the other: basket b holds the item ids `items[offsets[b]..offsets[b +
/// 1]]`; id i is `names[i]`, and names are sorted.
struct Baskets {
    items: Vec<u32>,
    offsets: Vec<usize>,
    names: Vec<String>,
}

/// Text keys to their numbers, with a fast hasher.
type Map = hashbrown::HashMap<String, u32, ahash::RandomState>;

/// Numbers baskets and items as they come, then lays the baskets out one after the other
/// with item ids in name order.
#[derive(Default)]
struct Collect {
    basket_of: Map,
    item_of: Map,
    names: Vec<String>,
    /// (basket, item) for every line with an item.
    pairs: Vec<(u32, u32)>,
    /// The last basket asked for.
    last: Option<(String, u32)>,
}

impl Collect {
    fn basket(&mut self, key: &str) -> u32 {
        // Rows of one basket usually come together: no hashing for those.
        if let Some((last, b)) = &self.last
            && last == key
        {
            return *b;
        }
        let b = match self.basket_of.get(key) {
            Some(&b) => b,
            None => {
                let b = self.basket_of.len() as u32;
                self.basket_of.insert(key.to_string(), b);
                b
            }
        };
        match &mut self.last {
            Some((last, lb)) => {
                last.clear();
                last.push_str(key);
                *lb = b;
            }
            None => self.last = Some((key.to_string(), b)),
        }
        b
    }

    fn line(&mut self, basket: u32, item: &str) {
        let id = match self.item_of.get(item) {
            Some(&i) => i,
            None => {
                let i = self.names.len() as u32;
                self.item_of.insert(item.to_string(), i);
                self.names.push(item.to_string());
                i
            }
        };
        self.pairs.push((basket, id));
    }

    fn finish(self) -> Baskets {
        let n = self.basket_of.len();
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut rank = vec![0u32; order.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        // Counting sort of the pairs by basket.
        let mut offsets = vec![0usize; n + 1];
        for &(b, _) in &self.pairs {
            offsets[b as usize + 1] += 1;
        }
        for b in 0..n {
            offsets[b + 1] += offsets[b];
        }
        let mut next = offsets.clone();
        let mut items = vec![0u32; self.pairs.len()];
        for &(b, i) in &self.pairs {
            items[next[b as usize]] = rank[i as usize];
            next[b as usize] += 1;
        }
        let mut names = self.names;
        let sorted: Vec<String> = order
            .iter()
            .map(|&i| std::mem::take(&mut names[i as usize]))
            .collect();
        Baskets {
            items,
            offsets,
            names: sorted,
        }
    }
}

/// Baskets from a CSV file with columns `basket_id` and `item`, read row by row (the file
/// can hold millions of rows: no column is kept as text). The delimiter is taken from the
/// header line and errors name the file and the row, as for every input file.
fn read_baskets(file: &Path) -> Result<Baskets, AnalyticsError> {
    let bad = |msg: String| AnalyticsError::Usage(format!("{}: {msg}", file.display()));
    let (mut reader, names) = crate::analyses::input::open_csv(file)?;
    let column = |name: &str, what: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            bad(format!(
                "no column '{name}' ({what}); the file has {}",
                names.join(", ")
            ))
        })
    };
    let (bc, ic) = (
        column("basket_id", "the basket of each row")?,
        column("item", "the item of each row")?,
    );
    let mut c = Collect::default();
    let mut record = csv::StringRecord::new();
    let mut row = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(bad(format!("row {}: {e}", row + 2))),
        }
        if record.len() != names.len() {
            return Err(bad(format!(
                "row {}: {} fields where the header has {}",
                row + 2,
                record.len(),
                names.len()
            )));
        }
        let b = record[bc].trim();
        if b.is_empty() {
            return Err(bad(format!(
                "row {}, column basket_id: '' is not a basket id",
                row + 2
            )));
        }
        let b = c.basket(b);
        let item = record[ic].trim();
        if !item.is_empty() {
            c.line(b, item);
        }
        row += 1;
    }
    if c.basket_of.is_empty() {
        return Err(bad("the file has no baskets".into()));
    }
    Ok(c.finish())
}

/// Baskets from the sales' order lines (see the module's definitions).
async fn workspace_baskets(
    engine: &Engine,
    level: Level,
    notes: &mut Vec<String>,
) -> Result<Baskets, AnalyticsError> {
    for t in ["orders", "order_items"] {
        if !engine.has_table(t) {
            return Err(AnalyticsError::MissingData(format!(
                "the workspace has no {t} table; baskets are the sales' order lines"
            )));
        }
    }
    let sql = match level {
        Level::Product => "SELECT order_id AS b, product_id AS i FROM sales_lines".to_string(),
        Level::Category => {
            if !engine.has_table("products") {
                return Err(AnalyticsError::MissingData(
                    "the workspace has no products table to take categories from".into(),
                ));
            }
            "SELECT l.order_id AS b, p.category AS i FROM sales_lines l \
             LEFT JOIN products p ON l.product_id = p.product_id"
                .to_string()
        }
    };
    let mut c = Collect::default();
    let mut uncategorised = 0usize;
    for batch in engine.query(&sql).await? {
        let (b, i) = (str_col(&batch, "b"), str_col(&batch, "i"));
        for r in 0..batch.num_rows() {
            if b.is_null(r) {
                continue;
            }
            let basket = c.basket(b.value(r));
            if i.is_null(r) {
                uncategorised += 1;
            } else {
                c.line(basket, i.value(r));
            }
        }
    }
    if c.basket_of.is_empty() {
        return Err(AnalyticsError::MissingData(
            "there are no sales with order lines to find baskets in".into(),
        ));
    }
    if uncategorised > 0 {
        notes.push(format!(
            "{uncategorised} order lines whose product has no category add no item"
        ));
    }
    Ok(c.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A basket file: items numbered in name order, repeats and blank items kept for the
    /// model (which counts an item once), a basket of blank items still a basket.
    #[test]
    fn baskets_from_a_file() {
        let dir = std::env::temp_dir().join(format!("clientele-basket-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("baskets.csv");
        std::fs::write(
            &file,
            "basket_id,item\no1,milk\no1,bread\no2,bread\no2,bread\no3,\no4,butter\no4,milk\n",
        )
        .unwrap();
        let b = read_baskets(&file).unwrap();
        assert_eq!(b.names, ["bread", "butter", "milk"]);
        assert_eq!(b.offsets, [0, 2, 4, 4, 6]);
        assert_eq!(b.items, [2, 0, 0, 0, 1, 2]);
        let sets = basket::frequent_itemsets_flat(
            &b.items,
            &b.offsets,
            &Options {
                min_support: 0.25,
                max_len: None,
            },
        )
        .unwrap();
        let names: Vec<String> = (0..sets.len())
            .map(|i| joined(&sets, i, &b.names))
            .collect();
        assert_eq!(
            names,
            ["bread", "butter", "milk", "bread & milk", "butter & milk"]
        );
        assert_eq!(sets.support(0), 0.5);

        std::fs::write(&file, "basket,item\no1,milk\n").unwrap();
        assert!(matches!(read_baskets(&file), Err(AnalyticsError::Usage(_))));
        std::fs::write(&file, "basket_id,item\n,milk\n").unwrap();
        assert!(matches!(read_baskets(&file), Err(AnalyticsError::Usage(_))));
        std::fs::write(&file, "basket_id,item\n").unwrap();
        assert!(matches!(read_baskets(&file), Err(AnalyticsError::Usage(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Baskets are the completed orders with lines: the cancelled and returned orders' lines
    /// are no basket; a product on two lines of an order counts once; at category level a
    /// product without a category adds no item, its order still a basket. By hand: baskets
    /// O1 {milk, bread}, O2 {milk, bread}, O3 {cheese}, O5 {soap}.
    #[tokio::test]
    async fn baskets_from_the_workspace() {
        let dir = crate::tests::workspace(&[
            ("customers.csv", "customer_id\nC1\nC2\n"),
            (
                "products.csv",
                "product_id,name,category\nP1,Milk,dairy\nP2,Cheese,dairy\nP3,Bread,bakery\nP4,Soap,\n",
            ),
            (
                "orders.csv",
                "order_id,customer_id,order_date,total_amount,status\n\
                 O1,C1,2025-01-01,10,completed\n\
                 O2,C2,2025-01-02,10,completed\n\
                 O3,C1,2025-01-03,10,completed\n\
                 O4,C2,2025-01-04,10,cancelled\n\
                 O5,C1,2025-01-05,10,\n\
                 O6,C2,2025-01-06,10,returned\n",
            ),
            (
                "order_items.csv",
                "order_id,product_id,quantity\n\
                 O1,P1,1\nO1,P3,1\nO1,P1,2\nO2,P3,1\nO2,P1,1\nO3,P2,1\n\
                 O4,P1,1\nO4,P3,1\nO5,P4,1\nO6,P1,1\nO6,P2,1\n",
            ),
        ]);
        let engine = crate::tests::open(dir.path()).await;
        let p = BasketOptions {
            min_support: 0.5,
            ..BasketOptions::default()
        };
        let a = crate::analyses::run::<Basket>(&engine, &p).await.unwrap();
        assert_eq!(a.facts["baskets"], 4);
        assert_eq!(a.facts["itemsets"], 3);
        let r = &a.tables[0];
        assert_eq!(r.name, "rules");
        assert_eq!(
            crate::tests::text(r, "antecedents"),
            [Some("P1".to_string()), Some("P3".to_string())]
        );
        assert_eq!(crate::tests::num(r, "confidence"), [Some(1.0), Some(1.0)]);
        assert_eq!(crate::tests::num(r, "lift"), [Some(2.0), Some(2.0)]);
        assert_eq!(crate::tests::num(r, "leverage"), [Some(0.25), Some(0.25)]);
        // Confidence 1: the conviction is infinite, left empty.
        assert_eq!(crate::tests::num(r, "conviction"), [None, None]);
        assert_eq!(
            crate::tests::num(r, "zhangs_metric"),
            [Some(1.0), Some(1.0)]
        );
        let cols: Vec<String> = r
            .to_batch()
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(
            cols,
            [
                "antecedents",
                "consequents",
                "support",
                "confidence",
                "lift",
                "leverage",
                "conviction",
                "zhangs_metric"
            ]
        );

        // The workspace's rules are stored, level first, then the columns printed.
        let stored = a.rows.as_ref().expect("rules to store");
        assert_eq!(a.stores.as_deref(), Some("basket_rules"));
        assert_eq!(
            crate::tests::text(stored, "level"),
            vec![Some("product".to_string()); 2]
        );
        assert_eq!(crate::tests::num(stored, "lift"), [Some(2.0), Some(2.0)]);
        let stored_cols = stored.to_batch().schema().fields().len();
        assert_eq!(stored_cols, cols.len() + 1);
        crate::save(&engine, &a).unwrap();
        let engine = crate::tests::open(dir.path()).await;
        let b = engine
            .query("SELECT level, antecedents, consequents, lift FROM basket_rules ORDER BY antecedents")
            .await
            .unwrap();
        assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 2);

        // Categories: O1 and O2 {bakery, dairy}, O3 {dairy}, O5 none.
        let p = BasketOptions {
            level: Level::Category,
            min_support: 0.5,
            ..BasketOptions::default()
        };
        let a = crate::analyses::run::<Basket>(&engine, &p).await.unwrap();
        assert_eq!(a.facts["baskets"], 4);
        assert!(
            a.notes.iter().any(|n| n.starts_with("1 order lines")),
            "{:?}",
            a.notes
        );
        let r = &a.tables[0];
        assert_eq!(
            crate::tests::text(r, "antecedents"),
            [Some("bakery".to_string()), Some("dairy".to_string())]
        );
        assert_eq!(
            crate::tests::text(r, "consequents"),
            [Some("dairy".to_string()), Some("bakery".to_string())]
        );
        assert_eq!(
            crate::tests::num(r, "confidence"),
            [Some(1.0), Some(2.0 / 3.0)]
        );
        assert_eq!(
            crate::tests::num(r, "lift"),
            [Some(1.0 / 0.75), Some(2.0 / 3.0 / 0.5)]
        );
        let p = BasketOptions {
            itemsets: true,
            ..p
        };
        let a = crate::analyses::run::<Basket>(&engine, &p).await.unwrap();
        let r = &a.tables[0];
        assert_eq!(r.name, "itemsets");
        // Itemsets are printed, not stored.
        assert!(a.rows.is_none() && a.stores.is_none());
        assert_eq!(
            crate::tests::text(r, "itemset"),
            ["bakery", "dairy", "bakery & dairy"].map(|s| Some(s.to_string()))
        );
        assert_eq!(
            crate::tests::num(r, "support"),
            [Some(0.5), Some(0.75), Some(0.5)]
        );
    }

    /// The 360's "bought together": the stored rules whose antecedent the customer bought
    /// and whose consequent they did not.
    #[tokio::test]
    async fn the_360_shows_what_the_customers_purchases_are_bought_with() {
        let dir = crate::tests::workspace(&[
            ("customers.csv", "customer_id\nC1\nC2\nC3\n"),
            ("products.csv", "product_id,name\nP1,Tent\nP2,Stove\n"),
            (
                "orders.csv",
                "order_id,customer_id,order_date,total_amount\n\
                 O1,C1,2025-01-01,10\nO2,C2,2025-01-02,10\nO3,C3,2025-01-03,10\n",
            ),
            (
                "order_items.csv",
                "order_id,product_id,quantity\nO1,P1,1\nO1,P2,1\nO2,P1,1\nO2,P2,1\nO3,P1,1\n",
            ),
        ]);
        let engine = crate::tests::open(dir.path()).await;
        let none = crate::customers::customer_360(&engine, "C3")
            .await
            .unwrap()
            .unwrap();
        assert!(none.bought_together.is_empty(), "no rules stored yet");
        let a = crate::analyses::run::<Basket>(&engine, &BasketOptions::default())
            .await
            .unwrap();
        crate::save(&engine, &a).unwrap();
        let engine = crate::tests::open(dir.path()).await;
        // P1 ⇒ P2: confidence 2/3, lift (2/3) / (2/3) = 1; C3 has P1 and not P2.
        let c3 = crate::customers::customer_360(&engine, "C3")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c3.bought_together.len(), 1);
        let (because, also, confidence, lift) = &c3.bought_together[0];
        assert_eq!((because.as_str(), also.as_str()), ("P1", "P2"));
        assert!((confidence - 2.0 / 3.0).abs() < 1e-12 && (lift - 1.0).abs() < 1e-12);
        let json = c3.to_json::<AnalyticsError>(|b| Ok(b.to_vec())).unwrap();
        assert_eq!(json["bought_together"][0]["also_bought"], "P2");
        // C1 has both products: nothing to add.
        let c1 = crate::customers::customer_360(&engine, "C1")
            .await
            .unwrap()
            .unwrap();
        assert!(c1.bought_together.is_empty());
    }

    #[test]
    fn parameters() {
        assert!(BasketOptions::default().check().is_ok());
        for bad in [0.0, 1.5, f64::NAN] {
            let p = BasketOptions {
                min_support: bad,
                ..BasketOptions::default()
            };
            assert!(matches!(
                p.check(),
                Err(AnalyticsError::Parameter {
                    name: "min_support",
                    ..
                })
            ));
        }
        let p = BasketOptions {
            max_len: Some(0),
            ..BasketOptions::default()
        };
        assert!(matches!(
            p.check(),
            Err(AnalyticsError::Parameter {
                name: "max_len",
                ..
            })
        ));
        let p = BasketOptions {
            min_confidence: 1.5,
            ..BasketOptions::default()
        };
        assert!(matches!(
            p.check(),
            Err(AnalyticsError::Parameter {
                name: "min_confidence",
                ..
            })
        ));
        let p = BasketOptions {
            baskets: Some("x.csv".into()),
            level: Level::Category,
            ..BasketOptions::default()
        };
        assert!(matches!(p.check(), Err(AnalyticsError::Usage(_))));
    }
}
