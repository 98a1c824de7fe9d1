//! Per-customer purchase histories from the orders: the parallel, partitioned group-by that
//! turns the `orders` table into one summary per customer, in customer-id order, for the
//! analyses that look at each customer's sequence of purchases (CLV today; basket, offers,
//! profitability and journeys can start from it too).
//!
//! Definitions:
//! - a **day** is a day number (days since 1970-01-01), as the engine casts `order_date`;
//! - which orders make up a history is the caller's choice, [`Orders`]: the completed ones
//!   (the engine's `sales` view: status `completed` or empty, the definition every report and
//!   KPI uses) for purchases, or every order for an analysis about cancellations and returns
//!   themselves. Each caller says which it reads and why: CLV reads completed orders, since a
//!   cancelled or returned order is not a purchase;
//! - a **transaction** is a (customer, day) with at least one of those orders: orders on the
//!   same day count as one purchase and their amounts are added (as in docs/analyses.md);
//! - orders without a customer or a date are left out; a missing amount counts as 0.
//!
//! [`read_orders`] reads the three columns; [`per_customer`] groups them and folds each
//! customer's orders with a function of the caller's; [`tallies`] does both with [`tally`],
//! which counts transactions up to and after a cut-off day.
//!
//! The grouping is done here rather than in SQL, where a per-(customer, day) GROUP BY, a join
//! back to each customer's first day and a second GROUP BY cost seconds at a million
//! customers.

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{Float64Type, Int32Type};
use rayon::prelude::*;

use crate::{AnalyticsError, Engine};

/// Which orders a history is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orders {
    /// Completed orders only: the engine's `sales` view (status `completed` or empty), the
    /// purchases as the KPIs and reports count them.
    Completed,
    /// Every order whatever its status, for an analysis of cancellations or returns.
    All,
}

impl Orders {
    /// The table or view the orders are read from.
    pub fn source(self) -> &'static str {
        match self {
            Orders::Completed => "sales",
            Orders::All => "orders",
        }
    }
}

/// One batch of orders: customer id (Utf8View), day (Int32) and amount (Float64), as
/// [`read_orders`] returns them.
pub type OrderColumns = (ArrayRef, ArrayRef, ArrayRef);

/// One value per customer, in customer-id order (byte order of the ids).
pub struct PerCustomer<T> {
    /// The customer ids.
    pub ids: StringArray,
    /// The values, one partition of ids after another; concatenated they line up with `ids`.
    parts: Vec<Vec<T>>,
}

impl<T> PerCustomer<T> {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The values in the order of `ids`.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.parts.iter().flatten()
    }
}

/// One customer's transactions up to and after a cut-off day (see [`tally`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tally {
    /// Day of the first transaction (on or before the cut-off).
    pub first: i32,
    /// Day of the last transaction on or before the cut-off.
    pub last: i32,
    /// Repeat transactions (after the first) on or before the cut-off.
    pub x: u32,
    /// Total value of those repeat transactions.
    pub repeat_value: f64,
    /// Transactions after the cut-off.
    pub holdout_x: u32,
    /// Total value of the transactions after the cut-off.
    pub holdout_value: f64,
}

/// Summarises one customer's orders `(day, amount)` (those the caller read; sorted here so that the sums
/// do not depend on the order the rows arrived in): days with orders are transactions, their
/// amounts added. `None` when the customer's first order is after `end`.
pub fn tally(orders: &mut [(i32, f64)], end: i32) -> Option<Tally> {
    orders.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let first = orders.first()?.0;
    if first > end {
        return None;
    }
    let mut t = Tally {
        first,
        last: first,
        ..Tally::default()
    };
    let mut day = first;
    let mut value = 0.0;
    let close = |t: &mut Tally, day: i32, value: f64| {
        if day > end {
            t.holdout_x += 1;
            t.holdout_value += value;
        } else if day > first {
            t.x += 1;
            t.last = day;
            t.repeat_value += value;
        }
    };
    for &(d, v) in orders.iter() {
        if d != day {
            close(&mut t, day, value);
            day = d;
            value = 0.0;
        }
        value += v;
    }
    close(&mut t, day, value);
    Some(t)
}

/// The [`tally`] of every customer whose first order (of `which`) is on or before day `end`,
/// in customer-id order: [`read_orders`] then [`per_customer`].
pub async fn tallies(
    engine: &Engine,
    which: Orders,
    end: i32,
) -> Result<PerCustomer<Tally>, AnalyticsError> {
    let columns = read_orders(engine, which).await?;
    per_customer(columns, |orders| tally(orders, end))
}

