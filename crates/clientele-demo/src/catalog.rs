//! The product catalogue and the filling of an order's basket: which products, how many, at
//! what line price, so that the lines add up to the order value the spend model drew.
//!
//! May use: `out`, `sample`, `world`.

use serde_json::{Value, json};

use crate::DemoError;
use crate::out::Out;
use crate::sample::{self, DemoRng};
use crate::world::{CATEGORIES, COMPANIONS};

/// Gross margin of each product is drawn uniformly from this range.
pub(crate) const MARGIN_RANGE: (f64, f64) = (0.30, 0.60);
/// Probabilities of 1, 2, 3 and 4 distinct products in an order (before companions).
pub(crate) const LINES_PROBS: [f64; 4] = [0.45, 0.30, 0.17, 0.08];
/// Probability that a line comes from the customer's favourite category.
pub(crate) const FAVOURITE_SHARE: f64 = 0.6;
/// Popularity of the k-th product (0-based) of a category ∝ 1/(k+1)^this.
pub(crate) const ZIPF_EXPONENT: f64 = 0.8;
/// Units per basket are raised while the list value is below order value / this.
pub(crate) const FILL_RATIO: f64 = 1.6;
/// A drawn product priced above order value × this is redrawn (up to FIT_TRIES times).
pub(crate) const PRICE_FIT: f64 = 1.25;
pub(crate) const FIT_TRIES: usize = 5;
/// Upper bound on units in one order.
pub(crate) const MAX_UNITS: u32 = 8;

/// One product.
pub(crate) struct Product {
    pub name: &'static str,
    pub category: usize,
    pub price_cents: i64,
    pub cost_cents: i64,
    /// Weight within its category.
    pub popularity: f64,
    /// Planted cross-sell: companion product and probability.
    pub companion: Option<(usize, f64)>,
}

/// One order line as stored until the orders are written.
#[derive(Clone, Copy)]
pub(crate) struct Line {
    pub product: u16,
    pub quantity: u8,
    pub unit_cents: i64,
    /// Discount in whole percent (0, 5, 10, 15, 20).
    pub discount_pct: u8,
}

/// The catalogue.
pub(crate) struct Catalog {
    pub products: Vec<Product>,
    /// Product indices of each category.
    by_category: Vec<Vec<usize>>,
    /// Popularity weights matching `by_category`.
    weights: Vec<Vec<f64>>,
    pub category_weights: Vec<f64>,
}

impl Catalog {
    /// The catalogue of [`CATEGORIES`]; only unit costs (margins) are random.
    pub(crate) fn new(rng: &mut DemoRng) -> Catalog {
        let mut products = Vec::new();
        let mut by_category = Vec::new();
        let mut weights = Vec::new();
        for (c, cat) in CATEGORIES.iter().enumerate() {
            let mut ids = Vec::new();
            let mut ws = Vec::new();
            for (k, (name, price)) in cat.products.iter().enumerate() {
                let price_cents = (price * 100.0).round() as i64;
                let margin = sample::uniform(rng, MARGIN_RANGE.0, MARGIN_RANGE.1);
                let cost_cents = (price_cents as f64 * (1.0 - margin)).round() as i64;
                let popularity = 1.0 / ((k + 1) as f64).powf(ZIPF_EXPONENT);
                ids.push(products.len());
                ws.push(popularity);
                products.push(Product {
                    name,
                    category: c,
                    price_cents,
                    cost_cents,
                    popularity,
                    companion: None,
                });
            }
            by_category.push(ids);
            weights.push(ws);
        }
        for (a, b, prob) in COMPANIONS {
            let ia = products.iter().position(|p| p.name == *a);
            let ib = products.iter().position(|p| p.name == *b);
            if let (Some(ia), Some(ib)) = (ia, ib) {
                products[ia].companion = Some((ib, *prob));
            }
        }
        let category_weights = CATEGORIES.iter().map(|c| c.popularity).collect();
        Catalog {
            products,
            by_category,
            weights,
            category_weights,
        }
    }