/// Reads `customer_id`, `order_date` and `total_amount` of the orders `which` (completed
/// ones or all) as [`OrderColumns`].
pub async fn read_orders(
    engine: &Engine,
    which: Orders,
) -> Result<Vec<OrderColumns>, AnalyticsError> {
    use arrow::datatypes::DataType;
    let batches = engine
        .query(&format!(
            "SELECT customer_id, order_date, total_amount FROM {} WHERE customer_id IS NOT NULL",
            which.source()
        ))
        .await?;
    let cast = |a: &ArrayRef, t: &DataType| arrow::compute::cast(a, t);
    let mut columns = Vec::with_capacity(batches.len());
    for b in &batches {
        columns.push((
            cast(b.column(0), &DataType::Utf8View)?,
            cast(b.column(1), &DataType::Int32)?,
            cast(b.column(2), &DataType::Float64)?,
        ));
    }
    Ok(columns)
}

/// Partitions of the orders by customer-id range, so that each partition's customers fit in
/// cache while they are grouped and sorted.
const PARTITIONS: usize = 256;

/// Ids sampled per partition to choose the range boundaries.
const SAMPLES_PER_PARTITION: usize = 64;

/// One order in a partition: its customer id's hash and where the id's bytes end in the
/// partition's `bytes`, its day and amount.
#[derive(Clone, Copy)]
struct Order {
    hash: u64,
    end: u32,
    day: i32,
    amount: f64,
}

/// One thread's share of the orders that fell into one partition.
#[derive(Default)]
struct Part {
    orders: Vec<Order>,
    bytes: Vec<u8>,
}

/// The first 16 bytes of an id as a number (zero-padded): ids in this order are in byte order,
/// and ids with equal prefixes are told apart by their full bytes.
fn prefix(id: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = id.len().min(16);
    b[..n].copy_from_slice(&id[..n]);
    u128::from_be_bytes(b)
}

/// The customers of one partition, in id order: ids and their summaries.
type Grouped<'a, T> = (Vec<&'a [u8]>, Vec<T>);

/// Groups the orders per customer and folds each customer's orders `(day, amount)` with
/// `summary` (the slice is in the order the rows were read, and `summary` may reorder it); a
/// customer for whom it gives `None` is left out. The result is in customer-id order.
///
/// Each thread scatters its share of the orders into up to 256 ranges of ids; each partition
/// is then grouped by exact id with a hash table small enough to stay in cache, its customers
/// sorted, and each customer's orders folded. The partitions in order are the customers in
/// order.
pub fn per_customer<T, F>(
    columns: Vec<OrderColumns>,
    summary: F,
) -> Result<PerCustomer<T>, AnalyticsError>
where
    T: Send,
    F: Fn(&mut [(i32, f64)]) -> Option<T> + Sync,
{
    let splitters = range_splitters(&columns);
    let threads = rayon::current_num_threads().max(1);
    let per_thread = columns.len().div_ceil(threads).max(1);
    let scattered: Vec<Vec<Part>> = columns
        .par_chunks(per_thread)
        .map(|chunk| scatter(chunk, &splitters))
        .collect::<Result<_, _>>()?;
    // The scattered parts hold their own copies of the ids: the columns read from the engine
    // are freed before grouping allocates, as the code before this module did.
    drop(columns);
    let grouped: Vec<Grouped<T>> = (0..=splitters.len())
        .into_par_iter()
        .map(|p| {
            let shares: Vec<&Part> = scattered.iter().map(|parts| &parts[p]).collect();
            group(&shares, &summary)
        })
        .collect();
    let (names, parts): (Vec<Vec<&[u8]>>, Vec<Vec<T>>) = grouped.into_iter().unzip();
    Ok(PerCustomer {
        ids: id_column(&names)?,
        parts,
    })
}

/// The id column from each partition's ids in order: copied in parallel, the text checked
/// once as a whole.
fn id_column(names: &[Vec<&[u8]>]) -> Result<StringArray, AnalyticsError> {
    let mut offsets: Vec<i32> = vec![0];
    let mut at = 0usize;
    for id in names.iter().flatten() {
        at += id.len();
        offsets.push(i32::try_from(at).map_err(|_| too_long())?);
    }
    let values: Vec<Vec<u8>> = names.par_iter().map(|n| n.concat()).collect();
    StringArray::try_new(
        arrow::buffer::OffsetBuffer::new(offsets.into()),
        arrow::buffer::Buffer::from_vec(values.concat()),
        None,
    )
    .map_err(|e| AnalyticsError::internal("collecting the customer ids", e))
}

/// Range boundaries: up to `PARTITIONS − 1` evenly spaced id prefixes from an evenly spaced
/// sample of the orders (so the partitions hold about equal numbers of orders). An id goes to
/// the partition of the number of boundaries at or below its prefix.
fn range_splitters(columns: &[OrderColumns]) -> Vec<u128> {
    let rows: usize = columns.iter().map(|c| c.0.len()).sum();
    let step = (rows / (PARTITIONS * SAMPLES_PER_PARTITION)).max(1);
    let mut sample: Vec<u128> = Vec::new();
    let mut skip = 0;
    for (id, _, _) in columns {
        let id = id.as_string_view();
        let mut i = skip;
        while i < id.len() {
            if !id.is_null(i) {
                sample.push(prefix(id.value(i).as_bytes()));
            }
            i += step;
        }
        skip = i - id.len();
    }
    sample.sort_unstable();
    sample.dedup();
    let mut splitters: Vec<u128> = (1..PARTITIONS)
        .filter_map(|k| sample.get(k * sample.len() / PARTITIONS).copied())
        .collect();
    splitters.dedup();
    splitters
}

/// Pass 1: one thread's run of batches scattered into one [`Part`] per range of ids.
fn scatter(chunk: &[OrderColumns], splitters: &[u128]) -> Result<Vec<Part>, AnalyticsError> {
    let hasher = ahash::RandomState::with_seeds(1, 2, 3, 4);
    let parts = splitters.len() + 1;
    let rows: usize = chunk.iter().map(|c| c.0.len()).sum();
    let guess = rows / parts + rows / parts / 4 + 16;
    let mut out: Vec<Part> = (0..parts)
        .map(|_| Part {
            orders: Vec::with_capacity(guess),
            bytes: Vec::with_capacity(guess * 8),
        })
        .collect();
    for (id, day, amount) in chunk {
        let id = id.as_string_view();
        let day = day.as_primitive::<Int32Type>();
        let amount = amount.as_primitive::<Float64Type>();
        for i in 0..id.len() {
            // Orders without a customer or a date say nothing about anyone's purchases.
            if id.is_null(i) || day.is_null(i) {
                continue;
            }
            let name = id.value(i).as_bytes();
            let key = prefix(name);
            let part = &mut out[splitters.partition_point(|s| *s <= key)];
            part.bytes.extend_from_slice(name);
            let end = u32::try_from(part.bytes.len()).map_err(|_| too_long())?;
            part.orders.push(Order {
                hash: hasher.hash_one(name),
                end,
                day: day.value(i),
                amount: if amount.is_null(i) {
                    0.0
                } else {
                    amount.value(i)
                },
            });
        }
    }
    Ok(out)
}

/// Pass 2: one partition (the threads' shares in order) grouped by exact id, its customers
/// sorted by id and each one's orders folded by `summary`.
fn group<'a, T, F>(shares: &[&'a Part], summary: &F) -> Grouped<'a, T>
where
    F: Fn(&mut [(i32, f64)]) -> Option<T>,
{
    let rows: usize = shares.iter().map(|s| s.orders.len()).sum();
    // Customers by first appearance: id and hash; the table holds their positions.
    let mut table = hashbrown::HashTable::<u32>::with_capacity(rows / 2);
    let mut names: Vec<(&[u8], u64)> = Vec::new();
    let mut customer: Vec<u32> = Vec::with_capacity(rows);
    for s in shares {
        let mut from = 0usize;
        for o in &s.orders {
            let id = &s.bytes[from..o.end as usize];
            from = o.end as usize;
            let found = table.find(o.hash, |&c| names[c as usize].0 == id).copied();
            let c = found.unwrap_or_else(|| {
                let c = names.len() as u32;
                names.push((id, o.hash));
                table.insert_unique(o.hash, c, |&c| names[c as usize].1);
                c
            });
            customer.push(c);
        }
    }
    drop(table);
    // Counting sort of the partition's orders by customer.
    let mut start = vec![0usize; names.len() + 1];
    for &c in &customer {
        start[c as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut next = start.clone();
    let mut orders = vec![(0i32, 0.0f64); rows];
    for (&c, o) in customer
        .iter()
        .zip(shares.iter().flat_map(|s| s.orders.iter()))
    {
        orders[next[c as usize]] = (o.day, o.amount);
        next[c as usize] += 1;
    }
    let mut sorted: Vec<(u128, u32)> = names
        .iter()
        .enumerate()
        .map(|(c, n)| (prefix(n.0), c as u32))
        .collect();
    sorted.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| names[a.1 as usize].0.cmp(names[b.1 as usize].0))
    });
    sorted
        .iter()
        .filter_map(|&(_, c)| {
            let c = c as usize;
            summary(&mut orders[start[c]..start[c + 1]]).map(|t| (names[c].0, t))
        })
        .unzip()
}