    /// Writes the products table (`P0001`, … in catalogue order).
    pub(crate) fn write(&self, out: &mut Out) -> Result<(), DemoError> {
        for (i, p) in self.products.iter().enumerate() {
            out.id("P", i + 1, 4)
                .s(p.name)
                .s(CATEGORIES[p.category].name)
                .cents(p.price_cents)
                .cents(p.cost_cents)
                .end()?;
        }
        Ok(())
    }

    /// The catalogue as ground truth.
    pub(crate) fn truth(&self) -> Value {
        let products: Vec<Value> = self
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "product_id": format!("P{:04}", i + 1),
                    "name": p.name,
                    "category": CATEGORIES[p.category].name,
                    "unit_price": p.price_cents as f64 / 100.0,
                    "unit_cost": p.cost_cents as f64 / 100.0,
                    "popularity_within_category": p.popularity,
                })
            })
            .collect();
        let rules: Vec<Value> = self
            .products
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.companion.map(|(j, prob)| {
                    json!({
                        "if_product": format!("P{:04}", i + 1),
                        "then_product": format!("P{:04}", j + 1),
                        "added_with_probability": prob,
                    })
                })
            })
            .collect();
        let categories: Vec<Value> = CATEGORIES
            .iter()
            .map(|c| json!({"name": c.name, "share_of_lines": c.popularity}))
            .collect();
        json!({
            "categories": categories,
            "products": products,
            "margin_range": [MARGIN_RANGE.0, MARGIN_RANGE.1],
            "product_popularity": format!(
                "within a category the k-th listed product (0-based) has weight 1/(k+1)^{ZIPF_EXPONENT}"
            ),
            "cross_sell_rules": rules,
            "basket": {
                "distinct_products_probabilities_1_to_4": LINES_PROBS,
                "favourite_category_share": FAVOURITE_SHARE,
                "price_fit": format!("a drawn product priced above order value × {PRICE_FIT} is redrawn up to {FIT_TRIES} times, keeping the cheapest draw; then, while the basket's list value exceeds order value × {FILL_RATIO}, its dearest line is dropped"),
                "units": format!(
                    "one unit per line, then one more unit on a random line while the list value is below order value / {FILL_RATIO} (at most {MAX_UNITS} units)"
                ),
                "line_price": "unit_price = list price × (order value / discounted list value of the basket), rounded to the cent; total_amount = Σ quantity·unit_price·(1−discount) rounded to the cent",
            },
        })
    }

    fn draw_product(&self, rng: &mut DemoRng, favourite: usize) -> usize {
        let c = if sample::chance(rng, FAVOURITE_SHARE) {
            favourite
        } else {
            sample::pick(rng, &self.category_weights)
        };
        self.by_category[c][sample::pick(rng, &self.weights[c])]
    }

    /// A product whose list price fits an order worth `value`: people who spend $20 rarely
    /// buy the $329 stand mixer, so draws priced above `value`·PRICE_FIT are redrawn a few
    /// times (the cheapest draw wins if none fits).
    fn draw_fitting(&self, rng: &mut DemoRng, favourite: usize, value: f64) -> usize {
        let mut best = self.draw_product(rng, favourite);
        for _ in 0..FIT_TRIES {
            if self.products[best].price_cents as f64 / 100.0 <= value * PRICE_FIT {
                break;
            }
            let p = self.draw_product(rng, favourite);
            if self.products[p].price_cents < self.products[best].price_cents {
                best = p;
            }
        }
        best
    }

    /// Fills a basket worth `value` (currency units) with the given discount, appending its
    /// lines to `lines`; returns the order total in cents computed from the rounded lines.
    pub(crate) fn fill(
        &self,
        rng: &mut DemoRng,
        favourite: usize,
        value: f64,
        discount_pct: u8,
        lines: &mut Vec<Line>,
    ) -> i64 {
        let first = lines.len();
        let n = sample::pick(rng, &LINES_PROBS) + 1;
        let mut tries = 0;
        while lines.len() - first < n && tries < 20 {
            tries += 1;
            let p = self.draw_fitting(rng, favourite, value);
            if lines[first..].iter().any(|l| usize::from(l.product) == p) {
                continue;
            }
            lines.push(Line {
                product: p as u16,
                quantity: 1,
                unit_cents: 0,
                discount_pct,
            });
        }
        // Planted cross-sell rules, while there is room for a fourth line.
        let mut k = first;
        while k < lines.len() && lines.len() - first < 4 {
            if let Some((comp, prob)) = self.products[usize::from(lines[k].product)].companion
                && !lines[first..]
                    .iter()
                    .any(|l| usize::from(l.product) == comp)
                && sample::chance(rng, prob)
            {
                lines.push(Line {
                    product: comp as u16,
                    quantity: 1,
                    unit_cents: 0,
                    discount_pct,
                });
            }
            k += 1;
        }
        let keep = 1.0 - f64::from(discount_pct) / 100.0;
        let list_value = |ls: &[Line]| -> f64 {
            ls.iter()
                .map(|l| {
                    f64::from(l.quantity) * self.products[usize::from(l.product)].price_cents as f64
                })
                .sum::<f64>()
                / 100.0
                * keep
        };
        // A basket worth far more than the order loses its dearest lines.
        while lines.len() - first > 1 && list_value(&lines[first..]) > value * FILL_RATIO {
            let dearest = (first..lines.len())
                .max_by_key(|&i| (self.products[usize::from(lines[i].product)].price_cents, i))
                .unwrap_or(first);
            lines.remove(dearest);
        }
        // Large orders hold more units rather than absurdly priced ones.
        let mut units = (lines.len() - first) as u32;
        while list_value(&lines[first..]) * FILL_RATIO < value && units < MAX_UNITS {
            let i = first + sample::below(rng, lines.len() - first);
            lines[i].quantity += 1;
            units += 1;
        }
        let factor = value / list_value(&lines[first..]).max(0.01);
        let mut total = 0.0;
        for l in &mut lines[first..] {
            let list = self.products[usize::from(l.product)].price_cents as f64;
            l.unit_cents = ((list * factor).round() as i64).max(1);
            total += f64::from(l.quantity) * l.unit_cents as f64 * keep;
        }
        total.round() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Stream, stream};

    #[test]
    fn baskets_add_up_to_the_order_value() {
        let mut rng = stream(9, Stream::Products);
        let cat = Catalog::new(&mut rng);
        assert_eq!(cat.products.len(), 60);
        for p in &cat.products {
            let margin = 1.0 - p.cost_cents as f64 / p.price_cents as f64;
            assert!((0.29..=0.61).contains(&margin), "{}", p.name);
        }
        let mut lines = Vec::new();
        for i in 0..2000 {
            lines.clear();
            let value = 5.0 + f64::from(i);
            let disc = [0u8, 5, 10, 20][i as usize % 4];
            let total = cat.fill(&mut rng, i as usize % 6, value, disc, &mut lines);
            assert!((1..=4).contains(&lines.len()));
            let keep = 1.0 - f64::from(disc) / 100.0;
            let sum: f64 = lines
                .iter()
                .map(|l| f64::from(l.quantity) * l.unit_cents as f64 / 100.0 * keep)
                .sum();
            assert!((sum - total as f64 / 100.0).abs() < 0.006, "{sum} {total}");
            // Rounding of unit prices moves the total by at most a few cents per unit.
            let units: u32 = lines.iter().map(|l| u32::from(l.quantity)).sum();
            assert!((total as f64 / 100.0 - value).abs() <= 0.01 * f64::from(units) + 0.01);
            let mut ids: Vec<u16> = lines.iter().map(|l| l.product).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), lines.len());
        }
    }
}