/// Customer ids beyond what one Arrow string column holds (2 GiB).
fn too_long() -> AnalyticsError {
    AnalyticsError::Internal {
        what: "the customer ids are too long to summarise in one column (over 2 GiB)".into(),
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use arrow::array::{Float64Array, Int32Array, StringViewArray};

    use super::*;

    /// Calibration ends on day 100. Orders out of order, two on day 10 (one purchase of 15),
    /// repeats on days 30 and 100 (the end itself counts), the holdout days 101 (two orders,
    /// one purchase) and 140.
    #[test]
    fn one_customer_tallied_by_hand() {
        let mut orders = [
            (140, 1.0),
            (30, 20.0),
            (10, 10.0),
            (101, 4.0),
            (100, 30.0),
            (10, 5.0),
            (101, 6.0),
        ];
        let t = tally(&mut orders, 100).unwrap();
        assert_eq!((t.first, t.last, t.x), (10, 100, 2));
        assert_eq!(t.repeat_value, 50.0);
        assert_eq!((t.holdout_x, t.holdout_value), (2, 11.0));
        // One purchase day only: no repeat, recency 0.
        let t = tally(&mut [(7, 3.0), (7, 4.0)], 100).unwrap();
        assert_eq!((t.first, t.last, t.x, t.repeat_value), (7, 7, 0, 0.0));
        // First order after the calibration end: not a customer of the calibration period.
        assert!(tally(&mut [(101, 1.0), (150, 2.0)], 100).is_none());
    }

    /// `per_customer` with `tally` against a plain per-customer map on 40,000 orders in three
    /// batches: ids of 1 to 40 bytes (long ones sharing 30-byte prefixes, so the 16-byte
    /// prefix keys tie), orders in scrambled order, same-day orders, null ids and dates
    /// skipped, many range partitions. Amounts are multiples of 1/4, so every sum is exact in
    /// any order.
    #[test]
    fn tallies_match_a_plain_per_customer_map() {
        let end = 500;
        let mut state = 7u64;
        let mut next = move |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let id_of = |c: u64| match c % 3 {
            0 => format!("{c}"),
            1 => format!("customer-with-a-long-prefix---{c:06}"),
            _ => format!("C{c:05}"),
        };
        let mut rows: Vec<(Option<String>, Option<i32>, f64)> = (0..40_000)
            .map(|_| {
                let c = next(6_000);
                let id = (next(500) != 0).then(|| id_of(c));
                let day = (next(500) != 0).then(|| next(700) as i32);
                (id, day, next(400) as f64 / 4.0)
            })
            .collect();
        rows.push((Some(id_of(1)), Some(3), 1.0));
        rows.push((Some(id_of(1)), Some(3), 2.0));
        let mut want: BTreeMap<String, BTreeMap<i32, f64>> = BTreeMap::new();
        for (id, day, v) in &rows {
            if let (Some(id), Some(day)) = (id, day) {
                *want.entry(id.clone()).or_default().entry(*day).or_default() += v;
            }
        }
        let columns: Vec<OrderColumns> = rows
            .chunks(15_000)
            .map(|chunk| -> OrderColumns {
                (
                    Arc::new(StringViewArray::from_iter(
                        chunk.iter().map(|r| r.0.clone()),
                    )),
                    Arc::new(Int32Array::from_iter(chunk.iter().map(|r| r.1))),
                    Arc::new(Float64Array::from_iter_values(chunk.iter().map(|r| r.2))),
                )
            })
            .collect();
        assert!(range_splitters(&columns).len() > 100);
        let h = per_customer(columns, |orders| tally(orders, end)).unwrap();
        let kept: Vec<(&String, &BTreeMap<i32, f64>)> = want
            .iter()
            .filter(|(_, days)| *days.keys().next().unwrap() <= end)
            .collect();
        assert_eq!(h.ids.len(), kept.len());
        assert_eq!(h.iter().count(), kept.len());
        for ((i, (id, days)), t) in kept.iter().enumerate().zip(h.iter()) {
            assert_eq!(h.ids.value(i), id.as_str());
            let first = *days.keys().next().unwrap();
            let calibration: Vec<(&i32, &f64)> = days.range(first + 1..=end).collect();
            let x = calibration.len() as f64;
            let last = calibration.last().map_or(first, |d| *d.0);
            let repeat: f64 = calibration.iter().map(|d| d.1).sum();
            assert_eq!(f64::from(t.x), x, "{id}");
            assert_eq!(t.first, first, "{id}");
            assert_eq!(t.last, last, "{id}");
            assert_eq!(t.repeat_value, repeat, "{id}");
            let holdout: Vec<&f64> = days.range(end + 1..).map(|d| d.1).collect();
            assert_eq!(f64::from(t.holdout_x), holdout.len() as f64, "{id}");
            assert_eq!(t.holdout_value, holdout.into_iter().sum::<f64>(), "{id}");
        }
    }
}
